//! Pure cgroup v2 hosts: one directory, with the controllers delegated down to it.

use std::os::fd::OwnedFd;
use std::path::Path;

use anyhow::Result;

use super::host::ROOT;
use super::{fsio, Record};

/// Makes the directory and enables every available controller on the way down to it;
/// returns the directory to clone the init into.
pub fn create(rec: &mut Record, leaf: &Path) -> Result<OwnedFd> {
    if let Some(top) = fsio::mkdir_all(leaf)? {
        rec.made.push(top);
    }
    enable_controllers(leaf)?;
    super::open_dir(leaf)
}

/// Each ancestor's cgroup.subtree_control must list a controller for its child to have it.
/// Only missing ones are written, so a second container under the same parent costs reads.
fn enable_controllers(leaf: &Path) -> Result<()> {
    let mut chain: Vec<&Path> = leaf
        .ancestors()
        .skip(1)
        .take_while(|p| p.starts_with(ROOT))
        .collect();
    chain.reverse();
    for dir in chain {
        let available = fsio::read(dir, "cgroup.controllers")?;
        let enabled = fsio::read(dir, "cgroup.subtree_control")?;
        let missing: Vec<String> = available
            .split_whitespace()
            .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
            .map(|c| format!("+{c}"))
            .collect();
        if missing.is_empty() {
            continue;
        }
        if fsio::write(dir, "cgroup.subtree_control", &missing.join(" ")).is_err() {
            // One at a time, so one refusal (e.g. a threaded subtree) costs only itself.
            for m in &missing {
                let _ = fsio::write(dir, "cgroup.subtree_control", m);
            }
        }
    }
    Ok(())
}

/// SIGKILL everything below the cgroup in one write (Linux 5.14+).
pub fn kill_all(dir: &Path) -> Result<bool> {
    if !dir.join("cgroup.kill").exists() {
        return Ok(false);
    }
    match fsio::write(dir, "cgroup.kill", "1") {
        // Removed meanwhile (systemd removes an emptied scope's cgroup): nothing to kill.
        Err(_) if !dir.exists() => Ok(false),
        r => r.map(|()| true),
    }
}
