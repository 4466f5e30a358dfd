//! `docs/attestations.md` shows a real envelope made by `pkgward attest` for
//! `examples/debs/pkgward-hello_1.0-1_all.deb`. Verify it, so the example
//! stays a true one.
#![allow(clippy::print_stderr)] // loud skips

use pkgward_attest::{check, EnvelopeInput, Expectation, Limits, PolicyRequirement, VerifierSet};
use sha2::{Digest as _, Sha256};
use std::path::Path;

const PUBLIC_KEY: &str = "ed25519:ZTM/XE3+obIgITlpCZAmyEHEoJY8I36VbhwfTumI7as=";
const POLICY_SHA256: &str = "32f2f7774b7929f7126cef7f5dbe04fad252e79f78b1b3555c1d77f8d2fc4811";

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
        eprintln!("SKIPPED: `{}` is missing", package.display());
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
