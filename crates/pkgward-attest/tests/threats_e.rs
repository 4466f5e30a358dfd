//! THREATS.md section E (signature / attestation), cases 58–69: each case
//! builds real Ed25519-signed DSSE envelopes and asserts the specific
//! refusal. Rollback of installed versions (65, first half) is the engine's;
//! the freshness half is here.

use base64::Engine as _;
use pkgward_attest::envelope::{self, EnvelopeError, Limits, UnverifiedEnvelope};
use pkgward_attest::statement::StatementError;
use pkgward_attest::{
    check, sign_statement, ConfigError, EnvelopeInput, EnvelopeRefusal, Expectation,
    FootprintPredicate, KeyError, PolicyRequirement, PrivateKey, PublicKey, Refusal, Statement,
    TrustedKey, Verdict, VerifierSet, IN_TOTO_PAYLOAD_TYPE,
};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

const NOW: i64 = 1_800_000_000;
const ARTIFACT: &[u8] = b"!<arch>\npretend this is hello_1.0_amd64.deb\n";
const POLICY_SHA256: &str = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn key(seed: u8) -> PrivateKey {
    PrivateKey::from_seed(&[seed; 32])
}

fn predicate(verdict: Verdict, time_verified: i64) -> FootprintPredicate {
    FootprintPredicate {
        verifier_id: "test-verifier".to_owned(),
        policy_sha256: POLICY_SHA256.to_owned(),
        footprint: json!({"files": ["/usr/bin/hello"], "scripts": []}),
        verdict,
        time_verified,
        pkgward_version: "0.1.0".to_owned(),
    }
}

fn passing_statement() -> Statement {
    Statement::for_artifact(
        "hello_1.0_amd64.deb",
        &sha256_hex(ARTIFACT),
        predicate(Verdict::Passed, NOW - 60),
    )
}

fn input(name: &str, text: impl Into<Vec<u8>>) -> EnvelopeInput {
    EnvelopeInput {
        source: name.to_owned(),
        bytes: text.into(),
    }
}

fn signed(name: &str, statement: &Statement, signer: &PrivateKey) -> EnvelopeInput {
    input(name, sign_statement(statement, signer))
}

fn trusted(keys: &[(&str, &PrivateKey)], threshold: usize) -> VerifierSet {
    VerifierSet::new(
        keys.iter()
            .map(|(identity, private)| TrustedKey {
                identity: (*identity).to_owned(),
                key: private.public_key(),
            })
            .collect(),
        threshold,
    )
    .unwrap()
}

fn expectation() -> Expectation {
    Expectation {
        artifact_sha256: sha256_hex(ARTIFACT),
        policy: PolicyRequirement::OneOf(vec![POLICY_SHA256.to_owned()]),
        now_unix: NOW,
        max_age_seconds: Some(30 * 86_400),
    }
}

fn run(envelopes: &[EnvelopeInput], verifiers: &VerifierSet) -> Result<usize, Refusal> {
    check(
        envelopes,
        verifiers,
        &expectation(),
        |_| true,
        &Limits::default(),
    )
    .map(|accepted| accepted.0.distinct_keys())
}

/// The refusal of the only envelope, under a 1-of-1 trust of key 1.
fn sole_refusal(envelope: EnvelopeInput) -> EnvelopeRefusal {
    let signer = key(1);
    let refusal = run(&[envelope], &trusted(&[("a", &signer)], 1)).unwrap_err();
    refusal.0.outcomes[0].result.clone().unwrap_err()
}

/// Re-serialise an envelope with edits to its JSON.
fn edit_envelope(envelope: &EnvelopeInput, edit: impl FnOnce(&mut Value)) -> EnvelopeInput {
    let mut value: Value = serde_json::from_slice(&envelope.bytes).unwrap();
    edit(&mut value);
    input(&envelope.source, serde_json::to_vec(&value).unwrap())
}

/// Sign arbitrary payload bytes under an arbitrary type.
fn sign_raw(payload_type: &str, payload: &[u8], signer: &PrivateKey) -> EnvelopeInput {
    input("raw.json", envelope::sign(payload_type, payload, &[signer]))
}

