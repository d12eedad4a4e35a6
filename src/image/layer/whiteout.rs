//! Whiteouts: `.wh.NAME` hides NAME of the layers below, `.wh..wh..opq` hides everything a
//! directory held below. Flattened, they delete (but never what the same layer made: the spec
//! lets a whiteout hide only lower layers); in an overlay layer directory they become what
//! overlayfs reads: a 0/0 character device and the `trusted.overlay.opaque` xattr.

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::sys::stat::{Mode, SFlag};

use super::apply::{Applier, LayerMode, LayerState};
use super::entry::fset_xattr;
use super::OVERLAY_OPAQUE_XATTR;
use crate::image::fsops::{self, Root};

pub(super) fn whiteout(
    a: &mut Applier,
    parent: &Path,
    name: &OsStr,
    layer: &LayerState,
) -> Result<()> {
    if name == "." || name == ".." || name.is_empty() {
        bail!("invalid whiteout");
    }
    match a.opts.mode {
        LayerMode::Flatten => {
            let Some(dir) = a.root.existing_dir(parent)? else {
                return Ok(());
            };
            let target = parent.join(name);
            if layer.unpacked.contains(&target) {
                // Made by this very layer: only what lies below goes.
                if let Ok(sub) = fsops::open_dir_at(&dir, name) {
                    remove_lower(a, &sub, &target, layer)?;
                }
                Ok(())
            } else {
                a.remove(&dir, name)
            }
        }
        LayerMode::Diff => {
            let dir = a.root.dir(parent)?;
            let mk = |d: &OwnedFd| {
                nix::sys::stat::mknodat(d, name, SFlag::S_IFCHR, Mode::empty(), libc::makedev(0, 0))
            };
            match mk(&dir) {
                Err(Errno::EEXIST) => {
                    a.remove(&dir, name)?;
                    mk(&dir)
                }
                other => other,
            }
            .context("make whiteout device")
        }
    }
}

pub(super) fn opaque(a: &mut Applier, dir: &Path, layer: &LayerState) -> Result<()> {
    match a.opts.mode {
        LayerMode::Flatten => {
            if let Some(fd) = a.root.existing_dir(dir)? {
                remove_lower(a, &fd, dir, layer)?;
            }
            Ok(())
        }
        LayerMode::Diff => {
            let fd = a.root.dir(dir)?;
            let rd = fsops::open_dir_at(&*fd, OsStr::new(".")).context("open directory")?;
            fset_xattr(&rd, OVERLAY_OPAQUE_XATTR, b"y").context("set opaque xattr")
        }
    }
}

/// Removes what `dir` (at `path`) holds that this layer did not make.
fn remove_lower(a: &mut Applier, dir: &OwnedFd, path: &Path, layer: &LayerState) -> Result<()> {
    for child in fsops::list_dir(dir)? {
        let cpath = path.join(&child);
        if !layer.unpacked.contains(&cpath) {
            a.remove(dir, &child)?;
        } else if let Ok(sub) = fsops::open_dir_at(dir, &child) {
            remove_lower(a, &sub, &cpath, layer)?;
        }
    }
    Ok(())
}

/// Diff mode: a hardlink to a file of a lower layer. Layer directories never share inodes,
/// so the file is copied with its owner, mode and times.
pub(super) fn copy_up(a: &mut Applier, target: &Path, dir: &OwnedFd, name: &OsStr) -> Result<()> {
    for lower in &a.opts.lowers {
        let root = Root::open(lower)?;
        let src = match root.open_file(target, libc::O_RDONLY | libc::O_NOFOLLOW) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(e).with_context(|| format!("open {}", target.display())),
        };
        let st = nix::sys::stat::fstat(&src).context("stat")?;
        if fsops::file_kind(&st) != SFlag::S_IFREG {
            break; // a whiteout or a directory: the target is gone
        }
        let flags = nix::fcntl::OFlag::O_CREAT
            | nix::fcntl::OFlag::O_EXCL
            | nix::fcntl::OFlag::O_WRONLY
            | nix::fcntl::OFlag::O_NOFOLLOW
            | nix::fcntl::OFlag::O_CLOEXEC;
        let _ = fsops::remove_all_at(dir, name);
        let fd = nix::fcntl::openat(dir, name, flags, Mode::from_bits_truncate(0o600))
            .context("create file")?;
        let mut out = File::from(fd);
        std::io::copy(&mut File::from(src), &mut out).context("copy file")?;
        nix::unistd::fchown(
            out.as_fd(),
            Some(nix::unistd::Uid::from_raw(st.st_uid)),
            Some(nix::unistd::Gid::from_raw(st.st_gid)),
        )
        .context("chown")?;
        nix::sys::stat::fchmod(&out, Mode::from_bits_retain(st.st_mode & 0o7777))
            .context("chmod")?;
        let ts = nix::sys::time::TimeSpec::new(st.st_mtime, st.st_mtime_nsec);
        nix::sys::stat::futimens(&out, &ts, &ts).context("set times")?;
        return Ok(());
    }
    bail!("hardlink target {} does not exist", target.display())
}
