//! SCMP_ACT_NOTIFY: the listener at `listenerPath` gets the filter's notification descriptor.
//!
//! The runtime connects to the listener before it creates anything (no listener, no
//! container), and the container's process inherits the connection. Right after loading the
//! filter, that process sends the container process state (JSON) with the descriptor
//! (SCM_RIGHTS) in one `sendmsg`, its only system call between loading and the handoff; the
//! connection closes when the process execs (it is close-on-exec). Sending it from the process
//! itself needs no path into the host from inside the container and no round trip through the
//! runtime.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result};
use nix::sys::socket::{
    connect, sendmsg, socket, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr,
};
use oci_spec::runtime::{LinuxSeccomp, Spec};
use serde_json::{json, Value};

/// A connection to the listener, and what to tell it.
pub struct Listener {
    sock: OwnedFd,
    metadata: String,
    /// The container's state; the process fills in its own pid when it sends it.
    state: Value,
}

/// The runtime-spec state of the container, as the listener gets it.
pub fn container_state(spec: &Spec, id: &str, status: &str, pid: i32, bundle: &Path) -> Value {
    json!({
        "ociVersion": spec.version(),
        "id": id,
        "status": status,
        "pid": pid,
        "bundle": bundle,
        "annotations": spec.annotations().clone().unwrap_or_default(),
    })
}

/// Connects to `listenerPath`. Call only for a filter that notifies (`listenerPath` is then
/// checked to be set and absolute).
pub fn connect_listener(s: &LinuxSeccomp, state: Value) -> Result<Listener> {
    let path = s
        .listener_path()
        .as_deref()
        .context("config.json: linux.seccomp.listenerPath: must be set")?;
    let at = || format!("linux.seccomp.listenerPath: {}", path.display());
    let sock = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .with_context(at)?;
    let addr = UnixAddr::new(path).with_context(at)?;
    connect(sock.as_raw_fd(), &addr)
        .with_context(|| format!("{}: cannot connect to the seccomp listener", at()))?;
    Ok(Listener {
        sock,
        metadata: s.listener_metadata().clone().unwrap_or_default(),
        state,
    })
}

impl Listener {
    /// The container process state of process `pid` (as the host sees it), to send with the
    /// descriptor. Made before the filter is loaded: nothing but the `sendmsg` may run between
    /// loading and the handoff, or a notified call would wait for a listener that cannot hear it.
    pub fn message(&self, pid: i32) -> String {
        let mut state = self.state.clone();
        state["pid"] = json!(pid);
        json!({
            "ociVersion": state["ociVersion"],
            "fds": ["seccompFd"],
            "pid": pid,
            "metadata": self.metadata,
            "state": state,
        })
        .to_string()
    }

    /// Sends `msg` (from [`Listener::message`]) with the notification descriptor.
    pub fn send(&self, notify_fd: &OwnedFd, msg: &str) -> Result<()> {
        let fds = [notify_fd.as_raw_fd()];
        let n = sendmsg::<()>(
            self.sock.as_raw_fd(),
            &[IoSlice::new(msg.as_bytes())],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .context("send the notification descriptor to the seccomp listener")?;
        if n != msg.len() {
            // A stream socket may take part of it: the rest goes without descriptors.
            let mut rest = &msg.as_bytes()[n..];
            while !rest.is_empty() {
                let m = nix::sys::socket::send(self.sock.as_raw_fd(), rest, MsgFlags::MSG_NOSIGNAL)
                    .context("send the container state to the seccomp listener")?;
                rest = &rest[m..];
            }
        }
        Ok(())
    }
}
