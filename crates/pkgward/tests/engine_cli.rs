//! The engine commands end to end, running the real `pkgward` binary against
//! temp roots with `.deb`s built by the test (`pkgward_package::deb_builder`),
//! the shipped examples, and the shared corpus (conformance with `dpkg -x`).
//! Crash tests abort the binary at each failpoint (`PKGWARD_FAILPOINT`), then
//! run `pkgward recover` and compare the database with the disk (THREATS 49).
#![allow(clippy::print_stderr)]

use pkgward_package::deb_builder::{control_tar, deb_from_parts, Compression, TarBuilder};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
mod common;
use common::{is_root, manifest, pkgward, text, PKGWARD_STATE};

macro_rules! require_root {
    () => {
        if !is_root() {
            eprintln!("SKIPPED: this test needs root (installed files are chowned to root)");
            return;
        }
    };
}

/// A test package: control fields beyond the defaults, data files, conffiles.
struct TestDeb<'a> {
    name: &'a str,
    version: &'a str,
    control: &'a str,
    files: &'a [(&'a str, u32, &'a str)],
    conffiles: &'a [&'a str],
}

fn build(directory: &Path, deb: &TestDeb<'_>) -> PathBuf {
    let mut data = TarBuilder::new();
    data.dir("./");
    let mut made = std::collections::BTreeSet::new();
    for (path, mode, content) in deb.files {
        let mut prefix = String::from(".");
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        for part in &parts[..parts.len() - 1] {
            prefix = format!("{prefix}/{part}");
            if made.insert(prefix.clone()) {
                data.dir(&format!("{prefix}/"));
            }
        }
        data.file(&format!(".{path}"), *mode, content.as_bytes());
    }
    let control = format!(
        "Package: {}\nVersion: {}\nArchitecture: all\nMaintainer: Test <test@example.invalid>\n{}Description: test package\n built by the engine tests\n",
        deb.name, deb.version, deb.control
    );
    let conffiles: String = deb
        .conffiles
        .iter()
        .flat_map(|path| [*path, "\n"])
        .collect();
    let extra: Vec<(&str, &[u8], u32)> = if conffiles.is_empty() {
        vec![]
    } else {
        vec![("conffiles", conffiles.as_bytes(), 0o644)]
    };
    let bytes = deb_from_parts(
        &control_tar(&control, &extra),
        &data.finish(),
        Compression::Xz,
    );
    let path = directory.join(format!("{}_{}_all.deb", deb.name, deb.version));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The default `local` repo, open ceiling, and `capability-growth = "allow"`.
const ALLOW_GROWTH_POLICY: &str = "[[repo]]\nname = \"local\"\nceiling = { paths = [\"/**\"], guarded = [\"*\"], users = [\"*\"], groups = [\"*\"], services = [\"*\"], setuid = [\"*\"], scripts = \"unconfined\" }\ncapability-growth = \"allow\"\n\n[[grant]]\nrepo = \"local\"\npackage = \"*\"\npaths = [\"/**\"]\n";

fn root_string(root: &Path) -> String {
    root.to_str().unwrap().to_owned()
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/debs")
}

#[test]
fn install_list_files_owner_check_remove_the_examples() {
    require_root!();
    let root = tempfile::tempdir().unwrap();
    let root_path = root_string(root.path());
    let debs = examples();
    let hello = debs.join("pkgward-hello_1.0-1_all.deb");
    let data = debs.join("pkgward-greeting-data_2.3-1_all.deb");
    let output = pkgward(&[
        "install",
        "--root",
        &root_path,
        hello.to_str().unwrap(),
        data.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let list = pkgward(&["list", "--root", &root_path]);
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(listed.contains("pkgward-hello\t1.0-1"), "{listed}");
    assert!(listed.contains("pkgward-greeting-data\t2.3-1"), "{listed}");
    let files = pkgward(&["files", "--root", &root_path, "pkgward-hello"]);
    assert!(
        String::from_utf8_lossy(&files.stdout).contains("/usr/bin/pkgward-hello"),
        "{}",
        text(&files)
    );
    let owner = pkgward(&["owner", "--root", &root_path, "/usr/bin/pkgward-hello"]);
    assert_eq!(
        String::from_utf8_lossy(&owner.stdout).trim(),
        "/usr/bin/pkgward-hello: pkgward-hello"
    );
    let check = pkgward(&["check", "--root", &root_path]);
    assert!(check.status.success(), "{}", text(&check));
    // Removing the data package would break hello's Depends.
    let refused = pkgward(&["remove", "--root", &root_path, "pkgward-greeting-data"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("needed by `pkgward-hello`"),
        "{}",
        text(&refused)
    );
    let removed = pkgward(&[
        "remove",
        "--root",
        &root_path,
        "pkgward-hello",
        "pkgward-greeting-data",
    ]);
    assert!(removed.status.success(), "{}", text(&removed));
    assert!(!root.path().join("usr/bin/pkgward-hello").exists());
    assert!(
        String::from_utf8_lossy(&pkgward(&["list", "--root", &root_path]).stdout)
            .trim()
            .is_empty()
    );
}

#[test]
fn packages_read_again_at_staging_install_the_same_tree_as_kept_ones() {
    require_root!();
    // `PKGWARD_KEPT_CONTENT_BYTES=0` keeps nothing from the planning read:
    // staging reads every package again and checks its artifact digest.
    let debs = examples();
    let packages = [
        debs.join("pkgward-hello_1.0-1_all.deb"),
        debs.join("pkgward-greeting-data_2.3-1_all.deb"),
    ];
    let mut trees = Vec::new();
    for budget in ["0", "16777216"] {
        let root = tempfile::tempdir().unwrap();
        let root_path = root_string(root.path());
        let mut arguments = vec!["install", "--root", &root_path];
        arguments.extend(packages.iter().map(|path| path.to_str().unwrap()));
        let output = Command::new(env!("CARGO_BIN_EXE_pkgward"))
            .args(&arguments)
            .env("PKGWARD_KEPT_CONTENT_BYTES", budget)
            .output()
            .unwrap();
        assert!(output.status.success(), "{budget}: {}", text(&output));
        let check = pkgward(&["check", "--root", &root_path]);
        assert!(check.status.success(), "{budget}: {}", text(&check));
        trees.push(manifest(root.path(), PKGWARD_STATE));
    }
    assert!(
        trees[0].contains_key("usr/bin/pkgward-hello"),
        "{:?}",
        trees[0]
    );
    assert_eq!(trees[0], trees[1]);
}

#[test]
fn a_refused_install_leaves_the_root_byte_identical_and_adds_no_rows() {
    require_root!();
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("var/lib")).unwrap();
    std::fs::create_dir_all(root.path().join("usr/bin")).unwrap();
    std::fs::write(root.path().join("usr/bin/existing"), "x").unwrap();
    let root_path = root_string(root.path());
    let before = manifest(root.path(), PKGWARD_STATE);
    let hello = examples().join("pkgward-hello_1.0-1_all.deb");
    let output = pkgward(&["install", "--root", &root_path, hello.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error: refused"), "{stderr}");
    assert!(
        stderr.contains("Depends `pkgward-greeting-data (>= 2.0)`: not satisfied"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: `--dry-run` prints the whole plan"),
        "{stderr}"
    );
    assert_eq!(manifest(root.path(), PKGWARD_STATE), before);
    let list = pkgward(&["list", "--root", &root_path]);
    assert!(list.stdout.is_empty(), "{}", text(&list));
}

#[test]
fn a_policy_denial_names_the_rule_and_leaves_the_root_byte_identical() {
    require_root!();
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("var/lib")).unwrap();
    let root_path = root_string(root.path());
    let before = manifest(root.path(), PKGWARD_STATE);
    let sneaky = examples().join("pkgward-sneaky-cron_0.9-1_all.deb");
    let output = pkgward(&["install", "--root", &root_path, sneaky.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("place `/etc/cron.d/pkgward-sneaky` denied by"),
        "{stderr}"
    );
    assert_eq!(manifest(root.path(), PKGWARD_STATE), before);
    assert!(pkgward(&["list", "--root", &root_path]).stdout.is_empty());
    // A grants file that names the guarded location lets it in.
    let work = tempfile::tempdir().unwrap();
    let grants = work.path().join("grants.toml");
    std::fs::write(
        &grants,
        "[[grant]]\nrepo = \"local\"\npackage = \"pkgward-sneaky-cron\"\npaths = [\"/**\"]\nguarded = [\"cron\"]\nscripts = \"sandboxed\"\n",
    )
    .unwrap();
    let granted = pkgward(&[
        "install",
        "--root",
        &root_path,
        "--grants",
        grants.to_str().unwrap(),
        sneaky.to_str().unwrap(),
    ]);
    assert!(granted.status.success(), "{}", text(&granted));
    assert!(root.path().join("etc/cron.d/pkgward-sneaky").exists());
}

#[test]
fn dry_run_prints_the_plan_as_text_and_json_and_changes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let root_path = root_string(root.path());
    let debs = examples();
    let hello = debs.join("pkgward-hello_1.0-1_all.deb");
    let data = debs.join("pkgward-greeting-data_2.3-1_all.deb");
    let output = pkgward(&[
        "install",
        "--dry-run",
        "--root",
        &root_path,
        hello.to_str().unwrap(),
        data.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with("pkgward-greeting-data (install 2.3-1)"),
        "dependencies first: {stdout}"
    );
    let json = pkgward(&[
        "install",
        "--dry-run",
        "--json",
        "--root",
        &root_path,
        hello.to_str().unwrap(),
        data.to_str().unwrap(),
    ]);
    let plan: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(plan["packages"][1]["name"], "pkgward-hello");
    assert_eq!(plan["problems"], serde_json::json!([]));
    assert_eq!(
        std::fs::read_dir(root.path()).unwrap().count(),
        0,
        "a dry run writes nothing, not even state"
    );
}

#[test]
fn upgrade_conffiles_obsolete_files_remove_and_purge() {
    require_root!();
    let work = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let root_path = root_string(root.path());
    let v1 = build(
        work.path(),
        &TestDeb {
            name: "foo",
            version: "1",
            control: "",
            files: &[
                ("/etc/foo.conf", 0o644, "setting=1\n"),
                ("/etc/bar.conf", 0o644, "bar=1\n"),
                ("/usr/bin/foo-old", 0o755, "old"),
            ],
            conffiles: &["/etc/foo.conf", "/etc/bar.conf"],
        },
    );
    let v2 = build(
        work.path(),
        &TestDeb {
            name: "foo",
            version: "2",
            control: "",
            files: &[
                ("/etc/foo.conf", 0o644, "setting=2\n"),
                ("/etc/bar.conf", 0o644, "bar=2\n"),
                ("/usr/bin/foo-new", 0o755, "new"),
            ],
            conffiles: &["/etc/foo.conf", "/etc/bar.conf"],
        },
    );
    assert!(
        pkgward(&["install", "--root", &root_path, v1.to_str().unwrap()])
            .status
            .success()
    );
    std::fs::write(root.path().join("etc/foo.conf"), "setting=mine\n").unwrap();
    // v2 ships a new path (`/usr/bin/foo-new`): capability growth, which the
    // default `local` repo holds; this test is about dpkg's upgrade
    // semantics, so its policy allows growth.
    let policy = work.path().join("policy.toml");
    std::fs::write(&policy, ALLOW_GROWTH_POLICY).unwrap();
    let output = pkgward(&[
        "install",
        "--root",
        &root_path,
        "--policy",
        policy.to_str().unwrap(),
        v2.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout)
            .contains("notice: foo: conffile `/etc/foo.conf` was modified"),
        "{}",
        text(&output)
    );
    let base = root.path();
    assert_eq!(
        std::fs::read_to_string(base.join("etc/foo.conf")).unwrap(),
        "setting=mine\n"
    );
    assert_eq!(
        std::fs::read_to_string(base.join("etc/foo.conf.pkgward-new")).unwrap(),
        "setting=2\n"
    );
    assert_eq!(
        std::fs::read_to_string(base.join("etc/bar.conf")).unwrap(),
        "bar=2\n",
        "unmodified conffile replaced"
    );
    assert!(
        !base.join("usr/bin/foo-old").exists(),
        "obsolete file removed"
    );
    assert!(base.join("usr/bin/foo-new").exists());
    // check flags the administrator's edit as a modified conffile, nothing else.
    let check = pkgward(&["check", "--root", &root_path, "--json"]);
    let drifts: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(drifts.as_array().unwrap().len(), 1, "{drifts}");
    assert_eq!(drifts[0]["kind"], "conffile-modified");
    // remove keeps the modified conffile (config-files), --purge deletes it.
    let removed = pkgward(&["remove", "--root", &root_path, "foo"]);
    assert!(removed.status.success(), "{}", text(&removed));
    assert!(base.join("etc/foo.conf").exists());
    assert!(!base.join("etc/bar.conf").exists());
    assert!(!base.join("usr/bin/foo-new").exists());
    assert!(
        String::from_utf8_lossy(&pkgward(&["list", "--root", &root_path]).stdout)
            .contains("config-files")
    );
    let purged = pkgward(&["remove", "--purge", "--root", &root_path, "foo"]);
    assert!(purged.status.success(), "{}", text(&purged));
    assert!(!base.join("etc/foo.conf").exists());
    assert!(
        !base.join("etc").exists(),
        "directories go with their last owner"
    );
    assert!(pkgward(&["list", "--root", &root_path]).stdout.is_empty());
}

#[test]
fn file_conflicts_are_refused_unless_replaces_allows_the_takeover() {
    require_root!();
    let work = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let root_path = root_string(root.path());
    let first = build(
        work.path(),
        &TestDeb {
            name: "first",
            version: "1",
            control: "",
            files: &[("/usr/bin/x", 0o755, "first")],
            conffiles: &[],
        },
    );
    let second = build(
        work.path(),
        &TestDeb {
            name: "second",
            version: "1",
            control: "",
            files: &[("/usr/bin/x", 0o755, "second")],
            conffiles: &[],
        },
    );
    let taker = build(
        work.path(),
        &TestDeb {
            name: "taker",
            version: "1",
            control: "Replaces: first (<< 2)\n",
            files: &[("/usr/bin/x", 0o755, "taker")],
            conffiles: &[],
        },
    );
    assert!(
        pkgward(&["install", "--root", &root_path, first.to_str().unwrap()])
            .status
            .success()
    );
    let conflict = pkgward(&["install", "--root", &root_path, second.to_str().unwrap()]);
    assert_eq!(conflict.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&conflict.stderr)
            .contains("`second` ships `/usr/bin/x`, which belongs to `first`"),
        "{}",
        text(&conflict)
    );
    let takeover = pkgward(&["install", "--root", &root_path, taker.to_str().unwrap()]);
    assert!(takeover.status.success(), "{}", text(&takeover));
    assert_eq!(
        std::fs::read_to_string(root.path().join("usr/bin/x")).unwrap(),
        "taker"
    );
    assert_eq!(
        String::from_utf8_lossy(&pkgward(&["owner", "--root", &root_path, "/usr/bin/x"]).stdout)
            .trim(),
        "/usr/bin/x: taker"
    );
}

#[test]
fn usrmerge_alias_installs_through_the_link_and_owner_finds_either_spelling() {
    require_root!();
    let work = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("usr/lib")).unwrap();
    std::os::unix::fs::symlink("usr/lib", root.path().join("lib")).unwrap();
    let root_path = root_string(root.path());
    let deb = build(
        work.path(),
        &TestDeb {
            name: "libmod",
            version: "1",
            control: "",
            files: &[("/lib/libmod/mod.so", 0o644, "so")],
            conffiles: &[],
        },
    );
    let dry = pkgward(&[
        "install",
        "--dry-run",
        "--root",
        &root_path,
        deb.to_str().unwrap(),
    ]);
    assert!(
        String::from_utf8_lossy(&dry.stdout)
            .contains("resolved: /lib/libmod/mod.so -> /usr/lib/libmod/mod.so"),
        "{}",
        text(&dry)
    );
    assert!(
        pkgward(&["install", "--root", &root_path, deb.to_str().unwrap()])
            .status
            .success()
    );
    assert!(std::fs::symlink_metadata(root.path().join("lib"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read_to_string(root.path().join("usr/lib/libmod/mod.so")).unwrap(),
        "so"
    );
    for spelling in ["/lib/libmod/mod.so", "/usr/lib/libmod/mod.so"] {
        let owner = pkgward(&["owner", "--root", &root_path, spelling]);
        assert_eq!(
            String::from_utf8_lossy(&owner.stdout).trim(),
            "/usr/lib/libmod/mod.so: libmod",
            "{spelling}"
        );
    }
    // THREATS 25: policy judges the resolved location, so a PAM module shipped
    // as `/lib/security/...` is refused as `/usr/lib/security/...`.
    let pam = build(
        work.path(),
        &TestDeb {
            name: "evilpam",
            version: "1",
            control: "",
            files: &[("/lib/security/pam_evil.so", 0o644, "so")],
            conffiles: &[],
        },
    );
    let refused = pkgward(&["install", "--root", &root_path, pam.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("place `/usr/lib/security/pam_evil.so` denied"),
        "{}",
        text(&refused)
    );
    assert!(!root.path().join("usr/lib/security").exists());
}

#[test]
fn an_unsafe_symlink_in_the_root_refuses_the_install_threats_27() {
    require_root!();
    let work = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    std::fs::create_dir_all(root.path().join("var/lib")).unwrap();
    std::os::unix::fs::symlink("etc", root.path().join("opt")).unwrap();
    std::os::unix::fs::lchown(root.path().join("opt"), Some(1000), Some(1000)).unwrap();
    let root_path = root_string(root.path());
    let before = manifest(root.path(), PKGWARD_STATE);
    let deb = build(
        work.path(),
        &TestDeb {
            name: "optpkg",
            version: "1",
            control: "",
            files: &[("/opt/foo/bar", 0o644, "x")],
            conffiles: &[],
        },
    );
    let output = pkgward(&["install", "--root", &root_path, deb.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("unsafe symlink `/opt`: owned by uid 1000"),
        "{}",
        text(&output)
    );
    assert_eq!(manifest(root.path(), PKGWARD_STATE), before);
}

#[test]
fn a_second_writer_reports_the_lock_holder_threats_74() {
    let root = tempfile::tempdir().unwrap();
    let root_path = root_string(root.path());
    let engine_root = pkgward_engine::Root::open(root.path()).unwrap();
    let _held = pkgward_engine::lock(&engine_root, std::time::Duration::ZERO).unwrap();
    let started = std::time::Instant::now();
    let output = pkgward(&["recover", "--root", &root_path, "--wait", "1"]);
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "error: the root is locked by PID {}",
            std::process::id()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("hint: wait for it to finish"), "{stderr}");
}

#[test]
fn the_binary_killed_at_every_failpoint_recovers_to_all_or_nothing_threats_49() {
    require_root!();
    let debs = examples();
    let hello = debs.join("pkgward-hello_1.0-1_all.deb");
    let data = debs.join("pkgward-greeting-data_2.3-1_all.deb");
    for failpoint in [
        "prepare-file-staged:1",
        "prepare-file-staged:3",
        "prepare-synced",
        "journal-written",
        "commit-step:1",
        "commit-step:5",
        "commit-steps-done",
        "commit-database",
        "commit-journal-removed",
    ] {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("var/lib")).unwrap();
        let root_path = root_string(root.path());
        let before = manifest(root.path(), PKGWARD_STATE);
        let crashed = Command::new(env!("CARGO_BIN_EXE_pkgward"))
            .args([
                "install",
                "--root",
                &root_path,
                hello.to_str().unwrap(),
                data.to_str().unwrap(),
            ])
            .env("PKGWARD_FAILPOINT", failpoint)
            .output()
            .unwrap();
        assert!(!crashed.status.success(), "{failpoint}: {}", text(&crashed));
        let recovered = pkgward(&["recover", "--root", &root_path]);
        assert!(
            recovered.status.success(),
            "{failpoint}: {}",
            text(&recovered)
        );
        // Recovery is idempotent.
        let again = pkgward(&["recover", "--root", &root_path]);
        assert!(
            String::from_utf8_lossy(&again.stdout).contains("nothing to recover"),
            "{failpoint}: {}",
            text(&again)
        );
        let check = pkgward(&["check", "--root", &root_path]);
        assert!(
            check.status.success(),
            "{failpoint}: database and disk disagree: {}",
            text(&check)
        );
        let listed = String::from_utf8_lossy(&pkgward(&["list", "--root", &root_path]).stdout)
            .lines()
            .count();
        if listed == 0 {
            assert_eq!(
                manifest(root.path(), PKGWARD_STATE),
                before,
                "{failpoint}: nothing installed, root untouched"
            );
        } else {
            assert_eq!(listed, 2, "{failpoint}: all or nothing");
        }
        let staging = root.path().join("var/lib/pkgward/staging");
        assert!(
            !staging.exists() || std::fs::read_dir(&staging).unwrap().count() == 0,
            "{failpoint}: staging left"
        );
    }
}

fn corpus() -> Option<PathBuf> {
    let candidate = std::env::var_os("PKGWARD_CORPUS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
        PathBuf::from,
    );
    candidate
        .join("CLOSURE-python3-curl-jq.txt")
        .exists()
        .then_some(candidate)
}

/// Conformance: the 62-package closure of `python3 curl jq` installed by
/// pkgward into an empty root equals `dpkg -x` of the same debs (paths, types,
/// modes, owners, symlink targets, file digests), and `check` is clean. In an
/// empty root there are no usrmerge links, so both trees have the same shape;
/// with `/lib -> usr/lib` in the root pkgward would place `/lib/x` at
/// `/usr/lib/x` (see docs/engine.md) where `dpkg -x` would replace the link.
#[test]
fn the_python3_curl_jq_closure_matches_dpkg_x() {
    require_root!();
    let Some(corpus) = corpus() else {
        eprintln!("SKIPPED: the shared corpus is missing (set PKGWARD_CORPUS or put it at ../shared/corpus)");
        return;
    };
    if Command::new("dpkg").arg("--version").output().is_err() {
        eprintln!("SKIPPED: dpkg is not installed (apt-get install dpkg)");
        return;
    }
    let names = std::fs::read_to_string(corpus.join("CLOSURE-python3-curl-jq.txt")).unwrap();
    let debs: Vec<PathBuf> = names
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|name| {
            let prefix = format!("{name}_");
            std::fs::read_dir(corpus.join("debs"))
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .find(|path| {
                    path.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with(&prefix)
                })
                .unwrap_or_else(|| panic!("`{name}` is missing from the corpus"))
        })
        .collect();
    assert_eq!(debs.len(), 62);
    let ours = tempfile::tempdir().unwrap();
    let theirs = tempfile::tempdir().unwrap();
    let root_path = root_string(ours.path());
    // The closure ships files in guarded locations (NSS modules, cron, dpkg
    // config, sitecustomize, ...): the default policy refuses them, so the
    // conformance run grants every guarded location to this repo. It
    // compares files with `dpkg -x`, which runs no script and makes no
    // declarative action: `--files-only` (libc6's scripts need `unconfined`,
    // granted so the plan is accepted).
    let grants_directory = tempfile::tempdir().unwrap();
    let grants = grants_directory.path().join("grants.toml");
    std::fs::write(
        &grants,
        "[[grant]]\nrepo = \"local\"\npackage = \"*\"\npaths = [\"/**\"]\nguarded = [\"*\"]\nscripts = \"unconfined\"\n",
    )
    .unwrap();
    let mut arguments = vec![
        "install".to_owned(),
        "--files-only".to_owned(),
        "--root".to_owned(),
        root_path.clone(),
        "--grants".to_owned(),
        grants.to_string_lossy().into_owned(),
    ];
    arguments.extend(debs.iter().map(|path| path.to_string_lossy().into_owned()));
    let output = Command::new(env!("CARGO_BIN_EXE_pkgward"))
        .args(&arguments)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    for deb in &debs {
        let status = Command::new("dpkg")
            .arg("-x")
            .arg(deb)
            .arg(theirs.path())
            .status()
            .unwrap();
        assert!(status.success(), "dpkg -x {}", deb.display());
    }
    let ours_manifest = manifest(ours.path(), PKGWARD_STATE);
    let theirs_manifest = manifest(theirs.path(), PKGWARD_STATE);
    let differences: Vec<String> = ours_manifest
        .keys()
        .chain(theirs_manifest.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|path| ours_manifest.get(*path) != theirs_manifest.get(*path))
        .map(|path| {
            format!(
                "{path}: pkgward {:?}, dpkg -x {:?}",
                ours_manifest.get(path),
                theirs_manifest.get(path)
            )
        })
        .collect();
    assert!(
        differences.is_empty(),
        "{} differences:\n{}",
        differences.len(),
        differences.join("\n")
    );
    assert!(
        ours_manifest.len() > 1000,
        "the closure has thousands of paths"
    );
    let check = pkgward(&["check", "--root", &root_path]);
    assert!(check.status.success(), "{}", text(&check));
    let list = pkgward(&["list", "--root", &root_path]);
    assert_eq!(String::from_utf8_lossy(&list.stdout).lines().count(), 62);
}

#[test]
fn capability_growth_on_upgrade_is_held_or_allowed_by_the_repo_rule() {
    require_root!();
    let work = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("var/lib")).unwrap();
    let root_path = root_string(root.path());
    let deb = |version: &str, files: &[(&str, u32, &str)]| {
        build(
            work.path(),
            &TestDeb {
                name: "grower",
                version,
                control: "",
                files,
                conffiles: &[],
            },
        )
    };
    let v1 = deb("1", &[("/usr/bin/grower", 0o755, "v1")]);
    // Same capabilities, new content: no growth.
    let v1_1 = deb("1.1", &[("/usr/bin/grower", 0o755, "v1.1")]);
    // A new file in a shared directory and a new guarded location (cron).
    let v2 = deb(
        "2",
        &[
            ("/usr/bin/grower", 0o755, "v2"),
            ("/usr/bin/grower-helper", 0o755, "helper"),
            ("/etc/cron.d/grower", 0o644, "* * * * * root true\n"),
        ],
    );
    let grants = work.path().join("grants.toml");
    std::fs::write(
        &grants,
        "[[grant]]\nrepo = \"local\"\npackage = \"grower\"\npaths = [\"/**\"]\nguarded = [\"cron\"]\n",
    )
    .unwrap();
    let install = |extra: &[&str], package: &Path| {
        let mut arguments = vec!["install", "--root", &root_path, "--grants"];
        arguments.push(grants.to_str().unwrap());
        arguments.extend_from_slice(extra);
        arguments.push(package.to_str().unwrap());
        pkgward(&arguments)
    };
    let first = install(&[], &v1);
    assert!(first.status.success(), "{}", text(&first));

    // Under the default `hold`: refused before anything is written.
    let before = manifest(root.path(), PKGWARD_STATE);
    let dry_run = install(&["--dry-run"], &v2);
    assert_eq!(dry_run.status.code(), Some(1), "{}", text(&dry_run));
    assert!(
        String::from_utf8_lossy(&dry_run.stderr)
            .contains("notice: capability growth would be held: `grower` 2 needs"),
        "{}",
        text(&dry_run)
    );
    let list_before = pkgward(&["list", "--root", &root_path]).stdout;
    let files_before = pkgward(&["files", "--root", &root_path, "grower"]).stdout;
    let held = install(&[], &v2);
    assert_eq!(held.status.code(), Some(1), "{}", text(&held));
    let stderr = String::from_utf8_lossy(&held.stderr);
    assert!(
        stderr.contains("capability growth held by repo `local`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`grower` 2 needs capabilities 1 did not use"),
        "{stderr}"
    );
    // A new plain file is within the grants and is not growth.
    assert!(!stderr.contains("/usr/bin/grower-helper"), "{stderr}");
    assert!(
        stderr.contains("- guarded location `cron` (autoexec)"),
        "{stderr}"
    );
    assert!(stderr.contains("capability-growth = \"allow\""), "{stderr}");
    assert_eq!(
        manifest(root.path(), PKGWARD_STATE),
        before,
        "root byte-identical"
    );
    assert_eq!(pkgward(&["list", "--root", &root_path]).stdout, list_before);
    assert_eq!(
        pkgward(&["files", "--root", &root_path, "grower"]).stdout,
        files_before
    );

    // No growth: proceeds under `hold`.
    let same = install(&[], &v1_1);
    assert!(same.status.success(), "{}", text(&same));
    assert!(
        !String::from_utf8_lossy(&same.stderr).contains("capability growth"),
        "{}",
        text(&same)
    );
    assert_eq!(
        std::fs::read_to_string(root.path().join("usr/bin/grower")).unwrap(),
        "v1.1"
    );

    // The repo's rule `allow`: proceeds with a notice.
    let policy = work.path().join("policy.toml");
    std::fs::write(&policy, ALLOW_GROWTH_POLICY).unwrap();
    let allowed = install(&["--policy", policy.to_str().unwrap()], &v2);
    assert!(allowed.status.success(), "{}", text(&allowed));
    let stderr = String::from_utf8_lossy(&allowed.stderr);
    assert!(
        stderr.contains("notice: capability growth allowed by repo `local`"),
        "{stderr}"
    );
    assert!(stderr.contains("guarded location `cron`"), "{stderr}");
    assert!(root.path().join("etc/cron.d/grower").exists());
    let list =
        String::from_utf8_lossy(&pkgward(&["list", "--root", &root_path]).stdout).into_owned();
    assert!(list.starts_with("grower\t2\t"), "{list}");
}

/// Starts `pkgward` with `arguments` without waiting for it.
fn spawn_pkgward(arguments: &[String]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_pkgward"))
        .args(arguments)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// A root pkgward never used (it has `var/lib`), and its path.
fn fresh_root() -> (tempfile::TempDir, String) {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("var/lib")).unwrap();
    let root_path = root_string(root.path());
    (root, root_path)
}

/// Packages `names` at version 1, each shipping one file at `path(name)`
/// holding its name.
fn one_file_debs(directory: &Path, names: &[&str], path: impl Fn(&str) -> String) -> Vec<PathBuf> {
    names
        .iter()
        .map(|name| {
            build(
                directory,
                &TestDeb {
                    name,
                    version: "1",
                    control: "",
                    files: &[(&path(name), 0o755, name)],
                    conffiles: &[],
                },
            )
        })
        .collect()
}

#[test]
fn eight_concurrent_installers_all_succeed_and_the_database_stays_intact_threats_70_74() {
    require_root!();
    let work = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("var/lib")).unwrap();
    let root_path = root_string(root.path());
    let names: Vec<String> = (0..8).map(|index| format!("parallel{index}")).collect();
    let binaries: Vec<String> = names
        .iter()
        .map(|name| format!("/usr/bin/{name}"))
        .collect();
    let debs: Vec<PathBuf> = names
        .iter()
        .zip(&binaries)
        .map(|(name, binary)| {
            build(
                work.path(),
                &TestDeb {
                    name,
                    version: "1",
                    control: "",
                    files: &[(binary, 0o755, name)],
                    conffiles: &[],
                },
            )
        })
        .collect();
    // Each process waits for the lock (THREATS 74); all start at once.
    let children: Vec<_> = debs
        .iter()
        .map(|deb| {
            spawn_pkgward(&[
                "install".to_owned(),
                "--root".to_owned(),
                root_path.clone(),
                "--wait".to_owned(),
                "60".to_owned(),
                deb.to_string_lossy().into_owned(),
            ])
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", text(&output));
    }
    let list =
        String::from_utf8_lossy(&pkgward(&["list", "--root", &root_path]).stdout).into_owned();
    let listed: Vec<&str> = list
        .lines()
        .filter_map(|line| line.split('\t').next())
        .collect();
    assert_eq!(listed, names, "{list}");
    for name in &names {
        assert_eq!(
            std::fs::read_to_string(root.path().join("usr/bin").join(name)).unwrap(),
            *name
        );
    }
    let check = pkgward(&["check", "--root", &root_path]);
    assert!(check.status.success(), "{}", text(&check));
    let engine_root = pkgward_engine::Root::open(root.path()).unwrap();
    let database = pkgward_engine::open_database(&engine_root, false)
        .unwrap()
        .unwrap();
    assert_eq!(database.database.integrity_check().unwrap(), Ok(()));
    assert_eq!(
        database.database.owners("/usr/bin").unwrap().len(),
        8,
        "every package holds a reference on the shared directory"
    );
}

#[test]
fn two_concurrent_installers_of_one_path_one_wins_the_other_names_the_conflict_threats_71() {
    require_root!();
    let work = tempfile::tempdir().unwrap();
    let (root, root_path) = fresh_root();
    let debs = one_file_debs(work.path(), &["left", "right"], |_| "/usr/bin/x".to_owned());
    let children: Vec<_> = debs
        .iter()
        .map(|deb| {
            spawn_pkgward(&[
                "install".to_owned(),
                "--root".to_owned(),
                root_path.clone(),
                "--wait".to_owned(),
                "60".to_owned(),
                deb.to_string_lossy().into_owned(),
            ])
        })
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|child| child.wait_with_output().unwrap())
        .collect();
    let winners: Vec<usize> = (0..2).filter(|&i| outputs[i].status.success()).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one wins:\n{}\n{}",
        text(&outputs[0]),
        text(&outputs[1])
    );
    let winner = ["left", "right"][winners[0]];
    let loser_index = 1 - winners[0];
    let loser = ["left", "right"][loser_index];
    let stderr = String::from_utf8_lossy(&outputs[loser_index].stderr);
    assert_eq!(outputs[loser_index].status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "`{loser}` ships `/usr/bin/x`, which belongs to `{winner}`"
        )),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(root.path().join("usr/bin/x")).unwrap(),
        winner
    );
    let list =
        String::from_utf8_lossy(&pkgward(&["list", "--root", &root_path]).stdout).into_owned();
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(list.starts_with(&format!("{winner}\t")), "{list}");
    let check = pkgward(&["check", "--root", &root_path]);
    assert!(check.status.success(), "{}", text(&check));
}

