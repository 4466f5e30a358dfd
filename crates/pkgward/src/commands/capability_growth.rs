//! Capability growth on upgrade (not a subcommand; used by `install`):
//! which capabilities the new version's footprint needs that the installed
//! version's recorded footprint did not.
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

use serde_json::Value;

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
}
