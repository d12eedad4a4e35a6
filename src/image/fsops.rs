//! File-system operations confined to a root directory: every path is resolved from the root's
//! descriptor with `openat2(RESOLVE_IN_ROOT)`, the last component is always handled with
//! `*at(parent_fd, name)` and no symlink following, and metadata changes go through
//! descriptors. A tar entry, symlink or hardlink can therefore never reach outside the root
//! (umoci CVE-2021-29136 and the classic `../` and symlinked-parent attacks).

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{Mode, SFlag};
use nix::unistd::UnlinkatFlags;

use crate::rootfs::resolve::{self, Kind};
use crate::syscall::openat2;

/// An open root directory and a one-entry cache of the last parent directory used (tar
/// entries come grouped by directory, so this saves most lookups).
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
    cache: Option<(PathBuf, Arc<OwnedFd>)>,
}

impl Root {
    /// Opens an existing directory as a root.
    pub fn open(path: &Path) -> Result<Root> {
        let fd = openat2(libc::AT_FDCWD, path, libc::O_PATH | libc::O_DIRECTORY, 0, 0)
            .with_context(|| format!("open {}", path.display()))?;
        Ok(Root {
            fd,
            path: path.to_path_buf(),
            cache: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The directory `dir` (a clean relative path, see [`clean_path`]) resolved inside the
    /// root, created (0755) with its missing parents when absent.
    pub fn dir(&mut self, dir: &Path) -> Result<Arc<OwnedFd>> {
        if let Some((p, fd)) = &self.cache {
            if p == dir {
                return Ok(fd.clone());
            }
        }
        let fd = match resolve::open_in_root_with(
            self.fd.as_raw_fd(),
            dir,
            libc::O_PATH | libc::O_DIRECTORY,
        ) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => {
                let fd = resolve::create_in_root(self.fd.as_raw_fd(), dir, Kind::Dir)?;
                resolve::require_dir(&fd, dir)?;
                fd
            }
            Err(Errno::ENOTDIR) => bail!("{}: not a directory", dir.display()),
            Err(e) => return Err(e).with_context(|| format!("open {}", dir.display())),
        };
        let fd = Arc::new(fd);
        self.cache = Some((dir.to_path_buf(), fd.clone()));
        Ok(fd)
    }

    /// The existing directory `dir`, or `None` when it does not exist.
    pub fn existing_dir(&self, dir: &Path) -> Result<Option<OwnedFd>> {
        match resolve::open_in_root_with(self.fd.as_raw_fd(), dir, libc::O_PATH | libc::O_DIRECTORY)
        {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("open {}", dir.display())),
        }
    }

    /// Drops the cached directory: call after anything was removed or replaced.
    pub fn forget(&mut self) {
        self.cache = None;
    }

    /// Opens `path` inside the root with `flags` (symlinks resolved inside the root).
    pub fn open_file(&self, path: &Path, flags: i32) -> nix::Result<OwnedFd> {
        resolve::open_in_root_with(self.fd.as_raw_fd(), path, flags)
    }
}

/// A tar member name as a clean relative path: `./a//b/` → `a/b`; `None` for the root itself.
/// Absolute names and `..` are refused: no producer we accept writes them, and a layer that
/// does is trying to reach outside the root.
pub fn clean_path(raw: &[u8]) -> Result<Option<PathBuf>> {
    let p = Path::new(OsStr::from_bytes(raw));
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => bail!("absolute path"),
            Component::ParentDir => bail!("path contains \"..\" (outside the root)"),
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

/// Splits a clean relative path into its parent (maybe empty) and last component.
pub fn split(p: &Path) -> (&Path, &OsStr) {
    (
        p.parent().unwrap_or(Path::new("")),
        p.file_name().unwrap_or_default(),
    )
}

/// `lstat` of `name` in `dir`; `None` when absent.
pub fn lstat_at(dir: &impl AsFd, name: &OsStr) -> Result<Option<libc::stat>> {
    match nix::sys::stat::fstatat(dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e).with_context(|| format!("lstat {}", name.to_string_lossy())),
    }
}

pub fn file_kind(st: &libc::stat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

/// Removes `name` from `dir`, recursively for directories, never following symlinks.
/// Absent is fine.
pub fn remove_all_at(dir: &impl AsFd, name: &OsStr) -> Result<()> {
    match nix::unistd::unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => return Ok(()),
        Err(Errno::EISDIR) => {}
        Err(e) => return Err(e).with_context(|| format!("remove {}", name.to_string_lossy())),
    }
    let sub = nix::fcntl::openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("open {}", name.to_string_lossy()))?;
    for child in list_dir(&sub)? {
        remove_all_at(&sub, &child)?;
    }
    match nix::unistd::unlinkat(dir, name, UnlinkatFlags::RemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("remove {}", name.to_string_lossy())),
    }
}

