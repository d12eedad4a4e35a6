//! Helpers for the cgroup tests: where a container's cgroup files are on the host, for
//! either cgroup version, found from its init's /proc/<pid>/cgroup.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;
use xrun::cgroups::host::{parse_proc_cgroup, Host, ROOT};

use super::common::Env;

pub fn host() -> Host {
    Host::detect().unwrap()
}

pub fn is_v2() -> bool {
    host().is_v2()
}

/// The host directory of `pid`'s cgroup that holds `controller` (any on v2).
pub fn dir(pid: i32, controller: &str) -> PathBuf {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let map = parse_proc_cgroup(&text);
    match host() {
        Host::V2 => PathBuf::from(ROOT).join(map[""].trim_start_matches('/')),
        h => {
            let m = h
                .v1_mount(controller)
                .unwrap_or_else(|| panic!("no {controller} hierarchy"));
            m.mount_point.join(map[&m.options].trim_start_matches('/'))
        }
    }
}

/// The trimmed content of a cgroup file of the container whose init is `pid`.
pub fn read(pid: i32, controller: &str, file: &str) -> String {
    let p = dir(pid, controller).join(file);
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

pub fn init_pid(env: &Env, id: &str) -> i32 {
    env.state(id)["pid"].as_i64().unwrap() as i32
}

/// `run -d` of a bundle; returns the container id and its init pid.
pub fn run_detached(env: &Env, name: &str, edit: impl FnOnce(&mut Value)) -> (String, i32) {
    let b = env.bundle(name, edit);
    let id = env.id(name);
    env.ok(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]);
    let pid = init_pid(env, &id);
    (id, pid)
}

pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every directory the container's cgroups have, in every hierarchy (for cleanup checks).
pub fn all_dirs(pid: i32) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let map = parse_proc_cgroup(&text);
    match host() {
        Host::V2 => vec![dir(pid, "")],
        Host::V1 { mounts, unified } => {
            let mut v: Vec<PathBuf> = mounts
                .iter()
                .filter_map(|m| {
                    Some(
                        m.mount_point
                            .join(map.get(&m.options)?.trim_start_matches('/')),
                    )
                })
                .collect();
            if let (Some(u), Some(p)) = (unified, map.get("")) {
                v.push(u.join(p.trim_start_matches('/')));
            }
            v
        }
    }
}

/// A loop device over a file of the test, detached when dropped.
pub struct LoopDev(pub String);

impl LoopDev {
    pub fn new(env: &Env) -> Option<LoopDev> {
        let file = env.dir.path().join("disk");
        std::fs::File::create(&file)
            .unwrap()
            .set_len(8 << 20)
            .unwrap();
        let o = std::process::Command::new("losetup")
            .args(["-f", "--show"])
            .arg(&file)
            .output()
            .ok()?;
        o.status
            .success()
            .then(|| LoopDev(String::from_utf8_lossy(&o.stdout).trim().to_string()))
    }
}

impl Drop for LoopDev {
    fn drop(&mut self) {
        let _ = std::process::Command::new("losetup")
            .args(["-d", &self.0])
            .status();
    }
}
