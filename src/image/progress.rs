//! A progress bar on stderr for long unpacks and loads: drawn only on a terminal and only
//! for large inputs, so logs and pipes stay clean.

use std::cell::Cell;
use std::io::{IsTerminal, Read, Write};
use std::time::{Duration, Instant};

const MIN_TOTAL: u64 = 32 << 20;

pub struct Progress {
    label: String,
    total: u64,
    done: Cell<u64>,
    shown: Cell<Option<Instant>>,
    enabled: bool,
}

impl Progress {
    pub fn new(label: &str, total: u64, quiet: bool) -> Progress {
        Progress {
            label: label.to_string(),
            total,
            done: Cell::new(0),
            shown: Cell::new(None),
            enabled: !quiet && total >= MIN_TOTAL && std::io::stderr().is_terminal(),
        }
    }

    pub fn add(&self, n: u64) {
        self.done.set(self.done.get() + n);
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if self
            .shown
            .get()
            .is_some_and(|t| now - t < Duration::from_millis(100))
        {
            return;
        }
        self.shown.set(Some(now));
        let done = self.done.get().min(self.total);
        let pct = done * 100 / self.total.max(1);
        let filled = (pct / 4) as usize;
        let _ = write!(
            std::io::stderr(),
            "\r{} [{}{}] {:3}% {}/{} MB ",
            self.label,
            "#".repeat(filled),
            "-".repeat(25 - filled),
            pct,
            done >> 20,
            self.total >> 20
        );
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if self.enabled && self.shown.get().is_some() {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}

/// Counts bytes read into a [`Progress`].
pub struct Counting<'a, R> {
    pub inner: R,
    pub progress: &'a Progress,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.add(n as u64);
        Ok(n)
    }
}
