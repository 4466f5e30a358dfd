//! Whether an attested footprint covers the footprint of what is being
//! installed: the `covers` argument of [`crate::threshold::check`] for
//! callers that have the installer's own footprint as JSON.
//!
//! The rule is structural inclusion: objects cover objects key by key
//! (every key needed must be present and covered; extra attested keys are
//! fine), arrays cover arrays as sets (every needed element must appear in
//! the attested array), and anything else must be equal. A footprint lists
//! capabilities (paths, guarded locations, users, services, scripts), so an
//! attestation covers an install when everything the install uses was in
//! what the verifier saw and judged. Scalars such as the package name,
//! version and artifact digest must match exactly.

use serde_json::Value;

/// `needed ⊆ attested`, structurally (see the module docs).
pub fn json_covers(attested: &Value, needed: &Value) -> bool {
    match (attested, needed) {
        (Value::Object(attested), Value::Object(needed)) => needed.iter().all(|(key, value)| {
            attested
                .get(key)
                .is_some_and(|attested_value| json_covers(attested_value, value))
        }),
        (Value::Array(attested), Value::Array(needed)) => needed.iter().all(|value| {
            attested
                .iter()
                .any(|candidate| json_covers(candidate, value))
        }),
        _ => attested == needed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn footprint(paths: &[&str], guarded: &[&str]) -> Value {
        json!({
            "package": "hello",
            "version": "1.0",
            "paths": paths,
            "guarded": guarded.iter().map(|id| json!({"id": id, "paths": []})).collect::<Vec<_>>(),
            "scripts": [],
        })
    }

    #[test]
    fn same_or_smaller_footprints_are_covered() {
        let attested = footprint(&["/usr/bin/hello", "/usr/share/doc/hello/**"], &["cron"]);
        assert!(json_covers(&attested, &attested));
        assert!(json_covers(&attested, &footprint(&["/usr/bin/hello"], &[])));
    }

    #[test]
    fn anything_extra_is_not_covered() {
        let attested = footprint(&["/usr/bin/hello"], &[]);
        assert!(!json_covers(
            &attested,
            &footprint(&["/usr/bin/hello", "/usr/bin/su"], &[])
        ));
        assert!(!json_covers(
            &attested,
            &footprint(&["/usr/bin/hello"], &["cron"])
        ));
        let mut other_version = attested.clone();
        other_version["version"] = json!("1.1");
        assert!(!json_covers(&attested, &other_version));
        let mut with_new_field = attested.clone();
        with_new_field["setuid"] = json!([{"path": "/usr/bin/hello", "mode": "4755"}]);
        assert!(!json_covers(&attested, &with_new_field));
        // A field the verifier did not report is not covered, even when the
        // installer's list for it is empty.
        assert!(!json_covers(&json!({}), &json!({"setuid": []})));
    }
}
