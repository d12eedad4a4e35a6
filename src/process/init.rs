//! The container's init, from the clone to the user's program: an ordered list of named
//! steps. A failing step reports `<step>: <error>` to the runtime and the init exits, so
//! the runtime can clean up and print one clear line.

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI32, Ordering};

use anyhow::{Context, Result};
use nix::sched::CloneFlags;
use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};

use super::channel::{Channel, Msg};
use super::console::{self, Pty};
use super::setup::{self, Program};
use super::{exec_fifo, fds, InitArgs, StartGate};
use crate::hooks;
use crate::namespaces::{self, Plan};
use crate::rootfs::{self, resolve, RootfsCtx};
use crate::security::procfs::ProcFs;
use crate::security::seccomp::Stage;

/// The init's working state, built up step by step.
pub struct Init<'a> {
    pub args: InitArgs<'a>,
    pub chan: Channel,
    pub plan: Plan,
    pub proc: ProcFs,
    pty: Option<Pty>,
    program: Option<Program>,
}

type Step = (&'static str, fn(&mut Init) -> Result<()>);

/// The steps, in order. The seccomp filter is loaded at one of its three places (see
/// [`Stage`]): as late as the config allows.
const STEPS: &[Step] = &[
    ("wait for the runtime", wait_for_runtime),
    ("join the cgroups", |i| {
        crate::cgroups::join_self(&std::mem::take(&mut i.args.cgroup_join))
    }),
    ("user namespace", become_userns_root),
    ("cgroup namespace", cgroup_namespace),
    ("hostname", |i| namespaces::set_hostname(i.args.spec)),
    ("linux.personality", set_personality),
    ("rootfs", prepare_rootfs),
    ("createRuntime hooks", runtime_hooks),
    ("createContainer hooks", create_container_hooks),
    ("pivot_root", |i| {
        rootfs::pivot(i.args.rootfs, i.args.no_pivot)
    }),
    ("console", console_step),
    ("rootfs", finalize_rootfs),
    ("sysctl", |i| namespaces::apply_sysctl(i.args.spec, &i.proc)),
    ("session keyring", session_keyring),
    ("process", |i| {
        setup::apply_privileged(i.args.process, &i.proc)
    }),
    ("linux.seccomp", |i| seccomp(i, Stage::Privileged)),
    ("process", |i| {
        setup::drop_privileges(i.args.process, &i.proc)
    }),
    ("process.cwd", |i| setup::enter_cwd(i.args.process)),
    ("process.args", find_program),
    ("linux.seccomp", |i| seccomp(i, Stage::Handoff)),
    ("close descriptors", close_descriptors),
    ("report created", report_created),
    ("wait for start", wait_for_start),
    ("startContainer hooks", start_container_hooks),
    ("linux.seccomp", |i| seccomp(i, Stage::Exec)),
];

/// Runs the init to the user's program; never returns.
pub fn run(args: InitArgs, chan: Channel, plan: Plan, proc: ProcFs) -> ! {
    // Until it execs, the init runs the runtime's binary: keep other processes (the
    // container's included) out of its /proc entries.
    let _ = nix::sys::prctl::set_dumpable(false);
    crate::logging::container_side();
    let mut init = Init {
        args,
        chan,
        plan,
        proc,
        pty: None,
        program: None,
    };
    let debug = crate::logging::debug_enabled();
    let mut created = false;
    for (name, step) in STEPS {
        let t = debug.then(std::time::Instant::now);
        if let Err(e) = step(&mut init) {
            let msg = format!("{name}: {e:#}");
            if created {
                // After `start` (a startContainer hook, the seccomp filter) no runtime
                // listens: the container's stderr is where the user looks, as for exec.
                eprintln!("xrun: {msg}");
                // SAFETY: _exit is always safe; skip Rust's exit machinery in this process.
                unsafe { libc::_exit(1) }
            }
            fail(&init.chan, &msg);
        }
        created |= *name == "report created";
        if let Some(t) = t {
            crate::logging::debug(&format!("init step {name:?} took {:?}", t.elapsed()));
        }
    }
    let prog = init.program.take().expect("program resolved before exec");
    let err = setup::exec(&prog);
    // The runtime is gone when a created container fails to exec; tell the container's
    // stderr, which is where the user looks.
    eprintln!("xrun: {err:#}");
    // SAFETY: _exit is always safe; skip Rust's exit machinery in this forked process.
    unsafe { libc::_exit(127) }
}

fn fail(chan: &Channel, msg: &str) -> ! {
    let _ = chan.send(&Msg::Error {
        msg: msg.to_string(),
    });
    // SAFETY: as above.
    unsafe { libc::_exit(1) }
}

fn wait_for_runtime(i: &mut Init) -> Result<()> {
    i.chan.expect(Msg::Continue)
}

/// Inside a user namespace the init still carries the host ids it was cloned with, which the
/// namespace does not map; become its root so files it creates have an owner there.
fn become_userns_root(i: &mut Init) -> Result<()> {
    if i.plan.has(CloneFlags::CLONE_NEWUSER) {
        crate::security::user::become_root()?;
    }
    Ok(())
}

fn set_personality(i: &mut Init) -> Result<()> {
    match i
        .args
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.personality().as_ref())
    {
        Some(p) => crate::security::sched::set_personality(p),
        None => Ok(()),
    }
}

