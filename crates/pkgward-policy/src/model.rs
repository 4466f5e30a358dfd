//! The validated policy model: what the files say, with where they said it.
//!
//! Produced by [`crate::parse`]; compiled by [`crate::evaluate`]. Every rule
//! keeps its [`Origin`] so a decision can cite `file:line:column`.

use crate::catalog::GuardedClass;
use crate::version::Version;
use std::fmt;
use std::sync::Arc;

/// Where a rule was written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Origin {
    pub file: Arc<str>,
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Origin {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A value and the place it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub origin: Origin,
}

/// How a package's maintainer scripts may run. Ordered: `none` < `sandboxed`
/// < `unconfined`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScriptMode {
    None,
    Sandboxed,
    Unconfined,
}

impl ScriptMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Sandboxed => "sandboxed",
            Self::Unconfined => "unconfined",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "none" => Some(Self::None),
            "sandboxed" => Some(Self::Sandboxed),
            "unconfined" => Some(Self::Unconfined),
            _ => None,
        }
    }
}

impl fmt::Display for ScriptMode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A name in a `guarded = [...]` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardedName {
    /// `*`: every guarded location.
    Any,
    /// A whole class: `autoexec`, `privilege`, `kernel`, `state`.
    Class(GuardedClass),
    /// One location id: `cron`, `sudoers`, or one defined by `[[guarded]]`.
    Id(String),
}

impl fmt::Display for GuardedName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => formatter.write_str("*"),
            Self::Class(class) => write!(formatter, "{class}"),
            Self::Id(id) => formatter.write_str(id),
        }
    }
}

/// A set of capabilities: used for grants, ceilings and overrides.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Path patterns; may contain `{name}`.
    pub paths: Vec<Located<String>>,
    pub guarded: Vec<Located<GuardedName>>,
    pub users: Vec<Located<String>>,
    pub groups: Vec<Located<String>>,
    /// Unit name globs, matched against `redis-server.service` and its stem
    /// `redis-server` (templates: `getty@`).
    pub services: Vec<Located<String>>,
    /// Path patterns of files that may keep setuid/setgid bits; `*` = any.
    pub setuid: Vec<Located<String>>,
    /// `PATTERN=CAPS`: which file capabilities files at PATTERN may carry.
    pub file_capabilities: Vec<Located<FileCapabilityRule>>,
    pub scripts: Option<Located<ScriptMode>>,
}

impl Capabilities {
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
            && self.guarded.is_empty()
            && self.users.is_empty()
            && self.groups.is_empty()
            && self.services.is_empty()
            && self.setuid.is_empty()
            && self.file_capabilities.is_empty()
            && self.scripts.is_none()
    }
}

/// One item of a `file-capabilities` list: `/usr/bin/ping=cap_net_raw`,
/// `/usr/lib/x/*=cap_net_bind_service,cap_net_raw`, `*=*`.
///
/// The path part is a path pattern (or `*`, any path, as for `setuid`). The
/// capability part is a comma list of libcap names and/or `*`. In a grant
/// or an allow override, `*` stands for every capability *except* the
/// root-equivalent ones ([`pkgward_package::file_capabilities::ROOT_EQUIVALENT`]),
/// which must be written by name; in a ceiling (a bound, as `*` in a
/// ceiling's `users` covers `root`) and in a deny override (denying more is
/// always safe) `*` is every capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCapabilityRule {
    /// A path pattern, or `*` for any path.
    pub path: String,
    /// The capabilities written by name, as a mask.
    pub named: u64,
    /// Whether the list holds `*`.
    pub star: bool,
}

impl FileCapabilityRule {
    /// The capabilities this rule covers; `star_covers_root` for ceilings and deny rules.
    pub fn covered(&self, star_covers_root: bool) -> u64 {
        use pkgward_package::file_capabilities::{root_equivalent_mask, ALL_CAPABILITIES};
        let star = match (self.star, star_covers_root) {
            (false, _) => 0,
            (true, true) => ALL_CAPABILITIES,
            (true, false) => ALL_CAPABILITIES & !root_equivalent_mask(),
        };
        self.named | star
    }
}

