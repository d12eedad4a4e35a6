//! `xrun image save`: images written back as a docker-save tarball (the legacy layout that
//! every `docker load` reads). Each layer tar is rebuilt from its directory and tar-split
//! record and checked against its diff_id while it is written.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::json;

use super::Store;
use crate::image::digest::{Digest, HashingWriter};
use crate::image::fsops::Root;
use crate::image::layer::split;

/// Writes `images` (tags or ids) to `out` (`-` is stdout).
pub fn save(store: &Store, images: &[String], out: &Path) -> Result<String> {
    // Image id → tags asked for (saving by id gives no tag, as docker save does).
    let mut wanted: BTreeMap<Digest, Vec<String>> = BTreeMap::new();
    for name in images {
        let id = store.resolve(name)?;
        let tags = wanted.entry(id.clone()).or_default();
        let asked = super::normalize_tag(name).ok();
        if let Some(t) = store
            .tags_of(&id)?
            .into_iter()
            .find(|t| Some(t) == asked.as_ref())
        {
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
    }
    if out == Path::new("-") {
        let stdout = io::stdout().lock();
        write_archive(store, &wanted, &mut BufWriter::new(stdout))?;
        return Ok(String::new());
    }
    let tmp = out.with_file_name(format!(
        ".{}.tmp",
        out.file_name()
            .map_or("save".into(), |n| n.to_string_lossy())
    ));
    let res = (|| -> Result<()> {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        write_archive(store, &wanted, &mut w)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, out)?;
        Ok(())
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res.with_context(|| format!("save to {}", out.display()))?;
    Ok(format!(
        "saved {} image(s) to {}",
        wanted.len(),
        out.display()
    ))
}

fn write_archive(
    store: &Store,
    wanted: &BTreeMap<Digest, Vec<String>>,
    w: &mut impl Write,
) -> Result<()> {
    let mut manifest = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut written: HashSet<Digest> = HashSet::new();
    for (id, tags) in wanted {
        let img = store.image(id)?;
        let mut layers = Vec::new();
        let mut parent: Option<&Digest> = None;
        for d in &img.diff_ids {
            let dir = d.hex().to_string();
            if written.insert(d.clone()) {
                put_dir(w, &dir)?;
                put_file(w, &format!("{dir}/VERSION"), b"1.0")?;
                let mut j = json!({"id": dir});
                if let Some(p) = parent {
                    j["parent"] = json!(p.hex());
                }
                put_file(w, &format!("{dir}/json"), &serde_json::to_vec(&j)?)?;
                put_layer(store, w, d, &format!("{dir}/layer.tar"))?;
            }
            layers.push(format!("{dir}/layer.tar"));
            parent = Some(d);
        }
        put_file(w, &format!("{}.json", id.hex()), &img.raw)?;
        for t in tags {
            if let (Some((repo, tag)), Some(top)) = (t.rsplit_once(':'), img.diff_ids.last()) {
                repositories
                    .entry(repo.to_string())
                    .or_default()
                    .insert(tag.to_string(), top.hex().to_string());
            }
        }
        manifest.push(
            json!({"Config": format!("{}.json", id.hex()), "RepoTags": tags, "Layers": layers}),
        );
    }
    put_file(w, "manifest.json", &serde_json::to_vec(&manifest)?)?;
    if !repositories.is_empty() {
        put_file(w, "repositories", &serde_json::to_vec(&repositories)?)?;
    }
    w.write_all(&[0u8; 1024])?;
    w.flush()?;
    Ok(())
}

fn header(name: &str, size: u64, kind: tar::EntryType) -> Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_path(name)?;
    h.set_size(size);
    h.set_mode(if kind == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_entry_type(kind);
    h.set_mtime(0);
    h.set_cksum();
    Ok(h)
}

fn put_dir(w: &mut impl Write, name: &str) -> Result<()> {
    w.write_all(header(&format!("{name}/"), 0, tar::EntryType::Directory)?.as_bytes())?;
    Ok(())
}

fn put_file(w: &mut impl Write, name: &str, data: &[u8]) -> Result<()> {
    w.write_all(header(name, data.len() as u64, tar::EntryType::Regular)?.as_bytes())?;
    w.write_all(data)?;
    pad(w, data.len() as u64)
}

fn pad(w: &mut impl Write, size: u64) -> Result<()> {
    let rem = (512 - size % 512) % 512;
    w.write_all(&[0u8; 512][..rem as usize])?;
    Ok(())
}

/// A stored layer, rebuilt byte for byte into the archive.
fn put_layer(store: &Store, w: &mut impl Write, d: &Digest, name: &str) -> Result<()> {
    let size = store.layer_meta(d)?.size;
    w.write_all(header(name, size, tar::EntryType::Regular)?.as_bytes())?;
    let dir = store.layer_dir(d);
    let rec = File::open(dir.join("tar-split")).with_context(|| format!("layer {d}: tar-split"))?;
    let mut hw = HashingWriter::new(&mut *w);
    split::rebuild(
        io::BufReader::new(rec),
        &Root::open(&dir.join("diff"))?,
        &mut hw,
    )
    .with_context(|| format!("layer {d}"))?;
    let (got, n, _) = hw.finish();
    if &got != d || n != size {
        bail!("layer {d}: the stored layer no longer matches its digest (got {got}, {n} bytes)");
    }
    pad(w, size)
}
