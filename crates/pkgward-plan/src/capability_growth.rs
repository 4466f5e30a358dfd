//! Capability growth on upgrade: which capabilities the new version's
//! footprint needs that the installed version's recorded footprint did not
//! ([`growth`]), and what the repo's `capability-growth` rule makes of it
//! for a whole plan ([`review`]: held, allowed with a notice, or not
//! comparable). `install` prints the notices and refuses a held plan before
//! anything is staged.
//!
//! Both footprints are `pkgward_policy::footprint::Footprint` in serde form
//! (the recorded one comes from the `footprints` table). Growth is, field by
//! field, every element of the new footprint the old one does not cover:
//!
//! - `guarded`, `setuid`, `file_capabilities`, `users`, `groups`,
//!   `services`, `scripts`: covered
//!   when the old list has an element that structurally covers it — the same
//!   rule attestations use (`pkgward_attest::coverage::json_covers`). So a
//!   new guarded location, a new path inside a guarded location, a new
//!   setuid path or mode, new or changed file capabilities, a new user/group (or a changed id / `uid_zero`), a
//!   new service or run-as user or privilege note, and a new maintainer
//!   script are growth. The `source` of a declaration (which file declared
//!   it) is left out of the comparison: moving a declaration is not growth.
//!
//! Plain (non-guarded) `paths` are not growth: the repo's grants already
//! bound where a package may place files, and counting every new file in
//! `/usr/bin` would hold ordinary upgrades under the default `hold` rule.
//! Growth is about what changes trust: auto-execution and privilege
//! locations, setuid, accounts, services and scripts. Names, versions,
//! digests, twins and rejected paths are not capabilities either.

use crate::plan::Plan;
use pkgward_policy::model::{CapabilityGrowth, Policy};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// One upgraded package whose new footprint needs more than the old one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageGrowth {
    pub name: String,
    pub version: String,
    pub previous_version: String,
    /// Readable lines from [`growth`].
    pub grown: Vec<String>,
}

impl fmt::Display for PackageGrowth {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "`{}` {} needs capabilities {} did not use:",
            self.name, self.version, self.previous_version
        )?;
        for item in &self.grown {
            write!(formatter, "\n  - {item}")?;
        }
        Ok(())
    }
}

/// What the comparison found for one replaced package, in plan order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrowthFinding {
    /// Installed before footprints were recorded: cannot be compared, the
    /// upgrade proceeds.
    NotRecorded {
        name: String,
        previous_version: String,
    },
    /// Grown, and the repo's rule is `allow`.
    Allowed(PackageGrowth),
    /// Grown, and the repo's rule is `hold` (the default).
    Held(PackageGrowth),
}

/// The capability growth of every package a plan replaces, judged by the
/// repo's `capability-growth` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrowthReview {
    pub repo: String,
    pub findings: Vec<GrowthFinding>,
}

/// A recorded footprint that cannot be compared.
#[derive(Debug, thiserror::Error)]
#[error("recorded footprint of `{package}` is not JSON")]
pub struct RecordedFootprintError {
    pub package: String,
    #[source]
    pub source: serde_json::Error,
}

