//! CLI tests of `verify`, `explain`, `audit` and `policy show` on small real
//! packages committed to the repository (`testdata/debs`, `examples/debs`),
//! always with a temporary `--root` so the machine's own policy is never read.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::PathBuf;

fn repo_file(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

const CRON: &str = "examples/debs/pkgward-sneaky-cron_0.9-1_all.deb";
const HELLO: &str = "testdata/debs/hello_2.10-3_amd64.deb";
const TREE: &str = "testdata/debs/tree_2.1.0-1_amd64.deb";

fn pkgward() -> Command {
    Command::cargo_bin("pkgward").unwrap()
}

fn cli(args: &[&str]) -> (Command, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    let mut command = Command::cargo_bin("pkgward").unwrap();
    command.args(args).arg("--root").arg(root.path());
    (command, root)
}

#[test]
fn plain_tools_pass_with_no_configuration() {
    let (mut command, _root) = cli(&[
        "verify",
        repo_file(HELLO).to_str().unwrap(),
        repo_file(TREE).to_str().unwrap(),
    ]);
    command
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "hello 2.10-3 (repo `local`): allowed",
        ))
        .stdout(predicate::str::contains(
            "tree 2.1.0-1 (repo `local`): allowed",
        ));
}

#[test]
fn cron_job_is_refused_naming_the_class_with_a_hint() {
    let (mut command, _root) = cli(&["verify", repo_file(CRON).to_str().unwrap()]);
    command
        .assert()
        .code(1)
        .stdout(predicate::str::contains("refused, 1 of"))
        .stdout(predicate::str::contains("guarded: `cron` (autoexec)"))
        .stdout(predicate::str::contains("hint: add `guarded = [\"cron\"]`"));
}

#[test]
fn cron_job_under_an_explicit_double_star_grant_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let grants = root.path().join("grants.toml");
    std::fs::write(&grants, "[[grant]]\npackage = \"*\"\npaths = [\"/**\"]\n").unwrap();
    pkgward()
        .args(["verify", repo_file(CRON).to_str().unwrap(), "--grants"])
        .arg(&grants)
        .arg("--root")
        .arg(root.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("`cron` (autoexec"))
        .stdout(predicate::str::contains("grant `/**` at "))
        .stdout(predicate::str::contains(
            "grants.toml:3:10 does not name it",
        ))
        .stdout(predicate::str::contains(
            "hint: add `guarded = [\"cron\"]` to the grant at ",
        ));
    // The grant the hint asks for makes it pass.
    std::fs::write(
        &grants,
        "[[grant]]\npackage = \"*\"\npaths = [\"/**\"]\nguarded = [\"cron\"]\n",
    )
    .unwrap();
    pkgward()
        .args(["verify", repo_file(CRON).to_str().unwrap(), "--grants"])
        .arg(&grants)
        .arg("--root")
        .arg(root.path())
        .assert()
        .success();
}

#[test]
fn suggested_grants_make_verify_pass() {
    let root = tempfile::tempdir().unwrap();
    let grants = root.path().join("suggested.toml");
    let packages = [
        repo_file(CRON),
        repo_file(HELLO),
        repo_file("testdata/debs/adduser_3.134_all.deb"),
    ];
    pkgward()
        .arg("audit")
        .args(&packages)
        .arg("--suggest-grants")
        .arg(&grants)
        .arg("--root")
        .arg(root.path())
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "cron (autoexec): /etc/cron.d/pkgward-sneaky",
        ));
    let text = std::fs::read_to_string(&grants).unwrap();
    assert!(text.contains("package = \"pkgward-sneaky-cron\""), "{text}");
    pkgward()
        .arg("verify")
        .args(&packages)
        .arg("--grants")
        .arg(&grants)
        .arg("--root")
        .arg(root.path())
        .assert()
        .success();
}

#[test]
fn explain_shows_the_decision_chain() {
    let (mut command, _root) = cli(&[
        "explain",
        repo_file(CRON).to_str().unwrap(),
        "/etc/cron.d/pkgward-sneaky",
    ]);
    command
        .assert()
        .code(1)
        .stdout(predicate::str::contains("verdict:   denied"))
        .stdout(predicate::str::contains("layer:     Catalog"))
        .stdout(predicate::str::contains(
            "grants:    `*` at <embedded default>:",
        ));
    let (mut command, _root) = cli(&[
        "explain",
        repo_file(HELLO).to_str().unwrap(),
        "/usr/bin/hello",
    ]);
    command
        .assert()
        .success()
        .stdout(predicate::str::contains("verdict:   allowed"));
    let (mut command, _root) = cli(&["explain", repo_file(HELLO).to_str().unwrap(), "user:root"]);
    command
        .assert()
        .code(1)
        .stdout(predicate::str::contains("`root` is privileged"));
    let (mut command, _root) = cli(&["explain", repo_file(HELLO).to_str().unwrap(), "bogus"]);
    command
        .assert()
        .code(1)
        .stderr(predicate::str::contains("error: cannot read item `bogus`"))
        .stderr(predicate::str::contains("hint:"));
}

