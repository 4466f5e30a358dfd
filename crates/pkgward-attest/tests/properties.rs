//! Properties over random inputs: base64 in every accepted form decodes to
//! the same bytes, PAE framing is injective, signatures bind every byte of
//! type and payload, and the strict JSON parser agrees with `serde_json` on
//! documents without duplicate keys.

use base64::Engine as _;
use pkgward_attest::envelope::{decode_base64, pae, sign, Limits, UnverifiedEnvelope};
use pkgward_attest::PrivateKey;
use proptest::prelude::*;

proptest! {
    #[test]
    fn every_accepted_base64_form_decodes_to_the_same_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
        for encoded in [STANDARD.encode(&bytes), STANDARD_NO_PAD.encode(&bytes), URL_SAFE.encode(&bytes), URL_SAFE_NO_PAD.encode(&bytes)] {
            prop_assert_eq!(decode_base64(&encoded).unwrap(), bytes.clone());
        }
    }

    #[test]
    fn pae_is_injective(
        type_a in "\\PC{0,12}", payload_a in proptest::collection::vec(any::<u8>(), 0..24),
        type_b in "\\PC{0,12}", payload_b in proptest::collection::vec(any::<u8>(), 0..24),
    ) {
        prop_assume!(type_a != type_b || payload_a != payload_b);
        prop_assert_ne!(pae(&type_a, &payload_a), pae(&type_b, &payload_b));
    }

    #[test]
    fn a_signature_binds_every_byte(payload in proptest::collection::vec(any::<u8>(), 1..64), flip in any::<prop::sample::Index>()) {
        let key = PrivateKey::from_seed(&[3; 32]);
        let text = sign("application/vnd.in-toto+json", &payload, &[&key]);
        let envelope = UnverifiedEnvelope::parse(text.as_bytes(), &Limits::default()).unwrap();
        prop_assert_eq!(envelope.payload_verified_by(&key.public_key()), Some(payload.as_slice()));
        let mut changed = payload.clone();
        let index = flip.index(changed.len());
        changed[index] ^= 0x01;
        let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
        value["payload"] = serde_json::json!(base64::engine::general_purpose::STANDARD.encode(&changed));
        let tampered = UnverifiedEnvelope::parse(&serde_json::to_vec(&value).unwrap(), &Limits::default()).unwrap();
        prop_assert_eq!(tampered.payload_verified_by(&key.public_key()), None);
    }

    #[test]
    fn strict_parser_agrees_with_serde_json(value in arbitrary_json()) {
        let text = serde_json::to_vec(&value).unwrap();
        prop_assert_eq!(pkgward_attest::strict_json::parse_value(&text).unwrap(), value);
    }
}

fn arbitrary_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|number| serde_json::json!(number)),
        "\\PC{0,8}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map("\\PC{0,6}", inner, 0..6)
                .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
}