#[test]
fn an_installer_waits_for_the_lock_only_as_long_as_told_threats_74() {
    let work = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("var/lib")).unwrap();
    let root_path = root_string(root.path());
    let deb = build(
        work.path(),
        &TestDeb {
            name: "waiter",
            version: "1",
            control: "",
            files: &[("/usr/bin/waiter", 0o755, "w")],
            conffiles: &[],
        },
    );
    let before = manifest(root.path(), PKGWARD_STATE);
    // This test process is the other writer: it holds the same `flock` a
    // running install holds, for as long as the test needs.
    let engine_root = pkgward_engine::Root::open(root.path()).unwrap();
    let held = pkgward_engine::lock(&engine_root, std::time::Duration::ZERO).unwrap();
    let expected = format!("error: the root is locked by PID {}", std::process::id());
    for (wait, at_least, at_most) in [("0", 0, 1), ("1", 1, 10)] {
        let started = std::time::Instant::now();
        let output = pkgward(&[
            "install",
            "--root",
            &root_path,
            "--wait",
            wait,
            deb.to_str().unwrap(),
        ]);
        let elapsed = started.elapsed();
        assert_eq!(output.status.code(), Some(1), "{}", text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&expected), "{stderr}");
        assert!(
            elapsed >= std::time::Duration::from_secs(at_least)
                && elapsed < std::time::Duration::from_secs(at_most),
            "--wait {wait} took {elapsed:?}"
        );
    }
    assert_eq!(
        manifest(root.path(), PKGWARD_STATE),
        before,
        "nothing written while locked"
    );
    // Once the lock is released the same install goes through.
    drop(held);
    let output = pkgward(&["install", "--root", &root_path, deb.to_str().unwrap()]);
    if is_root() {
        assert!(output.status.success(), "{}", text(&output));
    }
}