fn cgroup_namespace(i: &mut Init) -> Result<()> {
    if i.plan.new.contains(CloneFlags::CLONE_NEWCGROUP) {
        nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP)?;
    }
    Ok(())
}

fn prepare_rootfs(i: &mut Init) -> Result<()> {
    let ctx = RootfsCtx {
        spec: i.args.spec,
        rootfs: i.args.rootfs,
        bundle: i.args.bundle,
        userns: i.plan.has(CloneFlags::CLONE_NEWUSER),
        netns: i.plan.has(CloneFlags::CLONE_NEWNET),
        cgroupns: i.plan.has(CloneFlags::CLONE_NEWCGROUP),
        cgroups: i.args.cgroup_mounts,
    };
    let root = rootfs::prepare(&ctx)?;
    // runc creates a missing cwd, as root, before pivot_root.
    resolve::create_in_root(root.as_raw_fd(), i.args.process.cwd(), resolve::Kind::Dir)
        .context("process.cwd")?;
    Ok(())
}

fn runtime_hooks(i: &mut Init) -> Result<()> {
    let h = i.args.spec.hooks().as_ref();
    if hooks::has(h, hooks::Kind::Prestart) || hooks::has(h, hooks::Kind::CreateRuntime) {
        i.chan.send(&Msg::RunRuntimeHooks)?;
        i.chan.expect(Msg::Continue)?;
    }
    Ok(())
}

fn create_container_hooks(i: &mut Init) -> Result<()> {
    run_own_hooks(i, hooks::Kind::CreateContainer)
}

fn start_container_hooks(i: &mut Init) -> Result<()> {
    run_own_hooks(i, hooks::Kind::StartContainer)
}

/// Hooks that run inside the container's namespaces, as children of the init.
fn run_own_hooks(i: &Init, kind: hooks::Kind) -> Result<()> {
    let h = i.args.spec.hooks().as_ref();
    if !hooks::has(h, kind) {
        return Ok(());
    }
    let state = serde_json::json!({
        "ociVersion": i.args.spec.version(),
        "id": i.args.id,
        "status": if kind == hooks::Kind::StartContainer { "created" } else { "creating" },
        "pid": i.proc.read("self/stat").ok().and_then(|s| s.split(' ').next().and_then(|p| p.parse::<i32>().ok())).unwrap_or(0),
        "bundle": i.args.bundle,
        "annotations": i.args.spec.annotations().clone().unwrap_or_default(),
    });
    hooks::run(h, kind, &state.to_string())
}

