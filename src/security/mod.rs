//! The process-level security steps: capabilities, user and groups, rlimits, LSM labels and
//! scheduling attributes. The init and `exec` apply the same steps, in the same order
//! (see `process::setup`).

pub mod capabilities;
pub mod lsm;
pub mod procfs;
pub mod rlimits;
pub mod sched;
pub mod seccomp;
pub mod user;
