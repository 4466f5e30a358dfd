//! Which maintainer scripts of a package run, and where they may write.
//!
//! Every script is classified by `pkgward_actions::scripts::classify_script`
//! (never re-implemented here). A fully declarative script never runs: its
//! actions are pkgward's own (the actions phase). A script with residue runs
//! in the sandbox at its dpkg phase, which the policy's `scripts` mode must
//! allow: `none` refuses the package, `sandboxed` runs residue scripts,
//! `unconfined` is needed by scripts classified `NeedsUnconfined` — and even
//! then pkgward runs them in the same sandbox, because unconfined execution is
//! not implemented (the privileged commands then fail and the package is left
//! half-configured, never run with more power than the sandbox gives).
//!
//! Writable paths for a package's scripts (the *writable paths rule*, see
//! `docs/sandbox.md`): the package's own directories — directories among its
//! placements, or parents of them, whose final component is the package's
//! name (`/etc/foo`, `/usr/share/foo`, `/var/lib/foo`, also `foo.d`, `foo-x`)
//! — plus `/var/lib/<name>`, `/var/cache/<name>`, `/var/log/<name>` and
//! `/run/<name>`, each kept only when the policy would let the package place a
//! new file directly in it (so guarded locations and deny overrides stay
//! read-only). Shared directories (`/usr/bin`, `/etc`) are never writable.

use crate::plan::{PlannedDecision, PlannedScript, Problem};
use crate::planner::Judge;
use pkgward_actions::scripts::{classify_script, Classification, ScriptContext};
use pkgward_package::{EntryKind, Package, ScriptName};
use pkgward_policy::ScriptMode;
use std::collections::BTreeSet;

/// How many residue lines a planned script lists (the rest are counted).
const RESIDUE_LINES_SHOWN: usize = 5;

/// What planning decided about one package's scripts.
#[derive(Debug)]
pub struct ScriptsPlan {
    pub scripts: Vec<PlannedScript>,
    pub writable_paths: Vec<String>,
    /// The `scripts` decision, when the package ships scripts.
    pub decision: Option<PlannedDecision>,
    pub problem: Option<Problem>,
}

/// The script mode a classification needs.
pub fn required_mode(classification: Classification) -> ScriptMode {
    match classification {
        Classification::FullyDeclarative => ScriptMode::None,
        Classification::DeclarativeWithResidue => ScriptMode::Sandboxed,
        Classification::NeedsUnconfined => ScriptMode::Unconfined,
    }
}