fn console_step(i: &mut Init) -> Result<()> {
    if !i.args.process.terminal().unwrap_or(false) {
        return Ok(());
    }
    let size = i
        .args
        .process
        .console_size()
        .map(|b| (b.height() as u16, b.width() as u16));
    let pty = console::open_pty(size)?;
    // /dev/console shows the pty slave; bound from its descriptor onto a plain file that is
    // not reached through a symlink (CVE-2025-52565).
    let root = crate::syscall::openat2(
        libc::AT_FDCWD,
        std::path::Path::new("/"),
        libc::O_PATH | libc::O_DIRECTORY,
        0,
        0,
    )?;
    let target = rootfs::mounts::no_symlink(
        &root,
        std::path::Path::new("/dev/console"),
        resolve::Kind::File,
    )?;
    let tree =
        crate::syscall::open_tree_clone(pty.slave.as_raw_fd(), std::path::Path::new(""), false)
            .context("clone pty slave")?;
    crate::syscall::move_mount_to_fd(&tree, &target).context("bind /dev/console")?;
    match &i.args.console_socket {
        Some(sock) => console::send_master(sock, &pty)?,
        None => i
            .chan
            .send_with_fd(&Msg::Console, Some(pty.master.as_raw_fd()))?,
    }
    console::become_session_leader_on(&pty.slave)?;
    i.pty = Some(pty);
    Ok(())
}

fn finalize_rootfs(i: &mut Init) -> Result<()> {
    rootfs::finalize(i.args.spec)
}

fn session_keyring(i: &mut Init) -> Result<()> {
    if i.args.no_new_keyring {
        return Ok(());
    }
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    let name = std::ffi::CString::new(format!("_ses.{}", i.args.id))?;
    // SAFETY: name outlives the call.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        // Kernels without keyrings: nothing to isolate.
        if e.raw_os_error() != Some(libc::ENOSYS) {
            return Err(e).context("join a new session keyring");
        }
    }
    Ok(())
}

fn seccomp(i: &mut Init, stage: Stage) -> Result<()> {
    match i.args.seccomp {
        Some(s) => s.apply(stage, setup::no_new_privs(i.args.process), &i.proc),
        None => Ok(()),
    }
}

fn find_program(i: &mut Init) -> Result<()> {
    let mut extra = Vec::new();
    fds::listen_env(i.args.extra_fds.listen, &mut extra);
    i.program = Some(setup::resolve_program(i.args.process, &extra)?);
    Ok(())
}

/// Nothing of the runtime may reach the container's program (CVE-2024-21626): close what
/// the init no longer needs now, mark the rest close-on-exec.
fn close_descriptors(i: &mut Init) -> Result<()> {
    let mut keep = vec![i.chan.raw_fd()];
    if let StartGate::Fifo(f) = &i.args.start {
        keep.push(f.as_raw_fd());
    }
    let n = i.args.extra_fds.total;
    fds::close_all_except(n, &keep)?;
    crate::syscall::cloexec_from(3 + n).context("mark descriptors close-on-exec")?;
    fds::keep_across_exec(n)
}

fn report_created(i: &mut Init) -> Result<()> {
    // From now on a signal may come to end the waiting init: catch them before saying so.
    let handler = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in Signal::iterator() {
        if !matches!(
            sig,
            Signal::SIGKILL
                | Signal::SIGSTOP
                | Signal::SIGCHLD
                | Signal::SIGWINCH
                | Signal::SIGURG
                | Signal::SIGCONT
        ) {
            // SAFETY: the handler only stores to an atomic.
            let _ = unsafe { signal::sigaction(sig, &handler) };
        }
    }
    i.chan.send(&Msg::Created)
}

static SIGNALLED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    SIGNALLED.store(sig, Ordering::SeqCst);
}

/// A created container's init that is sent a signal ends as if the signal had killed it. As
/// pid 1 of its namespace it would otherwise ignore every signal without a handler.
pub fn exit_if_signalled() {
    let sig = SIGNALLED.load(Ordering::SeqCst);
    if sig != 0 {
        // SAFETY: _exit is always safe.
        unsafe { libc::_exit(128 + sig) }
    }
}

fn wait_for_start(i: &mut Init) -> Result<()> {
    let res = match &i.args.start {
        StartGate::Fifo(f) => exec_fifo::wait_for_start(f),
        StartGate::Channel => i.chan.expect(Msg::Start),
    };
    exit_if_signalled();
    res
}
