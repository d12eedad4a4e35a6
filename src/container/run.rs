//! `run`: create and start in one go; in the foreground, wait for the container, relay its
//! terminal and signals, delete it afterwards (unless `--keep`) and exit with its status.

use anyhow::Result;

use super::create::{create_container, hook_state, CreateOpts, Mode};
use super::Runtime;
use super::{Root, Status};
use crate::hooks;
use crate::process::channel::Msg;
use crate::process::wait;

pub fn run(rt: &Runtime, o: &CreateOpts, detach: bool, keep: bool) -> Result<i32> {
    let mut c = create_container(rt, o, Mode::Run { detach })?;
    let hooks_cfg = c.state.config.hooks().clone();
    // Signals that arrive from here on go to the container, not to us.
    let sfd = if detach {
        None
    } else {
        Some(wait::signal_fd()?)
    };
    c.init.chan.send(&Msg::Start)?;
    if hooks::has(hooks_cfg.as_ref(), hooks::Kind::Poststart) {
        let json = hook_state(&c.state, Status::Running)?;
        hooks::run_warn(hooks_cfg.as_ref(), hooks::Kind::Poststart, &json);
    }
    let Some(sfd) = sfd else {
        return Ok(0);
    };
    // Others may look at, signal or delete the container while it runs.
    c.dir.unlock();
    let code = wait::wait_foreground(c.init.pid, &sfd, c.console_master)?;
    crate::logging::mark("container exited");
    if !keep {
        // Unless someone deleted it meanwhile.
        if let Ok(dir) = Root::new(&rt.root).open(&o.id) {
            super::delete::destroy(dir, &c.state)?;
        }
        crate::logging::mark("container deleted");
    }
    Ok(code)
}
