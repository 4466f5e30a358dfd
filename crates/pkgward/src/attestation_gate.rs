//! The install-time attestation gate: a package whose repo has a `verifiers`
//! rule is installed only when `threshold` distinct trusted verifier keys
//! attest, with PASSED verdicts, the exact bytes being installed, under the
//! configured policy, with a footprint that covers what pkgward computes for
//! the package now (DESIGN "Verifier and attestations", THREATS section E).
//!
//! The gate runs after the packages are read and before the database is
//! opened or the lock taken, so a refusal leaves the root byte-identical.
//! Attestations that counted are recorded in the database's `attestations`
//! table after the engine's commit (see [`Admitted::record`]).

use crate::commands::attest::read_with_declarations;
use crate::render::Hint;
use anyhow::Context as _;
use pkgward_attest::threshold::EnvelopeOutcome;
use pkgward_attest::{discovery, EnvelopeInput, Expectation, PolicyRequirement, VerifierSet};
use pkgward_db::AttestationRecord;
use pkgward_package::Package;
use pkgward_policy::CompiledPolicy;
use std::fmt::Write as _;
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
/// install when any of them is not attested.
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
    let verifiers = verifier_set(input.repo, rule)?;
    let policy_sha256 = input.policy_sha256.clone();
    let now_unix = now_unix()?;
    let expectation_for = |artifact_sha256: &str| Expectation {
        artifact_sha256: artifact_sha256.to_owned(),
        policy: PolicyRequirement::OneOf(vec![policy_sha256.clone()]),
        now_unix,
        // The policy has no freshness setting yet.
        max_age_seconds: None,
    };
    let limits = pkgward_attest::Limits::default();
    let mut admitted = Admitted::default();
    for (package, file) in packages.iter().zip(input.files) {
        let needed = needed_footprint(package, file, compiled)?;
        let directory = input
            .attestations
            .map_or_else(|| discovery::attestation_dir_for(file), Path::to_path_buf);
        let envelopes = discovery::read_envelope_dir(&directory, &limits)?;
        let covers =
            |attested: &serde_json::Value| pkgward_attest::coverage::json_covers(attested, &needed);
        match pkgward_attest::check(
            &envelopes,
            &verifiers,
            &expectation_for(&package.artifact_sha256),
            covers,
            &limits,
        ) {
            Ok(pkgward_attest::Accepted(report)) => {
                admitted.packages.push((
                    package.name.clone(),
                    records(&report.outcomes, &envelopes, now_unix),
                ));
            }
            Err(pkgward_attest::Refusal(report)) => {
                return Err(refusal_error(
                    package,
                    file,
                    input.repo,
                    &directory,
                    &report,
                    &policy_sha256,
                ));
            }
        }
    }
    Ok(admitted)
}

/// The repo's verifier keys and threshold as a validated set. The policy
/// loader already refuses threshold 0, k > n and duplicate keys; this
/// re-validates (the set is what counts keys) and parses the key bytes.
fn verifier_set(
    repo: &str,
    rule: &pkgward_policy::model::Verifiers,
) -> anyhow::Result<VerifierSet> {
    let entries: Vec<(String, String)> = rule
        .keys
        .iter()
        .map(|key| (key.value.clone(), base64_key_text(&key.value)))
        .collect();
    let threshold = usize::try_from(rule.threshold.value).unwrap_or(usize::MAX);
    VerifierSet::from_texts(&entries, threshold)
        .with_context(|| format!("cannot use the verifiers of repo `{repo}`"))
}

/// Policy files write keys as `ed25519:<base64|hex>` (docs/policy.md); the
/// attestation crate reads base64. 64 hex digits are never a 32-byte base64
/// key (that is 43 or 44 characters), so the two cannot be confused.
fn base64_key_text(text: &str) -> String {
    if let Some(encoded) = text.trim().strip_prefix("ed25519:") {
        if encoded.len() == 64 {
            if let Ok(key) = hex::decode(encoded).map_err(|_| ()).and_then(|bytes| {
                pkgward_attest::PublicKey::from_raw_bytes(&bytes, text).map_err(|_| ())
            }) {
                return key.to_text();
            }
        }
    }
    text.to_owned()
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

/// One row per credited key of each counted envelope, holding the envelope
/// bytes exactly as verified.
fn records(
    outcomes: &[EnvelopeOutcome],
    envelopes: &[EnvelopeInput],
    now_unix: i64,
) -> Vec<AttestationRecord> {
    outcomes
        .iter()
        .zip(envelopes)
        .filter_map(|(outcome, input)| outcome.result.as_ref().ok().map(|counted| (counted, input)))
        .flat_map(|(counted, input)| {
            counted.keys.iter().map(move |trusted| AttestationRecord {
                key_id: trusted.key.key_id(),
                envelope: String::from_utf8_lossy(&input.bytes).into_owned(),
                verified_at: now_unix,
            })
        })
        .collect()
}

/// The refusal: which package, how many distinct keys were needed, and each
/// envelope with why it did (or did not) count.
fn refusal_error(
    package: &Package,
    file: &Path,
    repo: &str,
    directory: &Path,
    report: &pkgward_attest::Report,
    policy_sha256: &str,
) -> anyhow::Error {
    let mut message = format!(
        "refused `{}` {} from repo `{repo}`: {} of the {} required distinct trusted verifier keys attest it (sha256 {})",
        package.name,
        package.version,
        report.distinct_keys(),
        report.threshold,
        package.artifact_sha256
    );
    if report.outcomes.is_empty() {
        let _ = write!(message, "\n  no attestations in `{}`", directory.display());
    }
    for outcome in &report.outcomes {
        match &outcome.result {
            Ok(counted) => {
                let keys: Vec<String> = counted
                    .keys
                    .iter()
                    .map(|trusted| format!("`{}`", trusted.identity))
                    .collect();
                let _ = write!(
                    message,
                    "\n  - `{}`: counted (key {})",
                    outcome.source,
                    keys.join(", ")
                );
            }
            Err(reason) => {
                let _ = write!(message, "\n  - `{}`: ignored: {reason}", outcome.source);
            }
        }
    }
    anyhow::Error::new(Hint(format!(
        "nothing was changed; {} verifier(s) of repo `{repo}` must each run `pkgward attest {}` with this policy (digest {policy_sha256}), or pass `--attestations DIR`",
        report.threshold,
        file.display()
    )))
    .context(message)
}
