//! systemd unit files: parser, checker against the package's service
//! capability (THREATS 32), enablement symlinks as `systemctl --root R
//! enable` creates them, and `*.preset` files.
//!
//! Parsing follows systemd's `config_parse`: `#`/`;` comments, `[Section]`
//! headers, `Key=Value` with whitespace around `=` trimmed, a trailing `\`
//! joins the next line with a space (comment lines inside a continuation
//! are skipped, as systemd ≥ 236 does), and a section that appears twice is
//! merged — so a second `[Service]` with a later `User=` overrides the first,
//! exactly what the checker must see.

use crate::refusal::Refusal;
use serde::Serialize;
use std::collections::BTreeSet;

/// One `Key=Value` assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnitEntry {
    pub key: String,
    pub value: String,
    /// The first physical line of the (possibly continued) assignment.
    pub line: usize,
}

/// A section with all its assignments (duplicate sections merged in order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnitSection {
    pub name: String,
    pub line: usize,
    pub entries: Vec<UnitEntry>,
}

/// A parsed unit file or drop-in.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct UnitFile {
    pub sections: Vec<UnitSection>,
}

impl UnitFile {
    /// All assignments of `key` in `section`, in order.
    pub fn values(&self, section: &str, key: &str) -> Vec<&UnitEntry> {
        self.sections
            .iter()
            .filter(|s| s.name == section)
            .flat_map(|s| s.entries.iter())
            .filter(|entry| entry.key == key)
            .collect()
    }

    /// The effective value of a single-valued setting: the last assignment
    /// wins, an empty assignment resets to unset.
    pub fn last_value(&self, section: &str, key: &str) -> Option<&UnitEntry> {
        self.values(section, key)
            .last()
            .copied()
            .filter(|entry| !entry.value.is_empty())
    }

    /// Space-separated list settings (`WantedBy=a b`), with empty
    /// assignments resetting the list.
    pub fn list(&self, section: &str, key: &str) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        for entry in self.values(section, key) {
            if entry.value.is_empty() {
                out.clear();
                continue;
            }
            out.extend(
                entry
                    .value
                    .split_whitespace()
                    .map(|item| (item.to_owned(), entry.line)),
            );
        }
        out
    }
}

/// A syntax error in a unit file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{file}` line {line}: {reason}")]
pub struct UnitParseError {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

/// Parses a unit file (or drop-in) text.
pub fn parse_unit(file: &str, text: &str) -> Result<UnitFile, UnitParseError> {
    let mut unit = UnitFile::default();
    let mut current: Option<usize> = None;
    let mut continued: Option<(String, usize)> = None;
    for (index, raw) in text.lines().enumerate() {
        let line_number = index + 1;
        let error = |reason: String| UnitParseError {
            file: file.to_owned(),
            line: line_number,
            reason,
        };
        let trimmed = raw.trim();
        if let Some((mut pending, start)) = continued.take() {
            if trimmed.starts_with('#') || trimmed.starts_with(';') {
                continued = Some((pending, start));
                continue;
            }
            if let Some(stripped) = trimmed.strip_suffix('\\') {
                pending.push(' ');
                pending.push_str(stripped);
                continued = Some((pending, start));
                continue;
            }
            pending.push(' ');
            pending.push_str(trimmed);
            let section =
                current.ok_or_else(|| error("assignment outside of any section".to_owned()))?;
            push_assignment(&mut unit.sections[section], &pending, start).map_err(|reason| {
                UnitParseError {
                    file: file.to_owned(),
                    line: start,
                    reason,
                }
            })?;
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if let Some(stripped) = trimmed.strip_suffix('\\') {
            continued = Some((stripped.to_owned(), line_number));
            continue;
        }
        if trimmed.starts_with('[') {
            let Some(name) = trimmed
                .strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
            else {
                return Err(error(format!("malformed section header `{trimmed}`")));
            };
            if name.is_empty() || name.contains(['[', ']']) {
                return Err(error(format!("malformed section header `{trimmed}`")));
            }
            // Duplicate sections merge into the first occurrence.
            current = Some(
                if let Some(existing) = unit.sections.iter().position(|s| s.name == name) {
                    existing
                } else {
                    unit.sections.push(UnitSection {
                        name: name.to_owned(),
                        line: line_number,
                        entries: Vec::new(),
                    });
                    unit.sections.len() - 1
                },
            );
            continue;
        }
        let section =
            current.ok_or_else(|| error("assignment outside of any section".to_owned()))?;
        push_assignment(&mut unit.sections[section], trimmed, line_number).map_err(error)?;
    }
    if let Some((pending, start)) = continued {
        // A continuation at end of file: systemd takes the text as is.
        let section = current.ok_or_else(|| UnitParseError {
            file: file.to_owned(),
            line: start,
            reason: "assignment outside of any section".to_owned(),
        })?;
        push_assignment(&mut unit.sections[section], &pending, start).map_err(|reason| {
            UnitParseError {
                file: file.to_owned(),
                line: start,
                reason,
            }
        })?;
    }
    Ok(unit)
}

fn push_assignment(section: &mut UnitSection, text: &str, line: usize) -> Result<(), String> {
    let Some((key, value)) = text.split_once('=') else {
        return Err(format!("missing `=` in `{text}`"));
    };
    let key = key.trim();
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return Err(format!("invalid key `{key}`"));
    }
    section.entries.push(UnitEntry {
        key: key.to_owned(),
        value: value.trim().to_owned(),
        line,
    });
    Ok(())
}

/// The parts of a unit name: `prefix@instance.suffix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitName {
    pub prefix: String,
    /// `Some("")` for a template (`foo@.service`), `Some(x)` for an instance.
    pub instance: Option<String>,
    pub suffix: String,
}