/// Every writer takes the root lock before it opens the database (THREATS
/// 71): opened first, a second writer's database connection meets the first
/// writer's database locks and fails with "database is locked" instead of
/// waiting for (or naming) the holder of the root lock. The test process
/// plays the first writer: it holds the root's `flock` and a write lock on
/// the whole of `db.sqlite`, which refuses the shared lock every database
/// connection takes at its first read. A writer that locks first never
/// reaches the database and reports the lock holder.
#[test]
fn writers_take_the_root_lock_before_they_open_the_database_threats_71() {
    require_root!();
    let work = tempfile::tempdir().unwrap();
    let (root, root_path) = fresh_root();
    let deb = |version: &str| {
        build(
            work.path(),
            &TestDeb {
                name: "ordered",
                version,
                control: "",
                files: &[("/usr/bin/ordered", 0o755, version)],
                conffiles: &[],
            },
        )
    };
    let (first, second) = (deb("1"), deb("2"));
    let installed = pkgward(&["install", "--root", &root_path, first.to_str().unwrap()]);
    assert!(installed.status.success(), "{}", text(&installed));
    let engine_root = pkgward_engine::Root::open(root.path()).unwrap();
    let held = pkgward_engine::lock(&engine_root, std::time::Duration::ZERO).unwrap();
    let database_file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(root.path().join("var/lib/pkgward/db.sqlite"))
        .unwrap();
    rustix::fs::fcntl_lock(
        &database_file,
        rustix::fs::FlockOperation::NonBlockingLockExclusive,
    )
    .unwrap();
    let before = manifest(root.path(), PKGWARD_STATE);
    let expected = format!("error: the root is locked by PID {}", std::process::id());
    for command in [
        vec!["remove", "--root", &root_path, "--wait", "0", "ordered"],
        vec!["configure", "--root", &root_path, "--wait", "0", "ordered"],
        vec![
            "install",
            "--root",
            &root_path,
            "--wait",
            "0",
            second.to_str().unwrap(),
        ],
    ] {
        let output = pkgward(&command);
        assert_eq!(output.status.code(), Some(1), "{}", text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&expected), "{}: {stderr}", command[0]);
        assert!(!stderr.contains("database"), "{}: {stderr}", command[0]);
    }
    assert_eq!(
        manifest(root.path(), PKGWARD_STATE),
        before,
        "nothing written while locked"
    );
    drop(database_file);
    drop(held);
    let removed = pkgward(&["remove", "--root", &root_path, "ordered"]);
    assert!(removed.status.success(), "{}", text(&removed));
    let list = pkgward(&["list", "--root", &root_path]);
    assert!(list.stdout.is_empty(), "{}", text(&list));
}

