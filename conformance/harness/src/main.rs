//! The conformance harness: builds a bundle per case of the matrix, runs the checker in it
//! under the runtime (`xrun`, or `runc` to validate the checker itself), collects the TAP,
//! prints a summary and exits 1 on any `not ok`, or on a case whose checker never finished.
//!
//! Usage: conformance [--runtime PROG] [--checker PATH] [--xrun PATH] [--only NAME,...]
//!                    [--keep] [--verbose]

mod bundle;
mod cases;
mod host;
mod run;
mod tap;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use cases::{Case, Prep, CASES};

struct Opts {
    runtime: String,
    checker: PathBuf,
    xrun: String,
    only: Vec<String>,
    keep: bool,
    verbose: bool,
}

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts {
        runtime: std::env::var("RUNTIME").unwrap_or_else(|_| "target/release/xrun".into()),
        checker: "target/x86_64-unknown-linux-gnu/release/checker".into(),
        xrun: "target/release/xrun".into(),
        only: Vec::new(),
        keep: false,
        verbose: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--runtime" => o.runtime = val()?,
            "--checker" => o.checker = val()?.into(),
            "--xrun" => o.xrun = val()?,
            "--only" => o.only = val()?.split(',').map(String::from).collect(),
            "--keep" => o.keep = true,
            "--verbose" | "-v" => o.verbose = true,
            "--list" => {
                for c in CASES {
                    println!("{:<18} {}", c.name, c.about);
                }
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument {a:?}")),
        }
    }
    if let Some(bad) = o.only.iter().find(|n| !CASES.iter().any(|c| c.name == *n)) {
        return Err(format!("no case named {bad:?} (see --list)"));
    }
    Ok(o)
}

/// Totals over all cases.
#[derive(Default)]
struct Totals {
    passed: usize,
    failed: usize,
    skipped: usize,
    broken: Vec<String>,
}

fn main() {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("conformance: {e}");
            std::process::exit(2);
        }
    };
    for (what, p) in [
        ("checker", &o.checker),
        ("busybox", &PathBuf::from(bundle::BUSYBOX)),
    ] {
        if !p.exists() {
            eprintln!(
                "conformance: {what} {} is missing (make conformance builds it)",
                p.display()
            );
            std::process::exit(2);
        }
    }
    let work = match host::WorkDir::new(o.keep) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("conformance: {e} (run as root)");
            std::process::exit(2);
        }
    };
    let cgroup_prefix = format!("xrun-conformance-{}", std::process::id());
    if !o.keep {
        host::clean_up_on_panic(work.path.clone(), cgroup_prefix.clone());
    }
    println!("runtime: {}", o.runtime);
    let started = Instant::now();
    let mut totals = Totals::default();
    let selected: Vec<&Case> = CASES
        .iter()
        .filter(|c| o.only.is_empty() || o.only.iter().any(|n| n == c.name))
        .collect();
    for case in &selected {
        run_case(&o, case, &work.path, &cgroup_prefix, &mut totals);
    }
    host::remove_cgroups(&cgroup_prefix);
    drop(work);
    println!(
        "\nconformance under {}: {} cases in {:.1}s",
        o.runtime,
        selected.len(),
        started.elapsed().as_secs_f64()
    );
    for b in &totals.broken {
        println!("  broken: {b}");
    }
    println!(
        "conformance: {} passed, {} failed, {} skipped",
        totals.passed,
        totals.failed + totals.broken.len(),
        totals.skipped
    );
    if totals.failed > 0 || !totals.broken.is_empty() {
        std::process::exit(1);
    }
}

