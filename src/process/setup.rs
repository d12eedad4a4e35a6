//! The per-process steps the init and `exec` share, in the order they must run: privileged
//! settings first (rlimits, oom score, io priority, scheduler, LSM labels), then the
//! bounding set, the user change, the capability sets and no_new_privs, then the working
//! directory and the program. The seccomp filter is loaded before the capabilities are
//! dropped without no_new_privs, and right before the program runs with it (see
//! `security::seccomp::Stage`).

use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use oci_spec::runtime::Process;

use crate::rootfs::resolve;
use crate::security::procfs::ProcFs;
use crate::security::{capabilities, lsm, rlimits, sched, user};

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Settings that need the runtime's privileges; run before the user change.
pub fn apply_privileged(p: &Process, proc: &ProcFs) -> Result<()> {
    if let Some(limits) = p.rlimits() {
        rlimits::apply(limits).context("rlimits")?;
    }
    if let Some(adj) = p.oom_score_adj() {
        proc.write("self/oom_score_adj", &adj.to_string())
            .context("oomScoreAdj")?;
    }
    if let Some(io) = p.io_priority() {
        sched::set_io_priority(io).context("ioPriority")?;
    }
    if let Some(s) = p.scheduler() {
        sched::set_scheduler(s).context("scheduler")?;
    }
    lsm::set_exec_labels(
        proc,
        p.apparmor_profile().as_deref(),
        p.selinux_label().as_deref(),
    )?;
    Ok(())
}

/// Bounding set, user and groups, capability sets, no_new_privs.
pub fn drop_privileges(p: &Process, proc: &ProcFs) -> Result<()> {
    // No capabilities section means no capabilities, as with runc.
    let caps = match p.capabilities() {
        Some(c) => c.clone(),
        None => serde_json::from_str("{}")?,
    };
    capabilities::drop_bounding(&caps).context("capabilities")?;
    let setgroups_allowed = proc
        .read("self/setgroups")
        .map(|s| s.trim() != "deny")
        .unwrap_or(true);
    user::switch(p.user(), setgroups_allowed).context("user")?;
    capabilities::apply(&caps).context("capabilities")?;
    if no_new_privs(p) {
        nix::sys::prctl::set_no_new_privs().context("noNewPrivileges")?;
    }
    Ok(())
}

pub fn no_new_privs(p: &Process) -> bool {
    p.no_new_privileges().unwrap_or(false)
}

/// Changes into `process.cwd`, resolved inside the container's root: never through a magic
/// link such as /proc/self/fd/N to a directory of the runtime (CVE-2024-21626).
pub fn enter_cwd(p: &Process) -> Result<()> {
    let root = crate::syscall::openat2(
        libc::AT_FDCWD,
        Path::new("/"),
        libc::O_PATH | libc::O_DIRECTORY,
        0,
        0,
    )
    .context("open /")?;
    let cwd =
        resolve::open_in_root_with(root.as_raw_fd(), p.cwd(), libc::O_PATH | libc::O_DIRECTORY)
            .with_context(|| format!("process.cwd {}", p.cwd().display()))?;
    nix::unistd::fchdir(&cwd).with_context(|| format!("process.cwd {}: chdir", p.cwd().display()))
}

/// The program to execute, with its argv and environment.
pub struct Program {
    pub exe: CString,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
}

/// Finds `args[0]` (through the process's own PATH when it has no slash) and checks it is
/// executable by the process, so a missing program fails `create`, not `start`.
pub fn resolve_program(p: &Process, extra_env: &[String]) -> Result<Program> {
    let args = p.args().as_deref().unwrap_or_default();
    let name = args.first().context("process.args is empty")?;
    let mut env: Vec<String> = p.env().clone().unwrap_or_default();
    env.extend(extra_env.iter().cloned());
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", home_of(p.user().uid())));
    }
    let path_var = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    let exe = find_executable(name, path_var)?;
    let cs = |s: &str| CString::new(s).with_context(|| format!("{s:?} contains a NUL byte"));
    Ok(Program {
        exe: CString::new(exe.as_os_str().as_bytes())?,
        argv: args.iter().map(|a| cs(a)).collect::<Result<_>>()?,
        envp: env.iter().map(|e| cs(e)).collect::<Result<_>>()?,
    })
}

fn find_executable(name: &str, path_var: &str) -> Result<PathBuf> {
    let executable =
        |p: &Path| nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).is_ok() && !p.is_dir();
    if name.contains('/') {
        let p = PathBuf::from(name);
        if executable(&p) {
            return Ok(p);
        }
        let why = if p.exists() {
            "permission denied"
        } else {
            "no such file or directory"
        };
        bail!("exec: {name:?}: {why}");
    }
    for dir in path_var.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let p = Path::new(dir).join(name);
        if executable(&p) {
            return Ok(p);
        }
    }
    bail!("exec: {name:?}: executable file not found in $PATH")
}

/// The home directory of `uid` from the container's /etc/passwd, or `/`.
fn home_of(uid: u32) -> String {
    let Ok(passwd) = std::fs::read_to_string("/etc/passwd") else {
        return "/".into();
    };
    passwd
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[5].to_string())
        })
        .next()
        .unwrap_or_else(|| "/".into())
}

/// Replaces this process with the program. Returns only on failure.
pub fn exec(prog: &Program) -> anyhow::Error {
    // Signals blocked or caught by the runtime must not leak into the container's process.
    let empty = nix::sys::signal::SigSet::empty();
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&empty),
        None,
    );
    match nix::unistd::execve(&prog.exe, &prog.argv, &prog.envp) {
        Err(e) => anyhow::anyhow!("exec {:?}: {e}", prog.exe),
        Ok(never) => match never {},
    }
}
