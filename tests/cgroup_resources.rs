//! linux.resources: each value is written, read back from the cgroup files and, where it
//! can be shown, enforced. Values the host cannot apply give a clear error or a logged
//! skip, and these tests check exactly that. Runs on cgroup v1/hybrid and pure v2 hosts.

#[path = "support/cg.rs"]
mod cg;
mod common;
#[path = "support/rdma.rs"]
mod rdma;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::{json, Value};

fn v2() -> bool {
    cg::is_v2()
}

/// Runs a container in the foreground; returns (exit code, stdout, stderr).
fn run(env: &Env, name: &str, edit: impl FnOnce(&mut Value)) -> (Option<i32>, String, String) {
    let b = env.bundle(name, edit);
    let id = env.id(name);
    let o = env.xrun(&["run", "--bundle", b.to_str().unwrap(), &id]);
    (o.status.code(), stdout(&o), stderr(&o))
}

/// Creates a container (detached), returning its id, init pid and xrun's stderr.
fn detached(env: &Env, name: &str, edit: impl FnOnce(&mut Value)) -> (String, i32, String) {
    let b = env.bundle(name, |s| {
        args(s, &["/bin/sleep", "100"]);
        edit(s)
    });
    let id = env.id(name);
    let o = env.xrun(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]);
    assert!(o.status.success(), "run -d {name}: {}", stderr(&o));
    (id.clone(), cg::init_pid(env, &id), stderr(&o))
}

fn res(s: &mut Value, key: &str, v: Value) {
    s["linux"]["resources"][key] = v;
}

/// The cgroup directories a container named `name` of this env would get.
fn planned_dirs(env: &Env, name: &str) -> Vec<PathBuf> {
    cgroup_dirs(&format!("{}/{name}", env.cgroup_prefix)).expect("resolve the cgroup path")
}

#[test]
fn memory_values_are_written() {
    let env = Env::new();
    let mem = json!({"limit": 64 << 20, "reservation": 32 << 20, "swap": 96 << 20,
        "swappiness": 30, "disableOOMKiller": false, "kernelTCP": 512 << 20, "useHierarchy": true});
    let (_, pid, err) = detached(&env, "mem", |s| res(s, "memory", mem));
    if v2() {
        assert_eq!(cg::read(pid, "", "memory.max"), (64u64 << 20).to_string());
        assert_eq!(cg::read(pid, "", "memory.low"), (32u64 << 20).to_string());
        // memory+swap 96M with memory 64M: 32M of swap.
        assert_eq!(
            cg::read(pid, "", "memory.swap.max"),
            (32u64 << 20).to_string()
        );
        assert!(err.contains("memory.swappiness: ignored"), "{err}");
        assert!(err.contains("memory.kernelTCP: ignored"), "{err}");
    } else {
        assert_eq!(
            cg::read(pid, "memory", "memory.limit_in_bytes"),
            (64u64 << 20).to_string()
        );
        assert_eq!(
            cg::read(pid, "memory", "memory.soft_limit_in_bytes"),
            (32u64 << 20).to_string()
        );
        assert_eq!(
            cg::read(pid, "memory", "memory.memsw.limit_in_bytes"),
            (96u64 << 20).to_string()
        );
        assert_eq!(cg::read(pid, "memory", "memory.swappiness"), "30");
        assert_eq!(cg::read(pid, "memory", "memory.use_hierarchy"), "1");
        let tcp: u64 = cg::read(pid, "memory", "memory.kmem.tcp.limit_in_bytes")
            .parse()
            .unwrap();
        assert!(tcp <= 512 << 20 && tcp > 511 << 20, "{tcp}");
    }
    if !v2() {
        let (_, pid, _) = detached(&env, "noom", |s| {
            res(
                s,
                "memory",
                json!({"limit": 64 << 20, "disableOOMKiller": true}),
            )
        });
        assert!(cg::read(pid, "memory", "memory.oom_control").contains("oom_kill_disable 1"));
    }
}

