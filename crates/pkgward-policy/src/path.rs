//! Canonical paths: the only form policy is ever evaluated on.
//!
//! Every installer that checked path *strings* has shipped bypasses (THREATS
//! cases 23–30): `usr/./bin/x`, `usr//bin/x`, `foo/../../bin/x`, a trailing
//! `/` that turns a file into a "directory", `lib/security/x` on a usrmerge
//! root where `/lib` is a link to `usr/lib`, and lookalike names. So before
//! matching, a path is normalised (`.` and empty components dropped, a
//! trailing `/` removed), `..` is refused outright (resolving it lexically is
//! wrong in the presence of symlinks), names with control or invisible
//! format characters are refused, and the root's alias table is applied.
//! Case and Unicode-normalisation twins within one package are reported by
//! [`find_twins`].

use std::borrow::Cow;
use std::collections::HashMap;
use unicode_normalization::UnicodeNormalization;

/// Why a path cannot be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path `{0}` is empty")]
    Empty(String),
    #[error("path `{0}` contains a `..` component")]
    ParentComponent(String),
    #[error("path `{}` contains the control character U+{:04X}", .0.escape_debug(), *.1 as u32)]
    ControlCharacter(String, char),
    #[error("path `{}` contains the invisible format character U+{:04X}, a lookalike of another name", .0.escape_debug(), *.1 as u32)]
    InvisibleCharacter(String, char),
}

/// Characters that render as nothing or reorder text: a name containing one
/// looks like another name (`/etc/pass\u{200c}wd` vs `/etc/passwd`).
fn is_invisible_format_character(character: char) -> bool {
    matches!(character,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF9}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}')
}

/// Directory aliases of a root, e.g. usrmerge's `/bin` → `/usr/bin`.
/// The engine builds this from the links it finds in the root; `verify`
/// without a root uses [`AliasTable::usrmerge`] (Debian 12 roots are merged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AliasTable {
    aliases: Vec<(String, String)>,
}

impl AliasTable {
    /// No aliases: paths are evaluated as shipped.
    pub fn none() -> Self {
        Self::default()
    }

    /// Debian's merged-`/usr` layout.
    pub fn usrmerge() -> Self {
        let mut table = Self::none();
        for directory in ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] {
            table
                .add(&format!("/{directory}"), &format!("/usr/{directory}"))
                .expect("static aliases are canonical");
        }
        table
    }

    /// Add an alias: paths at or below `from` are evaluated at `to`.
    pub fn add(&mut self, from: &str, to: &str) -> Result<(), PathError> {
        let from = canonicalize(from)?.into_owned();
        let to = canonicalize(to)?.into_owned();
        self.aliases.push((from, to));
        // Longest first, so `/lib64` is tried before `/lib`.
        self.aliases
            .sort_by_key(|alias| std::cmp::Reverse(alias.0.len()));
        Ok(())
    }

    /// Apply the first alias whose source is `path` or one of its ancestors.
    pub fn apply<'a>(&self, path: &'a str) -> Cow<'a, str> {
        for (from, to) in &self.aliases {
            // Aliases are few and rarely apply: comparing the first byte of
            // the first component skips most of them without a `memcmp`.
            if from.len() > 1 && path.as_bytes().get(1) != from.as_bytes().get(1) {
                continue;
            }
            if let Some(rest) = path.strip_prefix(from.as_str()) {
                if rest.is_empty() || rest.starts_with('/') {
                    return Cow::Owned(format!("{to}{rest}"));
                }
            }
        }
        Cow::Borrowed(path)
    }

    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.aliases.iter().map(|(a, b)| (a.as_str(), b.as_str()))
    }
}

/// Normalise a path as found in an archive or a request to its canonical
/// absolute form, or refuse it. `./usr//bin/./x/` → `/usr/bin/x`.
pub fn canonicalize(path: &str) -> Result<Cow<'_, str>, PathError> {
    if path.is_empty() {
        return Err(PathError::Empty(path.to_owned()));
    }
    // One pass over the bytes settles the common case (ASCII, already
    // canonical) without decoding characters; this runs once per decision.
    let shape = scan_bytes(path.as_bytes());
    if !shape.ascii || shape.control {
        if let Some(character) = path.chars().find(|c| c.is_control()) {
            return Err(PathError::ControlCharacter(path.to_owned(), character));
        }
        if let Some(character) = path.chars().find(|c| is_invisible_format_character(*c)) {
            return Err(PathError::InvisibleCharacter(path.to_owned(), character));
        }
    }
    if shape.canonical {
        return Ok(Cow::Borrowed(path));
    }
    let mut canonical = String::with_capacity(path.len() + 1);
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => return Err(PathError::ParentComponent(path.to_owned())),
            name => {
                canonical.push('/');
                canonical.push_str(name);
            }
        }
    }
    if canonical.is_empty() {
        canonical.push('/');
    }
    Ok(Cow::Owned(canonical))
}

