//! From `linux.seccomp` to rules per x86 ABI: syscall names resolved to that ABI's numbers,
//! actions to the kernel's return values, arguments to conditions. Every field is checked
//! here, and errors name it (`linux.seccomp.syscalls[3].action: ...`).

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Action, LinuxSeccompFilterFlag as Flag,
    LinuxSeccompOperator as Operator,
};

use super::syscalls::{NONE, TABLE};

/// x32 system calls are x86_64's entry with this bit set in the number.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;
/// The largest errno the kernel returns (it caps SECCOMP_RET_ERRNO data there).
const MAX_ERRNO: u32 = 4095;

/// The x86 system call ABIs a filter tells apart on an x86_64 kernel.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Abi {
    X86_64 = 0,
    I386 = 1,
    X32 = 2,
}

impl Abi {
    pub const ALL: [Abi; 3] = [Abi::X86_64, Abi::I386, Abi::X32];

    /// This ABI's number for a `TABLE` entry.
    fn number(self, entry: &(&str, u16, u16, u16)) -> Option<u32> {
        let n = match self {
            Abi::X86_64 => entry.1,
            Abi::I386 => entry.2,
            Abi::X32 => entry.3,
        };
        (n != NONE).then(|| match self {
            Abi::X32 => X32_SYSCALL_BIT | u32::from(n),
            _ => u32::from(n),
        })
    }

    /// Arguments are compared on their low 32 bits only for the 32-bit ABIs, as libseccomp does.
    pub fn wide_args(self) -> bool {
        self == Abi::X86_64
    }
}

/// An argument comparison, as the kernel sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    /// `(arg & mask) == value`
    MaskedEq(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cond {
    pub index: u8,
    pub op: Op,
    pub value: u64,
}

/// Conditions that must all hold; none means the rule always matches.
pub type Rule = Vec<Cond>;

/// The rules of one action (return value) for one syscall: any of them matching is a match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub ret: u32,
    pub rules: Vec<Rule>,
}

/// What one syscall gets, as libseccomp keeps it: an unconditional rule replaces every
/// conditional one and nothing added later changes it; conditional rules add up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    pub always: Option<u32>,
    /// Conditional rules by action, in config order.
    pub groups: Vec<Group>,
}

impl Entry {
    fn add(&mut self, ret: u32, rules: &[Rule]) {
        if self.always.is_some() {
            return;
        }
        if rules.is_empty() {
            self.always = Some(ret);
            self.groups.clear();
            return;
        }
        match self.groups.iter_mut().find(|g| g.ret == ret) {
            Some(g) => g.rules.extend(rules.iter().cloned()),
            None => self.groups.push(Group {
                ret,
                rules: rules.to_vec(),
            }),
        }
    }
}

/// A checked profile, ready to be turned into a filter.
#[derive(Debug)]
pub struct Profile {
    /// What a call no rule matches gets.
    pub default: u32,
    /// What calls of an ABI the profile does not list get: the kernel's own bad-arch answer.
    pub bad_arch: u32,
    pub i386: bool,
    pub x32: bool,
    /// Per ABI (indexed by `Abi as usize`): syscall number to what it gets.
    pub calls: [BTreeMap<u32, Entry>; 3],
    /// Per ABI: calls numbered above this get ENOSYS instead of the default action, so a
    /// program can tell "too new for this profile" from "denied" and fall back (as runc does).
    pub enosys_above: [Option<u32>; 3],
    /// seccomp(2) flags.
    pub flags: libc::c_ulong,
    /// Some rule notifies a listener.
    pub notify: bool,
}

