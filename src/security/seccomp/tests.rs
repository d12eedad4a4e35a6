//! The compiler's programs, run two ways: in a small classic-BPF interpreter (every ABI,
//! every argument value, no privileges needed), and loaded for real in a forked child, which
//! proves the kernel takes them and answers as the interpreter says.

use serde_json::{json, Value};

use super::profile::lookup;
use super::syscalls::{NONE, TABLE};
use super::*;
use seccompiler::sock_filter;

const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const KILL_THREAD: u32 = libc::SECCOMP_RET_KILL_THREAD;
const KILL_PROCESS: u32 = libc::SECCOMP_RET_KILL_PROCESS;
const X32: u32 = profile::X32_SYSCALL_BIT;

fn errno(e: i32) -> u32 {
    libc::SECCOMP_RET_ERRNO | e as u32
}

fn filter(v: Value) -> Filter {
    compile(&serde_json::from_value(v).unwrap()).unwrap()
}

fn error(v: Value) -> String {
    format!(
        "{:#}",
        compile(&serde_json::from_value(v).unwrap()).unwrap_err()
    )
}

/// `struct seccomp_data` as a filter reads it: 32-bit words at byte offsets.
struct Data {
    nr: u32,
    arch: u32,
    args: [u64; 6],
}

impl Data {
    fn word(&self, off: u32) -> u32 {
        match off {
            0 => self.nr,
            4 => self.arch,
            8 | 12 => 0,
            16..=63 if off % 4 == 0 => {
                let a = self.args[(off as usize - 16) / 8];
                if off % 8 == 0 {
                    a as u32
                } else {
                    (a >> 32) as u32
                }
            }
            _ => panic!("load from offset {off}"),
        }
    }
}

/// Runs a program the way the kernel does, for the instructions the compiler emits.
fn interpret(prog: &[sock_filter], d: &Data) -> u32 {
    let (mut pc, mut a) = (0usize, 0u32);
    loop {
        let i = &prog[pc];
        pc += 1;
        let cond = |taken: bool| usize::from(if taken { i.jt } else { i.jf });
        match i.code {
            0x20 => a = d.word(i.k),      // ld [k]
            0x54 => a &= i.k,             // and #k
            0x05 => pc += i.k as usize,   // ja
            0x15 => pc += cond(a == i.k), // jeq
            0x25 => pc += cond(a > i.k),  // jgt
            0x35 => pc += cond(a >= i.k), // jge
            0x06 => return i.k,           // ret
            c => panic!("instruction {c:#x} at {}", pc - 1),
        }
    }
}

fn run(f: &Filter, arch: u32, nr: u32, args: &[u64]) -> u32 {
    let mut a = [0u64; 6];
    a[..args.len()].copy_from_slice(args);
    interpret(&f.program, &Data { nr, arch, args: a })
}

fn nr(name: &str) -> u32 {
    u32::from(lookup(name).unwrap().1)
}

/// An x86_64 call by name.
fn call(f: &Filter, name: &str, args: &[u64]) -> u32 {
    run(f, bpf::AUDIT_ARCH_X86_64, nr(name), args)
}

#[test]
fn errno_with_a_chosen_value_and_the_default_eperm() {
    let f = filter(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42},
        {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO"}
    ]}));
    assert_eq!(call(&f, "mkdir", &[]), errno(42));
    assert_eq!(call(&f, "mkdirat", &[]), errno(42));
    assert_eq!(call(&f, "rmdir", &[]), errno(libc::EPERM));
    assert_eq!(call(&f, "getpid", &[]), ALLOW);
    // A permissive default gets no ENOSYS stub: unknown numbers are allowed.
    assert_eq!(run(&f, bpf::AUDIT_ARCH_X86_64, 1000, &[]), ALLOW);
}

