//! One classic BPF program for a whole profile, whatever its mix of actions.
//!
//! seccompiler compiles a filter with a single match action, so each (syscall, action) pair's
//! argument checks are compiled with it alone, with placeholder actions, and their return
//! instructions rewritten: a match returns the action, a mismatch jumps on to the next action's
//! checks, in the kernel's precedence order (KILL_PROCESS, KILL_THREAD, TRAP, ERRNO, NOTIFY,
//! TRACE, LOG, ALLOW), so the most severe matching rule wins, as when filters are stacked.
//! Rewriting a return into a jump keeps every instruction where it was, so seccompiler's own
//! jumps stay valid.
//!
//! Around those, the program dispatches on the ABI (x86_64, x32, i386), then finds the
//! syscall with a binary search over ranges of numbers that get the same answer: a few
//! comparisons per call instead of one per listed syscall, and a small program.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};

use super::profile::{Abi, Cond, Entry, Group, Op, Profile, X32_SYSCALL_BIT};

pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// The kernel's limit on a filter's length.
const BPF_MAXINSNS: usize = 4096;

const LD_W_ABS: u16 = 0x20;
const JA: u16 = 0x05;
const JEQ_K: u16 = 0x15;
const JGE_K: u16 = 0x35;
const RET_K: u16 = 0x06;
/// Offsets in `struct seccomp_data`.
const NR: u32 = 0;
const ARCH: u32 = 4;

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

fn ret(k: u32) -> sock_filter {
    stmt(RET_K, k)
}

/// What a range of syscall numbers (or a single one) gets.
#[derive(Debug, PartialEq)]
enum Leaf<'a> {
    Ret(u32),
    /// Argument checks of `groups` (most severe first) for syscall `nr`, else `fallback`.
    Check {
        nr: u32,
        groups: Vec<&'a Group>,
        fallback: u32,
    },
}

/// How severe an action is: the kernel keeps the lowest of every filter's answers.
fn severity(ret: u32) -> i32 {
    (ret & libc::SECCOMP_RET_ACTION_FULL) as i32
}

/// A syscall's answer. Among conditional rules of different actions, the most severe
/// matching one wins, as if each action were a filter of its own (libseccomp's answer for
/// overlapping conditions depends on the shape of its decision tree; the profiles runtimes
/// get do not overlap them).
fn leaf<'a>(nr: u32, e: &'a Entry, default: u32) -> Leaf<'a> {
    if let Some(ret) = e.always {
        return Leaf::Ret(ret);
    }
    let mut groups: Vec<&Group> = e.groups.iter().collect();
    // Stable: among equally severe actions (two errno values), the first in the config wins.
    groups.sort_by_key(|g| severity(g.ret));
    // Trailing checks that would answer the default anyway change nothing.
    while groups.last().is_some_and(|g| g.ret == default) {
        groups.pop();
    }
    if groups.is_empty() {
        Leaf::Ret(default)
    } else {
        Leaf::Check {
            nr,
            groups,
            fallback: default,
        }
    }
}

/// The ranges of an ABI's number space `[lo, hi]`, each given by its first number, with what
/// they get; neighbours with the same answer are merged.
fn segments<'a>(p: &'a Profile, abi: Abi, lo: u32, hi: u32) -> Vec<(u32, Leaf<'a>)> {
    let k = abi as usize;
    let enosys_from = p.enosys_above[k].map(|last| last + 1);
    let unlisted = |nr: u32| match enosys_from {
        Some(from) if nr >= from => libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32,
        _ => p.default,
    };
    let mut out: Vec<(u32, Leaf)> = Vec::new();
    let mut push = |start: u32, l: Leaf<'a>| match (out.last(), &l) {
        (Some((_, Leaf::Ret(a))), Leaf::Ret(b)) if a == b => {}
        _ => out.push((start, l)),
    };
    // Numbers `start..=end` that no rule names.
    let gap = |push: &mut dyn FnMut(u32, Leaf<'a>), start: u32, end: u32| {
        push(start, Leaf::Ret(unlisted(start)));
        if let Some(from) = enosys_from.filter(|f| *f > start && *f <= end) {
            push(from, Leaf::Ret(unlisted(from)));
        }
    };
    let mut next = Some(lo);
    for (&nr, groups) in p.calls[k].range(lo..=hi) {
        let from = next.expect("numbers are unique and increasing");
        if nr > from {
            gap(&mut push, from, nr - 1);
        }
        push(nr, leaf(nr, groups, p.default));
        next = nr.checked_add(1);
    }
    if let Some(from) = next.filter(|n| *n <= hi) {
        gap(&mut push, from, hi);
    }
    out
}

