//! pause/resume. cgroup v1: freezer.state, re-read until the kernel says FROZEN (it says
//! FREEZING while tasks are still being stopped). cgroup v2: cgroup.freeze, then wait for
//! cgroup.events to report `frozen 1`; cgroups-rs only writes the file, it does not wait.

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use cgroups_rs::fs::freezer::FreezerController;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::fsio;

const TIMEOUT: Duration = Duration::from_secs(5);

pub fn freeze(dir: &Path, v2: bool) -> Result<()> {
    set(dir, v2, true)
}

pub fn thaw(dir: &Path, v2: bool) -> Result<()> {
    set(dir, v2, false)
}

fn set(dir: &Path, v2: bool, frozen: bool) -> Result<()> {
    let c = FreezerController::new(dir.to_path_buf(), PathBuf::new(), v2);
    let write = |frozen: bool| if frozen { c.freeze() } else { c.thaw() }.map_err(fsio::crate_err);
    write(frozen)?;
    let done = if v2 {
        wait_events(dir, "frozen", u64::from(frozen), TIMEOUT)?
    } else {
        wait_v1(dir, frozen, &write)?
    };
    if !done {
        if frozen {
            // Do not leave it half frozen.
            let _ = write(false);
        }
        bail!(
            "the cgroup {} did not become {} within {TIMEOUT:?}",
            dir.display(),
            if frozen { "frozen" } else { "thawed" }
        );
    }
    Ok(())
}

fn wait_v1(dir: &Path, frozen: bool, write: &dyn Fn(bool) -> Result<()>) -> Result<bool> {
    let want = if frozen { "FROZEN" } else { "THAWED" };
    let deadline = Instant::now() + TIMEOUT;
    let mut delay = Duration::from_micros(100);
    loop {
        if fsio::read(dir, "freezer.state")?.trim() == want {
            return Ok(true);
        }
        if Instant::now() > deadline {
            return Ok(false);
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(10));
        // A task that forked meanwhile can leave the cgroup FREEZING: ask again.
        write(frozen)?;
    }
}

/// Waits until `key` in cgroup.events has the value `want` (`frozen 1`, `populated 0`).
/// The kernel signals every change of the file with POLLPRI.
pub fn wait_events(dir: &Path, key: &str, want: u64, timeout: Duration) -> Result<bool> {
    let f = File::open(dir.join("cgroup.events"))?;
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 256];
    loop {
        let n = f.read_at(&mut buf, 0)?;
        if fsio::keyed(&String::from_utf8_lossy(&buf[..n]), key) == Some(want) {
            return Ok(true);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        let ms = left.as_millis().min(100) as u16;
        let mut fds = [PollFd::new(f.as_fd(), PollFlags::POLLPRI)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// True when the cgroup is frozen (one small read: `state` and `list` ask for every container).
pub fn is_frozen(dir: &Path, v2: bool) -> bool {
    if v2 {
        std::fs::read(dir.join("cgroup.freeze")).is_ok_and(|b| b.first() == Some(&b'1'))
    } else {
        std::fs::read(dir.join("freezer.state")).is_ok_and(|b| b.starts_with(b"FROZEN"))
    }
}
