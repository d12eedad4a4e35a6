//! The OCI bundle: `config.json` plus the root filesystem it names.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use oci_spec::runtime::Spec;

pub mod default_spec;
mod validate;

pub use validate::{validate, validate_process};

/// A loaded and validated bundle.
pub struct Bundle {
    /// Absolute path of the bundle directory.
    pub dir: PathBuf,
    /// Absolute path of the root filesystem.
    pub rootfs: PathBuf,
    pub spec: Spec,
}

/// Reads `<dir>/config.json`, resolves the rootfs and validates the config.
pub fn load(dir: &Path) -> Result<Bundle> {
    let dir = std::path::absolute(dir)
        .with_context(|| format!("bundle {}: cannot resolve path", dir.display()))?;
    let spec = read_spec(&dir.join("config.json"))?;
    let root = spec
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .filter(|p| !p.as_os_str().is_empty());
    let Some(root) = root else {
        bail!("config.json: root.path: must be set");
    };
    let rootfs = if root.is_absolute() {
        root
    } else {
        dir.join(root)
    };
    match std::fs::metadata(&rootfs) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => bail!(
            "config.json: root.path: {} is not a directory",
            rootfs.display()
        ),
        Err(e) => bail!("config.json: root.path: {}: {e}", rootfs.display()),
    }
    // Resolve symlinks once, on the host side, so the rootfs is a stable absolute path.
    let rootfs = rootfs
        .canonicalize()
        .with_context(|| format!("config.json: root.path: {}", rootfs.display()))?;
    validate(&spec)?;
    Ok(Bundle { dir, rootfs, spec })
}

/// Parses a config.json, naming the JSON path of the first bad field.
pub fn read_spec(path: &Path) -> Result<Spec> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let file =
        File::open(path).with_context(|| format!("{name}: cannot open {}", path.display()))?;
    parse_json(&name, BufReader::new(file))
}

/// Deserializes JSON from `reader`; errors read `<what>: <json.path>: <problem>`.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    what: &str,
    reader: impl std::io::Read,
) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_reader(reader);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            anyhow::anyhow!("{what}: {inner}")
        } else {
            anyhow::anyhow!("{what}: {path}: {inner}")
        }
    })
}
