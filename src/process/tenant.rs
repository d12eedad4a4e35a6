//! A process that joins a running container (`exec`). The runtime first enters the
//! container's pid (and time) namespace for its children, then clones the tenant into the
//! container's cgroup; the tenant joins the other namespaces through the init's pidfd in
//! one `setns` and runs the same process steps as the init.

use std::os::fd::{AsRawFd, OwnedFd};

use anyhow::{bail, Context, Result};
use nix::sched::CloneFlags;
use oci_spec::runtime::{Process, Spec};

use super::channel::{self, Channel, Msg};
use super::console;
use super::{fds, setup};
use crate::cgroups;
use crate::namespaces::Plan;
use crate::security::procfs::ProcFs;
use crate::security::seccomp::{Seccomp, Stage};
use crate::syscall::{clone3, CloneOpts, CloneResult};

pub struct Tenant<'a> {
    pub spec: &'a Spec,
    pub process: &'a Process,
    pub init_pid: i32,
    pub init_pidfd: &'a OwnedFd,
    pub console_socket: Option<OwnedFd>,
    pub extra_fds: fds::ExtraFds,
    /// cgroup v1 `tasks` files the process writes itself into.
    pub cgroup_join: Vec<OwnedFd>,
    /// The container's `linux.seccomp`, which every process of it gets.
    pub seccomp: Option<&'a Seccomp>,
}

pub struct SpawnedTenant {
    pub pid: i32,
    pub console_master: Option<OwnedFd>,
}

/// Namespaces of the container that the tenant joins: all it has, except those it shares
/// with us (setns into our own user namespace is an error).
fn join_flags(spec: &Spec, init_pid: i32) -> CloneFlags {
    let plan = Plan::from_spec(spec);
    let mut flags = CloneFlags::empty();
    for (flag, name) in [
        (CloneFlags::CLONE_NEWUSER, "user"),
        (CloneFlags::CLONE_NEWNS, "mnt"),
        (CloneFlags::CLONE_NEWNET, "net"),
        (CloneFlags::CLONE_NEWIPC, "ipc"),
        (CloneFlags::CLONE_NEWUTS, "uts"),
        (CloneFlags::CLONE_NEWCGROUP, "cgroup"),
        (CloneFlags::CLONE_NEWPID, "pid"),
        (CloneFlags::from_bits_retain(libc::CLONE_NEWTIME), "time"),
    ] {
        if plan.has(flag) && !same_ns(init_pid, name) {
            flags |= flag;
        }
    }
    flags
}

fn same_ns(pid: i32, name: &str) -> bool {
    let theirs = std::fs::metadata(format!("/proc/{pid}/ns/{name}"));
    let ours = std::fs::metadata(format!("/proc/self/ns/{name}"));
    use std::os::unix::fs::MetadataExt;
    matches!((theirs, ours), (Ok(a), Ok(b)) if a.ino() == b.ino() && a.dev() == b.dev())
}

pub fn spawn(t: &Tenant, cgroup: &cgroups::Manager) -> Result<SpawnedTenant> {
    let flags = join_flags(t.spec, t.init_pid);
    let for_children = CloneFlags::CLONE_NEWPID | CloneFlags::from_bits_retain(libc::CLONE_NEWTIME);
    if flags.intersects(for_children) {
        nix::sched::setns(t.init_pidfd, flags & for_children)
            .context("join the container's pid namespace")?;
    }
    let proc = ProcFs::open_host()?;
    let (chan, child_chan) = channel::pair()?;
    let opts = CloneOpts {
        flags: 0,
        cgroup: cgroup.clone_target(),
        want_pidfd: false,
    };
    match clone3(&opts).context("clone")? {
        CloneResult::Child => {
            drop(chan);
            let res = run_tenant(t, &child_chan, flags - for_children, &proc);
            let msg = match res.and_then(|prog| {
                seccomp(t, Stage::Exec, &proc).context("linux.seccomp")?;
                Ok(prog)
            }) {
                Err(e) => e,
                Ok(prog) => setup::exec(&prog),
            };
            let _ = child_chan.send(&Msg::Error {
                msg: format!("{msg:#}"),
            });
            // SAFETY: _exit in the forked child.
            unsafe { libc::_exit(127) }
        }
        CloneResult::Parent { pid, .. } => {
            drop(child_chan);
            let res = (|| {
                cgroup.add_pid(pid).context("join the container's cgroup")?;
                chan.send(&Msg::Continue)?;
                let mut console_master = None;
                loop {
                    match chan.recv_with_fd() {
                        Ok((Msg::Console, fd)) => console_master = fd,
                        Ok((Msg::Error { msg }, _)) => bail!(msg),
                        Ok((other, _)) => bail!("unexpected message from exec process: {other:?}"),
                        // The channel is close-on-exec: end of file means the program runs.
                        Err(_) => break,
                    }
                }
                Ok(SpawnedTenant {
                    pid,
                    console_master,
                })
            })();
            if res.is_err() {
                // SAFETY: our own child; reap it so nothing is left behind.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
            }
            res
        }
    }
}

/// In the child: join, set up, and return the program to execute.
fn run_tenant(
    t: &Tenant,
    chan: &Channel,
    flags: CloneFlags,
    proc: &ProcFs,
) -> Result<setup::Program> {
    let _ = nix::sys::prctl::set_dumpable(false);
    crate::logging::container_side();
    let extra = t.extra_fds.total;
    chan.expect(Msg::Continue)?;
    crate::cgroups::join_self(&t.cgroup_join)?;
    if !flags.is_empty() {
        nix::sched::setns(t.init_pidfd, flags).context("join the container's namespaces")?;
    }
    if flags.contains(CloneFlags::CLONE_NEWUSER) {
        crate::security::user::become_root()?;
    }
    setup::apply_privileged(t.process, proc)?;
    if t.process.terminal().unwrap_or(false) {
        let size = t
            .process
            .console_size()
            .map(|b| (b.height() as u16, b.width() as u16));
        let pty = console::open_pty(size)?;
        match &t.console_socket {
            Some(sock) => console::send_master(sock, &pty)?,
            None => chan.send_with_fd(&Msg::Console, Some(pty.master.as_raw_fd()))?,
        }
        console::become_session_leader_on(&pty.slave)?;
    }
    seccomp(t, Stage::Privileged, proc).context("linux.seccomp")?;
    setup::drop_privileges(t.process, proc)?;
    setup::enter_cwd(t.process)?;
    let mut env = Vec::new();
    fds::listen_env(t.extra_fds.listen, &mut env);
    let prog = setup::resolve_program(t.process, &env)?;
    seccomp(t, Stage::Handoff, proc).context("linux.seccomp")?;
    fds::close_all_except(extra, &[chan.raw_fd()])?;
    crate::syscall::cloexec_from(3 + extra)?;
    fds::keep_across_exec(extra)?;
    Ok(prog)
}

fn seccomp(t: &Tenant, stage: Stage, proc: &ProcFs) -> Result<()> {
    match t.seccomp {
        Some(s) => s.apply(stage, setup::no_new_privs(t.process), proc),
        None => Ok(()),
    }
}
