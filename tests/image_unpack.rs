//! `xrun image unpack`: every archive layout and compression, whiteouts, file kinds and
//! metadata, digests, image selection, config conversion, progress. (Rootless unpacks are
//! in image_rootless.rs.)
//! (The attacks a hostile layer can try are in image_attacks.rs.)

mod common;
mod image_support;

use std::os::unix::fs::MetadataExt;

use image_support::*;

#[test]
fn every_layout_and_compression_unpacks_to_the_same_rootfs() {
    let dir = tempfile::tempdir().unwrap();
    let img = [busybox_image(&["/bin/true"])];
    let mut trees = Vec::new();
    for layout in [Layout::Legacy, Layout::Docker25, Layout::OciArchive] {
        for comp in [Comp::None, Comp::Gzip, Comp::Zstd] {
            let name = format!("{layout:?}-{comp:?}");
            let tar = write(
                dir.path(),
                &format!("{name}.tar"),
                &archive(&img, layout, comp),
            );
            let b = dir.path().join(&name);
            let out = ok(&[
                "image",
                "unpack",
                tar.to_str().unwrap(),
                b.to_str().unwrap(),
            ]);
            assert!(out.starts_with("unpacked test/busybox:1 ("), "{out}");
            assert!(out.contains("2 layers"), "{out}");
            trees.push((name, tree(&b.join("rootfs"))));
        }
    }
    let first = &trees[0].1;
    assert!(
        first.iter().any(|l| l.starts_with("data/new f 600 0:0")),
        "{first:#?}"
    );
    assert!(
        !first.iter().any(|l| l.starts_with("data/old")),
        "whiteout ignored"
    );
    for (name, t) in &trees {
        assert_eq!(t, first, "{name} differs");
    }
}

#[test]
fn stdin_and_compressed_outer_tarballs_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let tar = archive(&[busybox_image(&["/bin/true"])], Layout::Legacy, Comp::None);
    let plain = write(dir.path(), "img.tar", &tar);
    let gz = write(dir.path(), "img.tar.gz", &compress(&tar, Comp::Gzip));
    let b1 = dir.path().join("b1");
    let out = xrun_in(
        &["image", "unpack", "-", b1.to_str().unwrap()],
        Some(&plain),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b2 = dir.path().join("b2");
    ok(&[
        "image",
        "unpack",
        gz.to_str().unwrap(),
        b2.to_str().unwrap(),
    ]);
    assert_eq!(tree(&b1.join("rootfs")), tree(&b2.join("rootfs")));
    // An OCI image layout directory (as `skopeo copy ... oci:DIR` writes) reads the same.
    let oci = archive(
        &[busybox_image(&["/bin/true"])],
        Layout::OciArchive,
        Comp::Gzip,
    );
    let layout = dir.path().join("layout");
    std::fs::create_dir(&layout).unwrap();
    tar::Archive::new(&oci[..]).unpack(&layout).unwrap();
    let b3 = dir.path().join("b3");
    ok(&[
        "image",
        "unpack",
        layout.to_str().unwrap(),
        b3.to_str().unwrap(),
    ]);
    assert_eq!(tree(&b1.join("rootfs")), tree(&b3.join("rootfs")));
    assert_eq!(std::fs::read(b1.join("rootfs/data/new")).unwrap(), b"new\n");
}

#[test]
fn unpacked_bundle_runs_the_image_cmd() {
    let env = common::Env::new();
    let mut img = busybox_image(&[
        "/bin/sh",
        "-c",
        "echo $GREETING from $(pwd) as $(id -u):$(id -g):$(id -G); cat /data/new",
    ]);
    img.config["config"]["Env"] = serde_json::json!(["PATH=/bin", "GREETING=hello"]);
    img.config["config"]["WorkingDir"] = serde_json::json!("/data");
    img.config["config"]["User"] = serde_json::json!("app");
    // /data/new is 0600 root: make it readable for the app user in the top layer.
    img.layers[1] = Layer::new()
        .dir("data", 0o755)
        .whiteout("data/old")
        .file("data/new", b"new\n", 0o644)
        .bytes();
    let b = unpack_to(env.dir.path(), &[img], Layout::Legacy, Comp::Gzip, "run");
    let s = spec(&b);
    assert_eq!(
        s["process"]["user"],
        serde_json::json!({"uid": 1000, "gid": 1000, "additionalGids": [50]})
    );
    nest_cgroup(&b, &env.cgroup_prefix, "run");
    let out = env.ok(&["run", "--bundle", b.to_str().unwrap(), &env.id("img")]);
    assert_eq!(out, "hello from /data as 1000:1000:1000 50\nnew\n");
}

