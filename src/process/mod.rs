//! How xrun makes the container's processes.
//!
//! No re-exec and no helper binary: the runtime clones the init straight into its new
//! namespaces (and, on cgroup v2, its cgroup) with one `clone3`, and the child carries on in
//! the copy of the runtime's memory, running the ordered steps of [`init`]. Only when the
//! config joins existing namespaces by path, or asks for a time namespace, does an
//! intermediate process do the joins and clone the init (see [`launch`]). The two sides speak
//! typed messages over a socketpair ([`channel`]); `create` and `start` meet at an exec fifo.

pub mod channel;
pub mod console;
pub mod exec_fifo;
pub mod fds;
pub mod init;
pub mod launch;
pub mod pidinfo;
pub mod seal;
pub mod setup;
pub mod signals;
pub mod tenant;
pub mod wait;

use std::os::fd::OwnedFd;

use fds::ExtraFds;
use std::path::Path;

use oci_spec::runtime::{Process, Spec};

/// How the init learns that it may run the user's program.
pub enum StartGate {
    /// `create`: block reading the exec fifo until `start` writes to it.
    Fifo(std::fs::File),
    /// Foreground or detached `run`: a `Start` message on the sync channel.
    Channel,
}

/// Everything the container's init needs, prepared by the runtime before the clone. The init
/// reads it from its copy of the runtime's memory.
pub struct InitArgs<'a> {
    pub id: &'a str,
    pub spec: &'a Spec,
    pub process: &'a Process,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    /// Connected console socket that receives the pty master (`--console-socket`).
    pub console_socket: Option<OwnedFd>,
    pub start: StartGate,
    pub extra_fds: ExtraFds,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// Host cgroup paths to show at /sys/fs/cgroup inside the container.
    pub cgroup_mounts: &'a crate::cgroups::ContainerMounts,
    /// cgroup v1 `tasks` files the init writes itself into (see `cgroups::join_self`).
    pub cgroup_join: Vec<OwnedFd>,
    /// `linux.seccomp`, compiled (and its listener connected) before anything was made.
    pub seccomp: Option<&'a crate::security::seccomp::Seccomp>,
}