#[test]
fn default_policy_prints_and_loads_back() {
    let root = tempfile::tempdir().unwrap();
    let output = pkgward()
        .args(["policy", "show", "--default"])
        .arg("--root")
        .arg(root.path())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(output).unwrap();
    assert_eq!(text, pkgward_policy::parse::EMBEDDED_DEFAULT);
    let policy_file = root.path().join("etc/pkgward/policy.toml");
    std::fs::create_dir_all(policy_file.parent().unwrap()).unwrap();
    std::fs::write(&policy_file, &text).unwrap();
    // The copy in `<root>/etc/pkgward` decides exactly like the default.
    pkgward()
        .args(["verify", repo_file(CRON).to_str().unwrap()])
        .arg("--root")
        .arg(root.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "policy.toml:26:10 does not name it",
        ));
    pkgward()
        .args(["verify", repo_file(HELLO).to_str().unwrap()])
        .arg("--root")
        .arg(root.path())
        .assert()
        .success();
}

#[test]
fn policy_errors_point_at_file_line_column() {
    let root = tempfile::tempdir().unwrap();
    let policy = root.path().join("policy.toml");
    std::fs::write(&policy, "[[repo]]\nname = \"local\"\nceiling = { paths = [\"/**\"] }\nverifiers = { keys = [\"ed25519:AA\"], threshold = 0 }\n").unwrap();
    pkgward()
        .args(["verify", repo_file(HELLO).to_str().unwrap(), "--policy"])
        .arg(&policy)
        .arg("--root")
        .arg(root.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "policy.toml:4:50: verifier threshold of repo `local` is 0",
        ))
        .stderr(predicate::str::contains("hint:"));
}

#[test]
fn verify_json_and_catalog() {
    let (mut command, _root) = cli(&["verify", "--json", repo_file(CRON).to_str().unwrap()]);
    let output = command.assert().code(1).get_output().stdout.clone();
    let value: serde_json::Value = serde_json::from_slice(&output).unwrap();
    assert_eq!(value[0]["package"], "pkgward-sneaky-cron");
    assert!(value[0]["checked"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["decision"]["verdict"] == "deny"));
    let (mut command, _root) = cli(&["policy", "show", "--catalog"]);
    command
        .assert()
        .success()
        .stdout(predicate::str::contains("ld-so-preload"))
        .stdout(predicate::str::contains("/etc/ld.so.preload"));
}

/// A package `name` 1.0 with one data file and `postinst`.
fn package_with_postinst(directory: &std::path::Path, name: &str, postinst: &str) -> PathBuf {
    use pkgward_package::deb_builder::{control_tar, deb_from_parts, Compression, TarBuilder};
    let mut data = TarBuilder::new();
    for directory in [
        "./",
        "./usr/",
        "./usr/share/",
        &format!("./usr/share/{name}/"),
    ] {
        data.dir(directory);
    }
    data.file(&format!("./usr/share/{name}/data"), 0o644, b"data\n");
    let control = format!(
        "Package: {name}\nVersion: 1.0\nArchitecture: all\nMaintainer: Test <test@example.invalid>\nDescription: test package\n with a postinst\n"
    );
    let bytes = deb_from_parts(
        &control_tar(&control, &[("postinst", postinst.as_bytes(), 0o755)]),
        &data.finish(),
        Compression::Gzip,
    );
    let path = directory.join(format!("{name}_1.0_all.deb"));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// `pkgward verify PACKAGES --grants GRANTS --root ROOT`, to assert on.
fn verify_with(
    packages: &[&PathBuf],
    grants: &std::path::Path,
    root: &std::path::Path,
) -> assert_cmd::assert::Assert {
    pkgward()
        .arg("verify")
        .args(packages)
        .arg("--grants")
        .arg(grants)
        .arg("--root")
        .arg(root)
        .assert()
}

#[test]
fn verify_and_suggested_grants_ask_for_the_script_mode_install_needs() {
    let root = tempfile::tempdir().unwrap();
    // `modprobe` needs privileges no sandbox gives: `NeedsUnconfined`.
    let privileged =
        package_with_postinst(root.path(), "privy", "#!/bin/sh\nset -e\nmodprobe privy\n");
    // Only a translated `mkdir -p`: fully declarative, never run.
    let declarative = package_with_postinst(
        root.path(),
        "decl",
        "#!/bin/sh\nset -e\nmkdir -p /var/lib/decl\n",
    );
    let sandboxed = root.path().join("sandboxed.toml");
    std::fs::write(
        &sandboxed,
        "[[grant]]\npackage = \"*\"\npaths = [\"/**\"]\nscripts = \"sandboxed\"\n",
    )
    .unwrap();
    verify_with(&[&privileged], &sandboxed, root.path())
        .code(1)
        .stdout(predicate::str::contains("unconfined scripts (postinst)"));
    let none = root.path().join("none.toml");
    std::fs::write(
        &none,
        "[[grant]]\npackage = \"*\"\npaths = [\"/**\"]\nscripts = \"none\"\n",
    )
    .unwrap();
    verify_with(&[&declarative], &none, root.path()).success();
    let suggested = root.path().join("suggested.toml");
    pkgward()
        .arg("audit")
        .args([&privileged, &declarative])
        .arg("--suggest-grants")
        .arg(&suggested)
        .arg("--root")
        .arg(root.path())
        .assert()
        .success();
    let text = std::fs::read_to_string(&suggested).unwrap();
    let grant_of = |name: &str| {
        text.split("[[grant]]")
            .find(|grant| grant.contains(&format!("package = \"{name}\"")))
            .unwrap_or_else(|| panic!("no grant for {name}: {text}"))
            .to_owned()
    };
    assert!(
        grant_of("privy").contains("scripts = \"unconfined\"\n"),
        "{text}"
    );
    assert!(grant_of("decl").contains("scripts = \"none\"\n"), "{text}");
    assert!(!text.contains("sandboxed"), "{text}");
    verify_with(&[&privileged, &declarative], &suggested, root.path()).success();
}
