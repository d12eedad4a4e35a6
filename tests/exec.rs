//! `exec`: a new process joins a running container's namespaces and cgroup, with the same
//! process rules as the init.

mod common;

use std::io::Write;

use common::*;
use serde_json::json;

/// A running container with a long-lived init.
fn running(env: &Env, name: &str) -> String {
    let b = env.bundle(name, |s| {
        s["hostname"] = json!("exec-box");
        args(s, &["/bin/sleep", "1000"]);
    });
    let id = env.id(name);
    env.ok(&["run", "--detach", "-b", b.to_str().unwrap(), &id]);
    id
}

#[test]
fn exec_joins_the_container_and_returns_the_exit_code() {
    let env = Env::new();
    let id = running(&env, "join");
    let init = env.state(&id)["pid"].as_i64().unwrap();
    let out = env.xrun(&[
        "exec",
        &id,
        "/bin/sh",
        "-c",
        "hostname; cat /proc/1/comm; echo $$; exit 9",
    ]);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "exec-box");
    assert_eq!(lines[1], "sleep");
    // In the container's pid namespace the exec'd shell is not pid 1.
    assert_ne!(lines[2], "1");
    assert_eq!(out.status.code(), Some(9));
    // Same mount and network namespaces as the init.
    for ns in ["mnt", "net", "pid", "uts", "ipc"] {
        let theirs = std::fs::read_link(format!("/proc/{init}/ns/{ns}")).unwrap();
        let script = format!("readlink /proc/self/ns/{ns}");
        let got = env.ok(&["exec", &id, "/bin/sh", "-c", &script]);
        assert_eq!(got.trim(), theirs.to_str().unwrap(), "{ns}");
    }
}

#[test]
fn exec_flags_override_the_process() {
    let env = Env::new();
    let id = running(&env, "flags");
    let out = env.ok(&[
        "exec",
        "--env",
        "FOO=bar",
        "--cwd",
        "/tmp",
        "--user",
        "1000:1000",
        "--additional-gids",
        "4",
        &id,
        "/bin/sh",
        "-c",
        "echo $FOO; pwd; id -u; id -g; id -G",
    ]);
    assert_eq!(out, "bar\n/tmp\n1000\n1000\n1000 4\n");
}

#[test]
fn exec_process_file() {
    let env = Env::new();
    let id = running(&env, "pfile");
    let p = env.dir.path().join("process.json");
    std::fs::write(
        &p,
        serde_json::to_vec(&json!({
            "args": ["/bin/sh", "-c", "echo $A; umask"],
            "env": ["A=from-file", "PATH=/bin"],
            "cwd": "/",
            "user": {"uid": 0, "gid": 0, "umask": 63}
        }))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        env.ok(&["exec", "--process", p.to_str().unwrap(), &id]),
        "from-file\n0077\n"
    );
    std::fs::write(
        &p,
        r#"{"args": ["/bin/true"], "cwd": "relative", "user": {"uid": 0, "gid": 0}}"#,
    )
    .unwrap();
    let e = env.fails(&["exec", "--process", p.to_str().unwrap(), &id]);
    assert!(e.contains("process.cwd: must be absolute"), "{e}");
}

#[test]
fn exec_detach_writes_the_pid_file() {
    let env = Env::new();
    let id = running(&env, "detach");
    let pidfile = env.dir.path().join("exec.pid");
    env.ok(&[
        "exec",
        "--detach",
        "--pid-file",
        pidfile.to_str().unwrap(),
        &id,
        "/bin/sleep",
        "1000",
    ]);
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().parse().unwrap();
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep");
    // It lives in the container's pid namespace.
    let init = env.state(&id)["pid"].as_i64().unwrap();
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap(),
        std::fs::read_link(format!("/proc/{init}/ns/pid")).unwrap()
    );
}

