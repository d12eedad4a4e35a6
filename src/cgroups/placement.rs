//! Where a container's cgroups go: `linux.cgroupsPath` is absolute (from the root of each
//! hierarchy) or relative (below the caller's own cgroup, as runc does; on pure cgroup v2
//! below its parent, since the caller's own cgroup usually has processes and so cannot
//! delegate controllers); absent, it is the container id, relative.

use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::host::{self, Host, V1Mount, ROOT};
use super::{Record, V1Dir};

/// The directories the container's cgroups will have. Nothing is created here.
pub fn resolve(host: &Host, path: Option<&Path>, id: &str) -> Result<Record> {
    let inner = match path {
        Some(p) if !p.as_os_str().is_empty() => clean(p)?,
        _ => PathBuf::from(id),
    };
    let absolute = inner.has_root();
    let rel = inner.strip_prefix("/").unwrap_or(&inner).to_path_buf();
    if rel.as_os_str().is_empty() {
        bail!("config.json: linux.cgroupsPath: must name a cgroup below the root, got {inner:?}");
    }
    let own = if absolute {
        Default::default()
    } else {
        host::own_cgroups()?
    };
    let own_of = |key: &str| -> Result<PathBuf> {
        let p = own
            .get(key)
            .with_context(|| format!("/proc/self/cgroup has no {key:?} hierarchy"))?;
        Ok(PathBuf::from(p.trim_start_matches('/')))
    };
    match host {
        Host::V2 => {
            let base = if absolute {
                PathBuf::new()
            } else {
                own_of("")?
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default()
            };
            Ok(Record {
                v2: Some(Path::new(ROOT).join(base).join(&rel)),
                ..Default::default()
            })
        }
        Host::V1 { mounts, unified } => {
            let mut v1 = Vec::new();
            for m in mounts.iter().filter(|m| joined(m)) {
                let base = if absolute {
                    PathBuf::new()
                } else {
                    strip_mount_root(&own_of(&m.options)?, m)
                };
                let name = m
                    .mount_point
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| m.options.clone());
                v1.push(V1Dir {
                    name,
                    options: m.options.clone(),
                    dir: m.mount_point.join(base).join(&rel),
                });
            }
            let unified = match unified {
                Some(u) if absolute => Some(u.join(&rel)),
                // Hybrid: join the cgroup2 hierarchy too (as runc does), if we have a place in it.
                Some(u) => own_of("").ok().map(|o| u.join(o).join(&rel)),
                None => None,
            };
            Ok(Record {
                v1,
                unified,
                ..Default::default()
            })
        }
    }
}

/// Hierarchies a container joins: every controller hierarchy, and of the named ones only
/// systemd's (other named hierarchies belong to whoever made them).
fn joined(m: &V1Mount) -> bool {
    !m.options.starts_with("name=") || m.options == "name=systemd"
}

/// Our cgroup as seen from a mount of a sub-tree of the hierarchy.
fn strip_mount_root(own: &Path, m: &V1Mount) -> PathBuf {
    let root = Path::new(m.mount_root.trim_start_matches('/'));
    own.strip_prefix(root).unwrap_or(own).to_path_buf()
}

/// Normalises the path; `..` is refused rather than resolved, so a config cannot point
/// outside the hierarchy or above the caller's cgroup.
fn clean(p: &Path) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::RootDir => out.push("/"),
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir => {
                bail!("config.json: linux.cgroupsPath: {p:?}: '..' is not allowed")
            }
            Component::Prefix(_) => bail!("config.json: linux.cgroupsPath: {p:?}: bad path"),
        }
    }
    Ok(out)
}

/// `--systemd-cgroup` paths: `slice:prefix:name`, giving the slice and the scope unit.
pub fn systemd_unit(path: Option<&Path>, id: &str) -> Result<(String, String)> {
    let s = match path {
        Some(p) if !p.as_os_str().is_empty() => p.to_string_lossy().into_owned(),
        _ => format!("system.slice:xrun:{id}"),
    };
    let parts: Vec<&str> = s.split(':').collect();
    let [slice, prefix, name] = parts[..] else {
        bail!("config.json: linux.cgroupsPath: with --systemd-cgroup it must be \"slice:prefix:name\", got {s:?}");
    };
    let slice = if slice.is_empty() {
        "system.slice"
    } else {
        slice
    };
    if !slice.ends_with(".slice") || slice.contains('/') {
        bail!("config.json: linux.cgroupsPath: {s:?}: {slice:?} is not a systemd slice name");
    }
    if name.is_empty() || name.contains('/') {
        bail!("config.json: linux.cgroupsPath: {s:?}: the name must be set and have no '/'");
    }
    if name.ends_with(".slice") {
        // runc would make a slice, which systemd cannot start around a process.
        bail!("config.json: linux.cgroupsPath: {s:?}: the name must be a scope's, not a slice");
    }
    let unit = if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    Ok((slice.to_string(), unit))
}

