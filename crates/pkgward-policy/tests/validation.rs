//! Validation errors: every problem is reported at `file:line:column` with
//! a hint, and all problems of all files are reported together.

use pkgward_policy::{load, PolicyInput, SourceFile};

fn errors_of(policy: &str) -> Vec<String> {
    let input = PolicyInput {
        policy_files: vec![SourceFile {
            name: "policy.toml",
            text: policy,
        }],
        grants_files: vec![],
    };
    match load(&input) {
        Ok(_) => Vec::new(),
        Err(errors) => errors
            .0
            .iter()
            .map(|e| {
                assert!(e.hint.is_some(), "every error has a hint: {e}");
                assert!(!e.message.ends_with('.'), "no trailing period: {e}");
                e.to_string()
            })
            .collect(),
    }
}

fn grants_errors(repo: &str, grants: &str) -> Vec<String> {
    let input = PolicyInput {
        policy_files: vec![],
        grants_files: vec![(
            repo.to_owned(),
            SourceFile {
                name: "grants.toml",
                text: grants,
            },
        )],
    };
    load(&input)
        .err()
        .map(|e| e.0.iter().map(ToString::to_string).collect())
        .unwrap_or_default()
}

const CEILING: &str = "ceiling = { paths = [\"/**\"] }";

fn assert_one(errors: &[String], expected: &str) {
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].contains(expected),
        "expected `{expected}` in {errors:#?}"
    );
}

#[test]
fn unknown_keys_point_at_the_key() {
    let errors = errors_of(&format!("[[repo]]\nname = \"a\"\n{CEILING}\nceilng = 1\n"));
    assert_one(&errors, "policy.toml:4:1: unknown field `ceilng`");
    let errors = errors_of("[[repo]]\nname = \"a\"\nceiling = { pahts = [\"/**\"] }\n");
    assert_one(&errors, "policy.toml:3:13: unknown field `pahts`");
    assert_one(
        &errors_of("[[nope]]\n"),
        "policy.toml:1:3: unknown field `nope`",
    );
}

#[test]
fn bad_globs_and_patterns() {
    let errors = errors_of(&format!("[[repo]]\nname = \"a\"\n{CEILING}\n[[grant]]\nrepo = \"a\"\npackage = \"x\"\npaths = [\"/usr/[ab]\", \"usr/x\", \"/a/../b\", \"/a/b**\", \"/ok/{{name}}/**\", \"/x/{{nam}}\"]\n"));
    assert_eq!(errors.len(), 5, "{errors:#?}");
    assert!(
        errors[0].starts_with("policy.toml:7:10: bad path pattern"),
        "{errors:#?}"
    );
    assert!(
        errors[1].starts_with(
            "policy.toml:7:23: bad path pattern: path pattern `usr/x` is not absolute"
        ),
        "{errors:#?}"
    );
    let errors = errors_of(&format!("[[repo]]\nname = \"a\"\n{CEILING}\n[[grant]]\nrepo = \"a\"\npackage = \"Bad_Name\"\npaths = [\"/x\"]\n"));
    assert_one(&errors, "policy.toml:6:11: bad package selector `Bad_Name`");
    let errors = errors_of(&format!("[[repo]]\nname = \"a\"\n{CEILING}\n[[grant]]\nrepo = \"a\"\npackage = \"x\"\nusers = [\"a/b\"]\nservices = [\"\"]\n"));
    // Both lists are refused, so the grant also grants nothing.
    assert_eq!(errors.len(), 3, "{errors:#?}");
}

#[test]
fn bad_version_constraints() {
    let grant = |version: &str| {
        errors_of(&format!("[[repo]]\nname = \"a\"\n{CEILING}\n[[grant]]\nrepo = \"a\"\npackage = \"x\"\nversion = \"{version}\"\npaths = [\"/x\"]\n"))
    };
    assert!(grant(">= 5:7.0, << 5:8").is_empty());
    assert_one(
        &grant("> 1.0"),
        "policy.toml:7:11: bad version constraint `> 1.0`",
    );
    assert_one(&grant("1.0"), "has no operator");
    assert_one(&grant(">= x1.0"), "does not start with a digit");
    assert_one(&grant(">= 1.0,"), "has no operator");
}

