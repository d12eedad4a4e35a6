//! Container cgroups (cgroup v1 and v2).

use std::path::PathBuf;

/// One cgroup v1 hierarchy as the container sees it.
#[derive(Debug, Clone)]
pub struct V1Hierarchy {
    /// Directory name under /sys/fs/cgroup (e.g. `cpu`, `memory`, `systemd`).
    pub name: String,
    /// Mount options naming the hierarchy (e.g. `cpu`, `name=systemd`).
    pub options: String,
    /// The container's cgroup directory in this hierarchy, on the host.
    pub host_dir: PathBuf,
}

/// What to show at the container's cgroup mount.
#[derive(Debug, Clone)]
pub enum ContainerMounts {
    /// No cgroups were set up: the cgroup mount is skipped.
    None,
    V2 {
        host_dir: PathBuf,
    },
    V1 {
        hierarchies: Vec<V1Hierarchy>,
    },
}

use std::os::fd::OwnedFd;
use std::path::Path;

use anyhow::Result;
use oci_spec::runtime::LinuxResources;

/// What the runtime asks of the cgroup layer for a new container.
pub struct Config<'a> {
    pub id: &'a str,
    /// `linux.cgroupsPath`: absolute (from the hierarchy root) or relative (to our cgroup).
    pub path: Option<&'a Path>,
    pub resources: Option<&'a LinuxResources>,
    /// `--systemd-cgroup`: `slice:prefix:name` paths.
    pub systemd: bool,
}

/// The cgroup(s) of one container.
///
/// Placeholder until the cgroup manager lands: it creates nothing, so containers run in the
/// runtime's own cgroups and `container_mounts` reports none.
pub struct Manager {
    _private: (),
}

impl Manager {
    pub fn create(_cfg: &Config) -> Result<Manager> {
        Ok(Manager { _private: () })
    }

    /// cgroup v2 directory to clone the init straight into.
    pub fn clone_target(&self) -> Option<&OwnedFd> {
        None
    }

    /// Moves `pid` into the container's cgroups (what clone_target could not do).
    pub fn add_pid(&self, _pid: i32) -> Result<()> {
        Ok(())
    }

    pub fn container_mounts(&self) -> ContainerMounts {
        ContainerMounts::None
    }

    /// What to persist in state.json to find these cgroups again.
    pub fn record(&self) -> Option<serde_json::Value> {
        None
    }

    pub fn load(_record: Option<&serde_json::Value>) -> Result<Manager> {
        Ok(Manager { _private: () })
    }

    /// Kills what is left and removes every cgroup this container made.
    pub fn destroy(&self) -> Result<()> {
        Ok(())
    }

    /// Host pids of every process in the container's cgroup.
    pub fn pids(&self) -> Result<Vec<i32>> {
        Ok(Vec::new())
    }
}