#[test]
fn memory_swap_below_limit_is_refused() {
    let env = Env::new();
    let (code, _, err) = run(&env, "swap", |s| {
        res(s, "memory", json!({"limit": 64 << 20, "swap": 32 << 20}))
    });
    assert_ne!(code, Some(0));
    assert!(
        err.contains("config.json: linux.resources.memory.swap"),
        "{err}"
    );
}

#[test]
fn cpu_values_are_written_and_quota_throttles() {
    let env = Env::new();
    let cpu = json!({"shares": 512, "quota": 10000, "period": 100000, "burst": 1000, "cpus": "0", "mems": "0"});
    let (_, pid, _) = detached(&env, "cpu", |s| {
        sh(s, "while :; do :; done");
        res(s, "cpu", cpu);
    });
    let (c, cs) = if v2() { ("", "") } else { ("cpu", "cpuset") };
    if v2() {
        assert_eq!(cg::read(pid, c, "cpu.weight"), "20");
        assert_eq!(cg::read(pid, c, "cpu.max"), "10000 100000");
        assert_eq!(cg::read(pid, c, "cpu.max.burst"), "1000");
    } else {
        assert_eq!(cg::read(pid, c, "cpu.shares"), "512");
        assert_eq!(cg::read(pid, c, "cpu.cfs_quota_us"), "10000");
        assert_eq!(cg::read(pid, c, "cpu.cfs_period_us"), "100000");
        assert_eq!(cg::read(pid, c, "cpu.cfs_burst_us"), "1000");
    }
    assert_eq!(cg::read(pid, cs, "cpuset.cpus"), "0");
    assert_eq!(cg::read(pid, cs, "cpuset.mems"), "0");
    // Enforced: the scheduler keeps the process on CPU 0 and node 0.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(status.contains("Cpus_allowed_list:\t0\n"), "{status}");
    assert!(status.contains("Mems_allowed_list:\t0\n"), "{status}");
    // Enforced: the busy loop gets throttled.
    cg::wait_until("throttling", || {
        let st = cg::read(pid, c, "cpu.stat");
        st.lines()
            .any(|l| l.starts_with("nr_throttled ") && l != "nr_throttled 0")
    });
    let (_, pid, _) = detached(&env, "idle", |s| res(s, "cpu", json!({"idle": 1})));
    assert_eq!(cg::read(pid, c, "cpu.idle"), "1");
}

#[test]
fn cpu_realtime_values() {
    let env = Env::new();
    let rt = json!({"realtimePeriod": 1000000, "realtimeRuntime": 5000});
    if v2() {
        let (code, _, err) = run(&env, "rt", |s| res(s, "cpu", rt));
        assert_ne!(code, Some(0));
        assert!(
            err.contains("linux.resources.cpu.realtimeRuntime") && err.contains("cgroup v2"),
            "{err}"
        );
        return;
    }
    // A realtime budget comes from the parent (as a share of its period): give our test
    // cgroup some first.
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let mount = cg::host().v1_mount("cpu").unwrap().clone();
    let mine = own
        .lines()
        .find(|l| l.split(':').nth(1) == Some(mount.options.as_str()))
        .unwrap();
    let parent = mount
        .mount_point
        .join(mine.splitn(3, ':').nth(2).unwrap().trim_start_matches('/'))
        .join(&env.cgroup_prefix);
    std::fs::create_dir_all(&parent).unwrap();
    std::fs::write(parent.join("cpu.rt_runtime_us"), "10000").unwrap();
    let (_, pid, _) = detached(&env, "rt", |s| res(s, "cpu", rt));
    assert_eq!(cg::read(pid, "cpu", "cpu.rt_period_us"), "1000000");
    assert_eq!(cg::read(pid, "cpu", "cpu.rt_runtime_us"), "5000");
}

#[test]
fn pids_limit_stops_forks() {
    let env = Env::new();
    let script = "cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max 2>/dev/null; \
                  for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; echo done";
    let (_, out, err) = run(&env, "pids", |s| {
        sh(s, script);
        res(s, "pids", json!({"limit": 5}));
    });
    assert!(out.starts_with("5\n"), "{out}");
    assert!(
        err.contains("can't fork") || err.contains("Resource temporarily unavailable"),
        "{err}"
    );
}