#[test]
fn command_overrides_replace_cmd_and_entrypoint() {
    let env = common::Env::new();
    let mut img = busybox_image(&["ignored"]);
    img.config["config"]["Entrypoint"] = serde_json::json!(["/bin/echo", "entry"]);
    let tar = write(
        env.dir.path(),
        "img.tar",
        &archive(&[img], Layout::Docker25, Comp::Zstd),
    );
    let b = env.dir.path().join("ov");
    ok(&[
        "image",
        "unpack",
        tar.to_str().unwrap(),
        b.to_str().unwrap(),
        "--",
        "from",
        "cmd",
    ]);
    assert_eq!(
        spec(&b)["process"]["args"],
        serde_json::json!(["/bin/echo", "entry", "from", "cmd"])
    );
    nest_cgroup(&b, &env.cgroup_prefix, "ov");
    assert_eq!(
        env.ok(&["run", "-b", b.to_str().unwrap(), &env.id("ov")]),
        "entry from cmd\n"
    );
    let b2 = env.dir.path().join("ov2");
    ok(&[
        "image",
        "unpack",
        "--entrypoint",
        "/bin/id",
        tar.to_str().unwrap(),
        b2.to_str().unwrap(),
    ]);
    assert_eq!(spec(&b2)["process"]["args"], serde_json::json!(["/bin/id"]));
}

#[test]
fn whiteouts_hide_only_lower_layers_and_opaque_dirs_reset() {
    let dir = tempfile::tempdir().unwrap();
    let l1 = Layer::new()
        .dir("a", 0o755)
        .file("a/keep", b"1", 0o644)
        .file("a/gone", b"1", 0o644)
        .dir("o", 0o755)
        .file("o/old1", b"1", 0o644)
        .dir("o/sub", 0o755)
        .file("o/sub/old2", b"1", 0o644)
        .dir("w", 0o755)
        .file("w/x", b"lower", 0o644);
    // Layer 2: the opaque marker comes after a new child (order must not matter), and a
    // whiteout of a name this same layer creates must not remove the new one.
    let l2 = Layer::new()
        .whiteout("a/gone")
        .dir("o", 0o700)
        .file("o/-first", b"2", 0o644)
        .opaque("o")
        .file("o/new", b"2", 0o644)
        .dir("w", 0o755)
        .file("w/x", b"upper", 0o644)
        .whiteout("w/x")
        .whiteout("never/existed");
    let img = Image::new("t:1", vec![l1.bytes(), l2.bytes()], &["/x"]);
    let b = unpack_to(dir.path(), &[img], Layout::Legacy, Comp::None, "b");
    let r = b.join("rootfs");
    let names = |d: &str| {
        let mut v: Vec<String> = std::fs::read_dir(r.join(d))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("a"), ["keep"]);
    assert_eq!(names("o"), ["-first", "new"]);
    assert_eq!(
        std::fs::metadata(r.join("o")).unwrap().mode() & 0o777,
        0o700
    );
    assert_eq!(std::fs::read(r.join("w/x")).unwrap(), b"upper");
    assert!(!r.join("never").exists(), "a whiteout created its parent");
}

#[test]
fn file_kinds_owners_modes_times_and_xattrs_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let l = Layer::new()
        .dir_owned("home", 0o755, 1000, 1000)
        .file_owned("home/f", b"data", 0o4755, 1000, 50)
        .file("g", b"sticky", 0o2644)
        .hardlink("home/hard", "home/f")
        .symlink("home/link", "../g")
        .node("dev-null", tar::EntryType::Char, 1, 3)
        .node("blk", tar::EntryType::Block, 7, 0)
        .node("fifo", tar::EntryType::Fifo, 0, 0)
        .file_xattr("xa", b"x", "user.test", b"value")
        // A setgid directory must not pass its group to a root-owned file.
        .dir_owned("sg", 0o2775, 0, 50)
        .file("sg/rootfile", b"r", 0o644);
    let img = Image::new("t:1", vec![l.bytes()], &["/x"]);
    let b = unpack_to(dir.path(), &[img], Layout::OciArchive, Comp::Gzip, "b");
    let r = b.join("rootfs");
    let t = tree(&r);
    let find = |p: &str| {
        t.iter()
            .find(|l| l.starts_with(&format!("{p} ")))
            .unwrap_or_else(|| panic!("{p} missing: {t:#?}"))
            .clone()
    };
    assert!(find("home").starts_with("home d 755 1000:1000"));
    assert!(find("home/f").starts_with("home/f f 4755 1000:50"));
    assert!(find("g").starts_with("g f 2644 0:0"));
    assert_eq!(find("home/link"), "home/link l 0 0:0 ../g");
    assert_eq!(find("dev-null"), "dev-null c 640 0:0 1:3");
    assert_eq!(find("blk"), "blk c 640 0:0 7:0");
    assert!(find("fifo").starts_with("fifo p 640"));
    assert!(find("sg").starts_with("sg d 2775 0:50"));
    assert!(
        find("sg/rootfile").starts_with("sg/rootfile f 644 0:0"),
        "{}",
        find("sg/rootfile")
    );
    let f = std::fs::metadata(r.join("home/f")).unwrap();
    assert_eq!(
        f.ino(),
        std::fs::metadata(r.join("home/hard")).unwrap().ino(),
        "hardlink"
    );
    assert_eq!(f.mtime(), MTIME as i64);
    assert_eq!(
        std::fs::metadata(r.join("home")).unwrap().mtime(),
        MTIME as i64,
        "dir mtime"
    );
    let mut buf = [0u8; 16];
    let p = std::ffi::CString::new(r.join("xa").to_str().unwrap()).unwrap();
    // SAFETY: valid C strings and buffer.
    let n = unsafe {
        libc::lgetxattr(
            p.as_ptr(),
            c"user.test".as_ptr(),
            buf.as_mut_ptr().cast(),
            16,
        )
    };
    assert_eq!(&buf[..n.max(0) as usize], b"value");
}

