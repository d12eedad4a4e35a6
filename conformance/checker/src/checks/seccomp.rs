//! `linux.seccomp`: the filter is in place (`Seccomp: 2`), and each call that a rule denies
//! with SCMP_ACT_ERRNO (and no argument conditions) fails with the rule's errno. Probed with
//! calls on a bad descriptor, which the kernel itself answers with EBADF and which the
//! checker needs for nothing else.

use serde_json::Value;

use crate::context::{strings, Ctx};
use crate::sys;
use crate::tap::Tap;

const PROBES: &[(&str, libc::c_long)] = &[
    ("fsync", libc::SYS_fsync),
    ("fdatasync", libc::SYS_fdatasync),
    ("flock", libc::SYS_flock),
    ("fchdir", libc::SYS_fchdir),
    ("syncfs", libc::SYS_syncfs),
];

pub fn check(ctx: &Ctx, t: &mut Tap) {
    let s = &ctx.linux()["seccomp"];
    let mode = sys::status_field("Seccomp");
    if s.is_null() {
        t.eq(
            "no linux.seccomp: Seccomp 0 in /proc/self/status",
            Some("0".to_string()),
            mode,
        );
        return;
    }
    t.eq(
        "linux.seccomp: Seccomp 2 in /proc/self/status",
        Some("2".to_string()),
        mode,
    );
    let empty = Vec::new();
    for (i, rule) in s["syscalls"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .enumerate()
    {
        let plain = rule["args"].as_array().is_none_or(|a| a.is_empty());
        if rule["action"] != "SCMP_ACT_ERRNO" || !plain {
            continue;
        }
        let want = rule["errnoRet"].as_i64().unwrap_or(libc::EPERM as i64);
        for name in strings(&rule["names"]) {
            if let Some((_, nr)) = PROBES.iter().find(|p| p.0 == name) {
                t.eq(
                    format!("linux.seccomp.syscalls[{i}] {name} fails with errno {want}"),
                    want,
                    probe(*nr),
                );
            }
        }
    }
    // A probe no rule names gets the kernel's own answer under an allowing default.
    if s["defaultAction"] == "SCMP_ACT_ALLOW" {
        let named = |n: &str| {
            s["syscalls"]
                .as_array()
                .unwrap_or(&empty)
                .iter()
                .any(|r: &Value| strings(&r["names"]).iter().any(|x| x == n))
        };
        if let Some((name, nr)) = PROBES.iter().find(|p| !named(p.0)) {
            t.eq(
                format!("linux.seccomp: {name}, named by no rule, is allowed (EBADF)"),
                libc::EBADF as i64,
                probe(*nr),
            );
        }
    }
}

/// The errno of the call on descriptor -1 (0 if it succeeded).
fn probe(nr: libc::c_long) -> i64 {
    // SAFETY: each probe takes a descriptor first; -1 is never one, and the rest is 0.
    let r = unsafe { libc::syscall(nr, -1, 0) };
    if r < 0 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0) as i64
    } else {
        0
    }
}
