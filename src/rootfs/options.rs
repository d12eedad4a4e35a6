//! `mounts[].options` as runc reads them: mount(2) flags to set or clear, propagation,
//! recursive attributes (`rro`, `rnosuid`, ... through mount_setattr), and the rest joined
//! as the filesystem's data string.

use nix::mount::MsFlags;

use crate::syscall::{MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY};

const MOUNT_ATTR_NOATIME: u64 = 0x10;
const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;
const MOUNT_ATTR_ATIME_MASK: u64 = 0x70;
const MS_NOSYMFOLLOW: u64 = 256;

/// Attributes for mount_setattr: what to set and what to clear.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Attrs {
    pub set: u64,
    pub clear: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags to set on the mount.
    pub flags: MsFlags,
    /// Flags explicitly cleared by an option (e.g. `rw`, `dev`, `exec`).
    pub cleared: MsFlags,
    /// Propagation changes, applied after the mount, in order.
    pub propagation: Vec<MsFlags>,
    /// Recursive attributes (`r*` options), applied to the whole tree.
    pub recursive: Attrs,
    /// `idmap` / `ridmap`: an id-mapped mount.
    pub idmap: Option<bool>,
    /// `tmpcopyup`: copy the underlying directory's content into a new tmpfs.
    pub tmpcopyup: bool,
    /// Everything else, comma-joined, for the filesystem.
    pub data: String,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: Vec::new(),
            recursive: Attrs::default(),
            idmap: None,
            tmpcopyup: false,
            data: String::new(),
        }
    }
}

impl MountOptions {
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    pub fn is_recursive_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND | MsFlags::MS_REC)
    }

    /// The per-mount flags of a bind mount as mount_setattr attributes (bind mounts ignore
    /// these flags on the first mount(2) call, so they are applied afterwards).
    pub fn bind_attrs(&self) -> Attrs {
        let mut a = Attrs::default();
        let map = [
            (MsFlags::MS_RDONLY, MOUNT_ATTR_RDONLY),
            (MsFlags::MS_NOSUID, MOUNT_ATTR_NOSUID),
            (MsFlags::MS_NODEV, MOUNT_ATTR_NODEV),
            (MsFlags::MS_NOEXEC, MOUNT_ATTR_NOEXEC),
            (MsFlags::MS_NODIRATIME, MOUNT_ATTR_NODIRATIME),
            (
                MsFlags::from_bits_retain(MS_NOSYMFOLLOW),
                MOUNT_ATTR_NOSYMFOLLOW,
            ),
        ];
        for (ms, attr) in map {
            if self.flags.contains(ms) {
                a.set |= attr;
            }
            if self.cleared.contains(ms) {
                a.clear |= attr;
            }
        }
        // atime is one field: setting one mode replaces the others.
        if self.flags.contains(MsFlags::MS_NOATIME) {
            a.set |= MOUNT_ATTR_NOATIME;
            a.clear |= MOUNT_ATTR_ATIME_MASK;
        } else if self.flags.contains(MsFlags::MS_STRICTATIME) {
            a.set |= MOUNT_ATTR_STRICTATIME;
            a.clear |= MOUNT_ATTR_ATIME_MASK;
        } else if self.flags.contains(MsFlags::MS_RELATIME) {
            a.clear |= MOUNT_ATTR_ATIME_MASK;
        }
        a
    }
}

/// Parses a mount's options.
pub fn parse(options: &[String]) -> MountOptions {
    let mut o = MountOptions::default();
    let mut data: Vec<&str> = Vec::new();
    for opt in options {
        let opt = opt.as_str();
        if let Some((set, flag)) = flag_option(opt) {
            if set {
                o.flags |= flag;
                o.cleared -= flag;
            } else {
                o.flags -= flag;
                o.cleared |= flag;
            }
        } else if let Some(p) = propagation_option(opt) {
            o.propagation.push(p);
        } else if let Some((set, attr)) = recursive_option(opt) {
            if set {
                o.recursive.set |= attr;
                o.recursive.clear &= !attr;
            } else {
                o.recursive.clear |= attr;
                o.recursive.set &= !attr;
            }
            if attr & MOUNT_ATTR_ATIME_MASK != 0 || opt == "rrelatime" {
                o.recursive.clear |= MOUNT_ATTR_ATIME_MASK;
            }
        } else {
            match opt {
                "idmap" => o.idmap = Some(false),
                "ridmap" => o.idmap = Some(true),
                "tmpcopyup" => o.tmpcopyup = true,
                "" => {}
                other => data.push(other),
            }
        }
    }
    o.data = data.join(",");
    o
}

/// `(true, flag)` sets the flag, `(false, flag)` clears it.
fn flag_option(opt: &str) -> Option<(bool, MsFlags)> {
    use MsFlags as F;
    Some(match opt {
        "async" => (false, F::MS_SYNCHRONOUS),
        "atime" => (false, F::MS_NOATIME),
        "bind" => (true, F::MS_BIND),
        "defaults" => (true, F::empty()),
        "dev" => (false, F::MS_NODEV),
        "diratime" => (false, F::MS_NODIRATIME),
        "dirsync" => (true, F::MS_DIRSYNC),
        "exec" => (false, F::MS_NOEXEC),
        "iversion" => (true, F::MS_I_VERSION),
        "lazytime" => (true, F::MS_LAZYTIME),
        "loud" => (false, F::MS_SILENT),
        "mand" => (true, F::MS_MANDLOCK),
        "noatime" => (true, F::MS_NOATIME),
        "nodev" => (true, F::MS_NODEV),
        "nodiratime" => (true, F::MS_NODIRATIME),
        "noexec" => (true, F::MS_NOEXEC),
        "noiversion" => (false, F::MS_I_VERSION),
        "nolazytime" => (false, F::MS_LAZYTIME),
        "nomand" => (false, F::MS_MANDLOCK),
        "norelatime" => (false, F::MS_RELATIME),
        "nostrictatime" => (false, F::MS_STRICTATIME),
        "nosuid" => (true, F::MS_NOSUID),
        "nosymfollow" => (true, F::from_bits_retain(MS_NOSYMFOLLOW)),
        "symfollow" => (false, F::from_bits_retain(MS_NOSYMFOLLOW)),
        "rbind" => (true, F::MS_BIND | F::MS_REC),
        "relatime" => (true, F::MS_RELATIME),
        "remount" => (true, F::MS_REMOUNT),
        "ro" => (true, F::MS_RDONLY),
        "rw" => (false, F::MS_RDONLY),
        "silent" => (true, F::MS_SILENT),
        "strictatime" => (true, F::MS_STRICTATIME),
        "suid" => (false, F::MS_NOSUID),
        "sync" => (true, F::MS_SYNCHRONOUS),
        _ => return None,
    })
}

