//! `delete`: remove a stopped container (a created one too, like runc); `--force` kills a
//! running one first.

use anyhow::{bail, Result};

use super::create::hook_state;
use super::kill::{kill_and_wait, open_init};
use super::Runtime;
use super::{ContainerDir, Root, State, Status};
use crate::cgroups;
use crate::hooks;

pub fn delete(rt: &Runtime, id: &str, force: bool) -> Result<()> {
    let root = Root::new(&rt.root);
    // Like runc, `delete --force` of a container that is already gone succeeds (containerd's
    // shim deletes again when it cleans up after a container it lost).
    if force && !root.exists(id) {
        super::id::validate(id)?;
        return Ok(());
    }
    let dir = root.open(id)?;
    let state = match dir.load_state() {
        Ok(s) => s,
        // A create that crashed before writing its state: only --force cleans that up.
        Err(_) if force => return dir.remove(),
        Err(e) => return Err(e),
    };
    let status = state.status(&dir);
    if !force && !matches!(status, Status::Stopped | Status::Created) {
        bail!("cannot delete container {id} that is not stopped: {status}");
    }
    destroy(dir, &state)
}

/// Kills whatever is left, removes the cgroups and the state, runs the poststop hooks.
pub fn destroy(dir: ContainerDir, state: &State) -> Result<()> {
    let cg = cgroups::Manager::load(state.cgroup.as_ref())?;
    // Through the cgroup first: that also reaches a paused container's processes.
    cg.kill_all()?;
    if let Some(pidfd) = open_init(state)? {
        kill_and_wait(&pidfd);
    }
    cg.destroy()?;
    dir.remove()?;
    let h = state.config.hooks().as_ref();
    if hooks::has(h, hooks::Kind::Poststop) {
        hooks::run_warn(
            h,
            hooks::Kind::Poststop,
            &hook_state(state, Status::Stopped)?,
        );
    }
    Ok(())
}
