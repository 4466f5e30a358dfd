//! Declarative actions of one package, planned and judged: what pkgward does
//! itself instead of running the package's maintainer scripts.
//!
//! Inputs are the package's declaration files (`sysusers.d`, systemd units)
//! and the actions `pkgward_actions::scripts::classify_script` derives from
//! its `preinst`/`postinst` (the scripts that run at install; `prerm`/`postrm`
//! matter at removal, where pkgward undoes what it recorded). Outputs are
//! [`PlannedAction`]s and, for every action the policy refuses, a
//! [`Problem::Denied`] naming the rule and a hint, exactly like a refused
//! placement. Pure: the root's presets and the units that already exist come
//! in as data.
//!
//! What is planned:
//! - accounts: each `sysusers.d` file, and `adduser`/`addgroup --system`
//!   translated into `sysusers.d` lines (so one parser, one checker and one
//!   applier serve both; `plan_account_edit` computes the new account files at
//!   prepare, against the root's files of that moment);
//! - unit enablement: units the scripts enable (`deb-systemd-helper enable`,
//!   the `dh_installsystemd` block: on a fresh install `was-enabled` is true,
//!   so Debian enables), and units a preset file in the root explicitly
//!   enables; a preset `disable` rule wins. Symlinks are exactly those of
//!   `systemctl --root R enable` (`pkgward_actions::units::enablement`);
//! - everything else the scripts ask for at install is described, not done:
//!   service starts (pkgward never starts services in a root it installs
//!   into), `daemon-reload`, debconf, System V links, conffile migrations
//!   (pkgward's own conffile handling covers them), `ldconfig`.

use crate::plan::{Placement, PlannedDecision, Problem};
use crate::planner::Judge;
use pkgward_actions::scripts::{classify_script, DerivedAction, ScriptContext};
use pkgward_actions::sysusers::{
    check_sysusers, parse_sysusers, AccountGrant, SystemIdRange, SysusersEntry, SysusersKind,
    PRIVILEGED_GROUPS,
};
use pkgward_actions::units::{enablement, parse_unit, preset_enables, PresetRule, UnitFile};
use pkgward_package::{EntryKind, Package};
use pkgward_policy::footprint::{DeclarationFile, DeclaredService};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One symlink an action creates (and removal deletes).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ActionSymlink {
    /// Where the link goes (`/etc/systemd/system/multi-user.target.wants/x.service`).
    pub link: String,
    /// What it points to (the unit file's path in the root).
    pub target: String,
}

/// One declarative action, already judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum PlannedAction {
    /// Create accounts: `sysusers.d` lines, applied to the root's
    /// `passwd`/`group`/`shadow`/`gshadow` at prepare (existing lines kept).
    Accounts {
        /// The shipped file, or `postinst: adduser --system …`.
        source: String,
        /// `sysusers.d` syntax.
        text: String,
    },
    /// Enable a unit: the symlinks `systemctl --root R enable UNIT` makes.
    EnableUnit {
        unit: String,
        source: String,
        symlinks: Vec<ActionSymlink>,
    },
    /// Create `path` if it is missing (`tmpfiles.d` `d`/`D`/`f`/`L`/`C`,
    /// `mkdir -p`/`install -d`); an existing object is left as it is.
    CreatePath {
        source: String,
        path: String,
        kind: CreateKind,
        mode: u32,
        owner: String,
        group: String,
        /// File content (`f`), symlink target (`L`) or copy source (`C`).
        argument: Option<String>,
    },
    /// Set owner, group and/or mode of an existing path (`tmpfiles.d` `z`,
    /// `dpkg-statoverride --add`, `chown`, `chmod` with an octal mode).
    SetAttributes {
        source: String,
        path: String,
        owner: Option<String>,
        group: Option<String>,
        mode: Option<u32>,
    },
    /// `update-alternatives --install`, carried out in dpkg's layout
    /// (`/var/lib/dpkg/alternatives/NAME`, `LINK -> /etc/alternatives/NAME
    /// -> PATH`) against the root's admin file at prepare.
    Alternative {
        source: String,
        link: String,
        name: String,
        path: String,
        priority: i64,
        /// `(link, name, path)`.
        slaves: Vec<(String, String, String)>,
    },
    /// Something a script asks for that pkgward records but does not do.
    Described { source: String, what: String },
}

/// What [`PlannedAction::CreatePath`] creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CreateKind {
    Directory,
    File,
    Symlink,
    /// A copy of the regular file named by `argument`, read from the root.
    Copy,
}

impl fmt::Display for PlannedAction {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlannedAction::Accounts { source, text } => {
                let lines: Vec<&str> = text
                    .lines()
                    .map(str::trim)
                    .filter(|line| !line.is_empty() && !line.starts_with('#'))
                    .collect();
                write!(formatter, "accounts from {source}: {}", lines.join("; "))
            }
            PlannedAction::EnableUnit {
                unit,
                source,
                symlinks,
            } => {
                write!(formatter, "enable `{unit}` ({source}):")?;
                if symlinks.is_empty() {
                    write!(formatter, " no symlinks")?;
                }
                for symlink in symlinks {
                    write!(formatter, " {} -> {}", symlink.link, symlink.target)?;
                }
                Ok(())
            }
            PlannedAction::CreatePath {
                source,
                path,
                kind,
                mode,
                owner,
                group,
                argument,
            } => {
                write!(
                    formatter,
                    "create {kind:?} {path} {mode:04o} {owner}:{group} ({source})"
                )?;
                if let Some(argument) = argument {
                    write!(formatter, " from `{argument}`")?;
                }
                Ok(())
            }
            PlannedAction::SetAttributes {
                source,
                path,
                owner,
                group,
                mode,
            } => write!(
                formatter,
                "set {path} owner {} group {} mode {} ({source})",
                owner.as_deref().unwrap_or("-"),
                group.as_deref().unwrap_or("-"),
                mode.map_or("-".to_owned(), |mode| format!("{mode:04o}"))
            ),
            PlannedAction::Alternative {
                source,
                link,
                name,
                path,
                priority,
                slaves,
            } => {
                write!(
                    formatter,
                    "alternative `{name}`: {link} -> {path} priority {priority} ({source})"
                )?;
                for (link, name, path) in slaves {
                    write!(formatter, "; slave `{name}`: {link} -> {path}")?;
                }
                Ok(())
            }
            PlannedAction::Described { source, what } => {
                write!(formatter, "not done ({source}): {what}")
            }
        }
    }
}

