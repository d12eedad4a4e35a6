//! A container as the runtime keeps it: a state directory under `--root`, its persisted
//! state, and the lifecycle verbs that move it from creating to stopped.

pub mod create;
pub mod delete;
pub mod exec;
pub mod id;
pub mod kill;
mod root;
pub mod run;
pub mod start;
mod state;

pub use root::{ContainerDir, Root};
pub use state::{OciState, State, Status};
