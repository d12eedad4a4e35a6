//! The properties of a container's scope unit: where it goes, and the resources systemd
//! itself knows. systemd writes the cgroup files of what it manages whenever it realises
//! the unit again (`daemon-reload`, a property change), with its defaults for properties
//! it was not given: so each limit systemd has a property for is given to it too, not
//! only written to the file.

use std::collections::HashMap;

use anyhow::{anyhow, Context, Result};
use cgroups_rs::systemd::props::PropertiesBuilder;
use cgroups_rs::systemd::{cpuset, PIDS};
use oci_spec::runtime::LinuxResources;
use zbus::zvariant::Value;

use super::bus::Property;
use crate::cgroups::resources::{cpu, memory};

/// "infinity" in systemd's u64 properties.
const INFINITY: u64 = u64::MAX;

/// The scope in `slice`, delegated, holding `pid`.
pub fn scope(slice: &str, unit: &str, id: &str, pid: i32) -> Vec<Property> {
    let mut props = PropertiesBuilder::default_cgroup(slice, unit)
        .description(format!("xrun container {id}"))
        .build();
    props.push((PIDS, Value::Array(vec![pid as u32].into())));
    props
}

fn limit(v: i64) -> u64 {
    if v < 0 {
        INFINITY
    } else {
        v as u64
    }
}

/// The unit properties for the resources given (those systemd has properties for).
pub fn resources(r: &LinuxResources, v2: bool, at: &str) -> Result<Vec<Property>> {
    let mut p: Vec<Property> = Vec::new();
    let mut u64_prop = |name: &'static str, v: u64| p.push((name, Value::U64(v)));
    if let Some(m) = r.memory() {
        if let Some(l) = m.limit().filter(|l| *l != 0) {
            u64_prop(if v2 { "MemoryMax" } else { "MemoryLimit" }, limit(l));
        }
        if v2 {
            if let Some(res) = m.reservation() {
                u64_prop("MemoryLow", limit(res));
            }
            let swap = memory::v2_swap(m, &format!("{at}.memory"))?;
            if swap != 0 {
                u64_prop("MemorySwapMax", limit(swap));
            }
        }
    }
    if let Some(l) = r.pids().as_ref().map(|p| p.limit()) {
        u64_prop("TasksMax", if l > 0 { l as u64 } else { INFINITY });
    }
    if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()) {
        match v2 {
            // runc's ConvertBlkIOToIOWeightValue: [10, 1000] onto systemd's [1, 10000].
            true => u64_prop("IOWeight", 1 + (u64::from(w).max(10) - 10) * 9999 / 990),
            false => u64_prop("BlockIOWeight", u64::from(w)),
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares().filter(|s| *s != 0) {
            match v2 {
                true => u64_prop("CPUWeight", cpu::shares_to_weight(s)),
                false => u64_prop("CPUShares", s),
            }
        }
        let period = c.period().filter(|p| *p != 0);
        if let Some(p) = period {
            u64_prop("CPUQuotaPeriodUSec", p);
        }
        if let Some(q) = c.quota() {
            // systemd takes the quota per second of time, whatever the period.
            let per_sec = match q {
                q if q <= 0 => INFINITY,
                q => q as u64 * 1_000_000 / period.unwrap_or(100_000),
            };
            u64_prop("CPUQuotaPerSecUSec", per_sec);
        }
        for (set, value) in [
            (cpuset::cpus as fn(&str) -> _, c.cpus()),
            (cpuset::mems, c.mems()),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                let (name, mask) = set(v).map_err(|e| anyhow!("{at}.cpu: {v}: {e}"))?;
                p.push((name, Value::from(mask)));
            }
        }
    }
    if let Some(u) = r.unified().as_ref().filter(|_| v2) {
        // After the others: a property given twice takes its last value (as runc).
        unified(u, &format!("{at}.unified"), &mut p)?;
    }
    Ok(p)
}

