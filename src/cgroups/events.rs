//! OOM notifications. cgroup v1: an eventfd registered on memory.oom_control through
//! cgroup.event_control. cgroup v2: inotify on memory.events, whose `oom_kill` count grows.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::fsio;

pub struct OomWatcher {
    fd: OwnedFd,
    v2: Option<(PathBuf, u64)>,
    /// Held open: the registration lives as long as this descriptor (v1).
    _control: Option<std::fs::File>,
}

fn check(r: libc::c_int, what: &str) -> Result<OwnedFd> {
    if r < 0 {
        return Err(std::io::Error::last_os_error()).context(what.to_string());
    }
    // SAFETY: a new descriptor from the kernel, owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

impl OomWatcher {
    pub fn new(dir: &Path, v2: bool) -> Result<OomWatcher> {
        if v2 {
            // SAFETY: plain syscalls on our own descriptors.
            let fd = check(
                unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) },
                "inotify_init1",
            )?;
            let path =
                std::ffi::CString::new(dir.join("memory.events").as_os_str().as_encoded_bytes())?;
            let r =
                unsafe { libc::inotify_add_watch(fd.as_raw_fd(), path.as_ptr(), libc::IN_MODIFY) };
            if r < 0 {
                return Err(std::io::Error::last_os_error()).context("watch memory.events");
            }
            let count = oom_kills(dir);
            return Ok(OomWatcher {
                fd,
                v2: Some((dir.to_path_buf(), count)),
                _control: None,
            });
        }
        // SAFETY: eventfd(2) returns a new descriptor.
        let efd = check(
            unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) },
            "eventfd",
        )?;
        let control = std::fs::File::open(dir.join("memory.oom_control"))
            .with_context(|| format!("open {}/memory.oom_control", dir.display()))?;
        let line = format!("{} {}", efd.as_raw_fd(), control.as_raw_fd());
        fsio::write(dir, "cgroup.event_control", &line)?;
        Ok(OomWatcher {
            fd: efd,
            v2: None,
            _control: Some(control),
        })
    }

    /// Readable when something happened: poll it, then call `take`.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// How many OOM kills happened since the last call (consumes the notification).
    pub fn take(&mut self) -> u64 {
        let mut buf = [0u8; 4096];
        // SAFETY: reading into our buffer from our non-blocking descriptor.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        match &mut self.v2 {
            None if n == 8 => u64::from_ne_bytes(buf[..8].try_into().unwrap()),
            None => 0,
            Some((dir, last)) => {
                let now = oom_kills(dir);
                let new = now.saturating_sub(*last);
                *last = now;
                new
            }
        }
    }
}

fn oom_kills(dir: &Path) -> u64 {
    fsio::read(dir, "memory.events")
        .ok()
        .and_then(|t| fsio::keyed(&t, "oom_kill"))
        .unwrap_or(0)
}