/// A remove and an install of another package on one root, at once, again
/// and again: both always succeed (each waits for the other's lock), and
/// neither update is lost.
#[test]
fn concurrent_remove_and_install_on_one_root_lose_no_update_threats_71() {
    require_root!();
    let work = tempfile::tempdir().unwrap();
    let (root, root_path) = fresh_root();
    let debs = one_file_debs(work.path(), &["alpha", "beta"], |name| {
        format!("/usr/bin/{name}")
    });
    let first = pkgward(&["install", "--root", &root_path, debs[0].to_str().unwrap()]);
    assert!(first.status.success(), "{}", text(&first));
    for round in 0..6 {
        // Even rounds remove alpha while beta goes in; odd rounds the reverse.
        let (gone, coming) = if round % 2 == 0 { (0, 1) } else { (1, 0) };
        let names = ["alpha", "beta"];
        let arguments = |command: &str, operand: &str| -> Vec<String> {
            [command, "--root", &root_path, "--wait", "60", operand]
                .map(str::to_owned)
                .to_vec()
        };
        let remover = spawn_pkgward(&arguments("remove", names[gone]));
        let installer = spawn_pkgward(&arguments("install", debs[coming].to_str().unwrap()));
        for child in [remover, installer] {
            let output = child.wait_with_output().unwrap();
            assert!(output.status.success(), "round {round}: {}", text(&output));
        }
        let list =
            String::from_utf8_lossy(&pkgward(&["list", "--root", &root_path]).stdout).into_owned();
        let listed: Vec<&str> = list
            .lines()
            .filter_map(|line| line.split('\t').next())
            .collect();
        assert_eq!(listed, [names[coming]], "round {round}: {list}");
        assert!(!root.path().join("usr/bin").join(names[gone]).exists());
    }
    let check = pkgward(&["check", "--root", &root_path]);
    assert!(check.status.success(), "{}", text(&check));
}

