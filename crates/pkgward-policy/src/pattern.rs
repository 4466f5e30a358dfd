//! Glob patterns for paths and names, and an indexed set of path patterns.
//!
//! Path patterns are absolute and component-wise: `*` and `?` never cross a
//! `/`, a whole component `**` matches zero or more components. This is the
//! `literal_separator` behaviour of ripgrep's globset, written here so that
//! (a) the `{name}` placeholder can be substituted per package, (b) a pattern
//! knows its literal prefix, which decides whether it *names* a guarded
//! location, and (c) sets of patterns are indexed by literal prefix so that a
//! 1,000-rule policy still decides a path with a handful of hash lookups.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A small, fast, non-cryptographic hasher for the prefix index (the
/// multiply-rotate of rustc's `FxHasher`). The keys stored are
/// policy-controlled path prefixes (packages only look them up), so flooding
/// resistance is not needed here, and `SipHash` would dominate the cost of a
/// decision.
#[derive(Debug, Default, Clone, Copy)]
pub struct PrefixHasher {
    hash: u64,
}

impl Hasher for PrefixHasher {
    fn write(&mut self, bytes: &[u8]) {
        const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().expect("8-byte chunk"));
            self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
        }
        for &byte in chunks.remainder() {
            self.hash = (self.hash.rotate_left(5) ^ u64::from(byte)).wrapping_mul(SEED);
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.write(&[byte]);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

type PrefixMap = HashMap<Box<str>, Vec<u32>, BuildHasherDefault<PrefixHasher>>;
use std::fmt;

/// Why a pattern text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("path pattern `{0}` is not absolute")]
    NotAbsolute(String),
    #[error("path pattern `{0}` has an empty component (`//`) or a trailing `/`")]
    EmptyComponent(String),
    #[error("path pattern `{0}` contains a `.` or `..` component")]
    DotComponent(String),
    #[error("pattern `{0}` uses `**` inside a component; `**` must be a whole component")]
    DoubleStarInComponent(String),
    #[error(
        "pattern `{0}` contains `{1}`, which is not supported (only `*`, `?`, `**` and `{{name}}`)"
    )]
    Unsupported(String, char),
    #[error("pattern `{0}` contains a `{{` that is not the `{{name}}` placeholder")]
    BadPlaceholder(String),
    #[error("pattern `{0}` contains a control character")]
    ControlCharacter(String),
    #[error("pattern `{0}` is empty")]
    Empty(String),
}

/// A piece of one component pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(Box<str>),
    Star,
    Question,
}

/// One component of a path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Component {
    Literal(Box<str>),
    Wild(Box<[Piece]>),
    DoubleStar,
}

/// A compiled glob over one name (no `/`): package names, users, units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameGlob {
    text: String,
    pieces: Box<[Piece]>,
    literal: bool,
}

fn parse_pieces(text: &str, whole: &str) -> Result<Vec<Piece>, PatternError> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut characters = text.chars();
    while let Some(character) = characters.next() {
        match character {
            '*' => {
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal).into()));
                }
                if pieces.last() != Some(&Piece::Star) {
                    pieces.push(Piece::Star);
                }
            }
            '?' => {
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal).into()));
                }
                pieces.push(Piece::Question);
            }
            '[' | ']' | '\\' | '}' => {
                return Err(PatternError::Unsupported(whole.to_owned(), character));
            }
            '{' => {
                let rest: String = characters.by_ref().take(5).collect();
                if rest != "name}" {
                    return Err(PatternError::BadPlaceholder(whole.to_owned()));
                }
                // Placeholders are substituted before compilation; reaching
                // one here means the caller compiled an unsubstituted text.
                literal.push_str("{name}");
            }
            c if c.is_control() => return Err(PatternError::ControlCharacter(whole.to_owned())),
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal.into()));
    }
    Ok(pieces)
}

