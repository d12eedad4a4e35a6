//! `events`: the container's resource usage and OOM kills as runc prints them, one JSON
//! object per line: `{"type":"stats","id":..,"data":{...}}` and `{"type":"oom","id":..}`.

use std::io::Write;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::kill::open_init;
use super::Root;
use super::Runtime;
use crate::cgroups;

/// runc's event object, fields in its order.
#[derive(serde::Serialize)]
struct Event<'a, T: serde::Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<T>,
}

pub fn stats_json(id: &str, cg: &cgroups::Manager) -> Result<String> {
    Ok(serde_json::to_string(&Event {
        kind: "stats",
        id,
        data: Some(cg.stats()),
    })?)
}

/// With `once`, prints the stats and returns. Otherwise prints stats every `interval` and
/// an event per OOM kill, until the container stops.
pub fn events(rt: &Runtime, id: &str, once: bool, interval: Duration) -> Result<()> {
    let dir = Root::new(&rt.root).open_unlocked(id)?;
    let state = dir.load_state()?;
    let Some(init) = open_init(&state)? else {
        bail!("container not running: {id}");
    };
    let cg = cgroups::Manager::load(state.cgroup.as_ref())?;
    let mut out = std::io::stdout().lock();
    if once {
        writeln!(out, "{}", stats_json(id, &cg)?)?;
        return Ok(());
    }
    let mut oom = cg.oom_watcher()?;
    let mut next = Instant::now();
    loop {
        if Instant::now() >= next {
            writeln!(out, "{}", stats_json(id, &cg)?)?;
            out.flush()?;
            next += interval;
        }
        let wait = next.saturating_duration_since(Instant::now());
        let ms = wait.as_millis().min(u128::from(u16::MAX - 1)) as u16;
        let mut fds = vec![PollFd::new(init.as_fd(), PollFlags::POLLIN)];
        if let Some(w) = &oom {
            fds.push(PollFd::new(w.fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        let oom_ready = fds
            .get(1)
            .and_then(|f| f.revents())
            .is_some_and(|r| !r.is_empty());
        let exited = fds[0].revents().is_some_and(|r| !r.is_empty());
        drop(fds);
        if oom_ready {
            if let Some(w) = oom.as_mut() {
                for _ in 0..w.take() {
                    let e = Event::<()> {
                        kind: "oom",
                        id,
                        data: None,
                    };
                    writeln!(out, "{}", serde_json::to_string(&e)?)?;
                }
                out.flush()?;
            }
        }
        if exited {
            return Ok(());
        }
    }
}
