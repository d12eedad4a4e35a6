//! The container's root filesystem: mounts and their flags, devices, masked and read-only
//! paths, a read-only root, propagation, --no-pivot, and paths that must stay inside the root.

mod common;

use common::*;
use serde_json::json;

/// The mountinfo line of the mount at `mp` as the container sees it.
fn mountinfo_line<'a>(mountinfo: &'a str, mp: &str) -> &'a str {
    mountinfo
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some(mp))
        .unwrap_or_else(|| panic!("no mount at {mp} in:\n{mountinfo}"))
}

#[test]
fn readonly_root_masked_and_readonly_paths() {
    let env = Env::new();
    let b = env.bundle("ro", |s| {
        sh(
            s,
            "touch /newfile 2>&1; wc -c < /proc/timer_list; ls -A /sys/firmware | wc -l; touch /sys/firmware/x 2>&1; \
             (echo 1 > /proc/sys/kernel/domainname) 2>&1; touch /dev/shm/ok && echo dev-shm-writable",
        );
    });
    let out = env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("ro")]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("Read-only file system"), "{out}");
    assert_eq!(lines[1], "0", "/proc/timer_list is masked by /dev/null");
    assert_eq!(lines[2], "0", "/sys/firmware is masked by an empty tmpfs");
    assert!(lines[3].contains("Read-only file system"), "{out}");
    assert!(lines[4].contains("Read-only file system"), "{out}");
    assert_eq!(lines[5], "dev-shm-writable");
}

#[test]
fn mounts_get_their_types_flags_and_data() {
    let env = Env::new();
    let host_dir = env.dir.path().join("shared-dir");
    std::fs::create_dir_all(host_dir.join("sub")).unwrap();
    std::fs::write(host_dir.join("file"), "host data\n").unwrap();
    let hd = host_dir.to_str().unwrap().to_string();
    let b = env.bundle("mounts", |s| {
        let m = s["mounts"].as_array_mut().unwrap();
        m.push(json!({"destination": "/data/tmp", "type": "tmpfs", "source": "tmpfs",
                      "options": ["nosuid", "nodev", "noexec", "size=1m", "mode=700"]}));
        m.push(json!({"destination": "/data/ro", "type": "bind", "source": hd, "options": ["bind", "ro"]}));
        m.push(json!({"destination": "/data/file", "source": format!("{hd}/file"), "options": ["bind"]}));
        m.push(json!({"destination": "/data/shared", "type": "tmpfs", "source": "tmpfs", "options": ["rshared"]}));
        sh(s, "cat /proc/self/mountinfo; echo ---; cat /data/ro/file /data/file; stat -c %a /data/tmp; touch /data/ro/x 2>&1; true");
    });
    let out = env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("mounts")]);
    let (info, rest) = out.split_once("---\n").unwrap();
    let tmp = mountinfo_line(info, "/data/tmp");
    assert!(tmp.contains(" - tmpfs "), "{tmp}");
    for f in ["nosuid", "nodev", "noexec"] {
        assert!(tmp.split(' ').nth(5).unwrap().contains(f), "{f}: {tmp}");
    }
    assert!(tmp.contains("size=1024k"), "{tmp}");
    let ro = mountinfo_line(info, "/data/ro");
    assert!(ro.split(' ').nth(5).unwrap().starts_with("ro"), "{ro}");
    assert!(mountinfo_line(info, "/data/shared").contains("shared:"));
    let lines: Vec<&str> = rest.lines().collect();
    assert_eq!(&lines[..2], ["host data", "host data"]);
    assert_eq!(lines[2], "700");
    assert!(lines[3].contains("Read-only file system"));
    // Nothing was created on the host side of the bind.
    assert!(!host_dir.join("x").exists());
}

