//! `--systemd-cgroup` against a real systemd: the container's cgroup is a transient scope
//! (`slice:prefix:name` paths), its init is in it before `create` returns, the limits are
//! systemd's unit properties as well as the cgroup files (and survive `daemon-reload`),
//! pause/resume/ps/exec/update/kill --all work, and `delete` leaves no unit and no cgroup.
//! Plain cgroupfs paths (without the flag) still work beside systemd.
//!
//! These need systemd as PID 1 and make units in its system.slice, which a test must not do
//! to the host it runs on: they are ignored by `cargo test`, and `make test-cgroupv2` runs
//! them (`--include-ignored`) in a throwaway VM that boots systemd (`tests/vm/vm.sh
//! --systemd`). Without systemd, the clear error is checked by `cgroup_lifecycle`.

#[path = "support/cg.rs"]
mod cg;
mod common;

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::{json, Value};

/// A test's containers, made with `--systemd-cgroup`. Every unit a test names is stopped
/// and reset when the test ends, whatever happened to its containers.
struct Sd {
    env: Env,
    units: RefCell<Vec<String>>,
}

impl Sd {
    fn new() -> Sd {
        assert!(
            Path::new("/run/systemd/system").is_dir(),
            "systemd is not PID 1 here: these tests run in `tests/vm/vm.sh --systemd`"
        );
        Sd {
            env: Env::new(),
            units: RefCell::default(),
        }
    }

    /// A bundle running `sleep 100` whose cgroupsPath is `slice:xrun:<id>`; returns
    /// (bundle, id, unit).
    fn bundle_in(
        &self,
        slice: &str,
        name: &str,
        edit: impl FnOnce(&mut Value),
    ) -> (PathBuf, String, String) {
        let id = self.env.id(name);
        let path = format!("{slice}:xrun:{id}");
        let b = self.env.bundle(name, |s| {
            args(s, &["/bin/sleep", "100"]);
            s["linux"]["cgroupsPath"] = json!(path);
            edit(s)
        });
        let unit = format!("xrun-{id}.scope");
        self.cleanup(&unit);
        (b, id, unit)
    }

    fn bundle(&self, name: &str, edit: impl FnOnce(&mut Value)) -> (PathBuf, String, String) {
        self.bundle_in("system.slice", name, edit)
    }

    /// Stops and resets `unit` when the test ends.
    fn cleanup(&self, unit: &str) {
        self.units.borrow_mut().push(unit.to_string());
    }

    /// `xrun --systemd-cgroup ARGS`.
    fn xrun(&self, args: &[&str]) -> std::process::Output {
        let mut a = vec!["--systemd-cgroup"];
        a.extend_from_slice(args);
        self.env.xrun(&a)
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.xrun(args);
        assert!(o.status.success(), "xrun {args:?}: {}", stderr(&o));
        stdout(&o)
    }
}

impl Drop for Sd {
    fn drop(&mut self) {
        // The containers first (Env's own cleanup would come after this), then the units.
        for id in std::fs::read_dir(&self.env.root)
            .into_iter()
            .flatten()
            .flatten()
        {
            let id = id.file_name().to_string_lossy().into_owned();
            let _ = self.env.xrun(&["delete", "--force", &id]);
        }
        for unit in self.units.borrow().iter().rev() {
            for verb in ["stop", "reset-failed"] {
                let _ = Command::new("systemctl").args([verb, unit]).output();
            }
        }
    }
}

/// `systemctl show` of `unit`, as a map of the properties asked for.
fn show(unit: &str, props: &[&str]) -> HashMap<String, String> {
    let o = Command::new("systemctl")
        .args(["show", unit, "-p", &props.join(",")])
        .output()
        .expect("systemctl");
    assert!(o.status.success(), "systemctl show {unit}: {}", stderr(&o));
    stdout(&o)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn systemctl(args: &[&str]) {
    let o = Command::new("systemctl").args(args).output().unwrap();
    assert!(o.status.success(), "systemctl {args:?}: {}", stderr(&o));
}

fn scope_dir(unit: &str) -> PathBuf {
    Path::new("/sys/fs/cgroup/system.slice").join(unit)
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("read {}/{file}: {e}", dir.display()))
        .trim()
        .to_string()
}