/// Policy questions about accounts and services, on top of [`Judge`].
pub trait ActionJudge: Judge {
    /// May `package` create (or run as) user `name`?
    fn user(&self, package: &Package, repo: &str, name: &str, uid_zero: bool) -> PlannedDecision;
    /// May `package` create or join group `name`?
    fn group(&self, package: &Package, repo: &str, name: &str) -> PlannedDecision;
    /// May `package` install `unit`, running as `runs_as`?
    fn service(
        &self,
        package: &Package,
        repo: &str,
        unit: &str,
        runs_as: Option<&str>,
    ) -> PlannedDecision;
}

/// Everything [`plan_actions`] needs about one package.
#[derive(Debug, Clone, Copy)]
pub struct ActionInput<'a> {
    pub package: &'a Package,
    pub repo: &'a str,
    /// Contents of its declaration files (units, `sysusers.d`), shipped paths.
    pub declarations: &'a [DeclarationFile],
    /// Its system units with their run-as user (from the footprint).
    pub services: &'a [DeclaredService],
    /// Its planned placements (canonical paths in the root).
    pub placements: &'a [Placement],
    /// The root's preset rules, in systemd's order.
    pub presets: &'a [PresetRule],
    /// Unit names that already exist in the root or are shipped by another
    /// package of the transaction, with where: an `Alias=` may not take one.
    pub foreign_units: &'a BTreeMap<String, String>,
}

/// The planned actions of one package and why any were refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageActions {
    pub actions: Vec<PlannedAction>,
    pub problems: Vec<Problem>,
    pub decisions: Vec<PlannedDecision>,
}

/// Whether `path` is a `sysusers.d` file (systemd reads only `*.conf`).
fn is_sysusers_path(path: &str) -> bool {
    let stripped = path.strip_prefix("/usr").unwrap_or(path);
    (stripped.starts_with("/lib/sysusers.d/") || path.starts_with("/etc/sysusers.d/"))
        && std::path::Path::new(path)
            .extension()
            .is_some_and(|extension| extension == "conf")
}

/// The unit name of a system unit file (`/lib/systemd/system/x.service`), not drop-ins.
fn system_unit_name(path: &str) -> Option<&str> {
    let stripped = path.strip_prefix("/usr").unwrap_or(path);
    let name = stripped
        .strip_prefix("/lib/systemd/system/")
        .or_else(|| path.strip_prefix("/etc/systemd/system/"))?;
    (!name.contains('/') && name.contains('.')).then_some(name)
}

/// `adduser --system`-style requests as `sysusers.d` lines. `adduser
/// --system` without `--group`/`--ingroup` puts the user in `nogroup`, with
/// home `/nonexistent` (adduser 3.134 defaults).
fn sysusers_line(action: &DerivedAction) -> Option<String> {
    let field = |value: Option<&str>| match value {
        None | Some("") => "-".to_owned(),
        Some(value) if value.contains(char::is_whitespace) => format!("\"{value}\""),
        Some(value) => value.to_owned(),
    };
    match action {
        DerivedAction::CreateSystemUser {
            name,
            group,
            home,
            shell,
            gecos,
            uid,
        } => {
            // sysusers' `UID[:GROUP]`: GROUP by name or gid, `-` for none.
            let uid = uid.map_or_else(|| "-".to_owned(), |uid| uid.to_string());
            let id = match group.as_deref() {
                Some(group) if group == name => uid,
                Some(group) => format!("{uid}:{group}"),
                None => format!("{uid}:nogroup"),
            };
            Some(format!(
                "u {name} {id} {} {} {}",
                field(gecos.as_deref()),
                field(Some(home.as_deref().unwrap_or("/nonexistent"))),
                field(shell.as_deref())
            ))
        }
        DerivedAction::CreateSystemGroup { name, gid } => Some(format!(
            "g {name} {}",
            gid.map_or_else(|| "-".to_owned(), |gid| gid.to_string())
        )),
        DerivedAction::AddToGroup { user, group } => Some(format!("m {user} {group}")),
        _ => None,
    }
}

/// A short description of a derived action pkgward does not carry out.
fn described(action: &DerivedAction) -> Option<String> {
    Some(match action {
        DerivedAction::ServiceControl { unit, verb } => format!(
            "`{verb} {unit}`: pkgward does not start or restart services in the root it installs into"
        ),
        DerivedAction::DaemonReload => "`systemctl daemon-reload`: nothing is running to reload".to_owned(),
        DerivedAction::SysvLinks { script, verb } => {
            format!("`update-rc.d {script} {verb}`: System V links are not made (systemd units are enabled instead)")
        }
        DerivedAction::Debconf { command } => format!("debconf `{command}`: defaults apply"),
        DerivedAction::ConffileMigration { operation, arguments } => format!(
            "`dpkg-maintscript-helper {operation} {}`: pkgward's conffile handling applies",
            arguments.join(" ")
        ),
        DerivedAction::Ldconfig => "`ldconfig`: run once per transaction by the configure phase".to_owned(),
        DerivedAction::Sysusers { config } => {
            format!("`systemd-sysusers {config}`: the shipped file is applied declaratively")
        }
        DerivedAction::Tmpfiles { config } => {
            format!("`systemd-tmpfiles --create {config}`: the shipped file is applied declaratively")
        }
        DerivedAction::ServiceUnmask { unit } => format!("`unmask {unit}`: pkgward never masked it"),
        DerivedAction::ServiceUpdateState { unit } => {
            format!("`deb-systemd-helper update-state {unit}`: pkgward records its own links")
        }
        DerivedAction::ServiceDisable { unit, verb } => {
            format!("`{verb} {unit}` (an upgrade/removal branch): not done at install")
        }
        _ => return None,
    })
}

fn denied(package: &Package, item: String, decision: &PlannedDecision) -> Problem {
    Problem::Denied {
        package: package.name.clone(),
        item,
        because: decision.because.clone(),
        hint: decision.hint.clone(),
    }
}

