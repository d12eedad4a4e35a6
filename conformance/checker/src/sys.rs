//! Thin wrappers over the system calls and /proc files the checks read.

use std::ffi::CString;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

/// A field of /proc/self/status (`Uid`, `CapEff`, ...), without its name.
pub fn status_field(name: &str) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k == name).then(|| v.trim().to_string())
    })
}

/// The highest capability number this kernel knows.
pub fn cap_last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// lstat, as the facts the device and mount checks use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub kind: FileKind,
    pub dev: u64,
    pub ino: u64,
    pub rdev: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Char,
    Block,
    Fifo,
    Dir,
    File,
    Symlink,
    Other,
}

fn stat_of(m: std::fs::Metadata) -> Stat {
    let t = m.file_type();
    let kind = if t.is_char_device() {
        FileKind::Char
    } else if t.is_block_device() {
        FileKind::Block
    } else if t.is_fifo() {
        FileKind::Fifo
    } else if t.is_dir() {
        FileKind::Dir
    } else if t.is_symlink() {
        FileKind::Symlink
    } else if t.is_file() {
        FileKind::File
    } else {
        FileKind::Other
    };
    Stat {
        kind,
        dev: m.dev(),
        ino: m.ino(),
        rdev: m.rdev(),
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
    }
}

pub fn lstat(path: &str) -> io::Result<Stat> {
    std::fs::symlink_metadata(path).map(stat_of)
}

pub fn stat(path: &str) -> io::Result<Stat> {
    std::fs::metadata(path).map(stat_of)
}

pub fn major(dev: u64) -> u64 {
    libc::major(dev) as u64
}

pub fn minor(dev: u64) -> u64 {
    libc::minor(dev) as u64
}

/// Whether the filesystem at `path` is mounted read-only (statvfs ST_RDONLY, which reflects
/// the mount's own flag as well as the superblock's).
pub fn is_read_only(path: &str) -> io::Result<bool> {
    let c = CString::new(path)?;
    // SAFETY: c is a valid C string; sv is written by the kernel.
    let mut sv: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut sv) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(sv.f_flag & libc::ST_RDONLY != 0)
}

/// Tries to create (and at once remove) a new file in `dir`; the error says why it failed.
pub fn try_create_in(dir: &str) -> io::Result<()> {
    let name = format!(
        "{}/.conformance-probe-{}",
        dir.trim_end_matches('/'),
        std::process::id()
    );
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&name)?;
    let _ = std::fs::remove_file(&name);
    Ok(())
}

/// Tries to open an existing file for writing, writing nothing.
pub fn try_open_write(path: &str) -> io::Result<()> {
    std::fs::OpenOptions::new().write(true).open(path).map(drop)
}

pub fn errno_name(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EROFS) => "EROFS".into(),
        Some(libc::EACCES) => "EACCES".into(),
        Some(libc::EPERM) => "EPERM".into(),
        Some(libc::ENOENT) => "ENOENT".into(),
        Some(libc::EINVAL) => "EINVAL".into(),
        _ => e.to_string(),
    }
}

/// `(nodename, domainname)` from uname(2).
pub fn uname_names() -> (String, String) {
    // SAFETY: uname fills the struct.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    unsafe { libc::uname(&mut u) };
    let s = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    (s(&u.nodename), s(&u.domainname))
}

pub fn getrlimit(resource: u32) -> io::Result<(u64, u64)> {
    // SAFETY: rl is written by the kernel.
    let mut rl: libc::rlimit = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrlimit(resource as _, &mut rl) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((rl.rlim_cur, rl.rlim_max))
}

pub fn isatty(fd: i32) -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(fd) == 1 }
}

pub fn fstat_rdev(fd: i32) -> Option<u64> {
    // SAFETY: st is written by the kernel.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    (unsafe { libc::fstat(fd, &mut st) } == 0).then_some(st.st_rdev)
}
