//! `mounts`: each entry against /proc/self/mountinfo — mounted at its destination, of its
//! type (or, for a bind, the very source the host named), with its per-mount flags,
//! recursive attributes, propagation and filesystem options.

use crate::context::{clean_path, strings, Ctx};
use crate::mountinfo::{is_under, MountInfo};
use crate::sys;
use crate::tap::Tap;

/// The last (so visible) mount at `path`.
pub fn topmost<'a>(mounts: &'a [MountInfo], path: &str) -> Option<&'a MountInfo> {
    mounts.iter().rev().find(|m| m.mount_point == path)
}

/// Checks a propagation option against a mount's tags.
pub fn propagation_check(t: &mut Tap, name: &str, prop: &str, m: &MountInfo) {
    let kind = prop.trim_start_matches('r');
    let pass = match kind {
        "shared" => m.has_tag("shared:"),
        "slave" => m.has_tag("master:"),
        "private" => !m.has_tag("shared:") && !m.has_tag("master:"),
        "unbindable" => m.has_tag("unbindable"),
        _ => false,
    };
    t.check(
        pass,
        format!("{name} is {kind} ({})", m.mount_point),
        || format!("propagation tags: {:?}", m.tags),
    );
}

/// How a per-mount option shows in mountinfo: (option, present?) pairs that must hold.
fn flag_expectation(opt: &str) -> Option<Vec<(&'static str, bool)>> {
    Some(match opt {
        "ro" => vec![("ro", true)],
        "rw" => vec![("rw", true)],
        "nosuid" => vec![("nosuid", true)],
        "suid" => vec![("nosuid", false)],
        "nodev" => vec![("nodev", true)],
        "dev" => vec![("nodev", false)],
        "noexec" => vec![("noexec", true)],
        "exec" => vec![("noexec", false)],
        "noatime" => vec![("noatime", true)],
        "relatime" => vec![("relatime", true)],
        "strictatime" => vec![("relatime", false), ("noatime", false)],
        "nodiratime" => vec![("nodiratime", true)],
        "diratime" => vec![("nodiratime", false)],
        "nosymfollow" => vec![("nosymfollow", true)],
        "symfollow" => vec![("nosymfollow", false)],
        _ => return None,
    })
}

/// The flag group an option belongs to: a later option of the group replaces an earlier one.
fn flag_group(opt: &str) -> &str {
    match opt {
        "ro" | "rw" => "rdonly",
        "suid" => "nosuid",
        "dev" => "nodev",
        "exec" => "noexec",
        "noatime" | "relatime" | "strictatime" => "atime",
        "diratime" => "nodiratime",
        "symfollow" => "nosymfollow",
        o => o,
    }
}

/// `rro` → `ro` and so on: the recursive attributes and their per-mount meaning.
fn recursive_flag(opt: &str) -> Option<&str> {
    match opt {
        "rro" | "rrw" | "rnosuid" | "rsuid" | "rnodev" | "rdev" | "rnoexec" | "rexec"
        | "rnoatime" | "rrelatime" | "rstrictatime" | "rnodiratime" | "rdiratime"
        | "rnosymfollow" | "rsymfollow" => Some(&opt[1..]),
        _ => None,
    }
}

const PROPAGATION: &[&str] = &[
    "shared",
    "rshared",
    "slave",
    "rslave",
    "private",
    "rprivate",
    "unbindable",
    "runbindable",
];

/// Options that are neither flags nor propagation and go to the filesystem; checked
/// against the superblock options where the filesystem shows them.
fn is_data(opt: &str) -> bool {
    flag_expectation(opt).is_none()
        && recursive_flag(opt).is_none()
        && !PROPAGATION.contains(&opt)
        && !matches!(
            opt,
            "bind"
                | "rbind"
                | "defaults"
                | "remount"
                | "async"
                | "sync"
                | "dirsync"
                | "mand"
                | "nomand"
                | "silent"
                | "loud"
                | "iversion"
                | "noiversion"
                | "lazytime"
                | "nolazytime"
                | "norelatime"
                | "nostrictatime"
                | "atime"
                | "tmpcopyup"
        )
}

