//! TAP output: one line per check as it is made (so a crash still leaves the earlier
//! results), diagnostics under a failing line, and the plan at the end.

use std::fmt::Display;
use std::io::Write;

#[derive(Default)]
pub struct Tap {
    count: usize,
    failed: usize,
    skipped: usize,
}

impl Tap {
    pub fn new() -> Tap {
        println!("TAP version 13");
        Tap::default()
    }

    /// Records one check; `why` explains a failure (expected vs actual).
    pub fn check(&mut self, pass: bool, desc: impl Display, why: impl FnOnce() -> String) {
        self.count += 1;
        if pass {
            println!("ok {} - {desc}", self.count);
        } else {
            self.failed += 1;
            println!("not ok {} - {desc}", self.count);
            for line in why().lines() {
                println!("#   {line}");
            }
        }
        flush();
    }

    /// A check whose two sides are compared for equality.
    pub fn eq<T: PartialEq + std::fmt::Debug>(
        &mut self,
        desc: impl Display,
        expected: T,
        actual: T,
    ) {
        let pass = expected == actual;
        self.check(pass, desc, || {
            format!("expected: {expected:?}\nactual:   {actual:?}")
        });
    }

    /// A check that could not be made here, with the reason.
    pub fn skip(&mut self, desc: impl Display, reason: impl Display) {
        self.count += 1;
        self.skipped += 1;
        println!("ok {} - {desc} # SKIP {reason}", self.count);
        flush();
    }

    /// A comment line.
    pub fn note(&self, text: impl Display) {
        for line in text.to_string().lines() {
            println!("# {line}");
        }
        flush();
    }

    /// Prints the plan and a summary; returns whether every check passed.
    pub fn finish(self) -> bool {
        println!("1..{}", self.count);
        println!(
            "# {} checks, {} failed, {} skipped",
            self.count, self.failed, self.skipped
        );
        flush();
        self.failed == 0
    }
}

fn flush() {
    let _ = std::io::stdout().flush();
}
