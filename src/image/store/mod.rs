//! The layer store, like Docker's overlay2: layers unpacked once each, keyed by diff_id and
//! shared by every image that lists them; image configs kept byte for byte, keyed by their
//! digest (the image id); tags; and per-container layers for overlay bundles.
//!
//! ```text
//! STORE/layers/<diff_id>/diff/        the layer's files (overlay whiteouts), an overlay lowerdir
//! STORE/layers/<diff_id>/tar-split    its tar minus file contents, to write the tar back
//! STORE/layers/<diff_id>/meta.json    {"size": uncompressed tar size}
//! STORE/images/<config digest>/config.json
//! STORE/tags.json                     {"name:tag": "sha256:<config digest>"}
//! STORE/containers/<id>/{init,upper,work,info.json}
//! STORE/tmp/                          staging; renamed into place when complete
//! ```
//! Every change holds an exclusive lock on `STORE/lock`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use oci_spec::image::ImageConfiguration;
use serde::{Deserialize, Serialize};

use crate::bundle::parse_json;
use crate::image::digest::Digest;

pub mod bundle;
pub mod commit;
pub mod load;
pub mod remove;
pub mod save;
pub mod show;

pub struct Store {
    pub root: PathBuf,
    _lock: nix::fcntl::Flock<File>,
}

/// An image in the store.
pub struct StoredImage {
    pub id: Digest,
    pub raw: Vec<u8>,
    pub config: ImageConfiguration,
    pub diff_ids: Vec<Digest>,
}

#[derive(Serialize, Deserialize, Default)]
pub struct LayerMeta {
    pub size: u64,
}

/// What a store-backed bundle holds.
#[derive(Serialize, Deserialize)]
pub struct ContainerInfo {
    pub bundle: PathBuf,
    pub image: String,
    pub layers: Vec<String>,
}

impl Store {
    /// Opens (creating) the store and takes its lock.
    pub fn open(root: &Path) -> Result<Store> {
        if !nix::unistd::geteuid().is_root() {
            bail!(
                "{}: the image store needs root (overlay mounts, real owners)",
                root.display()
            );
        }
        for d in ["layers", "images", "containers", "tmp"] {
            std::fs::create_dir_all(root.join(d))
                .with_context(|| format!("{}: cannot create the store", root.display()))?;
        }
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(root.join("lock"))
            .with_context(|| format!("{}: lock", root.display()))?;
        let lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| e)
            .with_context(|| format!("{}: lock", root.display()))?;
        let root = std::path::absolute(root)?;
        // Staging left by a command that was killed: nobody else can be using it now.
        for e in std::fs::read_dir(root.join("tmp"))?.flatten() {
            let _ = std::fs::remove_dir_all(e.path());
        }
        Ok(Store { root, _lock: lock })
    }

    pub fn layer_dir(&self, d: &Digest) -> PathBuf {
        self.root.join("layers").join(d.hex())
    }

    pub fn has_layer(&self, d: &Digest) -> bool {
        self.layer_dir(d).join("meta.json").is_file()
    }

    pub fn layer_meta(&self, d: &Digest) -> Result<LayerMeta> {
        let p = self.layer_dir(d).join("meta.json");
        let f = File::open(&p).with_context(|| format!("layer {d}: missing from the store"))?;
        parse_json(&p.display().to_string(), &crate::bundle::slurp(f)?)
    }

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }

    /// A fresh staging directory under `tmp/`.
    pub fn staging(&self) -> Result<PathBuf> {
        let p = self.root.join("tmp").join(random_id());
        std::fs::create_dir(&p).with_context(|| format!("{}: create", p.display()))?;
        Ok(p)
    }

    pub fn tags(&self) -> Result<BTreeMap<String, String>> {
        let p = self.root.join("tags.json");
        match File::open(&p) {
            Ok(f) => parse_json(&p.display().to_string(), &crate::bundle::slurp(f)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(e).with_context(|| p.display().to_string()),
        }
    }

    pub fn write_tags(&self, tags: &BTreeMap<String, String>) -> Result<()> {
        write_atomic(
            &self.root.join("tags.json"),
            &serde_json::to_vec_pretty(tags)?,
        )
    }

    /// Ids of every stored image.
    pub fn image_ids(&self) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.root.join("images"))? {
            let name = e?.file_name();
            if let Some(d) = name.to_str().and_then(Digest::from_hex) {
                out.push(d);
            }
        }
        out.sort();
        Ok(out)
    }

    pub fn image(&self, id: &Digest) -> Result<StoredImage> {
        let p = self.root.join("images").join(id.hex()).join("config.json");
        let raw = std::fs::read(&p).with_context(|| format!("image {id}: not in the store"))?;
        let config: ImageConfiguration = parse_json(&format!("image {}", id.short()), &raw[..])?;
        let diff_ids = config
            .rootfs()
            .diff_ids()
            .iter()
            .map(|d| Digest::parse(d))
            .collect::<Result<Vec<_>>>()?;
        Ok(StoredImage {
            id: id.clone(),
            raw,
            config,
            diff_ids,
        })
    }

    /// Stores an image config (its digest is its id).
    pub fn put_image(&self, raw: &[u8]) -> Result<Digest> {
        let id = Digest::of_bytes(raw);
        let dir = self.root.join("images").join(id.hex());
        std::fs::create_dir_all(&dir)?;
        write_atomic(&dir.join("config.json"), raw)?;
        Ok(id)
    }

    /// Sets `tag` (`NAME[:TAG]`, `:latest` by default) to `id`.
    pub fn tag(&self, tag: &str, id: &Digest) -> Result<String> {
        let tag = normalize_tag(tag)?;
        let mut tags = self.tags()?;
        tags.insert(tag.clone(), id.to_string());
        self.write_tags(&tags)?;
        Ok(tag)
    }

    /// An image by tag, full id, or id prefix (at least 4 hex digits).
    pub fn resolve(&self, name: &str) -> Result<Digest> {
        let tags = self.tags()?;
        if let Ok(t) = normalize_tag(name) {
            if let Some(id) = tags.get(&t) {
                return Digest::parse(id);
            }
        }
        let hex = name.strip_prefix("sha256:").unwrap_or(name);
        if hex.len() >= 4 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let found: Vec<Digest> = self
                .image_ids()?
                .into_iter()
                .filter(|d| d.hex().starts_with(hex))
                .collect();
            match found.as_slice() {
                [one] => return Ok(one.clone()),
                [] => {}
                _ => bail!("image {name}: ambiguous id prefix"),
            }
        }
        bail!("image {name}: not in the store {}", self.root.display())
    }

    pub fn tags_of(&self, id: &Digest) -> Result<Vec<String>> {
        let s = id.to_string();
        Ok(self
            .tags()?
            .into_iter()
            .filter(|(_, v)| *v == s)
            .map(|(k, _)| k)
            .collect())
    }

    /// Containers (store-backed bundles) and their info.
    pub fn containers(&self) -> Result<Vec<(String, ContainerInfo)>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.root.join("containers"))? {
            let e = e?;
            let id = e.file_name().to_string_lossy().into_owned();
            let p = e.path().join("info.json");
            if let Ok(f) = File::open(&p) {
                out.push((
                    id,
                    parse_json(&p.display().to_string(), &crate::bundle::slurp(f)?)?,
                ));
            }
        }
        Ok(out)
    }

    /// Layers some image or container still uses.
    pub fn used_layers(&self) -> Result<BTreeSet<String>> {
        let mut used = BTreeSet::new();
        for id in self.image_ids()? {
            for d in self.image(&id)?.diff_ids {
                used.insert(d.hex().to_string());
            }
        }
        for (_, c) in self.containers()? {
            used.extend(
                c.layers
                    .iter()
                    .map(|l| l.trim_start_matches("sha256:").to_string()),
            );
        }
        Ok(used)
    }
}

