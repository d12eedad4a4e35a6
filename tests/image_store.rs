//! The layer store: load, images/inspect/history, overlay bundles with their init layer,
//! unbundle, commit (overlay whiteouts back to `.wh.` entries), save, and rm freeing layers
//! only when nothing uses them.

mod common;
mod image_support;

use std::path::Path;

use image_support::*;
use serde_json::{json, Value};

fn base() -> Vec<u8> {
    Layer::new()
        .busybox()
        .dir("data", 0o755)
        .file("data/a", b"a\n", 0o644)
        .dir("cache", 0o755)
        .file("cache/x", b"x", 0o644)
        .bytes()
}

fn two_images() -> Vec<Image> {
    let a = Image::new(
        "app/a:1",
        vec![base(), Layer::new().file("only-a", b"A\n", 0o644).bytes()],
        &["/bin/cat", "/only-a"],
    );
    let b = Image::new(
        "app/b:1",
        vec![base(), Layer::new().file("only-b", b"B\n", 0o644).bytes()],
        &["/bin/cat", "/only-b"],
    );
    vec![a, b]
}

#[test]
fn load_shares_layers_and_shows_images() {
    let s = Store::new();
    let imgs = two_images();
    let tar = write(
        s.env.dir.path(),
        "two.tar",
        &archive(&imgs, Layout::Legacy, Comp::None),
    );
    let out = xrun_in(&s.args(&["load", "-"]), Some(&tar));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        out.stdout,
        b"Loaded image: app/a:1\nLoaded image: app/b:1\n"
    );
    assert_eq!(s.layers().len(), 3, "the shared base is stored once");
    // Loading again (another layout, same content) adds nothing.
    let tar2 = write(
        s.env.dir.path(),
        "two-oci.tar",
        &archive(&imgs, Layout::OciArchive, Comp::Zstd),
    );
    s.ok(&["load", tar2.to_str().unwrap()]);
    assert_eq!(s.layers().len(), 3);
    let list = s.ok(&["images"]);
    assert!(list.starts_with("REPOSITORY:TAG"), "{list}");
    assert!(
        list.contains("app/a:1") && list.contains("app/b:1"),
        "{list}"
    );
    let v: Value = serde_json::from_str(&s.ok(&["inspect", "app/a:1"])).unwrap();
    assert_eq!(v["RepoTags"], json!(["app/a:1"]));
    assert_eq!(v["Layers"].as_array().unwrap().len(), 2);
    assert_eq!(v["Layers"][0]["DiffID"], json!(sha256(&imgs[0].layers[0])));
    assert_eq!(v["Id"], json!(sha256(&imgs[0].config_bytes())));
    let h = s.ok(&["history", "app/a:1"]);
    assert_eq!(h.lines().count(), 3, "{h}");
    let err = s.fails(&["inspect", "app/c:1"]);
    assert!(err.contains("image app/c:1: not in the store"), "{err}");
}

#[test]
fn a_bad_load_leaves_nothing_behind() {
    let s = Store::new();
    let mut tar = archive(&two_images(), Layout::Legacy, Comp::None);
    let pos = tar.windows(3).rposition(|w| w == b"B\n\0").unwrap();
    tar[pos] = b'b';
    let t = write(s.env.dir.path(), "bad.tar", &tar);
    let err = s.fails(&["load", t.to_str().unwrap()]);
    assert!(
        err.contains("bad.tar: layer sha256:") && err.contains("digest mismatch"),
        "{err}"
    );
    assert_eq!(s.layers(), Vec::<String>::new());
    assert_eq!(s.ok(&["images"]).lines().count(), 1);
    assert_eq!(std::fs::read_dir(s.dir.join("tmp")).unwrap().count(), 0);
}

