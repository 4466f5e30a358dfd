//! Debian version ordering used by grant selectors (`version = ">= 5:7.0, << 5:8"`).
//!
//! TEMPORARY: a self-contained implementation of dpkg's ordering
//! (`epoch:upstream-revision`, `~` sorts before everything, letters before
//! non-letters, digit runs compared numerically — dpkg `lib/dpkg/version.c`
//! `verrevcmp`) until `pkgward_package::version::Version` from the lead lands
//! in `main`; then this module re-exports that type.

use std::cmp::Ordering;
use std::fmt;

/// A dpkg version: `[epoch:]upstream[-revision]`.
#[derive(Debug, Clone)]
pub struct Version {
    epoch: u64,
    upstream: String,
    revision: String,
}

/// The version text is not a valid dpkg version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid version `{text}`: {reason}")]
pub struct VersionError {
    pub text: String,
    pub reason: &'static str,
}

impl Version {
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        let error = |reason| VersionError {
            text: text.to_owned(),
            reason,
        };
        if text.is_empty() {
            return Err(error("it is empty"));
        }
        if text.chars().any(char::is_whitespace) {
            return Err(error("it contains whitespace"));
        }
        let (epoch, rest) = match text.split_once(':') {
            Some((epoch, rest)) => {
                let epoch = epoch
                    .parse::<u64>()
                    .map_err(|_| error("the epoch is not a number"))?;
                (epoch, rest)
            }
            None => (0, text),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((upstream, revision)) => (upstream, revision),
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err(error("the upstream version is empty"));
        }
        if !upstream.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(error("the upstream version must start with a digit"));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || ".+~-:".contains(c);
        if !upstream.chars().all(allowed) || !revision.chars().all(allowed) {
            return Err(error("it contains a character dpkg does not allow"));
        }
        Ok(Self {
            epoch,
            upstream: upstream.to_owned(),
            revision: revision.to_owned(),
        })
    }
}

/// dpkg's `order()`: `~` below the end of string, letters below non-letters.
fn character_weight(character: Option<u8>) -> i32 {
    match character {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`.
fn compare_part(left: &str, right: &str) -> Ordering {
    let (left, right) = (left.as_bytes(), right.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < left.len() || j < right.len() {
        let mut first_difference = 0;
        while (i < left.len() && !left[i].is_ascii_digit())
            || (j < right.len() && !right[j].is_ascii_digit())
        {
            let left_weight = character_weight(left.get(i).copied());
            let right_weight = character_weight(right.get(j).copied());
            if left_weight != right_weight {
                return left_weight.cmp(&right_weight);
            }
            i += 1;
            j += 1;
        }
        while i < left.len() && left[i] == b'0' {
            i += 1;
        }
        while j < right.len() && right[j] == b'0' {
            j += 1;
        }
        while i < left.len()
            && left[i].is_ascii_digit()
            && j < right.len()
            && right[j].is_ascii_digit()
        {
            if first_difference == 0 {
                first_difference = i32::from(left[i]) - i32::from(right[j]);
            }
            i += 1;
            j += 1;
        }
        if i < left.len() && left[i].is_ascii_digit() {
            return Ordering::Greater;
        }
        if j < right.len() && right[j].is_ascii_digit() {
            return Ordering::Less;
        }
        if first_difference != 0 {
            return first_difference.cmp(&0);
        }
    }
    Ordering::Equal
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| compare_part(&self.upstream, &other.upstream))
            .then_with(|| compare_part(&self.revision, &other.revision))
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
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch != 0 {
            write!(formatter, "{}:", self.epoch)?;
        }
        formatter.write_str(&self.upstream)?;
        if !self.revision.is_empty() {
            write!(formatter, "-{}", self.revision)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Version;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn dpkg_ordering_examples() {
        assert!(v("1.0~rc1") < v("1.0"));
        assert!(v("1.0") < v("1.0-1"));
        assert!(v("1:0.1") > v("9.9"));
        assert!(v("5:7.0.15-1") >= v("5:7.0"));
        assert!(v("5:7.0.15-1") < v("5:8"));
        assert!(v("1.10") > v("1.9"));
        assert!(v("1.0a") < v("1.0+"));
        assert_eq!(v("0:1.0"), v("1.0"));
        assert!(Version::parse("a1").is_err());
        assert!(Version::parse("x:1").is_err());
    }
}
