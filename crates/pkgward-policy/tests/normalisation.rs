//! Property tests for the path-normalisation bypasses of THREATS 23–30:
//! no spelling of a path (`.`, `//`, trailing `/`, `..`, usrmerge aliases,
//! invisible characters) gets a decision its canonical form would not get.

use pkgward_policy::path::{canonicalize, resolve};
use pkgward_policy::version::Version;
use pkgward_policy::{
    load, AliasTable, CompiledPolicy, PolicyInput, Request, SourceFile, Subject, Verdict,
};
use proptest::prelude::*;

const POLICY: &str = r#"
[[repo]]
name = "r"
ceiling = { paths = ["/**"], guarded = ["*"], scripts = "sandboxed" }
"#;

const GRANTS: &str = r#"
[[grant]]
package = "foo"
paths = ["/usr/share/foo/**"]

[[grant]]
package = "broad"
paths = ["/**"]
"#;

static COMPILED: std::sync::LazyLock<CompiledPolicy> = std::sync::LazyLock::new(compile);

fn compiled() -> &'static CompiledPolicy {
    &COMPILED
}

fn compile() -> CompiledPolicy {
    let policy = load(&PolicyInput {
        policy_files: vec![SourceFile {
            name: "policy.toml",
            text: POLICY,
        }],
        grants_files: vec![(
            "r".into(),
            SourceFile {
                name: "grants.toml",
                text: GRANTS,
            },
        )],
    })
    .unwrap();
    CompiledPolicy::new(policy, AliasTable::usrmerge())
}

fn decide(compiled: &CompiledPolicy, name: &str, path: &str) -> Verdict {
    let version = Version::parse("1").unwrap();
    let rules = compiled
        .for_subject(
            &Subject {
                repo: "r",
                name,
                version: &version,
            },
            &[],
        )
        .unwrap();
    rules.decide(&Request::Place { path }).verdict
}

/// Components: names, `.`, `..`, empty (→ `//`), lookalikes.
fn component() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["usr", "share", "foo", "bin", "etc", "lib", "cron.d", "sudoers.d", "security", "x"]).prop_map(str::to_owned),
        1 => Just(".".to_owned()),
        1 => Just("..".to_owned()),
        1 => Just(String::new()),
        1 => Just("fo\u{200b}o".to_owned()),
        1 => Just("FOO".to_owned()),
    ]
}

/// Noise that must not change meaning: `./` before a component, doubled
/// slashes, a trailing slash, no leading slash.
fn add_noise(clean: &str, noise: &[u8]) -> String {
    let mut out = String::new();
    for (index, component) in clean.trim_start_matches('/').split('/').enumerate() {
        let n = noise.get(index).copied().unwrap_or(0);
        if index > 0 || n & 8 == 0 {
            out.push('/');
        }
        if n & 1 != 0 {
            out.push_str("./");
        }
        if n & 2 != 0 {
            out.push('/');
        }
        out.push_str(component);
    }
    if noise.first().is_some_and(|n| n & 4 != 0) {
        out.push('/');
    }
    out
}

/// The definition of canonical form, written the slow obvious way: the
/// byte-scanning fast path of `canonicalize` must agree with it.
fn canonical_by_definition(path: &str) -> Option<String> {
    if path.is_empty() || path.chars().any(|c| c.is_control() || c == '\u{200b}') {
        return None;
    }
    let mut components = Vec::new();
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => return None,
            name => components.push(name),
        }
    }
    Some(format!("/{}", components.join("/")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn canonicalize_agrees_with_the_definition(raw in "[a./\u{1}\u{7f}\u{85}\u{200b}é]{0,12}") {
        prop_assert_eq!(
            canonicalize(&raw).ok().map(std::borrow::Cow::into_owned),
            canonical_by_definition(&raw),
            "{:?}", raw
        );
    }

    #[test]
    fn only_paths_inside_the_grant_without_dotdot_are_allowed(components in prop::collection::vec(component(), 1..7)) {
        let compiled = compiled();
        let raw = format!("/{}", components.join("/"));
        let verdict = decide(compiled, "foo", &raw);
        if verdict == Verdict::Allow {
            prop_assert!(!components.iter().any(|c| c == ".."), "`..` allowed: {raw}");
            let canonical = canonicalize(&raw).unwrap();
            // `/usr/share/foo/**` covers the directory itself too (`**`
            // matches zero components).
            prop_assert!(canonical == "/usr/share/foo" || canonical.starts_with("/usr/share/foo/"), "{raw} -> {canonical}");
            prop_assert!(!canonical.contains('\u{200b}'), "invisible character allowed: {}", raw);
        }
    }

    #[test]
    fn noise_never_changes_a_decision(components in prop::collection::vec(component(), 1..6), noise in prop::collection::vec(0u8..16, 6)) {
        let clean_components: Vec<_> = components.iter().filter(|c| !c.is_empty() && *c != "." && *c != "..").cloned().collect();
        prop_assume!(!clean_components.is_empty());
        let clean = format!("/{}", clean_components.join("/"));
        let noisy = add_noise(&clean, &noise);
        let compiled = compiled();
        for name in ["foo", "broad"] {
            prop_assert_eq!(decide(compiled, name, &clean), decide(compiled, name, &noisy), "{} vs {}", clean, noisy);
        }
        prop_assert_eq!(canonicalize(&noisy).ok().map(std::borrow::Cow::into_owned), canonicalize(&clean).ok().map(std::borrow::Cow::into_owned));
    }

    #[test]
    fn canonicalisation_is_idempotent(raw in "[a-z./]{0,30}") {
        if let Ok(once) = canonicalize(&raw) {
            let twice = canonicalize(&once).unwrap();
            prop_assert_eq!(once.as_ref(), twice.as_ref());
            prop_assert!(once.starts_with('/'));
            prop_assert!(once == "/" || !once.ends_with('/'));
            prop_assert!(!once.contains("//") && !once.contains("/./"));
        }
    }

    #[test]
    fn guarded_paths_stay_guarded_under_any_spelling(index in 0usize..pkgward_policy::catalog::CATALOG.len(), noise in prop::collection::vec(0u8..16, 8), unmerged in any::<bool>()) {
        let (_, _, patterns, _) = pkgward_policy::catalog::CATALOG[index];
        let pattern = patterns[0];
        let mut clean: String = pattern.split('/').map(|c| if c == "**" { "x".to_owned() } else { c.replace('*', "x").replace('?', "1") }).collect::<Vec<_>>().join("/");
        if unmerged {
            for directory in ["bin", "sbin", "lib"] {
                if let Some(rest) = clean.strip_prefix(&format!("/usr/{directory}/")) {
                    clean = format!("/{directory}/{rest}");
                    break;
                }
            }
        }
        let noisy = add_noise(&clean, &noise);
        let compiled = compiled();
        prop_assert_ne!(decide(compiled, "broad", &noisy), Verdict::Allow, "{} (from {}) allowed under `/**`", noisy, pattern);
        let resolved = resolve(&noisy, &AliasTable::usrmerge()).unwrap();
        prop_assert!(compiled.guarded_location(&resolved).is_some());
    }
}
