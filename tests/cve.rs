//! runc's CVE history, replayed against xrun: each attack must fail and leave the host as it was.

mod common;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

/// Every capability the test itself holds (this host lacks some, e.g. CAP_SYS_RESOURCE).
fn all_caps(s: &mut serde_json::Value) {
    let all: Vec<String> = caps::read(None, caps::CapSet::Permitted)
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    s["process"]["capabilities"] = json!({
        "bounding": all, "effective": all, "permitted": all, "inheritable": all, "ambient": all
    });
}

fn wait_for_file(p: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !p.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", p.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// CVE-2019-5736: a privileged container keeps a handle on the init's /proc/1/exe (the runtime
/// binary, before the init execs) and writes through it once the init has exec'd.
#[test]
fn cve_2019_5736_runtime_binary_cannot_be_overwritten() {
    let env = Env::new();
    let before = std::fs::read(XRUN).unwrap();
    let out = env.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let b = env.bundle("exe", |s| {
        all_caps(s);
        s["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/out", "type": "bind", "source": out.to_str().unwrap(), "options": ["rbind"]
        }));
        args(s, &["/bin/sleep", "1000"]);
    });
    let id = env.id("exe");
    env.ok(&["create", "-b", b.to_str().unwrap(), &id]);
    let init = env.state(&id)["pid"].as_i64().unwrap();
    // From the host: the init runs the runtime from a read-only overlay, not the host file.
    let exe = std::fs::metadata(format!("/proc/{init}/exe")).unwrap();
    let host = std::fs::metadata(XRUN).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert!(
        (exe.dev(), exe.ino()) != (host.dev(), host.ino()),
        "init runs the host binary itself"
    );
    let e = std::fs::OpenOptions::new()
        .append(true)
        .open(format!("/proc/{init}/exe"))
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{e}");

    let attack = "exec 5</proc/1/exe; \
                  while [ \"$(cat /proc/1/comm)\" != sleep ]; do sleep 0.02; done; \
                  (echo pwned >> /proc/self/fd/5) 2> /out/err; echo done > /out/done";
    env.ok(&["exec", "--detach", &id, "/bin/sh", "-c", attack]);
    env.ok(&["start", &id]);
    wait_for_file(&out.join("done"));
    let err = std::fs::read_to_string(out.join("err")).unwrap();
    assert!(err.contains("Read-only file system"), "{err}");
    assert_eq!(
        std::fs::read(XRUN).unwrap(),
        before,
        "the runtime binary changed"
    );
}

/// CVE-2024-21626: process.cwd through a leaked descriptor (/proc/self/fd/N) must not land
/// outside the container, and the container's process holds no descriptor of ours.
#[test]
fn cve_2024_21626_cwd_through_a_leaked_fd() {
    let env = Env::new();
    for n in 3..12 {
        let b = env.bundle(&format!("cwd{n}"), |s| {
            s["process"]["cwd"] = json!(format!("/proc/self/fd/{n}"));
            sh(s, "pwd; ls /");
        });
        let out = env.xrun(&["run", "-b", b.to_str().unwrap(), &env.id("cwd")]);
        if out.status.success() {
            // Only a directory inside the container could have been entered.
            assert!(stdout(&out).contains("bin"), "fd {n}: {}", stdout(&out));
        } else {
            assert!(
                stderr(&out).contains("process.cwd"),
                "fd {n}: {}",
                stderr(&out)
            );
        }
    }
    let b = env.bundle("fds", |s| sh(s, "ls /proc/self/fd"));
    let fds = env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("fds")]);
    // 0, 1, 2 and the directory ls itself opened.
    assert_eq!(fds.split_whitespace().count(), 4, "{fds}");
}

/// A /dev bind-mounted from a directory the attacker controls: the names the runtime mounts
/// from or onto are symlinks to a host procfs file.
fn hostile_dev(env: &Env, names: &[&str]) -> std::path::PathBuf {
    let dev = env.dir.path().join("hostile-dev");
    std::fs::create_dir_all(dev.join("pts")).unwrap();
    symlink("pts/ptmx", dev.join("ptmx")).unwrap();
    for n in names {
        symlink("/proc/sys/kernel/core_pattern", dev.join(n)).unwrap();
    }
    dev
}

/// CVE-2025-31133: /dev/null swapped for a symlink before it is used to mask paths.
#[test]
fn cve_2025_31133_masking_never_uses_a_fake_dev_null() {
    let env = Env::new();
    let core = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let dev = hostile_dev(&env, &["null"]);
    let b = env.bundle("null", |s| {
        s["mounts"][1] = json!({"destination": "/dev", "type": "bind", "source": dev.to_str().unwrap(), "options": ["rbind"]});
        s["linux"]["maskedPaths"] = json!(["/proc/timer_list"]);
    });
    let id = env.id("null");
    let e = env.fails(&["run", "-b", b.to_str().unwrap(), &id]);
    assert!(e.contains("/dev/null") && e.contains("symlink"), "{e}");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        core
    );
    assert!(!env.root.join(&id).exists());
}