/// Some block device of the host (major, minor).
fn block_device() -> Option<(u32, u32)> {
    let mut devs: Vec<_> = std::fs::read_dir("/sys/block").ok()?.flatten().collect();
    devs.sort_by_key(|e| e.file_name());
    devs.iter().find_map(|e| {
        let d = std::fs::read_to_string(e.path().join("dev")).ok()?;
        let (a, b) = d.trim().split_once(':')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    })
}

#[test]
fn block_io_throttles_and_weights() {
    let env = Env::new();
    let Some((ma, mi)) = block_device() else {
        eprintln!("SKIP: no block device on this host for per-device throttles");
        return;
    };
    let bio = json!({
        "throttleReadBpsDevice": [{"major": ma, "minor": mi, "rate": 1048576}],
        "throttleWriteIOPSDevice": [{"major": ma, "minor": mi, "rate": 300}]
    });
    let (_, pid, _) = detached(&env, "bio", |s| res(s, "blockIO", bio));
    if v2() {
        let max = cg::read(pid, "", "io.max");
        assert!(
            max.contains(&format!("{ma}:{mi} rbps=1048576")) && max.contains("wiops=300"),
            "{max}"
        );
    } else {
        let r = cg::read(pid, "blkio", "blkio.throttle.read_bps_device");
        assert_eq!(r, format!("{ma}:{mi} 1048576"));
        let w = cg::read(pid, "blkio", "blkio.throttle.write_iops_device");
        assert_eq!(w, format!("{ma}:{mi} 300"));
    }
    // Proportional weights need BFQ (or io.cost on v2): written where the kernel has the
    // file, otherwise a clear error.
    let b = env.bundle("bw", |s| {
        args(s, &["/bin/sleep", "100"]);
        res(s, "blockIO", json!({"weight": 300}));
    });
    let id = env.id("bw");
    let o = env.xrun(&["run", "-d", "--bundle", b.to_str().unwrap(), &id]);
    if o.status.success() {
        let pid = cg::init_pid(&env, &id);
        let d = cg::dir(pid, if v2() { "" } else { "blkio" });
        let f = [
            "io.bfq.weight",
            "blkio.weight",
            "blkio.bfq.weight",
            "io.weight",
        ]
        .iter()
        .find(|f| d.join(f).exists())
        .unwrap();
        let v = std::fs::read_to_string(d.join(f)).unwrap();
        assert!(v.contains("300") || *f == "io.weight", "{f}: {v}");
    } else {
        let err = stderr(&o);
        assert!(
            err.contains("config.json: linux.resources.blockIO.weight"),
            "{err}"
        );
    }
    let (code, _, err) = run(&env, "bwbad", |s| res(s, "blockIO", json!({"weight": 5})));
    assert_ne!(code, Some(0));
    assert!(err.contains("blockIO.weight: 5 is out of range"), "{err}");
}

/// A write-bandwidth throttle slows direct writes to the device: 1 MiB at 512 KiB/s takes
/// a second or more, where the same writes without it take a few milliseconds.
#[test]
fn block_io_write_throttle_is_enforced() {
    use std::os::unix::fs::MetadataExt;
    let env = Env::new();
    let Some(disk) = cg::LoopDev::new(&env) else {
        eprintln!("SKIP: no loop device here for the throttle test");
        return;
    };
    let rdev = std::fs::metadata(&disk.0).unwrap().rdev();
    let (ma, mi) = (libc::major(rdev), libc::minor(rdev));
    let timed = |name: &str, limit: Option<u64>| {
        let b = env.bundle(name, |s| {
            s["linux"]["devices"] =
                json!([{"path": "/dev/xdisk", "type": "b", "major": ma, "minor": mi}]);
            s["linux"]["resources"]["devices"]
                .as_array_mut()
                .unwrap()
                .push(
                    json!({"allow": true, "type": "b", "major": ma, "minor": mi, "access": "rw"}),
                );
            if let Some(rate) = limit {
                let t = json!([{"major": ma, "minor": mi, "rate": rate}]);
                res(s, "blockIO", json!({ "throttleWriteBpsDevice": t }));
            }
            sh(
                s,
                "dd if=/dev/zero of=/dev/xdisk bs=256k count=4 oflag=direct 2>&1",
            );
        });
        let t0 = std::time::Instant::now();
        let o = env.xrun(&["run", "--bundle", b.to_str().unwrap(), &env.id(name)]);
        let took = t0.elapsed();
        assert!(o.status.success(), "{name}: {}{}", stdout(&o), stderr(&o));
        assert!(stdout(&o).contains("4+0 records out"), "{}", stdout(&o));
        took
    };
    let free = timed("wfree", None);
    let throttled = timed("wthrottled", Some(512 << 10));
    assert!(
        throttled >= std::time::Duration::from_secs(1) && throttled > free,
        "throttled {throttled:?}, unthrottled {free:?}"
    );
}