/// The names in a directory (without `.` and `..`), sorted for deterministic walks.
pub fn list_dir(dir: &impl AsFd) -> Result<Vec<OsString>> {
    let fd = nix::fcntl::openat(
        dir,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .context("open directory")?;
    let mut d = nix::dir::Dir::from_fd(fd).context("read directory")?;
    let mut names = Vec::new();
    for e in d.iter() {
        let e = e.context("read directory")?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    names.sort();
    Ok(names)
}

/// Opens the directory `name` in `dir` for reading, without following a symlink.
pub fn open_dir_at(dir: &impl AsFd, name: &OsStr) -> nix::Result<OwnedFd> {
    nix::fcntl::openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// chmod of `name` in `dir` without following a symlink (fchmodat2, Linux 6.6+).
pub fn chmod_at(dir: &impl AsFd, name: &OsStr, mode: u32) -> Result<()> {
    const SYS_FCHMODAT2: libc::c_long = 452;
    let c = cstring(name)?;
    // SAFETY: c outlives the call.
    let r = unsafe {
        libc::syscall(
            SYS_FCHMODAT2,
            dir.as_fd().as_raw_fd(),
            c.as_ptr(),
            mode,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r == 0 {
        return Ok(());
    }
    match Errno::last() {
        // Older kernels: the caller never chmods symlinks, and the name was just created.
        Errno::ENOSYS => nix::sys::stat::fchmodat(
            dir,
            name,
            Mode::from_bits_truncate(mode),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .with_context(|| format!("chmod {}", name.to_string_lossy())),
        e => Err(e).with_context(|| format!("chmod {}", name.to_string_lossy())),
    }
}

/// lchown of `name` in `dir`.
pub fn chown_at(dir: &impl AsFd, name: &OsStr, uid: u32, gid: u32) -> nix::Result<()> {
    nix::unistd::fchownat(
        dir,
        name,
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(gid)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
}

/// Sets atime and mtime of `name` in `dir` without following a symlink.
pub fn set_times_at(dir: &impl AsFd, name: &OsStr, mtime: (i64, i64)) -> Result<()> {
    let ts = nix::sys::time::TimeSpec::new(mtime.0, mtime.1);
    nix::sys::stat::utimensat(
        dir,
        name,
        &ts,
        &ts,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .with_context(|| format!("set times of {}", name.to_string_lossy()))
}

/// The `/proc/self/fd/N/name` path: reaches `name` inside the directory `dir` refers to,
/// for the calls that only take paths (the l*xattr family). The last component is not
/// followed by those calls.
pub fn proc_path(dir: &impl AsRawFd, name: &OsStr) -> PathBuf {
    let mut p = resolve::fd_path(dir);
    if !name.is_empty() {
        p.push(name);
    }
    p
}

fn cstring(s: &OsStr) -> Result<CString> {
    CString::new(s.as_bytes()).context("name contains a NUL byte")
}

/// lsetxattr(2) on `name` in `dir`.
pub fn set_xattr_at(dir: &impl AsRawFd, name: &OsStr, key: &str, value: &[u8]) -> io::Result<()> {
    let p = CString::new(proc_path(dir, name).as_os_str().as_bytes())?;
    let k = CString::new(key)?;
    // SAFETY: all pointers outlive the call; value's length is passed along.
    let r = unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            k.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// lgetxattr(2) of `key` on `name` in `dir`; `None` when the attribute is absent.
pub fn get_xattr_at(dir: &impl AsRawFd, name: &OsStr, key: &str) -> io::Result<Option<Vec<u8>>> {
    let p = CString::new(proc_path(dir, name).as_os_str().as_bytes())?;
    let k = CString::new(key)?;
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: buf is valid for buf.len() bytes.
        let r =
            unsafe { libc::lgetxattr(p.as_ptr(), k.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if r >= 0 {
            buf.truncate(r as usize);
            return Ok(Some(buf));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ENODATA) | Some(libc::ENOTSUP) => return Ok(None),
            Some(libc::ERANGE) if buf.len() < 1 << 20 => buf.resize(buf.len() * 8, 0),
            _ => return Err(e),
        }
    }
}

/// The extended attribute names of `name` in `dir` (llistxattr).
pub fn list_xattrs_at(dir: &impl AsRawFd, name: &OsStr) -> io::Result<Vec<String>> {
    let p = CString::new(proc_path(dir, name).as_os_str().as_bytes())?;
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: buf is valid for buf.len() bytes.
        let r = unsafe { libc::llistxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if r >= 0 {
            buf.truncate(r as usize);
            break;
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::ENOTSUP) => return Ok(Vec::new()),
            Some(libc::ERANGE) if buf.len() < 1 << 20 => buf.resize(buf.len() * 8, 0),
            _ => return Err(e),
        }
    }
    Ok(buf
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_path_normalizes_and_refuses_escapes() {
        let ok = |s: &str| clean_path(s.as_bytes()).unwrap();
        assert_eq!(ok("./a//b/"), Some(PathBuf::from("a/b")));
        assert_eq!(ok("./"), None);
        assert_eq!(ok("."), None);
        assert!(clean_path(b"../x").is_err());
        assert!(clean_path(b"a/../../x").is_err());
        assert!(clean_path(b"/etc/passwd").is_err());
    }

    #[test]
    fn remove_all_does_not_follow_symlinks() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep"), "x").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("d/e")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("d/link")).unwrap();
        let r = Root::open(root.path()).unwrap();
        remove_all_at(&r.fd(), OsStr::new("d")).unwrap();
        assert!(!root.path().join("d").exists());
        assert!(outside.path().join("keep").exists());
    }
}
