//! `docs/attestations.md` shows a real envelope made by `pkgward attest` for
//! `examples/debs/pkgward-hello_1.0-1_all.deb`. Verify it, so the example
//! stays a true one.
#![allow(clippy::print_stderr)] // loud skips

use pkgward_attest::{check, EnvelopeInput, Expectation, Limits, PolicyRequirement, VerifierSet};
use sha2::{Digest as _, Sha256};
use std::path::Path;

const PUBLIC_KEY: &str = "ed25519:tM6n7iVRadP5YNX1TxL6+mpry3A7DfUiDivgDX3oZ0Y=";
const POLICY_SHA256: &str = "4c97d13bee993564fdf1617a4dc80d5ac4436682af794e0e2180c6ed8dffa637";

#[test]
fn the_documented_envelope_verifies_against_the_example_package() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let doc = std::fs::read_to_string(repo.join("docs/attestations.md")).unwrap();
    assert!(doc.contains(PUBLIC_KEY) && doc.contains(POLICY_SHA256));
    let start = doc
        .find("<!-- example-envelope:begin -->\n```json\n")
        .unwrap();
    let block = &doc[start..];
    let body_start = block.find("```json\n").unwrap() + "```json\n".len();
    let body_end = block.find("\n```\n<!-- example-envelope:end -->").unwrap();
    let envelope = &block[body_start..body_end];

    let package = repo.join("examples/debs/pkgward-hello_1.0-1_all.deb");
    let Ok(bytes) = std::fs::read(&package) else {
        eprintln!("SKIP: `{}` is missing", package.display());
        return;
    };
    let verifiers =
        VerifierSet::from_texts(&[("ci-verifier-1".to_owned(), PUBLIC_KEY.to_owned())], 1).unwrap();
    let expectation = Expectation {
        artifact_sha256: hex::encode(Sha256::digest(&bytes)),
        policy: PolicyRequirement::OneOf(vec![POLICY_SHA256.to_owned()]),
        now_unix: 1_800_000_000,
        max_age_seconds: None,
    };
    let input = EnvelopeInput {
        source: "docs/attestations.md".to_owned(),
        bytes: envelope.as_bytes().to_vec(),
    };
    let accepted = check(
        &[input],
        &verifiers,
        &expectation,
        |_| true,
        &Limits::default(),
    )
    .unwrap_or_else(|refusal| panic!("{refusal}: {:?}", refusal.0.outcomes));
    let counted = accepted.0.counted().next().unwrap();
    assert_eq!(counted.verifier_id, "ci-verifier-1");
    assert_eq!(counted.footprint["package"], "pkgward-hello");
}