/// A refusal of one of pkgward-actions' checkers as a plan problem.
fn refusal_problem(package: &Package, source: &str, refusal: pkgward_actions::Refusal) -> Problem {
    Problem::Denied {
        package: package.name.clone(),
        item: format!("`{}` ({source} line {})", refusal.directive, refusal.line),
        because: refusal.reason,
        hint: refusal.hint,
    }
}

fn allowed(decision: &PlannedDecision) -> bool {
    decision.verdict == "allow"
}

/// Plans and judges the actions of one package.
pub fn plan_actions(input: &ActionInput<'_>, judge: &dyn ActionJudge) -> PackageActions {
    let mut result = PackageActions::default();
    plan_accounts(input, judge, &mut result);
    plan_units(input, judge, &mut result);
    plan_tmpfiles(input, judge, &mut result);
    plan_path_attributes(input, judge, &mut result);
    plan_alternatives(input, judge, &mut result);
    for trigger in &input.package.triggers {
        result.actions.push(PlannedAction::Described {
            source: "triggers".to_owned(),
            what: format!(
                "`{} {}`: a trigger, run once per transaction by the configure phase",
                trigger.directive, trigger.name
            ),
        });
    }
    result
}

/// The derived actions of the scripts that run at install, in order.
fn install_script_actions(package: &Package) -> Vec<(String, DerivedAction)> {
    let context = ScriptContext {
        package: package.name.clone(),
    };
    let mut actions = Vec::new();
    for script in &package.scripts {
        let name = script.name.as_str();
        if name != "preinst" && name != "postinst" {
            continue;
        }
        let report = classify_script(name, &script.bytes, &context);
        for action in report.actions {
            if !actions
                .iter()
                .any(|(_, seen): &(String, DerivedAction)| *seen == action)
            {
                actions.push((name.to_owned(), action));
            }
        }
    }
    actions
}

fn plan_accounts(input: &ActionInput<'_>, judge: &dyn ActionJudge, result: &mut PackageActions) {
    let mut sources: Vec<(String, String)> = input
        .declarations
        .iter()
        .filter(|file| is_sysusers_path(&file.path))
        .map(|file| {
            (
                format!("`{}`", file.path),
                String::from_utf8_lossy(&file.bytes).into_owned(),
            )
        })
        .collect();
    for (script, action) in install_script_actions(input.package) {
        if let Some(line) = sysusers_line(&action) {
            let source = format!("{script}: adduser/addgroup");
            match sources.iter_mut().find(|(existing, _)| *existing == source) {
                Some((_, text)) => {
                    text.push_str(&line);
                    text.push('\n');
                }
                None => sources.push((source, format!("{line}\n"))),
            }
        }
    }
    for (source, text) in sources {
        let entries = match parse_sysusers(&source, &text) {
            Ok(entries) => entries,
            Err(error) => {
                result.problems.push(Problem::Denied {
                    package: input.package.name.clone(),
                    item: format!("accounts from {source} line {}", error.line),
                    because: error.reason,
                    hint: Some("the account declaration must be valid `sysusers.d` syntax with plain names (THREATS 31)".to_owned()),
                });
                continue;
            }
        };
        if check_accounts(input, judge, &source, &entries, result) {
            result
                .actions
                .push(PlannedAction::Accounts { source, text });
        }
    }
}

/// Judges every name of the entries, then runs the structural checks
/// (uid/gid 0, system range, privileged groups, login shells). Returns
/// whether everything passed.
fn check_accounts(
    input: &ActionInput<'_>,
    judge: &dyn ActionJudge,
    source: &str,
    entries: &[SysusersEntry],
    result: &mut PackageActions,
) -> bool {
    let mut grant = AccountGrant::default();
    let mut refused = false;
    let mut users = BTreeMap::new();
    let mut groups = BTreeSet::new();
    for entry in entries {
        match &entry.kind {
            SysusersKind::User {
                name,
                uid,
                primary_group,
                ..
            } => {
                users.insert(name.clone(), (*uid == Some(0), entry.line));
                if let pkgward_actions::sysusers::PrimaryGroup::Name(group) = primary_group {
                    groups.insert((group.clone(), entry.line));
                }
            }
            SysusersKind::Group { name, .. } => {
                groups.insert((name.clone(), entry.line));
            }
            SysusersKind::Member { user, group } => {
                users.insert(user.clone(), (false, entry.line));
                groups.insert((group.clone(), entry.line));
            }
            SysusersKind::Range { .. } => {}
        }
    }
    let mut denied_lines = BTreeSet::new();
    let mut judged = |what: &str, name: &str, line: usize, decision: PlannedDecision| {
        let granted = allowed(&decision);
        if !granted {
            refused = true;
            denied_lines.insert(line);
            result.problems.push(denied(
                input.package,
                format!("{what} `{name}` ({source} line {line})"),
                &decision,
            ));
        }
        result.decisions.push(PlannedDecision {
            item: format!("{what} {name}"),
            ..decision
        });
        granted
    };
    for (name, (uid_zero, line)) in &users {
        let decision = judge.user(input.package, input.repo, name, *uid_zero);
        if judged("user", name, *line, decision) {
            grant.users.insert(name.clone());
        }
    }
    for (name, line) in &groups {
        let decision = judge.group(input.package, input.repo, name);
        if judged("group", name, *line, decision) {
            grant.groups.insert(name.clone());
            if PRIVILEGED_GROUPS.contains(&name.as_str()) {
                grant.privileged_groups.insert(name.clone());
            }
        }
    }
    for refusal in check_sysusers(source, entries, &grant, SystemIdRange::default()) {
        if denied_lines.contains(&refusal.line) && refusal.reason.contains("not granted") {
            continue;
        }
        refused = true;
        let refusal = pkgward_actions::Refusal {
            hint: refusal.hint.clone().or_else(|| {
                Some("system accounts get an id in 1..=999, never 0, and no login shell (THREATS 31)".to_owned())
            }),
            ..refusal
        };
        result
            .problems
            .push(refusal_problem(input.package, source, refusal));
    }
    !refused
}