const UNIT_SUFFIXES: &[&str] = &[
    "service",
    "socket",
    "target",
    "device",
    "mount",
    "automount",
    "swap",
    "timer",
    "path",
    "slice",
    "scope",
];

/// Splits and validates a unit name.
pub fn parse_unit_name(name: &str) -> Option<UnitName> {
    let (stem, suffix) = name.rsplit_once('.')?;
    if !UNIT_SUFFIXES.contains(&suffix) || stem.is_empty() || name.len() > 255 {
        return None;
    }
    if !stem
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ":-_.\\@".contains(c))
    {
        return None;
    }
    let (prefix, instance) = match stem.split_once('@') {
        Some((prefix, instance)) => (prefix.to_owned(), Some(instance.to_owned())),
        None => (stem.to_owned(), None),
    };
    if prefix.is_empty() {
        return None;
    }
    Some(UnitName {
        prefix,
        instance,
        suffix: suffix.to_owned(),
    })
}

/// Expands the unit specifiers that depend only on the unit name
/// (`%n %N %p %P %i %I %j %J %%`); host-dependent ones are an error.
pub fn expand_unit_specifiers(text: &str, unit_name: &str) -> Result<String, String> {
    let parsed =
        parse_unit_name(unit_name).ok_or_else(|| format!("invalid unit name `{unit_name}`"))?;
    let instance = parsed.instance.clone().unwrap_or_default();
    let without_suffix = unit_name
        .rsplit_once('.')
        .map_or(unit_name, |(stem, _)| stem);
    let last_dash = parsed
        .prefix
        .rsplit('-')
        .next()
        .unwrap_or(&parsed.prefix)
        .to_owned();
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('n') => out.push_str(unit_name),
            Some('N') => out.push_str(without_suffix),
            Some('p' | 'P') => out.push_str(&parsed.prefix),
            Some('i' | 'I') => out.push_str(&instance),
            Some('j' | 'J') => out.push_str(&last_dash),
            Some(other) => {
                return Err(format!(
                    "specifier `%{other}` is not supported: it depends on the host"
                ))
            }
            None => return Err("lone `%` at the end of a value".to_owned()),
        }
    }
    Ok(out)
}

/// A symlink to create in the root (both paths absolute, inside the root).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct EnableSymlink {
    /// Where the link goes: `/etc/systemd/system/multi-user.target.wants/x.service`.
    pub link: String,
    /// What it points to: the unit file path, e.g. `/lib/systemd/system/x.service`.
    pub target: String,
}

/// The result of enabling one unit: its links plus the `Also=` units the
/// caller enables next (with their own files).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Enablement {
    pub symlinks: Vec<EnableSymlink>,
    pub also: Vec<String>,
    /// Install targets skipped, as systemctl warns about them.
    pub warnings: Vec<String>,
}

/// Why a unit cannot be enabled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnableError {
    #[error("`{0}` is not a valid unit name")]
    InvalidName(String),
    #[error("`{unit}` line {line}: {reason}")]
    Specifier {
        unit: String,
        line: usize,
        reason: String,
    },
    #[error("`{unit}`: `{value}` in `{directive}` is not a valid unit name")]
    InvalidTarget {
        unit: String,
        directive: String,
        value: String,
    },
}

