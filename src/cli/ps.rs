//! `ps`: the container's processes. `--format json` prints the host pids as a JSON array
//! (what containerd's shim reads); the table is the host's `ps` output (`-ef` unless other
//! ps options follow `--`), keeping the header and the container's processes, as runc does.

use std::process::Command;

use anyhow::{bail, Context, Result};

use super::GlobalOpts;
use crate::cgroups;
use crate::container::Root;

use super::list::Format;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Select one of: table or json
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// The container id
    pub id: String,
    /// Options passed to ps(1) for the table (default: -ef)
    #[arg(last = true)]
    pub ps_args: Vec<String>,
}

pub fn run(args: Args, g: &GlobalOpts) -> Result<i32> {
    let dir = Root::new(&g.root).open_unlocked(&args.id)?;
    let state = dir.load_state()?;
    let pids = cgroups::Manager::load(state.cgroup.as_ref())?.pids()?;
    if args.format == Format::Json {
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(0);
    }
    let ps_args = if args.ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        args.ps_args
    };
    let out = Command::new("ps")
        .args(&ps_args)
        .output()
        .context("run ps(1) for the table (use --format json without it)")?;
    if !out.status.success() {
        bail!(
            "ps {}: {}",
            ps_args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    print!(
        "{}",
        filter_table(&String::from_utf8_lossy(&out.stdout), &pids)?
    );
    Ok(0)
}

/// Keeps the header and the lines whose PID column is one of `pids`.
fn filter_table(text: &str, pids: &[i32]) -> Result<String> {
    let mut lines = text.lines();
    let header = lines.next().context("ps printed nothing")?;
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .context("ps output has no PID column")?;
    let mut out = format!("{header}\n");
    for l in lines {
        let pid = l.split_whitespace().nth(col).and_then(|p| p.parse().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            out += l;
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_header_and_container_lines() {
        let t = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 00:00 ? 0 init\nroot 42 1 0 00:00 ? 0 sleep\n";
        let got = super::filter_table(t, &[42]).unwrap();
        assert_eq!(
            got,
            "UID PID PPID C STIME TTY TIME CMD\nroot 42 1 0 00:00 ? 0 sleep\n"
        );
    }
}
