//! Paths inside the container's root, resolved the way the container would see them and never
//! outside it (CVE-2021-30465 and friends): every lookup is `openat2(RESOLVE_IN_ROOT)` from a
//! descriptor of the root, every missing component is created relative to its parent's
//! descriptor with no symlink following, and mounts go onto the descriptor, not a path.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::sys::stat::{Mode, SFlag};

use crate::syscall::openat2;

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// What to create at the end of the path when it is missing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Dir,
    File,
}

/// Opens `path` (absolute or relative, taken as inside the root) below `root` as `O_PATH`.
pub fn open_in_root(root: RawFd, path: &Path) -> nix::Result<OwnedFd> {
    openat2(
        root,
        &relative(path),
        libc::O_PATH,
        0,
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    )
}

/// Opens `path` with `flags` below `root`.
pub fn open_in_root_with(root: RawFd, path: &Path, flags: i32) -> nix::Result<OwnedFd> {
    openat2(
        root,
        &relative(path),
        flags,
        0,
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    )
}

/// Opens `path` below `root`, creating missing directories (mode 0755) and, for
/// `Kind::File`, an empty last component (mode 0644). Returns an `O_PATH` descriptor.
///
/// Symlinks met on the way are followed the way the container would see them (an absolute
/// target starts again at the root, `..` never climbs above it), one component at a time
/// from directory descriptors, so a missing directory behind a dangling symlink is created
/// inside the root and never outside.
pub fn create_in_root(root: RawFd, path: &Path, kind: Kind) -> Result<OwnedFd> {
    match open_in_root(root, path) {
        Ok(fd) => return Ok(fd),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(e).with_context(|| format!("open {}", path.display())),
    }
    let what = || format!("create {}", path.display());
    let mut queue: VecDeque<OsString> = components(path);
    let mut stack: Vec<OwnedFd> = Vec::new();
    let mut links = 0;
    while let Some(name) = queue.pop_front() {
        if name == ".." {
            stack.pop();
            continue;
        }
        let cur = stack.last().map_or(root, |f| f.as_raw_fd());
        let last = queue.is_empty();
        let fd = match openat2(cur, Path::new(&name), libc::O_PATH | libc::O_NOFOLLOW, 0, 0) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => {
                let res = if last && kind == Kind::File {
                    nix::sys::stat::mknodat(
                        borrow(cur),
                        name.as_os_str(),
                        SFlag::S_IFREG,
                        Mode::from_bits_truncate(0o644),
                        0,
                    )
                } else {
                    nix::sys::stat::mkdirat(
                        borrow(cur),
                        name.as_os_str(),
                        Mode::from_bits_truncate(0o755),
                    )
                };
                match res {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(e).with_context(what),
                }
                openat2(cur, Path::new(&name), libc::O_PATH | libc::O_NOFOLLOW, 0, 0)
                    .with_context(what)?
            }
            Err(e) => return Err(e).with_context(what),
        };
        match file_type(&fd)? {
            SFlag::S_IFLNK => {
                links += 1;
                if links > 40 {
                    bail!("{}: too many levels of symbolic links", path.display());
                }
                let target =
                    nix::fcntl::readlinkat(borrow(cur), name.as_os_str()).with_context(what)?;
                let target = PathBuf::from(target);
                if target.is_absolute() {
                    stack.clear();
                }
                for c in components(&target).into_iter().rev() {
                    queue.push_front(c);
                }
            }
            SFlag::S_IFDIR => stack.push(fd),
            _ if last => return Ok(fd),
            _ => bail!(
                "{}: {} is not a directory",
                path.display(),
                name.to_string_lossy()
            ),
        }
    }
    match stack.pop() {
        Some(fd) => Ok(fd),
        None => dup_fd(root),
    }
}

fn components(p: &Path) -> VecDeque<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

fn borrow(fd: RawFd) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: only used for the duration of a call while the descriptor is open.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}

fn dup_fd(fd: RawFd) -> Result<OwnedFd> {
    openat2(fd, Path::new("."), libc::O_PATH | libc::O_DIRECTORY, 0, 0).context("reopen root")
}

/// The path as relative to the root (`/a/../b` stays as is: RESOLVE_IN_ROOT clamps `..`).
pub fn relative(path: &Path) -> PathBuf {
    let rel = path.strip_prefix("/").unwrap_or(path);
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel.to_path_buf()
    }
}

/// `/proc/self/fd/N`: a path that reaches exactly the object of an `O_PATH` descriptor, for
/// the system calls that only take paths (mount(2)).
pub fn fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// The file type of an `O_PATH` descriptor.
pub fn file_type(fd: &impl std::os::fd::AsFd) -> Result<SFlag> {
    let st = nix::sys::stat::fstat(fd).context("fstat")?;
    Ok(SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()))
}

/// Fails unless `fd` is a directory.
pub fn require_dir(fd: &impl std::os::fd::AsFd, what: &Path) -> Result<()> {
    if file_type(fd)? != SFlag::S_IFDIR {
        bail!("{} is not a directory", what.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_stay_inside_the_root() {
        let outside = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        // An absolute symlink and a ../ escape both point at the host's temp dir.
        symlink(outside.path(), root.path().join("abs")).unwrap();
        symlink("../../../../../../../../", root.path().join("up")).unwrap();
        let rfd = openat2(
            libc::AT_FDCWD,
            root.path(),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            0,
        )
        .unwrap();
        for p in ["/abs/x/y", "/up/x/y"] {
            create_in_root(rfd.as_raw_fd(), Path::new(p), Kind::File).unwrap();
        }
        assert_eq!(
            std::fs::read_dir(outside.path()).unwrap().count(),
            0,
            "wrote outside the root"
        );
        // `/abs` resolved to <root>/<outside path>, inside the root.
        let inside = root
            .path()
            .join(outside.path().strip_prefix("/").unwrap())
            .join("x/y");
        assert!(inside.is_file());
        assert!(root.path().join("x/y").is_file());
    }

    #[test]
    fn creates_directories_and_reuses_existing() {
        let root = tempfile::tempdir().unwrap();
        let rfd = openat2(
            libc::AT_FDCWD,
            root.path(),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            0,
        )
        .unwrap();
        let fd = create_in_root(rfd.as_raw_fd(), Path::new("/a/b/c"), Kind::Dir).unwrap();
        require_dir(&fd, Path::new("/a/b/c")).unwrap();
        create_in_root(rfd.as_raw_fd(), Path::new("/a/b/c"), Kind::Dir).unwrap();
        assert!(root.path().join("a/b/c").is_dir());
    }
}
