//! `linux.resources`: checked before anything is created, then written to the cgroup files,
//! at create and again by `update`. Errors name the field they come from
//! (`config.json: linux.resources.memory.limit: ...`).

mod blkio;
pub(super) mod cpu;
pub(super) mod memory;
mod misc;

use std::path::Path;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxResources;

use super::host::Host;
use super::V1Dir;

/// The container's cgroups, as the resource writers see them.
pub struct Target<'a> {
    /// Pure cgroup v2: the one directory.
    pub v2: Option<&'a Path>,
    pub v1: &'a [V1Dir],
}

impl Target<'_> {
    pub fn is_v2(&self) -> bool {
        self.v2.is_some()
    }

    /// The directory that holds `controller`'s files, if the controller is there.
    pub fn dir(&self, controller: &str) -> Option<&Path> {
        match self.v2 {
            Some(d) => Some(d),
            None => self
                .v1
                .iter()
                .find(|d| d.options.split(',').any(|c| c == controller))
                .map(|d| d.dir.as_path()),
        }
    }

    /// Like `dir`, but a missing controller is an error naming the field that needs it.
    pub fn need(&self, controller: &str, field: &str) -> Result<&Path> {
        self.dir(controller).with_context(|| {
            format!("{field}: the {controller} controller is not available on this host")
        })
    }
}

/// Whether the resources are applied at create or changed by `update` (which checks
/// `memory.checkBeforeUpdate` and skips what cannot change).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum When {
    Create,
    Update,
}

/// Checks values and controller availability; touches nothing. `at` prefixes every error
/// (`config.json: linux.resources`).
pub fn validate(host: &Host, r: &LinuxResources, at: &str) -> Result<()> {
    if let Some(m) = r.memory() {
        memory::validate(m, &format!("{at}.memory"))?;
    }
    if let Some(c) = r.cpu() {
        cpu::validate(host, c, &format!("{at}.cpu"))?;
    }
    if let Some(b) = r.block_io() {
        blkio::validate(b, &format!("{at}.blockIO"))?;
    }
    misc::validate(host, r, at)?;
    if let Some(d) = r.devices() {
        super::devices::validate(d, &format!("{at}.devices"))?;
    }
    Ok(())
}

/// Writes every resource that is set. Devices are not handled here (see `devices`).
pub fn apply(t: &Target, r: &LinuxResources, at: &str, when: When) -> Result<()> {
    if let Some(c) = r.cpu() {
        cpu::apply_cpuset(t, c, &format!("{at}.cpu"))?;
    }
    if let Some(m) = r.memory() {
        memory::apply(t, m, &format!("{at}.memory"), when)?;
    }
    if let Some(c) = r.cpu() {
        cpu::apply(t, c, &format!("{at}.cpu"))?;
    }
    if let Some(p) = r.pids() {
        misc::apply_pids(t, p, &format!("{at}.pids"))?;
    }
    if let Some(b) = r.block_io() {
        blkio::apply(t, b, &format!("{at}.blockIO"))?;
    }
    if let Some(h) = r.hugepage_limits() {
        misc::apply_hugetlb(t, h, &format!("{at}.hugepageLimits"))?;
    }
    if let Some(n) = r.network() {
        misc::apply_network(t, n, &format!("{at}.network"))?;
    }
    if let Some(rd) = r.rdma() {
        misc::apply_rdma(t, rd, &format!("{at}.rdma"))?;
    }
    if let Some(u) = r.unified() {
        misc::apply_unified(t, u, &format!("{at}.unified"))?;
    }
    Ok(())
}

/// Writes `value` into `file` of `dir`, the error prefixed with the field it comes from.
fn set(dir: &Path, file: &str, value: impl ToString, field: &str) -> Result<()> {
    super::fsio::write(dir, file, &value.to_string()).with_context(|| field.to_string())
}

/// The same for cgroups-rs calls.
fn crate_call(r: cgroups_rs::fs::error::Result<()>, field: &str) -> Result<()> {
    r.map_err(super::fsio::crate_err)
        .with_context(|| field.to_string())
}

/// `cpuset.cpus`/`cpuset.mems` list syntax: `0-3,5,7-8`.
fn check_list(s: &str, field: &str) -> Result<()> {
    let ok = s.split(',').all(|part| {
        let mut it = part.trim().splitn(2, '-');
        let a = it.next().unwrap_or("");
        let b = it.next();
        let num = |x: &str| !x.is_empty() && x.bytes().all(|c| c.is_ascii_digit());
        num(a) && b.is_none_or(|b| num(b) && b.parse::<u64>().ok() >= a.parse::<u64>().ok())
    });
    if s.trim().is_empty() || !ok {
        bail!("{field}: {s:?} is not a list like \"0-3,5\"");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert!(check_list("0", "f").is_ok());
        assert!(check_list("0-3,5,7-8", "f").is_ok());
        assert!(check_list("3-1", "f").is_err());
        assert!(check_list("a", "f").is_err());
        assert!(check_list("", "f").is_err());
    }
}
