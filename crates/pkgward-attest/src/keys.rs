//! Ed25519 verifier keys: generation, the two public-key encodings we accept
//! (`ed25519:<base64>` and PEM `SubjectPublicKeyInfo`), the PKCS#8 private key
//! file, and key ids.
//!
//! A key's identity is its canonical 32-byte encoding, and its id is the
//! sha256 of those bytes (hex). Both encodings decode to the same bytes, so
//! the same key written twice in different encodings has one id and is
//! counted once (THREATS 59). Non-canonical point encodings (y ≥ p) would give
//! one point several byte strings and therefore several ids; they are
//! rejected, as are small-order ("weak") points, for which a single forged
//! signature verifies every message under cofactorless verification
//! (THREATS 66).

use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

/// The prefix of the text form of a public key, as written in policies.
pub const PUBLIC_KEY_PREFIX: &str = "ed25519:";

/// DER prefix of an Ed25519 `SubjectPublicKeyInfo` (RFC 8410 §4): SEQUENCE,
/// `AlgorithmIdentifier` { id-Ed25519 (1.3.101.112) }, BIT STRING of 33 bytes
/// (0 unused bits + 32 key bytes). The whole structure is always 44 bytes.
const SPKI_DER_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// DER prefix of an Ed25519 PKCS#8 v1 `PrivateKeyInfo` (RFC 8410 §7), as
/// written by `openssl genpkey -algorithm ed25519`: version 0, the algorithm,
/// and an OCTET STRING wrapping the 32-byte seed. The whole structure is 48
/// bytes.
const PKCS8_DER_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// Why a key could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("public key `{0}` is neither `ed25519:<base64>` nor a PEM `PUBLIC KEY`")]
    UnknownEncoding(String),
    #[error("public key `{text}` is not valid base64: {reason}")]
    Base64 { text: String, reason: String },
    #[error("public key `{text}` has {length} bytes, expected 32")]
    Length { text: String, length: usize },
    #[error("PEM public key is not an Ed25519 SubjectPublicKeyInfo (RFC 8410)")]
    NotEd25519Spki,
    #[error("public key `{0}` is not a point on the Ed25519 curve")]
    NotOnCurve(String),
    #[error("public key `{0}` uses a non-canonical point encoding")]
    NonCanonical(String),
    #[error("public key `{0}` is a small-order point, for which signatures can be forged")]
    SmallOrder(String),
    #[error("private key is not an Ed25519 PKCS#8 PEM `PRIVATE KEY` (RFC 8410)")]
    NotEd25519Pkcs8,
}

/// A trusted-or-not Ed25519 public key that passed the strict checks.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PublicKey {
    verifying_key: VerifyingKey,
}

impl PublicKey {
    /// Accept `ed25519:<base64>` (standard alphabet, padding optional) or a
    /// PEM `-----BEGIN PUBLIC KEY-----` block holding an Ed25519 SPKI.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let trimmed = text.trim();
        if let Some(encoded) = trimmed.strip_prefix(PUBLIC_KEY_PREFIX) {
            let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(encoded.trim_end_matches('='))
                .map_err(|error| KeyError::Base64 {
                    text: trimmed.to_owned(),
                    reason: error.to_string(),
                })?;
            return Self::from_raw_bytes(&bytes, trimmed);
        }
        if trimmed.starts_with("-----BEGIN PUBLIC KEY-----") {
            let der = pem_body(trimmed, "PUBLIC KEY").ok_or(KeyError::NotEd25519Spki)?;
            if der.len() != 44 || der[..12] != SPKI_DER_PREFIX {
                return Err(KeyError::NotEd25519Spki);
            }
            return Self::from_raw_bytes(&der[12..], "PEM public key");
        }
        Err(KeyError::UnknownEncoding(shorten(trimmed)))
    }

    /// Validate a raw 32-byte key: on the curve, canonically encoded, not of
    /// small order. `label` names the key in errors.
    pub fn from_raw_bytes(bytes: &[u8], label: &str) -> Result<Self, KeyError> {
        let array: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Length {
            text: label.to_owned(),
            length: bytes.len(),
        })?;
        // Decompression in curve25519-dalek accepts encodings with y ≥ p
        // (reduced mod p) and keeps the bytes as given, so the same point
        // would have a second name and a second key id. Refuse them.
        if !is_canonical_y(&array) {
            return Err(KeyError::NonCanonical(label.to_owned()));
        }
        let verifying_key =
            VerifyingKey::from_bytes(&array).map_err(|_| KeyError::NotOnCurve(label.to_owned()))?;
        if verifying_key.is_weak() {
            return Err(KeyError::SmallOrder(label.to_owned()));
        }
        Ok(Self { verifying_key })
    }

    /// The canonical 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.verifying_key.to_bytes()
    }

    /// sha256 of the raw 32 bytes, hex: the key id used in envelopes and
    /// the database.
    pub fn key_id(&self) -> String {
        hex::encode(Sha256::digest(self.verifying_key.as_bytes()))
    }

    /// `ed25519:<base64>`, the form used in policies.
    pub fn to_text(&self) -> String {
        format!(
            "{PUBLIC_KEY_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(self.verifying_key.as_bytes())
        )
    }

    /// PEM `SubjectPublicKeyInfo` (what `openssl pkey -pubout` writes).
    pub fn to_spki_pem(&self) -> String {
        let mut der = SPKI_DER_PREFIX.to_vec();
        der.extend_from_slice(self.verifying_key.as_bytes());
        to_pem("PUBLIC KEY", &der)
    }

    /// Verify `signature` over `message` with `verify_strict`: rejects
    /// non-canonical S (S ≥ L) and small-order R or A, which plain `verify`
    /// would let through (THREATS 66).
    pub fn verify_strict(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        self.verifying_key
            .verify_strict(message, &signature)
            .is_ok()
    }
}

