use anyhow::Result;

use super::GlobalOpts;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Forcibly delete the container if it is still running (uses SIGKILL)
    #[arg(short, long)]
    pub force: bool,
    /// The container id
    pub id: String,
}

pub fn run(args: Args, g: &GlobalOpts) -> Result<i32> {
    crate::container::delete::delete(&g.runtime(), &args.id, args.force)?;
    Ok(0)
}