/// The admin unit directory where `systemctl enable` writes.
pub const SYSTEM_CONFIG_DIRECTORY: &str = "/etc/systemd/system";

/// Computes the symlinks `systemctl --root R enable NAME` creates for the
/// unit file at `unit_path` (absolute path inside the root). `name` may be a
/// plain unit, a template (`foo@.service`, which uses `DefaultInstance=`)
/// or an instance (`foo@bar.service`).
pub fn enablement(name: &str, unit_path: &str, unit: &UnitFile) -> Result<Enablement, EnableError> {
    let parsed = parse_unit_name(name).ok_or_else(|| EnableError::InvalidName(name.to_owned()))?;
    let mut result = Enablement::default();
    // The name used in `.wants/` links: a template enables its default instance.
    let instance_name = match parsed.instance.as_deref() {
        Some("") => unit
            .last_value("Install", "DefaultInstance")
            .map(|entry| format!("{}@{}.{}", parsed.prefix, entry.value, parsed.suffix)),
        _ => Some(name.to_owned()),
    };
    let expand = |entry_value: &str, line: usize, for_name: &str| {
        expand_unit_specifiers(entry_value, for_name).map_err(|reason| EnableError::Specifier {
            unit: name.to_owned(),
            line,
            reason,
        })
    };
    // Aliases: instantiated for an instance, left as template for a template.
    for (alias, line) in unit.list("Install", "Alias") {
        let alias = expand(&alias, line, name)?;
        let alias_parsed = parse_unit_name(&alias).ok_or_else(|| EnableError::InvalidTarget {
            unit: name.to_owned(),
            directive: "Alias".to_owned(),
            value: alias.clone(),
        })?;
        let alias = match (&parsed.instance, &alias_parsed.instance) {
            (Some(instance), Some(alias_instance))
                if alias_instance.is_empty() && !instance.is_empty() =>
            {
                format!(
                    "{}@{}.{}",
                    alias_parsed.prefix, instance, alias_parsed.suffix
                )
            }
            _ => alias,
        };
        result.symlinks.push(EnableSymlink {
            link: format!("{SYSTEM_CONFIG_DIRECTORY}/{alias}"),
            target: unit_path.to_owned(),
        });
    }
    for (directive, directory_suffix) in [
        ("WantedBy", "wants"),
        ("RequiredBy", "requires"),
        ("UpheldBy", "upholds"),
    ] {
        for (target, line) in unit.list("Install", directive) {
            let Some(instance_name) = &instance_name else {
                result.warnings.push(format!(
                    "`{name}` has no `DefaultInstance=`: `{directive}={target}` skipped"
                ));
                continue;
            };
            let target = expand(&target, line, instance_name)?;
            let target_parsed =
                parse_unit_name(&target).ok_or_else(|| EnableError::InvalidTarget {
                    unit: name.to_owned(),
                    directive: directive.to_owned(),
                    value: target.clone(),
                })?;
            if target_parsed.instance.as_deref() == Some("") {
                result
                    .warnings
                    .push(format!("`{directive}={target}` names a template; skipped"));
                continue;
            }
            result.symlinks.push(EnableSymlink {
                link: format!(
                    "{SYSTEM_CONFIG_DIRECTORY}/{target}.{directory_suffix}/{instance_name}"
                ),
                target: unit_path.to_owned(),
            });
        }
    }
    for (also, line) in unit.list("Install", "Also") {
        result.also.push(expand(&also, line, name)?);
    }
    result.symlinks.sort();
    result.symlinks.dedup();
    Ok(result)
}

/// What a package may do with services (from its grants).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceGrant {
    /// Unit names the package owns (`redis-server.service`; a template as
    /// `foo@.service` also covers its instances).
    pub units: BTreeSet<String>,
    /// Users its services may run as.
    pub users: BTreeSet<String>,
    /// Groups its services may run as (including supplementary groups).
    pub groups: BTreeSet<String>,
    /// Services may run as root (no `User=`, or `User=root`).
    pub root: bool,
    /// `+`, `!` and `!!` Exec prefixes (run with full privileges).
    pub privileged_exec: bool,
    /// Capabilities allowed in `AmbientCapabilities=` and in a widening
    /// `CapabilityBoundingSet=`.
    pub capabilities: BTreeSet<String>,
    /// Files in systemd generator directories.
    pub generators: bool,
    /// Other packages' units it may extend with drop-ins or alias.
    pub foreign_units: BTreeSet<String>,
}