fn run_case(o: &Opts, case: &Case, work: &Path, cgroups: &str, totals: &mut Totals) {
    let t0 = Instant::now();
    let id = format!("conformance-{}-{}", case.name, std::process::id());
    let state = work.join("state");
    let rt = run::Runtime {
        program: &o.runtime,
        state: &state,
    };
    let result = prepare_and_run(o, case, work, cgroups, &id, &rt);
    // Whatever happened: no container, no cgroup left (the prep's resources went with it).
    rt.force_delete(&id);
    host::remove_cgroups(&format!("{cgroups}/{}", case.name));
    let took = t0.elapsed().as_secs_f64();
    let (outcome, mut report) = match result {
        Ok(r) => r,
        Err(e) => {
            println!("{:<18} BROKEN: {e}", case.name);
            totals.broken.push(format!("{}: {e}", case.name));
            return;
        }
    };
    if let Some((_, expected)) = case.tamper {
        self_test(&mut report, expected);
    }
    totals.passed += report.passed;
    totals.skipped += report.skipped;
    totals.failed += report.failures.len();
    println!(
        "{:<18} {:>3} ok, {} not ok, {} skipped  [{took:.2}s]  {}",
        case.name,
        report.passed,
        report.failures.len(),
        report.skipped,
        case.about
    );
    for f in &report.failures {
        println!("    not ok {f}");
    }
    if !report.clean() && report.failures.is_empty() {
        let why = match (&report.bail_out, outcome.timed_out) {
            (Some(b), _) => format!("checker bailed out: {b}"),
            (None, true) => "timed out".to_string(),
            (None, false) => format!(
                "checker did not finish ({} checks, plan {:?}); runtime exit {:?}",
                report.count(),
                report.plan,
                outcome.status
            ),
        };
        println!("    BROKEN: {why}");
        let err = outcome.stderr.trim();
        if !err.is_empty() {
            println!("    runtime stderr: {}", err.replace('\n', "\n    "));
        }
        totals.broken.push(format!("{}: {why}", case.name));
    } else if o.verbose {
        print!("{}", outcome.output.replace('\r', ""));
    }
}

/// Turns a self-test's report into pass/fail: each expected failure seen is a pass, an
/// expected failure not seen or a failure not expected is a failure.
fn self_test(report: &mut tap::Report, expected: &[&str]) {
    // A failure reads "12 - description\n#   diagnostics".
    let desc = |f: &str| {
        f.split_once(" - ")
            .map(|(_, d)| d.to_string())
            .unwrap_or_default()
    };
    let mut seen = vec![false; expected.len()];
    let mut failures = Vec::new();
    for f in std::mem::take(&mut report.failures) {
        let d = desc(&f);
        match expected.iter().position(|e| d.starts_with(e)) {
            Some(k) => {
                seen[k] = true;
                report.passed += 1;
            }
            None => failures.push(format!("{f}\n#   (not one of the tampered fields)")),
        }
    }
    for (e, seen) in expected.iter().zip(seen) {
        if !seen {
            failures.push(format!("- tampered {e:?} was not caught"));
        }
    }
    report.failures = failures;
}

fn prepare_and_run(
    o: &Opts,
    case: &Case,
    work: &Path,
    cgroups: &str,
    id: &str,
    rt: &run::Runtime,
) -> Result<(run::Outcome, tap::Report), String> {
    let b = cases::bundle_dir(work, case.name);
    let rootfs = b.join("rootfs");
    bundle::rootfs(&rootfs, &o.checker).map_err(|e| format!("rootfs: {e}"))?;
    let mut spec =
        bundle::default_spec(&o.xrun, &b, case.rootless_base).map_err(|e| format!("spec: {e}"))?;
    spec["process"]["terminal"] = json!(false);
    spec["process"]["args"] = json!(["/.conformance/checker"]);
    spec["linux"]["cgroupsPath"] = json!(format!("{cgroups}/{}", case.name));
    let mut prep = Prep {
        bundle: b.clone(),
        rootfs,
        tag: format!("{}-{}", std::process::id(), case.name),
        case: case.name,
        hold: Vec::new(),
    };
    (case.edit)(&mut spec, &mut prep).map_err(|e| format!("prepare: {e}"))?;
    let mut for_checker = spec.clone();
    if let Some((tamper, _)) = case.tamper {
        tamper(&mut for_checker);
    }
    bundle::write(&b, &spec, &for_checker).map_err(|e| format!("write bundle: {e}"))?;
    let terminal = spec["process"]["terminal"].as_bool().unwrap_or(false);
    let outcome = rt
        .run(&b, id, terminal, Duration::from_secs(60))
        .map_err(|e| format!("run {}: {e}", o.runtime))?;
    let report = tap::parse(&outcome.output);
    // The prep's resources (netns, holder) are dropped here, after the container ran.
    drop(prep);
    Ok((outcome, report))
}
