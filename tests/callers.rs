//! xrun as the runtime of Docker (dockerd 20.10 with `--add-runtime`) and Podman
//! (`--runtime`): the callers use it unchanged. (containerd: tests/containerd.rs.)
//!
//! Both daemons run privately (own data roots and sockets), put their containers' cgroups
//! under this test's own cgroup, and are stopped and cleaned up even when a test fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use common::*;

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(std::process::Stdio::null()).output().unwrap()
}

fn ok(cmd: &mut Command) -> String {
    let o = run(cmd);
    assert!(o.status.success(), "{cmd:?}: {}{}", stdout(&o), stderr(&o));
    stdout(&o)
}

struct Dockerd {
    dir: tempfile::TempDir,
    daemon: Child,
    cgroup_parent: String,
}

impl Dockerd {
    fn start() -> Dockerd {
        let dir = tempfile::Builder::new()
            .prefix("xrun-dockerd.")
            .tempdir()
            .unwrap();
        let d = dir.path();
        let cgroup_parent = own_cgroup_parent(&format!("xrun-test-docker-{}", std::process::id()));
        let daemon = Command::new("dockerd")
            .args(["--iptables=false", "--bridge=none", "--data-root"])
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--host")
            .arg(format!("unix://{}", d.join("docker.sock").display()))
            .arg("--pidfile")
            .arg(d.join("docker.pid"))
            .arg("--cgroup-parent")
            .arg(&cgroup_parent)
            .arg("--add-runtime")
            .arg(format!("xrun={XRUN}"))
            .stdout(std::fs::File::create(d.join("log")).unwrap())
            .stderr(std::fs::File::create(d.join("err")).unwrap())
            .spawn()
            .expect("dockerd is missing: install it with make deps");
        let dk = Dockerd {
            dir,
            daemon,
            cgroup_parent,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !run(&mut dk.docker(&["version"])).status.success() {
            assert!(Instant::now() < deadline, "dockerd did not come up");
            std::thread::sleep(Duration::from_millis(200));
        }
        dk
    }

    fn docker(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.env(
            "DOCKER_HOST",
            format!("unix://{}", self.dir.path().join("docker.sock").display()),
        )
        .args(args);
        c
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let ids = stdout(&run(&mut self.docker(&["ps", "-aq"])));
        for id in ids.split_whitespace() {
            let _ = run(&mut self.docker(&["rm", "-f", id]));
        }
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.daemon.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .ok();
        let _ = self.daemon.wait();
        unmount_below(self.dir.path());
        remove_cgroup_everywhere(&self.cgroup_parent);
    }
}

/// Unmounts whatever a daemon left mounted below `dir` (deepest first).
fn unmount_below(dir: &Path) {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut mps: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(PathBuf::from))
        .filter(|p| p.starts_with(dir))
        .collect();
    mps.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    for m in mps {
        let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
    }
}