#[test]
fn default_and_config_devices() {
    let env = Env::new();
    let b = env.bundle("dev", |s| {
        s["linux"]["devices"] = json!([
            {"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200, "fileMode": 432, "uid": 7, "gid": 8}
        ]);
        sh(s, "for d in null zero full random urandom tty net/tun; do stat -c '%n %F %t:%T %a %u:%g' /dev/$d; done; \
               for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done; echo x > /dev/null && head -c 3 /dev/zero | wc -c");
    });
    let out = env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("dev")]);
    let want = "/dev/null character special file 1:3 666 0:0\n\
                /dev/zero character special file 1:5 666 0:0\n\
                /dev/full character special file 1:7 666 0:0\n\
                /dev/random character special file 1:8 666 0:0\n\
                /dev/urandom character special file 1:9 666 0:0\n\
                /dev/tty character special file 5:0 666 0:0\n\
                /dev/net/tun character special file a:c8 660 7:8\n\
                /proc/self/fd\n/proc/self/fd/0\n/proc/self/fd/1\n/proc/self/fd/2\npts/ptmx\n3\n";
    assert_eq!(out, want);
}

#[test]
fn no_pivot_runs_with_a_chroot() {
    let env = Env::new();
    let b = env.bundle("nopivot", |s| {
        sh(s, "ls /; cat /proc/self/mountinfo | wc -l")
    });
    let out = env.ok(&[
        "run",
        "--no-pivot",
        "-b",
        b.to_str().unwrap(),
        &env.id("nopivot"),
    ]);
    assert!(out.contains("bin\n"), "{out}");
}

#[test]
fn rootfs_propagation_shared() {
    let env = Env::new();
    let b = env.bundle("prop", |s| {
        s["linux"]["rootfsPropagation"] = json!("shared");
        sh(s, "cat /proc/self/mountinfo");
    });
    let out = env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("prop")]);
    assert!(
        mountinfo_line(&out, "/").contains("shared:"),
        "{}",
        mountinfo_line(&out, "/")
    );
}

#[test]
fn missing_cwd_is_created() {
    let env = Env::new();
    let b = env.bundle("cwd", |s| {
        s["process"]["cwd"] = json!("/work/dir");
        sh(s, "pwd");
    });
    assert_eq!(
        env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("cwd")]),
        "/work/dir\n"
    );
    assert!(b.join("rootfs/work/dir").is_dir());
}

#[test]
fn mount_destinations_through_symlinks_stay_inside_the_root() {
    let env = Env::new();
    let outside = env.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let b = env.bundle("escape", |s| {
        let m = s["mounts"].as_array_mut().unwrap();
        m.push(json!({"destination": "/abs/sub", "type": "tmpfs", "source": "tmpfs"}));
        m.push(json!({"destination": "/rel/sub", "type": "tmpfs", "source": "tmpfs"}));
        sh(s, "true");
    });
    // Symlinks in the image that point outside the rootfs: absolute and through ../..
    std::os::unix::fs::symlink(&outside, b.join("rootfs/abs")).unwrap();
    std::os::unix::fs::symlink("../../../../../../../../../../", b.join("rootfs/rel")).unwrap();
    env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("escape")]);
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "a mount point was made on the host"
    );
    // Both resolved inside the root instead.
    assert!(b
        .join("rootfs")
        .join(outside.strip_prefix("/").unwrap())
        .join("sub")
        .is_dir());
    assert!(b.join("rootfs/sub").is_dir());
}

#[test]
fn proc_is_never_mounted_through_a_symlink() {
    // CVE-2019-16884 / CVE-2019-19921: an image whose /proc is a symlink.
    let env = Env::new();
    let b = env.bundle("procsym", |s| sh(s, "true"));
    std::fs::remove_dir(b.join("rootfs/proc")).unwrap();
    std::fs::create_dir(b.join("rootfs/fakeproc")).unwrap();
    std::os::unix::fs::symlink("/fakeproc", b.join("rootfs/proc")).unwrap();
    let id = env.id("procsym");
    let e = env.fails(&["run", "-b", b.to_str().unwrap(), &id]);
    assert!(
        e.contains("mounts[0] (/proc): /proc is reached through a symlink"),
        "{e}"
    );
    assert!(!env.root.join(&id).exists());
}
