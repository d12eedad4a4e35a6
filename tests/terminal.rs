//! `process.terminal`: the pty goes to `--console-socket` (as containerd's shim expects) or,
//! for a foreground `run`, xrun relays it itself.

mod common;

use std::io::Write;

use common::*;
use serde_json::json;

#[test]
fn create_sends_the_pty_master_over_the_console_socket() {
    let env = Env::new();
    let b = env.bundle("tty", |s| {
        s["process"]["terminal"] = json!(true);
        s["process"]["consoleSize"] = json!({"height": 33, "width": 101});
        sh(
            s,
            "echo tty=$(tty) size=$(stty size); read line; echo got:$line; exit 5",
        );
    });
    let id = env.id("tty");
    let sock = ConsoleSocket::new(&env, "tty");
    let receiver = std::thread::scope(|s| {
        let h = s.spawn(|| sock.receive());
        env.ok(&[
            "create",
            "-b",
            b.to_str().unwrap(),
            "--console-socket",
            sock.path.to_str().unwrap(),
            &id,
        ]);
        h.join().unwrap()
    });
    let (mut master, name) = receiver;
    assert!(name.starts_with("/dev/pts/"), "payload {name:?}");
    env.ok(&["start", &id]);
    let out = read_pty_until(&mut master, "size=33 101");
    assert!(out.contains("tty=/dev/pts/0"), "{out:?}");
    assert!(out.contains("size=33 101"), "{out:?}");
    master.write_all(b"hello\n").unwrap();
    let out = read_pty_until(&mut master, "got:hello");
    assert!(out.contains("got:hello"), "{out:?}");
}

#[test]
fn a_detached_terminal_needs_a_console_socket() {
    let env = Env::new();
    let b = env.bundle("nosock", |s| s["process"]["terminal"] = json!(true));
    let id = env.id("nosock");
    let e = env.fails(&["create", "-b", b.to_str().unwrap(), &id]);
    assert!(e.contains("needs --console-socket"), "{e}");
    assert!(!env.root.join(&id).exists());
}

#[test]
fn foreground_run_relays_the_terminal() {
    let env = Env::new();
    let b = env.bundle("fg", |s| {
        s["process"]["terminal"] = json!(true);
        sh(
            s,
            "echo tty=$(tty); test -c /dev/console && echo console-ok; exit 4",
        );
    });
    let out = env.xrun(&["run", "-b", b.to_str().unwrap(), &env.id("fg")]);
    let text = stdout(&out);
    assert!(text.contains("tty=/dev/pts/0"), "{text:?}");
    assert!(text.contains("console-ok"), "{text:?}");
    assert_eq!(out.status.code(), Some(4));
}
