//! /dev: the default devices of the runtime spec, `linux.devices`, and the standard
//! symlinks (/dev/fd, /dev/std*, /dev/ptmx).

use crate::context::{clean_path, Ctx};
use crate::sys::{self, FileKind};
use crate::tap::Tap;

const DEFAULTS: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

pub fn check(ctx: &Ctx, t: &mut Tap) {
    let configured: Vec<String> = ctx.linux()["devices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["path"].as_str().map(clean_path))
        .collect();
    for (path, major, minor) in DEFAULTS {
        if configured.iter().any(|c| c == path) {
            continue;
        }
        let st = sys::lstat(path);
        let got = st
            .as_ref()
            .ok()
            .map(|s| (s.kind, sys::major(s.rdev), sys::minor(s.rdev)));
        t.eq(
            format!("default device {path} is char {major}:{minor}"),
            Some((FileKind::Char, *major, *minor)),
            got,
        );
        t.eq(
            format!("default device {path} has mode 0666"),
            Some(0o666),
            st.ok().map(|s| s.mode & 0o777),
        );
    }
    config_devices(ctx, t);
    symlinks(t);
}

fn config_devices(ctx: &Ctx, t: &mut Tap) {
    let userns = ctx.in_userns();
    for (i, d) in ctx.linux()["devices"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let path = clean_path(d["path"].as_str().unwrap_or(""));
        let typ = d["type"].as_str().unwrap_or("");
        let kind = match typ {
            "c" | "u" => FileKind::Char,
            "b" => FileKind::Block,
            "p" => FileKind::Fifo,
            _ => FileKind::Other,
        };
        let name = format!("linux.devices[{i}] {path}");
        let st = match sys::lstat(&path) {
            Ok(s) => s,
            Err(e) => {
                t.check(false, format!("{name} exists"), || e.to_string());
                continue;
            }
        };
        t.eq(format!("{name} is of type {typ}"), kind, st.kind);
        if kind != FileKind::Fifo {
            let (ma, mi) = (
                d["major"].as_u64().unwrap_or(0),
                d["minor"].as_u64().unwrap_or(0),
            );
            t.eq(
                format!("{name} is {ma}:{mi}"),
                (ma, mi),
                (sys::major(st.rdev), sys::minor(st.rdev)),
            );
        }
        let why_not = "in a user namespace a device is a bind mount of the host's node \
                       (mknod is refused there), with the host's mode and owner";
        if let Some(mode) = d["fileMode"].as_u64() {
            let desc = format!("{name} has mode {:04o}", mode & 0o7777);
            if userns {
                t.skip(desc, why_not);
            } else {
                t.eq(desc, mode as u32 & 0o7777, st.mode);
            }
        }
        for (key, have) in [("uid", st.uid), ("gid", st.gid)] {
            if let Some(want) = d[key].as_u64() {
                let desc = format!("{name} has {key} {want}");
                if userns {
                    t.skip(desc, why_not);
                } else {
                    t.eq(desc, want as u32, have);
                }
            }
        }
    }
}

fn symlinks(t: &mut Tap) {
    for (link, target) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        let have = std::fs::read_link(link).map(|p| p.to_string_lossy().into_owned());
        t.eq(
            format!("{link} is a symlink to {target}"),
            Ok(target.to_string()),
            have.map_err(|e| e.to_string()),
        );
    }
    // A symlink to pts/ptmx or a bind mount of it: either way the same file.
    let ptmx = sys::stat("/dev/ptmx").map(|s| (s.dev, s.ino));
    let pts = sys::stat("/dev/pts/ptmx").map(|s| (s.dev, s.ino));
    t.check(
        matches!((&ptmx, &pts), (Ok(a), Ok(b)) if a == b),
        "/dev/ptmx is the container's /dev/pts/ptmx",
        || format!("/dev/ptmx: {ptmx:?}\n/dev/pts/ptmx: {pts:?}"),
    );
}
