//! OCI hooks: each kind runs at its point of the lifecycle, in the right namespace, with the
//! state on stdin; creation hooks that fail stop the container, poststart/poststop only warn.

mod common;

use std::path::Path;

use common::*;
use serde_json::{json, Value};

/// A hook that appends `<name> <stdin>` to `log` (host path), using the host's shell.
fn logging_hook(log: &Path, name: &str) -> Value {
    json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("printf '%s ' {name} >> {0}; cat >> {0}; echo >> {0}", log.display())]
    })
}

#[test]
fn all_hooks_run_in_order_with_the_state() {
    let env = Env::new();
    let log = env.dir.path().join("hooks.log");
    let b = env.bundle("order", |s| {
        args(s, &["/bin/true"]);
        s["root"]["readonly"] = json!(false);
        // The createContainer hook runs in the container's mount namespace before pivot_root,
        // so host paths still resolve; startContainer runs after it: put its log in the rootfs.
        s["hooks"] = json!({
            "prestart": [logging_hook(&log, "prestart")],
            "createRuntime": [logging_hook(&log, "createRuntime")],
            "createContainer": [logging_hook(&log, "createContainer")],
            "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "echo startContainer $(hostname) >> /start.log"]}],
            "poststart": [logging_hook(&log, "poststart")],
            "poststop": [logging_hook(&log, "poststop")]
        });
    });
    let id = env.id("order");
    env.ok(&["create", "-b", b.to_str().unwrap(), &id]);
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    env.ok(&["start", &id]);
    for _ in 0..500 {
        if env.status(&id) == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    env.ok(&["delete", &id]);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<(&str, Value)> = text
        .lines()
        .map(|l| {
            let (name, json) = l.split_once(' ').unwrap();
            (name, serde_json::from_str(json).unwrap())
        })
        .collect();
    let names: Vec<&str> = lines.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "poststart",
            "poststop"
        ]
    );
    for (name, state) in &lines {
        assert_eq!(state["id"], json!(id), "{name}");
        assert_eq!(state["bundle"], json!(b.to_str().unwrap()), "{name}");
    }
    assert_eq!(lines[0].1["status"], "creating");
    assert_eq!(lines[0].1["pid"], json!(pid));
    assert_eq!(lines[3].1["status"], "running");
    assert_eq!(lines[4].1["status"], "stopped");
    let start = std::fs::read_to_string(b.join("rootfs/start.log")).unwrap();
    assert_eq!(start, "startContainer xrun\n");
}

#[test]
fn a_failing_create_runtime_hook_fails_create_and_leaves_nothing() {
    let env = Env::new();
    let b = env.bundle("fail", |s| {
        s["hooks"] = json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo broken >&2; exit 2"]}]});
    });
    let id = env.id("fail");
    let e = env.fails(&["create", "-b", b.to_str().unwrap(), &id]);
    assert!(
        e.contains("hooks.createRuntime[0] (/bin/sh): exit status 2: broken"),
        "{e}"
    );
    assert!(!env.root.join(&id).exists());
}

#[test]
fn a_failing_create_container_hook_fails_create() {
    let env = Env::new();
    let b = env.bundle("failc", |s| {
        s["hooks"] = json!({"createContainer": [{"path": "/bin/false"}]});
    });
    let id = env.id("failc");
    let e = env.fails(&["create", "-b", b.to_str().unwrap(), &id]);
    assert!(
        e.contains("hooks.createContainer[0] (/bin/false): exit status 1"),
        "{e}"
    );
    assert!(!env.root.join(&id).exists());
}

/// A startContainer hook runs after `start` returned: the container stops without running
/// its program, and the error goes to the container's stderr, the only place left to say it.
#[test]
fn a_failing_start_container_hook_stops_the_container() {
    let env = Env::new();
    let b = env.bundle("fails", |s| {
        s["hooks"] = json!({"startContainer": [{"path": "/bin/false"}]});
        sh(s, "echo the program ran");
    });
    let id = env.id("fails");
    let o = env.xrun(&["run", "-b", b.to_str().unwrap(), &id]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert!(
        stderr(&o)
            .contains("startContainer hooks: hooks.startContainer[0] (/bin/false): exit status 1"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_hook_that_times_out_is_killed() {
    let env = Env::new();
    let b = env.bundle("slow", |s| {
        s["hooks"] = json!({"prestart": [{"path": "/bin/sleep", "args": ["sleep", "100"], "timeout": 1}]});
    });
    let id = env.id("slow");
    let e = env.fails(&["create", "-b", b.to_str().unwrap(), &id]);
    assert!(
        e.contains("hooks.prestart[0] (/bin/sleep): timed out after 1s"),
        "{e}"
    );
}

#[test]
fn failing_poststart_and_poststop_hooks_only_warn() {
    let env = Env::new();
    let b = env.bundle("warn", |s| {
        args(s, &["/bin/true"]);
        s["hooks"] = json!({
            "poststart": [{"path": "/bin/false"}],
            "poststop": [{"path": "/bin/false"}]
        });
    });
    let out = env.xrun(&["run", "-b", b.to_str().unwrap(), &env.id("warn")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("warning: hooks.poststart[0] (/bin/false): exit status 1"),
        "{err}"
    );
    assert!(
        err.contains("warning: hooks.poststop[0] (/bin/false): exit status 1"),
        "{err}"
    );
}

#[test]
fn hook_env_and_args_are_passed() {
    let env = Env::new();
    let log = env.dir.path().join("env.log");
    let b = env.bundle("env", |s| {
        args(s, &["/bin/true"]);
        s["hooks"] = json!({"poststop": [{
            "path": "/bin/sh",
            "args": ["custom-argv0", "-c",
                format!("echo $(tr '\\0' ' ' < /proc/$$/cmdline | cut -d' ' -f1) $0 $HOOKVAR > {}", log.display()),
                "first"],
            "env": ["HOOKVAR=set"]
        }]});
    });
    env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("env")]);
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "custom-argv0 first set\n"
    );
}
