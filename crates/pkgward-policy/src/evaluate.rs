//! Evaluation: `(grants ∩ ceiling) ∪ allow-overrides − deny-overrides`, plus
//! delegations from installed owners, deny always winning.
//!
//! [`CompiledPolicy`] is built once from a [`Policy`] (catalog compiled,
//! aliases fixed). [`CompiledPolicy::for_subject`] selects the rules that
//! apply to one package (repo, name, version), substitutes `{name}`, and
//! returns an immutable [`SubjectPolicy`] that decides any number of
//! [`Request`]s. Every [`Decision`] carries its [`Provenance`].

use crate::catalog::{builtin_locations, unmerged_variants, GuardedClass, GuardedLocation};
use crate::model::{
    Capabilities, FileCapabilityRule, GuardedName, Located, Origin, Policy, ScriptMode, Selector,
};
use crate::path::{resolve, resolve_borrowed, AliasTable, PathError};
use crate::pattern::{split_path, with_path_key, NameGlob, PathKey, PathPattern, PatternSet};
use crate::version::Version;
use pkgward_package::file_capabilities::capability_names;
use serde::Serialize;
use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::sync::Arc;

/// `cap_net_admin,cap_net_raw`: the names in a capability mask.
pub fn capability_list(mask: u64) -> String {
    capability_names(mask).join(",")
}

/// The package a decision is about.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub repo: &'a str,
    pub name: &'a str,
    pub version: &'a Version,
}

/// An installed package and the directories it owns (from the database),
/// which makes its delegations effective.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledOwner {
    pub package: String,
    pub repo: String,
    pub directories: Vec<String>,
}

/// One thing a package wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// Place a file, symlink or hardlink at `path`.
    Place { path: &'a str },
    /// Keep setuid/setgid bits on `path`.
    Setuid { path: &'a str },
    /// Give the file at `path` these file capabilities (a mask of
    /// capability numbers, permitted ∪ inheritable:
    /// [`pkgward_package::file_capabilities::FileCapabilities::requested`]).
    FileCapabilities { path: &'a str, capabilities: u64 },
    /// Create (or use) a user; `uid_zero` when the declaration asks uid 0.
    User { name: &'a str, uid_zero: bool },
    /// Create a group or join one.
    Group { name: &'a str },
    /// Install a unit; `runs_as` is the user its processes run as (`root`
    /// when a service has no `User=`; `None` when it starts no process
    /// itself, e.g. a timer, or uses `DynamicUser=`).
    Service {
        unit: &'a str,
        runs_as: Option<&'a str>,
    },
    /// Run maintainer scripts in this mode.
    Scripts { mode: ScriptMode },
}

impl fmt::Display for Request<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Place { path } => write!(formatter, "place `{path}`"),
            Self::Setuid { path } => write!(formatter, "setuid `{path}`"),
            Self::FileCapabilities { path, capabilities } => write!(
                formatter,
                "file capabilities `{}` on `{path}`",
                capability_list(*capabilities)
            ),
            Self::User {
                name,
                uid_zero: false,
            } => write!(formatter, "user `{name}`"),
            Self::User {
                name,
                uid_zero: true,
            } => write!(formatter, "user `{name}` with uid 0"),
            Self::Group { name } => write!(formatter, "group `{name}`"),
            Self::Service {
                unit,
                runs_as: Some(user),
            } => write!(formatter, "service `{unit}` running as `{user}`"),
            Self::Service {
                unit,
                runs_as: None,
            } => write!(formatter, "service `{unit}`"),
            Self::Scripts { mode } => write!(formatter, "scripts `{mode}`"),
        }
    }
}

/// Outcome, after gix-sec's `Permission`: `Forbid` is an explicit deny (a
/// deny override) that no grant can lift; `Deny` means nothing granted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Allow,
    Deny,
    Forbid,
}

/// Which layer of the policy produced a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    /// The path or name itself is unacceptable (not canonical, twins, …).
    Canonical,
    /// The guarded-path catalog.
    Catalog,
    /// A repo ceiling (administrator policy).
    Ceiling,
    /// A repo grant.
    Grant,
    /// A user override.
    Override,
    /// A delegation from an installed owner.
    Delegation,
}

/// Why: the rule that decided, where it is written, and for delegations the
/// chain that led to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provenance {
    pub layer: Layer,
    /// File of the rule (`<built-in catalog>` for the catalog).
    pub file: Arc<str>,
    pub line: u32,
    pub column: u32,
    /// The rule, in words.
    pub rule: String,
    pub chain: Vec<String>,
}

impl Provenance {
    fn at(layer: Layer, origin: &Origin, rule: String) -> Self {
        Self {
            layer,
            file: origin.file.clone(),
            line: origin.line,
            column: origin.column,
            rule,
            chain: Vec::new(),
        }
    }

    fn nowhere(layer: Layer, file: &str, rule: String) -> Self {
        Self {
            layer,
            file: Arc::from(file),
            line: 0,
            column: 0,
            rule,
            chain: Vec::new(),
        }
    }

    /// `file:line:column` (or just the file when there is no line).
    pub fn location(&self) -> String {
        if self.line == 0 {
            self.file.to_string()
        } else {
            format!("{}:{}:{}", self.file, self.line, self.column)
        }
    }
}

/// The guarded location a path falls in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuardedMatch {
    pub id: String,
    pub class: GuardedClass,
    pub reason: String,
}

/// A decision with its provenance and, when refused, the smallest grant
/// that would allow it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub verdict: Verdict,
    pub because: Provenance,
    pub hint: Option<String>,
    /// The canonical path evaluated (after aliases), for path requests.
    pub canonical_path: Option<String>,
    pub guarded: Option<GuardedMatch>,
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        self.verdict == Verdict::Allow
    }
}

/// A decision before it is put into words (see [`SubjectPolicy::judge`]):
/// the verdict and references into the compiled policy. Deciding and
/// describing are separate so that callers that only need verdicts (or
/// only describe refusals) pay for no text.
#[derive(Debug)]
pub struct Judgement<'s, 'r> {
    rules: &'s SubjectPolicy<'s>,
    kind: JudgementKind<'s, 'r>,
}

