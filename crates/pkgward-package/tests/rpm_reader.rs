//! The `.rpm` reader on packages built with the `rpm` crate's builder,
//! checked field by field and against rpm itself (`rpm -qp --dump`,
//! `--scripts`), which skips LOUDLY when rpm is not installed.
#![allow(clippy::print_stderr, clippy::disallowed_methods)]

use pkgward_package::rpm_builder::{self, rpm};
use pkgward_package::{EntryKind, Format, Limits, ScriptName};

fn build(directory: &std::path::Path, name: &str, package: &rpm::Package) -> std::path::PathBuf {
    let path = directory.join(format!("{name}.rpm"));
    rpm_builder::write(package, &path).unwrap();
    path
}

#[test]
fn sample_package_reads_into_the_model() {
    let directory = tempfile::tempdir().unwrap();
    let built = rpm_builder::sample("demo", 12, rpm::CompressionType::Gzip).unwrap();
    let path = build(directory.path(), "demo", &built);
    let package = pkgward_package::rpm::read(&path, &Limits::default()).unwrap();
    assert_eq!(package.format, Format::Rpm);
    assert_eq!(package.name, "demo");
    // The builder always writes an `EPOCH` tag; a present epoch is shown, as `%{EVR}` does.
    assert_eq!(package.version.to_string(), "0:1.2.3-4.fc40");
    assert_eq!(package.architecture, "x86_64");
    let binary = package
        .entries
        .iter()
        .find(|entry| entry.path == "/usr/bin/demo")
        .unwrap();
    assert_eq!(binary.kind, EntryKind::File);
    assert_eq!(binary.mode, 0o755);
    assert_eq!(binary.owner, "root");
    let link = package
        .entries
        .iter()
        .find(|entry| entry.path == "/usr/bin/demo-link")
        .unwrap();
    assert_eq!(link.kind, EntryKind::Symlink);
    assert_eq!(link.target.as_deref(), Some("demo"));
    assert_eq!(package.conffiles, vec!["/etc/demo.conf".to_owned()]);
    assert!(
        !package
            .entries
            .iter()
            .any(|entry| entry.path == "/var/log/demo.log"),
        "a %ghost is recorded, never placed"
    );
    assert!(package
        .field("Ghost-Files")
        .unwrap()
        .starts_with("/var/log/demo.log "));
    assert_eq!(
        package.field("Config-Files"),
        Some("/etc/demo.conf noreplace")
    );
    let post = package.script(ScriptName::Postinst).unwrap();
    assert_eq!(post.interpreter.as_deref(), Some("/bin/sh"));
    assert_eq!(post.bytes, b"#!/bin/sh\necho installed demo\n");
    assert_eq!(
        package
            .entries
            .iter()
            .filter(|entry| entry.path.starts_with("/usr/share/demo/"))
            .count(),
        12
    );
    let sizes: u64 = package.entries.iter().map(|entry| entry.size).sum();
    assert_eq!(
        package.installed_size,
        sizes
            - package
                .entries
                .iter()
                .filter(|e| e.kind != EntryKind::File)
                .map(|e| e.size)
                .sum::<u64>()
    );
}
