//! OCI hooks: each gets the container state as JSON on stdin, its own args and env, and a
//! timeout after which it is killed. Whether a failure stops the container is the caller's
//! decision (runtime-spec: creation hooks fail the operation, poststart and poststop only warn).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use oci_spec::runtime::{Hook, Hooks};

use crate::syscall::pidfd_open;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }

    fn list(self, hooks: &Hooks) -> Option<&Vec<Hook>> {
        #[allow(deprecated)]
        match self {
            Kind::Prestart => hooks.prestart().as_ref(),
            Kind::CreateRuntime => hooks.create_runtime().as_ref(),
            Kind::CreateContainer => hooks.create_container().as_ref(),
            Kind::StartContainer => hooks.start_container().as_ref(),
            Kind::Poststart => hooks.poststart().as_ref(),
            Kind::Poststop => hooks.poststop().as_ref(),
        }
    }
}

/// True when the config has hooks of this kind.
pub fn has(hooks: Option<&Hooks>, kind: Kind) -> bool {
    hooks
        .and_then(|h| kind.list(h))
        .is_some_and(|l| !l.is_empty())
}

/// Runs the hooks of `kind` in order, stopping at the first failure.
pub fn run(hooks: Option<&Hooks>, kind: Kind, state_json: &str) -> Result<()> {
    let Some(list) = hooks.and_then(|h| kind.list(h)) else {
        return Ok(());
    };
    for (i, h) in list.iter().enumerate() {
        run_one(h, state_json)
            .with_context(|| format!("hooks.{}[{i}] ({})", kind.name(), h.path().display()))?;
    }
    Ok(())
}

/// Runs every hook of `kind`, logging failures as warnings (poststart, poststop).
pub fn run_warn(hooks: Option<&Hooks>, kind: Kind, state_json: &str) {
    let Some(list) = hooks.and_then(|h| kind.list(h)) else {
        return;
    };
    for (i, h) in list.iter().enumerate() {
        if let Err(e) = run_one(h, state_json) {
            crate::logging::warning(&format!(
                "hooks.{}[{i}] ({}): {e:#}",
                kind.name(),
                h.path().display()
            ));
        }
    }
}

fn run_one(h: &Hook, state_json: &str) -> Result<()> {
    let args = h.args().clone().unwrap_or_default();
    let mut cmd = Command::new(h.path());
    if let Some((argv0, rest)) = args.split_first() {
        cmd.arg0(argv0).args(rest);
    }
    cmd.env_clear();
    for kv in h.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    // Output goes to an anonymous file, read back for the error message: a pipe could fill
    // up and block the hook while we wait for it.
    let out = anon_file()?;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::from(out.try_clone()?))
        .stderr(Stdio::from(out.try_clone()?));
    let mut child = cmd.spawn().context("cannot start hook")?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine.
        let _ = stdin.write_all(state_json.as_bytes());
    }
    let pidfd = pidfd_open(child.id() as i32).context("pidfd_open")?;
    let timeout = h
        .timeout()
        .map(|t| std::time::Duration::from_secs(t as u64));
    if !wait_readable(&pidfd, timeout)? {
        let _ = child.kill();
        let _ = child.wait();
        bail!("timed out after {}s", timeout.unwrap_or_default().as_secs());
    }
    let status = child.wait().context("wait for hook")?;
    if status.success() {
        return Ok(());
    }
    let output = read_back(out);
    let how = match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (_, Some(s)) => format!("killed by signal {s}"),
        _ => "failed".into(),
    };
    if output.is_empty() {
        bail!("{how}");
    }
    bail!("{how}: {}", output.trim_end())
}

/// Waits until `fd` is readable; false when `timeout` passed first.
fn wait_readable(fd: &OwnedFd, timeout: Option<std::time::Duration>) -> Result<bool> {
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    loop {
        let left = match deadline {
            None => PollTimeout::NONE,
            Some(d) => {
                let ms = d
                    .saturating_duration_since(std::time::Instant::now())
                    .as_millis();
                PollTimeout::try_from(ms.min(i32::MAX as u128) as i32).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, left) {
            Ok(0) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("poll"),
        }
    }
}

fn anon_file() -> Result<File> {
    // SAFETY: the name is a valid C string.
    let fd = unsafe { libc::memfd_create(c"xrun-hook".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("memfd_create");
    }
    // SAFETY: fresh descriptor owned by nobody else.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

fn read_back(mut f: File) -> String {
    let mut s = String::new();
    let _ = f.seek(SeekFrom::Start(0));
    let _ = Read::by_ref(&mut f).take(4096).read_to_string(&mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hooks(json: &str) -> Hooks {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn passes_state_on_stdin_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let h = hooks(&format!(
            r#"{{"prestart":[{{"path":"/bin/sh","args":["sh","-c","cat > {0}; echo \"$FOO\" >> {0}"],"env":["FOO=bar"]}}]}}"#,
            out.display()
        ));
        run(Some(&h), Kind::Prestart, r#"{"id":"x"}"#).unwrap();
        assert_eq!(std::fs::read_to_string(out).unwrap(), "{\"id\":\"x\"}bar\n");
    }

    #[test]
    fn failure_names_the_hook_and_shows_output() {
        let h = hooks(
            r#"{"poststop":[{"path":"/bin/sh","args":["sh","-c","echo oops >&2; exit 3"]}]}"#,
        );
        let e = format!("{:#}", run(Some(&h), Kind::Poststop, "{}").unwrap_err());
        assert_eq!(e, "hooks.poststop[0] (/bin/sh): exit status 3: oops");
    }

    #[test]
    fn timeout_kills_the_hook() {
        let h =
            hooks(r#"{"createRuntime":[{"path":"/bin/sleep","args":["sleep","30"],"timeout":1}]}"#);
        let t = std::time::Instant::now();
        let e = format!(
            "{:#}",
            run(Some(&h), Kind::CreateRuntime, "{}").unwrap_err()
        );
        assert!(e.ends_with("timed out after 1s"), "{e}");
        assert!(t.elapsed() < std::time::Duration::from_secs(10));
    }
}
