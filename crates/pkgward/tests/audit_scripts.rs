//! `pkgward audit-scripts` over the shared corpus: the measured share of
//! packages whose maintainer scripts are fully declarative. Skips loudly when
//! the corpus is absent.
#![allow(clippy::print_stderr)]

use std::path::PathBuf;

fn corpus() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("PKGWARD_CORPUS").map(|c| PathBuf::from(c).join("debs")),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/debs")),
    ];
    candidates.into_iter().flatten().find(|path| path.is_dir())
}

#[test]
fn corpus_declarative_share_reaches_sixty_percent() {
    let Some(debs) = corpus() else {
        eprintln!("SKIPPED: corpus not found (set PKGWARD_CORPUS or place it at ../shared/corpus)");
        return;
    };
    if std::process::Command::new("dpkg-deb")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: `dpkg-deb` is not installed");
        return;
    }
    let output = assert_cmd::Command::cargo_bin("pkgward")
        .expect("binary")
        .args(["audit-scripts", "--json"])
        .arg(&debs)
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let total = summary["packages_with_scripts"].as_u64().expect("total");
    let declarative = summary["fully_declarative"].as_u64().expect("declarative");
    assert!(total > 0);
    assert!(
        declarative * 100 >= total * 60,
        "fully declarative {declarative}/{total} is below 60%"
    );
    // The packages the issue names must translate their users and units.
    for name in ["redis-server", "cron", "avahi-daemon"] {
        let package = summary["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .find(|p| p["package"] == name)
            .unwrap_or_else(|| panic!("{name} not in corpus report"));
        assert_eq!(package["classification"], "FullyDeclarative", "{name}");
    }
}

#[test]
fn audit_of_a_directory_without_debs_is_an_error() {
    let empty = tempfile::tempdir().expect("temp");
    let output = assert_cmd::Command::cargo_bin("pkgward")
        .expect("binary")
        .arg("audit-scripts")
        .arg(empty.path())
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no `.deb` files in"));
}
