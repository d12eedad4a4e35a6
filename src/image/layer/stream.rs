//! One layer from an archive to a directory in a single pass: the blob is read once,
//! hashed as stored (the manifest's digest), decompressed, hashed again (the config's
//! diff_id) and applied entry by entry. A digest mismatch is found after the layer was
//! applied; the caller throws the whole target away then.

use std::io::{self, BufReader};

use anyhow::{bail, Context, Result};

use super::decompress::{Compression, Decoder};
use super::split::{Recorder, Split};
use super::Applier;
use crate::image::archive::{layout::LayerRef, Archive};
use crate::image::digest::{Digest, HashingReader};
use crate::image::progress::{Counting, Progress};

/// What a streamed layer turned out to be.
pub struct Streamed {
    pub compression: Compression,
    /// Size of the uncompressed tar.
    pub size: u64,
}

pub fn apply_layer(
    ar: &Archive,
    layer: &LayerRef,
    diff_id: &Digest,
    applier: &mut Applier,
    split: Option<Split>,
    progress: &Progress,
) -> Result<Streamed> {
    let what = || format!("{}: layer {diff_id}", ar.name);
    let raw = ar.open_member(&layer.member).with_context(what)?;
    let raw = HashingReader::new(Counting {
        inner: raw,
        progress,
    });
    let (dec, compression) =
        Decoder::new(BufReader::with_capacity(1 << 20, raw)).with_context(what)?;
    let diff = HashingReader::new(dec);
    let rec = Recorder::new(diff, split.clone());
    let mut rec = applier.apply(rec, split.as_ref()).with_context(what)?;
    io::copy(&mut rec, &mut io::sink()).with_context(what)?;
    let (got_diff, size, dec) = rec.into_inner().finish().with_context(what)?;
    let (got_blob, _, _) = dec.into_inner().into_inner().finish().with_context(what)?;
    if let Some(want) = &layer.digest {
        if &got_blob != want {
            bail!(
                "{}: layer {}: digest mismatch (got {got_blob})",
                ar.name,
                layer.member
            );
        }
    }
    if &got_diff != diff_id {
        bail!(
            "{}: digest mismatch (the layer's content is {got_diff})",
            what()
        );
    }
    Ok(Streamed { compression, size })
}
