//! The persisted state of a container (`<root>/<id>/state.json`) and its status, which is
//! derived from the init process each time rather than stored, so it is never stale.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};

use super::ContainerDir;
use crate::process::pidinfo;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What the runtime remembers about a container between invocations.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub id: String,
    /// Host pid of the container's init process.
    pub pid: i32,
    /// Start time of the init (clock ticks since boot): tells our init from a reused pid.
    pub init_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 creation time.
    pub created: String,
    pub owner: String,
    /// The config the container was created from (hooks, namespaces and cgroups need it later).
    pub config: Spec,
    /// How the container's cgroups were set up, for pause, ps, update and delete.
    #[serde(default)]
    pub cgroup: Option<serde_json::Value>,
}

/// The runtime-spec state, as `state`, `list` and hooks see it.
#[derive(Debug, Serialize)]
pub struct OciState {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
}

impl State {
    /// The status right now: the init must be alive (and the same process that we started)
    /// for the container to be anything but stopped.
    pub fn status(&self, dir: &ContainerDir) -> Status {
        if self.pid == 0 {
            return Status::Creating;
        }
        if !self.init_alive() {
            return Status::Stopped;
        }
        // Paused comes first, as with runc: a created container can be paused too.
        if crate::cgroups::is_frozen(self.cgroup.as_ref()) {
            return Status::Paused;
        }
        if dir.exec_fifo().exists() {
            return Status::Created;
        }
        Status::Running
    }

    /// True while our init process (not a reuse of its pid) has not exited.
    pub fn init_alive(&self) -> bool {
        match pidinfo::stat(self.pid) {
            Some(s) => s.start_time == self.init_start_time && !s.is_zombie(),
            None => false,
        }
    }

    pub fn oci_state(&self, status: Status) -> OciState {
        OciState {
            oci_version: self.config.version().clone(),
            id: self.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            status,
            bundle: self.bundle.clone(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
            owner: self.owner.clone(),
            annotations: self.config.annotations().clone().unwrap_or_default(),
        }
    }
}
