use anyhow::Result;

use super::create::CreateFlags;
use super::GlobalOpts;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub flags: CreateFlags,
    /// Detach from the container's process
    #[arg(short, long)]
    pub detach: bool,
    /// Do not delete the container after it exits
    #[arg(long)]
    pub keep: bool,
}

pub fn run(args: Args, g: &GlobalOpts) -> Result<i32> {
    crate::container::run::run(&g.runtime(), &args.flags.opts(), args.detach, args.keep)
}
