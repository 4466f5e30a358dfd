//! The package model: what a package *is*, independent of its container
//! format. Readers (`crate::deb`, later rpm) produce a [`Package`]; policy,
//! planning and the install engine consume it. Everything here is plain data
//! plus the pure parsing rules that define it (relation syntax, canonical
//! archive paths), so it never touches the filesystem.

use crate::version::Version;
pub use crate::version::VersionOp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The container format a package was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Deb,
    Rpm,
}

/// One package as read from its artifact: metadata, scripts and the full list
/// of data entries with their content digests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub format: Format,
    pub name: String,
    pub version: Version,
    pub architecture: String,
    /// The whole `Description` field (synopsis line, then the long text as shipped).
    pub description: String,
    pub maintainer: Option<String>,
    pub relations: Relations,
    /// The whole control paragraph, in order, as shipped.
    pub fields: Vec<(String, String)>,
    pub scripts: Vec<Script>,
    /// Canonical absolute paths of the conffiles (`/etc/foo.conf`).
    pub conffiles: Vec<String>,
    pub triggers: Vec<Trigger>,
    /// `(canonical path, md5 hex)` from the `md5sums` control file.
    pub md5sums: Vec<(String, String)>,
    /// Data archive entries, in archive order.
    pub entries: Vec<Entry>,
    /// sha256 (hex) of the whole artifact file.
    pub artifact_sha256: String,
    /// Sum of the sizes of all regular-file entries, in bytes.
    pub installed_size: u64,
}

impl Package {
    /// The value of a control field, matched case-insensitively as deb822 does.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field_name, _)| field_name.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The maintainer script of the given kind, if the package ships one.
    pub fn script(&self, name: ScriptName) -> Option<&Script> {
        self.scripts.iter().find(|script| script.name == name)
    }
}

/// Relationship fields. Each field is a conjunction (outer `Vec`, all must
/// hold) of disjunctions (inner `Vec`, alternatives separated by `|`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relations {
    pub depends: Vec<Vec<Relation>>,
    pub pre_depends: Vec<Vec<Relation>>,
    pub recommends: Vec<Vec<Relation>>,
    pub suggests: Vec<Vec<Relation>>,
    pub conflicts: Vec<Vec<Relation>>,
    pub breaks: Vec<Vec<Relation>>,
    pub replaces: Vec<Vec<Relation>>,
    pub provides: Vec<Vec<Relation>>,
}

impl Relations {
    /// The same relations with every version read by rpm's rules. Versions
    /// travel as text (serde, the database); relations read back for an
    /// installed `.rpm` package (its recorded format says so) must compare
    /// with `rpmvercmp`, also against one another (docs/rpm.md, *Versions*).
    pub fn into_rpm_scheme(mut self) -> Result<Self, crate::version::VersionError> {
        for field in [
            &mut self.depends,
            &mut self.pre_depends,
            &mut self.recommends,
            &mut self.suggests,
            &mut self.conflicts,
            &mut self.breaks,
            &mut self.replaces,
            &mut self.provides,
        ] {
            for relation in field.iter_mut().flatten() {
                if let Some((_, version)) = &mut relation.constraint {
                    *version = Version::parse_rpm(version.as_str())?;
                }
            }
        }
        Ok(self)
    }
}

/// One package name with an optional architecture qualifier and version
/// constraint, e.g. `libc6:any (>= 2.34)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relation {
    pub name: String,
    pub arch: Option<String>,
    pub constraint: Option<(VersionOp, Version)>,
}

impl fmt::Display for Relation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.name)?;
        if let Some(arch) = &self.arch {
            write!(formatter, ":{arch}")?;
        }
        if let Some((op, version)) = &self.constraint {
            write!(formatter, " ({op} {version})")?;
        }
        Ok(())
    }
}

/// A relationship field could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid relation `{text}`: {reason}")]
pub struct RelationError {
    pub text: String,
    pub reason: String,
}

/// Parse a relationship field (`Depends` syntax): `a (>= 1) | b, c:any`.
///
/// Architecture restriction lists (`[amd64]`) and build profiles (`<!nocheck>`)
/// belong to source packages only; dpkg refuses them in binary control files,
/// and so do we.
pub fn parse_relations(field: &str) -> Result<Vec<Vec<Relation>>, RelationError> {
    let mut conjunction = Vec::new();
    for group_text in field.split(',') {
        let group_text = group_text.trim();
        if group_text.is_empty() {
            // dpkg tolerates a trailing comma and empty fields.
            continue;
        }
        let mut alternatives = Vec::new();
        for alternative_text in group_text.split('|') {
            alternatives.push(parse_one_relation(alternative_text.trim())?);
        }
        conjunction.push(alternatives);
    }
    Ok(conjunction)
}

