//! Footprint: the capabilities a package actually uses, computed from its
//! contents and declarations without executing anything. Used by `audit`,
//! by attestations (serde), and to write least-privilege grants.
//!
//! Declarations (`usr/lib/sysusers.d/*.conf`, systemd unit files) are read
//! from their bytes, which the caller extracts (this crate reads no files):
//! see [`is_declaration_path`]. The parsers here are deliberately small —
//! enough to know which users, groups and run-as users a package asks for;
//! the full content checkers live in `pkgward-actions`. File capabilities
//! come from [`crate::file_capabilities`], which uses the script classifier
//! of `pkgward-actions` to find `setcap` in maintainer scripts.

use crate::evaluate::CompiledPolicy;
use crate::model::{Policy, ScriptMode};
use crate::path::{find_twins, resolve, AliasTable};
use crate::pattern::PathPattern;
use pkgward_package::file_capabilities::{capability_names, FileCapabilities};
use pkgward_package::model::{EntryKind, Package};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

/// A declaration file's contents, keyed by its path as shipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclarationFile {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// Guarded locations a package touches, by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuardedUse {
    pub id: String,
    pub class: crate::catalog::GuardedClass,
    pub paths: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetuidEntry {
    pub path: String,
    /// Octal permission bits, e.g. `4755`.
    pub mode: String,
}

/// A file the package wants file capabilities on (rpm `FILECAPS`, or a
/// `setcap` in its `preinst`/`postinst` on a file it ships).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileCapabilityEntry {
    /// The canonical path (after aliases), as for `setuid`.
    pub path: String,
    /// The canonical text form, `cap_net_raw=ep`.
    pub capabilities: String,
    /// `FILECAPS` or `postinst: setcap`.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeclaredUser {
    pub name: String,
    /// The id field as written (`-`, `123`, `123:456`, a path).
    pub id: String,
    pub uid_zero: bool,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeclaredGroup {
    pub name: String,
    /// `group` (`g` line or a user's own group) or `member` (`m` line).
    pub how: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeclaredService {
    pub unit: String,
    /// The user its processes run as; `None` for units that start no
    /// process themselves, user units and `DynamicUser=yes`.
    pub runs_as: Option<String>,
    pub source: String,
    /// Content findings that matter for privilege (`+` exec prefixes, …).
    pub notes: Vec<String>,
}

/// What a package uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Footprint {
    pub package: String,
    pub version: String,
    pub architecture: String,
    pub artifact_sha256: String,
    /// Patterns covering every non-guarded placed entry: exact paths in
    /// shared directories, `DIR/**` for the package's own directories.
    pub paths: Vec<String>,
    pub guarded: Vec<GuardedUse>,
    pub setuid: Vec<SetuidEntry>,
    /// Left out of the JSON when empty, so footprints recorded and attested
    /// before file capabilities were judged still cover a package without any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub file_capabilities: Vec<FileCapabilityEntry>,
    pub users: Vec<DeclaredUser>,
    pub groups: Vec<DeclaredGroup>,
    pub services: Vec<DeclaredService>,
    /// Maintainer scripts present (`preinst`, `postinst`, …).
    pub scripts: Vec<String>,
    /// Case/Unicode twins among the package's non-directory entries: two
    /// entries that would be one file on a case-insensitive or normalising
    /// filesystem.
    pub twins: Vec<(String, String)>,
    /// Entries whose names cannot be evaluated, with the reason.
    pub rejected_paths: Vec<(String, String)>,
}

