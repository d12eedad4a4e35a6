use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use super::GlobalOpts;
use crate::bundle::default_spec::default_spec_json;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Path to the root of the bundle directory
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Generate a configuration for a rootless container
    #[arg(long)]
    pub rootless: bool,
}

pub fn run(args: Args, _g: &GlobalOpts) -> Result<i32> {
    let path = args.bundle.join("config.json");
    if path.exists() {
        bail!("File {} exists. Remove it first", path.display());
    }
    let text = serde_json::to_string_pretty(&default_spec_json(args.rootless))?;
    std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    Ok(0)
}
