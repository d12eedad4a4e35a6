//! `pause` and `resume`: freeze and thaw the container's cgroup. The `paused` status is
//! read back from the freezer, not stored.

use anyhow::{bail, Result};

use super::Runtime;
use super::{Root, Status};
use crate::cgroups;

pub fn pause(rt: &Runtime, id: &str) -> Result<()> {
    let dir = Root::new(&rt.root).open(id)?;
    let state = dir.load_state()?;
    match state.status(&dir) {
        Status::Running | Status::Created => {}
        Status::Paused => bail!("container {id} is already paused"),
        s => bail!("container not running or created: {id} is {s}"),
    }
    cgroups::Manager::load(state.cgroup.as_ref())?.freeze()
}

pub fn resume(rt: &Runtime, id: &str) -> Result<()> {
    let dir = Root::new(&rt.root).open(id)?;
    let state = dir.load_state()?;
    let status = state.status(&dir);
    if status != Status::Paused {
        bail!("container not paused: {id} is {status}");
    }
    cgroups::Manager::load(state.cgroup.as_ref())?.thaw()
}
