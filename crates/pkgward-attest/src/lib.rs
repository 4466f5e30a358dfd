//! Attestations: ed25519 keys, DSSE envelopes, in-toto statements, k-of-n
//! threshold verification.
//!
//! A verifier runs `pkgward attest`: it computes a package's footprint and
//! verdict under a policy and signs an in-toto Statement v1 about the
//! artifact's sha256 ([`statement`]) inside a DSSE envelope ([`envelope`])
//! with an Ed25519 key ([`keys`]). An installer requires `threshold` of them
//! from distinct trusted keys ([`threshold::check`]); [`install_gate`] is
//! that requirement applied to one package being installed.
//!
//! Architecture invariant: this crate never writes files, reads no
//! environment and has no clock; the current time is an argument. It reads
//! envelope files only through [`discovery`], which bounds their size while
//! reading.

pub mod coverage;
pub mod discovery;
pub mod envelope;
pub mod install_gate;
pub mod keys;
pub mod statement;
pub mod strict_json;
pub mod threshold;
pub mod timestamp;

pub use envelope::{Limits, IN_TOTO_PAYLOAD_TYPE};
pub use keys::{KeyError, PrivateKey, PublicKey};
pub use statement::{FootprintPredicate, Statement, Verdict, PREDICATE_TYPE, STATEMENT_TYPE};
pub use threshold::{
    check, Accepted, ConfigError, EnvelopeInput, EnvelopeRefusal, Expectation, PolicyRequirement,
    Refusal, Report, TrustedKey, VerifierSet,
};

/// Sign `statement` with `key`: the DSSE envelope JSON for an in-toto
/// payload.
pub fn sign_statement(statement: &Statement, key: &PrivateKey) -> String {
    envelope::sign(IN_TOTO_PAYLOAD_TYPE, &statement.to_payload(), &[key])
}

/// The policy digest recorded in attestations and compared at install
/// (`predicate.policy.digest.sha256`).
///
/// With a policy file alone it is the plain sha256 of its bytes, so it can be
/// checked with `sha256sum`. With a grants file as well, both are framed so
/// that no two (policy, grants) pairs hash alike:
/// `sha256("pkgward-policy-digest-v1\n" || u64be(len policy) || policy ||
/// u64be(len grants) || grants)`.
pub fn policy_digest(policy: &[u8], grants: Option<&[u8]>) -> String {
    use sha2::{Digest as _, Sha256};
    let mut hasher = Sha256::new();
    match grants {
        None => hasher.update(policy),
        Some(grants) => {
            hasher.update(b"pkgward-policy-digest-v1\n");
            for part in [policy, grants] {
                hasher.update((part.len() as u64).to_be_bytes());
                hasher.update(part);
            }
        }
    }
    hex::encode(hasher.finalize())
}
