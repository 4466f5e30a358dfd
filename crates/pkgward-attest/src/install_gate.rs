//! The install-time gate: may a package from a repo with a `verifiers`
//! rule be installed? Only when `threshold` distinct trusted verifier keys
//! attest, with PASSED verdicts, the exact bytes being installed, under the
//! installer's policy, with a footprint that covers what the installer
//! computes for the package now (DESIGN "Verifier and attestations",
//! THREATS section E; docs/attestations.md "At install").
//!
//! The caller supplies what this crate cannot know: the repo's key texts
//! and threshold from the administrator policy, the digest of the policy
//! files it compiled, the current time, and the installer's own footprint
//! of the package as JSON. The gate reads the envelopes (through
//! [`crate::discovery`]), runs [`crate::threshold::check`] with
//! [`crate::coverage::json_covers`], and returns either the attestations to
//! record or a [`GateRefusal`] that names the package and every envelope.

use crate::discovery::{self, DiscoveryError};
use crate::threshold::{check, Accepted, ConfigError, Expectation, PolicyRequirement, Refusal};
use crate::threshold::{Report, VerifierSet};
use crate::{Limits, PublicKey};
use serde_json::Value;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

/// One repo's verifier rule, validated, with what every attestation must
/// name: the installer's policy digest and the current time.
#[derive(Debug, Clone)]
pub struct InstallGate {
    repo: String,
    verifiers: VerifierSet,
    policy_sha256: String,
    now_unix: i64,
    limits: Limits,
}

/// A package about to be installed, as the gate sees it.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub name: &'a str,
    pub version: &'a str,
    /// sha256 (hex) of the package bytes being installed.
    pub artifact_sha256: &'a str,
    /// The package file (named in the refusal's hint).
    pub file: &'a Path,
    /// Where its envelopes are: `--attestations DIR` or `PKG.att/`
    /// ([`discovery::attestation_dir_for`]).
    pub attestation_dir: &'a Path,
}

/// One credited key of a counted envelope: a row of the database's
/// `attestations` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmittedAttestation {
    /// Key id (sha256 hex of the raw public key).
    pub key_id: String,
    /// The envelope exactly as verified.
    pub envelope: String,
    /// When the installer verified it (seconds since the epoch).
    pub verified_at: i64,
}

/// Why the gate could not admit a package.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("cannot use the verifiers of repo `{repo}`")]
    Verifiers {
        repo: String,
        #[source]
        source: ConfigError,
    },
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    #[error(transparent)]
    Refused(Box<GateRefusal>),
}

/// The threshold was not met: which package, how many distinct keys were
/// required, and each envelope with why it did (or did not) count.
/// `Display` is the message; [`GateRefusal::hint`] says what to do.
#[derive(Debug, Clone, thiserror::Error)]
pub struct GateRefusal {
    package: String,
    version: String,
    artifact_sha256: String,
    repo: String,
    file: PathBuf,
    attestation_dir: PathBuf,
    policy_sha256: String,
    pub report: Report,
}

impl InstallGate {
    /// The gate for `repo` with the policy's verifier keys (`ed25519:<base64>`
    /// or `ed25519:<64 hex digits>`, docs/policy.md) and threshold. The
    /// policy loader already refuses threshold 0, k > n and duplicate keys;
    /// the [`VerifierSet`] validates again, since it is what counts keys.
    pub fn new(
        repo: &str,
        policy_keys: &[String],
        threshold: u32,
        policy_sha256: &str,
        now_unix: i64,
    ) -> Result<Self, GateError> {
        let entries: Vec<(String, String)> = policy_keys
            .iter()
            .map(|key| (key.clone(), base64_key_text(key)))
            .collect();
        let threshold = usize::try_from(threshold).unwrap_or(usize::MAX);
        let verifiers = VerifierSet::from_texts(&entries, threshold).map_err(|source| {
            GateError::Verifiers {
                repo: repo.to_owned(),
                source,
            }
        })?;
        Ok(InstallGate {
            repo: repo.to_owned(),
            verifiers,
            policy_sha256: policy_sha256.to_owned(),
            now_unix,
            limits: Limits::default(),
        })
    }