#[derive(Debug)]
enum JudgementKind<'s, 'r> {
    /// A path request: the canonical path (borrowed from the request when it
    /// was canonical already and no alias applied), its guarded location
    /// and the rule that decided.
    Place {
        path: Cow<'r, str>,
        location: Option<&'s CompiledLocation>,
        outcome: PlaceOutcome<'s>,
    },
    /// The path cannot be evaluated at all.
    NotCanonical(PathError),
    /// Requests other than placing a path are decided in words directly.
    Decided(Decision),
}

/// A guarded location in words: ``guarded location `id` (class: reason)``.
#[derive(Debug, Clone, Copy)]
struct GuardedWords<'l>(&'l GuardedLocation);

impl fmt::Display for GuardedWords<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let location = self.0;
        write!(
            formatter,
            "guarded location `{}` ({}: {})",
            location.id, location.class, location.reason
        )
    }
}

/// Which rule decided a path request.
#[derive(Debug, Clone, Copy)]
enum PlaceOutcome<'s> {
    DenyOverride(&'s PathPattern, &'s PathRule),
    AllowOverride(&'s PathPattern, &'s PathRule),
    Granted(&'s PathPattern, &'s PathRule),
    Delegated(&'s PathPattern, &'s CompiledDelegation),
    CeilingRefusesGrant(&'s PathPattern, &'s PathRule),
    CeilingRefusesDelegation(&'s PathPattern, &'s CompiledDelegation),
    /// A grant pattern matched the guarded path without naming it.
    GuardedNotNamed(&'s PathPattern, &'s PathRule, &'s CompiledLocation),
    GuardedUngranted(&'s CompiledLocation),
    Ungranted,
}

impl PlaceOutcome<'_> {
    fn verdict(self) -> Verdict {
        match self {
            Self::DenyOverride(..) => Verdict::Forbid,
            Self::AllowOverride(..) | Self::Granted(..) | Self::Delegated(..) => Verdict::Allow,
            Self::CeilingRefusesGrant(..)
            | Self::CeilingRefusesDelegation(..)
            | Self::GuardedNotNamed(..)
            | Self::GuardedUngranted(..)
            | Self::Ungranted => Verdict::Deny,
        }
    }
}

const NOT_CANONICAL_HINT: &str =
    "the package must ship canonical, visible names; this cannot be granted";

impl Judgement<'_, '_> {
    pub fn verdict(&self) -> Verdict {
        match &self.kind {
            JudgementKind::Place { outcome, .. } => outcome.verdict(),
            JudgementKind::NotCanonical(_) => Verdict::Deny,
            JudgementKind::Decided(decision) => decision.verdict,
        }
    }

    pub fn is_allowed(&self) -> bool {
        self.verdict() == Verdict::Allow
    }

    /// The canonical path evaluated (after aliases), for path requests.
    pub fn canonical_path(&self) -> Option<&str> {
        match &self.kind {
            JudgementKind::Place { path, .. } => Some(path),
            JudgementKind::NotCanonical(_) => None,
            JudgementKind::Decided(decision) => decision.canonical_path.as_deref(),
        }
    }

    /// The guarded location the path falls in (path placements only).
    pub fn guarded_location(&self) -> Option<&GuardedLocation> {
        match &self.kind {
            JudgementKind::Place { location, .. } => location.map(|l| &l.location),
            JudgementKind::NotCanonical(_) | JudgementKind::Decided(_) => None,
        }
    }

    /// The full decision: provenance and hint in words.
    pub fn into_decision(self) -> Decision {
        match self.kind {
            JudgementKind::Place {
                path,
                location,
                outcome,
            } => {
                let mut decision = self.rules.place_decision(&path, location, &outcome);
                decision.guarded = location.map(|l| GuardedMatch {
                    id: l.location.id.clone(),
                    class: l.location.class,
                    reason: l.location.reason.clone(),
                });
                decision.canonical_path = Some(path.into_owned());
                decision
            }
            JudgementKind::NotCanonical(error) => SubjectPolicy::decision(
                Verdict::Deny,
                Provenance::nowhere(Layer::Canonical, "<path rules>", error.to_string()),
                Some(NOT_CANONICAL_HINT.to_owned()),
            ),
            JudgementKind::Decided(decision) => decision,
        }
    }
}

/// Users and groups that `*` never covers: a grant must name them.
pub const PRIVILEGED_USERS: &[&str] = &["root"];
pub const PRIVILEGED_GROUPS: &[&str] = &[
    "root",
    "sudo",
    "wheel",
    "admin",
    "adm",
    "shadow",
    "disk",
    "kmem",
    "tty",
    "staff",
    "systemd-journal",
    "docker",
    "lxd",
    "libvirt",
    "input",
    "video",
];

const CATALOG_FILE: &str = "<built-in catalog>";

/// One compiled catalog location.
#[derive(Debug)]
struct CompiledLocation {
    location: GuardedLocation,
    patterns: Vec<PathPattern>,
    origin: Option<Origin>,
}

impl CompiledLocation {
    /// Where the location is defined: the policy file for `[[guarded]]`,
    /// the built-in catalog otherwise.
    fn provenance(&self, rule: String) -> Provenance {
        match &self.origin {
            Some(origin) => Provenance::at(Layer::Catalog, origin, rule),
            None => Provenance::nowhere(Layer::Catalog, CATALOG_FILE, rule),
        }
    }
}

/// A policy compiled once: catalog matcher, aliases, rules.
#[derive(Debug)]
pub struct CompiledPolicy {
    policy: Policy,
    aliases: AliasTable,
    locations: Vec<CompiledLocation>,
    catalog: PatternSet<u32>,
}

/// Who owns a path rule inside a layer: its guarded names and where it is.
#[derive(Debug, Clone)]
struct RuleOwner {
    guarded: Vec<Located<GuardedName>>,
}

#[derive(Debug, Clone)]
struct PathRule {
    owner: u32,
    origin: Origin,
}

