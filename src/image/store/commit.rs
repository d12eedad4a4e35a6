//! `xrun image commit`: a container's upper directory becomes a new layer (overlay whiteouts
//! turned back into `.wh.` entries) and a new image config with one more diff_id and a
//! history entry.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use nix::sys::stat::SFlag;
use serde_json::{json, Value};

use super::{bundle::container_of, load::store_tar, now_rfc3339, Store};
use crate::image::digest::{Digest, HashingWriter};
use crate::image::fsops::{self, Root};
use crate::image::layer::{OPAQUE_MARKER, OVERLAY_OPAQUE_XATTR, WHITEOUT_PREFIX};

/// Files the runtime provides (the init layer), not the container's work.
const EXCLUDED: [&str; 3] = ["etc/hostname", "etc/hosts", "etc/resolv.conf"];

pub struct CommitOptions {
    pub message: Option<String>,
    pub author: Option<String>,
}

pub fn commit(store: &Store, bundle: &Path, tag: &str, o: &CommitOptions) -> Result<String> {
    let (cid, info) = container_of(store, bundle)?;
    let image = Digest::parse(&info.image)?;
    let img = store.image(&image)?;
    let stage = store.staging()?;
    let res = (|| -> Result<String> {
        let tar_path = stage.join("layer.tar");
        let mut w = HashingWriter::new(BufWriter::new(File::create(&tar_path)?));
        write_layer(&store.container_dir(&cid).join("upper"), &mut w)
            .with_context(|| format!("container layer {cid}"))?;
        let (diff_id, _, bw) = w.finish();
        bw.into_inner().map_err(|e| e.into_error())?.sync_data()?;
        if !store.has_layer(&diff_id) {
            let lowers: Vec<PathBuf> = img
                .diff_ids
                .iter()
                .rev()
                .map(|d| store.layer_dir(d).join("diff"))
                .collect();
            store_tar(store, &diff_id, &lowers, File::open(&tar_path)?)?;
        }
        let mut cfg: Value = serde_json::from_slice(&img.raw)?;
        let now = now_rfc3339();
        let history = cfg["history"].as_array().cloned().unwrap_or_else(|| {
            img.diff_ids
                .iter()
                .map(|_| json!({"created_by": ""}))
                .collect()
        });
        let mut entry = json!({"created": now, "created_by": "xrun image commit"});
        if let Some(m) = &o.message {
            entry["comment"] = json!(m);
        }
        if let Some(a) = &o.author {
            entry["author"] = json!(a);
            cfg["author"] = json!(a);
        }
        let mut history = history;
        history.push(entry);
        cfg["history"] = json!(history);
        cfg["created"] = json!(now);
        let diff_ids = cfg["rootfs"]["diff_ids"]
            .as_array_mut()
            .context("image config has no rootfs.diff_ids")?;
        diff_ids.push(json!(diff_id.to_string()));
        let id = store.put_image(&serde_json::to_vec(&cfg)?)?;
        let tag = store.tag(tag, &id)?;
        Ok(format!("{id} {tag} (new layer {diff_id})"))
    })();
    let _ = std::fs::remove_dir_all(&stage);
    res
}

/// Writes the directory `upper` as a layer tar: entries sorted by name, overlay whiteouts as
/// `.wh.` entries, hardlinks within the layer as links.
pub fn write_layer(upper: &Path, out: &mut impl Write) -> Result<()> {
    let root = Root::open(upper)?;
    let dir = fsops::open_dir_at(&root.fd(), OsStr::new(".")).context("open")?;
    let mut b = tar::Builder::new(out);
    let mut links = HashMap::new();
    walk(&mut b, &dir, Path::new(""), &mut links)?;
    b.finish()?;
    Ok(())
}

