//! Helpers for the image tests: layer tars and image archives made in memory (docker save's
//! legacy layout, Docker 25's OCI layout with manifest.json, OCI archives; uncompressed,
//! gzip or zstd), crafted hostile entries, and running `xrun image ...`.
#![allow(dead_code)]

pub mod docker;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

pub const XRUN: &str = env!("CARGO_BIN_EXE_xrun");
pub const MTIME: u64 = 1_600_000_000;

pub fn sha256(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    format!(
        "sha256:{}",
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// A layer tar being written.
pub struct Layer {
    b: tar::Builder<Vec<u8>>,
}

impl Default for Layer {
    fn default() -> Self {
        Self::new()
    }
}

impl Layer {
    pub fn new() -> Layer {
        Layer {
            b: tar::Builder::new(Vec::new()),
        }
    }

    fn header(kind: tar::EntryType, mode: u32, uid: u64, gid: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_mtime(MTIME);
        h.set_size(0);
        h
    }

    pub fn dir(self, p: &str, mode: u32) -> Self {
        self.dir_owned(p, mode, 0, 0)
    }

    pub fn dir_owned(mut self, p: &str, mode: u32, uid: u64, gid: u64) -> Self {
        let mut h = Self::header(tar::EntryType::Directory, mode, uid, gid);
        self.b
            .append_data(&mut h, format!("{p}/"), &[][..])
            .unwrap();
        self
    }

    pub fn file(self, p: &str, data: &[u8], mode: u32) -> Self {
        self.file_owned(p, data, mode, 0, 0)
    }

    pub fn file_owned(mut self, p: &str, data: &[u8], mode: u32, uid: u64, gid: u64) -> Self {
        let mut h = Self::header(tar::EntryType::Regular, mode, uid, gid);
        h.set_size(data.len() as u64);
        self.b.append_data(&mut h, p, data).unwrap();
        self
    }

    pub fn symlink(mut self, p: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Symlink, 0o777, 0, 0);
        self.b.append_link(&mut h, p, target).unwrap();
        self
    }

    pub fn hardlink(mut self, p: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Link, 0o644, 0, 0);
        self.b.append_link(&mut h, p, target).unwrap();
        self
    }

    pub fn node(mut self, p: &str, kind: tar::EntryType, major: u32, minor: u32) -> Self {
        let mut h = Self::header(kind, 0o640, 0, 0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        self.b.append_data(&mut h, p, &[][..]).unwrap();
        self
    }

    /// `.wh.NAME` beside NAME.
    pub fn whiteout(self, p: &str) -> Self {
        let (dir, name) = p.rsplit_once('/').map_or(("", p), |(d, n)| (d, n));
        let wh = if dir.is_empty() {
            format!(".wh.{name}")
        } else {
            format!("{dir}/.wh.{name}")
        };
        self.file(&wh, b"", 0o644)
    }

    pub fn opaque(self, dir: &str) -> Self {
        self.file(&format!("{dir}/.wh..wh..opq"), b"", 0o644)
    }

    /// A file with one extended attribute (a PAX `SCHILY.xattr.` record).
    pub fn file_xattr(mut self, p: &str, data: &[u8], key: &str, value: &[u8]) -> Self {
        let rec_body = format!(" SCHILY.xattr.{key}=");
        let body = rec_body.len() + value.len() + 1;
        let mut len = body + 1;
        while len != body + len.to_string().len() {
            len = body + len.to_string().len();
        }
        let mut pax = format!("{len}{rec_body}").into_bytes();
        pax.extend_from_slice(value);
        pax.push(b'\n');
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::XHeader);
        h.set_mode(0o644);
        h.set_size(pax.len() as u64);
        h.set_path("PaxHeaders/x").unwrap();
        h.set_cksum();
        self.b.append(&h, &pax[..]).unwrap();
        self.file(p, data, 0o644)
    }

    /// An entry written byte for byte, bypassing the tar crate's path checks (for the
    /// hostile archives: `../`, absolute names, links out of the root).
    pub fn raw(mut self, name: &[u8], kind: tar::EntryType, link: &[u8], data: &[u8]) -> Self {
        let mut h = Self::header(kind, 0o755, 0, 0);
        h.set_size(data.len() as u64);
        let old = h.as_old_mut();
        old.name = [0; 100];
        old.name[..name.len()].copy_from_slice(name);
        old.linkname = [0; 100];
        old.linkname[..link.len()].copy_from_slice(link);
        h.set_cksum();
        self.b.append(&h, data).unwrap();
        self
    }

    /// A busybox root filesystem: /bin/busybox and applets, /etc/passwd and /etc/group.
    pub fn busybox(self) -> Self {
        let bb = std::fs::read("/bin/busybox").expect("/bin/busybox (busybox-static)");
        let mut l = self
            .dir("bin", 0o755)
            .dir("etc", 0o755)
            .dir("tmp", 0o1777)
            .dir("root", 0o700)
            .file("bin/busybox", &bb, 0o755)
            .file(
                "etc/passwd",
                b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
                0o644,
            )
            .file(
                "etc/group",
                b"root:x:0:\napp:x:1000:\nstaff:x:50:app\n",
                0o644,
            );
        for a in [
            "sh", "echo", "cat", "ls", "id", "stat", "test", "readlink", "head", "wc", "sleep",
        ] {
            l = l.symlink(&format!("bin/{a}"), "busybox");
        }
        l
    }

    pub fn bytes(self) -> Vec<u8> {
        self.b.into_inner().unwrap()
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Layout {
    /// docker save ≤ 24: `<id>/layer.tar`, `<config>.json`, manifest.json.
    Legacy,
    /// docker save ≥ 25: an OCI layout plus manifest.json pointing into blobs/.
    Docker25,
    /// podman/skopeo oci-archive: index.json only.
    OciArchive,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Comp {
    None,
    Gzip,
    Zstd,
}

pub fn compress(data: &[u8], c: Comp) -> Vec<u8> {
    match c {
        Comp::None => data.to_vec(),
        Comp::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Comp::Zstd => zstd::encode_all(data, 3).unwrap(),
    }
}

/// An image: layer tars (uncompressed) and config (its rootfs is filled in).
pub struct Image {
    pub tags: Vec<String>,
    pub layers: Vec<Vec<u8>>,
    pub config: Value,
}

impl Image {
    /// An image running `cmd`, with `layers`.
    pub fn new(tag: &str, layers: Vec<Vec<u8>>, cmd: &[&str]) -> Image {
        Image {
            tags: vec![tag.to_string()],
            layers,
            config: json!({"architecture": "amd64", "os": "linux",
                           "config": {"Cmd": cmd, "Env": ["PATH=/bin"]}}),
        }
    }

    pub fn config_bytes(&self) -> Vec<u8> {
        let mut c = self.config.clone();
        c["rootfs"] = json!({"type": "layers",
                             "diff_ids": self.layers.iter().map(|l| sha256(l)).collect::<Vec<_>>()});
        if c.get("history").is_none() {
            c["history"] = self
                .layers
                .iter()
                .map(|_| json!({"created_by": "test"}))
                .collect();
        }
        serde_json::to_vec(&c).unwrap()
    }
}

/// A busybox image of two layers: the second replaces `data/old` (a whiteout) with
/// `data/new`.
pub fn busybox_image(cmd: &[&str]) -> Image {
    let base = Layer::new()
        .busybox()
        .dir("data", 0o755)
        .file("data/old", b"old\n", 0o644);
    let top = Layer::new()
        .dir("data", 0o755)
        .whiteout("data/old")
        .file("data/new", b"new\n", 0o600);
    Image::new("test/busybox:1", vec![base.bytes(), top.bytes()], cmd)
}

/// `xrun image unpack` of `images` (written as one archive in `dir`) into `dir/bundle`.
pub fn unpack_to(
    dir: &Path,
    images: &[Image],
    layout: Layout,
    comp: Comp,
    bundle: &str,
) -> PathBuf {
    let tar = write(dir, "image.tar", &archive(images, layout, comp));
    let b = dir.join(bundle);
    ok(&[
        "image",
        "unpack",
        tar.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    b
}

/// A layer store in a test's directory, whose mounts are undone when it is dropped.
pub struct Store {
    // First: fields drop in order, and the mounts must go before Env removes the directory.
    _mounts: MountGuard,
    pub env: crate::common::Env,
    pub dir: PathBuf,
}

impl Store {
    pub fn new() -> Store {
        let env = crate::common::Env::new();
        let dir = env.dir.path().join("store");
        let guard = MountGuard(env.dir.path().to_path_buf());
        Store {
            env,
            dir,
            _mounts: guard,
        }
    }

    pub fn args<'a>(&'a self, a: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec!["image", "--store", self.dir.to_str().unwrap()];
        v.extend(a);
        v
    }

    pub fn ok(&self, a: &[&str]) -> String {
        ok(&self.args(a))
    }

    pub fn fails(&self, a: &[&str]) -> String {
        fails(&self.args(a))
    }

    pub fn layers(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.dir.join("layers"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.env.dir.path().join(name)
    }
}

/// A bundle's config.json.
pub fn spec(bundle: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(bundle.join("config.json")).unwrap()).unwrap()
}

/// An outer archive being assembled: member name → bytes.
struct Out {
    b: tar::Builder<Vec<u8>>,
}

impl Out {
    fn put(&mut self, name: &str, data: &[u8]) {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_mtime(MTIME);
        self.b.append_data(&mut h, name, data).unwrap();
    }
}

fn hex(d: &str) -> &str {
    d.strip_prefix("sha256:").unwrap()
}

/// Writes `images` as an archive in `layout` with layers compressed by `comp`.
pub fn archive(images: &[Image], layout: Layout, comp: Comp) -> Vec<u8> {
    let mut out = Out {
        b: tar::Builder::new(Vec::new()),
    };
    let mut manifest = Vec::new();
    let mut index = Vec::new();
    for img in images {
        let config = img.config_bytes();
        let cdig = sha256(&config);
        let mut layer_names = Vec::new();
        let mut descs = Vec::new();
        for l in &img.layers {
            let blob = compress(l, comp);
            let bdig = sha256(&blob);
            let name = match layout {
                Layout::Legacy => format!("{}/layer.tar", hex(&sha256(l))),
                _ => format!("blobs/sha256/{}", hex(&bdig)),
            };
            out.put(&name, &blob);
            layer_names.push(name);
            let mt = match comp {
                Comp::None => "application/vnd.oci.image.layer.v1.tar",
                Comp::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
                Comp::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
            };
            descs.push(json!({"mediaType": mt, "digest": bdig, "size": blob.len()}));
        }
        let cname = match layout {
            Layout::Legacy => format!("{}.json", hex(&cdig)),
            _ => format!("blobs/sha256/{}", hex(&cdig)),
        };
        out.put(&cname, &config);
        manifest.push(json!({"Config": cname, "RepoTags": img.tags, "Layers": layer_names}));
        if layout != Layout::Legacy {
            let m = serde_json::to_vec(&json!({
                "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdig, "size": config.len()},
                "layers": descs})).unwrap();
            let mdig = sha256(&m);
            out.put(&format!("blobs/sha256/{}", hex(&mdig)), &m);
            let mut d = json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "digest": mdig, "size": m.len()});
            if let Some(t) = img.tags.first() {
                d["annotations"] = json!({"org.opencontainers.image.ref.name": t});
            }
            index.push(d);
        }
    }
    if layout != Layout::OciArchive {
        out.put("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    }
    if layout != Layout::Legacy {
        out.put("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
        out.put(
            "index.json",
            &serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": index})).unwrap(),
        );
    }
    out.b.into_inner().unwrap()
}

/// Runs `xrun ARGS` (output through files) and returns its output.
pub fn xrun(args: &[&str]) -> Output {
    xrun_in(args, None)
}

pub fn xrun_in(args: &[&str], stdin: Option<&Path>) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let (o, e) = (dir.path().join("out"), dir.path().join("err"));
    let mut c = Command::new(XRUN);
    c.args(args)
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap());
    match stdin {
        Some(p) => c.stdin(std::fs::File::open(p).unwrap()),
        None => c.stdin(Stdio::null()),
    };
    let status = c.status().unwrap();
    Output {
        status,
        stdout: std::fs::read(&o).unwrap(),
        stderr: std::fs::read(&e).unwrap(),
    }
}

pub fn ok(args: &[&str]) -> String {
    let out = xrun(args);
    assert!(
        out.status.success(),
        "xrun {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs xrun, expects failure with a one-line error; returns that line.
pub fn fails(args: &[&str]) -> String {
    let out = xrun(args);
    assert!(
        !out.status.success(),
        "xrun {args:?} succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "not a one-line error: {err}"
    );
    err
}

pub fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

/// Puts a bundle's cgroup under the test's own (as the lifecycle tests do) so the test's
/// cleanup finds it.
pub fn nest_cgroup(bundle: &Path, prefix: &str, name: &str) {
    let p = bundle.join("config.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    v["linux"]["cgroupsPath"] = json!(format!("{prefix}/{name}"));
    std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

/// Everything under `dir` as sorted `path kind mode uid:gid extra` lines (extra: a file's
/// sha256, a symlink's target, a device's numbers).
pub fn tree(dir: &Path) -> Vec<String> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let t = m.file_type();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            let (kind, extra) = if t.is_dir() {
                stack.push(p.clone());
                ("d", String::new())
            } else if t.is_symlink() {
                ("l", std::fs::read_link(&p).unwrap().display().to_string())
            } else if t.is_file() {
                ("f", sha256(&std::fs::read(&p).unwrap()))
            } else if t.is_char_device() || t.is_block_device() {
                (
                    "c",
                    format!("{}:{}", libc::major(m.rdev()), libc::minor(m.rdev())),
                )
            } else {
                ("p", String::new())
            };
            let mode = if t.is_symlink() { 0 } else { m.mode() & 0o7777 };
            out.push(format!(
                "{rel} {kind} {mode:o} {}:{} {extra}",
                m.uid(),
                m.gid()
            ));
        }
    }
    out.sort();
    out
}

/// Mount points under `dir`, from /proc/self/mountinfo.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(m.replace("\\040", " ")))
        .filter(|m| m.starts_with(dir))
        .collect()
}

/// Detaches every mount left under a directory when dropped (a failed test's bundles).
pub struct MountGuard(pub PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        let mut m = mounts_under(&self.0);
        m.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for p in m {
            let _ = nix::mount::umount2(&p, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

/// The entries of a tar (name, type) in order.
pub fn tar_entries(data: &[u8]) -> Vec<(String, tar::EntryType)> {
    let mut ar = tar::Archive::new(data);
    ar.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                String::from_utf8_lossy(&e.path_bytes()).into_owned(),
                e.header().entry_type(),
            )
        })
        .collect()
}

/// A member of a tar, read whole.
pub fn tar_member(data: &[u8], name: &str) -> Option<Vec<u8>> {
    let mut ar = tar::Archive::new(data);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path_bytes().as_ref() == name.as_bytes() {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut v).unwrap();
            return Some(v);
        }
    }
    None
}
