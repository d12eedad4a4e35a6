//! The host side of a run: the shared tmpfs the bundles live in, the facts only the host
//! can see (namespace inodes, bind sources), and namespaces made for configs to join. Each
//! of these undoes itself when dropped, so a failing case still cleans up.

use std::ffi::CString;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Map, Value};

fn cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_encoded_bytes()).map_err(io::Error::other)
}

fn check(r: libc::c_int, what: &str) -> io::Result<()> {
    if r == 0 {
        Ok(())
    } else {
        let e = io::Error::last_os_error();
        Err(io::Error::new(e.kind(), format!("{what}: {e}")))
    }
}

/// A tmpfs holding everything of one run, made shared so that propagation options have a
/// peer to show (a private source makes `slave` look like `private`).
pub struct WorkDir {
    pub path: PathBuf,
    keep: bool,
}

impl WorkDir {
    pub fn new(keep: bool) -> io::Result<WorkDir> {
        let path = std::env::temp_dir().join(format!("xrun-conformance.{}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        tmpfs(&path, c"mode=755", "mount the work tmpfs")?;
        let p = cstr(&path)?;
        let w = WorkDir { path, keep };
        // SAFETY: as above.
        check(
            unsafe {
                libc::mount(
                    std::ptr::null(),
                    p.as_ptr(),
                    std::ptr::null(),
                    libc::MS_SHARED | libc::MS_REC,
                    std::ptr::null(),
                )
            },
            "make the work tmpfs shared",
        )?;
        Ok(w)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("kept {} (umount -l it when done)", self.path.display());
            return;
        }
        if let Ok(p) = cstr(&self.path) {
            // Lazily: the whole tree, with every mount a case left below it.
            // SAFETY: p is a valid C string.
            unsafe { libc::umount2(p.as_ptr(), libc::MNT_DETACH) };
        }
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// Mounts a small tmpfs at `dir` (below the work dir, so it goes with it).
pub fn mount_tmpfs(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    tmpfs(dir, c"size=1m", "mount a tmpfs")
}

fn tmpfs(dir: &Path, opts: &std::ffi::CStr, what: &str) -> io::Result<()> {
    let p = cstr(dir)?;
    let fstype = c"tmpfs";
    // SAFETY: all pointers are valid C strings.
    check(
        unsafe {
            libc::mount(
                fstype.as_ptr(),
                p.as_ptr(),
                fstype.as_ptr(),
                0,
                opts.as_ptr().cast(),
            )
        },
        what,
    )
}

/// This process's namespaces (the runtime's, since the harness starts it), by the names
/// of /proc/self/ns.
pub fn namespaces() -> Value {
    let mut m = Map::new();
    for name in ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"] {
        if let Ok(md) = std::fs::metadata(format!("/proc/self/ns/{name}")) {
            m.insert(name.into(), json!(md.ino()));
        }
    }
    Value::Object(m)
}

pub fn inode(path: &Path) -> io::Result<u64> {
    Ok(std::fs::metadata(path)?.ino())
}

/// A bind source as the checker compares it: device, inode, and the mounts below it.
pub fn bind_source(path: &Path) -> io::Result<Value> {
    let md = std::fs::metadata(path)?;
    let info = std::fs::read_to_string("/proc/self/mountinfo")?;
    let base = path.to_string_lossy();
    let subs: Vec<String> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter_map(|mp| {
            mp.strip_prefix(base.as_ref())?
                .strip_prefix('/')
                .map(String::from)
        })
        .collect();
    Ok(json!({"dev": md.dev(), "ino": md.ino(), "submounts": subs}))
}

/// The prefix of every netns name this run makes.
pub fn netns_prefix() -> String {
    format!("xrun-conformance-{}-", std::process::id())
}

/// The release profile aborts on panic, so no `Drop` runs then: undo what this run made
/// on the host from the panic hook instead (containers die with their foreground runtime).
pub fn clean_up_on_panic(work: PathBuf, cgroup_prefix: String) {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        if let Ok(entries) = std::fs::read_dir("/var/run/netns") {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with(&netns_prefix()) {
                    drop(NetNs { name });
                }
            }
        }
        remove_cgroups(&cgroup_prefix);
        if let Ok(p) = cstr(&work) {
            // SAFETY: p is a valid C string.
            unsafe { libc::umount2(p.as_ptr(), libc::MNT_DETACH) };
        }
        let _ = std::fs::remove_dir(&work);
    }));
}

/// A network namespace from `ip netns add`, removed with `ip netns del`.
pub struct NetNs {
    pub name: String,
}

impl NetNs {
    pub fn new(name: &str) -> io::Result<NetNs> {
        let st = Command::new("ip").args(["netns", "add", name]).status()?;
        if !st.success() {
            return Err(io::Error::other(format!("ip netns add {name}: {st}")));
        }
        Ok(NetNs { name: name.into() })
    }

    pub fn path(&self) -> String {
        format!("/var/run/netns/{}", self.name)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

/// A process that sits in new namespaces so a config can join them by
/// `/proc/<pid>/ns/<kind>`; killed (by its pid) when dropped.
pub struct NsHolder {
    child: Child,
}

impl NsHolder {
    pub fn new(flags: libc::c_int) -> io::Result<NsHolder> {
        let mut cmd = Command::new("/bin/busybox");
        cmd.args(["sleep", "3600"]).stdin(Stdio::null());
        // SAFETY: unshare is async-signal-safe and touches only the child.
        unsafe {
            cmd.pre_exec(move || {
                if libc::unshare(flags) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Ok(NsHolder {
            child: cmd.spawn()?,
        })
    }

    pub fn path(&self, kind: &str) -> String {
        format!("/proc/{}/ns/{kind}", self.child.id())
    }
}

impl Drop for NsHolder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Removes the cgroup directories under `prefix` (relative to this process's own cgroup)
/// in every hierarchy, deepest first.
pub fn remove_cgroups(prefix: &str) {
    let Ok(text) = std::fs::read_to_string("/proc/self/cgroup") else {
        return;
    };
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrl, path) = (
            parts.next(),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        let mount = if ctrl.is_empty() {
            if Path::new("/sys/fs/cgroup/unified").exists() {
                PathBuf::from("/sys/fs/cgroup/unified")
            } else {
                PathBuf::from("/sys/fs/cgroup")
            }
        } else {
            PathBuf::from("/sys/fs/cgroup").join(ctrl.trim_start_matches("name="))
        };
        remove_tree(&mount.join(path.trim_start_matches('/')).join(prefix));
    }
}

fn remove_tree(p: &Path) {
    if let Ok(entries) = std::fs::read_dir(p) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(p);
}
