//! Reading envelope files with bounded memory, and finding the attestations
//! that sit next to a package (`PKG.att/*.json`).
//!
//! A file is read through `take(limit + 1)`, so a 2 GB "envelope" costs at
//! most the limit plus one byte before it is refused as too large
//! (THREATS 67); the parser then reports it as
//! [`EnvelopeError::TooLarge`](crate::envelope::EnvelopeError::TooLarge).

use crate::envelope::Limits;
use crate::threshold::EnvelopeInput;
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// Most envelope files taken from one attestation directory.
pub const MAX_ENVELOPE_FILES: usize = 256;

/// Why attestation files could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("cannot read attestation `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("attestation directory `{path}` holds more than {limit} `.json` files")]
    TooManyFiles { path: PathBuf, limit: usize },
}

/// The attestation directory of a package file: `PKG.att` next to it.
pub fn attestation_dir_for(package: &Path) -> PathBuf {
    let mut name = package.as_os_str().to_owned();
    name.push(".att");
    PathBuf::from(name)
}

/// Read one envelope file, at most `limits.max_envelope_bytes + 1` bytes.
pub fn read_envelope_file(path: &Path, limits: &Limits) -> Result<EnvelopeInput, DiscoveryError> {
    let error = |source| DiscoveryError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(error)?;
    let mut bytes = Vec::new();
    file.take(limits.max_envelope_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(error)?;
    Ok(EnvelopeInput {
        source: path.display().to_string(),
        bytes,
    })
}

/// Read every `*.json` regular file of `dir`, sorted by name. A missing
/// directory yields no envelopes (the threshold check then refuses).
pub fn read_envelope_dir(
    dir: &Path,
    limits: &Limits,
) -> Result<Vec<EnvelopeInput>, DiscoveryError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(source) if source.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(DiscoveryError::Read {
                path: dir.to_owned(),
                source,
            })
        }
    };
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| DiscoveryError::Read {
            path: dir.to_owned(),
            source,
        })?;
        let path = entry.path();
        let is_file = entry.file_type().is_ok_and(|kind| kind.is_file());
        if is_file
            && path
                .extension()
                .is_some_and(|extension| extension == "json")
        {
            if paths.len() == MAX_ENVELOPE_FILES {
                return Err(DiscoveryError::TooManyFiles {
                    path: dir.to_owned(),
                    limit: MAX_ENVELOPE_FILES,
                });
            }
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .iter()
        .map(|path| read_envelope_file(path, limits))
        .collect()
}
