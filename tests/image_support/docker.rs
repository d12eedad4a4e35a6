//! Real-world fixtures: image archives written by dockerd 20.10, podman and skopeo (built
//! once by tests/fixtures/docker-fixtures.sh and cached under target/, keyed by the content
//! of everything that goes into them), and a private dockerd for round trips.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{mounts_under, sha256};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/docker-fixtures.sh"
);
const DOCKERFILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/Dockerfile.app");
pub const DOCKER: &str = "/usr/local/bin/docker";

/// The fixture directory, built on first use (about 10 s), then reused across runs.
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let mut all = Vec::new();
        for f in [SCRIPT, DOCKERFILE, "/bin/busybox"] {
            all.extend(
                std::fs::read(f).unwrap_or_else(|e| panic!("{f}: {e} (run make image-deps)")),
            );
        }
        let key = &sha256(&all)[7..23];
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/image-fixtures")
            .join(key);
        if !dir.join("done").exists() {
            let out = Command::new("bash")
                .arg(SCRIPT)
                .arg(&dir)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "building fixtures failed (make image-deps installs dockerd, podman, skopeo):\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        dir
    })
}

/// A private dockerd (its own data root, exec root and socket; no iptables, no bridge),
/// stopped and cleaned up on drop.
pub struct Dockerd {
    child: Child,
    dir: tempfile::TempDir,
    /// Its containers' cgroups live below this test's own cgroup.
    cgroup_parent: String,
}

impl Dockerd {
    pub fn start() -> Dockerd {
        let dir = tempfile::Builder::new()
            .prefix("xrun-dockerd.")
            .tempdir_in("/var/tmp")
            .unwrap();
        let p = |n: &str| dir.path().join(n);
        let cgroup_parent =
            crate::common::own_cgroup_parent(&format!("xrun-test-dockerd-{}", std::process::id()));
        let child = Command::new("dockerd")
            .args(["--iptables=false", "--ip-masq=false", "--bridge=none"])
            .arg("--cgroup-parent")
            .arg(&cgroup_parent)
            .arg("--data-root")
            .arg(p("data"))
            .arg("--exec-root")
            .arg(p("exec"))
            .arg("--host")
            .arg(format!("unix://{}", p("docker.sock").display()))
            .arg("--pidfile")
            .arg(p("docker.pid"))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(p("dockerd.log")).unwrap())
            .stderr(std::fs::File::create(p("dockerd.err")).unwrap())
            .spawn()
            .expect("dockerd (make image-deps)");
        let d = Dockerd {
            child,
            dir,
            cgroup_parent,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !d.docker(&["version"]).status.success() {
            assert!(Instant::now() < deadline, "dockerd did not start");
            std::thread::sleep(Duration::from_millis(200));
        }
        d
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new(DOCKER)
            .arg("-H")
            .arg(format!(
                "unix://{}",
                self.dir.path().join("docker.sock").display()
            ))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.docker(args);
        assert!(
            o.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut m = mounts_under(self.dir.path());
        m.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for p in m {
            let _ = nix::mount::umount2(&p, nix::mount::MntFlags::MNT_DETACH);
        }
        crate::common::remove_cgroup_everywhere(&self.cgroup_parent);
    }
}
