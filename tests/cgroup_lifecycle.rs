//! cgroups through the container lifecycle: placement (relative, absolute, default), the
//! init in its cgroup before create returns, pause/resume, ps, events, update, kill --all,
//! and removal of every cgroup on delete, also after a create that died half way.
//! Runs on cgroup v1/hybrid hosts and, through `make test-cgroupv2`, on pure cgroup v2.

#[path = "support/cg.rs"]
mod cg;
mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

#[test]
fn init_is_in_its_relative_cgroup_before_create_returns() {
    let env = Env::new();
    let b = env.bundle("rel", |s| args(s, &["/bin/sleep", "100"]));
    let id = env.id("rel");
    env.ok(&["create", "--bundle", b.to_str().unwrap(), &id]);
    let pid = cg::init_pid(&env, &id);
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let theirs = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let want = format!("{}/rel", env.cgroup_prefix);
    for line in theirs.lines() {
        assert!(line.ends_with(&want), "{line} is not under {want}");
        // Nested under our own cgroup in that hierarchy (on v2: under its parent, as runc).
        let key = line.split(':').nth(1).unwrap();
        let mine = own
            .lines()
            .find(|l| l.split(':').nth(1) == Some(key))
            .unwrap();
        let mine = mine.splitn(3, ':').nth(2).unwrap();
        let base = if key.is_empty() && cg::is_v2() {
            std::path::Path::new(mine)
                .parent()
                .unwrap_or(std::path::Path::new("/"))
                .to_str()
                .unwrap()
                .to_string()
        } else {
            mine.to_string()
        };
        assert!(
            line.splitn(3, ':')
                .nth(2)
                .unwrap()
                .starts_with(base.as_str()),
            "{line} vs {mine}"
        );
    }
    if !cg::is_v2() {
        // Hybrid/v1: every controller hierarchy, name=systemd, and the cgroup2 mount.
        for c in [
            "memory",
            "cpu",
            "pids",
            "devices",
            "freezer",
            "name=systemd",
        ] {
            assert!(
                theirs
                    .lines()
                    .any(|l| l.split(':').nth(1).unwrap().split(',').any(|x| x == c)),
                "{c}: {theirs}"
            );
        }
    }
    let dirs = cg::all_dirs(pid);
    assert!(dirs.iter().all(|d| d.is_dir()));
    env.ok(&["delete", "--force", &id]);
    for d in dirs {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

#[test]
fn absolute_and_default_paths() {
    let env = Env::new();
    // Absolute, but still below our own cgroup so that the host is left alone.
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let key = if cg::is_v2() { "" } else { "memory" };
    let mine = own
        .lines()
        .find(|l| l.split(':').nth(1) == Some(key))
        .unwrap();
    let mine = mine.splitn(3, ':').nth(2).unwrap().trim_end_matches('/');
    let abs = format!("{mine}/{}/abs", env.cgroup_prefix);
    let (id, pid) = cg::run_detached(&env, "abs", |s| {
        args(s, &["/bin/sleep", "100"]);
        s["linux"]["cgroupsPath"] = json!(abs);
    });
    let theirs = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let line = theirs
        .lines()
        .find(|l| l.split(':').nth(1) == Some(key))
        .unwrap();
    assert_eq!(line.splitn(3, ':').nth(2).unwrap(), abs);
    let dirs = cg::all_dirs(pid);
    env.ok(&["delete", "--force", &id]);
    assert!(dirs.iter().all(|d| !d.exists()), "left behind: {dirs:?}");

    // No cgroupsPath: the container id, relative.
    let (id, pid) = cg::run_detached(&env, "dflt", |s| {
        args(s, &["/bin/sleep", "100"]);
        s["linux"].as_object_mut().unwrap().remove("cgroupsPath");
    });
    let theirs = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(
        theirs.lines().all(|l| l.ends_with(&format!("/{id}"))),
        "{theirs}"
    );
    let dirs = cg::all_dirs(pid);
    env.ok(&["delete", "--force", &id]);
    assert!(dirs.iter().all(|d| !d.exists()), "left behind: {dirs:?}");
}

#[test]
fn bad_cgroups_path_fails_cleanly() {
    let env = Env::new();
    let b = env.bundle("bad", |s| s["linux"]["cgroupsPath"] = json!("../../escape"));
    let id = env.id("bad");
    let err = env.fails(&["create", "--bundle", b.to_str().unwrap(), &id]);
    assert!(
        err.contains("config.json: linux.cgroupsPath") && err.contains(".."),
        "{err}"
    );
    assert!(env.fails(&["state", &id]).contains("does not exist"));
}

#[test]
fn systemd_cgroup_without_systemd_is_a_clear_error() {
    if std::path::Path::new("/run/systemd/system").exists() {
        eprintln!("SKIP: systemd runs on this host; this test checks the error without it");
        return;
    }
    let env = Env::new();
    let id = env.id("sd");
    let b = env.bundle("sd", |s| {
        s["linux"]["cgroupsPath"] = json!(format!("system.slice:xrun:{id}"))
    });
    let err = env.fails(&[
        "--systemd-cgroup",
        "create",
        "--bundle",
        b.to_str().unwrap(),
        &id,
    ]);
    assert!(err.contains("systemd is not running"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(env.fails(&["state", &id]).contains("does not exist"));
    // Nothing made: no scope cgroup in any hierarchy, no state directory.
    let scope = format!("system.slice/xrun-{id}.scope");
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let d = h.path().join(&scope);
        assert!(!d.exists(), "{} made", d.display());
    }
    assert!(!std::path::Path::new("/sys/fs/cgroup").join(&scope).exists());
    assert!(!env.root.join(&id).exists());
    // A path not in slice:prefix:name form is refused first, naming the field.
    let b = env.bundle("sd2", |_| {});
    let err = env.fails(&[
        "--systemd-cgroup",
        "create",
        "--bundle",
        b.to_str().unwrap(),
        &id,
    ]);
    assert!(
        err.contains("linux.cgroupsPath") && err.contains("slice:prefix:name"),
        "{err}"
    );
}

/// The container counts in a file; the count stops while frozen.
fn counter(pid: i32) -> u64 {
    let p = format!("/proc/{pid}/root/tmp/count");
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .trim()
        .parse()
        .unwrap_or(0)
}

#[test]
fn pause_freezes_and_resume_thaws() {
    let env = Env::new();
    let (id, pid) = cg::run_detached(&env, "frz", |s| {
        sh(s, "i=0; while :; do i=$((i+1)); echo $i > /tmp/count; done");
        s["root"]["readonly"] = json!(false);
    });
    cg::wait_until("the counter to run", || counter(pid) > 10);
    env.ok(&["pause", &id]);
    assert_eq!(env.status(&id), "paused");
    let frozen = if cg::is_v2() {
        cg::read(pid, "", "cgroup.events").contains("frozen 1")
    } else {
        cg::read(pid, "freezer", "freezer.state") == "FROZEN"
    };
    assert!(frozen);
    let a = counter(pid);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(counter(pid), a, "the container ran while paused");
    assert!(env.fails(&["pause", &id]).contains("already paused"));
    env.ok(&["resume", &id]);
    assert_eq!(env.status(&id), "running");
    cg::wait_until("the counter to move again", || counter(pid) > a);
    assert!(env.fails(&["resume", &id]).contains("not paused"));
    // A paused container can be deleted with --force.
    env.ok(&["pause", &id]);
    env.ok(&["delete", "--force", &id]);
}

#[test]
fn ps_lists_the_container_processes() {
    let env = Env::new();
    let (id, pid) = cg::run_detached(&env, "ps", |s| sh(s, "sleep 100 & sleep 100 & wait"));
    cg::wait_until("three processes", || {
        let v: Vec<i32> = serde_json::from_str(&env.ok(&["ps", "--format", "json", &id])).unwrap();
        v.len() == 3
    });
    let v: Vec<i32> = serde_json::from_str(&env.ok(&["ps", "--format", "json", &id])).unwrap();
    assert!(v.contains(&pid), "{v:?} lacks the init {pid}");
    let table = env.ok(&["ps", &id]);
    let mut lines = table.lines();
    assert!(lines.next().unwrap().contains("PID"));
    assert_eq!(
        lines.filter(|l| l.ends_with(" sleep 100")).count(),
        2,
        "{table}"
    );
}

#[test]
fn kill_all_signals_every_process() {
    let env = Env::new();
    let (id, _) = cg::run_detached(&env, "kall", |s| {
        sh(s, "trap '' TERM; sleep 100 & sleep 100 & wait; wait")
    });
    cg::wait_until("three processes", || {
        env.ok(&["ps", "--format", "json", &id])
            .matches(',')
            .count()
            == 2
    });
    env.ok(&["kill", "--all", &id, "KILL"]);
    cg::wait_until("all gone", || {
        env.ok(&["ps", "--format", "json", &id]).trim() == "[]"
    });
    cg::wait_until("stopped", || env.status(&id) == "stopped");
}

#[test]
fn events_report_stats_and_oom() {
    let env = Env::new();
    let (id, pid) = cg::run_detached(&env, "ev", |s| {
        sh(s, "while [ ! -e /tmp/go ]; do sleep 0.05; done; dd if=/dev/zero of=/dev/null bs=64M count=1; sleep 100");
        s["linux"]["resources"]["memory"] = json!({"limit": 16 << 20, "swap": 16 << 20});
        s["root"]["readonly"] = json!(false);
    });
    let stats: Value = serde_json::from_str(&env.ok(&["events", "--stats", &id])).unwrap();
    assert_eq!(stats["type"], "stats");
    assert_eq!(stats["id"], id.as_str());
    let d = &stats["data"];
    assert!(d["memory"]["usage"]["usage"].as_u64().unwrap() > 0, "{d}");
    assert_eq!(d["memory"]["usage"]["limit"].as_u64().unwrap(), 16 << 20);
    assert!(d["pids"]["current"].as_u64().unwrap() >= 1, "{d}");
    assert!(d["cpu"]["usage"]["total"].as_u64().unwrap() > 0, "{d}");
    // Stream: the OOM kill of dd shows up as an event.
    let out = env.dir.path().join("events.out");
    let mut ev = env
        .cmd(&["events", "--interval", "1h", &id])
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The OOM watch is set up before the first stats line: trigger only after it.
    cg::wait_until("the first stats line", || {
        std::fs::read_to_string(&out).unwrap().contains('\n')
    });
    std::fs::File::create(format!("/proc/{pid}/root/tmp/go"))
        .unwrap()
        .flush()
        .unwrap();
    cg::wait_until("an oom event", || {
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("\"type\":\"oom\"")
    });
    let _ = ev.kill();
    let _ = ev.wait();
    let first = std::fs::read_to_string(&out).unwrap();
    let first: Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert_eq!(first["type"], "stats");
}

#[test]
fn run_of_an_oom_killed_container_exits_137() {
    let env = Env::new();
    let b = env.bundle("oom", |s| {
        args(
            s,
            &[
                "/bin/dd",
                "if=/dev/zero",
                "of=/dev/null",
                "bs=64M",
                "count=1",
            ],
        );
        s["linux"]["resources"]["memory"] = json!({"limit": 16 << 20, "swap": 16 << 20});
    });
    let id = env.id("oom");
    let out = env.xrun(&["run", "--bundle", b.to_str().unwrap(), &id]);
    assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
}

#[test]
fn update_with_flags_and_json_on_stdin() {
    let env = Env::new();
    let (id, pid) = cg::run_detached(&env, "upd", |s| args(s, &["/bin/sleep", "100"]));
    env.ok(&[
        "update",
        "--memory",
        "48m",
        "--pids-limit",
        "9",
        "--cpu-quota",
        "30000",
        "--cpu-period",
        "100000",
        &id,
    ]);
    if cg::is_v2() {
        assert_eq!(cg::read(pid, "", "memory.max"), (48u64 << 20).to_string());
        assert_eq!(cg::read(pid, "", "cpu.max"), "30000 100000");
    } else {
        assert_eq!(
            cg::read(pid, "memory", "memory.limit_in_bytes"),
            (48u64 << 20).to_string()
        );
        assert_eq!(cg::read(pid, "cpu", "cpu.cfs_quota_us"), "30000");
    }
    assert_eq!(cg::read(pid, "pids", "pids.max"), "9");
    // containerd's way: LinuxResources JSON on stdin.
    let mut c = env.cmd(&["update", "--resources", "-", &id]);
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"pids": {"limit": 12}, "memory": {"limit": 41943040}}"#)
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(cg::read(pid, "pids", "pids.max"), "12");
    let mem = if cg::is_v2() {
        ("", "memory.max")
    } else {
        ("memory", "memory.limit_in_bytes")
    };
    assert_eq!(cg::read(pid, mem.0, mem.1), "41943040");
    // The saved config follows, so events report the new limit.
    let stats: Value = serde_json::from_str(&env.ok(&["events", "--stats", &id])).unwrap();
    assert_eq!(stats["data"]["pids"]["limit"].as_u64(), Some(12));
    // Bad values: a clear error naming the field, nothing changed.
    let err = env.fails(&["update", "--cpuset-cpus", "x-y", &id]);
    assert!(err.contains("linux.resources.cpu.cpus"), "{err}");
    let err = env.fails(&["update", "--memory", "12q", &id]);
    assert!(err.contains("--memory"), "{err}");
    // checkBeforeUpdate: a limit below the current usage is refused.
    let mut child = env
        .cmd(&["update", "-r", "-", &id])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"memory": {"limit": 4096, "checkBeforeUpdate": true}}"#)
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("checkBeforeUpdate"));
    assert_eq!(cg::read(pid, mem.0, mem.1), "41943040");
}

