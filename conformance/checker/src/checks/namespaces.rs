//! `linux.namespaces` (new, joined by path, or the runtime's), the user namespace's id
//! maps, and the settings that live in a namespace: hostname, domainname, `linux.sysctl`.

use crate::context::{parse_id_map, Ctx};
use crate::sys;
use crate::tap::Tap;

/// Config type and the name of its file in /proc/self/ns.
const KINDS: &[(&str, &str)] = &[
    ("pid", "pid"),
    ("network", "net"),
    ("mount", "mnt"),
    ("ipc", "ipc"),
    ("uts", "uts"),
    ("user", "user"),
    ("cgroup", "cgroup"),
    ("time", "time"),
];

/// The inode of a namespace of this process, from the `net:[4026531840]` link.
fn own_inode(name: &str) -> Option<u64> {
    let link = std::fs::read_link(format!("/proc/self/ns/{name}")).ok()?;
    let s = link.to_string_lossy().into_owned();
    s.rsplit_once('[')?.1.trim_end_matches(']').parse().ok()
}

pub fn check(ctx: &Ctx, t: &mut Tap) {
    let list = ctx.linux()["namespaces"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (typ, name) in KINDS {
        let entry = list.iter().find(|n| n["type"] == *typ);
        let own = own_inode(name);
        let host = ctx.host_ns.get(*name).copied();
        let Some(own) = own else {
            if entry.is_some() {
                t.check(
                    false,
                    format!("linux.namespaces {typ}: /proc/self/ns/{name} exists"),
                    || "the kernel shows no such namespace".into(),
                );
            }
            continue;
        };
        match entry.map(|e| e["path"].as_str()) {
            None => match host {
                Some(h) => t.eq(
                    format!(
                        "linux.namespaces has no {typ}: the runtime's {name} namespace is kept"
                    ),
                    h,
                    own,
                ),
                None => t.skip(format!("{typ} namespace"), "the harness gave no host inode"),
            },
            Some(Some(path)) => match ctx.ns_paths.get(path) {
                Some(want) => t.eq(
                    format!("linux.namespaces {typ} joined from {path}"),
                    *want,
                    own,
                ),
                None => t.skip(
                    format!("{typ} namespace joined from {path}"),
                    "the harness gave no inode for that path",
                ),
            },
            Some(None) => match host {
                Some(h) => t.check(
                    own != h,
                    format!("linux.namespaces {typ}: a new {name} namespace"),
                    || format!("{name} namespace {own} is the runtime's"),
                ),
                None => t.skip(format!("{typ} namespace"), "the harness gave no host inode"),
            },
        }
    }
    let new_pid = list
        .iter()
        .any(|n| n["type"] == "pid" && n["path"].is_null());
    if new_pid {
        t.eq(
            "new pid namespace: the process is pid 1",
            1,
            std::process::id(),
        );
    }
    id_maps(ctx, t);
    names(ctx, t);
    sysctl(ctx, t);
}

fn config_map(v: &serde_json::Value) -> Vec<(u64, u64, u64)> {
    let mut m: Vec<_> = v
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let f = |k: &str| e[k].as_u64().unwrap_or(0);
            (f("containerID"), f("hostID"), f("size"))
        })
        .collect();
    m.sort_unstable();
    m
}

fn id_maps(ctx: &Ctx, t: &mut Tap) {
    if !ctx.in_userns()
        || ctx.linux()["namespaces"].as_array().is_some_and(|a| {
            a.iter()
                .any(|n| n["type"] == "user" && !n["path"].is_null())
        })
    {
        return;
    }
    for (file, key) in [("uid_map", "uidMappings"), ("gid_map", "gidMappings")] {
        let have = std::fs::read_to_string(format!("/proc/self/{file}")).map(|s| parse_id_map(&s));
        t.eq(
            format!("linux.{key} are /proc/self/{file}"),
            Ok(config_map(&ctx.linux()[key])),
            have.map_err(|e| e.to_string()),
        );
    }
}

fn names(ctx: &Ctx, t: &mut Tap) {
    let (node, domain) = sys::uname_names();
    if let Some(h) = ctx.config["hostname"].as_str() {
        t.eq(format!("hostname {h:?}"), h, node.as_str());
    }
    if let Some(d) = ctx.config["domainname"].as_str() {
        t.eq(format!("domainname {d:?}"), d, domain.as_str());
    }
}

/// runc's key convention: dots separate levels, a slash stands for a dot in a name.
pub fn sysctl_path(key: &str) -> String {
    let rel: String = key
        .chars()
        .map(|c| match c {
            '.' => '/',
            '/' => '.',
            c => c,
        })
        .collect();
    format!("/proc/sys/{rel}")
}

fn sysctl(ctx: &Ctx, t: &mut Tap) {
    let Some(map) = ctx.linux()["sysctl"].as_object() else {
        return;
    };
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    for (k, v) in map {
        let want = words(v.as_str().unwrap_or(""));
        let path = sysctl_path(k);
        let have = std::fs::read_to_string(&path)
            .map(|s| words(&s))
            .map_err(|e| e.to_string());
        t.eq(
            format!("linux.sysctl {k} = {want:?} ({path})"),
            Ok(want.clone()),
            have,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_and_sysctl_paths() {
        assert_eq!(
            parse_id_map("         0     100000      65536\n"),
            vec![(0, 100000, 65536)]
        );
        assert_eq!(
            sysctl_path("net.ipv4.conf.eth0/100.rp_filter"),
            "/proc/sys/net/ipv4/conf/eth0.100/rp_filter"
        );
    }
}
