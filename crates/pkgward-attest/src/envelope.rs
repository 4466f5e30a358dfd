//! DSSE envelopes (Dead Simple Signing Envelope, v1.0.x): pre-authentication
//! encoding, signing, and parsing that does not trust what it parses.
//!
//! What is signed is `PAE(payloadType, payload)`, never the JSON envelope, so
//! the envelope's own fields (keyids, unknown members) are unauthenticated and
//! only `payloadType` and the decoded payload bytes are covered. The payload
//! is kept private in [`UnverifiedEnvelope`]: the only way to read it is
//! [`UnverifiedEnvelope::payload_verified_by`], which returns it only when a
//! signature verifies under the given key (THREATS 67: no payload field is
//! read before its signature is checked).
//!
//! Limits are applied before any work: the byte size before the JSON parser
//! sees the input, and the number of signatures while the array is being read
//! (the 100 001st element is never allocated).

use crate::keys::{PrivateKey, PublicKey};
use crate::strict_json::StrictValue;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

/// The payload type of in-toto statements (in-toto attestation spec,
/// envelope layer). Compared byte for byte: `application/json` or another
/// application's type carrying the same statement is refused (THREATS 61).
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// Bounds checked before parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest envelope file accepted, in bytes.
    pub max_envelope_bytes: u64,
    /// Most signatures one envelope may carry.
    pub max_signatures: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_envelope_bytes: 16 * 1024 * 1024,
            max_signatures: 32,
        }
    }
}

/// Why an envelope could not be parsed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("envelope is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("envelope has more than {limit} signatures")]
    TooManySignatures { limit: usize },
    #[error("envelope has no signatures")]
    NoSignatures,
    #[error("envelope is not valid DSSE JSON: {0}")]
    Json(String),
    #[error("envelope field `{field}` is not valid base64: {reason}")]
    Base64 { field: &'static str, reason: String },
}

/// The pre-authentication encoding of DSSE v1:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths as ASCII
/// decimal byte counts (not character counts: a multi-byte UTF-8 type counts
/// its bytes).
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + payload.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// One signature as found in an envelope. `keyid` is an unauthenticated hint
/// and is never used to decide whose signature it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeSignature {
    pub keyid: Option<String>,
    pub sig: Vec<u8>,
}

/// A parsed envelope whose payload has not been authenticated yet.
#[derive(Debug, Clone)]
pub struct UnverifiedEnvelope {
    payload_type: String,
    payload: Vec<u8>,
    signatures: Vec<EnvelopeSignature>,
}

impl UnverifiedEnvelope {
    /// Parse envelope JSON after checking its size; duplicate keys, missing
    /// fields, malformed base64 and too many signatures are errors. Unknown
    /// members are skipped and never exposed (they are not signed).
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Self, EnvelopeError> {
        let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        if size > limits.max_envelope_bytes {
            return Err(EnvelopeError::TooLarge {
                limit: limits.max_envelope_bytes,
            });
        }
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let raw = EnvelopeSeed {
            max_signatures: limits.max_signatures,
        }
        .deserialize(&mut deserializer)
        .map_err(|error| classify_json_error(&error, limits))?;
        deserializer
            .end()
            .map_err(|error| EnvelopeError::Json(error.to_string()))?;
        let payload = decode_base64(&raw.payload).map_err(|reason| EnvelopeError::Base64 {
            field: "payload",
            reason,
        })?;
        let mut signatures = Vec::with_capacity(raw.signatures.len());
        for (keyid, sig) in raw.signatures {
            let sig = decode_base64(&sig).map_err(|reason| EnvelopeError::Base64 {
                field: "signatures[].sig",
                reason,
            })?;
            signatures.push(EnvelopeSignature { keyid, sig });
        }
        if signatures.is_empty() {
            return Err(EnvelopeError::NoSignatures);
        }
        Ok(Self {
            payload_type: raw.payload_type,
            payload,
            signatures,
        })
    }

    /// The declared payload type (covered by the signatures through PAE).
    pub fn payload_type(&self) -> &str {
        &self.payload_type
    }

    /// The signatures as found.
    pub fn signatures(&self) -> &[EnvelopeSignature] {
        &self.signatures
    }

    /// The payload, if and only if one of the signatures verifies under `key`
    /// (strict Ed25519 over the PAE).
    pub fn payload_verified_by(&self, key: &PublicKey) -> Option<&[u8]> {
        self.verify_against(std::slice::from_ref(key))
            .map(|(_, payload)| payload)
    }

    /// The indices of the `keys` under which at least one signature verifies,
    /// and the payload; `None` when no key verifies any signature. The PAE is
    /// built once and every signature is tried against every key, since the
    /// `keyid` hints are unauthenticated.
    pub fn verify_against(&self, keys: &[PublicKey]) -> Option<(Vec<usize>, &[u8])> {
        let message = pae(&self.payload_type, &self.payload);
        let signers: Vec<usize> = keys
            .iter()
            .enumerate()
            .filter(|(_, key)| {
                self.signatures
                    .iter()
                    .any(|signature| key.verify_strict(&message, &signature.sig))
            })
            .map(|(index, _)| index)
            .collect();
        if signers.is_empty() {
            None
        } else {
            Some((signers, self.payload.as_slice()))
        }
    }
}

