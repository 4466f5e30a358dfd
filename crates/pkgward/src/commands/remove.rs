//! `pkgward remove PKG… [--purge]`: removes packages. Modified conffiles are
//! kept (the package stays as `config-files`, like dpkg) unless `--purge`;
//! directories go with their last owner.

use super::install::{finish_plan, lock_installed_root, nothing_installed, open_root, RootArgs};
use anyhow::Context;
use std::process::ExitCode;

// Each bool is a command-line flag.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Names of installed packages.
    #[arg(required = true)]
    pub packages: Vec<String>,
    /// Delete conffiles too, even modified ones.
    #[arg(long)]
    pub purge: bool,
    #[command(flatten)]
    pub root: RootArgs,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Run no maintainer script (`prerm`, `postrm`).
    #[arg(long)]
    pub no_scripts: bool,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
    /// Wait up to SECONDS for another pkgward holding the root's lock.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub wait: u64,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let root = open_root(&args.root)?;
    // A writer locks before it opens the database and reads what is
    // installed (`lock_installed_root`); a dry run only reads.
    let (lock, mut database) = if args.dry_run {
        let database = pkgward_engine::open_database(&root, false)?
            .with_context(|| nothing_installed(&root))?;
        (None, database)
    } else {
        let (lock, database) = lock_installed_root(&root, args.wait)?;
        (Some(lock), database)
    };
    let snapshot = pkgward_engine::snapshot::snapshot(&root, Some(&database.database), &[])?;
    let mut plan = pkgward_plan::planner::plan_removal(&snapshot, &args.packages, args.purge);
    super::actions::add_removal_links(&database.database, &mut plan)?;
    // dpkg's order: prerm before the files go, postrm after.
    let scripts = if args.dry_run || args.no_scripts || plan.is_refused() {
        Vec::new()
    } else {
        let scripts = super::script_phases::removal_scripts(&database.database, &plan)?;
        super::script_phases::run_prerms(&root, &mut database.database, &scripts)?;
        scripts
    };
    let code = finish_plan(
        &root,
        lock.as_ref(),
        &mut database.database,
        &plan,
        &super::install::NoContent,
        super::install::Output {
            dry_run: args.dry_run,
            json: args.json,
            durability: pkgward_engine::Durability::FsyncEachFile,
        },
    )?;
    super::script_phases::run_postrms(&root, &mut database.database, &scripts)?;
    Ok(code)
}
