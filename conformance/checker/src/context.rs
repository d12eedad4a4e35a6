//! What the checks compare against: the container's config, and the facts about the host
//! that cannot be seen from inside, which the harness writes next to it.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::mountinfo::{self, MountInfo};

/// Where the harness puts the checker's inputs inside the rootfs.
pub const CONFIG: &str = "/.conformance/config.json";
pub const HOST: &str = "/.conformance/host.json";

/// A bind mount's source as the host sees it.
#[derive(Debug, Clone)]
pub struct BindSource {
    pub dev: u64,
    pub ino: u64,
    /// Mount points below the source, relative to it (an rbind carries them, a bind not).
    pub submounts: Vec<String>,
}

pub struct Ctx {
    pub config: Value,
    /// Namespace type as in /proc/self/ns (net, mnt, ...) to the runtime's inode.
    pub host_ns: BTreeMap<String, u64>,
    /// Namespace file paths joined by the config, to the inode they name.
    pub ns_paths: BTreeMap<String, u64>,
    /// Bind mount sources, keyed by the `source` string of the config.
    pub bind_sources: BTreeMap<String, BindSource>,
    pub mounts: Vec<MountInfo>,
    /// /proc/self/uid_map and gid_map: (inside, outside, count).
    pub uid_map: Vec<(u64, u64, u64)>,
    pub gid_map: Vec<(u64, u64, u64)>,
}

impl Ctx {
    pub fn load() -> Result<Ctx, String> {
        let config = read_json(CONFIG)?;
        let host = read_json(HOST)?;
        let u64_map = |v: &Value| -> BTreeMap<String, u64> {
            v.as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_u64()?)))
                .collect()
        };
        let bind_sources = host["bindSources"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| {
                let src = BindSource {
                    dev: v["dev"].as_u64().unwrap_or(0),
                    ino: v["ino"].as_u64().unwrap_or(0),
                    submounts: strings(&v["submounts"]),
                };
                (k.clone(), src)
            })
            .collect();
        let mounts = mountinfo::read_self().map_err(|e| format!("/proc/self/mountinfo: {e}"))?;
        Ok(Ctx {
            host_ns: u64_map(&host["namespaces"]),
            ns_paths: u64_map(&host["nsPaths"]),
            bind_sources,
            mounts,
            config,
            uid_map: read_id_map("/proc/self/uid_map"),
            gid_map: read_id_map("/proc/self/gid_map"),
        })
    }

    pub fn process(&self) -> &Value {
        &self.config["process"]
    }

    pub fn linux(&self) -> &Value {
        &self.config["linux"]
    }

    /// Whether the config lists a namespace of this type (created or joined).
    pub fn has_namespace(&self, typ: &str) -> bool {
        self.linux()["namespaces"]
            .as_array()
            .is_some_and(|a| a.iter().any(|n| n["type"] == typ))
    }

    /// The process runs in a user namespace the config asks for (so host ids are mapped).
    pub fn in_userns(&self) -> bool {
        self.has_namespace("user")
    }
}

/// An id map, sorted; empty if unreadable.
pub fn read_id_map(path: &str) -> Vec<(u64, u64, u64)> {
    parse_id_map(&std::fs::read_to_string(path).unwrap_or_default())
}

pub fn parse_id_map(text: &str) -> Vec<(u64, u64, u64)> {
    let mut v: Vec<_> = text
        .lines()
        .filter_map(|l| {
            let n: Vec<u64> = l
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            (n.len() == 3).then(|| (n[0], n[1], n[2]))
        })
        .collect();
    v.sort_unstable();
    v
}

fn read_json(path: &str) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))
}

/// A JSON array of strings (anything else is left out).
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(String::from))
        .collect()
}

/// Makes a path absolute and clean: no `.`, no `..`, no repeated or trailing slash. Paths in
/// the config are taken inside the container's root, so `..` stops at `/`.
pub fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths() {
        assert_eq!(clean_path("/dev//shm/"), "/dev/shm");
        assert_eq!(clean_path("dev/./pts"), "/dev/pts");
        assert_eq!(clean_path("/../a/../b"), "/b");
        assert_eq!(clean_path("/"), "/");
    }
}
