//! Checks a config before anything is created, so bad input fails early with an error that
//! names the field (`config.json: mounts[2].destination: must be absolute`) and leaves nothing
//! behind.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{bail, Result};
use oci_spec::runtime::{LinuxDeviceType, LinuxNamespaceType, Process, Spec};

const PROPAGATIONS: &[&str] = &[
    "",
    "private",
    "rprivate",
    "slave",
    "rslave",
    "shared",
    "rshared",
    "unbindable",
    "runbindable",
];

/// Validates a whole container config.
pub fn validate(spec: &Spec) -> Result<()> {
    let Some(process) = spec.process() else {
        bail!("config.json: process: must be set");
    };
    validate_process("config.json: process", process)?;
    let new_ns = namespaces(spec)?;
    let has = |t| new_ns.contains(&t);

    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let at = format!("config.json: mounts[{i}]");
        absolute(&format!("{at}.destination"), m.destination())?;
        let typ = m.typ().as_deref().unwrap_or("");
        let opts = m.options().as_deref().unwrap_or_default();
        let bind = typ == "bind" || opts.iter().any(|o| o == "bind" || o == "rbind");
        if bind && m.source().is_none() {
            bail!("{at}.source: a bind mount needs a source");
        }
        if !bind && typ.is_empty() {
            bail!("{at}.type: must be set unless the mount is a bind mount");
        }
    }

    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts) {
        bail!("config.json: hostname: setting the hostname needs a new uts namespace");
    }
    if spec.domainname().as_deref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts)
    {
        bail!("config.json: domainname: setting the domainname needs a new uts namespace");
    }

    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let uid_maps = linux.uid_mappings().as_deref().unwrap_or_default();
    let gid_maps = linux.gid_mappings().as_deref().unwrap_or_default();
    let user_ns = linux
        .namespaces()
        .iter()
        .flatten()
        .find(|n| n.typ() == LinuxNamespaceType::User);
    match user_ns {
        None if !uid_maps.is_empty() || !gid_maps.is_empty() => {
            bail!("config.json: linux.uidMappings: id mappings need a user namespace")
        }
        Some(ns) if ns.path().is_none() && (uid_maps.is_empty() || gid_maps.is_empty()) => {
            bail!("config.json: linux.uidMappings: a new user namespace needs uid and gid mappings")
        }
        _ => {}
    }
    for (name, maps) in [("uidMappings", uid_maps), ("gidMappings", gid_maps)] {
        for (i, m) in maps.iter().enumerate() {
            if m.size() == 0 {
                bail!("config.json: linux.{name}[{i}].size: must be greater than 0");
            }
        }
    }

    for (i, d) in linux.devices().iter().flatten().enumerate() {
        let at = format!("config.json: linux.devices[{i}]");
        absolute(&format!("{at}.path"), d.path())?;
        match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::B | LinuxDeviceType::U | LinuxDeviceType::P => {}
            LinuxDeviceType::A => bail!("{at}.type: must be one of c, b, u, p"),
        }
    }

    if let Some(p) = linux.rootfs_propagation().as_deref() {
        if !PROPAGATIONS.contains(&p) {
            bail!("config.json: linux.rootfsPropagation: unknown propagation {p:?}");
        }
    }
    for (name, paths) in [
        ("maskedPaths", linux.masked_paths()),
        ("readonlyPaths", linux.readonly_paths()),
    ] {
        for (i, p) in paths.iter().flatten().enumerate() {
            absolute(&format!("config.json: linux.{name}[{i}]"), Path::new(p))?;
        }
    }
    for key in linux.sysctl().iter().flat_map(|s| s.keys()) {
        validate_sysctl(key, &has)?;
    }
    if linux.time_offsets().as_ref().is_some_and(|t| !t.is_empty())
        && !has(LinuxNamespaceType::Time)
    {
        bail!("config.json: linux.timeOffsets: time offsets need a new time namespace");
    }

    if let Some(hooks) = spec.hooks() {
        #[allow(deprecated)]
        let all = [
            ("prestart", hooks.prestart()),
            ("createRuntime", hooks.create_runtime()),
            ("createContainer", hooks.create_container()),
            ("startContainer", hooks.start_container()),
            ("poststart", hooks.poststart()),
            ("poststop", hooks.poststop()),
        ];
        for (name, list) in all {
            for (i, h) in list.iter().flatten().enumerate() {
                absolute(&format!("config.json: hooks.{name}[{i}].path"), h.path())?;
                if h.timeout().is_some_and(|t| t <= 0) {
                    bail!("config.json: hooks.{name}[{i}].timeout: must be greater than 0");
                }
            }
        }
    }
    Ok(())
}

/// Validates a process, from config.json or from `exec --process`.
pub fn validate_process(at: &str, p: &Process) -> Result<()> {
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        bail!("{at}.args: must not be empty");
    }
    absolute(&format!("{at}.cwd"), p.cwd())?;
    for (i, e) in p.env().iter().flatten().enumerate() {
        if !e.contains('=') || e.starts_with('=') {
            bail!("{at}.env[{i}]: {e:?} is not of the form KEY=VALUE");
        }
    }
    let mut seen = Vec::new();
    for (i, r) in p.rlimits().iter().flatten().enumerate() {
        if seen.contains(&r.typ()) {
            bail!("{at}.rlimits[{i}].type: {} is set twice", r.typ());
        }
        seen.push(r.typ());
        if r.soft() > r.hard() {
            bail!(
                "{at}.rlimits[{i}]: soft limit {} is above the hard limit {}",
                r.soft(),
                r.hard()
            );
        }
    }
    if let Some(adj) = p.oom_score_adj() {
        if !(-1000..=1000).contains(&adj) {
            bail!("{at}.oomScoreAdj: {adj} is outside -1000..1000");
        }
    }
    Ok(())
}

