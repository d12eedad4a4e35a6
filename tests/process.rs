//! `process`: user, groups, umask, rlimits, capabilities, no_new_privs, oom score, scheduling,
//! personality, env, LSM labels, socket activation.

mod common;

use common::*;
use serde_json::json;

fn status_field<'a>(status: &'a str, key: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("{key} missing"))
        .trim()
}

#[test]
fn user_groups_and_umask() {
    let env = Env::new();
    let b = env.bundle("user", |s| {
        s["process"]["user"] =
            json!({"uid": 1000, "gid": 1000, "additionalGids": [5, 6], "umask": 18});
        sh(s, "id -u; id -g; id -G; umask; echo $HOME");
    });
    let out = env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("user")]);
    assert_eq!(out, "1000\n1000\n1000 5 6\n0022\n/home/user\n");
}

#[test]
fn rlimits_are_applied() {
    let env = Env::new();
    let b = env.bundle("rlimit", |s| {
        s["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 256, "hard": 512},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
            {"type": "RLIMIT_NPROC", "soft": 100, "hard": 200}
        ]);
        sh(s, "ulimit -n; ulimit -Hn; ulimit -c; ulimit -u");
    });
    assert_eq!(
        env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("rlimit")]),
        "256\n512\n0\n100\n"
    );
}

#[test]
fn raising_a_hard_rlimit_without_the_capability_is_a_clear_error() {
    // This host has no CAP_SYS_RESOURCE, and its hard nofile limit is 20000.
    let env = Env::new();
    let b = env.bundle("rlimit-high", |s| {
        s["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1048576}]);
    });
    let mut hard = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut hard) };
    let has_sys_resource = caps::has_cap(
        None,
        caps::CapSet::Effective,
        caps::Capability::CAP_SYS_RESOURCE,
    )
    .unwrap();
    if has_sys_resource || hard.rlim_max >= 1048576 {
        eprintln!("skip: this host could raise the limit");
        return;
    }
    let id = env.id("rlimit-high");
    let e = env.fails(&["run", "-b", b.to_str().unwrap(), &id]);
    assert!(
        e.contains("setrlimit RLIMIT_NOFILE (soft 1024, hard 1048576)"),
        "{e}"
    );
    assert!(!env.root.join(&id).exists());
}

#[test]
fn capability_sets_and_no_new_privs() {
    let env = Env::new();
    let b = env.bundle("caps", |s| {
        let set = json!(["CAP_CHOWN", "CAP_NET_RAW", "CAP_KILL"]);
        s["process"]["capabilities"] = json!({
            "bounding": set, "effective": ["CAP_CHOWN"], "permitted": set,
            "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]
        });
        s["process"]["noNewPrivileges"] = json!(true);
        sh(s, "cat /proc/self/status");
    });
    let status = env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("caps")]);
    let bit = |c: u32| 1u64 << c;
    let (chown, kill, net_raw) = (bit(0), bit(5), bit(13));
    let hex = |k: &str| u64::from_str_radix(status_field(&status, k), 16).unwrap();
    assert_eq!(hex("CapBnd"), chown | kill | net_raw);
    assert_eq!(hex("CapPrm"), chown | kill | net_raw);
    assert_eq!(hex("CapInh"), kill);
    assert_eq!(hex("CapAmb"), kill);
    // After exec, effective = ambient (non-root would); as root it is the permitted set
    // filtered by the file caps rules: at least CAP_CHOWN and the ambient CAP_KILL remain.
    assert_eq!(hex("CapEff") & (chown | kill), chown | kill);
    assert_eq!(status_field(&status, "NoNewPrivs"), "1");
}

#[test]
fn non_root_user_keeps_ambient_capabilities() {
    let env = Env::new();
    let b = env.bundle("ambient", |s| {
        let set = json!(["CAP_NET_BIND_SERVICE"]);
        s["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        s["process"]["capabilities"] = json!({
            "bounding": set, "effective": set, "permitted": set, "inheritable": set, "ambient": set
        });
        sh(s, "grep CapEff /proc/self/status");
    });
    let out = env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("ambient")]);
    assert_eq!(out.split_whitespace().nth(1), Some("0000000000000400"));
}

#[test]
fn no_capabilities_section_means_none() {
    let env = Env::new();
    let b = env.bundle("nocaps", |s| {
        s["process"].as_object_mut().unwrap().remove("capabilities");
        sh(s, "grep -E 'CapEff|CapBnd' /proc/self/status");
    });
    let out = env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("nocaps")]);
    assert_eq!(
        out,
        "CapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n"
    );
}