    /// Admit `candidate` when enough of the envelopes in its attestation
    /// directory count; `needed_footprint` is the installer's own footprint
    /// of the package (`pkgward_policy::footprint::Footprint` as JSON),
    /// which every counted attestation's footprint must cover.
    pub fn admit(
        &self,
        candidate: &Candidate<'_>,
        needed_footprint: &Value,
    ) -> Result<Vec<AdmittedAttestation>, GateError> {
        let envelopes = discovery::read_envelope_dir(candidate.attestation_dir, &self.limits)?;
        let expectation = Expectation {
            artifact_sha256: candidate.artifact_sha256.to_owned(),
            policy: PolicyRequirement::OneOf(vec![self.policy_sha256.clone()]),
            now_unix: self.now_unix,
            // The policy has no freshness setting yet.
            max_age_seconds: None,
        };
        let covers = |attested: &Value| crate::coverage::json_covers(attested, needed_footprint);
        match check(
            &envelopes,
            &self.verifiers,
            &expectation,
            covers,
            &self.limits,
        ) {
            Ok(Accepted(report)) => Ok(report
                .outcomes
                .iter()
                .zip(&envelopes)
                .filter_map(|(outcome, input)| {
                    outcome.result.as_ref().ok().map(|counted| (counted, input))
                })
                .flat_map(|(counted, input)| {
                    counted.keys.iter().map(move |trusted| AdmittedAttestation {
                        key_id: trusted.key.key_id(),
                        envelope: String::from_utf8_lossy(&input.bytes).into_owned(),
                        verified_at: self.now_unix,
                    })
                })
                .collect()),
            Err(Refusal(report)) => Err(GateError::Refused(Box::new(GateRefusal {
                package: candidate.name.to_owned(),
                version: candidate.version.to_owned(),
                artifact_sha256: candidate.artifact_sha256.to_owned(),
                repo: self.repo.clone(),
                file: candidate.file.to_owned(),
                attestation_dir: candidate.attestation_dir.to_owned(),
                policy_sha256: self.policy_sha256.clone(),
                report,
            }))),
        }
    }
}

impl fmt::Display for GateRefusal {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = &self.report;
        let mut message = format!(
            "refused `{}` {} from repo `{}`: {} of the {} required distinct trusted verifier keys attest it (sha256 {})",
            self.package,
            self.version,
            self.repo,
            report.distinct_keys(),
            report.threshold,
            self.artifact_sha256
        );
        if report.outcomes.is_empty() {
            let _ = write!(
                message,
                "\n  no attestations in `{}`",
                self.attestation_dir.display()
            );
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
        formatter.write_str(&message)
    }
}

impl GateRefusal {
    /// What to do about the refusal: nothing was changed, and who must
    /// attest the package with which policy.
    pub fn hint(&self) -> String {
        format!(
            "nothing was changed; {} verifier(s) of repo `{}` must each run `pkgward attest {}` with this policy (digest {}), or pass `--attestations DIR`",
            self.report.threshold,
            self.repo,
            self.file.display(),
            self.policy_sha256
        )
    }
}