fn parse_one_relation(text: &str) -> Result<Relation, RelationError> {
    let error = |reason: &str| RelationError {
        text: text.to_owned(),
        reason: reason.to_owned(),
    };
    let (name_part, rest) = match text.find(|c: char| c == '(' || c.is_whitespace()) {
        Some(index) => (&text[..index], text[index..].trim()),
        None => (text, ""),
    };
    let (name, arch) = match name_part.split_once(':') {
        Some((name, arch)) => (name, Some(arch.to_owned())),
        None => (name_part, None),
    };
    if !is_valid_package_name(name) {
        return Err(error("package names are lowercase letters, digits and `+-.`, starting with a letter or digit"));
    }
    if let Some(arch) = &arch {
        if arch.is_empty()
            || !arch
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
        {
            return Err(error("invalid architecture qualifier"));
        }
    }
    let constraint = if rest.is_empty() {
        None
    } else {
        let inner = rest
            .strip_prefix('(')
            .and_then(|inner| inner.strip_suffix(')'))
            .ok_or_else(|| {
                error("expected a version constraint in parentheses (architecture lists and build profiles are not allowed in binary packages)")
            })?
            .trim();
        let operator_length = inner
            .bytes()
            .take_while(|byte| matches!(byte, b'<' | b'>' | b'='))
            .count();
        let op = VersionOp::parse(&inner[..operator_length])
            .ok_or_else(|| error("unknown version operator"))?;
        let version_text = inner[operator_length..].trim();
        let version = Version::parse(version_text).map_err(|version_error| RelationError {
            text: text.to_owned(),
            reason: version_error.to_string(),
        })?;
        Some((op, version))
    };
    Ok(Relation {
        name: name.to_owned(),
        arch,
        constraint,
    })
}

/// Debian policy 5.6.1: at least two characters, lowercase letters, digits,
/// `+`, `-`, `.`, starting with an alphanumeric character.
pub fn is_valid_package_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() >= 2
        && bytes[0].is_ascii_alphanumeric()
        && bytes.iter().all(|&byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'+' | b'-' | b'.')
        })
}

/// Maintainer script kinds. The first five are dpkg's; rpm's `%pre`,
/// `%post`, `%preun` and `%postun` map onto `preinst`, `postinst`, `prerm`
/// and `postrm` (same moments of the transaction), and the rest exist only
/// in `.rpm` packages (see `crate::rpm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScriptName {
    Preinst,
    Postinst,
    Prerm,
    Postrm,
    /// debconf's `config` script (run before `preinst` by debconf).
    Config,
    /// rpm `%pretrans`: before any package of the transaction is installed.
    Pretrans,
    /// rpm `%posttrans`: after every package of the transaction is installed.
    Posttrans,
    /// rpm `%preuntrans` (rpm ≥ 4.20): before any package is removed.
    Preuntrans,
    /// rpm `%postuntrans` (rpm ≥ 4.20): after every package is removed.
    Postuntrans,
    /// An rpm package trigger scriptlet (`%triggerprein`, `%triggerin`,
    /// `%triggerun`, `%triggerpostun`); its condition is the [`Trigger`]
    /// whose `script` points at it.
    Trigger,
    /// An rpm file trigger scriptlet (`%filetrigger*`, `%transfiletrigger*`).
    FileTrigger,
}

impl ScriptName {
    /// The dpkg control archive scripts (the rpm-only kinds have no member name).
    pub const ALL: [Self; 5] = [
        Self::Preinst,
        Self::Postinst,
        Self::Prerm,
        Self::Postrm,
        Self::Config,
    ];

    /// The control archive member name of this script.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Preinst => "preinst",
            Self::Postinst => "postinst",
            Self::Prerm => "prerm",
            Self::Postrm => "postrm",
            Self::Config => "config",
            Self::Pretrans => "pretrans",
            Self::Posttrans => "posttrans",
            Self::Preuntrans => "preuntrans",
            Self::Postuntrans => "postuntrans",
            Self::Trigger => "trigger",
            Self::FileTrigger => "filetrigger",
        }
    }

    pub fn from_control_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|script| script.as_str() == name)
    }
}

impl fmt::Display for ScriptName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A maintainer script with its full content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Script {
    pub name: ScriptName,
    /// The interpreter named on the `#!` line (`/bin/sh`), if there is one.
    pub interpreter: Option<String>,
    pub bytes: Vec<u8>,
}

