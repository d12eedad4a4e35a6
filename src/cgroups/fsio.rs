//! Reading and writing cgroup files, with errors that name the file and the value, and the
//! directory work every hierarchy shares: making a cgroup, listing its processes, removing it.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};

/// Writes `value` to `dir/file` (one write, as the kernel wants it).
pub fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    std::fs::write(dir.join(file), value)
        .with_context(|| format!("write {value:?} to {}", dir.join(file).display()))
}

pub fn read(dir: &Path, file: &str) -> Result<String> {
    std::fs::read_to_string(dir.join(file))
        .with_context(|| format!("read {}", dir.join(file).display()))
}

pub fn read_u64(dir: &Path, file: &str) -> Result<u64> {
    let s = read(dir, file)?;
    let t = s.trim();
    if t == "max" {
        return Ok(u64::MAX);
    }
    t.parse()
        .with_context(|| format!("{}: not a number: {t:?}", dir.join(file).display()))
}

/// The value of `key` in a flat-keyed file (`key value` lines, e.g. memory.events).
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// Turns a cgroups-rs error into one that says what failed and why (its Display shows the
/// OS error in Debug form).
pub fn crate_err(e: cgroups_rs::fs::error::Error) -> anyhow::Error {
    match std::error::Error::source(&e) {
        Some(cause) => anyhow!("{}: {cause}", e.kind()),
        None => anyhow!("{}", e.kind()),
    }
}

/// Makes `dir` and any missing parents; returns the topmost directory that was created
/// (None when `dir` already existed), so that removal can stop there.
pub fn mkdir_all(dir: &Path) -> Result<Option<PathBuf>> {
    match std::fs::create_dir(dir) {
        Ok(()) => return Ok(Some(dir.to_path_buf())),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(None),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("mkdir {}", dir.display())),
    }
    let parent = dir
        .parent()
        .with_context(|| format!("mkdir {}: no parent", dir.display()))?;
    let top = mkdir_all(parent)?;
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(Some(top.unwrap_or_else(|| dir.to_path_buf()))),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(top),
        Err(e) => Err(e).with_context(|| format!("mkdir {}", dir.display())),
    }
}

/// Pids in `dir/cgroup.procs` and, with `recursive`, in every cgroup below it.
pub fn procs(dir: &Path, recursive: bool) -> Result<Vec<i32>> {
    let mut out = Vec::new();
    collect_procs(dir, recursive, &mut out)?;
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn collect_procs(dir: &Path, recursive: bool, out: &mut Vec<i32>) -> Result<()> {
    let text = match std::fs::read_to_string(dir.join("cgroup.procs")) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("read {}/cgroup.procs", dir.display())),
    };
    out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    if recursive {
        for sub in subdirs(dir) {
            collect_procs(&sub, true, out)?;
        }
    }
    Ok(())
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// Removes the cgroup `leaf` with its sub-cgroups (deepest first), then its ancestors up to
/// and including `top` when they are empty. A cgroup whose last process just exited can stay
/// busy for a moment, so removal is retried for up to a second, as runc does.
pub fn remove(leaf: &Path, top: Option<&Path>) -> Result<()> {
    if !leaf.exists() {
        return Ok(());
    }
    remove_tree(leaf)?;
    if let Some(top) = top.filter(|t| leaf.starts_with(t)) {
        let mut p = leaf.parent();
        while let Some(dir) = p.filter(|d| d.starts_with(top)) {
            // A sibling made by someone else keeps the ancestor: that is fine.
            if std::fs::remove_dir(dir).is_err() {
                break;
            }
            p = dir.parent();
        }
    }
    Ok(())
}

fn remove_tree(dir: &Path) -> Result<()> {
    for sub in subdirs(dir) {
        remove_tree(&sub)?;
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut delay = Duration::from_millis(1);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(50));
            }
            Err(e) => return Err(e).with_context(|| format!("remove cgroup {}", dir.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_finds_values() {
        let t = "low 0\nhigh 3\nmax 12\noom 1\noom_kill 2\n";
        assert_eq!(keyed(t, "oom_kill"), Some(2));
        assert_eq!(keyed(t, "oom"), Some(1));
        assert_eq!(keyed(t, "nope"), None);
    }

    #[test]
    fn mkdir_all_reports_the_top_it_made_and_remove_stops_there() {
        let t = tempfile::tempdir().unwrap();
        let leaf = t.path().join("a/b/c");
        assert_eq!(mkdir_all(&leaf).unwrap(), Some(t.path().join("a")));
        assert_eq!(mkdir_all(&leaf).unwrap(), None);
        std::fs::create_dir(leaf.join("sub")).unwrap();
        remove(&leaf, Some(&t.path().join("a"))).unwrap();
        assert!(!t.path().join("a").exists());
        assert!(t.path().exists());
    }
}
