//! Thin, safe wrappers over the Linux system calls that neither nix nor libc wrap:
//! clone3, pidfds, close_range, openat2 and the new mount API.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;

pub type Result<T> = std::result::Result<T, Errno>;

fn cstr(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)
}

fn check(ret: libc::c_long) -> Result<libc::c_long> {
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

fn owned(ret: libc::c_long) -> Result<OwnedFd> {
    // SAFETY: the kernel just returned this descriptor to us and nobody else owns it.
    check(ret).map(|fd| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Result of [`clone3`] on the calling side.
pub enum CloneResult {
    Parent { pid: i32, pidfd: Option<OwnedFd> },
    Child,
}

/// Options for [`clone3`]; fork-like (no shared VM), with `SIGCHLD` as exit signal.
#[derive(Default)]
pub struct CloneOpts<'a> {
    /// `CLONE_NEW*` and `CLONE_PARENT` flags.
    pub flags: u64,
    /// Start the child in this cgroup v2 directory (`CLONE_INTO_CGROUP`).
    pub cgroup: Option<&'a OwnedFd>,
    /// Return a pidfd for the child (`CLONE_PIDFD`).
    pub want_pidfd: bool,
}

/// fork(2) through clone3(2), so the child can be born in new namespaces and in its cgroup.
///
/// The caller must be single-threaded: the child continues on a copy of this address space,
/// where only the calling thread exists.
pub fn clone3(opts: &CloneOpts) -> Result<CloneResult> {
    let mut pidfd: RawFd = -1;
    let mut args: libc::clone_args = unsafe { std::mem::zeroed() };
    args.flags = opts.flags;
    if opts.want_pidfd {
        args.flags |= libc::CLONE_PIDFD as u64;
        args.pidfd = &mut pidfd as *mut RawFd as u64;
    }
    if let Some(cg) = opts.cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = cg.as_raw_fd() as u64;
    }
    if opts.flags & libc::CLONE_PARENT as u64 == 0 {
        args.exit_signal = libc::SIGCHLD as u64;
    }
    // SAFETY: clone3 without CLONE_VM behaves like fork; args outlives the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut libc::clone_args,
            std::mem::size_of::<libc::clone_args>(),
        )
    };
    match check(ret)? {
        0 => Ok(CloneResult::Child),
        pid => Ok(CloneResult::Parent {
            pid: pid as i32,
            // SAFETY: the kernel filled in a new descriptor when CLONE_PIDFD was set.
            pidfd: (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) }),
        }),
    }
}

pub fn pidfd_open(pid: i32) -> Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    owned(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })
}

pub fn pidfd_send_signal(pidfd: &impl AsRawFd, sig: i32) -> Result<()> {
    // SAFETY: a null siginfo is allowed; the fd is valid for the call.
    check(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    })
    .map(drop)
}

/// Marks every descriptor from `first` upwards close-on-exec, so nothing of ours reaches the
/// container's program while we can still use our descriptors until `execve`.
pub fn cloexec_from(first: u32) -> Result<()> {
    // SAFETY: plain syscall with integer arguments.
    check(unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    })
    .map(drop)
}

/// openat2(2) with the given `RESOLVE_*` flags.
pub fn openat2(dir: RawFd, path: &Path, flags: i32, mode: u32, resolve: u64) -> Result<OwnedFd> {
    let c = cstr(path)?;
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.mode = if flags & (libc::O_CREAT | libc::O_TMPFILE) != 0 {
        mode as u64
    } else {
        0
    };
    how.resolve = resolve;
    loop {
        // SAFETY: c and how outlive the call.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir,
                c.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        match owned(r) {
            Err(Errno::EAGAIN) | Err(Errno::EINTR) => continue,
            other => return other,
        }
    }
}

// The new mount API (Linux 5.2+); constants from <linux/mount.h>.
pub const FSOPEN_CLOEXEC: u32 = 1;
pub const FSCONFIG_SET_FLAG: u32 = 0;
pub const FSCONFIG_SET_STRING: u32 = 1;
pub const FSCONFIG_CMD_CREATE: u32 = 6;
pub const FSMOUNT_CLOEXEC: u32 = 1;
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub const OPEN_TREE_CLONE: u32 = 1;
pub const AT_RECURSIVE: u32 = 0x8000;
pub const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
pub const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;

pub fn fsopen(fstype: &str) -> Result<OwnedFd> {
    let t = CString::new(fstype).map_err(|_| Errno::EINVAL)?;
    // SAFETY: t outlives the call.
    owned(unsafe { libc::syscall(libc::SYS_fsopen, t.as_ptr(), FSOPEN_CLOEXEC) })
}

/// `fsconfig(FSCONFIG_SET_STRING)`, or `FSCONFIG_SET_FLAG` when `value` is `None`.
pub fn fsconfig_set(fs: &OwnedFd, key: &str, value: Option<&str>) -> Result<()> {
    let k = CString::new(key).map_err(|_| Errno::EINVAL)?;
    let v = value
        .map(|v| CString::new(v).map_err(|_| Errno::EINVAL))
        .transpose()?;
    let (cmd, vp) = match &v {
        Some(v) => (FSCONFIG_SET_STRING, v.as_ptr()),
        None => (FSCONFIG_SET_FLAG, std::ptr::null()),
    };
    // SAFETY: k and v outlive the call.
    check(unsafe { libc::syscall(libc::SYS_fsconfig, fs.as_raw_fd(), cmd, k.as_ptr(), vp, 0) })
        .map(drop)
}

pub fn fsconfig_create(fs: &OwnedFd) -> Result<()> {
    // SAFETY: plain syscall; null key and value are what FSCONFIG_CMD_CREATE takes.
    check(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    })
    .map(drop)
}

/// A detached mount of the configured filesystem, with `MOUNT_ATTR_*` flags.
pub fn fsmount(fs: &OwnedFd, attrs: u64) -> Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments.
    owned(unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, attrs) })
}

/// `open_tree(OPEN_TREE_CLONE)`: a detached copy of the mount at `dir`/`path`.
pub fn open_tree_clone(dir: RawFd, path: &Path, recursive: bool) -> Result<OwnedFd> {
    let c = cstr(path)?;
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as u32;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    if path.as_os_str().is_empty() {
        flags |= libc::AT_EMPTY_PATH as u32;
    }
    // SAFETY: c outlives the call.
    owned(unsafe { libc::syscall(libc::SYS_open_tree, dir, c.as_ptr(), flags) })
}

/// Attaches the detached mount `from` onto the object `to` refers to (an `O_PATH` fd).
pub fn move_mount_to_fd(from: &OwnedFd, to: &impl AsRawFd) -> Result<()> {
    let empty = c"";
    // SAFETY: empty outlives the call.
    check(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            empty.as_ptr(),
            to.as_raw_fd(),
            empty.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    })
    .map(drop)
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(2) on the mount `fd` refers to (`AT_EMPTY_PATH`), optionally the whole tree.
pub fn mount_setattr(fd: &impl AsRawFd, recursive: bool, set: u64, clear: u64) -> Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH as u32;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    // SAFETY: attr outlives the call and its size is passed along.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
    .map(drop)
}
