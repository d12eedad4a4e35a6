use anyhow::Result;

use super::GlobalOpts;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The container id
    pub id: String,
}

pub fn run(args: Args, g: &GlobalOpts) -> Result<i32> {
    crate::container::pause::resume(&g.runtime(), &args.id)?;
    Ok(0)
}
