//! memory: limit, reservation, swap (memory+swap in the spec; v2 wants swap alone),
//! swappiness, OOM killer, hierarchy, kernel limits (gone from current kernels: warned about).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use cgroups_rs::fs::memory::MemController;
use oci_spec::runtime::LinuxMemory;

use super::{crate_call, set, Target, When};
use crate::cgroups::fsio;
use crate::logging::warning;

pub fn validate(m: &LinuxMemory, at: &str) -> Result<()> {
    for (name, v) in [
        ("limit", m.limit()),
        ("reservation", m.reservation()),
        ("swap", m.swap()),
        ("kernel", m.kernel()),
        ("kernelTCP", m.kernel_tcp()),
    ] {
        if let Some(v) = v.filter(|v| *v < -1) {
            bail!("{at}.{name}: {v} is not a byte count (or -1 for unlimited)");
        }
    }
    if let (Some(l), Some(s)) = (m.limit(), m.swap()) {
        if l > 0 && s > 0 && s < l {
            bail!("{at}.swap: {s} is less than memory.limit {l} (swap is the memory+swap limit)");
        }
    }
    if let Some(s) = m.swappiness().filter(|s| *s > 100) {
        bail!("{at}.swappiness: {s} is out of range (0-100)");
    }
    Ok(())
}

pub fn apply(t: &Target, m: &LinuxMemory, at: &str, when: When) -> Result<()> {
    let touches = m.limit().is_some()
        || m.swap().is_some()
        || m.reservation().is_some()
        || m.swappiness().is_some()
        || m.disable_oom_killer() == Some(true)
        || m.use_hierarchy().is_some()
        || m.kernel().is_some()
        || m.kernel_tcp().is_some();
    if !touches {
        return Ok(());
    }
    let dir = t.need("memory", at)?;
    let v2 = t.is_v2();
    let c = MemController::new(dir.to_path_buf(), PathBuf::new(), v2);
    if when == When::Update && m.check_before_update() == Some(true) {
        check_usage(dir, m, v2, at)?;
    }
    if v2 {
        apply_v2(dir, &c, m, at)
    } else {
        apply_v1(dir, &c, m, at)
    }
}

/// `checkBeforeUpdate`: refuse a limit below what the container already uses.
fn check_usage(dir: &Path, m: &LinuxMemory, v2: bool, at: &str) -> Result<()> {
    let Some(limit) = m.limit().filter(|l| *l > 0) else {
        return Ok(());
    };
    let usage = fsio::read_u64(
        dir,
        if v2 {
            "memory.current"
        } else {
            "memory.usage_in_bytes"
        },
    )?;
    if usage > limit as u64 {
        bail!("{at}.limit: {limit} is below the current usage {usage} (checkBeforeUpdate)");
    }
    Ok(())
}