/// The kernel return value for an action and its errno (or ptrace message) data.
fn ret_of(action: Action, data: Option<u32>, at: &str) -> Result<u32> {
    let with_data = |base: u32, max: u32| -> Result<u32> {
        let d = data.unwrap_or(libc::EPERM as u32);
        if d > max {
            bail!("{at}: {d} is out of range (at most {max})");
        }
        Ok(base | d)
    };
    match action {
        Action::ScmpActErrno => return with_data(libc::SECCOMP_RET_ERRNO, MAX_ERRNO),
        Action::ScmpActTrace => return with_data(libc::SECCOMP_RET_TRACE, 0xffff),
        _ => {}
    }
    if data.is_some() {
        bail!("{at}: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE return a value, not {action}");
    }
    Ok(match action {
        Action::ScmpActKill | Action::ScmpActKillThread => libc::SECCOMP_RET_KILL_THREAD,
        Action::ScmpActKillProcess => libc::SECCOMP_RET_KILL_PROCESS,
        Action::ScmpActTrap => libc::SECCOMP_RET_TRAP,
        Action::ScmpActNotify => libc::SECCOMP_RET_USER_NOTIF,
        Action::ScmpActLog => libc::SECCOMP_RET_LOG,
        Action::ScmpActAllow => libc::SECCOMP_RET_ALLOW,
        Action::ScmpActErrno | Action::ScmpActTrace => unreachable!(),
    })
}

/// A syscall's numbers per ABI, or `None` when no x86 ABI knows the name.
pub fn lookup(name: &str) -> Option<&'static (&'static str, u16, u16, u16)> {
    TABLE
        .binary_search_by(|e| e.0.cmp(name))
        .ok()
        .map(|i| &TABLE[i])
}

/// The rules of one `syscalls[]` entry: its conditions all hold; none for a rule without
/// conditions. runc's exception is kept: when two conditions test the same argument, each
/// becomes a rule of its own (any of them matching is a match). `None` when no rule can ever
/// match: a masked comparison whose value has bits outside the mask never holds.
fn rules_of(args: &[oci_spec::runtime::LinuxSeccompArg], at: &str) -> Result<Option<Vec<Rule>>> {
    let mut conds = Vec::with_capacity(args.len());
    for (j, a) in args.iter().enumerate() {
        let index = a.index();
        if index > 5 {
            bail!("{at}.args[{j}].index: {index} is not an argument number (0 to 5)");
        }
        let (op, value) = match a.op() {
            Operator::ScmpCmpNe => (Op::Ne, a.value()),
            Operator::ScmpCmpLt => (Op::Lt, a.value()),
            Operator::ScmpCmpLe => (Op::Le, a.value()),
            Operator::ScmpCmpEq => (Op::Eq, a.value()),
            Operator::ScmpCmpGe => (Op::Ge, a.value()),
            Operator::ScmpCmpGt => (Op::Gt, a.value()),
            Operator::ScmpCmpMaskedEq => (Op::MaskedEq(a.value()), a.value_two().unwrap_or(0)),
        };
        conds.push(Cond {
            index: index as u8,
            op,
            value,
        });
    }
    let possible = |c: &Cond| !matches!(c.op, Op::MaskedEq(m) if c.value & !m != 0);
    let mut seen = [false; 6];
    let repeated = conds
        .iter()
        .any(|c| std::mem::replace(&mut seen[c.index as usize], true));
    let rules: Vec<Rule> = if conds.is_empty() {
        return Ok(Some(Vec::new()));
    } else if repeated {
        conds
            .into_iter()
            .filter(possible)
            .map(|c| vec![c])
            .collect()
    } else if conds.iter().all(possible) {
        vec![conds]
    } else {
        Vec::new()
    };
    Ok((!rules.is_empty()).then_some(rules))
}

