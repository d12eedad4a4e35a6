//! The matrix: each case edits runc's default config (as `xrun spec` writes it) to
//! exercise some fields, and may prepare the host (files in the rootfs, bind sources, a
//! namespace to join). The checker then verifies every field of the result.

use std::any::Any;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::{bundle, host};

/// What a case may prepare; `hold` keeps host resources alive until the case has run.
pub struct Prep {
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// Per-run unique name (for bind sources).
    pub tag: String,
    pub case: &'static str,
    pub hold: Vec<Box<dyn Any>>,
}

pub struct Case {
    pub name: &'static str,
    pub about: &'static str,
    /// Start from `xrun spec --rootless` instead of the plain default.
    pub rootless_base: bool,
    pub edit: fn(&mut Value, &mut Prep) -> io::Result<()>,
    /// For the checker's self-test: an edit of the checker's copy of the config only, and
    /// the checks it must then fail (prefixes of their descriptions), no more, no less.
    pub tamper: Option<Tamper>,
}

/// An edit of the checker's copy of the config, and the checks it must make fail.
pub type Tamper = (fn(&mut Value), &'static [&'static str]);

const fn case(
    name: &'static str,
    about: &'static str,
    edit: fn(&mut Value, &mut Prep) -> io::Result<()>,
) -> Case {
    Case {
        name,
        about,
        rootless_base: false,
        edit,
        tamper: None,
    }
}

pub const CASES: &[Case] = &[
    case("default", "runc's default config, unchanged", |_, _| Ok(())),
    case("terminal", "process.terminal with /dev/console", |s, _| {
        s["process"]["terminal"] = json!(true);
        Ok(())
    }),
    case("paths", "rw root, extra masked and read-only paths", paths),
    case("user", "non-root user, additionalGids, umask, cwd to create, capability subsets", user),
    case("root-caps", "root with capability subsets, no_new_privs off", root_caps),
    case("no-caps", "no capabilities section at all", |s, _| {
        s["process"].as_object_mut().unwrap().remove("capabilities");
        Ok(())
    }),
    case("limits", "rlimits and oomScoreAdj", limits),
    case("uts", "hostname and domainname", |s, _| {
        s["hostname"] = json!("conformance-host");
        s["domainname"] = json!("example.test");
        Ok(())
    }),
    case("sysctl", "net.* in a new netns, kernel.shm*/msg* in a new ipc ns", |s, _| {
        // A new netns copies the host's ip_forward: ask for the other value, so the check
        // cannot pass without the runtime.
        let host = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")?;
        let forward = if host.trim() == "1" { "0" } else { "1" };
        s["linux"]["sysctl"] = json!({
            "net.ipv4.ip_forward": forward,
            "net.ipv4.ip_default_ttl": "42",
            "net.ipv4.ping_group_range": "0 0",
            "net.ipv4.conf.lo.arp_ignore": "3",
            "kernel.shmmax": "100000000",
            "kernel.shm_rmid_forced": "1",
            "kernel.msgmax": "4096"
        });
        Ok(())
    }),
    case("mounts", "tmpfs with options, binds ro/rbind/file/relative, stacked mounts", mounts),
    case("propagation", "per-mount propagation on rbinds of a shared source", propagation),
    case("mount-type-bind", "type \"bind\" without a bind option", |s, p| {
        let src = bind_source(p, "typebind")?;
        add_mounts(s, json!([{"destination": "/mnt/typebind", "type": "bind", "source": src, "options": ["noexec"]}]));
        Ok(())
    }),
    case("devices", "linux.devices: char, block, fifo, u, nested path, owners", devices),
    case("userns", "a user namespace with uid/gid mappings", userns),
    Case {
        name: "rootless-spec",
        about: "xrun spec --rootless (user namespace, /sys bound from the host)",
        rootless_base: true,
        edit: |_, _| Ok(()),
        tamper: None,
    },
    case("join", "network, ipc and uts joined by path", join),
    case("host-namespaces", "no network, ipc, uts namespace: the runtime's are kept", |s, _| {
        let ns = s["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| !matches!(n["type"].as_str(), Some("network" | "ipc" | "uts")));
        s.as_object_mut().unwrap().remove("hostname");
        Ok(())
    }),
    case("cgroupns", "a cgroup namespace", |s, _| {
        s["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "cgroup"}));
        Ok(())
    }),
    case("rootfs-shared", "linux.rootfsPropagation shared", |s, _| {
        s["linux"]["rootfsPropagation"] = json!("shared");
        Ok(())
    }),
    case("rootfs-slave", "linux.rootfsPropagation slave", |s, _| {
        s["linux"]["rootfsPropagation"] = json!("slave");
        Ok(())
    }),
    case("rootfs-private", "linux.rootfsPropagation private", |s, _| {
        s["linux"]["rootfsPropagation"] = json!("private");
        Ok(())
    }),
    case("env-cwd", "env edge cases and a cwd to create", |s, _| {
        s["process"]["cwd"] = json!("/var/lib/app/");
        let env = s["process"]["env"].as_array_mut().unwrap();
        for e in ["EMPTY=", "EQ=a=b=c", "SPACE=a b  c", "DUP=first", "DUP=second", "UTF8=\u{e9}t\u{e9}"] {
            env.push(json!(e));
        }
        Ok(())
    }),
    case("seccomp", "linux.seccomp: errno rules, loaded right before exec (no_new_privs)", |s, _| {
        s["linux"]["seccomp"] = seccomp_profile();
        Ok(())
    }),
    case("seccomp-privileged", "linux.seccomp without no_new_privs: loaded before the capabilities drop", |s, _| {
        s["process"]["noNewPrivileges"] = json!(false);
        s["linux"]["seccomp"] = seccomp_profile();
        Ok(())
    }),
    Case {
        name: "self-test",
        about: "the checker is given a config that differs from the one applied: it must fail exactly there",
        rootless_base: false,
        edit: |_, _| Ok(()),
        tamper: Some((tamper, TAMPERED)),
    },
];

/// Errno rules the checker probes (calls on a bad descriptor), among a few others.
fn seccomp_profile() -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["fsync", "fdatasync"], "action": "SCMP_ACT_ERRNO", "errnoRet": 122},
            {"names": ["flock", "no_such_call"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["acct"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": 0x0040_0000, "op": "SCMP_CMP_MASKED_EQ", "valueTwo": 0x0040_0000}]}
        ]
    })
}

