//! cgroup v2 device control: cgroups-rs has none, so the rules are compiled into a
//! BPF_PROG_TYPE_CGROUP_DEVICE program, loaded with bpf(2) and attached to the container's
//! cgroup. The kernel runs it on every open/mknod of a device node: it returns 1 to allow,
//! 0 to deny.
//!
//! Program layout (as runc and crun build it): load the request into r2-r5 (type, access,
//! major, minor), then one block per rule from the last to the first (the last matching
//! rule wins): each mismatch jumps to the next block, a match returns the rule's verdict.
//! A wildcard rule returns unconditionally, so the rules before it are not emitted.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use anyhow::{bail, Result};

use super::{Rule, ALL};

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

const LDX_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const AND32_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const RSH32_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const MOV32_K: u8 = 0xb4; // BPF_ALU | BPF_MOV | BPF_K
const MOV32_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const JNE_X: u8 = 0x5d; // BPF_JMP | BPF_JNE | BPF_X
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

/// BPF_DEVCG_DEV_BLOCK / BPF_DEVCG_DEV_CHAR.
fn dev_type(kind: char) -> Option<i32> {
    match kind {
        'b' => Some(1),
        'c' => Some(2),
        _ => None,
    }
}

/// Compiles the rules. Requests no rule matches are allowed, as in a new v1 cgroup; a
/// config that wants a whitelist starts with a deny-all rule (runc's default spec does).
pub fn program(rules: &[Rule]) -> Vec<Insn> {
    // struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major; u32 minor; }
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(AND32_K, 2, 0, 0, 0xffff),
        insn(LDX_W, 3, 1, 0, 0),
        insn(RSH32_K, 3, 0, 0, 16),
        insn(LDX_W, 4, 1, 4, 0),
        insn(LDX_W, 5, 1, 8, 0),
    ];
    let verdict = |allow: bool| {
        [
            insn(MOV32_K, 0, 0, 0, i32::from(allow)),
            insn(EXIT, 0, 0, 0, 0),
        ]
    };
    for r in rules.iter().rev() {
        if r.is_wildcard() {
            p.extend(verdict(r.allow));
            return p;
        }
        // Each check is followed by `rest` more instructions of this block; a failed
        // check skips them all.
        let mut checks: Vec<Vec<Insn>> = Vec::new();
        if let Some(t) = dev_type(r.kind) {
            checks.push(vec![insn(JNE_K, 2, 0, 0, t)]);
        }
        if r.access != ALL {
            // (requested & allowed) != requested: something requested is not covered.
            checks.push(vec![
                insn(MOV32_X, 1, 3, 0, 0),
                insn(AND32_K, 1, 0, 0, i32::from(r.access)),
                insn(JNE_X, 1, 3, 0, 0),
            ]);
        }
        if let Some(m) = r.major {
            checks.push(vec![insn(JNE_K, 4, 0, 0, m as i32)]);
        }
        if let Some(m) = r.minor {
            checks.push(vec![insn(JNE_K, 5, 0, 0, m as i32)]);
        }
        let mut block: Vec<Insn> = checks.into_iter().flatten().collect();
        block.extend(verdict(r.allow));
        let len = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if ins.code == JNE_K || ins.code == JNE_X {
                ins.off = (len - i - 1) as i16;
            }
        }
        p.extend(block);
    }
    p.extend(verdict(true));
    p
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

#[repr(C)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
    _rest: [u8; 56],
}

