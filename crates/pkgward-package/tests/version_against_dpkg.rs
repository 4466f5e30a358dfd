//! Conformance: our dpkg version ordering agrees with `dpkg --compare-versions`
//! on every pair we can think of — the versions found in the shared corpus's
//! manifest and relations (committed as `testdata/versions-corpus.txt`, so
//! this runs on a fresh clone) crossed with generated edge cases.
//!
//! dpkg is the reference, so the test needs it; it skips loudly when dpkg is
//! absent (CI installs it).
#![allow(clippy::print_stderr, clippy::disallowed_methods)]

use pkgward_package::version::Version;
use std::cmp::Ordering;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

/// Versions chosen to exercise each branch of `verrevcmp`: tildes before the
/// end, letters before punctuation, leading zeros, long digit runs, epochs,
/// revisions with hyphens in upstream, and Debian's real suffix idioms.
const EDGE_CASES: &[&str] = &[
    "0",
    "00",
    "0.0",
    "0-0",
    "0:0",
    "1",
    "1.0",
    "1.00",
    "1.0.0",
    "01.0",
    "1.0-0",
    "1.0-1",
    "1.0-01",
    "1.0-1.1",
    "1.0-1+b1",
    "1.0-1+deb12u1",
    "1.0-1~bpo12+1",
    "1.0-1ubuntu1",
    "1.0~",
    "1.0~~",
    "1.0~~a",
    "1.0~a",
    "1.0~rc1",
    "1.0~rc1-1",
    "1.0~rc10",
    "1.0~rc2",
    "1.0a",
    "1.0A",
    "1.0+",
    "1.0+dfsg",
    "1.0+dfsg1-2",
    "1.0.",
    "1.0.a",
    "1.0a1",
    "1.0a10",
    "1.0b",
    "1.0-a",
    "1.0-~",
    "1.0-1~",
    "1:1.0",
    "2:0.1",
    "10:0",
    "1:1.0-1",
    "1.2-3-4",
    "1.2-3-4-5",
    "1.2.3-4-5~6",
    "2.0",
    "2",
    "10",
    "10.0",
    "9.99",
    "99999999999999999999",
    "1.99999999999999999998",
    "1.99999999999999999999",
    "1.000000000000000000001",
    "7.88.1-10+deb12u14",
    "5:7.0.15-1~deb12u1",
    "3.11.2-6+deb12u6",
    "2.36-9+deb12u13",
    "1:2.38.1-5+deb12u3",
    "0.8-10+deb12u1",
    "1.0+~",
    "1.0+~1",
    "1.0+a",
    "1.0.0~alpha.1",
    "1.0.0~alpha.beta",
    "1.0.0~beta",
    "1.0.0~beta.11",
    "1:1:1",
    "2.4.71-1~deb12u1",
    "3.0.17-1~deb12u3",
    "252.39-1~deb12u1",
];

fn corpus_versions() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/versions-corpus.txt");
    let text = std::fs::read_to_string(&path).expect("testdata/versions-corpus.txt is committed");
    text.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn pairs() -> Vec<(String, String)> {
    let corpus = corpus_versions();
    let mut pairs = Vec::new();
    // Each corpus version against its neighbours in sorted-by-text order and
    // against a far-away one: near-identical strings are where bugs hide.
    for (i, a) in corpus.iter().enumerate() {
        for step in [1, 2, 37] {
            let b = &corpus[(i + step) % corpus.len()];
            pairs.push((a.clone(), b.clone()));
        }
    }
    // Edge cases against each other, both orders.
    for a in EDGE_CASES {
        for b in EDGE_CASES {
            pairs.push(((*a).to_owned(), (*b).to_owned()));
        }
    }
    // Edge cases against a spread of corpus versions.
    for (i, a) in EDGE_CASES.iter().enumerate() {
        for b in corpus.iter().skip(i % 7).step_by(23) {
            pairs.push(((*a).to_owned(), b.clone()));
        }
    }
    pairs
}

/// Ask dpkg for the ordering of every pair in one shell process: each line of
/// output is `lt`, `eq` or `gt`.
fn dpkg_orderings(pairs: &[(String, String)]) -> Vec<Ordering> {
    let mut script = String::new();
    for (a, b) in pairs {
        // Versions never contain single quotes (they would not parse).
        writeln!(
            script,
            "if dpkg --compare-versions '{a}' lt '{b}'; then echo lt; \
             elif dpkg --compare-versions '{a}' eq '{b}'; then echo eq; else echo gt; fi"
        )
        .unwrap();
    }
    let mut child = Command::new("sh")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sh runs");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(script.as_bytes()));
    let output = child.wait_with_output().expect("sh finishes");
    writer.join().unwrap().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    text.lines()
        .map(|l| match l {
            "lt" => Ordering::Less,
            "eq" => Ordering::Equal,
            "gt" => Ordering::Greater,
            other => panic!("unexpected dpkg answer {other:?}"),
        })
        .collect()
}

#[test]
fn ordering_agrees_with_dpkg_compare_versions() {
    if Command::new("dpkg").arg("--version").output().is_err() {
        eprintln!("SKIPPED: dpkg is not installed; cannot compare version ordering against it");
        return;
    }
    let pairs = pairs();
    assert!(pairs.len() >= 3000, "only {} pairs", pairs.len());
    let expected = dpkg_orderings(&pairs);
    assert_eq!(expected.len(), pairs.len(), "dpkg answered every pair");
    let mut disagreements = Vec::new();
    for ((a, b), want) in pairs.iter().zip(expected) {
        let got = Version::parse(a)
            .unwrap_or_else(|e| panic!("{e}"))
            .cmp(&Version::parse(b).unwrap_or_else(|e| panic!("{e}")));
        if got != want {
            disagreements.push(format!("{a} vs {b}: dpkg {want:?}, pkgward {got:?}"));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} pairs disagree:\n{}",
        disagreements.len(),
        pairs.len(),
        disagreements.join("\n")
    );
    eprintln!("{} pairs agree with dpkg --compare-versions", pairs.len());
}

/// Strings dpkg refuses outright (not merely warns about) are refused by us
/// too, so no version dpkg cannot order ever reaches a trust decision.
#[test]
fn versions_dpkg_refuses_are_refused() {
    if Command::new("dpkg").arg("--version").output().is_err() {
        eprintln!("SKIPPED: dpkg is not installed; cannot compare version parsing against it");
        return;
    }
    for bad in ["1:", "a:1", "1.0:1", "1 0", ":1", "-1:1", "99999999999:1"] {
        let dpkg = Command::new("dpkg")
            .args(["--compare-versions", bad, "eq", "1"])
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(
            !dpkg.success() && dpkg.code() != Some(1),
            "dpkg accepted {bad:?}"
        );
        assert!(Version::parse(bad).is_err(), "pkgward accepted {bad:?}");
    }
}