#[test]
fn every_action() {
    let f = filter(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_KILL"},
        {"names": ["write"], "action": "SCMP_ACT_KILL_THREAD"},
        {"names": ["open"], "action": "SCMP_ACT_KILL_PROCESS"},
        {"names": ["close"], "action": "SCMP_ACT_TRAP"},
        {"names": ["stat"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
        {"names": ["fstat"], "action": "SCMP_ACT_LOG"},
        {"names": ["lstat"], "action": "SCMP_ACT_NOTIFY"}
    ], "listenerPath": "/run/l.sock"}));
    assert_eq!(call(&f, "read", &[]), KILL_THREAD);
    assert_eq!(call(&f, "write", &[]), KILL_THREAD);
    assert_eq!(call(&f, "open", &[]), KILL_PROCESS);
    assert_eq!(call(&f, "close", &[]), libc::SECCOMP_RET_TRAP);
    assert_eq!(call(&f, "stat", &[]), libc::SECCOMP_RET_TRACE | 7);
    assert_eq!(call(&f, "fstat", &[]), libc::SECCOMP_RET_LOG);
    assert_eq!(call(&f, "lstat", &[]), libc::SECCOMP_RET_USER_NOTIF);
    assert!(f.notifies());
}

#[test]
fn allow_list_default_errno_and_the_enosys_stub() {
    let f = filter(
        json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 13,
        "syscalls": [{"names": ["read", "write", "clone3"], "action": "SCMP_ACT_ALLOW"}]}),
    );
    assert_eq!(call(&f, "read", &[]), ALLOW);
    assert_eq!(call(&f, "mkdir", &[]), errno(13));
    // Above the newest listed call (clone3, 435): "too new for this profile", as runc.
    assert_eq!(
        run(&f, bpf::AUDIT_ARCH_X86_64, 436, &[]),
        errno(libc::ENOSYS)
    );
    assert_eq!(
        run(&f, bpf::AUDIT_ARCH_X86_64, 5000, &[]),
        errno(libc::ENOSYS)
    );
    assert_eq!(run(&f, bpf::AUDIT_ARCH_X86_64, 434, &[]), errno(13));
    // Not when the default already is ENOSYS, or kills.
    let f = filter(json!({"defaultAction": "SCMP_ACT_KILL_PROCESS",
        "syscalls": [{"names": ["read", "getppid"], "action": "SCMP_ACT_ALLOW"}]}));
    assert_eq!(call(&f, "getppid", &[]), ALLOW);
    assert_eq!(call(&f, "getpid", &[]), KILL_PROCESS);
    assert_eq!(call(&f, "getpgrp", &[]), errno(libc::ENOSYS));
    let f = filter(
        json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}),
    );
    assert_eq!(call(&f, "getpid", &[]), errno(libc::ENOSYS));
}

#[test]
fn architectures() {
    let only64 = filter(json!({"defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["mkdir", "getpid"], "action": "SCMP_ACT_ALLOW"}]}));
    let all = filter(json!({"defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"],
        "syscalls": [{"names": ["mkdir", "getpid"], "action": "SCMP_ACT_ALLOW"}]}));
    let (i386, x86_64) = (bpf::AUDIT_ARCH_I386, bpf::AUDIT_ARCH_X86_64);
    // i386 mkdir is 39, x86_64's getpid.
    assert_eq!(run(&only64, i386, 39, &[]), KILL_THREAD);
    assert_eq!(run(&only64, x86_64, X32 | 83, &[]), KILL_THREAD);
    assert_eq!(run(&only64, 0xc000_00b7, 83, &[]), KILL_THREAD);
    assert_eq!(run(&all, i386, 39, &[]), ALLOW);
    assert_eq!(run(&all, i386, 20, &[]), ALLOW);
    assert_eq!(run(&all, i386, 30, &[]), errno(libc::EPERM));
    assert_eq!(run(&all, i386, 83, &[]), errno(libc::ENOSYS));
    assert_eq!(run(&all, x86_64, X32 | 83, &[]), ALLOW);
    assert_eq!(run(&all, x86_64, X32 | 40, &[]), errno(libc::EPERM));
    assert_eq!(run(&all, x86_64, X32 | 84, &[]), errno(libc::ENOSYS));
    assert_eq!(run(&all, x86_64, 83, &[]), ALLOW);
    assert_eq!(run(&all, 0xc000_00b7, 83, &[]), KILL_THREAD);
}

#[test]
fn i386_compares_the_low_32_bits_only() {
    let f = filter(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"],
        "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
            "args": [{"index": 0, "value": 4, "op": "SCMP_CMP_EQ"}]}]}),
    );
    assert_eq!(
        run(&f, bpf::AUDIT_ARCH_I386, 136, &[0x1_0000_0004]),
        errno(1)
    );
    assert_eq!(call(&f, "personality", &[0x1_0000_0004]), ALLOW);
    assert_eq!(call(&f, "personality", &[4]), errno(1));
}

