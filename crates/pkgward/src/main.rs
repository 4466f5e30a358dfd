//! `pkgward`: the command-line front end. It parses arguments, calls into the
//! library crates and renders results and errors; it holds no install logic.
//!
//! Exit codes (documented in the README):
//! - 0: success
//! - 1: the operation was refused or failed (policy denial, bad package, …)
//! - 2: usage error (bad flags), as clap reports it
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod attestation_gate;
mod commands;
mod render;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Capability-enforcing package installer.
///
/// Installs real packages into a root so that each package can only do what
/// its capabilities allow. Every refusal says which rule refused and how to
/// grant it.
#[derive(Debug, Parser)]
#[command(name = "pkgward", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show a package's metadata, relations, scripts, conffiles and entries.
    Inspect(commands::inspect::Args),
    /// Install or upgrade packages into a root (`--dry-run` prints the plan).
    Install(commands::install::Args),
    /// Remove packages (`--purge` also deletes modified conffiles).
    Remove(commands::remove::Args),
    /// List the packages recorded in a root.
    List(commands::list::Args),
    /// List the paths a package owns.
    Files(commands::files::Args),
    /// Show which package owns a path.
    Owner(commands::owner::Args),
    /// Compare files on disk with the database (like `rpm -V`).
    Check(commands::check::Args),
    /// Finish or undo an interrupted transaction.
    Recover(commands::recover::Args),
    /// Classify the maintainer scripts of every `.deb` in a directory.
    AuditScripts(commands::audit_scripts::Args),
    /// Create an ed25519 verifier key pair.
    Keygen(commands::keygen::Args),
    /// Sign an attestation (DSSE, in-toto Statement v1) about a package.
    Attest(commands::attest::Args),
    /// Check attestations for a package against trusted keys and a threshold.
    VerifyAttestation(commands::verify_attestation::Args),
    /// Run a command in the sandbox used for maintainer scripts.
    Sandbox(commands::sandbox::Args),
    /// Check every entry and declared action of packages against the policy.
    Verify(commands::verify::Args),
    /// Explain the decision for one path or capability of a package.
    Explain(commands::explain::Args),
    /// Show packages' footprints; optionally write least-privilege grants.
    Audit(commands::audit::Args),
    /// Show the effective policy, the embedded default, or the catalog.
    Policy(commands::policy::Args),
    /// Show an installed package's maintainer scripts and their sandboxed runs.
    Scripts(commands::script_phases::Args),
    /// Run the postinst of half-configured packages again.
    Configure(commands::script_phases::ConfigureArgs),
}

fn main() -> ExitCode {
    // The sandbox re-executes this binary as its helper; that copy must not
    // parse arguments or start threads (see pkgward-sandbox's helper module).
    if let Some(code) = pkgward_sandbox::run_helper_if_requested() {
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => commands::inspect::run(&args),
        Command::Install(args) => commands::install::run(&args),
        Command::Remove(args) => commands::remove::run(&args),
        Command::List(args) => commands::list::run(&args),
        Command::Files(args) => commands::files::run(&args),
        Command::Owner(args) => commands::owner::run(&args),
        Command::Check(args) => commands::check::run(&args),
        Command::Recover(args) => commands::recover::run(&args),
        Command::AuditScripts(args) => commands::audit_scripts::run(&args),
        Command::Keygen(args) => commands::keygen::run(&args),
        Command::Attest(args) => commands::attest::run(&args),
        Command::VerifyAttestation(args) => commands::verify_attestation::run(&args),
        Command::Sandbox(args) => commands::sandbox::run(&args),
        Command::Verify(args) => commands::verify::run(&args),
        Command::Explain(args) => commands::explain::run(&args),
        Command::Audit(args) => commands::audit::run(&args),
        Command::Policy(args) => commands::policy::run(&args),
        Command::Scripts(args) => commands::script_phases::run(&args),
        Command::Configure(args) => commands::script_phases::configure(&args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            render::error(&error);
            ExitCode::from(1)
        }
    }
}
