//! Debian package versions and dpkg's ordering of them.
//!
//! A version is `[epoch:]upstream[-revision]`. Ordering follows dpkg's
//! `dpkg_version_compare` (lib/dpkg/version.c): epochs compare as integers,
//! then the upstream parts and the revisions with `verrevcmp`, which
//! alternates between non-digit runs (compared character by character with
//! `~` sorting before everything, even the end of the string, and letters
//! before other characters) and digit runs (compared numerically).
//!
//! This is our own implementation, checked pair by pair against
//! `dpkg --compare-versions` by `tests/version_against_dpkg.rs`. Semver
//! ordering is never a substitute: `1.0~rc1 < 1.0` and `1.0 < 1.0a` are
//! exactly the cases where it differs.

use std::cmp::Ordering;
use std::fmt;

/// A parsed package version. Equality and ordering are those of its
/// [`VersionScheme`]: for dpkg versions `1.0`, `0:1.0` and `1.0-0` are equal;
/// rpm versions (read from `.rpm` packages) follow `rpmvercmp`. `Display`
/// gives back the text as written.
#[derive(Clone)]
pub struct Version {
    text: String,
    epoch: u32,
    scheme: VersionScheme,
    /// Byte range of the upstream part within `text`.
    upstream: (usize, usize),
    /// Byte range of the revision within `text` (empty when absent).
    revision: (usize, usize),
}

/// Which package manager's ordering a [`Version`] follows.
///
/// When a dpkg version meets an rpm version (a grant's `version = ">= 1.2"`
/// constraint, always parsed with dpkg's rules, applied to an rpm package),
/// rpm's ordering is used: the package's own ecosystem decides what "newer"
/// means. Both schemes split `[epoch:]version[-release]` the same way, so
/// only the comparison of the parts differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum VersionScheme {
    #[default]
    Dpkg,
    Rpm,
}

/// Why a version string is not a valid Debian version. The messages follow
/// dpkg's own wording so that users recognise them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("version string is empty")]
    Empty,
    #[error("version `{0}` has embedded spaces")]
    EmbeddedSpace(String),
    #[error("version `{0}` has an epoch that is not a number")]
    EpochNotNumber(String),
    #[error("version `{0}` has an epoch that is too big")]
    EpochTooBig(String),
    #[error("version `{0}` has nothing after the colon in its epoch")]
    NothingAfterColon(String),
    #[error("version `{0}` has an empty upstream version")]
    EmptyUpstream(String),
    #[error("version `{0}` has an empty revision after `-`")]
    EmptyRevision(String),
    #[error("version `{0}` does not start with a digit")]
    NoLeadingDigit(String),
    #[error("version `{text}` has an invalid character `{character}` in its {part}")]
    InvalidCharacter {
        text: String,
        character: char,
        part: &'static str,
    },
}

