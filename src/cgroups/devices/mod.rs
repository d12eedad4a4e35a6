//! The device rules of a container: `linux.resources.devices` in order (the last matching
//! rule wins), then an allow rule for each `linux.devices` node, then the devices every
//! container gets (null, zero, full, random, urandom, tty, pts, ptmx, tun; mknod of any),
//! which therefore can never be denied. On cgroup v1 they are written to devices.allow/deny;
//! on v2 they are compiled into a BPF_PROG_TYPE_CGROUP_DEVICE program (see `bpf`).

pub mod bpf;

use std::path::Path;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};

use super::fsio;

/// Access bits, as the BPF context encodes them (BPF_DEVCG_ACC_*).
pub const MKNOD: u8 = 1;
pub const READ: u8 = 2;
pub const WRITE: u8 = 4;
pub const ALL: u8 = MKNOD | READ | WRITE;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    /// 'a' (all), 'b' or 'c'.
    pub kind: char,
    /// None: any.
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: u8,
}

impl Rule {
    /// Matches every device and access.
    pub fn is_wildcard(&self) -> bool {
        self.kind == 'a' && self.access == ALL
    }

    /// `c 1:3 rwm`, the devices.allow line.
    pub fn v1_line(&self) -> String {
        if self.kind == 'a' && self.major.is_none() && self.minor.is_none() {
            return format!("a *:* {}", access_str(self.access));
        }
        let n = |v: Option<i64>| v.map_or("*".to_string(), |v| v.to_string());
        format!(
            "{} {}:{} {}",
            self.kind,
            n(self.major),
            n(self.minor),
            access_str(self.access)
        )
    }
}

fn access_str(a: u8) -> String {
    [(READ, 'r'), (WRITE, 'w'), (MKNOD, 'm')]
        .iter()
        .filter(|(b, _)| a & b != 0)
        .map(|(_, c)| *c)
        .collect()
}

fn parse_access(s: &str) -> Option<u8> {
    s.chars().try_fold(0u8, |acc, c| match c {
        'r' => Some(acc | READ),
        'w' => Some(acc | WRITE),
        'm' => Some(acc | MKNOD),
        _ => None,
    })
}

fn kind_of(t: Option<LinuxDeviceType>) -> Option<char> {
    match t.unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => Some('a'),
        LinuxDeviceType::B => Some('b'),
        LinuxDeviceType::C | LinuxDeviceType::U => Some('c'),
        LinuxDeviceType::P => None,
    }
}

pub fn validate(devices: &[LinuxDeviceCgroup], at: &str) -> Result<()> {
    for (i, d) in devices.iter().enumerate() {
        if kind_of(d.typ()).is_none() {
            bail!("{at}[{i}].type: must be a, b or c");
        }
        let access = d.access().as_deref().unwrap_or("rwm");
        if parse_access(access).is_none() {
            bail!("{at}[{i}].access: {access:?} may only contain r, w and m");
        }
        for (name, v) in [("major", d.major()), ("minor", d.minor())] {
            if let Some(v) = v.filter(|v| *v < -1) {
                bail!("{at}[{i}].{name}: {v} is not a device number (-1 for any)");
            }
        }
    }
    Ok(())
}

/// The full rule list, in order.
pub fn rules(cgroup_rules: &[LinuxDeviceCgroup], nodes: &[LinuxDevice]) -> Vec<Rule> {
    let num = |v: Option<i64>| v.filter(|v| *v >= 0);
    let mut out: Vec<Rule> = cgroup_rules
        .iter()
        .filter_map(|d| {
            Some(Rule {
                allow: d.allow(),
                kind: kind_of(d.typ())?,
                major: num(d.major()),
                minor: num(d.minor()),
                access: parse_access(d.access().as_deref().unwrap_or("rwm"))
                    .filter(|a| *a != 0)
                    .unwrap_or(ALL),
            })
        })
        .collect();
    for n in nodes {
        if let Some(kind) = kind_of(Some(n.typ())).filter(|k| *k != 'a') {
            out.push(Rule {
                allow: true,
                kind,
                major: Some(n.major()),
                minor: Some(n.minor()),
                access: ALL,
            });
        }
    }
    out.extend(defaults());
    out
}

/// What runc allows every container.
fn defaults() -> Vec<Rule> {
    let c = |major: Option<i64>, minor: Option<i64>, access| Rule {
        allow: true,
        kind: 'c',
        major,
        minor,
        access,
    };
    vec![
        c(None, None, MKNOD),
        Rule {
            kind: 'b',
            ..c(None, None, MKNOD)
        },
        c(Some(1), Some(3), ALL),    // null
        c(Some(1), Some(5), ALL),    // zero
        c(Some(1), Some(7), ALL),    // full
        c(Some(1), Some(8), ALL),    // random
        c(Some(1), Some(9), ALL),    // urandom
        c(Some(5), Some(0), ALL),    // tty
        c(Some(5), Some(1), ALL),    // console
        c(Some(5), Some(2), ALL),    // ptmx
        c(Some(136), None, ALL),     // pts/*
        c(Some(10), Some(200), ALL), // net/tun
    ]
}

/// cgroup v1: the rules become writes to devices.deny / devices.allow. A wildcard rule
/// resets the list (deny all, or allow all), so a deny-all first gives a whitelist.
pub fn apply_v1(dir: &Path, rules: &[Rule], at: &str) -> Result<()> {
    // Only what follows the last wildcard matters.
    let start = rules.iter().rposition(Rule::is_wildcard).unwrap_or(0);
    for r in &rules[start..] {
        let file = if r.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        let line = if r.is_wildcard() {
            "a".to_string()
        } else {
            r.v1_line()
        };
        fsio::write(dir, file, &line).with_context(|| at.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_rules_deny_all_then_allow_defaults() {
        let deny_all: LinuxDeviceCgroup =
            serde_json::from_str(r#"{"allow": false, "access": "rwm"}"#).unwrap();
        let r = rules(&[deny_all], &[]);
        assert!(r[0].is_wildcard() && !r[0].allow);
        assert_eq!(r[0].v1_line(), "a *:* rwm");
        assert!(r.iter().any(|x| x.v1_line() == "c 1:3 rwm" && x.allow));
        assert!(r.iter().any(|x| x.v1_line() == "c 136:* rwm"));
        assert!(r.iter().any(|x| x.v1_line() == "b *:* m"));
    }

    #[test]
    fn bad_rules_are_refused() {
        let bad: LinuxDeviceCgroup =
            serde_json::from_str(r#"{"allow": true, "type": "c", "access": "rwx"}"#).unwrap();
        let e = validate(&[bad], "config.json: linux.resources.devices").unwrap_err();
        assert!(e.to_string().contains("devices[0].access"), "{e}");
    }
}
