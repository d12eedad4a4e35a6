//! `linux.namespaces`: which to create, which to join by path, the user namespace's id maps,
//! time offsets, and the per-namespace settings (hostname, domainname, sysctl).

use std::fs::File;
use std::os::fd::AsFd;
use std::path::PathBuf;

use anyhow::{Context, Result};
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};

use crate::security::procfs::ProcFs;

pub fn clone_flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// The container's namespaces, split into those created and those joined.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Namespaces to create.
    pub new: CloneFlags,
    /// Namespaces to join: (flag, path), the user namespace first.
    pub join: Vec<(CloneFlags, PathBuf)>,
}

impl Plan {
    pub fn from_spec(spec: &Spec) -> Plan {
        let mut plan = Plan {
            new: CloneFlags::empty(),
            join: Vec::new(),
        };
        let list = spec.linux().as_ref().and_then(|l| l.namespaces().clone());
        for ns in list.into_iter().flatten() {
            let flag = clone_flag(ns.typ());
            match ns.path() {
                Some(p) => plan.join.push((flag, p.clone())),
                None => plan.new |= flag,
            }
        }
        // setns into the user namespace first: the others are owned by it.
        plan.join
            .sort_by_key(|(f, _)| !f.contains(CloneFlags::CLONE_NEWUSER));
        plan
    }

    /// Whether the container has its own (new or joined) namespace of this kind.
    pub fn has(&self, flag: CloneFlags) -> bool {
        self.new.contains(flag) || self.join.iter().any(|(f, _)| *f == flag)
    }

    pub fn new_userns(&self) -> bool {
        self.new.contains(CloneFlags::CLONE_NEWUSER)
    }

    /// One clone can do it all unless a namespace is joined by path, or a time namespace is
    /// made (its offsets must be written before any process is in it).
    pub fn single_clone(&self) -> bool {
        self.join.is_empty() && !self.new.contains(clone_flag(LinuxNamespaceType::Time))
    }
}

/// Joins the namespaces in `plan.join`, in order.
pub fn join_all(plan: &Plan) -> Result<()> {
    for (flag, path) in &plan.join {
        let f = File::open(path).with_context(|| format!("open namespace {}", path.display()))?;
        nix::sched::setns(f.as_fd(), *flag)
            .with_context(|| format!("setns {} ({flag:?})", path.display()))?;
    }
    Ok(())
}

fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Writes the uid and gid maps of the user namespace of `pid` (runtime side, as host root).
pub fn write_id_maps(spec: &Spec, pid: i32) -> Result<()> {
    let linux = spec.linux().as_ref().context("linux section missing")?;
    let uids = linux.uid_mappings().as_deref().unwrap_or_default();
    let gids = linux.gid_mappings().as_deref().unwrap_or_default();
    std::fs::write(format!("/proc/{pid}/uid_map"), map_text(uids)).context("write uid_map")?;
    std::fs::write(format!("/proc/{pid}/gid_map"), map_text(gids)).context("write gid_map")?;
    Ok(())
}

/// `linux.timeOffsets`, written by the process that made the time namespace, before any
/// process enters it.
pub fn write_time_offsets(spec: &Spec, proc: &ProcFs) -> Result<()> {
    let offsets = spec.linux().as_ref().and_then(|l| l.time_offsets().clone());
    let mut text = String::new();
    for (clock, off) in offsets.iter().flatten() {
        let clock = match clock.as_str() {
            "monotonic" => "monotonic",
            "boottime" => "boottime",
            other => anyhow::bail!("linux.timeOffsets: unknown clock {other:?}"),
        };
        text.push_str(&format!(
            "{clock} {} {}\n",
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        ));
    }
    if !text.is_empty() {
        proc.write("self/timens_offsets", &text)?;
    }
    Ok(())
}

pub fn set_hostname(spec: &Spec) -> Result<()> {
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).with_context(|| format!("sethostname {h:?}"))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        // SAFETY: the pointer and length describe d.
        if unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) } != 0 {
            return Err(std::io::Error::last_os_error()).context(format!("setdomainname {d:?}"));
        }
    }
    Ok(())
}

/// `linux.sysctl`, through the runtime's own procfs handle.
pub fn apply_sysctl(spec: &Spec, proc: &ProcFs) -> Result<()> {
    let Some(map) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    let mut keys: Vec<_> = map.keys().collect();
    keys.sort();
    for k in keys {
        // runc's convention: dots separate levels, a slash stands for a dot in a name
        // (net.ipv4.conf.eth0/100.rp_filter).
        let path: String = k
            .chars()
            .map(|c| match c {
                '.' => '/',
                '/' => '.',
                c => c,
            })
            .collect();
        if path.split('/').any(|c| c.is_empty() || c == "..") {
            anyhow::bail!("linux.sysctl: invalid key {k:?}");
        }
        let rel = format!("sys/{path}");
        proc.write(&rel, &map[k])
            .with_context(|| format!("linux.sysctl[{k:?}]"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_splits_new_and_joined_user_first() {
        let spec: Spec = serde_json::from_str(
            r#"{"linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/run/netns/x"},
               {"type":"user","path":"/proc/1/ns/user"},{"type":"mount"}]}}"#,
        )
        .unwrap();
        let p = Plan::from_spec(&spec);
        assert_eq!(p.new, CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS);
        assert_eq!(p.join[0].0, CloneFlags::CLONE_NEWUSER);
        assert!(!p.single_clone());
        assert!(p.has(CloneFlags::CLONE_NEWNET));
    }

    #[test]
    fn id_map_text() {
        let maps: Vec<LinuxIdMapping> =
            serde_json::from_str(r#"[{"containerID":0,"hostID":1000,"size":1},{"containerID":1,"hostID":100000,"size":65536}]"#).unwrap();
        assert_eq!(map_text(&maps), "0 1000 1\n1 100000 65536\n");
    }
}
