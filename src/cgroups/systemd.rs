//! `--systemd-cgroup`: the container's cgroup is a transient scope unit that systemd makes
//! around the init (StartTransientUnit over D-Bus, through cgroups-rs's client); resources
//! are then written to the scope's cgroup files like any other cgroup. Without a running
//! systemd this is an error that says so.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use cgroups_rs::systemd::props::PropertiesBuilder;
use cgroups_rs::systemd::SystemdClient;
use cgroups_rs::CgroupPid;

use super::host::{Host, ROOT};
use super::placement::{expand_slice, systemd_unit};
use super::Record;

#[derive(Debug)]
pub struct Pending {
    pub slice: String,
    pub unit: String,
    /// Where the scope's cgroups will be once systemd has made it.
    pub record: Record,
}

/// sd_booted(3): systemd runs as init when this directory exists.
pub fn running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

pub fn plan(host: &Host, path: Option<&Path>, id: &str) -> Result<Pending> {
    let (slice, unit) = systemd_unit(path, id)?;
    if !running() {
        bail!("--systemd-cgroup: systemd is not running on this host (no /run/systemd/system), so it cannot make the scope {slice}/{unit}; use the cgroupfs driver (without --systemd-cgroup)");
    }
    let abs = expand_slice(&slice)?.join(&unit);
    let mut record = super::placement::resolve(host, Some(&abs), id)?;
    record.systemd_unit = Some(unit.clone());
    Ok(Pending {
        slice,
        unit,
        record,
    })
}

/// Asks systemd for the scope with `pid` in it and waits for its cgroup to appear.
pub fn start(p: &Pending, pid: i32) -> Result<()> {
    let props = PropertiesBuilder::default_cgroup(&p.slice, &p.unit).build();
    let mut client =
        SystemdClient::new(&p.unit, props).map_err(|e| anyhow::anyhow!("systemd: {e}"))?;
    client
        .set_pid_prop(CgroupPid::from(pid as u64))
        .map_err(|e| anyhow::anyhow!("systemd: {e}"))?;
    client
        .start()
        .map_err(|e| anyhow::anyhow!("systemd: start {}: {e}", p.unit))?;
    let dir = p
        .record
        .v2
        .clone()
        .or_else(|| p.record.v1.first().map(|d| d.dir.clone()))
        .context("systemd: no cgroup hierarchy")?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !dir.exists() {
        if Instant::now() > deadline {
            bail!("systemd: the scope {} did not appear under {ROOT}", p.unit);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

pub fn stop(unit: &str) {
    if !running() {
        return;
    }
    if let Ok(c) = SystemdClient::new(unit, Vec::new()) {
        if let Err(e) = c.stop() {
            crate::logging::warning(&format!("systemd: stop {unit}: {e}"));
        }
    }
}
