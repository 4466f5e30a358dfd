//! k-of-n verification: does a set of envelopes carry at least `threshold`
//! acceptable attestations from distinct trusted keys for these exact bytes?
//!
//! Architecture invariant: the count is a set of trusted key ids, never a
//! number of signatures, envelopes or keyid strings. Multi-signature
//! verifiers that counted signatures shipped threshold bypasses
//! (GHSA-pwqf-9h7j-7mv8 in tuf-js, GHSA-3633-5h82-39pq in go-tuf, the
//! tuf-conformance `test_duplicate_keys` case): one key signing twice, or one
//! signature listed under two keyids, counts once here because a signature is
//! attributed by trying it against the trusted keys, not by its `keyid`
//! hint. A trusted key listed twice (under two names or two encodings) is a
//! configuration error, and so are a threshold of 0 and a threshold larger
//! than the number of distinct keys: nothing verifies vacuously
//! (GHSA-fphv-w9fq-2525 in go-tuf).
//!
//! For each envelope, in order: size/count limits and strict parsing, the
//! payload type, the signatures against the trusted keys, and only then the
//! statement: its type, predicate type, subject digest (sha256 of the exact
//! artifact bytes), policy digest, verdict, age, and whether the footprint
//! covers what the caller is about to do. Every envelope that does not count
//! gets a typed [`EnvelopeRefusal`].

use crate::envelope::{EnvelopeError, Limits, UnverifiedEnvelope, IN_TOTO_PAYLOAD_TYPE};
use crate::keys::{KeyError, PublicKey};
use crate::statement::{Statement, StatementError, Verdict};
use crate::timestamp;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeSet;
use std::fmt;

/// How far in the future `timeVerified` may lie (clock skew between the
/// verifier and the installer).
pub const ALLOWED_CLOCK_SKEW_SECONDS: i64 = 300;

/// A key trusted to attest, with the name the configuration gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    pub identity: String,
    pub key: PublicKey,
}

/// A validated trust configuration: distinct keys and 1 ≤ threshold ≤ n.
#[derive(Debug, Clone)]
pub struct VerifierSet {
    keys: Vec<TrustedKey>,
    threshold: usize,
}

/// Why a trust configuration is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("verifier key `{identity}` is invalid")]
    Key {
        identity: String,
        #[source]
        source: KeyError,
    },
    #[error("no verifier keys are configured")]
    NoKeys,
    #[error("verifier threshold is 0, which would accept packages with no attestation")]
    ZeroThreshold,
    #[error("verifier threshold {threshold} is larger than the {keys} distinct trusted keys")]
    ThresholdAboveKeys { threshold: usize, keys: usize },
    #[error("verifier keys `{first}` and `{second}` are the same key (key id {key_id})")]
    DuplicateKey {
        first: String,
        second: String,
        key_id: String,
    },
}

impl VerifierSet {
    /// Validate keys and threshold.
    pub fn new(keys: Vec<TrustedKey>, threshold: usize) -> Result<Self, ConfigError> {
        if keys.is_empty() {
            return Err(ConfigError::NoKeys);
        }
        for (index, later) in keys.iter().enumerate() {
            if let Some(earlier) = keys[..index]
                .iter()
                .find(|earlier| earlier.key == later.key)
            {
                return Err(ConfigError::DuplicateKey {
                    first: earlier.identity.clone(),
                    second: later.identity.clone(),
                    key_id: later.key.key_id(),
                });
            }
        }
        if threshold == 0 {
            return Err(ConfigError::ZeroThreshold);
        }
        if threshold > keys.len() {
            return Err(ConfigError::ThresholdAboveKeys {
                threshold,
                keys: keys.len(),
            });
        }
        Ok(Self { keys, threshold })
    }