/// The package's system unit files: name → (path in the root, parsed text).
fn shipped_units(
    input: &ActionInput<'_>,
    result: &mut PackageActions,
) -> BTreeMap<String, (String, UnitFile)> {
    let mut units: BTreeMap<String, (String, UnitFile)> = BTreeMap::new();
    for file in input.declarations {
        let Some(name) = system_unit_name(&file.path) else {
            continue;
        };
        let resolved = input
            .placements
            .iter()
            .find(|placement| placement.shipped_path == file.path)
            .map_or_else(|| file.path.clone(), |placement| placement.path.clone());
        let text = String::from_utf8_lossy(&file.bytes);
        match parse_unit(&file.path, &text) {
            Ok(unit) => {
                // systemctl finds `/usr/lib/systemd/system` before `/lib/systemd/system`.
                let better = units.get(name).is_none_or(|(existing, _)| {
                    !existing.starts_with("/usr/") && resolved.starts_with("/usr/")
                });
                if better {
                    units.insert(name.to_owned(), (resolved, unit));
                }
            }
            Err(error) => result.problems.push(Problem::Denied {
                package: input.package.name.clone(),
                item: format!("unit `{}` line {}", file.path, error.line),
                because: error.reason,
                hint: None,
            }),
        }
    }
    units
}

/// Whether the script's `enable` of `unit` sits under `deb-systemd-helper
/// debian-installed UNIT` — the `dh_installsystemd --no-enable` block, which
/// only re-creates the links of a unit the administrator enabled; on a
/// fresh install Debian leaves it disabled. (The classifier visits every
/// branch, so the guard is looked up here. Reading it can only make pkgward
/// do less than the script.)
fn enable_needs_previous_install(package: &Package, script: &str, unit: &str) -> bool {
    package
        .scripts
        .iter()
        .filter(|candidate| candidate.name.as_str() == script)
        .any(|candidate| {
            let text = String::from_utf8_lossy(&candidate.bytes);
            text.lines().any(|line| {
                let mut words = line.split_whitespace();
                words.any(|word| word == "deb-systemd-helper")
                    && words.next() == Some("debian-installed")
                    && words
                        .next()
                        .is_some_and(|name| name.trim_matches(['\'', '"', ';']) == unit)
            })
        })
}

fn plan_units(input: &ActionInput<'_>, judge: &dyn ActionJudge, result: &mut PackageActions) {
    // Every system service runs as a granted user (no `User=` means root).
    for service in input.services {
        let decision = judge.service(
            input.package,
            input.repo,
            &service.unit,
            service.runs_as.as_deref(),
        );
        if !allowed(&decision) {
            let runs_as = service
                .runs_as
                .as_deref()
                .map_or(String::new(), |user| format!(" running as `{user}`"));
            result.problems.push(denied(
                input.package,
                format!("service `{}`{runs_as} ({})", service.unit, service.source),
                &decision,
            ));
        }
        result.decisions.push(PlannedDecision {
            item: format!("service {}", service.unit),
            ..decision
        });
    }
    let units = shipped_units(input, result);
    // An alias may never take the name of a unit that exists already (THREATS 32).
    for (name, (path, unit)) in &units {
        for (alias, line) in unit.list("Install", "Alias") {
            if let Some(owner) = input.foreign_units.get(&alias) {
                result.problems.push(Problem::Denied {
                    package: input.package.name.clone(),
                    item: format!("`Alias={alias}` of `{name}` (`{path}` line {line})"),
                    because: format!("`{alias}` is another unit ({owner}); the alias would take it over"),
                    hint: Some(format!("a package may alias only names of its own; remove `Alias={alias}` from `{name}`")),
                });
            }
        }
    }
    let script_actions = install_script_actions(input.package);
    let mentioned: BTreeSet<&str> = script_actions
        .iter()
        .filter_map(|(_, action)| match action {
            DerivedAction::ServiceEnable { unit }
            | DerivedAction::ServiceUpdateState { unit }
            | DerivedAction::ServiceUnmask { unit }
            | DerivedAction::ServiceDisable { unit, .. }
            | DerivedAction::ServiceControl { unit, .. } => Some(unit.as_str()),
            _ => None,
        })
        .collect();
    let mut to_enable: Vec<(String, String)> = Vec::new();
    for (script, action) in &script_actions {
        if let DerivedAction::ServiceEnable { unit } = action {
            if enable_needs_previous_install(input.package, script, unit) {
                result.actions.push(PlannedAction::Described {
                    source: script.clone(),
                    what: format!("`{unit}` is not enabled: the script enables it only when it was installed and enabled before (`dh_installsystemd --no-enable`)"),
                });
            } else {
                to_enable.push((unit.clone(), format!("{script}: deb-systemd-helper enable")));
            }
        } else if let Some(what) = described(action) {
            result.actions.push(PlannedAction::Described {
                source: script.clone(),
                what,
            });
        }
    }
    // Units no script mentions: enabled only when a preset rule explicitly
    // enables them (a final `disable *` turns "no rule matched" into no).
    let mut explicit = input.presets.to_vec();
    explicit.push(PresetRule {
        enable: false,
        pattern: "*".to_owned(),
        instances: Vec::new(),
        line: 0,
    });
    for name in units.keys() {
        if !mentioned.contains(name.as_str()) && preset_enables(&explicit, name) {
            to_enable.push((name.clone(), "preset".to_owned()));
        }
    }
    let mut enabled = BTreeSet::new();
    while let Some((name, source)) = to_enable.pop() {
        if !enabled.insert(name.clone()) {
            continue;
        }
        if !preset_enables(input.presets, &name) {
            result.actions.push(PlannedAction::Described {
                source: source.clone(),
                what: format!("`{name}` is not enabled: a preset rule in the root disables it"),
            });
            continue;
        }
        let template = name.split_once('@').map(|(prefix, rest)| {
            format!(
                "{prefix}@{}",
                rest.rsplit_once('.').map_or("", |(_, suffix)| suffix)
            )
        });
        let found = units.get(&name).or_else(|| {
            template
                .as_ref()
                .and_then(|template| units.get(&template.replace('@', "@.")))
        });
        let Some((path, unit)) = found else {
            result.actions.push(PlannedAction::Described {
                source,
                what: format!("`{name}` is not a unit this package ships: not enabled"),
            });
            continue;
        };
        match enablement(&name, path, unit) {
            Ok(links) => {
                let mut symlinks = Vec::new();
                for symlink in links.symlinks {
                    let decision =
                        judge.place(input.package, input.repo, &symlink.link, EntryKind::Symlink);
                    if !allowed(&decision) {
                        result.problems.push(denied(
                            input.package,
                            format!("enablement symlink `{}` of `{name}`", symlink.link),
                            &decision,
                        ));
                    }
                    symlinks.push(ActionSymlink {
                        link: symlink.link,
                        target: symlink.target,
                    });
                }
                for also in links.also {
                    to_enable.push((also, format!("`Also=` of `{name}`")));
                }
                result.actions.push(PlannedAction::EnableUnit {
                    unit: name,
                    source,
                    symlinks,
                });
            }
            Err(error) => result.problems.push(Problem::Denied {
                package: input.package.name.clone(),
                item: format!("enable `{name}`"),
                because: error.to_string(),
                hint: None,
            }),
        }
    }
}