#[test]
fn personality_values_are_or_ed() {
    // Docker's shape: one allow rule per value, default deny.
    let rule = |v: u64| {
        json!({"names": ["personality"], "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 0, "value": v, "op": "SCMP_CMP_EQ"}]})
    };
    let f = filter(json!({"defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [rule(0), rule(8), rule(0x20000), rule(0x20008), rule(0xffff_ffff)]}));
    for v in [0, 8, 0x20000, 0x20008, 0xffff_ffff] {
        assert_eq!(call(&f, "personality", &[v]), ALLOW, "{v:#x}");
    }
    for v in [1, 4, 0x0040_0000, 0x1_0000_0000, u64::MAX] {
        assert_eq!(call(&f, "personality", &[v]), errno(1), "{v:#x}");
    }
}

#[test]
fn masked_eq_on_clone_flags() {
    // Docker's clone rule: allowed when no namespace flag is set.
    let f = filter(json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 2114060288u64, "op": "SCMP_CMP_MASKED_EQ"}]}]}));
    let sigchld = libc::SIGCHLD as u64;
    assert_eq!(call(&f, "clone", &[sigchld]), ALLOW);
    assert_eq!(call(&f, "clone", &[0x1_0000_0000 | sigchld]), ALLOW);
    let threads = (libc::CLONE_VM
        | libc::CLONE_FS
        | libc::CLONE_FILES
        | libc::CLONE_SIGHAND
        | libc::CLONE_THREAD
        | libc::CLONE_SYSVSEM
        | libc::CLONE_SETTLS
        | libc::CLONE_PARENT_SETTID
        | libc::CLONE_CHILD_CLEARTID) as u64;
    assert_eq!(call(&f, "clone", &[threads]), ALLOW);
    for ns in [
        libc::CLONE_NEWUSER,
        libc::CLONE_NEWNS,
        libc::CLONE_NEWPID,
        libc::CLONE_NEWNET,
    ] {
        assert_eq!(
            call(&f, "clone", &[ns as u64 | sigchld]),
            errno(1),
            "{ns:#x}"
        );
    }
    // valueTwo is the wanted value; one with bits outside the mask never matches.
    let f = filter(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["ioctl"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 1, "value": 0xff00, "valueTwo": 0x5400, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["fcntl"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 1, "value": 0xff00, "valueTwo": 0x5401, "op": "SCMP_CMP_MASKED_EQ"}]}]}));
    assert_eq!(call(&f, "ioctl", &[0, 0x5412]), errno(1));
    assert_eq!(call(&f, "ioctl", &[0, 0x1_0000_5412]), errno(1));
    assert_eq!(call(&f, "ioctl", &[0, 0x5512]), ALLOW);
    assert_eq!(call(&f, "fcntl", &[0, 0x5401]), ALLOW);
}

