//! runc-style logging: text or JSON lines (`{"level","msg","time"}`) to `--log FILE` or stderr.
//!
//! containerd's shim reads the last `"level":"error"` line of the log file to report a failure,
//! so every error that ends a command goes through [`error`]. Errors are also printed to stderr
//! when a log file is set, so a human caller sees them.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

struct Logger {
    file: Option<Mutex<File>>,
    format: LogFormat,
    debug: bool,
    started: std::time::Instant,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Set in a container's own processes (init, exec'd process) before they run anything of the
/// container: their stderr is the container's, which our messages must not get into. They
/// still log to `--log`.
static CONTAINER_SIDE: AtomicBool = AtomicBool::new(false);

pub fn container_side() {
    CONTAINER_SIDE.store(true, Ordering::Relaxed);
}

/// Sets up the process-wide logger. A log file that cannot be opened falls back to stderr
/// with a warning rather than failing the command.
pub fn init(path: Option<&Path>, format: LogFormat, debug: bool) {
    let mut warn = None;
    let file = path.and_then(
        |p| match OpenOptions::new().create(true).append(true).open(p) {
            Ok(f) => Some(Mutex::new(f)),
            Err(e) => {
                warn = Some(format!("cannot open log file {}: {e}", p.display()));
                None
            }
        },
    );
    let _ = LOGGER.set(Logger {
        file,
        format,
        debug,
        started: std::time::Instant::now(),
    });
    if let Some(w) = warn {
        warning(&w);
    }
}

pub fn debug_enabled() -> bool {
    LOGGER.get().is_some_and(|l| l.debug)
}

/// With `--debug`, logs that `what` was reached and when, counted from the start of the
/// command: the timeline of a create, for finding where the time goes.
pub fn mark(what: &str) {
    if let Some(l) = LOGGER.get().filter(|l| l.debug) {
        emit("debug", &format!("{what} at {:?}", l.started.elapsed()));
    }
}

pub fn error(msg: &str) {
    emit("error", msg);
    // The text form already went to stderr when there is no log file.
    if LOGGER.get().is_some_and(|l| l.file.is_some()) {
        eprintln!("xrun: {msg}");
    }
}

pub fn warning(msg: &str) {
    emit("warning", msg);
}

pub fn info(msg: &str) {
    emit("info", msg);
}

pub fn debug(msg: &str) {
    if debug_enabled() {
        emit("debug", msg);
    }
}

fn emit(level: &str, msg: &str) {
    let (format, file) = match LOGGER.get() {
        Some(l) => (l.format, l.file.as_ref()),
        None => (LogFormat::Text, None),
    };
    let line = match (format, file) {
        (LogFormat::Json, _) => format!(
            "{{\"level\":\"{level}\",\"msg\":{},\"time\":\"{}\"}}\n",
            serde_json::Value::String(msg.to_string()),
            rfc3339_now()
        ),
        (LogFormat::Text, Some(_)) => format!(
            "time=\"{}\" level={level} msg={}\n",
            rfc3339_now(),
            serde_json::Value::String(msg.to_string())
        ),
        (LogFormat::Text, None) => format!("xrun: {level}: {msg}\n"),
    };
    match file {
        Some(f) => {
            if let Ok(mut f) = f.lock() {
                let _ = f.write_all(line.as_bytes());
            }
        }
        None if CONTAINER_SIDE.load(Ordering::Relaxed) => {}
        None => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}

/// Current UTC time as RFC 3339 with nanoseconds, the form runc and the OCI state use.
pub fn rfc3339_now() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs() as i64, d.subsec_nanos())
}

pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.000000005Z");
        assert_eq!(rfc3339(1_795_747_663, 0), "2026-11-27T02:47:43.000000000Z");
    }
}