/// Whether `path` is a `tmpfiles.d` file (systemd reads only `*.conf`).
pub fn is_tmpfiles_path(path: &str) -> bool {
    let stripped = path.strip_prefix("/usr").unwrap_or(path);
    (stripped.starts_with("/lib/tmpfiles.d/") || path.starts_with("/etc/tmpfiles.d/"))
        && std::path::Path::new(path)
            .extension()
            .is_some_and(|extension| extension == "conf")
}

/// Judges the owner and group an action gives a path (`root` needs none).
fn judge_owner(
    input: &ActionInput<'_>,
    judge: &dyn ActionJudge,
    item: &str,
    owner: Option<&str>,
    group: Option<&str>,
    result: &mut PackageActions,
) -> bool {
    let mut ok = true;
    if let Some(owner) = owner.filter(|owner| !matches!(*owner, "root" | "0")) {
        let decision = judge.user(input.package, input.repo, owner, false);
        if !allowed(&decision) {
            ok = false;
            result.problems.push(denied(
                input.package,
                format!("owner `{owner}` of {item}"),
                &decision,
            ));
        }
    }
    if let Some(group) = group.filter(|group| !matches!(*group, "root" | "0")) {
        let decision = judge.group(input.package, input.repo, group);
        if !allowed(&decision) {
            ok = false;
            result.problems.push(denied(
                input.package,
                format!("group `{group}` of {item}"),
                &decision,
            ));
        }
    }
    ok
}

/// `tmpfiles.d` files the package ships: their create-type lines are
/// carried out at install (what `systemd-tmpfiles --create FILE` does in
/// the `dh_installtmpfiles` block); lines pkgward does not carry out are
/// described.
fn plan_tmpfiles(input: &ActionInput<'_>, judge: &dyn ActionJudge, result: &mut PackageActions) {
    use pkgward_actions::tmpfiles::{
        check_tmpfiles, parse_tmpfiles, plan_tmpfiles as plan_lines, TmpfilesAction, TmpfilesGrant,
    };
    for file in input.declarations {
        if !is_tmpfiles_path(&file.path) {
            continue;
        }
        let source = format!("`{}`", file.path);
        let text = String::from_utf8_lossy(&file.bytes);
        let parsed = parse_tmpfiles(&file.path, &text).and_then(|entries| {
            let actions = plan_lines(&entries)?;
            Ok((entries, actions))
        });
        let (entries, actions) = match parsed {
            Ok(parsed) => parsed,
            Err(error) => {
                result.problems.push(Problem::Denied {
                    package: input.package.name.clone(),
                    item: format!("{source} line {}", error.line),
                    because: error.reason,
                    hint: None,
                });
                continue;
            }
        };
        // Paths are judged like placements (guarded locations need their
        // grant); owners like accounts; the structural checks (`/`,
        // world-writable, device nodes, setuid) come from pkgward-actions.
        let mut grant = TmpfilesGrant::default();
        let mut refused = false;
        for entry in &entries {
            let decision = judge.place(input.package, input.repo, &entry.path, EntryKind::File);
            if allowed(&decision) {
                grant.paths.push(entry.path.clone());
            } else {
                refused = true;
                result.problems.push(denied(
                    input.package,
                    format!("`{}` ({source} line {})", entry.path, entry.line),
                    &decision,
                ));
            }
            let item = format!("`{}` ({source} line {})", entry.path, entry.line);
            if judge_owner(
                input,
                judge,
                &item,
                entry.user.as_deref(),
                entry.group.as_deref(),
                result,
            ) {
                grant.users.extend(entry.user.clone());
                grant.groups.extend(entry.group.clone());
            } else {
                refused = true;
            }
        }
        for refusal in check_tmpfiles(&file.path, &entries, &grant) {
            if refusal.reason.contains("outside the package's grants")
                || refusal.reason.contains("is not granted")
            {
                continue;
            }
            refused = true;
            result
                .problems
                .push(refusal_problem(input.package, &source, refusal));
        }
        if refused {
            continue;
        }
        for action in actions {
            let create = |path: String, kind, mode, owner: String, group: String, argument| {
                PlannedAction::CreatePath {
                    source: source.clone(),
                    path,
                    kind,
                    mode,
                    owner,
                    group,
                    argument,
                }
            };
            result.actions.push(match action {
                TmpfilesAction::CreateDirectory {
                    path,
                    mode,
                    user,
                    group,
                    ..
                } => create(path, CreateKind::Directory, mode, user, group, None),
                TmpfilesAction::CreateFile {
                    path,
                    mode,
                    user,
                    group,
                    content,
                    truncate: false,
                } => create(path, CreateKind::File, mode, user, group, content),
                TmpfilesAction::CreateSymlink {
                    path,
                    target,
                    replace: false,
                } => create(
                    path,
                    CreateKind::Symlink,
                    0o777,
                    "root".to_owned(),
                    "root".to_owned(),
                    Some(target),
                ),
                TmpfilesAction::Copy {
                    path,
                    source: from,
                    replace: false,
                } => create(
                    path,
                    CreateKind::Copy,
                    0o644,
                    "root".to_owned(),
                    "root".to_owned(),
                    Some(from),
                ),
                TmpfilesAction::AdjustOwnership { path, .. }
                    if !own_paths(input, &result.actions).contains(&path) =>
                {
                    PlannedAction::Described {
                        source: source.clone(),
                        what: format!("`{path}` is not a path this package ships or creates: its owner and mode are left as they are"),
                    }
                }
                TmpfilesAction::AdjustOwnership {
                    path,
                    mode,
                    user,
                    group,
                    recursive: false,
                } => PlannedAction::SetAttributes {
                    source: source.clone(),
                    path,
                    owner: user,
                    group,
                    mode,
                },
                other => PlannedAction::Described {
                    source: source.clone(),
                    what: format!(
                        "{}: done by `systemd-tmpfiles` at boot, not at install",
                        serde_json::to_string(&other).unwrap_or_default()
                    ),
                },
            });
        }
    }
}

