//! Image archives: a tar file (or stdin, or an OCI layout directory) indexed once by member
//! name, so each blob is then read straight from its offset — layers are read exactly once.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek};
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::image::layer::decompress::{Compression, Decoder};

pub mod layout;

/// Where an archive member's bytes are.
#[derive(Clone, Copy, Debug)]
struct Member {
    offset: u64,
    size: u64,
}

enum Backing {
    /// A tar file and its members (symlinked members already resolved).
    Tar(File, HashMap<String, Member>),
    /// An OCI image layout directory.
    Dir(PathBuf),
}

/// An opened image archive.
pub struct Archive {
    /// How errors name it: the path given, or `stdin`.
    pub name: String,
    backing: Backing,
}

impl Archive {
    /// Opens `path` (`-` is stdin). Stdin and compressed tarballs are first spooled to an
    /// unnamed temporary file, since their members must be read out of order.
    pub fn open(path: &Path) -> Result<Archive> {
        if path == Path::new("-") {
            let spooled = spool(io::stdin().lock()).context("stdin")?;
            return Archive::from_file("stdin".into(), spooled);
        }
        let name = path.display().to_string();
        let meta = std::fs::metadata(path).with_context(|| format!("{name}: cannot open"))?;
        if meta.is_dir() {
            if !path.join("index.json").is_file() {
                bail!("{name}: a directory but not an OCI image layout (no index.json)");
            }
            return Ok(Archive {
                name,
                backing: Backing::Dir(path.to_path_buf()),
            });
        }
        let file = File::open(path).with_context(|| format!("{name}: cannot open"))?;
        Archive::from_file(name, file)
    }

    fn from_file(name: String, mut file: File) -> Result<Archive> {
        let mut head = [0u8; 4];
        let n = file
            .read_at(&mut head, 0)
            .with_context(|| format!("{name}: read"))?;
        if Compression::sniff(&head[..n]) != Compression::None {
            let (dec, _) =
                Decoder::new(BufReader::new(file)).with_context(|| format!("{name}: read"))?;
            file = spool(dec).with_context(|| format!("{name}: decompress"))?;
        }
        let members =
            index(&mut file).with_context(|| format!("{name}: not a valid tar archive"))?;
        Ok(Archive {
            name,
            backing: Backing::Tar(file, members),
        })
    }

    pub fn contains(&self, member: &str) -> bool {
        match &self.backing {
            Backing::Tar(_, m) => key(member).is_some_and(|k| m.contains_key(&k)),
            Backing::Dir(d) => safe_join(d, member).is_some_and(|p| p.is_file()),
        }
    }

    /// Size of a member, for progress.
    pub fn size(&self, member: &str) -> Option<u64> {
        match &self.backing {
            Backing::Tar(_, m) => key(member).and_then(|k| m.get(&k)).map(|m| m.size),
            Backing::Dir(d) => safe_join(d, member)
                .and_then(|p| p.metadata().ok())
                .map(|m| m.len()),
        }
    }

    /// A reader of the member's bytes.
    pub fn open_member(&self, member: &str) -> Result<Box<dyn BufRead + '_>> {
        let missing = || anyhow::anyhow!("{member}: no such file in the archive");
        match &self.backing {
            Backing::Tar(f, m) => {
                let m = key(member).and_then(|k| m.get(&k)).ok_or_else(missing)?;
                Ok(Box::new(BufReader::with_capacity(
                    1 << 20,
                    Section {
                        file: f,
                        pos: m.offset,
                        end: m.offset + m.size,
                    },
                )))
            }
            Backing::Dir(d) => {
                let p = safe_join(d, member).ok_or_else(missing)?;
                let f = File::open(&p).map_err(|_| missing())?;
                Ok(Box::new(BufReader::with_capacity(1 << 20, f)))
            }
        }
    }

    /// A small member read whole (manifests, configs), at most 64 MiB.
    pub fn read_member(&self, member: &str) -> Result<Vec<u8>> {
        let mut v = Vec::new();
        self.open_member(member)
            .with_context(|| self.name.clone())?
            .take(64 << 20)
            .read_to_end(&mut v)
            .with_context(|| format!("{}: {member}: read", self.name))?;
        Ok(v)
    }
}

/// `dir/member` when `member` stays inside `dir` lexically (layout directories only).
fn safe_join(dir: &Path, member: &str) -> Option<PathBuf> {
    let p = Path::new(member);
    p.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        .then(|| dir.join(p))
}

/// Copies a stream into an unnamed temporary file and rewinds it.
fn spool(mut r: impl Read) -> io::Result<File> {
    let dir = std::env::var_os("TMPDIR").unwrap_or_else(|| "/var/tmp".into());
    let mut f = tempfile::tempfile_in(dir)?;
    io::copy(&mut r, &mut f)?;
    f.rewind()?;
    Ok(f)
}

/// How a member is looked up: manifests may say `./x` or `x` for the same file.
fn key(member: &str) -> Option<String> {
    normalize(member.as_bytes())
}

/// Member name as `a/b` (no `./`, no leading or trailing `/`).
fn normalize(name: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(name).ok()?;
    let parts: Vec<&str> = s
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Scans the tar headers (seeking over the data) and records each regular member. Symlinked
/// members (docker save links a layer it already wrote) are resolved within the archive.
fn index(file: &mut File) -> Result<HashMap<String, Member>> {
    let mut ar = tar::Archive::new(&*file);
    let mut members = HashMap::new();
    let mut links = Vec::new();
    for e in ar.entries_with_seek()? {
        let e = e?;
        let Some(name) = normalize(&e.path_bytes()) else {
            continue;
        };
        match e.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                members.insert(
                    name,
                    Member {
                        offset: e.raw_file_position(),
                        size: e.size(),
                    },
                );
            }
            tar::EntryType::Symlink | tar::EntryType::Link => {
                if let Some(t) = e.link_name_bytes() {
                    links.push((name, t.into_owned(), e.header().entry_type()));
                }
            }
            _ => {}
        }
    }
    let len = file.metadata()?.len();
    if let Some((name, m)) = members.iter().find(|(_, m)| m.offset + m.size > len) {
        bail!(
            "truncated: {name} ends at byte {} of {len}",
            m.offset + m.size
        );
    }
    for (name, target, kind) in links {
        let base = if kind == tar::EntryType::Symlink {
            name.rsplit_once('/').map_or("", |(d, _)| d).to_string()
        } else {
            String::new() // hardlink targets are archive paths
        };
        let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
        for p in std::str::from_utf8(&target).unwrap_or("").split('/') {
            match p {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                p => parts.push(p),
            }
        }
        if let Some(m) = members.get(&parts.join("/")).copied() {
            members.insert(name, m);
        }
    }
    Ok(members)
}

/// A window of a file read with pread, so several members can be open at once.
struct Section<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for Section<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min((self.end - self.pos) as usize);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive is truncated",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}