/// Directories many packages share: a package never "owns" one of these,
/// so its files there are listed exactly instead of as `DIR/**`.
const SHARED_DIRECTORIES: &[&str] = &[
    "/",
    "/etc",
    "/usr",
    "/usr/bin",
    "/usr/sbin",
    "/usr/games",
    "/usr/lib",
    "/usr/lib/*-linux-gnu*",
    "/usr/lib32",
    "/usr/lib64",
    "/usr/libx32",
    "/usr/libexec",
    "/usr/include",
    "/usr/include/*-linux-gnu*",
    "/usr/src",
    "/usr/share",
    "/usr/share/doc",
    "/usr/share/doc-base",
    "/usr/share/man",
    "/usr/share/man/*",
    "/usr/share/man/*/*",
    "/usr/share/info",
    "/usr/share/locale",
    "/usr/share/locale/*",
    "/usr/share/locale/*/*",
    "/usr/share/applications",
    "/usr/share/icons",
    "/usr/share/icons/*",
    "/usr/share/icons/*/*",
    "/usr/share/icons/*/*/*",
    "/usr/share/pixmaps",
    "/usr/share/lintian",
    "/usr/share/lintian/*",
    "/usr/share/bug",
    "/usr/share/menu",
    "/usr/share/metainfo",
    "/usr/share/mime",
    "/usr/share/mime/*",
    "/usr/share/fonts",
    "/usr/share/fonts/*",
    "/usr/share/fonts/*/*",
    "/usr/share/perl5",
    "/usr/share/perl5/*",
    "/usr/lib/*-linux-gnu*/perl5",
    "/usr/lib/*-linux-gnu*/perl5/*",
    "/usr/lib/*-linux-gnu*/perl",
    "/usr/lib/*-linux-gnu*/perl/*",
    "/usr/lib/*-linux-gnu*/perl-base",
    "/usr/lib/*-linux-gnu*/pkgconfig",
    "/usr/lib/*-linux-gnu*/gconv",
    "/usr/share/pkgconfig",
    "/usr/lib/python3",
    "/usr/lib/python3/dist-packages",
    "/usr/lib/python3.*",
    "/usr/share/python3",
    "/usr/share/python3/runtime.d",
    "/usr/share/common-licenses",
    "/usr/share/keyrings",
    "/usr/share/xml",
    "/usr/share/sgml",
    "/usr/share/zsh",
    "/usr/share/glib-2.0",
    "/usr/share/glib-2.0/schemas",
    "/usr/share/help",
    "/usr/share/help/*",
    "/usr/share/gtk-doc",
    "/usr/share/gtk-doc/html",
    "/usr/share/vim",
    "/usr/share/vim/*",
    "/usr/share/emacs",
    "/usr/share/emacs/site-lisp",
    "/usr/share/java",
    "/usr/share/javascript",
    "/usr/share/zoneinfo",
    "/usr/lib/mime",
    "/usr/lib/mime/packages",
    "/usr/share/apport",
    "/usr/share/apport/package-hooks",
    "/usr/share/debconf",
    "/usr/share/info/*",
    "/var",
    "/var/lib",
    "/var/log",
    "/var/cache",
    "/var/spool",
    "/var/backups",
    "/var/mail",
    "/var/lib/systemd",
    "/opt",
    "/srv",
    "/usr/local",
    "/usr/local/*",
    "/etc/ssl",
    "/etc/X11",
    "/etc/xdg",
    "/run",
    "/tmp",
    "/var/tmp",
    "/usr/share/applications/*",
    "/usr/share/sounds",
    "/usr/share/themes",
    "/usr/lib/udev",
];

/// Whether the caller should extract this entry's bytes for the footprint:
/// sysusers.d files and systemd unit files (system and user).
pub fn is_declaration_path(path: &str) -> bool {
    // Called for every entry of every package read: build the table once.
    static USRMERGE: std::sync::LazyLock<AliasTable> =
        std::sync::LazyLock::new(AliasTable::usrmerge);
    let Ok(path) = resolve(path, &USRMERGE) else {
        return false;
    };
    if path.starts_with("/usr/lib/sysusers.d/") || path.starts_with("/etc/sysusers.d/") {
        // systemd reads only `*.conf` here, case-sensitively.
        #[allow(clippy::case_sensitive_file_extension_comparisons)]
        return path.ends_with(".conf");
    }
    unit_name(&path).is_some()
}

const UNIT_DIRECTORIES: &[(&str, bool)] = &[
    ("/usr/lib/systemd/system/", true),
    ("/etc/systemd/system/", true),
    ("/usr/local/lib/systemd/system/", true),
    ("/usr/lib/systemd/user/", false),
    ("/etc/systemd/user/", false),
];
const UNIT_SUFFIXES: &[&str] = &[
    ".service",
    ".socket",
    ".timer",
    ".path",
    ".mount",
    ".automount",
    ".swap",
    ".target",
    ".slice",
    ".scope",
];

