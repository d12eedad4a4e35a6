use anyhow::Result;
use serde_json::json;

use super::GlobalOpts;
use crate::rootfs::options::known_options;
use crate::security::lsm;

#[derive(clap::Args, Debug)]
pub struct Args {}

/// cgroup v1 and v2 are both managed; systemd only where it runs (D-Bus placement);
/// rdma where the host has the controller.
fn cgroup_features() -> serde_json::Value {
    let host = crate::cgroups::host::Host::detect().ok();
    json!({
        "v1": true,
        "v2": true,
        "systemd": std::path::Path::new("/run/systemd/system").is_dir(),
        "systemdUser": false,
        "rdma": host.is_some_and(|h| h.has_controller("rdma")),
    })
}

/// The runtime-spec features document: exactly what this build of xrun implements.
pub fn run(_args: Args, _g: &GlobalOpts) -> Result<i32> {
    let doc = json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.2.0",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": known_options(),
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps::all().iter().map(|c| c.to_string()).collect::<std::collections::BTreeSet<_>>(),
            "cgroup": cgroup_features(),
            "seccomp": crate::security::seccomp::features(),
            "apparmor": {"enabled": lsm::apparmor_enabled()},
            "selinux": {"enabled": lsm::selinux_enabled()},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}}
        },
        "annotations": {
            "org.opencontainers.runtime-spec.features.v1.xrun.version": env!("CARGO_PKG_VERSION")
        }
    });
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(0)
}
