use std::path::PathBuf;

use anyhow::Result;

use super::GlobalOpts;
use crate::container::exec::ExecOpts;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Path to an AF_UNIX socket which will receive the pty master of the console
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Current working directory in the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Set environment variables
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// UID (format: <uid>[:<gid>])
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional gids
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Path to the process.json
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Detach from the container's process
    #[arg(short, long)]
    pub detach: bool,
    /// Specify the file to write the process id to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Set the asm process label for the process commonly used with selinux
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// Set the apparmor profile for the process
    #[arg(long)]
    pub apparmor: Option<String>,
    /// Set the no new privileges value for the process
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Add a capability to the bounding set for the process
    #[arg(short, long = "cap")]
    pub cap: Vec<String>,
    /// Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Run the process in a (sub-)cgroup (accepted for compatibility)
    #[arg(long = "cgroup", hide = true)]
    pub cgroup: Vec<String>,
    /// Allow exec in a paused container
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// The container id
    pub id: String,
    /// The command to run, with its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn run(args: Args, g: &GlobalOpts) -> Result<i32> {
    let opts = ExecOpts {
        id: args.id,
        process_file: args.process,
        command: args.command,
        console_socket: args.console_socket,
        cwd: args.cwd,
        env: args.env,
        tty: args.tty,
        user: args.user,
        additional_gids: args.additional_gids,
        detach: args.detach,
        pid_file: args.pid_file,
        process_label: args.process_label,
        apparmor: args.apparmor,
        no_new_privs: args.no_new_privs,
        caps: args.cap,
        preserve_fds: args.preserve_fds,
        ignore_paused: args.ignore_paused,
    };
    crate::container::exec::exec(&g.runtime(), &opts)
}