/// `install` reads the administrator policy from the root it installs into
/// (`etc/pkgward/policy.toml`, then `policy.d/*.toml`), like `verify`: a
/// deny override there refuses the package and the refusal cites that file.
#[test]
fn install_obeys_the_roots_own_policy_files() {
    require_root!();
    let root = tempfile::tempdir().unwrap();
    let root_path = root_string(root.path());
    std::fs::create_dir_all(root.path().join("etc/pkgward/policy.d")).unwrap();
    std::fs::write(
        root.path().join("etc/pkgward/policy.toml"),
        "[[repo]]\nname = \"local\"\nceiling = { paths = [\"/**\"], scripts = \"sandboxed\" }\n\n\
         [[grant]]\nrepo = \"local\"\npackage = \"*\"\npaths = [\"/**\"]\nscripts = \"sandboxed\"\n",
    )
    .unwrap();
    std::fs::write(
        root.path().join("etc/pkgward/policy.d/50-no-bin.toml"),
        "[[override]]\npackage = \"pkgward-hello\"\ndeny = { paths = [\"/usr/bin/**\"] }\n",
    )
    .unwrap();
    let before = manifest(root.path(), PKGWARD_STATE);
    let hello = examples().join("pkgward-hello_1.0-1_all.deb");
    let data = examples().join("pkgward-greeting-data_2.3-1_all.deb");
    let output = pkgward(&[
        "install",
        "--root",
        &root_path,
        hello.to_str().unwrap(),
        data.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("place `/usr/bin/pkgward-hello` denied by")
            && stderr.contains("50-no-bin.toml"),
        "{stderr}"
    );
    assert_eq!(manifest(root.path(), PKGWARD_STATE), before);

    // Without the drop-in, the root's main policy file admits both.
    std::fs::remove_file(root.path().join("etc/pkgward/policy.d/50-no-bin.toml")).unwrap();
    let output = pkgward(&[
        "install",
        "--root",
        &root_path,
        hello.to_str().unwrap(),
        data.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(root.path().join("usr/bin/pkgward-hello").exists());
}
