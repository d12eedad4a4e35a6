//! The host's cgroup layout: pure cgroup v2 at /sys/fs/cgroup, or v1 hierarchies (with or
//! without a cgroup2 mount beside them: "hybrid"), and the caller's own cgroup in each.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

pub const ROOT: &str = "/sys/fs/cgroup";

/// One mounted cgroup v1 hierarchy.
#[derive(Debug, Clone)]
pub struct V1Mount {
    pub mount_point: PathBuf,
    /// The mount's root inside the hierarchy (`/` unless a sub-tree is mounted).
    pub mount_root: String,
    /// Controllers (or `name=...`) bound to it, as /proc/self/cgroup lists them: `cpu,cpuacct`.
    pub options: String,
}

impl V1Mount {
    pub fn has(&self, controller: &str) -> bool {
        self.options.split(',').any(|c| c == controller)
    }
}

#[derive(Debug, Clone)]
pub enum Host {
    /// Everything on cgroup2 at /sys/fs/cgroup.
    V2,
    /// Controllers on v1; `unified` is the cgroup2 mount of a hybrid host.
    V1 {
        mounts: Vec<V1Mount>,
        unified: Option<PathBuf>,
    },
}

impl Host {
    pub fn detect() -> Result<Host> {
        if is_cgroup2(Path::new(ROOT)) {
            return Ok(Host::V2);
        }
        let info = std::fs::read_to_string("/proc/self/mountinfo").context("read mountinfo")?;
        let (mut mounts, mut unified) = (Vec::new(), None);
        for line in info.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let l: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            if l.len() < 5 || r.len() < 3 {
                continue;
            }
            match r[0] {
                "cgroup2" if unified.is_none() => unified = Some(PathBuf::from(unescape(l[4]))),
                "cgroup" => {
                    let options = r[2]
                        .split(',')
                        .filter(|o| is_controller_option(o))
                        .collect::<Vec<_>>()
                        .join(",");
                    // The same hierarchy can be mounted twice: keep the first.
                    if !options.is_empty() && !mounts.iter().any(|m: &V1Mount| m.options == options)
                    {
                        mounts.push(V1Mount {
                            mount_point: PathBuf::from(unescape(l[4])),
                            mount_root: unescape(l[3]),
                            options,
                        });
                    }
                }
                _ => {}
            }
        }
        if mounts.is_empty() {
            bail!("no cgroup filesystem is mounted (neither cgroup2 at {ROOT} nor cgroup v1)");
        }
        Ok(Host::V1 { mounts, unified })
    }

    pub fn is_v2(&self) -> bool {
        matches!(self, Host::V2)
    }

    /// The v1 mount carrying `controller`, if any.
    pub fn v1_mount(&self, controller: &str) -> Option<&V1Mount> {
        match self {
            Host::V2 => None,
            Host::V1 { mounts, .. } => mounts.iter().find(|m| m.has(controller)),
        }
    }

    /// Controllers that can be used: v1 mounts, or the root's cgroup.controllers on v2.
    pub fn has_controller(&self, controller: &str) -> bool {
        match self {
            Host::V2 => std::fs::read_to_string(Path::new(ROOT).join("cgroup.controllers"))
                .is_ok_and(|s| s.split_whitespace().any(|c| c == controller)),
            Host::V1 { .. } => self.v1_mount(controller).is_some(),
        }
    }
}

/// Keeps the mount options that name a hierarchy: controllers and `name=`; drops `rw` etc.
fn is_controller_option(o: &str) -> bool {
    const NOT: &[&str] = &[
        "rw",
        "ro",
        "relatime",
        "noatime",
        "nosuid",
        "nodev",
        "noexec",
        "clone_children",
        "xattr",
        "noprefix",
        "cpuset_v2_mode",
        "favordynmods",
    ];
    !NOT.contains(&o) && !o.starts_with("release_agent=")
}

/// mountinfo escapes spaces and a few other bytes as octal `\040`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|_| b[i] == b'\\')
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u8::from_str_radix(d, 8).ok());
        if let Some(v) = octal {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn is_cgroup2(p: &Path) -> bool {
    nix::sys::statfs::statfs(p)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

/// The caller's cgroup in each hierarchy, keyed as /proc/self/cgroup names them
/// (`memory`, `cpu,cpuacct`, `name=systemd`; `""` for cgroup2).
pub fn own_cgroups() -> Result<HashMap<String, String>> {
    let text = std::fs::read_to_string("/proc/self/cgroup").context("read /proc/self/cgroup")?;
    Ok(parse_proc_cgroup(&text))
}

pub fn parse_proc_cgroup(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let (_, ctrl, path) = (it.next()?, it.next()?, it.next()?);
            Some((ctrl.to_string(), path.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_cgroup() {
        let m = parse_proc_cgroup("4:memory:/a/b\n2:cpu,cpuacct:/\n1:name=systemd:/x:y\n0::/u\n");
        assert_eq!(m["memory"], "/a/b");
        assert_eq!(m["cpu,cpuacct"], "/");
        assert_eq!(m["name=systemd"], "/x:y");
        assert_eq!(m[""], "/u");
    }

    #[test]
    fn unescapes_mount_points() {
        assert_eq!(unescape("/sys/fs/cgroup/a\\040b"), "/sys/fs/cgroup/a b");
        assert_eq!(unescape("/plain"), "/plain");
    }

    #[test]
    fn keeps_only_hierarchy_options() {
        let kept: Vec<&str> = "rw,nosuid,cpu,cpuacct,name=systemd,release_agent=/x"
            .split(',')
            .filter(|o| is_controller_option(o))
            .collect();
        assert_eq!(kept, ["cpu", "cpuacct", "name=systemd"]);
    }
}
