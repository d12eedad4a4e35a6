//! Images written by real tools — dockerd 20.10's `docker save`, podman's and skopeo's OCI
//! archives (gzip and zstd) — unpack to exactly what dockerd shows inside a container of the
//! image, and run under xrun with the same output as `docker run`; store bundles of them do
//! too; and `xrun image save` output goes back into a real dockerd with `docker load`.

mod common;
mod image_support;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use image_support::docker::{fixtures, Dockerd};
use image_support::*;

/// What dockerd adds to a container (its init layer and /.dockerenv), not the image's.
const DOCKER_ONLY: [&str; 8] = [
    ".dockerenv",
    "dev/console",
    "dev/pts",
    "dev/shm",
    "etc/hostname",
    "etc/hosts",
    "etc/mtab",
    "etc/resolv.conf",
];
/// What xrun's init layer adds to a store bundle.
const XRUN_INIT: [&str; 3] = ["etc/hostname", "etc/hosts", "etc/resolv.conf"];

fn without(t: Vec<String>, skip: &[&str]) -> Vec<String> {
    t.into_iter()
        .filter(|l| !skip.iter().any(|s| l.split(' ').next() == Some(s)))
        .collect()
}

/// The container's file system as dockerd shows it (`docker export`), extracted.
fn docker_view(dir: &Path) -> std::path::PathBuf {
    let d = dir.join("docker-view");
    std::fs::create_dir(&d).unwrap();
    let st = std::process::Command::new("tar")
        .args(["--numeric-owner", "-xpf"])
        .arg(fixtures().join("docker-export.tar"))
        .arg("-C")
        .arg(&d)
        .status()
        .unwrap();
    assert!(st.success());
    d
}

fn mtimes(root: &Path, t: &[String]) -> BTreeMap<String, i64> {
    t.iter()
        .filter(|l| l.split(' ').nth(1) == Some("f"))
        .map(|l| {
            let p = l.split(' ').next().unwrap();
            (
                p.to_string(),
                std::fs::metadata(root.join(p)).unwrap().mtime(),
            )
        })
        .collect()
}

#[test]
fn real_archives_unpack_to_what_dockerd_shows_and_run_the_same() {
    let env = common::Env::new();
    let fx = fixtures();
    let want_out = std::fs::read_to_string(fx.join("docker-run.out")).unwrap();
    let view = docker_view(env.dir.path());
    let want = without(tree(&view), &DOCKER_ONLY);
    assert!(
        want.iter().any(|l| l.starts_with("data/null c ")),
        "fixture lacks a device: {want:#?}"
    );
    for (file, image) in [
        ("docker-save", None),
        ("docker-multi", Some("xrun-fixture/app:1")),
        ("podman-oci", None),
        ("skopeo-oci", None),
        ("skopeo-gzip", None),
        ("skopeo-zstd", None),
    ] {
        let b = env.dir.path().join(file);
        let tar = fx.join(format!("{file}.tar"));
        let mut args = vec![
            "image",
            "unpack",
            tar.to_str().unwrap(),
            b.to_str().unwrap(),
        ];
        if let Some(i) = image {
            args.extend(["--image", i]);
        }
        ok(&args);
        let got = tree(&b.join("rootfs"));
        assert_eq!(
            got, want,
            "{file}: rootfs differs from the docker container's"
        );
        assert_eq!(
            mtimes(&b.join("rootfs"), &got),
            mtimes(&view, &want),
            "{file}: file mtimes differ"
        );
        nest_cgroup(&b, &env.cgroup_prefix, file);
        let out = env.ok(&["run", "-b", b.to_str().unwrap(), &env.id(file)]);
        assert_eq!(out, want_out, "{file}: CMD output differs from docker run");
    }
    // The other image of the two-image tarball: docker save stored its layer once, as a
    // symlink to the first copy.
    let b = env.dir.path().join("base");
    let multi = fx.join("docker-multi.tar");
    ok(&[
        "image",
        "unpack",
        "--image",
        "xrun-fixture/base:1",
        multi.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    nest_cgroup(&b, &env.cgroup_prefix, "base");
    assert_eq!(
        env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("base")]),
        "base\n"
    );
}

