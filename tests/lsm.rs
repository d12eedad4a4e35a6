//! LSM labels for the container's process: applied when the host has the LSM (the pure
//! cgroup v2 VM runs Debian's kernel with AppArmor on), a clear error when it does not.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::json;

fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}

#[test]
fn apparmor_profile_is_applied_or_refused() {
    let env = Env::new();
    let profile = format!("xrun-test-{}", std::process::id());
    let b = env.bundle("aa", |s| {
        s["process"]["apparmorProfile"] = json!(profile);
        s["root"]["readonly"] = json!(false);
        sh(
            s,
            "cat /proc/self/attr/current; cat /secret 2>&1; echo done",
        );
    });
    std::fs::write(b.join("rootfs/secret"), "hidden\n").unwrap();
    let id = env.id("aa");
    if !apparmor_enabled() {
        let e = env.fails(&["run", "-b", b.to_str().unwrap(), &id]);
        assert_eq!(
            e.trim(),
            "xrun: error: process.apparmorProfile: AppArmor is not enabled on this host"
        );
        assert!(!env.root.join(&id).exists());
        return;
    }
    // apparmor_parser talks to the kernel through securityfs.
    if !Path::new("/sys/kernel/security/apparmor").exists() {
        let _ = nix::mount::mount(
            Some("securityfs"),
            "/sys/kernel/security",
            Some("securityfs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        );
    }
    let file = env.dir.path().join("profile");
    std::fs::write(
        &file,
        format!(
            "profile {profile} flags=(attach_disconnected,mediate_deleted) {{\n  file,\n  capability,\n  network,\n  \
             mount,\n  umount,\n  pivot_root,\n  signal,\n  ptrace,\n  unix,\n  deny /secret r,\n}}\n"
        ),
    )
    .unwrap();
    let load = Command::new("apparmor_parser")
        .arg("-r")
        .arg(&file)
        .output()
        .expect("apparmor_parser (apparmor package)");
    assert!(load.status.success(), "{}", stderr(&load));
    struct Unload(std::path::PathBuf);
    impl Drop for Unload {
        fn drop(&mut self) {
            let _ = Command::new("apparmor_parser")
                .arg("-R")
                .arg(&self.0)
                .output();
        }
    }
    let _unload = Unload(file.clone());
    let out = env.ok(&["run", "-b", b.to_str().unwrap(), &id]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("{profile} (enforce)"));
    assert!(lines[1].contains("Permission denied"), "{out}");
    assert_eq!(lines[2], "done");
}

#[test]
fn selinux_label_without_selinux_is_refused() {
    if Path::new("/sys/fs/selinux/enforce").exists() {
        eprintln!("SELinux is enabled here; its labels are applied, not refused");
        return;
    }
    let env = Env::new();
    let b = env.bundle("se", |s| {
        s["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0")
    });
    let id = env.id("se");
    let e = env.fails(&["run", "-b", b.to_str().unwrap(), &id]);
    assert_eq!(
        e.trim(),
        "xrun: error: process.selinuxLabel: SELinux is not enabled on this host"
    );
}