#[derive(Debug, Clone)]
struct NameRule {
    glob: NameGlob,
    origin: Origin,
}

/// One layer's capabilities compiled for one subject.
#[derive(Debug, Default)]
struct CompiledLayer {
    owners: Vec<RuleOwner>,
    paths: PatternSet<PathRule>,
    users: Vec<NameRule>,
    groups: Vec<NameRule>,
    services: Vec<NameRule>,
    setuid: PatternSet<PathRule>,
    file_capabilities: PatternSet<FileCapabilityPathRule>,
    scripts: Option<Located<ScriptMode>>,
}

#[derive(Debug, Clone)]
struct FileCapabilityPathRule {
    rule: FileCapabilityRule,
    origin: Origin,
}

impl CompiledLayer {
    fn add(&mut self, capabilities: &Capabilities, name: &str) {
        let owner = u32::try_from(self.owners.len()).expect("fewer than 2^32 rules");
        self.owners.push(RuleOwner {
            guarded: capabilities.guarded.clone(),
        });
        let expand = |text: &str| text.replace("{name}", name);
        for path in &capabilities.paths {
            if let Ok(pattern) = PathPattern::parse(&expand(&path.value)) {
                self.paths.push(
                    pattern,
                    PathRule {
                        owner,
                        origin: path.origin.clone(),
                    },
                );
            }
        }
        for path in &capabilities.setuid {
            let text = if path.value == "*" {
                "/**".to_owned()
            } else {
                expand(&path.value)
            };
            if let Ok(pattern) = PathPattern::parse(&text) {
                self.setuid.push(
                    pattern,
                    PathRule {
                        owner,
                        origin: path.origin.clone(),
                    },
                );
            }
        }
        for item in &capabilities.file_capabilities {
            let text = if item.value.path == "*" {
                "/**".to_owned()
            } else {
                expand(&item.value.path)
            };
            if let Ok(pattern) = PathPattern::parse(&text) {
                self.file_capabilities.push(
                    pattern,
                    FileCapabilityPathRule {
                        rule: FileCapabilityRule {
                            path: expand(&item.value.path),
                            ..item.value.clone()
                        },
                        origin: item.origin.clone(),
                    },
                );
            }
        }
        let names = |list: &[Located<String>], into: &mut Vec<NameRule>| {
            for item in list {
                if let Ok(glob) = NameGlob::parse(&expand(&item.value)) {
                    into.push(NameRule {
                        glob,
                        origin: item.origin.clone(),
                    });
                }
            }
        };
        names(&capabilities.users, &mut self.users);
        names(&capabilities.groups, &mut self.groups);
        names(&capabilities.services, &mut self.services);
        if let Some(mode) = &capabilities.scripts {
            if self
                .scripts
                .as_ref()
                .is_none_or(|current| current.value < mode.value)
            {
                self.scripts = Some(mode.clone());
            }
        }
    }
}

/// A delegation made effective for one subject.
#[derive(Debug)]
struct CompiledDelegation {
    except: Vec<PathPattern>,
    chain: String,
    origin: Origin,
}

/// The rules that apply to one package, ready to decide requests.
#[derive(Debug)]
pub struct SubjectPolicy<'p> {
    compiled: &'p CompiledPolicy,
    subject_name: String,
    repo: String,
    grants: CompiledLayer,
    grants_file: String,
    ceiling: CompiledLayer,
    ceiling_origin: Origin,
    allow: CompiledLayer,
    deny: CompiledLayer,
    delegations: PatternSet<CompiledDelegation>,
    /// Ceilings are bounds: `*` in a ceiling's users/groups covers
    /// privileged names too.
    ceiling_is_bound: bool,
}

/// The subject's repo is not defined by the policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("repo `{repo}` is not defined by the policy (defined: {defined})")]
pub struct UnknownRepo {
    pub repo: String,
    pub defined: String,
}

fn selector_matches(selector: &Selector, subject: &Subject<'_>) -> bool {
    if let Some(repo) = &selector.repo {
        if repo.value != subject.repo {
            return false;
        }
    }
    let Ok(glob) = NameGlob::parse(&selector.package.value) else {
        return false;
    };
    glob.is_match(subject.name)
        && selector
            .version
            .as_ref()
            .is_none_or(|constraint| constraint.value.accepts(subject.version))
}

