//! Real maintainer scripts: a root built from real Debian packages — the
//! shared corpus's `python3 curl jq` closure plus `base-files`, and Debian's
//! essential tools the corpus lacks (dash, coreutils, sed, grep, findutils,
//! debianutils, diffutils, mawk, libattr1; fetched by `.ci/run` with
//! `apt-get download` into `$PKGWARD_ESSENTIAL_DEBS`, default
//! `<repo>/target/essential-debs`) — is bootstrapped with `--no-scripts`
//! (like debootstrap's first stage), then each package whose scripts carry
//! residue is installed again, which runs its `preinst upgrade` and
//! `postinst configure <version>` in the sandbox.
//!
//! Each must either succeed or fail cleanly: exit 1 naming the script, the
//! package left half-configured, and the root unchanged outside the
//! package's writable paths. The outcome per package is printed (see the
//! report in docs/sandbox.md). Skips LOUDLY without root, user namespaces,
//! Landlock, the corpus or the essential debs.
#![allow(clippy::print_stderr)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
mod common;
use common::text;

fn pkgward(arguments: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pkgward"))
        .args(arguments)
        .env("PKGWARD_SCRIPT_TIMEOUT", "120")
        .output()
        .unwrap()
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corpus() -> Option<PathBuf> {
    let candidate = std::env::var_os("PKGWARD_CORPUS")
        .map_or_else(|| repo_root().join("../shared/corpus"), PathBuf::from);
    candidate
        .join("CLOSURE-python3-curl-jq.txt")
        .exists()
        .then_some(candidate)
}

fn essential_debs() -> Option<Vec<PathBuf>> {
    let directory = std::env::var_os("PKGWARD_ESSENTIAL_DEBS")
        .map_or_else(|| repo_root().join("target/essential-debs"), PathBuf::from);
    let debs: Vec<PathBuf> = std::fs::read_dir(directory)
        .ok()?
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "deb"))
        .collect();
    let has = |name: &str| {
        debs.iter().any(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{name}_"))
        })
    };
    [
        "dash",
        "coreutils",
        "sed",
        "grep",
        "findutils",
        "debianutils",
        "diffutils",
        "mawk",
        "libattr1",
    ]
    .iter()
    .all(|name| has(name))
    .then_some(debs)
}

fn corpus_deb(corpus: &Path, name: &str) -> PathBuf {
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
}

/// Path → kind and content digest-ish (size + first bytes) of every path
/// under `root`, except pkgward's state and paths beneath `except`.
fn tree(root: &Path, except: &[String]) -> BTreeMap<String, String> {
    let mut result = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(directory) = pending.pop() {
        for entry in std::fs::read_dir(&directory).unwrap() {
            let path = entry.unwrap().path();
            let relative = format!("/{}", path.strip_prefix(root).unwrap().display());
            if relative.starts_with("/var/lib/pkgward")
                || except.iter().any(|prefix| {
                    relative == *prefix || relative.starts_with(&format!("{prefix}/"))
                })
            {
                continue;
            }
            let metadata = std::fs::symlink_metadata(&path).unwrap();
            let value = if metadata.is_symlink() {
                format!("-> {}", std::fs::read_link(&path).unwrap().display())
            } else if metadata.is_dir() {
                pending.push(path.clone());
                format!(
                    "dir {:o}",
                    std::os::unix::fs::PermissionsExt::mode(&metadata.permissions())
                )
            } else {
                let bytes = std::fs::read(&path).unwrap();
                format!(
                    "file {:o} {} {:?}",
                    std::os::unix::fs::PermissionsExt::mode(&metadata.permissions()),
                    bytes.len(),
                    &bytes[..bytes.len().min(64)]
                )
            };
            result.insert(relative, value);
        }
    }
    result
}

/// Packages of the closure whose `preinst` or `postinst` has residue
/// (`pkgward audit-scripts`), in dependency order.
const WITH_RESIDUE: [&str; 5] = [
    "dpkg",
    "libc6",
    "python3.11-minimal",
    "python3.11",
    "python3",
];

