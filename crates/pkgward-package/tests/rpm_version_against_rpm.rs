//! Conformance: our rpm version ordering agrees with rpm's own `rpm.vercmp()`.
//!
//! `testdata/rpm-version-pairs.txt` holds ~16,000 pairs (rpm edge cases,
//! real Fedora/RHEL EVRs, random strings over digits, letters, `.~^_+` and
//! their one-character mutations) with the answer Debian 12's rpm 4.18 gave,
//! so the first half runs on a fresh clone without rpm. The second half asks
//! the installed rpm again, live, for every pair (one `rpm --eval` running a
//! Lua loop, not one process per pair) and skips LOUDLY when rpm is absent
//! (CI installs it).
//!
//! To regenerate the file after adding pairs, feed `a b` lines to the same Lua
//! loop as [`ask_rpm`] and prepend the two comment lines.
#![allow(clippy::print_stderr, clippy::disallowed_methods)]

use pkgward_package::rpm_version::compare_evr;
use pkgward_package::Version;
use std::cmp::Ordering;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

fn corpus() -> Vec<(String, String, Ordering)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/rpm-version-pairs.txt");
    let text = std::fs::read_to_string(&path).expect("testdata/rpm-version-pairs.txt is committed");
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            assert_eq!(fields.len(), 3, "bad corpus line {line:?}");
            let expected = match fields[2] {
                "-1" => Ordering::Less,
                "0" => Ordering::Equal,
                "1" => Ordering::Greater,
                other => panic!("bad expected value {other:?}"),
            };
            (fields[0].to_owned(), fields[1].to_owned(), expected)
        })
        .collect()
}

fn mismatches(
    pairs: impl Iterator<Item = (String, String, Ordering)>,
) -> Vec<(String, String, Ordering, Ordering)> {
    pairs
        .filter_map(|(a, b, expected)| {
            let got = compare_evr(&a, &b);
            (got != expected).then_some((a, b, expected, got))
        })
        .collect()
}

#[test]
fn committed_corpus_agrees() {
    let corpus = corpus();
    assert!(
        corpus.len() > 10_000,
        "corpus is too small: {}",
        corpus.len()
    );
    let bad = mismatches(corpus.into_iter());
    assert!(
        bad.is_empty(),
        "{} mismatches, first: {:?}",
        bad.len(),
        &bad[..bad.len().min(20)]
    );
}

/// The `Version` type (what the model carries) orders rpm versions the same
/// way as the string comparison, for every corpus pair it can parse.
#[test]
fn version_type_agrees_with_corpus() {
    let mut checked = 0;
    for (a, b, expected) in corpus() {
        let (Ok(version_a), Ok(version_b)) = (Version::parse_rpm(&a), Version::parse_rpm(&b))
        else {
            continue;
        };
        assert_eq!(version_a.cmp(&version_b), expected, "{a} vs {b}");
        checked += 1;
    }
    assert!(checked > 10_000, "only {checked} pairs parsed");
}

fn ask_rpm(pairs: &[(String, String, Ordering)]) -> Option<Vec<Ordering>> {
    let directory = tempfile::tempdir().unwrap();
    let input = directory.path().join("pairs.txt");
    let mut text = String::new();
    for (a, b, _) in pairs {
        writeln!(text, "{a} {b}").unwrap();
    }
    std::fs::write(&input, text).unwrap();
    let script = format!(
        "%{{lua: for line in io.lines(\"{}\") do local a, b = line:match(\"^(%S+) (%S+)$\"); io.write(rpm.vercmp(a, b), \"\\n\") end}}",
        input.display()
    );
    let output = Command::new("rpm")
        .arg("--eval")
        .arg(script)
        .output()
        .ok()?;
    assert!(
        output.status.success(),
        "rpm --eval failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: Vec<Ordering> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| match line {
            "-1" => Ordering::Less,
            "0" => Ordering::Equal,
            "1" => Ordering::Greater,
            other => panic!("rpm answered {other:?}"),
        })
        .collect();
    assert_eq!(
        answers.len(),
        pairs.len(),
        "rpm answered a different number of pairs"
    );
    Some(answers)
}

#[test]
fn live_rpm_agrees() {
    let corpus = corpus();
    let Some(answers) = ask_rpm(&corpus) else {
        eprintln!("SKIPPED live_rpm_agrees: `rpm` is not installed (apt-get install rpm); only the committed corpus was checked");
        return;
    };
    let live = corpus
        .into_iter()
        .zip(answers)
        .map(|((a, b, _), answer)| (a, b, answer));
    let bad = mismatches(live);
    assert!(
        bad.is_empty(),
        "{} mismatches with live rpm, first: {:?}",
        bad.len(),
        &bad[..bad.len().min(20)]
    );
}