/// `(unit name, is a system unit)` for a unit file directly in a unit
/// directory (not drop-ins or `.wants` links).
fn unit_name(canonical: &str) -> Option<(&str, bool)> {
    UNIT_DIRECTORIES.iter().find_map(|(directory, system)| {
        let name = canonical.strip_prefix(directory)?;
        (!name.contains('/') && UNIT_SUFFIXES.iter().any(|s| name.ends_with(s)))
            .then_some((name, *system))
    })
}

/// Split a sysusers.d line into fields, honouring double and single quotes.
fn sysusers_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut in_field = false;
    for character in line.chars() {
        match (quote, character) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(character);
                in_field = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_field {
                    fields.push(std::mem::take(&mut current));
                    in_field = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_field = true;
            }
        }
    }
    if in_field {
        fields.push(current);
    }
    fields
}

fn parse_sysusers(
    source: &str,
    text: &str,
    users: &mut Vec<DeclaredUser>,
    groups: &mut Vec<DeclaredGroup>,
) {
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields = sysusers_fields(line);
        let field = |i: usize| fields.get(i).map_or("-", String::as_str);
        let kind = field(0).trim_end_matches('!');
        let name = field(1).to_owned();
        let id = field(2).to_owned();
        match kind {
            "u" => {
                let uid_zero = id.split(':').next() == Some("0");
                let group_name = id
                    .split_once(':')
                    .map(|(_, group)| group)
                    .filter(|g| !g.chars().all(|c| c.is_ascii_digit()))
                    .map_or_else(|| name.clone(), str::to_owned);
                groups.push(DeclaredGroup {
                    name: group_name,
                    how: "group".into(),
                    source: source.to_owned(),
                });
                users.push(DeclaredUser {
                    name,
                    id,
                    uid_zero,
                    source: source.to_owned(),
                });
            }
            "g" => groups.push(DeclaredGroup {
                name,
                how: "group".into(),
                source: source.to_owned(),
            }),
            "m" => groups.push(DeclaredGroup {
                name: id,
                how: "member".into(),
                source: source.to_owned(),
            }),
            _ => {}
        }
    }
}

/// The run-as user of a `.service` unit: last `User=` in `[Service]`
/// (systemd: later assignments override, an empty one resets), `root` when
/// none; `None` with `DynamicUser=yes`. `+`, `!`, `!!` exec prefixes run
/// privileged regardless of `User=`.
fn parse_service(text: &str, notes: &mut Vec<String>) -> Option<String> {
    let mut user: Option<String> = None;
    let mut dynamic = false;
    let mut privileged_exec = false;
    let mut section = String::new();
    let joined = text.replace("\\\n", " ");
    for line in joined.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            line.clone_into(&mut section);
            continue;
        }
        if section != "[Service]" {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "User" => user = (!value.is_empty()).then(|| value.to_owned()),
            "DynamicUser" => dynamic = matches!(value, "yes" | "true" | "1" | "on"),
            "AmbientCapabilities" if !value.is_empty() => {
                notes.push(format!("AmbientCapabilities={value}"));
            }
            k if k.starts_with("Exec") => {
                let prefixes: String = value.chars().take_while(|c| "@-:+!".contains(*c)).collect();
                if prefixes.contains('+') || prefixes.contains('!') {
                    privileged_exec = true;
                    notes.push(format!("{key} runs privileged (`{prefixes}` prefix)"));
                }
            }
            _ => {}
        }
    }
    if privileged_exec {
        return Some("root".to_owned());
    }
    if dynamic {
        return None;
    }
    Some(user.unwrap_or_else(|| "root".to_owned()))
}

/// The footprint against the built-in catalog on a merged-`/usr` root.
pub fn footprint(package: &Package, declarations: &[DeclarationFile]) -> Footprint {
    let compiled = CompiledPolicy::new(Policy::default(), AliasTable::usrmerge());
    footprint_with(package, declarations, &compiled)
}

