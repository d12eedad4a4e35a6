//! `linux.seccomp`: the container's system call filter.
//!
//! The runtime compiles the profile before it creates anything (so a bad profile fails with
//! the field named and nothing left behind) into a single classic BPF program (see [`bpf`]);
//! the container's process loads it with its own `seccomp(2)` call. One program, one call:
//! no filter of ours can stop the loading of the next, and the kernel runs one filter per
//! system call. xrun never sets no_new_privs on its own: without it, loading needs
//! CAP_SYS_ADMIN, which the process still has at that point.
//!
//! When to load (as runc, see [`Stage`]): without no_new_privs, before the capabilities are
//! dropped; with it, as late as possible, so that as few of the runtime's own system calls as
//! possible run under the container's profile: right before the program runs. A profile with
//! SCMP_ACT_NOTIFY is loaded (with no_new_privs) before the container reports itself created,
//! so that its listener has the notification descriptor when `create` returns (see [`notify`]).
//! `exec` loads the container's filter into its process the same way.

mod bpf;
pub mod notify;
mod profile;
mod syscalls;

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompFilterFlag, Spec};

use crate::security::procfs::ProcFs;

/// A compiled profile, ready to load.
#[derive(Debug)]
pub struct Filter {
    program: Vec<seccompiler::sock_filter>,
    flags: libc::c_ulong,
}

/// Compiles `linux.seccomp`. Errors name the field: `config.json: linux.seccomp....`.
pub fn compile(s: &LinuxSeccomp) -> Result<Filter> {
    let p = profile::parse(s).map_err(|e| anyhow!("config.json: {e:#}"))?;
    for (i, f) in s.flags().iter().flatten().enumerate() {
        if !supported(flag_bits(*f)) {
            bail!("config.json: linux.seccomp.flags[{i}]: {f} is not supported by this kernel");
        }
    }
    let program = bpf::compile(&p).map_err(|e| anyhow!("config.json: {e:#}"))?;
    Ok(Filter {
        program,
        flags: p.flags,
    })
}

fn sys_seccomp(op: libc::c_uint, flags: libc::c_ulong, arg: *const libc::c_void) -> libc::c_long {
    // SAFETY: seccomp(2) reads `arg` (a sock_fprog or a u32) and nothing else of ours.
    unsafe { libc::syscall(libc::SYS_seccomp, op, flags, arg) }
}

/// The seccomp(2) flags a config flag stands for, with what the kernel needs alongside.
fn flag_bits(f: LinuxSeccompFilterFlag) -> libc::c_ulong {
    match f {
        LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
        LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
        LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
        LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
            libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV | libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
        }
    }
}

/// Whether the kernel knows these filter flags: it checks them before it reads the program,
/// so known flags with no program fail with EFAULT, unknown ones with EINVAL. Nothing is
/// loaded either way.
fn supported(flags: libc::c_ulong) -> bool {
    sys_seccomp(libc::SECCOMP_SET_MODE_FILTER, flags, std::ptr::null()) < 0
        && std::io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT)
}

impl Filter {
    /// True when a rule notifies a listener: loading returns the listener's descriptor.
    pub fn notifies(&self) -> bool {
        self.flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER != 0
    }

    /// The number of BPF instructions.
    pub fn len(&self) -> usize {
        self.program.len()
    }

    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }

    /// Loads the filter into the calling process (single-threaded); returns the notification
    /// descriptor (close-on-exec) when a rule notifies. Without no_new_privs the kernel takes a
    /// filter only from a process with CAP_SYS_ADMIN (in its user namespace).
    pub fn load(&self) -> Result<Option<OwnedFd>> {
        let prog = libc::sock_fprog {
            len: self.program.len() as u16,
            // Same layout as seccompiler's sock_filter; the kernel only reads it.
            filter: self.program.as_ptr() as *mut libc::sock_filter,
        };
        let r = sys_seccomp(
            libc::SECCOMP_SET_MODE_FILTER,
            self.flags,
            &prog as *const _ as *const _,
        );
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EACCES) {
                bail!("load the filter: {e} (without process.noNewPrivileges loading needs CAP_SYS_ADMIN)");
            }
            bail!("load the filter: {e}");
        }
        if self.notifies() {
            // SAFETY: with NEW_LISTENER the kernel returned a new descriptor that is ours.
            return Ok(Some(unsafe { OwnedFd::from_raw_fd(r as i32) }));
        }
        if r > 0 {
            bail!("load the filter: thread {r} could not be synchronized (TSYNC)");
        }
        Ok(None)
    }
}

