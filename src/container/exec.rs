//! `exec`: run another process in a running container.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{Capabilities, LinuxCapabilities, Process};

use super::create::write_pid_file;
use super::kill::open_init;
use super::Runtime;
use super::{Root, Status};
use crate::bundle;
use crate::cgroups;
use crate::process::tenant::{self, Tenant};
use crate::process::{console, fds, wait};
use crate::security::{lsm, seccomp, user};

pub struct ExecOpts {
    pub id: String,
    pub process_file: Option<PathBuf>,
    pub command: Vec<String>,
    pub console_socket: Option<PathBuf>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<String>,
    pub tty: bool,
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub process_label: Option<String>,
    pub apparmor: Option<String>,
    pub no_new_privs: bool,
    pub caps: Vec<String>,
    pub preserve_fds: u32,
    pub ignore_paused: bool,
}

pub fn exec(rt: &Runtime, o: &ExecOpts) -> Result<i32> {
    let dir = Root::new(&rt.root).open(&o.id)?;
    let state = dir.load_state()?;
    match state.status(&dir) {
        Status::Running | Status::Created => {}
        Status::Paused if o.ignore_paused => {}
        Status::Paused => {
            bail!("cannot exec in a paused container (use --ignore-paused to override)")
        }
        Status::Stopped => bail!("cannot exec in a stopped container"),
        Status::Creating => bail!("cannot exec in a container that is still being created"),
    }
    let process = build_process(o, state.config.process().as_ref())?;
    bundle::validate_process("process", &process)?;
    lsm::check_available(
        process.apparmor_profile().as_deref(),
        process.selinux_label().as_deref(),
    )?;
    let extra_fds = fds::extra_fds(o.preserve_fds)?;
    let terminal = process.terminal().unwrap_or(false);
    if terminal && o.detach && o.console_socket.is_none() {
        bail!("process.terminal is true: a detached exec needs --console-socket");
    }
    let console_socket = match &o.console_socket {
        Some(p) if terminal => Some(console::connect_socket(p)?),
        Some(_) => bail!("--console-socket needs a terminal (--tty or process.terminal)"),
        None => None,
    };
    // Every process of the container gets its filter (exec's process.json has none of its own).
    let seccomp = seccomp::prepare(&state.config, &o.id, &state.bundle, "running")?;
    let init = open_init(&state)?.context("container not running")?;
    let mut cgroup = cgroups::Manager::load(state.cgroup.as_ref())?;
    cgroup.open_clone_target()?;
    // The container stays locked only while we join it.
    let t = Tenant {
        spec: &state.config,
        process: &process,
        init_pid: state.pid,
        init_pidfd: &init,
        console_socket,
        extra_fds,
        cgroup_join: cgroup.self_join_files()?,
        seccomp: seccomp.as_ref(),
    };
    let sfd = if o.detach {
        None
    } else {
        Some(wait::signal_fd()?)
    };
    let spawned = tenant::spawn(&t, &cgroup)?;
    drop(dir);
    if let Some(p) = &o.pid_file {
        write_pid_file(p, spawned.pid)?;
    }
    let Some(sfd) = sfd else {
        return Ok(0);
    };
    wait::wait_foreground(spawned.pid, &sfd, spawned.console_master)
}

/// The process to run: `--process FILE`, or the container's process with the command line
/// and the flags laid over it.
fn build_process(o: &ExecOpts, base: Option<&Process>) -> Result<Process> {
    if let Some(path) = &o.process_file {
        let f = std::fs::File::open(path)
            .with_context(|| format!("--process: cannot open {}", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut p: Process = bundle::parse_json(&name, &crate::bundle::slurp(f)?)?;
        if o.tty {
            p.set_terminal(Some(true));
        }
        return Ok(p);
    }
    if o.command.is_empty() {
        bail!("exec: no command given (use COMMAND... or --process FILE)");
    }
    let mut p = base
        .cloned()
        .context("config.json has no process to start from")?;
    p.set_args(Some(o.command.clone()));
    p.set_terminal(Some(o.tty));
    p.set_console_size(None);
    let mut env = p.env().clone().unwrap_or_default();
    for e in &o.env {
        let key = e.split('=').next().unwrap_or_default();
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    p.set_env(Some(env));
    if let Some(cwd) = &o.cwd {
        p.set_cwd(cwd.clone());
    }
    if let Some(u) = &o.user {
        let (uid, gid) = user::parse_uid_gid(u)?;
        p.user_mut().set_uid(uid);
        if let Some(gid) = gid {
            p.user_mut().set_gid(gid);
        }
    }
    if !o.additional_gids.is_empty() {
        p.user_mut()
            .set_additional_gids(Some(o.additional_gids.clone()));
    }
    if o.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(a) = &o.apparmor {
        p.set_apparmor_profile(Some(a.clone()));
    }
    if let Some(l) = &o.process_label {
        p.set_selinux_label(Some(l.clone()));
    }
    if !o.caps.is_empty() {
        let extra: Capabilities = serde_json::from_value(serde_json::json!(o.caps))
            .context("--cap: unknown capability")?;
        let mut c: LinuxCapabilities = p
            .capabilities()
            .clone()
            .unwrap_or(serde_json::from_str("{}")?);
        let add = |set: &Option<Capabilities>| {
            let mut s = set.clone().unwrap_or_default();
            s.extend(extra.iter().cloned());
            Some(s)
        };
        c.set_bounding(add(c.bounding()));
        c.set_effective(add(c.effective()));
        c.set_permitted(add(c.permitted()));
        c.set_ambient(add(c.ambient()));
        c.set_inheritable(add(c.inheritable()));
        p.set_capabilities(Some(c));
    }
    Ok(p)
}