#[test]
fn a_corrupt_layer_or_config_is_named_and_nothing_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let img = busybox_image(&["/x"]);
    let good = archive(&[img], Layout::Legacy, Comp::None);
    // Flip one byte inside the second layer's file data ("new\n").
    let pos = good.windows(4).rposition(|w| w == b"new\n").unwrap();
    let mut bad = good.clone();
    bad[pos] = b'N';
    let tar = write(dir.path(), "bad.tar", &bad);
    let b = dir.path().join("b");
    let err = fails(&[
        "image",
        "unpack",
        tar.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    let diff_id = sha256(&busybox_image(&["/x"]).layers[1]);
    assert!(
        err.contains(&format!("bad.tar: layer {diff_id}: digest mismatch")),
        "{err}"
    );
    assert!(!b.exists(), "half bundle left behind");
    // The config's digest is its file name.
    let cfg_pos = good.windows(9).position(|w| w == b"\"amd64\",\"").unwrap();
    let mut bad = good;
    bad[cfg_pos + 1] = b'A';
    let tar = write(dir.path(), "badcfg.tar", &bad);
    let err = fails(&[
        "image",
        "unpack",
        tar.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert!(
        err.contains("badcfg.tar: ") && err.contains(".json: digest mismatch"),
        "{err}"
    );
    assert!(!b.exists());
    // An existing non-empty bundle directory is refused and kept.
    std::fs::create_dir(&b).unwrap();
    std::fs::write(b.join("mine"), "x").unwrap();
    let tar = write(
        dir.path(),
        "ok.tar",
        &archive(&[busybox_image(&["/x"])], Layout::Legacy, Comp::None),
    );
    let err = fails(&[
        "image",
        "unpack",
        tar.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert!(err.contains("exists and is not empty"), "{err}");
    assert!(b.join("mine").exists());
    // A truncated archive, and a manifest naming a member that is not there.
    let whole = archive(&[busybox_image(&["/x"])], Layout::Legacy, Comp::None);
    let cut = write(dir.path(), "cut.tar", &whole[..whole.len() / 2]);
    let err = fails(&[
        "image",
        "unpack",
        cut.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert!(
        err.contains("cut.tar: not a valid tar archive: truncated"),
        "{err}"
    );
    let img = busybox_image(&["/x"]);
    let mut bad = archive(&[img], Layout::Docker25, Comp::None);
    let manifest = tar_member(&bad, "manifest.json").unwrap();
    let pos = bad
        .windows(manifest.len())
        .position(|w| w == manifest.as_slice())
        .unwrap();
    let m = String::from_utf8(manifest.clone()).unwrap();
    let first = m.find("blobs/sha256/").unwrap() + 13;
    bad[pos + first] = if bad[pos + first] == b'0' { b'1' } else { b'0' };
    let t = write(dir.path(), "missing.tar", &bad);
    let err = fails(&["image", "unpack", t.to_str().unwrap(), b.to_str().unwrap()]);
    assert!(
        err.contains("missing.tar: ") && err.contains("no such file in the archive"),
        "{err}"
    );
    // Not an archive at all.
    let junk = write(dir.path(), "junk.tar", b"hello");
    let err = fails(&[
        "image",
        "unpack",
        junk.to_str().unwrap(),
        dir.path().join("j").to_str().unwrap(),
    ]);
    assert!(err.contains("junk.tar"), "{err}");
}

#[test]
fn multi_image_archives_need_a_choice() {
    let dir = tempfile::tempdir().unwrap();
    let a = Image::new(
        "app/a:1",
        vec![Layer::new().file("a", b"a", 0o644).bytes()],
        &["/a"],
    );
    let b = Image::new(
        "app/b:2",
        vec![Layer::new().file("b", b"b", 0o644).bytes()],
        &["/b"],
    );
    for layout in [Layout::Legacy, Layout::OciArchive] {
        let tar = write(
            dir.path(),
            "multi.tar",
            &archive(&[a.clone_image(), b.clone_image()], layout, Comp::None),
        );
        let bd = dir.path().join(format!("{layout:?}"));
        let err = fails(&[
            "image",
            "unpack",
            tar.to_str().unwrap(),
            bd.to_str().unwrap(),
        ]);
        assert!(
            err.contains("holds 2 images, choose one with --image: app/a:1, app/b:2"),
            "{err}"
        );
        let err = fails(&[
            "image",
            "unpack",
            "--image",
            "app/c:3",
            tar.to_str().unwrap(),
            bd.to_str().unwrap(),
        ]);
        assert!(err.contains("no image app/c:3"), "{err}");
        ok(&[
            "image",
            "unpack",
            "--image",
            "app/b:2",
            tar.to_str().unwrap(),
            bd.to_str().unwrap(),
        ]);
        assert!(bd.join("rootfs/b").exists() && !bd.join("rootfs/a").exists());
    }
}

trait CloneImage {
    fn clone_image(&self) -> Image;
}

impl CloneImage for Image {
    fn clone_image(&self) -> Image {
        Image {
            tags: self.tags.clone(),
            layers: self.layers.clone(),
            config: self.config.clone(),
        }
    }
}

#[test]
fn a_progress_bar_only_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    // 40 MB of layer: over the bar's threshold.
    let big = vec![7u8; 40 << 20];
    let img = Image::new(
        "big:1",
        vec![Layer::new().file("blob", &big, 0o644).bytes()],
        &["/x"],
    );
    let tar = write(
        dir.path(),
        "big.tar",
        &archive(&[img], Layout::Legacy, Comp::None),
    );
    let b = dir.path().join("b1");
    let out = xrun(&[
        "image",
        "unpack",
        tar.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "not a terminal, yet: {:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("unpacked big:1"));
    // Under a pseudo-terminal (script(1)) the bar is drawn, then cleared.
    let b2 = dir.path().join("b2");
    let cmd = format!("{XRUN} image unpack {} {}", tar.display(), b2.display());
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("unpacking big:1 [") && text.contains("% "),
        "{text:?}"
    );
    assert!(text.contains("\r\x1b[2K"), "bar not cleared: {text:?}");
    assert!(text.contains("unpacked big:1"));
}

#[test]
fn a_multi_platform_index_gives_this_hosts_image() {
    let dir = tempfile::tempdir().unwrap();
    let arm = Image::new(
        "p:arm",
        vec![Layer::new().file("arch", b"arm64\n", 0o644).bytes()],
        &["/x"],
    );
    let amd = Image::new(
        "p:amd",
        vec![Layer::new().file("arch", b"amd64\n", 0o644).bytes()],
        &["/x"],
    );
    let flat = archive(&[arm, amd], Layout::OciArchive, Comp::Gzip);
    // Rewrite index.json: one tagged image index listing both manifests with platforms.
    let index: serde_json::Value =
        serde_json::from_slice(&tar_member(&flat, "index.json").unwrap()).unwrap();
    let mut descs = index["manifests"].as_array().unwrap().clone();
    for (d, arch) in descs.iter_mut().zip(["arm64", "amd64"]) {
        d.as_object_mut().unwrap().remove("annotations");
        d["platform"] = serde_json::json!({"os": "linux", "architecture": arch});
    }
    let nested =
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": descs})).unwrap();
    let top = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": sha256(&nested),
        "size": nested.len(), "annotations": {"org.opencontainers.image.ref.name": "multi:1"}}]});
    let mut b = tar::Builder::new(Vec::new());
    let mut put = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data).unwrap();
    };
    for (name, _) in tar_entries(&flat) {
        if name != "index.json" {
            put(&name, &tar_member(&flat, &name).unwrap());
        }
    }
    put(&format!("blobs/sha256/{}", &sha256(&nested)[7..]), &nested);
    put("index.json", &serde_json::to_vec(&top).unwrap());
    let tar = write(dir.path(), "multi.tar", &b.into_inner().unwrap());
    let bd = dir.path().join("b");
    let out = ok(&[
        "image",
        "unpack",
        tar.to_str().unwrap(),
        bd.to_str().unwrap(),
    ]);
    assert!(out.starts_with("unpacked multi:1"), "{out}");
    let host = if std::env::consts::ARCH == "aarch64" {
        "arm64\n"
    } else {
        "amd64\n"
    };
    assert_eq!(
        std::fs::read_to_string(bd.join("rootfs/arch")).unwrap(),
        host
    );
}
