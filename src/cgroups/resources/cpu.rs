//! cpu and cpuset: shares (v2 weight), CFS quota/period/burst, realtime, idle, cpus, mems.

use std::path::PathBuf;

use anyhow::{bail, Result};
use cgroups_rs::fs::cpu::CpuController;
use cgroups_rs::fs::cpuset::CpuSetController;
use oci_spec::runtime::LinuxCpu;

use super::{check_list, crate_call, set, Target};
use crate::cgroups::host::Host;

pub fn validate(host: &Host, c: &LinuxCpu, at: &str) -> Result<()> {
    if let Some(s) = c.cpus() {
        check_list(s, &format!("{at}.cpus"))?;
    }
    if let Some(s) = c.mems() {
        check_list(s, &format!("{at}.mems"))?;
    }
    if let Some(q) = c
        .quota()
        .filter(|q| *q < -1 || (0..1000).contains(q) && *q != 0)
    {
        bail!("{at}.quota: {q} is invalid (-1 for no limit, or at least 1000 microseconds)");
    }
    if let Some(p) = c
        .period()
        .filter(|p| *p != 0 && !(1000..=1_000_000).contains(p))
    {
        bail!("{at}.period: {p} is out of range (1000-1000000 microseconds)");
    }
    if let Some(i) = c.idle().filter(|i| !(0..=1).contains(i)) {
        bail!("{at}.idle: {i} must be 0 or 1");
    }
    let rt = c.realtime_runtime().is_some_and(|v| v != 0) || c.realtime_period().is_some();
    if rt && host.is_v2() {
        bail!("{at}.realtimeRuntime/realtimePeriod: realtime scheduling groups are not supported on cgroup v2");
    }
    Ok(())
}

pub fn apply_cpuset(t: &Target, c: &LinuxCpu, at: &str) -> Result<()> {
    if c.cpus().is_none() && c.mems().is_none() {
        return Ok(());
    }
    let dir = t.need("cpuset", at)?;
    let cs = CpuSetController::new(dir.to_path_buf(), PathBuf::new(), t.is_v2());
    if let Some(s) = c.cpus() {
        crate_call(cs.set_cpus(s), &format!("{at}.cpus"))?;
    }
    if let Some(s) = c.mems() {
        crate_call(cs.set_mems(s), &format!("{at}.mems"))?;
    }
    Ok(())
}

pub fn apply(t: &Target, c: &LinuxCpu, at: &str) -> Result<()> {
    let any = c.shares().is_some()
        || c.quota().is_some()
        || c.period().is_some()
        || c.burst().is_some()
        || c.realtime_period().is_some()
        || c.realtime_runtime().is_some()
        || c.idle().is_some();
    if !any {
        return Ok(());
    }
    let dir = t.need("cpu", at)?;
    let v2 = t.is_v2();
    let cc = CpuController::new(dir.to_path_buf(), PathBuf::new(), v2);
    if let Some(s) = c.shares().filter(|s| *s != 0) {
        let value = if v2 { shares_to_weight(s) } else { s };
        crate_call(cc.set_shares(value), &format!("{at}.shares"))?;
    }
    if v2 {
        if c.quota().is_some() || c.period().is_some() {
            let q = c.quota().map(|q| if q == 0 { -1 } else { q });
            crate_call(
                cc.set_cfs_quota_and_period(q, c.period().filter(|p| *p != 0)),
                &format!("{at}.quota"),
            )?;
        }
        if let Some(b) = c.burst() {
            set(dir, "cpu.max.burst", b, &format!("{at}.burst"))?;
        }
    } else {
        // The period goes first: a quota is checked against the period in force.
        if let Some(p) = c.period().filter(|p| *p != 0) {
            crate_call(cc.set_cfs_period(p), &format!("{at}.period"))?;
        }
        if let Some(q) = c.quota().filter(|q| *q != 0) {
            crate_call(cc.set_cfs_quota(q), &format!("{at}.quota"))?;
        }
        if let Some(b) = c.burst() {
            set(dir, "cpu.cfs_burst_us", b, &format!("{at}.burst"))?;
        }
        // Likewise the realtime period before the runtime.
        if let Some(p) = c.realtime_period().filter(|p| *p != 0) {
            crate_call(cc.set_rt_period_us(p), &format!("{at}.realtimePeriod"))?;
        }
        if let Some(r) = c.realtime_runtime() {
            crate_call(cc.set_rt_runtime(r), &format!("{at}.realtimeRuntime"))?;
        }
    }
    if let Some(i) = c.idle() {
        set(dir, "cpu.idle", i, &format!("{at}.idle"))?;
    }
    Ok(())
}

/// cgroup v1 shares (2-262144, default 1024) to cgroup v2 weight (1-10000, default 100),
/// the linear mapping runc and crun use.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares <= 2 {
        return 1;
    }
    if shares >= 262_144 {
        return 10_000;
    }
    1 + ((shares - 2) * 9999) / 262_142
}

#[cfg(test)]
mod tests {
    #[test]
    fn shares_map_to_weights() {
        assert_eq!(super::shares_to_weight(2), 1);
        assert_eq!(super::shares_to_weight(1024), 39);
        assert_eq!(super::shares_to_weight(262_144), 10_000);
    }
}
