//! `pkgward verify PKG…`: check every entry and every declared action of
//! each package against the policy, without executing anything from it.
//! Exits 1 when anything is denied; the human output groups denials and
//! gives, for each, the rule that refused and a `hint:` with the smallest
//! grant that would allow it.

use super::policy::{read_package, PolicySource};
use pkgward_package::Package;
use pkgward_policy::verify::{verify, Item, Verification};
use pkgward_policy::{CompiledPolicy, Request, Subject};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Package files (`.deb` or `.rpm`).
    #[arg(required = true)]
    pub packages: Vec<PathBuf>,
    #[command(flatten)]
    pub source: PolicySource,
    /// Print one JSON array of verifications instead of the human report.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let compiled = args.source.compile()?;
    let mut verifications = Vec::new();
    for path in &args.packages {
        let (package, declarations) = read_package(path)?;
        let mut verification = verify(&package, &declarations, &compiled, &args.source.repo, &[])?;
        judge_scripts_as_install_does(&mut verification, &package, &compiled, &args.source.repo)?;
        verifications.push(verification);
    }
    let passed = verifications.iter().all(Verification::passed);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&verifications)?);
    } else {
        for verification in &verifications {
            print!("{}", human_report(verification));
        }
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `pkgward_policy::verify` judges any scripts as `sandboxed` (the policy
/// crate does not classify scripts); `install` asks for the mode the
/// classification needs (`pkgward_plan::maintainer_scripts`): `none` when
/// every script is fully declarative, `unconfined` for `NeedsUnconfined`.
/// This redoes the scripts check with that mode, so `verify` (and `attest`)
/// accept exactly what `install` accepts.
pub(crate) fn judge_scripts_as_install_does(
    verification: &mut Verification,
    package: &Package,
    compiled: &CompiledPolicy,
    repo: &str,
) -> anyhow::Result<()> {
    let Some(checked) = verification
        .checked
        .iter_mut()
        .find(|checked| matches!(checked.item, Item::Scripts { .. }))
    else {
        return Ok(());
    };
    let needed = pkgward_plan::maintainer_scripts::needed_script_mode(package);
    let rules = compiled.for_subject(
        &Subject {
            repo,
            name: &package.name,
            version: &package.version,
        },
        &[],
    )?;
    if let Item::Scripts { mode, .. } = &mut checked.item {
        *mode = needed;
    }
    checked.decision = rules.decide(&Request::Scripts { mode: needed });
    Ok(())
}

/// The human report of one verification.
pub fn human_report(verification: &Verification) -> String {
    let mut out = String::new();
    let total = verification.checked.len();
    let denied: Vec<_> = verification.denials().collect();
    if denied.is_empty() {
        let _ = writeln!(
            out,
            "{} {} (repo `{}`): allowed, {total} item{} checked",
            verification.package,
            verification.version,
            verification.repo,
            if total == 1 { "" } else { "s" }
        );
        return out;
    }
    let _ = writeln!(
        out,
        "{} {} (repo `{}`): refused, {} of {total} items denied",
        verification.package,
        verification.version,
        verification.repo,
        denied.len()
    );
    let mut groups: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for checked in &denied {
        groups
            .entry(checked.item.group())
            .or_default()
            .push(*checked);
    }
    for (group, items) in groups {
        let _ = writeln!(out, "  {group}:");
        for checked in items {
            let decision = &checked.decision;
            let verdict = match decision.verdict {
                pkgward_policy::Verdict::Forbid => "forbidden",
                _ => "denied",
            };
            let _ = writeln!(out, "    {verdict}: {}", checked.item);
            if let Some(guarded) = &decision.guarded {
                let _ = writeln!(
                    out,
                    "      guarded: `{}` ({}): {}",
                    guarded.id, guarded.class, guarded.reason
                );
            }
            let because = &decision.because;
            let _ = writeln!(
                out,
                "      refused by: {:?} rule at {}: {}",
                because.layer,
                because.location(),
                because.rule
            );
            for link in &because.chain {
                let _ = writeln!(out, "      via: {link}");
            }
            if let Some(hint) = &decision.hint {
                let _ = writeln!(out, "      hint: {hint}");
            }
        }
    }
    out
}
