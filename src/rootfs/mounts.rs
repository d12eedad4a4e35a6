//! The config's `mounts`, set up inside the container's root before pivot_root.
//!
//! Destinations are resolved and created inside the root (see `resolve`). Bind mounts are made
//! with the new mount API: a detached clone of the source, its attributes set while it is
//! still detached, then attached onto the destination's descriptor. Other filesystems are
//! mounted with mount(2) onto `/proc/self/fd/N` of the destination (the host's /proc at this
//! point, which the container cannot touch).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use nix::mount::MsFlags;
use oci_spec::runtime::Mount;

use super::options::{self, MountOptions};
use super::resolve::{self, Kind};
use crate::syscall;

const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// What mounting needs to know about the container.
pub struct MountCtx<'a> {
    /// `O_PATH` descriptor of the root filesystem (after it was bind-mounted onto itself).
    pub root: &'a OwnedFd,
    /// Bind sources that are relative paths are taken relative to the bundle.
    pub bundle: &'a Path,
    /// The container is in a new user namespace (no mknod, some mounts need fallbacks).
    pub userns: bool,
    /// The container has its own network namespace (sysfs can be mounted fresh).
    pub netns: bool,
    pub cgroups: &'a crate::cgroups::ContainerMounts,
    pub cgroupns: bool,
}

pub fn mount_all(ctx: &MountCtx, mounts: &[Mount]) -> Result<()> {
    for (i, m) in mounts.iter().enumerate() {
        mount_one(ctx, m)
            .with_context(|| format!("mounts[{i}] ({})", m.destination().display()))?;
    }
    Ok(())
}

fn mount_one(ctx: &MountCtx, m: &Mount) -> Result<()> {
    let opts = options::parse(m.options().as_deref().unwrap_or_default());
    let typ = m.typ().as_deref().unwrap_or("");
    let dest = m.destination();
    if opts.idmap.is_some() {
        bail!("id-mapped mounts (idmap, ridmap) are not supported");
    }
    if opts.tmpcopyup {
        bail!("the tmpcopyup option is not supported");
    }
    if typ == "bind" || opts.is_bind() {
        let src = m
            .source()
            .as_deref()
            .context("a bind mount needs a source")?;
        return bind(ctx, &absolute_source(ctx.bundle, src), dest, &opts);
    }
    match typ {
        "cgroup" | "cgroup2" => super::cgroupfs::mount(ctx, dest, &opts),
        "proc" | "sysfs" => {
            // Never mount these through a symlink (CVE-2019-16884/19921): the destination
            // must be a plain path inside the root.
            let target = no_symlink(ctx.root, dest, Kind::Dir)?;
            let source = m
                .source()
                .as_deref()
                .map(Path::new)
                .unwrap_or(Path::new(typ));
            match mount_fs(ctx.root, dest, &target, source, typ, &opts) {
                Err(e) if typ == "sysfs" && ctx.userns && !ctx.netns => {
                    // sysfs of the host's network namespace cannot be mounted from a user
                    // namespace; runc binds the host's /sys instead.
                    crate::logging::debug(&format!("sysfs mount refused ({e:#}); binding /sys"));
                    let mut o = opts.clone();
                    o.flags |= MsFlags::MS_BIND | MsFlags::MS_REC;
                    bind(ctx, Path::new("/sys"), dest, &o)
                }
                r => r,
            }
        }
        _ => {
            let target = resolve::create_in_root(ctx.root.as_raw_fd(), dest, Kind::Dir)?;
            let default_src = PathBuf::from(typ);
            let source = m.source().as_deref().unwrap_or(&default_src);
            mount_fs(ctx.root, dest, &target, source, typ, &opts)
        }
    }
}

/// Relative bind sources are relative to the bundle directory, as in runc.
fn absolute_source(bundle: &Path, src: &Path) -> PathBuf {
    if src.is_absolute() {
        src.to_path_buf()
    } else {
        bundle.join(src)
    }
}

