//! Peer conformance: on every package built here, the reader agrees with
//! rpm itself — `rpm -qp --dump` (paths, sizes, modes, owners, groups,
//! digests, link targets, config flags, ghosts) and `rpm -qp --scripts`
//! (scriptlet kinds, interpreters, bodies) — and `rpm -K` accepts the
//! package. Skips LOUDLY when rpm is not installed (CI installs it).
#![allow(clippy::print_stderr, clippy::disallowed_methods)]

use pkgward_package::rpm_builder::{self, rpm};
use pkgward_package::{EntryKind, Limits, Package, ScriptName};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Packages exercising every mapping: compressions, scriptlet kinds and
/// interpreters (Lua included), dependencies with every comparison,
/// `%config` with and without `noreplace`, ghosts, capabilities, owners.
fn variants() -> Vec<(String, rpm::Package)> {
    let mut packages = Vec::new();
    for (name, compression) in [
        ("sample-gzip", rpm::CompressionType::Gzip),
        ("sample-xz", rpm::CompressionType::Xz),
        ("sample-zstd", rpm::CompressionType::Zstd),
    ] {
        packages.push((
            name.to_owned(),
            rpm_builder::sample(name, 40, compression).unwrap(),
        ));
    }
    let scripted = rpm::PackageBuilder::new(
        "scripted",
        "2.0~rc1^git3",
        "MIT",
        "noarch",
        "all scriptlets",
    )
    .epoch(3)
    .release("1")
    .with_file_contents(
        "[main]\n",
        rpm::FileOptions::new("/etc/scripted/main.conf")
            .mode(rpm::FileMode::regular(0o600))
            .is_config(),
    )
    .unwrap()
    .with_file_contents(
        "binary",
        rpm::FileOptions::new("/usr/sbin/scripted")
            .mode(rpm::FileMode::regular(0o750))
            .user("daemon")
            .group("adm")
            .caps("cap_net_bind_service=ep")
            .unwrap(),
    )
    .unwrap()
    .pre_install_script("getent group scripted >/dev/null || groupadd -r scripted\n")
    .post_install_script(rpm::Scriptlet::new("print(\"hello from lua\")").prog(vec!["<lua>"]))
    .pre_uninstall_script(rpm::Scriptlet::new("print 'bye';\n").prog(vec!["/usr/bin/perl", "-w"]))
    .post_uninstall_script("rm -f /var/cache/scripted/*\n")
    .pre_trans_script(rpm::Scriptlet::new("return 0").prog(vec!["<lua>"]))
    .post_trans_script("systemctl daemon-reload || :\n")
    .requires(rpm::Dependency::greater_eq("bash", "5.1-2"))
    .requires(rpm::Dependency::less("glibc", "3"))
    .requires(rpm::Dependency::any("/bin/sh"))
    .requires(rpm::Dependency::script_pre("shadow-utils"))
    .provides(rpm::Dependency::eq("scripted-api", "2"))
    .conflicts(rpm::Dependency::less_eq("oldscripted", "1:1.0"))
    .obsoletes(rpm::Dependency::greater("legacy", "0.9"))
    .build()
    .unwrap();
    packages.push(("scripted".to_owned(), scripted));
    packages
}