/// The footprint against a compiled policy's catalog and aliases.
pub fn footprint_with(
    package: &Package,
    declarations: &[DeclarationFile],
    compiled: &CompiledPolicy,
) -> Footprint {
    let shared: Vec<PathPattern> = SHARED_DIRECTORIES
        .iter()
        .filter_map(|p| PathPattern::parse(p).ok())
        .collect();
    let location_patterns: Vec<PathPattern> = compiled.location_patterns().cloned().collect();
    let mut plain = BTreeSet::new();
    let mut guarded: BTreeMap<String, GuardedUse> = BTreeMap::new();
    let mut setuid = Vec::new();
    let mut rejected = Vec::new();
    let mut canonical_paths = Vec::new();
    for entry in &package.entries {
        let path = match resolve(&entry.path, compiled.aliases()) {
            Ok(path) => path,
            Err(error) => {
                rejected.push((entry.path.clone(), error.to_string()));
                continue;
            }
        };
        if entry.kind == EntryKind::Dir {
            // Directory twins (perl's `Pod` and `pod`) are only a problem
            // when two *files* in them collide, which the file paths show.
            continue;
        }
        canonical_paths.push(path.clone());
        if entry.kind == EntryKind::File && entry.mode & 0o6000 != 0 {
            setuid.push(SetuidEntry {
                path: path.clone(),
                mode: format!("{:o}", entry.mode & 0o7777),
            });
        }
        if let Some(location) = compiled.guarded_location(&path) {
            guarded
                .entry(location.id.clone())
                .or_insert_with(|| GuardedUse {
                    id: location.id.clone(),
                    class: location.class,
                    paths: Vec::new(),
                })
                .paths
                .push(path);
        } else {
            plain.insert(path);
        }
    }
    let mut paths = BTreeSet::new();
    // `compress` looks only at a path's ancestors, so siblings share the
    // answer: one pattern search per directory, not per file (a package of
    // thousands of files in a few directories spent most of its planning
    // time here).
    let mut by_parent: HashMap<&str, Option<String>> = HashMap::new();
    for path in &plain {
        let parent = path.rfind('/').map_or("", |slash| &path[..slash]);
        let widest = by_parent
            .entry(parent)
            .or_insert_with(|| widest_own_directory(path, &shared, &location_patterns));
        paths.insert(widest.clone().unwrap_or_else(|| path.clone()));
    }
    // A `DIR/**` pattern makes any exact path below it redundant.
    // Looked up per ancestor of each candidate: comparing every pair was
    // quadratic in the number of paths that stay exact.
    let paths: Vec<String> = paths
        .iter()
        .filter(|candidate| {
            !candidate.match_indices('/').any(|(slash, _)| {
                let other = format!("{}**", &candidate[..=slash]);
                other != **candidate && paths.contains(&other)
            })
        })
        .cloned()
        .collect();
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut services = Vec::new();
    for declaration in declarations {
        let Ok(path) = resolve(&declaration.path, compiled.aliases()) else {
            continue;
        };
        let text = String::from_utf8_lossy(&declaration.bytes);
        if path.contains("/sysusers.d/") {
            parse_sysusers(&path, &text, &mut users, &mut groups);
        } else if let Some((unit, system)) = unit_name(&path) {
            let mut notes = Vec::new();
            let runs_as = if system && unit.ends_with(".service") {
                parse_service(&text, &mut notes)
            } else {
                None
            };
            services.push(DeclaredService {
                unit: unit.to_owned(),
                runs_as,
                source: path.clone(),
                notes,
            });
        }
    }
    let file_capabilities = crate::file_capabilities::requested_file_capabilities(package)
        .requested
        .into_iter()
        .filter_map(|requested| {
            Some(FileCapabilityEntry {
                path: resolve(&requested.path, compiled.aliases()).ok()?,
                capabilities: requested.capabilities.to_string(),
                source: requested.source,
            })
        })
        .collect();
    Footprint {
        package: package.name.clone(),
        version: package.version.to_string(),
        architecture: package.architecture.clone(),
        artifact_sha256: package.artifact_sha256.clone(),
        paths,
        guarded: guarded.into_values().collect(),
        setuid,
        file_capabilities,
        users,
        groups,
        services,
        scripts: package
            .scripts
            .iter()
            .map(|s| s.name.as_str().to_owned())
            .collect(),
        twins: find_twins(canonical_paths.iter().map(String::as_str)),
        rejected_paths: rejected,
    }
}

/// The widest pattern for `path` that stays within the package's own
/// directories: the topmost ancestor that is not a shared directory and
/// whose `/**` names no guarded location; else the exact path.
#[cfg(test)]
fn compress(path: &str, shared: &[PathPattern], locations: &[PathPattern]) -> String {
    widest_own_directory(path, shared, locations).unwrap_or_else(|| path.to_owned())
}

