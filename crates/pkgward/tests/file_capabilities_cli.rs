//! File capabilities end to end: an `.rpm` with `FILECAPS` and a `.deb`
//! whose `postinst` runs `setcap` on its own file are refused without a
//! `file-capabilities` grant (exit 1, the rule and the grant line to add, the
//! root unchanged) and installed with one, the installed file carrying the
//! same `security.capability` bytes `rpm --root R2 -i` writes and `getcap`
//! reads; `check` notices a removed capability; `verify`, `explain` and
//! `audit --suggest-grants` cover the item. Needs root (and rpm, getcap for
//! the comparisons); skips loudly without them.
#![allow(clippy::print_stderr, clippy::disallowed_methods)]

use pkgward_package::deb_builder::{control_tar, deb_from_parts, Compression, TarBuilder};
use pkgward_package::file_capabilities::XATTR_NAME;
use pkgward_package::rpm_builder::{self, rpm};
use std::path::{Path, PathBuf};
use std::process::Command;
mod common;
use common::{is_root, manifest, pkgward, rpm_install_without_scripts, text};

const PING_GRANTS: &str = "[[grant]]\nrepo = \"local\"\npackage = \"*\"\npaths = [\"/**\"]\nscripts = \"sandboxed\"\n\n[[grant]]\nrepo = \"local\"\npackage = \"pinger\"\nfile-capabilities = [\"/usr/bin/pinger=cap_net_raw\"]\n";

fn tool_available(tool: &str, argument: &str) -> bool {
    Command::new(tool)
        .arg(argument)
        .output()
        .is_ok_and(|output| output.status.success() || !output.stderr.is_empty())
}

fn pinger_rpm(directory: &Path) -> PathBuf {
    pinger_rpm_version(directory, "1.0")
}

fn pinger_rpm_version(directory: &Path, version: &str) -> PathBuf {
    let package = rpm::PackageBuilder::new("pinger", version, "MIT", "noarch", "pings")
        .release("1")
        .with_file_contents(
            format!("#!/bin/sh\necho ping {version}\n"),
            rpm::FileOptions::new("/usr/bin/pinger")
                .mode(rpm::FileMode::regular(0o755))
                .caps("cap_net_raw=ep")
                .unwrap(),
        )
        .unwrap()
        .with_file_contents(
            "pinger\n",
            rpm::FileOptions::new("/usr/share/pinger/data").mode(rpm::FileMode::regular(0o644)),
        )
        .unwrap()
        .build()
        .unwrap();
    let path = directory.join(format!("pinger-{version}.rpm"));
    rpm_builder::write(&package, &path).unwrap();
    path
}

/// iputils-ping's idiom: the binary is shipped plain and `postinst` gives it
/// its capability.
fn pinger_deb(directory: &Path) -> PathBuf {
    let mut data = TarBuilder::new();
    data.dir("./");
    data.dir("./usr/");
    data.dir("./usr/bin/");
    data.file("./usr/bin/pinger", 0o755, b"#!/bin/sh\necho ping\n");
    let control = "Package: pinger\nVersion: 1.0\nArchitecture: all\nMaintainer: Test <test@example.invalid>\nDescription: pings\n built by the file capabilities tests\n";
    let postinst: &[u8] = b"#!/bin/sh\nset -e\nif [ \"$1\" = configure ]; then\n    setcap cap_net_raw+ep /usr/bin/pinger\nfi\n";
    let bytes = deb_from_parts(
        &control_tar(control, &[("postinst", postinst, 0o755)]),
        &data.finish(),
        Compression::Xz,
    );
    let path = directory.join("pinger_1.0_all.deb");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn raw_capabilities(path: &Path) -> Option<Vec<u8>> {
    let file = std::fs::File::open(path).unwrap();
    let mut buffer = [0u8; 64];
    rustix::fs::fgetxattr(&file, XATTR_NAME, &mut buffer[..])
        .ok()
        .map(|length| buffer[..length].to_vec())
}

fn install(root: &Path, grants: Option<&Path>, package: &Path) -> std::process::Output {
    let mut arguments = vec!["install", "--root", root.to_str().unwrap()];
    if let Some(grants) = grants {
        arguments.extend(["--grants", grants.to_str().unwrap()]);
    }
    arguments.push(package.to_str().unwrap());
    pkgward(&arguments)
}

/// Refused without a grant, with the rule and the exact line to add, and
/// the root byte-identical afterwards.
fn assert_refused_without_grant(package: &Path, source: &str) {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("usr/bin")).unwrap();
    let before = manifest(root.path(), &[]);
    let output = install(root.path(), None, package);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "file capabilities `cap_net_raw=ep` on `/usr/bin/pinger` ({source})"
        )),
        "{}",
        text(&output)
    );
    assert!(
        stderr.contains("no grant for `pinger` in repo `local` gives `/usr/bin/pinger` the file capabilities `cap_net_raw`"),
        "{}",
        text(&output)
    );
    assert!(
        stderr.contains(
            "`[[grant]] package = \"pinger\" file-capabilities = [\"/usr/bin/pinger=cap_net_raw\"]`"
        ),
        "{}",
        text(&output)
    );
    assert_eq!(manifest(root.path(), &[]), before, "the root was changed");
}

