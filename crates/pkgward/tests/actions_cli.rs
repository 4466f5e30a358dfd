//! The actions phase end to end with the real `pkgward` binary: accounts and
//! unit enablement carried out declaratively (no maintainer script runs),
//! checked against `systemctl --root R enable`, every refusal with its rule
//! and hint and a byte-identical root, removal of the links, and a crash in
//! the middle of the action steps rolled forward by `pkgward recover`.
#![allow(clippy::print_stderr)]

use pkgward_package::deb_builder::{
    control_tar, deb_from_parts, Compression, RawHeader, TarBuilder,
};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
mod common;
use common::{is_root, manifest, pkgward, text};

macro_rules! require_root {
    () => {
        if !is_root() {
            eprintln!(
                "SKIPPED: this test needs root (account files and installed files are chowned)"
            );
            return;
        }
    };
}

fn tool_available(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// A minimal Debian account database, as base-passwd would leave it.
const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const GROUP: &str =
    "root:x:0:\ndaemon:x:1:\nadm:x:4:\nshadow:x:42:\nsudo:x:27:\nnogroup:x:65534:\n";

fn seeded_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    std::fs::write(root.path().join("etc/passwd"), PASSWD).unwrap();
    std::fs::write(root.path().join("etc/group"), GROUP).unwrap();
    root
}

/// A test service package: files (path, owner, content), control scripts.
struct ServiceDeb<'a> {
    name: &'a str,
    files: &'a [(&'a str, &'a str, &'a str)],
    scripts: &'a [(&'a str, &'a str)],
}

fn build(directory: &Path, deb: &ServiceDeb<'_>) -> PathBuf {
    build_version(directory, deb, "1.0")
}

fn build_version(directory: &Path, deb: &ServiceDeb<'_>, version: &str) -> PathBuf {
    let mut data = TarBuilder::new();
    data.dir("./");
    let mut made = std::collections::BTreeSet::new();
    for (path, owner, content) in deb.files {
        let mut prefix = String::from(".");
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        for part in &parts[..parts.len() - 1] {
            prefix = format!("{prefix}/{part}");
            if made.insert(prefix.clone()) {
                data.dir(&format!("{prefix}/"));
            }
        }
        let mut header = RawHeader::file(format!(".{path}").as_bytes(), content.len() as u64);
        header.mode = 0o644;
        header.owner = owner.as_bytes().to_vec();
        header.group = owner.as_bytes().to_vec();
        data.entry(&header, content.as_bytes());
    }
    let control = format!(
        "Package: {}\nVersion: {version}\nArchitecture: all\nMaintainer: Test <test@example.invalid>\nDescription: test service\n built by the actions tests\n",
        deb.name
    );
    let scripts: Vec<(&str, &[u8], u32)> = deb
        .scripts
        .iter()
        .map(|(name, body)| (*name, body.as_bytes(), 0o755))
        .collect();
    let bytes = deb_from_parts(
        &control_tar(&control, &scripts),
        &data.finish(),
        Compression::Xz,
    );
    let path = directory.join(format!("{}_{version}_all.deb", deb.name));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The uid `name` has in the root's passwd.
fn uid_of(root: &Path, name: &str) -> Option<u32> {
    std::fs::read_to_string(root.join("etc/passwd"))
        .unwrap()
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields[0] == name).then(|| fields[2].parse().unwrap())
        })
}

const SERVICE_UNIT: &str = "[Unit]\nDescription=svc\n[Service]\nUser=svc\nExecStart=/usr/bin/svc\n[Install]\nWantedBy=multi-user.target\nAlias=svc-alias.service\n";
const ENABLE_POSTINST: &str = "#!/bin/sh\nset -e\n# Automatically added by dh_installsystemd/13.11.4\nif [ \"$1\" = \"configure\" ]; then\n\tdeb-systemd-helper unmask 'svc.service' >/dev/null || true\n\tif deb-systemd-helper --quiet was-enabled 'svc.service'; then\n\t\tdeb-systemd-helper enable 'svc.service' >/dev/null || true\n\telse\n\t\tdeb-systemd-helper update-state 'svc.service' >/dev/null || true\n\tfi\nfi\n# End automatically added section\n";

fn service_deb(directory: &Path) -> PathBuf {
    build(
        directory,
        &ServiceDeb {
            name: "svc",
            files: &[
                (
                    "/usr/lib/sysusers.d/svc.conf",
                    "root",
                    "u svc - \"svc daemon\" /var/lib/svc\n",
                ),
                ("/lib/systemd/system/svc.service", "root", SERVICE_UNIT),
                ("/var/lib/svc/state", "svc", "state\n"),
            ],
            scripts: &[("postinst", ENABLE_POSTINST)],
        },
    )
}

