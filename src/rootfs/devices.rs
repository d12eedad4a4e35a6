//! /dev inside the container: the default devices every container gets, `linux.devices`, and
//! the standard symlinks. In a user namespace mknod is not allowed, so devices are bind
//! mounts of the host's nodes there, as runc does.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::sys::stat::{Mode, SFlag};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use super::resolve::{self, Kind};
use crate::syscall;

/// A device node to create: path inside the container, type, numbers, mode, owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub path: PathBuf,
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// null, zero, full, random, urandom and tty, mode 0666, as the runtime spec requires.
pub fn default_devices() -> Vec<Device> {
    [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .iter()
    .map(|(name, major, minor)| Device {
        path: PathBuf::from("/dev").join(name),
        kind: SFlag::S_IFCHR,
        major: *major,
        minor: *minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

/// Converts `linux.devices[]` entries.
pub fn config_device(d: &LinuxDevice) -> Result<Device> {
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => bail!("type must be one of c, b, u, p"),
    };
    Ok(Device {
        path: d.path().clone(),
        kind,
        major: d.major() as u64,
        minor: d.minor() as u64,
        mode: d.file_mode().unwrap_or(0o666) & 0o7777,
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    })
}

/// The devices the container gets: defaults first, config entries replacing defaults with the
/// same path.
pub fn all_devices(config: &[LinuxDevice]) -> Result<Vec<Device>> {
    let mut out = default_devices();
    for (i, d) in config.iter().enumerate() {
        let dev = config_device(d).with_context(|| format!("linux.devices[{i}]"))?;
        out.retain(|x| x.path != dev.path);
        out.push(dev);
    }
    Ok(out)
}

/// Creates every device (mknod, or a bind mount of the host's node in a user namespace).
pub fn create_devices(root: &OwnedFd, devices: &[Device], userns: bool) -> Result<()> {
    for d in devices {
        create_device(root, d, userns).with_context(|| format!("device {}", d.path.display()))?;
    }
    Ok(())
}

fn create_device(root: &OwnedFd, d: &Device, userns: bool) -> Result<()> {
    let parent_path = d.path.parent().unwrap_or(Path::new("/"));
    let name = d.path.file_name().context("device path has no name")?;
    let parent = resolve::create_in_root(root.as_raw_fd(), parent_path, Kind::Dir)?;
    let parent = reopen_dir(&parent)?;
    if userns {
        let host = bind_source(d)?;
        let target = resolve::create_in_root(root.as_raw_fd(), &d.path, Kind::File)?;
        let tree = syscall::open_tree_clone(host.as_raw_fd(), Path::new(""), false)
            .context("clone host device")?;
        syscall::move_mount_to_fd(&tree, &target).context("bind host device")?;
        return Ok(());
    }
    // Replace whatever the image had at that path, unless it is a directory.
    match nix::unistd::unlinkat(&parent, name, nix::unistd::UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(e).context("remove existing file"),
    }
    let dev = libc::makedev(d.major as u32, d.minor as u32);
    nix::sys::stat::mknodat(
        parent.as_fd(),
        name,
        d.kind,
        Mode::from_bits_truncate(d.mode),
        dev,
    )
    .context("mknod")?;
    // mknod is subject to the umask; set the exact mode, then the owner.
    nix::sys::stat::fchmodat(
        &parent,
        name,
        Mode::from_bits_truncate(d.mode),
        nix::sys::stat::FchmodatFlags::NoFollowSymlink,
    )
    .context("chmod")?;
    nix::unistd::fchownat(
        parent.as_fd(),
        name,
        Some(Uid::from_raw(d.uid)),
        Some(Gid::from_raw(d.gid)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .context("chown")?;
    Ok(())
}

/// The host's node for a device, checked to be what the config says it is.
fn bind_source(d: &Device) -> Result<OwnedFd> {
    let fd = syscall::openat2(
        libc::AT_FDCWD,
        &d.path,
        libc::O_PATH | libc::O_NOFOLLOW,
        0,
        0,
    )
    .with_context(|| format!("host device {}", d.path.display()))?;
    let st = nix::sys::stat::fstat(&fd)?;
    let want = libc::makedev(d.major as u32, d.minor as u32);
    if st.st_mode & SFlag::S_IFMT.bits() != d.kind.bits() || st.st_rdev != want {
        bail!(
            "host {} is not the device the config names",
            d.path.display()
        );
    }
    Ok(fd)
}

/// An `O_PATH` directory fd can't be used with *at() calls that modify; reopen it for real.
fn reopen_dir(fd: &OwnedFd) -> Result<OwnedFd> {
    syscall::openat2(
        fd.as_raw_fd(),
        Path::new("."),
        libc::O_RDONLY | libc::O_DIRECTORY,
        0,
        0,
    )
    .context("open directory")
}

/// /dev/fd, /dev/std{in,out,err}, /dev/ptmx and /dev/core, like runc.
pub fn create_symlinks(root: &OwnedFd, has_kcore: bool) -> Result<()> {
    let dev = resolve::create_in_root(root.as_raw_fd(), Path::new("/dev"), Kind::Dir)?;
    let dev = reopen_dir(&dev)?;
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if has_kcore {
        links.push(("/proc/kcore", "core"));
    }
    for (target, name) in links {
        match nix::unistd::symlinkat(target, dev.as_fd(), name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e).with_context(|| format!("symlink /dev/{name}")),
        }
    }
    // /dev/ptmx must be the devpts instance's ptmx, replacing any node the image had.
    match nix::unistd::unlinkat(&dev, "ptmx", nix::unistd::UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(e).context("remove /dev/ptmx"),
    }
    nix::unistd::symlinkat("pts/ptmx", dev.as_fd(), "ptmx").context("symlink /dev/ptmx")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_devices_override_defaults() {
        let cfg: Vec<LinuxDevice> = serde_json::from_str(
            r#"[{"path":"/dev/null","type":"c","major":1,"minor":3,"fileMode":384},
                {"path":"/dev/net/tun","type":"c","major":10,"minor":200,"uid":5,"gid":6}]"#,
        )
        .unwrap();
        let all = all_devices(&cfg).unwrap();
        assert_eq!(all.len(), 7);
        let null = all
            .iter()
            .find(|d| d.path == Path::new("/dev/null"))
            .unwrap();
        assert_eq!(null.mode, 0o600);
        let tun = all
            .iter()
            .find(|d| d.path == Path::new("/dev/net/tun"))
            .unwrap();
        assert_eq!((tun.major, tun.minor, tun.uid, tun.gid), (10, 200, 5, 6));
    }
}
