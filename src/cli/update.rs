//! `update`: runc's flags, or `--resources FILE|-` with a LinuxResources JSON document
//! (what containerd's shim sends on stdin). As with runc, the JSON takes the place of the
//! flags when given.

use std::io::Read;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Map, Value};

use super::GlobalOpts;

#[derive(clap::Args, Debug, Default)]
pub struct Args {
    /// Path to a file with the resources to update, or '-' to read them from stdin
    #[arg(short = 'r', long)]
    pub resources: Option<String>,
    /// Block IO weight (10-1000)
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period (microseconds)
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota (microseconds per period)
    #[arg(long = "cpu-quota", allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS burst (microseconds)
    #[arg(long = "cpu-burst")]
    pub cpu_burst: Option<u64>,
    /// CPU shares (relative weight)
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    /// CPU realtime period (microseconds)
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime (microseconds per period)
    #[arg(long = "cpu-rt-runtime", allow_negative_numbers = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs to use (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use (0-3, 0,1)
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Kernel memory limit (obsolete: ignored with a warning)
    #[arg(long = "kernel-memory")]
    pub kernel_memory: Option<String>,
    /// Kernel TCP memory limit (obsolete: ignored with a warning)
    #[arg(long = "kernel-memory-tcp")]
    pub kernel_memory_tcp: Option<String>,
    /// Memory limit in bytes (suffixes k, m, g; -1 for none)
    #[arg(long, allow_negative_numbers = true)]
    pub memory: Option<String>,
    /// Memory reservation (soft limit) in bytes
    #[arg(long = "memory-reservation", allow_negative_numbers = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit in bytes; -1 for unlimited swap
    #[arg(long = "memory-swap", allow_negative_numbers = true)]
    pub memory_swap: Option<String>,
    /// Maximum number of pids (0 or -1 for no limit)
    #[arg(long = "pids-limit", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Intel RDT L3 cache schema (not supported)
    #[arg(long = "l3-cache-schema")]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema (not supported)
    #[arg(long = "mem-bw-schema")]
    pub mem_bw_schema: Option<String>,
    /// The container id
    pub id: String,
}

pub fn run(args: Args, g: &GlobalOpts) -> Result<i32> {
    let r = resources(&args)?;
    crate::container::update::update(&g.runtime(), &args.id, &r)?;
    Ok(0)
}

fn resources(a: &Args) -> Result<LinuxResources> {
    if let Some(src) = &a.resources {
        let text = if src == "-" {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("read stdin")?;
            s
        } else {
            std::fs::read_to_string(src).with_context(|| format!("--resources {src}"))?
        };
        let de = &mut serde_json::Deserializer::from_str(&text);
        return serde_path_to_error::deserialize(de)
            .map_err(|e| anyhow::anyhow!("--resources: {}: {}", e.path(), e.inner()));
    }
    if a.l3_cache_schema.is_some() || a.mem_bw_schema.is_some() {
        bail!("--l3-cache-schema/--mem-bw-schema: Intel RDT is not supported");
    }
    let mut v = Map::new();
    let mut put = |section: &str, key: &str, val: Value| {
        v.entry(section)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .unwrap()
            .insert(key.to_string(), val);
    };
    if let Some(w) = a.blkio_weight {
        put("blockIO", "weight", json!(w));
    }
    for (k, x) in [
        ("period", a.cpu_period.map(|x| json!(x))),
        ("quota", a.cpu_quota.map(|x| json!(x))),
        ("burst", a.cpu_burst.map(|x| json!(x))),
        ("shares", a.cpu_share.map(|x| json!(x))),
        ("realtimePeriod", a.cpu_rt_period.map(|x| json!(x))),
        ("realtimeRuntime", a.cpu_rt_runtime.map(|x| json!(x))),
        ("cpus", a.cpuset_cpus.as_ref().map(|x| json!(x))),
        ("mems", a.cpuset_mems.as_ref().map(|x| json!(x))),
    ] {
        if let Some(x) = x {
            put("cpu", k, x);
        }
    }
    for (flag, k, x) in [
        ("--memory", "limit", &a.memory),
        ("--memory-reservation", "reservation", &a.memory_reservation),
        ("--memory-swap", "swap", &a.memory_swap),
        ("--kernel-memory", "kernel", &a.kernel_memory),
        ("--kernel-memory-tcp", "kernelTCP", &a.kernel_memory_tcp),
    ] {
        if let Some(x) = x {
            put("memory", k, json!(ram_in_bytes(x).context(flag)?));
        }
    }
    if let Some(p) = a.pids_limit {
        put("pids", "limit", json!(if p <= 0 { -1 } else { p }));
    }
    Ok(serde_json::from_value(Value::Object(v))?)
}

/// `512m`, `1g`, `1024`, `-1`: sizes as docker and runc take them (binary units).
pub fn ram_in_bytes(s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let n = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let num: f64 = t[..n]
        .parse()
        .map_err(|_| anyhow::anyhow!("{s:?} is not a size"))?;
    let mult: f64 = match t[n..].trim_end_matches('b').trim_end_matches('i') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024f64.powi(2),
        "g" => 1024f64.powi(3),
        "t" => 1024f64.powi(4),
        _ => bail!("{s:?} is not a size (use a number with k, m, g or t)"),
    };
    Ok((num * mult) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(ram_in_bytes("512m").unwrap(), 512 << 20);
        assert_eq!(ram_in_bytes("1G").unwrap(), 1 << 30);
        assert_eq!(ram_in_bytes("100").unwrap(), 100);
        assert_eq!(ram_in_bytes("-1").unwrap(), -1);
        assert!(ram_in_bytes("12q").is_err());
    }

    #[test]
    fn flags_become_resources() {
        let a = Args {
            memory: Some("64m".into()),
            pids_limit: Some(10),
            cpu_quota: Some(50000),
            ..Default::default()
        };
        let r = resources(&a).unwrap();
        assert_eq!(r.memory().as_ref().unwrap().limit(), Some(64 << 20));
        assert_eq!(r.pids().as_ref().unwrap().limit(), 10);
        assert_eq!(r.cpu().as_ref().unwrap().quota(), Some(50000));
    }
}