/// What `tamper` changes, as the descriptions of the checks that must fail.
const TAMPERED: &[&str] = &[
    "process.args are",
    "process.cwd is /tmp",
    "process.env TAMPERED=1",
    "process.user.umask 0077",
    "process.rlimits[0] RLIMIT_NOFILE is soft 1000",
    "process.noNewPrivileges false",
    "process.oomScoreAdj is 123",
    "process.terminal",
    // Bounding, and so what root gets at execve with no_new_privs off.
    "process.capabilities.",
    "linux.namespaces has no network",
    "hostname \"tampered\"",
    "linux.sysctl net.ipv4.ip_default_ttl",
    "root.readonly false",
    "linux.maskedPaths[10] /etc (a directory) lists nothing",
    "linux.readonlyPaths[5] /dev/shm",
    // A read-only path on a mount is one more mount there.
    "mounts[3] /dev/shm is a mount point",
    "mounts[1] /dev has filesystem option mode=700",
    "mounts[4] /dev/mqueue has ro",
    "linux.devices[0] /dev/zero is 1:3",
];

fn tamper(s: &mut Value) {
    let p = &mut s["process"];
    p["args"].as_array_mut().unwrap().push(json!("extra"));
    p["cwd"] = json!("/tmp");
    p["env"].as_array_mut().unwrap().push(json!("TAMPERED=1"));
    p["user"]["umask"] = json!(0o077);
    p["rlimits"][0]["soft"] = json!(1000);
    p["noNewPrivileges"] = json!(false);
    p["oomScoreAdj"] = json!(123);
    p["terminal"] = json!(true);
    p["capabilities"]["bounding"]
        .as_array_mut()
        .unwrap()
        .push(json!("CAP_SYS_ADMIN"));
    s["hostname"] = json!("tampered");
    s["root"]["readonly"] = json!(false);
    s["mounts"][1]["options"]
        .as_array_mut()
        .unwrap()
        .push(json!("mode=700"));
    s["mounts"][4]["options"]
        .as_array_mut()
        .unwrap()
        .push(json!("ro"));
    let l = &mut s["linux"];
    l["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "network");
    l["sysctl"] = json!({"net.ipv4.ip_default_ttl": "42"});
    l["maskedPaths"].as_array_mut().unwrap().push(json!("/etc"));
    l["readonlyPaths"]
        .as_array_mut()
        .unwrap()
        .push(json!("/dev/shm"));
    l["devices"] = json!([{"path": "/dev/zero", "type": "c", "major": 1, "minor": 3}]);
}

const ALL_CAPS_SUBSET: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
];

