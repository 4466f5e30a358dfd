//! `.rpm` packages through the CLI: `inspect --json` agrees with
//! `rpm -qp --dump` / `--scripts`, the format is detected by magic bytes,
//! `verify`/`audit` judge rpm packages, a mixed `.deb` + `.rpm` transaction
//! is refused, and `install --root R` leaves the same tree as
//! `rpm --root R2 -i --nodeps --noscripts --nosignature`.
//! Tests needing rpm or root skip LOUDLY without them.
#![allow(clippy::print_stderr, clippy::disallowed_methods)]

use pkgward_package::rpm_builder::{self, rpm};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
mod common;
use common::{
    manifest, one_file_rpm as one_file_package, pkgward, rpm_install_without_scripts, text,
    write_rpm as write,
};

/// Both package managers' own state, left out when comparing trees.
const PACKAGE_MANAGER_STATE: &[&str] = &[
    "var/lib/pkgward",
    "var/lib/rpm",
    "usr/lib/sysimage/rpm",
    "var/tmp",
];

fn rpm_available() -> bool {
    Command::new("rpm")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

fn scripted() -> rpm::Package {
    rpm::PackageBuilder::new("scripted", "2.0", "MIT", "noarch", "scriptlets")
        .release("1")
        .with_file_contents(
            "x = 1\n",
            rpm::FileOptions::new("/etc/scripted.conf")
                .mode(rpm::FileMode::regular(0o644))
                .is_config(),
        )
        .unwrap()
        .with_file_contents(
            "#!/bin/sh\n",
            rpm::FileOptions::new("/usr/bin/scripted").mode(rpm::FileMode::regular(0o755)),
        )
        .unwrap()
        .pre_install_script("echo pre\n")
        .post_install_script(rpm::Scriptlet::new("print(\"lua\")").prog(vec!["<lua>"]))
        .post_trans_script(rpm::Scriptlet::new("print 1;\n").prog(vec!["/usr/bin/perl"]))
        .build()
        .unwrap()
}

fn inspect_json(path: &Path) -> serde_json::Value {
    let output = pkgward(&["inspect", "--json", path.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn rpm_query(path: &Path, arguments: &[&str]) -> String {
    let output = Command::new("rpm")
        .args(["-qp", "--nosignature"])
        .args(arguments)
        .arg(path)
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn inspect_json_agrees_with_rpm_dump_and_scripts() {
    if !rpm_available() {
        eprintln!("SKIPPED inspect_json_agrees_with_rpm_dump_and_scripts: `rpm` is not installed (apt-get install rpm)");
        return;
    }
    let directory = tempfile::tempdir().unwrap();
    let packages = [
        write(
            directory.path(),
            "sample",
            &rpm_builder::sample("sample", 25, rpm::CompressionType::Zstd).unwrap(),
        ),
        write(directory.path(), "scripted", &scripted()),
    ];
    for path in &packages {
        let json = inspect_json(path);
        assert_eq!(json["format"], "rpm");
        let entries: BTreeMap<String, &serde_json::Value> = json["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| (entry["path"].as_str().unwrap().to_owned(), entry))
            .collect();
        let conffiles: Vec<&str> = json["conffiles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let mut placed = 0;
        for line in rpm_query(path, &["--dump"]).lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let (file_path, size, digest, mode, owner, group, config, target) = (
                fields[0], fields[1], fields[3], fields[4], fields[5], fields[6], fields[7],
                fields[10],
            );
            let mode = u32::from_str_radix(mode, 8).unwrap();
            let Some(entry) = entries.get(file_path) else {
                // Only %ghost files are listed by rpm and not placed.
                assert!(
                    file_path.starts_with("/var/log/"),
                    "`{file_path}` missing from inspect"
                );
                continue;
            };
            placed += 1;
            assert_eq!(
                entry["mode"],
                format!("{:04o}", mode & 0o7777),
                "{file_path}"
            );
            assert_eq!(entry["owner"], owner, "{file_path}");
            assert_eq!(entry["group"], group, "{file_path}");
            match mode & 0o170_000 {
                0o100_000 => {
                    assert_eq!(entry["type"], "file");
                    assert_eq!(entry["size"].to_string(), size, "{file_path}");
                    assert_eq!(entry["sha256"], digest, "{file_path}");
                }
                0o120_000 => {
                    assert_eq!(entry["type"], "symlink");
                    assert_eq!(entry["target"], target, "{file_path}");
                }
                0o040_000 => assert_eq!(entry["type"], "dir"),
                other => panic!("type {other:o}"),
            }
            assert_eq!(conffiles.contains(&file_path), config == "1", "{file_path}");
        }
        assert_eq!(placed, entries.len());
        // Scriptlets: kind, interpreter, and size (our bytes are `#!PROG\n` + body).
        let scripts = rpm_query(path, &["--scripts"]);
        let mut theirs = Vec::new();
        for line in scripts.lines() {
            if let Some((kind, rest)) = line
                .strip_suffix(':')
                .and_then(|heading| heading.split_once(" scriptlet"))
            {
                let program = rest
                    .trim()
                    .strip_prefix("(using ")
                    .and_then(|p| p.strip_suffix(')'))
                    .unwrap_or("/bin/sh");
                theirs.push((kind.to_owned(), program.to_owned()));
            }
        }
        let names = |kind: &str| match kind {
            "preinstall" => "preinst",
            "postinstall" => "postinst",
            "preuninstall" => "prerm",
            "postuninstall" => "postrm",
            other => {
                if other == "pretrans" {
                    "pretrans"
                } else {
                    "posttrans"
                }
            }
        };
        let ours: Vec<(String, String)> = json["scripts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|script| {
                (
                    script["name"].as_str().unwrap().to_owned(),
                    script["interpreter"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let mut expected: Vec<(String, String)> = theirs
            .iter()
            .map(|(kind, program)| (names(kind).to_owned(), program.clone()))
            .collect();
        let mut ours_sorted = ours.clone();
        expected.sort();
        ours_sorted.sort();
        assert_eq!(ours_sorted, expected, "{}", path.display());
    }
}

#[test]
fn the_format_comes_from_the_magic_bytes_not_the_name() {
    let directory = tempfile::tempdir().unwrap();
    let rpm_path = write(
        directory.path(),
        "sample",
        &rpm_builder::sample("sample", 2, rpm::CompressionType::Gzip).unwrap(),
    );
    let disguised = directory.path().join("sample_1.0_all.deb");
    std::fs::copy(&rpm_path, &disguised).unwrap();
    assert_eq!(inspect_json(&disguised)["format"], "rpm");
    let garbage = directory.path().join("garbage.rpm");
    std::fs::write(&garbage, b"neither format").unwrap();
    let output = pkgward(&["inspect", garbage.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("not a .deb"),
        "{}",
        text(&output)
    );
}

#[test]
fn verify_and_audit_judge_rpm_packages() {
    let directory = tempfile::tempdir().unwrap();
    let path = write(directory.path(), "scripted", &scripted());
    // The default policy guards /etc and scripts; the verdict names them.
    let output = pkgward(&["verify", "--json", path.to_str().unwrap()]);
    let json: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{}", text(&output)));
    let items = json[0]["checked"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|item| item.to_string().contains("/usr/bin/scripted")),
        "{json}"
    );
    assert_eq!(json[0]["package"], "scripted");
    // The builder writes `EPOCH 0`; a present epoch is shown, as rpm's `%{EVR}` does.
    assert_eq!(json[0]["version"], "0:2.0-1");
    let audit = pkgward(&["audit", path.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&audit.stdout).contains("scripted"),
        "{}",
        text(&audit)
    );
}

#[test]
fn a_mixed_deb_and_rpm_transaction_is_refused_and_changes_nothing() {
    use pkgward_package::deb_builder::{control_tar, deb_from_parts, Compression, TarBuilder};
    let directory = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let rpm_path = write(
        directory.path(),
        "sample",
        &rpm_builder::sample("sample", 2, rpm::CompressionType::Gzip).unwrap(),
    );
    let mut data = TarBuilder::new();
    data.dir("./");
    data.dir("./usr/");
    data.dir("./usr/share/");
    data.file("./usr/share/hello.txt", 0o644, b"hello\n");
    let control = "Package: hello\nVersion: 1.0\nArchitecture: all\nMaintainer: T <t@example.invalid>\nDescription: test\n";
    let deb_path = directory.path().join("hello_1.0_all.deb");
    std::fs::write(
        &deb_path,
        deb_from_parts(
            &control_tar(control, &[]),
            &data.finish(),
            Compression::Gzip,
        ),
    )
    .unwrap();
    let output = pkgward(&[
        "install",
        "--root",
        root.path().to_str().unwrap(),
        deb_path.to_str().unwrap(),
        rpm_path.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot install `.deb` and `.rpm` packages in one transaction"),
        "{stderr}"
    );
    assert!(stderr.contains("hint:"), "{stderr}");
    assert_eq!(
        std::fs::read_dir(root.path()).unwrap().count(),
        0,
        "the root was changed"
    );
}

#[test]
fn install_agrees_with_rpm_install_on_the_resulting_tree() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED install_agrees_with_rpm_install_on_the_resulting_tree: needs root (files are chowned)");
        return;
    }
    if !rpm_available() {
        eprintln!("SKIPPED install_agrees_with_rpm_install_on_the_resulting_tree: `rpm` is not installed (apt-get install rpm)");
        return;
    }
    let directory = tempfile::tempdir().unwrap();
    let mut packages = Vec::new();
    for (index, compression) in [
        rpm::CompressionType::Gzip,
        rpm::CompressionType::Xz,
        rpm::CompressionType::Zstd,
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("tree{index}");
        packages.push(write(
            directory.path(),
            &name,
            &rpm_builder::sample(&name, 30, compression).unwrap(),
        ));
    }
    let ours = tempfile::tempdir().unwrap();
    let theirs = tempfile::tempdir().unwrap();
    let grants = directory.path().join("grants.toml");
    std::fs::write(&grants, "[[grant]]\nrepo = \"local\"\npackage = \"*\"\npaths = [\"/**\"]\nguarded = [\"*\"]\nscripts = \"sandboxed\"\n").unwrap();
    let mut arguments = vec![
        "install".to_owned(),
        "--root".to_owned(),
        ours.path().to_string_lossy().into_owned(),
        "--grants".to_owned(),
        grants.to_string_lossy().into_owned(),
    ];
    arguments.extend(
        packages
            .iter()
            .map(|path| path.to_string_lossy().into_owned()),
    );
    let output = Command::new(env!("CARGO_BIN_EXE_pkgward"))
        .args(&arguments)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let status = rpm_install_without_scripts(theirs.path(), &packages);
    assert!(status.status.success(), "{}", text(&status));
    let ours_manifest = manifest(ours.path(), PACKAGE_MANAGER_STATE);
    let theirs_manifest = manifest(theirs.path(), PACKAGE_MANAGER_STATE);
    let differences: Vec<String> = ours_manifest
        .keys()
        .chain(theirs_manifest.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|path| ours_manifest.get(*path) != theirs_manifest.get(*path))
        .map(|path| {
            format!(
                "{path}: pkgward {:?}, rpm {:?}",
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
    assert!(ours_manifest.len() > 90, "{} paths", ours_manifest.len());
    let list = pkgward(&["list", "--root", ours.path().to_str().unwrap()]);
    assert_eq!(
        String::from_utf8_lossy(&list.stdout).lines().count(),
        3,
        "{}",
        text(&list)
    );
    let check = pkgward(&["check", "--root", ours.path().to_str().unwrap()]);
    assert!(check.status.success(), "{}", text(&check));
}

/// The actions phase works on rpm packages unchanged: a `sysusers.d` file in
/// the payload creates the account before the files it owns are placed, and
/// a preset in the root enables the unit (Fedora's `%systemd_post` defers
/// to presets).
#[test]
fn an_rpm_with_sysusers_and_a_unit_gets_its_account_and_preset_enablement() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED an_rpm_with_sysusers_and_a_unit_gets_its_account_and_preset_enablement: needs root (account files and files are chowned)");
        return;
    }
    let directory = tempfile::tempdir().unwrap();
    let unit = "[Unit]\nDescription=svc\n[Service]\nUser=svc\nExecStart=/usr/bin/svc\n[Install]\nWantedBy=multi-user.target\n";
    let package = rpm::PackageBuilder::new("svc", "1.0", "MIT", "x86_64", "a service")
        .release("1.fc40")
        .with_file_contents(
            "u svc - \"svc daemon\" /var/lib/svc\n",
            rpm::FileOptions::new("/usr/lib/sysusers.d/svc.conf").mode(rpm::FileMode::regular(0o644)),
        )
        .unwrap()
        .with_file_contents(unit, rpm::FileOptions::new("/usr/lib/systemd/system/svc.service").mode(rpm::FileMode::regular(0o644)))
        .unwrap()
        .with_file_contents(
            "state\n",
            rpm::FileOptions::new("/var/lib/svc/state").mode(rpm::FileMode::regular(0o640)).user("svc").group("svc"),
        )
        .unwrap()
        .post_install_script(
            "if [ $1 -eq 1 ] && [ -x \"/usr/lib/systemd/systemd-update-helper\" ]; then\n    /usr/lib/systemd/systemd-update-helper install-system-units svc.service || :\nfi\n",
        )
        .build()
        .unwrap();
    let path = write(directory.path(), "svc", &package);
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc/systemd/system-preset")).unwrap();
    std::fs::write(
        root.path().join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\n",
    )
    .unwrap();
    std::fs::write(root.path().join("etc/group"), "root:x:0:\n").unwrap();
    std::fs::write(
        root.path().join("etc/systemd/system-preset/50-test.preset"),
        "enable svc.service\n",
    )
    .unwrap();
    let root_path = root.path().to_str().unwrap();
    // `--no-scripts`: the root has no `/bin/sh` to run the `%post` residue
    // with; the accounts and enablement are pkgward's own actions.
    let installed = pkgward(&[
        "install",
        "--no-scripts",
        "--root",
        root_path,
        path.to_str().unwrap(),
    ]);
    assert!(installed.status.success(), "{}", text(&installed));
    let passwd = std::fs::read_to_string(root.path().join("etc/passwd")).unwrap();
    assert!(
        passwd.contains("svc:x:999:999:svc daemon:/var/lib/svc:"),
        "{passwd}"
    );
    let state = std::fs::metadata(root.path().join("var/lib/svc/state")).unwrap();
    assert_eq!(
        (state.uid(), state.gid(), state.mode() & 0o7777),
        (999, 999, 0o640)
    );
    assert_eq!(
        std::fs::read_link(
            root.path()
                .join("etc/systemd/system/multi-user.target.wants/svc.service")
        )
        .unwrap(),
        Path::new("/usr/lib/systemd/system/svc.service")
    );
    let check = pkgward(&["check", "--root", root_path]);
    assert!(check.status.success(), "{}", text(&check));
}

/// rpm Requires reach the planner as relations judged with rpm ordering: an
/// unmet one is refused by name (a dry run changes nothing), a provider in
/// the same transaction meets it (`libfoo = 2.0` is met by `libfoo-2.0-3`,
/// release ignored as rpm does; `>= 2.0~rc1` by `2.0`), and
/// `--ignore-depends` lets it through.
#[test]
fn rpm_requires_are_checked_with_rpm_ordering() {
    let directory = tempfile::tempdir().unwrap();
    let consumer = one_file_package("consumer", "1.0", "1")
        .requires(rpm::Dependency::eq("libfoo", "2.0"))
        .requires(rpm::Dependency::greater_eq("libfoo-api", "2.0~rc1"))
        .build()
        .unwrap();
    let provider = one_file_package("libfoo", "2.0", "3")
        .provides(rpm::Dependency::eq("libfoo-api", "2.0"))
        .build()
        .unwrap();
    let consumer = write(directory.path(), "consumer", &consumer);
    let provider = write(directory.path(), "libfoo", &provider);
    let root = tempfile::tempdir().unwrap();
    let root_path = root.path().to_str().unwrap();
    let alone = pkgward(&[
        "install",
        "--dry-run",
        "--root",
        root_path,
        consumer.to_str().unwrap(),
    ]);
    assert_eq!(alone.status.code(), Some(1), "{}", text(&alone));
    let output = text(&alone);
    assert!(
        output.contains("`consumer` Depends `libfoo (= 2.0)`: not satisfied"),
        "{output}"
    );
    assert!(
        output.contains("`consumer` Depends `libfoo-api (>= 2.0~rc1)`: not satisfied"),
        "{output}"
    );
    let together = pkgward(&[
        "install",
        "--dry-run",
        "--root",
        root_path,
        consumer.to_str().unwrap(),
        provider.to_str().unwrap(),
    ]);
    assert!(together.status.success(), "{}", text(&together));
    let ignored = pkgward(&[
        "install",
        "--dry-run",
        "--ignore-depends",
        "consumer",
        "--root",
        root_path,
        consumer.to_str().unwrap(),
    ]);
    assert!(ignored.status.success(), "{}", text(&ignored));
    assert_eq!(
        std::fs::read_dir(root.path()).unwrap().count(),
        0,
        "a dry run changes nothing"
    );
}

/// An installed rpm whose version dpkg would refuse (`1.0^git1`) does not
/// make the root's database unreadable for the next transaction.
#[test]
fn a_second_transaction_reads_back_an_rpm_only_version() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED a_second_transaction_reads_back_an_rpm_only_version: needs root (files are chowned)");
        return;
    }
    let directory = tempfile::tempdir().unwrap();
    let first = one_file_package("snapshot", "1.0^git1", "0.1")
        .build()
        .unwrap();
    let second = one_file_package("other", "2", "1")
        .requires(rpm::Dependency::greater("snapshot", "1.0"))
        .build()
        .unwrap();
    let first = write(directory.path(), "snapshot", &first);
    let second = write(directory.path(), "other", &second);
    let root = tempfile::tempdir().unwrap();
    let root_path = root.path().to_str().unwrap();
    let installed = pkgward(&["install", "--root", root_path, first.to_str().unwrap()]);
    assert!(installed.status.success(), "{}", text(&installed));
    // `snapshot > 1.0` holds only in rpm ordering (`^` sorts after the end).
    let again = pkgward(&["install", "--root", root_path, second.to_str().unwrap()]);
    assert!(again.status.success(), "{}", text(&again));
    let list = pkgward(&["list", "--root", root_path]);
    assert_eq!(
        String::from_utf8_lossy(&list.stdout).lines().count(),
        2,
        "{}",
        text(&list)
    );
}

/// Lua scriptlets run inside rpm's own process: nothing can sandbox them, so
/// the plan needs unconfined scripts and a policy that allows only sandboxed
/// ones refuses the package (docs/rpm.md); the same package without the Lua
/// scriptlet is admitted, and so is the Lua one under an unconfined policy.
#[test]
fn a_lua_scriptlet_is_refused_unless_the_policy_allows_unconfined_scripts() {
    let directory = tempfile::tempdir().unwrap();
    let build = |name: &str, lua: bool| {
        let mut builder = rpm::PackageBuilder::new(name, "1.0", "MIT", "noarch", "scriptlets")
            .release("1")
            .with_file_contents(
                "x\n",
                rpm::FileOptions::new(format!("/usr/share/{name}/data"))
                    .mode(rpm::FileMode::regular(0o644)),
            )
            .unwrap()
            .pre_install_script("exit 0\n");
        if lua {
            builder = builder
                .post_install_script(rpm::Scriptlet::new("print(\"hello\")").prog(vec!["<lua>"]));
        }
        write(directory.path(), name, &builder.build().unwrap())
    };
    let with_lua = build("withlua", true);
    let without_lua = build("withoutlua", false);
    let grants = directory.path().join("grants.toml");
    std::fs::write(&grants, "[[grant]]\nrepo = \"local\"\npackage = \"*\"\npaths = [\"/**\"]\nscripts = \"sandboxed\"\n").unwrap();
    let root = tempfile::tempdir().unwrap();
    let root_path = root.path().to_str().unwrap();
    let refused = pkgward(&[
        "install",
        "--dry-run",
        "--grants",
        grants.to_str().unwrap(),
        "--root",
        root_path,
        with_lua.to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let output = text(&refused);
    assert!(output.contains("unconfined"), "{output}");
    assert!(
        output.contains("`unconfined` maintainer scripts (postinst) denied"),
        "{output}"
    );
    assert!(output.contains("rpm Lua scriptlet"), "{output}");
    let admitted = pkgward(&[
        "install",
        "--dry-run",
        "--grants",
        grants.to_str().unwrap(),
        "--root",
        root_path,
        without_lua.to_str().unwrap(),
    ]);
    assert!(admitted.status.success(), "{}", text(&admitted));
    let policy = directory.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[[repo]]\nname = \"local\"\nceiling = { paths = [\"/**\"], scripts = \"unconfined\" }\n\n[[grant]]\nrepo = \"local\"\npackage = \"*\"\npaths = [\"/**\"]\nscripts = \"unconfined\"\n",
    )
    .unwrap();
    let allowed = pkgward(&[
        "install",
        "--dry-run",
        "--policy",
        policy.to_str().unwrap(),
        "--root",
        root_path,
        with_lua.to_str().unwrap(),
    ]);
    assert!(allowed.status.success(), "{}", text(&allowed));
}

/// A minimal `.deb` named `name` with one file, for the format tests.
fn one_file_deb(directory: &Path, name: &str) -> PathBuf {
    use pkgward_package::deb_builder::{control_tar, deb_from_parts, Compression, TarBuilder};
    let mut data = TarBuilder::new();
    data.dir("./");
    data.dir("./usr/");
    data.dir("./usr/share/");
    data.file(&format!("./usr/share/{name}.txt"), 0o644, b"hello\n");
    let control = format!("Package: {name}\nVersion: 1.0\nArchitecture: all\nMaintainer: T <t@example.invalid>\nDescription: test\n");
    let path = directory.join(format!("{name}_1.0_all.deb"));
    std::fs::write(
        &path,
        deb_from_parts(
            &control_tar(&control, &[]),
            &data.finish(),
            Compression::Gzip,
        ),
    )
    .unwrap();
    path
}

/// The database records each package's format, and an installed rpm's
/// version is compared with rpm ordering: `1.a` sorts *before* `1.0` for
/// rpm (`testdata/rpm-version-pairs.txt`: `1.a 1.0 -1`) and after it for
/// dpkg, so replacing `1.0-1` by `1.a-1` is a downgrade, and the reverse an
/// upgrade.
#[test]
fn an_installed_rpm_is_recorded_as_rpm_and_upgrades_follow_rpm_ordering() {
    if !common::is_root() {
        eprintln!("SKIPPED an_installed_rpm_is_recorded_as_rpm_and_upgrades_follow_rpm_ordering: needs root (files are chowned)");
        return;
    }
    let directory = tempfile::tempdir().unwrap();
    let one = write(
        directory.path(),
        "tool-1.0",
        &one_file_package("tool", "1.0", "1").build().unwrap(),
    );
    let letter = write(
        directory.path(),
        "tool-1.a",
        &one_file_package("tool", "1.a", "1").build().unwrap(),
    );
    // Where dpkg is here, it confirms the pair disagrees (1.a after 1.0).
    assert!(
        Command::new("dpkg")
            .args(["--compare-versions", "1.a-1", "gt", "1.0-1"])
            .status()
            .map_or(true, |status| status.success()),
        "dpkg orders 1.a after 1.0: the pair must disagree"
    );
    let root = tempfile::tempdir().unwrap();
    let root_path = root.path().to_str().unwrap();
    let installed = pkgward(&["install", "--root", root_path, one.to_str().unwrap()]);
    assert!(installed.status.success(), "{}", text(&installed));
    let list = pkgward(&["list", "--json", "--root", root_path]);
    let rows: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(rows[0]["format"], "rpm", "{rows}");
    let downgrade = pkgward(&[
        "install",
        "--dry-run",
        "--root",
        root_path,
        letter.to_str().unwrap(),
    ]);
    assert!(downgrade.status.success(), "{}", text(&downgrade));
    let output = text(&downgrade);
    // The `rpm` crate's builder always writes an epoch, which `%{EVR}` shows.
    assert!(
        output.contains("tool (downgrade 0:1.0-1 -> 0:1.a-1)"),
        "{output}"
    );
    // Installed `1.a-1` (read back from the database as rpm), then `1.0-1`.
    let replaced = pkgward(&["install", "--root", root_path, letter.to_str().unwrap()]);
    assert!(replaced.status.success(), "{}", text(&replaced));
    let output = text(&replaced);
    assert!(
        output.contains("downgrading `tool` from 0:1.0-1 to 0:1.a-1 (rpm version ordering)"),
        "{output}"
    );
    let upgrade = pkgward(&[
        "install",
        "--dry-run",
        "--json",
        "--root",
        root_path,
        one.to_str().unwrap(),
    ]);
    assert!(upgrade.status.success(), "{}", text(&upgrade));
    let plan: serde_json::Value = serde_json::from_slice(&upgrade.stdout).unwrap();
    assert_eq!(plan["packages"][0]["previous_version"], "0:1.a-1", "{plan}");
    assert_eq!(plan["packages"][0]["downgrade"], false, "{plan}");
    assert_eq!(plan["packages"][0]["format"], "rpm", "{plan}");
}

/// A root holds packages of one format across transactions too: a `.deb`
/// into a root with rpm packages is refused (and the reverse), naming the
/// installed package, with a hint; the root's database is unchanged.
#[test]
fn a_deb_into_an_rpm_root_and_an_rpm_into_a_deb_root_are_refused() {
    if !common::is_root() {
        eprintln!("SKIPPED a_deb_into_an_rpm_root_and_an_rpm_into_a_deb_root_are_refused: needs root (files are chowned)");
        return;
    }
    let directory = tempfile::tempdir().unwrap();
    let rpm_path = write(
        directory.path(),
        "tool",
        &one_file_package("tool", "1.0", "1").build().unwrap(),
    );
    let deb_path = one_file_deb(directory.path(), "hello");
    for (first, second, message) in [
        (
            &rpm_path,
            &deb_path,
            "(a .deb) into a root holding .rpm packages: `tool` 0:1.0-1 is an .rpm",
        ),
        (
            &deb_path,
            &rpm_path,
            "(an .rpm) into a root holding .deb packages: `hello` 1.0 is a .deb",
        ),
    ] {
        let root = tempfile::tempdir().unwrap();
        let root_path = root.path().to_str().unwrap();
        let installed = pkgward(&["install", "--root", root_path, first.to_str().unwrap()]);
        assert!(installed.status.success(), "{}", text(&installed));
        // The lock file holds the last holder's pid.
        let state = ["var/lib/pkgward/db.sqlite-shm", "var/lib/pkgward/lock"];
        let before = manifest(root.path(), &state);
        for dry_run in [true, false] {
            let mut arguments = vec!["install", "--root", root_path];
            if dry_run {
                arguments.push("--dry-run");
            }
            arguments.push(second.to_str().unwrap());
            let refused = pkgward(&arguments);
            assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
            let stderr = String::from_utf8_lossy(&refused.stderr);
            assert!(stderr.contains(message), "{stderr}");
            assert!(
                stderr.contains("hint: a root holds packages of one format"),
                "{stderr}"
            );
        }
        assert_eq!(manifest(root.path(), &state), before);
    }
}

/// Fedora's account idiom in `%pre` (packaging guidelines, `UsersAndGroups`)
/// is fully declarative: `install` creates the group and the user in all
/// four account files from the classified `groupadd -r`/`useradd -r`, the
/// unit's `User=foo` is then a known account, and the `%pre` itself never
/// runs (no shell in this root, no run recorded).
#[test]
fn the_fedora_pre_account_idiom_creates_the_accounts_without_running_pre() {
    if !common::is_root() {
        eprintln!("SKIPPED the_fedora_pre_account_idiom_creates_the_accounts_without_running_pre: needs root (account files and files are chowned)");
        return;
    }
    let directory = tempfile::tempdir().unwrap();
    let unit = "[Unit]\nDescription=foo\n[Service]\nUser=foo\nGroup=foo\nExecStart=/usr/bin/foo\n[Install]\nWantedBy=multi-user.target\n";
    let package = rpm::PackageBuilder::new("foo", "1.0", "MIT", "x86_64", "a daemon")
        .release("1.fc40")
        .with_file_contents(
            unit,
            rpm::FileOptions::new("/usr/lib/systemd/system/foo.service")
                .mode(rpm::FileMode::regular(0o644)),
        )
        .unwrap()
        .with_file_contents(
            "state\n",
            rpm::FileOptions::new("/var/lib/foo/state")
                .mode(rpm::FileMode::regular(0o640))
                .user("foo")
                .group("foo"),
        )
        .unwrap()
        .pre_install_script(
            "getent group foo >/dev/null || groupadd -r foo\ngetent passwd foo >/dev/null || \\\n    useradd -r -g foo -d /var/lib/foo -s /sbin/nologin \\\n    -c \"Foo daemon\" foo\nexit 0\n",
        )
        .build()
        .unwrap();
    let path = write(directory.path(), "foo", &package);
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    for (file, content) in [
        ("passwd", "root:x:0:0:root:/root:/bin/bash\n"),
        ("group", "root:x:0:\n"),
        ("shadow", "root:*:19000:0:99999:7:::\n"),
        ("gshadow", "root:*::\n"),
    ] {
        std::fs::write(root.path().join("etc").join(file), content).unwrap();
    }
    let root_path = root.path().to_str().unwrap();
    let plan = pkgward(&[
        "install",
        "--dry-run",
        "--root",
        root_path,
        path.to_str().unwrap(),
    ]);
    assert!(plan.status.success(), "{}", text(&plan));
    assert!(
        text(&plan).contains("script preinst: not run (FullyDeclarative"),
        "{}",
        text(&plan)
    );
    let installed = pkgward(&["install", "--root", root_path, path.to_str().unwrap()]);
    assert!(installed.status.success(), "{}", text(&installed));
    let read = |file: &str| std::fs::read_to_string(root.path().join("etc").join(file)).unwrap();
    assert!(
        read("passwd").contains("foo:x:999:999:Foo daemon:/var/lib/foo:/sbin/nologin\n"),
        "{}",
        read("passwd")
    );
    assert!(read("group").contains("foo:x:999:\n"), "{}", read("group"));
    assert!(read("shadow").contains("\nfoo:!"), "{}", read("shadow"));
    assert!(read("gshadow").contains("\nfoo:!"), "{}", read("gshadow"));
    let state = std::fs::metadata(root.path().join("var/lib/foo/state")).unwrap();
    assert_eq!((state.uid(), state.gid()), (999, 999));
    let scripts = pkgward(&["scripts", "--json", "--root", root_path, "foo"]);
    assert!(scripts.status.success(), "{}", text(&scripts));
    let scripts: serde_json::Value = serde_json::from_slice(&scripts.stdout).unwrap();
    assert_eq!(scripts["scripts"][0]["name"], "preinst", "{scripts}");
    assert_eq!(scripts["scripts"][0]["run"], false, "{scripts}");
    assert_eq!(scripts["runs"], serde_json::json!([]), "{scripts}");
    // Fedora's soft-static form (`-g 27`, `-u 27`) keeps its ids.
    let fixed = rpm::PackageBuilder::new("mysql", "8.0", "GPL", "x86_64", "a database")
        .with_file_contents(
            "data\n",
            rpm::FileOptions::new("/var/lib/mysql/data")
                .mode(rpm::FileMode::regular(0o640))
                .user("mysql")
                .group("mysql"),
        )
        .unwrap()
        .pre_install_script(
            "getent group mysql >/dev/null || groupadd -r -g 27 mysql\ngetent passwd mysql >/dev/null || useradd -r -u 27 -g mysql -d /var/lib/mysql -s /sbin/nologin mysql\n",
        )
        .build()
        .unwrap();
    let fixed = write(directory.path(), "mysql", &fixed);
    let installed = pkgward(&["install", "--root", root_path, fixed.to_str().unwrap()]);
    assert!(installed.status.success(), "{}", text(&installed));
    assert!(
        read("passwd").contains("mysql:x:27:27::/var/lib/mysql:/sbin/nologin\n"),
        "{}",
        read("passwd")
    );
    assert!(read("group").contains("mysql:x:27:\n"), "{}", read("group"));
    let data = std::fs::metadata(root.path().join("var/lib/mysql/data")).unwrap();
    assert_eq!((data.uid(), data.gid()), (27, 27));
    let check = pkgward(&["check", "--root", root_path]);
    assert!(check.status.success(), "{}", text(&check));
}