/// Length in bytes of the UTF-8 character starting with `byte`.
fn utf8_width(byte: u8) -> usize {
    match byte {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

/// Wildcard match of one component (no `/` inside), iterative with
/// single-star backtracking: linear in practice, no recursion.
fn pieces_match(pieces: &[Piece], text: &str) -> bool {
    let bytes = text.as_bytes();
    let (mut piece_index, mut position) = (0usize, 0usize);
    let mut backtrack: Option<(usize, usize)> = None;
    loop {
        if piece_index < pieces.len() {
            match &pieces[piece_index] {
                Piece::Star => {
                    backtrack = Some((piece_index, position));
                    piece_index += 1;
                    continue;
                }
                Piece::Question => {
                    if position < bytes.len() {
                        position += utf8_width(bytes[position]);
                        piece_index += 1;
                        continue;
                    }
                }
                Piece::Literal(literal) => {
                    if bytes[position..].starts_with(literal.as_bytes()) {
                        position += literal.len();
                        piece_index += 1;
                        continue;
                    }
                }
            }
        } else if position == bytes.len() {
            return true;
        }
        match backtrack {
            Some((star_index, star_position)) if star_position < bytes.len() => {
                let next = star_position + utf8_width(bytes[star_position]);
                backtrack = Some((star_index, next));
                piece_index = star_index + 1;
                position = next;
            }
            _ => return false,
        }
    }
}

impl NameGlob {
    /// Parse a name glob (`python3-*`, `redis-server@`, `*`).
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        if text.is_empty() {
            return Err(PatternError::Empty(text.to_owned()));
        }
        if let Some(c) = text.chars().find(|c| *c == '/' || *c == '{') {
            return Err(PatternError::Unsupported(text.to_owned(), c));
        }
        let pieces = parse_pieces(text, text)?;
        let literal = pieces.iter().all(|p| matches!(p, Piece::Literal(_)));
        Ok(Self {
            text: text.to_owned(),
            pieces: pieces.into(),
            literal,
        })
    }

    pub fn is_match(&self, name: &str) -> bool {
        if self.literal {
            return self.text == name;
        }
        pieces_match(&self.pieces, name)
    }

    /// True when the glob has no wildcard: it names exactly one thing.
    pub fn is_literal(&self) -> bool {
        self.literal
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for NameGlob {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.text)
    }
}

/// A compiled absolute path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    text: String,
    components: Box<[Component]>,
    /// Number of leading literal components.
    literal_prefix_length: usize,
}

/// Check a path pattern's syntax, with `{name}` still in it.
pub fn validate_path_pattern(text: &str) -> Result<(), PatternError> {
    PathPattern::parse(&text.replace("{name}", "placeholder")).map(|_| ())?;
    // Also catch a malformed placeholder, which the replacement above hides
    // only when well-formed.
    parse_pieces(text, text).map(|_| ())
}