impl CompiledPolicy {
    /// Compile a validated policy for a root with the given aliases.
    pub fn new(policy: Policy, aliases: AliasTable) -> Self {
        let mut locations: Vec<CompiledLocation> = builtin_locations()
            .into_iter()
            .map(|location| CompiledLocation {
                patterns: location
                    .patterns
                    .iter()
                    .flat_map(|p| unmerged_variants(p))
                    .filter_map(|p| PathPattern::parse(&p).ok())
                    .collect(),
                location,
                origin: None,
            })
            .collect();
        for extra in &policy.guarded {
            locations.push(CompiledLocation {
                patterns: extra
                    .paths
                    .iter()
                    .flat_map(|p| unmerged_variants(&p.value))
                    .filter_map(|p| PathPattern::parse(&p).ok())
                    .collect(),
                location: GuardedLocation {
                    id: extra.id.value.clone(),
                    class: extra.class,
                    patterns: extra.paths.iter().map(|p| p.value.clone()).collect(),
                    reason: extra.reason.clone(),
                },
                origin: Some(extra.id.origin.clone()),
            });
        }
        let mut catalog = PatternSet::default();
        for (index, location) in locations.iter().enumerate() {
            for pattern in &location.patterns {
                catalog.push(
                    pattern.clone(),
                    u32::try_from(index).expect("small catalog"),
                );
            }
        }
        Self {
            policy,
            aliases,
            locations,
            catalog,
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn aliases(&self) -> &AliasTable {
        &self.aliases
    }

    /// Every guarded location (built-in and policy-defined).
    pub fn locations(&self) -> impl Iterator<Item = &GuardedLocation> {
        self.locations.iter().map(|l| &l.location)
    }

    /// Every guarded location's patterns, compiled (with their unmerged
    /// `/bin`-style variants), in the order of [`CompiledPolicy::locations`].
    pub fn location_patterns(&self) -> impl Iterator<Item = &PathPattern> {
        self.locations.iter().flat_map(|l| l.patterns.iter())
    }

    /// The guarded location a canonical path falls in, if any.
    pub fn guarded_location(&self, canonical_path: &str) -> Option<&GuardedLocation> {
        with_path_key(canonical_path, |key| self.locate(key))
            .map(|index| &self.locations[index].location)
    }

    fn locate(&self, key: &PathKey<'_>) -> Option<usize> {
        self.catalog
            .first_match_key(key, |_, _| true)
            .map(|(_, index)| *index as usize)
    }

    /// Select and compile the rules for one package.
    pub fn for_subject(
        &self,
        subject: &Subject<'_>,
        installed: &[InstalledOwner],
    ) -> Result<SubjectPolicy<'_>, UnknownRepo> {
        let Some(repo) = self.policy.repo(subject.repo) else {
            return Err(UnknownRepo {
                repo: subject.repo.to_owned(),
                defined: self
                    .policy
                    .repos
                    .iter()
                    .map(|r| format!("`{}`", r.name.value))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        let name = subject.name;
        let mut grants = CompiledLayer::default();
        for grant in &self.policy.grants {
            if grant.repo == subject.repo && selector_matches(&grant.selector, subject) {
                grants.add(&grant.capabilities, name);
            }
        }
        let grants_file = self
            .policy
            .grants
            .iter()
            .find(|grant| grant.repo == subject.repo)
            .map_or_else(
                || format!("<no grants for repo `{}`>", subject.repo),
                |g| g.selector.package.origin.file.to_string(),
            );
        let mut ceiling = CompiledLayer::default();
        ceiling.add(&repo.ceiling, name);
        let mut allow = CompiledLayer::default();
        let mut deny = CompiledLayer::default();
        for item in &self.policy.overrides {
            if selector_matches(&item.selector, subject) {
                allow.add(&item.allow, name);
                deny.add(&item.deny, name);
            }
        }
        let mut delegations = PatternSet::default();
        for delegation in &self.policy.delegations {
            if !selector_matches(&delegation.to, subject) {
                continue;
            }
            let Ok(pattern) = PathPattern::parse(&delegation.path.value) else {
                continue;
            };
            // The owner must be installed from the delegation's repo and own
            // the directory the delegation passes on (its literal prefix).
            let directory = pattern.literal_prefix();
            let effective = installed.iter().any(|owner| {
                owner.package == delegation.owner.value
                    && owner.repo == delegation.repo
                    && owner.directories.contains(&directory)
            });
            if !effective || delegation.owner.value == name {
                continue;
            }
            delegations.push(
                pattern,
                CompiledDelegation {
                    except: delegation
                        .except
                        .iter()
                        .filter_map(|e| PathPattern::parse(&e.value).ok())
                        .collect(),
                    chain: format!(
                        "`{}` (installed, owns `{directory}`) delegates `{}` to `{}` at {}",
                        delegation.owner.value,
                        delegation.path.value,
                        delegation.to.package.value,
                        delegation.path.origin
                    ),
                    origin: delegation.path.origin.clone(),
                },
            );
        }
        Ok(SubjectPolicy {
            compiled: self,
            subject_name: name.to_owned(),
            repo: subject.repo.to_owned(),
            grants,
            grants_file,
            ceiling,
            ceiling_origin: repo.ceiling_origin.clone(),
            allow,
            deny,
            delegations,
            ceiling_is_bound: true,
        })
    }
}

fn names_location(owner: &RuleOwner, location: &GuardedLocation) -> bool {
    owner.guarded.iter().any(|name| match &name.value {
        GuardedName::Any => true,
        GuardedName::Class(class) => *class == location.class,
        GuardedName::Id(id) => *id == location.id,
    })
}

fn quote_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("\"{i}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

impl SubjectPolicy<'_> {
    /// Find a path rule of `layer` that covers `path`: it matches, and if
    /// the path is guarded, the rule's grant names the location (id, class,
    /// `*`) or the pattern itself reaches into it.
    fn covering_path<'l>(
        layer: &'l CompiledLayer,
        set: &'l PatternSet<PathRule>,
        key: &PathKey<'_>,
        location: Option<&CompiledLocation>,
    ) -> Option<&'l (PathPattern, PathRule)> {
        set.first_match_key(key, |pattern, rule| match location {
            None => true,
            Some(location) => {
                names_location(&layer.owners[rule.owner as usize], &location.location)
                    || location.patterns.iter().any(|l| pattern.names_location(l))
            }
        })
    }

    /// Decide one request, with its provenance and hint in words.
    pub fn decide(&self, request: &Request<'_>) -> Decision {
        self.judge(request).into_decision()
    }

    /// Decide one request without writing anything down: the verdict, and
    /// references to the rule that decided (the same rule [`Self::decide`]
    /// reports). Path requests allocate nothing unless the path has to be
    /// rewritten (not canonical, or under an alias); the words of the
    /// provenance and hint are produced by [`Judgement::into_decision`].
    pub fn judge<'s, 'r>(&'s self, request: &Request<'r>) -> Judgement<'s, 'r> {
        let kind = match *request {
            Request::Place { path } => self.judge_place(path),
            Request::Setuid { path } => JudgementKind::Decided(self.decide_setuid(path)),
            Request::FileCapabilities { path, capabilities } => {
                JudgementKind::Decided(self.decide_file_capabilities(path, capabilities))
            }
            Request::User { name, uid_zero } => {
                JudgementKind::Decided(self.decide_name(NameKind::User, name, uid_zero))
            }
            Request::Group { name } => {
                JudgementKind::Decided(self.decide_name(NameKind::Group, name, false))
            }
            Request::Service { unit, runs_as } => {
                JudgementKind::Decided(self.decide_service(unit, runs_as))
            }
            Request::Scripts { mode } => JudgementKind::Decided(self.decide_scripts(mode)),
        };
        Judgement { rules: self, kind }
    }

    fn decision(verdict: Verdict, because: Provenance, hint: Option<String>) -> Decision {
        Decision {
            verdict,
            because,
            hint,
            canonical_path: None,
            guarded: None,
        }
    }

    fn judge_place<'s, 'r>(&'s self, raw_path: &'r str) -> JudgementKind<'s, 'r> {
        let path = match resolve_borrowed(raw_path, &self.compiled.aliases) {
            Ok(path) => path,
            Err(error) => return JudgementKind::NotCanonical(error),
        };
        let (location, outcome) = with_path_key(&path, |key| {
            let location = self
                .compiled
                .locate(key)
                .map(|index| &self.compiled.locations[index]);
            (location, self.place_outcome(key, location))
        });
        JudgementKind::Place {
            path,
            location,
            outcome,
        }
    }

    /// Which rule decides placing the canonical `path`, in precedence order:
    /// deny override, allow override, grant (within the ceiling),
    /// delegation (never into a guarded location), then why nothing did.
    fn place_outcome<'s>(
        &'s self,
        key: &PathKey<'_>,
        location: Option<&'s CompiledLocation>,
    ) -> PlaceOutcome<'s> {
        if let Some((pattern, rule)) = self.deny.paths.first_match_key(key, |_, _| true) {
            return PlaceOutcome::DenyOverride(pattern, rule);
        }
        if let Some((pattern, rule)) =
            Self::covering_path(&self.allow, &self.allow.paths, key, location)
        {
            return PlaceOutcome::AllowOverride(pattern, rule);
        }
        let ceiling_allows =
            || Self::covering_path(&self.ceiling, &self.ceiling.paths, key, location).is_some();
        if let Some((pattern, rule)) =
            Self::covering_path(&self.grants, &self.grants.paths, key, location)
        {
            return if ceiling_allows() {
                PlaceOutcome::Granted(pattern, rule)
            } else {
                PlaceOutcome::CeilingRefusesGrant(pattern, rule)
            };
        }
        let Some(location) = location else {
            if let Some((pattern, delegation)) = self.delegations.first_match_key(key, |_, d| {
                !d.except
                    .iter()
                    .any(|e| e.matches_components(key.components))
            }) {
                return if ceiling_allows() {
                    PlaceOutcome::Delegated(pattern, delegation)
                } else {
                    PlaceOutcome::CeilingRefusesDelegation(pattern, delegation)
                };
            }
            return PlaceOutcome::Ungranted;
        };
        // A grant pattern matched but does not name the location: the
        // classic `/**` case.
        match self.grants.paths.first_match_key(key, |_, _| true) {
            Some((pattern, rule)) => PlaceOutcome::GuardedNotNamed(pattern, rule, location),
            None => PlaceOutcome::GuardedUngranted(location),
        }
    }