#[test]
fn every_operator_on_64_bits() {
    let v: u64 = 0x1_0000_0005;
    let ops = [
        ("SCMP_CMP_NE", "read"),
        ("SCMP_CMP_LT", "write"),
        ("SCMP_CMP_LE", "open"),
        ("SCMP_CMP_EQ", "close"),
        ("SCMP_CMP_GE", "stat"),
        ("SCMP_CMP_GT", "fstat"),
    ];
    let f = filter(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": ops.iter().map(|(op, name)|
        json!({"names": [name], "action": "SCMP_ACT_ERRNO", "args": [{"index": 2, "value": v, "op": op}]})
    ).collect::<Vec<_>>()}),
    );
    let samples = [
        0,
        5,
        6,
        0xffff_ffff,
        0x1_0000_0000,
        v - 1,
        v,
        v + 1,
        0x2_0000_0000,
        u64::MAX,
    ];
    for (op, name) in ops {
        for x in samples {
            let want = match op {
                "SCMP_CMP_NE" => x != v,
                "SCMP_CMP_LT" => x < v,
                "SCMP_CMP_LE" => x <= v,
                "SCMP_CMP_EQ" => x == v,
                "SCMP_CMP_GE" => x >= v,
                _ => x > v,
            };
            let got = call(&f, name, &[0, 0, x]);
            assert_eq!(got == errno(1), want, "{op} {x:#x}");
        }
    }
}

#[test]
fn conditions_of_a_rule_are_and_ed_except_on_the_same_argument() {
    let f = filter(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "args": [
            {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"},
            {"index": 1, "value": 3, "op": "SCMP_CMP_EQ"}]},
        // runc: two conditions on one argument become two rules (either matches).
        {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [
            {"index": 1, "value": 9, "op": "SCMP_CMP_EQ"},
            {"index": 1, "value": 15, "op": "SCMP_CMP_EQ"}]}]}));
    assert_eq!(call(&f, "socket", &[2, 3]), errno(1));
    assert_eq!(call(&f, "socket", &[2, 1]), ALLOW);
    assert_eq!(call(&f, "socket", &[10, 3]), ALLOW);
    assert_eq!(call(&f, "kill", &[1, 9]), errno(1));
    assert_eq!(call(&f, "kill", &[1, 15]), errno(1));
    assert_eq!(call(&f, "kill", &[1, 2]), ALLOW);
}

#[test]
fn unconditional_and_conditional_rules_as_libseccomp() {
    let f = filter(json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        // A later unconditional rule replaces conditional ones...
        {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5,
         "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]},
        {"names": ["kill"], "action": "SCMP_ACT_ALLOW"},
        // ... and nothing added after an unconditional rule changes it.
        {"names": ["tkill"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["tkill"], "action": "SCMP_ACT_KILL"},
        {"names": ["tkill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5,
         "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]},
        // A rule with the default action is skipped (runc), so it replaces nothing.
        {"names": ["tgkill"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 2, "value": 0, "op": "SCMP_CMP_EQ"}]},
        {"names": ["tgkill"], "action": "SCMP_ACT_ERRNO"},
        // Conditional rules of different actions: the most severe match wins.
        {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_GE"}]},
        {"names": ["ioctl"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 1, "value": 7, "op": "SCMP_CMP_EQ"}]},
        {"names": ["ioctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22, "args": [{"index": 1, "value": 5, "op": "SCMP_CMP_GT"}]}
    ]}));
    assert_eq!(call(&f, "kill", &[1, 9]), ALLOW);
    assert_eq!(call(&f, "tkill", &[1, 9]), ALLOW);
    assert_eq!(call(&f, "tgkill", &[1, 1, 0]), ALLOW);
    assert_eq!(call(&f, "tgkill", &[1, 1, 9]), errno(1));
    assert_eq!(call(&f, "ioctl", &[0, 0]), errno(1));
    assert_eq!(call(&f, "ioctl", &[0, 2]), ALLOW);
    assert_eq!(call(&f, "ioctl", &[0, 6]), errno(22));
    assert_eq!(call(&f, "ioctl", &[0, 7]), KILL_PROCESS);
}

#[test]
fn unknown_names_are_ignored_malformed_fields_are_not() {
    let f = filter(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["no_such_call", "mkdir"], "action": "SCMP_ACT_ERRNO"}]}));
    assert_eq!(call(&f, "mkdir", &[]), errno(1));
    let cases = [
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
            "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
         "config.json: linux.seccomp.syscalls[0].args[0].index: 6 is not an argument number (0 to 5)"),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5000}]}),
         "config.json: linux.seccomp.syscalls[0].errnoRet: 5000 is out of range (at most 4095)"),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]}),
         "config.json: linux.seccomp.syscalls[0].errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE return a value, not SCMP_ACT_KILL"),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}),
         "config.json: linux.seccomp.syscalls[0].names: must name at least one syscall"),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read", ""], "action": "SCMP_ACT_ERRNO"}]}),
         "config.json: linux.seccomp.syscalls[0].names[1]: must not be empty"),
        (json!({"defaultAction": "SCMP_ACT_NOTIFY"}),
         "config.json: linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
         "config.json: linux.seccomp.listenerPath: must be set when a rule uses SCMP_ACT_NOTIFY"),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "rel.sock",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
         "config.json: linux.seccomp.listenerPath: must be an absolute path"),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/l.sock",
            "syscalls": [{"names": ["mkdir", "sendmsg"], "action": "SCMP_ACT_NOTIFY"}]}),
         "config.json: linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY cannot be used for sendmsg"),
    ];
    for (v, want) in cases {
        let e = error(v);
        assert!(e.starts_with(want), "{e}\n  wanted: {want}");
    }
}

