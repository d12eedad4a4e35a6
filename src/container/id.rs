//! Container ids become directory names under `--root`, so they must not be able to name
//! anything else.

use anyhow::{bail, Result};

pub const MAX_ID_LEN: usize = 1024;

/// The characters runc accepts: `[\w+\-.]+`, without `.` and `..`.
pub fn validate(id: &str) -> Result<()> {
    if id.is_empty() {
        bail!("invalid container id: must not be empty");
    }
    if id.len() > MAX_ID_LEN {
        bail!(
            "invalid container id {:?}: longer than {MAX_ID_LEN} bytes",
            truncate(id)
        );
    }
    if id == "." || id == ".." {
        bail!("invalid container id {id:?}");
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.')))
    {
        bail!("invalid container id {:?}: character {c:?} is not allowed (use letters, digits, _ + - .)", truncate(id));
    }
    Ok(())
}

fn truncate(id: &str) -> String {
    id.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_runc_ids() {
        for id in ["a", "abc-123_x.y+z", &"f".repeat(64)] {
            validate(id).unwrap();
        }
    }

    #[test]
    fn rejects_paths_and_odd_characters() {
        for id in [
            "",
            ".",
            "..",
            "a/b",
            "../x",
            "a b",
            "a\0b",
            "ü",
            &"x".repeat(1025),
        ] {
            assert!(validate(id).is_err(), "{id:?} accepted");
        }
    }
}