impl ServiceGrant {
    fn owns(&self, unit: &str) -> bool {
        if self.units.contains(unit) {
            return true;
        }
        parse_unit_name(unit).is_some_and(|parsed| {
            parsed.instance.is_some()
                && self
                    .units
                    .contains(&format!("{}@.{}", parsed.prefix, parsed.suffix))
        })
    }

    fn may_touch(&self, unit: &str) -> bool {
        self.owns(unit) || self.foreign_units.contains(unit)
    }
}

const EXEC_DIRECTIVES: &[&str] = &[
    "ExecStart",
    "ExecStartPre",
    "ExecStartPost",
    "ExecCondition",
    "ExecReload",
    "ExecStop",
    "ExecStopPost",
];

const GENERATOR_DIRECTORIES: &[&str] = &[
    "system-generators",
    "user-generators",
    "system-environment-generators",
    "user-environment-generators",
];

/// Where a file sits among systemd's directories.
#[derive(Debug, Clone, PartialEq, Eq)]
enum UnitLocation {
    Unit(String),
    DropIn { unit: String },
    Generator,
    Other,
}

fn locate(path: &str) -> UnitLocation {
    let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    if components.iter().any(|c| GENERATOR_DIRECTORIES.contains(c)) {
        return UnitLocation::Generator;
    }
    let Some(position) = components
        .iter()
        .position(|c| *c == "system" || *c == "user")
    else {
        return UnitLocation::Other;
    };
    if position == 0 || components[position - 1] != "systemd" {
        return UnitLocation::Other;
    }
    match &components[position + 1..] {
        [file] => UnitLocation::Unit((*file).to_owned()),
        [directory, _file] => match directory.strip_suffix(".d") {
            Some(unit) if !unit.is_empty() => UnitLocation::DropIn {
                unit: unit.to_owned(),
            },
            _ => UnitLocation::Other,
        },
        _ => UnitLocation::Other,
    }
}

