//! Reads the checker's TAP: results, the plan, and whether it bailed out.

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub passed: usize,
    pub skipped: usize,
    /// Each failed check with its diagnostic lines.
    pub failures: Vec<String>,
    /// The `1..N` plan, if the checker got to the end.
    pub plan: Option<usize>,
    pub bail_out: Option<String>,
}

impl Report {
    pub fn count(&self) -> usize {
        self.passed + self.skipped + self.failures.len()
    }

    /// Every check passed and the run was complete.
    pub fn clean(&self) -> bool {
        self.failures.is_empty() && self.bail_out.is_none() && self.plan == Some(self.count())
    }
}

pub fn parse(text: &str) -> Report {
    let mut r = Report::default();
    for line in text.lines().map(|l| l.trim_end_matches('\r')) {
        if let Some(rest) = line.strip_prefix("not ok ") {
            r.failures.push(rest.to_string());
        } else if let Some(rest) = line.strip_prefix("ok ") {
            if rest.contains("# SKIP") {
                r.skipped += 1;
            } else {
                r.passed += 1;
            }
        } else if let Some(n) = line.strip_prefix("1..") {
            r.plan = n.trim().parse().ok();
        } else if let Some(why) = line.strip_prefix("Bail out!") {
            r.bail_out = Some(why.trim().to_string());
        } else if line.starts_with("#   ") {
            // A diagnostic of the failure just above.
            if let Some(last) = r.failures.last_mut() {
                last.push('\n');
                last.push_str(line);
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_diagnostics() {
        let r = parse(
            "TAP version 13\r\nok 1 - a\r\nnot ok 2 - b\r\n#   expected: 1\r\n#   actual:   2\r\n\
             ok 3 - c # SKIP no\r\n# note\r\n1..3\r\n",
        );
        assert_eq!((r.passed, r.skipped, r.plan), (1, 1, Some(3)));
        assert_eq!(r.failures, ["2 - b\n#   expected: 1\n#   actual:   2"]);
        assert!(!r.clean());
        assert!(parse("ok 1 - a\n1..1\n").clean());
        // A checker that died half-way has no plan.
        assert!(!parse("ok 1 - a\n").clean());
        assert!(!parse("Bail out! no config\n").clean());
    }
}
