//! `linux.seccomp`: the filter as the container's programs see it (errno values, kills,
//! argument rules, a Docker-like allow list), in `exec` too; SCMP_ACT_NOTIFY with a listener
//! that answers; bad profiles fail `create` cleanly; `features` tells the truth.

mod common;
#[path = "support/docker_like_seccomp.rs"]
mod docker_like_seccomp;

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::symlink;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::{json, Value};

/// A bundle with a writable root, `unshare` and `linux32` applets, the profile and `script`.
fn bundle(env: &Env, name: &str, profile: Value, script: &str) -> PathBuf {
    let b = env.bundle(name, |s| {
        s["root"]["readonly"] = json!(false);
        s["linux"]["seccomp"] = profile;
        sh(s, script);
    });
    for applet in ["unshare", "linux32"] {
        let _ = symlink("busybox", b.join("rootfs/bin").join(applet));
    }
    b
}

fn run(env: &Env, b: &Path, name: &str) -> std::process::Output {
    env.xrun(&["run", "-b", b.to_str().unwrap(), &env.id(name)])
}

fn errno_rule(names: &[&str], errno: u32) -> Value {
    json!({"names": names, "action": "SCMP_ACT_ERRNO", "errnoRet": errno})
}

#[test]
fn errno_with_errno_ret_is_what_the_program_sees() {
    let env = Env::new();
    let profile = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [errno_rule(&["mkdir", "mkdirat"], libc::EDQUOT as u32)]});
    let script = "mkdir /tmp/d; echo rc=$?; grep ^Seccomp: /proc/self/status";
    // With no_new_privs (runc's default spec) the filter is loaded right before the program;
    // without, before the capabilities are dropped.
    for nnp in [true, false] {
        let b = env.bundle(&format!("errno-{nnp}"), |s| {
            s["root"]["readonly"] = json!(false);
            s["process"]["noNewPrivileges"] = json!(nnp);
            s["linux"]["seccomp"] = profile.clone();
            // With every flag but WAIT_KILLABLE_RECV (the notify test has that one).
            s["linux"]["seccomp"]["flags"] = json!([
                "SECCOMP_FILTER_FLAG_LOG",
                "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                "SECCOMP_FILTER_FLAG_TSYNC"
            ]);
            sh(s, script);
        });
        let out = run(&env, &b, "errno");
        assert_eq!(stdout(&out), "rc=1\nSeccomp:\t2\n", "nnp {nnp}");
        assert!(
            stderr(&out).contains("can't create directory '/tmp/d': Disk quota exceeded"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn kill_actions_end_the_process_with_sigsys() {
    let env = Env::new();
    for action in [
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_KILL_PROCESS",
    ] {
        let profile = json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": action}]});
        // The shell sees its child killed by SIGSYS: 128 + 31.
        let b = bundle(
            &env,
            "kill",
            profile.clone(),
            "mkdir /tmp/d; echo status=$?",
        );
        assert_eq!(stdout(&run(&env, &b, "kill")), "status=159\n", "{action}");
        // The container's own process killed: `run` exits as the shell would report it.
        let b = env.bundle("kill-init", |s| {
            s["root"]["readonly"] = json!(false);
            s["linux"]["seccomp"] = profile;
            args(s, &["/bin/mkdir", "/tmp/d"]);
        });
        assert_eq!(
            run(&env, &b, "kill-init").status.code(),
            Some(159),
            "{action}"
        );
    }
}

/// Docker's default profile, shaped here, over the x86_64 calls of the kernel headers.
fn docker_like() -> Value {
    let header = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h";
    let text = std::fs::read_to_string(header).expect("linux-libc-dev's syscall numbers");
    let known = text
        .lines()
        .filter_map(|l| l.strip_prefix("#define __NR_")?.split(' ').next());
    let p = docker_like_seccomp::docker_like(known);
    assert!(p["syscalls"][0]["names"].as_array().unwrap().len() > 300);
    p
}

#[test]
fn docker_like_profile_allows_busybox_and_denies_namespaces_and_mounts() {
    let env = Env::new();
    let script = "echo hi | cat; ls / >/dev/null && echo ls-ok; (sleep 0; echo subshell-ok); \
                  linux32 true && echo personality8-ok; \
                  unshare -U true && echo unshare=ok || echo unshare=failed; \
                  mount -t tmpfs none /mnt && echo mount=ok || echo mount=failed";
    // CAP_SYS_ADMIN is granted: what stops unshare and mount is the filter.
    let with_admin = |s: &mut Value| {
        let caps = json!(["CAP_SYS_ADMIN", "CAP_KILL"]);
        s["process"]["capabilities"] =
            json!({"bounding": caps, "effective": caps, "permitted": caps});
    };
    let b = env.bundle("docker", |s| {
        s["root"]["readonly"] = json!(false);
        s["linux"]["seccomp"] = docker_like();
        with_admin(s);
        sh(s, script);
    });
    std::fs::create_dir_all(b.join("rootfs/mnt")).unwrap();
    let _ = symlink("busybox", b.join("rootfs/bin/unshare"));
    let _ = symlink("busybox", b.join("rootfs/bin/linux32"));
    let out = run(&env, &b, "docker");
    assert_eq!(
        stdout(&out),
        "hi\nls-ok\nsubshell-ok\npersonality8-ok\nunshare=failed\nmount=failed\n",
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("unshare(0x10000000): Operation not permitted"),
        "{}",
        stderr(&out)
    );
    // The same without the profile: both work.
    let b2 = env.bundle("nodocker", |s| {
        s["root"]["readonly"] = json!(false);
        with_admin(s);
        sh(s, script);
    });
    std::fs::create_dir_all(b2.join("rootfs/mnt")).unwrap();
    let _ = symlink("busybox", b2.join("rootfs/bin/unshare"));
    let _ = symlink("busybox", b2.join("rootfs/bin/linux32"));
    let out = stdout(&run(&env, &b2, "nodocker"));
    assert!(out.ends_with("unshare=ok\nmount=ok\n"), "{out}");
}

#[test]
fn argument_rules() {
    let env = Env::new();
    let edquot = |args: Value| json!({"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EDQUOT, "args": args});
    let profile = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        // personality: denied except for value 0.
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EDQUOT,
         "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_NE"}]},
        // Conditions on different arguments: all must hold (signal 0 to pid 1).
        edquot(json!([{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                      {"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}])),
        // Several rules for one call: any of them matching denies.
        edquot(json!([{"index": 1, "value": libc::SIGUSR1, "op": "SCMP_CMP_EQ"}])),
        edquot(json!([{"index": 1, "value": libc::SIGUSR2, "op": "SCMP_CMP_EQ"}])),
        // Conditions on one argument: as runc, each is a rule of its own (either denies).
        {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EDQUOT, "args": [
            {"index": 1, "value": 0o077, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"},
            {"index": 1, "value": 0o700, "valueTwo": 0o700, "op": "SCMP_CMP_MASKED_EQ"}]}
    ]});
    let script = "linux32 true 2>/dev/null; echo linux32=$?; \
                  kill -0 $$ 2>/dev/null; echo k0-init=$?; \
                  sleep 5 & kill -0 $! 2>/dev/null; echo k0-child=$?; kill $!; \
                  for s in CONT USR1 USR2; do kill -$s $$ 2>/dev/null; echo $s=$?; done; \
                  touch /tmp/f; for m in 700 755 600 070; do chmod $m /tmp/f 2>/dev/null; echo $m=$?; done";
    let b = bundle(&env, "args", profile, script);
    assert_eq!(
        stdout(&run(&env, &b, "args")),
        "linux32=1\nk0-init=1\nk0-child=0\nCONT=0\nUSR1=1\nUSR2=1\n700=1\n755=1\n600=1\n070=0\n"
    );
}

#[test]
fn exec_gets_the_containers_filter() {
    let env = Env::new();
    let profile = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [errno_rule(&["mkdir", "mkdirat"], libc::EDQUOT as u32)]});
    let b = env.bundle("exec", |s| {
        s["root"]["readonly"] = json!(false);
        s["linux"]["seccomp"] = profile;
        args(s, &["/bin/sleep", "1000"]);
    });
    let id = env.id("exec");
    env.ok(&["run", "--detach", "-b", b.to_str().unwrap(), &id]);
    let script = "mkdir /tmp/e; echo rc=$?; grep ^Seccomp: /proc/self/status";
    let out = env.xrun(&["exec", &id, "/bin/sh", "-c", script]);
    assert_eq!(stdout(&out), "rc=1\nSeccomp:\t2\n");
    assert!(
        stderr(&out).contains("Disk quota exceeded"),
        "{}",
        stderr(&out)
    );
    // --process: a process.json has no seccomp of its own; without no_new_privs too.
    let p = env.dir.path().join("process.json");
    let process = json!({"args": ["/bin/sh", "-c", script], "cwd": "/", "user": {"uid": 0, "gid": 0},
        "noNewPrivileges": false, "env": ["PATH=/bin"]});
    std::fs::write(&p, process.to_string()).unwrap();
    let out = env.xrun(&["exec", "--process", p.to_str().unwrap(), &id]);
    assert_eq!(stdout(&out), "rc=1\nSeccomp:\t2\n", "{}", stderr(&out));
}

#[test]
fn a_user_namespace_gets_the_filter_too() {
    let env = Env::new();
    let script = "mkdir /tmp/u; echo rc=$?; grep ^Seccomp: /proc/self/status";
    for nnp in [false, true] {
        let b = env.bundle(&format!("userns-{nnp}"), |s| {
            s["process"]["noNewPrivileges"] = json!(nnp);
            userns(s);
            s["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [errno_rule(&["mkdir", "mkdirat"], libc::EDQUOT as u32)]});
            args(s, &["/bin/sleep", "1000"]);
        });
        let id = env.id("userns");
        env.ok(&["run", "--detach", "-b", b.to_str().unwrap(), &id]);
        let init = env.state(&id)["pid"].as_i64().unwrap();
        let status = std::fs::read_to_string(format!("/proc/{init}/status")).unwrap();
        assert!(status.contains("Seccomp:\t2\n"), "nnp {nnp}: {status}");
        let out = env.xrun(&["exec", &id, "/bin/sh", "-c", script]);
        assert_eq!(
            stdout(&out),
            "rc=1\nSeccomp:\t2\n",
            "nnp {nnp}: {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("Disk quota exceeded"),
            "{}",
            stderr(&out)
        );
        env.ok(&["delete", "--force", &id]);
    }
}

#[test]
fn unknown_syscall_names_are_ignored() {
    let env = Env::new();
    let profile = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [errno_rule(&["no_such_syscall", "mkdir", "mkdirat"], libc::EDQUOT as u32)]});
    let b = bundle(&env, "unknown", profile, "mkdir /tmp/d; echo rc=$?");
    let log = env.dir.path().join("log");
    let id = env.id("unknown");
    let out = env.ok(&[
        "--debug",
        "--log",
        log.to_str().unwrap(),
        "run",
        "-b",
        b.to_str().unwrap(),
        &id,
    ]);
    assert_eq!(out, "rc=1\n");
    let log = std::fs::read_to_string(log).unwrap();
    assert!(
        log.contains(
            r#"linux.seccomp.syscalls[0].names[0]: unknown syscall \"no_such_syscall\" ignored"#
        ),
        "{log}"
    );
}

/// This test's cgroup directories exist somewhere.
fn has_cgroups(env: &Env) -> bool {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    text.lines().any(|l| {
        let (ctrl, path) = {
            let mut p = l.splitn(3, ':').skip(1);
            (p.next().unwrap_or(""), p.next().unwrap_or("/"))
        };
        let mount = match ctrl {
            "" if Path::new("/sys/fs/cgroup/unified").exists() => "unified".to_string(),
            "" => String::new(),
            c => c.trim_start_matches("name=").to_string(),
        };
        Path::new("/sys/fs/cgroup")
            .join(mount)
            .join(path.trim_start_matches('/'))
            .join(&env.cgroup_prefix)
            .exists()
    })
}

#[test]
fn bad_profiles_fail_create_and_leave_nothing() {
    let env = Env::new();
    let ok_rule = json!({"names": ["read"], "action": "SCMP_ACT_ALLOW"});
    let cases = [
        (json!({"names": ["read"], "action": "SCMP_ACT_FOO"}),
         "config.json: linux.seccomp.syscalls[1].action: unknown variant `SCMP_ACT_FOO`"),
        (json!({"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_FOO"}]}),
         "config.json: linux.seccomp.syscalls[1].args[0].op: unknown variant `SCMP_CMP_FOO`"),
        (json!({"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}),
         "config.json: linux.seccomp.syscalls[1].args[0].index: 6 is not an argument number (0 to 5)"),
        (json!({"names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}),
         "config.json: linux.seccomp.syscalls[1].errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE return a value"),
        (json!({"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}),
         "config.json: linux.seccomp.listenerPath: must be set when a rule uses SCMP_ACT_NOTIFY"),
    ];
    let mut profiles: Vec<(Value, &str)> = cases
        .into_iter()
        .map(|(rule, want)| {
            (
                json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [ok_rule, rule]}),
                want,
            )
        })
        .collect();
    profiles.push((
        json!({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_FOO"]}),
        "config.json: linux.seccomp.architectures[0]: unknown variant `SCMP_ARCH_FOO`",
    ));
    profiles.push((
        json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": env.dir.path().join("nobody.sock"),
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
        "linux.seccomp.listenerPath: ",
    ));
    for (i, (profile, want)) in profiles.into_iter().enumerate() {
        let b = bundle(&env, &format!("bad{i}"), profile, "true");
        let id = env.id("bad");
        let e = env.fails(&["create", "-b", b.to_str().unwrap(), &id]);
        assert_eq!(e.lines().count(), 1, "{e}");
        let msg = e.trim().strip_prefix("xrun: error: ").unwrap_or(&e);
        assert!(msg.starts_with(want), "{e}\n  wanted: {want}");
        assert!(!env.root.join(&id).exists(), "{id}: state left");
    }
    assert!(!has_cgroups(&env), "a cgroup was left");
    assert_eq!(env.ok(&["list", "--quiet"]), "");
}

/// A seccomp agent: receives the container process state and the notification descriptor,
/// then answers each notification with the next of `answers` (`(error, val)`); returns the
/// state and the system call numbers it saw.
fn agent(path: &Path, answers: Vec<(i32, i64)>) -> std::thread::JoinHandle<(Value, Vec<i32>)> {
    let listener = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        // Never wait forever: a create that failed would not connect.
        let mut pfd = libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd.
        assert_eq!(
            unsafe { libc::poll(&mut pfd, 1, 30_000) },
            1,
            "nobody connected"
        );
        let (conn, _) = listener.accept().unwrap();
        let mut data = Vec::new();
        let mut fd: Option<OwnedFd> = None;
        let state = loop {
            let mut buf = [0u8; 8192];
            let (n, got) = recv_with_fd(&conn, &mut buf);
            fd = fd.or(got);
            assert!(n > 0, "connection closed before the state arrived");
            data.extend_from_slice(&buf[..n]);
            if let Ok(v) = serde_json::from_slice::<Value>(&data) {
                break v;
            }
        };
        let notify = fd.expect("no descriptor received");
        let mut seen = Vec::new();
        for (error, val) in answers {
            let mut pfd = libc::pollfd {
                fd: notify.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, 30_000) };
            assert_eq!(n, 1, "no notification came");
            if pfd.revents & libc::POLLIN == 0 {
                break;
            }
            // SAFETY: the kernel fills the zeroed request, then reads our answer.
            let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
            let r = unsafe {
                libc::ioctl(notify.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req)
            };
            assert_eq!(r, 0, "NOTIF_RECV: {}", std::io::Error::last_os_error());
            seen.push(req.data.nr);
            if seen.len() == 1 {
                // The state's pid is the container's process as the host sees it.
                let pid = state["pid"].as_i64().unwrap();
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                assert!(
                    String::from_utf8_lossy(&cmdline).contains("rc1="),
                    "{cmdline:?}"
                );
            }
            let mut resp = libc::seccomp_notif_resp {
                id: req.id,
                val,
                error,
                flags: 0,
            };
            let r = unsafe {
                libc::ioctl(
                    notify.as_raw_fd(),
                    libc::SECCOMP_IOCTL_NOTIF_SEND,
                    &mut resp,
                )
            };
            assert_eq!(r, 0, "NOTIF_SEND: {}", std::io::Error::last_os_error());
        }
        (state, seen)
    })
}

#[test]
fn notify_hands_the_listener_its_descriptor_and_the_program_sees_the_answers() {
    let env = Env::new();
    let script = "mkdir /tmp/n1; echo rc1=$?; mkdir /tmp/n2; echo rc2=$?; \
                  test -d /tmp/n2 && echo n2-exists || echo n2-absent";
    for nnp in [true, false] {
        let sock = env.dir.path().join(format!("agent-{nnp}.sock"));
        let b = env.bundle(&format!("notify-{nnp}"), |s| {
            s["root"]["readonly"] = json!(false);
            s["process"]["noNewPrivileges"] = json!(nnp);
            s["annotations"] = json!({"test": "notify"});
            s["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
                "listenerPath": sock, "listenerMetadata": "meta-42",
                "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]});
            sh(s, script);
        });
        // The first mkdir fails with ENOSPC, the second "succeeds" without being made.
        let a = agent(&sock, vec![(-libc::ENOSPC, 0), (0, 0)]);
        let id = env.id("notify");
        let out = env.xrun(&["run", "-b", b.to_str().unwrap(), &id]);
        let (state, seen) = a.join().unwrap();
        assert_eq!(
            stdout(&out),
            "rc1=1\nrc2=0\nn2-absent\n",
            "{}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("No space left on device"),
            "{}",
            stderr(&out)
        );
        assert_eq!(seen, vec![libc::SYS_mkdir as i32; 2]);
        assert_eq!(state["fds"], json!(["seccompFd"]));
        assert_eq!(state["metadata"], "meta-42");
        assert_eq!(state["ociVersion"], state["state"]["ociVersion"]);
        let pid = state["pid"].as_i64().unwrap();
        assert!(pid > 1);
        assert_eq!(state["state"]["pid"], pid);
        assert_eq!(state["state"]["id"], json!(id));
        assert_eq!(state["state"]["status"], "creating");
        assert_eq!(state["state"]["bundle"], json!(b));
        assert_eq!(state["state"]["annotations"]["test"], "notify");
    }
}

/// `exec` into a container whose profile notifies: the listener gets a new connection with
/// the exec'd process's own descriptor, and answers its calls.
#[test]
fn exec_hands_the_listener_a_descriptor_of_its_own() {
    let env = Env::new();
    let sock = env.dir.path().join("agent-exec.sock");
    let b = env.bundle("notify-exec", |s| {
        s["root"]["readonly"] = json!(false);
        s["process"]["noNewPrivileges"] = json!(true);
        s["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock,
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]});
        args(s, &["/bin/sleep", "100"]);
    });
    let a = agent(&sock, vec![]);
    let id = env.id("notify-exec");
    env.ok(&["run", "-d", "-b", b.to_str().unwrap(), &id]);
    let (init, _) = a.join().unwrap();
    assert_eq!(init["state"]["id"], json!(id));
    std::fs::remove_file(&sock).unwrap();
    let a = agent(&sock, vec![(-libc::EROFS, 0)]);
    let script = "mkdir /tmp/e1; echo rc1=$?";
    let out = env.xrun(&["exec", &id, "/bin/sh", "-c", script]);
    let (state, seen) = a.join().unwrap();
    assert_eq!(stdout(&out), "rc1=1\n", "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Read-only file system"),
        "{}",
        stderr(&out)
    );
    assert_eq!(seen, vec![libc::SYS_mkdir as i32]);
    assert_eq!(state["state"]["status"], "running");
    assert_ne!(state["pid"], init["pid"]);
}

#[test]
fn features_report_seccomp_truthfully() {
    let env = Env::new();
    let f: Value = serde_json::from_str(&env.ok(&["features"])).unwrap();
    let s = &f["linux"]["seccomp"];
    assert_eq!(s["enabled"], true);
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    };
    for a in [
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_LOG",
        "SCMP_ACT_NOTIFY",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_TRAP",
    ] {
        assert!(strings(&s["actions"]).contains(&a.to_string()), "{a}");
    }
    assert_eq!(strings(&s["operators"]).len(), 7);
    assert_eq!(
        strings(&s["archs"]),
        ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"]
    );
    let known = strings(&s["knownFlags"]);
    assert_eq!(known.len(), 4);
    assert!(strings(&s["supportedFlags"])
        .iter()
        .all(|f| known.contains(f)));
    // This kernel (6.x) has every flag.
    assert_eq!(strings(&s["supportedFlags"]).len(), 4);
    // runc's answer (libseccomp's) for the actions and operators, where runc is installed.
    if let Ok(out) = std::process::Command::new("runc").arg("features").output() {
        if let Ok(r) = serde_json::from_slice::<Value>(&out.stdout) {
            let rs = &r["linux"]["seccomp"];
            assert_eq!(strings(&rs["actions"]), strings(&s["actions"]));
            assert_eq!(strings(&rs["operators"]), strings(&s["operators"]));
        }
    }
}
