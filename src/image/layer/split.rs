//! A record of a layer tar's exact bytes minus the file contents (Docker's "tar-split"): with
//! the unpacked layer directory it rebuilds the original tar byte for byte, so `save` writes
//! layers whose digests still match the image config's `rootfs.diff_ids`.

use std::cell::RefCell;
use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{bail, Context, Result};

use crate::image::fsops::Root;

#[derive(Debug, PartialEq)]
enum Segment {
    /// Headers, padding, end-of-archive blocks: kept verbatim.
    Raw(Vec<u8>),
    /// The contents of the regular file at this path in the layer directory.
    File(PathBuf, u64),
}

#[derive(Default)]
struct State {
    segments: Vec<Segment>,
    in_file: bool,
}

/// Shared handle to the record being made; the [`Recorder`] feeds it.
#[derive(Clone, Default)]
pub struct Split(Rc<RefCell<State>>);

impl Split {
    /// Bytes read from now on are the contents of the file at `path` (until [`end_file`]).
    fn begin_file(&self, path: &Path) {
        let mut s = self.0.borrow_mut();
        s.in_file = true;
        s.segments.push(Segment::File(path.to_path_buf(), 0));
    }

    fn end_file(&self) {
        self.0.borrow_mut().in_file = false;
    }

    /// Runs `read` (the reading of the contents of the file at `path`) between
    /// [`begin_file`] and [`end_file`] of `split`, when there is one.
    pub fn file<T>(split: Option<&Split>, path: &Path, read: impl FnOnce() -> T) -> T {
        if let Some(s) = split {
            s.begin_file(path);
        }
        let r = read();
        if let Some(s) = split {
            s.end_file();
        }
        r
    }

    fn push(&self, data: &[u8]) {
        let mut s = self.0.borrow_mut();
        if s.in_file {
            if let Some(Segment::File(_, n)) = s.segments.last_mut() {
                *n += data.len() as u64;
            }
            return;
        }
        match s.segments.last_mut() {
            Some(Segment::Raw(v)) => v.extend_from_slice(data),
            _ => s.segments.push(Segment::Raw(data.to_vec())),
        }
    }

    /// Serializes the record: `R <u32 len> bytes` and `F <u64 size> <u32 len> path` items.
    pub fn write_to(&self, mut w: impl Write) -> io::Result<()> {
        for seg in &self.0.borrow().segments {
            match seg {
                Segment::Raw(v) => {
                    for chunk in v.chunks(u32::MAX as usize) {
                        w.write_all(b"R")?;
                        w.write_all(&(chunk.len() as u32).to_le_bytes())?;
                        w.write_all(chunk)?;
                    }
                }
                Segment::File(p, n) => {
                    let b = p.as_os_str().as_encoded_bytes();
                    w.write_all(b"F")?;
                    w.write_all(&n.to_le_bytes())?;
                    w.write_all(&(b.len() as u32).to_le_bytes())?;
                    w.write_all(b)?;
                }
            }
        }
        Ok(())
    }
}

/// Passes reads through and records them into a [`Split`], if there is one.
pub struct Recorder<R> {
    inner: R,
    split: Option<Split>,
}

impl<R: Read> Recorder<R> {
    pub fn new(inner: R, split: Option<Split>) -> Self {
        Recorder { inner, split }
    }

    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for Recorder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(s) = &self.split {
            s.push(&buf[..n]);
        }
        Ok(n)
    }
}

/// Rebuilds the layer tar from the record `split` (as written by [`Split::write_to`]) and
/// the layer directory `dir`, writing it to `out`.
pub fn rebuild(mut split: impl Read, dir: &Root, out: &mut impl Write) -> Result<()> {
    let mut tag = [0u8; 1];
    loop {
        match split.read(&mut tag)? {
            0 => return Ok(()),
            _ if tag[0] == b'R' => {
                let n = read_u32(&mut split)? as u64;
                let copied = io::copy(&mut (&mut split).take(n), out)?;
                if copied != n {
                    bail!("tar-split record is truncated");
                }
            }
            _ if tag[0] == b'F' => {
                let mut b8 = [0u8; 8];
                split.read_exact(&mut b8)?;
                let size = u64::from_le_bytes(b8);
                let len = read_u32(&mut split)? as usize;
                let mut name = vec![0u8; len];
                split.read_exact(&mut name)?;
                let path = PathBuf::from(OsString::from_vec(name));
                let fd = dir
                    .open_file(&path, libc::O_RDONLY | libc::O_NOFOLLOW)
                    .with_context(|| format!("layer file {}", path.display()))?;
                let mut f = std::fs::File::from(fd);
                let copied = io::copy(&mut (&mut f).take(size), out)?;
                if copied != size {
                    bail!(
                        "layer file {} changed size since it was stored",
                        path.display()
                    );
                }
            }
            _ => bail!("tar-split record is corrupt"),
        }
    }
}

fn read_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::idmap::IdMap;
    use crate::image::layer::{Applier, ApplyOptions, LayerMode};

    fn layer() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |kind, path: &str, data: &[u8], link: Option<&str>| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_mode(0o644);
            h.set_mtime(1_600_000_000);
            h.set_size(data.len() as u64);
            match link {
                Some(l) => b.append_link(&mut h, path, l).unwrap(),
                None => b.append_data(&mut h, path, data).unwrap(),
            }
        };
        let long = format!("d/{}", "n".repeat(150));
        add(tar::EntryType::Directory, "d/", b"", None);
        add(tar::EntryType::Regular, "d/small", b"hello", None);
        add(
            tar::EntryType::Regular,
            "d/big",
            &vec![3u8; 300 * 1024],
            None,
        );
        add(tar::EntryType::Regular, &long, b"long name", None);
        add(tar::EntryType::Symlink, "d/link", b"", Some("small"));
        add(tar::EntryType::Link, "d/hard", b"", Some("d/small"));
        add(tar::EntryType::Regular, "d/.wh.gone", b"", None);
        let mut v = b.into_inner().unwrap();
        v.extend_from_slice(&[0u8; 8192]); // record padding after the end-of-archive blocks
        v
    }

    #[test]
    fn a_stored_layer_is_rebuilt_byte_for_byte() {
        let tar = layer();
        let dir = tempfile::tempdir().unwrap();
        let opts = ApplyOptions {
            mode: LayerMode::Diff,
            ids: IdMap::default(),
            lowers: vec![],
        };
        let mut applier = Applier::new(Root::open(dir.path()).unwrap(), opts);
        let split = Split::default();
        let rec = Recorder::new(&tar[..], Some(split.clone()));
        let mut rest = applier
            .apply(rec, Some(&split))
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .unwrap();
        io::copy(&mut rest, &mut io::sink()).unwrap();
        applier.finish().unwrap();
        let mut record = Vec::new();
        split.write_to(&mut record).unwrap();
        // The record holds headers, not the 300 KiB of file data.
        assert!(record.len() < 16 * 1024, "{} bytes", record.len());
        let mut out = Vec::new();
        rebuild(&record[..], &Root::open(dir.path()).unwrap(), &mut out).unwrap();
        assert!(out == tar, "rebuilt tar differs");
        // A changed file is noticed.
        std::fs::write(dir.path().join("d/big"), b"short").unwrap();
        let err = rebuild(
            &record[..],
            &Root::open(dir.path()).unwrap(),
            &mut Vec::new(),
        );
        assert!(err.unwrap_err().to_string().contains("changed size"));
    }
}
