//! `start`: release a created container's init into the user's program.

use anyhow::{bail, Result};

use super::create::hook_state;
use super::Runtime;
use super::{Root, Status};
use crate::hooks;
use crate::process::exec_fifo;

pub fn start(rt: &Runtime, id: &str) -> Result<()> {
    let dir = Root::new(&rt.root).open(id)?;
    let state = dir.load_state()?;
    match state.status(&dir) {
        Status::Created => {}
        Status::Stopped => bail!("cannot start a container that has stopped"),
        Status::Running | Status::Paused => bail!("cannot start an already running container"),
        Status::Creating => bail!("cannot start a container that is still being created"),
    }
    exec_fifo::release(&dir.exec_fifo())?;
    // The fifo's absence is what tells `created` from `running` from now on.
    std::fs::remove_file(dir.exec_fifo())?;
    let h = state.config.hooks().as_ref();
    if hooks::has(h, hooks::Kind::Poststart) {
        hooks::run_warn(
            h,
            hooks::Kind::Poststart,
            &hook_state(&state, Status::Running)?,
        );
    }
    Ok(())
}
