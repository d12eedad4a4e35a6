//! Runtime side of making the init: the clone(s), the user namespace's id maps, placing the
//! init in its cgroup, then the conversation until the init reports it is created.

use std::os::fd::OwnedFd;

use anyhow::{Context, Result};
use nix::sched::CloneFlags;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use super::channel::{self, Channel, Msg};
use super::{init, InitArgs};
use crate::namespaces::{self, Plan};
use crate::security::procfs::ProcFs;
use crate::syscall::{clone3, pidfd_open, CloneOpts, CloneResult};

/// The init, as the runtime holds it once it exists.
pub struct Spawned {
    pub pid: i32,
    pub pidfd: OwnedFd,
    pub chan: Channel,
}

/// Where the init goes in the cgroup hierarchy.
pub struct Placement<'a> {
    /// cgroup v2 directory to clone straight into (`CLONE_INTO_CGROUP`).
    pub clone_into: Option<&'a OwnedFd>,
    /// Called with the init's pid before it may go on (cgroup v1, or v2 without clone3).
    pub place: &'a dyn Fn(i32) -> Result<()>,
}

/// Creates the init process. It waits for `Continue` until its id maps are written and it
/// sits in its cgroup, so it never runs unconfined. The cgroup namespace is left to the init,
/// which makes it once it is in its cgroup (the namespace's root is the cgroup it is in).
pub fn spawn(args: InitArgs, plan: &Plan, placement: &Placement) -> Result<Spawned> {
    let proc = ProcFs::open_host()?;
    let (chan, child_chan) = channel::pair()?;
    let spec = args.spec;
    let (pid, pidfd) = if plan.single_clone() {
        let opts = CloneOpts {
            flags: (plan.new - CloneFlags::CLONE_NEWCGROUP).bits() as u64,
            cgroup: placement.clone_into,
            want_pidfd: true,
        };
        match clone3(&opts).context("clone")? {
            CloneResult::Child => {
                drop(chan);
                init::run(args, child_chan, plan.clone(), proc)
            }
            CloneResult::Parent { pid, pidfd } => {
                drop(child_chan);
                drop(args);
                if plan.new_userns() {
                    namespaces::write_id_maps(spec, pid)?;
                }
                (pid, pidfd.context("clone3 returned no pidfd")?)
            }
        }
    } else {
        let opts = CloneOpts {
            flags: 0,
            cgroup: placement.clone_into,
            want_pidfd: false,
        };
        match clone3(&opts).context("clone")? {
            CloneResult::Child => {
                drop(chan);
                intermediate(args, child_chan, plan, proc)
            }
            CloneResult::Parent { pid: mid, .. } => {
                drop(child_chan);
                drop(args);
                let init_pid = talk_to_intermediate(&chan, spec, mid);
                // Reap the intermediate whatever happened; it exits right after reporting.
                let _ = waitpid(Pid::from_raw(mid), None);
                let init_pid = init_pid?;
                (init_pid, pidfd_open(init_pid).context("pidfd_open")?)
            }
        }
    };
    (placement.place)(pid).context("place the init in its cgroup")?;
    chan.send(&Msg::Continue)?;
    Ok(Spawned { pid, pidfd, chan })
}

fn talk_to_intermediate(chan: &Channel, spec: &oci_spec::runtime::Spec, mid: i32) -> Result<i32> {
    loop {
        match chan.recv()? {
            Msg::WriteIdMaps { pid } => {
                namespaces::write_id_maps(spec, pid)?;
                chan.send(&Msg::Continue)?;
            }
            Msg::InitPid { pid } => return Ok(pid),
            Msg::Error { msg } => anyhow::bail!(msg),
            other => anyhow::bail!("intermediate process {mid}: unexpected {other:?}"),
        }
    }
}

/// The intermediate process of the two-clone path: joins namespaces by path, creates the
/// new ones (a pid or time namespace only applies to children), then clones the init as a
/// sibling (`CLONE_PARENT`), so the runtime is its parent and can wait for it.
fn intermediate(args: InitArgs, chan: Channel, plan: &Plan, proc: ProcFs) -> ! {
    let opts = CloneOpts {
        flags: libc::CLONE_PARENT as u64,
        cgroup: None,
        want_pidfd: false,
    };
    let res = enter_namespaces(&args, &chan, plan, &proc)
        .and_then(|()| clone3(&opts).context("clone init"));
    let msg = match res {
        Ok(CloneResult::Child) => init::run(args, chan, plan.clone(), proc),
        Ok(CloneResult::Parent { pid, .. }) => Msg::InitPid { pid },
        Err(e) => Msg::Error {
            msg: format!("namespaces: {e:#}"),
        },
    };
    let code = i32::from(chan.send(&msg).is_err() || !matches!(msg, Msg::InitPid { .. }));
    // SAFETY: _exit skips destructors of the runtime's state copied into this process.
    unsafe { libc::_exit(code) }
}

fn enter_namespaces(args: &InitArgs, chan: &Channel, plan: &Plan, proc: &ProcFs) -> Result<()> {
    {
        namespaces::join_all(plan)?;
        let mut rest = plan.new;
        if plan.new_userns() {
            nix::sched::unshare(CloneFlags::CLONE_NEWUSER).context("unshare user namespace")?;
            chan.send(&Msg::WriteIdMaps {
                pid: nix::unistd::getpid().as_raw(),
            })?;
            chan.expect(Msg::Continue)?;
            rest -= CloneFlags::CLONE_NEWUSER;
        }
        rest -= CloneFlags::CLONE_NEWCGROUP;
        nix::sched::unshare(rest).context("unshare namespaces")?;
        if rest.contains(CloneFlags::from_bits_retain(libc::CLONE_NEWTIME)) {
            namespaces::write_time_offsets(args.spec, proc)?;
        }
        Ok(())
    }
}
