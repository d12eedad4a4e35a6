//! Container cgroups on cgroup v1 (and hybrid) and cgroup v2 hosts, on top of cgroups-rs,
//! with what it lacks built here: the v2 device filter (BPF), freezing that waits for the
//! kernel, cgroup.kill, OOM events, and systemd placement.
//!
//! A container's cgroups are described by a [`Record`] (persisted in state.json), so later
//! commands (`pause`, `ps`, `update`, `delete`) find them without rescanning the host.
//! `create` first *plans* (resolves paths, checks resources: no side effects), saves the
//! plan, then *creates*: a create that dies half way is cleaned up by `delete --force`.

pub mod devices;
pub mod events;
mod freezer;
pub mod fsio;
pub mod host;
pub mod placement;
pub mod resources;
pub mod stats;
mod systemd;
mod v1;
mod v2;

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxDevice, LinuxResources};
use serde::{Deserialize, Serialize};

use host::Host;
use resources::{Target, When};

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

/// What the runtime asks of the cgroup layer for a new container.
pub struct Config<'a> {
    pub id: &'a str,
    /// `linux.cgroupsPath`: absolute (from the hierarchy root) or relative (to our cgroup).
    pub path: Option<&'a Path>,
    pub resources: Option<&'a LinuxResources>,
    /// `linux.devices`: nodes the container gets, which its device rules must allow.
    pub devices: &'a [LinuxDevice],
    /// `--systemd-cgroup`: `slice:prefix:name` paths.
    pub systemd: bool,
}

/// A container's cgroup directories, as persisted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Record {
    /// Pure cgroup v2: the container's cgroup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v2: Option<PathBuf>,
    /// cgroup v1: the container's cgroup in each hierarchy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub v1: Vec<V1Dir>,
    /// Hybrid hosts: the container's cgroup in the cgroup2 mount (no controllers there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unified: Option<PathBuf>,
    /// The topmost directories this container created; removal goes up to these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub made: Vec<PathBuf>,
    /// `--systemd-cgroup`: the transient scope unit that holds the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd_unit: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct V1Dir {
    /// Directory name of the hierarchy's mount (`cpu`, `systemd`).
    pub name: String,
    /// What the hierarchy carries (`cpu,cpuacct`, `name=systemd`).
    pub options: String,
    pub dir: PathBuf,
}

/// The cgroup(s) of one container.
pub struct Manager {
    rec: Record,
    /// Directory the container's processes are cloned into (CLONE_INTO_CGROUP).
    clone_fd: Option<OwnedFd>,
    /// Held between plan and create.
    resources: Option<LinuxResources>,
    devices: Vec<LinuxDevice>,
    systemd: Option<systemd::Pending>,
    /// Set once systemd has made the scope: until then its name and cgroup may be another's.
    scope_started: std::cell::Cell<bool>,
}

impl Manager {
    /// Resolves where the cgroups go and checks the resources, creating nothing.
    pub fn plan(cfg: &Config) -> Result<Manager> {
        let host = Host::detect()?;
        if let Some(r) = cfg.resources {
            resources::validate(&host, r, "config.json: linux.resources")?;
        }
        let (rec, systemd) = if cfg.systemd {
            let p = systemd::plan(&host, cfg.path, cfg.id)?;
            (p.record.clone(), Some(p))
        } else {
            (placement::resolve(&host, cfg.path, cfg.id)?, None)
        };
        Ok(Manager {
            rec,
            clone_fd: None,
            resources: cfg.resources.cloned(),
            devices: cfg.devices.to_vec(),
            systemd,
            scope_started: Default::default(),
        })
    }

    /// Makes the cgroups and writes the resources and device rules. Under systemd that
    /// happens in `add_pid`, since systemd makes the scope around a process.
    pub fn create(&mut self) -> Result<()> {
        if self.systemd.is_some() {
            return Ok(());
        }
        self.clone_fd = match self.rec.v2.clone() {
            Some(leaf) => Some(v2::create(&mut self.rec, &leaf)?),
            None if !self.rec.v1.is_empty() => v1::create(&mut self.rec)?,
            None => None,
        };
        self.configure()
    }

    fn configure(&self) -> Result<()> {
        let Some(r) = &self.resources else {
            return Ok(());
        };
        let at = "config.json: linux.resources";
        resources::apply(&self.target(), r, at, When::Create)?;
        let Some(rules) = r.devices() else {
            return Ok(());
        };
        let rules = devices::rules(rules, &self.devices);
        let at = format!("{at}.devices");
        match (&self.rec.v2, &self.clone_fd) {
            (Some(_), Some(fd)) => {
                let prog = devices::bpf::load(&devices::bpf::program(&rules))
                    .with_context(|| at.clone())?;
                devices::bpf::attach(&prog, fd).with_context(|| at.clone())
            }
            (Some(leaf), None) => {
                let prog = devices::bpf::load(&devices::bpf::program(&rules))?;
                devices::bpf::attach(&prog, open_dir(leaf)?).with_context(|| at.clone())
            }
            _ => match self.target().dir("devices") {
                Some(dir) => devices::apply_v1(dir, &rules, &at),
                // Running without device control would let the container open any device.
                None => bail!("{at}: the devices controller is not available on this host"),
            },
        }
    }

