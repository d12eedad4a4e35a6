//! A case's bundle: a busybox rootfs with the checker and its inputs in /.conformance, and
//! the config.

use std::io;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Map, Value};

use crate::host;

pub const BUSYBOX: &str = "/bin/busybox";

/// Where the checker and its inputs go inside the rootfs.
const DIR: &str = ".conformance";

/// A busybox rootfs with the checker, an /etc/passwd and an /etc/group that lists no
/// members (so a uid brings no supplementary group of its own).
pub fn rootfs(rootfs: &Path, checker: &Path) -> io::Result<()> {
    for d in ["bin", "etc", "tmp", "proc", "sys", "dev", "root", DIR] {
        std::fs::create_dir_all(rootfs.join(d))?;
    }
    std::fs::set_permissions(rootfs.join("tmp"), std::fs::Permissions::from_mode(0o1777))?;
    std::fs::copy(BUSYBOX, rootfs.join("bin/busybox"))?;
    for a in ["sh", "ls", "cat", "mount", "id", "sleep"] {
        symlink("busybox", rootfs.join("bin").join(a))?;
    }
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
    )?;
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\nuser:x:1000:\n")?;
    let dst = rootfs.join(DIR).join("checker");
    std::fs::copy(checker, &dst)?;
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// The config `xrun spec` writes (runc's default).
pub fn default_spec(xrun: &str, dir: &Path, rootless: bool) -> io::Result<Value> {
    std::fs::create_dir_all(dir)?;
    let mut cmd = Command::new(xrun);
    cmd.arg("spec").arg("--bundle").arg(dir);
    if rootless {
        cmd.arg("--rootless");
    }
    let st = cmd.status()?;
    if !st.success() {
        return Err(io::Error::other(format!("{xrun} spec: {st}")));
    }
    let path = dir.join("config.json");
    let v = serde_json::from_slice(&std::fs::read(&path)?)?;
    std::fs::remove_file(path)?;
    Ok(v)
}

/// Writes the config to the bundle, the checker's copy of it (the same, but for the
/// self-test) and the host facts the checker needs.
pub fn write(bundle: &Path, spec: &Value, for_checker: &Value) -> io::Result<()> {
    let inside = bundle.join("rootfs").join(DIR);
    std::fs::write(bundle.join("config.json"), serde_json::to_vec_pretty(spec)?)?;
    std::fs::write(
        inside.join("config.json"),
        serde_json::to_vec_pretty(for_checker)?,
    )?;
    let facts = host_facts(bundle, spec)?;
    std::fs::write(inside.join("host.json"), serde_json::to_vec_pretty(&facts)?)?;
    Ok(())
}

fn host_facts(bundle: &Path, spec: &Value) -> io::Result<Value> {
    let mut ns_paths = Map::new();
    for n in spec["linux"]["namespaces"].as_array().into_iter().flatten() {
        if let Some(p) = n["path"].as_str() {
            ns_paths.insert(p.into(), json!(host::inode(Path::new(p))?));
        }
    }
    let mut sources = Map::new();
    for m in spec["mounts"].as_array().into_iter().flatten() {
        let bind = m["type"] == "bind"
            || m["options"]
                .as_array()
                .is_some_and(|o| o.iter().any(|o| o == "bind" || o == "rbind"));
        let Some(src) = m["source"].as_str().filter(|_| bind) else {
            continue;
        };
        // Relative sources are relative to the bundle, as for the runtime.
        let path: PathBuf = if src.starts_with('/') {
            src.into()
        } else {
            bundle.join(src)
        };
        sources.insert(src.into(), host::bind_source(&path)?);
    }
    Ok(json!({
        "namespaces": host::namespaces(),
        "nsPaths": ns_paths,
        "bindSources": sources,
    }))
}

/// chown -R, without following symlinks (for a rootfs owned by a user namespace's root).
pub fn chown_tree(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    if std::fs::symlink_metadata(path)?.is_dir() {
        for e in std::fs::read_dir(path)? {
            chown_tree(&e?.path(), uid, gid)?;
        }
    }
    Ok(())
}
