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

/// The prefix index is keyed by a hash of the literal prefix computed
/// component by component, so that a path's ancestors (`/usr`, `/usr/lib`,
/// `/usr/lib/x`, …) are hashed in one pass per decision and every pattern
/// set of the decision reuses them. The mix is the multiply-rotate of
/// rustc's `FxHasher`: the stored prefixes are policy-controlled (packages
/// only look them up), so flooding resistance is not needed, and a
/// collision only costs time: every candidate pattern is matched in full.
const PREFIX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

fn mix(hash: u64, word: u64) -> u64 {
    (hash.rotate_left(5) ^ word).wrapping_mul(PREFIX_SEED)
}

/// The prefix hash of `/` (no component).
const ROOT_PREFIX_HASH: u64 = 0;

/// Extend the hash of a prefix by one more component.
fn extend_prefix_hash(hash: u64, component: &str) -> u64 {
    let mut hash = mix(hash, u64::from(b'/'));
    let mut chunks = component.as_bytes().chunks_exact(8);
    for chunk in &mut chunks {
        hash = mix(
            hash,
            u64::from_le_bytes(chunk.try_into().expect("8-byte chunk")),
        );
    }
    let remainder = chunks.remainder();
    if !remainder.is_empty() {
        // The tail as one zero-padded word: a collision with a name that
        // ends in NUL bytes is impossible (paths hold none) and would only
        // cost a full match anyway.
        let mut word = [0u8; 8];
        word[..remainder.len()].copy_from_slice(remainder);
        hash = mix(hash, u64::from_le_bytes(word));
    }
    hash
}

/// Passes the already-mixed prefix hash through to the map, folding the
/// high bits (best mixed by the multiply) into the low ones it indexes by.
#[derive(Debug, Default, Clone, Copy)]
pub struct PrefixHasher {
    hash: u64,
}

impl Hasher for PrefixHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.hash = mix(self.hash, u64::from(byte));
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.hash = value ^ (value >> 32);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

type PrefixMap = HashMap<u64, Vec<u32>, BuildHasherDefault<PrefixHasher>>;
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

/// Components kept on the stack: deeper paths (rare) fall back to a `Vec`.
const STACK_COMPONENTS: usize = 32;

/// A canonical absolute path prepared once for lookups in many pattern
/// sets: its components and the prefix hash of each ancestor
/// (`prefix_hashes[d]` for the first `d` components).
#[derive(Debug, Clone, Copy)]
pub struct PathKey<'a> {
    pub path: &'a str,
    pub components: &'a [&'a str],
    prefix_hashes: &'a [u64],
}

/// Call `body` with the components of a canonical absolute path, split once
/// into a stack buffer: every pattern set of a decision reuses them, and
/// the common path allocates nothing.
pub fn with_components<R>(path: &str, body: impl FnOnce(&[&str]) -> R) -> R {
    with_path_key(path, |key| body(key.components))
}

