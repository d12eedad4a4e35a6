//! Store-backed bundles: the rootfs is an overlayfs mount (the image's layers as lowerdirs,
//! a small per-container init layer above them with /etc/hostname, /etc/hosts and
//! /etc/resolv.conf, then the container's own upper dir), made in time independent of the
//! image's size. `unbundle` unmounts it and removes the container's layers.

use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::{random_id, write_renamed, ContainerInfo, Store};
use crate::image::config::{self, ConvertOptions};
use crate::image::fsops::Root;
use crate::image::unpack::{write_spec, BundleGuard};
use crate::syscall;

/// The file in a store-backed bundle that names its container layers.
pub const MARKER: &str = ".xrun-image.json";

#[derive(Serialize, Deserialize)]
struct Marker {
    store: PathBuf,
    container: String,
}

pub fn bundle(store: &Store, image: &str, bundle: &Path, o: &ConvertOptions) -> Result<String> {
    let start = Instant::now();
    if !o.ids.is_identity() {
        bail!("store bundles share layers with real owners: for a user namespace use `xrun image unpack --rootless`");
    }
    let id = store.resolve(image)?;
    let img = store.image(&id)?;
    for d in &img.diff_ids {
        if !store.has_layer(d) {
            bail!("image {image}: layer {d} is missing from the store");
        }
    }
    let bundle = std::path::absolute(bundle)?;
    let cid = random_id();
    let cdir = store.container_dir(&cid);
    let guard = BundleGuard::create(&bundle)?;
    let res = (|| -> Result<String> {
        for d in ["upper", "work", "init"] {
            std::fs::create_dir_all(cdir.join(d))?;
        }
        // Layer order for overlayfs: topmost first.
        let layers: Vec<PathBuf> = img
            .diff_ids
            .iter()
            .rev()
            .map(|d| store.layer_dir(d).join("diff"))
            .collect();
        let hostname = o.hostname.clone().unwrap_or_else(|| cid.clone());
        init_layer(&cdir.join("init"), &layers, &hostname)?;
        let info = ContainerInfo {
            bundle: bundle.clone(),
            image: id.to_string(),
            layers: img.diff_ids.iter().map(|d| d.to_string()).collect(),
        };
        write_renamed(
            &cdir.join("info.json"),
            &serde_json::to_vec_pretty(&info)?,
            false,
        )?;
        let mut lowers = vec![cdir.join("init")];
        lowers.extend(layers);
        let rootfs = guard.rootfs();
        mount_overlay(&rootfs, &lowers, &cdir.join("upper"), &cdir.join("work"))?;
        let spec = (|| {
            let o = ConvertOptions {
                hostname: Some(hostname.clone()),
                ..o.clone()
            };
            config::to_spec(&img.config, &Root::open(&rootfs)?, &o)
        })();
        let spec = match spec {
            Ok(s) => s,
            Err(e) => {
                let _ = nix::mount::umount2(&rootfs, nix::mount::MntFlags::MNT_DETACH);
                return Err(e.context(format!("image {image}")));
            }
        };
        write_spec(&bundle, &spec)?;
        let m = Marker {
            store: store.root.clone(),
            container: cid.clone(),
        };
        write_renamed(&bundle.join(MARKER), &serde_json::to_vec(&m)?, false)?;
        Ok(format!(
            "bundled {image} ({}) at {} (container layer {cid}) in {:.1} ms",
            id.short(),
            bundle.display(),
            start.elapsed().as_secs_f64() * 1000.0
        ))
    })();
    match res {
        Ok(line) => {
            guard.done();
            Ok(line)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&cdir);
            Err(e)
        }
    }
}

/// The init layer: /etc/hostname, /etc/hosts and /etc/resolv.conf for this container, its
/// /etc with the owner and mode the image gives /etc.
fn init_layer(dir: &Path, layers: &[PathBuf], hostname: &str) -> Result<()> {
    let etc = dir.join("etc");
    std::fs::create_dir(&etc)?;
    for l in layers {
        match std::fs::symlink_metadata(l.join("etc")) {
            Ok(m) if m.is_dir() => {
                use std::os::unix::fs::MetadataExt;
                chown(&etc, Some(m.uid()), Some(m.gid()))?;
                std::fs::set_permissions(&etc, std::fs::Permissions::from_mode(m.mode() & 0o7777))?;
                break;
            }
            Ok(_) => break, // a whiteout or a file hides /etc below
            Err(_) => continue,
        }
    }
    let hosts = format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n"
    );
    // The host's resolver, less loopback servers, which mean nothing in a network namespace.
    let resolv: String = std::fs::read_to_string("/etc/resolv.conf")
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            let mut w = l.split_whitespace();
            !(w.next() == Some("nameserver")
                && w.next()
                    .is_some_and(|a| a.starts_with("127.") || a == "::1"))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    for (name, text) in [
        ("hostname", format!("{hostname}\n")),
        ("hosts", hosts),
        ("resolv.conf", resolv),
    ] {
        let p = etc.join(name);
        std::fs::write(&p, text)?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644))?;
    }
    Ok(())
}

