//! pids, hugepageLimits, network (net_cls/net_prio), rdma and `unified` (raw v2 files).

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use cgroups_rs::fs::hugetlb::HugeTlbController;
use cgroups_rs::fs::net_cls::NetClsController;
use cgroups_rs::fs::net_prio::NetPrioController;
use cgroups_rs::fs::pid::PidController;
use cgroups_rs::fs::rdma::RdmaController;
use cgroups_rs::fs::MaxValue;
use oci_spec::runtime::{LinuxHugepageLimit, LinuxNetwork, LinuxPids, LinuxRdma, LinuxResources};

use super::{crate_call, set, Target};
use crate::cgroups::fsio;
use crate::cgroups::host::Host;
use crate::logging::warning;

pub fn validate(host: &Host, r: &LinuxResources, at: &str) -> Result<()> {
    if let Some(h) = r.hugepage_limits().as_ref().filter(|h| !h.is_empty()) {
        if !host.has_controller("hugetlb") {
            bail!("{at}.hugepageLimits: the hugetlb controller is not available on this host");
        }
        for (i, l) in h.iter().enumerate() {
            let size = l.page_size();
            let unit_ok = ["KB", "MB", "GB"].iter().any(|u| {
                size.strip_suffix(u)
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            });
            if !unit_ok {
                bail!("{at}.hugepageLimits[{i}].pageSize: {size:?} is not a size like \"2MB\"");
            }
        }
    }
    if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) && !host.has_controller("rdma") {
        bail!("{at}.rdma: the rdma controller is not available on this host");
    }
    if let Some(u) = r.unified().as_ref().filter(|u| !u.is_empty()) {
        if !host.is_v2() {
            bail!("{at}.unified: needs cgroup v2, but this host runs its controllers on cgroup v1");
        }
        for k in u.keys() {
            let bad = k.contains('/') || !k.contains('.') || k.starts_with('.');
            if bad {
                bail!("{at}.unified: {k:?} is not a cgroup file name like \"memory.high\"");
            }
        }
    }
    Ok(())
}

pub fn apply_pids(t: &Target, p: &LinuxPids, at: &str) -> Result<()> {
    let dir = t.need("pids", at)?;
    let c = PidController::new(dir.to_path_buf(), PathBuf::new(), t.is_v2());
    let v = if p.limit() > 0 {
        MaxValue::Value(p.limit())
    } else {
        MaxValue::Max
    };
    crate_call(c.set_pid_max(v), &format!("{at}.limit"))
}

pub fn apply_hugetlb(t: &Target, limits: &[LinuxHugepageLimit], at: &str) -> Result<()> {
    if limits.is_empty() {
        return Ok(());
    }
    let dir = t.need("hugetlb", at)?;
    let c = HugeTlbController::new(dir.to_path_buf(), PathBuf::new(), t.is_v2());
    for (i, l) in limits.iter().enumerate() {
        let field = format!("{at}[{i}]");
        if !c.size_supported(l.page_size()) {
            bail!(
                "{field}.pageSize: {:?} is not a huge page size of this host (it has {:?})",
                l.page_size(),
                c.get_sizes()
            );
        }
        let limit = l.limit().max(0) as u64;
        crate_call(
            c.set_limit_in_bytes(l.page_size(), limit),
            &format!("{field}.limit"),
        )?;
        // Reservations too (Linux 5.7+), as runc: else a mapping larger than the limit is
        // made, and the process dies of SIGBUS on a page the limit refuses.
        let rsvd = match t.is_v2() {
            true => format!("hugetlb.{}.rsvd.max", l.page_size()),
            false => format!("hugetlb.{}.rsvd.limit_in_bytes", l.page_size()),
        };
        if dir.join(&rsvd).exists() {
            fsio::write(dir, &rsvd, &limit.to_string())
                .with_context(|| format!("{field}.limit"))?;
        }
    }
    Ok(())
}

/// net_cls and net_prio exist only on cgroup v1 and are often not mounted: then the values
/// are skipped with a warning, as runc does on cgroup v2.
pub fn apply_network(t: &Target, n: &LinuxNetwork, at: &str) -> Result<()> {
    if let Some(id) = n.class_id() {
        match t.dir("net_cls").filter(|_| !t.is_v2()) {
            Some(dir) => {
                let c = NetClsController::new(dir.to_path_buf(), PathBuf::new());
                crate_call(c.set_class(u64::from(id)), &format!("{at}.classID"))?;
            }
            None => warning(&format!(
                "{at}.classID: skipped: the net_cls controller is not available on this host"
            )),
        }
    }
    if let Some(prios) = n.priorities().as_ref().filter(|p| !p.is_empty()) {
        match t.dir("net_prio").filter(|_| !t.is_v2()) {
            Some(dir) => {
                let c = NetPrioController::new(dir.to_path_buf(), PathBuf::new());
                for (i, p) in prios.iter().enumerate() {
                    crate_call(
                        c.set_if_prio(p.name(), u64::from(p.priority())),
                        &format!("{at}.priorities[{i}]"),
                    )?;
                }
            }
            None => warning(&format!(
                "{at}.priorities: skipped: the net_prio controller is not available on this host"
            )),
        }
    }
    Ok(())
}

pub fn apply_rdma(t: &Target, m: &HashMap<String, LinuxRdma>, at: &str) -> Result<()> {
    if m.is_empty() {
        return Ok(());
    }
    let dir = t.need("rdma", at)?;
    let c = RdmaController::new(dir.to_path_buf(), PathBuf::new());
    let mut devices: Vec<_> = m.iter().collect();
    devices.sort_by(|a, b| a.0.cmp(b.0));
    for (dev, l) in devices {
        let mut line = dev.clone();
        if let Some(h) = l.hca_handles() {
            line += &format!(" hca_handle={h}");
        }
        if let Some(o) = l.hca_objects() {
            line += &format!(" hca_object={o}");
        }
        crate_call(c.set_max(&line), &format!("{at}.{dev}"))?;
    }
    Ok(())
}

pub fn apply_unified(t: &Target, u: &HashMap<String, String>, at: &str) -> Result<()> {
    let Some(dir) = t.v2 else {
        if u.is_empty() {
            return Ok(());
        }
        bail!("{at}: needs cgroup v2, but this host runs its controllers on cgroup v1");
    };
    let mut keys: Vec<_> = u.iter().collect();
    keys.sort();
    for (k, v) in keys {
        if !dir.join(k).exists() {
            bail!("{at}.{k}: no such cgroup file in {} (unknown key, or its controller is not enabled)", dir.display());
        }
        set(dir, k, v, &format!("{at}.{k}"))?;
    }
    Ok(())
}