#[repr(C)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
    _rest: [u8; 44],
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<libc::c_long> {
    // SAFETY: attr is a properly laid out, zero-padded bpf_attr of the given size.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Loads the program; on a verifier error, the verifier's log is in the message.
pub fn load(prog: &[Insn]) -> Result<OwnedFd> {
    let license = c"Apache-2.0";
    let mut name = [0u8; 16];
    name[..10].copy_from_slice(b"xrun_devcg");
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 0,
        log_size: 0,
        log_buf: 0,
        kern_version: 0,
        prog_flags: 0,
        prog_name: name,
        prog_ifindex: 0,
        expected_attach_type: BPF_CGROUP_DEVICE,
        _rest: [0; 56],
    };
    match bpf(BPF_PROG_LOAD, &mut attr) {
        // SAFETY: the kernel returned a new descriptor that we now own.
        Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) }),
        Err(e)
            if e.raw_os_error() == Some(libc::EACCES) || e.raw_os_error() == Some(libc::EINVAL) =>
        {
            // Load again with the verifier's log, to say why.
            let mut log = vec![0u8; 1 << 16];
            attr.log_level = 1;
            attr.log_size = log.len() as u32;
            attr.log_buf = log.as_mut_ptr() as u64;
            let _ = bpf(BPF_PROG_LOAD, &mut attr);
            let end = log.iter().position(|b| *b == 0).unwrap_or(0);
            bail!(
                "load the device filter (BPF_PROG_TYPE_CGROUP_DEVICE): {e}: {}",
                String::from_utf8_lossy(&log[..end]).trim()
            )
        }
        Err(e) => bail!("load the device filter (BPF_PROG_TYPE_CGROUP_DEVICE): {e}"),
    }
}

/// Attaches the program to the cgroup (BPF_F_ALLOW_MULTI: programs of ancestors still apply).
pub fn attach(prog: &OwnedFd, cgroup: impl AsFd) -> Result<()> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_fd().as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        replace_bpf_fd: 0,
        _rest: [0; 44],
    };
    match bpf(BPF_PROG_ATTACH, &mut attr) {
        Ok(_) => Ok(()),
        Err(e) => bail!("attach the device filter to the cgroup: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Rule, MKNOD, READ};
    use super::*;

    fn rule(allow: bool, kind: char, major: Option<i64>, minor: Option<i64>, access: u8) -> Rule {
        Rule {
            allow,
            kind,
            major,
            minor,
            access,
        }
    }

    /// Runs the program on a request, interpreting just the instructions we emit.
    fn run(p: &[Insn], kind: u32, access: u32, major: u32, minor: u32) -> i64 {
        let ctx = [(access << 16) | kind, major, minor];
        let mut r = [0i64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_W => r[dst] = i64::from(ctx[i.off as usize / 4]),
                AND32_K => r[dst] &= i64::from(i.imm),
                RSH32_K => r[dst] >>= i.imm,
                MOV32_K => r[dst] = i64::from(i.imm),
                MOV32_X => r[dst] = r[src],
                JNE_K if r[dst] != i64::from(i.imm) => pc += i.off as usize,
                JNE_X if r[dst] != r[src] => pc += i.off as usize,
                JNE_K | JNE_X => {}
                EXIT => return r[0],
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    #[test]
    fn whitelist_program_allows_only_listed_devices() {
        let rules = vec![
            rule(false, 'a', None, None, ALL),
            rule(true, 'c', Some(1), Some(3), ALL),
            rule(true, 'c', None, None, MKNOD),
            rule(true, 'c', Some(136), None, ALL),
            rule(false, 'c', Some(1), Some(3), super::super::WRITE),
        ];
        let p = program(&rules);
        let (c, b) = (2, 1);
        assert_eq!(run(&p, c, READ as u32, 1, 3), 1, "read /dev/null");
        assert_eq!(
            run(&p, c, 4, 1, 3),
            0,
            "write /dev/null denied by the last rule"
        );
        assert_eq!(run(&p, c, READ as u32, 1, 5), 0, "/dev/zero not listed");
        assert_eq!(
            run(&p, c, MKNOD as u32, 42, 7),
            1,
            "mknod of any char device"
        );
        assert_eq!(run(&p, b, MKNOD as u32, 8, 0), 0, "but not block");
        assert_eq!(run(&p, c, 6, 136, 9), 1, "pts");
    }

    #[test]
    fn no_rules_allow_everything() {
        assert_eq!(run(&program(&[]), 1, 2, 8, 0), 1);
    }
}
