//! What the runtime needs to know about a host process from /proc.

pub struct PidStat {
    /// Clock ticks after boot at which the process started.
    pub start_time: u64,
    /// The state letter of /proc/<pid>/stat (R, S, D, Z, T, ...).
    pub state: char,
}

impl PidStat {
    pub fn is_zombie(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// The process's stat line, or `None` when the pid does not exist (any more).
pub fn stat(pid: i32) -> Option<PidStat> {
    if pid <= 0 {
        return None;
    }
    let s = procfs::process::Process::new(pid).ok()?.stat().ok()?;
    Some(PidStat {
        start_time: s.starttime,
        state: s.state,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_our_own_process() {
        let me = super::stat(std::process::id() as i32).unwrap();
        assert!(me.start_time > 0);
        assert!(!me.is_zombie());
        assert!(super::stat(-1).is_none());
    }
}