fn apply_v1(dir: &Path, c: &MemController, m: &LinuxMemory, at: &str) -> Result<()> {
    let limit = m.limit().unwrap_or(0);
    let mut swap = m.swap().unwrap_or(0);
    // Unlimited memory without a swap value means unlimited swap too (as runc).
    if limit == -1 && swap == 0 && dir.join("memory.memsw.limit_in_bytes").exists() {
        swap = -1;
    }
    if swap != 0 && !dir.join("memory.memsw.limit_in_bytes").exists() {
        bail!("{at}.swap: this kernel does not account swap (no memory.memsw.limit_in_bytes)");
    }
    // memsw must stay >= limit at every step: raise memsw first when it grows.
    let current = fsio::read_u64(dir, "memory.limit_in_bytes").unwrap_or(u64::MAX);
    let swap_first = swap != 0 && (swap == -1 || (current as i128) < swap as i128);
    if swap_first {
        crate_call(c.set_memswap_limit(swap), &format!("{at}.swap"))?;
    }
    if limit != 0 {
        crate_call(c.set_limit(limit), &format!("{at}.limit"))?;
    }
    if swap != 0 && !swap_first {
        crate_call(c.set_memswap_limit(swap), &format!("{at}.swap"))?;
    }
    if let Some(r) = m.reservation() {
        crate_call(c.set_soft_limit(r), &format!("{at}.reservation"))?;
    }
    if let Some(k) = m.kernel() {
        kernel_limit(
            dir,
            "memory.kmem.limit_in_bytes",
            k,
            &format!("{at}.kernel"),
        )?;
    }
    if let Some(k) = m.kernel_tcp() {
        kernel_limit(
            dir,
            "memory.kmem.tcp.limit_in_bytes",
            k,
            &format!("{at}.kernelTCP"),
        )?;
    }
    if let Some(s) = m.swappiness() {
        crate_call(c.set_swappiness(s), &format!("{at}.swappiness"))?;
    }
    if m.disable_oom_killer() == Some(true) {
        crate_call(c.disable_oom_killer(), &format!("{at}.disableOOMKiller"))?;
    }
    if let Some(h) = m.use_hierarchy() {
        let f = "memory.use_hierarchy";
        // Kernels since 5.x are always hierarchical and refuse 0.
        if fsio::read(dir, f).is_ok_and(|v| v.trim() != u8::from(h).to_string()) {
            set(dir, f, u8::from(h), &format!("{at}.useHierarchy"))?;
        }
    }
    Ok(())
}

/// Kernel memory limits were dropped from the kernel (kmem in 5.16, tcp on v2): accepted
/// and ignored with a warning where the file is gone or refuses, as runc does.
fn kernel_limit(dir: &Path, file: &str, v: i64, field: &str) -> Result<()> {
    if !dir.join(file).exists() {
        warning(&format!("{field}: ignored: this kernel has no {file}"));
        return Ok(());
    }
    match std::fs::write(dir.join(file), v.to_string()) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {
            warning(&format!(
                "{field}: ignored: the kernel no longer supports {file}"
            ));
            Ok(())
        }
        Err(e) => Err(e).map_err(|e| anyhow::anyhow!("{field}: write {v} to {file}: {e}")),
    }
}

/// cgroup v2's swap limit (swap alone) from the spec's memory+swap `swap` and `limit`
/// (0 for "not given", -1 for unlimited); 0: leave it as it is.
pub fn v2_swap(m: &LinuxMemory, at: &str) -> Result<i64> {
    let limit = m.limit().unwrap_or(0);
    let total = m.swap().unwrap_or(0);
    Ok(match (total, limit) {
        (0, -1) => -1,
        (0, _) | (-1, _) => total,
        (_, -1) => total,
        (_, 0) => bail!("{at}.swap: needs memory.limit on cgroup v2 (swap alone is limit+swap)"),
        (t, l) => t - l,
    })
}

fn apply_v2(dir: &Path, c: &MemController, m: &LinuxMemory, at: &str) -> Result<()> {
    let limit = m.limit().unwrap_or(0);
    let swap = v2_swap(m, at)?;
    if swap != 0 {
        if !dir.join("memory.swap.max").exists() {
            bail!("{at}.swap: this kernel does not account swap (no memory.swap.max)");
        }
        crate_call(c.set_memswap_limit(swap), &format!("{at}.swap"))?;
    }
    if limit != 0 {
        crate_call(c.set_limit(limit), &format!("{at}.limit"))?;
    }
    if let Some(r) = m.reservation() {
        crate_call(c.set_soft_limit(r), &format!("{at}.reservation"))?;
    }
    for (set, name) in [
        (m.kernel().is_some(), "kernel"),
        (m.kernel_tcp().is_some(), "kernelTCP"),
        (m.swappiness().is_some(), "swappiness"),
        (m.disable_oom_killer() == Some(true), "disableOOMKiller"),
        (m.use_hierarchy() == Some(false), "useHierarchy"),
    ] {
        if set {
            warning(&format!(
                "{at}.{name}: ignored: cgroup v2 has no such setting"
            ));
        }
    }
    Ok(())
}
