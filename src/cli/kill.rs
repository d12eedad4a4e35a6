use anyhow::Result;

use super::GlobalOpts;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Send the specified signal to all processes inside the container
    #[arg(short, long)]
    pub all: bool,
    /// The container id
    pub id: String,
    /// The signal: a name with or without SIG, or a number
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

pub fn run(args: Args, g: &GlobalOpts) -> Result<i32> {
    let sig = crate::process::signals::parse_signal(&args.signal)?;
    crate::container::kill::kill(&g.runtime(), &args.id, sig, args.all)?;
    Ok(0)
}
