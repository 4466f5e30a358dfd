//! The embedded default policy (DESIGN.md "With no policy files at all"):
//! every catalog location refused, plain locations allowed, no setuid, root
//! units and uid-0 users refused, scripts only sandboxed — each checked on a
//! package built here with one file.

use pkgward_package::model::{Entry, EntryKind, Format, Package, Relations, Script, ScriptName};
use pkgward_package::Version;
use pkgward_policy::catalog::CATALOG;
use pkgward_policy::footprint::DeclarationFile;
use pkgward_policy::parse::{EMBEDDED_DEFAULT, EMBEDDED_DEFAULT_NAME};
use pkgward_policy::verify::{verify, Item};
use pkgward_policy::{load, AliasTable, CompiledPolicy, Layer, PolicyInput, SourceFile, Verdict};

fn package(name: &str, files: &[(&str, u32)]) -> Package {
    Package {
        format: Format::Deb,
        name: name.to_owned(),
        version: Version::parse("1.0-1").unwrap(),
        architecture: "amd64".into(),
        description: "test".into(),
        maintainer: None,
        relations: Relations::default(),
        fields: Vec::new(),
        scripts: Vec::new(),
        conffiles: Vec::new(),
        triggers: Vec::new(),
        md5sums: Vec::new(),
        entries: files
            .iter()
            .map(|(path, mode)| Entry {
                path: (*path).to_owned(),
                kind: EntryKind::File,
                mode: *mode,
                owner: "root".into(),
                group: "root".into(),
                uid: 0,
                gid: 0,
                size: 1,
                target: None,
                sha256: Some("00".into()),
            })
            .collect(),
        artifact_sha256: "00".into(),
        installed_size: 1,
    }
}

fn default_policy() -> CompiledPolicy {
    CompiledPolicy::new(
        load(&PolicyInput::default()).unwrap(),
        AliasTable::usrmerge(),
    )
}

