//! Reading policy and grants files: TOML → raw serde structs (with spans) →
//! validated [`Policy`]. Pure: the caller passes file names and contents.
//!
//! All problems of all files are collected, each at `file:line:column` with
//! a hint, so an administrator fixes a file in one pass.

use crate::catalog::{GuardedClass, CATALOG};
use crate::model::{
    Capabilities, CapabilityGrowth, Delegation, ExtraGuarded, FileCapabilityRule, Grant,
    GuardedName, Located, Origin, Override, Policy, Repo, SandboxMissing, SandboxRequirement,
    SandboxRule, ScriptMode, Selector, Verifiers, VersionConstraint, VersionOperator,
};
use crate::pattern::{validate_path_pattern, NameGlob, PathPattern};
use crate::version::Version;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use toml::Spanned;

/// The embedded default policy, used when no policy file exists anywhere.
pub const EMBEDDED_DEFAULT_NAME: &str = "<embedded default>";
pub const EMBEDDED_DEFAULT: &str = include_str!("default_policy.toml");

/// One file to read: its name (for messages) and its contents.
#[derive(Debug, Clone, Copy)]
pub struct SourceFile<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

/// All the files that make up a policy.
#[derive(Debug, Clone, Default)]
pub struct PolicyInput<'a> {
    /// Administrator policy files (`policy.toml`, then `policy.d/*.toml` in
    /// name order). Empty: the embedded default is used.
    pub policy_files: Vec<SourceFile<'a>>,
    /// Grants files, each for a repo. A grants file for a repo replaces the
    /// grants and delegations the policy files define for that repo.
    pub grants_files: Vec<(String, SourceFile<'a>)>,
}