/// What one pass over a path's bytes found.
struct ByteShape {
    /// Only ASCII: no invisible format character can be present.
    ascii: bool,
    /// An ASCII control character (C0 or DEL) is present.
    control: bool,
    /// Absolute, no empty, `.` or `..` component, no trailing `/` (or `/`).
    canonical: bool,
}

fn scan_bytes(bytes: &[u8]) -> ByteShape {
    let mut ascii = true;
    let mut control = false;
    let mut canonical = bytes.first() == Some(&b'/');
    // Start of the current component (just after its `/`).
    let mut start = 1;
    for (index, &byte) in bytes.iter().enumerate() {
        match byte {
            b'/' if index == 0 => {}
            b'/' => {
                canonical &= !matches!(&bytes[start..index], b"" | b"." | b"..");
                start = index + 1;
            }
            0x00..=0x1f | 0x7f => control = true,
            0x80.. => ascii = false,
            _ => {}
        }
    }
    if bytes.len() > 1 {
        canonical &= !matches!(&bytes[start..], b"" | b"." | b"..");
    }
    ByteShape {
        ascii,
        control,
        canonical,
    }
}

/// Canonicalise, then apply the root's aliases.
pub fn resolve(path: &str, aliases: &AliasTable) -> Result<String, PathError> {
    resolve_borrowed(path, aliases).map(Cow::into_owned)
}

/// [`resolve`] without copying when the path is already canonical and no
/// alias applies (the common case).
pub fn resolve_borrowed<'a>(
    path: &'a str,
    aliases: &AliasTable,
) -> Result<Cow<'a, str>, PathError> {
    match canonicalize(path)? {
        Cow::Borrowed(canonical) => Ok(aliases.apply(canonical)),
        Cow::Owned(canonical) => Ok(Cow::Owned(aliases.apply(&canonical).into_owned())),
    }
}

/// The key under which two names are "the same" to a human or to a
/// case-insensitive / normalising filesystem: NFKC, then lowercase.
fn twin_key(path: &str) -> String {
    path.nfkc().collect::<String>().to_lowercase()
}

/// Pairs of distinct paths in one package that differ only by case or by
/// Unicode normalisation (`README`/`readme`, NFC/NFD `é`). On ext4 casefold,
/// APFS or NTFS they would collide; to a reader they are the same file.
pub fn find_twins<'a>(paths: impl IntoIterator<Item = &'a str>) -> Vec<(String, String)> {
    let mut seen: HashMap<String, &'a str> = HashMap::new();
    let mut twins = Vec::new();
    for path in paths {
        match seen.entry(twin_key(path)) {
            std::collections::hash_map::Entry::Occupied(first) => {
                if *first.get() != path {
                    twins.push(((*first.get()).to_owned(), path.to_owned()));
                }
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(path);
            }
        }
    }
    twins
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threats_23_dot_and_double_slash_normalise() {
        assert_eq!(canonicalize("usr/./bin/x").unwrap(), "/usr/bin/x");
        assert_eq!(canonicalize("usr//bin/x").unwrap(), "/usr/bin/x");
        assert_eq!(canonicalize("./usr/bin/x/").unwrap(), "/usr/bin/x");
        assert_eq!(canonicalize("./").unwrap(), "/");
        assert!(matches!(
            canonicalize("./usr/share/foo/../../bin/x"),
            Err(PathError::ParentComponent(_))
        ));
    }

    #[test]
    fn threats_25_usrmerge_alias_resolves_to_usr() {
        let aliases = AliasTable::usrmerge();
        assert_eq!(
            resolve("/lib/security/pam_evil.so", &aliases).unwrap(),
            "/usr/lib/security/pam_evil.so"
        );
        assert_eq!(
            resolve("/lib64/ld.so", &aliases).unwrap(),
            "/usr/lib64/ld.so"
        );
        assert_eq!(resolve("/library/x", &aliases).unwrap(), "/library/x");
        assert_eq!(resolve("/bin", &aliases).unwrap(), "/usr/bin");
        assert_eq!(resolve("/lib/x", &AliasTable::none()).unwrap(), "/lib/x");
    }

    #[test]
    fn threats_30_invisible_characters_are_refused_and_twins_found() {
        assert!(matches!(
            canonicalize("/etc/pass\u{200c}wd"),
            Err(PathError::InvisibleCharacter(_, '\u{200c}'))
        ));
        assert!(matches!(
            canonicalize("/usr/share/a\nb"),
            Err(PathError::ControlCharacter(_, '\n'))
        ));
        let twins = find_twins([
            "/usr/share/doc/README",
            "/usr/share/doc/readme",
            "/caf\u{e9}",
            "/cafe\u{301}",
            "/x",
        ]);
        assert_eq!(twins.len(), 2);
        assert!(find_twins(["/a", "/b", "/a"]).is_empty());
    }
}
