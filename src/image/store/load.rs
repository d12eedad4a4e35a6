//! `xrun image load`: every image of an archive into the store. A layer already there (same
//! diff_id, from any image) is not unpacked again; a new one is unpacked into a staging
//! directory and renamed into place only once its digest checked out.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::{write_atomic, LayerMeta, Store};
use crate::image::archive::{layout, Archive};
use crate::image::digest::{Digest, HashingReader};
use crate::image::fsops::Root;
use crate::image::idmap::IdMap;
use crate::image::layer::split::{Recorder, Split};
use crate::image::layer::{stream, Applier, ApplyOptions, LayerMode};
use crate::image::progress::Progress;

/// Loads `tarball`; returns docker-style "Loaded image: ..." lines.
pub fn load(store: &Store, tarball: &Path, quiet: bool) -> Result<Vec<String>> {
    let ar = Archive::open(tarball)?;
    let refs = layout::images(&ar)?;
    if refs.is_empty() {
        bail!("{}: the archive holds no image", ar.name);
    }
    let mut created: Vec<Digest> = Vec::new();
    let res = load_all(store, &ar, &refs, quiet, &mut created);
    if res.is_err() {
        // Nothing half-loaded stays: the layers this load added go again.
        for d in &created {
            let _ = std::fs::remove_dir_all(store.layer_dir(d));
        }
    }
    res
}

fn load_all(
    store: &Store,
    ar: &Archive,
    refs: &[layout::ImageRef],
    quiet: bool,
    created: &mut Vec<Digest>,
) -> Result<Vec<String>> {
    let images = refs
        .iter()
        .map(|r| layout::load(ar, r))
        .collect::<Result<Vec<_>>>()?;
    let total = images
        .iter()
        .flat_map(|i| i.layers.iter().zip(&i.diff_ids))
        .filter(|(_, d)| !store.has_layer(d))
        .filter_map(|(l, _)| ar.size(&l.member))
        .sum();
    let progress = Progress::new(&format!("loading {}", ar.name), total, quiet);
    let mut lines = Vec::new();
    for img in &images {
        let mut lowers: Vec<PathBuf> = Vec::new();
        for (layer, diff_id) in img.layers.iter().zip(&img.diff_ids) {
            if !store.has_layer(diff_id) {
                store_layer(store, diff_id, &lowers, |applier, split| {
                    Ok(
                        stream::apply_layer(ar, layer, diff_id, applier, Some(split), &progress)?
                            .size,
                    )
                })?;
                created.push(diff_id.clone());
            }
            lowers.insert(0, store.layer_dir(diff_id).join("diff"));
        }
    }
    progress.finish();
    // Configs and tags last: an image is listed only once all its layers are in.
    for img in &images {
        let id = store.put_image(&img.config_raw)?;
        if img.tags.is_empty() {
            lines.push(format!("Loaded image ID: {id}"));
        }
        for t in &img.tags {
            let t = store.tag(t, &id)?;
            lines.push(format!("Loaded image: {t}"));
        }
    }
    Ok(lines)
}

/// Makes the layer `diff_id` in a staging directory with `fill` (which applies the tar and
/// returns its size), then moves it into place.
pub fn store_layer(
    store: &Store,
    diff_id: &Digest,
    lowers: &[PathBuf],
    fill: impl FnOnce(&mut Applier, Split) -> Result<u64>,
) -> Result<()> {
    let stage = store.staging()?;
    let res = (|| -> Result<()> {
        let diff = stage.join("diff");
        std::fs::create_dir(&diff)?;
        let opts = ApplyOptions {
            mode: LayerMode::Diff,
            ids: IdMap::default(),
            lowers: lowers.to_vec(),
        };
        let mut applier = Applier::new(Root::open(&diff)?, opts);
        let split = Split::default();
        let size = fill(&mut applier, split.clone())?;
        applier.finish()?;
        let mut rec = Vec::new();
        split.write_to(&mut rec)?;
        write_atomic(&stage.join("tar-split"), &rec)?;
        write_atomic(
            &stage.join("meta.json"),
            &serde_json::to_vec(&LayerMeta { size })?,
        )?;
        match std::fs::rename(&stage, store.layer_dir(diff_id)) {
            Ok(()) => Ok(()),
            // Stored meanwhile by someone else: theirs is as good.
            Err(_) if store.has_layer(diff_id) => Ok(()),
            Err(e) => Err(e).context("move layer into the store"),
        }
    })();
    if stage.exists() {
        let _ = std::fs::remove_dir_all(&stage);
    }
    res
}

/// Stores an uncompressed layer tar read from `tar` (commit's new layer); its digest must be
/// `diff_id`.
pub fn store_tar(
    store: &Store,
    diff_id: &Digest,
    lowers: &[PathBuf],
    tar: impl Read,
) -> Result<()> {
    store_layer(store, diff_id, lowers, |applier, split| {
        let rec = Recorder::new(HashingReader::new(tar), Some(split.clone()));
        let mut rec = applier.apply(rec, Some(&split))?;
        io::copy(&mut rec, &mut io::sink())?;
        let (got, size, _) = rec.into_inner().finish()?;
        if &got != diff_id {
            bail!("layer {diff_id}: digest mismatch (got {got})");
        }
        Ok(size)
    })
}
