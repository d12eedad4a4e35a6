//! Owner mapping for unpacking into a user namespace: image ids are shifted to host ids the
//! way the bundle's `linux.uidMappings`/`gidMappings` will shift them back.

use anyhow::{bail, Context, Result};

/// One `CONTAINER:HOST:SIZE` range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdRange {
    pub container: u32,
    pub host: u32,
    pub size: u32,
}

impl IdRange {
    /// Parses `CONTAINER:HOST:SIZE`.
    pub fn parse(s: &str) -> Result<IdRange> {
        let parts: Vec<&str> = s.split(':').collect();
        let [c, h, n] = parts.as_slice() else {
            bail!("{s:?}: expected CONTAINER:HOST:SIZE");
        };
        let num = |v: &str| {
            v.parse::<u32>()
                .with_context(|| format!("{s:?}: {v:?} is not a number"))
        };
        let r = IdRange {
            container: num(c)?,
            host: num(h)?,
            size: num(n)?,
        };
        if r.size == 0
            || r.container.checked_add(r.size - 1).is_none()
            || r.host.checked_add(r.size - 1).is_none()
        {
            bail!("{s:?}: empty or overflowing range");
        }
        Ok(r)
    }

    fn map(&self, id: u32) -> Option<u32> {
        (id >= self.container && id - self.container < self.size)
            .then(|| self.host + (id - self.container))
    }
}

/// Uid and gid maps; empty maps mean the identity (no user namespace).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdMap {
    pub uids: Vec<IdRange>,
    pub gids: Vec<IdRange>,
}

impl IdMap {
    pub fn is_identity(&self) -> bool {
        self.uids.is_empty() && self.gids.is_empty()
    }

    /// The host owner for an image owner; `None` when the map has no room for it.
    pub fn map(&self, uid: u32, gid: u32) -> Option<(u32, u32)> {
        let u = if self.uids.is_empty() {
            Some(uid)
        } else {
            self.uids.iter().find_map(|r| r.map(uid))
        };
        let g = if self.gids.is_empty() {
            Some(gid)
        } else {
            self.gids.iter().find_map(|r| r.map(gid))
        };
        Some((u?, g?))
    }

    /// The host owner of the container's root, where unmappable owners are folded (as umoci
    /// does for rootless unpacks: there is nothing else they could be).
    pub fn root(&self) -> (u32, u32) {
        self.map(0, 0).unwrap_or((
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_shift_ids_and_refuse_the_rest() {
        let m = IdMap {
            uids: vec![IdRange::parse("0:100000:65536").unwrap()],
            gids: vec![IdRange::parse("0:200000:10").unwrap()],
        };
        assert_eq!(m.map(0, 0), Some((100000, 200000)));
        assert_eq!(m.map(1000, 5), Some((101000, 200005)));
        assert_eq!(m.map(1000, 10), None);
        assert_eq!(m.root(), (100000, 200000));
        assert!(IdRange::parse("1:2").is_err());
        assert!(IdRange::parse("0:4294967295:2").is_err());
        assert_eq!(IdMap::default().map(7, 8), Some((7, 8)));
    }
}