    /// The words of a path decision: provenance and hint for `outcome`.
    fn place_decision(
        &self,
        path: &str,
        location: Option<&CompiledLocation>,
        outcome: &PlaceOutcome<'_>,
    ) -> Decision {
        let name = &self.subject_name;
        let guarded_words = location.map(|l| GuardedWords(&l.location));
        match *outcome {
            PlaceOutcome::DenyOverride(pattern, rule) => Self::decision(
                Verdict::Forbid,
                Provenance::at(
                    Layer::Override,
                    &rule.origin,
                    format!("deny override `{pattern}` covers `{path}`"),
                ),
                Some(format!(
                    "remove `{pattern}` from the deny override at {} to allow it",
                    rule.origin
                )),
            ),
            PlaceOutcome::AllowOverride(pattern, rule) => Self::decision(
                Verdict::Allow,
                Provenance::at(
                    Layer::Override,
                    &rule.origin,
                    format!("allow override `{pattern}` covers `{path}`"),
                ),
                None,
            ),
            PlaceOutcome::Granted(pattern, rule) => {
                // Built by hand: this is the hot path of every allowed file.
                let mut rule_text = String::with_capacity(20 + pattern.as_str().len() + path.len());
                rule_text.push_str("grant `");
                rule_text.push_str(pattern.as_str());
                rule_text.push_str("` covers `");
                rule_text.push_str(path);
                rule_text.push('`');
                if let Some(words) = guarded_words {
                    let _ = write!(rule_text, " (names {words})");
                }
                Self::decision(
                    Verdict::Allow,
                    Provenance::at(Layer::Grant, &rule.origin, rule_text),
                    None,
                )
            }
            PlaceOutcome::CeilingRefusesGrant(pattern, rule) => self.ceiling_denial(
                path,
                location,
                &format!("grant `{pattern}` at {}", rule.origin),
            ),
            PlaceOutcome::Delegated(pattern, delegation) => {
                let mut because = Provenance::at(
                    Layer::Delegation,
                    &delegation.origin,
                    format!("delegated `{pattern}` covers `{path}`"),
                );
                because.chain.push(delegation.chain.clone());
                Self::decision(Verdict::Allow, because, None)
            }
            PlaceOutcome::CeilingRefusesDelegation(pattern, delegation) => self.ceiling_denial(
                path,
                location,
                &format!("delegation `{pattern}` at {}", delegation.origin),
            ),
            PlaceOutcome::GuardedNotNamed(pattern, rule, location) => {
                let id = &location.location.id;
                Self::guarded_denial(
                    location,
                    format!(
                        "`{path}` is in {}; grant `{pattern}` at {} does not name it (broad patterns never cover guarded paths)",
                        GuardedWords(&location.location),
                        rule.origin
                    ),
                    format!(
                        "add `guarded = [\"{id}\"]` to the grant at {}, or grant the exact path: `[[grant]] package = \"{name}\" paths = [\"{path}\"] guarded = [\"{id}\"]`",
                        rule.origin
                    ),
                )
            }
            PlaceOutcome::GuardedUngranted(location) => Self::guarded_denial(
                location,
                format!(
                    "`{path}` is in {} and no grant for `{name}` in repo `{}` names it",
                    GuardedWords(&location.location),
                    self.repo
                ),
                format!(
                    "grant it: `[[grant]] package = \"{name}\" paths = [\"{path}\"] guarded = [\"{}\"]`",
                    location.location.id
                ),
            ),
            PlaceOutcome::Ungranted => Self::decision(
                Verdict::Deny,
                Provenance::nowhere(
                    Layer::Grant,
                    &self.grants_file,
                    format!(
                        "no grant for `{name}` in repo `{}` covers `{path}`",
                        self.repo
                    ),
                ),
                Some(format!(
                    "grant it: `[[grant]] package = \"{name}\" paths = [\"{path}\"]`"
                )),
            ),
        }
    }

