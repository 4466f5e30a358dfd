//! The in-toto Statement v1 that pkgward signs, and its predicate.
//!
//! ```json
//! {
//!   "_type": "https://in-toto.io/Statement/v1",
//!   "subject": [{"name": "hello_2.10-3_amd64.deb", "digest": {"sha256": "…"}}],
//!   "predicateType": "https://pkgward.dev/attestation/footprint/v1",
//!   "predicate": {
//!     "verifier": {"id": "…"},
//!     "policy": {"digest": {"sha256": "…"}},
//!     "footprint": { … },
//!     "verdict": "PASSED",
//!     "timeVerified": "2026-11-28T14:00:00Z",
//!     "pkgwardVersion": "0.1.0"
//!   }
//! }
//! ```
//!
//! The schema is documented in `docs/attestations.md`. Parsing is strict:
//! duplicate keys anywhere are refused, and every predicate field is required
//! with its type; unknown fields are ignored, as the in-toto specification
//! asks of consumers.

use crate::strict_json;
use crate::timestamp;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// `_type` of an in-toto Statement, version 1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// Our predicate type. A statement with any other predicate type says
/// something else and is refused (THREATS 61).
pub const PREDICATE_TYPE: &str = "https://pkgward.dev/attestation/footprint/v1";

/// The verifier's conclusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    Failed,
}

impl Verdict {
    /// `PASSED` or `FAILED`, as written in the predicate.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "PASSED",
            Verdict::Failed => "FAILED",
        }
    }

    /// Inverse of [`Verdict::as_str`]; exact, upper case.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "PASSED" => Some(Verdict::Passed),
            "FAILED" => Some(Verdict::Failed),
            _ => None,
        }
    }
}

/// One subject: a name and its digests by algorithm (lower-case hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub name: String,
    pub digests: BTreeMap<String, String>,
}

/// The content of our predicate.
#[derive(Debug, Clone, PartialEq)]
pub struct FootprintPredicate {
    pub verifier_id: String,
    /// sha256 (hex) of the policy the verdict was reached under.
    pub policy_sha256: String,
    /// The footprint as produced by `pkgward-policy` (opaque here).
    pub footprint: Value,
    pub verdict: Verdict,
    /// Seconds since the Unix epoch.
    pub time_verified: i64,
    pub pkgward_version: String,
}

/// A statement about one or more subjects.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub subjects: Vec<Subject>,
    pub predicate: FootprintPredicate,
}

/// Why a (signature-verified) payload is not an acceptable statement.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StatementError {
    #[error("payload is not valid JSON: {0}")]
    Json(String),
    #[error("statement `_type` is `{0}`, expected `{STATEMENT_TYPE}`")]
    WrongStatementType(String),
    #[error("statement `predicateType` is `{0}`, expected `{PREDICATE_TYPE}`")]
    WrongPredicateType(String),
    #[error("statement field `{field}` {problem}")]
    Field { field: String, problem: String },
}

impl Statement {
    /// A statement for a single artifact.
    pub fn for_artifact(name: &str, sha256: &str, predicate: FootprintPredicate) -> Self {
        Self {
            subjects: vec![Subject {
                name: name.to_owned(),
                digests: BTreeMap::from([("sha256".to_owned(), sha256.to_ascii_lowercase())]),
            }],
            predicate,
        }
    }

    /// The JSON document (compact bytes, the DSSE payload).
    pub fn to_json(&self) -> Value {
        let subjects: Vec<Value> = self
            .subjects
            .iter()
            .map(|subject| json!({"name": subject.name, "digest": subject.digests}))
            .collect();
        let predicate = &self.predicate;
        json!({
            "_type": STATEMENT_TYPE,
            "subject": subjects,
            "predicateType": PREDICATE_TYPE,
            "predicate": {
                "verifier": {"id": predicate.verifier_id},
                "policy": {"digest": {"sha256": predicate.policy_sha256}},
                "footprint": predicate.footprint,
                "verdict": predicate.verdict.as_str(),
                "timeVerified": timestamp::format_rfc3339(predicate.time_verified),
                "pkgwardVersion": predicate.pkgward_version,
            }
        })
    }

