//! The lifecycle verbs and their error rules, as callers (containerd's shim, podman, the OCI
//! validation programs) depend on them.

use std::time::{Duration, Instant};

use crate::common::differential::{arg, same_as_runc, Observed};
use crate::common::*;

/// Waits until `state` reports `want` (or gives up after 10 s, recording what it saw).
fn wait_for(env: &Env, id: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let out = env.xrun(&["state", id]);
        if out.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            if v["status"] == want {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn create_start_kill_delete() {
    same_as_runc("create-start-kill-delete", |env, o| {
        let b = env.bundle("life", |s| args(s, &["/bin/sleep", "1000"]));
        o.run(env, "create", &["create", "--bundle", arg(&b), "c"]);
        o.status(env, "after create", "c");
        o.run(env, "start", &["start", "c"]);
        o.status(env, "after start", "c");
        o.run(env, "start again", &["start", "c"]);
        o.run(env, "delete running", &["delete", "c"]);
        o.run(env, "kill KILL", &["kill", "c", "KILL"]);
        wait_for(env, "c", "stopped");
        o.status(env, "after kill", "c");
        o.run(env, "kill stopped", &["kill", "c", "TERM"]);
        o.run(env, "delete stopped", &["delete", "c"]);
        o.status(env, "after delete", "c");
    });
}

#[test]
fn unknown_ids() {
    same_as_runc("unknown-ids", |env, o| {
        for verb in [
            &["state", "nope"][..],
            &["start", "nope"],
            &["kill", "nope", "TERM"],
            &["delete", "nope"],
            &["pause", "nope"],
            &["resume", "nope"],
            &["ps", "nope"],
        ] {
            o.run(env, &verb.join(" "), verb);
        }
        o.run(env, "delete --force nope", &["delete", "--force", "nope"]);
    });
}

/// What a scenario can observe of a container that ran to its end.
fn run_to_end(env: &Env, o: &mut Observed, name: &str, script: &str) {
    let b = env.bundle(name, |s| sh(s, script));
    let out = o.run(env, "run", &["run", "--bundle", arg(&b), name]);
    o.note("stdout", stdout(&out));
}

#[test]
fn foreground_run_status_and_output() {
    same_as_runc("foreground-run", |env, o| {
        run_to_end(env, o, "out", "echo one; echo two >&2; exit 5");
        run_to_end(env, o, "noexec", "exec /etc/passwd");
    });
}