/// CVE-2025-52565: /dev/console swapped for a symlink before the pty is bound onto it.
#[test]
fn cve_2025_52565_console_is_never_bound_through_a_symlink() {
    let env = Env::new();
    let core = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let dev = hostile_dev(&env, &["console"]);
    let b = env.bundle("console", |s| {
        s["process"]["terminal"] = json!(true);
        s["mounts"][1] = json!({"destination": "/dev", "type": "bind", "source": dev.to_str().unwrap(), "options": ["rbind"]});
    });
    let id = env.id("console");
    let sock = ConsoleSocket::new(&env, "console");
    let e = env.fails(&[
        "create",
        "-b",
        b.to_str().unwrap(),
        "--console-socket",
        sock.path.to_str().unwrap(),
        &id,
    ]);
    assert!(e.contains("/dev/console") && e.contains("symlink"), "{e}");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        core
    );
    assert!(!env.root.join(&id).exists());
}

/// CVE-2025-52881: a mount over /proc/sys must not redirect the runtime's sysctl writes.
#[test]
fn cve_2025_52881_sysctl_writes_reach_the_kernel() {
    let env = Env::new();
    let b = env.bundle("sysctl", |s| {
        s["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/proc/sys", "type": "tmpfs", "source": "tmpfs"}));
        s["linux"]["readonlyPaths"] = json!([]);
        s["linux"]["sysctl"] = json!({"kernel.shmmni": "1234"});
        args(s, &["/bin/sleep", "1000"]);
    });
    let id = env.id("sysctl");
    env.ok(&["run", "--detach", "-b", b.to_str().unwrap(), &id]);
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    // The container sees the decoy tmpfs, and nothing was written into it.
    assert_eq!(env.ok(&["exec", &id, "/bin/ls", "-A", "/proc/sys"]), "");
    // The kernel value in the container's ipc namespace was set, through the real procfs.
    let real = std::process::Command::new("nsenter")
        .args([
            "--ipc",
            &format!("--target={pid}"),
            "cat",
            "/proc/sys/kernel/shmmni",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&real.stdout), "1234\n");
}

/// Swaps `a` and `b` atomically (both exist) until `stop` is set.
fn flip_until(a: &Path, b: &Path, stop: &std::sync::atomic::AtomicBool) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    let (a, b) = (c(a), c(b));
    let mut n = 0;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        // SAFETY: two valid C strings; renameat2 only reads them.
        let r = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                a.as_ptr(),
                libc::AT_FDCWD,
                b.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
        n += 1;
    }
    n
}

/// CVE-2021-30465: mount destinations whose parent is swapped, while the runtime works,
/// between a directory and a symlink to a host directory. Neither the mkdir of a missing
/// destination nor a mount may ever land on the host path: the container must see both of its
/// tmpfs mounts (inside its root, wherever the symlink led), and the host directory stays empty.
#[test]
fn cve_2021_30465_mount_destination_symlink_race() {
    let env = Env::new();
    let outside = env.dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let b = env.bundle("race", |s| {
        let m = s["mounts"].as_array_mut().unwrap();
        m.push(json!({"destination": "/race/sub", "type": "tmpfs", "source": "tmpfs"}));
        m.push(json!({"destination": "/race2", "type": "tmpfs", "source": "tmpfs"}));
        args(s, &["/bin/true"]);
    });
    let rootfs = b.join("rootfs");
    std::fs::create_dir(rootfs.join("race")).unwrap();
    symlink(&outside, rootfs.join("race.alt")).unwrap();
    std::fs::create_dir(rootfs.join("race2")).unwrap();
    symlink(&outside, rootfs.join("race2.alt")).unwrap();

    let stop = std::sync::atomic::AtomicBool::new(false);
    let out = outside.to_str().unwrap().to_string();
    std::thread::scope(|t| {
        let flips = [
            t.spawn(|| flip_until(&rootfs.join("race"), &rootfs.join("race.alt"), &stop)),
            t.spawn(|| flip_until(&rootfs.join("race2"), &rootfs.join("race2.alt"), &stop)),
        ];
        // Stops the flippers also when an assertion below fails (the scope joins them).
        struct Stop<'a>(&'a std::sync::atomic::AtomicBool);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let guard = Stop(&stop);
        for i in 0..25 {
            let id = env.id(&format!("race{i}"));
            let o = env.xrun(&["create", "-b", b.to_str().unwrap(), &id]);
            if !o.status.success() {
                // Losing the race may fail the create; it must leave nothing behind.
                assert!(!env.root.join(&id).exists(), "{}", stderr(&o));
                continue;
            }
            let mi = env.ok(&["exec", &id, "/bin/cat", "/proc/self/mountinfo"]);
            let tmpfs: Vec<&str> = mi
                .lines()
                .filter(|l| l.contains(" - tmpfs tmpfs "))
                .map(|l| l.split(' ').nth(4).unwrap())
                .collect();
            // The swap may have moved the directory after the mount (`.alt`); a symlink that
            // was followed leads to the host path's twin inside the root.
            let sub = format!("{out}/sub");
            assert!(
                tmpfs
                    .iter()
                    .any(|m| ["/race/sub", "/race.alt/sub", &sub].contains(m)),
                "/race/sub is not mounted in the container: {tmpfs:?}"
            );
            assert!(
                tmpfs
                    .iter()
                    .any(|m| ["/race2", "/race2.alt", &out].contains(m)),
                "/race2 is not mounted in the container: {tmpfs:?}"
            );
            env.ok(&["delete", "--force", &id]);
        }
        drop(guard);
        for f in flips {
            assert!(f.join().unwrap() > 0);
        }
    });
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "the runtime created something on the host"
    );
}