/// `DIR/**` for the topmost ancestor `compress` would choose, `None` when
/// no ancestor qualifies. Depends only on the ancestors of `path`.
fn widest_own_directory(
    path: &str,
    shared: &[PathPattern],
    locations: &[PathPattern],
) -> Option<String> {
    let mut end = 0;
    while let Some(offset) = path[end + 1..].find('/') {
        end = end + 1 + offset;
        let directory = &path[..end];
        if shared.iter().any(|s| s.is_match(directory)) {
            continue;
        }
        let candidate = format!("{directory}/**");
        let Ok(pattern) = PathPattern::parse(&candidate) else {
            break;
        };
        if locations
            .iter()
            .any(|l| pattern.names_location(l) || l.is_match(directory))
        {
            continue;
        }
        return Some(candidate);
    }
    None
}

fn toml_string(text: &str) -> String {
    let mut quoted = String::from("\"");
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(quoted, "\\u{:04X}", c as u32);
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

fn toml_list(items: &[String]) -> String {
    if items.len() <= 3 {
        return format!(
            "[{}]",
            items
                .iter()
                .map(|i| toml_string(i))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut list = String::from("[\n");
    for item in items {
        let _ = writeln!(list, "  {},", toml_string(item));
    }
    list.push(']');
    list
}

impl Footprint {
    /// Every user this package needs granted: declared users, and the users
    /// its services run as (`root` when a unit has no `User=`).
    pub fn needed_users(&self) -> Vec<String> {
        let mut users: BTreeSet<String> = BTreeSet::new();
        for user in &self.users {
            users.insert(if user.uid_zero {
                "root".to_owned()
            } else {
                user.name.clone()
            });
        }
        for service in &self.services {
            if let Some(user) = &service.runs_as {
                users.insert(user.clone());
            }
        }
        users.into_iter().collect()
    }

    /// A least-privilege `[[grant]]` for exactly this package version:
    /// the compressed paths, guarded paths listed exactly (an exact path
    /// names its location), setuid entries, file capabilities, users, groups, services and
    /// `scripts = "sandboxed"` when there are scripts.
    pub fn suggested_grant(&self) -> String {
        self.suggested_grant_with(true)
    }

    /// [`Footprint::suggested_grant`], optionally without the guarded
    /// paths (to show what a grant lacking them refuses).
    pub fn suggested_grant_with(&self, include_guarded: bool) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "# {} {} ({}): least-privilege grant written by `pkgward audit --suggest-grants`",
            self.package, self.version, self.architecture
        );
        let _ = writeln!(text, "[[grant]]");
        let _ = writeln!(text, "package = {}", toml_string(&self.package));
        let _ = writeln!(
            text,
            "version = {}",
            toml_string(&format!("= {}", self.version))
        );
        let mut paths = self.paths.clone();
        if include_guarded {
            for guarded in &self.guarded {
                paths.extend(guarded.paths.iter().cloned());
            }
        }
        if !paths.is_empty() {
            if include_guarded && !self.guarded.is_empty() {
                let ids: Vec<String> = self
                    .guarded
                    .iter()
                    .map(|g| format!("{} ({})", g.id, g.class))
                    .collect();
                let _ = writeln!(
                    text,
                    "# guarded locations, named by exact path: {}",
                    ids.join(", ")
                );
            }
            let _ = writeln!(text, "paths = {}", toml_list(&paths));
        }
        let setuid: Vec<String> = self.setuid.iter().map(|s| s.path.clone()).collect();
        if !setuid.is_empty() {
            let _ = writeln!(text, "setuid = {}", toml_list(&setuid));
        }
        let file_capabilities: Vec<String> = self
            .file_capabilities
            .iter()
            .filter_map(|entry| {
                let parsed = FileCapabilities::parse(&entry.capabilities).ok()?;
                Some(format!(
                    "{}={}",
                    entry.path,
                    capability_names(parsed.requested()).join(",")
                ))
            })
            .collect();
        if !file_capabilities.is_empty() {
            let _ = writeln!(
                text,
                "file-capabilities = {}",
                toml_list(&file_capabilities)
            );
        }
        let users = self.needed_users();
        if !users.is_empty() {
            let _ = writeln!(text, "users = {}", toml_list(&users));
        }
        let groups: BTreeSet<String> = self.groups.iter().map(|g| g.name.clone()).collect();
        if !groups.is_empty() {
            let _ = writeln!(
                text,
                "groups = {}",
                toml_list(&groups.into_iter().collect::<Vec<_>>())
            );
        }
        let services: BTreeSet<String> = self
            .services
            .iter()
            .map(|s| {
                s.unit
                    .rsplit_once('.')
                    .map_or(s.unit.as_str(), |(stem, _)| stem)
                    .to_owned()
            })
            .collect();
        if !services.is_empty() {
            let _ = writeln!(
                text,
                "services = {}",
                toml_list(&services.into_iter().collect::<Vec<_>>())
            );
        }
        if !self.scripts.is_empty() {
            let _ = writeln!(
                text,
                "scripts = {}",
                toml_string(ScriptMode::Sandboxed.as_str())
            );
        }
        if paths.is_empty()
            && setuid.is_empty()
            && file_capabilities.is_empty()
            && users.is_empty()
            && self.services.is_empty()
            && self.scripts.is_empty()
            && self.groups.is_empty()
        {
            // A grant must grant something; a package with no files still
            // needs a valid entry. Scripts `none` is the smallest right.
            let _ = writeln!(text, "scripts = \"none\"");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysusers_lines() {
        let mut users = Vec::new();
        let mut groups = Vec::new();
        parse_sysusers(
            "/usr/lib/sysusers.d/x.conf",
            "# comment\nu redis - \"Redis Server\" /var/lib/redis\ng adm 4\nm redis www-data\nu evil 0 \"x y\"\nu! other 100:grp\n",
            &mut users,
            &mut groups,
        );
        let names: Vec<_> = users
            .iter()
            .map(|u| (u.name.as_str(), u.uid_zero))
            .collect();
        assert_eq!(
            names,
            vec![("redis", false), ("evil", true), ("other", false)]
        );
        let group_names: Vec<_> = groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(group_names, vec!["redis", "adm", "www-data", "evil", "grp"]);
    }

    #[test]
    fn service_run_as_user() {
        let mut notes = Vec::new();
        assert_eq!(
            parse_service("[Service]\nExecStart=/bin/x\n", &mut notes),
            Some("root".into())
        );
        assert_eq!(
            parse_service("[Service]\nUser=redis\nUser=\n", &mut notes),
            Some("root".into())
        );
        assert_eq!(
            parse_service("[Unit]\nUser=x\n[Service]\nUser=redis\n", &mut notes),
            Some("redis".into())
        );
        assert_eq!(
            parse_service("[Service]\nDynamicUser=yes\n", &mut notes),
            None
        );
        assert_eq!(
            parse_service(
                "[Service]\nUser=redis\nExecStartPre=+/bin/sh -c x\n",
                &mut notes
            ),
            Some("root".into())
        );
        assert!(notes.iter().any(|n| n.contains("ExecStartPre")));
    }

    #[test]
    fn compression_stays_in_own_directories() {
        let shared: Vec<PathPattern> = SHARED_DIRECTORIES
            .iter()
            .map(|p| PathPattern::parse(p).unwrap())
            .collect();
        let none: Vec<PathPattern> = Vec::new();
        assert_eq!(compress("/usr/bin/bat", &shared, &none), "/usr/bin/bat");
        assert_eq!(
            compress("/usr/share/doc/bat/copyright", &shared, &none),
            "/usr/share/doc/bat/**"
        );
        assert_eq!(
            compress("/usr/share/man/man1/bat.1.gz", &shared, &none),
            "/usr/share/man/man1/bat.1.gz"
        );
        assert_eq!(compress("/etc/bat/config", &shared, &none), "/etc/bat/**");
        let cron = vec![PathPattern::parse("/etc/cron.d/**").unwrap()];
        assert_eq!(compress("/etc/cron.d/x", &shared, &cron), "/etc/cron.d/x");
    }

    #[test]
    fn declaration_paths() {
        assert!(is_declaration_path("/usr/lib/sysusers.d/redis.conf"));
        assert!(is_declaration_path(
            "/lib/systemd/system/redis-server.service"
        ));
        assert!(!is_declaration_path(
            "/lib/systemd/system/redis-server.service.d/x.conf"
        ));
        assert!(!is_declaration_path("/usr/bin/x"));
    }
}
