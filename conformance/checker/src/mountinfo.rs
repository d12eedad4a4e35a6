//! /proc/self/mountinfo, parsed (proc(5)): one entry per mount, in the order the kernel
//! lists them, which is the order they were mounted in.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    pub id: u32,
    pub parent: u32,
    /// `major:minor` of the filesystem.
    pub dev: String,
    /// The directory of the filesystem that is the root of this mount.
    pub root: String,
    pub mount_point: String,
    /// Per-mount options (rw/ro, nosuid, nodev, noexec, relatime, ...).
    pub options: Vec<String>,
    /// Propagation tags: `shared:N`, `master:N`, `propagate_from:N`, `unbindable`.
    pub tags: Vec<String>,
    pub fstype: String,
    pub source: String,
    /// Superblock options (the filesystem's own: size=, mode=, ...).
    pub super_options: Vec<String>,
}

impl MountInfo {
    pub fn has_option(&self, o: &str) -> bool {
        self.options.iter().any(|x| x == o)
    }

    pub fn has_tag(&self, prefix: &str) -> bool {
        self.tags.iter().any(|t| t.starts_with(prefix))
    }

    /// The value of a superblock option `key=value`, or `Some("")` for a bare `key`.
    pub fn super_option(&self, key: &str) -> Option<&str> {
        self.super_options
            .iter()
            .find_map(|o| match o.split_once('=') {
                Some((k, v)) if k == key => Some(v),
                None if o == key => Some(""),
                _ => None,
            })
    }
}

pub fn read_self() -> std::io::Result<Vec<MountInfo>> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")?;
    Ok(parse(&text))
}

pub fn parse(text: &str) -> Vec<MountInfo> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<MountInfo> {
    let mut f = line.split(' ');
    let id = f.next()?.parse().ok()?;
    let parent = f.next()?.parse().ok()?;
    let dev = f.next()?.to_string();
    let root = unescape(f.next()?);
    let mount_point = unescape(f.next()?);
    let options = f.next()?.split(',').map(String::from).collect();
    let mut tags = Vec::new();
    for t in f.by_ref() {
        if t == "-" {
            break;
        }
        tags.push(t.to_string());
    }
    let fstype = f.next()?.to_string();
    let source = unescape(f.next()?);
    let super_options = f
        .next()
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    Some(MountInfo {
        id,
        parent,
        dev,
        root,
        mount_point,
        options,
        tags,
        fstype,
        source,
        super_options,
    })
}

/// The kernel escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 4])
                .ok()
                .and_then(|o| u8::from_str_radix(o, 8).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `path` is `dir` or below it.
pub fn is_under(path: &str, dir: &str) -> bool {
    dir == "/"
        || path == dir
        || (path.starts_with(dir) && path.as_bytes().get(dir.len()) == Some(&b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tags_and_escapes() {
        let m = parse(
            "36 35 98:0 /mnt1 /mnt\\040x rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue\n\
             40 36 0:5 / /proc ro,nosuid - proc proc rw",
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].mount_point, "/mnt x");
        assert_eq!(m[0].tags, ["master:1", "shared:7"]);
        assert!(m[0].has_option("noatime"));
        assert_eq!(m[0].super_option("errors"), Some("continue"));
        assert_eq!(m[0].super_option("rw"), Some(""));
        assert!(m[1].tags.is_empty());
        assert_eq!(m[1].fstype, "proc");
        assert_eq!(m[1].parent, 36);
    }

    #[test]
    fn under() {
        assert!(is_under("/sys/fs/cgroup/cpu", "/sys/fs/cgroup"));
        assert!(!is_under("/sys/fs/cgroupx", "/sys/fs/cgroup"));
        assert!(is_under("/a", "/"));
    }
}