pub fn check(ctx: &Ctx, t: &mut Tap) {
    let mounts = ctx.config["mounts"].as_array().cloned().unwrap_or_default();
    let dests: Vec<String> = mounts
        .iter()
        .map(|m| clean_path(m["destination"].as_str().unwrap_or("")))
        .collect();
    let masked = strings(&ctx.linux()["maskedPaths"]);
    let readonly = strings(&ctx.linux()["readonlyPaths"]);
    for (i, m) in mounts.iter().enumerate() {
        let dest = &dests[i];
        // What was mounted over this entry later: config mounts at the same place, then a
        // masked or read-only path on it.
        let covered = dests[i + 1..].iter().filter(|d| *d == dest).count()
            + masked.iter().filter(|p| clean_path(p) == *dest).count()
            + readonly.iter().filter(|p| clean_path(p) == *dest).count();
        let at: Vec<usize> = (0..ctx.mounts.len())
            .filter(|k| ctx.mounts[*k].mount_point == *dest)
            .collect();
        let name = format!("mounts[{i}] {dest}");
        if at.len() <= covered {
            t.check(false, format!("{name} is a mount point"), || {
                format!("{} mount(s) at {dest} in mountinfo", at.len())
            });
            continue;
        }
        let idx = at[at.len() - 1 - covered];
        one_mount(ctx, t, &name, m, idx);
    }
}

fn one_mount(ctx: &Ctx, t: &mut Tap, name: &str, m: &serde_json::Value, idx: usize) {
    let mi = &ctx.mounts[idx];
    let typ = m["type"].as_str().unwrap_or("");
    let opts = strings(&m["options"]);
    let is_bind = typ == "bind" || opts.iter().any(|o| o == "bind" || o == "rbind");
    let recursive_bind = opts.iter().any(|o| o == "rbind");
    // Everything mounted at or below this mount after it: its own submounts.
    let tree: Vec<&MountInfo> = ctx.mounts[idx..]
        .iter()
        .filter(|x| is_under(&x.mount_point, &mi.mount_point))
        .collect();

    if is_bind {
        bind_source(ctx, t, name, m, mi, recursive_bind);
    } else if typ == "cgroup" {
        // cgroup v1 is a tmpfs holding one mount per hierarchy; v2 is one cgroup2 mount.
        let pass = mi.fstype == "cgroup2"
            || mi.fstype == "cgroup"
            || (mi.fstype == "tmpfs" && tree.iter().any(|x| x.fstype == "cgroup"));
        t.check(
            pass,
            format!("{name} is a cgroup filesystem ({})", mi.fstype),
            || {
                format!(
                    "fstype {} with submounts {:?}",
                    mi.fstype,
                    tree.iter().map(|x| &x.fstype).collect::<Vec<_>>()
                )
            },
        );
    } else {
        t.eq(format!("{name} has type {typ}"), typ, mi.fstype.as_str());
    }

    // Per-mount flags: the last option of each group wins. A cgroup mount's flags hold for
    // each hierarchy below it too.
    let mut last: Vec<(&str, &str)> = Vec::new();
    for o in &opts {
        if flag_expectation(o).is_some() {
            last.retain(|(g, _)| *g != flag_group(o));
            last.push((flag_group(o), o));
        }
    }
    let targets: Vec<&MountInfo> = if typ == "cgroup" {
        tree.clone()
    } else {
        vec![mi]
    };
    for (_, o) in &last {
        flag_on(t, &format!("{name} has {o}"), o, &targets);
    }
    for o in &opts {
        if let Some(flag) = recursive_flag(o) {
            flag_on(
                t,
                &format!("{name} has {o} (every mount below too)"),
                flag,
                &tree,
            );
        }
    }
    if let Some(p) = opts
        .iter()
        .rev()
        .find(|o| PROPAGATION.contains(&o.as_str()))
    {
        let targets: &[&MountInfo] = if p.starts_with('r') {
            &tree
        } else {
            &tree[..1]
        };
        for x in targets {
            propagation_check(t, name, p, x);
        }
    }
    if !is_bind {
        for o in opts.iter().filter(|o| is_data(o)) {
            data_option(ctx, t, name, mi, o);
        }
    }
}

fn flag_on(t: &mut Tap, desc: &str, opt: &str, targets: &[&MountInfo]) {
    let want = flag_expectation(opt).unwrap_or_default();
    let bad: Vec<String> = targets
        .iter()
        .filter(|x| want.iter().any(|(f, present)| x.has_option(f) != *present))
        .map(|x| format!("{}: {}", x.mount_point, x.options.join(",")))
        .collect();
    t.check(bad.is_empty() && !targets.is_empty(), desc, || {
        bad.join("\n")
    });
}