/// Sign `payload` under `payload_type` with each key and return the envelope
/// JSON (keys sorted, pretty-printed, trailing newline). Each signature's
/// `keyid` is the signer's key id.
pub fn sign(payload_type: &str, payload: &[u8], keys: &[&PrivateKey]) -> String {
    let message = pae(payload_type, payload);
    let signatures: Vec<serde_json::Value> = keys
        .iter()
        .map(|key| {
            serde_json::json!({
                "keyid": key.public_key().key_id(),
                "sig": base64::engine::general_purpose::STANDARD.encode(key.sign(&message)),
            })
        })
        .collect();
    let envelope = serde_json::json!({
        "payload": base64::engine::general_purpose::STANDARD.encode(payload),
        "payloadType": payload_type,
        "signatures": signatures,
    });
    let mut text = serde_json::to_string_pretty(&envelope).unwrap_or_default();
    text.push('\n');
    text
}

/// Decode base64 in either the standard or the URL-safe alphabet (DSSE
/// allows both), with or without padding. Whitespace, a mix of the two
/// alphabets, wrong padding and non-zero trailing bits are errors.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let standard = text.contains(['+', '/']);
    let url_safe = text.contains(['-', '_']);
    if standard && url_safe {
        return Err("mixes the standard and URL-safe alphabets".to_owned());
    }
    let engine = if url_safe {
        GeneralPurpose::new(&base64::alphabet::URL_SAFE, config)
    } else {
        GeneralPurpose::new(&base64::alphabet::STANDARD, config)
    };
    engine.decode(text).map_err(|error| error.to_string())
}

/// Signature-count errors are raised inside the parser so that the limit
/// holds while reading; they come back as `serde_json` errors and are turned
/// into the typed variant here.
fn classify_json_error(error: &serde_json::Error, limits: &Limits) -> EnvelopeError {
    let text = error.to_string();
    if text.starts_with(TOO_MANY_SIGNATURES) {
        EnvelopeError::TooManySignatures {
            limit: limits.max_signatures,
        }
    } else {
        EnvelopeError::Json(text)
    }
}

const TOO_MANY_SIGNATURES: &str = "too many signatures";

struct RawEnvelope {
    payload: String,
    payload_type: String,
    signatures: Vec<(Option<String>, String)>,
}

struct EnvelopeSeed {
    max_signatures: usize,
}

impl<'de> DeserializeSeed<'de> for EnvelopeSeed {
    type Value = RawEnvelope;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawEnvelope, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed {
    type Value = RawEnvelope;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a DSSE envelope object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawEnvelope, A::Error> {
        use serde::de::Error as _;
        let mut seen = HashSet::new();
        let mut payload = None;
        let mut payload_type = None;
        let mut signatures = None;
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(A::Error::custom(format_args!("duplicate key `{key}`")));
            }
            match key.as_str() {
                "payload" => payload = Some(map.next_value::<String>()?),
                "payloadType" => payload_type = Some(map.next_value::<String>()?),
                "signatures" => {
                    signatures = Some(map.next_value_seed(SignaturesSeed {
                        max_signatures: self.max_signatures,
                    })?);
                }
                // Unsigned side data: parsed (so duplicate keys inside it are
                // still refused) and dropped.
                _ => {
                    map.next_value_seed(StrictValue)?;
                }
            }
        }
        Ok(RawEnvelope {
            payload: payload.ok_or_else(|| A::Error::missing_field("payload"))?,
            payload_type: payload_type.ok_or_else(|| A::Error::missing_field("payloadType"))?,
            signatures: signatures.ok_or_else(|| A::Error::missing_field("signatures"))?,
        })
    }
}

struct SignaturesSeed {
    max_signatures: usize,
}

impl<'de> DeserializeSeed<'de> for SignaturesSeed {
    type Value = Vec<(Option<String>, String)>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for SignaturesSeed {
    type Value = Vec<(Option<String>, String)>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an array of signature objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<Self::Value, A::Error> {
        let mut signatures = Vec::new();
        while let Some(signature) = sequence.next_element_seed(SignatureSeed)? {
            if signatures.len() == self.max_signatures {
                return Err(serde::de::Error::custom(TOO_MANY_SIGNATURES));
            }
            signatures.push(signature);
        }
        Ok(signatures)
    }
}

struct SignatureSeed;

impl<'de> DeserializeSeed<'de> for SignatureSeed {
    type Value = (Option<String>, String);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for SignatureSeed {
    type Value = (Option<String>, String);

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a signature object with `sig`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error as _;
        let mut seen = HashSet::new();
        let mut keyid = None;
        let mut sig = None;
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(A::Error::custom(format_args!("duplicate key `{key}`")));
            }
            match key.as_str() {
                "keyid" => keyid = Some(map.next_value::<String>()?),
                "sig" => sig = Some(map.next_value::<String>()?),
                _ => {
                    map.next_value_seed(StrictValue)?;
                }
            }
        }
        Ok((keyid, sig.ok_or_else(|| A::Error::missing_field("sig"))?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_test_vector() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn pae_counts_bytes_not_characters() {
        // "é" is 2 bytes, "🔏" is 4: 6 bytes, 2 characters.
        assert_eq!(pae("é🔏", b""), "DSSEv1 6 é🔏 0 ".as_bytes());
        assert_eq!(pae("", b" 5 "), b"DSSEv1 0  3  5 ");
    }

    #[test]
    fn base64_accepts_both_alphabets_and_padding_variants() {
        assert_eq!(decode_base64("+/8=").unwrap(), [0xfb, 0xff]);
        assert_eq!(decode_base64("-_8=").unwrap(), [0xfb, 0xff]);
        assert_eq!(decode_base64("-_8").unwrap(), [0xfb, 0xff]);
        assert_eq!(decode_base64("").unwrap(), b"");
        for bad in ["+_8=", "+/8 =", "+/8=\n", "+/9=", "+/8==", "@@@@"] {
            assert!(decode_base64(bad).is_err(), "{bad:?} accepted");
        }
    }
}
