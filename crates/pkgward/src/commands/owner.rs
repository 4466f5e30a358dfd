//! `pkgward owner PATH`: which package owns a path (resolved like an install
//! would, so `/lib/x` finds the owner of `/usr/lib/x` under usrmerge).

use super::install::{open_root, RootArgs};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// An absolute path inside the root.
    pub path: String,
    #[command(flatten)]
    pub root: RootArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let root = open_root(&args.root)?;
    if !args.path.starts_with('/') {
        anyhow::bail!("path `{}` is not absolute", args.path);
    }
    let is_directory = root.directory(&args.path, None).ok().flatten().is_some();
    let canonical = root.canonical_path(&args.path, is_directory)?;
    let owners = match pkgward_engine::open_database(&root, false)? {
        Some(database) => database.database.owners(&canonical)?,
        None => Vec::new(),
    };
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "path": args.path, "canonical": canonical, "owners": owners })
        );
    } else if owners.is_empty() {
        println!("`{canonical}` is not owned by any package");
        return Ok(ExitCode::from(1));
    } else {
        println!("{canonical}: {}", owners.join(", "));
    }
    Ok(if owners.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