/// Compare each package `plan` replaces (upgrade, reinstall or downgrade:
/// any of them can need more) with its recorded footprint (`recorded`:
/// package name → the `footprints` row's JSON; absent when none was
/// recorded), under the rule of `repo` in `policy` (default `hold`).
pub fn review(
    plan: &Plan,
    policy: &Policy,
    repo: &str,
    recorded: &BTreeMap<String, String>,
) -> Result<GrowthReview, RecordedFootprintError> {
    let rule = policy
        .repo(repo)
        .map(|repo| repo.capability_growth)
        .unwrap_or_default();
    let mut findings = Vec::new();
    for planned in &plan.packages {
        let (Some(previous), Some(new)) = (&planned.previous_version, &planned.footprint) else {
            continue;
        };
        let Some(recorded) = recorded.get(&planned.name) else {
            findings.push(GrowthFinding::NotRecorded {
                name: planned.name.clone(),
                previous_version: previous.clone(),
            });
            continue;
        };
        let old: Value =
            serde_json::from_str(recorded).map_err(|source| RecordedFootprintError {
                package: planned.name.clone(),
                source,
            })?;
        let grown = growth(&old, new);
        if grown.is_empty() {
            continue;
        }
        let package = PackageGrowth {
            name: planned.name.clone(),
            version: planned.version.clone(),
            previous_version: previous.clone(),
            grown,
        };
        findings.push(match rule {
            CapabilityGrowth::Allow => GrowthFinding::Allowed(package),
            CapabilityGrowth::Hold => GrowthFinding::Held(package),
        });
    }
    Ok(GrowthReview {
        repo: repo.to_owned(),
        findings,
    })
}

impl GrowthReview {
    /// The packages the rule holds.
    pub fn held(&self) -> impl Iterator<Item = &PackageGrowth> {
        self.findings.iter().filter_map(|finding| match finding {
            GrowthFinding::Held(package) => Some(package),
            _ => None,
        })
    }

    /// Notices for what proceeds: packages that cannot be compared and
    /// growth the rule allows, in plan order.
    pub fn notices(&self) -> Vec<String> {
        self.findings
            .iter()
            .filter_map(|finding| match finding {
                GrowthFinding::NotRecorded {
                    name,
                    previous_version,
                } => Some(format!(
                    "`{name}` {previous_version} has no recorded footprint; capability growth not checked"
                )),
                GrowthFinding::Allowed(package) => Some(format!(
                    "capability growth allowed by repo `{}`: {package}",
                    self.repo
                )),
                GrowthFinding::Held(_) => None,
            })
            .collect()
    }

    /// The refusal when anything is held: each held package with its list.
    pub fn held_message(&self) -> String {
        let held: Vec<String> = self.held().map(ToString::to_string).collect();
        format!(
            "capability growth held by repo `{}`:\n{}",
            self.repo,
            held.join("\n")
        )
    }

    /// What to do about a hold: the knob that allows growth for the repo.
    pub fn held_hint(&self) -> String {
        format!(
            "review the list; to allow growth for this repo set `capability-growth = \"allow\"` in its `[[repo]]` table (name = \"{}\") of the administrator policy (`--policy`, or the root's `etc/pkgward/policy.toml`); nothing was changed",
            self.repo
        )
    }
}

/// The capabilities `new` needs that `old` did not, as readable lines
/// such as ``setuid `/usr/bin/x` (4755)``.
pub fn growth(old: &Value, new: &Value) -> Vec<String> {
    let mut grown = Vec::new();
    let list = |footprint: &Value, field: &str| -> Vec<Value> {
        footprint
            .get(field)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let old_guarded = list(old, "guarded");
    for guarded in list(new, "guarded") {
        let id = guarded.get("id").and_then(Value::as_str).unwrap_or("?");
        let class = guarded.get("class").and_then(Value::as_str).unwrap_or("?");
        match old_guarded
            .iter()
            .find(|candidate| candidate.get("id") == guarded.get("id"))
        {
            None => grown.push(format!("guarded location `{id}` ({class})")),
            Some(previous) => {
                let old_paths = previous.get("paths").cloned().unwrap_or(Value::Null);
                for path in guarded
                    .get("paths")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if !covered(&old_paths, path) {
                        grown.push(format!(
                            "guarded location `{id}` ({class}): path `{}`",
                            path.as_str().unwrap_or("?")
                        ));
                    }
                }
            }
        }
    }
    let describe = |field: &str, element: &Value| -> String {
        let text = |key: &str| element.get(key).and_then(Value::as_str).unwrap_or("?");
        match field {
            "setuid" => format!("setuid `{}` ({})", text("path"), text("mode")),
            "file_capabilities" => format!(
                "file capabilities `{}` on `{}`",
                text("capabilities"),
                text("path")
            ),
            "users" => format!("user `{}` (id `{}`)", text("name"), text("id")),
            "groups" => format!("group `{}` ({})", text("name"), text("how")),
            "services" => format!(
                "service `{}` running as `{}`",
                text("unit"),
                element
                    .get("runs_as")
                    .and_then(Value::as_str)
                    .unwrap_or("(no process)")
            ),
            _ => format!("maintainer script `{}`", element.as_str().unwrap_or("?")),
        }
    };
    for field in [
        "setuid",
        "file_capabilities",
        "users",
        "groups",
        "services",
        "scripts",
    ] {
        let old_list = Value::Array(list(old, field).iter().map(without_source).collect());
        for element in list(new, field) {
            if !covered(&old_list, &without_source(&element)) {
                grown.push(describe(field, &element));
            }
        }
    }
    grown
}