    /// A guarded path refused: the catalog (or policy) entry decided.
    fn guarded_denial(location: &CompiledLocation, rule: String, hint: String) -> Decision {
        Self::decision(Verdict::Deny, location.provenance(rule), Some(hint))
    }

    fn ceiling_denial(
        &self,
        path: &str,
        location: Option<&CompiledLocation>,
        granted_by: &str,
    ) -> Decision {
        let extra = location.map_or(String::new(), |l| {
            format!(" and `guarded = [\"{}\"]`", l.location.id)
        });
        Self::decision(
            Verdict::Deny,
            Provenance::at(
                Layer::Ceiling,
                &self.ceiling_origin,
                format!("{granted_by} allows `{path}`, but the ceiling of repo `{}` does not", self.repo),
            ),
            Some(format!(
                "the administrator can raise the ceiling of repo `{}` at {}: add `\"{path}\"` to `ceiling.paths`{extra}",
                self.repo, self.ceiling_origin
            )),
        )
    }

    /// `raw_path` canonicalised with the aliases, or the refusal of a path
    /// that cannot be (which no grant can lift).
    fn canonical_or_refusal(&self, raw_path: &str) -> Result<String, Box<Decision>> {
        resolve(raw_path, &self.compiled.aliases).map_err(|error| {
            Box::new(Self::decision(
                Verdict::Deny,
                Provenance::nowhere(Layer::Canonical, "<path rules>", error.to_string()),
                None,
            ))
        })
    }

    fn decide_setuid(&self, raw_path: &str) -> Decision {
        let path = match self.canonical_or_refusal(raw_path) {
            Ok(path) => path,
            Err(refusal) => return *refusal,
        };
        let components = split_path(&path);
        let name = &self.subject_name;
        let mut decision = if let Some((pattern, rule)) =
            self.deny
                .setuid
                .first_match(&path, &components, |_, _| true)
        {
            Self::decision(
                Verdict::Forbid,
                Provenance::at(
                    Layer::Override,
                    &rule.origin,
                    format!("deny override setuid `{pattern}` covers `{path}`"),
                ),
                None,
            )
        } else if let Some((pattern, rule)) =
            self.allow
                .setuid
                .first_match(&path, &components, |_, _| true)
        {
            Self::decision(
                Verdict::Allow,
                Provenance::at(
                    Layer::Override,
                    &rule.origin,
                    format!("allow override setuid `{pattern}` covers `{path}`"),
                ),
                None,
            )
        } else if let Some((pattern, rule)) =
            self.grants
                .setuid
                .first_match(&path, &components, |_, _| true)
        {
            if self
                .ceiling
                .setuid
                .first_match(&path, &components, |_, _| true)
                .is_some()
            {
                Self::decision(
                    Verdict::Allow,
                    Provenance::at(
                        Layer::Grant,
                        &rule.origin,
                        format!("setuid grant `{pattern}` covers `{path}`"),
                    ),
                    None,
                )
            } else {
                Self::decision(
                    Verdict::Deny,
                    Provenance::at(
                        Layer::Ceiling,
                        &self.ceiling_origin,
                        format!("setuid grant `{pattern}` at {} allows `{path}`, but the ceiling of repo `{}` does not", rule.origin, self.repo),
                    ),
                    Some(format!("the administrator can add `\"{path}\"` to `ceiling.setuid` of repo `{}` at {}", self.repo, self.ceiling_origin)),
                )
            }
        } else {
            Self::decision(
                Verdict::Deny,
                Provenance::nowhere(
                    Layer::Grant,
                    &self.grants_file,
                    format!("no grant for `{name}` in repo `{}` lets `{path}` keep its setuid/setgid bits", self.repo),
                ),
                Some(format!("grant it: `[[grant]] package = \"{name}\" setuid = [\"{path}\"]` (without it the bits are stripped)")),
            )
        };
        decision.canonical_path = Some(path);
        decision
    }

