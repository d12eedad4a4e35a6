//! Resource usage in runc's `events` JSON shape (types/events.go), read from the cgroup
//! files of either version; containerd and docker parse exactly these field names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cgroups_rs::fs::hugetlb::HugeTlbController;
use serde::Serialize;

use super::fsio::{keyed, read, read_u64};
use super::resources::Target;

#[derive(Debug, Default, Serialize)]
pub struct Stats {
    pub cpu: Cpu,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    pub hugetlb: BTreeMap<String, Hugetlb>,
}

#[derive(Debug, Default, Serialize)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

#[derive(Debug, Default, Serialize)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Throttling {
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(rename = "throttledPeriods", skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    #[serde(rename = "throttledTime", skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Memory {
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Serialize)]
pub struct Pids {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Blkio {
    #[serde(
        rename = "ioServiceBytesRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioServicedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Default, Serialize)]
pub struct Hugetlb {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Whatever can be read; a missing controller leaves its part empty.
pub fn collect(t: &Target) -> Stats {
    let v2 = t.is_v2();
    let mut s = Stats::default();
    if let Some(d) = t.dir("cpu") {
        s.cpu.throttling = throttling(d, v2);
    }
    let acct = if v2 { t.dir("cpu") } else { t.dir("cpuacct") };
    if let Some(d) = acct {
        s.cpu.usage = cpu_usage(d, v2);
    }
    if let Some(d) = t.dir("memory") {
        s.memory = if v2 { memory_v2(d) } else { memory_v1(d) };
    }
    if let Some(d) = t.dir("pids") {
        s.pids = Pids {
            current: read_u64(d, "pids.current").unwrap_or(0),
            limit: read_u64(d, "pids.max")
                .ok()
                .filter(|v| *v != u64::MAX)
                .unwrap_or(0),
        };
    }
    if let Some(d) = t.dir(if v2 { "io" } else { "blkio" }) {
        s.blkio = if v2 { blkio_v2(d) } else { blkio_v1(d) };
    }
    if let Some(d) = t.dir("hugetlb") {
        s.hugetlb = hugetlb(d, v2);
    }
    s
}

fn cpu_usage(d: &Path, v2: bool) -> CpuUsage {
    if v2 {
        let st = read(d, "cpu.stat").unwrap_or_default();
        let us = |k| keyed(&st, k).unwrap_or(0) * 1000;
        return CpuUsage {
            total: us("usage_usec"),
            percpu: Vec::new(),
            kernel: us("system_usec"),
            user: us("user_usec"),
        };
    }
    // cpuacct.stat counts clock ticks; runc reports nanoseconds.
    let tick_ns = 1_000_000_000 / (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64);
    let st = read(d, "cpuacct.stat").unwrap_or_default();
    CpuUsage {
        total: read_u64(d, "cpuacct.usage").unwrap_or(0),
        percpu: read(d, "cpuacct.usage_percpu")
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect(),
        kernel: keyed(&st, "system").unwrap_or(0) * tick_ns,
        user: keyed(&st, "user").unwrap_or(0) * tick_ns,
    }
}

fn throttling(d: &Path, v2: bool) -> Throttling {
    let st = read(d, "cpu.stat").unwrap_or_default();
    Throttling {
        periods: keyed(&st, "nr_periods").unwrap_or(0),
        throttled_periods: keyed(&st, "nr_throttled").unwrap_or(0),
        throttled_time: if v2 {
            keyed(&st, "throttled_usec").unwrap_or(0) * 1000
        } else {
            keyed(&st, "throttled_time").unwrap_or(0)
        },
    }
}

fn raw_stat(d: &Path) -> BTreeMap<String, u64> {
    read(d, "memory.stat")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

fn entry_v1(d: &Path, prefix: &str) -> MemoryEntry {
    let r = |f: &str| read_u64(d, &format!("{prefix}.{f}")).unwrap_or(0);
    MemoryEntry {
        limit: r("limit_in_bytes"),
        usage: r("usage_in_bytes"),
        max: r("max_usage_in_bytes"),
        failcnt: r("failcnt"),
    }
}

fn memory_v1(d: &Path) -> Memory {
    let raw = raw_stat(d);
    Memory {
        cache: raw.get("cache").copied().unwrap_or(0),
        usage: entry_v1(d, "memory"),
        swap: entry_v1(d, "memory.memsw"),
        kernel: entry_v1(d, "memory.kmem"),
        kernel_tcp: entry_v1(d, "memory.kmem.tcp"),
        raw,
    }
}

fn memory_v2(d: &Path) -> Memory {
    let raw = raw_stat(d);
    let events = read(d, "memory.events").unwrap_or_default();
    let usage = read_u64(d, "memory.current").unwrap_or(0);
    let swap = read_u64(d, "memory.swap.current").unwrap_or(0);
    Memory {
        cache: raw.get("file").copied().unwrap_or(0),
        usage: MemoryEntry {
            limit: read_u64(d, "memory.max").unwrap_or(u64::MAX),
            usage,
            max: read_u64(d, "memory.peak").unwrap_or(0),
            failcnt: keyed(&events, "max").unwrap_or(0),
        },
        // As runc: v2 reports swap alone; the v1-shaped field is memory+swap.
        swap: MemoryEntry {
            limit: read_u64(d, "memory.swap.max").unwrap_or(u64::MAX),
            usage: usage + swap,
            max: 0,
            failcnt: 0,
        },
        kernel: MemoryEntry::default(),
        kernel_tcp: MemoryEntry::default(),
        raw,
    }
}

fn blkio_v1(d: &Path) -> Blkio {
    let parse = |f: &str| -> Vec<BlkioEntry> {
        read(d, f)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                let (dev, op, v) = (it.next()?, it.next()?, it.next()?);
                let (ma, mi) = dev.split_once(':')?;
                Some(BlkioEntry {
                    major: ma.parse().ok()?,
                    minor: mi.parse().ok()?,
                    op: op.to_string(),
                    value: v.parse().ok()?,
                })
            })
            .collect()
    };
    Blkio {
        io_service_bytes_recursive: parse("blkio.throttle.io_service_bytes_recursive"),
        io_serviced_recursive: parse("blkio.throttle.io_serviced_recursive"),
    }
}

fn blkio_v2(d: &Path) -> Blkio {
    let mut b = Blkio::default();
    for l in read(d, "io.stat").unwrap_or_default().lines() {
        let mut it = l.split_whitespace();
        let Some((ma, mi)) = it.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (ma.parse(), mi.parse()) else {
            continue;
        };
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let value = v.parse().unwrap_or(0);
            let e = |op: &str| BlkioEntry {
                major,
                minor,
                op: op.into(),
                value,
            };
            match k {
                "rbytes" => b.io_service_bytes_recursive.push(e("Read")),
                "wbytes" => b.io_service_bytes_recursive.push(e("Write")),
                "rios" => b.io_serviced_recursive.push(e("Read")),
                "wios" => b.io_serviced_recursive.push(e("Write")),
                _ => {}
            }
        }
    }
    b
}

fn hugetlb(d: &Path, v2: bool) -> BTreeMap<String, Hugetlb> {
    let c = HugeTlbController::new(d.to_path_buf(), PathBuf::new(), v2);
    c.get_sizes()
        .into_iter()
        .map(|size| {
            let h = if v2 {
                let ev = read(d, &format!("hugetlb.{size}.events")).unwrap_or_default();
                Hugetlb {
                    usage: read_u64(d, &format!("hugetlb.{size}.current")).unwrap_or(0),
                    max: 0,
                    failcnt: keyed(&ev, "max").unwrap_or(0),
                }
            } else {
                let r = |f: &str| read_u64(d, &format!("hugetlb.{size}.{f}")).unwrap_or(0);
                Hugetlb {
                    usage: r("usage_in_bytes"),
                    max: r("max_usage_in_bytes"),
                    failcnt: r("failcnt"),
                }
            };
            (size, h)
        })
        .collect()
}
