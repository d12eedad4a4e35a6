//! `kill`: signal the init, or with `--all` every process of the container.

use std::os::fd::{AsFd, OwnedFd};

use anyhow::{bail, Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::Runtime;
use super::{Root, State, Status};
use crate::cgroups;
use crate::syscall::{pidfd_open, pidfd_send_signal};

pub fn kill(rt: &Runtime, id: &str, sig: i32, all: bool) -> Result<()> {
    let dir = Root::new(&rt.root).open(id)?;
    let state = dir.load_state()?;
    if all {
        // Through the cgroup, frozen meanwhile so that no process escapes by forking.
        let cg = cgroups::Manager::load(state.cgroup.as_ref())?;
        if !cg.pids()?.is_empty() {
            return cg.signal_all(sig);
        }
    }
    if state.status(&dir) == Status::Stopped {
        bail!("container not running");
    }
    let pidfd = open_init(&state)?.context("container not running")?;
    pidfd_send_signal(&pidfd, sig).with_context(|| format!("kill {} with signal {sig}", state.pid))
}

/// A pidfd for the container's init, if it is still the process we started.
pub fn open_init(state: &State) -> Result<Option<OwnedFd>> {
    if state.pid <= 0 {
        return Ok(None);
    }
    let fd = match pidfd_open(state.pid) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ESRCH) => return Ok(None),
        Err(e) => return Err(e).context("pidfd_open"),
    };
    // The pidfd pins the process: if its start time matches now, it is our init.
    Ok(state.init_alive().then_some(fd))
}

/// SIGKILL through a pidfd, then wait until the process has exited.
pub fn kill_and_wait(pidfd: &OwnedFd) {
    let _ = pidfd_send_signal(pidfd, libc::SIGKILL);
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    while let Err(nix::errno::Errno::EINTR) = poll(&mut fds, PollTimeout::from(10_000u16)) {}
}