/// Opens (creating if needed) `dest` with no symlink anywhere on its path.
pub fn no_symlink(root: &OwnedFd, dest: &Path, kind: Kind) -> Result<OwnedFd> {
    resolve::create_in_root(root.as_raw_fd(), dest, kind)?;
    let flags = match kind {
        Kind::Dir => libc::O_PATH | libc::O_DIRECTORY,
        Kind::File => libc::O_PATH,
    };
    match syscall::openat2(
        root.as_raw_fd(),
        &resolve::relative(dest),
        flags,
        0,
        RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS,
    ) {
        Ok(fd) => Ok(fd),
        Err(nix::errno::Errno::ELOOP) => {
            bail!(
                "{} is reached through a symlink, refusing to mount there",
                dest.display()
            )
        }
        Err(e) => Err(e).with_context(|| format!("open {}", dest.display())),
    }
}

/// Mounts a filesystem of type `typ` on `target` (the descriptor of `dest` in `root`), then
/// applies the recursive attributes and propagation options.
pub fn mount_fs(
    root: &OwnedFd,
    dest: &Path,
    target: &OwnedFd,
    source: &Path,
    typ: &str,
    o: &MountOptions,
) -> Result<()> {
    let path = resolve::fd_path(target);
    let data = (!o.data.is_empty()).then_some(o.data.as_str());
    nix::mount::mount(Some(source), &path, Some(typ), o.flags, data)
        .with_context(|| format!("mount {typ}"))?;
    if o.recursive != Default::default() || !o.propagation.is_empty() {
        // The descriptor still names the covered directory; a fresh lookup reaches the mount.
        let mnt = resolve::open_in_root(root.as_raw_fd(), dest).context("reopen mount")?;
        apply_after(&mnt, o)?;
    }
    Ok(())
}

/// Bind-mounts `src` (a host path) onto `dest` inside the root.
pub fn bind(ctx: &MountCtx, src: &Path, dest: &Path, o: &MountOptions) -> Result<()> {
    let meta = std::fs::metadata(src).with_context(|| format!("bind source {}", src.display()))?;
    let kind = if meta.is_dir() { Kind::Dir } else { Kind::File };
    let target = resolve::create_in_root(ctx.root.as_raw_fd(), dest, kind)?;
    let tree = syscall::open_tree_clone(libc::AT_FDCWD, src, o.is_recursive_bind())
        .with_context(|| format!("clone mount of {}", src.display()))?;
    attach(&tree, &target, o)
}

/// Sets a detached mount's attributes and attaches it onto `target`.
pub fn attach(tree: &OwnedFd, target: &OwnedFd, o: &MountOptions) -> Result<()> {
    let a = o.bind_attrs();
    if a.set != 0 || a.clear != 0 {
        syscall::mount_setattr(tree, false, a.set, a.clear).context("set mount attributes")?;
    }
    if o.recursive != Default::default() {
        syscall::mount_setattr(tree, true, o.recursive.set, o.recursive.clear)
            .context("set recursive mount attributes")?;
    }
    syscall::move_mount_to_fd(tree, target).context("attach mount")?;
    if !o.propagation.is_empty() {
        apply_propagation(tree, &o.propagation)?;
    }
    Ok(())
}

/// After a fresh filesystem mount: recursive attributes and propagation.
fn apply_after(mnt: &OwnedFd, o: &MountOptions) -> Result<()> {
    if o.recursive != Default::default() {
        syscall::mount_setattr(mnt, true, o.recursive.set, o.recursive.clear)
            .context("set recursive mount attributes")?;
    }
    apply_propagation(mnt, &o.propagation)
}

fn apply_propagation(mnt: &OwnedFd, props: &[MsFlags]) -> Result<()> {
    let path = resolve::fd_path(mnt);
    for p in props {
        nix::mount::mount(None::<&str>, &path, None::<&str>, *p, None::<&str>)
            .with_context(|| format!("set propagation {p:?}"))?;
    }
    Ok(())
}
