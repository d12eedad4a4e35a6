//! Foreground `run` and `exec`: wait for the container process, forward the signals xrun
//! receives to it, relay a pty when xrun holds the master, and turn the end into an exit
//! code (the exit status, or 128 + the signal that killed it).

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{self, SetArg, Termios};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Signals a foreground xrun passes on to the container process.
const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGCONT,
    Signal::SIGWINCH,
    Signal::SIGALRM,
];

/// Blocks the forwarded signals and SIGCHLD and returns a signalfd for them. Call right after
/// the container process exists (it must not inherit the blocked mask; the init resets it).
pub fn signal_fd() -> Result<SignalFd> {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(*s);
    }
    set.add(Signal::SIGCHLD);
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
        .context("block signals")?;
    SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC).context("signalfd")
}

pub fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// Waits for `pid` (our child), forwarding signals and relaying `pty` if given; returns its
/// exit code.
pub fn wait_foreground(pid: i32, sfd: &SignalFd, pty: Option<OwnedFd>) -> Result<i32> {
    let mut relay = pty.map(Relay::new).transpose()?;
    let stdin = std::io::stdin();
    loop {
        // Reap first: the child may already be gone before any signal is read.
        if let Some(code) = reap(pid)? {
            if let Some(r) = relay.as_mut() {
                r.drain();
            }
            return Ok(code);
        }
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if let Some(r) = relay.as_ref() {
            fds.push(PollFd::new(r.master.as_fd(), PollFlags::POLLIN));
            if r.stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(Errno::EINTR) => continue,
            r => r.context("poll")?,
        };
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if ready[0] {
            if let Ok(Some(info)) = sfd.read_signal() {
                let sig = info.ssi_signo as i32;
                if sig == libc::SIGWINCH {
                    if let Some(r) = relay.as_ref() {
                        r.copy_window_size();
                    }
                } else if sig != libc::SIGCHLD {
                    // SAFETY: plain kill(2); pid is our own child, not yet reaped.
                    unsafe { libc::kill(pid, sig) };
                }
            }
        }
        if let Some(r) = relay.as_mut() {
            if ready.get(1) == Some(&true) {
                r.master_to_stdout();
            }
            if ready.get(2) == Some(&true) {
                r.stdin_to_master();
            }
        }
    }
}

fn reap(pid: i32) -> Result<Option<i32>> {
    loop {
        match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(s) => {
                if let Some(code) = exit_code(s) {
                    return Ok(Some(code));
                }
            }
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e).context(format!("waitpid {pid}")),
        }
    }
}

/// Copies between our stdio and a pty master; puts our terminal in raw mode meanwhile.
struct Relay {
    master: std::fs::File,
    saved: Option<Termios>,
    stdin_open: bool,
}

impl Relay {
    fn new(master: OwnedFd) -> Result<Relay> {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok();
        if let Some(t) = &saved {
            let mut raw = t.clone();
            termios::cfmakeraw(&mut raw);
            termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).context("raw terminal")?;
        }
        let r = Relay {
            master: master.into(),
            saved,
            stdin_open: true,
        };
        r.copy_window_size();
        Ok(r)
    }

    fn copy_window_size(&self) {
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: ws is a valid winsize buffer for both ioctls.
        unsafe {
            if libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0 {
                libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws);
            }
        }
    }

    fn master_to_stdout(&mut self) -> bool {
        let mut buf = [0u8; 8192];
        match self.master.read(&mut buf) {
            Ok(n) if n > 0 => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&buf[..n]);
                let _ = out.flush();
                true
            }
            _ => false,
        }
    }

    fn stdin_to_master(&mut self) {
        let mut buf = [0u8; 8192];
        match std::io::stdin().lock().read(&mut buf) {
            Ok(n) if n > 0 => {
                let _ = self.master.write_all(&buf[..n]);
            }
            _ => self.stdin_open = false,
        }
    }

    /// After the process exited: copy what it left in the pty.
    fn drain(&mut self) {
        // SAFETY: switching our own descriptor to non-blocking.
        unsafe {
            let fl = libc::fcntl(self.master.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(
                self.master.as_raw_fd(),
                libc::F_SETFL,
                fl | libc::O_NONBLOCK,
            );
        }
        while self.master_to_stdout() {}
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, t);
        }
    }
}