impl PathPattern {
    /// Parse an absolute pattern such as `/usr/share/doc/{name}/**` (after
    /// placeholder substitution).
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        if text.is_empty() {
            return Err(PatternError::Empty(text.to_owned()));
        }
        if !text.starts_with('/') {
            return Err(PatternError::NotAbsolute(text.to_owned()));
        }
        let mut components = Vec::new();
        if text != "/" {
            for part in text[1..].split('/') {
                if part.is_empty() {
                    return Err(PatternError::EmptyComponent(text.to_owned()));
                }
                if part == "." || part == ".." {
                    return Err(PatternError::DotComponent(text.to_owned()));
                }
                if part == "**" {
                    if components.last() != Some(&Component::DoubleStar) {
                        components.push(Component::DoubleStar);
                    }
                    continue;
                }
                if part.contains("**") {
                    return Err(PatternError::DoubleStarInComponent(text.to_owned()));
                }
                let pieces = parse_pieces(part, text)?;
                if let [Piece::Literal(literal)] = pieces.as_slice() {
                    components.push(Component::Literal(literal.clone()));
                } else {
                    components.push(Component::Wild(pieces.into()));
                }
            }
        }
        let literal_prefix_length = components
            .iter()
            .take_while(|c| matches!(c, Component::Literal(_)))
            .count();
        Ok(Self {
            text: text.to_owned(),
            components: components.into(),
            literal_prefix_length,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True when the pattern has no wildcard at all.
    pub fn is_literal(&self) -> bool {
        self.literal_prefix_length == self.components.len()
    }

    /// The literal leading components, as an absolute path (`/` when none).
    pub fn literal_prefix(&self) -> String {
        let mut prefix = String::new();
        for component in &self.components[..self.literal_prefix_length] {
            if let Component::Literal(literal) = component {
                prefix.push('/');
                prefix.push_str(literal);
            }
        }
        if prefix.is_empty() {
            prefix.push('/');
        }
        prefix
    }

    fn literal_components(&self) -> impl Iterator<Item = &str> {
        self.components[..self.literal_prefix_length]
            .iter()
            .filter_map(|c| match c {
                Component::Literal(literal) => Some(&**literal),
                _ => None,
            })
    }

    /// Match a canonical absolute path given as its components.
    pub fn matches_components(&self, path: &[&str]) -> bool {
        components_match(&self.components, path)
    }

    /// Match a canonical absolute path.
    pub fn is_match(&self, path: &str) -> bool {
        let components = split_path(path);
        self.matches_components(&components)
    }

    /// The components that locate this pattern's directory: all but a
    /// trailing `**` or trailing bare `*`. A grant pattern *names* this
    /// (guarded) pattern when the grant's literal prefix reaches that deep.
    fn head(&self) -> &[Component] {
        match self.components.last() {
            Some(Component::DoubleStar) => &self.components[..self.components.len() - 1],
            Some(Component::Wild(pieces)) if pieces.as_ref() == [Piece::Star] => {
                &self.components[..self.components.len() - 1]
            }
            _ => &self.components,
        }
    }

    /// Whether `self` (a grant pattern) names the guarded `location`: it is
    /// the same pattern text, or its literal prefix reaches at least as deep
    /// as the location's directory and matches it there. `/**` and `/etc/**`
    /// never name `/etc/cron.d/**`; `/etc/cron.d/*` and
    /// `/etc/cron.d/backup` do.
    pub fn names_location(&self, location: &PathPattern) -> bool {
        if self.text == location.text {
            return true;
        }
        let head = location.head();
        if self.literal_prefix_length < head.len() {
            return false;
        }
        head.iter()
            .zip(self.literal_components())
            .all(|(component, literal)| match component {
                Component::Literal(expected) => **expected == *literal,
                Component::Wild(pieces) => pieces_match(pieces, literal),
                Component::DoubleStar => false,
            })
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.text)
    }
}

fn components_match(pattern: &[Component], path: &[&str]) -> bool {
    match pattern.first() {
        None => path.is_empty(),
        Some(Component::DoubleStar) => {
            let rest = &pattern[1..];
            if rest.is_empty() {
                return true;
            }
            (0..=path.len()).any(|skip| components_match(rest, &path[skip..]))
        }
        Some(Component::Literal(literal)) => {
            path.first().is_some_and(|first| **literal == **first)
                && components_match(&pattern[1..], &path[1..])
        }
        Some(Component::Wild(pieces)) => {
            path.first()
                .is_some_and(|first| pieces_match(pieces, first))
                && components_match(&pattern[1..], &path[1..])
        }
    }
}

/// Split a canonical absolute path into components (`/` → none).
pub fn split_path(path: &str) -> Vec<&str> {
    if path == "/" || path.is_empty() {
        return Vec::new();
    }
    path.trim_start_matches('/').split('/').collect()
}

/// A set of path patterns, each tagged with a value, indexed by literal
/// prefix. Lookups try the path's ancestors (`/`, `/usr`, `/usr/bin`, …)
/// in a hash map, so cost grows with path depth, not with the rule count.
#[derive(Debug, Clone)]
pub struct PatternSet<T> {
    entries: Vec<(PathPattern, T)>,
    by_prefix: PrefixMap,
    /// Bit `d` is set when some pattern has a literal prefix of `d`
    /// components (63 = 63 or more): lookups skip depths no pattern has.
    depths: u64,
}

impl<T> Default for PatternSet<T> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            by_prefix: PrefixMap::default(),
            depths: 0,
        }
    }
}

fn depth_bit(depth: usize) -> u64 {
    1 << depth.min(63)
}

