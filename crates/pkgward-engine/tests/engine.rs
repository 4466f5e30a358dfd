//! Engine tests against temp roots with packages built in memory: placement
//! through directory fds, usrmerge, unsafe symlinks (THREATS 27, 28), setuid
//! stripping (THREATS 9), refusal leaves the root identical, the lock
//! (THREATS 74), and crash recovery at every failpoint (THREATS 49), where the
//! test re-runs itself as a child process that aborts at the failpoint.
#![allow(clippy::print_stderr)]

use pkgward_engine::{
    apply, lock, open_database, recover, ApplyOptions, ContentSource, EngineError, Root,
};
use pkgward_plan::{
    ConffileAction, PackagePlan, Placement, PlacementKind, Plan, Problem, RemovalPlan,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

/// One entry of a test package: path, kind, mode, content or target.
#[derive(Clone)]
struct TestEntry {
    path: &'static str,
    kind: PlacementKind,
    mode: u32,
    data: Vec<u8>,
}

fn dir(path: &'static str) -> TestEntry {
    TestEntry {
        path,
        kind: PlacementKind::Dir,
        mode: 0o755,
        data: vec![],
    }
}
fn file(path: &'static str, content: &str, mode: u32) -> TestEntry {
    TestEntry {
        path,
        kind: PlacementKind::File,
        mode,
        data: content.as_bytes().to_vec(),
    }
}
fn symlink(path: &'static str, target: &str) -> TestEntry {
    TestEntry {
        path,
        kind: PlacementKind::Symlink,
        mode: 0o777,
        data: target.as_bytes().to_vec(),
    }
}
fn hardlink(path: &'static str, target: &str) -> TestEntry {
    TestEntry {
        path,
        kind: PlacementKind::Hardlink,
        mode: 0o644,
        data: target.as_bytes().to_vec(),
    }
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Packages in memory, streamed like a `.deb`'s data archive.
struct MemorySource(Vec<Vec<TestEntry>>);

impl ContentSource for MemorySource {
    fn stream(
        &self,
        package: usize,
        each: &mut dyn FnMut(&str, &mut dyn Read) -> Result<(), EngineError>,
    ) -> Result<(), EngineError> {
        for entry in &self.0[package] {
            let bytes: &[u8] = if entry.kind == PlacementKind::File {
                &entry.data
            } else {
                &[]
            };
            each(entry.path, &mut &bytes[..])?;
        }
        Ok(())
    }
}

/// A plan for `entries` with paths resolved in `root` (as the CLI does).
fn package_plan(
    root: &Root,
    name: &str,
    version: &str,
    entries: &[TestEntry],
    allow_setuid: bool,
) -> PackagePlan {
    PackagePlan {
        repo: "test".into(),
        name: name.into(),
        version: version.into(),
        architecture: "amd64".into(),
        artifact_sha256: sha256(name.as_bytes()),
        format: pkgward_package::Format::Deb,
        relations: serde_json::json!({}),
        previous_version: None,
        downgrade: false,
        placements: entries
            .iter()
            .map(|entry| Placement {
                shipped_path: entry.path.into(),
                path: root
                    .canonical_path(entry.path, entry.kind == PlacementKind::Dir)
                    .unwrap(),
                kind: entry.kind,
                mode: if allow_setuid {
                    entry.mode
                } else {
                    entry.mode & !0o6000
                },
                shipped_mode: entry.mode,
                owner: "root".into(),
                group: "root".into(),
                target: matches!(entry.kind, PlacementKind::Symlink | PlacementKind::Hardlink)
                    .then(|| String::from_utf8(entry.data.clone()).unwrap()),
                digest: (entry.kind == PlacementKind::File).then(|| sha256(&entry.data)),
                conffile: None,
                conffile_original_digest: None,
                capabilities: None,
            })
            .collect(),
        obsolete_files: vec![],
        obsolete_dirs: vec![],
        scripts: vec![],
        script_writable_paths: vec![],
        decisions: vec![],
        notices: vec![],
        footprint: Some(serde_json::json!({ "package": name, "version": version })),
        actions: vec![],
        stale_links: vec![],
    }
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

macro_rules! require_root {
    () => {
        if !is_root() {
            eprintln!("SKIPPED: this test needs root (chown to root-owned files, symlinks owned by other uids)");
            return;
        }
    };
}

fn options() -> ApplyOptions {
    ApplyOptions {
        now: 1_700_000_000,
        workers: 2,
        durability: pkgward_engine::Durability::FsyncEachFile,
    }
}

fn install(
    root: &Root,
    packages: Vec<(PackagePlan, Vec<TestEntry>)>,
) -> Result<pkgward_engine::Outcome, EngineError> {
    let mut database = open_database(root, true)?.unwrap();
    let held = lock(root, Duration::ZERO)?;
    recover(root, &held, &mut database.database)?;
    let (plans, contents): (Vec<_>, Vec<_>) = packages.into_iter().unzip();
    let plan = Plan {
        packages: plans,
        removals: vec![],
        problems: vec![],
    };
    apply(
        root,
        &held,
        &mut database.database,
        &plan,
        &MemorySource(contents),
        &options(),
    )
}

/// Applies `plan` once under the lock, with the database it was applied to.
fn apply_once(
    root: &Root,
    plan: &Plan,
    source: &dyn ContentSource,
) -> (
    Result<pkgward_engine::Outcome, EngineError>,
    pkgward_engine::RootDatabase,
) {
    let mut database = open_database(root, true).unwrap().unwrap();
    let held = lock(root, Duration::ZERO).unwrap();
    let outcome = apply(
        root,
        &held,
        &mut database.database,
        plan,
        source,
        &options(),
    );
    (outcome, database)
}

/// Path → (type, mode, uid, content digest or link target) for every path
/// under `root`, except pkgward's own state directory `var/lib/pkgward`
/// (tests that compare manifests create `var/lib` first, as every real root
/// has it, so the state directory's creation changes nothing else).
fn manifest(root: &Path) -> BTreeMap<String, String> {
    let mut result = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(directory) = pending.pop() {
        for entry in std::fs::read_dir(&directory).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if relative.starts_with("var/lib/pkgward") {
                continue;
            }
            let metadata = std::fs::symlink_metadata(&path).unwrap();
            let description = if metadata.is_dir() {
                pending.push(path.clone());
                "dir".to_owned()
            } else if metadata.file_type().is_symlink() {
                format!("link {}", std::fs::read_link(&path).unwrap().display())
            } else {
                format!("file {}", sha256(&std::fs::read(&path).unwrap()))
            };
            result.insert(
                relative,
                format!(
                    "{description} {:o} {}",
                    metadata.mode() & 0o7777,
                    metadata.uid()
                ),
            );
        }
    }
    result
}

fn hello_v1() -> Vec<TestEntry> {
    vec![
        dir("/"),
        dir("/usr"),
        dir("/usr/bin"),
        file("/usr/bin/hello", "#!/bin/sh\necho hello 1\n", 0o755),
        hardlink("/usr/bin/hello-again", "/usr/bin/hello"),
        symlink("/usr/bin/hi", "hello"),
        dir("/usr/share"),
        dir("/usr/share/doc"),
        dir("/usr/share/doc/hello"),
        file("/usr/share/doc/hello/README", "read me\n", 0o644),
    ]
}

#[test]
fn install_places_files_symlinks_hardlinks_with_modes_and_records_them() {
    require_root!();
    let directory = tempfile::tempdir().unwrap();
    let root = Root::open(directory.path()).unwrap();
    let outcome = install(
        &root,
        vec![(
            package_plan(&root, "hello", "1", &hello_v1(), false),
            hello_v1(),
        )],
    )
    .unwrap();
    assert_eq!(outcome.files_placed, 4);
    let base = directory.path();
    assert_eq!(
        std::fs::read_to_string(base.join("usr/bin/hello")).unwrap(),
        "#!/bin/sh\necho hello 1\n"
    );
    assert_eq!(
        std::fs::metadata(base.join("usr/bin/hello"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o755
    );
    assert_eq!(
        std::fs::read_link(base.join("usr/bin/hi")).unwrap(),
        Path::new("hello")
    );
    assert_eq!(
        std::fs::metadata(base.join("usr/bin/hello")).unwrap().ino(),
        std::fs::metadata(base.join("usr/bin/hello-again"))
            .unwrap()
            .ino(),
        "hardlink shares the inode"
    );
    // Nothing left behind in staging, no journal.
    assert_eq!(
        std::fs::read_dir(base.join("var/lib/pkgward/staging"))
            .unwrap()
            .count(),
        0
    );
    assert!(!base.join("var/lib/pkgward/journal").exists());
    let database = open_database(&root, false).unwrap().unwrap();
    assert_eq!(database.database.packages().unwrap().len(), 1);
    assert_eq!(database.database.files("hello").unwrap().len(), 4);
    assert_eq!(database.database.owners("/usr/bin").unwrap(), vec!["hello"]);
    // The plan's footprint is recorded in the same commit.
    let recorded: serde_json::Value =
        serde_json::from_str(&database.database.footprint("hello").unwrap().unwrap()).unwrap();
    assert_eq!(recorded["package"], "hello");
    let drifts = pkgward_engine::verify::verify(&root, &database.database, &[]).unwrap();
    assert!(drifts.is_empty(), "{drifts:?}");
    // check notices drift.
    std::fs::write(base.join("usr/share/doc/hello/README"), "changed").unwrap();
    std::fs::set_permissions(
        base.join("usr/bin/hello"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    let drifts = pkgward_engine::verify::verify(&root, &database.database, &[]).unwrap();
    let kinds: Vec<_> = drifts
        .iter()
        .map(|drift| (drift.path.as_str(), drift.kind))
        .collect();
    assert!(
        kinds.contains(&("/usr/share/doc/hello/README", "digest")),
        "{kinds:?}"
    );
    assert!(kinds.contains(&("/usr/bin/hello", "mode")), "{kinds:?}");
}

#[test]
fn usrmerge_links_in_the_root_resolve_inside_it_and_the_database_records_the_canonical_path() {
    require_root!();
    let directory = tempfile::tempdir().unwrap();
    let base = directory.path();
    std::fs::create_dir_all(base.join("usr/lib")).unwrap();
    std::os::unix::fs::symlink("usr/lib", base.join("lib")).unwrap();
    let root = Root::open(base).unwrap();
    assert_eq!(
        root.canonical_path("/lib/security/pam_x.so", false)
            .unwrap(),
        "/usr/lib/security/pam_x.so"
    );
    assert_eq!(root.canonical_path("/lib", true).unwrap(), "/usr/lib");
    let entries = vec![
        dir("/lib"),
        dir("/lib/x"),
        file("/lib/x/libx.so", "elf", 0o644),
    ];
    install(
        &root,
        vec![(package_plan(&root, "libx", "1", &entries, false), entries)],
    )
    .unwrap();
    assert!(
        std::fs::symlink_metadata(base.join("lib"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the alias stays a symlink"
    );
    assert_eq!(
        std::fs::read_to_string(base.join("usr/lib/x/libx.so")).unwrap(),
        "elf"
    );
    let database = open_database(&root, false).unwrap().unwrap();
    assert_eq!(
        database.database.owners("/usr/lib/x/libx.so").unwrap(),
        vec!["libx"]
    );
    assert!(database
        .database
        .owners("/lib/x/libx.so")
        .unwrap()
        .is_empty());
}

#[test]
fn symlink_owned_by_another_user_is_refused_and_nothing_is_written_threats_27() {
    require_root!();
    let directory = tempfile::tempdir().unwrap();
    let base = directory.path();
    std::fs::create_dir_all(base.join("etc")).unwrap();
    std::fs::create_dir_all(base.join("var/lib")).unwrap();
    std::os::unix::fs::symlink("etc", base.join("opt")).unwrap();
    std::os::unix::fs::lchown(base.join("opt"), Some(1000), Some(1000)).unwrap();
    let root = Root::open(base).unwrap();
    let error = root.canonical_path("/opt/foo/bar", false).unwrap_err();
    assert!(
        matches!(error, EngineError::UnsafeSymlink { ref path, uid: 1000 } if path == "/opt"),
        "{error}"
    );
    assert!(
        error.to_string().contains("unsafe symlink `/opt`"),
        "{error}"
    );
    // Even a plan that was computed without resolving is refused at apply.
    let before = manifest(base);
    let entries = vec![dir("/opt/foo"), file("/opt/foo/bar", "x", 0o644)];
    let mut plan = package_plan(
        &Root::open(tempfile::tempdir().unwrap().path()).unwrap(),
        "evil",
        "1",
        &entries,
        false,
    );
    plan.placements[0].path = "/opt/foo".into();
    plan.placements[1].path = "/opt/foo/bar".into();
    let error = install(&root, vec![(plan, entries)]).unwrap_err();
    assert!(
        matches!(error, EngineError::UnsafeSymlink { .. }),
        "{error}"
    );
    assert_eq!(manifest(base), before, "root unchanged");
    assert!(
        std::fs::read_dir(base.join("etc"))
            .unwrap()
            .next()
            .is_none(),
        "nothing under etc"
    );
    let database = open_database(&root, false).unwrap().unwrap();
    assert!(database.database.packages().unwrap().is_empty(), "no rows");
}

#[test]
fn absolute_symlink_in_the_root_stays_inside_the_root_threats_28() {
    require_root!();
    let directory = tempfile::tempdir().unwrap();
    let base = directory.path();
    std::fs::create_dir_all(base.join("var")).unwrap();
    std::fs::create_dir_all(base.join("run")).unwrap();
    std::os::unix::fs::symlink("/run", base.join("var/run")).unwrap();
    let root = Root::open(base).unwrap();
    let name = format!("/var/run/pkgward-test-{}", std::process::id());
    let leaked: &'static str = Box::leak(name.clone().into_boxed_str());
    let entries = vec![file(leaked, "inside", 0o644)];
    install(
        &root,
        vec![(package_plan(&root, "runner", "1", &entries, false), entries)],
    )
    .unwrap();
    let inside = base.join(format!("run/pkgward-test-{}", std::process::id()));
    assert_eq!(std::fs::read_to_string(inside).unwrap(), "inside");
    assert!(
        !Path::new(&format!("/run/pkgward-test-{}", std::process::id())).exists(),
        "host /run untouched"
    );
}

#[test]
fn dotdot_in_root_symlinks_never_climbs_above_the_root() {
    require_root!();
    let directory = tempfile::tempdir().unwrap();
    let base = directory.path().join("root");
    std::fs::create_dir_all(base.join("a")).unwrap();
    std::os::unix::fs::symlink("../../../../..", base.join("a/up")).unwrap();
    let root = Root::open(&base).unwrap();
    assert_eq!(root.canonical_path("/a/up/etc/x", false).unwrap(), "/etc/x");
}

#[test]
fn setuid_bits_are_stripped_unless_allowed_and_removed_from_a_replaced_inode_threats_9() {
    require_root!();
    let directory = tempfile::tempdir().unwrap();
    let base = directory.path();
    let root = Root::open(base).unwrap();
    let v1 = vec![
        dir("/usr"),
        dir("/usr/bin"),
        file("/usr/bin/tool", "v1", 0o4755),
        file("/usr/bin/other", "o", 0o6755),
    ];
    let mut plan = package_plan(&root, "tool", "1", &v1, true);
    // Policy allowed setuid for tool only; other is masked.
    plan.placements[3].mode = 0o755;
    install(&root, vec![(plan, v1)]).unwrap();
    assert_eq!(
        std::fs::metadata(base.join("usr/bin/tool")).unwrap().mode() & 0o7777,
        0o4755
    );
    assert_eq!(
        std::fs::metadata(base.join("usr/bin/other"))
            .unwrap()
            .mode()
            & 0o7777,
        0o755
    );
    // An attacker keeps a hardlink to the setuid v1 binary.
    std::fs::create_dir_all(base.join("home/u")).unwrap();
    std::fs::hard_link(base.join("usr/bin/tool"), base.join("home/u/keep")).unwrap();
    let v2 = vec![
        dir("/usr"),
        dir("/usr/bin"),
        file("/usr/bin/tool", "v2", 0o4755),
        file("/usr/bin/other", "o", 0o6755),
    ];
    install(
        &root,
        vec![(package_plan(&root, "tool", "2", &v2, true), v2)],
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(base.join("usr/bin/tool")).unwrap(),
        "v2"
    );
    let kept = std::fs::metadata(base.join("home/u/keep")).unwrap();
    assert_eq!(kept.mode() & 0o6000, 0, "old inode lost its setuid bits");
}

#[test]
fn a_refused_plan_changes_nothing_and_adds_no_rows() {
    require_root!();
    let directory = tempfile::tempdir().unwrap();
    let base = directory.path();
    std::fs::create_dir_all(base.join("etc")).unwrap();
    std::fs::create_dir_all(base.join("var/lib")).unwrap();
    std::fs::write(base.join("etc/keep"), "x").unwrap();
    let root = Root::open(base).unwrap();
    let before = manifest(base);
    let entries = hello_v1();
    let plan = Plan {
        packages: vec![package_plan(&root, "hello", "1", &entries, false)],
        removals: vec![],
        problems: vec![Problem::NotInstalled {
            package: "x".into(),
        }],
    };
    let (outcome, database) = apply_once(&root, &plan, &MemorySource(vec![entries]));
    let error = outcome.unwrap_err();
    assert!(matches!(error, EngineError::Refused { .. }), "{error}");
    assert_eq!(manifest(base), before);
    assert!(database.database.packages().unwrap().is_empty());
}

#[test]
fn a_file_cannot_replace_a_directory_and_the_root_stays_identical() {
    require_root!();
    let directory = tempfile::tempdir().unwrap();
    let base = directory.path();
    std::fs::create_dir_all(base.join("usr/bin/hello")).unwrap();
    std::fs::create_dir_all(base.join("var/lib")).unwrap();
    let root = Root::open(base).unwrap();
    let before = manifest(base);
    let error = install(
        &root,
        vec![(
            package_plan(&root, "hello", "1", &hello_v1(), false),
            hello_v1(),
        )],
    )
    .unwrap_err();
    assert!(
        matches!(error, EngineError::WouldReplaceDirectory { .. }),
        "{error}"
    );
    assert_eq!(manifest(base), before);
    assert_eq!(
        std::fs::read_dir(base.join("var/lib/pkgward/staging"))
            .unwrap()
            .count(),
        0,
        "staging removed"
    );
}

#[test]
fn upgrade_removes_obsolete_files_and_keeps_a_modified_conffile_with_a_new_copy_beside() {
    require_root!();
    let directory = tempfile::tempdir().unwrap();
    let base = directory.path();
    let root = Root::open(base).unwrap();
    let v1 = vec![
        dir("/etc"),
        file("/etc/foo.conf", "setting=1\n", 0o644),
        dir("/usr"),
        dir("/usr/bin"),
        file("/usr/bin/old", "old", 0o755),
    ];
    let mut plan = package_plan(&root, "foo", "1", &v1, false);
    plan.placements[1].conffile = Some(ConffileAction::Install);
    install(&root, vec![(plan, v1)]).unwrap();
    std::fs::write(base.join("etc/foo.conf"), "setting=mine\n").unwrap();
    let v2 = vec![
        dir("/etc"),
        file("/etc/foo.conf", "setting=2\n", 0o644),
        dir("/usr"),
        dir("/usr/bin"),
        file("/usr/bin/new", "new", 0o755),
    ];
    let mut plan = package_plan(&root, "foo", "2", &v2, false);
    plan.placements[1].conffile = Some(ConffileAction::KeepModifiedWriteNew);
    plan.placements[1].conffile_original_digest = Some(sha256(b"setting=1\n"));
    plan.obsolete_files = vec!["/usr/bin/old".into()];
    let outcome = install(&root, vec![(plan, v2)]).unwrap();
    assert!(
        outcome
            .notices
            .iter()
            .any(|notice| notice.contains("/etc/foo.conf.pkgward-new")),
        "{:?}",
        outcome.notices
    );
    assert_eq!(
        std::fs::read_to_string(base.join("etc/foo.conf")).unwrap(),
        "setting=mine\n"
    );
    assert_eq!(
        std::fs::read_to_string(base.join("etc/foo.conf.pkgward-new")).unwrap(),
        "setting=2\n"
    );
    assert!(!base.join("usr/bin/old").exists());
    assert!(base.join("usr/bin/new").exists());
    let database = open_database(&root, false).unwrap().unwrap();
    let conffile = database
        .database
        .files("foo")
        .unwrap()
        .into_iter()
        .find(|file| file.path == "/etc/foo.conf")
        .unwrap();
    assert_eq!(
        conffile.digest,
        Some(sha256(b"setting=2\n")),
        "new shipped digest"
    );
    assert_eq!(
        conffile.conffile_original_digest,
        Some(sha256(b"setting=1\n")),
        "reference stays the installed one"
    );
    // The upgrade replaces the recorded footprint with the new version's.
    let recorded: serde_json::Value =
        serde_json::from_str(&database.database.footprint("foo").unwrap().unwrap()).unwrap();
    assert_eq!(recorded["version"], "2");
}

#[test]
fn removal_deletes_files_and_directories_of_the_last_owner_only() {
    require_root!();
    let directory = tempfile::tempdir().unwrap();
    let base = directory.path();
    let root = Root::open(base).unwrap();
    let a = vec![
        dir("/usr"),
        dir("/usr/share"),
        dir("/usr/share/a"),
        file("/usr/share/a/x", "a", 0o644),
    ];
    let b = vec![
        dir("/usr"),
        dir("/usr/share"),
        file("/usr/share/b", "b", 0o644),
    ];
    install(
        &root,
        vec![
            (package_plan(&root, "a", "1", &a, false), a),
            (package_plan(&root, "b", "1", &b, false), b),
        ],
    )
    .unwrap();
    let mut database = open_database(&root, false).unwrap().unwrap();
    let held = lock(&root, Duration::ZERO).unwrap();
    let plan = Plan {
        packages: vec![],
        removals: vec![RemovalPlan {
            name: "a".into(),
            version: "1".into(),
            purge: false,
            delete_files: vec!["/usr/share/a/x".into()],
            keep_conffiles: vec![],
            delete_dirs: vec!["/usr/share/a".into()],
            remove_links: vec![],
            remove_alternatives: vec![],
        }],
        problems: vec![],
    };
    apply(
        &root,
        &held,
        &mut database.database,
        &plan,
        &MemorySource(vec![]),
        &options(),
    )
    .unwrap();
    assert!(!base.join("usr/share/a").exists());
    assert!(base.join("usr/share/b").exists());
    assert!(database.database.package("a").unwrap().is_none());
}

#[test]
fn a_second_writer_waits_then_reports_the_holder_pid_threats_74() {
    let directory = tempfile::tempdir().unwrap();
    let root = Root::open(directory.path()).unwrap();
    let held = lock(&root, Duration::ZERO).unwrap();
    let started = std::time::Instant::now();
    let error = lock(&root, Duration::from_millis(300)).unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(
        error
            .to_string()
            .contains(&format!("PID {}", std::process::id())),
        "{error}"
    );
    drop(held);
    lock(&root, Duration::ZERO).unwrap();
}

// ---- crash recovery (THREATS 49) ----

const CHILD_ROOT: &str = "PKGWARD_TEST_CHILD_ROOT";
const CHILD_STAGE: &str = "PKGWARD_TEST_CHILD_STAGE";

fn crash_v1() -> Vec<TestEntry> {
    vec![
        dir("/usr"),
        dir("/usr/bin"),
        file("/usr/bin/a", "a1", 0o755),
        file("/usr/bin/b", "b1", 0o755),
        file("/usr/bin/gone", "g", 0o755),
    ]
}
fn crash_v2() -> Vec<TestEntry> {
    vec![
        dir("/usr"),
        dir("/usr/bin"),
        file("/usr/bin/a", "a2", 0o755),
        file("/usr/bin/b", "b2", 0o755),
        dir("/usr/lib"),
        file("/usr/lib/c", "c2", 0o644),
    ]
}

fn crash_install(root: &Root, stage: &str) {
    let entries = if stage == "v1" {
        crash_v1()
    } else {
        crash_v2()
    };
    let mut plan = package_plan(root, "pkg", stage, &entries, false);
    if stage == "v2" {
        plan.obsolete_files = vec!["/usr/bin/gone".into()];
    }
    install(root, vec![(plan, entries)]).unwrap();
}

/// Not a test of its own: the body the crash test runs in a child process.
#[test]
fn crash_child() {
    let (Ok(root), Ok(stage)) = (std::env::var(CHILD_ROOT), std::env::var(CHILD_STAGE)) else {
        return;
    };
    let root = Root::open(Path::new(&root)).unwrap();
    crash_install(&root, &stage);
}

/// Database rows vs disk: every recorded file exists with its digest.
fn state_of(root: &Root) -> (Option<String>, Vec<pkgward_engine::verify::Drift>) {
    let database = open_database(root, false).unwrap().unwrap();
    assert_eq!(database.database.integrity_check().unwrap(), Ok(()));
    let version = database
        .database
        .package("pkg")
        .unwrap()
        .map(|package| package.version);
    (
        version,
        pkgward_engine::verify::verify(root, &database.database, &[]).unwrap(),
    )
}

#[test]
fn a_crash_at_every_failpoint_is_recovered_to_the_old_or_the_new_version() {
    require_root!();
    let exe = std::env::current_exe().unwrap();
    for (failpoint, expect_new) in [
        ("prepare-file-staged:2", false),
        ("prepare-synced", false),
        ("journal-written", true),
        ("commit-step:1", true),
        ("commit-step:4", true),
        ("commit-steps-done", true),
        ("commit-database", true),
        ("commit-journal-removed", true),
    ] {
        let directory = tempfile::tempdir().unwrap();
        let base = directory.path();
        let root = Root::open(base).unwrap();
        crash_install(&root, "v1");
        let v1_manifest = manifest(base);
        let status = std::process::Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ROOT, base)
            .env(CHILD_STAGE, "v2")
            .env(pkgward_engine::failpoint::FAILPOINT_VARIABLE, failpoint)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(
            !status.success(),
            "{failpoint}: the child must have aborted"
        );
        // Recovery, twice (idempotent).
        for _ in 0..2 {
            let mut database = open_database(&root, false).unwrap().unwrap();
            let held = lock(&root, Duration::ZERO).unwrap();
            recover(&root, &held, &mut database.database).unwrap();
        }
        let (version, drifts) = state_of(&root);
        assert!(
            drifts.is_empty(),
            "{failpoint}: database and disk disagree: {drifts:?}"
        );
        if expect_new {
            assert_eq!(version.as_deref(), Some("v2"), "{failpoint}");
            assert!(!base.join("usr/bin/gone").exists(), "{failpoint}");
            assert_eq!(
                std::fs::read_to_string(base.join("usr/lib/c")).unwrap(),
                "c2",
                "{failpoint}"
            );
        } else {
            assert_eq!(version.as_deref(), Some("v1"), "{failpoint}");
            assert_eq!(
                manifest(base),
                v1_manifest,
                "{failpoint}: v1 byte-identical"
            );
        }
        assert!(
            !base.join("var/lib/pkgward/journal").exists(),
            "{failpoint}"
        );
        assert_eq!(
            std::fs::read_dir(base.join("var/lib/pkgward/staging"))
                .unwrap()
                .count(),
            0,
            "{failpoint}"
        );
    }
}

#[test]
fn a_torn_journal_is_discarded_and_staging_removed() {
    require_root!();
    let directory = tempfile::tempdir().unwrap();
    let base = directory.path();
    let root = Root::open(base).unwrap();
    crash_install(&root, "v1");
    let before = manifest(base);
    std::fs::write(
        base.join("var/lib/pkgward/journal"),
        "pkgward-journal 1 00\n{\"transaction\":",
    )
    .unwrap();
    std::fs::create_dir(base.join("var/lib/pkgward/staging/123-456")).unwrap();
    // A flat name (how staging looked before per-package subdirectories)
    // and a package's subdirectory: both are removed.
    std::fs::write(base.join("var/lib/pkgward/staging/123-456/0-1"), "staged").unwrap();
    std::fs::create_dir(base.join("var/lib/pkgward/staging/123-456/1")).unwrap();
    std::fs::write(base.join("var/lib/pkgward/staging/123-456/1/0"), "staged").unwrap();
    let mut database = open_database(&root, false).unwrap().unwrap();
    let held = lock(&root, Duration::ZERO).unwrap();
    let report = recover(&root, &held, &mut database.database).unwrap();
    assert!(report.discarded_torn_journal);
    assert_eq!(report.removed_staging, vec!["123-456".to_owned()]);
    assert_eq!(manifest(base), before);
}

/// A source whose bytes changed after planning: `hello`'s README differs.
/// With `checks_artifact` it behaves like the CLI's `.deb`/`.rpm` source:
/// it streams the changed bytes and fails only after the last entry, when
/// the artifact's digest does not match the planned one.
struct ChangedSource {
    entries: Vec<TestEntry>,
    checks_artifact: bool,
}

impl ContentSource for ChangedSource {
    fn stream(
        &self,
        _package: usize,
        each: &mut dyn FnMut(&str, &mut dyn Read) -> Result<(), EngineError>,
    ) -> Result<(), EngineError> {
        let swapped: Vec<TestEntry> = self
            .entries
            .iter()
            .map(|entry| match entry.kind {
                PlacementKind::File if entry.path.ends_with("README") => TestEntry {
                    data: b"swapped after planning".to_vec(),
                    ..entry.clone()
                },
                _ => entry.clone(),
            })
            .collect();
        MemorySource(vec![swapped]).stream(0, each)?;
        if self.checks_artifact {
            return Err(EngineError::PackageChanged {
                package: "hello".into(),
                detail: "`hello.deb` changed on disk since it was read".into(),
            });
        }
        Ok(())
    }

    fn checks_artifact(&self) -> bool {
        self.checks_artifact
    }
}

#[test]
fn content_changed_after_planning_is_refused_whichever_side_checks_it() {
    require_root!();
    for checks_artifact in [false, true] {
        let directory = tempfile::tempdir().unwrap();
        let base = directory.path();
        std::fs::create_dir_all(base.join("var/lib")).unwrap();
        let root = Root::open(base).unwrap();
        let before = manifest(base);
        let entries = hello_v1();
        let plan = Plan {
            packages: vec![package_plan(&root, "hello", "1", &entries, false)],
            removals: vec![],
            problems: vec![],
        };
        let source = ChangedSource {
            entries,
            checks_artifact,
        };
        let (outcome, database) = apply_once(&root, &plan, &source);
        let error = outcome.unwrap_err().to_string();
        let expected = if checks_artifact {
            "changed on disk since it was read"
        } else {
            "does not match the planned digest"
        };
        assert!(error.contains(expected), "{checks_artifact}: {error}");
        assert_eq!(manifest(base), before, "{checks_artifact}: root unchanged");
        assert!(database.database.packages().unwrap().is_empty());
        let staging = base.join("var/lib/pkgward/staging");
        assert_eq!(
            std::fs::read_dir(&staging).map_or(0, Iterator::count),
            0,
            "{checks_artifact}: staging left behind"
        );
    }
}
