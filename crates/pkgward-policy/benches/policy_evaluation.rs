//! Policy evaluation throughput: path decisions per second against a
//! 1,000-rule policy (plus the built-in catalog), side by side with ripgrep's
//! `globset` matching the same 1,000 patterns (a bare match, no precedence,
//! no catalog, no provenance) on the same paths.
//!
//! Run: `cargo bench -p pkgward-policy --bench policy_evaluation`

use divan::counter::ItemsCount;
use divan::Bencher;
use pkgward_policy::version::Version;
use pkgward_policy::{load, AliasTable, CompiledPolicy, PolicyInput, Request, SourceFile, Subject};
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

#[divan::bench]
fn pkgward_decisions(bencher: Bencher) {
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
    let compiled = CompiledPolicy::new(policy, AliasTable::usrmerge());
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
    let allowed = paths
        .iter()
        .filter(|p| rules.decide(&Request::Place { path: p }).is_allowed())
        .count();
    assert_eq!(allowed, 5000, "half of the paths are granted");
    bencher
        .counter(ItemsCount::new(paths.len()))
        .bench_local(|| {
            let mut allowed = 0usize;
            for path in &paths {
                allowed += usize::from(
                    rules
                        .decide(&Request::Place {
                            path: divan::black_box(path),
                        })
                        .is_allowed(),
                );
            }
            allowed
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