impl<T> PatternSet<T> {
    pub fn push(&mut self, pattern: PathPattern, value: T) {
        let index = u32::try_from(self.entries.len()).expect("fewer than 2^32 patterns");
        let prefix = pattern.literal_prefix();
        self.depths |= depth_bit(pattern.literal_prefix_length);
        self.by_prefix
            .entry(prefix.into_boxed_str())
            .or_default()
            .push(index);
        self.entries.push((pattern, value));
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &(PathPattern, T)> {
        self.entries.iter()
    }

    /// All entries matching `path` (given with its components) for which
    /// `accept` holds, the earliest-defined one first.
    pub fn first_match(
        &self,
        path: &str,
        components: &[&str],
        mut accept: impl FnMut(&PathPattern, &T) -> bool,
    ) -> Option<&(PathPattern, T)> {
        if self.entries.is_empty() {
            return None;
        }
        let mut best: Option<u32> = None;
        let mut consider = |prefix: &str| {
            if let Some(indices) = self.by_prefix.get(prefix) {
                for &index in indices {
                    if best.is_some_and(|b| b < index) {
                        break;
                    }
                    let (pattern, value) = &self.entries[index as usize];
                    if pattern.matches_components(components) && accept(pattern, value) {
                        best = Some(index);
                        break;
                    }
                }
            }
        };
        if self.depths & 1 != 0 {
            consider("/");
        }
        if path != "/" {
            let (mut end, mut depth) = (0, 1);
            while let Some(offset) = path[end + 1..].find('/') {
                end = end + 1 + offset;
                if self.depths & depth_bit(depth) != 0 {
                    consider(&path[..end]);
                }
                depth += 1;
            }
            if self.depths & depth_bit(depth) != 0 || depth >= 63 {
                consider(path);
            }
        }
        best.map(|index| &self.entries[index as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, path: &str) -> bool {
        PathPattern::parse(pattern).unwrap().is_match(path)
    }

    #[test]
    fn star_stops_at_slash_and_double_star_crosses() {
        assert!(matches("/usr/bin/*", "/usr/bin/hello"));
        assert!(!matches("/usr/bin/*", "/usr/bin/sub/hello"));
        assert!(matches("/usr/**", "/usr/bin/sub/hello"));
        assert!(matches("/usr/**/hello", "/usr/hello"));
        assert!(matches("/usr/**/hello", "/usr/a/b/hello"));
        assert!(!matches("/usr/**/hello", "/usr/a/b/hello2"));
        assert!(matches("/**", "/"));
        assert!(matches("/usr/bin/redis-*", "/usr/bin/redis-server"));
        assert!(matches("/etc/rc?.d/**", "/etc/rc2.d/S01x"));
        assert!(!matches("/etc/rc?.d/**", "/etc/rc.d/S01x"));
        assert!(matches("/a/*.pth", "/a/x.pth"));
        assert!(matches("/a/*x*y", "/a/xxyxy"));
        assert!(matches("/a/?é", "/a/bé"));
        assert!(matches("/a/é?", "/a/éé"));
    }

    #[test]
    fn pattern_syntax_errors() {
        assert!(matches!(
            PathPattern::parse("usr/*"),
            Err(PatternError::NotAbsolute(_))
        ));
        assert!(matches!(
            PathPattern::parse("/usr//x"),
            Err(PatternError::EmptyComponent(_))
        ));
        assert!(matches!(
            PathPattern::parse("/usr/"),
            Err(PatternError::EmptyComponent(_))
        ));
        assert!(matches!(
            PathPattern::parse("/usr/../x"),
            Err(PatternError::DotComponent(_))
        ));
        assert!(matches!(
            PathPattern::parse("/usr/a**"),
            Err(PatternError::DoubleStarInComponent(_))
        ));
        assert!(matches!(
            PathPattern::parse("/usr/[ab]"),
            Err(PatternError::Unsupported(_, '['))
        ));
        assert!(validate_path_pattern("/usr/share/doc/{name}/**").is_ok());
        assert!(matches!(
            validate_path_pattern("/usr/{nam}/x"),
            Err(PatternError::BadPlaceholder(_))
        ));
    }

    #[test]
    fn naming_a_guarded_location_requires_depth() {
        let cron = PathPattern::parse("/etc/cron.d/**").unwrap();
        let names = |grant: &str| PathPattern::parse(grant).unwrap().names_location(&cron);
        assert!(!names("/**"));
        assert!(!names("/etc/**"));
        assert!(!names("/etc/cron*/**"));
        assert!(names("/etc/cron.d/**"));
        assert!(names("/etc/cron.d/*"));
        assert!(names("/etc/cron.d/backup"));
        let pam = PathPattern::parse("/usr/lib/*/security/**").unwrap();
        assert!(PathPattern::parse("/usr/lib/x86_64-linux-gnu/security/*")
            .unwrap()
            .names_location(&pam));
        assert!(!PathPattern::parse("/usr/lib/**")
            .unwrap()
            .names_location(&pam));
        let pth = PathPattern::parse("/usr/lib/python3/dist-packages/*.pth").unwrap();
        assert!(!PathPattern::parse("/usr/lib/python3/dist-packages/**")
            .unwrap()
            .names_location(&pth));
        assert!(PathPattern::parse("/usr/lib/python3/dist-packages/x.pth")
            .unwrap()
            .names_location(&pth));
    }

    #[test]
    fn pattern_set_returns_earliest_match() {
        let mut set = PatternSet::default();
        set.push(PathPattern::parse("/usr/**").unwrap(), 0);
        set.push(PathPattern::parse("/**").unwrap(), 1);
        set.push(PathPattern::parse("/usr/bin/x").unwrap(), 2);
        let path = "/usr/bin/x";
        let components = split_path(path);
        assert_eq!(
            set.first_match(path, &components, |_, _| true).unwrap().1,
            0
        );
        assert_eq!(
            set.first_match(path, &components, |_, v| *v != 0)
                .unwrap()
                .1,
            1
        );
        assert_eq!(
            set.first_match(path, &components, |_, v| *v == 2)
                .unwrap()
                .1,
            2
        );
        assert!(set.first_match("/etc", &["etc"], |_, v| *v == 0).is_none());
    }

    #[test]
    fn name_globs() {
        let glob = NameGlob::parse("python3-*").unwrap();
        assert!(glob.is_match("python3-yaml"));
        assert!(!glob.is_match("python3"));
        assert!(NameGlob::parse("a/b").is_err());
        assert!(NameGlob::parse("").is_err());
    }
}
