//! Switching to `process.user`: supplementary groups, gid, uid, umask.

use anyhow::{Context, Result};
use oci_spec::runtime::User;

/// Changes groups and ids, keeping the permitted capabilities across the uid change so the
/// capability step can still set them afterwards. `setgroups_allowed` is false in a user
/// namespace whose setgroups is "deny".
pub fn switch(user: &User, setgroups_allowed: bool) -> Result<()> {
    set_keepcaps(true)?;
    if setgroups_allowed {
        let groups: Vec<libc::gid_t> = user.additional_gids().clone().unwrap_or_default();
        // SAFETY: the pointer and length describe `groups`.
        if unsafe { libc::setgroups(groups.len(), groups.as_ptr()) } != 0 {
            return Err(std::io::Error::last_os_error()).context(format!("setgroups {groups:?}"));
        }
    }
    let (uid, gid) = (user.uid(), user.gid());
    // SAFETY: plain syscalls with integer arguments.
    if unsafe { libc::setresgid(gid, gid, gid) } != 0 {
        return Err(std::io::Error::last_os_error()).context(format!("setresgid {gid}"));
    }
    // SAFETY: as above.
    if unsafe { libc::setresuid(uid, uid, uid) } != 0 {
        return Err(std::io::Error::last_os_error()).context(format!("setresuid {uid}"));
    }
    set_keepcaps(false)?;
    // runc's default umask when the config has none.
    let mask = user.umask().unwrap_or(0o022);
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(mask as libc::mode_t) };
    Ok(())
}

/// Becomes uid and gid 0 of the user namespace just entered (the capabilities stay: a process
/// keeps them in the namespace it made or joined).
pub fn become_root() -> Result<()> {
    // SAFETY: plain syscalls with integer arguments.
    if unsafe { libc::setresgid(0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error())
            .context("setresgid 0 in the user namespace (is gid 0 mapped?)");
    }
    // SAFETY: as above.
    if unsafe { libc::setresuid(0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error())
            .context("setresuid 0 in the user namespace (is uid 0 mapped?)");
    }
    Ok(())
}

fn set_keepcaps(on: bool) -> Result<()> {
    // SAFETY: plain prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, libc::c_ulong::from(on), 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error()).context("prctl(PR_SET_KEEPCAPS)");
    }
    Ok(())
}

/// Parses `exec --user UID[:GID]`.
pub fn parse_uid_gid(s: &str) -> Result<(u32, Option<u32>)> {
    let (u, g) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    let uid = u
        .parse()
        .with_context(|| format!("--user {s:?}: uid must be a number"))?;
    let gid = g
        .map(|g| {
            g.parse()
                .with_context(|| format!("--user {s:?}: gid must be a number"))
        })
        .transpose()?;
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_user_flag() {
        assert_eq!(super::parse_uid_gid("1000").unwrap(), (1000, None));
        assert_eq!(super::parse_uid_gid("1:2").unwrap(), (1, Some(2)));
        assert!(super::parse_uid_gid("root").is_err());
    }
}
