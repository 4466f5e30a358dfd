//! TEMPORARY placeholder for the dpkg version type so this crate compiles
//! until the lead's real implementation (dpkg ordering) lands in `main`.
//! It keeps the version text only; its ordering is plain string ordering and
//! must not be relied on.

use std::fmt;

/// A package version as shipped (placeholder: see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    raw: String,
}

/// The version text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid version `{text}`: {reason}")]
pub struct VersionError {
    pub text: String,
    pub reason: &'static str,
}

impl Version {
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        if text.is_empty() || text.chars().any(char::is_whitespace) {
            return Err(VersionError {
                text: text.to_owned(),
                reason: "empty or contains whitespace",
            });
        }
        Ok(Self {
            raw: text.to_owned(),
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.raw)
    }
}

impl serde::Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}