#[test]
fn store_bundles_of_real_archives_match_and_share_layers() {
    let s = Store::new();
    let env = &s.env;
    let fx = fixtures();
    let st = |a: &[&str]| s.ok(a);
    st(&["load", fx.join("docker-save.tar").to_str().unwrap()]);
    let layers = s.layers();
    // The same image through skopeo (gzip layers, new config digest, same diff_ids).
    st(&["load", fx.join("skopeo-gzip.tar").to_str().unwrap()]);
    assert_eq!(s.layers(), layers, "layers not shared");
    let view = docker_view(env.dir.path());
    let want = without(tree(&view), &DOCKER_ONLY);
    let b = env.dir.path().join("bundle");
    st(&["bundle", "xrun-fixture/app:1", b.to_str().unwrap()]);
    assert_eq!(without(tree(&b.join("rootfs")), &XRUN_INIT), want);
    nest_cgroup(&b, &env.cgroup_prefix, "sb");
    let out = env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("sb")]);
    assert_eq!(
        out,
        std::fs::read_to_string(fx.join("docker-run.out")).unwrap()
    );
    st(&["unbundle", b.to_str().unwrap()]);
    assert!(mounts_under(env.dir.path()).is_empty());
}

#[test]
fn saved_images_load_into_real_docker() {
    let s = Store::new();
    let env = &s.env;
    let fx = fixtures();
    let st = |a: &[&str]| s.ok(a);
    st(&["load", fx.join("docker-save.tar").to_str().unwrap()]);
    let b = env.dir.path().join("bundle");
    st(&[
        "bundle",
        "xrun-fixture/app:1",
        b.to_str().unwrap(),
        "--entrypoint",
        "/bin/sh",
        "--",
        "-c",
        "echo made-by-xrun > /data/new; rm -r /opt/keep; rm /etc/motd",
    ]);
    nest_cgroup(&b, &env.cgroup_prefix, "commit");
    std::fs::set_permissions(&b, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // The image runs as `app`; the changes need root.
    let cfg = b.join("config.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&cfg).unwrap()).unwrap();
    v["process"]["user"] = serde_json::json!({"uid": 0, "gid": 0});
    std::fs::write(&cfg, serde_json::to_vec(&v).unwrap()).unwrap();
    env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("commit")]);
    st(&["commit", b.to_str().unwrap(), "xrun-fixture/committed:1"]);
    st(&["unbundle", b.to_str().unwrap()]);
    let out = env.dir.path().join("out.tar");
    st(&[
        "save",
        "xrun-fixture/app:1",
        "xrun-fixture/committed:1",
        "-o",
        out.to_str().unwrap(),
    ]);

    let d = Dockerd::start();
    let loaded = d.ok(&["load", "-i", out.to_str().unwrap()]);
    assert!(
        loaded.contains("Loaded image: xrun-fixture/app:1"),
        "{loaded}"
    );
    assert!(
        loaded.contains("Loaded image: xrun-fixture/committed:1"),
        "{loaded}"
    );
    // The original comes back with the very id dockerd gave it.
    let id = d.ok(&["image", "inspect", "-f", "{{.Id}}", "xrun-fixture/app:1"]);
    assert_eq!(id, std::fs::read_to_string(fx.join("docker-id")).unwrap());
    let run = d.ok(&["run", "--rm", "--network", "none", "xrun-fixture/app:1"]);
    assert_eq!(
        run,
        std::fs::read_to_string(fx.join("docker-run.out")).unwrap()
    );
    let run = d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "/bin/sh",
        "xrun-fixture/committed:1",
        "-c",
        "cat /data/new; ls /opt; test -e /etc/motd || echo no-motd",
    ]);
    assert_eq!(run, "made-by-xrun\nno-motd\n");
    let hist = d.ok(&[
        "history",
        "--format",
        "{{.CreatedBy}}",
        "xrun-fixture/committed:1",
    ]);
    assert_eq!(hist.lines().next(), Some("xrun image commit"));
}
