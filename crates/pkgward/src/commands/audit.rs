//! `pkgward audit PKG… [--json] [--suggest-grants FILE]`: each package's
//! footprint — compressed path patterns, guarded locations by class,
//! setuid/setgid entries, users, groups, services, scripts — and optionally
//! a least-privilege grants file that `verify --grants FILE` accepts.

use super::policy::{read_package, PolicySource};
use anyhow::Context as _;
use pkgward_policy::footprint::{footprint_with, Footprint};
use pkgward_policy::ScriptMode;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Package files (`.deb` or `.rpm`).
    #[arg(required = true)]
    pub packages: Vec<PathBuf>,
    /// Print one JSON array of footprints.
    #[arg(long)]
    pub json: bool,
    /// Write least-privilege grants for all packages to FILE.
    #[arg(long, value_name = "FILE")]
    pub suggest_grants: Option<PathBuf>,
    /// Also show the declarative actions each package would get (accounts,
    /// unit enablement, tmpfiles, path attributes, alternatives) and what the
    /// policy would refuse; with `--json`, one object with `footprints` and
    /// `actions`.
    #[arg(long)]
    pub actions: bool,
    #[command(flatten)]
    pub source: PolicySource,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    // The catalog may be extended by the policy's `[[guarded]]` entries.
    let compiled = args.source.compile()?;
    let mut footprints = Vec::new();
    let mut needed_script_modes = Vec::new();
    let mut actions = Vec::new();
    for path in &args.packages {
        let (package, declarations) = read_package(path)?;
        footprints.push(footprint_with(&package, &declarations, &compiled));
        needed_script_modes.push(pkgward_plan::maintainer_scripts::needed_script_mode(
            &package,
        ));
        if args.actions {
            let planned = super::actions::audit_actions(
                &package,
                &declarations,
                &compiled,
                &args.source.repo,
            );
            actions.push(serde_json::json!({
                "package": package.name,
                "actions": planned.actions,
                "refused": planned.problems,
            }));
        }
    }
    if let Some(path) = &args.suggest_grants {
        let mut text = String::from("# Least-privilege grants written by `pkgward audit --suggest-grants`.\n# Use with `pkgward verify --grants FILE` (schema: docs/policy.md).\n\n");
        for (footprint, needed) in footprints.iter().zip(&needed_script_modes) {
            text.push_str(&with_needed_script_mode(
                &footprint.suggested_grant(),
                *needed,
            ));
            text.push('\n');
        }
        fs_err::write(path, text)
            .with_context(|| format!("cannot write grants to `{}`", path.display()))?;
    }
    if args.json && args.actions {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "footprints": footprints, "actions": actions })
            )?
        );
    } else if args.json {
        println!("{}", serde_json::to_string_pretty(&footprints)?);
    } else {
        for (index, footprint) in footprints.iter().enumerate() {
            print!("{}", human_footprint(footprint));
            if let Some(entry) = actions.get(index) {
                print!("{}", human_actions(entry)?);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn human_actions(entry: &serde_json::Value) -> anyhow::Result<String> {
    let mut out = String::new();
    let planned: Vec<pkgward_plan::actions::PlannedAction> =
        serde_json::from_value(entry["actions"].clone())?;
    let refused: Vec<pkgward_plan::Problem> = serde_json::from_value(entry["refused"].clone())?;
    for action in &planned {
        let _ = writeln!(out, "  action: {action}");
    }
    for problem in &refused {
        let _ = writeln!(out, "  refused: {problem}");
    }
    Ok(out)
}

fn human_footprint(footprint: &Footprint) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} ({})",
        footprint.package, footprint.version, footprint.architecture
    );
    let _ = writeln!(out, "  paths ({}):", footprint.paths.len());
    for path in &footprint.paths {
        let _ = writeln!(out, "    {path}");
    }
    if footprint.guarded.is_empty() {
        let _ = writeln!(out, "  guarded: none");
    } else {
        let _ = writeln!(out, "  guarded:");
        for guarded in &footprint.guarded {
            let _ = writeln!(
                out,
                "    {} ({}): {}",
                guarded.id,
                guarded.class,
                guarded.paths.join(", ")
            );
        }
    }
    for setuid in &footprint.setuid {
        let _ = writeln!(out, "  setuid: {} (mode {})", setuid.path, setuid.mode);
    }
    for entry in &footprint.file_capabilities {
        let _ = writeln!(
            out,
            "  file capabilities: {} {} ({})",
            entry.path, entry.capabilities, entry.source
        );
    }
    for user in &footprint.users {
        let zero = if user.uid_zero { " (uid 0!)" } else { "" };
        let _ = writeln!(
            out,
            "  user: {} id {}{zero} ({})",
            user.name, user.id, user.source
        );
    }
    for group in &footprint.groups {
        let _ = writeln!(
            out,
            "  group: {} [{}] ({})",
            group.name, group.how, group.source
        );
    }
    for service in &footprint.services {
        let runs_as = service.runs_as.as_deref().unwrap_or("-");
        let _ = writeln!(
            out,
            "  service: {} runs as {runs_as}{}",
            service.unit,
            if service.notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", service.notes.join("; "))
            }
        );
    }
    if !footprint.scripts.is_empty() {
        let _ = writeln!(out, "  scripts: {}", footprint.scripts.join(", "));
    }
    for (first, second) in &footprint.twins {
        let _ = writeln!(out, "  twins: `{first}` and `{second}`");
    }
    out
}

/// `Footprint::suggested_grant` (pkgward-policy, which does not classify
/// scripts) writes `scripts = "sandboxed"` for any scripts; `install` needs
/// the mode the classification asks for (`none` when every script is fully
/// declarative, `unconfined` for `NeedsUnconfined`): the suggested grant
/// names that mode instead, so it is least privilege and enough.
fn with_needed_script_mode(grant: &str, needed: ScriptMode) -> String {
    grant.replace(
        "\nscripts = \"sandboxed\"\n",
        &format!("\nscripts = \"{}\"\n", needed.as_str()),
    )
}