pub fn propagation_option(opt: &str) -> Option<MsFlags> {
    use MsFlags as F;
    Some(match opt {
        "private" => F::MS_PRIVATE,
        "rprivate" => F::MS_PRIVATE | F::MS_REC,
        "shared" => F::MS_SHARED,
        "rshared" => F::MS_SHARED | F::MS_REC,
        "slave" => F::MS_SLAVE,
        "rslave" => F::MS_SLAVE | F::MS_REC,
        "unbindable" => F::MS_UNBINDABLE,
        "runbindable" => F::MS_UNBINDABLE | F::MS_REC,
        _ => return None,
    })
}

fn recursive_option(opt: &str) -> Option<(bool, u64)> {
    Some(match opt {
        "rro" => (true, MOUNT_ATTR_RDONLY),
        "rrw" => (false, MOUNT_ATTR_RDONLY),
        "rnosuid" => (true, MOUNT_ATTR_NOSUID),
        "rsuid" => (false, MOUNT_ATTR_NOSUID),
        "rnodev" => (true, MOUNT_ATTR_NODEV),
        "rdev" => (false, MOUNT_ATTR_NODEV),
        "rnoexec" => (true, MOUNT_ATTR_NOEXEC),
        "rexec" => (false, MOUNT_ATTR_NOEXEC),
        "rnodiratime" => (true, MOUNT_ATTR_NODIRATIME),
        "rdiratime" => (false, MOUNT_ATTR_NODIRATIME),
        "rrelatime" => (false, 0),
        "rnorelatime" => (false, 0),
        "rnoatime" => (true, MOUNT_ATTR_NOATIME),
        "ratime" => (false, MOUNT_ATTR_NOATIME),
        "rstrictatime" => (true, MOUNT_ATTR_STRICTATIME),
        "rnostrictatime" => (false, MOUNT_ATTR_STRICTATIME),
        "rnosymfollow" => (true, MOUNT_ATTR_NOSYMFOLLOW),
        "rsymfollow" => (false, MOUNT_ATTR_NOSYMFOLLOW),
        _ => return None,
    })
}

/// The names `features` reports as understood mount options.
pub fn known_options() -> Vec<&'static str> {
    let mut v: Vec<&str> = [
        "async",
        "atime",
        "bind",
        "defaults",
        "dev",
        "diratime",
        "dirsync",
        "exec",
        "iversion",
        "lazytime",
        "loud",
        "mand",
        "noatime",
        "nodev",
        "nodiratime",
        "noexec",
        "noiversion",
        "nolazytime",
        "nomand",
        "norelatime",
        "nostrictatime",
        "nosuid",
        "nosymfollow",
        "rbind",
        "relatime",
        "remount",
        "ro",
        "rw",
        "silent",
        "strictatime",
        "suid",
        "symfollow",
        "sync",
        "private",
        "rprivate",
        "shared",
        "rshared",
        "slave",
        "rslave",
        "unbindable",
        "runbindable",
        "rro",
        "rrw",
        "rnosuid",
        "rsuid",
        "rnodev",
        "rdev",
        "rnoexec",
        "rexec",
        "rnodiratime",
        "rdiratime",
        "rrelatime",
        "rnorelatime",
        "rnoatime",
        "ratime",
        "rstrictatime",
        "rnostrictatime",
        "rnosymfollow",
        "rsymfollow",
        "tmpcopyup",
    ]
    .to_vec();
    v.sort_unstable();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(opts: &[&str]) -> MountOptions {
        parse(&opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_data_and_propagation() {
        let o = p(&[
            "nosuid",
            "noexec",
            "mode=755",
            "size=65536k",
            "rslave",
            "ro",
        ]);
        assert_eq!(
            o.flags,
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY
        );
        assert_eq!(o.data, "mode=755,size=65536k");
        assert_eq!(o.propagation, vec![MsFlags::MS_SLAVE | MsFlags::MS_REC]);
    }

    #[test]
    fn later_options_win() {
        let o = p(&["ro", "rw"]);
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
        assert!(o.cleared.contains(MsFlags::MS_RDONLY));
        assert_eq!(o.bind_attrs().clear & MOUNT_ATTR_RDONLY, MOUNT_ATTR_RDONLY);
    }

    #[test]
    fn bind_and_recursive_attrs() {
        let o = p(&["rbind", "rro", "nodev"]);
        assert!(o.is_recursive_bind());
        assert_eq!(o.recursive.set, MOUNT_ATTR_RDONLY);
        assert_eq!(o.bind_attrs().set, MOUNT_ATTR_NODEV);
        let o = p(&["bind", "idmap"]);
        assert!(o.is_bind() && !o.is_recursive_bind());
        assert_eq!(o.idmap, Some(false));
    }
}
