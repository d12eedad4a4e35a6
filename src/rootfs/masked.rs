//! `maskedPaths` and `readonlyPaths`, applied after pivot_root with descriptors only: no
//! path the container could swap for a symlink is ever handed to mount(2), and the /dev/null
//! that masks files is checked to be the null device through the very descriptor that is
//! mounted (CVE-2025-31133).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::sys::stat::SFlag;

use super::resolve::{file_type, relative};
use crate::syscall;

const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// Opens `path` below `root` with no symlink on the way; `None` when it does not exist.
fn open_plain(root: &OwnedFd, path: &Path) -> Result<Option<OwnedFd>> {
    match syscall::openat2(
        root.as_raw_fd(),
        &relative(path),
        libc::O_PATH,
        0,
        RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS,
    ) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::ENOENT) => Ok(None),
        Err(Errno::ELOOP) => bail!("the path goes through a symlink; refusing to touch it"),
        Err(e) => Err(e).context("open"),
    }
}

/// Hides `path`: an empty read-only tmpfs over a directory, /dev/null over anything else.
pub fn mask(root: &OwnedFd, path: &Path, dev_null: &OwnedFd) -> Result<()> {
    let Some(target) = open_plain(root, path)? else {
        return Ok(());
    };
    let tree = if file_type(&target)? == SFlag::S_IFDIR {
        let fs = syscall::fsopen("tmpfs").context("fsopen tmpfs")?;
        syscall::fsconfig_set(&fs, "size", Some("0")).ok();
        syscall::fsconfig_create(&fs).context("create tmpfs")?;
        syscall::fsmount(&fs, syscall::MOUNT_ATTR_RDONLY).context("fsmount tmpfs")?
    } else {
        syscall::open_tree_clone(dev_null.as_raw_fd(), Path::new(""), false)
            .context("clone /dev/null")?
    };
    syscall::move_mount_to_fd(&tree, &target).context("mount over it")
}

/// Makes `path` read-only: a recursive bind of itself with every mount read-only.
pub fn make_readonly(root: &OwnedFd, path: &Path) -> Result<()> {
    let Some(target) = open_plain(root, path)? else {
        return Ok(());
    };
    let tree =
        syscall::open_tree_clone(target.as_raw_fd(), Path::new(""), true).context("clone mount")?;
    syscall::mount_setattr(&tree, true, syscall::MOUNT_ATTR_RDONLY, 0).context("make read-only")?;
    syscall::move_mount_to_fd(&tree, &target).context("mount over it")
}

/// Opens the container's /dev/null and checks it is the null device (1:3).
pub fn open_dev_null(root: &OwnedFd) -> Result<OwnedFd> {
    let fd = open_plain(root, Path::new("/dev/null"))
        .context("/dev/null")?
        .context("/dev/null is missing")?;
    let st = nix::sys::stat::fstat(&fd)?;
    if st.st_mode & SFlag::S_IFMT.bits() != SFlag::S_IFCHR.bits()
        || st.st_rdev != libc::makedev(1, 3)
    {
        bail!("/dev/null is not the null device");
    }
    Ok(fd)
}
