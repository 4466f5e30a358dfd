//! `pkgward list`: the packages recorded in a root.

use super::install::{open_root, RootArgs};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub root: RootArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let root = open_root(&args.root)?;
    let database = pkgward_engine::open_database(&root, false)?;
    let packages = match &database {
        Some(database) => database.database.packages()?,
        None => Vec::new(),
    };
    // An installed package whose postinst failed is dpkg's `half-configured`.
    let status = |package: &pkgward_db::PackageRecord| -> anyhow::Result<&'static str> {
        let configured = match &database {
            Some(database) => database.database.configured(&package.name)?,
            None => None,
        };
        Ok(match (package.status, configured) {
            (pkgward_db::PackageStatus::Installed, Some(false)) => "half-configured",
            (status, _) => self::status(status),
        })
    };
    if args.json {
        let rows: Vec<_> = packages
            .iter()
            .map(|package| {
                Ok(serde_json::json!({
                    "name": package.name, "version": package.version, "architecture": package.architecture,
                    "repo": package.repo, "status": status(package)?, "artifact_sha256": package.artifact_sha256,
                    "format": package.format.as_str(),
                }))
            })
            .collect::<anyhow::Result<_>>()?;
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for package in &packages {
            println!(
                "{}\t{}\t{}\t{}\t{}",
                package.name,
                package.version,
                package.architecture,
                package.repo,
                status(package)?
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn status(status: pkgward_db::PackageStatus) -> &'static str {
    match status {
        pkgward_db::PackageStatus::Installed => "installed",
        pkgward_db::PackageStatus::ConfigFiles => "config-files",
    }
}
