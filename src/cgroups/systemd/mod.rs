//! `--systemd-cgroup`: the container's cgroup is a transient scope unit that systemd makes
//! around the init (StartTransientUnit over D-Bus), with the resources systemd knows as
//! unit properties; every resource is then also written to the scope's cgroup files, like
//! any other cgroup. Without a running systemd this is an error that says so.

mod bus;
mod properties;

use std::path::Path;

use anyhow::{bail, Result};
use oci_spec::runtime::LinuxResources;

use super::host::Host;
use super::placement::{expand_slice, systemd_unit};
use super::Record;

#[derive(Debug)]
pub struct Pending {
    pub id: String,
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
    let dir = record.v2.as_ref().or(record.unified.as_ref());
    if let Some(d) = dir.filter(|d| d.exists()) {
        bail!(
            "config.json: linux.cgroupsPath: the scope {unit} already exists ({})",
            d.display()
        );
    }
    record.systemd_unit = Some(unit.clone());
    Ok(Pending {
        id: id.to_string(),
        slice,
        unit,
        record,
    })
}

/// Has systemd make the scope with `pid` in it and returns once the scope runs, so the
/// process is in its cgroup.
pub fn start(p: &Pending, pid: i32, resources: Option<&LinuxResources>) -> Result<()> {
    let mut props = properties::scope(&p.slice, &p.unit, &p.id, pid);
    if let Some(r) = resources {
        let v2 = p.record.v2.is_some();
        props.extend(properties::resources(
            r,
            v2,
            "config.json: linux.resources",
        )?);
    }
    bus::block_on(async {
        let m = bus::Manager::connect().await?;
        crate::logging::mark("systemd: connected");
        m.start_transient(&p.unit, &props).await
    })?;
    crate::logging::mark("systemd: scope started");
    Ok(())
}

/// `update`: the new limits become the unit's properties too, so that systemd keeps them.
pub fn update(unit: &str, r: &LinuxResources, v2: bool, at: &str) -> Result<()> {
    let props = properties::resources(r, v2, at)?;
    if props.is_empty() || !running() {
        return Ok(());
    }
    bus::block_on(async {
        let m = bus::Manager::connect().await?;
        m.set_properties(unit, &props).await
    })
}

/// Stops the scope and waits until systemd has unloaded it.
pub fn stop(unit: &str) -> Result<()> {
    if !running() {
        return Ok(());
    }
    bus::block_on(async {
        let m = bus::Manager::connect().await?;
        crate::logging::mark("systemd: connected");
        m.stop(unit).await
    })?;
    crate::logging::mark("systemd: scope stopped");
    Ok(())
}
