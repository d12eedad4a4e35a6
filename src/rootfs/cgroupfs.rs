//! The container's view of its cgroups at the config's `cgroup` mount (/sys/fs/cgroup):
//! on cgroup v2 the container's own cgroup directory (a fresh cgroup2 mount when it has a
//! cgroup namespace); on v1 a tmpfs with one directory per hierarchy, each showing the
//! container's cgroup in that hierarchy.

use std::os::fd::AsRawFd;
use std::path::Path;

use anyhow::{Context, Result};
use nix::mount::MsFlags;

use super::mounts::{bind, mount_fs, MountCtx};
use super::options::MountOptions;
use super::resolve::{self, Kind};
use crate::cgroups::ContainerMounts;
use crate::syscall;

pub fn mount(ctx: &MountCtx, dest: &Path, o: &MountOptions) -> Result<()> {
    // Binds take their flags from the options; the read-only flag is applied per mount.
    let mut bind_opts = o.clone();
    bind_opts.flags |= MsFlags::MS_BIND | MsFlags::MS_REC;
    match ctx.cgroups {
        ContainerMounts::None => Ok(()),
        ContainerMounts::V2 { host_dir } => {
            if ctx.cgroupns {
                let target = resolve::create_in_root(ctx.root.as_raw_fd(), dest, Kind::Dir)?;
                let mut fs_opts = o.clone();
                fs_opts.data.clear();
                mount_fs(
                    ctx.root,
                    dest,
                    &target,
                    Path::new("cgroup2"),
                    "cgroup2",
                    &fs_opts,
                )
            } else {
                bind(ctx, host_dir, dest, &bind_opts)
            }
        }
        ContainerMounts::V1 { hierarchies } => {
            let target = resolve::create_in_root(ctx.root.as_raw_fd(), dest, Kind::Dir)?;
            let tmpfs = MountOptions {
                flags: MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                data: "mode=755".into(),
                ..Default::default()
            };
            mount_fs(ctx.root, dest, &target, Path::new("tmpfs"), "tmpfs", &tmpfs)?;
            for h in hierarchies {
                let sub = dest.join(&h.name);
                if ctx.cgroupns {
                    let t = resolve::create_in_root(ctx.root.as_raw_fd(), &sub, Kind::Dir)?;
                    let fs_opts = MountOptions {
                        flags: o.flags,
                        data: h.options.clone(),
                        ..Default::default()
                    };
                    mount_fs(ctx.root, &sub, &t, Path::new("cgroup"), "cgroup", &fs_opts)
                } else {
                    bind(ctx, &h.host_dir, &sub, &bind_opts)
                }
                .with_context(|| format!("cgroup hierarchy {}", h.name))?;
            }
            if o.flags.contains(MsFlags::MS_RDONLY) {
                let mnt = resolve::open_in_root(ctx.root.as_raw_fd(), dest)?;
                syscall::mount_setattr(&mnt, false, syscall::MOUNT_ATTR_RDONLY, 0)
                    .context("make the cgroup tmpfs read-only")?;
            }
            Ok(())
        }
    }
}
