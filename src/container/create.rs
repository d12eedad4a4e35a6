//! `create` (and the first half of `run`): from a bundle to an init that waits to start.
//!
//! Everything made along the way is undone if a later step fails: the init is killed, its
//! cgroups removed and the state directory deleted, so a failed create leaves nothing.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::Runtime;
use super::{root::write_atomic, ContainerDir, OciState, Root, State, Status};
use crate::bundle;
use crate::cgroups;
use crate::hooks;
use crate::logging;
use crate::namespaces::Plan;
use crate::process::channel::Msg;
use crate::process::launch::{self, Placement, Spawned};
use crate::process::{console, exec_fifo, fds, InitArgs, StartGate};
use crate::security::{lsm, seccomp};

pub struct CreateOpts {
    pub id: String,
    pub bundle: PathBuf,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
}

/// How the created container will be started.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `create`: a later `start` releases the init through the exec fifo.
    Create,
    /// `run`: this process starts the init itself.
    Run { detach: bool },
}

/// A container whose init reported that it is set up.
pub struct Created {
    pub dir: ContainerDir,
    pub state: State,
    pub init: Spawned,
    pub cgroup: cgroups::Manager,
    /// The pty master, when xrun relays the terminal itself (foreground run).
    pub console_master: Option<OwnedFd>,
}

/// `xrun create`.
pub fn create(rt: &Runtime, o: &CreateOpts) -> Result<()> {
    create_container(rt, o, Mode::Create).map(drop)
}

/// Undoes a partial create when dropped, unless disarmed.
struct Undo {
    dir: Option<ContainerDir>,
    cgroup: Option<cgroups::Manager>,
    init: Option<OwnedFd>,
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(pidfd) = self.init.take() {
            super::kill::kill_and_wait(&pidfd);
        }
        if let Some(cg) = self.cgroup.take() {
            if let Err(e) = cg.destroy() {
                crate::logging::warning(&format!("cleanup: {e:#}"));
            }
        }
        if let Some(dir) = self.dir.take() {
            if let Err(e) = dir.remove() {
                crate::logging::warning(&format!("cleanup: {e:#}"));
            }
        }
    }
}