#[test]
fn baseline_two_of_three_distinct_keys_accept() {
    let (a, b, c) = (key(1), key(2), key(3));
    let verifiers = trusted(&[("a", &a), ("b", &b), ("c", &c)], 2);
    let statement = passing_statement();
    let envelopes = [
        signed("a.json", &statement, &a),
        signed("b.json", &statement, &b),
    ];
    assert_eq!(run(&envelopes, &verifiers).unwrap(), 2);
    // One of them alone is not enough.
    let refusal = run(&envelopes[..1], &verifiers).unwrap_err();
    assert_eq!(refusal.0.distinct_keys(), 1);
    assert_eq!(
        refusal.to_string(),
        "only 1 of the 2 required distinct trusted verifier keys attest this artifact (1 envelope(s) considered)"
    );
}

#[test]
fn one_envelope_signed_by_two_trusted_keys_counts_both() {
    let (a, b, c) = (key(1), key(2), key(3));
    let verifiers = trusted(&[("a", &a), ("b", &b), ("c", &c)], 2);
    let envelope = input(
        "ab.json",
        envelope::sign(
            IN_TOTO_PAYLOAD_TYPE,
            &passing_statement().to_payload(),
            &[&a, &b],
        ),
    );
    assert_eq!(run(&[envelope], &verifiers).unwrap(), 2);
}

// 58. Threshold by duplication.
#[test]
fn case_58_duplicate_signature_by_one_key_counts_once() {
    let (a, b, c) = (key(1), key(2), key(3));
    let verifiers = trusted(&[("a", &a), ("b", &b), ("c", &c)], 2);
    let single = signed("a.json", &passing_statement(), &a);
    let doubled = edit_envelope(&single, |value| {
        let signature = value["signatures"][0].clone();
        value["signatures"].as_array_mut().unwrap().push(signature);
    });
    let refusal = run(&[doubled], &verifiers).unwrap_err();
    assert_eq!(refusal.0.distinct_keys(), 1);

    // The same envelope offered twice: the second adds nothing.
    let refusal = run(&[single.clone(), single], &verifiers).unwrap_err();
    assert_eq!(refusal.0.distinct_keys(), 1);
    assert_eq!(
        refusal.0.outcomes[1].result.clone().unwrap_err(),
        EnvelopeRefusal::KeysAlreadyCounted {
            identities: "`a`".to_owned()
        }
    );
}

#[test]
fn case_58_same_signature_under_another_keyid_counts_once() {
    let (a, b, c) = (key(1), key(2), key(3));
    let verifiers = trusted(&[("a", &a), ("b", &b), ("c", &c)], 2);
    let envelope = signed("a.json", &passing_statement(), &a);
    let relabelled = edit_envelope(&envelope, |value| {
        let mut signature = value["signatures"][0].clone();
        signature["keyid"] = json!(b.public_key().key_id());
        value["signatures"].as_array_mut().unwrap().push(signature);
    });
    let refusal = run(std::slice::from_ref(&relabelled), &verifiers).unwrap_err();
    assert_eq!(refusal.0.distinct_keys(), 1);
    let counted = refusal.0.outcomes[0].result.clone().unwrap();
    assert_eq!(counted.keys.len(), 1);
    assert_eq!(counted.keys[0].identity, "a");
    // And as a separate envelope claiming to be b's.
    let only_b_keyid = edit_envelope(&envelope, |value| {
        value["signatures"][0]["keyid"] = json!(b.public_key().key_id());
    });
    let refusal = run(&[envelope, only_b_keyid], &verifiers).unwrap_err();
    assert_eq!(refusal.0.distinct_keys(), 1);
}

#[test]
fn case_58_same_key_under_two_identities_is_a_config_error() {
    let a = key(1);
    let error = VerifierSet::new(
        vec![
            TrustedKey {
                identity: "alice".to_owned(),
                key: a.public_key(),
            },
            TrustedKey {
                identity: "also-alice".to_owned(),
                key: a.public_key(),
            },
            TrustedKey {
                identity: "bob".to_owned(),
                key: key(2).public_key(),
            },
        ],
        2,
    )
    .unwrap_err();
    assert_eq!(
        error,
        ConfigError::DuplicateKey {
            first: "alice".to_owned(),
            second: "also-alice".to_owned(),
            key_id: a.public_key().key_id(),
        }
    );
}