#[test]
fn an_rpm_with_filecaps_is_refused_without_a_grant_and_matches_rpm_with_one() {
    if !is_root() {
        eprintln!("SKIPPED an_rpm_with_filecaps_is_refused_without_a_grant_and_matches_rpm_with_one: needs root (CAP_SETFCAP, chown)");
        return;
    }
    let directory = tempfile::tempdir().unwrap();
    let package = pinger_rpm(directory.path());
    assert_refused_without_grant(&package, "FILECAPS");

    let grants = directory.path().join("grants.toml");
    std::fs::write(&grants, PING_GRANTS).unwrap();
    let ours = tempfile::tempdir().unwrap();
    let output = install(ours.path(), Some(&grants), &package);
    assert!(output.status.success(), "{}", text(&output));
    let installed = ours.path().join("usr/bin/pinger");
    let bytes = raw_capabilities(&installed).expect("the installed file has capabilities");
    assert_eq!(
        bytes,
        pkgward_package::file_capabilities::FileCapabilities::parse("cap_net_raw=ep")
            .unwrap()
            .to_xattr()
    );
    if tool_available("getcap", "-h") {
        let getcap = Command::new("getcap").arg(&installed).output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&getcap.stdout).trim_end(),
            format!("{} cap_net_raw=ep", installed.display())
        );
    } else {
        eprintln!(
            "SKIPPED the getcap comparison: `getcap` not found (apt-get install -y libcap2-bin)"
        );
    }
    // rpm itself writes the same attribute from the same header.
    if tool_available("rpm", "--version") {
        let theirs = tempfile::tempdir().unwrap();
        let rpm_output = rpm_install_without_scripts(theirs.path(), std::slice::from_ref(&package));
        assert!(rpm_output.status.success(), "{}", text(&rpm_output));
        assert_eq!(
            raw_capabilities(&theirs.path().join("usr/bin/pinger")),
            Some(bytes.clone()),
            "rpm --root wrote other capability bytes"
        );
    } else {
        eprintln!("SKIPPED the rpm comparison: `rpm` is not installed (apt-get install rpm)");
    }

    // The database records them; `check` notices when they go.
    let root = ours.path().to_str().unwrap();
    let check = pkgward(&["check", "--root", root]);
    assert!(check.status.success(), "{}", text(&check));
    let file = std::fs::File::open(&installed).unwrap();
    rustix::fs::fremovexattr(&file, XATTR_NAME).unwrap();
    let check = pkgward(&["check", "--root", root]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    assert!(
        text(&check).contains("file capabilities none, recorded `cap_net_raw=ep`"),
        "{}",
        text(&check)
    );
}