/// One directive of the `triggers` control file, e.g. `interest-noawait
/// /usr/share/icons`, or one condition of an rpm trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    /// dpkg: `interest`, `interest-await`, `interest-noawait`, `activate`,
    /// `activate-await` or `activate-noawait`. rpm: the scriptlet section,
    /// `triggerprein`, `triggerin`, `triggerun`, `triggerpostun`,
    /// `filetriggerin`, …, `transfiletriggerpostun`.
    pub directive: String,
    /// dpkg: the trigger name. rpm: the condition, a package relation
    /// (`bash >= 5`) or a path prefix (`/usr/lib/modules`).
    pub name: String,
    /// rpm only: the index in [`Package::scripts`] of the scriptlet this
    /// condition runs. dpkg triggers run `postinst triggered`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<usize>,
}

/// The type of a data entry. Devices, FIFOs, sockets and sparse files are
/// rejected by the readers, so they have no variant here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Hardlink,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Dir => "dir",
            Self::Symlink => "symlink",
            Self::Hardlink => "hardlink",
        }
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// One entry of the data archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Canonical absolute path: `/usr/bin/hello`; `/` for the root entry
    /// `./`; no trailing slash, no `.` or `..` components, valid UTF-8.
    pub path: String,
    pub kind: EntryKind,
    /// Permission bits including setuid/setgid/sticky (`mode & 0o7777`).
    pub mode: u32,
    /// Owner and group *names* as shipped (`root`); an archive without names
    /// yields the numeric id as text.
    pub owner: String,
    pub group: String,
    /// Numeric ids as shipped; informational only (ownership comes from policy).
    pub uid: u64,
    pub gid: u64,
    /// Content size in bytes; 0 for anything but regular files.
    pub size: u64,
    /// Symlink: the target exactly as shipped. Hardlink: the canonical
    /// absolute path of the entry it links to.
    pub target: Option<String>,
    /// sha256 (hex) of the content, regular files only.
    pub sha256: Option<String>,
}

/// Whether a streaming read computes each file's sha256 (and, for rpm,
/// checks the header's declared file digests). Planning needs the digests;
/// a second read for staging does not when its caller compares the whole
/// artifact's sha256 with the one it planned from, which covers every byte
/// of every file (the engine's `ContentSource::checks_artifact`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileDigests {
    /// Hash every file; `Entry::sha256` is set in the returned package.
    Compute,
    /// Hash nothing but the artifact; `Entry::sha256` stays `None`.
    Skip,
}

/// Resource limits for readers. Archives are attacker-controlled: these bound
/// what a hostile package can make us decompress, allocate or store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Total bytes after decompression over the control and data archives
    /// (tar headers included). Defends against size bombs (THREATS 14).
    pub max_total_uncompressed: u64,
    /// Number of data archive entries.
    pub max_entries: u64,
    /// Canonical path length in bytes (Linux `PATH_MAX` is 4096 including NUL).
    pub max_path_len: usize,
    /// One path component in bytes (`NAME_MAX` is 255).
    pub max_component_len: usize,
    /// Symlink target length in bytes.
    pub max_target_len: usize,
    /// Largest xz/lzma dictionary we accept, enforced through liblzma's
    /// memory limit (THREATS 13).
    pub max_xz_dict: u64,
    /// Largest zstd window as a power of two (THREATS 13).
    pub max_zstd_window_log: u32,
    /// Size of a single control archive file (control, md5sums, scripts, ...),
    /// which we hold in memory.
    pub max_control_file_size: u64,
    /// Directory nesting depth of a data entry path.
    pub max_path_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // The largest Debian packages unpack to a few GiB; 16 GiB leaves
            // room while still stopping a zero-filled bomb early.
            max_total_uncompressed: 16 << 30,
            max_entries: 1_000_000,
            max_path_len: 4095,
            max_component_len: 255,
            max_target_len: 4095,
            // xz -9 uses a 64 MiB dictionary; liblzma needs somewhat more
            // than the dictionary size, so this is the memory limit we pass.
            max_xz_dict: 128 << 20,
            // zstd's default maximum for decoders (`ZSTD_WINDOWLOG_LIMIT_DEFAULT`) is 27 (128 MiB).
            max_zstd_window_log: 27,
            max_control_file_size: 64 << 20,
            max_path_depth: 128,
        }
    }
}