#[test]
fn hugepage_limits() {
    let env = Env::new();
    let h = json!([{"pageSize": "2MB", "limit": 4 << 20}]);
    if !cg::host().has_controller("hugetlb") {
        let (code, _, err) = run(&env, "huge", |s| res(s, "hugepageLimits", h));
        assert_ne!(code, Some(0));
        assert!(err.contains("config.json: linux.resources.hugepageLimits: the hugetlb controller is not available"), "{err}");
        return;
    }
    let (_, pid, _) = detached(&env, "huge", |s| res(s, "hugepageLimits", h));
    let file = if v2() {
        "hugetlb.2MB.max"
    } else {
        "hugetlb.2MB.limit_in_bytes"
    };
    assert_eq!(cg::read(pid, "hugetlb", file), (4u64 << 20).to_string());
    let (code, _, err) = run(&env, "huge3", |s| {
        res(
            s,
            "hugepageLimits",
            json!([{"pageSize": "3MB", "limit": 1}]),
        )
    });
    assert_ne!(code, Some(0));
    assert!(err.contains("hugepageLimits[0].pageSize"), "{err}");
}

/// Free 2 MiB huge pages on this host (`make test-cgroupv2`'s VM reserves some).
fn free_huge_pages() -> u64 {
    let m = std::fs::read_to_string("/proc/meminfo").unwrap();
    let get = |k: &str| {
        m.lines()
            .find_map(|l| l.strip_prefix(k)?.split_whitespace().next()?.parse().ok())
            .unwrap_or(0u64)
    };
    if get("Hugepagesize:") == 2048 {
        get("HugePages_Free:")
    } else {
        0
    }
}

/// The static helper that maps and touches huge pages (tests/support/hugetlb.c).
fn hugetlb_helper(env: &Env) -> PathBuf {
    let out = env.dir.path().join("hugetlb");
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/hugetlb.c");
    let o = std::process::Command::new("cc")
        .args(["-static", "-O", "-o"])
        .arg(&out)
        .arg(src)
        .output()
        .expect("cc (gcc and libc6-dev: make deps)");
    assert!(o.status.success(), "cc: {}", stderr(&o));
    out
}