#[test]
fn verify_explain_and_suggested_grants_cover_file_capabilities() {
    let directory = tempfile::tempdir().unwrap();
    let package = pinger_rpm(directory.path());
    let package_path = package.to_str().unwrap();
    let verify = pkgward(&["verify", package_path]);
    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify));
    assert!(
        text(&verify).contains("file-capabilities = [\\\"/usr/bin/pinger=cap_net_raw\\\"]")
            || text(&verify).contains("file-capabilities = [\"/usr/bin/pinger=cap_net_raw\"]"),
        "{}",
        text(&verify)
    );
    let explain = pkgward(&[
        "explain",
        package_path,
        "file-capabilities:/bin/pinger=cap_net_raw",
    ]);
    assert!(
        text(&explain).contains("`/usr/bin/pinger`"),
        "{}",
        text(&explain)
    );
    assert!(
        text(&explain).contains("verdict:   denied"),
        "{}",
        text(&explain)
    );
    let grants = directory.path().join("grants.toml");
    std::fs::write(&grants, PING_GRANTS).unwrap();
    let explain = pkgward(&[
        "explain",
        package_path,
        "file-capabilities:/usr/bin/pinger=cap_net_raw",
        "--grants",
        grants.to_str().unwrap(),
    ]);
    assert!(explain.status.success(), "{}", text(&explain));
    assert!(
        text(&explain).contains("file-capabilities grant `/usr/bin/pinger=cap_net_raw`"),
        "{}",
        text(&explain)
    );
    let verify = pkgward(&["verify", package_path, "--grants", grants.to_str().unwrap()]);
    assert!(verify.status.success(), "{}", text(&verify));
    // The least-privilege grant names the file and its capability, and is
    // accepted by verify.
    let suggested = directory.path().join("suggested.toml");
    let audit = pkgward(&[
        "audit",
        package_path,
        "--suggest-grants",
        suggested.to_str().unwrap(),
    ]);
    assert!(audit.status.success(), "{}", text(&audit));
    assert!(
        text(&audit).contains("file capabilities: /usr/bin/pinger cap_net_raw=ep (FILECAPS)"),
        "{}",
        text(&audit)
    );
    let written = std::fs::read_to_string(&suggested).unwrap();
    assert!(
        written.contains("file-capabilities = [\"/usr/bin/pinger=cap_net_raw\"]"),
        "{written}"
    );
    let verify = pkgward(&[
        "verify",
        package_path,
        "--grants",
        suggested.to_str().unwrap(),
    ]);
    assert!(verify.status.success(), "{}", text(&verify));
}

#[test]
fn a_deb_setcap_in_postinst_becomes_a_declarative_capability() {
    if !is_root() {
        eprintln!("SKIPPED a_deb_setcap_in_postinst_becomes_a_declarative_capability: needs root (CAP_SETFCAP, chown)");
        return;
    }
    let directory = tempfile::tempdir().unwrap();
    let package = pinger_deb(directory.path());
    assert_refused_without_grant(&package, "postinst: setcap");
    let grants = directory.path().join("grants.toml");
    std::fs::write(&grants, PING_GRANTS).unwrap();
    let root = tempfile::tempdir().unwrap();
    // The plan shows the capability it will set.
    let dry_run = pkgward(&[
        "install",
        "--dry-run",
        "--root",
        root.path().to_str().unwrap(),
        "--grants",
        grants.to_str().unwrap(),
        package.to_str().unwrap(),
    ]);
    assert!(dry_run.status.success(), "{}", text(&dry_run));
    assert!(
        text(&dry_run).contains("  file capabilities: /usr/bin/pinger cap_net_raw=ep"),
        "{}",
        text(&dry_run)
    );
    let output = install(root.path(), Some(&grants), &package);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        raw_capabilities(&root.path().join("usr/bin/pinger")),
        Some(
            pkgward_package::file_capabilities::FileCapabilities::parse("cap_net_raw+ep")
                .unwrap()
                .to_xattr()
                .to_vec()
        )
    );
    // The postinst was fully declarative: it did not run (no sandbox needed).
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("configured pinger"),
        "{}",
        text(&output)
    );
    let check = pkgward(&["check", "--root", root.path().to_str().unwrap()]);
    assert!(check.status.success(), "{}", text(&check));
}

/// THREATS 9 for capabilities: a hardlink someone made to the installed
/// binary does not keep the old version's capabilities after an upgrade.
#[test]
fn an_upgrade_strips_capabilities_from_a_hardlinked_old_inode() {
    if !is_root() {
        eprintln!("SKIPPED an_upgrade_strips_capabilities_from_a_hardlinked_old_inode: needs root (CAP_SETFCAP, chown)");
        return;
    }
    let directory = tempfile::tempdir().unwrap();
    let grants = directory.path().join("grants.toml");
    std::fs::write(&grants, PING_GRANTS).unwrap();
    let root = tempfile::tempdir().unwrap();
    let first = pinger_rpm_version(directory.path(), "1.0");
    let output = install(root.path(), Some(&grants), &first);
    assert!(output.status.success(), "{}", text(&output));
    let installed = root.path().join("usr/bin/pinger");
    let kept = root.path().join("usr/share/pinger/kept");
    std::fs::hard_link(&installed, &kept).unwrap();
    assert!(raw_capabilities(&kept).is_some());
    let second = pinger_rpm_version(directory.path(), "2.0");
    let output = install(root.path(), Some(&grants), &second);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        raw_capabilities(&kept),
        None,
        "the old inode kept its capabilities"
    );
    assert!(raw_capabilities(&installed).is_some());
    assert_eq!(
        std::fs::read_to_string(&installed).unwrap(),
        "#!/bin/sh\necho ping 2.0\n"
    );
}
