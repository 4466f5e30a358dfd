//! rpm's version ordering: `rpmvercmp` on one version or release string, and
//! the epoch:version-release (EVR) comparison built on it.
//!
//! This is our own implementation of rpm ≥ 4.15's `rpmvercmp` (rpmio/rpmvercmp.c):
//!
//! - a string is split into segments of ASCII digits or ASCII letters; every
//!   other byte is a separator and only separates (`1.0` = `1_0` = `1..0`);
//! - `~` sorts before everything, even the end of the string
//!   (`1.0~rc1 < 1.0`);
//! - `^` sorts after the end of the string but before any further segment
//!   (`1.0 < 1.0^git1 < 1.0.1`), the "snapshot after a release" marker;
//! - a numeric segment is always newer than an alphabetic one; numeric
//!   segments compare as numbers (leading zeros dropped, then the longer run
//!   wins), alphabetic ones byte by byte;
//! - when one string runs out of segments, the one with segments left is newer.
//!
//! The EVR comparison is rpm's `rpmverCmp` as used by `rpm.vercmp()` in Lua:
//! epochs as integers (a missing epoch is 0), then versions, then releases,
//! where a release that is present is newer than one that is absent, whatever
//! it holds (`1.0-~ > 1.0`, as rpm 4.18 answers).
//! Checked pair by pair against rpm itself by `tests/rpm_version_against_rpm.rs`.

use std::cmp::Ordering;

/// Compare two version (or release) strings with rpm's `rpmvercmp`.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a == b {
        return Ordering::Equal;
    }
    let is_separator = |byte: u8| !byte.is_ascii_alphanumeric() && byte != b'~' && byte != b'^';
    let (mut one, mut two) = (0, 0);
    while one < a.len() || two < b.len() {
        while one < a.len() && is_separator(a[one]) {
            one += 1;
        }
        while two < b.len() && is_separator(b[two]) {
            two += 1;
        }
        let (current_one, current_two) = (a.get(one).copied(), b.get(two).copied());
        // `~` sorts before everything else, the end of the string included.
        if current_one == Some(b'~') || current_two == Some(b'~') {
            if current_one != Some(b'~') {
                return Ordering::Greater;
            }
            if current_two != Some(b'~') {
                return Ordering::Less;
            }
            one += 1;
            two += 1;
            continue;
        }
        // `^` is like `~` except that a string which has ended (the base
        // version) sorts before it.
        if current_one == Some(b'^') || current_two == Some(b'^') {
            if current_one.is_none() {
                return Ordering::Less;
            }
            if current_two.is_none() {
                return Ordering::Greater;
            }
            if current_one != Some(b'^') {
                return Ordering::Greater;
            }
            if current_two != Some(b'^') {
                return Ordering::Less;
            }
            one += 1;
            two += 1;
            continue;
        }
        let (Some(first_one), Some(_)) = (current_one, current_two) else {
            break;
        };
        let numeric = first_one.is_ascii_digit();
        let in_segment = |byte: &u8| {
            if numeric {
                byte.is_ascii_digit()
            } else {
                byte.is_ascii_alphabetic()
            }
        };
        let end_one = one + a[one..].iter().take_while(|byte| in_segment(byte)).count();
        let end_two = two + b[two..].iter().take_while(|byte| in_segment(byte)).count();
        // Segments of different types: numeric beats alphabetic.
        if end_two == two {
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (mut segment_one, mut segment_two) = (&a[one..end_one], &b[two..end_two]);
        if numeric {
            segment_one = trim_leading_zeros(segment_one);
            segment_two = trim_leading_zeros(segment_two);
            let by_length = segment_one.len().cmp(&segment_two.len());
            if by_length != Ordering::Equal {
                return by_length;
            }
        }
        let by_bytes = segment_one.cmp(segment_two);
        if by_bytes != Ordering::Equal {
            return by_bytes;
        }
        one = end_one;
        two = end_two;
    }
    match (one >= a.len(), two >= b.len()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

fn trim_leading_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&byte| byte == b'0').count();
    &digits[zeros..]
}

/// The parts of an EVR string as rpm's `rpmverParse` splits it: an epoch
/// (the leading digits before the first `:`, if all of them are digits), the
/// version, and the release after the last `-` (absent when there is none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvrParts<'text> {
    pub epoch: Option<&'text str>,
    pub version: &'text str,
    pub release: Option<&'text str>,
}