pub fn create_container(rt: &Runtime, o: &CreateOpts, mode: Mode) -> Result<Created> {
    super::id::validate(&o.id)?;
    let b = bundle::load(&o.bundle)?;
    logging::mark("bundle loaded");
    let process = b
        .spec
        .process()
        .as_ref()
        .context("config.json: process: must be set")?;
    lsm::check_available(
        process.apparmor_profile().as_deref(),
        process.selinux_label().as_deref(),
    )?;
    let extra_fds = fds::extra_fds(o.preserve_fds)?;
    let terminal = process.terminal().unwrap_or(false);
    let foreground = mode == Mode::Run { detach: false };
    match (terminal, &o.console_socket) {
        (true, None) if !foreground => {
            bail!("process.terminal is true: a detached container needs --console-socket")
        }
        (false, Some(_)) => bail!("--console-socket needs process.terminal to be true"),
        _ => {}
    }
    let console_socket = match &o.console_socket {
        Some(p) => Some(console::connect_socket(p)?),
        None => None,
    };
    let seccomp = seccomp::prepare(&b.spec, &o.id, &b.dir, "creating")?;
    logging::mark("seccomp compiled");

    let root = Root::new(&rt.root);
    let mut undo = Undo {
        dir: Some(root.create(&o.id)?),
        cgroup: None,
        init: None,
    };
    let dir = undo.dir.as_ref().unwrap();
    let linux = b.spec.linux().as_ref();
    let cgroup = cgroups::Manager::plan(&cgroups::Config {
        id: &o.id,
        path: linux.and_then(|l| l.cgroups_path().as_deref()),
        resources: linux.and_then(|l| l.resources().as_ref()),
        devices: linux
            .and_then(|l| l.devices().as_deref())
            .unwrap_or_default(),
        systemd: rt.systemd_cgroup,
    })?;
    // Written before anything else exists so that `state` reports "creating" from the
    // start, and so that `delete --force` finds the cgroups of a create that died.
    let mut state = State {
        id: o.id.clone(),
        pid: 0,
        init_start_time: 0,
        bundle: b.dir.clone(),
        rootfs: b.rootfs.clone(),
        created: crate::logging::rfc3339_now(),
        owner: owner_name(),
        config: b.spec.clone(),
        cgroup: cgroup.record(),
    };
    dir.save_state(&state)?;
    // Held by `undo` before it makes anything, so a failure half way removes it all.
    undo.cgroup.insert(cgroup).create()?;
    let cgroup = undo.cgroup.as_ref().unwrap();
    logging::mark("cgroups created");
    let start = match mode {
        Mode::Create => StartGate::Fifo(exec_fifo::create(&dir.exec_fifo())?),
        Mode::Run { .. } => StartGate::Channel,
    };
    let plan = Plan::from_spec(&b.spec);
    let cgroup_mounts = cgroup.container_mounts();
    let args = InitArgs {
        id: &o.id,
        spec: &b.spec,
        process,
        rootfs: &b.rootfs,
        bundle: &b.dir,
        console_socket,
        start,
        extra_fds,
        no_pivot: o.no_pivot,
        no_new_keyring: o.no_new_keyring,
        cgroup_mounts: &cgroup_mounts,
        cgroup_join: cgroup.self_join_files()?,
        seccomp: seccomp.as_ref(),
    };
    let place = |pid: i32| {
        let r = cgroup.add_pid(pid);
        logging::mark("init placed in its cgroups");
        r
    };
    let placement = Placement {
        clone_into: cgroup.clone_target(),
        place: &place,
    };
    let init = launch::spawn(args, &plan, &placement)?;
    undo.init = Some(init.pidfd.try_clone()?);
    state.pid = init.pid;
    state.init_start_time = crate::process::pidinfo::stat(init.pid)
        .map(|s| s.start_time)
        .context("the container init exited during setup")?;
    let mut console_master = None;
    loop {
        match init.chan.recv_with_fd()? {
            (Msg::RunRuntimeHooks, _) => {
                let json = hook_state(&state, Status::Creating)?;
                let h = b.spec.hooks().as_ref();
                hooks::run(h, hooks::Kind::Prestart, &json)?;
                hooks::run(h, hooks::Kind::CreateRuntime, &json)?;
                init.chan.send(&Msg::Continue)?;
            }
            (Msg::Console, fd) => {
                console_master = Some(fd.context("no pty master with the console message")?)
            }
            (Msg::Created, _) => {
                logging::mark("init created");
                break;
            }
            (Msg::Error { msg }, _) => bail!(msg),
            (other, _) => bail!("unexpected message from the init: {other:?}"),
        }
    }

    // The record now also lists the directories made, for delete to remove.
    state.cgroup = cgroup.record();
    undo.dir.as_ref().unwrap().save_state(&state)?;
    if let Some(p) = &o.pid_file {
        write_pid_file(p, init.pid)?;
    }
    // Success: nothing to undo.
    undo.init = None;
    let cgroup = undo.cgroup.take().unwrap();
    let dir = undo.dir.take().unwrap();
    Ok(Created {
        dir,
        state,
        init,
        cgroup,
        console_master,
    })
}

/// The state JSON hooks read on stdin.
pub fn hook_state(state: &State, status: Status) -> Result<String> {
    let s: OciState = state.oci_state(status);
    Ok(serde_json::to_string(&s)?)
}

/// Writes the pid file atomically, as runc does (containerd reads it as soon as we exit).
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let path = std::path::absolute(path).context("--pid-file")?;
    write_atomic(&path, pid.to_string().as_bytes(), 0o644).context("--pid-file")
}

/// The name of the user running xrun, for `state`'s `owner` (runc reports it too). Read
/// from /etc/passwd directly: going through NSS would load shared libraries on the create path.
fn owner_name() -> String {
    let uid = nix::unistd::geteuid().as_raw();
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
            })
        })
        .unwrap_or_else(|| uid.to_string())
}
