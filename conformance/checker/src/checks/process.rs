//! `process`: args, cwd, env, user (uid, gid, additionalGids, umask), rlimits,
//! noNewPrivileges, oomScoreAdj, terminal, and that nothing but stdio was inherited.

use std::collections::{BTreeMap, BTreeSet};

use crate::context::{clean_path, strings, Ctx};
use crate::sys;
use crate::tap::Tap;

pub fn check(ctx: &Ctx, t: &mut Tap) {
    // First, before the checks open anything of their own.
    inherited_fds(t);
    let p = ctx.process();
    let args: Vec<String> = std::env::args().collect();
    t.eq(
        "process.args are the program's argv",
        strings(&p["args"]),
        args,
    );

    let want_cwd = clean_path(p["cwd"].as_str().unwrap_or("/"));
    let cwd = std::env::current_dir().map(|d| d.to_string_lossy().into_owned());
    t.eq(
        format!("process.cwd is {want_cwd}"),
        Ok(want_cwd.clone()),
        cwd.map_err(|e| e.to_string()),
    );

    env(p, t);
    user(p, t);
    rlimits(p, t);

    let nnp = p["noNewPrivileges"].as_bool().unwrap_or(false);
    t.eq(
        format!("process.noNewPrivileges {nnp}: NoNewPrivs in /proc/self/status"),
        Some(if nnp { "1" } else { "0" }.to_string()),
        sys::status_field("NoNewPrivs"),
    );

    if let Some(adj) = p["oomScoreAdj"].as_i64() {
        let got = std::fs::read_to_string("/proc/self/oom_score_adj")
            .map(|s| s.trim().to_string())
            .map_err(|e| e.to_string());
        t.eq(
            format!("process.oomScoreAdj is {adj}"),
            Ok(adj.to_string()),
            got,
        );
    }

    terminal(p, t);
}

/// Each variable of `process.env` has its value; the last entry of a name wins.
fn env(p: &serde_json::Value, t: &mut Tap) {
    let mut want: BTreeMap<String, String> = BTreeMap::new();
    for e in strings(&p["env"]) {
        let (k, v) = e.split_once('=').unwrap_or((&e, ""));
        want.insert(k.to_string(), v.to_string());
    }
    let have: BTreeMap<String, String> = std::env::vars_os()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect();
    for (k, v) in &want {
        t.eq(format!("process.env {k}={v}"), Some(v), have.get(k));
    }
}

/// `Uid:` / `Gid:` lines hold the real, effective, saved and filesystem ids.
fn ids(field: &str) -> Option<Vec<u32>> {
    sys::status_field(field).map(|s| {
        s.split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect()
    })
}