#[test]
fn accounts_are_created_before_the_packages_files_are_owned_and_units_enabled() {
    require_root!();
    let work = tempfile::tempdir().unwrap();
    let deb = service_deb(work.path());
    let root = seeded_root();
    let root_path = root.path().to_str().unwrap();
    let dry = pkgward(&[
        "install",
        "--root",
        root_path,
        "--dry-run",
        "--json",
        deb.to_str().unwrap(),
    ]);
    assert!(dry.status.success(), "{}", text(&dry));
    let plan: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    let kinds: Vec<&str> = plan["packages"][0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|action| action["action"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"accounts") && kinds.contains(&"enable-unit"),
        "{kinds:?}"
    );

    let installed = pkgward(&["install", "--root", root_path, deb.to_str().unwrap()]);
    assert!(installed.status.success(), "{}", text(&installed));
    let passwd = std::fs::read_to_string(root.path().join("etc/passwd")).unwrap();
    assert!(
        passwd.starts_with(PASSWD),
        "existing lines kept byte for byte:\n{passwd}"
    );
    assert!(
        passwd.contains("svc:x:999:999:svc daemon:/var/lib/svc:/usr/sbin/nologin\n"),
        "{passwd}"
    );
    let shadow = std::fs::read_to_string(root.path().join("etc/shadow")).unwrap();
    assert!(shadow.starts_with("svc:!*:"), "{shadow}");
    let shadow_metadata = std::fs::metadata(root.path().join("etc/shadow")).unwrap();
    assert_eq!(
        (shadow_metadata.mode() & 0o7777, shadow_metadata.gid()),
        (0o640, 42)
    );
    // The file owned by the user the same transaction created.
    let state = std::fs::metadata(root.path().join("var/lib/svc/state")).unwrap();
    assert_eq!((state.uid(), state.gid()), (999, 999));
    assert!(
        !String::from_utf8_lossy(&installed.stdout).contains("is not in the root's /etc/passwd")
    );
    for link in [
        "etc/systemd/system/multi-user.target.wants/svc.service",
        "etc/systemd/system/svc-alias.service",
    ] {
        assert_eq!(
            std::fs::read_link(root.path().join(link)).unwrap(),
            Path::new("/lib/systemd/system/svc.service"),
            "{link}"
        );
    }
    let check = pkgward(&["check", "--root", root_path]);
    assert!(check.status.success(), "{}", text(&check));
    let recorded = pkgward(&["files", "--root", root_path, "--actions", "svc"]);
    let recorded = String::from_utf8_lossy(&recorded.stdout);
    assert!(
        recorded.contains("accounts from `/usr/lib/sysusers.d/svc.conf`"),
        "{recorded}"
    );
    assert!(recorded.contains("enable `svc.service`"), "{recorded}");

    // Removal deletes the links; the account stays, as with Debian packages.
    let removed = pkgward(&["remove", "--root", root_path, "--purge", "svc"]);
    assert!(removed.status.success(), "{}", text(&removed));
    assert!(!root
        .path()
        .join("etc/systemd/system/svc-alias.service")
        .exists());
    assert!(std::fs::symlink_metadata(
        root.path()
            .join("etc/systemd/system/multi-user.target.wants/svc.service")
    )
    .is_err());
    assert_eq!(uid_of(root.path(), "svc"), Some(999));
}

/// Each refusal: exit status 1, the problem names what and why, a `hint:`,
/// and the root is byte-identical afterwards.
fn assert_refused(deb: &ServiceDeb<'_>, extra_root: &[(&str, &str)], expected: &[&str]) {
    assert_refused_with(deb, extra_root, expected, &[]);
}

/// The embedded default's grant plus the `tmpfiles` guarded location, so a
/// tmpfiles.d file is judged on its content.
const TMPFILES_GRANTS: &str = "[[grant]]\npackage = \"*\"\npaths = [\"/**\"]\nguarded = [\"systemd-units\", \"sysusers\", \"tmpfiles\"]\nusers = [\"*\"]\ngroups = [\"*\"]\nservices = [\"*\"]\nscripts = \"sandboxed\"\n";

fn grants_file(directory: &Path) -> PathBuf {
    let path = directory.join("grants.toml");
    std::fs::write(&path, TMPFILES_GRANTS).unwrap();
    path
}

