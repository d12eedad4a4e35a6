//! The attacks a hostile layer can try on `xrun image unpack`: `../` and absolute names,
//! symlinks out of the root (relative, absolute as a parent, in place of the root itself:
//! umoci CVE-2021-29136), hardlinks out of the root. Each must fail with a clear error naming
//! the entry, leave no bundle behind and change nothing outside.

mod common;
mod image_support;

use std::os::unix::fs::MetadataExt;

use image_support::*;

/// Unpacks a one-layer image made of `layer`; returns (error line, outside dir, bundle).
fn attack(layer: Layer) -> (String, tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let img = Image::new(
        "evil:1",
        vec![Layer::new().busybox().bytes(), layer.bytes()],
        &["/bin/true"],
    );
    let tar = write(
        dir.path(),
        "evil.tar",
        &archive(&[img], Layout::Legacy, Comp::None),
    );
    let b = dir.path().join("b");
    let out = xrun(&[
        "image",
        "unpack",
        tar.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    let err = String::from_utf8(out.stderr).unwrap();
    (err, dir, b)
}

/// The host directory the attacks aim at, with its contents.
fn target() -> (tempfile::TempDir, Vec<String>) {
    let t = tempfile::Builder::new()
        .prefix("xrun-victim.")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::write(t.path().join("victim"), "original").unwrap();
    let snap = tree(t.path());
    (t, snap)
}

#[test]
fn path_traversal_entries_fail_and_change_nothing_outside() {
    let (victim, before) = target();
    let v = victim.path().to_str().unwrap().trim_start_matches('/');
    let depth = "../".repeat(12);
    for (name, expect) in [
        (format!("{depth}{v}/victim"), "outside the root"),
        (format!("a/../../{v}/victim"), "outside the root"),
        (format!("/{v}/victim"), "absolute path"),
    ] {
        let l = Layer::new().raw(name.as_bytes(), tar::EntryType::Regular, b"", b"pwned");
        let (err, _d, b) = attack(l);
        assert!(
            err.contains(&format!("entry {name:?}")) && err.contains(expect),
            "{name}: {err}"
        );
        assert!(!b.exists(), "bundle left behind");
        assert_eq!(tree(victim.path()), before, "{name} changed the host");
    }
}

#[test]
fn symlinks_cannot_carry_writes_out_of_the_root() {
    let (victim, before) = target();
    let v = victim.path().to_str().unwrap();
    // A relative symlink climbing out is refused, as Docker refuses it.
    let l = Layer::new()
        .symlink("up", &format!("{}{}", "../".repeat(12), &v[1..]))
        .file("up/victim", b"pwned", 0o644);
    let (err, _d, b) = attack(l);
    assert!(
        err.contains("entry \"up\": invalid symlink") && err.contains("outside the root"),
        "{err}"
    );
    assert!(!b.exists());
    // An absolute symlink as a parent resolves inside the root, as the container sees it.
    let l = Layer::new()
        .symlink("abs", v)
        .file("abs/victim", b"contained", 0o644);
    let (err, d, b) = attack(l);
    assert!(err.is_empty(), "{err}");
    assert_eq!(
        std::fs::read(b.join("rootfs").join(&v[1..]).join("victim")).unwrap(),
        b"contained"
    );
    assert_eq!(tree(victim.path()), before);
    drop(d);
    // A symlink in place of the root itself (umoci CVE-2021-29136).
    for name in [&b"."[..], b"./", b""] {
        let l = Layer::new()
            .raw(name, tar::EntryType::Symlink, v.as_bytes(), b"")
            .file("victim", b"pwned", 0o644);
        let (err, _d, b) = attack(l);
        assert!(err.contains("cannot replace the root directory"), "{err}");
        assert!(!b.exists());
    }
    assert_eq!(tree(victim.path()), before);
}

#[test]
fn hardlinks_cannot_reach_outside_the_root() {
    let (victim, before) = target();
    let v = victim.path().to_str().unwrap();
    let out = format!("{}{}/victim", "../".repeat(12), &v[1..]);
    let l = Layer::new().raw(b"ln", tar::EntryType::Link, out.as_bytes(), b"");
    let (err, _d, b) = attack(l);
    assert!(
        err.contains("entry \"ln\": invalid hardlink target"),
        "{err}"
    );
    assert!(!b.exists());
    let l = Layer::new().raw(
        b"ln",
        tar::EntryType::Link,
        format!("{v}/victim").as_bytes(),
        b"",
    );
    let (err, _d, _b) = attack(l);
    assert!(
        err.contains("invalid hardlink target") && err.contains("absolute path"),
        "{err}"
    );
    // Through a symlinked directory: resolved inside the root, where there is no victim.
    let l = Layer::new()
        .symlink("vd", v)
        .raw(b"ln", tar::EntryType::Link, b"vd/victim", b"");
    let (err, _d, b) = attack(l);
    assert!(
        err.contains("entry \"ln\": hardlink target vd/victim does not exist"),
        "{err}"
    );
    assert!(!b.exists());
    // A later write to the link cannot reach the host file either.
    assert_eq!(tree(victim.path()), before);
    assert_eq!(
        std::fs::metadata(victim.path().join("victim"))
            .unwrap()
            .nlink(),
        1
    );
}