fn walk<W: Write>(
    b: &mut tar::Builder<W>,
    dir: &OwnedFd,
    prefix: &Path,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> Result<()> {
    for name in fsops::list_dir(dir)? {
        let rel = prefix.join(&name);
        if EXCLUDED.iter().any(|e| Path::new(e) == rel) {
            continue;
        }
        let what = || format!("{}", rel.display());
        let Some(st) = fsops::lstat_at(dir, &name)? else {
            continue;
        };
        let kind = fsops::file_kind(&st);
        let mut h = tar::Header::new_gnu();
        h.set_uid(st.st_uid as u64);
        h.set_gid(st.st_gid as u64);
        h.set_mode(st.st_mode & 0o7777);
        h.set_mtime(st.st_mtime.max(0) as u64);
        h.set_size(0);
        if kind == SFlag::S_IFCHR && st.st_rdev == 0 {
            let mut wh = OsStr::new(WHITEOUT_PREFIX).to_os_string();
            wh.push(&name);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o644);
            b.append_data(&mut h, prefix.join(wh), std::io::empty())
                .with_context(what)?;
            continue;
        }
        let xattrs: Vec<(String, Vec<u8>)> = fsops::list_xattrs_at(dir, &name)
            .with_context(what)?
            .into_iter()
            .filter(|k| !k.starts_with("trusted.overlay."))
            .filter_map(|k| {
                fsops::get_xattr_at(dir, &name, &k)
                    .ok()
                    .flatten()
                    .map(|v| (k, v))
            })
            .collect();
        if !xattrs.is_empty() {
            append_pax(b, &rel, &xattrs).with_context(what)?;
        }
        match kind {
            SFlag::S_IFDIR => {
                h.set_entry_type(tar::EntryType::Directory);
                let mut p = rel.clone().into_os_string();
                p.push("/");
                b.append_data(&mut h, &p, std::io::empty())
                    .with_context(what)?;
                let sub = fsops::open_dir_at(dir, &name).with_context(what)?;
                let opaque =
                    fsops::get_xattr_at(dir, &name, OVERLAY_OPAQUE_XATTR).with_context(what)?;
                if opaque.as_deref() == Some(b"y") {
                    let mut m = tar::Header::new_gnu();
                    m.set_entry_type(tar::EntryType::Regular);
                    m.set_mode(0o644);
                    m.set_size(0);
                    m.set_mtime(st.st_mtime.max(0) as u64);
                    b.append_data(&mut m, rel.join(OPAQUE_MARKER), std::io::empty())
                        .with_context(what)?;
                }
                walk(b, &sub, &rel, links)?;
            }
            SFlag::S_IFREG => {
                if st.st_nlink > 1 {
                    if let Some(first) = links.get(&(st.st_dev, st.st_ino)) {
                        h.set_entry_type(tar::EntryType::Link);
                        b.append_link(&mut h, &rel, first).with_context(what)?;
                        continue;
                    }
                    links.insert((st.st_dev, st.st_ino), rel.clone());
                }
                let fd = nix::fcntl::openat(
                    dir,
                    name.as_os_str(),
                    nix::fcntl::OFlag::O_RDONLY
                        | nix::fcntl::OFlag::O_NOFOLLOW
                        | nix::fcntl::OFlag::O_CLOEXEC,
                    nix::sys::stat::Mode::empty(),
                )
                .with_context(what)?;
                let f = File::from(fd);
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(st.st_size as u64);
                b.append_data(&mut h, &rel, std::io::Read::take(f, st.st_size as u64))
                    .with_context(what)?;
            }
            SFlag::S_IFLNK => {
                let target =
                    nix::fcntl::readlinkat(dir.as_fd(), name.as_os_str()).with_context(what)?;
                h.set_entry_type(tar::EntryType::Symlink);
                b.append_link(&mut h, &rel, &target).with_context(what)?;
            }
            SFlag::S_IFCHR | SFlag::S_IFBLK | SFlag::S_IFIFO => {
                h.set_entry_type(match kind {
                    SFlag::S_IFCHR => tar::EntryType::Char,
                    SFlag::S_IFBLK => tar::EntryType::Block,
                    _ => tar::EntryType::Fifo,
                });
                h.set_device_major(libc::major(st.st_rdev))?;
                h.set_device_minor(libc::minor(st.st_rdev))?;
                b.append_data(&mut h, &rel, std::io::empty())
                    .with_context(what)?;
            }
            _ => {} // sockets do not go into images
        }
    }
    Ok(())
}

/// A PAX extended header carrying the next entry's xattrs.
fn append_pax<W: Write>(
    b: &mut tar::Builder<W>,
    rel: &Path,
    xattrs: &[(String, Vec<u8>)],
) -> Result<()> {
    let mut data = Vec::new();
    for (k, v) in xattrs {
        let key = format!("SCHILY.xattr.{k}");
        let body = 1 + key.len() + 1 + v.len() + 1;
        let mut len = body + 1;
        while len != body + len.to_string().len() {
            len = body + len.to_string().len();
        }
        data.extend_from_slice(format!("{len} {key}=").as_bytes());
        data.extend_from_slice(v);
        data.push(b'\n');
    }
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    let name = rel.file_name().map_or(&b"x"[..], |n| n.as_bytes());
    let name = &name[..name.len().min(80)];
    h.set_path(Path::new("PaxHeaders.0").join(OsStr::from_bytes(name)))?;
    h.set_cksum();
    b.append(&h, &data[..])?;
    Ok(())
}
