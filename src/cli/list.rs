use anyhow::Result;

use super::GlobalOpts;
use crate::container::Root;

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Select one of: table or json
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Display only container IDs
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(args: Args, g: &GlobalOpts) -> Result<i32> {
    let root = Root::new(&g.root);
    let mut rows = Vec::new();
    for id in root.list()? {
        // A container deleted while we list it is simply not listed.
        let Ok(dir) = root.open_unlocked(&id) else {
            continue;
        };
        let Ok(state) = dir.load_state() else {
            continue;
        };
        rows.push(state.oci_state(state.status(&dir)));
    }
    if args.quiet {
        for r in &rows {
            println!("{}", r.id);
        }
        return Ok(0);
    }
    match args.format {
        Format::Json => println!("{}", serde_json::to_string(&rows)?),
        Format::Table => {
            let mut table =
                vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from)];
            for r in &rows {
                table.push([
                    r.id.clone(),
                    r.pid.to_string(),
                    r.status.to_string(),
                    r.bundle.display().to_string(),
                    r.created.clone(),
                    r.owner.clone(),
                ]);
            }
            print!("{}", format_table(&table));
        }
    }
    Ok(0)
}

/// Left-aligned columns separated by at least three spaces, like runc's tabwriter output.
fn format_table(rows: &[[String; 6]]) -> String {
    let mut widths = [0usize; 6];
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<w$}", w = widths[i] + 3));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
