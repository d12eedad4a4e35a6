//! `xrun image unpack`: an image archive flattened into BUNDLE/rootfs + BUNDLE/config.json.
//! On any error the bundle is removed again: nothing half-made is left behind.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::image::archive::{layout, Archive};
use crate::image::config::{self, ConvertOptions};
use crate::image::fsops::Root;
use crate::image::layer::{stream, Applier, ApplyOptions, LayerMode, Stats};
use crate::image::progress::Progress;

pub struct UnpackOptions {
    /// `NAME[:TAG]` or config digest prefix, for archives with several images.
    pub image: Option<String>,
    pub convert: ConvertOptions,
    pub quiet: bool,
}

/// Removes a bundle being made unless it was completed.
pub struct BundleGuard {
    dir: PathBuf,
    created: bool,
    done: bool,
}

impl BundleGuard {
    /// Makes `dir` (it must be absent, or an empty directory) and `dir/rootfs`.
    pub fn create(dir: &Path) -> Result<BundleGuard> {
        let created = match std::fs::read_dir(dir) {
            Ok(mut d) => {
                if d.next().is_some() {
                    bail!(
                        "{}: the bundle directory exists and is not empty",
                        dir.display()
                    );
                }
                false
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir(dir)
                    .with_context(|| format!("{}: cannot create", dir.display()))?;
                true
            }
            Err(e) => bail!("{}: {e}", dir.display()),
        };
        let g = BundleGuard {
            dir: dir.to_path_buf(),
            created,
            done: false,
        };
        std::fs::create_dir(dir.join("rootfs"))
            .with_context(|| format!("{}: cannot create rootfs", dir.display()))?;
        Ok(g)
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn done(mut self) {
        self.done = true;
    }
}

impl Drop for BundleGuard {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if self.created {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else if let Ok(d) = std::fs::read_dir(&self.dir) {
            for e in d.flatten() {
                let p = e.path();
                let _ = if e.file_type().is_ok_and(|t| t.is_dir()) {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
            }
        }
    }
}

/// Writes `config.json` of a bundle.
pub fn write_spec(bundle: &Path, spec: &oci_spec::runtime::Spec) -> Result<()> {
    let tmp = bundle.join(".config.json.tmp");
    let f = std::fs::File::create(&tmp).with_context(|| format!("{}: write", tmp.display()))?;
    let mut w = std::io::BufWriter::new(f);
    serde_json::to_writer_pretty(&mut w, spec)?;
    std::io::Write::flush(&mut w)?;
    std::fs::rename(&tmp, bundle.join("config.json"))?;
    Ok(())
}

pub fn unpack(tarball: &Path, bundle: &Path, o: &UnpackOptions) -> Result<String> {
    let start = Instant::now();
    let ar = Archive::open(tarball)?;
    let refs = layout::images(&ar)?;
    let r = layout::select(&ar, &refs, o.image.as_deref())?;
    let img = layout::load(&ar, r)?;
    let guard = BundleGuard::create(bundle)?;
    let rootfs = guard.rootfs();
    if !o.convert.ids.is_identity() && nix::unistd::geteuid().is_root() {
        let (u, g) = o.convert.ids.root();
        std::os::unix::fs::chown(&rootfs, Some(u), Some(g))?;
    }
    let opts = ApplyOptions {
        mode: LayerMode::Flatten,
        ids: o.convert.ids.clone(),
        lowers: vec![],
    };
    let mut applier = Applier::new(Root::open(&rootfs)?, opts);
    let total = img.layers.iter().filter_map(|l| ar.size(&l.member)).sum();
    let progress = Progress::new(&format!("unpacking {}", img.display_name()), total, o.quiet);
    for (layer, diff_id) in img.layers.iter().zip(&img.diff_ids) {
        stream::apply_layer(&ar, layer, diff_id, &mut applier, None, &progress)?;
    }
    progress.finish();
    let stats = applier
        .finish()
        .with_context(|| format!("{}: finish", rootfs.display()))?;
    let spec = config::to_spec(&img.config, &Root::open(&rootfs)?, &o.convert)
        .with_context(|| format!("{}: image {}", ar.name, img.display_name()))?;
    write_spec(bundle, &spec)?;
    guard.done();
    Ok(summary(&img, bundle, &stats, total, start))
}

fn summary(img: &layout::Image, bundle: &Path, s: &Stats, total: u64, start: Instant) -> String {
    let mut line = format!(
        "unpacked {} ({}) to {}: {} layers, {} entries, {:.1} MB in {:.2}s",
        img.display_name(),
        img.config_digest.short(),
        bundle.display(),
        img.layers.len(),
        s.entries,
        total as f64 / 1e6,
        start.elapsed().as_secs_f64()
    );
    for (n, what) in [
        (s.skipped_devices, "device nodes skipped (unprivileged)"),
        (s.folded_owners, "owners outside the id map given to root"),
        (s.skipped_xattrs, "xattrs not set"),
    ] {
        if n > 0 {
            line.push_str(&format!("; {n} {what}"));
        }
    }
    line
}
