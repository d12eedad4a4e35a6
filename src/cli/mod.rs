//! The runc-compatible command line: one file per subcommand, each with its clap arguments and
//! a `run` function returning the process exit code.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::logging::{self, LogFormat};

mod create;
mod delete;
mod events;
mod exec;
mod features;
mod kill;
mod list;
mod pause;
mod ps;
mod resume;
mod run;
mod spec;
mod start;
mod state;
mod update;

#[derive(Parser, Debug)]
#[command(
    name = "xrun",
    version,
    about = "xrun: an OCI container runtime (runc-compatible command line)",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

pub const DEFAULT_ROOT: &str = "/run/xrun";

/// Options every subcommand shares; like runc they go before the subcommand.
#[derive(clap::Args, Debug, Clone)]
pub struct GlobalOpts {
    /// Root directory for storage of container state (this should be located in tmpfs)
    #[arg(long, global = true, default_value = DEFAULT_ROOT)]
    pub root: PathBuf,
    /// Set the log file to write xrun logs to (default is stderr)
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Set the log format
    #[arg(long = "log-format", global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Enable debug logging
    #[arg(long, global = true)]
    pub debug: bool,
    /// Manage cgroups through systemd (needs a running systemd)
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Path to the criu binary (accepted for compatibility; checkpointing is not supported)
    #[arg(long, global = true, hide = true)]
    pub criu: Option<PathBuf>,
    /// Ignore cgroup permission errors ('true', 'false', or 'auto')
    #[arg(long = "rootless", id = "global_rootless", value_enum, default_value_t = Rootless::Auto, hide = true)]
    pub rootless: Rootless,
}

impl GlobalOpts {
    /// The options the container verbs take.
    pub fn runtime(&self) -> crate::container::Runtime {
        crate::container::Runtime {
            root: self.root.clone(),
            systemd_cgroup: self.systemd_cgroup,
        }
    }
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rootless {
    Auto,
    True,
    False,
}

#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum Command {
    /// Create a container
    Create(create::Args),
    /// Execute the user-defined process in a created container
    Start(start::Args),
    /// Create and run a container
    Run(run::Args),
    /// Output the state of a container
    State(state::Args),
    /// Send the specified signal (default: SIGTERM) to the container's init process
    Kill(kill::Args),
    /// Delete any resources held by the container
    Delete(delete::Args),
    /// List containers started by xrun with the given root
    List(list::Args),
    /// Create a new specification file
    Spec(spec::Args),
    /// Show the enabled features
    Features(features::Args),
    /// Execute new process inside the container
    Exec(exec::Args),
    /// Suspend all processes inside the container
    Pause(pause::Args),
    /// Resume all processes that have been previously paused
    Resume(resume::Args),
    /// Display the processes running inside a container
    Ps(ps::Args),
    /// Display container events such as OOM notifications and resource usage statistics
    Events(events::Args),
    /// Update container resource constraints
    Update(update::Args),
    /// Images: unpack docker-save/OCI archives to bundles, layer store, commit, save
    Image(crate::image::cli::Args),
}

/// Entry point of the binary: parse, run, report, return the exit code.
pub fn main() -> i32 {
    // Commands that put processes into a container first make sure the container can never
    // reach this binary (CVE-2019-5736). That re-executes xrun, so it happens before any
    // parsing work: a cheap look at argv decides.
    crate::process::fds::record_inherited(std::env::args_os());
    let seal_error = crate::process::seal::early_state_root(std::env::args_os())
        .and_then(|root| crate::process::seal::ensure_sealed(&root).err());
    let cli = Cli::parse();
    logging::init(
        cli.global.log.as_deref(),
        cli.global.log_format,
        cli.global.debug,
    );
    let enters_container = matches!(
        cli.command,
        Command::Create(_) | Command::Run(_) | Command::Exec(_)
    );
    if let (Some(e), true) = (seal_error, enters_container) {
        logging::error(&format!("{e:#}"));
        return 1;
    }
    match dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            logging::error(&format!("{err:#}"));
            1
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    let g = &cli.global;
    match cli.command {
        Command::Create(a) => create::run(a, g),
        Command::Start(a) => start::run(a, g),
        Command::Run(a) => run::run(a, g),
        Command::State(a) => state::run(a, g),
        Command::Kill(a) => kill::run(a, g),
        Command::Delete(a) => delete::run(a, g),
        Command::List(a) => list::run(a, g),
        Command::Spec(a) => spec::run(a, g),
        Command::Features(a) => features::run(a, g),
        Command::Exec(a) => exec::run(a, g),
        Command::Pause(a) => pause::run(a, g),
        Command::Resume(a) => resume::run(a, g),
        Command::Ps(a) => ps::run(a, g),
        Command::Events(a) => events::run(a, g),
        Command::Update(a) => update::run(a, g),
        Command::Image(a) => crate::image::cli::run(a, g),
    }
}
