//! `Config.User` (`name`, `uid`, `name:group`, `uid:gid`, ...) resolved against the image's
//! own /etc/passwd and /etc/group, read from inside the rootfs (never the host's).

use std::io::Read;
use std::path::Path;

use anyhow::{bail, Result};

use crate::image::fsops::Root;

#[derive(Debug, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
}

/// Reads a small text file inside the root; a missing file reads as empty.
fn read_in_root(root: &Root, path: &str) -> Result<String> {
    match root.open_file(Path::new(path), libc::O_RDONLY) {
        Ok(fd) => {
            let mut s = String::new();
            std::fs::File::from(fd)
                .take(16 << 20)
                .read_to_string(&mut s)?;
            Ok(s)
        }
        Err(nix::errno::Errno::ENOENT) => Ok(String::new()),
        Err(e) => bail!("{path}: {e}"),
    }
}

/// Resolves `spec` (empty means root).
pub fn resolve(spec: &str, root: &Root) -> Result<User> {
    if spec.is_empty() {
        return Ok(User {
            uid: 0,
            gid: 0,
            additional_gids: vec![],
        });
    }
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = read_in_root(root, "/etc/passwd")?;
    let entry = passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 4 {
            return None;
        }
        let hit = match u.parse::<u32>() {
            Ok(n) => f[2].parse::<u32>() == Ok(n),
            Err(_) => f[0] == u,
        };
        hit.then(|| {
            (
                f[0].to_string(),
                f[2].parse::<u32>().ok(),
                f[3].parse::<u32>().ok(),
            )
        })
    });
    let (name, uid, primary) = match (u.parse::<u32>(), entry) {
        (Ok(n), Some((name, _, gid))) => (Some(name), n, gid.unwrap_or(0)),
        (Ok(n), None) => (None, n, 0),
        (Err(_), Some((name, Some(uid), gid))) => (Some(name), uid, gid.unwrap_or(0)),
        (Err(_), _) => bail!("config.User {spec:?}: no user {u:?} in the image's /etc/passwd"),
    };
    let group = read_in_root(root, "/etc/group")?;
    let groups: Vec<(String, u32, Vec<String>)> = group
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 3).then_some(())?;
            let members = f.get(3).map_or(vec![], |m| {
                m.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            });
            Some((f[0].to_string(), f[2].parse().ok()?, members))
        })
        .collect();
    let Some(g) = g else {
        let mut extra: Vec<u32> = match &name {
            Some(n) => groups
                .iter()
                .filter(|(_, gid, m)| m.contains(n) && *gid != primary)
                .map(|(_, gid, _)| *gid)
                .collect(),
            None => vec![],
        };
        extra.dedup();
        return Ok(User {
            uid,
            gid: primary,
            additional_gids: extra,
        });
    };
    let gid = match g.parse::<u32>() {
        Ok(n) => n,
        Err(_) => match groups.iter().find(|(n, _, _)| n == g) {
            Some((_, gid, _)) => *gid,
            None => bail!("config.User {spec:?}: no group {g:?} in the image's /etc/group"),
        },
    };
    Ok(User {
        uid,
        gid,
        additional_gids: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_forms_resolve_from_the_image_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        std::fs::write(
            d.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("etc/group"),
            "root:x:0:\napp:x:1001:\nwheel:x:10:app,x\nweb:x:33:\n",
        )
        .unwrap();
        let r = Root::open(d.path()).unwrap();
        let u = |s| resolve(s, &r).unwrap();
        assert_eq!(
            u("app"),
            User {
                uid: 1000,
                gid: 1001,
                additional_gids: vec![10]
            }
        );
        assert_eq!(
            u("1000"),
            User {
                uid: 1000,
                gid: 1001,
                additional_gids: vec![10]
            }
        );
        assert_eq!(
            u("app:web"),
            User {
                uid: 1000,
                gid: 33,
                additional_gids: vec![]
            }
        );
        assert_eq!(
            u("1000:7"),
            User {
                uid: 1000,
                gid: 7,
                additional_gids: vec![]
            }
        );
        assert_eq!(
            u("4242"),
            User {
                uid: 4242,
                gid: 0,
                additional_gids: vec![]
            }
        );
        assert_eq!(
            u(""),
            User {
                uid: 0,
                gid: 0,
                additional_gids: vec![]
            }
        );
        let e = resolve("nobody", &r).unwrap_err().to_string();
        assert!(e.contains("no user \"nobody\""), "{e}");
        assert!(resolve("app:nogroup", &r)
            .unwrap_err()
            .to_string()
            .contains("no group"));
    }
}
