//! Layer compression, told from the first bytes of the blob (names and media types lie).

use std::io::{self, BufRead, Read};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// A decompressing reader that gives its input back, so the caller can finish hashing it.
#[allow(clippy::large_enum_variant)] // one per layer, never moved in a hot loop
pub enum Decoder<R: BufRead> {
    Plain(R),
    Gzip(flate2::bufread::MultiGzDecoder<R>),
    Zstd(zstd::stream::read::Decoder<'static, R>),
}

impl<R: BufRead> Decoder<R> {
    /// Sniffs the compression of `r` and wraps it.
    pub fn new(mut r: R) -> io::Result<(Decoder<R>, Compression)> {
        let c = Compression::sniff(r.fill_buf()?);
        let d = match c {
            Compression::None => Decoder::Plain(r),
            Compression::Gzip => Decoder::Gzip(flate2::bufread::MultiGzDecoder::new(r)),
            Compression::Zstd => Decoder::Zstd(zstd::stream::read::Decoder::with_buffer(r)?),
        };
        Ok((d, c))
    }

    pub fn into_inner(self) -> R {
        match self {
            Decoder::Plain(r) => r,
            Decoder::Gzip(d) => d.into_inner(),
            Decoder::Zstd(d) => d.finish(),
        }
    }
}

impl<R: BufRead> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Plain(r) => r.read(buf),
            Decoder::Gzip(d) => d.read(buf),
            Decoder::Zstd(d) => d.read(buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn roundtrip(data: &[u8], c: Compression) {
        let blob = match c {
            Compression::None => data.to_vec(),
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Zstd => zstd::encode_all(data, 1).unwrap(),
        };
        let (mut d, got) = Decoder::new(&blob[..]).unwrap();
        assert_eq!(got, c);
        let mut out = Vec::new();
        d.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn sniffs_and_decodes_each_compression() {
        let data = b"hello layer".repeat(1000);
        for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
            roundtrip(&data, c);
        }
    }
}