/// Checks one file shipped under a systemd directory. `path` is its
/// absolute path in the package (`/lib/systemd/system/x.service`,
/// `/usr/lib/systemd/system/ssh.service.d/x.conf`,
/// `/usr/lib/systemd/system-generators/x`). `text` is `None` for files that
/// are not units (generators are binaries).
pub fn check_unit_file(path: &str, text: Option<&str>, grant: &ServiceGrant) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    let location = locate(path);
    let (unit_name, drop_in) = match &location {
        UnitLocation::Generator => {
            if !grant.generators {
                refusals.push(
                    Refusal::new(path, 1, "generator", "files in systemd generator directories run as root at every boot and daemon-reload")
                        .with_hint("grant `generators = true` for this package"),
                );
            }
            return refusals;
        }
        UnitLocation::Other => return refusals,
        UnitLocation::Unit(name) => (name.clone(), false),
        UnitLocation::DropIn { unit } => (unit.clone(), true),
    };
    if drop_in && !grant.may_touch(&unit_name) {
        refusals.push(
            Refusal::new(
                path,
                1,
                "drop-in",
                format!("drop-in into unit `{unit_name}`, which this package does not own"),
            )
            .with_hint(format!("grant `foreign_units = [\"{unit_name}\"]`")),
        );
    }
    if !drop_in && !grant.owns(&unit_name) {
        refusals.push(
            Refusal::new(
                path,
                1,
                "unit",
                format!("unit `{unit_name}` is not granted to this package"),
            )
            .with_hint(format!("grant `services = [\"{unit_name}\"]`")),
        );
    }
    let Some(text) = text else { return refusals };
    let unit = match parse_unit(path, text) {
        Ok(unit) => unit,
        Err(error) => {
            refusals.push(Refusal::new(path, error.line, "syntax", error.reason));
            return refusals;
        }
    };
    let Some(parsed_name) = parse_unit_name(&unit_name) else {
        refusals.push(Refusal::new(
            path,
            1,
            "unit",
            format!("`{unit_name}` is not a valid unit name"),
        ));
        return refusals;
    };
    let section_for_exec = match parsed_name.suffix.as_str() {
        "service" => Some("Service"),
        "socket" => Some("Socket"),
        "mount" => Some("Mount"),
        "swap" => Some("Swap"),
        _ => None,
    };

    if let Some(section) = section_for_exec {
        for directive in EXEC_DIRECTIVES {
            for entry in unit.values(section, directive) {
                let prefixes: String = entry
                    .value
                    .chars()
                    .take_while(|c| "@-:+!".contains(*c))
                    .collect();
                if (prefixes.contains('+') || prefixes.contains('!')) && !grant.privileged_exec {
                    {
                        refusals.push(
                            Refusal::new(path, entry.line, *directive, format!("prefix `{prefixes}` runs the command with full privileges, ignoring `User=` and the sandboxing settings"))
                                .with_hint("grant `privileged_exec = true`"),
                        );
                    }
                }
            }
        }
    }

    if parsed_name.suffix == "service" && !drop_in {
        let dynamic = unit
            .last_value("Service", "DynamicUser")
            .is_some_and(|entry| matches!(entry.value.as_str(), "yes" | "true" | "1" | "on"));
        match unit.last_value("Service", "User") {
            None if !dynamic && !grant.root => {
                let line = unit
                    .sections
                    .iter()
                    .find(|s| s.name == "Service")
                    .map_or(1, |s| s.line);
                refusals.push(
                    Refusal::new(path, line, "User", "no `User=`: the service runs as root")
                        .with_hint("set `User=` to a granted user or `DynamicUser=yes`, or grant `service_root = true`"),
                );
            }
            _ => {}
        }
    }
    if parsed_name.suffix == "service" || drop_in {
        for entry in unit
            .values("Service", "User")
            .into_iter()
            .filter(|e| !e.value.is_empty())
        {
            check_account(path, entry, "User", &grant.users, grant.root, &mut refusals);
        }
        for entry in unit
            .values("Service", "Group")
            .into_iter()
            .filter(|e| !e.value.is_empty())
        {
            check_account(
                path,
                entry,
                "Group",
                &grant.groups,
                grant.root,
                &mut refusals,
            );
        }
        for entry in unit.values("Service", "SupplementaryGroups") {
            for group in entry.value.split_whitespace() {
                let single = UnitEntry {
                    key: entry.key.clone(),
                    value: group.to_owned(),
                    line: entry.line,
                };
                check_account(
                    path,
                    &single,
                    "SupplementaryGroups",
                    &grant.groups,
                    false,
                    &mut refusals,
                );
            }
        }
    }
    if let Some(section) = section_for_exec {
        for entry in unit.values(section, "AmbientCapabilities") {
            let (inverted, capabilities) = capability_list(&entry.value);
            if inverted {
                refusals.push(Refusal::new(
                    path,
                    entry.line,
                    "AmbientCapabilities",
                    "`~` raises every capability except the listed ones",
                ));
                continue;
            }
            for capability in capabilities.difference(&grant.capabilities) {
                refusals.push(
                    Refusal::new(
                        path,
                        entry.line,
                        "AmbientCapabilities",
                        format!("ambient capability `{capability}` is not granted"),
                    )
                    .with_hint(format!("grant `capabilities = [\"{capability}\"]`")),
                );
            }
        }
        // The bounding set starts full; a unit file narrows it. A drop-in
        // that lists capabilities, or an empty assignment (reset to the
        // full set), widens what an earlier file narrowed.
        for entry in unit.values(section, "CapabilityBoundingSet") {
            let (inverted, capabilities) = capability_list(&entry.value);
            if entry.value.is_empty() {
                refusals.push(Refusal::new(
                    path,
                    entry.line,
                    "CapabilityBoundingSet",
                    "empty assignment resets the bounding set to all capabilities",
                ));
            } else if drop_in && !inverted {
                for capability in capabilities.difference(&grant.capabilities) {
                    refusals.push(Refusal::new(
                        path,
                        entry.line,
                        "CapabilityBoundingSet",
                        format!("drop-in widens the bounding set with `{capability}`"),
                    ));
                }
            }
        }
    }
    for (alias, line) in unit.list("Install", "Alias") {
        let expanded = expand_unit_specifiers(&alias, &unit_name).unwrap_or(alias.clone());
        if !grant.may_touch(&expanded) {
            refusals.push(
                Refusal::new(
                    path,
                    line,
                    "Alias",
                    format!("alias `{expanded}` names a unit this package does not own"),
                )
                .with_hint(format!("grant `foreign_units = [\"{expanded}\"]`")),
            );
        }
    }
    for (also, line) in unit.list("Install", "Also") {
        let expanded = expand_unit_specifiers(&also, &unit_name).unwrap_or(also.clone());
        if !grant.may_touch(&expanded) {
            refusals.push(Refusal::new(
                path,
                line,
                "Also",
                format!("`Also=` enables `{expanded}`, which this package does not own"),
            ));
        }
    }
    refusals
}