impl Version {
    /// Parse a version, rejecting what dpkg rejects *and* what dpkg merely
    /// warns about (non-digit start, invalid characters): pkgward compares
    /// versions to make trust decisions, so it accepts only well-formed ones.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        // dpkg strips leading and trailing blanks before parsing.
        let text = text.trim_matches(|c| c == ' ' || c == '\t');
        if text.is_empty() {
            return Err(VersionError::Empty);
        }
        if text.contains(char::is_whitespace) {
            return Err(VersionError::EmbeddedSpace(text.to_owned()));
        }
        let (epoch, rest_start) = match text.find(':') {
            Some(colon) => {
                let digits = &text[..colon];
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(VersionError::EpochNotNumber(text.to_owned()));
                }
                // dpkg limits epochs to INT_MAX.
                let epoch: u32 = digits
                    .parse()
                    .ok()
                    .filter(|e| i32::try_from(*e).is_ok())
                    .ok_or_else(|| VersionError::EpochTooBig(text.to_owned()))?;
                if colon + 1 == text.len() {
                    return Err(VersionError::NothingAfterColon(text.to_owned()));
                }
                (epoch, colon + 1)
            }
            None => (0, 0),
        };
        let rest = &text[rest_start..];
        let (upstream, revision) = match rest.rfind('-') {
            Some(dash) => {
                if dash + 1 == rest.len() {
                    return Err(VersionError::EmptyRevision(text.to_owned()));
                }
                (
                    (rest_start, rest_start + dash),
                    (rest_start + dash + 1, text.len()),
                )
            }
            None => ((rest_start, text.len()), (text.len(), text.len())),
        };
        let upstream_text = &text[upstream.0..upstream.1];
        if upstream_text.is_empty() {
            return Err(VersionError::EmptyUpstream(text.to_owned()));
        }
        if !upstream_text.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(VersionError::NoLeadingDigit(text.to_owned()));
        }
        // Policy §5.6.12: upstream may hold alphanumerics and `.+-~` (and `:`
        // is excluded because the epoch already took the first one — dpkg
        // still accepts later colons, so we do too); the revision holds
        // alphanumerics and `+.~`.
        if let Some(character) = upstream_text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || ".-+~:".contains(*c)))
        {
            return Err(VersionError::InvalidCharacter {
                text: text.to_owned(),
                character,
                part: "upstream version",
            });
        }
        if let Some(character) = text[revision.0..revision.1]
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || ".+~".contains(*c)))
        {
            return Err(VersionError::InvalidCharacter {
                text: text.to_owned(),
                character,
                part: "revision",
            });
        }
        Ok(Self {
            text: text.to_owned(),
            epoch,
            scheme: VersionScheme::Dpkg,
            upstream,
            revision,
        })
    }

    /// Parse an rpm EVR (`[epoch:]version[-release]`) as rpm's `rpmverParse`
    /// splits it. rpm accepts almost any text in a version; we refuse what
    /// rpm itself refuses in a spec file's `Version`/`Release` (empty parts,
    /// whitespace, and a `-` inside the version is impossible by
    /// construction) plus control characters, so that no version can forge
    /// output lines.
    pub fn parse_rpm(text: &str) -> Result<Self, VersionError> {
        if text.is_empty() {
            return Err(VersionError::Empty);
        }
        if text.contains(char::is_whitespace) || text.contains(char::is_control) {
            return Err(VersionError::EmbeddedSpace(text.to_owned()));
        }
        let parts = crate::rpm_version::split_evr(text);
        let epoch = match parts.epoch {
            None | Some("") => 0,
            Some(digits) => digits
                .parse::<u32>()
                .map_err(|_| VersionError::EpochTooBig(text.to_owned()))?,
        };
        if parts.version.is_empty() {
            return Err(VersionError::EmptyUpstream(text.to_owned()));
        }
        if parts.release == Some("") {
            return Err(VersionError::EmptyRevision(text.to_owned()));
        }
        let upstream_start =
            text.len() - parts.version.len() - parts.release.map_or(0, |r| r.len() + 1);
        let revision_start = parts
            .release
            .map_or(text.len(), |release| text.len() - release.len());
        Ok(Self {
            text: text.to_owned(),
            epoch,
            scheme: VersionScheme::Rpm,
            upstream: (upstream_start, upstream_start + parts.version.len()),
            revision: (revision_start, text.len()),
        })
    }

    /// The ordering this version follows.
    pub fn scheme(&self) -> VersionScheme {
        self.scheme
    }

    /// The ordering a relation `self OP reference` is judged by. For dpkg
    /// it is the total order. For rpm it is `rpmdsCompare`'s: when either
    /// side has no release, releases are not compared, so `Requires: foo =
    /// 1.0` is met by `foo-1.0-5` and `foo <= 1.0` by `foo-1.0-9`.
    pub fn cmp_for_relation(&self, reference: &Self) -> Ordering {
        let rpm = self.scheme == VersionScheme::Rpm || reference.scheme == VersionScheme::Rpm;
        if rpm && (self.revision().is_empty() || reference.revision().is_empty()) {
            return self.epoch.cmp(&reference.epoch).then_with(|| {
                crate::rpm_version::rpmvercmp(self.upstream(), reference.upstream())
            });
        }
        self.cmp(reference)
    }

    /// The epoch (0 when absent).
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The upstream part.
    pub fn upstream(&self) -> &str {
        &self.text[self.upstream.0..self.upstream.1]
    }

    /// The Debian revision (empty when absent).
    pub fn revision(&self) -> &str {
        &self.text[self.revision.0..self.revision.1]
    }

    /// The version exactly as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// dpkg's `order()`: the weight of one character in a non-digit run.
/// The end of the string weighs 0, so `~` (-1) sorts before it and every
/// other character after it; letters sort before non-letters.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp()` on one part (upstream or revision).
fn compare_part(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // Non-digit prefix, character by character.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = order(a.get(i).copied());
            let bc = order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        // Digit run, numerically: skip leading zeros, then the longer run
        // wins, else the first differing digit decides.
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let mut first_difference = Ordering::Equal;
        while i < a.len() && a[i].is_ascii_digit() && j < b.len() && b[j].is_ascii_digit() {
            if first_difference == Ordering::Equal {
                first_difference = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if i < a.len() && a[i].is_ascii_digit() {
            return Ordering::Greater;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            return Ordering::Less;
        }
        if first_difference != Ordering::Equal {
            return first_difference;
        }
    }
    Ordering::Equal
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        if self.scheme == VersionScheme::Rpm || other.scheme == VersionScheme::Rpm {
            // `parse_rpm` refuses an empty release, so empty means absent.
            fn release(version: &Version) -> Option<&str> {
                Some(version.revision()).filter(|release| !release.is_empty())
            }
            return self
                .epoch
                .cmp(&other.epoch)
                .then_with(|| crate::rpm_version::rpmvercmp(self.upstream(), other.upstream()))
                .then_with(|| crate::rpm_version::compare_releases(release(self), release(other)));
        }
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| compare_part(self.upstream().as_bytes(), other.upstream().as_bytes()))
            .then_with(|| compare_part(self.revision().as_bytes(), other.revision().as_bytes()))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({:?})", self.text)
    }
}

