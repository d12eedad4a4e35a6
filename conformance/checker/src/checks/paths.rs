//! The root filesystem (`root.readonly`, `linux.rootfsPropagation`), `linux.maskedPaths`
//! and `linux.readonlyPaths`.

use std::io::Read;

use crate::checks::mounts::{propagation_check, topmost};
use crate::context::{clean_path, strings, Ctx};
use crate::sys::{self, FileKind};
use crate::tap::Tap;

pub fn check(ctx: &Ctx, t: &mut Tap) {
    root(ctx, t);
    for (i, p) in strings(&ctx.linux()["maskedPaths"]).iter().enumerate() {
        masked(&format!("linux.maskedPaths[{i}] {p}"), &clean_path(p), t);
    }
    for (i, p) in strings(&ctx.linux()["readonlyPaths"]).iter().enumerate() {
        read_only(&format!("linux.readonlyPaths[{i}] {p}"), &clean_path(p), t);
    }
}

fn root(ctx: &Ctx, t: &mut Tap) {
    let ro = ctx.config["root"]["readonly"].as_bool().unwrap_or(false);
    t.eq(
        format!(
            "root.readonly {ro}: / is mounted {}",
            if ro { "ro" } else { "rw" }
        ),
        Ok(ro),
        sys::is_read_only("/").map_err(|e| e.to_string()),
    );
    let uid = ctx.process()["user"]["uid"].as_u64().unwrap_or(0);
    if ro {
        let r = sys::try_create_in("/");
        t.check(
            r.as_ref().err().and_then(|e| e.raw_os_error()) == Some(libc::EROFS),
            "root.readonly true: creating a file in / fails with EROFS",
            || format!("got {:?}", r.map_err(|e| sys::errno_name(&e))),
        );
    } else if uid == 0 {
        let r = sys::try_create_in("/");
        t.check(
            r.is_ok(),
            "root.readonly false: root can create a file in /",
            || format!("got {:?}", r.map_err(|e| sys::errno_name(&e))),
        );
    }
    if let Some(prop) = ctx.linux()["rootfsPropagation"].as_str() {
        match topmost(&ctx.mounts, "/") {
            Some(m) => propagation_check(t, &format!("linux.rootfsPropagation {prop}: /"), prop, m),
            None => t.check(
                false,
                "linux.rootfsPropagation: / is in mountinfo",
                String::new,
            ),
        }
    }
}

fn masked(name: &str, path: &str, t: &mut Tap) {
    let st = match sys::lstat(path) {
        Ok(s) => s,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            // Nothing there is nothing to see.
            t.check(true, format!("{name} is absent, so hidden"), String::new);
            return;
        }
        Err(e) => {
            t.check(false, format!("{name} can be looked up"), || e.to_string());
            return;
        }
    };
    if st.kind == FileKind::Dir {
        let entries: Vec<String> = match std::fs::read_dir(path) {
            Ok(d) => d
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(e) => vec![format!("<read_dir failed: {e}>")],
        };
        t.eq(
            format!("{name} (a directory) lists nothing"),
            Vec::<String>::new(),
            entries,
        );
        t.eq(
            format!("{name} (a directory) is read-only"),
            Ok(true),
            sys::is_read_only(path).map_err(|e| e.to_string()),
        );
    } else {
        let mut buf = Vec::new();
        let r =
            std::fs::File::open(path).and_then(|mut f| f.by_ref().take(4096).read_to_end(&mut buf));
        t.check(
            matches!(r, Ok(0)),
            format!("{name} reads as empty"),
            || match r {
                Ok(n) => format!("read {n} bytes"),
                Err(e) => format!("open/read failed: {e}"),
            },
        );
    }
}

fn read_only(name: &str, path: &str, t: &mut Tap) {
    let st = match sys::lstat(path) {
        Ok(s) => s,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            t.check(
                true,
                format!("{name} is absent, so not writable"),
                String::new,
            );
            return;
        }
        Err(e) => {
            t.check(false, format!("{name} can be looked up"), || e.to_string());
            return;
        }
    };
    t.eq(
        format!("{name} is on a read-only mount"),
        Ok(true),
        sys::is_read_only(path).map_err(|e| e.to_string()),
    );
    // Then a real write attempt, to see the kernel refuse it: creating a file in a
    // directory, or opening for writing a file that the process could write if the mount
    // were not read-only (otherwise EACCES would come first).
    let probe = if st.kind == FileKind::Dir {
        match sys::try_create_in(path) {
            Err(e) if e.raw_os_error() != Some(libc::EROFS) => {
                // procfs and sysfs refuse new names before looking at the mount, and a
                // directory of someone else refuses them to us: write to a file there.
                writable_file_in(path, 3).map(|f| {
                    let r = sys::try_open_write(&f);
                    (format!("opening {f} for writing"), r)
                })
            }
            r => Some(("creating a file in it".to_string(), r)),
        }
    } else if st.kind == FileKind::File && could_write(&st) {
        Some((
            "opening it for writing".to_string(),
            sys::try_open_write(path),
        ))
    } else {
        None
    };
    let Some((what, r)) = probe else {
        t.note(format!(
            "{name}: nothing there this process could write; only the mount flag is checked"
        ));
        return;
    };
    t.check(
        r.as_ref().err().and_then(|e| e.raw_os_error()) == Some(libc::EROFS),
        format!("{name}: {what} fails with EROFS"),
        || format!("got {:?}", r.map_err(|e| sys::errno_name(&e))),
    );
}

/// Whether the mode bits let this process write the file (root bypasses them with
/// CAP_DAC_OVERRIDE only, which the config may not grant, so ownership is what counts).
fn could_write(st: &sys::Stat) -> bool {
    // SAFETY: geteuid and getegid cannot fail.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    (st.uid == uid && st.mode & 0o200 != 0)
        || (st.gid == gid && st.mode & 0o020 != 0)
        || st.mode & 0o002 != 0
}

/// A regular file this process could write, at most `depth` levels below `dir`.
fn writable_file_in(dir: &str, depth: u32) -> Option<String> {
    let mut subdirs = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir).ok()?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path().to_string_lossy().into_owned();
        match sys::lstat(&p) {
            Ok(s) if s.kind == FileKind::File && could_write(&s) => return Some(p),
            Ok(s) if s.kind == FileKind::Dir => subdirs.push(p),
            _ => {}
        }
    }
    if depth == 0 {
        return None;
    }
    subdirs.iter().find_map(|d| writable_file_in(d, depth - 1))
}