fn paths(s: &mut Value, p: &mut Prep) -> io::Result<()> {
    s["root"]["readonly"] = json!(false);
    for d in ["masked-dir", "ro-dir"] {
        std::fs::create_dir_all(p.rootfs.join(d).join("inner"))?;
        std::fs::write(p.rootfs.join(d).join("secret"), "secret\n")?;
    }
    for f in ["masked-file", "ro-file"] {
        std::fs::write(p.rootfs.join(f), "secret\n")?;
    }
    let l = &mut s["linux"];
    for m in ["/masked-dir", "/masked-file", "/no/such/path"] {
        l["maskedPaths"].as_array_mut().unwrap().push(json!(m));
    }
    for r in ["/ro-dir", "/ro-file", "/no/such/ro-path"] {
        l["readonlyPaths"].as_array_mut().unwrap().push(json!(r));
    }
    Ok(())
}

fn user(s: &mut Value, _: &mut Prep) -> io::Result<()> {
    let p = &mut s["process"];
    p["user"] =
        json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 2000, 1000], "umask": 0o027});
    p["cwd"] = json!("/home/user/work");
    p["capabilities"] = json!({
        "bounding": ALL_CAPS_SUBSET,
        "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"],
        "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"],
        "inheritable": ["CAP_CHOWN", "CAP_NET_BIND_SERVICE"],
        "ambient": ["CAP_NET_BIND_SERVICE", "CAP_CHOWN"]
    });
    Ok(())
}

fn root_caps(s: &mut Value, _: &mut Prep) -> io::Result<()> {
    let p = &mut s["process"];
    p["noNewPrivileges"] = json!(false);
    p["capabilities"] = json!({
        "bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL", "CAP_SETPCAP", "CAP_SYS_CHROOT"],
        "effective": ["CAP_KILL"],
        "permitted": ["CAP_KILL", "CAP_CHOWN"],
        "inheritable": ["CAP_CHOWN", "CAP_DAC_OVERRIDE"],
        "ambient": ["CAP_CHOWN"]
    });
    Ok(())
}

fn limits(s: &mut Value, _: &mut Prep) -> io::Result<()> {
    // Hard limits no higher than the harness's own: raising one needs CAP_SYS_RESOURCE.
    let p = &mut s["process"];
    p["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 256, "hard": 512},
        {"type": "RLIMIT_NPROC", "soft": 1000, "hard": 2000},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
        {"type": "RLIMIT_MEMLOCK", "soft": 65536, "hard": 131072},
        {"type": "RLIMIT_STACK", "soft": 4194304, "hard": 8388608},
        {"type": "RLIMIT_MSGQUEUE", "soft": 1000, "hard": 8192},
        {"type": "RLIMIT_CPU", "soft": 3600, "hard": 7200}
    ]);
    // Only a raise: lowering below the runtime's value needs CAP_SYS_RESOURCE.
    let own: i64 = std::fs::read_to_string("/proc/self/oom_score_adj")?
        .trim()
        .parse()
        .unwrap_or(0);
    p["oomScoreAdj"] = json!((own + 500).min(1000));
    Ok(())
}

/// A host directory with a file and a tmpfs mounted below it, for binds.
fn bind_source(p: &Prep, name: &str) -> io::Result<String> {
    let src = p.bundle.parent().unwrap().join(format!("{}-{name}", p.tag));
    std::fs::create_dir_all(&src)?;
    std::fs::write(src.join("marker"), name)?;
    host::mount_tmpfs(&src.join("sub"))?;
    Ok(src.to_string_lossy().into_owned())
}

fn add_mounts(s: &mut Value, more: Value) {
    let m = s["mounts"].as_array_mut().unwrap();
    m.extend(more.as_array().unwrap().iter().cloned());
}