/// A private signing key. The seed is zeroised on drop by `ed25519-dalek`.
#[derive(Debug)]
pub struct PrivateKey {
    signing_key: SigningKey,
}

impl PrivateKey {
    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> Self {
        Self {
            signing_key: SigningKey::generate(&mut rand_core::OsRng),
        }
    }

    /// Build from a 32-byte seed (tests and key import).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            signing_key: SigningKey::from_bytes(seed),
        }
    }

    /// Parse a PKCS#8 v1 PEM `PRIVATE KEY` for Ed25519, as written by
    /// [`PrivateKey::to_pkcs8_pem`] and by `openssl genpkey -algorithm ed25519`.
    pub fn from_pkcs8_pem(text: &str) -> Result<Self, KeyError> {
        let der = pem_body(text.trim(), "PRIVATE KEY").ok_or(KeyError::NotEd25519Pkcs8)?;
        if der.len() != 48 || der[..16] != PKCS8_DER_PREFIX {
            return Err(KeyError::NotEd25519Pkcs8);
        }
        let seed: [u8; 32] = der[16..]
            .try_into()
            .map_err(|_| KeyError::NotEd25519Pkcs8)?;
        Ok(Self::from_seed(&seed))
    }

    /// PKCS#8 v1 PEM, readable by OpenSSL.
    pub fn to_pkcs8_pem(&self) -> String {
        let mut der = PKCS8_DER_PREFIX.to_vec();
        der.extend_from_slice(self.signing_key.as_bytes());
        to_pem("PRIVATE KEY", &der)
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            verifying_key: self.signing_key.verifying_key(),
        }
    }

    /// Sign `message` (for DSSE: the PAE bytes).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing_key.sign(message).to_bytes()
    }
}

/// Whether the 255-bit y coordinate of an encoded point is below
/// p = 2^255 - 19. The only non-canonical values are p ..= 2^255 - 1: the
/// low byte at least 0xed, all middle bytes 0xff, the top byte 0x7f once the
/// sign bit is masked off. (A negative zero x only occurs for y = ±1, both
/// small-order points, which are refused separately.)
fn is_canonical_y(bytes: &[u8; 32]) -> bool {
    let top_is_max = bytes[31] & 0x7f == 0x7f;
    let middle_is_max = bytes[1..31].iter().all(|byte| *byte == 0xff);
    !(top_is_max && middle_is_max && bytes[0] >= 0xed)
}

/// Decode the body of a single PEM block with the given label; `None` when
/// the text is not exactly one such block with valid base64.
fn pem_body(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let inner = text.strip_prefix(&begin)?.trim_end().strip_suffix(&end)?;
    let joined: String = inner.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(joined)
        .ok()
}

fn to_pem(label: &str, der: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in encoded.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(40).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_pem_forms_round_trip_to_the_same_key_id() {
        let private = PrivateKey::from_seed(&[7; 32]);
        let public = private.public_key();
        let from_text = PublicKey::parse(&public.to_text()).unwrap();
        let from_pem = PublicKey::parse(&public.to_spki_pem()).unwrap();
        assert_eq!(from_text, from_pem);
        assert_eq!(from_text.key_id(), from_pem.key_id());
        assert_eq!(public.key_id().len(), 64);
    }

    #[test]
    fn pkcs8_round_trip() {
        let private = PrivateKey::from_seed(&[9; 32]);
        let again = PrivateKey::from_pkcs8_pem(&private.to_pkcs8_pem()).unwrap();
        assert_eq!(private.public_key(), again.public_key());
    }

    #[test]
    fn small_order_identity_point_is_rejected() {
        // The identity point (0, 1): y = 1, encoded little-endian.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let text = format!(
            "ed25519:{}",
            base64::engine::general_purpose::STANDARD.encode(identity)
        );
        assert!(matches!(
            PublicKey::parse(&text),
            Err(KeyError::SmallOrder(_))
        ));
    }

    #[test]
    fn non_canonical_encoding_is_rejected() {
        // y = p + 1 ≡ 1: a second encoding of the identity point.
        let mut bytes = [0xffu8; 32];
        bytes[0] = 0xee; // p = 2^255 - 19 → low byte 0xed; p + 1 → 0xee
        bytes[31] = 0x7f;
        assert_eq!(
            PublicKey::from_raw_bytes(&bytes, "test"),
            Err(KeyError::NonCanonical("test".to_owned()))
        );
        // y = p - 1 is canonical (and happens to be a small-order point).
        bytes[0] = 0xec;
        assert_eq!(
            PublicKey::from_raw_bytes(&bytes, "test"),
            Err(KeyError::SmallOrder("test".to_owned()))
        );
    }

    #[test]
    fn wrong_lengths_and_encodings_are_rejected() {
        assert!(matches!(
            PublicKey::parse("ed25519:AAAA"),
            Err(KeyError::Length { length: 3, .. })
        ));
        assert!(matches!(
            PublicKey::parse("ed25519:!!!"),
            Err(KeyError::Base64 { .. })
        ));
        assert!(matches!(
            PublicKey::parse("rsa:AAAA"),
            Err(KeyError::UnknownEncoding(_))
        ));
    }
}
