//! `pkgward inspect`: the human listing (snapshot of a real package), the
//! `--json` shape, and how refusals are reported. Uses the real packages in
//! `testdata/debs` and hostile ones built with `deb_builder`.

use assert_cmd::Command;
use pkgward_package::deb_builder::{deb_with_data, Compression, TarBuilder};
use predicates::prelude::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/debs")
        .join(name)
}

fn pkgward() -> Command {
    Command::cargo_bin("pkgward").expect("pkgward binary")
}

fn inspect_json(deb: &Path) -> Value {
    let output = pkgward()
        .args(["inspect", "--json"])
        .arg(deb)
        .output()
        .expect("run pkgward");
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

/// The full human listing of `tree`, compared with a committed snapshot.
/// Set `PKGWARD_UPDATE_SNAPSHOTS=1` to rewrite it after an intended change.
#[test]
fn human_listing_of_tree_matches_the_snapshot() {
    let output = pkgward()
        .arg("inspect")
        .arg(testdata("tree_2.1.0-1_amd64.deb"))
        .output()
        .expect("run pkgward");
    assert!(output.status.success(), "{output:?}");
    assert!(output.stderr.is_empty());
    let actual = String::from_utf8(output.stdout).expect("UTF-8 listing");
    let snapshot = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/inspect_tree.txt");
    if std::env::var_os("PKGWARD_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(snapshot.parent().expect("parent")).expect("mkdir");
        std::fs::write(&snapshot, &actual).expect("write snapshot");
    }
    let expected = std::fs::read_to_string(&snapshot).expect("snapshot exists");
    assert_eq!(actual, expected);
}

#[test]
fn human_listing_shows_metadata_relations_and_entries() {
    pkgward()
        .arg("inspect")
        .arg(testdata("hello_2.10-3_amd64.deb"))
        .assert()
        .success()
        .stdout(predicate::str::starts_with("hello 2.10-3 (amd64)\n"))
        .stdout(predicate::str::contains("depends: libc6 (>= 2.34)\n"))
        .stdout(predicate::str::contains(
            "breaks: hello-debhelper (<< 2.9)\n",
        ))
        .stdout(predicate::str::contains(
            "  -rwxr-xr-x root/root      31448 /usr/bin/hello\n",
        ));
}

#[test]
fn json_has_the_documented_shape() {
    let json = inspect_json(&testdata("adduser_3.134_all.deb"));
    assert_eq!(json["name"], "adduser");
    assert_eq!(json["version"], "3.134");
    assert_eq!(json["architecture"], "all");
    assert_eq!(
        json["conffiles"],
        serde_json::json!(["/etc/adduser.conf", "/etc/deluser.conf"])
    );
    assert_eq!(json["relations"]["depends"], serde_json::json!(["passwd"]));
    assert!(json["description"]
        .as_str()
        .expect("description")
        .starts_with("add and remove users and groups\n"));

    let scripts = json["scripts"].as_array().expect("scripts");
    let names: Vec<_> = scripts
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["postrm", "preinst"]);
    for script in scripts {
        assert_eq!(script["interpreter"], "/bin/sh");
        assert!(script["size"].as_u64().expect("size") > 0);
    }

    let entries = json["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 149);
    assert_eq!(
        entries[0],
        serde_json::json!({"path": "/", "type": "dir", "mode": "0755", "size": 0,
            "owner": "root", "group": "root", "target": null, "sha256": null})
    );
    let conf = entries
        .iter()
        .find(|e| e["path"] == "/etc/adduser.conf")
        .expect("adduser.conf entry");
    assert_eq!(conf["type"], "file");
    assert_eq!(conf["mode"], "0644");
    assert_eq!(conf["size"], 3040);
    assert_eq!(conf["sha256"].as_str().map(str::len), Some(64));
    for entry in entries {
        let kind = entry["type"].as_str().expect("type");
        assert!(["file", "dir", "symlink", "hardlink"].contains(&kind));
        let mode = entry["mode"].as_str().expect("mode");
        assert!(mode.len() == 4 && mode.bytes().all(|b| (b'0'..=b'7').contains(&b)));
        assert_eq!(kind == "file", entry["sha256"].is_string(), "{entry}");
        assert_eq!(
            kind == "symlink" || kind == "hardlink",
            entry["target"].is_string(),
            "{entry}"
        );
    }
}

#[test]
fn json_reports_symlinks_with_their_target() {
    let json = inspect_json(&testdata("libffi8_3.4.4-1_amd64.deb"));
    let symlink = json["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["type"] == "symlink")
        .expect("libffi8 ships a soname symlink");
    assert!(symlink["target"]
        .as_str()
        .expect("target")
        .starts_with("libffi.so.8"));
    assert_eq!(symlink["mode"], "0777");
}

#[test]
fn hostile_package_is_refused_naming_member_and_entry() {
    let mut tar = TarBuilder::new();
    tar.dir("./").file("./../outside/sentinel", 0o644, b"PWN");
    let dir = tempfile::tempdir().expect("temp dir");
    let deb = dir.path().join("evil.deb");
    std::fs::write(&deb, deb_with_data(&tar.finish(), Compression::Xz)).expect("write deb");
    pkgward()
        .arg("inspect")
        .arg(&deb)
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::starts_with(format!(
            "error: cannot inspect `{}`\n",
            deb.display()
        )))
        .stderr(predicate::str::contains(
            "member `data.tar.xz`, entry `./../outside/sentinel`: path contains a `..` component",
        ));
}

#[test]
fn newline_in_a_name_never_reaches_the_terminal_raw() {
    let mut tar = TarBuilder::new();
    tar.file("./a\nerror: forged", 0o644, b"x");
    let dir = tempfile::tempdir().expect("temp dir");
    let deb = dir.path().join("forge.deb");
    std::fs::write(&deb, deb_with_data(&tar.finish(), Compression::Gzip)).expect("write deb");
    pkgward()
        .arg("inspect")
        .arg(&deb)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("entry `./a\\nerror: forged`"))
        .stderr(predicate::str::contains("\nerror: forged").not());
}

#[test]
fn missing_file_and_bad_usage_fail_cleanly() {
    pkgward()
        .args(["inspect", "/nonexistent/pkgward-test.deb"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "error: cannot inspect `/nonexistent/pkgward-test.deb`",
        ))
        .stderr(predicate::str::contains("cannot read the file"));
    pkgward().args(["inspect"]).assert().code(2);
}