/// The paths a package ships or its earlier actions create.
fn own_paths(input: &ActionInput<'_>, actions: &[PlannedAction]) -> BTreeSet<String> {
    let mut own: BTreeSet<String> = input
        .placements
        .iter()
        .flat_map(|placement| [placement.path.clone(), placement.shipped_path.clone()])
        .collect();
    for action in actions {
        if let PlannedAction::CreatePath { path, .. } = action {
            own.insert(path.clone());
        }
    }
    own
}

/// An octal mode as scripts write it (`0750`, `2755`); symbolic modes
/// (`+x`, `u+s`) are not translated.
fn octal_mode(text: &str) -> Option<u32> {
    (!text.is_empty() && text.len() <= 5 && text.bytes().all(|byte| (b'0'..=b'7').contains(&byte)))
        .then(|| u32::from_str_radix(text, 8).ok())
        .flatten()
        .filter(|mode| *mode <= 0o7777)
}

/// `dpkg-statoverride --add`, `chown`, `chmod` and `mkdir -p`/`install -d`
/// from `preinst`/`postinst`, on the package's own paths only: a path it
/// ships, or one an earlier action of it creates. Setuid/setgid bits need
/// the `setuid` grant for that path; owners and groups need their grants.
fn plan_path_attributes(
    input: &ActionInput<'_>,
    judge: &dyn ActionJudge,
    result: &mut PackageActions,
) {
    let mut own = own_paths(input, &result.actions);
    let mut directories: BTreeSet<String> = input
        .placements
        .iter()
        .filter(|placement| placement.kind == crate::plan::PlacementKind::Dir)
        .map(|placement| placement.path.clone())
        .collect();
    for action in &result.actions {
        if let PlannedAction::CreatePath { path, kind, .. } = action {
            if *kind == CreateKind::Directory {
                directories.insert(path.clone());
            }
        }
    }
    let mut script_actions = install_script_actions(input.package);
    // Directories first: `install -d DIR; chown … DIR` makes DIR its own.
    script_actions
        .sort_by_key(|(_, action)| !matches!(action, DerivedAction::CreateDirectory { .. }));
    for (script, action) in script_actions {
        let (path, owner, group, mode, create) = match &action {
            DerivedAction::StatOverride {
                owner,
                group,
                mode,
                path,
            } => (
                path,
                Some(owner.clone()),
                Some(group.clone()),
                Some(mode.clone()),
                false,
            ),
            DerivedAction::SetMode { path, mode } => (path, None, None, Some(mode.clone()), false),
            DerivedAction::SetOwner { path, owner } => {
                let (user, group) = match owner.split_once([':', '.']) {
                    Some((user, group)) => (user.to_owned(), Some(group.to_owned())),
                    None => (owner.clone(), None),
                };
                (
                    path,
                    Some(user).filter(|user| !user.is_empty()),
                    group,
                    None,
                    false,
                )
            }
            DerivedAction::CreateDirectory {
                path,
                mode,
                owner,
                group,
            } => (path, owner.clone(), group.clone(), mode.clone(), true),
            _ => continue,
        };
        let source = format!(
            "{script}: {}",
            match &action {
                DerivedAction::StatOverride { .. } => "dpkg-statoverride",
                DerivedAction::SetMode { .. } => "chmod",
                DerivedAction::SetOwner { .. } => "chown",
                _ => "mkdir -p",
            }
        );
        let numeric_mode = match mode.as_deref().map(octal_mode) {
            Some(None) => {
                result.actions.push(PlannedAction::Described {
                    source,
                    what: format!(
                        "mode `{}` on `{path}` is not an octal mode: not translated",
                        mode.unwrap_or_default()
                    ),
                });
                continue;
            }
            Some(Some(mode)) => Some(mode),
            None => None,
        };
        let item = format!("`{path}` ({source})");
        if create && !own.contains(path.as_str()) {
            let decision = judge.place(input.package, input.repo, path, EntryKind::File);
            if !allowed(&decision) {
                result.problems.push(denied(input.package, item, &decision));
                continue;
            }
            own.insert(path.clone());
            directories.insert(path.clone());
            result.actions.push(PlannedAction::CreatePath {
                source: source.clone(),
                path: path.clone(),
                kind: CreateKind::Directory,
                mode: numeric_mode.unwrap_or(0o755),
                owner: owner.clone().unwrap_or_else(|| "root".to_owned()),
                group: group.clone().unwrap_or_else(|| "root".to_owned()),
                argument: None,
            });
            continue;
        }
        if create && owner.is_none() && group.is_none() && numeric_mode.is_none() {
            // `mkdir -p` of a directory the package ships: nothing to do.
            continue;
        }
        if !own.contains(path.as_str()) {
            // Never carried out. On a guarded path (`/etc/shadow`, sudoers, …)
            // the request refuses the plan; elsewhere (files the scripts'
            // residue or ucf create later) it is only reported.
            let decision = judge.place(input.package, input.repo, path, EntryKind::File);
            if allowed(&decision) {
                result.actions.push(PlannedAction::Described {
                    source,
                    what: format!("`{path}` is not a path this package ships or creates: its owner and mode are left as they are"),
                });
            } else {
                result.problems.push(denied(input.package, item, &decision));
            }
            continue;
        }
        // setgid on a directory only passes its group on to new files; on
        // files (and setuid anywhere) it is a privilege and needs the grant.
        let privileged_bits = if directories.contains(path.as_str()) {
            0o4000
        } else {
            0o6000
        };
        if numeric_mode.is_some_and(|mode| mode & privileged_bits != 0) {
            let decision = judge.setuid(input.package, input.repo, path);
            if !allowed(&decision) {
                result.problems.push(denied(
                    input.package,
                    format!("setuid/setgid mode on {item}"),
                    &decision,
                ));
                continue;
            }
        }
        if !judge_owner(
            input,
            judge,
            &item,
            owner.as_deref(),
            group.as_deref(),
            result,
        ) {
            continue;
        }
        result.actions.push(PlannedAction::SetAttributes {
            source,
            path: path.clone(),
            owner,
            group,
            mode: numeric_mode,
        });
    }
}