    fn target(&self) -> Target<'_> {
        Target {
            v2: self.rec.v2.as_deref(),
            v1: &self.rec.v1,
        }
    }

    /// cgroup v2 directory to clone the container's processes straight into.
    pub fn clone_target(&self) -> Option<&OwnedFd> {
        self.clone_fd.as_ref()
    }

    /// What the container's process writes "0" into to move itself into its cgroup v1
    /// hierarchies (see [`join_self`]); empty where the runtime places it instead.
    pub fn self_join_files(&self) -> Result<Vec<OwnedFd>> {
        if self.systemd.is_some() || self.rec.v2.is_some() {
            return Ok(Vec::new());
        }
        v1::open_tasks_files(&self.rec)
    }

    /// Moves `pid` into the cgroups that neither `clone_target` nor `self_join_files` covers.
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        if let Some(p) = &self.systemd {
            systemd::start(p, pid, self.resources.as_ref())?;
            self.scope_started.set(true);
            return self.configure();
        }
        if let Some(dir) = &self.rec.v2 {
            // Cloned into it already, unless there was no directory to clone into.
            if self.clone_fd.is_none() {
                fsio::write(dir, "cgroup.procs", &pid.to_string())?;
            }
            return Ok(());
        }
        match &self.rec.unified {
            Some(u) if self.clone_fd.is_none() => fsio::write(u, "cgroup.procs", &pid.to_string()),
            _ => Ok(()),
        }
    }

    pub fn container_mounts(&self) -> ContainerMounts {
        if let Some(d) = &self.rec.v2 {
            return ContainerMounts::V2 {
                host_dir: d.clone(),
            };
        }
        if self.rec.v1.is_empty() {
            return ContainerMounts::None;
        }
        ContainerMounts::V1 {
            hierarchies: self
                .rec
                .v1
                .iter()
                .map(|d| V1Hierarchy {
                    name: d.name.clone(),
                    options: d.options.clone(),
                    host_dir: d.dir.clone(),
                })
                .collect(),
        }
    }

    /// What to persist in state.json to find these cgroups again.
    pub fn record(&self) -> Option<serde_json::Value> {
        serde_json::to_value(&self.rec).ok()
    }

    pub fn load(record: Option<&serde_json::Value>) -> Result<Manager> {
        let rec = match record {
            Some(v) => Record::deserialize(v).context("state.json: cgroup")?,
            None => Record::default(),
        };
        Ok(Manager {
            rec,
            clone_fd: None,
            resources: None,
            devices: Vec::new(),
            systemd: None,
            scope_started: Default::default(),
        })
    }

    /// For `exec`: the directory to clone into must be opened again in a new command.
    pub fn open_clone_target(&mut self) -> Result<()> {
        let dir = self.rec.v2.clone().or_else(|| self.rec.unified.clone());
        if let Some(d) = dir.filter(|d| d.exists()) {
            self.clone_fd = Some(open_dir(&d)?);
        }
        Ok(())
    }

    /// Kills what is left and removes every cgroup this container made.
    pub fn destroy(&self) -> Result<()> {
        if self.systemd.is_some() && !self.scope_started.get() {
            // systemd refused the scope (one of that name exists): what is there is not ours.
            return Ok(());
        }
        self.kill_all()?;
        let mut first_err = None;
        if let Some(unit) = &self.rec.systemd_unit {
            // systemd removes the scope's cgroup; what it leaves is removed below.
            if let Err(e) = systemd::stop(unit) {
                first_err.get_or_insert(e);
            }
        }
        let dirs = self
            .rec
            .v2
            .iter()
            .chain(self.rec.v1.iter().map(|d| &d.dir))
            .chain(self.rec.unified.iter());
        for d in dirs {
            let top = self.rec.made.iter().find(|m| d.starts_with(m));
            if let Err(e) = fsio::remove(d, top.map(PathBuf::as_path)) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// SIGKILLs every process in the cgroups and waits until they are gone: cgroup.kill on
    /// v2, else freeze (so nothing forks meanwhile), kill each, thaw.
    pub fn kill_all(&self) -> Result<()> {
        if self.kill_v2()? {
            return Ok(());
        }
        if self.pids()?.is_empty() {
            return Ok(());
        }
        self.signal_all(libc::SIGKILL)?;
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !self.pids()?.is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    }

    /// v2: SIGKILLs everything with one write to cgroup.kill and waits until the cgroup is
    /// empty; false where there is no v2 cgroup or the kernel lacks cgroup.kill.
    fn kill_v2(&self) -> Result<bool> {
        let Some(d) = &self.rec.v2 else {
            return Ok(false);
        };
        // A v2 cgroup that is gone (systemd removes an emptied scope's) holds nothing.
        if !d.exists() || !v2::kill_all(d)? {
            return Ok(!d.exists());
        }
        match freezer::wait_events(d, "populated", 0, Duration::from_secs(5)) {
            Err(_) if !d.exists() => Ok(true),
            r => r.map(|_| true),
        }
    }

    /// Sends `sig` to every process, with the cgroup frozen so that none escapes by forking.
    /// A paused container stays paused, except for SIGKILL: frozen tasks die only once
    /// thawed on cgroup v1.
    pub fn signal_all(&self, sig: i32) -> Result<()> {
        if sig == libc::SIGKILL && self.kill_v2()? {
            return Ok(());
        }
        let was_frozen = self.is_frozen();
        if !was_frozen {
            if let Some((d, v2)) = self.freezer_dir() {
                freezer::freeze(d, v2)?;
            }
        }
        for pid in self.pids()? {
            // SAFETY: plain kill(2); a pid that exited meanwhile gives ESRCH, ignored.
            unsafe { libc::kill(pid, sig) };
        }
        if !was_frozen || sig == libc::SIGKILL {
            if let Some((d, v2)) = self.freezer_dir() {
                match freezer::thaw(d, v2) {
                    // Emptied by the signal, a systemd scope goes away with its cgroup.
                    Err(_) if !d.exists() => {}
                    r => r?,
                }
            }
        }
        Ok(())
    }

    /// Host pids of every process in the container's cgroup (and those below it).
    pub fn pids(&self) -> Result<Vec<i32>> {
        let dir = match &self.rec.v2 {
            Some(d) => d.as_path(),
            None => match v1::main_dir(&self.rec) {
                Some(d) => d.dir.as_path(),
                None => return Ok(Vec::new()),
            },
        };
        fsio::procs(dir, true)
    }

    fn freezer_dir(&self) -> Option<(&Path, bool)> {
        match &self.rec.v2 {
            Some(d) => Some((d.as_path(), true)),
            None => v1::freezer_dir(&self.rec).map(|d| (d, false)),
        }
    }

    pub fn freeze(&self) -> Result<()> {
        let (d, v2) = self
            .freezer_dir()
            .context("the container has no freezer cgroup")?;
        freezer::freeze(d, v2)
    }

    pub fn thaw(&self) -> Result<()> {
        let (d, v2) = self
            .freezer_dir()
            .context("the container has no freezer cgroup")?;
        freezer::thaw(d, v2)
    }

    /// Cheap: one small file read.
    pub fn is_frozen(&self) -> bool {
        self.freezer_dir()
            .is_some_and(|(d, v2)| freezer::is_frozen(d, v2))
    }

    /// `update`: writes the given resources (devices are not updated, as with runc).
    pub fn update(&self, r: &LinuxResources, at: &str) -> Result<()> {
        let host = if self.rec.v2.is_some() {
            Host::V2
        } else {
            Host::V1 {
                mounts: Vec::new(),
                unified: None,
            }
        };
        if self.rec.v2.is_none() && self.rec.v1.is_empty() {
            bail!("the container has no cgroups to update");
        }
        let mut r = r.clone();
        r.set_devices(None);
        // Controller availability was checked at create; values are checked again here.
        let mut check = r.clone();
        check.set_hugepage_limits(None);
        check.set_rdma(None);
        resources::validate(&host, &check, at)?;
        // Files first: they check (checkBeforeUpdate) before anything changes.
        resources::apply(&self.target(), &r, at, When::Update)?;
        match &self.rec.systemd_unit {
            Some(unit) => systemd::update(unit, &r, self.rec.v2.is_some(), at),
            None => Ok(()),
        }
    }

    pub fn stats(&self) -> stats::Stats {
        stats::collect(&self.target())
    }

    pub fn oom_watcher(&self) -> Result<Option<events::OomWatcher>> {
        match self.target().dir("memory") {
            Some(d) => events::OomWatcher::new(d, self.rec.v2.is_some()).map(Some),
            None => Ok(None),
        }
    }
}

/// cgroups that could not tell their state count as not frozen.
pub fn is_frozen(record: Option<&serde_json::Value>) -> bool {
    Manager::load(record).is_ok_and(|m| m.is_frozen())
}

fn open_dir(dir: &Path) -> Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .with_context(|| format!("open {}", dir.display()))?;
    Ok(f.into())
}

/// Moves the calling (single-threaded) process into the cgroups whose `tasks` files are
/// given, by writing "0". A process that moves itself thread by thread skips the global
/// lock a write of its pid by the runtime takes (`cgroup_threadgroup_rwsem`), whose RCU
/// grace period costs milliseconds on every container start on cgroup v1.
pub fn join_self(files: &[OwnedFd]) -> Result<()> {
    for f in files {
        nix::unistd::write(f, b"0").context("join the container's cgroup")?;
    }
    Ok(())
}
