//! The five capability sets of `process.capabilities`.

use std::collections::HashSet;

use anyhow::{Context, Result};
use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::{Capabilities, LinuxCapabilities};

/// Capabilities this kernel knows (from cap_last_cap: one read, where probing each cap would
/// cost a system call apiece).
fn supported() -> CapsHashSet {
    caps::runtime::procfs_all_supported(None)
        .unwrap_or_else(|_| caps::runtime::thread_all_supported())
}

/// Converts an OCI capability list to the caps crate's set. Capabilities this kernel does not
/// know are left out with a warning, as runc does, so a newer config still runs.
pub fn to_caps(list: Option<&Capabilities>, supported: &CapsHashSet) -> CapsHashSet {
    let mut out = HashSet::new();
    for c in list.into_iter().flatten() {
        let name = serde_json::to_value(c)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        match name.parse::<Capability>() {
            Ok(cap) if supported.contains(&cap) => {
                out.insert(cap);
            }
            _ => crate::logging::warning(&format!(
                "capability {name} is not supported by this kernel; ignored"
            )),
        }
    }
    out
}

/// Drops from the bounding set everything not listed. Needs CAP_SETPCAP, so it runs
/// before the user change.
pub fn drop_bounding(c: &LinuxCapabilities) -> Result<()> {
    let all = supported();
    let keep = to_caps(c.bounding().as_ref(), &all);
    for cap in all.difference(&keep) {
        // SAFETY: plain prctl with integer arguments (the caps crate would read the set first,
        // one more system call per capability).
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap.index() as libc::c_ulong, 0, 0, 0) } != 0
        {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("drop {cap} from the bounding set"));
        }
    }
    Ok(())
}

/// Sets permitted, effective, inheritable and ambient, after the user change.
pub fn apply(c: &LinuxCapabilities) -> Result<()> {
    let all = supported();
    let permitted = to_caps(c.permitted().as_ref(), &all);
    let effective = to_caps(c.effective().as_ref(), &all);
    let inheritable = to_caps(c.inheritable().as_ref(), &all);
    // Each call rewrites all three sets, and every intermediate state must be valid:
    // inheritable while we still hold everything, then shrink effective below the new
    // permitted set, then permitted.
    caps::set(None, CapSet::Inheritable, &inheritable).context("set inheritable capabilities")?;
    let eff_now: CapsHashSet = effective.intersection(&permitted).copied().collect();
    caps::set(None, CapSet::Effective, &eff_now).context("set effective capabilities")?;
    caps::set(None, CapSet::Permitted, &permitted).context("set permitted capabilities")?;
    if eff_now != effective {
        caps::set(None, CapSet::Effective, &effective).context("set effective capabilities")?;
    }
    caps::clear(None, CapSet::Ambient).context("clear ambient capabilities")?;
    for cap in to_caps(c.ambient().as_ref(), &all) {
        // The kernel only allows ambient caps that are permitted and inheritable; runc
        // skips the others silently, so do we.
        if permitted.contains(&cap) && inheritable.contains(&cap) {
            caps::raise(None, CapSet::Ambient, cap)
                .with_context(|| format!("raise ambient {cap}"))?;
        }
    }
    Ok(())
}