#[test]
fn exec_with_a_tty_over_the_console_socket() {
    let env = Env::new();
    let id = running(&env, "etty");
    let sock = ConsoleSocket::new(&env, "etty");
    let (mut master, _) = std::thread::scope(|s| {
        let h = s.spawn(|| sock.receive());
        env.ok(&[
            "exec",
            "--detach",
            "--tty",
            "--console-socket",
            sock.path.to_str().unwrap(),
            &id,
            "/bin/sh",
            "-c",
            "echo tty=$(tty); read x; echo got:$x",
        ]);
        h.join().unwrap()
    });
    assert!(read_pty_until(&mut master, "tty=/dev/pts/").contains("tty=/dev/pts/"));
    master.write_all(b"ping\n").unwrap();
    assert!(read_pty_until(&mut master, "got:ping").contains("got:ping"));
}

#[test]
fn exec_preserves_extra_fds() {
    let env = Env::new();
    let id = running(&env, "fds");
    let data = env.dir.path().join("data");
    std::fs::write(&data, "through fd 3\n").unwrap();
    let f = std::fs::File::open(&data).unwrap();
    // Not close-on-exec even if the file already got number 3 (dup2 onto itself changes
    // nothing).
    let f: std::fs::File = {
        use std::os::fd::{AsRawFd, FromRawFd};
        let raw = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_DUPFD, 10) };
        unsafe { std::fs::File::from_raw_fd(raw) }
    };
    let out_path = env.dir.path().join("fds.out");
    let mut cmd = env.cmd(&[
        "exec",
        "--preserve-fds",
        "1",
        &id,
        "/bin/sh",
        "-c",
        "cat <&3; ls /proc/self/fd | wc -l",
    ]);
    cmd.stdout(std::fs::File::create(&out_path).unwrap());
    // Put the file at fd 3 in the child.
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let raw = f.as_raw_fd();
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(raw, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    assert!(cmd.status().unwrap().success());
    let out = std::fs::read_to_string(&out_path).unwrap();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("through fd 3"));
    // 0, 1, 2, 3 and the fd ls itself opens for the directory: nothing of xrun's.
    assert_eq!(lines.next(), Some("5"));
}

#[test]
fn exec_errors() {
    let env = Env::new();
    let b = env.bundle("stopped", |s| args(s, &["/bin/true"]));
    let id = env.id("stopped");
    env.ok(&["run", "--detach", "-b", b.to_str().unwrap(), &id]);
    // Wait until the init has exited.
    for _ in 0..500 {
        if env.status(&id) == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let e = env.fails(&["exec", &id, "/bin/true"]);
    assert!(e.contains("cannot exec in a stopped container"), "{e}");
    let id2 = running(&env, "missing");
    let e = env.fails(&["exec", &id2, "/bin/nope"]);
    assert!(
        e.contains("exec: \"/bin/nope\": no such file or directory"),
        "{e}"
    );
    let e = env.fails(&["exec", &id2]);
    assert!(e.contains("no command given"), "{e}");
}

#[test]
fn exec_into_a_user_namespace() {
    let env = Env::new();
    let b = env.bundle("uexec", |s| {
        userns(s);
        args(s, &["/bin/sleep", "1000"]);
    });
    let id = env.id("uexec");
    env.ok(&["run", "--detach", "-b", b.to_str().unwrap(), &id]);
    let out = env.ok(&[
        "exec",
        "--user",
        "1000:1000",
        &id,
        "/bin/sh",
        "-c",
        "id -u; cat /proc/self/uid_map",
    ]);
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["1000", "0", "100000", "65536"]
    );
    // On the host the process runs as the mapped uid.
    let pidfile = env.dir.path().join("u.pid");
    env.ok(&[
        "exec",
        "--detach",
        "--pid-file",
        pidfile.to_str().unwrap(),
        "--user",
        "5",
        &id,
        "/bin/sleep",
        "100",
    ]);
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(uid_line.split_whitespace().nth(1), Some("100005"));
}
