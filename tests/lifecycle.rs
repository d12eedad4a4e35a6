//! The runtime-spec lifecycle through the command line: create, start, state, kill, delete,
//! run, and the error rules of runtime.md.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

fn wait_status(env: &Env, id: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = env.xrun(&["state", id]);
        let s = if out.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            v["status"].as_str().unwrap().to_string()
        } else {
            stderr(&out)
        };
        if s == want {
            return;
        }
        assert!(Instant::now() < deadline, "{id} stayed {s}, wanted {want}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn run_prints_output_and_returns_exit_code() {
    let env = Env::new();
    let b = env.bundle("hello", |s| sh(s, "echo hello from $(hostname); exit 7"));
    let id = env.id("hello");
    let out = env.xrun(&["run", "--bundle", b.to_str().unwrap(), &id]);
    assert_eq!(stdout(&out), "hello from xrun\n");
    assert_eq!(out.status.code(), Some(7));
    // A foreground run deletes the container afterwards.
    assert!(env.fails(&["state", &id]).contains("does not exist"));
}

#[test]
fn run_killed_by_signal_exits_128_plus_signal() {
    let env = Env::new();
    let b = env.bundle("sig", |s| args(s, &["/bin/sleep", "1000"]));
    let id = env.id("sig");
    let mut run = env
        .cmd(&["run", "-b", b.to_str().unwrap(), &id])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_status(&env, &id, "running");
    env.ok(&["kill", &id, "KILL"]);
    assert_eq!(run.wait().unwrap().code(), Some(128 + 9));
}

#[test]
fn foreground_run_forwards_signals() {
    let env = Env::new();
    // The shell is pid 1 of its namespace: only a signal it handles reaches it.
    let b = env.bundle("fwd", |s| {
        sh(
            s,
            "trap 'echo got TERM; exit 3' TERM; echo ready; while :; do sleep 0.05; done",
        )
    });
    let id = env.id("fwd");
    let out = env.dir.path().join("fwd.out");
    let mut run = env
        .cmd(&["run", "-b", b.to_str().unwrap(), &id])
        .stdout(std::fs::File::create(&out).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&out).unwrap().contains("ready") {
        assert!(Instant::now() < deadline, "container never got ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(run.wait().unwrap().code(), Some(3));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "ready\ngot TERM\n");
}

#[test]
fn create_start_state_kill_delete() {
    let env = Env::new();
    let b = env.bundle("life", |s| args(s, &["/bin/sleep", "1000"]));
    let id = env.id("life");
    let pidfile = env.dir.path().join("pid");
    env.ok(&[
        "create",
        "--bundle",
        b.to_str().unwrap(),
        "--pid-file",
        pidfile.to_str().unwrap(),
        &id,
    ]);
    let st = env.state(&id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], json!(id));
    assert_eq!(st["ociVersion"], "1.0.2-dev");
    assert_eq!(st["bundle"], json!(b.to_str().unwrap()));
    let pid = st["pid"].as_i64().unwrap();
    assert!(pid > 0);
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), pid.to_string());
    // The user's program has not run yet: the init still runs xrun's code.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_ne!(comm.trim(), "sleep");

    env.ok(&["start", &id]);
    assert_eq!(env.status(&id), "running");
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep");

    // Errors while running: start again, delete without --force.
    assert!(env.fails(&["start", &id]).contains("already running"));
    assert!(env.fails(&["delete", &id]).contains("not stopped"));

    env.ok(&["kill", &id, "KILL"]);
    wait_status(&env, &id, "stopped");
    assert!(env
        .fails(&["kill", &id, "TERM"])
        .contains("container not running"));
    assert!(env.fails(&["start", &id]).contains("stopped"));
    env.ok(&["delete", &id]);
    assert!(env.fails(&["state", &id]).contains("does not exist"));
    assert!(!env.root.join(&id).exists());
}

#[test]
fn options_after_the_id_are_accepted() {
    let env = Env::new();
    let b = env.bundle("late", |s| args(s, &["/bin/true"]));
    let id = env.id("late");
    env.ok(&["create", &id, "--bundle", b.to_str().unwrap()]);
    assert_eq!(env.status(&id), "created");
    env.ok(&["delete", &id]);
}

#[test]
fn kill_of_a_created_container_stops_it() {
    let env = Env::new();
    let b = env.bundle("killc", |s| args(s, &["/bin/true"]));
    let id = env.id("killc");
    env.ok(&["create", "-b", b.to_str().unwrap(), &id]);
    env.ok(&["kill", &id, "TERM"]);
    wait_status(&env, &id, "stopped");
    env.ok(&["delete", &id]);
}