/// Mounts overlayfs on `target` with the new mount API (`lowerdir+` takes one layer per
/// call, so no option-length limit); falls back to mount(2) on kernels before 6.8.
fn mount_overlay(target: &Path, lowers: &[PathBuf], upper: &Path, work: &Path) -> Result<()> {
    let s = |p: &Path| {
        p.to_str()
            .map(str::to_string)
            .context("store path is not UTF-8")
    };
    let fs = syscall::fsopen("overlay").context("overlayfs is not available")?;
    let mut legacy = false;
    for l in lowers {
        match syscall::fsconfig_set(&fs, "lowerdir+", Some(&s(l)?)) {
            Ok(()) => {}
            Err(Errno::EINVAL) if l == &lowers[0] => {
                legacy = true;
                break;
            }
            Err(e) => return Err(e).with_context(|| format!("overlay lowerdir {}", l.display())),
        }
    }
    if legacy {
        let lower: Vec<String> = lowers.iter().map(|l| s(l)).collect::<Result<_>>()?;
        let data = format!(
            "lowerdir={},upperdir={},workdir={},redirect_dir=off,index=off",
            lower.join(":"),
            s(upper)?,
            s(work)?
        );
        return nix::mount::mount(
            Some("overlay"),
            target,
            Some("overlay"),
            nix::mount::MsFlags::empty(),
            Some(data.as_str()),
        )
        .with_context(|| format!("mount overlay on {}", target.display()));
    }
    let opts = [
        ("upperdir", Some(s(upper)?)),
        ("workdir", Some(s(work)?)),
        ("redirect_dir", Some("off".into())),
        ("index", Some("off".into())),
    ];
    for (k, v) in &opts {
        syscall::fsconfig_set(&fs, k, v.as_deref())
            .with_context(|| format!("overlay option {k}"))?;
    }
    syscall::fsconfig_create(&fs).context("create overlay mount")?;
    let m = syscall::fsmount(&fs, 0).context("overlay fsmount")?;
    let t = syscall::openat2(
        libc::AT_FDCWD,
        target,
        libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        0,
        0,
    )
    .with_context(|| format!("open {}", target.display()))?;
    syscall::move_mount_to_fd(&m, &t)
        .with_context(|| format!("mount overlay on {}", target.display()))
}

/// The container id of a store bundle, checked against the store.
pub fn container_of(store: &Store, bundle: &Path) -> Result<(String, ContainerInfo)> {
    let bundle = std::path::absolute(bundle)?;
    let p = bundle.join(MARKER);
    let f = std::fs::File::open(&p).with_context(|| {
        format!(
            "{}: not a bundle made by `xrun image bundle` (no {MARKER})",
            bundle.display()
        )
    })?;
    let m: Marker = crate::bundle::parse_json(&p.display().to_string(), &crate::bundle::slurp(f)?)?;
    let info = store
        .containers()?
        .into_iter()
        .find(|(id, _)| *id == m.container)
        .map(|(_, i)| i)
        .with_context(|| {
            format!(
                "{}: its container layer {} is not in the store {}",
                bundle.display(),
                m.container,
                store.root.display()
            )
        })?;
    if info.bundle != bundle {
        bail!(
            "{}: container layer {} belongs to {}",
            bundle.display(),
            m.container,
            info.bundle.display()
        );
    }
    Ok((m.container, info))
}

pub fn unbundle(store: &Store, bundle: &Path) -> Result<String> {
    let (cid, info) = container_of(store, bundle)?;
    let bundle = info.bundle;
    let rootfs = bundle.join("rootfs");
    if let Some(pid) = user_of(&rootfs) {
        bail!(
            "{}: in use by a running container (pid {pid}): delete it first",
            rootfs.display()
        );
    }
    loop {
        match nix::mount::umount2(&rootfs, nix::mount::MntFlags::UMOUNT_NOFOLLOW) {
            Ok(()) => continue, // in case it was mounted more than once
            Err(Errno::EINVAL) | Err(Errno::ENOENT) => break,
            Err(Errno::EBUSY) => bail!(
                "{}: still in use: is a container of this bundle running? (xrun delete it first)",
                rootfs.display()
            ),
            Err(e) => return Err(e).with_context(|| format!("unmount {}", rootfs.display())),
        }
    }
    std::fs::remove_dir_all(store.container_dir(&cid))
        .with_context(|| format!("remove container layer {cid}"))?;
    for f in ["config.json", MARKER] {
        let _ = std::fs::remove_file(bundle.join(f));
    }
    match std::fs::remove_dir(&rootfs) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => bail!("{}: {e} (left in place)", rootfs.display()),
    }
    let _ = std::fs::remove_dir(&bundle);
    Ok(format!(
        "removed bundle {} (container layer {cid})",
        bundle.display()
    ))
}

/// A process whose root directory is this overlay: a container running from the bundle (its
/// root is its own copy of the mount, which unmounting ours would not stop).
fn user_of(rootfs: &Path) -> Option<i32> {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(rootfs).ok()?.dev();
    if dev == std::fs::metadata(rootfs.parent()?).ok()?.dev() {
        return None; // not mounted
    }
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid = e.file_name().to_str()?.parse::<i32>().ok()?;
        let root = std::fs::metadata(e.path().join("root")).ok()?;
        (root.dev() == dev).then_some(pid)
    })
}