/// `name` → `name:latest`; refuses names no registry would take.
pub fn normalize_tag(t: &str) -> Result<String> {
    let ok = !t.is_empty()
        && t.len() <= 255
        && t.bytes().all(|b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || b"._-/:".contains(&b)
                || b.is_ascii_uppercase()
        })
        && !t.starts_with(['/', ':', '.', '-'])
        && !t.contains("..");
    if !ok {
        bail!("{t:?}: not a valid NAME[:TAG]");
    }
    let last = t.rsplit('/').next().unwrap_or(t);
    Ok(if last.contains(':') {
        t.to_string()
    } else {
        format!("{t}:latest")
    })
}

/// Writes `path` through a temporary file and a rename, so readers see all or nothing.
/// Store metadata is synced first; per-container files are not worth an fsync (a crash
/// loses the container's mount anyway).
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    write_renamed(path, data, true)
}

pub fn write_renamed(path: &Path, data: &[u8], sync: bool) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).with_context(|| format!("{}: write", tmp.display()))?;
    f.write_all(data)?;
    if sync {
        f.sync_data()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("{}: write", path.display()))?;
    Ok(())
}

/// 12 random hex digits (from the kernel's random pool).
pub fn random_id() -> String {
    let mut b = [0u8; 6];
    // SAFETY: b is valid for its length.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != b.len() as isize {
        // Practically unreachable; uniqueness then comes from pid and time.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        b[..4].copy_from_slice(&(t.subsec_nanos() ^ std::process::id()).to_le_bytes());
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// RFC 3339 UTC time of now, as image configs carry it.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_get_latest_and_bad_names_are_refused() {
        assert_eq!(normalize_tag("busybox").unwrap(), "busybox:latest");
        assert_eq!(
            normalize_tag("localhost:5000/a/b").unwrap(),
            "localhost:5000/a/b:latest"
        );
        assert_eq!(normalize_tag("a/b:v1").unwrap(), "a/b:v1");
        for bad in ["", "../x", "a b", "/x"] {
            assert!(normalize_tag(bad).is_err(), "{bad}");
        }
        assert_eq!(now_rfc3339().len(), 20);
    }
}