    /// Serialised payload bytes.
    pub fn to_payload(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_json()).unwrap_or_default()
    }

    /// Parse a payload whose signature has been verified. Type checks come
    /// first so that a statement of another kind is reported as such rather
    /// than as a missing field.
    pub fn parse(payload: &[u8]) -> Result<Self, StatementError> {
        let value = strict_json::parse_value(payload)
            .map_err(|error| StatementError::Json(error.to_string()))?;
        let root = object(&value, "statement")?;
        let statement_type = string(root, "_type", "_type")?;
        if statement_type != STATEMENT_TYPE {
            return Err(StatementError::WrongStatementType(
                statement_type.to_owned(),
            ));
        }
        let predicate_type = string(root, "predicateType", "predicateType")?;
        if predicate_type != PREDICATE_TYPE {
            return Err(StatementError::WrongPredicateType(
                predicate_type.to_owned(),
            ));
        }
        let subjects = parse_subjects(root)?;
        let predicate = object(field(root, "predicate", "predicate")?, "predicate")?;
        let verifier = object(
            field(predicate, "verifier", "predicate.verifier")?,
            "predicate.verifier",
        )?;
        let policy = object(
            field(predicate, "policy", "predicate.policy")?,
            "predicate.policy",
        )?;
        let policy_digest = object(
            field(policy, "digest", "predicate.policy.digest")?,
            "predicate.policy.digest",
        )?;
        let policy_sha256 = string(policy_digest, "sha256", "predicate.policy.digest.sha256")?;
        let verdict_text = string(predicate, "verdict", "predicate.verdict")?;
        let verdict = Verdict::parse(verdict_text).ok_or_else(|| StatementError::Field {
            field: "predicate.verdict".to_owned(),
            problem: format!("is `{verdict_text}`, expected `PASSED` or `FAILED`"),
        })?;
        let time_text = string(predicate, "timeVerified", "predicate.timeVerified")?;
        let time_verified =
            timestamp::parse_rfc3339(time_text).ok_or_else(|| StatementError::Field {
                field: "predicate.timeVerified".to_owned(),
                problem: format!("`{time_text}` is not an RFC 3339 timestamp"),
            })?;
        Ok(Self {
            subjects,
            predicate: FootprintPredicate {
                verifier_id: string(verifier, "id", "predicate.verifier.id")?.to_owned(),
                policy_sha256: policy_sha256.to_ascii_lowercase(),
                footprint: field(predicate, "footprint", "predicate.footprint")?.clone(),
                verdict,
                time_verified,
                pkgward_version: string(predicate, "pkgwardVersion", "predicate.pkgwardVersion")?
                    .to_owned(),
            },
        })
    }

    /// Whether a subject carries a sha256 digest equal to `sha256`. Only
    /// sha256 counts: a subject that names the artifact by sha512 alone is
    /// not a match, since we compare against the sha256 of the exact bytes
    /// being installed (THREATS 63).
    pub fn names_sha256(&self, sha256: &str) -> bool {
        self.subjects.iter().any(|subject| {
            subject
                .digests
                .get("sha256")
                .is_some_and(|digest| digest.eq_ignore_ascii_case(sha256))
        })
    }
}

fn parse_subjects(root: &Map<String, Value>) -> Result<Vec<Subject>, StatementError> {
    let Value::Array(items) = field(root, "subject", "subject")? else {
        return Err(problem("subject", "is not an array"));
    };
    if items.is_empty() {
        return Err(problem("subject", "is empty"));
    }
    let mut subjects = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let label = format!("subject[{index}]");
        let entry = object(item, &label)?;
        let name = string(entry, "name", &format!("{label}.name"))?.to_owned();
        let digest_label = format!("{label}.digest");
        let digest_object = object(field(entry, "digest", &digest_label)?, &digest_label)?;
        let mut digests = BTreeMap::new();
        for (algorithm, digest) in digest_object {
            let Value::String(digest) = digest else {
                return Err(problem(
                    &format!("{digest_label}.{algorithm}"),
                    "is not a string",
                ));
            };
            digests.insert(algorithm.clone(), digest.to_ascii_lowercase());
        }
        subjects.push(Subject { name, digests });
    }
    Ok(subjects)
}

fn problem(field: &str, problem: &str) -> StatementError {
    StatementError::Field {
        field: field.to_owned(),
        problem: problem.to_owned(),
    }
}

fn field<'v>(
    map: &'v Map<String, Value>,
    key: &str,
    label: &str,
) -> Result<&'v Value, StatementError> {
    map.get(key).ok_or_else(|| problem(label, "is missing"))
}

fn object<'v>(value: &'v Value, label: &str) -> Result<&'v Map<String, Value>, StatementError> {
    value
        .as_object()
        .ok_or_else(|| problem(label, "is not an object"))
}

fn string<'v>(
    map: &'v Map<String, Value>,
    key: &str,
    label: &str,
) -> Result<&'v str, StatementError> {
    field(map, key, label)?
        .as_str()
        .ok_or_else(|| problem(label, "is not a string"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Statement {
        Statement::for_artifact(
            "hello_2.10-3_amd64.deb",
            &"AB".repeat(32),
            FootprintPredicate {
                verifier_id: "ci-verifier".to_owned(),
                policy_sha256: "cd".repeat(32),
                footprint: json!({"files": ["/usr/bin/hello"]}),
                verdict: Verdict::Passed,
                time_verified: 1_700_000_000,
                pkgward_version: "0.1.0".to_owned(),
            },
        )
    }

    #[test]
    fn round_trip() {
        let statement = sample();
        assert_eq!(
            Statement::parse(&statement.to_payload()).unwrap(),
            statement
        );
        assert!(statement.names_sha256(&"ab".repeat(32)));
    }

    #[test]
    fn missing_and_mistyped_fields_name_the_field() {
        let mut value = sample().to_json();
        value["predicate"]["verdict"] = json!("passed");
        let error = Statement::parse(&serde_json::to_vec(&value).unwrap()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "statement field `predicate.verdict` is `passed`, expected `PASSED` or `FAILED`"
        );
        let mut value = sample().to_json();
        value["predicate"]
            .as_object_mut()
            .unwrap()
            .remove("timeVerified");
        let error = Statement::parse(&serde_json::to_vec(&value).unwrap()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "statement field `predicate.timeVerified` is missing"
        );
    }
}
