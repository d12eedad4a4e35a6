//! Defence against CVE-2019-5736: a container must never get a writable handle on the xrun
//! binary through `/proc/<pid>/exe` (of our init before it execs, or of a process the
//! container tricks into executing `/proc/self/exe`).
//!
//! Before a command that enters a container, xrun re-executes itself once from a handle the
//! container cannot write through: the binary seen through a private, detached, read-only
//! overlayfs mount (its directory as the lower layer, no upper layer, so even a remount cannot
//! make it writable). That costs one overlay mount and one exec, and shares the page cache.
//! Where overlayfs is unavailable, the fallback is a sealed memfd copy (runc 1.1's way).

use std::ffi::{CString, OsString};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::syscall;

const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;

/// When argv names a command that enters a container (`create`, `run`, `exec`), the state
/// root it uses (`--root`, else the default). A stray match (an id called "run") only costs a
/// needless re-exec; a command is never missed, since its name must appear in argv.
pub fn early_state_root(args: impl Iterator<Item = OsString>) -> Option<PathBuf> {
    let args: Vec<OsString> = args.skip(1).collect();
    if !args
        .iter()
        .any(|a| a == "create" || a == "run" || a == "exec")
    {
        return None;
    }
    let mut root = PathBuf::from(crate::cli::DEFAULT_ROOT);
    for (i, a) in args.iter().enumerate() {
        let a = a.to_string_lossy();
        if a == "--root" {
            if let Some(v) = args.get(i + 1) {
                root = PathBuf::from(v);
            }
        } else if let Some(v) = a.strip_prefix("--root=") {
            root = PathBuf::from(v);
        }
    }
    Some(root)
}

/// Re-executes the running binary from a sealed handle unless it already runs from one.
/// Returns only when already sealed; otherwise replaces the process (or fails).
pub fn ensure_sealed(state_root: &Path) -> Result<()> {
    if is_sealed() {
        return Ok(());
    }
    let exe = std::fs::read_link("/proc/self/exe").context("readlink /proc/self/exe")?;
    let fd = match overlay_handle(&exe, state_root) {
        Ok(fd) => fd,
        Err(e) => {
            crate::logging::debug(&format!(
                "overlay seal unavailable ({e:#}); using a memfd copy"
            ));
            memfd_copy(&exe)?
        }
    };
    reexec(&fd)
}

/// True when /proc/self/exe is on a read-only overlayfs or is a write-sealed memfd.
pub fn is_sealed() -> bool {
    let Ok(f) = File::open("/proc/self/exe") else {
        return false;
    };
    if let Ok(st) = nix::sys::statfs::fstatfs(&f) {
        if st.filesystem_type().0 == OVERLAYFS_SUPER_MAGIC
            && st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY)
        {
            return true;
        }
    }
    // SAFETY: plain fcntl on a descriptor we own.
    let seals = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & libc::F_SEAL_WRITE != 0
}

/// Opens the binary through a detached read-only overlay of its directory.
fn overlay_handle(exe: &Path, state_root: &Path) -> Result<OwnedFd> {
    let dir = exe.parent().context("binary has no directory")?;
    let name = exe.file_name().context("binary has no name")?;
    // Without an upper layer overlayfs needs two lower layers that do not overlap; an empty
    // directory of ours is the second.
    let empty = state_root.join(".empty");
    if dir.starts_with(&empty) || empty.starts_with(dir) {
        bail!("state root and binary directory overlap");
    }
    if !empty.is_dir() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&empty)
            .with_context(|| format!("mkdir {}", empty.display()))?;
    }
    let lower = format!("{}:{}", escape(dir), escape(&empty));
    let fs = syscall::fsopen("overlay").context("fsopen overlay")?;
    syscall::fsconfig_set(&fs, "lowerdir", Some(&lower)).context("overlay lowerdir")?;
    syscall::fsconfig_create(&fs).context("overlay create")?;
    let mnt = syscall::fsmount(
        &fs,
        syscall::MOUNT_ATTR_RDONLY | syscall::MOUNT_ATTR_NODEV | syscall::MOUNT_ATTR_NOSUID,
    )
    .context("fsmount overlay")?;
    let fd = syscall::openat2(mnt.as_raw_fd(), Path::new(name), libc::O_PATH, 0, 0)
        .context("open binary on overlay")?;
    Ok(fd)
}

/// Overlayfs separates layers with ':' and treats '\' as an escape.
fn escape(p: &Path) -> String {
    let s = p.to_string_lossy();
    s.replace('\\', "\\\\")
        .replace(':', "\\:")
        .replace(',', "\\,")
}

fn memfd_copy(exe: &Path) -> Result<OwnedFd> {
    let name = c"xrun";
    // SAFETY: name outlives the call.
    let raw =
        unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error()).context("memfd_create");
    }
    let mut mem = File::from(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) });
    let mut src = File::open(exe).with_context(|| format!("open {}", exe.display()))?;
    std::io::copy(&mut src, &mut mem).context("copy binary into memfd")?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: plain fcntl on a descriptor we own.
    if unsafe { libc::fcntl(mem.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
        return Err(std::io::Error::last_os_error()).context("seal memfd");
    }
    Ok(mem.into())
}

fn reexec(fd: &OwnedFd) -> Result<()> {
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.into_vec()).unwrap_or_default())
        .collect();
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv: OsString = k;
            kv.push("=");
            kv.push(v);
            CString::new(kv.as_bytes()).unwrap_or_default()
        })
        .collect();
    let argv: Vec<*const libc::c_char> = args
        .iter()
        .map(|a| a.as_ptr())
        .chain([std::ptr::null()])
        .collect();
    let envp: Vec<*const libc::c_char> = env
        .iter()
        .map(|e| e.as_ptr())
        .chain([std::ptr::null()])
        .collect();
    // SAFETY: argv and envp are NULL-terminated arrays of valid C strings that outlive the call.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    Err(std::io::Error::last_os_error()).context("re-exec from sealed binary")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> impl Iterator<Item = OsString> {
        a.iter().map(OsString::from).collect::<Vec<_>>().into_iter()
    }

    #[test]
    fn early_detection_of_container_commands() {
        assert_eq!(early_state_root(args(&["xrun", "state", "x"])), None);
        assert_eq!(
            early_state_root(args(&["xrun", "run", "x"])),
            Some(PathBuf::from("/run/xrun"))
        );
        assert_eq!(
            early_state_root(args(&["xrun", "--root", "/r", "exec", "x", "sh"])),
            Some(PathBuf::from("/r"))
        );
        assert_eq!(
            early_state_root(args(&["xrun", "--root=/q", "create", "x"])),
            Some(PathBuf::from("/q"))
        );
    }
}
