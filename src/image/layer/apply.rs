//! Applies a layer tar onto a directory, entry by entry as the tar streams past.
//!
//! Every entry is created with `*at(parent_fd, name)` where the parent was resolved inside
//! the root (see `fsops`), exclusively (`O_EXCL`/`mknodat`/`symlinkat` fail on an existing
//! name, which is then removed and the call retried) and without following a symlink. Owners,
//! modes, xattrs and times are set through the new object's descriptor or with
//! `AT_SYMLINK_NOFOLLOW`. Directory times are set when the layer ends, after their children.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{Mode, SFlag};

use super::entry::{self, check_symlink, copy, device, fset_xattr, Meta};
use super::split::Split;
use super::writer::{FileJob, Writers, MAX_PARALLEL_FILE};
use super::{whiteout, OPAQUE_MARKER, WHITEOUT_PREFIX};
use crate::image::fsops::{self, Root};
use crate::image::idmap::IdMap;

/// What the target directory holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerMode {
    /// All layers, one after another: whiteouts delete from the layers below.
    Flatten,
    /// One layer alone, for an overlayfs lowerdir: whiteouts become 0/0 character devices
    /// and opaque directories get `trusted.overlay.opaque=y`.
    Diff,
}

pub struct ApplyOptions {
    pub mode: LayerMode,
    pub ids: IdMap,
    /// Diff mode: directories of the layers below, topmost first (a hardlink may name a
    /// file of a lower layer; it is copied up).
    pub lowers: Vec<PathBuf>,
}

/// What was done, for the summary line.
#[derive(Default, Debug, Clone)]
pub struct Stats {
    pub entries: u64,
    pub files: u64,
    pub bytes: u64,
    pub whiteouts: u64,
    /// Device nodes an unprivileged unpack cannot make.
    pub skipped_devices: u64,
    /// Extended attributes refused by the file system or not ours to set.
    pub skipped_xattrs: u64,
    /// Owners outside the id map, given to the container's root instead.
    pub folded_owners: u64,
}

/// Per-layer bookkeeping.
#[derive(Default)]
pub(super) struct LayerState {
    /// Paths this layer made (flatten mode): its own whiteouts must not remove them.
    pub unpacked: HashSet<PathBuf>,
    dir_times: Vec<(PathBuf, (i64, i64))>,
}

/// Applies layers, one [`Applier::apply`] call per layer, onto one root.
pub struct Applier {
    pub(super) root: Root,
    pub(super) opts: ApplyOptions,
    pub stats: Stats,
    privileged: bool,
    /// Unprivileged unpacks keep directories writable until the end; their real modes.
    deferred_modes: Vec<(PathBuf, u32)>,
    buf: Vec<u8>,
    /// Worker threads for small files, and the paths they may still be writing.
    writers: Option<Writers>,
    pending: HashSet<PathBuf>,
    /// Whether the last parent directory is setgid (new files then take its group).
    parent_setgid: Option<(PathBuf, bool)>,
    euid_egid: (u32, u32),
    old_umask: Mode,
}

impl Drop for Applier {
    fn drop(&mut self) {
        nix::sys::stat::umask(self.old_umask);
    }
}

impl Applier {
    pub fn new(root: Root, opts: ApplyOptions) -> Applier {
        // Files are created with their final permission bits, so most need no chmod.
        let old_umask = nix::sys::stat::umask(Mode::empty());
        Applier {
            root,
            opts,
            stats: Stats::default(),
            privileged: nix::unistd::geteuid().is_root(),
            deferred_modes: Vec::new(),
            buf: vec![0; 256 * 1024],
            writers: None,
            pending: HashSet::new(),
            parent_setgid: None,
            euid_egid: (
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw(),
            ),
            old_umask,
        }
    }

    /// Applies one layer tar read from `reader`; `split` records it for a later rebuild.
    /// Returns the reader, positioned after the end-of-archive blocks.
    pub fn apply<R: Read>(&mut self, reader: R, split: Option<&Split>) -> Result<R> {
        let mut ar = tar::Archive::new(reader);
        let mut layer = LayerState::default();
        for e in ar.entries().context("read tar")? {
            let mut e = e.context("read tar")?;
            let raw = e.path_bytes().into_owned();
            self.entry(&mut e, &raw, &mut layer, split)
                .with_context(|| format!("entry {:?}", String::from_utf8_lossy(&raw)))?;
            self.stats.entries += 1;
        }
        self.barrier()?;
        for (rel, t) in layer.dir_times.iter().rev() {
            self.set_dir_time(rel, *t)?;
        }
        Ok(ar.into_inner())
    }

