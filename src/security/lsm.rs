//! AppArmor profiles and SELinux labels for the container's process. They take effect at
//! `execve`. When the host lacks the LSM, asking for a label is a clear error, never a
//! silent no-op.

use std::path::Path;

use anyhow::{bail, Result};

use super::procfs::ProcFs;

pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}

pub fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// Checks, before anything is created, that requested labels can be applied here.
pub fn check_available(apparmor: Option<&str>, selinux: Option<&str>) -> Result<()> {
    if apparmor.is_some_and(|p| !p.is_empty()) && !apparmor_enabled() {
        bail!("process.apparmorProfile: AppArmor is not enabled on this host");
    }
    if selinux.is_some_and(|l| !l.is_empty()) && !selinux_enabled() {
        bail!("process.selinuxLabel: SELinux is not enabled on this host");
    }
    Ok(())
}

/// Arranges for the next `execve` to enter the AppArmor profile and SELinux label.
pub fn set_exec_labels(proc: &ProcFs, apparmor: Option<&str>, selinux: Option<&str>) -> Result<()> {
    check_available(apparmor, selinux)?;
    if let Some(profile) = apparmor.filter(|p| !p.is_empty()) {
        let rel = if proc.exists("self/attr/apparmor/exec") {
            "self/attr/apparmor/exec"
        } else {
            "self/attr/exec"
        };
        proc.write(rel, &format!("exec {profile}"))?;
    }
    if let Some(label) = selinux.filter(|l| !l.is_empty()) {
        proc.write("self/attr/exec", label)?;
    }
    Ok(())
}