/// The argument checks of one action for syscall `nr`: seccompiler's code, entered at its
/// first rule, with `Trap` standing for "matched" and `KillThread` for "no rule matched".
fn checks(nr: u32, g: &Group, wide: bool) -> Result<BpfProgram> {
    let len = if wide {
        SeccompCmpArgLen::Qword
    } else {
        SeccompCmpArgLen::Dword
    };
    let cond = |c: &Cond| {
        let op = match c.op {
            Op::Ne => SeccompCmpOp::Ne,
            Op::Lt => SeccompCmpOp::Lt,
            Op::Le => SeccompCmpOp::Le,
            Op::Eq => SeccompCmpOp::Eq,
            Op::Ge => SeccompCmpOp::Ge,
            Op::Gt => SeccompCmpOp::Gt,
            Op::MaskedEq(m) => SeccompCmpOp::MaskedEq(m),
        };
        SeccompCondition::new(c.index, len.clone(), op, c.value)
    };
    let rules = g
        .rules
        .iter()
        .map(|r| SeccompRule::new(r.iter().map(cond).collect::<Result<_, _>>()?))
        .collect::<Result<Vec<_>, _>>()?;
    let filter = SeccompFilter::new(
        BTreeMap::from([(i64::from(nr), rules)]),
        SeccompAction::KillThread,
        SeccompAction::Trap,
        TargetArch::x86_64,
    )?;
    let mut prog: BpfProgram = filter.try_into()?;
    // seccompiler 0.5 starts with its own arch check (3 instructions), then loads the number
    // and compares it (2): both are done already by the time a leaf runs.
    let head_ok = prog.len() > 5
        && prog[0].code == LD_W_ABS
        && prog[3] == stmt(LD_W_ABS, NR)
        && prog[4].code == JEQ_K
        && prog[4].k == nr;
    if !head_ok {
        bail!("seccompiler produced an unexpected program layout");
    }
    prog.drain(..5);
    Ok(prog)
}

fn leaf_code(l: &Leaf, abi: Abi) -> Result<Vec<sock_filter>> {
    let (nr, groups, fallback) = match l {
        Leaf::Ret(k) => return Ok(vec![ret(*k)]),
        Leaf::Check {
            nr,
            groups,
            fallback,
        } => (*nr, groups, *fallback),
    };
    let mut out = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let mut code = checks(nr, g, abi.wide_args())?;
        let n = code.len();
        let last = i + 1 == groups.len();
        for (pc, insn) in code.iter_mut().enumerate() {
            if insn.code != RET_K {
                continue;
            }
            *insn = match insn.k {
                libc::SECCOMP_RET_TRAP => ret(g.ret),
                libc::SECCOMP_RET_KILL_THREAD if last => ret(fallback),
                // On to the next action's checks, right after this code.
                libc::SECCOMP_RET_KILL_THREAD => stmt(JA, (n - pc - 1) as u32),
                _ => bail!("seccompiler produced an unexpected return"),
            };
        }
        out.extend(code);
    }
    Ok(out)
}

/// A binary search over the segments' start numbers; the accumulator holds the number.
fn tree(segs: &[(u32, Leaf)], abi: Abi) -> Result<Vec<sock_filter>> {
    if segs.len() == 1 {
        return leaf_code(&segs[0].1, abi);
    }
    let mid = segs.len() / 2;
    let left = tree(&segs[..mid], abi)?;
    let right = tree(&segs[mid..], abi)?;
    let mut out = Vec::with_capacity(left.len() + right.len() + 2);
    match u8::try_from(left.len()) {
        Ok(skip) => out.push(jump(JGE_K, segs[mid].0, skip, 0)),
        // Too far for a conditional jump: go through an unconditional one.
        Err(_) => {
            out.push(jump(JGE_K, segs[mid].0, 0, 1));
            out.push(stmt(JA, left.len() as u32));
        }
    }
    out.extend(left);
    out.extend(right);
    Ok(out)
}

/// Compiles the profile into one program.
pub fn assemble(p: &Profile) -> Result<Vec<sock_filter>> {
    let x86_64 = tree(
        &segments(p, Abi::X86_64, 0, X32_SYSCALL_BIT - 1),
        Abi::X86_64,
    )?;
    let x32 = if p.x32 {
        tree(&segments(p, Abi::X32, X32_SYSCALL_BIT, u32::MAX), Abi::X32)?
    } else {
        vec![ret(p.bad_arch)]
    };
    let i386 = if p.i386 {
        tree(&segments(p, Abi::I386, 0, u32::MAX), Abi::I386)?
    } else {
        Vec::new()
    };

    // ld arch; x86_64 (and x32) → X64; i386 → I386; anything else gets the bad-arch answer.
    let mut prog = vec![stmt(LD_W_ABS, ARCH), jump(JEQ_K, AUDIT_ARCH_X86_64, 0, 1)];
    let ja_x64 = prog.len();
    prog.push(stmt(JA, 0));
    let mut ja_i386 = None;
    if p.i386 {
        prog.push(jump(JEQ_K, AUDIT_ARCH_I386, 0, 1));
        ja_i386 = Some(prog.len());
        prog.push(stmt(JA, 0));
    }
    prog.push(ret(p.bad_arch));
    prog[ja_x64].k = (prog.len() - ja_x64 - 1) as u32;
    // X64: numbers with the x32 bit are x32 calls.
    prog.push(stmt(LD_W_ABS, NR));
    prog.push(jump(JGE_K, X32_SYSCALL_BIT, 0, 1));
    let ja_x32 = prog.len();
    prog.push(stmt(JA, x86_64.len() as u32));
    prog.extend(x86_64);
    debug_assert_eq!(prog.len(), ja_x32 + 1 + prog[ja_x32].k as usize);
    prog.extend(x32);
    if let Some(at) = ja_i386 {
        prog[at].k = (prog.len() - at - 1) as u32;
        prog.push(stmt(LD_W_ABS, NR));
        prog.extend(i386);
    }
    if prog.len() > BPF_MAXINSNS {
        bail!(
            "the profile needs {} BPF instructions, more than the kernel's {BPF_MAXINSNS}",
            prog.len()
        );
    }
    Ok(prog)
}

/// Compiles, naming the cause when seccompiler refuses a rule.
pub fn compile(p: &Profile) -> Result<Vec<sock_filter>> {
    assemble(p).context("linux.seccomp")
}
