//! blockIO: weights (v1 blkio.weight or BFQ's; v2 io.bfq.weight or io.weight), leaf weights
//! (v1 only), and per-device throttles (v1 blkio.throttle.*, v2 io.max).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use cgroups_rs::fs::blkio::BlkIoController;
use oci_spec::runtime::LinuxBlockIo;

use super::{crate_call, set, Target};
use crate::logging::warning;

pub fn validate(b: &LinuxBlockIo, at: &str) -> Result<()> {
    let ok = |w: u16| (10..=1000).contains(&w) || w == 0;
    if let Some(w) = b.weight().filter(|w| !ok(*w)) {
        bail!("{at}.weight: {w} is out of range (10-1000)");
    }
    if let Some(w) = b.leaf_weight().filter(|w| !ok(*w)) {
        bail!("{at}.leafWeight: {w} is out of range (10-1000)");
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        if let Some(w) = d.weight().filter(|w| !ok(*w)) {
            bail!("{at}.weightDevice[{i}].weight: {w} is out of range (10-1000)");
        }
    }
    Ok(())
}

/// The weight file this kernel has, in preference order, with the v2 io.weight scale.
fn weight_file(dir: &Path, v2: bool) -> Option<(&'static str, bool)> {
    let candidates: &[(&str, bool)] = if v2 {
        &[("io.bfq.weight", false), ("io.weight", true)]
    } else {
        &[("blkio.weight", false), ("blkio.bfq.weight", false)]
    };
    candidates
        .iter()
        .copied()
        .find(|(f, _)| dir.join(f).exists())
}

/// blkio weights (10-1000) on io.weight's scale (1-10000).
fn io_weight(w: u16) -> u64 {
    1 + (u64::from(w).saturating_sub(10) * 9999) / 990
}

pub fn apply(t: &Target, b: &LinuxBlockIo, at: &str) -> Result<()> {
    let v2 = t.is_v2();
    let need_dir = b.weight().is_some()
        || b.leaf_weight().is_some()
        || b.weight_device().is_some()
        || b.throttle_read_bps_device().is_some()
        || b.throttle_write_bps_device().is_some()
        || b.throttle_read_iops_device().is_some()
        || b.throttle_write_iops_device().is_some();
    if !need_dir {
        return Ok(());
    }
    let dir = t.need(if v2 { "io" } else { "blkio" }, at)?;
    let weights = b.weight().is_some_and(|w| w != 0)
        || b.weight_device()
            .iter()
            .flatten()
            .any(|d| d.weight().is_some());
    let wf = weight_file(dir, v2);
    if weights && wf.is_none() {
        bail!("{at}.weight: this kernel has no proportional I/O weight files (needs the BFQ scheduler or io.cost)");
    }
    if let (Some(w), Some((file, scaled))) = (b.weight().filter(|w| *w != 0), wf) {
        let v = if scaled { io_weight(w) } else { u64::from(w) };
        set(dir, file, v, &format!("{at}.weight"))?;
    }
    if let Some(w) = b.leaf_weight() {
        if v2 {
            warning(&format!(
                "{at}.leafWeight: ignored: cgroup v2 has no leaf weights"
            ));
        } else {
            set(dir, "blkio.leaf_weight", w, &format!("{at}.leafWeight"))?;
        }
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let field = format!("{at}.weightDevice[{i}]");
        if let (Some(w), Some((file, scaled))) = (d.weight(), wf) {
            let v = if scaled { io_weight(w) } else { u64::from(w) };
            let file = if v2 { file } else { file_device(file) };
            set(
                dir,
                file,
                format!("{}:{} {v}", d.major(), d.minor()),
                &field,
            )?;
        }
        if let Some(w) = d.leaf_weight() {
            if v2 {
                warning(&format!(
                    "{field}.leafWeight: ignored: cgroup v2 has no leaf weights"
                ));
            } else {
                let v = format!("{}:{} {w}", d.major(), d.minor());
                set(dir, "blkio.leaf_weight_device", v, &field)?;
            }
        }
    }
    let c = BlkIoController::new(dir.to_path_buf(), PathBuf::new(), v2);
    type Throttle = fn(&BlkIoController, u64, u64, u64) -> cgroups_rs::fs::error::Result<()>;
    let throttles: [(_, &str, Throttle); 4] = [
        (
            b.throttle_read_bps_device(),
            "throttleReadBpsDevice",
            BlkIoController::throttle_read_bps_for_device,
        ),
        (
            b.throttle_write_bps_device(),
            "throttleWriteBpsDevice",
            BlkIoController::throttle_write_bps_for_device,
        ),
        (
            b.throttle_read_iops_device(),
            "throttleReadIOPSDevice",
            BlkIoController::throttle_read_iops_for_device,
        ),
        (
            b.throttle_write_iops_device(),
            "throttleWriteIOPSDevice",
            BlkIoController::throttle_write_iops_for_device,
        ),
    ];
    for (devs, name, f) in throttles {
        for (i, d) in devs.iter().flatten().enumerate() {
            let (major, minor) = (d.major() as u64, d.minor() as u64);
            crate_call(f(&c, major, minor, d.rate()), &format!("{at}.{name}[{i}]"))?;
        }
    }
    Ok(())
}

fn file_device(weight_file: &str) -> &'static str {
    if weight_file == "blkio.bfq.weight" {
        "blkio.bfq.weight_device"
    } else {
        "blkio.weight_device"
    }
}
