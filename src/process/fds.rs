//! File descriptors that cross into the container: stdio, socket-activation fds
//! (`LISTEN_FDS`) and `--preserve-fds N`. Everything else of the runtime is closed or marked
//! close-on-exec before the user's program runs (CVE-2024-21626 used a leaked directory fd).

use std::ffi::OsString;
use std::os::fd::RawFd;
use std::sync::OnceLock;

use anyhow::{bail, Result};

fn fd_flags(fd: RawFd) -> Option<i32> {
    // SAFETY: F_GETFD on any number is harmless.
    let f = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    (f >= 0).then_some(f)
}

/// Socket-activation fds passed to us by systemd (`LISTEN_FDS`, for our pid only).
pub fn listen_fds() -> u32 {
    let pid_ok = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        .is_some_and(|p| p == std::process::id());
    if !pid_ok {
        return 0;
    }
    std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The fds 3.. that the container keeps, decided by the runtime before any clone.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExtraFds {
    /// Socket-activation fds (they come first).
    pub listen: u32,
    /// All of them: socket activation plus `--preserve-fds`.
    pub total: u32,
}

/// How many descriptors from 3 up were open when xrun started, before it opened any of its
/// own (the log file, the state directory...), which could otherwise take a free number in
/// that range and be handed to the container.
static INHERITED: OnceLock<u32> = OnceLock::new();

/// Called first thing in `main`: records which of the descriptors a command may keep (the
/// largest `--preserve-fds` in argv, plus socket activation) were really inherited.
pub fn record_inherited(args: impl Iterator<Item = OsString>) {
    let _ = INHERITED.set(count_open(listen_fds() + max_preserve_arg(args)));
}

fn max_preserve_arg(args: impl Iterator<Item = OsString>) -> u32 {
    let args: Vec<String> = args.map(|a| a.to_string_lossy().into_owned()).collect();
    let mut max = 0;
    for (i, a) in args.iter().enumerate() {
        let v = match a.strip_prefix("--preserve-fds") {
            Some("") => args.get(i + 1).map(String::as_str),
            Some(rest) => rest.strip_prefix('='),
            None => None,
        };
        max = max.max(v.and_then(|v| v.parse().ok()).unwrap_or(0));
    }
    max
}

/// The number of consecutive open descriptors from 3, looking at `want` of them.
fn count_open(want: u32) -> u32 {
    (0..want)
        .take_while(|i| fd_flags(3 + *i as RawFd).is_some())
        .count() as u32
}

/// Socket activation first, then `--preserve-fds`. Each must have been open when xrun
/// started.
pub fn extra_fds(preserve: u32) -> Result<ExtraFds> {
    let listen = listen_fds();
    let total = listen + preserve;
    let open = *INHERITED.get_or_init(|| count_open(total));
    if open < total {
        bail!("--preserve-fds: file descriptor {} is not open", 3 + open);
    }
    Ok(ExtraFds { listen, total })
}

/// Closes every descriptor from 3 up that is neither below `3 + extra` nor in `keep`.
pub fn close_all_except(extra: u32, keep: &[RawFd]) -> Result<()> {
    let first = 3 + extra as RawFd;
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|&k| k >= first).collect();
    keep.sort_unstable();
    let mut from = first;
    for k in keep.into_iter().chain(std::iter::once(RawFd::MAX)) {
        if k > from {
            let to = if k == RawFd::MAX {
                u32::MAX
            } else {
                (k - 1) as u32
            };
            // SAFETY: plain syscall; closes only descriptors we decided to drop.
            let r = unsafe { libc::syscall(libc::SYS_close_range, from as u32, to, 0) };
            if r < 0 {
                bail!("close_range: {}", std::io::Error::last_os_error());
            }
        }
        from = k.saturating_add(1);
    }
    Ok(())
}

/// Makes stdio and the kept extra fds survive `execve`.
pub fn keep_across_exec(extra: u32) -> Result<()> {
    for fd in 0..3 + extra as RawFd {
        match fd_flags(fd) {
            Some(flags) => {
                // SAFETY: clearing FD_CLOEXEC on a descriptor that is open.
                if unsafe { libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) } < 0 {
                    bail!("fd {fd}: {}", std::io::Error::last_os_error());
                }
            }
            // A closed stdio fd stays closed, as with runc.
            None if fd < 3 => {}
            None => bail!("fd {fd} is not open"),
        }
    }
    Ok(())
}

/// The env additions that go with socket activation: the container's init is pid 1.
pub fn listen_env(n: u32, process_env: &mut Vec<String>) {
    if n > 0 {
        process_env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
        process_env.push(format!("LISTEN_FDS={n}"));
        process_env.push("LISTEN_PID=1".to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> impl Iterator<Item = OsString> {
        a.iter().map(OsString::from).collect::<Vec<_>>().into_iter()
    }

    #[test]
    fn preserve_fds_from_argv() {
        assert_eq!(max_preserve_arg(args(&["xrun", "run", "x"])), 0);
        assert_eq!(
            max_preserve_arg(args(&["xrun", "exec", "--preserve-fds", "2", "x"])),
            2
        );
        assert_eq!(
            max_preserve_arg(args(&["xrun", "run", "--preserve-fds=5", "x"])),
            5
        );
    }
}