#[test]
fn hugepage_limits_are_enforced() {
    if !cg::host().has_controller("hugetlb") || free_huge_pages() < 3 {
        // Reserving huge pages changes the whole host: only the VM does it.
        eprintln!(
            "SKIP: needs the hugetlb controller and 3 free 2 MiB huge pages (the VM has them)"
        );
        return;
    }
    let env = Env::new();
    let helper = hugetlb_helper(&env);
    // Three mappings of 3, 2 and 3 (unreserved) pages, under a limit of 2 pages.
    let script = "for a in 3 2 '3 noreserve'; do /bin/hugetlb $a; echo rc=$?; done";
    let with = |limit: Option<u64>| {
        let name = if limit.is_some() { "hp" } else { "hpfree" };
        let b = env.bundle(name, |s| {
            sh(s, script);
            if let Some(l) = limit {
                res(
                    s,
                    "hugepageLimits",
                    json!([{"pageSize": "2MB", "limit": l}]),
                );
            }
        });
        std::fs::copy(&helper, b.join("rootfs/bin/hugetlb")).unwrap();
        let id = env.id(name);
        let o = env.xrun(&["run", "--bundle", b.to_str().unwrap(), &id]);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    // Without a limit, all three get their pages.
    let free = with(None);
    assert_eq!(free.matches("rc=0").count(), 3, "{free}");
    let limited = with(Some(4 << 20));
    let parts: Vec<&str> = limited.split("rc=").collect();
    // 3 pages: refused at mmap, since the reservation is over the limit (rsvd.max).
    assert!(
        parts[0].contains("mmap: Cannot allocate memory"),
        "{limited}"
    );
    assert!(parts[1].starts_with('3'), "{limited}");
    // 2 pages: within the limit.
    assert!(parts[1].contains("touched 2"), "{limited}");
    assert!(parts[2].starts_with('0'), "{limited}");
    // 3 pages, not reserved: two are touched, the third faults and the kernel sends SIGBUS.
    assert!(
        parts[2].contains("touched 2") && !parts[2].contains("touched 3"),
        "{limited}"
    );
    assert!(
        parts[3].starts_with(&(128 + libc::SIGBUS).to_string()),
        "{limited}"
    );
}

#[test]
fn network_classes_are_set_or_skipped_with_a_warning() {
    let env = Env::new();
    let n = json!({"classID": 1048577, "priorities": [{"name": "lo", "priority": 5}]});
    let (_, pid, err) = detached(&env, "net", |s| res(s, "network", n));
    let h = cg::host();
    if !v2() && h.v1_mount("net_cls").is_some() {
        assert_eq!(cg::read(pid, "net_cls", "net_cls.classid"), "1048577");
    } else {
        assert!(
            err.contains("network.classID: skipped: the net_cls controller is not available"),
            "{err}"
        );
    }
    if !v2() && h.v1_mount("net_prio").is_some() {
        assert!(cg::read(pid, "net_prio", "net_prio.ifpriomap").contains("lo 5"));
    } else {
        assert!(err.contains("network.priorities: skipped"), "{err}");
    }
}

#[test]
fn rdma_limits() {
    let env = Env::new();
    // A real device: the VM makes a soft-RoCE one (rdma_rxe over a veth) named rxe0.
    if cg::host().has_controller("rdma") && Path::new("/sys/class/infiniband/rxe0").exists() {
        let r = json!({"rxe0": {"hcaHandles": 2, "hcaObjects": 10}});
        let (_, pid, _) = detached(&env, "rdma-rxe", |s| res(s, "rdma", r));
        let max = cg::read(pid, "rdma", "rdma.max");
        assert_eq!(max, "rxe0 hca_handle=2 hca_object=10", "{max}");
    }
    let r = json!({"mlx5_0": {"hcaHandles": 3, "hcaObjects": 10000}});
    let (code, _, err) = run(&env, "rdma", |s| res(s, "rdma", r));
    assert_ne!(code, Some(0));
    if cg::host().has_controller("rdma") {
        // The controller is there but the device is not: the kernel refuses, and we say where.
        assert!(
            err.contains("config.json: linux.resources.rdma.mlx5_0"),
            "{err}"
        );
    } else {
        assert!(
            err.contains("config.json: linux.resources.rdma: the rdma controller is not available"),
            "{err}"
        );
    }
}

#[test]
fn rdma_limits_are_enforced() {
    let Some(dev) = rdma::rxe0().filter(|_| cg::host().has_controller("rdma")) else {
        eprintln!("SKIP: needs the rdma controller and the rxe0 device (the VM makes one)");
        return;
    };
    let env = Env::new();
    // Unlimited, and one handle: the verbs context opens (opening it charges a hca_handle).
    for (name, h) in [("verbs", None), ("verbs1", Some(1))] {
        let (code, out, err) = rdma::devinfo(&env, name, &dev, h);
        assert_eq!(code, Some(0), "{name}: {out}{err}");
        assert!(out.contains("hca_id:\trxe0"), "{name}: {out}");
    }
    // No handles: the rdma controller refuses the context.
    let (code, out, err) = rdma::devinfo(&env, "verbs0", &dev, Some(0));
    assert_ne!(code, Some(0), "{out}{err}");
    assert!(err.contains("Failed to open device"), "{out}{err}");
}

#[test]
fn unified_values() {
    let env = Env::new();
    let u = json!({"memory.high": "50000000", "pids.max": "7"});
    if !v2() {
        let (code, _, err) = run(&env, "uni", |s| res(s, "unified", u));
        assert_ne!(code, Some(0));
        assert!(
            err.contains("linux.resources.unified: needs cgroup v2"),
            "{err}"
        );
        return;
    }
    let (_, pid, _) = detached(&env, "uni", |s| res(s, "unified", u));
    assert_eq!(cg::read(pid, "", "memory.high"), "49999872");
    assert_eq!(cg::read(pid, "", "pids.max"), "7");
    let (code, _, err) = run(&env, "uni2", |s| {
        res(s, "unified", json!({"memory.nope": "1"}))
    });
    assert_ne!(code, Some(0));
    assert!(
        err.contains("linux.resources.unified.memory.nope: no such cgroup file"),
        "{err}"
    );
}

/// mknod of /dev/kmsg (c 1:11) and a write to it, which the device rules decide.
const KMSG: &str = "busybox mknod /tmp/kmsg c 1 11 && (echo xrun-devices-test > /tmp/kmsg && echo WROTE || echo DENIED); \
                    echo ok > /dev/null && echo NULL-OK";

fn with_mknod(s: &mut Value) {
    for set in ["bounding", "effective", "permitted"] {
        s["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_MKNOD"));
    }
    s["root"]["readonly"] = json!(false);
}