fn assert_refused_with(
    deb: &ServiceDeb<'_>,
    extra_root: &[(&str, &str)],
    expected: &[&str],
    arguments: &[&str],
) {
    let work = tempfile::tempdir().unwrap();
    let grants = grants_file(work.path());
    let deb = build(work.path(), deb);
    let root = seeded_root();
    for (path, content) in extra_root {
        let path = root.path().join(path.trim_start_matches('/'));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    let before = manifest(root.path(), &[]);
    let mut all = vec![
        "install",
        "--root",
        root.path().to_str().unwrap(),
        deb.to_str().unwrap(),
    ];
    for argument in arguments {
        all.push(if *argument == "GRANTS" {
            grants.to_str().unwrap()
        } else {
            argument
        });
    }
    let output = pkgward(&all);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(stderr.contains("error: refused"), "{stderr}");
    for needle in expected {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
    assert!(stderr.contains("hint"), "{stderr}");
    assert_eq!(manifest(root.path(), &[]), before, "the root changed");
}

#[test]
fn a_unit_without_user_runs_as_root_and_is_refused_without_a_grant() {
    assert_refused(
        &ServiceDeb {
            name: "rootsvc",
            files: &[(
                "/lib/systemd/system/rootsvc.service",
                "root",
                "[Service]\nExecStart=/usr/bin/x\n[Install]\nWantedBy=multi-user.target\n",
            )],
            scripts: &[],
        },
        &[],
        &[
            "service `rootsvc.service` running as `root`",
            "denied by <embedded default>",
            "users = [\"root\"]",
        ],
    );
}

#[test]
fn a_unit_with_user_root_is_refused_without_a_grant() {
    assert_refused(
        &ServiceDeb {
            name: "rootsvc",
            files: &[(
                "/lib/systemd/system/rootsvc.service",
                "root",
                "[Service]\nUser=root\nExecStart=/usr/bin/x\n",
            )],
            scripts: &[],
        },
        &[],
        &["service `rootsvc.service` running as `root`", "denied by"],
    );
}

#[test]
fn a_sysusers_line_with_uid_0_is_refused() {
    assert_refused(
        &ServiceDeb {
            name: "evil",
            files: &[(
                "/usr/lib/sysusers.d/evil.conf",
                "root",
                "u toor 0 - /root\n",
            )],
            scripts: &[],
        },
        &[],
        &["user `toor`", "line 1", "uid 0 is root's"],
    );
}

#[test]
fn a_sysusers_name_with_a_colon_is_refused_threats_31() {
    assert_refused(
        &ServiceDeb {
            name: "evil",
            files: &[("/usr/lib/sysusers.d/evil.conf", "root", "u a:0:0 -\n")],
            scripts: &[],
        },
        &[],
        &["accounts from `/usr/lib/sysusers.d/evil.conf` line 1"],
    );
}

#[test]
fn an_alias_taking_a_foreign_units_name_is_refused_threats_32() {
    assert_refused(
        &ServiceDeb {
            name: "svc",
            files: &[(
                "/lib/systemd/system/svc.service",
                "root",
                "[Service]\nUser=nobody\nExecStart=/usr/bin/x\n[Install]\nAlias=dbus.service\n",
            )],
            scripts: &[(
                "postinst",
                "#!/bin/sh\ndeb-systemd-helper enable svc.service\n",
            )],
        },
        &[(
            "/lib/systemd/system/dbus.service",
            "[Service]\nExecStart=/usr/bin/dbus-daemon\n",
        )],
        &[
            "`Alias=dbus.service` of `svc.service`",
            "exists at `/lib/systemd/system/dbus.service`",
        ],
    );
}

#[test]
fn a_fixed_uid_another_account_holds_is_refused_before_anything_is_staged() {
    let passwd = format!("{PASSWD}other:x:990:65534::/nonexistent:/usr/sbin/nologin\n");
    assert_refused(
        &ServiceDeb {
            name: "svc",
            files: &[("/usr/lib/sysusers.d/svc.conf", "root", "u svc 990\n")],
            scripts: &[],
        },
        &[("/etc/passwd", &passwd)],
        &["the accounts of this transaction", "990", "`other`"],
    );
}

#[test]
fn adduser_into_the_sudo_group_is_refused() {
    assert_refused(
        &ServiceDeb {
            name: "sneaky",
            files: &[("/usr/share/doc/sneaky/README", "root", "hi\n")],
            scripts: &[(
                "postinst",
                "#!/bin/sh\nset -e\nadduser --system --group sneaky\nadduser sneaky sudo\n",
            )],
        },
        &[],
        &["group `sudo`", "postinst: adduser/addgroup", "denied by"],
    );
}

#[test]
fn tmpfiles_lines_and_script_path_attributes_are_carried_out_at_install() {
    require_root!();
    let work = tempfile::tempdir().unwrap();
    let deb = build(
        work.path(),
        &ServiceDeb {
            name: "svc",
            files: &[
                ("/usr/lib/sysusers.d/svc.conf", "root", "u svc -\n"),
                (
                    "/usr/lib/tmpfiles.d/svc.conf",
                    "root",
                    "d /var/cache/svc 0750 svc svc -\nf /etc/svc/default 0640 root svc - hello\nL /etc/svc/link - - - - /usr/share/svc/data\nC /etc/svc/copy - - - - /usr/share/svc/data\nz /usr/share/svc/data 0600 svc - -\nr /tmp/whatever\n",
                ),
                ("/usr/share/svc/data", "root", "data\n"),
                ("/usr/bin/svc-tool", "root", "#!/bin/sh\n"),
            ],
            scripts: &[(
                "postinst",
                "#!/bin/sh\nset -e\ninstall -d -m 0755 /var/lib/svc\nchown svc:svc /var/lib/svc\nchmod 2750 /var/lib/svc\ndpkg-statoverride --update --add root svc 0750 /usr/bin/svc-tool\nchown svc /etc/passwd-not-mine\n",
            )],
        },
    );
    let root = seeded_root();
    let root_path = root.path().to_str().unwrap();
    std::fs::create_dir_all(root.path().join("etc/svc")).unwrap();
    std::fs::write(root.path().join("etc/svc/copy"), "administrator's\n").unwrap();
    let grants = grants_file(work.path());
    let grants = grants.to_str().unwrap();
    let installed = pkgward(&[
        "install",
        "--root",
        root_path,
        "--grants",
        grants,
        deb.to_str().unwrap(),
    ]);
    assert!(installed.status.success(), "{}", text(&installed));
    let uid = uid_of(root.path(), "svc").unwrap();
    let attributes = |path: &str| {
        let metadata = std::fs::symlink_metadata(root.path().join(path)).unwrap();
        (metadata.mode() & 0o7777, metadata.uid(), metadata.gid())
    };
    assert_eq!(attributes("var/cache/svc"), (0o750, uid, uid));
    assert_eq!(attributes("etc/svc/default"), (0o640, 0, uid));
    assert_eq!(
        std::fs::read_to_string(root.path().join("etc/svc/default")).unwrap(),
        "hello"
    );
    assert_eq!(
        std::fs::read_link(root.path().join("etc/svc/link")).unwrap(),
        Path::new("/usr/share/svc/data")
    );
    // `C` without `+` keeps what is there.
    assert_eq!(
        std::fs::read_to_string(root.path().join("etc/svc/copy")).unwrap(),
        "administrator's\n"
    );
    assert_eq!(attributes("usr/share/svc/data"), (0o600, uid, 0));
    assert_eq!(attributes("var/lib/svc"), (0o2750, uid, uid));
    assert_eq!(attributes("usr/bin/svc-tool"), (0o750, 0, uid));
    let dry = pkgward(&[
        "install",
        "--root",
        root_path,
        "--dry-run",
        deb.to_str().unwrap(),
    ]);
    let plan = String::from_utf8_lossy(&dry.stdout);
    assert!(
        plan.contains("`/etc/passwd-not-mine` is not a path this package ships or creates"),
        "{plan}"
    );
    assert!(!root.path().join("etc/passwd-not-mine").exists());
}

#[test]
fn a_statoverride_adding_setuid_is_refused_without_a_setuid_grant() {
    assert_refused(
        &ServiceDeb {
            name: "tool",
            files: &[("/usr/bin/tool", "root", "#!/bin/sh\n")],
            scripts: &[(
                "postinst",
                "#!/bin/sh\ndpkg-statoverride --update --add root root 4755 /usr/bin/tool\n",
            )],
        },
        &[],
        &[
            "setuid/setgid mode on `/usr/bin/tool` (postinst: dpkg-statoverride)",
            "denied by",
        ],
    );
}

#[test]
fn a_chown_of_the_shadow_file_is_refused() {
    assert_refused(
        &ServiceDeb {
            name: "tool",
            files: &[("/usr/share/doc/tool/README", "root", "hi\n")],
            scripts: &[("postinst", "#!/bin/sh\nchown nobody /etc/shadow\n")],
        },
        &[],
        &["`/etc/shadow` (postinst: chown)", "account-database"],
    );
}

#[test]
fn a_tmpfiles_line_on_the_whole_root_is_refused() {
    assert_refused_with(
        &ServiceDeb {
            name: "tool",
            files: &[("/usr/lib/tmpfiles.d/tool.conf", "root", "Z / 0777 - - -\n")],
            scripts: &[],
        },
        &[],
        &["`Z` (`/usr/lib/tmpfiles.d/tool.conf` line 1)", "on `/`"],
        &["--grants", "GRANTS"],
    );
}

const ALTERNATIVE_POSTINST: &str = "#!/bin/sh\nset -e\nif [ \"$1\" = configure ]; then\n    update-alternatives --install /usr/bin/editor editor /usr/bin/svc-editor 50 \\\n        --slave /usr/share/man/man1/editor.1.gz editor.1.gz /usr/share/man/man1/svc-editor.1.gz\nfi\n";

/// `update-alternatives --install` from a postinst is carried out in dpkg's
/// layout: the admin file and the link chain equal what the real
/// `update-alternatives --root` makes; removal takes them away again.
#[test]
fn alternatives_are_registered_like_update_alternatives_and_removed_with_the_package() {
    require_root!();
    let work = tempfile::tempdir().unwrap();
    let deb = build(
        work.path(),
        &ServiceDeb {
            name: "svc-editor",
            files: &[
                ("/usr/bin/svc-editor", "root", "#!/bin/sh\n"),
                ("/usr/share/man/man1/svc-editor.1.gz", "root", "man\n"),
            ],
            scripts: &[("postinst", ALTERNATIVE_POSTINST)],
        },
    );
    let root = seeded_root();
    let root_path = root.path().to_str().unwrap();
    let installed = pkgward(&["install", "--root", root_path, deb.to_str().unwrap()]);
    assert!(installed.status.success(), "{}", text(&installed));
    let state = |base: &Path| -> BTreeMap<String, String> {
        manifest(base, &[])
            .into_iter()
            .filter(|(path, _)| {
                path.starts_with("etc/alternatives/")
                    || path.starts_with("var/lib/dpkg/alternatives/")
                    || path == "usr/bin/editor"
                    || path == "usr/share/man/man1/editor.1.gz"
            })
            .collect()
    };
    let ours = state(root.path());
    assert_eq!(ours.len(), 5, "{ours:#?}");
    if tool_available("update-alternatives") {
        let copy = tempfile::tempdir().unwrap();
        let copied = Command::new("cp")
            .args([
                "-a",
                &format!("{root_path}/."),
                copy.path().to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(copied.status.success());
        for path in ["etc/alternatives", "var/lib/dpkg/alternatives"] {
            std::fs::remove_dir_all(copy.path().join(path)).unwrap();
            std::fs::create_dir_all(copy.path().join(path)).unwrap();
        }
        std::fs::remove_file(copy.path().join("usr/bin/editor")).unwrap();
        std::fs::remove_file(copy.path().join("usr/share/man/man1/editor.1.gz")).unwrap();
        let peer = Command::new("update-alternatives")
            .args([
                "--root",
                copy.path().to_str().unwrap(),
                "--install",
                "/usr/bin/editor",
                "editor",
                "/usr/bin/svc-editor",
                "50",
                "--slave",
                "/usr/share/man/man1/editor.1.gz",
                "editor.1.gz",
                "/usr/share/man/man1/svc-editor.1.gz",
            ])
            .output()
            .unwrap();
        assert!(peer.status.success(), "{}", text(&peer));
        assert_eq!(ours, state(copy.path()));
    } else {
        eprintln!("SKIPPED (conformance part): update-alternatives is absent");
    }
    let removed = pkgward(&["remove", "--root", root_path, "svc-editor"]);
    assert!(removed.status.success(), "{}", text(&removed));
    assert_eq!(state(root.path()), BTreeMap::new());
}

/// An upgrade whose unit no longer has `Alias=` drops the alias link the
/// previous version's enablement made, and keeps the others.
#[test]
fn an_upgrade_removes_enablement_links_the_new_version_no_longer_makes() {
    require_root!();
    let work = tempfile::tempdir().unwrap();
    let first = service_deb(work.path());
    let unit = SERVICE_UNIT.replace("Alias=svc-alias.service\n", "");
    let second = build_version(
        work.path(),
        &ServiceDeb {
            name: "svc",
            files: &[
                (
                    "/usr/lib/sysusers.d/svc.conf",
                    "root",
                    "u svc - \"svc daemon\" /var/lib/svc\n",
                ),
                ("/lib/systemd/system/svc.service", "root", &unit),
                ("/var/lib/svc/state", "svc", "state\n"),
            ],
            scripts: &[("postinst", ENABLE_POSTINST)],
        },
        "2.0",
    );
    let root = seeded_root();
    let root_path = root.path().to_str().unwrap();
    for deb in [&first, &second] {
        let installed = pkgward(&["install", "--root", root_path, deb.to_str().unwrap()]);
        assert!(installed.status.success(), "{}", text(&installed));
    }
    assert!(
        std::fs::symlink_metadata(root.path().join("etc/systemd/system/svc-alias.service"))
            .is_err()
    );
    assert!(std::fs::read_link(
        root.path()
            .join("etc/systemd/system/multi-user.target.wants/svc.service")
    )
    .is_ok());
    let passwd = std::fs::read_to_string(root.path().join("etc/passwd")).unwrap();
    assert_eq!(
        passwd
            .lines()
            .filter(|line| line.starts_with("svc:"))
            .count(),
        1,
        "{passwd}"
    );
}

#[test]
fn a_crash_in_the_middle_of_the_action_steps_is_rolled_forward_by_recover() {
    require_root!();
    let work = tempfile::tempdir().unwrap();
    let deb = service_deb(work.path());
    // 1: after the account files, before any package file; 2: between the
    // two enablement links.
    for failpoint in ["commit-action-step:1", "commit-action-step:2"] {
        let root = seeded_root();
        let root_path = root.path().to_str().unwrap();
        let crashed = Command::new(env!("CARGO_BIN_EXE_pkgward"))
            .args(["install", "--root", root_path, deb.to_str().unwrap()])
            .env("PKGWARD_FAILPOINT", failpoint)
            .output()
            .unwrap();
        assert!(!crashed.status.success(), "{failpoint}: {}", text(&crashed));
        assert!(
            root.path().join("var/lib/pkgward/journal").exists(),
            "{failpoint}"
        );
        let recovered = pkgward(&["recover", "--root", root_path]);
        assert!(
            recovered.status.success(),
            "{failpoint}: {}",
            text(&recovered)
        );
        assert_eq!(uid_of(root.path(), "svc"), Some(999), "{failpoint}");
        let passwd = std::fs::read_to_string(root.path().join("etc/passwd")).unwrap();
        assert_eq!(
            passwd
                .lines()
                .filter(|line| line.starts_with("svc:"))
                .count(),
            1,
            "{failpoint}: {passwd}"
        );
        for link in [
            "etc/systemd/system/multi-user.target.wants/svc.service",
            "etc/systemd/system/svc-alias.service",
        ] {
            assert!(
                std::fs::read_link(root.path().join(link)).is_ok(),
                "{failpoint}: {link}"
            );
        }
        let state = std::fs::metadata(root.path().join("var/lib/svc/state")).unwrap();
        assert_eq!(state.uid(), 999, "{failpoint}");
        let check = pkgward(&["check", "--root", root_path]);
        assert!(check.status.success(), "{failpoint}: {}", text(&check));
        let listed = pkgward(&["list", "--root", root_path]);
        assert!(
            String::from_utf8_lossy(&listed.stdout).contains("svc"),
            "{failpoint}"
        );
    }
}

fn corpus() -> Option<PathBuf> {
    let candidate = std::env::var_os("PKGWARD_CORPUS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
        PathBuf::from,
    );
    candidate.join("debs").is_dir().then_some(candidate)
}

const FIVE: &[&str] = &[
    "redis-tools",
    "redis-server",
    "openssh-server",
    "chrony",
    "cron",
    "avahi-daemon",
];

/// The done-when: redis-server (with redis-tools, whose postinst
/// creates `redis`), openssh-server, chrony, cron and avahi-daemon from the
/// corpus, into a root holding base-passwd's account files (their library
/// dependencies are not in the corpus: `--ignore-depends`). Their accounts
/// and enablement are made declaratively: no maintainer script runs (no host
/// keys, no System V links), and the links equal those of `systemctl --root
/// R2 enable` in a copy.
#[test]
fn the_five_corpus_services_get_their_accounts_and_enablement_declaratively() {
    require_root!();
    let Some(corpus) = corpus() else {
        eprintln!("SKIPPED: the shared corpus is absent (set PKGWARD_CORPUS)");
        return;
    };
    if !tool_available("dpkg-deb") {
        eprintln!("SKIPPED: dpkg-deb is needed to read base-passwd's account files");
        return;
    }
    let debs = corpus.join("debs");
    let find = |name: &str| -> PathBuf {
        std::fs::read_dir(&debs)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .find(|path| {
                path.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&format!("{name}_"))
            })
            .unwrap_or_else(|| panic!("{name} is not in the corpus"))
    };
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    for (master, target) in [
        ("passwd.master", "etc/passwd"),
        ("group.master", "etc/group"),
    ] {
        let extracted = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "dpkg-deb --fsys-tarfile '{}' | tar -xO ./usr/share/base-passwd/{master}",
                find("base-passwd").display()
            ))
            .output()
            .unwrap();
        assert!(extracted.status.success());
        std::fs::write(root.path().join(target), extracted.stdout).unwrap();
    }
    let passwd_before = std::fs::read_to_string(root.path().join("etc/passwd")).unwrap();
    let group_before = std::fs::read_to_string(root.path().join("etc/group")).unwrap();
    let grants = root
        .path()
        .parent()
        .unwrap()
        .join(format!("five-grants-{}.toml", std::process::id()));
    // These daemons start as root (and drop privileges themselves), ship
    // init scripts, PAM and D-Bus files: the grant names all of it.
    std::fs::write(
        &grants,
        "[[grant]]\npackage = \"*\"\npaths = [\"/**\"]\nguarded = [\"*\"]\nusers = [\"*\", \"root\"]\ngroups = [\"*\", \"adm\"]\nservices = [\"*\"]\nsetuid = [\"/usr/bin/crontab\"]\nscripts = \"sandboxed\"\n",
    )
    .unwrap();
    let root_path = root.path().to_str().unwrap().to_owned();
    // The root has no shell for the scripts' residue (openssh-server's
    // postinst would fail on the missing `/bin/sh`): the declarative actions
    // are what this test is about.
    let mut arguments = vec![
        "install".to_owned(),
        "--no-scripts".to_owned(),
        "--root".to_owned(),
        root_path.clone(),
        "--grants".to_owned(),
        grants.to_str().unwrap().to_owned(),
        "--ignore-depends".to_owned(),
        FIVE.join(","),
    ];
    arguments.extend(
        FIVE.iter()
            .map(|name| find(name).to_str().unwrap().to_owned()),
    );
    let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
    let installed = pkgward(&arguments);
    let _ = std::fs::remove_file(&grants);
    assert!(installed.status.success(), "{}", text(&installed));

    let passwd = std::fs::read_to_string(root.path().join("etc/passwd")).unwrap();
    let group = std::fs::read_to_string(root.path().join("etc/group")).unwrap();
    assert!(passwd.starts_with(&passwd_before) && group.starts_with(&group_before));
    for user in ["redis", "sshd", "_chrony", "avahi"] {
        assert!(
            uid_of(root.path(), user).is_some_and(|uid| (1..1000).contains(&uid)),
            "{user}: {passwd}"
        );
    }
    assert!(
        passwd.contains(":65534::/run/sshd:/usr/sbin/nologin\n"),
        "sshd is in nogroup, like adduser --system: {passwd}"
    );
    for name in ["redis", "_chrony", "avahi", "netdev"] {
        assert!(
            group
                .lines()
                .any(|line| line.starts_with(&format!("{name}:x:"))),
            "{name}: {group}"
        );
    }
    let shadow = std::fs::read_to_string(root.path().join("etc/shadow")).unwrap();
    let gshadow = std::fs::read_to_string(root.path().join("etc/gshadow")).unwrap();
    for user in ["redis", "sshd", "_chrony", "avahi"] {
        assert!(shadow.contains(&format!("{user}:!*:")), "{shadow}");
    }
    assert!(gshadow.contains("netdev:!*::"), "{gshadow}");
    // Path attributes from the scripts (redis-tools' `install -d`, `chown`,
    // `chmod`; redis-server's `dpkg-statoverride`).
    let redis = uid_of(root.path(), "redis").unwrap();
    for (path, mode) in [
        ("etc/redis", 0o2770),
        ("var/lib/redis", 0o750),
        ("var/log/redis", 0o2750),
        ("etc/redis/redis.conf", 0o640),
    ] {
        let metadata = std::fs::metadata(root.path().join(path)).unwrap();
        assert_eq!(
            (metadata.mode() & 0o7777, metadata.uid()),
            (mode, redis),
            "{path}"
        );
    }
    let chrony = std::fs::metadata(root.path().join("var/lib/chrony")).unwrap();
    assert_eq!(
        (chrony.mode() & 0o7777, chrony.uid()),
        (0o750, uid_of(root.path(), "_chrony").unwrap())
    );
    // `root:crontab 2755`: no package here creates `crontab`, so nothing is
    // given to a fallback group.
    let crontab = std::fs::metadata(root.path().join("usr/bin/crontab")).unwrap();
    assert_eq!(crontab.mode() & 0o6000, 0);
    let check = pkgward(&["check", "--root", &root_path]);
    assert!(check.status.success(), "{}", text(&check));
    // No maintainer script ran: no host keys (ssh-keygen is postinst residue),
    // no System V links (update-rc.d was translated to nothing).
    assert!(!root.path().join("etc/ssh/ssh_host_ed25519_key").exists());
    assert!(!root.path().join("etc/rc2.d").exists());

    let units = [
        "redis-server.service",
        "ssh.service",
        "chrony.service",
        "cron.service",
        "avahi-daemon.service",
        "avahi-daemon.socket",
    ];
    if !tool_available("systemctl") {
        eprintln!("SKIPPED (conformance part): systemctl is absent");
        return;
    }
    let copy = tempfile::tempdir().unwrap();
    let copied = Command::new("cp")
        .args([
            "-a",
            &format!("{root_path}/."),
            copy.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(copied.status.success());
    let _ = std::fs::remove_dir_all(copy.path().join("etc/systemd/system"));
    // systemctl would run the root's update-rc.d for units with init scripts.
    let _ = std::fs::remove_dir_all(copy.path().join("etc/init.d"));
    let enabled = Command::new("systemctl")
        .args(["--root", copy.path().to_str().unwrap(), "enable"])
        .args(units)
        .output()
        .unwrap();
    assert!(enabled.status.success(), "{}", text(&enabled));
    let links = |base: &Path| -> BTreeMap<String, String> {
        manifest(&base.join("etc/systemd"), &[])
            .into_iter()
            .filter(|(_, description)| description.starts_with("link"))
            .collect()
    };
    let ours = links(root.path());
    assert_eq!(ours.len(), 10, "{ours:#?}");
    assert_eq!(ours, links(copy.path()));

    let removed = pkgward(&[
        "remove",
        "--no-scripts",
        "--root",
        &root_path,
        "cron",
        "openssh-server",
    ]);
    assert!(removed.status.success(), "{}", text(&removed));
    assert_eq!(links(root.path()).len(), 7);
    assert!(uid_of(root.path(), "sshd").is_some(), "accounts stay");
}

#[test]
fn audit_shows_the_actions_and_what_the_policy_would_refuse() {
    let work = tempfile::tempdir().unwrap();
    let deb = build(
        work.path(),
        &ServiceDeb {
            name: "svc",
            files: &[
                ("/usr/lib/sysusers.d/svc.conf", "root", "u svc -\n"),
                ("/lib/systemd/system/svc.service", "root", SERVICE_UNIT),
            ],
            scripts: &[(
                "postinst",
                "#!/bin/sh\ndeb-systemd-helper enable svc.service\nadduser svc sudo\n",
            )],
        },
    );
    let output = pkgward(&["audit", "--actions", "--json", deb.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let entry = &report["actions"][0];
    assert_eq!(entry["package"], "svc");
    let kinds: Vec<&str> = entry["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|action| action["action"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"accounts") && kinds.contains(&"enable-unit"),
        "{kinds:?}"
    );
    assert!(
        entry["refused"].to_string().contains("group `sudo`"),
        "{entry}"
    );
    assert_eq!(report["footprints"][0]["package"], "svc");
}

/// A preset file in the root that disables the unit wins over the script's
/// enable; one that enables a unit no script mentions enables it.
#[test]
fn presets_in_the_root_are_honoured() {
    require_root!();
    let work = tempfile::tempdir().unwrap();
    let deb = service_deb(work.path());
    let root = seeded_root();
    let root_path = root.path().to_str().unwrap();
    let presets = root.path().join("usr/lib/systemd/system-preset");
    std::fs::create_dir_all(&presets).unwrap();
    std::fs::write(presets.join("90-test.preset"), "disable svc.service\n").unwrap();
    let installed = pkgward(&["install", "--root", root_path, deb.to_str().unwrap()]);
    assert!(installed.status.success(), "{}", text(&installed));
    assert!(!root.path().join("etc/systemd").exists());
    let dry = pkgward(&[
        "install",
        "--root",
        root_path,
        "--dry-run",
        deb.to_str().unwrap(),
    ]);
    assert!(
        String::from_utf8_lossy(&dry.stdout).contains("a preset rule in the root disables it"),
        "{}",
        text(&dry)
    );

    let quiet = build(
        work.path(),
        &ServiceDeb {
            name: "quiet",
            files: &[(
                "/lib/systemd/system/quiet.service",
                "root",
                &SERVICE_UNIT
                    .replace("svc-alias", "quiet-alias")
                    .replace("User=svc", "User=nobody"),
            )],
            scripts: &[],
        },
    );
    std::fs::write(presets.join("80-quiet.preset"), "enable quiet.service\n").unwrap();
    let installed = pkgward(&["install", "--root", root_path, quiet.to_str().unwrap()]);
    assert!(installed.status.success(), "{}", text(&installed));
    assert!(std::fs::read_link(
        root.path()
            .join("etc/systemd/system/multi-user.target.wants/quiet.service")
    )
    .is_ok());
}