#[path = "../../../tests/support/docker_like_seccomp.rs"]
mod docker_like_seccomp;

/// Docker's default profile, shaped here, over every x86 call of the table.
fn docker_like() -> Value {
    docker_like_seccomp::docker_like(TABLE.iter().map(|e| e.0))
}

#[test]
fn docker_like_profile_in_the_interpreter() {
    let f = filter(docker_like());
    assert!(f.len() < 1000, "{} instructions", f.len());
    for e in TABLE.iter().filter(|e| e.1 != NONE) {
        let want = match e.0 {
            "socket" | "personality" | "clone" => continue,
            "clone3" => errno(libc::ENOSYS),
            n if docker_like()["syscalls"][0]["names"]
                .as_array()
                .unwrap()
                .contains(&json!(n)) =>
            {
                ALLOW
            }
            _ => errno(1),
        };
        assert_eq!(call(&f, e.0, &[]), want, "{}", e.0);
    }
    assert_eq!(call(&f, "socket", &[1]), ALLOW);
    assert_eq!(call(&f, "socket", &[40]), errno(1));
    assert_eq!(call(&f, "unshare", &[libc::CLONE_NEWUSER as u64]), errno(1));
}

/// Many conditional rules: jumps over more than 255 instructions in the search tree and in
/// the argument checks.
#[test]
fn long_programs_keep_their_jumps() {
    let names: Vec<&str> = TABLE
        .iter()
        .filter(|e| e.1 != NONE)
        .map(|e| e.0)
        .take(200)
        .collect();
    let mut calls: Vec<Value> = names
        .iter()
        .map(|n| {
            json!({"names": [n], "action": "SCMP_ACT_ERRNO", "errnoRet": nr(n) % 4000 + 1,
            "args": [{"index": 1, "value": nr(n), "op": "SCMP_CMP_EQ"}]})
        })
        .collect();
    let many: Vec<Value> = (0..60)
        .map(|v| json!({"index": 2, "value": v * 3, "op": "SCMP_CMP_EQ"}))
        .collect();
    calls.push(json!({"names": ["write"], "action": "SCMP_ACT_KILL", "args": many}));
    let f = filter(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": calls}));
    assert!(f.len() > 1000, "{}", f.len());
    for n in &names {
        assert_eq!(
            call(&f, n, &[0, u64::from(nr(n))]),
            errno((nr(n) % 4000 + 1) as i32),
            "{n}"
        );
        assert_eq!(call(&f, n, &[0, u64::from(nr(n)) + 1]), ALLOW, "{n}");
    }
    for v in 0..200 {
        let want = if v % 3 == 0 && v < 180 {
            KILL_THREAD
        } else {
            ALLOW
        };
        assert_eq!(call(&f, "write", &[0, 0, v]), want, "{v}");
    }
}

#[test]
fn compiling_docker_like_profile_is_fast() {
    let s: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(docker_like()).unwrap();
    let n = 20;
    let t = std::time::Instant::now();
    for _ in 0..n {
        compile(&s).unwrap();
    }
    let each = t.elapsed() / n;
    // An unoptimised build; the release build is several times faster.
    assert!(each < std::time::Duration::from_millis(20), "{each:?}");
}

/// Loads `f` in a forked child (with no_new_privs, so no privilege is needed), runs `test`
/// there and returns how the child ended: `Ok(exit code)` or `Err(signal)`.
fn in_child(f: &Filter, test: fn() -> i32) -> Result<i32, i32> {
    // SAFETY: the child only makes system calls (no allocation: the test runner has
    // other threads) and leaves with _exit.
    match unsafe { libc::fork() } {
        0 => unsafe {
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            let code = match f.load() {
                Ok(_) => test(),
                Err(_) => 100,
            };
            libc::_exit(code)
        },
        pid => {
            let mut status = 0;
            // SAFETY: our own child.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            if libc::WIFEXITED(status) {
                Ok(libc::WEXITSTATUS(status))
            } else {
                Err(libc::WTERMSIG(status))
            }
        }
    }
}