    /// Ends the unpack: restores the directory modes held back by an unprivileged unpack.
    pub fn finish(mut self) -> Result<Stats> {
        self.barrier()?;
        for (rel, mode) in std::mem::take(&mut self.deferred_modes).iter().rev() {
            let (p, n) = fsops::split(rel);
            if let Some(dir) = self.root.existing_dir(p)? {
                let n = if n.is_empty() { OsStr::new(".") } else { n };
                fsops::chmod_at(&dir, n, *mode)?;
            }
        }
        Ok(std::mem::take(&mut self.stats))
    }

    fn entry<R: Read>(
        &mut self,
        e: &mut tar::Entry<R>,
        raw: &[u8],
        layer: &mut LayerState,
        split: Option<&Split>,
    ) -> Result<()> {
        use tar::EntryType as T;
        let kind = e.header().entry_type();
        if matches!(
            kind,
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink
        ) {
            return Ok(());
        }
        let Some(rel) = fsops::clean_path(raw)? else {
            return self.root_entry(e, kind, layer);
        };
        let (parent, name) = fsops::split(&rel);
        // A worker may still be writing this very path: let it finish first.
        if self.pending.contains(&rel) {
            self.barrier()?;
        }
        if let Some(orig) = name.as_bytes().strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
            self.barrier()?;
            self.stats.whiteouts += 1;
            if name == OPAQUE_MARKER {
                return whiteout::opaque(self, parent, layer);
            }
            if orig.starts_with(WHITEOUT_PREFIX.as_bytes()) || orig.is_empty() {
                return Ok(()); // aufs bookkeeping (.wh..wh.plnk etc.): nothing to apply
            }
            return whiteout::whiteout(self, parent, OsStr::from_bytes(orig), layer);
        }
        let meta = entry::meta(e, &mut self.stats)?;
        let dir = self.root.dir(parent)?;
        match kind {
            T::Directory => self.make_dir(&dir, name, &rel, &meta, layer)?,
            T::Regular | T::Continuous => self.make_file(e, &dir, name, &rel, &meta, split)?,
            T::Symlink => {
                let target = e.link_name_bytes().context("symlink without a target")?;
                check_symlink(&rel, &target)?;
                self.create(&dir, name, |d, n| {
                    nix::unistd::symlinkat(OsStr::from_bytes(&target), d, n)
                })?;
                self.finish_at(&dir, name, &meta, false)?;
            }
            T::Link => {
                self.barrier()?;
                let target = e.link_name_bytes().context("hardlink without a target")?;
                self.make_hardlink(&dir, name, &target)?;
            }
            T::Char | T::Block | T::Fifo => {
                let (sflag, dev) = match kind {
                    T::Char => (SFlag::S_IFCHR, device(e)?),
                    T::Block => (SFlag::S_IFBLK, device(e)?),
                    _ => (SFlag::S_IFIFO, 0),
                };
                if sflag != SFlag::S_IFIFO && !self.privileged {
                    self.stats.skipped_devices += 1;
                    return Ok(());
                }
                let perm = Mode::from_bits_truncate(meta.mode & 0o777);
                self.create(&dir, name, |d, n| {
                    nix::sys::stat::mknodat(d, n, sflag, perm, dev)
                })?;
                self.finish_at(&dir, name, &meta, true)?;
            }
            other => bail!("unsupported tar entry type {other:?}"),
        }
        if self.opts.mode == LayerMode::Flatten {
            layer.unpacked.insert(rel);
        }
        Ok(())
    }

    /// `./` itself: only a directory may stand there; a symlink or file in place of the root
    /// would send every later entry wherever it points (CVE-2021-29136).
    fn root_entry<R: Read>(
        &mut self,
        e: &mut tar::Entry<R>,
        kind: tar::EntryType,
        layer: &mut LayerState,
    ) -> Result<()> {
        if kind != tar::EntryType::Directory {
            bail!("cannot replace the root directory with a {kind:?} entry");
        }
        let meta = entry::meta(e, &mut self.stats)?;
        let fd = self
            .root
            .open_file(Path::new("."), libc::O_RDONLY | libc::O_DIRECTORY)
            .context("open root")?;
        self.finish_fd(&fd, &meta, Path::new(""), true)?;
        layer.dir_times.push((PathBuf::new(), meta.mtime));
        Ok(())
    }

    fn make_dir(
        &mut self,
        dir: &OwnedFd,
        name: &OsStr,
        rel: &Path,
        meta: &Meta,
        layer: &mut LayerState,
    ) -> Result<()> {
        match nix::sys::stat::mkdirat(dir, name, Mode::from_bits_truncate(0o700)) {
            Ok(()) => {}
            Err(Errno::EEXIST) => {
                let st = fsops::lstat_at(dir, name)?;
                if st.is_some_and(|st| fsops::file_kind(&st) != SFlag::S_IFDIR) {
                    self.remove(dir, name)?;
                    nix::sys::stat::mkdirat(dir, name, Mode::from_bits_truncate(0o700))
                        .context("mkdir")?;
                }
            }
            Err(e) => return Err(e).context("mkdir"),
        }
        let fd = fsops::open_dir_at(dir, name).context("open directory")?;
        self.finish_fd(&fd, meta, rel, true)?;
        self.parent_setgid = None; // its mode may have just changed
        layer.dir_times.push((rel.to_path_buf(), meta.mtime));
        Ok(())
    }

    fn make_file<R: Read>(
        &mut self,
        e: &mut tar::Entry<R>,
        dir: &Arc<OwnedFd>,
        name: &OsStr,
        rel: &Path,
        meta: &Meta,
        split: Option<&Split>,
    ) -> Result<()> {
        if e.size() <= MAX_PARALLEL_FILE {
            return self.queue_file(e, dir, name, rel, meta, split);
        }
        let flags =
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let mode = Mode::from_bits_truncate(meta.mode & 0o777);
        let fd = match nix::fcntl::openat(dir, name, flags, mode) {
            Err(Errno::EEXIST) => {
                self.remove(dir, name)?;
                nix::fcntl::openat(dir, name, flags, mode)
            }
            other => other,
        }
        .context("create file")?;
        let mut f = File::from(fd);
        let n = Split::file(split, rel, || copy(e, &mut f, &mut self.buf)).context("write file")?;
        self.stats.files += 1;
        self.stats.bytes += n;
        self.finish_fd(&f, meta, rel, false)?;
        let ts = nix::sys::time::TimeSpec::new(meta.mtime.0, meta.mtime.1);
        nix::sys::stat::futimens(&f, &ts, &ts).context("set times")?;
        Ok(())
    }

    /// Reads a small file and hands it to the writer threads.
    fn queue_file<R: Read>(
        &mut self,
        e: &mut tar::Entry<R>,
        dir: &Arc<OwnedFd>,
        name: &OsStr,
        rel: &Path,
        meta: &Meta,
        split: Option<&Split>,
    ) -> Result<()> {
        let mut data = Vec::with_capacity(e.size() as usize);
        Split::file(split, rel, || e.read_to_end(&mut data)).context("read file")?;
        self.stats.files += 1;
        self.stats.bytes += data.len() as u64;
        // A new file already belongs to us, unless a setgid parent gives it its group.
        let parent = rel.parent().unwrap_or(Path::new(""));
        let setgid = match &self.parent_setgid {
            Some((p, s)) if p == parent => *s,
            _ => {
                let st = nix::sys::stat::fstat(&**dir).context("stat parent")?;
                let s = st.st_mode & libc::S_ISGID != 0;
                self.parent_setgid = Some((parent.to_path_buf(), s));
                s
            }
        };
        let owner = self.owner(meta).filter(|o| setgid || *o != self.euid_egid);
        let job = FileJob {
            dir: dir.clone(),
            name: name.to_os_string(),
            rel: rel.to_path_buf(),
            data,
            mode: meta.mode,
            owner,
            xattrs: meta.xattrs.clone(),
            mtime: meta.mtime,
        };
        self.writers.get_or_insert_with(Writers::new).submit(job);
        self.pending.insert(rel.to_path_buf());
        if self.pending.len() >= 4096 {
            self.barrier()?;
        }
        Ok(())
    }

    /// Waits for the writer threads; their first error is this layer's error.
    pub(super) fn barrier(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.pending.clear();
        if let Some(w) = &self.writers {
            self.stats.skipped_xattrs += w.wait()?;
        }
        Ok(())
    }

    fn make_hardlink(&mut self, dir: &OwnedFd, name: &OsStr, target: &[u8]) -> Result<()> {
        let target = fsops::clean_path(target)
            .and_then(|t| t.context("names the root"))
            .with_context(|| {
                format!(
                    "invalid hardlink target {:?}",
                    String::from_utf8_lossy(target)
                )
            })?;
        let (tp, tn) = fsops::split(&target);
        let link =
            |tdir: &OwnedFd| nix::unistd::linkat(tdir, tn, dir, name, nix::fcntl::AtFlags::empty());
        let tdir = self.root.existing_dir(tp)?;
        let res = match &tdir {
            Some(tdir) => match link(tdir) {
                Err(Errno::EEXIST) => {
                    self.remove(dir, name)?;
                    link(tdir)
                }
                other => other,
            },
            None => Err(Errno::ENOENT),
        };
        match res {
            Ok(()) => Ok(()),
            Err(Errno::ENOENT) if self.opts.mode == LayerMode::Diff => {
                whiteout::copy_up(self, &target, dir, name)
            }
            Err(Errno::ENOENT) => bail!("hardlink target {} does not exist", target.display()),
            Err(e) => Err(e).with_context(|| format!("hardlink to {}", target.display())),
        }
    }

    /// Runs `make(dir, name)`; when the name is taken, removes it and tries once more.
    fn create(
        &mut self,
        dir: &OwnedFd,
        name: &OsStr,
        make: impl Fn(&OwnedFd, &OsStr) -> nix::Result<()>,
    ) -> Result<()> {
        match make(dir, name) {
            Err(Errno::EEXIST) => {
                self.remove(dir, name)?;
                make(dir, name).context("create")
            }
            other => other.context("create"),
        }
    }

    pub(super) fn remove(&mut self, dir: &OwnedFd, name: &OsStr) -> Result<()> {
        self.barrier()?;
        self.root.forget();
        self.parent_setgid = None;
        fsops::remove_all_at(dir, name)
    }

    /// The host owner of an entry, or `None` when this unpack cannot change owners.
    fn owner(&mut self, meta: &Meta) -> Option<(u32, u32)> {
        let owner = self.opts.ids.map(meta.uid, meta.gid).unwrap_or_else(|| {
            self.stats.folded_owners += 1;
            self.opts.ids.root()
        });
        self.privileged.then_some(owner)
    }

    /// Owner, mode and xattrs through an open descriptor (files and directories).
    fn finish_fd(&mut self, fd: &impl AsFd, meta: &Meta, rel: &Path, is_dir: bool) -> Result<()> {
        if let Some((u, g)) = self.owner(meta) {
            nix::unistd::fchown(
                fd.as_fd(),
                Some(nix::unistd::Uid::from_raw(u)),
                Some(nix::unistd::Gid::from_raw(g)),
            )
            .context("chown")?;
        }
        let mut mode = meta.mode & 0o7777;
        if is_dir && !self.privileged && mode & 0o700 != 0o700 {
            // Keep it writable for the layers still to come; set the real mode at the end.
            self.deferred_modes.push((rel.to_path_buf(), mode));
            mode |= 0o700;
        }
        // Always: chown clears setuid bits, and an existing directory keeps its old mode.
        nix::sys::stat::fchmod(fd, Mode::from_bits_retain(mode)).context("chmod")?;
        for (k, v) in &meta.xattrs {
            let r = fset_xattr(fd, k, v);
            self.xattr_result(r, k)?;
        }
        Ok(())
    }

    /// Owner, mode, xattrs and times of `name` in `dir`, never following a symlink.
    fn finish_at(&mut self, dir: &OwnedFd, name: &OsStr, meta: &Meta, chmod: bool) -> Result<()> {
        if let Some((u, g)) = self.owner(meta) {
            fsops::chown_at(dir, name, u, g).context("chown")?;
        }
        if chmod {
            fsops::chmod_at(dir, name, meta.mode & 0o7777)?;
        }
        for (k, v) in &meta.xattrs {
            let r = fsops::set_xattr_at(dir, name, k, v);
            self.xattr_result(r, k)?;
        }
        fsops::set_times_at(dir, name, meta.mtime)
    }

    fn xattr_result(&mut self, r: io::Result<()>, key: &str) -> Result<()> {
        match r {
            Ok(()) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTSUP) | Some(libc::EPERM)) => {
                self.stats.skipped_xattrs += 1;
                Ok(())
            }
            Err(e) => Err(e).with_context(|| format!("set xattr {key}")),
        }
    }

    fn set_dir_time(&mut self, rel: &Path, t: (i64, i64)) -> Result<()> {
        let (p, n) = fsops::split(rel);
        let n = if n.is_empty() { OsStr::new(".") } else { n };
        match self.root.existing_dir(p)? {
            Some(dir) => fsops::set_times_at(&dir, n, t).or_else(|e| {
                // Removed again later in the same layer: nothing to date.
                match e.downcast_ref::<Errno>() {
                    Some(Errno::ENOENT) => Ok(()),
                    _ => Err(e),
                }
            }),
            None => Ok(()),
        }
    }
}