impl fmt::Display for FileCapabilityRule {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names = pkgward_package::file_capabilities::capability_names(self.named);
        if self.star {
            names.insert(0, "*");
        }
        write!(formatter, "{}={}", self.path, names.join(","))
    }
}

/// Comparison operator of a version clause (dpkg spelling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionOperator {
    Less,
    LessOrEqual,
    Equal,
    GreaterOrEqual,
    Greater,
}

impl VersionOperator {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Less => "<<",
            Self::LessOrEqual => "<=",
            Self::Equal => "=",
            Self::GreaterOrEqual => ">=",
            Self::Greater => ">>",
        }
    }

    fn accepts(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            Self::Less => ordering == Less,
            Self::LessOrEqual => ordering != Greater,
            Self::Equal => ordering == Equal,
            Self::GreaterOrEqual => ordering != Less,
            Self::Greater => ordering == Greater,
        }
    }
}

/// `>= 5:7.0, << 5:8`: every clause must hold, in dpkg ordering (rpm's for
/// an rpm package: see `Version::cmp_for_relation`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionConstraint {
    pub text: String,
    pub clauses: Vec<(VersionOperator, Version)>,
}

impl VersionConstraint {
    pub fn accepts(&self, version: &Version) -> bool {
        self.clauses
            .iter()
            .all(|(operator, bound)| operator.accepts(version.cmp_for_relation(bound)))
    }
}

/// Which packages a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// Package-name glob.
    pub package: Located<String>,
    pub version: Option<Located<VersionConstraint>>,
    /// Repo scope (`None` = any repo; grants always have one).
    pub repo: Option<Located<String>>,
}

/// Verifier rule of a repo: `threshold` valid attestations from distinct keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifiers {
    pub keys: Vec<Located<String>>,
    pub threshold: Located<u32>,
}

/// What the sandbox must achieve for this repo's scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxRequirement {
    Required,
    BestEffort,
}

/// What to do when Landlock or user namespaces are missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxMissing {
    Refuse,
    Degrade,
    SkipScripts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SandboxRule {
    pub requirement: SandboxRequirement,
    pub on_missing: SandboxMissing,
}

impl Default for SandboxRule {
    fn default() -> Self {
        Self {
            requirement: SandboxRequirement::Required,
            on_missing: SandboxMissing::Refuse,
        }
    }
}

/// At upgrade, when the new version needs more than the old one had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CapabilityGrowth {
    #[default]
    Hold,
    Allow,
}

/// A repository as the administrator defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub name: Located<String>,
    pub keys: Vec<Located<String>>,
    pub ceiling: Capabilities,
    pub ceiling_origin: Origin,
    pub verifiers: Option<Verifiers>,
    pub sandbox: SandboxRule,
    pub capability_growth: CapabilityGrowth,
}

/// A user override: allow and/or deny for a selector. Deny always wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub selector: Selector,
    pub allow: Capabilities,
    pub deny: Capabilities,
}

/// A repo's grant to the packages its selector matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub repo: String,
    pub selector: Selector,
    pub capabilities: Capabilities,
}

/// An installed owner passes "place files under `path`" on to selected
/// packages, minus `except`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    pub repo: String,
    pub owner: Located<String>,
    pub path: Located<String>,
    pub to: Selector,
    pub except: Vec<Located<String>>,
}

/// A guarded location added by the administrator (`[[guarded]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraGuarded {
    pub id: Located<String>,
    pub class: GuardedClass,
    pub paths: Vec<Located<String>>,
    pub reason: String,
}

/// Everything the policy files say, validated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    pub repos: Vec<Repo>,
    pub overrides: Vec<Override>,
    pub grants: Vec<Grant>,
    pub delegations: Vec<Delegation>,
    pub guarded: Vec<ExtraGuarded>,
    /// Names of the files this policy was read from, in order.
    pub sources: Vec<String>,
}

impl Policy {
    pub fn repo(&self, name: &str) -> Option<&Repo> {
        self.repos.iter().find(|repo| repo.name.value == name)
    }
}