fn rpm_available() -> bool {
    Command::new("rpm")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

fn rpm_query(path: &Path, arguments: &[&str]) -> String {
    let output = Command::new("rpm")
        .args(["-qp", "--nosignature"])
        .args(arguments)
        .arg(path)
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "rpm {arguments:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `--dump`: `path size mtime digest mode owner group isconfig isdoc rdev symlink`.
fn check_dump(path: &Path, package: &Package) {
    let dump = rpm_query(path, &["--dump"]);
    let ghosts = package.field("Ghost-Files").unwrap_or("");
    let mut checked = 0;
    for line in dump.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields.len(), 11, "unexpected --dump line {line:?}");
        let (file_path, size, digest, mode, owner, group, config, target) = (
            fields[0], fields[1], fields[3], fields[4], fields[5], fields[6], fields[7], fields[10],
        );
        let mode = u32::from_str_radix(mode, 8).unwrap();
        let Some(entry) = package.entries.iter().find(|entry| entry.path == file_path) else {
            let ghost = ghosts
                .lines()
                .find(|ghost| ghost.split(' ').next() == Some(file_path));
            let ghost =
                ghost.unwrap_or_else(|| panic!("`{file_path}` is neither an entry nor a ghost"));
            assert_eq!(ghost, format!("{file_path} {mode:o} {owner}:{group}"));
            checked += 1;
            continue;
        };
        let expected_kind = match mode & 0o170_000 {
            0o100_000 => EntryKind::File,
            0o040_000 => EntryKind::Dir,
            0o120_000 => EntryKind::Symlink,
            other => panic!("unexpected type {other:o}"),
        };
        assert_eq!(entry.kind, expected_kind, "{file_path}");
        assert_eq!(entry.mode, mode & 0o7777, "{file_path}");
        assert_eq!(entry.owner, owner, "{file_path}");
        assert_eq!(entry.group, group, "{file_path}");
        if entry.kind == EntryKind::File {
            assert_eq!(entry.size.to_string(), size, "{file_path}");
            assert_eq!(entry.sha256.as_deref(), Some(digest), "{file_path}");
        }
        if entry.kind == EntryKind::Symlink {
            assert_eq!(entry.target.as_deref(), Some(target), "{file_path}");
        }
        assert_eq!(
            package
                .conffiles
                .iter()
                .any(|conffile| conffile == file_path),
            config == "1",
            "{file_path}"
        );
        checked += 1;
    }
    assert_eq!(
        checked,
        package.entries.len() + ghosts.lines().count(),
        "rpm lists a different number of files"
    );
}

/// `--scripts`: `KIND scriptlet[ (using PROG)]:` then the body and a newline.
fn check_scripts(path: &Path, package: &Package) {
    let text = rpm_query(path, &["--scripts"]);
    let mut theirs: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut current: Option<(String, String, String)> = None;
    for line in text.split_inclusive('\n') {
        let heading = line
            .strip_suffix(":\n")
            .and_then(|heading| heading.split_once(" scriptlet"))
            .filter(|(kind, _)| !kind.contains(' '));
        if let Some((kind, rest)) = heading {
            if let Some((kind, program, body)) = current.take() {
                theirs.insert(kind, (program, body));
            }
            let program = rest
                .trim()
                .strip_prefix("(using ")
                .and_then(|p| p.strip_suffix(')'))
                .unwrap_or("/bin/sh");
            current = Some((kind.to_owned(), program.to_owned(), String::new()));
        } else if let Some((_, _, body)) = &mut current {
            body.push_str(line);
        }
    }
    if let Some((kind, program, body)) = current.take() {
        theirs.insert(kind, (program, body));
    }
    let mut ours: BTreeMap<String, (String, String)> = BTreeMap::new();
    for script in &package.scripts {
        let kind = match script.name {
            ScriptName::Preinst => "preinstall",
            ScriptName::Postinst => "postinstall",
            ScriptName::Prerm => "preuninstall",
            ScriptName::Postrm => "postuninstall",
            ScriptName::Pretrans => "pretrans",
            ScriptName::Posttrans => "posttrans",
            other => panic!("unexpected scriptlet kind {other}"),
        };
        let text = String::from_utf8(script.bytes.clone()).unwrap();
        let (first_line, body) = text.split_once('\n').unwrap();
        let program = first_line.strip_prefix("#!").unwrap();
        assert_eq!(script.interpreter.as_deref(), program.split(' ').next());
        // rpm prints the program with its arguments separated by spaces, and a newline after the body.
        ours.insert(kind.to_owned(), (program.to_owned(), format!("{body}\n")));
    }
    assert_eq!(ours, theirs);
}