#[test]
fn devices_are_denied_unless_allowed() {
    let env = Env::new();
    // runc's default rules: deny all, then the default devices.
    let (code, out, _) = run(&env, "dev", |s| {
        sh(s, KMSG);
        with_mknod(s);
    });
    assert_eq!(code, Some(0));
    assert_eq!(out, "DENIED\nNULL-OK\n");
    // An allow rule for it (write only).
    let (code, out, _) = run(&env, "dev2", |s| {
        sh(s, KMSG);
        with_mknod(s);
        s["linux"]["resources"]["devices"]
            .as_array_mut()
            .unwrap()
            .push(json!({"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}));
    });
    assert_eq!(code, Some(0));
    assert_eq!(out, "WROTE\nNULL-OK\n");
    if !v2() {
        let (_, pid, _) = detached(&env, "dev3", |s| {
            s["linux"]["resources"]["devices"]
                .as_array_mut()
                .unwrap()
                .push(json!({"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}));
        });
        let list = cg::read(pid, "devices", "devices.list");
        assert!(list.lines().any(|l| l == "c 1:11 w"), "{list}");
        assert!(!list.contains("a *:*"), "{list}");
    }
    let (code, _, err) = run(&env, "dev4", |s| {
        res(
            s,
            "devices",
            json!([{"allow": true, "type": "c", "access": "rwx"}]),
        )
    });
    assert_ne!(code, Some(0));
    assert!(err.contains("linux.resources.devices[0].access"), "{err}");
}

#[test]
fn bad_values_fail_cleanly_and_leave_no_cgroup() {
    let env = Env::new();
    let (code, _, err) = run(&env, "neg", |s| res(s, "memory", json!({"limit": -5})));
    assert_ne!(code, Some(0));
    assert!(
        err.contains("config.json: linux.resources.memory.limit: -5"),
        "{err}"
    );
    // A value only the kernel refuses: the cgroups made so far are removed again.
    let (code, _, err) = run(&env, "cpus", |s| res(s, "cpu", json!({"cpus": "63"})));
    assert_ne!(code, Some(0));
    assert!(
        err.contains("config.json: linux.resources.cpu.cpus"),
        "{err}"
    );
    for name in ["neg", "cpus"] {
        for d in planned_dirs(&env, name) {
            assert!(!d.exists(), "{} left behind", d.display());
        }
    }
    assert_eq!(env.ok(&["list", "-q"]), "");
}
