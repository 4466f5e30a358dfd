//! Policy evaluation throughput: path decisions per second against a
//! 1,000-rule policy (plus the built-in catalog), side by side with ripgrep's
//! `globset` matching the same 1,000 patterns (a bare match, no precedence,
//! no catalog, no provenance) on the same paths.
//!
//! Run: `cargo bench -p pkgward-policy --bench policy_evaluation`

use divan::counter::ItemsCount;
use divan::Bencher;
use pkgward_policy::version::Version;
use pkgward_policy::{
    load, AliasTable, CompiledPolicy, PolicyInput, Request, SourceFile, Subject, SubjectPolicy,
};
use std::fmt::Write as _;

const RULES: usize = 1000;

const POLICY: &str = r#"
[[repo]]
name = "bench"
ceiling = { paths = ["/**"], guarded = ["*"], scripts = "sandboxed" }

[[override]]
package = "*"
deny = { paths = ["/etc/apt/**"] }
"#;

/// 1,000 path patterns of the shapes real grants use.
fn patterns() -> Vec<String> {
    (0..RULES)
        .map(|i| match i % 5 {
            0 => format!("/opt/vendor{i}/**"),
            1 => format!("/usr/share/app{i}/*.txt"),
            2 => format!("/usr/lib/x86_64-linux-gnu/lib{i}/**/*.so"),
            3 => format!("/usr/bin/tool{i}"),
            _ => format!("/etc/app{i}/conf.d/*"),
        })
        .collect()
}

fn grants_file() -> String {
    let mut text = String::from("[[grant]]\npackage = \"*\"\npaths = [\n");
    for pattern in patterns() {
        let _ = writeln!(text, "  \"{pattern}\",");
    }
    text.push_str("]\n");
    text
}

/// 10,000 paths: allowed by a rule, plain but ungranted, guarded, denied.
fn paths() -> Vec<String> {
    (0..10_000)
        .map(|i| {
            let rule = (i * 7) % RULES;
            match i % 8 {
                0 => format!("/opt/vendor{}/share/data/file{i}.bin", rule - rule % 5),
                1 => format!("/usr/share/app{}/readme{i}.txt", rule - rule % 5 + 1),
                2 => format!(
                    "/usr/lib/x86_64-linux-gnu/lib{}/a/b/plugin{i}.so",
                    rule - rule % 5 + 2
                ),
                3 => format!("/usr/bin/tool{}", rule - rule % 5 + 3),
                4 => format!("/usr/share/doc/pkg{i}/copyright"),
                5 => format!("/etc/cron.d/job{i}"),
                6 => format!("/lib/systemd/system/unit{i}.service"),
                _ => format!("/etc/apt/sources.list.d/s{i}.list"),
            }
        })
        .collect()
}

fn main() {
    divan::main();
}

/// The bench policy compiled, with the 10,000 paths.
fn compiled_policy() -> CompiledPolicy {
    let grants = grants_file();
    let policy = load(&PolicyInput {
        policy_files: vec![SourceFile {
            name: "policy.toml",
            text: POLICY,
        }],
        grants_files: vec![(
            "bench".into(),
            SourceFile {
                name: "grants.toml",
                text: &grants,
            },
        )],
    })
    .unwrap();
    assert!(policy.grants[0].capabilities.paths.len() == RULES);
    CompiledPolicy::new(policy, AliasTable::usrmerge())
}

/// Time `allowed` over the 10,000 paths for the bench package.
fn bench_paths(bencher: Bencher, allowed: impl Fn(&SubjectPolicy<'_>, &str) -> bool) {
    let compiled = compiled_policy();
    let version = Version::parse("1.0").unwrap();
    let rules = compiled
        .for_subject(
            &Subject {
                repo: "bench",
                name: "pkg",
                version: &version,
            },
            &[],
        )
        .unwrap();
    let paths = paths();
    let count = paths.iter().filter(|p| allowed(&rules, p)).count();
    assert_eq!(count, 5000, "half of the paths are granted");
    bencher
        .counter(ItemsCount::new(paths.len()))
        .bench_local(|| {
            let mut count = 0usize;
            for path in &paths {
                count += usize::from(allowed(&rules, divan::black_box(path)));
            }
            count
        });
}

/// Full decisions: verdict, provenance and hint in words, canonical path
/// and guarded location owned by the `Decision` (what `verify` keeps).
#[divan::bench]
fn pkgward_decisions(bencher: Bencher) {
    bench_paths(bencher, |rules, path| {
        rules.decide(&Request::Place { path }).is_allowed()
    });
}

/// Judgements: the same evaluation, the verdict with references to the
/// deciding rule; no text is written (what a caller that only needs
/// verdicts, or describes only refusals, pays).
#[divan::bench]
fn pkgward_judgements(bencher: Bencher) {
    bench_paths(bencher, |rules, path| {
        rules.judge(&Request::Place { path }).is_allowed()
    });
}

#[divan::bench]
fn globset_matches(bencher: Bencher) {
    let mut builder = globset::GlobSetBuilder::new();
    for pattern in patterns() {
        builder.add(
            globset::GlobBuilder::new(&pattern)
                .literal_separator(true)
                .build()
                .unwrap(),
        );
    }
    let set = builder.build().unwrap();
    let paths = paths();
    bencher
        .counter(ItemsCount::new(paths.len()))
        .bench_local(|| {
            let mut matched = 0usize;
            for path in &paths {
                matched += usize::from(set.is_match(divan::black_box(path)));
            }
            matched
        });
}