/// A concrete path matched by a catalog pattern: wildcards filled in.
fn sample_path(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|component| {
            if component == "**" {
                "x".to_owned()
            } else {
                component.replace('*', "x").replace('?', "1")
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Locations the default grants names because pkgward checks their content.
const CONTENT_CHECKED: &[&str] = &["systemd-units", "sysusers"];

#[test]
fn every_catalog_location_is_refused_by_default() {
    let compiled = default_policy();
    let mut checked = 0;
    for (id, _, patterns, _) in CATALOG {
        if CONTENT_CHECKED.contains(id) {
            continue;
        }
        for pattern in *patterns {
            let path = sample_path(pattern);
            let verification = verify(
                &package("plain", &[(&path, 0o644)]),
                &[],
                &compiled,
                "local",
                &[],
            )
            .unwrap();
            let denial = verification
                .denials()
                .next()
                .unwrap_or_else(|| panic!("`{path}` ({id}) was allowed"));
            assert_eq!(denial.decision.because.layer, Layer::Catalog, "{path}");
            assert_eq!(
                denial.decision.guarded.as_ref().unwrap().id,
                *id,
                "{path} attributed to another location"
            );
            assert!(denial
                .decision
                .hint
                .as_ref()
                .unwrap()
                .contains(&format!("guarded = [\"{id}\"]")));
            checked += 1;
        }
    }
    assert!(checked >= 150, "only {checked} sample paths");
}

#[test]
fn plain_locations_are_allowed_by_default() {
    let compiled = default_policy();
    let files = [
        ("/usr/bin/hello", 0o755),
        ("/usr/share/doc/hello/copyright", 0o644),
        ("/etc/hello.conf", 0o644),
        ("/opt/hello/bin/hello", 0o755),
        ("/var/lib/hello/state", 0o644),
        ("/lib/x86_64-linux-gnu/libhello.so.1", 0o644),
        ("/usr/lib/python3/dist-packages/hello/__init__.py", 0o644),
    ];
    let verification = verify(&package("hello", &files), &[], &compiled, "local", &[]).unwrap();
    assert!(
        verification.passed(),
        "{:#?}",
        verification.denials().collect::<Vec<_>>()
    );
    assert_eq!(verification.checked.len(), files.len());
}

#[test]
fn setuid_is_refused_by_default() {
    let compiled = default_policy();
    let verification = verify(
        &package("su-like", &[("/usr/bin/su-like", 0o4755)]),
        &[],
        &compiled,
        "local",
        &[],
    )
    .unwrap();
    let denials: Vec<_> = verification.denials().collect();
    assert_eq!(denials.len(), 1);
    assert!(matches!(denials[0].item, Item::Setuid { .. }));
    assert!(denials[0]
        .decision
        .hint
        .as_ref()
        .unwrap()
        .contains("setuid = [\"/usr/bin/su-like\"]"));
}

fn declaration(path: &str, text: &str) -> DeclarationFile {
    DeclarationFile {
        path: path.to_owned(),
        bytes: text.as_bytes().to_vec(),
    }
}

#[test]
fn units_and_sysusers_pass_only_with_content_checks() {
    let compiled = default_policy();
    let unit = "/usr/lib/systemd/system/daemon.service";
    let sysusers = "/usr/lib/sysusers.d/daemon.conf";
    let pkg = package("daemon", &[(unit, 0o644), (sysusers, 0o644)]);
    let good = [
        declaration(unit, "[Service]\nUser=daemon\nExecStart=/usr/bin/daemon\n"),
        declaration(sysusers, "u daemon - \"Daemon\"\n"),
    ];
    let verification = verify(&pkg, &good, &compiled, "local", &[]).unwrap();
    assert!(
        verification.passed(),
        "{:#?}",
        verification.denials().collect::<Vec<_>>()
    );

    let root_unit = [
        declaration(unit, "[Service]\nExecStart=/usr/bin/daemon\n"),
        declaration(sysusers, "u daemon -\n"),
    ];
    let verification = verify(&pkg, &root_unit, &compiled, "local", &[]).unwrap();
    let denials: Vec<_> = verification.denials().collect();
    assert_eq!(denials.len(), 1, "{denials:#?}");
    assert!(
        denials[0].decision.because.rule.contains("runs as `root`"),
        "{denials:#?}"
    );

    let uid_zero = [
        declaration(unit, "[Service]\nUser=daemon\n"),
        declaration(sysusers, "u daemon 0\n"),
    ];
    let verification = verify(&pkg, &uid_zero, &compiled, "local", &[]).unwrap();
    let denials: Vec<_> = verification.denials().collect();
    assert_eq!(denials.len(), 1, "{denials:#?}");
    assert!(matches!(denials[0].item, Item::User { uid_zero: true, .. }));

    let privileged_exec = [
        declaration(
            unit,
            "[Service]\nUser=daemon\nExecStartPre=+/bin/sh -c 'id'\n",
        ),
        declaration(sysusers, "u daemon -\n"),
    ];
    let verification = verify(&pkg, &privileged_exec, &compiled, "local", &[]).unwrap();
    assert_eq!(verification.denials().count(), 1);

    let sudo_member = [
        declaration(unit, "[Service]\nUser=daemon\n"),
        declaration(sysusers, "u daemon -\nm daemon sudo\n"),
    ];
    let verification = verify(&pkg, &sudo_member, &compiled, "local", &[]).unwrap();
    let denials: Vec<_> = verification.denials().collect();
    assert_eq!(denials.len(), 1, "{denials:#?}");
    assert!(matches!(&denials[0].item, Item::Group { name, .. } if name == "sudo"));
}

#[test]
fn scripts_run_only_sandboxed() {
    let compiled = default_policy();
    let mut pkg = package("scripted", &[("/usr/bin/scripted", 0o755)]);
    pkg.scripts.push(Script {
        name: ScriptName::Postinst,
        interpreter: Some("/bin/sh".into()),
        bytes: b"#!/bin/sh\ntrue\n".to_vec(),
    });
    let verification = verify(&pkg, &[], &compiled, "local", &[]).unwrap();
    assert!(verification.passed());
    let version = Version::parse("1").unwrap();
    let rules = compiled
        .for_subject(
            &pkgward_policy::Subject {
                repo: "local",
                name: "x",
                version: &version,
            },
            &[],
        )
        .unwrap();
    let decision = rules.decide(&pkgward_policy::Request::Scripts {
        mode: pkgward_policy::ScriptMode::Unconfined,
    });
    assert_eq!(decision.verdict, Verdict::Deny);
}

#[test]
fn case_twins_are_refused() {
    let compiled = default_policy();
    let verification = verify(
        &package(
            "twins",
            &[
                ("/usr/share/doc/twins/README", 0o644),
                ("/usr/share/doc/twins/readme", 0o644),
            ],
        ),
        &[],
        &compiled,
        "local",
        &[],
    )
    .unwrap();
    let denials: Vec<_> = verification.denials().collect();
    assert_eq!(denials.len(), 1);
    assert!(matches!(denials[0].item, Item::Twins { .. }));
}

#[test]
fn printed_default_parses_back_to_the_same_policy() {
    let embedded = load(&PolicyInput::default()).unwrap();
    let printed = load(&PolicyInput {
        policy_files: vec![SourceFile {
            name: EMBEDDED_DEFAULT_NAME,
            text: EMBEDDED_DEFAULT,
        }],
        grants_files: vec![],
    })
    .unwrap();
    assert_eq!(embedded, printed);
    // Under another file name only the origins differ: compare decisions.
    let copied = load(&PolicyInput {
        policy_files: vec![SourceFile {
            name: "policy.toml",
            text: EMBEDDED_DEFAULT,
        }],
        grants_files: vec![],
    })
    .unwrap();
    assert_eq!(copied.repos.len(), embedded.repos.len());
    assert_eq!(copied.grants.len(), embedded.grants.len());
    assert_eq!(
        copied.grants[0].capabilities.paths[0].value,
        embedded.grants[0].capabilities.paths[0].value
    );
}