/// A bind mount shows the host's source (same device and inode), and an rbind carries the
/// mounts below the source while a plain bind does not.
fn bind_source(
    ctx: &Ctx,
    t: &mut Tap,
    name: &str,
    m: &serde_json::Value,
    mi: &MountInfo,
    recursive: bool,
) {
    let source = m["source"].as_str().unwrap_or("");
    let Some(src) = ctx.bind_sources.get(source) else {
        t.skip(
            format!("{name} shows its source {source}"),
            "the harness gave no identity for it",
        );
        return;
    };
    let have = sys::stat(&mi.mount_point)
        .map(|s| (s.dev, s.ino))
        .map_err(|e| e.to_string());
    t.eq(
        format!("{name} shows its bind source {source} (device, inode)"),
        Ok((src.dev, src.ino)),
        have,
    );
    for sub in &src.submounts {
        let p = clean_path(&format!("{}/{sub}", mi.mount_point));
        let present = ctx.mounts.iter().any(|x| x.mount_point == p);
        let desc = if recursive {
            format!("{name} (rbind) carries the source's submount {p}")
        } else {
            format!("{name} (bind) does not carry the source's submount {p}")
        };
        t.check(present == recursive, desc, || {
            format!("{p} mounted: {present}")
        });
    }
}

/// A size with an optional k/m/g suffix, in bytes rounded up to whole pages (as tmpfs
/// stores it); `None` for a percentage or garbage.
fn size_bytes(s: &str) -> Option<u64> {
    let (num, mul) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1 << 10),
        'm' | 'M' => (&s[..s.len() - 1], 1 << 20),
        'g' | 'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    let b = num.parse::<u64>().ok()? * mul;
    Some(b.div_ceil(4096) * 4096)
}

fn data_option(ctx: &Ctx, t: &mut Tap, name: &str, mi: &MountInfo, opt: &str) {
    let (key, val) = opt.split_once('=').unwrap_or((opt, ""));
    let fs = mi.fstype.as_str();
    // tmpfs leaves out options at their default: mode 1777, owner root.
    let default = match (fs, key) {
        ("tmpfs", "mode") => Some("1777"),
        ("tmpfs", "uid" | "gid") => Some("0"),
        _ => None,
    };
    let have = mi.super_option(key).or(default);
    let desc = format!("{name} has filesystem option {opt}");
    let why = || format!("superblock options: {}", mi.super_options.join(","));
    let octal = |s: &str| u32::from_str_radix(s, 8).ok();
    match (fs, key) {
        ("tmpfs" | "devpts" | "mqueue", "mode" | "ptmxmode") => t.check(
            have.and_then(octal).is_some() && have.and_then(octal) == octal(val),
            desc,
            why,
        ),
        ("tmpfs", "size") if !val.ends_with('%') => t.check(
            have.and_then(size_bytes).is_some() && have.and_then(size_bytes) == size_bytes(val),
            desc,
            why,
        ),
        ("tmpfs" | "devpts", "uid" | "gid") => {
            // Shown as the host's id (the initial user namespace's), whatever namespace
            // the reader is in.
            let map = if key == "uid" {
                &ctx.uid_map
            } else {
                &ctx.gid_map
            };
            let want = val.parse().ok().and_then(|id| host_id(map, id));
            let have = have.and_then(|h| h.parse::<u64>().ok());
            t.check(want.is_some() && want == have, desc, || {
                format!("want host {key} {want:?}; {}", why())
            })
        }
        ("tmpfs", "nr_inodes") => t.check(have == Some(val), desc, why),
        // newinstance is always on for devpts and not shown; other options are not shown
        // in a form that can be compared.
        _ => t.note(format!(
            "{name}: option {opt} is not visible in mountinfo; not checked"
        )),
    }
}

/// An id of this process's user namespace as the host sees it, through a
/// /proc/self/{uid,gid}_map table.
pub fn host_id(map: &[(u64, u64, u64)], id: u64) -> Option<u64> {
    map.iter()
        .find(|(inside, _, n)| id >= *inside && id < inside + n)
        .map(|(inside, outside, _)| outside + (id - inside))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_to_pages() {
        assert_eq!(size_bytes("65536k"), Some(65536 * 1024));
        assert_eq!(size_bytes("1m"), size_bytes("1024k"));
        assert_eq!(size_bytes("100000"), Some(102400));
        assert_eq!(size_bytes("50%"), None);
    }

    #[test]
    fn option_kinds() {
        assert!(is_data("mode=755"));
        assert!(!is_data("nosuid"));
        assert!(!is_data("rslave"));
        assert!(!is_data("rro"));
        assert_eq!(recursive_flag("rnoexec"), Some("noexec"));
        assert_eq!(flag_group("rw"), flag_group("ro"));
    }
}