/// Classifies `package`'s scripts, asks the judge for the mode they need and
/// derives the scripts' writable paths from `directories` (the resolved
/// directories the package places or places files into).
pub fn plan_scripts(
    package: &Package,
    repo: &str,
    judge: &dyn Judge,
    directories: &BTreeSet<String>,
) -> ScriptsPlan {
    if package.scripts.is_empty() {
        return ScriptsPlan {
            scripts: Vec::new(),
            writable_paths: Vec::new(),
            decision: None,
            problem: None,
        };
    }
    let context = ScriptContext {
        package: package.name.clone(),
    };
    let mut needed = ScriptMode::None;
    let mut reports = Vec::new();
    for script in &package.scripts {
        let report = classify_script(script.name.as_str(), &script.bytes, &context);
        // debconf's `config` script is run by debconf, never by dpkg or pkgward.
        if script.name != ScriptName::Config {
            needed = needed.max(required_mode(report.classification));
        }
        reports.push(report);
    }
    let decision = judge.scripts(package, repo, needed);
    let allowed = decision.verdict == "allow";
    let problem = (!allowed).then(|| Problem::Denied {
        package: package.name.clone(),
        item: format!(
            "`{needed}` maintainer scripts ({})",
            package
                .scripts
                .iter()
                .zip(&reports)
                .filter(|(script, report)| script.name != ScriptName::Config
                    && required_mode(report.classification) > ScriptMode::None)
                .map(|(script, _)| script.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        because: decision.because.clone(),
        hint: decision.hint.clone(),
    });
    let scripts = package
        .scripts
        .iter()
        .zip(&reports)
        .map(|(script, report)| {
            let (run, why) = if script.name == ScriptName::Config {
                (false, "debconf's `config` script is not run by pkgward".to_owned())
            } else {
                match report.classification {
                    Classification::FullyDeclarative => (
                        false,
                        "fully declarative: pkgward performs its actions itself".to_owned(),
                    ),
                    Classification::DeclarativeWithResidue => (
                        allowed,
                        format!(
                            "{} residue command{} run in the sandbox",
                            report.residue.len(),
                            if report.residue.len() == 1 { "" } else { "s" }
                        ),
                    ),
                    Classification::NeedsUnconfined => (
                        allowed,
                        "needs privileges the sandbox does not give; runs in the sandbox anyway (unconfined execution is not implemented)".to_owned(),
                    ),
                }
            };
            let mut residue: Vec<String> = report
                .residue
                .iter()
                .take(RESIDUE_LINES_SHOWN)
                .map(|residue| format!("line {}: {}: {}", residue.line, residue.category, residue.text))
                .collect();
            if report.residue.len() > RESIDUE_LINES_SHOWN {
                residue.push(format!("… {} more", report.residue.len() - RESIDUE_LINES_SHOWN));
            }
            PlannedScript {
                name: script.name.as_str().to_owned(),
                interpreter: script.interpreter.clone(),
                classification: format!("{:?}", report.classification),
                run,
                why,
                residue,
                content: PlannedScript::encode(&script.bytes),
            }
        })
        .collect::<Vec<_>>();
    let writable_paths = if scripts.iter().any(|script| script.run) {
        writable_paths(package, repo, judge, directories)
    } else {
        Vec::new()
    };
    ScriptsPlan {
        scripts,
        writable_paths,
        decision: Some(decision),
        problem,
    }
}

/// Whether the final component of `directory` names the package.
fn names_package(directory: &str, name: &str) -> bool {
    let last = directory.rsplit('/').next().unwrap_or_default();
    last == name
        || last
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with(['.', '-', '_']))
}

/// The writable paths rule (module docs).
fn writable_paths(
    package: &Package,
    repo: &str,
    judge: &dyn Judge,
    directories: &BTreeSet<String>,
) -> Vec<String> {
    let name = &package.name;
    let mut candidates: BTreeSet<String> = directories
        .iter()
        .filter(|directory| names_package(directory, name))
        .cloned()
        .collect();
    for base in ["/var/lib", "/var/cache", "/var/log", "/run"] {
        candidates.insert(format!("{base}/{name}"));
    }
    let granted: Vec<String> = candidates
        .into_iter()
        .filter(|directory| {
            let probe = format!("{directory}/pkgward-script-write");
            judge.place(package, repo, &probe, EntryKind::File).verdict == "allow"
        })
        .collect();
    // A directory beneath another writable one adds nothing.
    granted
        .iter()
        .filter(|directory| {
            !granted
                .iter()
                .any(|other| other != *directory && directory.starts_with(&format!("{other}/")))
        })
        .cloned()
        .collect()
}

/// Every directory `package` places, or places an entry into, by resolved path.
pub fn package_directories<'a>(
    placements: impl Iterator<Item = (&'a str, EntryKind)>,
) -> BTreeSet<String> {
    let mut directories = BTreeSet::new();
    for (path, kind) in placements {
        if kind == EntryKind::Dir {
            directories.insert(path.to_owned());
        }
        if let Some((parent, _)) = path.rsplit_once('/') {
            if !parent.is_empty() {
                directories.insert(parent.to_owned());
            }
        }
    }
    directories
}

/// The shim requests of a run that the script's own declarative actions do
/// not cover: each request line is classified like a one-line script (by
/// the same `classify_script`); it is covered when that yields no residue
/// and only actions the whole script already derives (pkgward performs
/// those itself) — or none at all (queries such as `was-enabled`).
pub fn uncovered_requests(
    package: &str,
    script_name: &str,
    script: &[u8],
    requests: &[String],
) -> Vec<String> {
    let context = ScriptContext {
        package: package.to_owned(),
    };
    let derived = classify_script(script_name, script, &context).actions;
    requests
        .iter()
        .filter(|request| {
            let report = classify_script(script_name, request.as_bytes(), &context);
            report.classification != Classification::FullyDeclarative
                || report
                    .actions
                    .iter()
                    .any(|action| !derived.contains(action))
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_named_directories() {
        assert!(names_package("/etc/foo", "foo"));
        assert!(names_package("/etc/foo.d", "foo"));
        assert!(names_package("/usr/share/foo-data", "foo"));
        assert!(!names_package("/usr/share/foobar", "foo"));
        assert!(!names_package("/usr/bin", "foo"));
    }

    #[test]
    fn directories_include_parents_of_files() {
        let directories = package_directories(
            [
                ("/usr/bin/foo", EntryKind::File),
                ("/etc/foo", EntryKind::Dir),
            ]
            .into_iter(),
        );
        assert_eq!(
            directories.into_iter().collect::<Vec<_>>(),
            ["/etc", "/etc/foo", "/usr/bin"]
        );
    }

    #[test]
    fn requests_the_script_declares_are_covered_others_are_not() {
        let script = b"#!/bin/sh\nset -e\ndeb-systemd-helper unmask foo.service\nif deb-systemd-helper --quiet was-enabled foo.service; then deb-systemd-helper enable foo.service; fi\nfrobnicate\n";
        let requests = vec![
            "deb-systemd-helper unmask foo.service".to_owned(),
            "deb-systemd-helper --quiet was-enabled foo.service".to_owned(),
            "systemctl start bar.service".to_owned(),
            "adduser --system baz".to_owned(),
        ];
        let uncovered = uncovered_requests("foo", "postinst", script, &requests);
        assert_eq!(
            uncovered,
            ["systemctl start bar.service", "adduser --system baz"]
        );
    }
}
