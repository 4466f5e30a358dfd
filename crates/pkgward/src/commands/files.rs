//! `pkgward files PKG`: the paths a package owns.

use super::install::{open_root, RootArgs};
use anyhow::Context;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The installed package's name.
    pub package: String,
    #[command(flatten)]
    pub root: RootArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// List the declarative actions pkgward carried out for the package
    /// (accounts, unit enablement, tmpfiles, path attributes, alternatives)
    /// instead of its paths.
    #[arg(long)]
    pub actions: bool,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let root = open_root(&args.root)?;
    let database = pkgward_engine::open_database(&root, false)?;
    let database = database
        .as_ref()
        .filter(|database| matches!(database.database.package(&args.package), Ok(Some(_))))
        .with_context(|| crate::render::Hint("`pkgward list` shows what is installed".to_owned()))
        .with_context(|| {
            format!(
                "package `{}` is not installed in `{}`",
                args.package,
                root.path().display()
            )
        })?;
    if args.actions {
        return print_actions(&database.database, args);
    }
    let dirs = database.database.dirs(&args.package)?;
    let files = database.database.files(&args.package)?;
    if args.json {
        let mut rows: Vec<_> = dirs
            .iter()
            .map(|directory| serde_json::json!({ "path": directory.path, "kind": "dir", "mode": format!("{:04o}", directory.mode) }))
            .collect();
        rows.extend(files.iter().map(|file| {
            serde_json::json!({
                "path": file.path, "kind": file.kind.as_str(), "mode": format!("{:04o}", file.mode),
                "owner": file.owner, "group": file.group, "sha256": file.digest, "target": file.target, "conffile": file.conffile,
            })
        }));
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        let mut paths: Vec<&str> = dirs
            .iter()
            .map(|directory| directory.path.as_str())
            .chain(files.iter().map(|file| file.path.as_str()))
            .collect();
        paths.sort_unstable();
        for path in paths {
            println!("{path}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_actions(database: &pkgward_db::Database, args: &Args) -> anyhow::Result<ExitCode> {
    let mut actions = Vec::new();
    for record in database.actions(&args.package)? {
        let action: pkgward_plan::actions::PlannedAction = serde_json::from_str(&record.detail)
            .with_context(|| format!("recorded action of `{}` is not valid", args.package))?;
        actions.push(action);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&actions)?);
    } else {
        for action in &actions {
            println!("{action}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
