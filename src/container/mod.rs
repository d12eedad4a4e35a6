//! A container as the runtime keeps it: a state directory under `--root`, its persisted
//! state, and the lifecycle verbs that move it from creating to stopped.

pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod id;
pub mod kill;
pub mod pause;
mod root;
pub mod run;
pub mod start;
mod state;
pub mod update;

pub use root::{ContainerDir, Root};
pub use state::{OciState, State, Status};

/// What every verb needs from its caller, whatever the front end: where the state lives and
/// who manages the cgroups.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// The state root (`--root`).
    pub root: std::path::PathBuf,
    /// Cgroups through systemd (`--systemd-cgroup`).
    pub systemd_cgroup: bool,
}
