//! `process.capabilities`, as /proc/self/status shows them.
//!
//! The runtime sets the five sets and then execs this checker, and execve(2) recomputes
//! permitted and effective (capabilities(7)); so those two are compared with what the kernel
//! makes of the configured sets, not with the lists themselves:
//! - ambient' = ambient ∩ permitted ∩ inheritable (the kernel refuses any other ambient cap)
//! - uid 0: permitted' = bounding ∪ inheritable ∪ ambient' — intersected with the configured
//!   permitted set when no_new_privs is on —, effective' = permitted'
//! - other uids: permitted' = effective' = ambient'
//!
//! Bounding and inheritable pass execve unchanged and are compared as listed.

use serde_json::Value;

use crate::context::{strings, Ctx};
use crate::sys;
use crate::tap::Tap;

/// Capability names in kernel order (capability.h); the index is the number.
const NAMES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// A configured list as a bit mask; capabilities this kernel does not have are left out
/// (runtimes ignore them too).
fn mask(list: &Value, last: u32) -> u64 {
    strings(list)
        .iter()
        .filter_map(|n| NAMES.iter().position(|x| x == n))
        .filter(|i| *i as u32 <= last)
        .fold(0, |m, i| m | 1 << i)
}

fn names(m: u64) -> String {
    let v: Vec<&str> = (0..64)
        .filter(|i| m & 1 << i != 0)
        .map(|i| NAMES.get(i).copied().unwrap_or("?"))
        .collect();
    format!("{v:?}")
}

/// The five sets after execve, as `[bounding, effective, inheritable, permitted, ambient]`.
pub fn expected_after_exec(caps: &Value, uid: u32, nnp: bool, last: u32) -> [u64; 5] {
    let b = mask(&caps["bounding"], last);
    let i = mask(&caps["inheritable"], last);
    let p = mask(&caps["permitted"], last);
    let a = mask(&caps["ambient"], last) & p & i;
    // The configured effective set is not observable after execve: see the module comment.
    let (p2, e2) = if uid == 0 {
        let gained = b | i;
        let p2 = if nnp { gained & p } else { gained } | a;
        (p2, p2)
    } else {
        (a, a)
    };
    [b, e2, i, p2, a]
}

pub fn check(ctx: &Ctx, t: &mut Tap) {
    let p = ctx.process();
    let caps = &p["capabilities"];
    let uid = p["user"]["uid"].as_u64().unwrap_or(0) as u32;
    let nnp = p["noNewPrivileges"].as_bool().unwrap_or(false);
    let last = sys::cap_last_cap();
    let conf_a = mask(&caps["ambient"], last);
    let feasible_a = conf_a & mask(&caps["permitted"], last) & mask(&caps["inheritable"], last);
    if conf_a != feasible_a {
        t.note(format!(
            "capabilities.ambient {} are not both permitted and inheritable: the kernel cannot grant them",
            names(conf_a & !feasible_a)
        ));
    }
    let want = expected_after_exec(caps, uid, nnp, last);
    let fields = ["CapBnd", "CapEff", "CapInh", "CapPrm", "CapAmb"];
    let conf = [
        "bounding",
        "effective",
        "inheritable",
        "permitted",
        "ambient",
    ];
    for k in 0..5 {
        let have = sys::status_field(fields[k]).and_then(|s| u64::from_str_radix(&s, 16).ok());
        let pass = have == Some(want[k]);
        t.check(
            pass,
            format!(
                "process.capabilities.{}: {} is {}",
                conf[k],
                fields[k],
                names(want[k])
            ),
            || match have {
                Some(h) => format!(
                    "missing: {}\nextra:   {}",
                    names(want[k] & !h),
                    names(h & !want[k])
                ),
                None => format!("no {} in /proc/self/status", fields[k]),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exec_rules() {
        let c = json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
            "effective": ["CAP_KILL"],
            "permitted": ["CAP_KILL", "CAP_CHOWN"],
            "inheritable": ["CAP_CHOWN"],
            "ambient": ["CAP_CHOWN", "CAP_KILL"]
        });
        let (chown, kill, raw) = (1 << 0, 1 << 5, 1 << 13);
        // Root without no_new_privs regains the bounding set.
        assert_eq!(
            expected_after_exec(&c, 0, false, 40),
            [
                chown | kill | raw,
                chown | kill | raw,
                chown,
                chown | kill | raw,
                chown
            ]
        );
        // no_new_privs keeps root to what was permitted.
        assert_eq!(expected_after_exec(&c, 0, true, 40)[3], chown | kill);
        // Other users keep only the ambient set.
        assert_eq!(
            expected_after_exec(&c, 1000, false, 40),
            [chown | kill | raw, chown, chown, chown, chown]
        );
    }
}