fn check_account(
    path: &str,
    entry: &UnitEntry,
    directive: &str,
    granted: &BTreeSet<String>,
    root_allowed: bool,
    refusals: &mut Vec<Refusal>,
) {
    let value = entry.value.as_str();
    if value.contains('%') {
        refusals.push(Refusal::new(
            path,
            entry.line,
            directive,
            format!("`{value}` uses a specifier, which cannot be checked before the unit runs"),
        ));
    } else if value == "root" || value == "0" {
        if !root_allowed {
            refusals.push(
                Refusal::new(
                    path,
                    entry.line,
                    directive,
                    format!("`{directive}={value}` runs the service as root"),
                )
                .with_hint("use a granted system user or `DynamicUser=yes`"),
            );
        }
    } else if !granted.contains(value) {
        refusals.push(
            Refusal::new(
                path,
                entry.line,
                directive,
                format!("`{value}` is not granted to this package"),
            )
            .with_hint(format!("grant `users`/`groups` = [\"{value}\"]")),
        );
    }
}

fn capability_list(value: &str) -> (bool, BTreeSet<String>) {
    let (inverted, rest) = match value.strip_prefix('~') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    (
        inverted,
        rest.split_whitespace()
            .map(str::to_ascii_uppercase)
            .collect(),
    )
}

/// A `*.preset` rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PresetRule {
    pub enable: bool,
    /// Unit name glob (`*`, `?`, `[…]`).
    pub pattern: String,
    /// For templates: the instances to enable (`enable foo@.service a b`).
    pub instances: Vec<String>,
    pub line: usize,
}

/// Parses one preset file.
pub fn parse_presets(file: &str, text: &str) -> Result<Vec<PresetRule>, UnitParseError> {
    let mut rules = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let mut words = trimmed.split_whitespace();
        let verb = words.next().unwrap_or("");
        let enable = match verb {
            "enable" => true,
            "disable" => false,
            other => {
                return Err(UnitParseError {
                    file: file.to_owned(),
                    line: index + 1,
                    reason: format!(
                        "unknown preset verb `{other}`; expected `enable` or `disable`"
                    ),
                })
            }
        };
        let Some(pattern) = words.next() else {
            return Err(UnitParseError {
                file: file.to_owned(),
                line: index + 1,
                reason: format!("`{verb}` without a unit pattern"),
            });
        };
        rules.push(PresetRule {
            enable,
            pattern: pattern.to_owned(),
            instances: words.map(str::to_owned).collect(),
            line: index + 1,
        });
    }
    Ok(rules)
}

/// Whether presets enable `unit`: the first matching rule wins (files are
/// given in systemd's order, i.e. sorted by file name across directories);
/// with no match the unit is enabled, as systemd defaults.
pub fn preset_enables(rules: &[PresetRule], unit: &str) -> bool {
    rules
        .iter()
        .find(|rule| unit_glob_match(&rule.pattern, unit))
        .is_none_or(|rule| rule.enable)
}

fn unit_glob_match(pattern: &str, text: &str) -> bool {
    fn matches(pattern: &[char], text: &[char]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some(('*', rest)) => (0..=text.len()).any(|skip| matches(rest, &text[skip..])),
            Some(('?', rest)) => !text.is_empty() && matches(rest, &text[1..]),
            Some(('[', rest)) => {
                let Some(close) = rest.iter().position(|c| *c == ']') else {
                    return text.first() == Some(&'[') && matches(rest, &text[1..]);
                };
                let class = &rest[..close];
                let (negated, class) = match class.split_first() {
                    Some(('!' | '^', tail)) => (true, tail),
                    _ => (false, class),
                };
                let Some(first) = text.first() else {
                    return false;
                };
                let mut found = false;
                let mut index = 0;
                while index < class.len() {
                    if index + 2 < class.len() && class[index + 1] == '-' {
                        found |= (class[index]..=class[index + 2]).contains(first);
                        index += 3;
                    } else {
                        found |= class[index] == *first;
                        index += 1;
                    }
                }
                found != negated && matches(&rest[close + 1..], &text[1..])
            }
            Some((c, rest)) => text.first() == Some(c) && matches(rest, &text[1..]),
        }
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    matches(&pattern, &text)
}
