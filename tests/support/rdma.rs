//! For the rdma enforcement test: a container that opens a verbs context on the soft-RoCE
//! device rxe0 (which the VM makes) with `ibv_devinfo` from ibverbs-utils. The bundle is
//! busybox plus the host's /usr bound read-only (libibverbs and its rxe provider), the
//! host's provider list in /etc/libibverbs.d, and rxe0's /dev/infiniband/uverbsN.
#![allow(dead_code)]

use std::os::unix::fs::symlink;
use std::path::Path;

use serde_json::json;

use super::common::{sh, stderr, stdout, Env};

pub const IBV_DEVINFO: &str = "/usr/bin/ibv_devinfo";

/// The uverbs character device of `ibdev`: its /dev path, major and minor.
pub struct Uverbs {
    pub path: String,
    pub major: i64,
    pub minor: i64,
}

/// rxe0's uverbs device, if this host has one (found in /sys/class/infiniband_verbs).
pub fn rxe0() -> Option<Uverbs> {
    for e in std::fs::read_dir("/sys/class/infiniband_verbs")
        .ok()?
        .flatten()
    {
        let ibdev = std::fs::read_to_string(e.path().join("ibdev")).unwrap_or_default();
        if ibdev.trim() != "rxe0" {
            continue;
        }
        let dev = std::fs::read_to_string(e.path().join("dev")).ok()?;
        let (major, minor) = dev.trim().split_once(':')?;
        return Some(Uverbs {
            path: format!("/dev/infiniband/{}", e.file_name().to_string_lossy()),
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
        });
    }
    None
}

/// Runs `ibv_devinfo -d rxe0` in a container, limited to `hca_handles` on rxe0 if given;
/// returns (exit code, stdout, stderr) of xrun.
pub fn devinfo(
    env: &Env,
    name: &str,
    dev: &Uverbs,
    hca_handles: Option<u32>,
) -> (Option<i32>, String, String) {
    let b = env.bundle(name, |s| {
        sh(s, &format!("exec {IBV_DEVINFO} -d rxe0"));
        s["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/usr", "type": "bind", "source": "/usr",
            "options": ["rbind", "ro", "nosuid", "nodev"]}));
        s["linux"]["devices"] = json!([{"path": dev.path, "type": "c",
            "major": dev.major, "minor": dev.minor, "fileMode": 0o666, "uid": 0, "gid": 0}]);
        let r = &mut s["linux"]["resources"];
        r["devices"]
            .as_array_mut()
            .unwrap()
            .push(json!({"allow": true, "type": "c",
            "major": dev.major, "minor": dev.minor, "access": "rw"}));
        if let Some(h) = hca_handles {
            r["rdma"] = json!({"rxe0": {"hcaHandles": h}});
        }
    });
    let rootfs = b.join("rootfs");
    std::fs::create_dir_all(rootfs.join("usr")).unwrap();
    for l in ["lib", "lib64"] {
        symlink(format!("usr/{l}"), rootfs.join(l)).unwrap();
    }
    let conf = rootfs.join("etc/libibverbs.d");
    std::fs::create_dir_all(&conf).unwrap();
    for e in std::fs::read_dir("/etc/libibverbs.d").unwrap().flatten() {
        std::fs::copy(e.path(), conf.join(e.file_name())).unwrap();
    }
    assert!(
        Path::new(IBV_DEVINFO).exists(),
        "{IBV_DEVINFO} is missing: install ibverbs-utils (make test-cgroupv2)"
    );
    let id = env.id(name);
    let o = env.xrun(&["run", "--bundle", b.to_str().unwrap(), &id]);
    (o.status.code(), stdout(&o), stderr(&o))
}