/// Policy files write keys as `ed25519:<base64|hex>` (docs/policy.md); the
/// key reader takes base64. 64 hex digits are never a 32-byte base64 key
/// (that is 43 or 44 characters), so the two cannot be confused.
fn base64_key_text(text: &str) -> String {
    if let Some(encoded) = text.trim().strip_prefix("ed25519:") {
        if encoded.len() == 64 {
            if let Ok(key) = hex::decode(encoded)
                .map_err(|_| ())
                .and_then(|bytes| PublicKey::from_raw_bytes(&bytes, text).map_err(|_| ()))
            {
                return key.to_text();
            }
        }
    }
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{sign_statement, FootprintPredicate, PrivateKey, Statement, Verdict};
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;
    const POLICY_SHA256: &str = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";
    const ARTIFACT_SHA256: &str =
        "14c116ca74d8d620522ac55bdf1c0350b8dd96005658d4a7aebc39e932876092";

    fn key(seed: u8) -> PrivateKey {
        PrivateKey::from_seed(&[seed; 32])
    }

    fn footprint() -> Value {
        json!({"package": "hello", "paths": ["/usr/bin/hello"], "scripts": []})
    }

    fn envelope(signer: &PrivateKey, verdict: Verdict, footprint: Value) -> String {
        sign_statement(
            &Statement::for_artifact(
                "hello_1.0_all.deb",
                ARTIFACT_SHA256,
                FootprintPredicate {
                    verifier_id: "ci".to_owned(),
                    policy_sha256: POLICY_SHA256.to_owned(),
                    footprint,
                    verdict,
                    time_verified: NOW - 60,
                    pkgward_version: "0.1.0".to_owned(),
                },
            ),
            signer,
        )
    }

    /// Test fixture: an envelope file in a temp directory.
    #[allow(clippy::disallowed_methods)]
    fn write_envelope(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    fn gate(keys: &[&PrivateKey], threshold: u32) -> InstallGate {
        let texts: Vec<String> = keys.iter().map(|key| key.public_key().to_text()).collect();
        InstallGate::new("verified", &texts, threshold, POLICY_SHA256, NOW).unwrap()
    }

    fn candidate(dir: &Path) -> Candidate<'_> {
        Candidate {
            name: "hello",
            version: "1.0",
            artifact_sha256: ARTIFACT_SHA256,
            file: Path::new("hello_1.0_all.deb"),
            attestation_dir: dir,
        }
    }

    fn refusal(result: Result<Vec<AdmittedAttestation>, GateError>) -> GateRefusal {
        match result {
            Err(GateError::Refused(refusal)) => *refusal,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn two_of_two_distinct_keys_admit_with_one_record_per_key() {
        let (a, b) = (key(1), key(2));
        let dir = tempfile::tempdir().unwrap();
        let first = envelope(&a, Verdict::Passed, footprint());
        write_envelope(dir.path(), "a.json", &first);
        write_envelope(
            dir.path(),
            "b.json",
            &envelope(&b, Verdict::Passed, footprint()),
        );
        let records = gate(&[&a, &b], 2)
            .admit(&candidate(dir.path()), &footprint())
            .unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(
            records[0],
            AdmittedAttestation {
                key_id: a.public_key().key_id(),
                envelope: first,
                verified_at: NOW,
            }
        );
        assert_eq!(records[1].key_id, b.public_key().key_id());
    }

    #[test]
    fn a_refusal_names_the_package_and_every_envelope() {
        let (a, b) = (key(1), key(2));
        let dir = tempfile::tempdir().unwrap();
        let counted = envelope(&a, Verdict::Passed, footprint());
        write_envelope(dir.path(), "a.json", &counted);
        write_envelope(dir.path(), "copy.json", &counted);
        // Attests less than the installer needs: does not cover.
        write_envelope(
            dir.path(),
            "small.json",
            &envelope(
                &b,
                Verdict::Passed,
                json!({"package": "hello", "paths": []}),
            ),
        );
        let refusal = refusal(gate(&[&a, &b], 2).admit(&candidate(dir.path()), &footprint()));
        let a_text = a.public_key().to_text();
        let dir = dir.path().display();
        assert_eq!(
            refusal.to_string(),
            format!(
                "refused `hello` 1.0 from repo `verified`: 1 of the 2 required distinct trusted verifier keys attest it (sha256 {ARTIFACT_SHA256})\n  - `{dir}/a.json`: counted (key `{a_text}`)\n  - `{dir}/copy.json`: ignored: signed only by keys already counted (`{a_text}`)\n  - `{dir}/small.json`: ignored: footprint does not cover what is being installed"
            )
        );
        assert_eq!(
            refusal.hint(),
            format!("nothing was changed; 2 verifier(s) of repo `verified` must each run `pkgward attest hello_1.0_all.deb` with this policy (digest {POLICY_SHA256}), or pass `--attestations DIR`")
        );
    }

    #[test]
    fn a_missing_directory_is_a_refusal_that_names_it() {
        let a = key(1);
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("hello_1.0_all.deb.att");
        let refusal = refusal(gate(&[&a], 1).admit(&candidate(&missing), &footprint()));
        assert!(
            refusal.to_string().ends_with(&format!(
                "0 of the 1 required distinct trusted verifier keys attest it (sha256 {ARTIFACT_SHA256})\n  no attestations in `{}`",
                missing.display()
            )),
            "{refusal}"
        );
    }

    #[test]
    fn a_failed_verdict_never_counts() {
        let a = key(1);
        let dir = tempfile::tempdir().unwrap();
        write_envelope(
            dir.path(),
            "a.json",
            &envelope(&a, Verdict::Failed, footprint()),
        );
        let refusal = refusal(gate(&[&a], 1).admit(&candidate(dir.path()), &footprint()));
        assert_eq!(refusal.report.distinct_keys(), 0);
        assert!(
            refusal.to_string().contains("ignored: verdict is FAILED"),
            "{refusal}"
        );
    }

    /// The configuration error of a gate for repo `verified` with `keys`.
    fn configuration_error(keys: &[String], threshold: u32) -> ConfigError {
        match InstallGate::new("verified", keys, threshold, POLICY_SHA256, NOW) {
            Err(GateError::Verifiers { repo, source }) => {
                assert_eq!(repo, "verified");
                source
            }
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    #[test]
    fn hex_and_base64_policy_keys_are_the_same_key() {
        let a = key(1);
        let hex_text = format!("ed25519:{}", hex::encode(a.public_key().to_bytes()));
        assert_eq!(base64_key_text(&hex_text), a.public_key().to_text());
        assert_eq!(
            base64_key_text(&a.public_key().to_text()),
            a.public_key().to_text()
        );
        // Listing one key in both forms is the duplicate it is.
        assert!(matches!(
            configuration_error(&[a.public_key().to_text(), hex_text], 1),
            ConfigError::DuplicateKey { .. }
        ));
        let error = InstallGate::new("verified", &[], 1, POLICY_SHA256, NOW).unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot use the verifiers of repo `verified`"
        );
    }

    #[test]
    fn an_invalid_key_or_threshold_is_a_configuration_error() {
        let a = key(1);
        assert!(matches!(
            configuration_error(&["ed25519:not-a-key".to_owned()], 1),
            ConfigError::Key { .. }
        ));
        assert_eq!(
            configuration_error(&[a.public_key().to_text()], 2),
            ConfigError::ThresholdAboveKeys {
                threshold: 2,
                keys: 1
            }
        );
    }
}