/// One problem in a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// All problems found, in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl fmt::Display for PolicyErrors {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        write!(
            formatter,
            "{count} problem{} in the policy files",
            if count == 1 { "" } else { "s" }
        )?;
        for error in &self.0 {
            write!(formatter, "\n  {error}")?;
            if let Some(hint) = &error.hint {
                write!(formatter, "\n    hint: {hint}")?;
            }
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocument {
    #[serde(default)]
    repo: Vec<RawRepo>,
    #[serde(default, rename = "override")]
    overrides: Vec<RawOverride>,
    #[serde(default)]
    grant: Vec<RawGrant>,
    #[serde(default)]
    delegate: Vec<RawDelegate>,
    #[serde(default)]
    guarded: Vec<RawGuarded>,
}

type Text = Spanned<String>;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCapabilities {
    #[serde(default)]
    paths: Vec<Text>,
    #[serde(default)]
    guarded: Vec<Text>,
    #[serde(default)]
    users: Vec<Text>,
    #[serde(default)]
    groups: Vec<Text>,
    #[serde(default)]
    services: Vec<Text>,
    #[serde(default)]
    setuid: Vec<Text>,
    #[serde(default, rename = "file-capabilities")]
    file_capabilities: Vec<Text>,
    scripts: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVerifiers {
    #[serde(default)]
    keys: Vec<Text>,
    threshold: Spanned<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSandbox {
    requirement: Option<Text>,
    #[serde(rename = "on-missing")]
    on_missing: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRepo {
    name: Text,
    #[serde(default)]
    keys: Vec<Text>,
    ceiling: Option<Spanned<RawCapabilities>>,
    verifiers: Option<Spanned<RawVerifiers>>,
    sandbox: Option<Spanned<RawSandbox>>,
    #[serde(rename = "capability-growth")]
    capability_growth: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverride {
    package: Text,
    version: Option<Text>,
    repo: Option<Text>,
    allow: Option<Spanned<RawCapabilities>>,
    deny: Option<Spanned<RawCapabilities>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrant {
    package: Text,
    version: Option<Text>,
    repo: Option<Text>,
    #[serde(default)]
    paths: Vec<Text>,
    #[serde(default)]
    guarded: Vec<Text>,
    #[serde(default)]
    users: Vec<Text>,
    #[serde(default)]
    groups: Vec<Text>,
    #[serde(default)]
    services: Vec<Text>,
    #[serde(default)]
    setuid: Vec<Text>,
    #[serde(default, rename = "file-capabilities")]
    file_capabilities: Vec<Text>,
    scripts: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSelector {
    package: Text,
    version: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDelegate {
    owner: Text,
    path: Text,
    to: Spanned<RawSelector>,
    #[serde(default)]
    except: Vec<Text>,
    repo: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGuarded {
    id: Text,
    class: Text,
    paths: Vec<Text>,
    reason: Text,
}

/// Byte offset → (line, column), both 1-based, column in characters.
fn line_column(text: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

/// Context for one file being validated.
struct FileContext<'a> {
    name: Arc<str>,
    text: &'a str,
    errors: &'a mut Vec<PolicyError>,
}

impl FileContext<'_> {
    fn origin(&self, span: &Range<usize>) -> Origin {
        let (line, column) = line_column(self.text, span.start);
        Origin {
            file: self.name.clone(),
            line,
            column,
        }
    }

    fn error(&mut self, span: &Range<usize>, message: String, hint: Option<String>) {
        let (line, column) = line_column(self.text, span.start);
        self.errors.push(PolicyError {
            file: self.name.to_string(),
            line,
            column,
            message,
            hint,
        });
    }

    fn located<S, T>(&self, spanned: &Spanned<S>, value: T) -> Located<T> {
        Located {
            value,
            origin: self.origin(&spanned.span()),
        }
    }

    fn path_patterns(
        &mut self,
        what: &str,
        items: &[Text],
        allow_star: bool,
    ) -> Vec<Located<String>> {
        let mut result = Vec::new();
        for item in items {
            let text = item.get_ref();
            if allow_star && text == "*" {
                result.push(self.located(item, text.clone()));
                continue;
            }
            match validate_path_pattern(text) {
                Ok(()) => result.push(self.located(item, text.clone())),
                Err(error) => self.error(
                    &item.span(),
                    format!("bad {what} pattern: {error}"),
                    Some(
                        "path patterns are absolute and canonical: `*` and `?` stay within one component, `**` is a whole component, `{name}` is the package name (e.g. `/usr/share/doc/{name}/**`)"
                            .to_owned(),
                    ),
                ),
            }
        }
        result
    }

    /// `PATTERN=CAPS` items of a `file-capabilities` list.
    fn file_capability_rules(&mut self, items: &[Text]) -> Vec<Located<FileCapabilityRule>> {
        const EXAMPLE: &str = "write `PATH=CAPS`, e.g. `/usr/bin/ping=cap_net_raw` or `/usr/lib/{name}/*=cap_net_bind_service,cap_net_raw`; `*` in CAPS covers every capability but the root-equivalent ones, which must be named";
        let mut result = Vec::new();
        for item in items {
            let text = item.get_ref();
            let Some((path, list)) = text.rsplit_once('=') else {
                self.error(
                    &item.span(),
                    format!("file capability rule `{text}` has no `=`"),
                    Some(EXAMPLE.to_owned()),
                );
                continue;
            };
            if path != "*" {
                if let Err(error) = validate_path_pattern(path) {
                    self.error(
                        &item.span(),
                        format!("bad file-capabilities pattern: {error}"),
                        Some(EXAMPLE.to_owned()),
                    );
                    continue;
                }
            }
            let mut rule = FileCapabilityRule {
                path: path.to_owned(),
                named: 0,
                star: false,
            };
            if list.trim().is_empty() {
                self.error(
                    &item.span(),
                    format!("file capability rule `{text}` names no capability"),
                    Some(EXAMPLE.to_owned()),
                );
                continue;
            }
            let mut valid = true;
            for name in list.split(',').map(str::trim) {
                if name == "*" {
                    rule.star = true;
                } else if let Some(number) =
                    pkgward_package::file_capabilities::capability_number(name)
                {
                    rule.named |= 1 << number;
                } else {
                    self.error(
                        &item.span(),
                        format!("unknown capability `{name}` in `{text}`"),
                        Some("capabilities are libcap names such as `cap_net_raw`, `cap_net_bind_service` (capabilities(7)), or `*`".to_owned()),
                    );
                    valid = false;
                }
            }
            if valid {
                result.push(self.located(item, rule));
            }
        }
        result
    }

    fn name_globs(&mut self, what: &str, items: &[Text]) -> Vec<Located<String>> {
        let mut result = Vec::new();
        for item in items {
            match NameGlob::parse(item.get_ref()) {
                Ok(_) => result.push(self.located(item, item.get_ref().clone())),
                Err(error) => self.error(
                    &item.span(),
                    format!("bad {what}: {error}"),
                    Some(format!(
                        "a {what} is a name or a glob with `*` and `?`, e.g. `redis` or `redis-*`"
                    )),
                ),
            }
        }
        result
    }

    fn script_mode(&mut self, item: Option<&Text>) -> Option<Located<ScriptMode>> {
        let item = item?;
        if let Some(mode) = ScriptMode::parse(item.get_ref()) {
            Some(self.located(item, mode))
        } else {
            self.error(
                &item.span(),
                format!("unknown script mode `{}`", item.get_ref()),
                Some("use one of `none`, `sandboxed`, `unconfined`".to_owned()),
            );
            None
        }
    }

    fn guarded_names(
        &mut self,
        items: &[Text],
        known_ids: &HashSet<String>,
    ) -> Vec<Located<GuardedName>> {
        let mut result = Vec::new();
        for item in items {
            let text = item.get_ref();
            let name = if text == "*" {
                Some(GuardedName::Any)
            } else if let Some(class) = GuardedClass::parse(text) {
                Some(GuardedName::Class(class))
            } else if known_ids.contains(text) {
                Some(GuardedName::Id(text.clone()))
            } else {
                None
            };
            if let Some(name) = name {
                result.push(self.located(item, name));
            } else {
                let suggestion = known_ids
                    .iter()
                    .filter(|id| id.contains(text.as_str()) || text.contains(id.as_str()))
                    .min()
                    .map(|id| format!("did you mean `{id}`? "))
                    .unwrap_or_default();
                self.error(
                    &item.span(),
                    format!("unknown guarded location or class `{text}`"),
                    Some(format!(
                        "{suggestion}use `*`, a class (`autoexec`, `privilege`, `kernel`, `state`) or a location id from `pkgward policy show --catalog`"
                    )),
                );
            }
        }
        result
    }

    fn capabilities(&mut self, raw: &RawCapabilities, known_ids: &HashSet<String>) -> Capabilities {
        Capabilities {
            paths: self.path_patterns("path", &raw.paths, false),
            guarded: self.guarded_names(&raw.guarded, known_ids),
            users: self.name_globs("user", &raw.users),
            groups: self.name_globs("group", &raw.groups),
            services: self.name_globs("service", &raw.services),
            setuid: self.path_patterns("setuid", &raw.setuid, true),
            file_capabilities: self.file_capability_rules(&raw.file_capabilities),
            scripts: self.script_mode(raw.scripts.as_ref()),
        }
    }

    fn package_glob(&mut self, item: &Text) -> Located<String> {
        let text = item.get_ref();
        let valid_characters = text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.*?".contains(c));
        if text.is_empty() || !valid_characters {
            self.error(
                &item.span(),
                format!("bad package selector `{text}`"),
                Some("package names use `a-z0-9+-.`; the selector may add `*` and `?` (e.g. `python3-*`)".to_owned()),
            );
        }
        self.located(item, text.clone())
    }

    fn version_constraint(&mut self, item: Option<&Text>) -> Option<Located<VersionConstraint>> {
        let item = item?;
        let text = item.get_ref();
        let mut clauses = Vec::new();
        for clause in text.split(',') {
            let clause = clause.trim();
            let operators = [
                ("<<", VersionOperator::Less),
                ("<=", VersionOperator::LessOrEqual),
                (">=", VersionOperator::GreaterOrEqual),
                (">>", VersionOperator::Greater),
                ("=", VersionOperator::Equal),
            ];
            let Some((operator, rest)) = operators.iter().find_map(|(spelling, operator)| {
                clause.strip_prefix(spelling).map(|rest| (*operator, rest))
            }) else {
                self.error(
                    &item.span(),
                    format!("bad version constraint `{text}`: clause `{clause}` has no operator"),
                    Some("write clauses like `>= 5:7.0, << 5:8`; operators are `<<`, `<=`, `=`, `>=`, `>>` (dpkg ordering)".to_owned()),
                );
                return None;
            };
            if rest.starts_with(['<', '>', '=']) {
                self.error(
                    &item.span(),
                    format!("bad version constraint `{text}`: unknown operator in `{clause}`"),
                    Some("operators are `<<`, `<=`, `=`, `>=`, `>>` (dpkg spelling; `<` and `>` are not accepted)".to_owned()),
                );
                return None;
            }
            match Version::parse(rest.trim()) {
                Ok(version) => clauses.push((operator, version)),
                Err(error) => {
                    self.error(
                        &item.span(),
                        format!("bad version constraint `{text}`: {error}"),
                        Some(
                            "versions are dpkg versions: `[epoch:]upstream[-revision]`".to_owned(),
                        ),
                    );
                    return None;
                }
            }
        }
        Some(self.located(
            item,
            VersionConstraint {
                text: text.clone(),
                clauses,
            },
        ))
    }

    fn key(
        &mut self,
        item: &Text,
        seen: &mut HashSet<String>,
        what: &str,
    ) -> Option<Located<String>> {
        let text = item.get_ref();
        let valid = text.strip_prefix("ed25519:").is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+/=_-".contains(c))
        });
        if !valid {
            self.error(
                &item.span(),
                format!("bad {what} `{text}`"),
                Some(
                    "keys are written `ed25519:<base64 or hex public key>` (see `pkgward keygen`)"
                        .to_owned(),
                ),
            );
            return None;
        }
        if !seen.insert(text.clone()) {
            self.error(
                &item.span(),
                format!("duplicate {what} `{text}`"),
                Some("each key counts once; list every key a single time".to_owned()),
            );
            return None;
        }
        Some(self.located(item, text.clone()))
    }
}

/// Which kind of file is being read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FileKind<'a> {
    Policy,
    Grants { repo: &'a str },
}

/// Parse and validate all files of a policy.
pub fn load(input: &PolicyInput<'_>) -> Result<Policy, PolicyErrors> {
    let default_file = [SourceFile {
        name: EMBEDDED_DEFAULT_NAME,
        text: EMBEDDED_DEFAULT,
    }];
    let policy_files: &[SourceFile<'_>] = if input.policy_files.is_empty() {
        &default_file
    } else {
        &input.policy_files
    };
    let mut errors = Vec::new();
    let mut documents = Vec::new();
    let mut files: Vec<(FileKind<'_>, SourceFile<'_>)> = policy_files
        .iter()
        .map(|f| (FileKind::Policy, *f))
        .collect();
    files.extend(
        input
            .grants_files
            .iter()
            .map(|(repo, f)| (FileKind::Grants { repo }, *f)),
    );
    for (kind, file) in &files {
        match toml::from_str::<RawDocument>(file.text) {
            Ok(document) => documents.push((*kind, *file, document)),
            Err(error) => {
                let (line, column) = error
                    .span()
                    .map_or((1, 1), |span| line_column(file.text, span.start));
                let message = error.message().trim_end_matches('.').to_owned();
                let hint = if message.contains("unknown field") {
                    Some(
                        "remove the key or fix its spelling; the schema is in docs/policy.md"
                            .to_owned(),
                    )
                } else {
                    Some("the file must be valid TOML following docs/policy.md".to_owned())
                };
                errors.push(PolicyError {
                    file: file.name.to_owned(),
                    line,
                    column,
                    message,
                    hint,
                });
            }
        }
    }

    // Location ids: the catalog plus every `[[guarded]]` of the policy files.
    let mut known_ids: HashSet<String> = CATALOG.iter().map(|entry| entry.0.to_owned()).collect();
    for (kind, _, document) in &documents {
        if *kind == FileKind::Policy {
            known_ids.extend(document.guarded.iter().map(|g| g.id.get_ref().clone()));
        }
    }
    let replaced_repos: HashSet<&str> = input
        .grants_files
        .iter()
        .map(|(repo, _)| repo.as_str())
        .collect();

    let mut policy = Policy::default();
    let mut repo_references: Vec<(String, Arc<str>, &str, Range<usize>)> = Vec::new();
    let mut repo_definitions: HashMap<String, Origin> = HashMap::new();
    for (kind, file, document) in &documents {
        policy.sources.push(file.name.to_owned());
        let mut context = FileContext {
            name: Arc::from(file.name),
            text: file.text,
            errors: &mut errors,
        };
        if let FileKind::Grants { repo } = kind {
            let misplaced = [
                ("repo", document.repo.first().map(|r| r.name.span())),
                (
                    "override",
                    document.overrides.first().map(|o| o.package.span()),
                ),
                ("guarded", document.guarded.first().map(|g| g.id.span())),
            ];
            for (table, span) in misplaced {
                if let Some(span) = span {
                    context.error(
                        &span,
                        format!("`[[{table}]]` is not allowed in a grants file (repo `{repo}`)"),
                        Some(format!("move `[[{table}]]` into the administrator policy (`/etc/pkgward/policy.toml`)")),
                    );
                }
            }
        }
        if *kind == FileKind::Policy {
            for raw in &document.repo {
                let name = raw.name.get_ref();
                if let Some(first) = repo_definitions.get(name) {
                    context.error(
                        &raw.name.span(),
                        format!("repo `{name}` is defined twice (first at {first})"),
                        Some("merge the two `[[repo]]` tables".to_owned()),
                    );
                    continue;
                }
                let valid_name = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                if !valid_name {
                    context.error(
                        &raw.name.span(),
                        format!("bad repo name `{name}`"),
                        Some("repo names use letters, digits, `-`, `_` and `.`".to_owned()),
                    );
                }
                repo_definitions.insert(name.clone(), context.origin(&raw.name.span()));
                if let Some(repo) = validate_repo(&mut context, raw, &known_ids) {
                    policy.repos.push(repo);
                }
            }
            for raw in &document.guarded {
                let id = raw.id.get_ref();
                if CATALOG.iter().any(|entry| entry.0 == id) {
                    context.error(
                        &raw.id.span(),
                        format!("guarded location `{id}` already exists in the built-in catalog"),
                        Some(
                            "choose another id; built-in locations cannot be redefined".to_owned(),
                        ),
                    );
                    continue;
                }
                let Some(class) = GuardedClass::parse(raw.class.get_ref()) else {
                    context.error(
                        &raw.class.span(),
                        format!("unknown guarded class `{}`", raw.class.get_ref()),
                        Some("use one of `autoexec`, `privilege`, `kernel`, `state`".to_owned()),
                    );
                    continue;
                };
                let paths = context.path_patterns("guarded", &raw.paths, false);
                if raw.paths.is_empty() {
                    context.error(
                        &raw.id.span(),
                        format!("guarded location `{id}` has no paths"),
                        Some("add `paths = [\"/etc/example/**\"]`".to_owned()),
                    );
                }
                policy.guarded.push(ExtraGuarded {
                    id: context.located(&raw.id, id.clone()),
                    class,
                    paths,
                    reason: raw.reason.get_ref().clone(),
                });
            }
            for raw in &document.overrides {
                let selector = validate_selector(
                    &mut context,
                    &raw.package,
                    raw.version.as_ref(),
                    raw.repo.as_ref(),
                );
                if let Some(repo) = &raw.repo {
                    repo_references.push((
                        repo.get_ref().clone(),
                        context.name.clone(),
                        file.text,
                        repo.span(),
                    ));
                }
                let allow = raw
                    .allow
                    .as_ref()
                    .map(|c| context.capabilities(c.get_ref(), &known_ids))
                    .unwrap_or_default();
                let deny = raw
                    .deny
                    .as_ref()
                    .map(|c| context.capabilities(c.get_ref(), &known_ids))
                    .unwrap_or_default();
                if allow.is_empty() && deny.is_empty() {
                    context.error(
                        &raw.package.span(),
                        format!(
                            "override for `{}` allows and denies nothing",
                            raw.package.get_ref()
                        ),
                        Some("add `allow = { ... }` or `deny = { ... }`".to_owned()),
                    );
                }
                policy.overrides.push(Override {
                    selector,
                    allow,
                    deny,
                });
            }
        }
        let grants_repo = match kind {
            FileKind::Grants { repo } => Some(*repo),
            FileKind::Policy => None,
        };
        for raw in &document.grant {
            let Some(repo) = grant_repo(&mut context, grants_repo, raw.repo.as_ref(), &raw.package)
            else {
                continue;
            };
            if grants_repo.is_none() && replaced_repos.contains(repo.as_str()) {
                continue;
            }
            if let Some(spanned) = &raw.repo {
                repo_references.push((
                    repo.clone(),
                    context.name.clone(),
                    file.text,
                    spanned.span(),
                ));
            }
            let selector = validate_selector(
                &mut context,
                &raw.package,
                raw.version.as_ref(),
                raw.repo.as_ref(),
            );
            let capabilities = context.capabilities(
                &RawCapabilities {
                    paths: raw.paths.clone(),
                    guarded: raw.guarded.clone(),
                    users: raw.users.clone(),
                    groups: raw.groups.clone(),
                    services: raw.services.clone(),
                    setuid: raw.setuid.clone(),
                    file_capabilities: raw.file_capabilities.clone(),
                    scripts: raw.scripts.clone(),
                },
                &known_ids,
            );
            if capabilities.is_empty() {
                context.error(
                    &raw.package.span(),
                    format!("grant for `{}` grants nothing", raw.package.get_ref()),
                    Some("add capabilities, e.g. `paths = [\"/usr/share/{name}/**\"]`".to_owned()),
                );
            }
            policy.grants.push(Grant {
                repo,
                selector,
                capabilities,
            });
        }
        for raw in &document.delegate {
            let Some(repo) = grant_repo(&mut context, grants_repo, raw.repo.as_ref(), &raw.owner)
            else {
                continue;
            };
            if grants_repo.is_none() && replaced_repos.contains(repo.as_str()) {
                continue;
            }
            if let Some(spanned) = &raw.repo {
                repo_references.push((
                    repo.clone(),
                    context.name.clone(),
                    file.text,
                    spanned.span(),
                ));
            }
            let owner_valid = raw
                .owner
                .get_ref()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
            if !owner_valid || raw.owner.get_ref().is_empty() {
                context.error(
                    &raw.owner.span(),
                    format!("bad delegation owner `{}`", raw.owner.get_ref()),
                    Some("the owner is one installed package's exact name (no globs)".to_owned()),
                );
            }
            if raw.path.get_ref().contains("{name}") {
                context.error(
                    &raw.path.span(),
                    format!("delegation path `{}` uses `{{name}}`", raw.path.get_ref()),
                    Some(
                        "a delegation passes on one directory of its owner; write it literally"
                            .to_owned(),
                    ),
                );
            }
            let path =
                context.path_patterns("delegation path", std::slice::from_ref(&raw.path), false);
            // `except` entries may be relative to the delegated directory
            // (`**/*.pth`, as in DESIGN.md); they are stored absolute.
            let directory = PathPattern::parse(raw.path.get_ref())
                .map(|p| p.literal_prefix())
                .unwrap_or_default();
            let absolute_except: Vec<Text> = raw
                .except
                .iter()
                .map(|item| {
                    let text = item.get_ref();
                    if text.starts_with('/') {
                        item.clone()
                    } else {
                        Spanned::new(
                            item.span(),
                            format!("{}/{text}", directory.trim_end_matches('/')),
                        )
                    }
                })
                .collect();
            let except = context.path_patterns("except", &absolute_except, false);
            let to = raw.to.get_ref();
            let selector = validate_selector(&mut context, &to.package, to.version.as_ref(), None);
            if let Some(path) = path.into_iter().next() {
                policy.delegations.push(Delegation {
                    repo,
                    owner: context.located(&raw.owner, raw.owner.get_ref().clone()),
                    path,
                    to: selector,
                    except,
                });
            }
        }
    }
    for (repo, _, _) in input
        .grants_files
        .iter()
        .map(|(repo, file)| (repo, file.name, file.text))
    {
        if !repo_definitions.contains_key(repo) {
            errors.push(PolicyError {
                file: input
                    .grants_files
                    .iter()
                    .find(|(r, _)| r == repo)
                    .map(|(_, f)| f.name.to_owned())
                    .unwrap_or_default(),
                line: 1,
                column: 1,
                message: format!("grants file is for repo `{repo}`, which the policy does not define"),
                hint: Some(format!("add `[[repo]]` with `name = \"{repo}\"` to the policy, or pass `--repo` with a defined repo")),
            });
        }
    }
    for (repo, file, text, span) in repo_references {
        if !repo_definitions.contains_key(&repo) {
            let (line, column) = line_column(text, span.start);
            let mut defined: Vec<&str> = repo_definitions.keys().map(String::as_str).collect();
            defined.sort_unstable();
            errors.push(PolicyError {
                file: file.to_string(),
                line,
                column,
                message: format!("repo `{repo}` is referenced but not defined"),
                hint: Some(format!(
                    "define it with `[[repo]]` `name = \"{repo}\"` in the policy (defined repos: {})",
                    if defined.is_empty() { "none".to_owned() } else { defined.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", ") }
                )),
            });
        }
    }
    if errors.is_empty() {
        Ok(policy)
    } else {
        Err(PolicyErrors(errors))
    }
}

fn grant_repo(
    context: &mut FileContext<'_>,
    file_repo: Option<&str>,
    written: Option<&Text>,
    anchor: &Text,
) -> Option<String> {
    match (file_repo, written) {
        (Some(file_repo), Some(written)) if written.get_ref() != file_repo => {
            context.error(
                &written.span(),
                format!(
                    "entry names repo `{}` but this grants file is for repo `{file_repo}`",
                    written.get_ref()
                ),
                Some("remove `repo`, or pass the file for the right repo".to_owned()),
            );
            None
        }
        (Some(file_repo), _) => Some(file_repo.to_owned()),
        (None, Some(written)) => Some(written.get_ref().clone()),
        (None, None) => {
            context.error(
                &anchor.span(),
                "entry in a policy file has no `repo`".to_owned(),
                Some("add `repo = \"<name>\"`; only grants files imply their repo".to_owned()),
            );
            None
        }
    }
}

fn validate_selector(
    context: &mut FileContext<'_>,
    package: &Text,
    version: Option<&Text>,
    repo: Option<&Text>,
) -> Selector {
    Selector {
        package: context.package_glob(package),
        version: context.version_constraint(version),
        repo: repo.map(|r| context.located(r, r.get_ref().clone())),
    }
}

fn validate_repo(
    context: &mut FileContext<'_>,
    raw: &RawRepo,
    known_ids: &HashSet<String>,
) -> Option<Repo> {
    let name = raw.name.get_ref();
    let mut seen = HashSet::new();
    let keys = raw
        .keys
        .iter()
        .filter_map(|k| context.key(k, &mut seen, "repo key"))
        .collect();
    let Some(ceiling) = &raw.ceiling else {
        context.error(
            &raw.name.span(),
            format!("repo `{name}` has no ceiling"),
            Some("add `ceiling = { paths = [\"/**\"], scripts = \"sandboxed\" }` (the most this repo may ever grant)".to_owned()),
        );
        return None;
    };
    let ceiling_origin = context.origin(&ceiling.span());
    let ceiling = context.capabilities(ceiling.get_ref(), known_ids);
    let verifiers = raw.verifiers.as_ref().and_then(|spanned| {
        let raw = spanned.get_ref();
        let mut seen = HashSet::new();
        let keys: Vec<_> = raw
            .keys
            .iter()
            .filter_map(|k| context.key(k, &mut seen, "verifier key"))
            .collect();
        let threshold = *raw.threshold.get_ref();
        if threshold <= 0 {
            context.error(
                &raw.threshold.span(),
                format!("verifier threshold of repo `{name}` is {threshold}"),
                Some(
                    "a threshold below 1 would accept packages nobody verified; use at least 1"
                        .to_owned(),
                ),
            );
            return None;
        }
        if usize::try_from(threshold).map_or(true, |t| t > raw.keys.len()) {
            context.error(
                &raw.threshold.span(),
                format!(
                    "verifier threshold {threshold} of repo `{name}` exceeds its {} key(s)",
                    raw.keys.len()
                ),
                Some(
                    "lower the threshold or add verifier keys; keys are counted, never signatures"
                        .to_owned(),
                ),
            );
            return None;
        }
        Some(Verifiers {
            keys,
            threshold: context
                .located(&raw.threshold, u32::try_from(threshold).unwrap_or(u32::MAX)),
        })
    });
    let mut sandbox = SandboxRule::default();
    if let Some(spanned) = &raw.sandbox {
        let raw_sandbox = spanned.get_ref();
        if let Some(requirement) = &raw_sandbox.requirement {
            match requirement.get_ref().as_str() {
                "required" => sandbox.requirement = SandboxRequirement::Required,
                "best-effort" => sandbox.requirement = SandboxRequirement::BestEffort,
                other => context.error(
                    &requirement.span(),
                    format!("unknown sandbox requirement `{other}`"),
                    Some("use `required` or `best-effort`".to_owned()),
                ),
            }
        }
        if let Some(on_missing) = &raw_sandbox.on_missing {
            match on_missing.get_ref().as_str() {
                "refuse" => sandbox.on_missing = SandboxMissing::Refuse,
                "degrade" => sandbox.on_missing = SandboxMissing::Degrade,
                "skip-scripts" => sandbox.on_missing = SandboxMissing::SkipScripts,
                other => context.error(
                    &on_missing.span(),
                    format!("unknown sandbox on-missing action `{other}`"),
                    Some("use `refuse`, `degrade` or `skip-scripts`".to_owned()),
                ),
            }
            if sandbox.requirement == SandboxRequirement::Required
                && sandbox.on_missing == SandboxMissing::Degrade
            {
                context.error(
                    &on_missing.span(),
                    format!("repo `{name}` requires the sandbox but would run degraded when it is missing"),
                    Some("use `requirement = \"best-effort\"` to allow `degrade`, or `on-missing = \"refuse\"`".to_owned()),
                );
            }
        } else if sandbox.requirement == SandboxRequirement::BestEffort {
            sandbox.on_missing = SandboxMissing::Degrade;
        }
    }
    let mut capability_growth = CapabilityGrowth::Hold;
    if let Some(growth) = &raw.capability_growth {
        match growth.get_ref().as_str() {
            "hold" => capability_growth = CapabilityGrowth::Hold,
            "allow" => capability_growth = CapabilityGrowth::Allow,
            other => context.error(
                &growth.span(),
                format!("unknown capability-growth rule `{other}`"),
                Some("use `hold` (keep the old version until re-granted) or `allow`".to_owned()),
            ),
        }
    }
    Some(Repo {
        name: context.located(&raw.name, name.clone()),
        keys,
        ceiling,
        ceiling_origin,
        verifiers,
        sandbox,
        capability_growth,
    })
}

/// Check that a compiled path pattern parses (used by tests and callers).
pub fn is_valid_path_pattern(text: &str) -> bool {
    PathPattern::parse(text).is_ok()
}
