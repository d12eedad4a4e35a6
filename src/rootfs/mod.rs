//! The container's root filesystem, in three phases the init runs in order:
//! [`prepare`] (propagation, the rootfs bind, `mounts`, devices) before pivot_root,
//! [`pivot`], and [`finalize`] (console, masked and read-only paths, read-only root) after it.

pub mod cgroupfs;
pub mod devices;
pub mod masked;
pub mod mounts;
pub mod options;
pub mod resolve;

use std::os::fd::OwnedFd;
use std::path::Path;

use anyhow::{Context, Result};
use nix::mount::{MntFlags, MsFlags};
use oci_spec::runtime::Spec;

use crate::syscall;

/// What the rootfs steps need from the namespaces the container got.
pub struct RootfsCtx<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub userns: bool,
    pub netns: bool,
    pub cgroupns: bool,
    pub cgroups: &'a crate::cgroups::ContainerMounts,
}

/// The propagation of `/` inside the container (`linux.rootfsPropagation`, default rslave).
fn root_propagation(spec: &Spec) -> MsFlags {
    spec.linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
        .and_then(options::propagation_option)
        .map(|p| p | MsFlags::MS_REC)
        .unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC)
}

/// Everything before pivot_root. Returns an `O_PATH` descriptor of the new root.
pub fn prepare(ctx: &RootfsCtx) -> Result<OwnedFd> {
    let prop = root_propagation(ctx.spec);
    // Nothing we mount may propagate back to the host.
    nix::mount::mount(None::<&str>, "/", None::<&str>, prop, None::<&str>)
        .context("set propagation of /")?;
    if prop.intersects(MsFlags::MS_SHARED) {
        // pivot_root refuses a shared parent mount: make the rootfs's parent private.
        make_parent_private(ctx.rootfs)?;
    }
    // pivot_root needs the new root to be a mount point.
    nix::mount::mount(
        Some(ctx.rootfs),
        ctx.rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .context("bind the rootfs onto itself")?;
    let root = syscall::openat2(
        libc::AT_FDCWD,
        ctx.rootfs,
        libc::O_PATH | libc::O_DIRECTORY,
        0,
        0,
    )
    .context("open rootfs")?;

    let mounts = ctx.spec.mounts().as_deref().unwrap_or_default();
    let mctx = mounts::MountCtx {
        root: &root,
        bundle: ctx.bundle,
        userns: ctx.userns,
        netns: ctx.netns,
        cgroups: ctx.cgroups,
        cgroupns: ctx.cgroupns,
    };
    mounts::mount_all(&mctx, mounts)?;

    // A /dev bound from the host already has its devices.
    let dev_from_host = mounts.iter().any(|m| {
        m.destination() == Path::new("/dev")
            && (m.typ().as_deref() == Some("bind")
                || m.options()
                    .iter()
                    .flatten()
                    .any(|o| o == "bind" || o == "rbind"))
    });
    if !dev_from_host {
        let config = ctx
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.devices().clone())
            .unwrap_or_default();
        devices::create_devices(&root, &devices::all_devices(&config)?, ctx.userns)?;
        devices::create_symlinks(&root, Path::new("/proc/kcore").exists())?;
    }
    Ok(root)
}

/// Finds the mount that contains `path` and makes it private.
fn make_parent_private(path: &Path) -> Result<()> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").context("read mountinfo")?;
    let mut best: Option<&str> = None;
    for line in info.lines() {
        let Some(mp) = line.split(' ').nth(4) else {
            continue;
        };
        if path.starts_with(mp) && best.is_none_or(|b| mp.len() > b.len()) {
            best = Some(mp);
        }
    }
    let mp = best.unwrap_or("/");
    nix::mount::mount(
        None::<&str>,
        mp,
        None::<&str>,
        MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .with_context(|| format!("make {mp} private"))
}

/// Makes the rootfs the container's `/`: pivot_root, or with `--no-pivot` a move mount and
/// chroot (for ramdisk roots, where pivot_root is impossible).
pub fn pivot(rootfs: &Path, no_pivot: bool) -> Result<()> {
    let new_root = syscall::openat2(
        libc::AT_FDCWD,
        rootfs,
        libc::O_RDONLY | libc::O_DIRECTORY,
        0,
        0,
    )
    .context("open rootfs")?;
    nix::unistd::fchdir(&new_root).context("chdir to rootfs")?;
    if no_pivot {
        nix::mount::mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
            .context("move rootfs to /")?;
        nix::unistd::chroot(".").context("chroot")?;
    } else {
        let old_root = syscall::openat2(
            libc::AT_FDCWD,
            Path::new("/"),
            libc::O_RDONLY | libc::O_DIRECTORY,
            0,
            0,
        )
        .context("open /")?;
        // pivot_root(".", ".") stacks the old root on top of the new one; no put_old needed.
        nix::unistd::pivot_root(".", ".").context("pivot_root")?;
        nix::unistd::fchdir(&old_root).context("chdir to old root")?;
        // Detach the old root without propagating the unmount anywhere.
        nix::mount::mount(
            None::<&str>,
            ".",
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        )
        .context("make old root rslave")?;
        nix::mount::umount2(".", MntFlags::MNT_DETACH).context("detach old root")?;
    }
    nix::unistd::chdir("/").context("chdir /")?;
    Ok(())
}

/// After pivot_root: the root's propagation, masked and read-only paths, a read-only root.
pub fn finalize(spec: &Spec) -> Result<()> {
    let root = syscall::openat2(
        libc::AT_FDCWD,
        Path::new("/"),
        libc::O_PATH | libc::O_DIRECTORY,
        0,
        0,
    )
    .context("open /")?;
    // The rootfs bind was made under a private parent; give the new root the configured
    // propagation (the default rslave needs nothing: it already follows the host).
    let prop = root_propagation(spec);
    if prop != MsFlags::MS_SLAVE | MsFlags::MS_REC {
        nix::mount::mount(None::<&str>, "/", None::<&str>, prop, None::<&str>)
            .context("linux.rootfsPropagation")?;
    }
    if let Some(linux) = spec.linux() {
        let masked = linux.masked_paths().as_deref().unwrap_or_default();
        let dev_null = if masked.is_empty() {
            None
        } else {
            Some(masked::open_dev_null(&root)?)
        };
        for (i, p) in masked.iter().enumerate() {
            masked::mask(&root, Path::new(p), dev_null.as_ref().unwrap())
                .with_context(|| format!("linux.maskedPaths[{i}] ({p})"))?;
        }
        for (i, p) in linux.readonly_paths().iter().flatten().enumerate() {
            masked::make_readonly(&root, Path::new(p))
                .with_context(|| format!("linux.readonlyPaths[{i}] ({p})"))?;
        }
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        syscall::mount_setattr(&root, false, syscall::MOUNT_ATTR_RDONLY, 0)
            .context("root.readonly: make / read-only")?;
    }
    Ok(())
}