/// When a process loads its filter, in the order of the setup steps.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stage {
    /// Without no_new_privs: before the capabilities are dropped (loading needs
    /// CAP_SYS_ADMIN).
    Privileged,
    /// With no_new_privs and a listener: once the program is found, while the runtime still
    /// waits, so that the listener has its descriptor when `create` (or `exec`) returns.
    Handoff,
    /// With no_new_privs: right before the program runs.
    Exec,
}

/// A container's filter, with the connection to its listener when it notifies one.
pub struct Seccomp {
    pub filter: Filter,
    pub listener: Option<notify::Listener>,
}

/// Compiles the config's `linux.seccomp` and, when a rule notifies, connects to the listener.
/// For a process of container `id` whose state (for the listener) has `status`.
pub fn prepare(spec: &Spec, id: &str, bundle: &Path, status: &str) -> Result<Option<Seccomp>> {
    let Some(s) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(None);
    };
    let filter = compile(s)?;
    let listener = if filter.notifies() {
        let state = notify::container_state(spec, id, status, 0, bundle);
        Some(notify::connect_listener(s, state)?)
    } else {
        None
    };
    Ok(Some(Seccomp { filter, listener }))
}

impl Seccomp {
    pub fn stage(&self, no_new_privs: bool) -> Stage {
        match (no_new_privs, self.listener.is_some()) {
            (false, _) => Stage::Privileged,
            (true, true) => Stage::Handoff,
            (true, false) => Stage::Exec,
        }
    }

    /// Loads the filter if `stage` is when this process loads it, and hands the notification
    /// descriptor to the listener; this process keeps no copy of it.
    pub fn apply(&self, stage: Stage, no_new_privs: bool, proc: &ProcFs) -> Result<()> {
        if stage != self.stage(no_new_privs) {
            return Ok(());
        }
        let msg = match &self.listener {
            Some(l) => Some(l.message(own_pid(proc)?)),
            None => None,
        };
        let fd = self.filter.load()?;
        if let (Some(fd), Some(l), Some(msg)) = (fd, &self.listener, msg) {
            l.send(&fd, &msg)?;
        }
        Ok(())
    }
}

/// This process's pid as the host sees it, from the host's procfs (opened before the
/// container's pid namespace was entered).
fn own_pid(proc: &ProcFs) -> Result<i32> {
    let stat = proc.read("self/stat")?;
    stat.split(' ')
        .next()
        .and_then(|p| p.parse().ok())
        .context("parse /proc/self/stat")
}

/// The `seccomp` object of the features document: what this build and kernel support.
pub fn features() -> serde_json::Value {
    const ACTIONS: &[(&str, u32)] = &[
        ("SCMP_ACT_ALLOW", libc::SECCOMP_RET_ALLOW),
        ("SCMP_ACT_ERRNO", libc::SECCOMP_RET_ERRNO),
        ("SCMP_ACT_KILL", libc::SECCOMP_RET_KILL_THREAD),
        ("SCMP_ACT_KILL_PROCESS", libc::SECCOMP_RET_KILL_PROCESS),
        ("SCMP_ACT_KILL_THREAD", libc::SECCOMP_RET_KILL_THREAD),
        ("SCMP_ACT_LOG", libc::SECCOMP_RET_LOG),
        ("SCMP_ACT_NOTIFY", libc::SECCOMP_RET_USER_NOTIF),
        ("SCMP_ACT_TRACE", libc::SECCOMP_RET_TRACE),
        ("SCMP_ACT_TRAP", libc::SECCOMP_RET_TRAP),
    ];
    use LinuxSeccompFilterFlag as F;
    const FLAGS: &[F] = &[
        F::SeccompFilterFlagTsync,
        F::SeccompFilterFlagSpecAllow,
        F::SeccompFilterFlagLog,
        F::SeccompFilterFlagWaitKillableRecv,
    ];
    let available = |ret: u32| {
        sys_seccomp(
            libc::SECCOMP_GET_ACTION_AVAIL,
            0,
            &ret as *const u32 as *const _,
        ) == 0
    };
    // SAFETY: PR_GET_SECCOMP only reads this process's mode.
    let enabled = unsafe { libc::prctl(libc::PR_GET_SECCOMP) } >= 0;
    serde_json::json!({
        "enabled": enabled,
        "actions": ACTIONS.iter().filter(|a| available(a.1)).map(|a| a.0).collect::<Vec<_>>(),
        "operators": [
            "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
            "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"
        ],
        "archs": ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
        "knownFlags": FLAGS.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
        "supportedFlags": FLAGS.iter().filter(|f| supported(flag_bits(**f))).map(|f| f.to_string()).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests;
