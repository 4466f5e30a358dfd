//! `pkgward inspect PKG`: what a package contains, without installing it.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The package file (`.deb`).
    pub package: PathBuf,
    /// Print one JSON object instead of the human listing.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!(
        "inspect of `{}` is not available yet: the .deb reader is being written",
        args.package.display()
    )
}
