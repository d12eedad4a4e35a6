//! `linux.namespaces`: new ones, joined ones (by path), user namespace mappings, time offsets.

mod common;

use common::*;
use serde_json::json;

#[test]
fn new_namespaces_differ_from_the_hosts() {
    let env = Env::new();
    let b = env.bundle("newns", |s| {
        sh(
            s,
            "for n in pid net ipc uts mnt; do readlink /proc/self/ns/$n; done; echo $$",
        );
    });
    let out = env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("newns")]);
    let lines: Vec<&str> = out.lines().collect();
    for (i, n) in ["pid", "net", "ipc", "uts", "mnt"].iter().enumerate() {
        let host = std::fs::read_link(format!("/proc/self/ns/{n}")).unwrap();
        assert_ne!(lines[i], host.to_str().unwrap(), "{n} is the host's");
    }
    assert_eq!(lines[5], "1", "the process is pid 1 of its namespace");
}

#[test]
fn namespaces_not_listed_are_shared_with_the_host() {
    let env = Env::new();
    let b = env.bundle("sharens", |s| {
        // Keep only a mount namespace.
        s["linux"]["namespaces"] = json!([{"type": "mount"}]);
        s.as_object_mut().unwrap().remove("hostname");
        sh(s, "readlink /proc/self/ns/net; readlink /proc/self/ns/uts");
    });
    let out = env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("sharens")]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        std::fs::read_link("/proc/self/ns/net")
            .unwrap()
            .to_str()
            .unwrap()
    );
    assert_eq!(
        lines[1],
        std::fs::read_link("/proc/self/ns/uts")
            .unwrap()
            .to_str()
            .unwrap()
    );
}

#[test]
fn user_namespace_with_mappings() {
    let env = Env::new();
    let b = env.bundle("userns", |s| {
        userns(s);
        sh(s, "cat /proc/self/uid_map /proc/self/gid_map; id -u; stat -c %u /bin/busybox; touch /dev/shm/x && stat -c %u /dev/shm/x");
    });
    let out = env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("userns")]);
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(
        &words[..6],
        ["0", "100000", "65536", "0", "100000", "65536"]
    );
    assert_eq!(words[6], "0", "root inside");
    // The rootfs belongs to host root, which is not mapped: it shows as the overflow uid.
    assert_eq!(words[7], "65534");
    assert_eq!(
        words[8], "0",
        "files the container creates belong to its root"
    );
}

#[test]
fn join_a_network_namespace_by_path() {
    let env = Env::new();
    let name = format!("xrun-test-{}", std::process::id());
    let status = std::process::Command::new("ip")
        .args(["netns", "add", &name])
        .status()
        .unwrap();
    assert!(status.success());
    struct Del(String);
    impl Drop for Del {
        fn drop(&mut self) {
            let _ = std::process::Command::new("ip")
                .args(["netns", "delete", &self.0])
                .status();
        }
    }
    let _del = Del(name.clone());
    let path = format!("/run/netns/{name}");
    let want = std::fs::metadata(&path)
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .unwrap();
    let b = env.bundle("joinnet", |s| {
        for ns in s["linux"]["namespaces"].as_array_mut().unwrap() {
            if ns["type"] == "network" {
                ns["path"] = json!(path);
            }
        }
        sh(s, "readlink /proc/self/ns/net; echo $$");
    });
    let out = env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("joinnet")]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("net:[{want}]"));
    // The two-clone path still makes the process pid 1 of a new pid namespace.
    assert_eq!(lines[1], "1");
}

#[test]
fn joining_a_missing_namespace_fails_cleanly() {
    let env = Env::new();
    let b = env.bundle("nonet", |s| {
        s["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "time", "path": "/nonexistent/ns"}));
    });
    let id = env.id("nonet");
    let e = env.fails(&["create", "-b", b.to_str().unwrap(), &id]);
    assert!(e.contains("open namespace /nonexistent/ns"), "{e}");
    assert!(!env.root.join(&id).exists());
}

#[test]
fn time_namespace_offsets() {
    let env = Env::new();
    let b = env.bundle("timens", |s| {
        s["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "time"}));
        s["linux"]["timeOffsets"] = json!({"boottime": {"secs": 86400 * 365, "nanosecs": 0}});
        sh(s, "cut -d. -f1 /proc/uptime");
    });
    let host: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let out = env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("timens")]);
    let inside: f64 = out.trim().parse().unwrap();
    let diff = inside - host;
    assert!(
        (86400.0 * 365.0 - 5.0..86400.0 * 365.0 + 60.0).contains(&diff),
        "uptime moved by {diff}"
    );
}

#[test]
fn hostname_and_domainname() {
    let env = Env::new();
    let b = env.bundle("uts", |s| {
        s["hostname"] = json!("box1");
        s["domainname"] = json!("example.org");
        sh(s, "hostname; cat /proc/sys/kernel/domainname");
    });
    assert_eq!(
        env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("uts")]),
        "box1\nexample.org\n"
    );
}
