//! Shared helpers for the integration tests: a private state root, busybox bundles built from
//! Debian's static busybox, and cleanup of every container a test made, even when it fails.
//!
//! The tests run as root (they make real containers). Each container's cgroups go under the
//! test process's own cgroup (a relative `cgroupsPath`), never elsewhere on the host.
#![allow(dead_code)]

pub mod differential;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{json, Value};

pub const XRUN: &str = env!("CARGO_BIN_EXE_xrun");
pub const BUSYBOX: &str = "/bin/busybox";

/// Busybox applets linked into test root filesystems.
const APPLETS: &[&str] = &[
    "sh",
    "true",
    "false",
    "echo",
    "cat",
    "ls",
    "id",
    "hostname",
    "mount",
    "ps",
    "sleep",
    "env",
    "pwd",
    "readlink",
    "stat",
    "grep",
    "head",
    "touch",
    "mkdir",
    "test",
    "kill",
    "wc",
    "ulimit",
    "umask",
    "dd",
    "rm",
    "ln",
    "chmod",
    "tty",
    "stty",
    "nproc",
    "uname",
    "domainname",
    "sysctl",
];

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A test's private world: a temp dir holding the state root and the bundles.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    /// Prefix of the relative cgroupsPath of this test's containers.
    pub cgroup_prefix: String,
    /// The runtime binary the test drives: xrun, or runc for the differential tests.
    pub runtime: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        Env::with_runtime(Path::new(XRUN))
    }

    /// A test world whose commands run `runtime` (a runc-compatible binary) instead of xrun.
    pub fn with_runtime(runtime: &Path) -> Env {
        assert!(
            nix::unistd::geteuid().is_root(),
            "integration tests make containers and must run as root"
        );
        assert!(
            Path::new(BUSYBOX).exists(),
            "{BUSYBOX} is missing: install busybox-static (make deps)"
        );
        let dir = tempfile::Builder::new()
            .prefix("xrun-test.")
            .tempdir()
            .unwrap();
        let root = dir.path().join("state");
        Env {
            root,
            cgroup_prefix: format!(
                "xrun-test-{}-{}",
                std::process::id(),
                SEQ.fetch_add(1, Ordering::SeqCst)
            ),
            dir,
            runtime: runtime.to_path_buf(),
        }
    }

    /// A unique container id for this test.
    pub fn id(&self, name: &str) -> String {
        format!(
            "{name}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        )
    }

    /// Runs `<runtime> --root <state> ARGS` and returns its output once it exits.
    ///
    /// Output goes through files, not pipes: a created container's init keeps the stdio it
    /// was given (that is the container's stdio), so waiting for end-of-file on a pipe would
    /// wait for the container.
    pub fn xrun(&self, args: &[&str]) -> Output {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let (o, e) = (
            self.dir.path().join(format!(".out{n}")),
            self.dir.path().join(format!(".err{n}")),
        );
        let status = self
            .cmd(args)
            .stdout(std::fs::File::create(&o).unwrap())
            .stderr(std::fs::File::create(&e).unwrap())
            .status()
            .expect("run xrun");
        let out = Output {
            status,
            stdout: std::fs::read(&o).unwrap(),
            stderr: std::fs::read(&e).unwrap(),
        };
        let _ = std::fs::remove_file(o);
        let _ = std::fs::remove_file(e);
        out
    }

    /// The command, for tests that need to set stdio themselves.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.runtime);
        c.arg("--root").arg(&self.root).args(args);
        c.stdin(Stdio::null());
        c
    }

    /// Runs xrun and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.xrun(args);
        assert!(
            out.status.success(),
            "xrun {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs xrun and asserts failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.xrun(args);
        assert!(
            !out.status.success(),
            "xrun {args:?} unexpectedly succeeded:\nstdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    /// `state` parsed as JSON.
    pub fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).unwrap()
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap().to_string()
    }

    /// A busybox bundle whose config is runc's default with `edit` applied. The process
    /// runs without a terminal and the container's cgroup is nested under ours.
    pub fn bundle(&self, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
        let b = self.dir.path().join(format!("bundle-{name}"));
        busybox_rootfs(&b.join("rootfs"));
        let mut spec = default_spec();
        spec["process"]["terminal"] = json!(false);
        spec["linux"]["cgroupsPath"] = json!(format!("{}/{name}", self.cgroup_prefix));
        edit(&mut spec);
        write_spec(&b, &spec);
        b
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // Remove every container this test left, whatever state it is in.
        if let Ok(entries) = std::fs::read_dir(&self.root) {
            for e in entries.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                if id.starts_with('.') {
                    continue;
                }
                let _ = self.xrun(&["delete", "--force", &id]);
            }
        }
        remove_test_cgroups(&self.cgroup_prefix);
    }
}

/// The cgroup directories xrun gives a container whose `cgroupsPath` is `path`, as its own
/// placement rules resolve them (nothing is created); `None` when they cannot be resolved.
pub fn cgroup_dirs(path: &str) -> Option<Vec<PathBuf>> {
    let host = xrun::cgroups::host::Host::detect().ok()?;
    let r = xrun::cgroups::placement::resolve(&host, Some(Path::new(path)), "x").ok()?;
    Some(
        r.v2.into_iter()
            .chain(r.v1.into_iter().map(|d| d.dir))
            .chain(r.unified)
            .collect(),
    )
}