#[test]
fn delete_force_cleans_up_after_a_create_that_died() {
    let env = Env::new();
    let b = env.bundle("crash", |s| {
        args(s, &["/bin/sleep", "100"]);
        s["hooks"] =
            json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "sleep 30"]}]});
    });
    let id = env.id("crash");
    let mut create = env
        .cmd(&["create", "--bundle", b.to_str().unwrap(), &id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The hook runs once the cgroups exist and the init sits in them.
    let rec = || -> Option<Value> {
        let s: Value =
            serde_json::from_slice(&std::fs::read(env.root.join(&id).join("state.json")).ok()?)
                .ok()?;
        Some(s["cgroup"].clone())
    };
    let leaf = || -> Option<std::path::PathBuf> {
        let r = rec()?;
        let p = r["v2"].as_str().or_else(|| r["v1"][0]["dir"].as_str())?;
        Some(std::path::PathBuf::from(p))
    };
    cg::wait_until("the cgroup of the half-made container", || {
        leaf().is_some_and(|l| {
            std::fs::read_to_string(l.join("cgroup.procs")).is_ok_and(|p| !p.trim().is_empty())
        })
    });
    let dir = leaf().unwrap();
    create.kill().unwrap();
    create.wait().unwrap();
    assert!(dir.exists());
    env.ok(&["delete", "--force", &id]);
    assert!(!dir.exists(), "{} left behind", dir.display());
    assert!(env.fails(&["state", &id]).contains("does not exist"));
}