#[test]
fn overlay_bundle_runs_and_unbundle_cleans_up() {
    let s = Store::new();
    let mut img = two_images().remove(0);
    img.config["config"]["Cmd"] = json!([
        "/bin/sh",
        "-c",
        "cat /only-a /etc/hostname; echo scribble > /data/a"
    ]);
    let tar = write(
        s.env.dir.path(),
        "a.tar",
        &archive(&[img], Layout::Docker25, Comp::Gzip),
    );
    s.ok(&["load", tar.to_str().unwrap()]);
    let b = s.path("bundle");
    let out = s.ok(&["bundle", "app/a:1", b.to_str().unwrap()]);
    assert!(out.starts_with("bundled app/a:1 ("), "{out}");
    let rootfs = b.join("rootfs");
    assert_eq!(
        mounts_under(&rootfs),
        vec![rootfs.clone()],
        "rootfs is a mount"
    );
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = info
        .lines()
        .find(|l| l.contains(rootfs.to_str().unwrap()))
        .unwrap();
    assert!(line.contains(" - overlay "), "{line}");
    let hostname = std::fs::read_to_string(rootfs.join("etc/hostname")).unwrap();
    let cid = hostname.trim().to_string();
    assert!(std::fs::read_to_string(rootfs.join("etc/hosts"))
        .unwrap()
        .contains(&cid));
    nest_cgroup(&b, &s.env.cgroup_prefix, "ov");
    let out = s
        .env
        .ok(&["run", "-b", b.to_str().unwrap(), &s.env.id("ov")]);
    assert_eq!(out, format!("A\n{cid}\n"));
    // The write went to the container's upper dir, not to the shared layer.
    let upper = s.dir.join("containers").join(&cid).join("upper");
    assert_eq!(std::fs::read(upper.join("data/a")).unwrap(), b"scribble\n");
    let layer_a = s
        .dir
        .join("layers")
        .join(&sha256(&base())[7..])
        .join("diff/data/a");
    assert_eq!(std::fs::read(layer_a).unwrap(), b"a\n");
    // A second bundle of the same image is independent.
    let b2 = s.path("bundle2");
    s.ok(&["bundle", "app/a:1", b2.to_str().unwrap()]);
    assert_eq!(std::fs::read(b2.join("rootfs/data/a")).unwrap(), b"a\n");
    // While a container runs from it, the bundle stays.
    let b3 = s.path("bundle3");
    s.ok(&[
        "bundle",
        "app/a:1",
        b3.to_str().unwrap(),
        "--",
        "/bin/sleep",
        "1000",
    ]);
    nest_cgroup(&b3, &s.env.cgroup_prefix, "busy");
    let id = s.env.id("busy");
    s.env
        .ok(&["run", "--detach", "-b", b3.to_str().unwrap(), &id]);
    let err = s.fails(&["unbundle", b3.to_str().unwrap()]);
    assert!(err.contains("in use by a running container"), "{err}");
    assert!(b3.join("rootfs/only-a").exists());
    s.env.ok(&["delete", "--force", &id]);
    s.ok(&["unbundle", b3.to_str().unwrap()]);
    // The container has exited; unbundle unmounts and removes everything.
    let out = s.ok(&["unbundle", b.to_str().unwrap()]);
    assert!(out.contains(&cid), "{out}");
    assert!(mounts_under(&rootfs).is_empty());
    assert!(!b.exists() && !s.dir.join("containers").join(&cid).exists());
    s.ok(&["unbundle", b2.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_dir(s.dir.join("containers")).unwrap().count(),
        0
    );
    // Errors: unknown image, a bundle that is not a store bundle.
    let err = s.fails(&["bundle", "nope:1", s.path("b3").to_str().unwrap()]);
    assert!(err.contains("image nope:1: not in the store"), "{err}");
    assert!(!s.path("b3").exists());
    let err = s.fails(&["unbundle", s.env.dir.path().to_str().unwrap()]);
    assert!(
        err.contains("not a bundle made by `xrun image bundle`"),
        "{err}"
    );
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn commit_turns_the_upper_dir_into_a_layer_and_save_round_trips() {
    let s = Store::new();
    let img = two_images().remove(0);
    let orig_config = img.config_bytes();
    let tar = write(
        s.env.dir.path(),
        "a.tar",
        &archive(&[img], Layout::Legacy, Comp::None),
    );
    s.ok(&["load", tar.to_str().unwrap()]);
    let b = s.path("bundle");
    s.ok(&["bundle", "app/a:1", b.to_str().unwrap(), "--", "/bin/sh", "-c",
           "echo new > /new; rm /only-a; echo changed > /data/a; rm -r /cache; mkdir /cache; echo y > /cache/y; echo h > /etc/hostname"]);
    nest_cgroup(&b, &s.env.cgroup_prefix, "c");
    s.env
        .ok(&["run", "-b", b.to_str().unwrap(), &s.env.id("c")]);
    let out = s.ok(&["commit", "-m", "my change", b.to_str().unwrap(), "app/a:2"]);
    assert!(
        out.starts_with("sha256:") && out.contains("app/a:2"),
        "{out}"
    );
    let v: Value = serde_json::from_str(&s.ok(&["inspect", "app/a:2"])).unwrap();
    assert_eq!(v["Layers"].as_array().unwrap().len(), 3);
    let h = s.ok(&["history", "app/a:2"]);
    let newest = h.lines().nth(1).unwrap();
    assert!(
        newest.contains("xrun image commit") && newest.contains("my change"),
        "{h}"
    );
    s.ok(&["unbundle", b.to_str().unwrap()]);

    // Save both; the original image comes back byte for byte, the new layer has whiteouts.
    let saved = s.path("saved.tar");
    s.ok(&["save", "app/a:1", "app/a:2", "-o", saved.to_str().unwrap()]);
    let data = std::fs::read(&saved).unwrap();
    let manifest: Value =
        serde_json::from_slice(&tar_member(&data, "manifest.json").unwrap()).unwrap();
    assert_eq!(manifest.as_array().unwrap().len(), 2);
    let cfg_name = format!("{}.json", &sha256(&orig_config)[7..]);
    assert_eq!(tar_member(&data, &cfg_name).unwrap(), orig_config);
    let new_diff = v["Layers"][2]["DiffID"].as_str().unwrap();
    let layer = tar_member(&data, &format!("{}/layer.tar", &new_diff[7..])).unwrap();
    assert_eq!(sha256(&layer), new_diff);
    let entries: Vec<String> = tar_entries(&layer).into_iter().map(|(n, _)| n).collect();
    for want in [
        ".wh.only-a",
        "cache/.wh..wh..opq",
        "cache/y",
        "data/a",
        "new",
    ] {
        assert!(
            entries.iter().any(|e| e == want),
            "{want} missing from {entries:?}"
        );
    }
    assert!(
        !entries.iter().any(|e| e.contains("hostname")),
        "init-layer files were committed"
    );
    // The saved archive unpacks (every digest checked) to the committed state.
    let u = s.path("unpacked");
    ok(&[
        "image",
        "unpack",
        "--image",
        "app/a:2",
        saved.to_str().unwrap(),
        u.to_str().unwrap(),
    ]);
    let r = u.join("rootfs");
    assert_eq!(std::fs::read(r.join("new")).unwrap(), b"new\n");
    assert_eq!(std::fs::read(r.join("data/a")).unwrap(), b"changed\n");
    assert!(!r.join("only-a").exists());
    assert_eq!(names(&r.join("cache")), ["y"]);
    // And a store bundle of the committed image shows the same.
    let b2 = s.path("bundle2");
    s.ok(&["bundle", "app/a:2", b2.to_str().unwrap()]);
    assert_eq!(names(&b2.join("rootfs/cache")), ["y"]);
    assert!(!b2.join("rootfs/only-a").exists());
    s.ok(&["unbundle", b2.to_str().unwrap()]);
}

#[test]
fn rm_frees_layers_only_when_no_image_uses_them() {
    let s = Store::new();
    let imgs = two_images();
    let tar = write(
        s.env.dir.path(),
        "two.tar",
        &archive(&imgs, Layout::Legacy, Comp::None),
    );
    s.ok(&["load", tar.to_str().unwrap()]);
    let b = s.path("bundle");
    s.ok(&["bundle", "app/a:1", b.to_str().unwrap()]);
    let err = s.fails(&["rm", "app/a:1"]);
    assert!(err.contains("in use by store bundles"), "{err}");
    s.ok(&["unbundle", b.to_str().unwrap()]);
    let out = s.ok(&["rm", "app/a:1"]);
    assert!(
        out.contains("Untagged: app/a:1") && out.contains("Deleted: sha256:"),
        "{out}"
    );
    assert!(
        out.contains(&format!("Deleted layer: {}", sha256(&imgs[0].layers[1]))),
        "{out}"
    );
    assert_eq!(s.layers().len(), 2, "the base stays for app/b");
    let id = sha256(&imgs[1].config_bytes());
    let out = s.ok(&["rm", &id[7..19]]);
    assert!(out.contains("Untagged: app/b:1"), "{out}");
    assert_eq!(s.layers(), Vec::<String>::new());
    assert!(s.fails(&["inspect", &id]).contains("not in the store"));
}

#[test]
fn a_hardlink_to_a_lower_layer_file_is_copied_up() {
    let s = Store::new();
    let l1 = Layer::new()
        .busybox()
        .file("data", b"shared\n", 0o640)
        .bytes();
    let l2 = Layer::new().hardlink("link", "data").bytes();
    let img = Image::new("hl:1", vec![l1, l2], &["/bin/cat", "/link"]);
    let tar = write(
        s.env.dir.path(),
        "hl.tar",
        &archive(&[img], Layout::Legacy, Comp::None),
    );
    s.ok(&["load", tar.to_str().unwrap()]);
    let b = s.path("bundle");
    s.ok(&["bundle", "hl:1", b.to_str().unwrap()]);
    let m = std::fs::metadata(b.join("rootfs/link")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777,
        0o640
    );
    nest_cgroup(&b, &s.env.cgroup_prefix, "hl");
    assert_eq!(
        s.env
            .ok(&["run", "-b", b.to_str().unwrap(), &s.env.id("hl")]),
        "shared\n"
    );
    s.ok(&["unbundle", b.to_str().unwrap()]);
    // Saved back, the layer is the original hardlink entry, byte for byte.
    let out = s.path("hl-saved.tar");
    s.ok(&["save", "hl:1", "-o", out.to_str().unwrap()]);
    ok(&[
        "image",
        "unpack",
        out.to_str().unwrap(),
        s.path("u").to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(s.path("u/rootfs/link")).unwrap(), b"shared\n");
}