/// `update-alternatives --install` from `preinst`/`postinst`. The capability
/// is the links: the master and every slave link is judged like placing a
/// symlink there (so `/etc/alternatives`-style links into guarded locations
/// need their grant); names and paths are checked by pkgward-actions.
fn plan_alternatives(
    input: &ActionInput<'_>,
    judge: &dyn ActionJudge,
    result: &mut PackageActions,
) {
    use pkgward_actions::alternatives::{
        check_alternative_install, AlternativeGrant, AlternativeInstall,
    };
    for (script, action) in install_script_actions(input.package) {
        let DerivedAction::AlternativeInstall {
            link,
            name,
            path,
            priority,
            slaves,
        } = action
        else {
            continue;
        };
        let source = format!("{script}: update-alternatives --install");
        let request = AlternativeInstall {
            link: link.clone(),
            name: name.clone(),
            path: path.clone(),
            priority,
            slaves: slaves.clone(),
        };
        let grant = AlternativeGrant {
            names: std::iter::once(name.clone())
                .chain(slaves.iter().map(|(_, name, _)| name.clone()))
                .collect(),
        };
        let mut refused = false;
        for refusal in check_alternative_install(&source, 1, &request, &grant) {
            refused = true;
            result.problems.push(Problem::Denied {
                package: input.package.name.clone(),
                item: format!("alternative `{name}` ({source})"),
                because: refusal.reason,
                hint: refusal.hint,
            });
        }
        for each_link in std::iter::once(&link).chain(slaves.iter().map(|(link, _, _)| link)) {
            let decision = judge.place(input.package, input.repo, each_link, EntryKind::Symlink);
            if !allowed(&decision) {
                refused = true;
                result.problems.push(denied(
                    input.package,
                    format!("alternative link `{each_link}` of `{name}` ({source})"),
                    &decision,
                ));
            }
        }
        if !refused {
            result.actions.push(PlannedAction::Alternative {
                source,
                link,
                name,
                path,
                priority,
                slaves,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkgward_package::{Format, Relations, Script, ScriptName, Version};

    /// Allows everything except the names, units and paths listed.
    struct TestJudge {
        deny: &'static [&'static str],
    }

    fn decision(allow: bool) -> PlannedDecision {
        PlannedDecision {
            item: String::new(),
            verdict: if allow { "allow" } else { "deny" }.to_owned(),
            because: "test.toml:1:1".to_owned(),
            hint: (!allow).then(|| "grant it".to_owned()),
        }
    }

    impl Judge for TestJudge {
        fn place(&self, _: &Package, _: &str, path: &str, _: EntryKind) -> PlannedDecision {
            decision(!self.deny.contains(&path))
        }
        fn setuid(&self, _: &Package, _: &str, path: &str) -> PlannedDecision {
            decision(!self.deny.contains(&path))
        }
        fn file_capabilities(&self, _: &Package, _: &str, path: &str, _: u64) -> PlannedDecision {
            decision(!self.deny.contains(&path))
        }
        fn scripts(&self, _: &Package, _: &str, _: pkgward_policy::ScriptMode) -> PlannedDecision {
            decision(true)
        }
    }

    impl ActionJudge for TestJudge {
        fn user(&self, _: &Package, _: &str, name: &str, uid_zero: bool) -> PlannedDecision {
            decision(!uid_zero && !self.deny.contains(&name))
        }
        fn group(&self, _: &Package, _: &str, name: &str) -> PlannedDecision {
            decision(!self.deny.contains(&name))
        }
        fn service(
            &self,
            _: &Package,
            _: &str,
            unit: &str,
            runs_as: Option<&str>,
        ) -> PlannedDecision {
            decision(
                !self.deny.contains(&unit)
                    && !runs_as.is_some_and(|user| self.deny.contains(&user)),
            )
        }
    }

    fn package(postinst: &str) -> Package {
        Package {
            format: Format::Deb,
            name: "demo".to_owned(),
            version: Version::parse("1.0").unwrap(),
            architecture: "all".to_owned(),
            description: String::new(),
            maintainer: None,
            relations: Relations::default(),
            fields: vec![],
            scripts: vec![Script {
                name: ScriptName::Postinst,
                interpreter: Some("/bin/sh".to_owned()),
                bytes: postinst.as_bytes().to_vec(),
            }],
            conffiles: vec![],
            triggers: vec![],
            md5sums: vec![],
            entries: vec![],
            artifact_sha256: "00".repeat(32),
            installed_size: 0,
        }
    }

    fn declaration(path: &str, text: &str) -> DeclarationFile {
        DeclarationFile {
            path: path.to_owned(),
            bytes: text.as_bytes().to_vec(),
        }
    }

    fn plan(
        package: &Package,
        declarations: &[DeclarationFile],
        presets: &[PresetRule],
        deny: &'static [&'static str],
    ) -> PackageActions {
        plan_actions(
            &ActionInput {
                package,
                repo: "test",
                declarations,
                services: &[],
                placements: &[],
                presets,
                foreign_units: &BTreeMap::new(),
            },
            &TestJudge { deny },
        )
    }

    const UNIT: &str =
        "[Service]\nUser=demo\nExecStart=/usr/bin/demo\n[Install]\nWantedBy=multi-user.target\n";

    #[test]
    fn adduser_requests_become_sysusers_lines() {
        let user = |group: Option<&str>, home: Option<&str>, gecos: Option<&str>| {
            sysusers_line(&DerivedAction::CreateSystemUser {
                name: "demo".to_owned(),
                group: group.map(str::to_owned),
                home: home.map(str::to_owned),
                shell: None,
                gecos: gecos.map(str::to_owned),
                uid: None,
            })
            .unwrap()
        };
        assert_eq!(
            user(Some("demo"), Some("/var/lib/demo"), None),
            "u demo - - /var/lib/demo -"
        );
        assert_eq!(
            user(None, None, Some("Demo daemon")),
            "u demo -:nogroup \"Demo daemon\" /nonexistent -"
        );
        assert_eq!(
            user(Some("other"), None, None),
            "u demo -:other - /nonexistent -"
        );
        assert_eq!(
            sysusers_line(&DerivedAction::AddToGroup {
                user: "demo".to_owned(),
                group: "sudo".to_owned()
            })
            .unwrap(),
            "m demo sudo"
        );
        // Fixed ids (`useradd -u 27`, `-g 27`, `groupadd -g 27`): sysusers'
        // `UID[:GROUP]` and `g NAME GID`, checked like a shipped file's.
        let fixed = |group: &str| {
            sysusers_line(&DerivedAction::CreateSystemUser {
                name: "mysql".to_owned(),
                group: Some(group.to_owned()),
                home: None,
                shell: None,
                gecos: None,
                uid: Some(27),
            })
            .unwrap()
        };
        assert_eq!(fixed("mysql"), "u mysql 27 - /nonexistent -");
        assert_eq!(fixed("db"), "u mysql 27:db - /nonexistent -");
        assert_eq!(fixed("27"), "u mysql 27:27 - /nonexistent -");
        assert_eq!(
            sysusers_line(&DerivedAction::CreateSystemGroup {
                name: "mysql".to_owned(),
                gid: Some(27)
            })
            .unwrap(),
            "g mysql 27"
        );
    }

    #[test]
    fn octal_modes_only() {
        assert_eq!(octal_mode("0750"), Some(0o750));
        assert_eq!(octal_mode("2755"), Some(0o2755));
        assert_eq!(octal_mode("+x"), None);
        assert_eq!(octal_mode("u+s"), None);
        assert_eq!(octal_mode("99"), None);
        assert_eq!(octal_mode("777777"), None);
    }

    #[test]
    fn a_script_enable_makes_the_systemctl_links_and_a_no_enable_block_does_not() {
        let declarations = [declaration("/lib/systemd/system/demo.service", UNIT)];
        let enabled = plan(
            &package("deb-systemd-helper enable 'demo.service'\n"),
            &declarations,
            &[],
            &[],
        );
        assert!(enabled.problems.is_empty(), "{:?}", enabled.problems);
        assert!(enabled.actions.contains(&PlannedAction::EnableUnit {
            unit: "demo.service".to_owned(),
            source: "postinst: deb-systemd-helper enable".to_owned(),
            symlinks: vec![ActionSymlink {
                link: "/etc/systemd/system/multi-user.target.wants/demo.service".to_owned(),
                target: "/lib/systemd/system/demo.service".to_owned(),
            }],
        }));
        let guarded = plan(
            &package("if deb-systemd-helper debian-installed 'demo.service'; then\n  deb-systemd-helper enable 'demo.service'\nfi\n"),
            &declarations,
            &[],
            &[],
        );
        assert!(!guarded
            .actions
            .iter()
            .any(|action| matches!(action, PlannedAction::EnableUnit { .. })));
    }

    #[test]
    fn presets_enable_only_explicitly_and_a_disable_rule_wins() {
        let declarations = [declaration("/lib/systemd/system/demo.service", UNIT)];
        let rules = |text: &str| pkgward_actions::units::parse_presets("p", text).unwrap();
        let enabled_units = |actions: &PackageActions| {
            actions
                .actions
                .iter()
                .filter(|action| matches!(action, PlannedAction::EnableUnit { .. }))
                .count()
        };
        let no_script = package("true\n");
        assert_eq!(enabled_units(&plan(&no_script, &declarations, &[], &[])), 0);
        assert_eq!(
            enabled_units(&plan(
                &no_script,
                &declarations,
                &rules("enable demo.*\n"),
                &[]
            )),
            1
        );
        assert_eq!(
            enabled_units(&plan(&no_script, &declarations, &rules("disable *\n"), &[])),
            0
        );
        let scripted = package("deb-systemd-helper enable demo.service\n");
        assert_eq!(
            enabled_units(&plan(
                &scripted,
                &declarations,
                &rules("disable demo.service\n"),
                &[]
            )),
            0
        );
    }

    #[test]
    fn denied_names_and_links_refuse_with_the_rule() {
        let declarations = [
            declaration("/usr/lib/sysusers.d/demo.conf", "u demo -\nm demo sudo\n"),
            declaration("/lib/systemd/system/demo.service", UNIT),
        ];
        let result = plan(
            &package("deb-systemd-helper enable demo.service\n"),
            &declarations,
            &[],
            &[
                "sudo",
                "/etc/systemd/system/multi-user.target.wants/demo.service",
            ],
        );
        let items: Vec<String> = result
            .problems
            .iter()
            .map(|problem| match problem {
                Problem::Denied { item, because, .. } => format!("{item} / {because}"),
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(
            items.iter().any(|item| item
                .starts_with("group `sudo` (`/usr/lib/sysusers.d/demo.conf` line 2) / test.toml")),
            "{items:?}"
        );
        assert!(
            items.iter().any(|item| item.starts_with(
                "enablement symlink `/etc/systemd/system/multi-user.target.wants/demo.service`"
            )),
            "{items:?}"
        );
        assert!(!result
            .actions
            .iter()
            .any(|action| matches!(action, PlannedAction::Accounts { .. })));
    }

    #[test]
    fn a_foreign_alias_is_refused() {
        let declarations = [declaration(
            "/lib/systemd/system/demo.service",
            "[Service]\nUser=demo\nExecStart=/x\n[Install]\nAlias=dbus.service\n",
        )];
        let foreign = BTreeMap::from([(
            "dbus.service".to_owned(),
            "exists at `/lib/systemd/system/dbus.service`".to_owned(),
        )]);
        let result = plan_actions(
            &ActionInput {
                package: &package("true\n"),
                repo: "test",
                declarations: &declarations,
                services: &[],
                placements: &[],
                presets: &[],
                foreign_units: &foreign,
            },
            &TestJudge { deny: &[] },
        );
        assert_eq!(result.problems.len(), 1, "{:?}", result.problems);
    }
}