/// The `unified` files that systemd manages too, as its properties (runc's
/// unifiedResToSystemdProps); the others are only written to the files.
fn unified(u: &HashMap<String, String>, at: &str, p: &mut Vec<Property>) -> Result<()> {
    let mut keys: Vec<&String> = u.keys().collect();
    keys.sort();
    for k in keys {
        let v = u[k].trim();
        let num = |v: &str| -> Result<u64> {
            match v {
                "max" => Ok(INFINITY),
                v => v
                    .parse()
                    .map_err(|_| anyhow!("{at}.{k}: {v:?} is not a number or \"max\"")),
            }
        };
        let name = match k.as_str() {
            "memory.high" => "MemoryHigh",
            "memory.low" => "MemoryLow",
            "memory.min" => "MemoryMin",
            "memory.max" => "MemoryMax",
            "memory.swap.max" => "MemorySwapMax",
            "pids.max" => "TasksMax",
            "cpu.weight" => "CPUWeight",
            "cpu.max" => {
                // "QUOTA [PERIOD]": systemd takes the quota per second.
                let mut f = v.split_whitespace();
                let quota = num(f.next().unwrap_or_default())?;
                let period = match f.next() {
                    Some(s) => {
                        let n = num(s).ok().filter(|n| (1..INFINITY).contains(n));
                        let n = n.with_context(|| format!("{at}.{k}: bad period {s:?}"))?;
                        p.push(("CPUQuotaPeriodUSec", Value::U64(n)));
                        n
                    }
                    None => 100_000,
                };
                let per_sec = match quota {
                    INFINITY => INFINITY,
                    q => q.saturating_mul(1_000_000) / period,
                };
                p.push(("CPUQuotaPerSecUSec", Value::U64(per_sec)));
                continue;
            }
            "cpuset.cpus" | "cpuset.mems" => {
                let set = if k == "cpuset.cpus" {
                    cpuset::cpus
                } else {
                    cpuset::mems
                };
                let (name, mask) = set(v).map_err(|e| anyhow!("{at}.{k}: {v:?}: {e}"))?;
                p.push((name, Value::from(mask)));
                continue;
            }
            _ => continue,
        };
        p.push((name, Value::U64(num(v)?)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(p: &'a [Property], name: &str) -> Option<&'a Value<'static>> {
        p.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    #[test]
    fn limits_become_properties() {
        let r: LinuxResources = serde_json::from_value(serde_json::json!({
            "memory": {"limit": 67108864, "swap": 100663296, "reservation": 1024},
            "pids": {"limit": 20},
            "cpu": {"shares": 1024, "quota": 30000, "period": 100000, "cpus": "0"},
            "blockIO": {"weight": 500}
        }))
        .unwrap();
        let p = resources(&r, true, "at").unwrap();
        assert_eq!(get(&p, "MemoryMax"), Some(&Value::U64(64 << 20)));
        assert_eq!(get(&p, "MemorySwapMax"), Some(&Value::U64(32 << 20)));
        assert_eq!(get(&p, "MemoryLow"), Some(&Value::U64(1024)));
        assert_eq!(get(&p, "TasksMax"), Some(&Value::U64(20)));
        assert_eq!(get(&p, "CPUWeight"), Some(&Value::U64(39)));
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Value::U64(300_000)));
        assert!(get(&p, "AllowedCPUs").is_some());
        assert_eq!(get(&p, "IOWeight"), Some(&Value::U64(4950)));
        let p = resources(&r, false, "at").unwrap();
        assert_eq!(get(&p, "BlockIOWeight"), Some(&Value::U64(500)));
        assert_eq!(get(&p, "MemoryLimit"), Some(&Value::U64(64 << 20)));
        assert_eq!(get(&p, "CPUShares"), Some(&Value::U64(1024)));
    }

    #[test]
    fn unified_files_systemd_manages_become_properties() {
        let r: LinuxResources = serde_json::from_value(serde_json::json!({
            "memory": {"limit": 1024},
            "unified": {"memory.high": "4096", "memory.max": "max", "pids.max": "7",
                "cpu.max": "25000 50000", "cpu.weight": "300", "io.weight": "50"}
        }))
        .unwrap();
        let p = resources(&r, true, "at").unwrap();
        // The unified value comes last, so it wins over memory.limit.
        let max: Vec<_> = p.iter().filter(|(n, _)| *n == "MemoryMax").collect();
        assert_eq!(max.last().unwrap().1, Value::U64(INFINITY));
        assert_eq!(get(&p, "MemoryHigh"), Some(&Value::U64(4096)));
        assert_eq!(get(&p, "TasksMax"), Some(&Value::U64(7)));
        assert_eq!(get(&p, "CPUWeight"), Some(&Value::U64(300)));
        assert_eq!(get(&p, "CPUQuotaPeriodUSec"), Some(&Value::U64(50_000)));
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Value::U64(500_000)));
        assert_eq!(p.len(), 7, "{p:?}");
        let bad: LinuxResources =
            serde_json::from_value(serde_json::json!({"unified": {"memory.high": "lots"}}))
                .unwrap();
        let e = resources(&bad, true, "at").unwrap_err().to_string();
        assert!(e.contains("at.unified.memory.high"), "{e}");
    }

    #[test]
    fn unlimited_is_infinity() {
        let r: LinuxResources = serde_json::from_value(serde_json::json!({
            "memory": {"limit": -1}, "pids": {"limit": 0}, "cpu": {"quota": -1}
        }))
        .unwrap();
        let p = resources(&r, true, "at").unwrap();
        for n in ["MemoryMax", "TasksMax", "CPUQuotaPerSecUSec"] {
            assert_eq!(get(&p, n), Some(&Value::U64(INFINITY)), "{n}");
        }
    }
}