fn user(p: &serde_json::Value, t: &mut Tap) {
    let u = &p["user"];
    let uid = u["uid"].as_u64().unwrap_or(0) as u32;
    let gid = u["gid"].as_u64().unwrap_or(0) as u32;
    t.eq(
        format!("process.user.uid {uid}: real, effective, saved and fs uid"),
        Some(vec![uid; 4]),
        ids("Uid"),
    );
    t.eq(
        format!("process.user.gid {gid}: real, effective, saved and fs gid"),
        Some(vec![gid; 4]),
        ids("Gid"),
    );
    // The supplementary groups are exactly additionalGids (the rootfs's /etc/group lists no
    // members, so nothing else may come from it); the primary gid may or may not be listed.
    let want: BTreeSet<u32> = u["additionalGids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_u64().map(|g| g as u32))
        .collect();
    let mut have: BTreeSet<u32> = ids("Groups").unwrap_or_default().into_iter().collect();
    if !want.contains(&gid) {
        have.remove(&gid);
    }
    t.eq(
        format!("process.user.additionalGids {want:?} are the supplementary groups"),
        want,
        have,
    );
    if let Some(umask) = u["umask"].as_u64() {
        let have = sys::status_field("Umask").and_then(|s| u64::from_str_radix(&s, 8).ok());
        t.eq(format!("process.user.umask {umask:04o}"), Some(umask), have);
    }
}

const RLIMITS: &[(&str, u32)] = &[
    ("RLIMIT_AS", libc::RLIMIT_AS),
    ("RLIMIT_CORE", libc::RLIMIT_CORE),
    ("RLIMIT_CPU", libc::RLIMIT_CPU),
    ("RLIMIT_DATA", libc::RLIMIT_DATA),
    ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE),
    ("RLIMIT_LOCKS", libc::RLIMIT_LOCKS),
    ("RLIMIT_MEMLOCK", libc::RLIMIT_MEMLOCK),
    ("RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE),
    ("RLIMIT_NICE", libc::RLIMIT_NICE),
    ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE),
    ("RLIMIT_NPROC", libc::RLIMIT_NPROC),
    ("RLIMIT_RSS", libc::RLIMIT_RSS),
    ("RLIMIT_RTPRIO", libc::RLIMIT_RTPRIO),
    ("RLIMIT_RTTIME", libc::RLIMIT_RTTIME),
    ("RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING),
    ("RLIMIT_STACK", libc::RLIMIT_STACK),
];

fn rlimits(p: &serde_json::Value, t: &mut Tap) {
    for (i, r) in p["rlimits"].as_array().into_iter().flatten().enumerate() {
        let typ = r["type"].as_str().unwrap_or("");
        let (soft, hard) = (
            r["soft"].as_u64().unwrap_or(0),
            r["hard"].as_u64().unwrap_or(0),
        );
        let desc = format!("process.rlimits[{i}] {typ} is soft {soft} hard {hard}");
        match RLIMITS.iter().find(|(n, _)| *n == typ) {
            Some((_, res)) => {
                let have = sys::getrlimit(*res).map_err(|e| e.to_string());
                t.eq(desc, Ok((soft, hard)), have);
            }
            None => t.check(false, desc, || format!("unknown rlimit type {typ:?}")),
        }
    }
}

/// With a terminal, stdio is the pty slave that /dev/console also shows; without one, it
/// is not a terminal.
fn terminal(p: &serde_json::Value, t: &mut Tap) {
    let term = p["terminal"].as_bool().unwrap_or(false);
    let ttys: Vec<bool> = (0..3).map(sys::isatty).collect();
    t.eq(
        format!("process.terminal {term}: stdin, stdout, stderr are terminals"),
        vec![term; 3],
        ttys,
    );
    if !term {
        return;
    }
    let rdev0 = sys::fstat_rdev(0);
    let pts_major = rdev0.map(sys::major);
    t.check(
        pts_major.is_some_and(|m| (136..=143).contains(&m)),
        "process.terminal: stdin is a pty slave (/dev/pts/N)",
        || format!("stdin rdev major {pts_major:?}"),
    );
    let console = sys::stat("/dev/console");
    t.check(
        console
            .as_ref()
            .is_ok_and(|s| Some(s.rdev) == rdev0 && s.kind == sys::FileKind::Char),
        "process.terminal: /dev/console is the process's terminal",
        || format!("/dev/console: {console:?}, stdin rdev {rdev0:?}"),
    );
}

/// Only stdin, stdout and stderr may reach the container's process: an inherited
/// descriptor of the runtime is a way out of the container.
fn inherited_fds(t: &mut Tap) {
    let entries: Vec<i32> = match std::fs::read_dir("/proc/self/fd") {
        Ok(d) => d
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
            .collect(),
        Err(e) => {
            t.check(false, "no descriptors beyond stdio are inherited", || {
                format!("/proc/self/fd: {e}")
            });
            return;
        }
    };
    // The directory read above had a descriptor of its own, now closed; it no longer
    // resolves.
    let mut extra = Vec::new();
    for fd in entries.into_iter().filter(|fd| *fd > 2) {
        if let Ok(target) = std::fs::read_link(format!("/proc/self/fd/{fd}")) {
            extra.push(format!("{fd} -> {}", target.display()));
        }
    }
    t.eq(
        "no descriptors beyond stdio are inherited",
        Vec::<String>::new(),
        extra,
    );
}