#[test]
fn postinst_residues_of_corpus_packages_succeed_or_fail_cleanly() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED: the corpus script test needs root (installed files are chowned)");
        return;
    }
    if !pkgward_sandbox::user_namespaces_available() || pkgward_sandbox::landlock_kernel_abi() < 3 {
        eprintln!("SKIPPED: the corpus script test needs user namespaces and Landlock ABI 3+");
        return;
    }
    let Some(corpus) = corpus() else {
        eprintln!("SKIPPED: the shared corpus is missing (set PKGWARD_CORPUS or put it at ../shared/corpus)");
        return;
    };
    let Some(essentials) = essential_debs() else {
        eprintln!("SKIPPED: Debian's essential debs are missing (run `.ci/run`, or `apt-get download dash coreutils sed grep findutils debianutils diffutils mawk libattr1` into $PKGWARD_ESSENTIAL_DEBS or target/essential-debs)");
        return;
    };
    let root = tempfile::tempdir().unwrap();
    // A merged-/usr root, as debootstrap makes for bookworm.
    std::fs::create_dir_all(root.path().join("usr")).unwrap();
    for (link, target) in [
        ("bin", "usr/bin"),
        ("sbin", "usr/sbin"),
        ("lib", "usr/lib"),
        ("lib64", "usr/lib64"),
    ] {
        std::fs::create_dir_all(root.path().join(target)).unwrap();
        std::os::unix::fs::symlink(target, root.path().join(link)).unwrap();
    }
    let root_path = root.path().to_str().unwrap().to_owned();
    let grants_directory = tempfile::tempdir().unwrap();
    let grants = grants_directory.path().join("grants.toml");
    // Every path and guarded location (base-files, dpkg and libc6 ship into
    // guarded ones), the accounts and services their declarative actions
    // need; `unconfined` so libc6's postinst is planned at all — pkgward
    // still runs it in the sandbox.
    std::fs::write(
        &grants,
        "[[grant]]\nrepo = \"local\"\npackage = \"*\"\npaths = [\"/**\"]\nguarded = [\"*\"]\nusers = [\"*\", \"root\"]\ngroups = [\"*\", \"staff\"]\nservices = [\"*\"]\nscripts = \"unconfined\"\n",
    )
    .unwrap();
    let grants = grants.to_str().unwrap().to_owned();
    let closure = std::fs::read_to_string(corpus.join("CLOSURE-python3-curl-jq.txt")).unwrap();
    let mut bootstrap = vec![
        "install".to_owned(),
        "--files-only".to_owned(),
        "--root".to_owned(),
        root_path.clone(),
        "--grants".to_owned(),
        grants.clone(),
    ];
    bootstrap.push(
        corpus_deb(&corpus, "base-files")
            .to_string_lossy()
            .into_owned(),
    );
    bootstrap.extend(
        closure
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|name| corpus_deb(&corpus, name).to_string_lossy().into_owned()),
    );
    bootstrap.extend(
        essentials
            .iter()
            .map(|path| path.to_string_lossy().into_owned()),
    );
    let output = pkgward(&bootstrap);
    assert!(output.status.success(), "bootstrap: {}", text(&output));
    assert!(root.path().join("usr/bin/dash").exists());

    let mut report = Vec::new();
    let mut succeeded = 0;
    for name in WITH_RESIDUE {
        let deb = corpus_deb(&corpus, name);
        let scripts_before = pkgward(&[
            "scripts".into(),
            "--root".into(),
            root_path.clone(),
            "--json".into(),
            name.into(),
        ]);
        assert!(scripts_before.status.success(), "{}", text(&scripts_before));
        let record: serde_json::Value = serde_json::from_slice(&scripts_before.stdout).unwrap();
        let writable: Vec<String> = record["scripts"]
            .as_array()
            .unwrap()
            .first()
            .map(|script| {
                script["writable_paths"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|path| path.as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        // What the declarative actions of the reinstall may change besides
        // the scripts' writable paths.
        let dry_run = pkgward(&[
            "install".into(),
            "--dry-run".into(),
            "--json".into(),
            "--root".into(),
            root_path.clone(),
            "--grants".into(),
            grants.clone(),
            deb.to_string_lossy().into_owned(),
        ]);
        let planned: serde_json::Value = serde_json::from_slice(&dry_run.stdout)
            .unwrap_or_else(|_| panic!("{}", text(&dry_run)));
        let mut allowed = writable.clone();
        action_paths(&planned["packages"][0]["actions"], &mut allowed);
        let before = tree(root.path(), &allowed);
        let output = pkgward(&[
            "install".into(),
            "--root".into(),
            root_path.clone(),
            "--grants".into(),
            grants.clone(),
            deb.to_string_lossy().into_owned(),
        ]);
        let after = tree(root.path(), &allowed);
        let changed: Vec<&String> = before
            .keys()
            .chain(after.keys())
            .filter(|path| before.get(*path) != after.get(*path))
            // Directories created to hold an action's path.
            .filter(|path| {
                !(after
                    .get(*path)
                    .is_some_and(|value| value.starts_with("dir"))
                    && allowed
                        .iter()
                        .any(|allowed| allowed.starts_with(&format!("{path}/"))))
            })
            .collect();
        assert!(
            changed.is_empty(),
            "`{name}`: the root changed outside its writable paths and actions {allowed:?}: {changed:?}\n{}",
            text(&output)
        );
        let record: serde_json::Value = serde_json::from_slice(
            &pkgward(&[
                "scripts".into(),
                "--root".into(),
                root_path.clone(),
                "--json".into(),
                name.into(),
            ])
            .stdout,
        )
        .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if output.status.success() {
            succeeded += 1;
            assert_eq!(record["configured"], true, "{name}: {record}");
            report.push(format!("{name}: configured; runs: {}", summary(&record)));
        } else {
            assert_eq!(output.status.code(), Some(1), "{name}: {}", text(&output));
            assert!(
                stderr.contains(&format!("of `{name}` failed in the sandbox"))
                    || stderr.contains(&format!("of `{name}` needs interpreter")),
                "{name} did not fail cleanly: {}",
                text(&output)
            );
            let first_line = stderr.lines().next().unwrap_or_default().to_owned();
            let last_output = stderr
                .lines()
                .rfind(|line| !line.starts_with("hint:") && !line.starts_with("notice:"))
                .unwrap_or_default()
                .to_owned();
            report.push(format!(
                "{name}: FAILED cleanly: {first_line} | last output: {last_output} | runs: {}",
                summary(&record)
            ));
        }
    }
    eprintln!("corpus maintainer scripts:\n  {}", report.join("\n  "));
    // Not vacuous: at least one real postinst ran to completion in the sandbox.
    assert!(
        succeeded > 0,
        "no corpus script succeeded:\n{}",
        report.join("\n")
    );
}

/// Paths a planned action may change: every absolute path under a key
/// naming a path, link or file, and the account files for account actions.
fn action_paths(actions: &serde_json::Value, paths: &mut Vec<String>) {
    match actions {
        serde_json::Value::Array(items) => {
            for item in items {
                action_paths(item, paths);
            }
        }
        serde_json::Value::Object(fields) => {
            if fields.get("action").and_then(serde_json::Value::as_str) == Some("accounts") {
                for file in [
                    "/etc/passwd",
                    "/etc/group",
                    "/etc/shadow",
                    "/etc/gshadow",
                    "/etc/.pwd.lock",
                ] {
                    paths.push(file.to_owned());
                }
            }
            for (key, value) in fields {
                match value.as_str() {
                    Some(path)
                        if path.starts_with('/')
                            && ["path", "link", "file"]
                                .iter()
                                .any(|part| key.contains(part)) =>
                    {
                        paths.push(path.to_owned());
                    }
                    _ => action_paths(value, paths),
                }
            }
        }
        _ => {}
    }
}

fn summary(record: &serde_json::Value) -> String {
    record["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| {
            format!(
                "{} {} → {} (requests: {})",
                run["script"].as_str().unwrap_or_default(),
                run["arguments"],
                run["exit_code"],
                run["requests"]
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}
