//! Runs one container in the foreground (`<runtime> run`) and collects what it printed,
//! through files, or through a pty the harness owns when the config asks for a terminal.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub struct Outcome {
    pub status: Option<ExitStatus>,
    pub output: String,
    pub stderr: String,
    pub timed_out: bool,
}

pub struct Runtime<'a> {
    pub program: &'a str,
    pub state: &'a Path,
}

impl Runtime<'_> {
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(self.program);
        c.arg("--root").arg(self.state).args(args);
        c
    }

    /// `delete --force`, whatever state the container is in; errors do not matter here.
    pub fn force_delete(&self, id: &str) {
        let _ = self
            .command(&["delete", "--force", id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    pub fn run(
        &self,
        bundle: &Path,
        id: &str,
        terminal: bool,
        limit: Duration,
    ) -> io::Result<Outcome> {
        let bundle = bundle.to_string_lossy();
        let mut cmd = self.command(&["run", "--bundle", &bundle, id]);
        let err_path = Path::new(&*bundle).join("runtime.stderr");
        let out_path = Path::new(&*bundle).join("runtime.stdout");
        let mut pty_reader = None;
        if terminal {
            let (master, slave) = open_pty()?;
            cmd.stdin(slave.try_clone()?)
                .stdout(slave.try_clone()?)
                .stderr(File::create(&err_path)?);
            drop(slave);
            pty_reader = Some(read_all_in_background(master));
        } else {
            cmd.stdin(Stdio::null())
                .stdout(File::create(&out_path)?)
                .stderr(File::create(&err_path)?);
        }
        let mut child = cmd.spawn()?;
        // The Command holds copies of the pty slave: drop them so the reader sees the end.
        drop(cmd);
        let deadline = Instant::now() + limit;
        let mut timed_out = false;
        let status = loop {
            if let Some(s) = child.try_wait()? {
                break Some(s);
            }
            if Instant::now() > deadline {
                timed_out = true;
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let output = match pty_reader {
            // Every holder of the slave is gone once the container is: end of output.
            Some(rx) => rx.recv_timeout(Duration::from_secs(5)).unwrap_or_default(),
            None => std::fs::read_to_string(&out_path).unwrap_or_default(),
        };
        Ok(Outcome {
            status,
            output,
            stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
            timed_out,
        })
    }
}

fn open_pty() -> io::Result<(File, File)> {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two descriptors; the other arguments may be null.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors are fresh and owned by nobody else.
    let (m, s) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    Ok((File::from(m), File::from(s)))
}

/// Reads the pty master until the last slave is closed (EIO), then sends the text.
fn read_all_in_background(mut master: File) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            match master.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx
}
