//! `pkgward check [PKG…]`: the disk against the database, like `rpm -V`.
//! Exit 0 when clean, 1 when anything drifted.

use super::install::{open_root, RootArgs};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Packages to check (all installed packages when none).
    pub packages: Vec<String>,
    #[command(flatten)]
    pub root: RootArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let root = open_root(&args.root)?;
    let Some(database) = pkgward_engine::open_database(&root, false)? else {
        if args.json {
            println!("[]");
        } else {
            println!("clean: no packages installed");
        }
        return Ok(ExitCode::SUCCESS);
    };
    for name in &args.packages {
        if database.database.package(name)?.is_none() {
            anyhow::bail!("package `{name}` is not installed");
        }
    }
    let drifts = pkgward_engine::verify::verify(&root, &database.database, &args.packages)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&drifts)?);
    } else if drifts.is_empty() {
        println!(
            "clean: {} package(s) match the database",
            if args.packages.is_empty() {
                database.database.packages()?.len()
            } else {
                args.packages.len()
            }
        );
    } else {
        for drift in &drifts {
            println!(
                "{}\t{}\t{}\t{}",
                drift.kind, drift.package, drift.path, drift.detail
            );
        }
    }
    Ok(if drifts.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
