//! The differential harness: one scenario run under runc (Debian's, the reference) and under
//! xrun, each in a fresh test world, and what each observed compared.
//!
//! A scenario drives the runtime through `Env` (whose commands run the runtime under test)
//! and writes down what it observes: exit statuses, the class of an error, a state, what a
//! container saw. After the scenario the harness adds what is left on the host: state
//! directories, cgroups below the test's prefix, processes in them and mounts under the
//! test's directory. The two lists must be equal; a mismatch prints both, with the raw
//! outputs the scenario kept as details.
#![allow(dead_code)]

use std::fmt::Display;
use std::path::Path;
use std::process::Output;

use super::{cgroup_dirs, stderr, stdout, Env, XRUN};

pub const RUNC: &str = "/usr/sbin/runc";

/// What a scenario saw under one runtime, in the order it saw it.
#[derive(Default)]
pub struct Observed {
    facts: Vec<(String, String)>,
    details: Vec<String>,
}

impl Observed {
    /// Records a fact that must be the same under both runtimes.
    pub fn note(&mut self, key: &str, value: impl Display) {
        self.facts.push((key.to_string(), value.to_string()));
    }

    /// Keeps something for the report without comparing it (raw error text, pids...).
    pub fn detail(&mut self, what: impl Display) {
        self.details.push(what.to_string());
    }

    /// Runs the runtime with `args`, records its exit status under `key` and keeps its
    /// output as a detail.
    pub fn run(&mut self, env: &Env, key: &str, args: &[&str]) -> Output {
        let out = env.xrun(args);
        self.note(key, exit_of(&out));
        self.detail(format!(
            "{key}: {args:?} -> {}\n  stdout: {}\n  stderr: {}",
            exit_of(&out),
            stdout(&out).trim_end(),
            stderr(&out).trim_end()
        ));
        out
    }

    /// Records the container's status as `state` reports it, or `absent` when `state` fails.
    pub fn status(&mut self, env: &Env, key: &str, id: &str) -> String {
        let out = env.xrun(&["state", id]);
        let s = if out.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            v["status"].as_str().unwrap_or("?").to_string()
        } else {
            "absent".to_string()
        };
        self.note(key, &s);
        s
    }
}

/// An exit status as a comparable string: `exit N` or `signal N`.
pub fn exit_of(out: &Output) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (out.status.code(), out.status.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(s)) => format!("signal {s}"),
        _ => "?".into(),
    }
}

/// Runs `scenario` under runc and then under xrun and asserts that both observed the same
/// facts and left the same things behind.
pub fn same_as_runc(name: &str, scenario: impl Fn(&Env, &mut Observed)) {
    assert!(
        Path::new(RUNC).exists(),
        "{RUNC} is missing: the differential tests need Debian's runc (make deps)"
    );
    let runc = observe(Path::new(RUNC), &scenario);
    let xrun = observe(Path::new(XRUN), &scenario);
    if runc.facts != xrun.facts {
        panic!("{}", report(name, &runc, &xrun));
    }
}

/// Runs `scenario` under xrun only, for what runc 1.1.5 gets wrong (a known runc bug the
/// scenario's comment names) or does not have; returns what was observed.
pub fn xrun_only(scenario: impl Fn(&Env, &mut Observed)) -> Vec<(String, String)> {
    observe(Path::new(XRUN), &scenario).facts
}

fn observe(runtime: &Path, scenario: &impl Fn(&Env, &mut Observed)) -> Observed {
    let env = Env::with_runtime(runtime);
    let mut o = Observed::default();
    scenario(&env, &mut o);
    for (k, v) in leftovers(&env) {
        o.note(&k, v);
    }
    o
}

/// What a scenario left on the host: state directories, cgroups and their processes, mounts.
pub fn leftovers(env: &Env) -> Vec<(String, String)> {
    let mut state: Vec<String> = std::fs::read_dir(&env.root)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    state.sort();
    let mut cgroups = Vec::new();
    for d in cgroup_dirs(&env.cgroup_prefix).unwrap_or_default() {
        sub_dirs(&d, &d, &mut cgroups);
    }
    cgroups.sort();
    cgroups.dedup();
    let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter_map(|m| {
            Path::new(m)
                .strip_prefix(env.dir.path())
                .ok()
                .map(|p| p.display().to_string())
        })
        .collect();
    mounts.sort();
    vec![
        ("left: state dirs".into(), format!("{state:?}")),
        ("left: cgroups".into(), format!("{cgroups:?}")),
        (
            "left: processes".into(),
            processes_in(&env.cgroup_prefix).to_string(),
        ),
        ("left: mounts".into(), format!("{mounts:?}")),
    ]
}

fn sub_dirs(base: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().display().to_string());
            sub_dirs(base, &p, out);
        }
    }
}

/// How many live processes sit in a cgroup whose path contains `prefix` (any hierarchy).
pub fn processes_in(prefix: &str) -> usize {
    let needle = format!("/{prefix}/");
    let Ok(d) = std::fs::read_dir("/proc") else {
        return 0;
    };
    d.flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| {
            std::fs::read_to_string(e.path().join("cgroup"))
                .is_ok_and(|c| c.lines().any(|l| format!("{l}/").contains(&needle)))
        })
        .filter(|e| !is_zombie(&e.path()))
        .count()
}

/// A zombie (its parent has not reaped it yet) holds nothing but its pid.
fn is_zombie(proc_dir: &Path) -> bool {
    std::fs::read_to_string(proc_dir.join("stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, r)| r.starts_with('Z')))
        .unwrap_or(true)
}

fn report(name: &str, runc: &Observed, xrun: &Observed) -> String {
    let mut s = format!("scenario {name:?}: xrun differs from runc\n");
    let n = runc.facts.len().max(xrun.facts.len());
    for i in 0..n {
        let r = runc.facts.get(i);
        let x = xrun.facts.get(i);
        let mark = if r == x { "  " } else { "!!" };
        let show = |f: Option<&(String, String)>| {
            f.map(|(k, v)| format!("{k} = {v}"))
                .unwrap_or_else(|| "-".into())
        };
        s += &format!("{mark} runc: {}\n   xrun: {}\n", show(r), show(x));
    }
    s += "-- runc details:\n";
    for d in &runc.details {
        s += &format!("{d}\n");
    }
    s += "-- xrun details:\n";
    for d in &xrun.details {
        s += &format!("{d}\n");
    }
    s
}

/// runc's own default config (`runc spec`), for scenarios that start from what runc writes.
pub fn runc_spec() -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(RUNC)
        .arg("spec")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "runc spec: {}", stderr(&out));
    serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap()).unwrap()
}

/// The bundle path as a string argument.
pub fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}