impl std::str::FromStr for Version {
    type Err = VersionError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl serde::Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Version {
    /// Versions serialise as their text, without the scheme. A text dpkg
    /// refuses can only have come from an `.rpm` (the `.deb` reader refuses
    /// it), so it is read back with rpm's rules; one both accept is read as
    /// dpkg's (the database does not record the format yet: docs/rpm.md).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text)
            .or_else(|error| Self::parse_rpm(&text).map_err(|_| error))
            .map_err(serde::de::Error::custom)
    }
}

/// A relation operator as written in Debian control fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum VersionOp {
    /// `<<`
    #[serde(rename = "<<")]
    Lt,
    /// `<=` (and the obsolete `<`, which dpkg reads as `<=`)
    #[serde(rename = "<=")]
    Le,
    /// `=`
    #[serde(rename = "=")]
    Eq,
    /// `>=` (and the obsolete `>`, which dpkg reads as `>=`)
    #[serde(rename = ">=")]
    Ge,
    /// `>>`
    #[serde(rename = ">>")]
    Gt,
}

impl VersionOp {
    /// Parse an operator; the obsolete one-character forms `<` and `>` mean
    /// `<=` and `>=` as in dpkg.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "<<" => Self::Lt,
            "<=" | "<" => Self::Le,
            "=" => Self::Eq,
            ">=" | ">" => Self::Ge,
            ">>" => Self::Gt,
            _ => return None,
        })
    }

    /// Does `candidate OP reference` hold? (See [`Version::cmp_for_relation`].)
    pub fn holds(self, candidate: &Version, reference: &Version) -> bool {
        self.accepts(candidate.cmp_for_relation(reference))
    }

    /// Whether `candidate OP reference` holds, given the ordering of the two versions.
    pub fn accepts(self, ordering: Ordering) -> bool {
        match self {
            Self::Lt => ordering == Ordering::Less,
            Self::Le => ordering != Ordering::Greater,
            Self::Eq => ordering == Ordering::Equal,
            Self::Ge => ordering != Ordering::Less,
            Self::Gt => ordering == Ordering::Greater,
        }
    }

    /// The canonical spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lt => "<<",
            Self::Le => "<=",
            Self::Eq => "=",
            Self::Ge => ">=",
            Self::Gt => ">>",
        }
    }
}

impl fmt::Display for VersionOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn tilde_sorts_before_everything_even_the_end() {
        assert!(v("1.0~rc1") < v("1.0"));
        assert!(v("1.0~~") < v("1.0~"));
        assert!(v("1.0~~a") < v("1.0~"));
        assert!(v("1.0") < v("1.0a"));
        assert!(v("1.0a") < v("1.0+"));
    }

    #[test]
    fn digit_runs_compare_numerically() {
        assert!(v("1.9") < v("1.10"));
        assert_eq!(v("1.01"), v("1.1"));
        assert!(v("2.0") < v("10:0.1"));
    }

    #[test]
    fn epochs_and_revisions() {
        assert!(v("1:0.1") > v("9.9"));
        assert_eq!(v("0:1.0"), v("1.0"));
        assert_eq!(v("1.0"), v("1.0-0"));
        assert!(v("1.0-1") < v("1.0-1+deb12u1"));
        assert!(v("1.0-1~bpo") < v("1.0-1"));
        assert_eq!(v("5:7.0.15-1").epoch(), 5);
        assert_eq!(v("1.2-3-4").upstream(), "1.2-3");
        assert_eq!(v("1.2-3-4").revision(), "4");
    }

    #[test]
    fn bad_versions_are_named() {
        assert_eq!(Version::parse(""), Err(VersionError::Empty));
        assert!(matches!(
            Version::parse("1 0"),
            Err(VersionError::EmbeddedSpace(_))
        ));
        assert!(matches!(
            Version::parse("a:1"),
            Err(VersionError::EpochNotNumber(_))
        ));
        assert!(matches!(
            Version::parse("99999999999:1"),
            Err(VersionError::EpochTooBig(_))
        ));
        assert!(matches!(
            Version::parse("1:"),
            Err(VersionError::NothingAfterColon(_))
        ));
        assert!(matches!(
            Version::parse("1.0-"),
            Err(VersionError::EmptyRevision(_))
        ));
        assert!(matches!(
            Version::parse("-1"),
            Err(VersionError::EmptyUpstream(_))
        ));
        assert!(matches!(
            Version::parse("abc"),
            Err(VersionError::NoLeadingDigit(_))
        ));
        let error = Version::parse("1.0_2").unwrap_err();
        assert_eq!(
            error.to_string(),
            "version `1.0_2` has an invalid character `_` in its upstream version"
        );
    }

    #[test]
    fn operators_follow_dpkg() {
        let one = v("1.0");
        let two = v("2.0");
        assert!(VersionOp::parse("<<").unwrap().holds(&one, &two));
        assert!(VersionOp::parse("<").unwrap().holds(&one, &one));
        assert!(VersionOp::parse(">").unwrap().holds(&one, &one));
        assert!(!VersionOp::parse(">>").unwrap().holds(&one, &one));
        assert!(VersionOp::parse("=").unwrap().holds(&one, &v("1.0-0")));
        assert!(VersionOp::parse("!=").is_none());
    }
}