/// Split an EVR string the way rpm does.
pub fn split_evr(text: &str) -> EvrParts<'_> {
    let (epoch, rest) = match text.split_once(':') {
        Some((digits, rest)) if digits.bytes().all(|byte| byte.is_ascii_digit()) => {
            (Some(digits), rest)
        }
        _ => (None, text),
    };
    let (version, release) = match rest.rsplit_once('-') {
        Some((version, release)) => (version, Some(release)),
        None => (rest, None),
    };
    EvrParts {
        epoch,
        version,
        release,
    }
}

/// Compare two epochs as rpm does: integers, missing (or empty) meaning 0.
/// Epochs are digit strings, so comparing them without leading zeros by
/// length then bytes is comparing them as numbers of any size.
pub fn compare_epochs(a: Option<&str>, b: Option<&str>) -> Ordering {
    let a = trim_leading_zeros(a.unwrap_or("").as_bytes());
    let b = trim_leading_zeros(b.unwrap_or("").as_bytes());
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// rpm's `rpmverCmp` on two EVR strings (what `rpm.vercmp()` answers).
pub fn compare_evr(a: &str, b: &str) -> Ordering {
    let (a, b) = (split_evr(a), split_evr(b));
    compare_epochs(a.epoch, b.epoch)
        .then_with(|| rpmvercmp(a.version, b.version))
        .then_with(|| compare_releases(a.release, b.release))
}

/// Releases as `rpmverCmp` compares them: both present → `rpmvercmp`, else
/// the present one is newer.
pub fn compare_releases(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => rpmvercmp(a, b),
        (a, b) => a.is_some().cmp(&b.is_some()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    #[test]
    fn segments_separators_and_types() {
        assert_eq!(rpmvercmp("1.0", "1.0"), Equal);
        assert_eq!(rpmvercmp("1.0", "1_0"), Equal);
        assert_eq!(rpmvercmp("1..0", "1.0"), Equal);
        assert_eq!(rpmvercmp("1.9", "1.10"), Less);
        assert_eq!(rpmvercmp("1.01", "1.1"), Equal);
        assert_eq!(rpmvercmp("1.a", "1.1"), Less);
        assert_eq!(rpmvercmp("1.0a", "1.0"), Greater);
        assert_eq!(rpmvercmp("a", "b"), Less);
        assert_eq!(rpmvercmp("abc", "ab"), Greater);
        assert_eq!(rpmvercmp("1.0", "1.0."), Equal);
    }

    #[test]
    fn tilde_and_caret() {
        assert_eq!(rpmvercmp("1.0~rc1", "1.0"), Less);
        assert_eq!(rpmvercmp("1.0~rc1", "1.0~rc2"), Less);
        assert_eq!(rpmvercmp("1.0~~", "1.0~"), Less);
        assert_eq!(rpmvercmp("1.0^", "1.0"), Greater);
        assert_eq!(rpmvercmp("1.0^git1", "1.0"), Greater);
        assert_eq!(rpmvercmp("1.0^git1", "1.0.1"), Less);
        assert_eq!(rpmvercmp("1.0^git1~pre", "1.0^git1"), Less);
        assert_eq!(rpmvercmp("1.0~rc1^git1", "1.0~rc1"), Greater);
    }

    #[test]
    fn evr_epoch_then_version_then_release() {
        assert_eq!(split_evr("1:2.0-3").epoch, Some("1"));
        assert_eq!(split_evr("2.0-3-4").release, Some("4"));
        assert_eq!(split_evr("a:2.0").epoch, None);
        assert_eq!(compare_evr("1:1.0-1", "2.0-1"), Greater);
        assert_eq!(compare_evr("0:1.0-1", "1.0-1"), Equal);
        assert_eq!(compare_evr("1.0", "1.0-1"), Less);
        assert_eq!(compare_evr("1.0-~", "1.0"), Greater);
        assert_eq!(compare_evr("1.0-_", "1.0-."), Equal);
        assert_eq!(compare_evr("1.0-2", "1.0-10"), Less);
        assert_eq!(compare_epochs(Some("007"), Some("7")), Equal);
        assert_eq!(
            compare_epochs(Some("99999999999999999999"), Some("2")),
            Greater
        );
    }
}
