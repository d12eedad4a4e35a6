//! The container's terminal (`process.terminal`): a pty made inside the container's own
//! devpts, whose master goes to the caller over `--console-socket` (SCM_RIGHTS, with the
//! pts name as payload, as runc sends it), or, for a foreground `run`, to xrun itself, which
//! relays it to its own stdio.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::{Context, Result};
use nix::pty::{grantpt, posix_openpt, unlockpt, PtyMaster};

use super::channel::send_bytes;

pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    pub name: String,
}

nix::ioctl_none_bad!(tiocsctty_raw, libc::TIOCSCTTY);

/// Opens a pty on the devpts of the current mount namespace (call after pivot_root).
/// The slave comes from TIOCGPTPEER, never from a path lookup the container could redirect.
pub fn open_pty(size: Option<(u16, u16)>) -> Result<Pty> {
    let master: PtyMaster = posix_openpt(
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_CLOEXEC,
    )
    .context("open /dev/ptmx")?;
    grantpt(&master).context("grantpt")?;
    unlockpt(&master).context("unlockpt")?;
    let name = nix::pty::ptsname_r(&master).context("ptsname")?;
    // SAFETY: TIOCGPTPEER takes open flags and returns a new descriptor.
    let slave = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if slave < 0 {
        return Err(std::io::Error::last_os_error()).context("TIOCGPTPEER");
    }
    // SAFETY: both descriptors are fresh and owned by nobody else.
    let master = unsafe { OwnedFd::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(master)) };
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    if let Some((rows, cols)) = size {
        set_size(&master, rows, cols)?;
    }
    Ok(Pty {
        master,
        slave,
        name,
    })
}

pub fn set_size(fd: &impl AsRawFd, rows: u16, cols: u16) -> Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: ws is a valid winsize for the duration of the call.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(std::io::Error::last_os_error()).context("TIOCSWINSZ");
    }
    Ok(())
}

/// Makes `slave` the controlling terminal and stdio of this process (a new session).
pub fn become_session_leader_on(slave: &OwnedFd) -> Result<()> {
    nix::unistd::setsid().context("setsid")?;
    // SAFETY: TIOCSCTTY on a descriptor we own.
    unsafe { tiocsctty_raw(slave.as_raw_fd()) }.context("TIOCSCTTY")?;
    for fd in 0..3 {
        // SAFETY: dup2 onto stdio; the slave stays open.
        if unsafe { libc::dup2(slave.as_raw_fd(), fd) } < 0 {
            return Err(std::io::Error::last_os_error()).context("dup2 pty slave");
        }
    }
    Ok(())
}

/// Connects to the caller's console socket (before the container is created, so a bad path
/// fails early).
pub fn connect_socket(path: &Path) -> Result<OwnedFd> {
    let s = UnixStream::connect(path)
        .with_context(|| format!("--console-socket: cannot connect to {}", path.display()))?;
    Ok(s.into())
}

/// Sends the pty master over a console socket.
pub fn send_master(sock: &impl AsRawFd, pty: &Pty) -> Result<()> {
    send_bytes(
        sock.as_raw_fd(),
        pty.name.as_bytes(),
        Some(pty.master.as_raw_fd()),
    )
    .context("send pty master over the console socket")
}