/// Call `body` with `path` prepared as a [`PathKey`] (on the stack unless
/// the path is deeper than 32 components).
pub fn with_path_key<R>(path: &str, body: impl FnOnce(&PathKey<'_>) -> R) -> R {
    let mut components = [""; STACK_COMPONENTS];
    let mut prefix_hashes = [ROOT_PREFIX_HASH; STACK_COMPONENTS + 1];
    let mut count = 0;
    let mut push = |component| {
        if count == STACK_COMPONENTS {
            return false;
        }
        prefix_hashes[count + 1] = extend_prefix_hash(prefix_hashes[count], component);
        components[count] = component;
        count += 1;
        true
    };
    let mut fits = true;
    if path != "/" && !path.is_empty() {
        let mut start = 1;
        for (index, &byte) in path.as_bytes().iter().enumerate().skip(1) {
            if byte == b'/' {
                fits &= push(&path[start..index]);
                start = index + 1;
            }
        }
        fits &= push(&path[start..]);
    }
    if !fits {
        let components = split_path(path);
        let prefix_hashes = prefix_hashes_of(&components);
        return body(&PathKey {
            path,
            components: &components,
            prefix_hashes: &prefix_hashes,
        });
    }
    body(&PathKey {
        path,
        components: &components[..count],
        prefix_hashes: &prefix_hashes[..=count],
    })
}

fn prefix_hashes_of(components: &[&str]) -> Vec<u64> {
    let mut hashes = Vec::with_capacity(components.len() + 1);
    hashes.push(ROOT_PREFIX_HASH);
    for component in components {
        let last = *hashes.last().expect("starts with the root");
        hashes.push(extend_prefix_hash(last, component));
    }
    hashes
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
        let prefix_hash = pattern
            .literal_components()
            .fold(ROOT_PREFIX_HASH, extend_prefix_hash);
        self.depths |= depth_bit(pattern.literal_prefix_length);
        self.by_prefix.entry(prefix_hash).or_default().push(index);
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

    /// The earliest-defined entry matching `path` (given with its
    /// components) for which `accept` holds.
    pub fn first_match(
        &self,
        path: &str,
        components: &[&str],
        accept: impl FnMut(&PathPattern, &T) -> bool,
    ) -> Option<&(PathPattern, T)> {
        if self.entries.is_empty() {
            return None;
        }
        let prefix_hashes = prefix_hashes_of(components);
        self.first_match_key(
            &PathKey {
                path,
                components,
                prefix_hashes: &prefix_hashes,
            },
            accept,
        )
    }

    /// [`Self::first_match`] for a path prepared once by [`with_path_key`].
    /// Only depths at which some pattern's literal prefix ends are looked
    /// up, so the cost grows with path depth, not with the rule count.
    pub fn first_match_key(
        &self,
        key: &PathKey<'_>,
        mut accept: impl FnMut(&PathPattern, &T) -> bool,
    ) -> Option<&(PathPattern, T)> {
        if self.entries.is_empty() {
            return None;
        }
        let mut best: Option<u32> = None;
        for (depth, prefix_hash) in key.prefix_hashes.iter().enumerate() {
            if self.depths & depth_bit(depth) == 0 {
                continue;
            }
            let Some(indices) = self.by_prefix.get(prefix_hash) else {
                continue;
            };
            for &index in indices {
                if best.is_some_and(|b| b < index) {
                    break;
                }
                let (pattern, value) = &self.entries[index as usize];
                if pattern.matches_components(key.components) && accept(pattern, value) {
                    best = Some(index);
                    break;
                }
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

    /// `/c0/c1/…` with `depth` components (`/` for none).
    fn deep(depth: usize) -> String {
        if depth == 0 {
            return "/".to_owned();
        }
        (0..depth)
            .map(|i| format!("/c{i}"))
            .collect::<Vec<_>>()
            .concat()
    }

    #[test]
    fn components_on_the_stack_equal_split_path_at_every_depth() {
        for depth in 0..80 {
            let path = deep(depth);
            let expected = split_path(&path);
            with_components(&path, |components| {
                assert_eq!(components, expected, "{path}");
            });
        }
    }

    #[test]
    fn pattern_set_finds_literal_prefixes_at_any_depth() {
        let mut set = PatternSet::default();
        set.push(PathPattern::parse(&format!("{}/**", deep(40))).unwrap(), 40);
        set.push(PathPattern::parse(&format!("{}/*", deep(66))).unwrap(), 66);
        set.push(PathPattern::parse(&deep(3)).unwrap(), 3);
        let found = |set: &PatternSet<usize>, path: &str| {
            with_path_key(path, |key| {
                set.first_match_key(key, |_, _| true)
                    .map(|(_, value)| *value)
            })
        };
        assert_eq!(found(&set, &deep(3)), Some(3));
        assert_eq!(found(&set, &deep(4)), None);
        assert_eq!(found(&set, &deep(41)), Some(40));
        assert_eq!(found(&set, &deep(39)), None);
        let beyond = format!("{}/x", deep(66));
        assert_eq!(found(&set, &beyond), Some(40), "earliest defined wins");
        assert_eq!(found(&set, &deep(67)), Some(40));
        let mut late = PatternSet::default();
        late.push(PathPattern::parse(&format!("{}/*", deep(66))).unwrap(), 66);
        assert_eq!(found(&late, &beyond), Some(66));
        assert_eq!(found(&late, &deep(66)), None);
        // The unprepared entry point agrees.
        let components = split_path(&beyond);
        assert_eq!(
            late.first_match(&beyond, &components, |_, _| true)
                .map(|e| e.1),
            Some(66)
        );
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
