//! Attestations: ed25519 keys, DSSE envelopes, in-toto statements, k-of-n threshold verification.