#[test]
fn docker_runs_containers_with_xrun() {
    let env = Env::new();
    let dk = Dockerd::start();
    let rootfs = env.dir.path().join("img-rootfs");
    busybox_rootfs(&rootfs);
    let tar = env.dir.path().join("img.tar");
    rootfs_tar(&rootfs, &tar);
    ok(dk.docker(&["import"]).arg(&tar).arg("xrun-test:bb"));

    let out = ok(&mut dk.docker(&[
        "run",
        "--runtime",
        "xrun",
        "--rm",
        "xrun-test:bb",
        "sh",
        "-c",
        "echo hello from docker; exit 0",
    ]));
    assert_eq!(out, "hello from docker\n");
    let o = run(&mut dk.docker(&[
        "run",
        "--runtime",
        "xrun",
        "--rm",
        "xrun-test:bb",
        "sh",
        "-c",
        "exit 5",
    ]));
    assert_eq!(o.status.code(), Some(5));
    // Docker's default seccomp profile is applied (and everything here runs under it).
    let seccomp = |extra: &[&str]| {
        let mut a = vec!["run", "--runtime", "xrun", "--rm"];
        a.extend(extra);
        a.extend(["xrun-test:bb", "grep", "^Seccomp:", "/proc/self/status"]);
        ok(&mut dk.docker(&a))
    };
    assert_eq!(seccomp(&[]), "Seccomp:\t2\n");
    assert_eq!(
        seccomp(&["--security-opt", "seccomp=unconfined"]),
        "Seccomp:\t0\n"
    );

    // Detached, exec, top (ps), pause/unpause, resources, stop, rm.
    ok(&mut dk.docker(&[
        "run",
        "--runtime",
        "xrun",
        "-d",
        "--name",
        "bg",
        "--memory",
        "64m",
        "--pids-limit",
        "20",
        "xrun-test:bb",
        "sleep",
        "1000",
    ]));
    assert_eq!(
        ok(&mut dk.docker(&["exec", "bg", "cat", "/proc/1/comm"])),
        "sleep\n"
    );
    assert_eq!(
        ok(&mut dk.docker(&["exec", "bg", "grep", "^Seccomp:", "/proc/self/status"])),
        "Seccomp:\t2\n"
    );
    assert!(ok(&mut dk.docker(&["top", "bg"])).contains("sleep 1000"));
    ok(&mut dk.docker(&["pause", "bg"]));
    assert!(ok(&mut dk.docker(&["ps", "--format", "{{.Status}}"])).contains("Paused"));
    ok(&mut dk.docker(&["unpause", "bg"]));
    let limits = ok(&mut dk.docker(&[
        "exec",
        "bg",
        "cat",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        "/sys/fs/cgroup/pids/pids.max",
    ]));
    assert_eq!(limits, "67108864\n20\n");
    ok(&mut dk.docker(&["stop", "-t", "1", "bg"]));
    ok(&mut dk.docker(&["rm", "bg"]));

    // A terminal.
    let out = ok(&mut dk.docker(&[
        "run",
        "--runtime",
        "xrun",
        "--rm",
        "-t",
        "xrun-test:bb",
        "tty",
    ]));
    assert!(out.starts_with("/dev/pts/"), "{out:?}");
}

#[test]
fn podman_runs_containers_with_xrun() {
    let env = Env::new();
    let d = env.dir.path().join("podman");
    let cgroup_parent = own_cgroup_parent(&format!("xrun-test-podman-{}", std::process::id()));
    struct Cleanup(PathBuf, String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = run(Command::new("podman")
                .arg("--root")
                .arg(self.0.join("root"))
                .arg("--runroot")
                .arg(self.0.join("runroot"))
                .args(["system", "reset", "-f"]));
            unmount_below(&self.0);
            remove_cgroup_everywhere(&self.1);
        }
    }
    let _cleanup = Cleanup(d.clone(), cgroup_parent.clone());
    let podman = |args: &[&str]| {
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("runroot"))
            .args([
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "file",
                "--runtime",
                XRUN,
            ])
            .args(args);
        c
    };
    let rootfs = env.dir.path().join("img-rootfs");
    busybox_rootfs(&rootfs);
    let tar = env.dir.path().join("img.tar");
    rootfs_tar(&rootfs, &tar);
    ok(podman(&["import"]).arg(&tar).arg("xrun-test:bb"));
    // Podman's default limits (nofile 1M, nproc 1M) would need CAP_SYS_RESOURCE here.
    let common = [
        "--net=none",
        "--ulimit",
        "nofile=20000:20000",
        "--ulimit",
        "nproc=4096:4096",
        "--cgroup-parent",
        &cgroup_parent,
    ];
    let mut a = vec!["run", "--rm"];
    a.extend(common);
    a.extend(["xrun-test:bb", "sh", "-c", "echo hello from podman"]);
    assert_eq!(ok(&mut podman(&a)), "hello from podman\n");
    let mut a = vec!["run", "-d", "--name", "bg"];
    a.extend(common);
    a.extend(["xrun-test:bb", "sleep", "1000"]);
    ok(&mut podman(&a));
    assert_eq!(
        ok(&mut podman(&["exec", "bg", "cat", "/proc/1/comm"])),
        "sleep\n"
    );
    assert_eq!(
        ok(&mut podman(&[
            "exec",
            "bg",
            "grep",
            "^Seccomp:",
            "/proc/self/status"
        ])),
        "Seccomp:\t2\n"
    );
    ok(&mut podman(&["pause", "bg"]));
    ok(&mut podman(&["unpause", "bg"]));
    ok(&mut podman(&["rm", "-f", "-t", "0", "bg"]));
}