/// The unit is gone from systemd (not loaded, not listed) and its cgroup is removed.
fn assert_gone(unit: &str) {
    assert_gone_from(unit, &scope_dir(unit));
}

fn assert_gone_from(unit: &str, dir: &Path) {
    let o = Command::new("systemctl")
        .args(["status", unit])
        .output()
        .unwrap();
    assert!(
        stderr(&o).contains("could not be found"),
        "systemctl status {unit}: {}{}",
        stdout(&o),
        stderr(&o)
    );
    assert_eq!(
        show(unit, &["LoadState"])["LoadState"],
        "not-found",
        "{unit}"
    );
    let o = Command::new("systemctl")
        .args(["list-units", "--all", "--no-legend", "--plain", unit])
        .output()
        .unwrap();
    assert!(
        !stdout(&o).contains(unit),
        "{unit} still listed: {}",
        stdout(&o)
    );
    assert!(!dir.exists(), "{} left behind", dir.display());
}

#[test]
#[ignore = "needs systemd as PID 1: run by `make test-cgroupv2` in a VM"]
fn scope_is_made_with_the_init_and_its_limits() {
    let sd = Sd::new();
    let res = json!({
        "memory": {"limit": 64 << 20, "swap": 96 << 20, "reservation": 16 << 20},
        "pids": {"limit": 20},
        "cpu": {"shares": 2048, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"}});
    let (b, id, unit) = sd.bundle("scope", |s| s["linux"]["resources"] = res);
    sd.ok(&["create", "--bundle", b.to_str().unwrap(), &id]);
    let pid = cg::init_pid(&sd.env, &id);
    // In the scope as soon as create returns (the job is done, not merely queued).
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert_eq!(own.trim(), format!("0::/system.slice/{unit}"));
    let p = show(
        &unit,
        &[
            "LoadState",
            "ActiveState",
            "Slice",
            "Delegate",
            "ControlGroup",
            "MemoryMax",
            "MemorySwapMax",
            "MemoryLow",
            "TasksMax",
            "CPUWeight",
            "CPUQuotaPerSecUSec",
            "AllowedCPUs",
            "AllowedMemoryNodes",
            "Description",
        ],
    );
    assert_eq!(p["LoadState"], "loaded");
    assert_eq!(p["ActiveState"], "active");
    assert_eq!(p["Slice"], "system.slice");
    assert_eq!(p["Delegate"], "yes");
    assert_eq!(p["ControlGroup"], format!("/system.slice/{unit}"));
    assert_eq!(p["MemoryMax"], (64u64 << 20).to_string());
    assert_eq!(p["MemorySwapMax"], (32u64 << 20).to_string());
    assert_eq!(p["MemoryLow"], (16u64 << 20).to_string());
    assert_eq!(p["TasksMax"], "20");
    assert_eq!(p["CPUWeight"], "79");
    assert_eq!(p["CPUQuotaPerSecUSec"], "500ms");
    assert_eq!(p["AllowedCPUs"], "0");
    assert_eq!(p["AllowedMemoryNodes"], "0");
    assert_eq!(p["Description"], format!("xrun container {id}"));
    let dir = scope_dir(&unit);
    assert!(read(&dir, "cgroup.procs")
        .lines()
        .any(|l| l == pid.to_string()));
    let limits = |dir: &Path| {
        assert_eq!(read(dir, "memory.max"), (64u64 << 20).to_string());
        assert_eq!(read(dir, "memory.swap.max"), (32u64 << 20).to_string());
        assert_eq!(read(dir, "memory.low"), (16u64 << 20).to_string());
        assert_eq!(read(dir, "pids.max"), "20");
        assert_eq!(read(dir, "cpu.weight"), "79");
        assert_eq!(read(dir, "cpu.max"), "50000 100000");
        assert_eq!(read(dir, "cpuset.cpus"), "0");
        assert_eq!(read(dir, "cpuset.mems"), "0");
    };
    limits(&dir);
    // Enforced: of 30 background processes, those past the 20th cannot be forked.
    let o = sd.xrun(&[
        "exec",
        &id,
        "/bin/sh",
        "-c",
        "i=0; while [ $i -lt 30 ]; do sleep 10 & i=$((i+1)); done",
    ]);
    assert!(stderr(&o).contains("can't fork"), "{}", stderr(&o));
    let current: u64 = read(&dir, "pids.current").parse().unwrap();
    assert!((18..=20).contains(&current), "{current}");
    let refused: u64 = read(&dir, "pids.events")
        .strip_prefix("max ")
        .unwrap()
        .parse()
        .unwrap();
    assert!(refused > 0);
    sd.env.ok(&["delete", "--force", &id]);
    assert_gone(&unit);
}

#[test]
#[ignore = "needs systemd as PID 1: run by `make test-cgroupv2` in a VM"]
fn pause_resume_ps_exec_and_update_in_the_scope() {
    let sd = Sd::new();
    let (b, id, unit) = sd.bundle("ops", |s| {
        sh(s, "sleep 100 & sleep 100 & wait");
        s["linux"]["resources"] = json!({"memory": {"limit": 64 << 20, "reservation": 16 << 20},
            "pids": {"limit": 20}, "cpu": {"shares": 2048},
            "unified": {"memory.high": (40 << 20).to_string()}});
        let ns = s["linux"]["namespaces"].as_array_mut().unwrap();
        ns.push(json!({"type": "cgroup"}));
    });
    sd.ok(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]);
    let pid = cg::init_pid(&sd.env, &id);
    let dir = scope_dir(&unit);
    cg::wait_until("three processes in the scope", || {
        read(&dir, "cgroup.procs").lines().count() == 3
    });
    let ps: Vec<i32> = serde_json::from_str(&sd.ok(&["ps", "--format", "json", &id])).unwrap();
    assert_eq!(ps.len(), 3, "{ps:?}");
    assert!(ps.contains(&pid));

    sd.ok(&["pause", &id]);
    assert_eq!(sd.env.status(&id), "paused");
    assert!(read(&dir, "cgroup.events").contains("frozen 1"));
    sd.ok(&["resume", &id]);
    assert_eq!(sd.env.status(&id), "running");
    assert!(read(&dir, "cgroup.events").contains("frozen 0"));

    // The container's cgroup namespace has the scope as its root: "/" is the scope, and
    // a process outside it would show a path with "..".
    let got = sd.ok(&["exec", &id, "/bin/cat", "/proc/self/cgroup"]);
    assert_eq!(got.trim(), "0::/", "{got}");

    #[rustfmt::skip]
    sd.ok(&["update", "--memory", "48m", "--pids-limit", "9", "--cpu-quota", "20000",
        "--cpu-period", "100000", "--cpuset-cpus", "0", &id]);
    let files = |dir: &Path| {
        assert_eq!(read(dir, "memory.max"), (48u64 << 20).to_string());
        assert_eq!(read(dir, "pids.max"), "9");
        assert_eq!(read(dir, "cpu.max"), "20000 100000");
        assert_eq!(read(dir, "cpuset.cpus"), "0");
    };
    files(&dir);
    let p = show(
        &unit,
        &["MemoryMax", "TasksMax", "CPUQuotaPerSecUSec", "AllowedCPUs"],
    );
    assert_eq!(p["MemoryMax"], (48u64 << 20).to_string());
    assert_eq!(p["TasksMax"], "9");
    assert_eq!(p["CPUQuotaPerSecUSec"], "200ms");
    assert_eq!(p["AllowedCPUs"], "0");
    // systemd writes the files of what it manages again on a reload, with its defaults
    // for what it was not told: the limits stay, the new ones and those not updated, since
    // they are the unit's properties too.
    systemctl(&["daemon-reload"]);
    files(&dir);
    assert_eq!(read(&dir, "memory.low"), (16u64 << 20).to_string());
    assert_eq!(read(&dir, "cpu.weight"), "79");
    // A `unified` file systemd manages is its property too (runc's mapping).
    assert_eq!(read(&dir, "memory.high"), (40u64 << 20).to_string());
    let p = show(&unit, &["MemoryHigh"]);
    assert_eq!(p["MemoryHigh"], (40u64 << 20).to_string());

    sd.ok(&["kill", "--all", &id, "KILL"]);
    cg::wait_until("stopped", || sd.env.status(&id) == "stopped");
    sd.ok(&["delete", &id]);
    assert_gone(&unit);
}

#[test]
#[ignore = "needs systemd as PID 1: run by `make test-cgroupv2` in a VM"]
fn delete_of_a_created_container_stops_its_scope() {
    let sd = Sd::new();
    let (b, id, unit) = sd.bundle("crt", |_| {});
    sd.ok(&["create", "--bundle", b.to_str().unwrap(), &id]);
    assert_eq!(show(&unit, &["ActiveState"])["ActiveState"], "active");
    sd.ok(&["delete", "--force", &id]);
    assert_gone(&unit);
    assert!(sd.env.fails(&["state", &id]).contains("does not exist"));
}

#[test]
#[ignore = "needs systemd as PID 1: run by `make test-cgroupv2` in a VM"]
fn run_in_a_scope_and_a_taken_name() {
    let sd = Sd::new();
    // Foreground: the process sees its scope's limit, exits 0, the scope goes with it.
    let (b, id, unit) = sd.bundle("fg", |s| {
        sh(s, "cat /sys/fs/cgroup/pids.max");
        s["linux"]["resources"] = json!({"pids": {"limit": 7}});
    });
    let o = sd.xrun(&["run", "--bundle", b.to_str().unwrap(), &id]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "7");
    // A foreground run deletes its container when the process exits.
    assert!(sd.env.fails(&["state", &id]).contains("does not exist"));
    assert_gone(&unit);

    // Two containers cannot share a scope: systemd refuses the second, which leaves
    // nothing behind, and the first runs on.
    let (b, id, unit) = sd.bundle("one", |_| {});
    sd.ok(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]);
    let b2 = sd.env.bundle("two", |s| {
        args(s, &["/bin/sleep", "100"]);
        s["linux"]["cgroupsPath"] = json!(format!("system.slice:xrun:{id}"));
    });
    let id2 = sd.env.id("two");
    let o = sd.xrun(&["run", "-d", "--bundle", b2.to_str().unwrap(), &id2]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    assert!(sd.env.fails(&["state", &id2]).contains("does not exist"));
    assert_eq!(sd.env.status(&id), "running");
    assert_eq!(show(&unit, &["ActiveState"])["ActiveState"], "active");
    sd.env.ok(&["delete", "--force", &id]);
    assert_gone(&unit);
}

#[test]
#[ignore = "needs systemd as PID 1: run by `make test-cgroupv2` in a VM"]
fn slice_paths_as_runc_reads_them() {
    let sd = Sd::new();
    // An empty slice is system.slice.
    let (b, id, unit) = sd.bundle_in("", "dflt", |_| {});
    sd.ok(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]);
    let cgroup = |id: &str| {
        let pid = cg::init_pid(&sd.env, id);
        std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap()
    };
    assert_eq!(cgroup(&id).trim(), format!("0::/system.slice/{unit}"));
    assert_eq!(show(&unit, &["Slice"])["Slice"], "system.slice");
    sd.env.ok(&["delete", "--force", &id]);
    assert_gone(&unit);

    // A nested slice: `xrun-tN.slice` is `xrun.slice/xrun-tN.slice`, made by systemd.
    let slice = format!("xrun-t{}.slice", std::process::id());
    sd.cleanup(&slice);
    sd.cleanup("xrun.slice");
    let (b, id, unit) = sd.bundle_in(&slice, "nest", |s| {
        s["linux"]["resources"] = json!({"pids": {"limit": 5}});
    });
    sd.ok(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]);
    let path = format!("/xrun.slice/{slice}/{unit}");
    assert_eq!(cgroup(&id).trim(), format!("0::{path}"));
    let p = show(&unit, &["Slice", "ControlGroup", "TasksMax"]);
    assert_eq!(p["Slice"], slice);
    assert_eq!(p["ControlGroup"], path);
    assert_eq!(p["TasksMax"], "5");
    let dir = Path::new("/sys/fs/cgroup").join(&path[1..]);
    assert_eq!(read(&dir, "pids.max"), "5");
    sd.env.ok(&["delete", "--force", &id]);
    assert_gone_from(&unit, &dir);

    // No prefix: the unit is `name.scope`.
    let id = sd.env.id("nopfx");
    let unit = format!("{id}.scope");
    sd.cleanup(&unit);
    let b = sd.env.bundle("nopfx", |s| {
        args(s, &["/bin/sleep", "100"]);
        s["linux"]["cgroupsPath"] = json!(format!("system.slice::{id}"));
    });
    sd.ok(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]);
    assert_eq!(cgroup(&id).trim(), format!("0::/system.slice/{unit}"));
    sd.env.ok(&["delete", "--force", &id]);
    assert_gone(&unit);

    // Not slice:prefix:name, or not a slice: refused before anything is made.
    for (path, want) in [
        ("system.slice:xrun", "slice:prefix:name"),
        ("system:xrun:x", "is not a systemd slice name"),
    ] {
        let id = sd.env.id("bad");
        let b = sd
            .env
            .bundle("bad", |s| s["linux"]["cgroupsPath"] = json!(path));
        let err = sd.xrun(&["create", "--bundle", b.to_str().unwrap(), &id]);
        let err = stderr(&err);
        assert!(
            err.contains("linux.cgroupsPath") && err.contains(want),
            "{err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(sd.env.fails(&["state", &id]).contains("does not exist"));
    }
}

