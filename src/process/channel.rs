//! Typed messages between the runtime and the container's init (or exec) process, over a
//! `SOCK_SEQPACKET` socketpair: one message per packet, so there is no framing, and a peer
//! that dies shows up as end-of-file instead of a hang.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use anyhow::{anyhow, bail, Context, Result};
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};
use serde::{Deserialize, Serialize};

/// Everything the two sides say to each other, in the order it usually happens.
#[derive(Serialize, Deserialize, Debug, PartialEq, Eq)]
pub enum Msg {
    /// Child → runtime: I am in my new user namespace; write my uid/gid maps.
    /// `pid` is the process to map (the child itself in the one-clone path).
    WriteIdMaps { pid: i32 },
    /// Runtime → child: the maps are written (and the cgroup joined); go on.
    Continue,
    /// Intermediate → runtime: the init process is this host pid.
    InitPid { pid: i32 },
    /// Init → runtime: mounts are done; run the prestart and createRuntime hooks.
    RunRuntimeHooks,
    /// Init → runtime: the pty master for a foreground run travels with this message.
    Console,
    /// Init → runtime: set up; waiting to be started.
    Created,
    /// Runtime → init: start now (foreground `run`, no exec fifo in between).
    Start,
    /// Child → runtime: a step failed; the message names it.
    Error { msg: String },
}

const MAX_MSG: usize = 64 * 1024;

pub struct Channel {
    fd: OwnedFd,
}

/// A connected pair: `.0` stays with the runtime, `.1` goes to the child.
pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .context("socketpair")?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    pub fn send(&self, msg: &Msg) -> Result<()> {
        self.send_with_fd(msg, None)
    }

    /// Sends `msg`, passing `fd` along with it (SCM_RIGHTS) when given.
    pub fn send_with_fd(&self, msg: &Msg, fd: Option<RawFd>) -> Result<()> {
        let buf = serde_json::to_vec(msg)?;
        send_bytes(self.fd.as_raw_fd(), &buf, fd).context("sync channel: send")
    }

    /// Receives the next message; the peer closing its end is an error.
    pub fn recv(&self) -> Result<Msg> {
        self.recv_with_fd().map(|(m, _)| m)
    }

    pub fn recv_with_fd(&self) -> Result<(Msg, Option<OwnedFd>)> {
        let mut buf = vec![0u8; MAX_MSG];
        let (n, fd) = recv_bytes(self.fd.as_raw_fd(), &mut buf).context("sync channel: receive")?;
        if n == 0 {
            bail!("the container process exited before it finished its setup");
        }
        let msg = serde_json::from_slice(&buf[..n]).map_err(|e| anyhow!("sync channel: {e}"))?;
        Ok((msg, fd))
    }

    /// Receives and requires a particular message; an `Error` from the peer becomes our error.
    pub fn expect(&self, want: Msg) -> Result<()> {
        match self.recv()? {
            m if m == want => Ok(()),
            Msg::Error { msg } => Err(anyhow!(msg)),
            other => bail!("sync channel: expected {want:?}, got {other:?}"),
        }
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Sends one packet of `data`, with `fd` as SCM_RIGHTS when given.
pub fn send_bytes(sock: RawFd, data: &[u8], fd: Option<RawFd>) -> nix::Result<()> {
    let iov = [IoSlice::new(data)];
    let fds;
    let cmsgs: &[ControlMessage] = match fd {
        Some(f) => {
            fds = [f];
            &[ControlMessage::ScmRights(&fds)]
        }
        None => &[],
    };
    sendmsg::<()>(sock, &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None).map(drop)
}

/// Receives one packet into `buf`; returns its length and a passed descriptor, if any.
pub fn recv_bytes(sock: RawFd, buf: &mut [u8]) -> nix::Result<(usize, Option<OwnedFd>)> {
    let mut iov = [IoSliceMut::new(buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = loop {
        match recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
            Err(nix::errno::Errno::EINTR) => continue,
            other => break other?,
        }
    };
    let mut fd = None;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for f in fds {
                // SAFETY: the kernel installed this descriptor for us.
                let owned = unsafe { OwnedFd::from_raw_fd(f) };
                fd.get_or_insert(owned);
            }
        }
    }
    Ok((msg.bytes, fd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_eof() {
        let (a, b) = pair().unwrap();
        a.send(&Msg::InitPid { pid: 42 }).unwrap();
        assert_eq!(b.recv().unwrap(), Msg::InitPid { pid: 42 });
        b.send(&Msg::Error {
            msg: "mounts[1]: boom".into(),
        })
        .unwrap();
        assert_eq!(
            a.expect(Msg::Created).unwrap_err().to_string(),
            "mounts[1]: boom"
        );
        drop(b);
        assert!(a.recv().is_err());
    }

    #[test]
    fn passes_a_descriptor() {
        let (a, b) = pair().unwrap();
        let f = std::fs::File::open("/dev/null").unwrap();
        a.send_with_fd(&Msg::Created, Some(f.as_raw_fd())).unwrap();
        let (m, fd) = b.recv_with_fd().unwrap();
        assert_eq!(m, Msg::Created);
        let fd = fd.unwrap();
        let target = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        assert_eq!(target, std::path::Path::new("/dev/null"));
    }
}
