//! The install-time attestation gate, as `install` drives it: a package
//! whose repo has a `verifiers` rule is installed only when `threshold`
//! distinct trusted verifier keys attest, with PASSED verdicts, the exact
//! bytes being installed, under the configured policy, with a footprint that
//! covers what pkgward computes for the package now (DESIGN "Verifier and
//! attestations", THREATS section E). The decision and its refusal text are
//! `pkgward_attest::install_gate`'s; this module gathers the inputs (the
//! repo's rule, the policy digest, the clock, the package's footprint, where
//! its envelopes are) and renders the refusal with its hint.
//!
//! The gate runs after the packages are read and before the database is
//! opened or the lock taken, so a refusal leaves the root byte-identical.
//! Attestations that counted are recorded in the database's `attestations`
//! table after the engine's commit (see [`Admitted::record`]).

use crate::commands::attest::read_with_declarations;
use crate::render::Hint;
use anyhow::Context as _;
use pkgward_attest::discovery;
use pkgward_attest::install_gate::{Candidate, GateError, InstallGate};
use pkgward_db::AttestationRecord;
use pkgward_package::Package;
use pkgward_policy::CompiledPolicy;
use std::path::{Path, PathBuf};

/// What the gate needs from `install`'s arguments.
#[derive(Debug)]
pub struct GateInput<'a> {
    /// The package files, in the order of `packages`.
    pub files: &'a [PathBuf],
    /// The repo the packages are installed from (`--repo`).
    pub repo: &'a str,
    /// The digest of the policy files install compiled (see
    /// `PolicyFiles::digest`): attestations must name exactly this policy.
    pub policy_sha256: String,
    /// `--attestations DIR`; otherwise `PKG.att/` next to each package.
    pub attestations: Option<&'a Path>,
}

impl<'a> GateInput<'a> {
    /// The gate's view of `install`'s arguments and the digest of the policy
    /// files it compiled.
    pub fn new(args: &'a crate::commands::install::Args, policy_sha256: String) -> Self {
        GateInput {
            files: &args.packages,
            repo: &args.repo,
            policy_sha256,
            attestations: args.attestations.as_deref(),
        }
    }
}

/// The attestations that admitted each package, to record once installed.
#[derive(Debug, Default)]
#[must_use = "record the accepted attestations after the commit"]
pub struct Admitted {
    packages: Vec<(String, Vec<AttestationRecord>)>,
}

impl Admitted {
    /// Record the accepted attestations of each admitted package. Called
    /// right after the engine's commit: the engine builds its database change
    /// from the plan alone, so this is a second database transaction.
    pub fn record(&self, database: &mut pkgward_db::Database) -> anyhow::Result<()> {
        for (name, records) in &self.packages {
            database
                .record_attestations(name, records)
                .with_context(|| format!("cannot record the attestations of `{name}`"))?;
        }
        Ok(())
    }
}

/// Check every package whose repo has a `verifiers` rule; refuse the whole
/// install when any of them is not attested. The decision is
/// `pkgward_attest::install_gate`'s; this supplies its inputs and renders
/// its refusal.
pub fn check(
    input: &GateInput<'_>,
    compiled: &CompiledPolicy,
    packages: &[Package],
) -> anyhow::Result<Admitted> {
    let Some(repo) = compiled.policy().repo(input.repo) else {
        // An unknown repo is refused by the planner with the policy's own
        // message; there is no verifier rule to apply.
        return Ok(Admitted::default());
    };
    let Some(rule) = &repo.verifiers else {
        return Ok(Admitted::default());
    };
    let keys: Vec<String> = rule.keys.iter().map(|key| key.value.clone()).collect();
    let gate = InstallGate::new(
        input.repo,
        &keys,
        rule.threshold.value,
        &input.policy_sha256,
        now_unix()?,
    )?;
    let mut admitted = Admitted::default();
    for (package, file) in packages.iter().zip(input.files) {
        let needed = needed_footprint(package, file, compiled)?;
        let attestation_dir = input
            .attestations
            .map_or_else(|| discovery::attestation_dir_for(file), Path::to_path_buf);
        let candidate = Candidate {
            name: &package.name,
            version: &package.version.to_string(),
            artifact_sha256: &package.artifact_sha256,
            file,
            attestation_dir: &attestation_dir,
        };
        match gate.admit(&candidate, &needed) {
            Ok(accepted) => admitted.packages.push((
                package.name.clone(),
                accepted
                    .into_iter()
                    .map(|row| AttestationRecord {
                        key_id: row.key_id,
                        envelope: row.envelope,
                        verified_at: row.verified_at,
                    })
                    .collect(),
            )),
            Err(GateError::Refused(refusal)) => {
                return Err(anyhow::Error::new(Hint(refusal.hint())).context(refusal.to_string()))
            }
            Err(error) => return Err(error.into()),
        }
    }
    Ok(admitted)
}

/// The footprint pkgward computes now for the package being installed, as
/// JSON. The package is read again to extract its declarations (sysusers and
/// unit files); the second read must hash to the same bytes as the first.
fn needed_footprint(
    package: &Package,
    file: &Path,
    compiled: &CompiledPolicy,
) -> anyhow::Result<serde_json::Value> {
    let (read_again, declarations) = read_with_declarations(file)?;
    if read_again.artifact_sha256 != package.artifact_sha256 {
        anyhow::bail!(
            "`{}` changed on disk while it was being checked (sha256 {} then {})",
            file.display(),
            package.artifact_sha256,
            read_again.artifact_sha256
        );
    }
    let footprint = pkgward_policy::footprint::footprint_with(&read_again, &declarations, compiled);
    Ok(serde_json::to_value(&footprint)?)
}

fn now_unix() -> anyhow::Result<i64> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("system clock is before 1970")?;
    Ok(i64::try_from(now.as_secs()).unwrap_or(i64::MAX))
}
