//! sha256 of streams, as lowercase hex (the digest format of the package model).

use sha2::{Digest, Sha256};
use std::io::Read;

/// Reads `reader` to the end and returns its sha256 in hex.
pub fn sha256_of_reader(reader: &mut dyn Read) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let count = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(count) => count,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        hasher.update(&buffer[..count]);
    }
    Ok(hex::encode(hasher.finalize()))
}
