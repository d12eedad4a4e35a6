//! xrun: a runc-compatible OCI runtime.
//!
//! The modules follow the data: `cli` parses the command line, `bundle` loads and checks the
//! config, `container` keeps the persisted state of each container, `process` builds the
//! container's processes (clone, init steps, exec), and `rootfs`, `security`, `namespaces`
//! and `hooks` are the steps those processes run.

pub mod bundle;
pub mod cgroups;
pub mod cli;
pub mod container;
pub mod hooks;
pub mod image;
pub mod logging;
pub mod namespaces;
pub mod process;
pub mod rootfs;
pub mod security;
pub mod syscall;
