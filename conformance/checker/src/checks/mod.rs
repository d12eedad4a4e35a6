//! The checks, one module per part of the config.

pub mod capabilities;
pub mod devices;
pub mod mounts;
pub mod namespaces;
pub mod paths;
pub mod process;
pub mod seccomp;
