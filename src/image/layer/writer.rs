//! Small regular files are written by a few worker threads while the main thread reads the
//! tar on: creating an inode costs far more than copying a few kilobytes, and the kernel
//! does that work in parallel. The applier keeps order where it matters: it waits for the
//! workers (a barrier) before anything that removes, links or replaces a path they might
//! still be writing, and at the end of every layer.

use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use anyhow::{anyhow, Context, Result};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::entry::fset_xattr;
use crate::image::fsops;

/// Files up to this size go to the workers (more would only hold memory).
pub const MAX_PARALLEL_FILE: u64 = 256 * 1024;
/// Writer threads; `XRUN_IMAGE_WRITERS` overrides (1 to 64).
fn workers() -> usize {
    std::env::var("XRUN_IMAGE_WRITERS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| (1..=64).contains(n))
        .unwrap_or(4)
}
/// Jobs queued per worker: with MAX_PARALLEL_FILE, at most 16 MiB held per worker.
const QUEUE: usize = 64;

/// One file to make: its parent directory (resolved inside the root), name, contents and
/// metadata, all decided by the main thread (`owner` is `None` when no chown is needed).
pub struct FileJob {
    pub dir: Arc<OwnedFd>,
    pub name: OsString,
    pub rel: PathBuf,
    pub data: Vec<u8>,
    pub mode: u32,
    pub owner: Option<(u32, u32)>,
    pub xattrs: Vec<(String, Vec<u8>)>,
    pub mtime: (i64, i64),
}

#[derive(Default)]
struct Shared {
    inflight: Mutex<usize>,
    idle: Condvar,
    errors: Mutex<Vec<anyhow::Error>>,
    skipped_xattrs: AtomicU64,
}

pub struct Writers {
    /// One queue per worker: all files of a directory go to the same worker, since
    /// creating entries in one directory is serialized by the kernel anyway (and threads
    /// contending for it only burn CPU).
    txs: Vec<SyncSender<FileJob>>,
    threads: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl Writers {
    pub fn new() -> Writers {
        let shared = Arc::new(Shared::default());
        let mut txs = Vec::new();
        let mut threads = Vec::new();
        for _ in 0..workers() {
            let (tx, rx) = sync_channel::<FileJob>(QUEUE);
            let shared = shared.clone();
            txs.push(tx);
            threads.push(std::thread::spawn(move || work(&rx, &shared)));
        }
        Writers {
            txs,
            threads,
            shared,
        }
    }

    pub fn submit(&self, job: FileJob) {
        *self.shared.inflight.lock().unwrap() += 1;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&job.rel.parent(), &mut h);
        let i = std::hash::Hasher::finish(&h) as usize % self.txs.len();
        // The workers only stop when the senders are dropped.
        let _ = self.txs[i].send(job);
    }

    /// Waits until every submitted file is written; returns the xattrs skipped meanwhile,
    /// or the first error.
    pub fn wait(&self) -> Result<u64> {
        let mut n = self.shared.inflight.lock().unwrap();
        while *n > 0 {
            n = self.shared.idle.wait(n).unwrap();
        }
        drop(n);
        let mut errors = self.shared.errors.lock().unwrap();
        if !errors.is_empty() {
            let first = errors.remove(0);
            errors.clear();
            return Err(first);
        }
        Ok(self.shared.skipped_xattrs.swap(0, Ordering::Relaxed))
    }
}

impl Drop for Writers {
    fn drop(&mut self) {
        self.txs.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn work(rx: &Receiver<FileJob>, shared: &Shared) {
    loop {
        let job = match rx.recv() {
            Ok(j) => j,
            Err(_) => return,
        };
        if let Err(e) = write(&job, shared) {
            let e = e.context(format!("entry {:?}", job.rel.display().to_string()));
            shared.errors.lock().unwrap().push(e);
        }
        let mut n = shared.inflight.lock().unwrap();
        *n -= 1;
        if *n == 0 {
            shared.idle.notify_all();
        }
    }
}

fn write(job: &FileJob, shared: &Shared) -> Result<()> {
    let flags =
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mode = Mode::from_bits_truncate(job.mode & 0o777);
    let fd = match nix::fcntl::openat(&*job.dir, job.name.as_os_str(), flags, mode) {
        Err(Errno::EEXIST) => {
            fsops::remove_all_at(&*job.dir, &job.name)?;
            nix::fcntl::openat(&*job.dir, job.name.as_os_str(), flags, mode)
        }
        other => other,
    }
    .context("create file")?;
    let mut f = File::from(fd);
    f.write_all(&job.data).context("write file")?;
    if let Some((u, g)) = job.owner {
        nix::unistd::fchown(
            f.as_fd(),
            Some(nix::unistd::Uid::from_raw(u)),
            Some(nix::unistd::Gid::from_raw(g)),
        )
        .context("chown")?;
    }
    // Created under umask 0 with its permission bits; setuid/setgid/sticky need a chmod,
    // after the chown (which clears them).
    if job.mode & 0o7000 != 0 {
        nix::sys::stat::fchmod(&f, Mode::from_bits_retain(job.mode & 0o7777)).context("chmod")?;
    }
    for (k, v) in &job.xattrs {
        match fset_xattr(&f, k, v) {
            Ok(()) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTSUP) | Some(libc::EPERM)) => {
                shared.skipped_xattrs.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => return Err(anyhow!(e)).with_context(|| format!("set xattr {k}")),
        }
    }
    let ts = nix::sys::time::TimeSpec::new(job.mtime.0, job.mtime.1);
    nix::sys::stat::futimens(&f, &ts, &ts).context("set times")?;
    Ok(())
}
