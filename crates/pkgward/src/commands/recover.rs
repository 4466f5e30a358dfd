//! `pkgward recover`: finish or undo an interrupted transaction (also done
//! automatically before every install and remove).

use super::install::{open_root, take_lock, RootArgs};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub root: RootArgs,
    /// Wait up to SECONDS for another pkgward holding the root's lock.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub wait: u64,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let root = open_root(&args.root)?;
    // Lock first: a transaction may be running right now.
    let lock = take_lock(&root, args.wait)?;
    let Some(mut database) = pkgward_engine::open_database(&root, false)? else {
        println!(
            "nothing to recover: pkgward has not been used in `{}`",
            root.path().display()
        );
        return Ok(ExitCode::SUCCESS);
    };
    let report = pkgward_engine::recover(&root, &lock, &mut database.database)?;
    print_report(&report);
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn print_report(report: &pkgward_engine::RecoveryReport) {
    if let Some(transaction) = &report.rolled_forward {
        println!("recovered: completed interrupted transaction `{transaction}`");
    }
    if report.discarded_torn_journal {
        println!("recovered: discarded an incomplete journal (nothing had been changed)");
    }
    for name in &report.removed_staging {
        println!("recovered: removed staging `{name}`");
    }
    if !report.did_something() {
        println!("nothing to recover");
    }
}
