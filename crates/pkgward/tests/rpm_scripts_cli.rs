//! rpm scriptlets through `install` and `remove`: they get rpm's argument
//! (the number of instances left after the operation) and rpm's
//! environment, not dpkg's; scriptlets pkgward has no phase for
//! (`%posttrans`, …) are refused when they would have to run.
//! The tests that run scriptlets need root, user namespaces and Landlock
//! (`common::can_run_scripts`) and skip LOUDLY without them.
#![allow(clippy::print_stderr)]

use pkgward_package::rpm_builder::rpm;
mod common;
use common::{can_run_scripts, one_file_rpm, pkgward, root_with_shell, text, write_rpm as write};

/// A scriptlet that logs its name, argument count and arguments, the way
/// the rpm 4.18 probe in docs/rpm.md did.
fn logging(name: &str) -> String {
    format!("echo \"{name} $# $*\" >> /var/lib/probe/log\n")
}

/// `probe` VERSION-1 with `%pre`, `%post`, `%preun` and `%postun` that log
/// their arguments, and a `%pre` that dumps its environment.
fn probe(version: &str) -> rpm::Package {
    rpm::PackageBuilder::new("probe", version, "MIT", "noarch", "scriptlet probe")
        .release("1")
        .with_file_contents(
            format!("{version}\n"),
            rpm::FileOptions::new("/usr/share/probe/version").mode(rpm::FileMode::regular(0o644)),
        )
        .unwrap()
        .pre_install_script(format!(
            "{}export -p > /var/lib/probe/environment\n",
            logging("pre")
        ))
        .post_install_script(logging("post"))
        .pre_uninstall_script(logging("preun"))
        .post_uninstall_script(logging("postun"))
        .build()
        .unwrap()
}

/// rpm 4.18 on the same sequence (install 1.0, upgrade to 2.0, erase)
/// logs `pre 1 1`, `post 1 1`, `pre 1 2`, `post 1 2`, `preun 1 1`,
/// `postun 1 1`, `preun 1 0`, `postun 1 0`. pkgward gives the same
/// arguments; it runs no script of the *old* package during an upgrade, as
/// for `.deb` packages (docs/rpm.md), so `preun 1 1`/`postun 1 1` are absent.
#[test]
fn rpm_scriptlets_get_rpms_instance_count_and_environment() {
    if !can_run_scripts() {
        return;
    }
    let directory = tempfile::tempdir().unwrap();
    let first = write(directory.path(), "probe-1.0", &probe("1.0"));
    let second = write(directory.path(), "probe-2.0", &probe("2.0"));
    let root = root_with_shell();
    // `/var/lib/probe` is the package's writable path (docs/sandbox.md);
    // it exists before the first `%pre` runs.
    std::fs::create_dir_all(root.path().join("var/lib/probe")).unwrap();
    let root_path = root.path().to_str().unwrap();
    let log = || std::fs::read_to_string(root.path().join("var/lib/probe/log")).unwrap();
    let installed = pkgward(&["install", "--root", root_path, first.to_str().unwrap()]);
    assert!(installed.status.success(), "{}", text(&installed));
    assert_eq!(log(), "pre 1 1\npost 1 1\n");
    let environment =
        std::fs::read_to_string(root.path().join("var/lib/probe/environment")).unwrap();
    assert!(!environment.contains("DPKG_"), "{environment}");
    assert!(!environment.contains("RPM_"), "{environment}");
    assert!(
        environment.contains("PATH='/run/pkgward/shims:/sbin:/bin:/usr/sbin:/usr/bin'"),
        "{environment}"
    );
    // The recorded runs carry the argument given (an upgrade's rows
    // replace the previous version's, runs included).
    let runs = || {
        let scripts = pkgward(&["scripts", "--json", "--root", root_path, "probe"]);
        assert!(scripts.status.success(), "{}", text(&scripts));
        let scripts: serde_json::Value = serde_json::from_slice(&scripts.stdout).unwrap();
        scripts["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|run| format!("{} {}", run["script"], run["arguments"]))
            .collect::<Vec<String>>()
    };
    assert_eq!(runs(), ["\"preinst\" [\"1\"]", "\"postinst\" [\"1\"]"]);
    let upgraded = pkgward(&["install", "--root", root_path, second.to_str().unwrap()]);
    assert!(upgraded.status.success(), "{}", text(&upgraded));
    assert_eq!(log(), "pre 1 1\npost 1 1\npre 1 2\npost 1 2\n");
    assert_eq!(runs(), ["\"preinst\" [\"2\"]", "\"postinst\" [\"2\"]"]);
    // rpm has no purge: `%postun` runs once.
    let removed = pkgward(&["remove", "--purge", "--root", root_path, "probe"]);
    assert!(removed.status.success(), "{}", text(&removed));
    assert_eq!(
        log(),
        "pre 1 1\npost 1 1\npre 1 2\npost 1 2\npreun 1 0\npostun 1 0\n"
    );
}

/// `%pretrans`/`%posttrans` (and `%preuntrans`, `%postuntrans`, triggers)
/// have no phase in pkgward: with residue they would have to run, so the
/// plan is refused by name with a hint; a fully declarative one is fine;
/// `--no-scripts` runs no scriptlet at all and admits the package.
#[test]
fn a_posttrans_with_residue_is_refused_and_a_declarative_one_is_not() {
    let directory = tempfile::tempdir().unwrap();
    let build = |name: &str, posttrans: &str| {
        let package = one_file_rpm(name, "1.0", "1")
            .post_trans_script(posttrans)
            .build()
            .unwrap();
        write(directory.path(), name, &package)
    };
    let residue = build("residue", "/usr/bin/refresh-something --all || :\n");
    let declarative = build("declarative", "exit 0\n");
    let root = tempfile::tempdir().unwrap();
    let root_path = root.path().to_str().unwrap();
    let refused = pkgward(&[
        "install",
        "--dry-run",
        "--root",
        root_path,
        residue.to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let output = text(&refused);
    assert!(
        output.contains("`residue`: scriptlet `posttrans` would have to run, but pkgward runs no per-transaction scriptlets"),
        "{output}"
    );
    assert!(output.contains("`install --no-scripts`"), "{output}");
    let without_scripts = pkgward(&[
        "install",
        "--dry-run",
        "--no-scripts",
        "--root",
        root_path,
        residue.to_str().unwrap(),
    ]);
    assert!(
        without_scripts.status.success(),
        "{}",
        text(&without_scripts)
    );
    let admitted = pkgward(&[
        "install",
        "--dry-run",
        "--root",
        root_path,
        declarative.to_str().unwrap(),
    ]);
    assert!(admitted.status.success(), "{}", text(&admitted));
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
}
