//! cgroup v1 (and hybrid) hosts: one directory per hierarchy, plus the container's cgroup
//! in the hybrid host's cgroup2 mount, which carries no controllers but is where processes
//! are born (CLONE_INTO_CGROUP), as runc joins it too.

use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, Result};

use super::{fsio, Record, V1Dir};

/// Makes every directory; returns the cgroup2 directory to clone into, on hybrid hosts.
pub fn create(rec: &mut Record) -> Result<Option<OwnedFd>> {
    for d in &rec.v1 {
        let top = fsio::mkdir_all(&d.dir)?;
        if let Some(top) = top {
            rec.made.push(top.clone());
            if d.options.split(',').any(|c| c == "cpuset") {
                init_cpuset(&top, &d.dir)?;
            }
        }
    }
    let Some(u) = &rec.unified else {
        return Ok(None);
    };
    if let Some(top) = fsio::mkdir_all(u)? {
        rec.made.push(top);
    }
    super::open_dir(u).map(Some)
}

/// A new v1 cpuset cgroup has no cpus and no mems, and no process can join it: copy them
/// down from the parent into each level that was just made.
fn init_cpuset(top: &Path, leaf: &Path) -> Result<()> {
    let mut levels: Vec<&Path> = leaf
        .ancestors()
        .take_while(|p| p.starts_with(top))
        .collect();
    levels.reverse();
    for dir in levels {
        let parent = dir.parent().context("cpuset cgroup without parent")?;
        for f in ["cpuset.cpus", "cpuset.mems"] {
            if fsio::read(dir, f)?.trim().is_empty() {
                fsio::write(dir, f, fsio::read(parent, f)?.trim())?;
            }
        }
    }
    Ok(())
}

/// The `tasks` file of each hierarchy, opened for the container's process to move itself.
pub fn open_tasks_files(rec: &Record) -> Result<Vec<OwnedFd>> {
    rec.v1
        .iter()
        .map(|d| {
            let p = d.dir.join("tasks");
            std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_CLOEXEC)
                .open(&p)
                .map(OwnedFd::from)
                .with_context(|| format!("open {}", p.display()))
        })
        .collect()
}

/// The hierarchy whose process list stands for the container (runc uses devices).
pub fn main_dir(rec: &Record) -> Option<&V1Dir> {
    ["devices", "memory", "pids", "freezer", "cpu"]
        .iter()
        .find_map(|c| {
            rec.v1
                .iter()
                .find(|d| d.options.split(',').any(|o| o == *c))
        })
        .or(rec.v1.first())
}

pub fn freezer_dir(rec: &Record) -> Option<&Path> {
    rec.v1
        .iter()
        .find(|d| d.options.split(',').any(|o| o == "freezer"))
        .map(|d| d.dir.as_path())
}