/// The cgroup path of a slice: `a-b.slice` lives at `/a.slice/a-b.slice`.
pub fn expand_slice(slice: &str) -> Result<PathBuf> {
    let stem = slice
        .strip_suffix(".slice")
        .with_context(|| format!("{slice:?} is not a slice"))?;
    if slice == "-.slice" {
        return Ok(PathBuf::from("/"));
    }
    let mut path = PathBuf::from("/");
    let mut prefix = String::new();
    for part in stem.split('-') {
        if part.is_empty() {
            bail!("{slice:?}: bad slice name");
        }
        prefix = if prefix.is_empty() {
            part.to_string()
        } else {
            format!("{prefix}-{part}")
        };
        path.push(format!("{prefix}.slice"));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1_host() -> Host {
        let m = |p: &str, o: &str| V1Mount {
            mount_point: PathBuf::from(p),
            mount_root: "/".into(),
            options: o.into(),
        };
        Host::V1 {
            mounts: vec![
                m("/sys/fs/cgroup/memory", "memory"),
                m("/sys/fs/cgroup/cpu,cpuacct", "cpu,cpuacct"),
                m("/sys/fs/cgroup/systemd", "name=systemd"),
                m("/sys/fs/cgroup/other", "name=other"),
            ],
            unified: Some(PathBuf::from("/sys/fs/cgroup/unified")),
        }
    }

    #[test]
    fn absolute_paths_start_at_each_hierarchy_root() {
        let r = resolve(&v1_host(), Some(Path::new("/a/b")), "id").unwrap();
        let dirs: Vec<_> = r.v1.iter().map(|d| d.dir.to_str().unwrap()).collect();
        assert_eq!(
            dirs,
            [
                "/sys/fs/cgroup/memory/a/b",
                "/sys/fs/cgroup/cpu,cpuacct/a/b",
                "/sys/fs/cgroup/systemd/a/b"
            ]
        );
        assert_eq!(r.v1[1].name, "cpu,cpuacct");
        assert_eq!(r.unified.unwrap(), Path::new("/sys/fs/cgroup/unified/a/b"));
        let r = resolve(&Host::V2, Some(Path::new("/x/./y")), "id").unwrap();
        assert_eq!(r.v2.unwrap(), Path::new("/sys/fs/cgroup/x/y"));
    }

    #[test]
    fn relative_paths_nest_under_our_cgroup() {
        let own = host::own_cgroups().unwrap();
        let r = resolve(&Host::V2, Some(Path::new("t/c")), "id").unwrap();
        let base = Path::new(own[""].as_str())
            .parent()
            .unwrap_or(Path::new("/"));
        let want = Path::new(ROOT)
            .join(base.strip_prefix("/").unwrap())
            .join("t/c");
        assert_eq!(r.v2.unwrap(), want);
        // Absent: the container id, relative.
        let r = resolve(&Host::V2, None, "myid").unwrap();
        assert!(r.v2.unwrap().ends_with("myid"));
    }

    #[test]
    fn dot_dot_and_root_are_refused() {
        let e = resolve(&Host::V2, Some(Path::new("a/../../b")), "id").unwrap_err();
        assert!(format!("{e}").contains("linux.cgroupsPath"), "{e}");
        assert!(resolve(&Host::V2, Some(Path::new("/")), "id").is_err());
    }

    #[test]
    fn systemd_paths() {
        assert_eq!(
            systemd_unit(Some(Path::new("machine.slice:xrun:abc")), "id").unwrap(),
            ("machine.slice".into(), "xrun-abc.scope".into())
        );
        assert_eq!(
            systemd_unit(None, "abc").unwrap(),
            ("system.slice".into(), "xrun-abc.scope".into())
        );
        assert!(systemd_unit(Some(Path::new("/a/b")), "id").is_err());
        assert_eq!(
            systemd_unit(Some(Path::new(":p:n")), "id").unwrap(),
            ("system.slice".into(), "p-n.scope".into())
        );
        assert_eq!(
            systemd_unit(Some(Path::new("a-b.slice::n")), "id").unwrap(),
            ("a-b.slice".into(), "n.scope".into())
        );
        assert!(systemd_unit(Some(Path::new("a.slice:p:n.slice")), "id").is_err());
        assert!(systemd_unit(Some(Path::new("a:p:n")), "id").is_err());
        assert_eq!(
            expand_slice("a-b-c.slice").unwrap(),
            Path::new("/a.slice/a-b.slice/a-b-c.slice")
        );
    }
}