// 59. Same key, different encodings.
#[test]
fn case_59_raw_and_pem_encodings_of_one_key_are_one_identity() {
    let a = key(1);
    let raw = a.public_key().to_text();
    let pem = a.public_key().to_spki_pem();
    assert!(raw.starts_with("ed25519:") && pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    assert_eq!(
        PublicKey::parse(&raw).unwrap().key_id(),
        PublicKey::parse(&pem).unwrap().key_id()
    );
    let error = VerifierSet::from_texts(
        &[
            ("raw".to_owned(), raw),
            ("pem".to_owned(), pem),
            ("b".to_owned(), key(2).public_key().to_text()),
        ],
        2,
    )
    .unwrap_err();
    assert!(
        matches!(&error, ConfigError::DuplicateKey { first, second, .. } if first == "raw" && second == "pem"),
        "{error:?}"
    );
}

#[test]
fn case_59_non_canonical_point_encodings_are_rejected() {
    // Encodings with y ≥ p name the same point as y - p. Try every such y
    // (p .. 2^255-1, both sign bits): none may parse as a key.
    let mut found_decompressible = 0;
    for offset in 0u8..19 {
        for sign in [0u8, 0x80] {
            let mut bytes = [0xffu8; 32];
            bytes[0] = 0xed + offset; // p = 2^255 - 19: low byte 0xed
            bytes[31] = 0x7f | sign;
            if ed25519_dalek::VerifyingKey::from_bytes(&bytes).is_ok() {
                found_decompressible += 1;
                assert_eq!(
                    PublicKey::from_raw_bytes(&bytes, "k"),
                    Err(KeyError::NonCanonical("k".to_owned()))
                );
            }
            let result = PublicKey::from_raw_bytes(&bytes, "k");
            assert!(
                matches!(
                    result,
                    Err(KeyError::NonCanonical(_)
                        | KeyError::NotOnCurve(_)
                        | KeyError::SmallOrder(_))
                ),
                "offset {offset} sign {sign}: {result:?}"
            );
        }
    }
    // curve25519-dalek decompresses some of them (it reduces y mod p), which
    // is exactly why the explicit check exists.
    assert!(found_decompressible > 0);
}

// 60. Threshold 0 / k > n / empty.
#[test]
fn case_60_threshold_zero_above_n_and_empty_are_config_errors() {
    let (a, b) = (key(1), key(2));
    let keys = vec![
        TrustedKey {
            identity: "a".to_owned(),
            key: a.public_key(),
        },
        TrustedKey {
            identity: "b".to_owned(),
            key: b.public_key(),
        },
    ];
    assert_eq!(
        VerifierSet::new(keys.clone(), 0).unwrap_err(),
        ConfigError::ZeroThreshold
    );
    assert_eq!(
        VerifierSet::new(keys.clone(), 3).unwrap_err(),
        ConfigError::ThresholdAboveKeys {
            threshold: 3,
            keys: 2
        }
    );
    assert_eq!(
        VerifierSet::new(Vec::new(), 1).unwrap_err(),
        ConfigError::NoKeys
    );
    assert_eq!(
        VerifierSet::new(Vec::new(), 0).unwrap_err(),
        ConfigError::NoKeys
    );
    assert!(VerifierSet::new(keys, 2).is_ok());
}

// 61. Type confusion.
#[test]
fn case_61_payload_type_confusion_is_refused() {
    let a = key(1);
    let payload = passing_statement().to_payload();
    for payload_type in [
        "application/json",
        "application/vnd.in-toto+json ",
        "APPLICATION/VND.IN-TOTO+JSON",
        "application/vnd.dev.sigstore.bundle+json",
        "",
    ] {
        assert_eq!(
            sole_refusal(sign_raw(payload_type, &payload, &a)),
            EnvelopeRefusal::WrongPayloadType {
                found: payload_type.to_owned()
            }
        );
    }
    // Relabelling a correctly signed envelope breaks the signature instead.
    let relabelled = edit_envelope(&sign_raw("application/json", &payload, &a), |value| {
        value["payloadType"] = json!(IN_TOTO_PAYLOAD_TYPE);
    });
    assert_eq!(
        sole_refusal(relabelled),
        EnvelopeRefusal::NoTrustedSignature { signatures: 1 }
    );
}

#[test]
fn case_61_wrong_predicate_or_statement_type_is_refused() {
    let a = key(1);
    let mut value = passing_statement().to_json();
    value["predicateType"] = json!("https://slsa.dev/verification_summary/v1");
    assert_eq!(
        sole_refusal(sign_raw(
            IN_TOTO_PAYLOAD_TYPE,
            &serde_json::to_vec(&value).unwrap(),
            &a
        )),
        EnvelopeRefusal::Statement(StatementError::WrongPredicateType(
            "https://slsa.dev/verification_summary/v1".to_owned()
        ))
    );
    let mut value = passing_statement().to_json();
    value["_type"] = json!("https://in-toto.io/Statement/v0.1");
    assert_eq!(
        sole_refusal(sign_raw(
            IN_TOTO_PAYLOAD_TYPE,
            &serde_json::to_vec(&value).unwrap(),
            &a
        )),
        EnvelopeRefusal::Statement(StatementError::WrongStatementType(
            "https://in-toto.io/Statement/v0.1".to_owned()
        ))
    );
}

// 62. PAE edge cases and base64 variants.
#[test]
fn case_62_pae_is_byte_exact() {
    assert_eq!(
        envelope::pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    );
    // Multi-byte UTF-8: LEN counts bytes ("ü" is 2 bytes, 9 chars → 10 bytes).
    assert_eq!(
        envelope::pae("tÿpe/über", b"x"),
        "DSSEv1 11 tÿpe/über 1 x".as_bytes()
    );
    assert_eq!(envelope::pae("", b""), b"DSSEv1 0  0 ");
    // A payload containing length-like sequences cannot shift the framing:
    // these two (type, payload) pairs differ and so do their encodings.
    assert_ne!(envelope::pae("a 1 b", b"c"), envelope::pae("a", b"b 1 c"));
    assert_eq!(envelope::pae("t", b" 5 "), b"DSSEv1 1 t 3  5 ");
}

#[test]
fn case_62_signature_over_a_multibyte_type_verifies_only_with_byte_lengths() {
    let a = key(1);
    let payload_type = "application/vnd.in-toto+json\u{1F512}";
    let envelope = UnverifiedEnvelope::parse(
        envelope::sign(payload_type, b"{}", &[&a]).as_bytes(),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(
        envelope.payload_verified_by(&a.public_key()),
        Some(&b"{}"[..])
    );
    // A character-counting PAE (LEN = 29 instead of 32) would not verify.
    let character_count = format!(
        "DSSEv1 {} {payload_type} 2 {{}}",
        payload_type.chars().count()
    );
    assert!(!a
        .public_key()
        .verify_strict(character_count.as_bytes(), &envelope.signatures()[0].sig));
}

#[test]
fn case_62_both_base64_alphabets_and_padding_variants_are_accepted() {
    let a = key(1);
    let envelope = signed("a.json", &passing_statement(), &a);
    let to_url_safe_unpadded = |text: &str| -> String {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    };
    let url_safe = edit_envelope(&envelope, |value| {
        value["payload"] = json!(to_url_safe_unpadded(value["payload"].as_str().unwrap()));
        let sig = value["signatures"][0]["sig"].as_str().unwrap().to_owned();
        value["signatures"][0]["sig"] = json!(to_url_safe_unpadded(&sig));
    });
    let verifiers = trusted(&[("a", &a)], 1);
    assert_eq!(run(&[url_safe], &verifiers).unwrap(), 1);
}

#[test]
fn case_62_malformed_base64_is_rejected() {
    let a = key(1);
    let envelope = signed("a.json", &passing_statement(), &a);
    for (field, broken) in [
        ("payload", "eyJf dHlwZSI6"),
        ("payload", "eyJf\ndHlwZSI6"),
        ("payload", "e+J_"),
        ("payload", "e==="),
        ("payload", "%%%%"),
    ] {
        let edited = edit_envelope(&envelope, |value| value[field] = json!(broken));
        let refusal = sole_refusal(edited);
        assert!(
            matches!(
                refusal,
                EnvelopeRefusal::Envelope(EnvelopeError::Base64 {
                    field: "payload",
                    ..
                })
            ),
            "{broken:?}: {refusal:?}"
        );
    }
    let edited = edit_envelope(&envelope, |value| {
        value["signatures"][0]["sig"] = json!("not base64!");
    });
    assert!(matches!(
        sole_refusal(edited),
        EnvelopeRefusal::Envelope(EnvelopeError::Base64 {
            field: "signatures[].sig",
            ..
        })
    ));
}

// 63. Subject mismatch / mix-and-match.
#[test]
fn case_63_subject_digest_must_be_the_sha256_of_these_bytes() {
    let a = key(1);
    let other_version = Statement::for_artifact(
        "hello_1.1_amd64.deb",
        &sha256_hex(b"hello 1.1"),
        predicate(Verdict::Passed, NOW),
    );
    assert!(matches!(
        sole_refusal(signed("a.json", &other_version, &a)),
        EnvelopeRefusal::SubjectMismatch { .. }
    ));
    // Right name, but named by sha512 only.
    let mut sha512_only = passing_statement();
    sha512_only.subjects[0].digests.clear();
    sha512_only.subjects[0].digests.insert(
        "sha512".to_owned(),
        hex::encode(sha2::Sha512::digest(ARTIFACT)),
    );
    let refusal = sole_refusal(signed("a.json", &sha512_only, &a));
    assert!(
        matches!(&refusal, EnvelopeRefusal::SubjectMismatch { found, .. } if found.contains("sha512:")),
        "{refusal:?}"
    );
    // A digest under an algorithm name other than exactly `sha256`.
    let mut mislabelled = passing_statement();
    let digest = mislabelled.subjects[0].digests.remove("sha256").unwrap();
    mislabelled.subjects[0]
        .digests
        .insert("SHA256".to_owned(), digest);
    assert!(matches!(
        sole_refusal(signed("a.json", &mislabelled, &a)),
        EnvelopeRefusal::SubjectMismatch { .. }
    ));
}

#[test]
fn case_63_mix_and_match_counts_only_matching_subjects() {
    let (a, b, c) = (key(1), key(2), key(3));
    let verifiers = trusted(&[("a", &a), ("b", &b), ("c", &c)], 2);
    let other_arch = Statement::for_artifact(
        "hello_1.0_arm64.deb",
        &sha256_hex(b"the arm64 build"),
        predicate(Verdict::Passed, NOW),
    );
    let refusal = run(
        &[
            signed("a.json", &passing_statement(), &a),
            signed("b.json", &other_arch, &b),
        ],
        &verifiers,
    )
    .unwrap_err();
    assert_eq!(refusal.0.distinct_keys(), 1);
    assert!(matches!(
        refusal.0.outcomes[1].result,
        Err(EnvelopeRefusal::SubjectMismatch { .. })
    ));
}

// 64. Verdict FAILED.
#[test]
fn case_64_failed_verdict_does_not_count() {
    let a = key(1);
    let failed = Statement::for_artifact(
        "hello_1.0_amd64.deb",
        &sha256_hex(ARTIFACT),
        predicate(Verdict::Failed, NOW),
    );
    assert_eq!(
        sole_refusal(signed("a.json", &failed, &a)),
        EnvelopeRefusal::VerdictFailed {
            verifier_id: "test-verifier".to_owned()
        }
    );
    // One PASSED and one FAILED from two trusted keys at k=1: accepted on
    // the count, and the FAILED one is reported for callers that veto.
    let b = key(2);
    let accepted = check(
        &[
            signed("a.json", &passing_statement(), &a),
            signed("b.json", &failed, &b),
        ],
        &trusted(&[("a", &a), ("b", &b)], 1),
        &expectation(),
        |_| true,
        &Limits::default(),
    )
    .unwrap();
    let failed: Vec<&str> = accepted
        .0
        .failed_verdicts()
        .map(|outcome| outcome.source.as_str())
        .collect();
    assert_eq!(failed, ["b.json"]);
}

#[test]
fn policy_digest_must_be_accepted() {
    let a = key(1);
    let mut other_policy = passing_statement();
    other_policy.predicate.policy_sha256 = "00".repeat(32);
    assert!(matches!(
        sole_refusal(signed("a.json", &other_policy, &a)),
        EnvelopeRefusal::PolicyMismatch { .. }
    ));
}

#[test]
fn footprint_must_cover_the_plan() {
    let a = key(1);
    let verifiers = trusted(&[("a", &a)], 1);
    let envelopes = [signed("a.json", &passing_statement(), &a)];
    let covers_setuid =
        |footprint: &Value| footprint["files"] == json!(["/usr/bin/hello", "/usr/bin/su"]);
    let refusal = check(
        &envelopes,
        &verifiers,
        &expectation(),
        covers_setuid,
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(
        refusal.0.outcomes[0].result.clone().unwrap_err(),
        EnvelopeRefusal::FootprintNotCovered
    );
}

// 65. Freshness (rollback of installed versions is checked by the engine).
#[test]
fn case_65_stale_and_future_attestations_are_refused() {
    let a = key(1);
    let stale = Statement::for_artifact(
        "hello_1.0_amd64.deb",
        &sha256_hex(ARTIFACT),
        predicate(Verdict::Passed, NOW - 31 * 86_400),
    );
    assert!(matches!(
        sole_refusal(signed("a.json", &stale, &a)),
        EnvelopeRefusal::Stale {
            max_age_seconds: 2_592_000,
            ..
        }
    ));
    let future = Statement::for_artifact(
        "hello_1.0_amd64.deb",
        &sha256_hex(ARTIFACT),
        predicate(Verdict::Passed, NOW + 3600),
    );
    assert!(matches!(
        sole_refusal(signed("a.json", &future, &a)),
        EnvelopeRefusal::FromTheFuture { .. }
    ));
}

// 66. Unknown / weak keys, non-canonical signatures.
#[test]
fn case_66_unknown_key_does_not_count() {
    let stranger = key(99);
    assert_eq!(
        sole_refusal(signed("x.json", &passing_statement(), &stranger)),
        EnvelopeRefusal::NoTrustedSignature { signatures: 1 }
    );
}

#[test]
fn case_66_small_order_key_with_universal_forgery_is_rejected() {
    // A = identity point, signature (R = identity, S = 0): cofactorless
    // `verify` accepts it for every message; the key must never be trusted
    // and `verify_strict` refuses it.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut forged = [0u8; 64];
    forged[0] = 1;
    let weak = ed25519_dalek::VerifyingKey::from_bytes(&identity).unwrap();
    let message = envelope::pae(IN_TOTO_PAYLOAD_TYPE, &passing_statement().to_payload());
    let signature = ed25519_dalek::Signature::from_bytes(&forged);
    assert!(
        ed25519_dalek::Verifier::verify(&weak, &message, &signature).is_ok(),
        "premise: the forgery fools plain verify"
    );
    assert!(weak.verify_strict(&message, &signature).is_err());
    let text = format!(
        "ed25519:{}",
        base64::engine::general_purpose::STANDARD.encode(identity)
    );
    assert!(matches!(
        PublicKey::parse(&text),
        Err(KeyError::SmallOrder(_))
    ));
    assert!(matches!(
        VerifierSet::from_texts(&[("weak".to_owned(), text)], 1),
        Err(ConfigError::Key {
            source: KeyError::SmallOrder(_),
            ..
        })
    ));
    // The forged envelope under a real trust set does not count.
    let forged_envelope = input(
        "forged.json",
        serde_json::to_vec(&json!({
            "payload": base64::engine::general_purpose::STANDARD.encode(passing_statement().to_payload()),
            "payloadType": IN_TOTO_PAYLOAD_TYPE,
            "signatures": [{"keyid": key(1).public_key().key_id(), "sig": base64::engine::general_purpose::STANDARD.encode(forged)}],
        }))
        .unwrap(),
    );
    assert_eq!(
        sole_refusal(forged_envelope),
        EnvelopeRefusal::NoTrustedSignature { signatures: 1 }
    );
}

/// The order L of the Ed25519 base point, little-endian.
const ORDER_L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

#[test]
fn case_66_non_canonical_s_is_rejected() {
    let a = key(1);
    let envelope = signed("a.json", &passing_statement(), &a);
    // S + L: same value mod L, so a non-strict verifier would accept it.
    let malleated = edit_envelope(&envelope, |value| {
        let mut sig = base64::engine::general_purpose::STANDARD
            .decode(value["signatures"][0]["sig"].as_str().unwrap())
            .unwrap();
        let mut carry = 0u16;
        for (byte, order_byte) in sig[32..].iter_mut().zip(ORDER_L) {
            let sum = u16::from(*byte) + u16::from(order_byte) + carry;
            *byte = (sum & 0xff) as u8;
            carry = sum >> 8;
        }
        assert_eq!(carry, 0);
        value["signatures"][0]["sig"] =
            json!(base64::engine::general_purpose::STANDARD.encode(sig));
    });
    assert_eq!(
        sole_refusal(malleated),
        EnvelopeRefusal::NoTrustedSignature { signatures: 1 }
    );
    // Control: the original signature verifies.
    assert_eq!(run(&[envelope], &trusted(&[("a", &a)], 1)).unwrap(), 1);
}

// 67. Parse-before-verify and endless data.
#[test]
fn case_67_oversized_envelope_is_refused_before_parsing() {
    let limits = Limits::default();
    // Not even JSON: if the parser ran, the error would be a JSON error.
    let huge = vec![b'{'; usize::try_from(limits.max_envelope_bytes).unwrap() + 1];
    assert_eq!(
        UnverifiedEnvelope::parse(&huge, &limits).unwrap_err(),
        EnvelopeError::TooLarge {
            limit: limits.max_envelope_bytes
        }
    );
}

#[test]
fn case_67_two_gigabyte_envelope_file_reads_at_most_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.json");
    // Sparse: 2 GiB apparent size, no blocks on disk.
    #[allow(clippy::disallowed_methods)] // a test fixture in a temp dir
    std::fs::File::create(&path)
        .unwrap()
        .set_len(2 * 1024 * 1024 * 1024)
        .unwrap();
    let limits = Limits::default();
    let input = pkgward_attest::discovery::read_envelope_file(&path, &limits).unwrap();
    assert_eq!(input.bytes.len() as u64, limits.max_envelope_bytes + 1);
    assert_eq!(
        UnverifiedEnvelope::parse(&input.bytes, &limits).unwrap_err(),
        EnvelopeError::TooLarge {
            limit: limits.max_envelope_bytes
        }
    );
}

#[test]
fn case_67_one_hundred_thousand_signatures_are_refused_while_parsing() {
    let a = key(1);
    let envelope = signed("a.json", &passing_statement(), &a);
    let many = edit_envelope(&envelope, |value| {
        let signature = json!({"sig": value["signatures"][0]["sig"].clone()});
        value["signatures"] = Value::Array(vec![signature; 100_000]);
    });
    assert!(many.bytes.len() < 16 * 1024 * 1024, "within the size limit");
    let started = std::time::Instant::now();
    assert_eq!(
        sole_refusal(many),
        EnvelopeRefusal::Envelope(EnvelopeError::TooManySignatures { limit: 32 })
    );
    // No crypto ran: 100 000 strict verifications take seconds.
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn case_67_deeply_nested_json_is_refused() {
    let a = key(1);
    // Signed payload: nested inside the predicate.
    let nested = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","predicate":{}{}}}"#,
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    assert!(matches!(
        sole_refusal(sign_raw(IN_TOTO_PAYLOAD_TYPE, nested.as_bytes(), &a)),
        EnvelopeRefusal::Statement(StatementError::Json(_))
    ));
    // Unsigned: nested inside an unknown envelope member.
    let envelope = signed("a.json", &passing_statement(), &a);
    let text = String::from_utf8(envelope.bytes).unwrap();
    let nested_outer = text.replacen(
        '{',
        &format!("{{\"x\":{}{},", "[".repeat(50_000), "]".repeat(50_000)),
        1,
    );
    assert!(matches!(
        sole_refusal(input("n.json", nested_outer)),
        EnvelopeRefusal::Envelope(EnvelopeError::Json(_))
    ));
}

#[test]
fn case_67_duplicate_type_key_in_signed_payload_is_refused() {
    let a = key(1);
    let payload = passing_statement().to_payload();
    let text = String::from_utf8(payload).unwrap();
    let doubled = text.replacen('{', r#"{"_type":"https://example.com/Other","#, 1);
    let refusal = sole_refusal(sign_raw(IN_TOTO_PAYLOAD_TYPE, doubled.as_bytes(), &a));
    assert!(
        matches!(&refusal, EnvelopeRefusal::Statement(StatementError::Json(message)) if message.contains("duplicate key `_type`")),
        "{refusal:?}"
    );
}

#[test]
fn case_67_duplicate_keys_in_the_envelope_are_refused() {
    let a = key(1);
    let envelope = signed("a.json", &passing_statement(), &a);
    let text = String::from_utf8(envelope.bytes).unwrap();
    let doubled = text.replacen('{', r#"{"payloadType":"application/json","#, 1);
    let refusal = sole_refusal(input("d.json", doubled));
    assert!(
        matches!(&refusal, EnvelopeRefusal::Envelope(EnvelopeError::Json(message)) if message.contains("duplicate key `payloadType`")),
        "{refusal:?}"
    );
}

#[test]
fn case_67_payload_is_not_parsed_before_its_signature_verifies() {
    // Garbage payload with duplicate keys, signed by an untrusted key: the
    // refusal is about the signature, proving the payload was never parsed.
    let stranger = key(99);
    assert_eq!(
        sole_refusal(sign_raw(
            IN_TOTO_PAYLOAD_TYPE,
            br#"{"_type":1,"_type":2"#,
            &stranger
        )),
        EnvelopeRefusal::NoTrustedSignature { signatures: 1 }
    );
}

// 68. Unauthenticated side data.
#[test]
fn case_68_unsigned_envelope_members_are_ignored() {
    let a = key(1);
    let failed = Statement::for_artifact(
        "hello_1.0_amd64.deb",
        &sha256_hex(ARTIFACT),
        predicate(Verdict::Failed, NOW),
    );
    let dressed_up = edit_envelope(&signed("a.json", &failed, &a), |value| {
        value["predicate"] = json!({"verdict": "PASSED"});
        value["verdict"] = json!("PASSED");
        value["signatures"][0]["verdict"] = json!("PASSED");
    });
    assert!(matches!(
        sole_refusal(dressed_up),
        EnvelopeRefusal::VerdictFailed { .. }
    ));
    // And extra members do not stop a good envelope from counting; nothing
    // of them reaches the result.
    let good = edit_envelope(&signed("a.json", &passing_statement(), &a), |value| {
        value["footprint"] = json!({"files": ["/etc/shadow"]});
    });
    let accepted = check(
        &[good],
        &trusted(&[("a", &a)], 1),
        &expectation(),
        |_| true,
        &Limits::default(),
    )
    .unwrap();
    let counted = accepted.0.counted().next().unwrap();
    assert_eq!(counted.footprint, passing_statement().predicate.footprint);
}

// 69. Per-artifact binding.
#[test]
fn case_69_attestations_bind_the_exact_bytes() {
    let a = key(1);
    let verifiers = trusted(&[("a", &a)], 1);
    let envelopes = [signed("a.json", &passing_statement(), &a)];
    let mut tampered = ARTIFACT.to_vec();
    tampered[10] ^= 1;
    let expectation = Expectation {
        artifact_sha256: sha256_hex(&tampered),
        ..expectation()
    };
    let refusal = check(
        &envelopes,
        &verifiers,
        &expectation,
        |_| true,
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(
        refusal.0.outcomes[0].result,
        Err(EnvelopeRefusal::SubjectMismatch { .. })
    ));
}

#[test]
fn no_envelopes_never_verify() {
    let a = key(1);
    let refusal = run(&[], &trusted(&[("a", &a)], 1)).unwrap_err();
    assert_eq!(refusal.0.distinct_keys(), 0);
}
