use anyhow::Result;

use super::GlobalOpts;
use crate::container::Root;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The container id
    pub id: String,
}

pub fn run(args: Args, g: &GlobalOpts) -> Result<i32> {
    let dir = Root::new(&g.root).open_unlocked(&args.id)?;
    let state = dir.load_state()?;
    let out = state.oci_state(state.status(&dir));
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(0)
}
