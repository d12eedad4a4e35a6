//! A seccomp profile shaped like Docker's default, made here (shared by the seccomp unit
//! tests and tests/seccomp.rs): deny by default with EPERM, allow every call of `known` but
//! the privileged ones, and Docker's argument rules (socket, personality, clone) and
//! clone3's ENOSYS.

use serde_json::{json, Value};

#[rustfmt::skip]
const DENIED: &[&str] = &[
    "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "clone", "clone3",
    "create_module", "delete_module", "finit_module", "fsconfig", "fsmount", "fsopen",
    "fspick", "get_kernel_syms", "init_module", "ioperm", "iopl", "kcmp", "kexec_file_load",
    "kexec_load", "keyctl", "lookup_dcookie", "mount", "mount_setattr", "move_mount",
    "nfsservctl", "open_by_handle_at", "open_tree", "perf_event_open", "personality",
    "pivot_root", "process_vm_readv", "process_vm_writev", "ptrace", "query_module",
    "quotactl", "reboot", "request_key", "setdomainname", "sethostname", "setns",
    "settimeofday", "socket", "swapoff", "swapon", "syslog", "sysfs", "_sysctl", "umount",
    "umount2", "unshare", "uselib", "userfaultfd", "ustat", "vm86", "vm86old",
];

pub fn docker_like<'a>(known: impl Iterator<Item = &'a str>) -> Value {
    let allowed: Vec<&str> = known.filter(|n| !DENIED.contains(n)).collect();
    let personality = |v: u64| {
        json!({"names": ["personality"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": v, "op": "SCMP_CMP_EQ"}]})
    };
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": allowed, "action": "SCMP_ACT_ALLOW"},
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]},
            personality(0), personality(8), personality(0x20000), personality(0x20008),
            personality(0xffff_ffff),
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288u64, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
        ]
    })
}