/// Without --systemd-cgroup, an absolute cgroupsPath is a plain cgroupfs directory, also
/// where systemd manages the tree: made, limited and removed by xrun alone.
#[test]
#[ignore = "needs systemd as PID 1: run by `make test-cgroupv2` in a VM"]
fn cgroupfs_paths_beside_systemd() {
    let sd = Sd::new();
    let id = sd.env.id("fs");
    let path = format!("/xrun-fs-{id}");
    let b = sd.env.bundle("fs", |s| {
        args(s, &["/bin/sleep", "100"]);
        s["linux"]["cgroupsPath"] = json!(path);
        s["linux"]["resources"] = json!({"memory": {"limit": 32 << 20}, "pids": {"limit": 6}});
    });
    sd.env
        .ok(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]);
    let pid = cg::init_pid(&sd.env, &id);
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert_eq!(own.trim(), format!("0::{path}"));
    let dir = Path::new("/sys/fs/cgroup").join(&path[1..]);
    assert_eq!(read(&dir, "memory.max"), (32u64 << 20).to_string());
    assert_eq!(read(&dir, "pids.max"), "6");
    sd.env.ok(&["pause", &id]);
    assert!(read(&dir, "cgroup.events").contains("frozen 1"));
    sd.env.ok(&["resume", &id]);
    sd.env.ok(&["update", "--pids-limit", "4", &id]);
    assert_eq!(read(&dir, "pids.max"), "4");
    sd.env.ok(&["delete", "--force", &id]);
    assert!(!dir.exists(), "{} left behind", dir.display());
}