/// Checks `s` and resolves it. Unknown syscall names are skipped (logged at debug level), as
/// runc does: a profile may name calls this kernel generation or architecture does not have.
pub fn parse(s: &LinuxSeccomp) -> Result<Profile> {
    const AT: &str = "linux.seccomp";
    if s.default_action() == Action::ScmpActNotify {
        bail!("{AT}.defaultAction: SCMP_ACT_NOTIFY cannot be the default action: the runtime's own system calls would wait for the listener");
    }
    let default = ret_of(
        s.default_action(),
        s.default_errno_ret(),
        &format!("{AT}.defaultErrnoRet"),
    )?;
    let mut p = Profile {
        default,
        bad_arch: libc::SECCOMP_RET_KILL_THREAD,
        i386: false,
        x32: false,
        calls: Default::default(),
        enosys_above: [None; 3],
        flags: 0,
        notify: false,
    };
    for a in s.architectures().iter().flatten() {
        match a {
            Arch::ScmpArchX86 => p.i386 = true,
            Arch::ScmpArchX32 => p.x32 = true,
            // Other architectures never run on this kernel; libseccomp would accept them too.
            _ => {}
        }
    }
    let enabled = |abi: Abi| match abi {
        Abi::X86_64 => true,
        Abi::I386 => p.i386,
        Abi::X32 => p.x32,
    };
    let mut last = [0u32; 3];
    let mut known = [false; 3];
    for (i, call) in s.syscalls().iter().flatten().enumerate() {
        let at = format!("{AT}.syscalls[{i}]");
        if call.names().is_empty() {
            bail!("{at}.names: must name at least one syscall");
        }
        let ret = ret_of(call.action(), call.errno_ret(), &format!("{at}.errnoRet"))?;
        let rules = rules_of(call.args().as_deref().unwrap_or_default(), &at)?;
        if call.action() == Action::ScmpActNotify {
            p.notify = true;
            if let Some(n) = call.names().iter().find(|n| *n == "sendmsg") {
                bail!("{at}.action: SCMP_ACT_NOTIFY cannot be used for {n}: xrun sends the listener its descriptor with it");
            }
        }
        // As runc: a rule with the default action changes nothing (libseccomp refuses it),
        // not even an earlier conditional rule it would otherwise replace.
        let rules = rules.filter(|_| ret != default);
        for (j, name) in call.names().iter().enumerate() {
            if name.is_empty() {
                bail!("{at}.names[{j}]: must not be empty");
            }
            let Some(entry) = lookup(name) else {
                crate::logging::debug(&format!(
                    "{at}.names[{j}]: unknown syscall {name:?} ignored"
                ));
                continue;
            };
            for abi in Abi::ALL.into_iter().filter(|a| enabled(*a)) {
                let Some(nr) = abi.number(entry) else {
                    continue;
                };
                let k = abi as usize;
                last[k] = last[k].max(nr);
                known[k] = true;
                if let Some(rules) = &rules {
                    p.calls[k].entry(nr).or_default().add(ret, rules);
                }
            }
        }
    }
    if p.notify {
        match s.listener_path() {
            None => bail!("{AT}.listenerPath: must be set when a rule uses SCMP_ACT_NOTIFY"),
            Some(l) if !l.is_absolute() => bail!(
                "{AT}.listenerPath: must be an absolute path, got {:?}",
                l.display().to_string()
            ),
            Some(_) => {}
        }
    }
    if s.listener_metadata().is_some() && s.listener_path().is_none() {
        bail!("{AT}.listenerMetadata: must not be set without listenerPath");
    }
    // runc's -ENOSYS stub: only where the default denies, and not where it already is ENOSYS.
    let permissive = matches!(
        s.default_action(),
        Action::ScmpActAllow | Action::ScmpActLog | Action::ScmpActTrace
    );
    if !permissive && default != libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32 {
        for k in 0..3 {
            p.enosys_above[k] = known[k].then_some(last[k]);
        }
    }
    for f in s.flags().iter().flatten() {
        p.flags |= match f {
            Flag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            Flag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            Flag::SeccompFilterFlagSpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            // Only a filter with a listener waits for one.
            Flag::SeccompFilterFlagWaitKillableRecv if p.notify => {
                libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
            }
            Flag::SeccompFilterFlagWaitKillableRecv => 0,
        };
    }
    if p.notify {
        p.flags |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
        // The kernel refuses TSYNC with a listener unless told how to report a failed sync.
        if p.flags & libc::SECCOMP_FILTER_FLAG_TSYNC != 0 {
            p.flags |= libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
        }
    }
    Ok(p)
}