#[test]
fn verifier_thresholds_and_keys() {
    let repo = |verifiers: &str| {
        errors_of(&format!(
            "[[repo]]\nname = \"a\"\n{CEILING}\nverifiers = {verifiers}\n"
        ))
    };
    assert!(repo("{ keys = [\"ed25519:AAAA\", \"ed25519:BBBB\"], threshold = 2 }").is_empty());
    assert_one(
        &repo("{ keys = [\"ed25519:AAAA\"], threshold = 0 }"),
        "policy.toml:4:52: verifier threshold of repo `a` is 0",
    );
    assert_one(
        &repo("{ keys = [\"ed25519:AAAA\"], threshold = 2 }"),
        "exceeds its 1 key(s)",
    );
    assert_one(
        &repo("{ keys = [\"ed25519:AAAA\", \"ed25519:AAAA\"], threshold = 1 }"),
        "duplicate verifier key `ed25519:AAAA`",
    );
    assert_one(
        &repo("{ keys = [\"rsa:AAAA\"], threshold = 1 }"),
        "bad verifier key `rsa:AAAA`",
    );
}

#[test]
fn repos_must_be_defined_once_and_referenced_ones_must_exist() {
    let errors = errors_of(&format!(
        "[[repo]]\nname = \"a\"\n{CEILING}\n[[repo]]\nname = \"a\"\n{CEILING}\n"
    ));
    assert_one(
        &errors,
        "policy.toml:5:8: repo `a` is defined twice (first at policy.toml:2:8)",
    );
    let errors = errors_of(&format!("[[repo]]\nname = \"a\"\n{CEILING}\n[[override]]\npackage = \"*\"\nrepo = \"b\"\ndeny = {{ paths = [\"/x\"] }}\n"));
    assert_one(
        &errors,
        "policy.toml:6:8: repo `b` is referenced but not defined",
    );
    let errors = errors_of("[[repo]]\nname = \"a\"\n");
    assert_one(&errors, "repo `a` has no ceiling");
    assert_one(
        &grants_errors("nope", "[[grant]]\npackage = \"x\"\npaths = [\"/x\"]\n"),
        "grants file is for repo `nope`, which the policy does not define",
    );
}

#[test]
fn sandbox_growth_scripts_and_guarded_names() {
    let repo = |extra: &str| errors_of(&format!("[[repo]]\nname = \"a\"\n{CEILING}\n{extra}\n"));
    assert!(
        repo("sandbox = { requirement = \"best-effort\", on-missing = \"degrade\" }").is_empty()
    );
    assert_one(
        &repo("sandbox = { requirement = \"required\", on-missing = \"degrade\" }"),
        "requires the sandbox but would run degraded",
    );
    assert_one(
        &repo("sandbox = { requirement = \"maybe\" }"),
        "unknown sandbox requirement `maybe`",
    );
    assert_one(
        &repo("capability-growth = \"grow\""),
        "unknown capability-growth rule `grow`",
    );
    let errors = errors_of(
        "[[repo]]\nname = \"a\"\nceiling = { scripts = \"root\", guarded = [\"cronn\"] }\n",
    );
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors
        .iter()
        .any(|e| e.contains("unknown script mode `root`")));
    assert!(errors
        .iter()
        .any(|e| e.contains("policy.toml:3:42: unknown guarded location or class `cronn`")));
}

#[test]
fn grants_files_may_not_define_repos_and_all_errors_are_collected() {
    let errors = grants_errors("local", "[[repo]]\nname = \"x\"\nceiling = {}\n[[grant]]\npackage = \"x\"\n[[grant]]\npackage = \"y\"\nrepo = \"other\"\npaths = [\"/y\"]\n");
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(errors[0].contains("grants.toml:2:8: `[[repo]]` is not allowed in a grants file"));
    assert!(errors[1].contains("grants.toml:5:11: grant for `x` grants nothing"));
    assert!(errors[2].contains("grants.toml:8:8: entry names repo `other`"));
}

#[test]
fn syntax_errors_have_positions() {
    let errors = errors_of("[[repo]\nname = 1\n");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("policy.toml:1:"), "{errors:#?}");
}

#[test]
fn bad_file_capability_rules_name_the_item() {
    let errors = errors_of(&format!("[[repo]]\nname = \"a\"\n{CEILING}\n[[grant]]\nrepo = \"a\"\npackage = \"x\"\nfile-capabilities = [\"/usr/bin/x\", \"usr/x=cap_net_raw\", \"/usr/bin/x=cap_net_rawx\", \"/usr/bin/x=\", \"/usr/bin/{{name}}=*,cap_sys_admin\", \"*=cap_kill\"]\n"));
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert!(errors[0].contains("file capability rule `/usr/bin/x` has no `=`"));
    assert!(errors[1].contains("bad file-capabilities pattern"));
    assert!(errors[2].contains("unknown capability `cap_net_rawx` in `/usr/bin/x=cap_net_rawx`"));
    assert!(errors[3].contains("file capability rule `/usr/bin/x=` names no capability"));
}