#[test]
fn delete_force_kills_a_running_container() {
    let env = Env::new();
    let b = env.bundle("force", |s| args(s, &["/bin/sleep", "1000"]));
    let id = env.id("force");
    env.ok(&["run", "--detach", "-b", b.to_str().unwrap(), &id]);
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    assert_eq!(env.status(&id), "running");
    env.ok(&["delete", "--force", &id]);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists() || {
            // A zombie not yet reaped by its new parent is gone for every purpose.
            std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z"))
        }
    );
    assert!(env.fails(&["state", &id]).contains("does not exist"));
}

#[test]
fn unknown_ids_fail_for_every_verb() {
    let env = Env::new();
    for args in [
        vec!["state", "nope"],
        vec!["start", "nope"],
        vec!["kill", "nope"],
        vec!["delete", "nope"],
        vec!["exec", "nope", "/bin/true"],
    ] {
        let e = env.fails(&args);
        assert!(e.contains("does not exist"), "{args:?}: {e}");
    }
}

#[test]
fn duplicate_and_invalid_ids_are_rejected() {
    let env = Env::new();
    let b = env.bundle("dup", |s| args(s, &["/bin/true"]));
    let id = env.id("dup");
    env.ok(&["create", "-b", b.to_str().unwrap(), &id]);
    let e = env.fails(&["create", "-b", b.to_str().unwrap(), &id]);
    assert!(e.contains("already exists"), "{e}");
    // The first container is untouched.
    assert_eq!(env.status(&id), "created");
    for bad in ["../x", "a/b", ".", "..", "with space"] {
        let e = env.fails(&["create", "-b", b.to_str().unwrap(), bad]);
        assert!(e.contains("invalid container id"), "{bad}: {e}");
    }
}

#[test]
fn racing_creates_of_one_id_yield_one_container() {
    let env = Env::new();
    let b = env.bundle("race", |s| args(s, &["/bin/true"]));
    let id = env.id("race");
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| env.xrun(&["create", "-b", b.to_str().unwrap(), &id])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|o| o.status.success()).count(), 1);
    for o in results.iter().filter(|o| !o.status.success()) {
        assert!(stderr(o).contains("already exists"), "{}", stderr(o));
    }
    assert_eq!(env.status(&id), "created");
}

#[test]
fn bad_config_fails_cleanly_and_leaves_nothing() {
    let env = Env::new();
    let b = env.bundle("bad", |s| {
        s["mounts"][2]["destination"] = json!("relative/path");
    });
    let id = env.id("bad");
    let e = env.fails(&["create", "-b", b.to_str().unwrap(), &id]);
    assert_eq!(
        e.trim(),
        "xrun: error: config.json: mounts[2].destination: must be absolute, got \"relative/path\""
    );
    assert!(!env.root.join(&id).exists());
}

#[test]
fn failure_inside_the_init_leaves_nothing() {
    let env = Env::new();
    let b = env.bundle("nocmd", |s| args(s, &["/bin/does-not-exist"]));
    let id = env.id("nocmd");
    let e = env.fails(&["create", "-b", b.to_str().unwrap(), &id]);
    assert!(
        e.contains("process.args: exec: \"/bin/does-not-exist\": no such file or directory"),
        "{e}"
    );
    assert!(!env.root.join(&id).exists());
    assert!(env.ok(&["list", "-q"]).is_empty());
}

#[test]
fn list_shows_containers_in_table_and_json() {
    let env = Env::new();
    let b = env.bundle("list", |s| args(s, &["/bin/true"]));
    let id = env.id("list");
    env.ok(&["create", "-b", b.to_str().unwrap(), &id]);
    let table = env.ok(&["list"]);
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("ID"));
    let row = lines.next().unwrap();
    assert!(row.starts_with(&id) && row.contains("created"), "{row}");
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["list", "--format", "json"])).unwrap();
    assert_eq!(json[0]["id"], serde_json::json!(id));
    assert_eq!(json[0]["status"], "created");
    assert_eq!(env.ok(&["list", "-q"]).trim(), id);
}

#[test]
fn json_log_records_the_error_for_the_shim() {
    let env = Env::new();
    let log = env.dir.path().join("log.json");
    let out = env.xrun(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "state",
        "missing",
    ]);
    assert!(!out.status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "error");
    assert_eq!(last["msg"], "container \"missing\" does not exist");
    assert!(last["time"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn preserve_fds_must_name_inherited_descriptors() {
    // xrun's own descriptors (log file, state directory) must never pass for preserved ones.
    let env = Env::new();
    let b = env.bundle("nofd", |s| args(s, &["/bin/true"]));
    let id = env.id("nofd");
    let log = env.dir.path().join("log");
    let e = env.fails(&[
        "--log",
        log.to_str().unwrap(),
        "create",
        "--preserve-fds",
        "1",
        "-b",
        b.to_str().unwrap(),
        &id,
    ]);
    assert!(
        e.contains("--preserve-fds: file descriptor 3 is not open"),
        "{e}"
    );
    assert!(!env.root.join(&id).exists());
}
