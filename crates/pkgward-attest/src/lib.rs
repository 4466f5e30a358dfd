//! Attestations: ed25519 keys, DSSE envelopes, in-toto statements, k-of-n
//! threshold verification.
//!
//! A verifier runs `pkgward attest`: it computes a package's footprint and
//! verdict under a policy and signs an in-toto Statement v1 about the
//! artifact's sha256 ([`statement`]) inside a DSSE envelope ([`envelope`])
//! with an Ed25519 key ([`keys`]). An installer requires `threshold` of them
//! from distinct trusted keys ([`threshold::check`]).
//!
//! Architecture invariant: this crate never writes files, reads no
//! environment and has no clock; the current time is an argument. It reads
//! envelope files only through [`discovery`], which bounds their size while
//! reading.

pub mod discovery;
pub mod envelope;
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
    Refusal, TrustedKey, VerifierSet,
};

/// Sign `statement` with `key`: the DSSE envelope JSON for an in-toto
/// payload.
pub fn sign_statement(statement: &Statement, key: &PrivateKey) -> String {
    envelope::sign(IN_TOTO_PAYLOAD_TYPE, &statement.to_payload(), &[key])
}