/// errno of a system call that failed, 0 if it succeeded.
fn errno_of(r: libc::c_long) -> i32 {
    if r < 0 {
        std::io::Error::last_os_error().raw_os_error().unwrap()
    } else {
        0
    }
}

#[test]
fn the_kernel_takes_the_programs_and_agrees() {
    let f = filter(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdirat", "mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42}]}));
    let r = in_child(&f, || unsafe {
        errno_of(libc::syscall(
            libc::SYS_mkdirat,
            libc::AT_FDCWD,
            c"/nonexistent/x".as_ptr(),
            0o755,
        ))
    });
    assert_eq!(r, Ok(42));

    let f = filter(docker_like());
    assert_eq!(in_child(&f, || 0), Ok(0));
    let checks: [(fn() -> i32, i32); 7] = [
        (
            || unsafe { errno_of(libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUSER)) },
            libc::EPERM,
        ),
        (
            || unsafe {
                errno_of(libc::syscall(
                    libc::SYS_clone,
                    libc::CLONE_NEWUSER | libc::SIGCHLD,
                    0,
                    0,
                    0,
                    0,
                ))
            },
            libc::EPERM,
        ),
        (
            || unsafe { errno_of(libc::syscall(libc::SYS_clone3, 0, 0)) },
            libc::ENOSYS,
        ),
        (|| unsafe { errno_of(libc::syscall(1000)) }, libc::ENOSYS),
        (
            || unsafe { errno_of(libc::syscall(libc::SYS_personality, 4)) },
            libc::EPERM,
        ),
        (
            || unsafe { errno_of(libc::syscall(libc::SYS_personality, 0xffff_ffffu32)) },
            0,
        ),
        (
            || unsafe { errno_of(libc::syscall(libc::SYS_socket, 40, libc::SOCK_STREAM, 0)) },
            libc::EPERM,
        ),
    ];
    for (i, (test, want)) in checks.into_iter().enumerate() {
        assert_eq!(in_child(&f, test), Ok(want), "check {i}");
    }

    let f = filter(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]}));
    let r = in_child(&f, || unsafe { libc::syscall(libc::SYS_getppid) as i32 });
    assert_eq!(r, Err(libc::SIGSYS));
}