fn mounts(s: &mut Value, p: &mut Prep) -> io::Result<()> {
    let src = bind_source(p, "src")?;
    let file = p.bundle.join("bind-file");
    std::fs::write(&file, "file\n")?;
    std::fs::create_dir_all(p.bundle.join("relative"))?;
    add_mounts(
        s,
        json!([
            {"destination": "/mnt/tmpfs", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "nodev", "noexec", "noatime", "size=1m", "mode=0700", "uid=1", "gid=2", "nr_inodes=100"]},
            {"destination": "/mnt/strict", "type": "tmpfs", "source": "tmpfs",
             "options": ["ro", "rw", "strictatime", "nodiratime", "size=100000"]},
            {"destination": "/mnt/bind-ro", "type": "none", "source": src, "options": ["bind", "ro", "nosuid"]},
            {"destination": "/mnt/rbind", "type": "none", "source": src, "options": ["rbind", "rro", "rnosuid", "nodev"]},
            {"destination": "/mnt/file", "type": "none", "source": file.to_string_lossy(), "options": ["bind", "ro"]},
            {"destination": "/mnt/relative", "type": "none", "source": "relative", "options": ["rbind", "noexec"]},
            {"destination": "/mnt/stacked", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "noexec"]},
            {"destination": "/mnt/stacked", "type": "tmpfs", "source": "tmpfs", "options": ["size=2m", "ro"]},
            {"destination": "/mnt/mq", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "nodev", "noexec"]}
        ]),
    );
    Ok(())
}

fn propagation(s: &mut Value, p: &mut Prep) -> io::Result<()> {
    let src = bind_source(p, "prop")?;
    let m = |dest: &str, opts: &[&str]| json!({"destination": dest, "type": "none", "source": src, "options": opts});
    add_mounts(
        s,
        json!([
            m("/mnt/shared", &["rbind", "rshared"]),
            m("/mnt/slave", &["rbind", "rslave"]),
            m("/mnt/private", &["rbind", "rprivate"]),
            m("/mnt/unbindable", &["bind", "unbindable"]),
        ]),
    );
    Ok(())
}

fn devices(s: &mut Value, _: &mut Prep) -> io::Result<()> {
    s["linux"]["devices"] = json!([
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600, "uid": 0, "gid": 0},
        {"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200, "fileMode": 0o620, "uid": 1, "gid": 2},
        {"path": "/dev/xloop", "type": "b", "major": 7, "minor": 0, "fileMode": 0o660, "gid": 6},
        {"path": "/dev/xfifo", "type": "p", "fileMode": 0o644},
        {"path": "/dev/xzero", "type": "u", "major": 1, "minor": 5, "fileMode": 0o640},
        {"path": "/dev/full", "type": "c", "major": 1, "minor": 7, "fileMode": 0o600}
    ]);
    Ok(())
}

fn userns(s: &mut Value, p: &mut Prep) -> io::Result<()> {
    let l = &mut s["linux"];
    l["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    l["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    l["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 1000},
                              {"containerID": 1000, "hostID": 200000, "size": 10}]);
    bundle::chown_tree(&p.rootfs, 100000, 100000)
}

fn join(s: &mut Value, p: &mut Prep) -> io::Result<()> {
    let net = host::NetNs::new(&format!("{}{}", host::netns_prefix(), p.case))?;
    let holder = host::NsHolder::new(libc::CLONE_NEWIPC | libc::CLONE_NEWUTS)?;
    let paths = [
        ("network", net.path()),
        ("ipc", holder.path("ipc")),
        ("uts", holder.path("uts")),
    ];
    let ns = s["linux"]["namespaces"].as_array_mut().unwrap();
    for (typ, path) in paths {
        ns.retain(|n| n["type"] != typ);
        ns.push(json!({"type": typ, "path": path}));
    }
    s["hostname"] = json!("joined-uts");
    s["linux"]["sysctl"] = json!({"net.ipv4.ip_default_ttl": "42", "kernel.shmmni": "1000"});
    p.hold.push(Box::new(net));
    p.hold.push(Box::new(holder));
    Ok(())
}

/// Where a case's bundle lives.
pub fn bundle_dir(work: &Path, name: &str) -> PathBuf {
    work.join("bundles").join(name)
}