    /// Parse `(identity, key text)` pairs (`ed25519:<base64>` or PEM) and
    /// validate.
    pub fn from_texts(entries: &[(String, String)], threshold: usize) -> Result<Self, ConfigError> {
        let keys = entries
            .iter()
            .map(|(identity, text)| {
                PublicKey::parse(text)
                    .map(|key| TrustedKey {
                        identity: identity.clone(),
                        key,
                    })
                    .map_err(|source| ConfigError::Key {
                        identity: identity.clone(),
                        source,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(keys, threshold)
    }

    pub fn threshold(&self) -> usize {
        self.threshold
    }

    pub fn keys(&self) -> &[TrustedKey] {
        &self.keys
    }
}

/// Which policy digests an attestation may name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyRequirement {
    /// Not checked (the `verify-attestation` command without
    /// `--policy-digest`). The install check always passes `OneOf`.
    Any,
    /// sha256 hex digests of the configured policy and any listed accepted
    /// ones.
    OneOf(Vec<String>),
}

/// What the attestations must say.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// sha256 (hex) of the exact artifact bytes.
    pub artifact_sha256: String,
    pub policy: PolicyRequirement,
    /// The current time, seconds since the epoch.
    pub now_unix: i64,
    /// Freshness window: attestations verified longer ago than this are
    /// stale (THREATS 65). `None`: no window.
    pub max_age_seconds: Option<u64>,
}

/// One envelope to consider: a label for messages (file name) and its bytes.
#[derive(Debug, Clone)]
pub struct EnvelopeInput {
    pub source: String,
    pub bytes: Vec<u8>,
}

/// Why one envelope did not count.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeRefusal {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error("payload type is `{found}`, expected `{IN_TOTO_PAYLOAD_TYPE}`")]
    WrongPayloadType { found: String },
    #[error("none of its {signatures} signature(s) verifies under a trusted key")]
    NoTrustedSignature { signatures: usize },
    #[error(transparent)]
    Statement(#[from] StatementError),
    #[error("no subject has sha256 `{expected}` (subject digests: {found})")]
    SubjectMismatch { expected: String, found: String },
    #[error("policy digest `{found}` is not an accepted policy ({accepted})")]
    PolicyMismatch { found: String, accepted: String },
    #[error("verdict is FAILED (verifier `{verifier_id}`)")]
    VerdictFailed { verifier_id: String },
    #[error("verified at {time_verified}, older than the freshness window of {max_age_seconds} s")]
    Stale {
        time_verified: String,
        max_age_seconds: u64,
    },
    #[error("verified at {time_verified}, which is in the future")]
    FromTheFuture { time_verified: String },
    #[error("footprint does not cover what is being installed")]
    FootprintNotCovered,
    #[error("signed only by keys already counted ({identities})")]
    KeysAlreadyCounted { identities: String },
}

/// An attestation that counted, with what the database should record.
#[derive(Debug, Clone, PartialEq)]
pub struct CountedAttestation {
    pub source: String,
    /// sha256 of the envelope bytes.
    pub envelope_sha256: String,
    /// The trusted keys credited by this envelope (usually one).
    pub keys: Vec<TrustedKey>,
    pub verifier_id: String,
    pub policy_sha256: String,
    pub time_verified: i64,
    pub footprint: Value,
}

/// What happened to one envelope.
#[derive(Debug, Clone)]
pub struct EnvelopeOutcome {
    pub source: String,
    pub result: Result<CountedAttestation, EnvelopeRefusal>,
}

/// The whole evaluation, for display and the database.
#[derive(Debug, Clone)]
pub struct Report {
    pub threshold: usize,
    pub outcomes: Vec<EnvelopeOutcome>,
}

impl Report {
    /// Distinct trusted key ids credited.
    pub fn distinct_keys(&self) -> usize {
        self.counted().map(|counted| counted.keys.len()).sum()
    }

    /// Envelopes from trusted keys, about these exact bytes and an accepted
    /// policy, whose verdict is FAILED. They never count; a caller may also
    /// treat them as a veto (THREATS 64).
    pub fn failed_verdicts(&self) -> impl Iterator<Item = &EnvelopeOutcome> {
        self.outcomes
            .iter()
            .filter(|outcome| matches!(outcome.result, Err(EnvelopeRefusal::VerdictFailed { .. })))
    }

    /// The attestations that counted.
    pub fn counted(&self) -> impl Iterator<Item = &CountedAttestation> {
        self.outcomes
            .iter()
            .filter_map(|outcome| outcome.result.as_ref().ok())
    }
}

/// The threshold was met.
#[derive(Debug, Clone)]
pub struct Accepted(pub Report);

/// The threshold was not met; the report says why each envelope did not count.
#[derive(Debug, Clone, thiserror::Error)]
pub struct Refusal(pub Report);

impl fmt::Display for Refusal {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = &self.0;
        write!(
            formatter,
            "only {} of the {} required distinct trusted verifier keys attest this artifact ({} envelope(s) considered)",
            report.distinct_keys(),
            report.threshold,
            report.outcomes.len()
        )
    }
}

/// Evaluate `envelopes` against `verifiers` and `expectation`. `covers`
/// decides whether an attested footprint (JSON, as `pkgward-policy`
/// serialises it) covers what the caller is about to do; the CLI's
/// `verify-attestation` has no plan and passes `|_| true`.
pub fn check(
    envelopes: &[EnvelopeInput],
    verifiers: &VerifierSet,
    expectation: &Expectation,
    covers: impl Fn(&Value) -> bool,
    limits: &Limits,
) -> Result<Accepted, Refusal> {
    let mut credited: BTreeSet<[u8; 32]> = BTreeSet::new();
    let mut outcomes = Vec::with_capacity(envelopes.len());
    for input in envelopes {
        let result =
            evaluate_one(input, verifiers, expectation, &covers, limits).and_then(|mut counted| {
                let already: Vec<String> = counted
                    .keys
                    .iter()
                    .filter(|trusted| credited.contains(&trusted.key.to_bytes()))
                    .map(|trusted| format!("`{}`", trusted.identity))
                    .collect();
                counted
                    .keys
                    .retain(|trusted| !credited.contains(&trusted.key.to_bytes()));
                if counted.keys.is_empty() {
                    return Err(EnvelopeRefusal::KeysAlreadyCounted {
                        identities: already.join(", "),
                    });
                }
                credited.extend(counted.keys.iter().map(|trusted| trusted.key.to_bytes()));
                Ok(counted)
            });
        outcomes.push(EnvelopeOutcome {
            source: input.source.clone(),
            result,
        });
    }
    let report = Report {
        threshold: verifiers.threshold,
        outcomes,
    };
    debug_assert_eq!(report.distinct_keys(), credited.len());
    if credited.len() >= verifiers.threshold {
        Ok(Accepted(report))
    } else {
        Err(Refusal(report))
    }
}

fn evaluate_one(
    input: &EnvelopeInput,
    verifiers: &VerifierSet,
    expectation: &Expectation,
    covers: &impl Fn(&Value) -> bool,
    limits: &Limits,
) -> Result<CountedAttestation, EnvelopeRefusal> {
    let envelope = UnverifiedEnvelope::parse(&input.bytes, limits)?;
    // payloadType is covered by the signature (it is part of the PAE), so
    // comparing it first only refuses earlier; it is never trusted.
    if envelope.payload_type() != IN_TOTO_PAYLOAD_TYPE {
        return Err(EnvelopeRefusal::WrongPayloadType {
            found: envelope.payload_type().to_owned(),
        });
    }
    let public_keys: Vec<PublicKey> = verifiers
        .keys
        .iter()
        .map(|trusted| trusted.key.clone())
        .collect();
    let Some((signer_indices, payload)) = envelope.verify_against(&public_keys) else {
        return Err(EnvelopeRefusal::NoTrustedSignature {
            signatures: envelope.signatures().len(),
        });
    };
    let signing_keys: Vec<TrustedKey> = signer_indices
        .into_iter()
        .map(|index| verifiers.keys[index].clone())
        .collect();
    // From here on the payload is authenticated.
    let statement = Statement::parse(payload)?;
    if !statement.names_sha256(&expectation.artifact_sha256) {
        return Err(EnvelopeRefusal::SubjectMismatch {
            expected: expectation.artifact_sha256.to_ascii_lowercase(),
            found: describe_subject_digests(&statement),
        });
    }
    let predicate = statement.predicate;
    if let PolicyRequirement::OneOf(accepted) = &expectation.policy {
        if !accepted
            .iter()
            .any(|digest| digest.eq_ignore_ascii_case(&predicate.policy_sha256))
        {
            return Err(EnvelopeRefusal::PolicyMismatch {
                found: predicate.policy_sha256,
                accepted: accepted
                    .iter()
                    .map(|digest| format!("`{digest}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    if predicate.verdict == Verdict::Failed {
        return Err(EnvelopeRefusal::VerdictFailed {
            verifier_id: predicate.verifier_id,
        });
    }
    if predicate.time_verified
        > expectation
            .now_unix
            .saturating_add(ALLOWED_CLOCK_SKEW_SECONDS)
    {
        return Err(EnvelopeRefusal::FromTheFuture {
            time_verified: timestamp::format_rfc3339(predicate.time_verified),
        });
    }
    if let Some(max_age_seconds) = expectation.max_age_seconds {
        let age = expectation.now_unix.saturating_sub(predicate.time_verified);
        if u64::try_from(age).is_ok_and(|age| age > max_age_seconds) {
            return Err(EnvelopeRefusal::Stale {
                time_verified: timestamp::format_rfc3339(predicate.time_verified),
                max_age_seconds,
            });
        }
    }
    if !covers(&predicate.footprint) {
        return Err(EnvelopeRefusal::FootprintNotCovered);
    }
    Ok(CountedAttestation {
        source: input.source.clone(),
        envelope_sha256: hex::encode(Sha256::digest(&input.bytes)),
        keys: signing_keys,
        verifier_id: predicate.verifier_id,
        policy_sha256: predicate.policy_sha256,
        time_verified: predicate.time_verified,
        footprint: predicate.footprint,
    })
}

fn describe_subject_digests(statement: &Statement) -> String {
    let described: Vec<String> = statement
        .subjects
        .iter()
        .map(|subject| {
            let digests: Vec<String> = subject
                .digests
                .iter()
                .map(|(algorithm, digest)| format!("{algorithm}:{digest}"))
                .collect();
            format!("`{}` {}", subject.name, digests.join(" "))
        })
        .collect();
    described.join("; ")
}
