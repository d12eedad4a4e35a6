//! Writes to /proc that the container must not be able to redirect (CVE-2025-52881): oom
//! score, LSM exec labels, sysctls, setgroups and time namespace offsets.
//!
//! The runtime opens the host's /proc before creating anything. That descriptor pins the
//! host's proc mount, so mounts the container config (or an attacker) puts over /proc in the
//! container's mount namespace are not on its path, and every lookup below it refuses to
//! cross a mount or follow a magic link.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::syscall::openat2;

const PROC_SUPER_MAGIC: i64 = 0x9fa0;
const RESOLVE_NO_XDEV: u64 = 0x01;
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_BENEATH: u64 = 0x08;

pub struct ProcFs {
    root: OwnedFd,
}

impl ProcFs {
    /// Opens the host's /proc and checks that it really is procfs.
    pub fn open_host() -> Result<ProcFs> {
        let root = openat2(
            libc::AT_FDCWD,
            Path::new("/proc"),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            0,
        )
        .context("open /proc")?;
        let st = nix::sys::statfs::fstatfs(&root).context("statfs /proc")?;
        if st.filesystem_type().0 != PROC_SUPER_MAGIC {
            bail!("/proc is not a procfs mount");
        }
        Ok(ProcFs { root })
    }

    pub fn raw_fd(&self) -> RawFd {
        self.root.as_raw_fd()
    }

    /// Opens `rel` (e.g. `self/oom_score_adj`) beneath this procfs, on this mount only.
    pub fn open(&self, rel: &str, flags: i32) -> Result<File> {
        let fd = openat2(
            self.root.as_raw_fd(),
            Path::new(rel),
            flags,
            0,
            RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS,
        )
        .with_context(|| format!("open /proc/{rel}"))?;
        Ok(File::from(fd))
    }

    pub fn write(&self, rel: &str, data: &str) -> Result<()> {
        let mut f = self.open(rel, libc::O_WRONLY)?;
        f.write_all(data.as_bytes())
            .with_context(|| format!("write {data:?} to /proc/{rel}"))
    }

    pub fn read(&self, rel: &str) -> Result<String> {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut self.open(rel, libc::O_RDONLY)?, &mut s)
            .with_context(|| format!("read /proc/{rel}"))?;
        Ok(s)
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.open(rel, libc::O_PATH).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_beneath_proc_and_refuses_magic_links() {
        let p = ProcFs::open_host().unwrap();
        assert!(p.read("self/status").unwrap().contains("Pid:"));
        // /proc/self/root is a magic link to the filesystem root: never followed.
        assert!(p.open("self/root/etc", libc::O_PATH).is_err());
        assert!(p.open("../etc", libc::O_PATH).is_err());
    }
}
