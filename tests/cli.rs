//! Command-line surface: `spec`, `features`, `--help`/`--version`, runc-style flags.

mod common;

use common::*;
use serde_json::Value;

#[test]
fn spec_matches_runcs_default_config() {
    let ours = default_spec();
    let runc = std::process::Command::new("runc").arg("--version").output();
    if runc.is_err() {
        // Without runc, check the fields tools rely on.
        assert_eq!(ours["process"]["terminal"], true);
        assert_eq!(ours["root"]["path"], "rootfs");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("runc")
        .args(["spec", "--bundle"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut theirs: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap()).unwrap();
    // The only difference: the hostname names the runtime.
    theirs["hostname"] = ours["hostname"].clone();
    assert_eq!(ours, theirs);
}

#[test]
fn spec_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), "{}").unwrap();
    let out = std::process::Command::new(XRUN)
        .args(["spec", "-b"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("config.json")).unwrap(),
        "{}"
    );
}

#[test]
fn features_lists_what_xrun_supports() {
    let out = std::process::Command::new(XRUN)
        .arg("features")
        .output()
        .unwrap();
    assert!(out.status.success());
    let f: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(f["ociVersionMin"], "1.0.0");
    let hooks: Vec<&str> = f["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert_eq!(
        hooks,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ]
    );
    let ns: Vec<&str> = f["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert_eq!(
        ns,
        ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"]
    );
    let opts = f["mountOptions"].as_array().unwrap();
    for o in ["ro", "rbind", "rro", "nosymfollow", "rslave"] {
        assert!(opts.iter().any(|x| x == o), "{o}");
    }
    // Not implemented, so not claimed.
    assert!(!opts.iter().any(|x| x == "idmap"));
    assert_eq!(f["linux"]["mountExtensions"]["idmap"]["enabled"], false);
}

#[test]
fn help_and_version_on_every_command() {
    for cmd in [
        "create", "start", "run", "state", "kill", "delete", "list", "spec", "features", "exec",
    ] {
        let out = std::process::Command::new(XRUN)
            .args([cmd, "--help"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{cmd} --help");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{cmd}"
        );
        let out = std::process::Command::new(XRUN)
            .args([cmd, "--version"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{cmd} --version");
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with("xrun"),
            "{cmd}"
        );
    }
}

#[test]
fn unknown_flags_fail_with_usage() {
    let out = std::process::Command::new(XRUN)
        .args(["state", "--bogus", "x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bogus"));
}