/// The namespaces the container creates or joins; duplicates and relative paths are errors.
fn namespaces(spec: &Spec) -> Result<HashSet<LinuxNamespaceType>> {
    let mut seen = HashSet::new();
    let list = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
    for (i, ns) in list.into_iter().flatten().enumerate() {
        if !seen.insert(ns.typ()) {
            bail!(
                "config.json: linux.namespaces[{i}].type: {} is listed twice",
                ns.typ()
            );
        }
        if let Some(p) = ns.path() {
            absolute(&format!("config.json: linux.namespaces[{i}].path"), p)?;
        }
    }
    Ok(seen)
}

/// runc's rules: a sysctl is only namespaced (and so allowed) with the namespace it belongs to.
fn validate_sysctl(key: &str, has: &dyn Fn(LinuxNamespaceType) -> bool) -> Result<()> {
    let at = format!("config.json: linux.sysctl[{key:?}]");
    let ipc = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if ipc.contains(&key) || key.starts_with("fs.mqueue.") {
        if !has(LinuxNamespaceType::Ipc) {
            bail!("{at}: needs a new ipc namespace");
        }
        return Ok(());
    }
    if key.starts_with("net.") {
        if !has(LinuxNamespaceType::Network) {
            bail!("{at}: needs a new network namespace");
        }
        return Ok(());
    }
    if key == "kernel.hostname" || key == "kernel.domainname" {
        bail!("{at}: set the hostname and domainname fields instead");
    }
    if !has(LinuxNamespaceType::User) {
        bail!("{at}: not namespaced, so it cannot be set for a container");
    }
    Ok(())
}

fn absolute(at: &str, p: &Path) -> Result<()> {
    if !p.is_absolute() {
        bail!("{at}: must be absolute, got {:?}", p.display().to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Spec {
        serde_json::from_str(json).unwrap()
    }

    fn err(json: &str) -> String {
        validate(&spec(json)).unwrap_err().to_string()
    }

    const OK_PROC: &str = r#""process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}}"#;

    #[test]
    fn accepts_a_minimal_config() {
        validate(&spec(&format!("{{{OK_PROC}}}"))).unwrap();
    }

    #[test]
    fn names_the_bad_mount() {
        let e = err(&format!(
            r#"{{{OK_PROC},"mounts":[{{"destination":"/a","type":"tmpfs"}},{{"destination":"rel","type":"tmpfs"}}]}}"#
        ));
        assert_eq!(
            e,
            "config.json: mounts[1].destination: must be absolute, got \"rel\""
        );
    }

    #[test]
    fn rejects_empty_args_and_relative_cwd() {
        assert_eq!(
            err(r#"{"process":{"args":[],"cwd":"/","user":{"uid":0,"gid":0}}}"#),
            "config.json: process.args: must not be empty"
        );
        assert!(
            err(r#"{"process":{"args":["a"],"cwd":"x","user":{"uid":0,"gid":0}}}"#)
                .starts_with("config.json: process.cwd: must be absolute")
        );
    }

    #[test]
    fn hostname_needs_uts() {
        assert!(err(&format!(r#"{{{OK_PROC},"hostname":"h"}}"#)).contains("uts namespace"));
    }

    #[test]
    fn user_namespace_needs_mappings() {
        let e = err(&format!(
            r#"{{{OK_PROC},"linux":{{"namespaces":[{{"type":"user"}}]}}}}"#
        ));
        assert!(e.contains("needs uid and gid mappings"), "{e}");
    }

    #[test]
    fn duplicate_namespace() {
        let e = err(&format!(
            r#"{{{OK_PROC},"linux":{{"namespaces":[{{"type":"pid"}},{{"type":"pid"}}]}}}}"#
        ));
        assert_eq!(
            e,
            "config.json: linux.namespaces[1].type: pid is listed twice"
        );
    }

    #[test]
    fn sysctl_rules() {
        let e = err(&format!(
            r#"{{{OK_PROC},"linux":{{"sysctl":{{"net.ipv4.ip_forward":"1"}}}}}}"#
        ));
        assert!(e.contains("needs a new network namespace"), "{e}");
        validate(&spec(&format!(
            r#"{{{OK_PROC},"linux":{{"namespaces":[{{"type":"ipc"}}],"sysctl":{{"kernel.shmmax":"1"}}}}}}"#
        )))
        .unwrap();
    }

    #[test]
    fn bad_env_and_rlimits() {
        let e = err(
            r#"{"process":{"args":["a"],"cwd":"/","env":["NOEQUALS"],"user":{"uid":0,"gid":0}}}"#,
        );
        assert_eq!(
            e,
            "config.json: process.env[0]: \"NOEQUALS\" is not of the form KEY=VALUE"
        );
        let e = err(
            r#"{"process":{"args":["a"],"cwd":"/","user":{"uid":0,"gid":0},
            "rlimits":[{"type":"RLIMIT_NOFILE","soft":10,"hard":5}]}}"#,
        );
        assert!(
            e.contains("rlimits[0]: soft limit 10 is above the hard limit 5"),
            "{e}"
        );
    }
}