#[test]
fn oom_score_adj_io_priority_scheduler_personality() {
    let env = Env::new();
    let b = env.bundle("sched", |s| {
        s["process"]["oomScoreAdj"] = json!(500);
        s["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0});
        s["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 5});
        s["linux"]["personality"] = json!({"domain": "LINUX32"});
        sh(
            s,
            "cat /proc/self/oom_score_adj; uname -m; cut -d' ' -f19,41 /proc/self/stat",
        );
    });
    let out = env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("sched")]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "500");
    assert_eq!(lines[1], "i686", "LINUX32 personality");
    // stat field 19 is nice, 41 the policy (3 = SCHED_BATCH).
    assert_eq!(lines[2], "5 3");
}

#[test]
fn env_args_and_cwd() {
    let env = Env::new();
    let b = env.bundle("env", |s| {
        s["process"]["env"] = json!(["PATH=/bin", "A=1", "B=two words"]);
        s["process"]["cwd"] = json!("/tmp");
        args(s, &["sh", "-c", "echo \"$A|$B|$(pwd)|$0\"", "argzero"]);
    });
    assert_eq!(
        env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("env")]),
        "1|two words|/tmp|argzero\n"
    );
}

#[test]
fn lsm_labels_without_the_lsm_are_a_clear_error() {
    let env = Env::new();
    if std::path::Path::new("/sys/kernel/security/apparmor").exists() {
        eprintln!("skip: AppArmor is enabled on this host");
        return;
    }
    let b = env.bundle("aa", |s| {
        s["process"]["apparmorProfile"] = json!("docker-default")
    });
    let id = env.id("aa");
    let e = env.fails(&["run", "-b", b.to_str().unwrap(), &id]);
    assert_eq!(
        e.trim(),
        "xrun: error: process.apparmorProfile: AppArmor is not enabled on this host"
    );
    assert!(!env.root.join(&id).exists());
    let b = env.bundle("se", |s| {
        s["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0")
    });
    let e = env.fails(&["run", "-b", b.to_str().unwrap(), &id]);
    assert_eq!(
        e.trim(),
        "xrun: error: process.selinuxLabel: SELinux is not enabled on this host"
    );
}

#[test]
fn sysctl_in_the_containers_namespaces() {
    let env = Env::new();
    let b = env.bundle("sysctl", |s| {
        s["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"});
        sh(
            s,
            "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni",
        );
    });
    let host_fwd = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let host_shm = std::fs::read_to_string("/proc/sys/kernel/shmmni").unwrap();
    assert_eq!(
        env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("sysctl")]),
        "1\n1234\n"
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host_fwd
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/shmmni").unwrap(),
        host_shm
    );
}

#[test]
fn socket_activation_fds_are_passed() {
    let env = Env::new();
    let b = env.bundle("listen", |s| sh(s, "echo $LISTEN_FDS $LISTEN_PID; cat <&3"));
    let data = env.dir.path().join("listen-data");
    std::fs::write(&data, "activated\n").unwrap();
    let out_path = env.dir.path().join("listen.out");
    // systemd-style: fd 3 open, LISTEN_PID naming the process that gets it (xrun itself).
    let script = format!(
        "exec 3<{}; LISTEN_PID=$$ LISTEN_FDS=1 exec {} --root {} run -b {} {}",
        data.display(),
        XRUN,
        env.root.display(),
        b.display(),
        env.id("listen")
    );
    let status = std::process::Command::new("/bin/sh")
        .args(["-c", &script])
        .stdout(std::fs::File::create(&out_path).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        std::fs::read_to_string(&out_path).unwrap(),
        "1 1\nactivated\n"
    );
}

#[test]
fn session_keyring_unless_no_new_keyring() {
    let env = Env::new();
    // /proc/keys is masked by default; unmask it to look.
    let b = env.bundle("keys", |s| {
        s["linux"]["maskedPaths"] = json!([]);
        args(s, &["/bin/cat", "/proc/keys"]);
    });
    let id = env.id("keys");
    let keys = env.ok(&["run", "-b", b.to_str().unwrap(), &id]);
    assert!(keys.contains(&format!("keyring   _ses.{id}:")), "{keys}");
    let id2 = env.id("nokeys");
    let keys = env.ok(&["run", "--no-new-keyring", "-b", b.to_str().unwrap(), &id2]);
    assert!(!keys.contains(&format!("_ses.{id2}")), "{keys}");
}
