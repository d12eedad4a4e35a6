//! What a tar entry says about the file to make: owner, mode, times, xattrs (PAX records),
//! device numbers, and whether a symlink target may stand; plus the small I/O helpers the
//! applier and its writer threads share.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use anyhow::{bail, Context, Result};

use super::Stats;

/// Metadata of one tar entry.
pub(super) struct Meta {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: (i64, i64),
    pub xattrs: Vec<(String, Vec<u8>)>,
}

pub(super) fn meta<R: Read>(e: &mut tar::Entry<R>, stats: &mut Stats) -> Result<Meta> {
    let h = e.header();
    // An empty numeric field (all NULs or spaces) reads as 0, as Go's archive/tar has it.
    let blank = |f: &[u8]| f.iter().all(|b| *b == 0 || *b == b' ');
    let old = h.as_old();
    let id = |v: io::Result<u64>, field: &[u8], what: &str| -> Result<u32> {
        let v = match v {
            Err(_) if blank(field) => 0,
            v => v.with_context(|| format!("bad {what}"))?,
        };
        u32::try_from(v).with_context(|| format!("{what} {v} out of range"))
    };
    let mode = match h.mode() {
        Err(_) if blank(&old.mode) => 0,
        m => m.context("bad mode")?,
    };
    let mut meta = Meta {
        mode,
        uid: id(h.uid(), &old.uid, "uid")?,
        gid: id(h.gid(), &old.gid, "gid")?,
        mtime: (h.mtime().unwrap_or(0) as i64, 0),
        xattrs: Vec::new(),
    };
    if let Some(pax) = e.pax_extensions().context("read pax header")? {
        for ext in pax {
            let ext = ext.context("read pax header")?;
            let Ok(key) = ext.key() else { continue };
            if let Some(x) = key.strip_prefix("SCHILY.xattr.") {
                // overlayfs reads trusted.overlay.*: a layer must not steer it.
                if x.starts_with("trusted.overlay.") {
                    stats.skipped_xattrs += 1;
                } else {
                    meta.xattrs
                        .push((x.to_string(), ext.value_bytes().to_vec()));
                }
            } else if key == "mtime" {
                if let Some(t) = ext.value().ok().and_then(parse_pax_time) {
                    meta.mtime = t;
                }
            }
        }
    }
    Ok(meta)
}

/// Docker's rule: a relative symlink target may not climb above the root from where the
/// link is. (Absolute targets resolve inside the root, as the container sees them.)
pub(super) fn check_symlink(rel: &Path, target: &[u8]) -> Result<()> {
    if target.starts_with(b"/") {
        return Ok(());
    }
    let mut depth = rel.components().count() as i64 - 1;
    for c in Path::new(OsStr::from_bytes(target)).components() {
        match c {
            std::path::Component::ParentDir => depth -= 1,
            std::path::Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            bail!(
                "invalid symlink to {:?}: points outside the root",
                String::from_utf8_lossy(target)
            );
        }
    }
    Ok(())
}

pub(super) fn device<R: Read>(e: &tar::Entry<R>) -> Result<libc::dev_t> {
    let h = e.header();
    let major = h.device_major().context("bad device major")?.unwrap_or(0);
    let minor = h.device_minor().context("bad device minor")?.unwrap_or(0);
    Ok(libc::makedev(major, minor))
}

/// `seconds[.fraction]` of a PAX time record.
fn parse_pax_time(s: &str) -> Option<(i64, i64)> {
    let (sec, frac) = s.split_once('.').unwrap_or((s, ""));
    let sec = sec.parse::<i64>().ok()?;
    let digits: String = frac.chars().take(9).collect();
    let nsec = if digits.is_empty() {
        0
    } else {
        digits.parse::<i64>().ok()? * 10i64.pow(9 - digits.len() as u32)
    };
    Some((sec, nsec))
}

pub(super) fn copy(src: &mut impl Read, dst: &mut File, buf: &mut [u8]) -> io::Result<u64> {
    let mut n = 0u64;
    loop {
        let k = match src.read(buf) {
            Ok(0) => return Ok(n),
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        dst.write_all(&buf[..k])?;
        n += k as u64;
    }
}

pub(super) fn fset_xattr(fd: &impl AsFd, key: &str, value: &[u8]) -> io::Result<()> {
    let k = std::ffi::CString::new(key)?;
    // SAFETY: the pointers outlive the call; the length is value's.
    let r = unsafe {
        libc::fsetxattr(
            fd.as_fd().as_raw_fd(),
            k.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlink_targets_that_climb_out_are_refused() {
        assert!(check_symlink(Path::new("a/b"), b"../c").is_ok());
        assert!(check_symlink(Path::new("a/b"), b"/etc/passwd").is_ok());
        assert!(check_symlink(Path::new("a/b"), b"../../c").is_err());
        assert!(check_symlink(Path::new("x"), b"../../../../tmp").is_err());
        assert!(check_symlink(Path::new("x"), b"y/../../z").is_err());
    }

    #[test]
    fn pax_times_keep_nanoseconds() {
        assert_eq!(
            parse_pax_time("1700000000.5"),
            Some((1700000000, 500_000_000))
        );
        assert_eq!(parse_pax_time("12"), Some((12, 0)));
        assert_eq!(parse_pax_time("x"), None);
    }
}