#[test]
fn reader_agrees_with_rpm_on_every_built_package() {
    if !rpm_available() {
        eprintln!("SKIPPED reader_agrees_with_rpm_on_every_built_package: `rpm` is not installed (apt-get install rpm)");
        return;
    }
    let directory = tempfile::tempdir().unwrap();
    for (name, built) in variants() {
        let path = directory.path().join(format!("{name}.rpm"));
        rpm_builder::write(&built, &path).unwrap();
        let verified = Command::new("rpm")
            .args(["-K", "--nosignature"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            verified.status.success(),
            "rpm -K refused {name}: {}",
            String::from_utf8_lossy(&verified.stdout)
        );
        let package = pkgward_package::rpm::read(&path, &Limits::default())
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(
            rpm_query(&path, &["--qf", "%{NAME} %{EVR} %{ARCH}"]),
            format!(
                "{} {} {}",
                package.name, package.version, package.architecture
            )
        );
        check_dump(&path, &package);
        check_scripts(&path, &package);
    }
}

#[test]
fn scripted_package_maps_relations_triggers_and_capabilities() {
    let directory = tempfile::tempdir().unwrap();
    let (_, built) = variants().pop().unwrap();
    let path = directory.path().join("scripted.rpm");
    rpm_builder::write(&built, &path).unwrap();
    let package = pkgward_package::rpm::read(&path, &Limits::default()).unwrap();
    assert_eq!(package.version.to_string(), "3:2.0~rc1^git3-1");
    let depends: Vec<String> = package
        .relations
        .depends
        .iter()
        .map(|group| group[0].to_string())
        .collect();
    assert!(
        depends.contains(&"bash (>= 5.1-2)".to_owned()),
        "{depends:?}"
    );
    assert!(depends.contains(&"glibc (<< 3)".to_owned()), "{depends:?}");
    assert!(depends.contains(&"/bin/sh".to_owned()), "{depends:?}");
    let pre: Vec<String> = package
        .relations
        .pre_depends
        .iter()
        .map(|group| group[0].to_string())
        .collect();
    assert_eq!(pre, vec!["shadow-utils".to_owned()]);
    assert_eq!(
        package.relations.conflicts[0][0].to_string(),
        "oldscripted (<= 1:1.0)"
    );
    assert_eq!(
        package.relations.replaces[0][0].to_string(),
        "legacy (>> 0.9)"
    );
    assert!(package
        .field("Rpmlib-Requires")
        .unwrap()
        .contains("rpmlib(CompressedFileNames)"));
    assert_eq!(
        package.field("Config-Files"),
        Some("/etc/scripted/main.conf")
    );
    assert_eq!(
        package.field("File-Capabilities"),
        Some("/usr/sbin/scripted cap_net_bind_service=ep")
    );
    let lua = package.script(ScriptName::Postinst).unwrap();
    assert_eq!(lua.interpreter.as_deref(), Some("<lua>"));
    assert_eq!(lua.bytes, b"#!<lua>\nprint(\"hello from lua\")");
    // Constraints compare with rpm ordering: 2.0~rc1 sorts before 2.0.
    let (_, reference) = package
        .relations
        .depends
        .iter()
        .find(|group| group[0].name == "bash")
        .unwrap()[0]
        .constraint
        .clone()
        .unwrap();
    assert!(pkgward_package::Version::parse_rpm("5.1-10").unwrap() > reference);
    assert!(package.version < pkgward_package::Version::parse_rpm("3:2.0-1").unwrap());
    // Relations follow rpmdsCompare: a reference without a release matches any release.
    let candidate = pkgward_package::Version::parse_rpm("1.0-5").unwrap();
    let reference = pkgward_package::Version::parse_rpm("1.0").unwrap();
    assert!(pkgward_package::VersionOp::Eq.holds(&candidate, &reference));
    assert!(pkgward_package::VersionOp::Le.holds(&candidate, &reference));
    assert!(!pkgward_package::VersionOp::Gt.holds(&candidate, &reference));
    assert!(!pkgward_package::VersionOp::Eq.holds(
        &candidate,
        &pkgward_package::Version::parse_rpm("1.0-6").unwrap()
    ));
    assert!(pkgward_package::VersionOp::Lt.holds(
        &candidate,
        &pkgward_package::Version::parse_rpm("1:0.1").unwrap()
    ));
    // dpkg keeps its total order: `1.0` is `1.0-0`, below `1.0-5`.
    assert!(!pkgward_package::VersionOp::Eq.holds(
        &pkgward_package::Version::parse("1.0-5").unwrap(),
        &pkgward_package::Version::parse("1.0").unwrap()
    ));
}