/// Why an archive path was refused by [`canonical_entry_path`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathProblem {
    #[error("path is empty")]
    Empty,
    #[error("path is absolute (archive paths must be relative like `./usr/bin/x`)")]
    Absolute,
    #[error("path contains a `..` component")]
    ParentComponent,
    #[error("path contains a control character (newline, escape, ...)")]
    ControlCharacter,
    #[error("path contains a NUL byte")]
    Nul,
    #[error("path is {length} bytes long, the limit is {limit}")]
    TooLong { length: usize, limit: usize },
    #[error("path component is {length} bytes long, the limit is {limit}")]
    ComponentTooLong { length: usize, limit: usize },
    #[error("path is {depth} levels deep, the limit is {limit}")]
    TooDeep { depth: usize, limit: usize },
    #[error("path ends in `/` but the entry is not a directory")]
    TrailingSlashOnNonDirectory,
}

/// Turn a path as stored in a data archive (`./usr/bin/x`, `usr//bin/x`,
/// `./`) into the canonical absolute form used everywhere else
/// (`/usr/bin/x`, `/`).
///
/// `.` components and repeated slashes are dropped (THREATS 23: policy then
/// sees the real location). Absolute paths and `..` components are refused
/// outright rather than "fixed", because every extractor that tried to repair
/// them shipped bypasses (CVE-2007-4559 and successors). Control characters are
/// refused so that no line-oriented output or database row can be forged from
/// a name (THREATS 19).
pub fn canonical_entry_path(
    raw: &str,
    is_directory: bool,
    limits: &Limits,
) -> Result<String, PathProblem> {
    if raw.is_empty() {
        return Err(PathProblem::Empty);
    }
    if raw.starts_with('/') {
        return Err(PathProblem::Absolute);
    }
    if raw.contains('\0') {
        return Err(PathProblem::Nul);
    }
    if raw.chars().any(char::is_control) {
        return Err(PathProblem::ControlCharacter);
    }
    if raw.ends_with('/') && !is_directory && raw.trim_end_matches('/') != "." {
        return Err(PathProblem::TrailingSlashOnNonDirectory);
    }
    let mut canonical = String::with_capacity(raw.len() + 1);
    let mut depth = 0;
    for component in raw.split('/') {
        match component {
            "" | "." => {}
            ".." => return Err(PathProblem::ParentComponent),
            _ => {
                if component.len() > limits.max_component_len {
                    return Err(PathProblem::ComponentTooLong {
                        length: component.len(),
                        limit: limits.max_component_len,
                    });
                }
                canonical.push('/');
                canonical.push_str(component);
                depth += 1;
            }
        }
    }
    if canonical.is_empty() {
        canonical.push('/');
    }
    if canonical.len() > limits.max_path_len {
        return Err(PathProblem::TooLong {
            length: canonical.len(),
            limit: limits.max_path_len,
        });
    }
    if depth > limits.max_path_depth {
        return Err(PathProblem::TooDeep {
            depth,
            limit: limits.max_path_depth,
        });
    }
    Ok(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_paths_drop_dots_and_slashes() {
        let limits = Limits::default();
        assert_eq!(canonical_entry_path("./", true, &limits).unwrap(), "/");
        assert_eq!(canonical_entry_path(".", true, &limits).unwrap(), "/");
        assert_eq!(
            canonical_entry_path("./usr/bin/", true, &limits).unwrap(),
            "/usr/bin"
        );
        assert_eq!(
            canonical_entry_path("usr/./bin//x", false, &limits).unwrap(),
            "/usr/bin/x"
        );
        assert_eq!(
            canonical_entry_path("a/", false, &limits),
            Err(PathProblem::TrailingSlashOnNonDirectory)
        );
        assert_eq!(
            canonical_entry_path("usr/../../x", false, &limits),
            Err(PathProblem::ParentComponent)
        );
        assert_eq!(
            canonical_entry_path("/etc/shadow", false, &limits),
            Err(PathProblem::Absolute)
        );
    }

    #[test]
    fn relations_parse_alternatives_and_constraints() {
        let parsed = parse_relations("libc6 (>= 2.34), foo:any | bar (<< 1:2.0-1) ,").unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0][0].name, "libc6");
        assert_eq!(parsed[0][0].constraint.as_ref().unwrap().0, VersionOp::Ge);
        assert_eq!(parsed[1][0].arch.as_deref(), Some("any"));
        assert_eq!(parsed[1][1].to_string(), "bar (<< 1:2.0-1)");
        assert!(parse_relations("foo [amd64]").is_err());
        assert!(parse_relations("foo (~= 1)").is_err());
        assert!(parse_relations("Foo").is_err());
    }
}
