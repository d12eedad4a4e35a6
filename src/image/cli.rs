//! `xrun image ...`: the command line of the image companion.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args as ClapArgs, Subcommand};

use crate::cli::GlobalOpts;
use crate::image::config::ConvertOptions;
use crate::image::idmap::{IdMap, IdRange};

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// Image store directory (layers, images, container layers)
    #[arg(long, global = true, default_value = "/var/lib/xrun")]
    pub store: PathBuf,
    /// No progress bar
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: ImageCommand,
}

#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// Flatten an image archive (docker save, OCI archive; '-' is stdin) into an OCI bundle
    Unpack {
        /// docker-save tarball, OCI archive or OCI layout directory; '-' reads stdin
        tarball: PathBuf,
        /// Bundle directory to create (absent or empty)
        bundle: PathBuf,
        /// Image to take from a multi-image archive (NAME:TAG or config digest prefix)
        #[arg(long)]
        image: Option<String>,
        /// Unpack for a user namespace: owners shifted by the id maps (default: the caller
        /// is the container's root), device nodes skipped when unprivileged
        #[arg(long)]
        rootless: bool,
        #[command(flatten)]
        run: RunOpts,
    },
    /// Load every image of an archive into the store ('-' reads stdin)
    Load { tarball: PathBuf },
    /// List the images in the store
    Images,
    /// Show an image's config and layers as JSON
    Inspect { image: String },
    /// Show an image's history
    History { image: String },
    /// Remove images (untag; delete when untagged; free unused layers)
    Rm {
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Make a bundle whose rootfs is an overlayfs mount of the image's stored layers
    Bundle {
        image: String,
        bundle: PathBuf,
        #[command(flatten)]
        run: RunOpts,
    },
    /// Unmount a store bundle's rootfs and remove its container layer and files
    Unbundle { bundle: PathBuf },
    /// Turn a store bundle's changes into a new image layer and tag it
    Commit {
        bundle: PathBuf,
        /// NAME[:TAG] of the new image
        tag: String,
        /// Comment for the history entry
        #[arg(long, short)]
        message: Option<String>,
        /// Author of the new image
        #[arg(long, short)]
        author: Option<String>,
    },
    /// Write images to a docker-save tarball
    Save {
        #[arg(required = true)]
        images: Vec<String>,
        /// Output file ('-' is stdout)
        #[arg(long, short)]
        output: PathBuf,
    },
}

/// How the bundle's process differs from the image's defaults.
#[derive(ClapArgs, Debug, Default)]
pub struct RunOpts {
    /// Uid map CONTAINER:HOST:SIZE for a user namespace (repeatable); shifts file owners
    #[arg(long = "uid-map", value_name = "C:H:S")]
    pub uid_map: Vec<String>,
    /// Gid map CONTAINER:HOST:SIZE (repeatable)
    #[arg(long = "gid-map", value_name = "C:H:S")]
    pub gid_map: Vec<String>,
    /// Replace the image's Entrypoint (its Cmd is dropped too, unless a command follows)
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Allocate a terminal for the process
    #[arg(long, short = 't')]
    pub tty: bool,
    /// Make the container's root read-only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Hostname of the container
    #[arg(long)]
    pub hostname: Option<String>,
    /// Command replacing the image's Cmd
    #[arg(last = true)]
    pub cmd: Vec<String>,
}

impl RunOpts {
    pub fn convert(&self, rootless: bool) -> Result<ConvertOptions> {
        let parse = |v: &[String]| {
            v.iter()
                .map(|s| IdRange::parse(s))
                .collect::<Result<Vec<_>>>()
        };
        let mut ids = IdMap {
            uids: parse(&self.uid_map)?,
            gids: parse(&self.gid_map)?,
        };
        if ids.uids.is_empty() != ids.gids.is_empty() {
            bail!("--uid-map and --gid-map go together");
        }
        if rootless && ids.is_identity() {
            let one = |host| {
                vec![IdRange {
                    container: 0,
                    host,
                    size: 1,
                }]
            };
            ids = IdMap {
                uids: one(nix::unistd::geteuid().as_raw()),
                gids: one(nix::unistd::getegid().as_raw()),
            };
        }
        Ok(ConvertOptions {
            rootless,
            ids,
            entrypoint: self.entrypoint.clone().map(|e| vec![e]),
            cmd: (!self.cmd.is_empty()).then(|| self.cmd.clone()),
            terminal: self.tty,
            readonly: self.read_only,
            hostname: self.hostname.clone(),
        })
    }
}

pub fn run(a: Args, _g: &GlobalOpts) -> Result<i32> {
    match a.command {
        ImageCommand::Unpack {
            tarball,
            bundle,
            image,
            rootless,
            run,
        } => {
            let o = crate::image::unpack::UnpackOptions {
                image,
                convert: run.convert(rootless)?,
                quiet: a.quiet,
            };
            println!("{}", crate::image::unpack::unpack(&tarball, &bundle, &o)?);
        }
        cmd => store_command(cmd, &a.store, a.quiet)?,
    }
    Ok(0)
}

fn store_command(cmd: ImageCommand, store: &std::path::Path, quiet: bool) -> Result<()> {
    use crate::image::store::{self, Store};
    let st = Store::open(store)?;
    let out = match cmd {
        ImageCommand::Unpack { .. } => unreachable!("handled without a store"),
        ImageCommand::Load { tarball } => store::load::load(&st, &tarball, quiet)?.join("\n"),
        ImageCommand::Images => store::show::images(&st)?.trim_end().to_string(),
        ImageCommand::Inspect { image } => {
            store::show::inspect(&st, &image)?.trim_end().to_string()
        }
        ImageCommand::History { image } => {
            store::show::history(&st, &image)?.trim_end().to_string()
        }
        ImageCommand::Rm { images } => store::remove::remove(&st, &images)?.join("\n"),
        ImageCommand::Bundle { image, bundle, run } => {
            store::bundle::bundle(&st, &image, &bundle, &run.convert(false)?)?
        }
        ImageCommand::Unbundle { bundle } => store::bundle::unbundle(&st, &bundle)?,
        ImageCommand::Commit {
            bundle,
            tag,
            message,
            author,
        } => {
            let o = store::commit::CommitOptions { message, author };
            store::commit::commit(&st, &bundle, &tag, &o)?
        }
        ImageCommand::Save { images, output } => store::save::save(&st, &images, &output)?,
    };
    if !out.is_empty() {
        println!("{out}");
    }
    Ok(())
}
