//! Driven by containerd's runc shim (io.containerd.runc.v2 with xrun as its runtime binary),
//! exactly as a containerd installation would call it: run, detached run, exec, kill, a tty.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use common::*;

/// A private containerd (own root, state and sockets), stopped on drop.
struct Containerd {
    dir: tempfile::TempDir,
    daemon: Child,
}

impl Containerd {
    fn start() -> Containerd {
        let dir = tempfile::Builder::new()
            .prefix("xrun-ctd.")
            .tempdir()
            .unwrap();
        let d = dir.path();
        let config = format!(
            "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{0}/c.sock\"\n[ttrpc]\n  address = \"{0}/t.sock\"\n",
            d.display()
        );
        std::fs::write(d.join("config.toml"), config).unwrap();
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(d.join("config.toml"))
            .stdout(std::fs::File::create(d.join("log")).unwrap())
            .stderr(std::fs::File::create(d.join("err")).unwrap())
            .spawn()
            .expect("containerd is missing: install it with make deps");
        let c = Containerd { dir, daemon };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !c.ctr(&["version"]).status.success() {
            assert!(Instant::now() < deadline, "containerd did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        c
    }

    fn ctr(&self, args: &[&str]) -> Output {
        let sock = self.dir.path().join("c.sock");
        Command::new("ctr")
            .arg("-a")
            .arg(sock)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }

    fn ctr_ok(&self, args: &[&str]) -> String {
        let o = self.ctr(args);
        assert!(
            o.status.success(),
            "ctr {args:?}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        stdout(&o)
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Tasks left by a failed test: kill and delete them, so their shims exit.
        let tasks = stdout(&self.ctr(&["task", "ls", "-q"]));
        for t in tasks.split_whitespace() {
            let _ = self.ctr(&["task", "kill", "-s", "KILL", t]);
            std::thread::sleep(Duration::from_millis(200));
            let _ = self.ctr(&["task", "rm", "-f", t]);
        }
        for c in stdout(&self.ctr(&["c", "ls", "-q"])).split_whitespace() {
            let _ = self.ctr(&["c", "rm", c]);
        }
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

fn rootfs(env: &Env) -> PathBuf {
    let r = env.dir.path().join("ctd-rootfs");
    busybox_rootfs(&r);
    r
}

#[test]
fn containerd_shim_drives_xrun() {
    let env = Env::new();
    let c = Containerd::start();
    let r = rootfs(&env);
    let rt = ["--runc-binary", XRUN, "--rootfs", r.to_str().unwrap()];

    // Foreground run with exit status.
    let mut a = vec!["run", "--rm"];
    a.extend(rt);
    a.extend(["fg", "sh", "-c", "echo hello from containerd; exit 3"]);
    let o = c.ctr(&a);
    assert_eq!(stdout(&o), "hello from containerd\n");
    assert_eq!(o.status.code(), Some(3));

    // Detached run, exec into it, kill, delete.
    let mut a = vec!["run", "-d"];
    a.extend(rt);
    a.extend(["bg", "sleep", "1000"]);
    c.ctr_ok(&a);
    assert!(c.ctr_ok(&["task", "ls"]).contains("RUNNING"));
    let out = c.ctr_ok(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        "bg",
        "sh",
        "-c",
        "cat /proc/1/comm",
    ]);
    assert_eq!(out, "sleep\n");
    c.ctr_ok(&["task", "kill", "-s", "KILL", "bg"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !c.ctr_ok(&["task", "ls"]).contains("STOPPED") {
        assert!(Instant::now() < deadline, "task did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
    c.ctr_ok(&["task", "rm", "bg"]);
    c.ctr_ok(&["c", "rm", "bg"]);

    // A terminal: ctr needs one itself, so it runs under script(1).
    let cmd = format!(
        "ctr -a {} run --rm -t --runc-binary {XRUN} --rootfs {} tty sh -c 'tty; echo with-tty'",
        c.dir.path().join("c.sock").display(),
        r.display()
    );
    let o = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = stdout(&o);
    assert!(
        text.contains("/dev/pts/0") && text.contains("with-tty"),
        "{text}"
    );

    // Nothing is left in xrun's state root that containerd used.
    let xrun_root = c.dir.path().join("state/io.containerd.runtime.v2.task");
    assert_eq!(
        std::fs::read_dir(xrun_root.join("default"))
            .map(|d| d.count())
            .unwrap_or(0),
        0
    );
}
