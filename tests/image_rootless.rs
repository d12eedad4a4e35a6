//! `xrun image unpack --rootless` as an unprivileged user, and `--uid-map/--gid-map` as
//! root: owners shifted for a user namespace, device nodes skipped when unprivileged, and
//! both bundles run under xrun in their user namespace.

mod common;
mod image_support;

use std::os::unix::fs::MetadataExt;

use image_support::*;

#[test]
fn rootless_unpack_runs_unprivileged_with_owners_shifted() {
    let env = common::Env::new();
    let img = busybox_image(&[
        "/bin/sh",
        "-c",
        "stat -c '%u:%g %n' / /data/new /home 2>/dev/null; id -u",
    ]);
    let mut img = img;
    img.layers.push(
        Layer::new()
            .dir_owned("home", 0o755, 1000, 1000)
            .node("null", tar::EntryType::Char, 1, 3)
            .bytes(),
    );
    let tar = write(
        env.dir.path(),
        "img.tar",
        &archive(&[img], Layout::Legacy, Comp::None),
    );
    // As an unprivileged user: everything belongs to that user, devices are skipped.
    let work = env.dir.path().join("u");
    std::fs::create_dir(&work).unwrap();
    std::os::unix::fs::chown(&work, Some(1000), Some(1000)).unwrap();
    std::fs::set_permissions(
        env.dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(&tar, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let b = work.join("bundle");
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=1000",
            "--regid=1000",
            "--clear-groups",
            XRUN,
            "image",
            "unpack",
            "--rootless",
        ])
        .arg(&tar)
        .arg(&b)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(
        line.contains("1 device nodes skipped (unprivileged)"),
        "{line}"
    );
    assert!(
        line.contains("owners outside the id map given to root"),
        "{line}"
    );
    let t = tree(&b.join("rootfs"));
    assert!(t.iter().all(|l| l.contains(" 1000:1000 ")), "{t:#?}");
    let s = spec(&b);
    assert_eq!(
        s["linux"]["uidMappings"],
        serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 1}])
    );
    assert!(s["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["type"] == "user"));

    // That bundle runs in its user namespace, where the caller's files belong to root.
    let ub = work.join("bundle");
    nest_cgroup(&ub, &env.cgroup_prefix, "unpriv");
    let out = env.ok(&["run", "-b", ub.to_str().unwrap(), &env.id("unpriv")]);
    assert_eq!(out, "0:0 /\n0:0 /data/new\n0:0 /home\n0\n");

    // As root with explicit maps: owners shifted, and the bundle runs in the namespace.
    let b = env.dir.path().join("mapped");
    ok(&[
        "image",
        "unpack",
        "--uid-map",
        "0:100000:65536",
        "--gid-map",
        "0:200000:65536",
        tar.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    let meta = |p: &str| std::fs::symlink_metadata(b.join("rootfs").join(p)).unwrap();
    let owner = |p: &str| (meta(p).uid(), meta(p).gid());
    assert_eq!(owner("."), (100000, 200000));
    assert_eq!(owner("data/new"), (100000, 200000));
    assert_eq!(owner("home"), (101000, 201000));
    let s = spec(&b);
    assert_eq!(
        s["linux"]["gidMappings"],
        serde_json::json!([{"containerID": 0, "hostID": 200000, "size": 65536}])
    );
    std::fs::set_permissions(&b, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    nest_cgroup(&b, &env.cgroup_prefix, "mapped");
    let out = env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("mapped")]);
    assert_eq!(out, "0:0 /\n0:0 /data/new\n1000:1000 /home\n0\n");
}