    /// The rules of `set` whose path matches `path`, with what each covers.
    fn file_capability_rules<'l>(
        set: &'l PatternSet<FileCapabilityPathRule>,
        path: &str,
        star_covers_root: bool,
    ) -> impl Iterator<Item = (&'l FileCapabilityPathRule, u64)> + 'l {
        let path = path.to_owned();
        set.iter()
            .filter(move |(pattern, _)| pattern.is_match(&path))
            .map(move |(_, rule)| (rule, rule.rule.covered(star_covers_root)))
    }

    /// File capabilities: every requested capability must be covered by a
    /// grant and by the ceiling (or by an allow override), and no deny
    /// override may cover any of them. `*` in a grant or an allow override
    /// covers no root-equivalent capability; in a ceiling (a bound) and a
    /// deny override it covers all.
    fn decide_file_capabilities(&self, raw_path: &str, requested: u64) -> Decision {
        let path = match self.canonical_or_refusal(raw_path) {
            Ok(path) => path,
            Err(refusal) => return *refusal,
        };
        let name = &self.subject_name;
        let wanted = capability_list(requested);
        let union = |set: &PatternSet<FileCapabilityPathRule>, star_covers_root: bool| {
            Self::file_capability_rules(set, &path, star_covers_root)
                .fold(0, |all, (_, covered)| all | covered)
        };
        let contributing = |set: &PatternSet<FileCapabilityPathRule>| {
            Self::file_capability_rules(set, &path, false)
                .find(|(_, covered)| covered & requested != 0)
                .map(|(rule, _)| rule.clone())
        };
        let (allowed_by_override, granted, ceiling) = (
            union(&self.allow.file_capabilities, false),
            union(&self.grants.file_capabilities, false),
            // Ceilings are bounds, as for users: `*` there covers
            // root-equivalent capabilities too; a grant must still name them.
            union(&self.ceiling.file_capabilities, self.ceiling_is_bound),
        );
        let missing = requested & !((granted & ceiling) | allowed_by_override);
        // Only worth saying when a `*` grant would have covered them.
        let starred = union(&self.grants.file_capabilities, true) & !granted;
        let root_note = if missing & starred != 0 {
            format!(
                " (`*` never covers root-equivalent capabilities such as `{}`: they are granted by name)",
                capability_names(missing & starred).join("`, `")
            )
        } else {
            String::new()
        };
        let mut decision = if let Some((rule, covered)) =
            Self::file_capability_rules(&self.deny.file_capabilities, &path, true)
                .find(|(_, covered)| covered & requested != 0)
        {
            Self::decision(
                Verdict::Forbid,
                Provenance::at(
                    Layer::Override,
                    &rule.origin,
                    format!(
                        "deny override file-capabilities `{}` covers `{}` on `{path}`",
                        rule.rule,
                        capability_list(covered & requested)
                    ),
                ),
                None,
            )
        } else if missing == 0 {
            let (layer, rule) = match contributing(&self.grants.file_capabilities)
                .filter(|_| requested & !(granted & ceiling) == 0)
            {
                Some(rule) => (Layer::Grant, rule),
                None => (
                    Layer::Override,
                    contributing(&self.allow.file_capabilities).expect("an override covers it"),
                ),
            };
            let what = if layer == Layer::Grant {
                "grant"
            } else {
                "allow override"
            };
            Self::decision(
                Verdict::Allow,
                Provenance::at(
                    layer,
                    &rule.origin,
                    format!(
                        "file-capabilities {what} `{}` covers `{wanted}` on `{path}`",
                        rule.rule
                    ),
                ),
                None,
            )
        } else if missing & !granted == 0 {
            let rule = contributing(&self.grants.file_capabilities).expect("a grant covers it");
            let lacking = capability_list(missing);
            Self::decision(
                Verdict::Deny,
                Provenance::at(
                    Layer::Ceiling,
                    &self.ceiling_origin,
                    format!(
                        "file-capabilities grant `{}` at {} allows `{lacking}` on `{path}`, but the ceiling of repo `{}` does not",
                        rule.rule, rule.origin, self.repo
                    ),
                ),
                Some(format!(
                    "the administrator can add `\"{path}={lacking}\"` to `ceiling.file-capabilities` of repo `{}` at {}",
                    self.repo, self.ceiling_origin
                )),
            )
        } else {
            Self::decision(
                Verdict::Deny,
                Provenance::nowhere(
                    Layer::Grant,
                    &self.grants_file,
                    format!(
                        "no grant for `{name}` in repo `{}` gives `{path}` the file capabilities `{}`{root_note}",
                        self.repo,
                        capability_list(missing)
                    ),
                ),
                Some(format!(
                    "grant it: `[[grant]] package = \"{name}\" file-capabilities = [\"{path}={wanted}\"]` (without it the package is refused)"
                )),
            )
        };
        decision.canonical_path = Some(path);
        decision
    }

    fn name_covered(
        rules: &[NameRule],
        name: &str,
        privileged: bool,
        bound: bool,
    ) -> Option<NameRule> {
        rules
            .iter()
            .find(|rule| {
                if privileged && !bound {
                    rule.glob.is_literal() && rule.glob.as_str() == name
                } else {
                    rule.glob.is_match(name)
                }
            })
            .cloned()
    }

    fn decide_name(&self, kind: NameKind, name: &str, uid_zero: bool) -> Decision {
        let (label, key, privileged_list) = match kind {
            NameKind::User => ("user", "users", PRIVILEGED_USERS),
            NameKind::Group => ("group", "groups", PRIVILEGED_GROUPS),
        };
        let select = |layer: &CompiledLayer| match kind {
            NameKind::User => layer.users.clone(),
            NameKind::Group => layer.groups.clone(),
        };
        // uid 0 under any name is root: it needs `root` granted by name.
        let (checked, privileged) = if uid_zero {
            ("root", true)
        } else {
            (name, privileged_list.contains(&name))
        };
        let subject = &self.subject_name;
        let shown = if uid_zero {
            format!("`{name}` with uid 0")
        } else {
            format!("`{name}`")
        };
        if let Some(rule) = Self::name_covered(&select(&self.deny), checked, false, true) {
            return Self::decision(
                Verdict::Forbid,
                Provenance::at(
                    Layer::Override,
                    &rule.origin,
                    format!("deny override {key} `{}` covers {label} {shown}", rule.glob),
                ),
                None,
            );
        }
        if let Some(rule) = Self::name_covered(&select(&self.allow), checked, privileged, false) {
            return Self::decision(
                Verdict::Allow,
                Provenance::at(
                    Layer::Override,
                    &rule.origin,
                    format!(
                        "allow override {key} `{}` covers {label} {shown}",
                        rule.glob
                    ),
                ),
                None,
            );
        }
        if let Some(rule) = Self::name_covered(&select(&self.grants), checked, privileged, false) {
            if Self::name_covered(
                &select(&self.ceiling),
                checked,
                privileged,
                self.ceiling_is_bound,
            )
            .is_some()
            {
                return Self::decision(
                    Verdict::Allow,
                    Provenance::at(
                        Layer::Grant,
                        &rule.origin,
                        format!("grant {key} `{}` covers {label} {shown}", rule.glob),
                    ),
                    None,
                );
            }
            return Self::decision(
                Verdict::Deny,
                Provenance::at(
                    Layer::Ceiling,
                    &self.ceiling_origin,
                    format!("grant {key} `{}` at {} covers {label} {shown}, but the ceiling of repo `{}` does not", rule.glob, rule.origin, self.repo),
                ),
                Some(format!("the administrator can add `\"{checked}\"` to `ceiling.{key}` of repo `{}` at {}", self.repo, self.ceiling_origin)),
            );
        }
        let why = if privileged {
            format!(" (`{checked}` is privileged: `*` never covers it, a grant must name it)")
        } else {
            String::new()
        };
        Self::decision(
            Verdict::Deny,
            Provenance::nowhere(
                Layer::Grant,
                &self.grants_file,
                format!(
                    "no grant for `{subject}` in repo `{}` covers {label} {shown}{why}",
                    self.repo
                ),
            ),
            Some(format!(
                "grant it: `[[grant]] package = \"{subject}\" {key} = [{}]`",
                quote_list(&[checked])
            )),
        )
    }

    fn decide_service(&self, unit: &str, runs_as: Option<&str>) -> Decision {
        let stem = unit.rsplit_once('.').map_or(unit, |(stem, _)| stem);
        let matches = |rules: &[NameRule]| {
            rules
                .iter()
                .find(|r| r.glob.is_match(unit) || r.glob.is_match(stem))
                .cloned()
        };
        let subject = &self.subject_name;
        let service_decision = if let Some(rule) = matches(&self.deny.services) {
            Self::decision(
                Verdict::Forbid,
                Provenance::at(
                    Layer::Override,
                    &rule.origin,
                    format!("deny override services `{}` covers `{unit}`", rule.glob),
                ),
                None,
            )
        } else if let Some(rule) = matches(&self.allow.services) {
            Self::decision(
                Verdict::Allow,
                Provenance::at(
                    Layer::Override,
                    &rule.origin,
                    format!("allow override services `{}` covers `{unit}`", rule.glob),
                ),
                None,
            )
        } else if let Some(rule) = matches(&self.grants.services) {
            if matches(&self.ceiling.services).is_some() {
                Self::decision(
                    Verdict::Allow,
                    Provenance::at(
                        Layer::Grant,
                        &rule.origin,
                        format!("grant services `{}` covers `{unit}`", rule.glob),
                    ),
                    None,
                )
            } else {
                Self::decision(
                    Verdict::Deny,
                    Provenance::at(
                        Layer::Ceiling,
                        &self.ceiling_origin,
                        format!("grant services `{}` at {} covers `{unit}`, but the ceiling of repo `{}` does not", rule.glob, rule.origin, self.repo),
                    ),
                    Some(format!("the administrator can add `\"{stem}\"` to `ceiling.services` of repo `{}` at {}", self.repo, self.ceiling_origin)),
                )
            }
        } else {
            Self::decision(
                Verdict::Deny,
                Provenance::nowhere(
                    Layer::Grant,
                    &self.grants_file,
                    format!(
                        "no grant for `{subject}` in repo `{}` covers service `{unit}`",
                        self.repo
                    ),
                ),
                Some(format!(
                    "grant it: `[[grant]] package = \"{subject}\" services = [\"{stem}\"]`"
                )),
            )
        };
        if !service_decision.is_allowed() {
            return service_decision;
        }
        let Some(user) = runs_as else {
            return service_decision;
        };
        let mut user_decision = self.decide_name(NameKind::User, user, false);
        if user_decision.is_allowed() {
            return service_decision;
        }
        user_decision.because.rule = format!(
            "service `{unit}` runs as `{user}`: {}",
            user_decision.because.rule
        );
        if user == "root" {
            user_decision.hint = Some(format!(
                "set `User=` in `{unit}` to an unprivileged user, or grant it: `[[grant]] package = \"{subject}\" users = [\"root\"]`"
            ));
        }
        user_decision
    }

    fn decide_scripts(&self, mode: ScriptMode) -> Decision {
        let subject = &self.subject_name;
        if mode == ScriptMode::None {
            return Self::decision(
                Verdict::Allow,
                Provenance::nowhere(
                    Layer::Grant,
                    &self.grants_file,
                    "no scripts to run".to_owned(),
                ),
                None,
            );
        }
        if let Some(denied) = self.deny.scripts.as_ref().filter(|d| mode >= d.value) {
            return Self::decision(
                Verdict::Forbid,
                Provenance::at(
                    Layer::Override,
                    &denied.origin,
                    format!(
                        "deny override scripts `{}` forbids `{mode}` scripts",
                        denied.value
                    ),
                ),
                None,
            );
        }
        if let Some(allowed) = self.allow.scripts.as_ref().filter(|a| mode <= a.value) {
            return Self::decision(
                Verdict::Allow,
                Provenance::at(
                    Layer::Override,
                    &allowed.origin,
                    format!(
                        "allow override scripts `{}` allows `{mode}` scripts",
                        allowed.value
                    ),
                ),
                None,
            );
        }
        match &self.grants.scripts {
            Some(granted) if mode <= granted.value => {
                if self
                    .ceiling
                    .scripts
                    .as_ref()
                    .is_some_and(|c| mode <= c.value)
                {
                    Self::decision(
                        Verdict::Allow,
                        Provenance::at(
                            Layer::Grant,
                            &granted.origin,
                            format!("grant scripts `{}` allows `{mode}` scripts", granted.value),
                        ),
                        None,
                    )
                } else {
                    Self::decision(
                        Verdict::Deny,
                        Provenance::at(
                            Layer::Ceiling,
                            &self.ceiling_origin,
                            format!("grant scripts `{}` at {} allows `{mode}` scripts, but the ceiling of repo `{}` does not", granted.value, granted.origin, self.repo),
                        ),
                        Some(format!("the administrator can set `ceiling.scripts = \"{mode}\"` for repo `{}` at {}", self.repo, self.ceiling_origin)),
                    )
                }
            }
            _ => Self::decision(
                Verdict::Deny,
                Provenance::nowhere(
                    Layer::Grant,
                    &self.grants_file,
                    format!(
                        "no grant for `{subject}` in repo `{}` allows `{mode}` scripts",
                        self.repo
                    ),
                ),
                Some(format!(
                    "grant it: `[[grant]] package = \"{subject}\" scripts = \"{mode}\"`"
                )),
            ),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum NameKind {
    User,
    Group,
}

/// Shared file name used by provenance of rules with no file.
pub fn catalog_file_name() -> Arc<str> {
    Arc::from(CATALOG_FILE)
}
