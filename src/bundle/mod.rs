//! The OCI bundle: `config.json` plus the root filesystem it names.

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
    let data =
        std::fs::read(path).with_context(|| format!("{name}: cannot open {}", path.display()))?;
    parse_json(&name, &data)
}

/// Deserializes JSON; errors read `<what>: <json.path>: <problem>`.
///
/// The path-tracking deserializer runs only once plain parsing has failed: it is a second
/// copy of every deserializer, which the common path then never touches.
pub fn parse_json<T: serde::de::DeserializeOwned>(what: &str, data: &[u8]) -> Result<T> {
    match serde_json::from_slice(data) {
        Ok(v) => Ok(v),
        Err(_) => Err(json_error::<T>(what, data)),
    }
}

#[cold]
#[inline(never)]
fn json_error<T: serde::de::DeserializeOwned>(what: &str, data: &[u8]) -> anyhow::Error {
    let de = &mut serde_json::Deserializer::from_slice(data);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(_) => anyhow::anyhow!("{what}: invalid JSON"),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." || path == "?" || path.is_empty() {
                anyhow::anyhow!("{what}: {inner}")
            } else {
                anyhow::anyhow!("{what}: {path}: {inner}")
            }
        }
    }
}

/// Reads a whole (small) JSON file that is already open.
pub fn slurp(mut f: impl std::io::Read) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    f.read_to_end(&mut v).context("read")?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_name_the_json_path() {
        let bad = br#"{"process": {"args": ["sh"], "cwd": "/", "user": {"uid": "root"}}}"#;
        let e = parse_json::<Spec>("config.json", bad)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("config.json: process.user.uid: invalid type"),
            "{e}"
        );
        let e = parse_json::<Spec>("config.json", b"{")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("config.json: EOF while parsing"), "{e}");
        let ok: Spec = parse_json("config.json", br#"{"ociVersion": "1.0.2"}"#).unwrap();
        assert_eq!(ok.version(), "1.0.2");
    }
}