/// Removes this test's cgroup directories (deepest first) in every hierarchy.
fn remove_test_cgroups(prefix: &str) {
    for d in cgroup_dirs(prefix).unwrap_or_default() {
        remove_tree(&d);
    }
}

fn remove_tree(p: &Path) {
    if let Ok(entries) = std::fs::read_dir(p) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(p);
}

/// Adds a user namespace mapping container ids 0-65535 to host ids 100000-165535.
pub fn userns(s: &mut Value) {
    s["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    s["linux"]["uidMappings"] = map.clone();
    s["linux"]["gidMappings"] = map;
}

/// runc's default config, as `xrun spec` writes it.
pub fn default_spec() -> Value {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(XRUN)
        .args(["spec", "--bundle"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap()).unwrap()
}

pub fn write_spec(bundle: &Path, spec: &Value) {
    std::fs::create_dir_all(bundle).unwrap();
    std::fs::write(
        bundle.join("config.json"),
        serde_json::to_vec_pretty(spec).unwrap(),
    )
    .unwrap();
}

/// A minimal root filesystem: static busybox and its applets, /etc/passwd and /etc/group.
pub fn busybox_rootfs(rootfs: &Path) {
    for d in ["bin", "etc", "tmp", "proc", "sys", "dev", "root"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::copy(BUSYBOX, rootfs.join("bin/busybox")).unwrap();
    for a in APPLETS {
        let _ = symlink("busybox", rootfs.join("bin").join(a));
    }
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(
        rootfs.join("etc/group"),
        "root:x:0:\nnogroup:x:65534:\nuser:x:1000:\n",
    )
    .unwrap();
}

/// Sets `process.args`.
pub fn args(spec: &mut Value, a: &[&str]) {
    spec["process"]["args"] = json!(a);
}

/// `sh -c SCRIPT` as the process.
pub fn sh(spec: &mut Value, script: &str) {
    args(spec, &["/bin/sh", "-c", script]);
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A `--console-socket` listener, like containerd's shim: receives the pty master that xrun
/// sends (SCM_RIGHTS) and returns it with the message payload (the pts name).
pub struct ConsoleSocket {
    pub path: PathBuf,
    listener: std::os::unix::net::UnixListener,
}

impl ConsoleSocket {
    pub fn new(env: &Env, name: &str) -> ConsoleSocket {
        let path = env.dir.path().join(format!("{name}.sock"));
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        ConsoleSocket { path, listener }
    }

    /// Accepts one connection and receives the master (blocks).
    pub fn receive(&self) -> (std::fs::File, String) {
        let (conn, _) = self.listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let (n, fd) = recv_with_fd(&conn, &mut buf);
        let name = String::from_utf8_lossy(&buf[..n]).into_owned();
        let file = std::fs::File::from(fd.expect("no fd received"));
        (file, name)
    }
}

/// One `recvmsg` on `conn`: the bytes read into `buf` and the descriptor that came with them.
pub fn recv_with_fd(
    conn: &impl std::os::fd::AsRawFd,
    buf: &mut [u8],
) -> (usize, Option<std::os::fd::OwnedFd>) {
    use std::os::fd::FromRawFd;
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = nix::sys::socket::recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        nix::sys::socket::MsgFlags::empty(),
    )
    .unwrap();
    let mut fd = None;
    for c in msg.cmsgs().unwrap() {
        if let nix::sys::socket::ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the descriptor was just received and is owned by nobody else.
            fd = fds
                .first()
                .map(|f| unsafe { std::os::fd::OwnedFd::from_raw_fd(*f) });
        }
    }
    (msg.bytes, fd)
}

/// Reads from a pty master until `want` appears or the other side closes (EIO).
pub fn read_pty_until(master: &mut std::fs::File, want: &str) -> String {
    use std::io::Read;
    let mut out = String::new();
    let mut buf = [0u8; 4096];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !out.contains(want) && std::time::Instant::now() < deadline {
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    out
}

/// An absolute cgroup path below this test process's own cgroup in every hierarchy, for
/// daemons (dockerd, podman) that take a `--cgroup-parent`. Where we sit at a hierarchy's
/// root anything is below us; everywhere else we must sit in the same cgroup.
pub fn own_cgroup_parent(name: &str) -> String {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let mut base: Option<&str> = None;
    for line in text.lines() {
        let path = line.splitn(3, ':').nth(2).unwrap_or("/");
        if path != "/" {
            assert!(
                base.is_none_or(|b| b == path),
                "this process sits in different cgroups per hierarchy ({text}); no single parent is below all"
            );
            base = Some(path);
        }
    }
    format!("{}/{name}", base.unwrap_or("").trim_end_matches('/'))
}

/// Removes the directories of an absolute cgroup path in every hierarchy (deepest first).
pub fn remove_cgroup_everywhere(path: &str) {
    let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for h in entries.flatten() {
        remove_tree(&h.path().join(path.trim_start_matches('/')));
    }
    remove_tree(&Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/')));
}

/// A root filesystem as a tar stream (for `docker import` / `podman import`).
pub fn rootfs_tar(rootfs: &Path, out: &Path) {
    let ok = Command::new("tar")
        .arg("-C")
        .arg(rootfs)
        .args(["-cf"])
        .arg(out)
        .arg(".")
        .status()
        .unwrap();
    assert!(ok.success());
}