/// Whether the list `old` has an element covering `element`.
fn covered(old: &Value, element: &Value) -> bool {
    pkgward_attest::coverage::json_covers(old, &Value::Array(vec![element.clone()]))
}

/// A declaration without the file it came from.
fn without_source(element: &Value) -> Value {
    let mut element = element.clone();
    if let Some(object) = element.as_object_mut() {
        object.remove("source");
    }
    element
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn footprint() -> Value {
        json!({
            "package": "foo", "version": "1",
            "paths": ["/usr/bin/foo", "/usr/share/foo/**"],
            "guarded": [{"id": "cron", "class": "autoexec", "paths": ["/etc/cron.d/foo"]}],
            "setuid": [],
            "users": [{"name": "foo", "id": "-", "uid_zero": false, "source": "/usr/lib/sysusers.d/foo.conf"}],
            "groups": [],
            "services": [],
            "scripts": ["postinst"],
        })
    }

    #[test]
    fn the_same_or_a_smaller_footprint_is_no_growth() {
        let old = footprint();
        assert!(growth(&old, &old).is_empty());
        let mut smaller = old.clone();
        smaller["version"] = json!("2");
        smaller["paths"] = json!(["/usr/share/foo/doc/**", "/usr/share/foo/x"]);
        smaller["guarded"] = json!([]);
        smaller["scripts"] = json!([]);
        smaller["users"][0]["source"] = json!("/usr/lib/sysusers.d/other.conf");
        assert!(
            growth(&old, &smaller).is_empty(),
            "{:?}",
            growth(&old, &smaller)
        );
    }

    #[test]
    fn every_new_capability_is_listed() {
        let old = footprint();
        let mut new = old.clone();
        new["paths"] = json!(["/usr/bin/foo", "/usr/bin/bar", "/usr/share/foobar/**"]);
        new["guarded"] = json!([
            {"id": "cron", "class": "autoexec", "paths": ["/etc/cron.d/foo", "/etc/cron.d/bar"]},
            {"id": "sudoers", "class": "privilege", "paths": ["/etc/sudoers.d/foo"]},
        ]);
        new["setuid"] = json!([{"path": "/usr/bin/foo", "mode": "4755"}]);
        new["file_capabilities"] = json!([{"path": "/usr/bin/bar", "capabilities": "cap_net_raw=ep", "source": "FILECAPS"}]);
        new["users"][0]["uid_zero"] = json!(true);
        new["services"] =
            json!([{"unit": "foo.service", "runs_as": "root", "source": "x", "notes": []}]);
        new["scripts"] = json!(["postinst", "preinst"]);
        assert_eq!(
            growth(&old, &new),
            vec![
                "guarded location `cron` (autoexec): path `/etc/cron.d/bar`",
                "guarded location `sudoers` (privilege)",
                "setuid `/usr/bin/foo` (4755)",
                "file capabilities `cap_net_raw=ep` on `/usr/bin/bar`",
                "user `foo` (id `-`)",
                "service `foo.service` running as `root`",
                "maintainer script `preinst`",
            ]
        );
    }

    /// A plan entry for `name` `version` replacing `previous` (if any),
    /// with `footprint` as its new footprint.
    fn planned(name: &str, version: &str, previous: Option<&str>, footprint: &Value) -> Value {
        json!({
            "repo": "local", "name": name, "version": version, "architecture": "all",
            "artifact_sha256": "00", "relations": {}, "previous_version": previous,
            "placements": [], "obsolete_files": [], "obsolete_dirs": [],
            "decisions": [], "notices": [], "footprint": footprint,
        })
    }

    fn plan(packages: &[Value]) -> Plan {
        serde_json::from_value(json!({"packages": packages, "removals": [], "problems": []}))
            .unwrap()
    }

    fn policy(growth_rule: Option<&str>) -> Policy {
        let text = growth_rule.map(|rule| {
            format!("[[repo]]\nname = \"local\"\nceiling = {{ paths = [\"/**\"] }}\ncapability-growth = \"{rule}\"\n")
        });
        let input = pkgward_policy::PolicyInput {
            policy_files: text
                .iter()
                .map(|text| pkgward_policy::SourceFile {
                    name: "policy.toml",
                    text,
                })
                .collect(),
            grants_files: Vec::new(),
        };
        pkgward_policy::load(&input).unwrap()
    }

    /// Three upgrades (grown, unchanged, never recorded) and a fresh install.
    fn upgrades() -> (Plan, BTreeMap<String, String>) {
        let old = footprint();
        let mut new = old.clone();
        new["scripts"] = json!(["postinst", "preinst"]);
        let plan = plan(&[
            planned("new", "1", None, &new),
            planned("foo", "2", Some("1"), &new),
            planned("same", "2", Some("1"), &old),
            planned("old", "2", Some("1"), &new),
        ]);
        let recorded = BTreeMap::from([
            ("foo".to_owned(), old.to_string()),
            ("same".to_owned(), old.to_string()),
        ]);
        (plan, recorded)
    }

    #[test]
    fn the_default_rule_holds_growth_and_notes_what_cannot_be_compared() {
        let (plan, recorded) = upgrades();
        let review = review(&plan, &policy(None), "local", &recorded).unwrap();
        let held: Vec<String> = review.held().map(ToString::to_string).collect();
        assert_eq!(
            held,
            ["`foo` 2 needs capabilities 1 did not use:\n  - maintainer script `preinst`"]
        );
        assert_eq!(
            review.notices(),
            ["`old` 1 has no recorded footprint; capability growth not checked"]
        );
        assert_eq!(
            review.held_message(),
            "capability growth held by repo `local`:\n`foo` 2 needs capabilities 1 did not use:\n  - maintainer script `preinst`"
        );
        assert!(
            review.held_hint().contains("(name = \"local\")"),
            "{}",
            review.held_hint()
        );
    }

    #[test]
    fn an_allowing_repo_turns_growth_into_notices_in_plan_order() {
        let (plan, recorded) = upgrades();
        let review = review(&plan, &policy(Some("allow")), "local", &recorded).unwrap();
        assert_eq!(review.held().count(), 0);
        assert_eq!(
            review.notices(),
            [
                "capability growth allowed by repo `local`: `foo` 2 needs capabilities 1 did not use:\n  - maintainer script `preinst`",
                "`old` 1 has no recorded footprint; capability growth not checked",
            ]
        );
    }

    #[test]
    fn a_recorded_footprint_that_is_not_json_is_an_error_naming_the_package() {
        let (plan, mut recorded) = upgrades();
        recorded.insert("foo".to_owned(), "{not json".to_owned());
        let error = review(&plan, &policy(None), "local", &recorded).unwrap_err();
        assert_eq!(error.to_string(), "recorded footprint of `foo` is not JSON");
    }
}
