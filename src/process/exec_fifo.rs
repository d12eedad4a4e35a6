//! The create/start rendezvous through `<state>/exec.fifo`.
//!
//! The runtime opens the fifo read-write before the clone (which never blocks) and the init
//! inherits that descriptor; once set up, the init blocks reading it. `start` opens the fifo
//! write-only and non-blocking: that fails with ENXIO when no init holds it any more (it
//! died), and otherwise writes the byte that releases the init. The init never needs to reopen
//! anything, so it can wait after it has dropped its privileges.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{bail, Context, Result};
use nix::sys::stat::Mode;

/// Makes the fifo and returns the init's end of it.
pub fn create(path: &Path) -> Result<File> {
    nix::unistd::mkfifo(path, Mode::from_bits_truncate(0o600))
        .with_context(|| format!("mkfifo {}", path.display()))?;
    File::options()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .with_context(|| format!("open {}", path.display()))
}

/// Init side: blocks until `start` writes the go-ahead byte.
pub fn wait_for_start(mut fifo: &File) -> Result<()> {
    let mut b = [0u8; 1];
    loop {
        match fifo.read(&mut b) {
            Ok(1) => return Ok(()),
            Ok(_) => bail!("exec fifo closed"),
            Err(e) if e.kind() == ErrorKind::Interrupted => {
                crate::process::init::exit_if_signalled();
            }
            Err(e) => return Err(e).context("read exec fifo"),
        }
    }
}

/// `start` side: releases the init waiting on the fifo at `path`.
pub fn release(path: &Path) -> Result<()> {
    let mut f = match File::options()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
            bail!("container init exited before it could start")
        }
        Err(e) => return Err(e).context("open exec fifo"),
    };
    f.write_all(b"0").context("write exec fifo")
}
