//! `linux.seccomp`: the container's system call filter.
//!
//! The runtime compiles the profile before it creates anything (so a bad profile fails with
//! the field named and nothing left behind) into a single classic BPF program (see [`bpf`]);
//! the container's process loads it with its own `seccomp(2)` call. One program, one call:
//! no filter of ours can stop the loading of the next, and the kernel runs one filter per
//! system call. no_new_privs is only set when the config asks for it, or when the process
//! lacks CAP_SYS_ADMIN and the kernel would refuse the filter otherwise.
//!
//! When to load (as runc): without no_new_privs, loading needs CAP_SYS_ADMIN, so it happens
//! before the capabilities are dropped; with it, as late as possible, so that as few of the
//! runtime's own system calls as possible run under the container's profile: right before
//! the program runs (the startContainer hooks still run under the filter, as with runc). A
//! profile with SCMP_ACT_NOTIFY is loaded before the container reports itself created, so that
//! its listener gets the notification descriptor during `create` (see [`notify`]).

mod bpf;
pub mod notify;
mod profile;
mod syscalls;

use std::os::fd::{FromRawFd, OwnedFd};

use anyhow::{anyhow, bail, Result};
use oci_spec::runtime::LinuxSeccomp;

/// A compiled profile, ready to load.
#[derive(Debug)]
pub struct Filter {
    program: Vec<seccompiler::sock_filter>,
    flags: libc::c_ulong,
}

/// Compiles `linux.seccomp`. Errors name the field: `config.json: linux.seccomp....`.
pub fn compile(s: &LinuxSeccomp) -> Result<Filter> {
    let p = profile::parse(s).map_err(|e| anyhow!("config.json: {e:#}"))?;
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
    /// descriptor (close-on-exec) when a rule notifies.
    pub fn load(&self) -> Result<Option<OwnedFd>> {
        let prog = libc::sock_fprog {
            len: self.program.len() as u16,
            // Same layout as seccompiler's sock_filter; the kernel only reads it.
            filter: self.program.as_ptr() as *mut libc::sock_filter,
        };
        let set = |flags| {
            sys_seccomp(
                libc::SECCOMP_SET_MODE_FILTER,
                flags,
                &prog as *const _ as *const _,
            )
        };
        let mut r = set(self.flags);
        if r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EACCES) {
            // Without CAP_SYS_ADMIN the kernel takes a filter only under no_new_privs.
            crate::logging::warning(
                "setting no_new_privs: loading the seccomp filter without CAP_SYS_ADMIN needs it",
            );
            nix::sys::prctl::set_no_new_privs()?;
            r = set(self.flags);
        }
        if r < 0 {
            bail!("load the filter: {}", std::io::Error::last_os_error());
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
    const FLAGS: &[(&str, libc::c_ulong)] = &[
        ("SECCOMP_FILTER_FLAG_TSYNC", libc::SECCOMP_FILTER_FLAG_TSYNC),
        ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW),
        ("SECCOMP_FILTER_FLAG_LOG", libc::SECCOMP_FILTER_FLAG_LOG),
        (
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
            libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV | libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
        ),
    ];
    let available = |ret: u32| {
        sys_seccomp(
            libc::SECCOMP_GET_ACTION_AVAIL,
            0,
            &ret as *const u32 as *const _,
        ) == 0
    };
    // A flag the kernel knows gets past the flag check and fails on the missing program
    // (EFAULT); an unknown one is EINVAL.
    let supported = |flags| {
        sys_seccomp(libc::SECCOMP_SET_MODE_FILTER, flags, std::ptr::null()) < 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT)
    };
    serde_json::json!({
        "enabled": true,
        "actions": ACTIONS.iter().filter(|a| available(a.1)).map(|a| a.0).collect::<Vec<_>>(),
        "operators": [
            "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
            "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"
        ],
        "archs": ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
        "knownFlags": FLAGS.iter().map(|f| f.0).collect::<Vec<_>>(),
        "supportedFlags": FLAGS.iter().filter(|f| supported(f.1)).map(|f| f.0).collect::<Vec<_>>(),
    })
}

