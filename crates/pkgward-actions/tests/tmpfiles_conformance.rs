//! Conformance: the tmpfiles plan, applied to a temp root with the semantics
//! documented on `plan_tmpfiles`, gives the same tree (types, modes, link
//! targets, file contents) as `systemd-tmpfiles --root R --create` on a copy
//! of the same root. Owners are left at root (numeric owners need the root's
//! passwd). Skips loudly when `systemd-tmpfiles` is absent.
#![allow(clippy::disallowed_methods, clippy::print_stderr)]

use pkgward_actions::tmpfiles::{parse_tmpfiles, plan_tmpfiles, TmpfilesAction};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

const CONFIG: &str = "d /run/demo/dir 0750 root root -
d /run/demo/existing 0700
D /run/demo/vol 0755 - - -
v /run/demo/subvol 0700
f /run/demo/newfile 0600 - - - hello
f /run/demo/fexists 0640 - - - notwritten
f+ /run/demo/ftrunc 0644 - - - truncated   text
w /run/demo/wexists - - - - written
w+ /run/demo/wappend - - - - more
w /run/demo/wmissing - - - - nope
L /run/demo/link - - - - /etc/target
L /run/demo/linkexists - - - - /etc/ignored
L+ /run/demo/linkreplaced - - - - /etc/other
f /run/demo/empty
r /run/demo/rmme
R /run/demo/rdir
r! /run/demo/bootonly
d! /run/demo/bootdir
z /run/demo/existing 0711
e /run/demo/edir 0701
x /run/demo/excluded
";

fn inside(root: &Path, path: &str) -> std::path::PathBuf {
    root.join(path.trim_start_matches('/'))
}

fn prepare(root: &Path) {
    for directory in [
        "/run/demo/existing",
        "/run/demo/rdir/sub",
        "/run/demo/edir",
        "/etc",
    ] {
        std::fs::create_dir_all(inside(root, directory)).unwrap();
    }
    for (file, content) in [
        ("/run/demo/wexists", "old"),
        ("/run/demo/wappend", "old"),
        ("/run/demo/fexists", "keep\n"),
        ("/run/demo/rmme", ""),
        ("/run/demo/bootonly", ""),
    ] {
        std::fs::write(inside(root, file), content).unwrap();
    }
    std::os::unix::fs::symlink("/etc/original", inside(root, "/run/demo/linkexists")).unwrap();
    std::os::unix::fs::symlink("/etc/original", inside(root, "/run/demo/linkreplaced")).unwrap();
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn apply(root: &Path, actions: &[TmpfilesAction]) {
    for action in actions {
        match action {
            TmpfilesAction::CreateDirectory { path, mode, .. } => {
                let full = inside(root, path);
                if !full.exists() {
                    std::fs::create_dir(&full).unwrap();
                }
                set_mode(&full, *mode);
            }
            TmpfilesAction::CreateFile {
                path,
                mode,
                content,
                truncate,
                ..
            } => {
                let full = inside(root, path);
                if !full.exists() || *truncate {
                    std::fs::write(&full, content.as_deref().unwrap_or("")).unwrap();
                }
                set_mode(&full, *mode);
            }
            TmpfilesAction::WriteFile {
                path,
                content,
                append,
            } => {
                let full = inside(root, path);
                if full.exists() {
                    let mut bytes = if *append {
                        std::fs::read(&full).unwrap()
                    } else {
                        Vec::new()
                    };
                    bytes.extend_from_slice(content.as_bytes());
                    std::fs::write(&full, bytes).unwrap();
                }
            }
            TmpfilesAction::CreateSymlink {
                path,
                target,
                replace,
            } => {
                let full = inside(root, path);
                let exists = std::fs::symlink_metadata(&full).is_ok();
                if exists && *replace {
                    std::fs::remove_file(&full).unwrap();
                }
                if !exists || *replace {
                    std::os::unix::fs::symlink(target, &full).unwrap();
                }
            }
            TmpfilesAction::AdjustOwnership {
                path,
                mode: Some(mode),
                ..
            } => {
                let full = inside(root, path);
                if full.exists() {
                    set_mode(&full, *mode);
                }
            }
            other => panic!("the conformance config does not produce {other:?}"),
        }
    }
}

fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.join("run")];
    while let Some(directory) = stack.pop() {
        for entry in std::fs::read_dir(&directory).unwrap().flatten() {
            let path = entry.path();
            let relative = format!("/{}", path.strip_prefix(root).unwrap().display());
            let metadata = std::fs::symlink_metadata(&path).unwrap();
            let mode = metadata.permissions().mode() & 0o7777;
            let description = if metadata.file_type().is_symlink() {
                format!("link -> {}", std::fs::read_link(&path).unwrap().display())
            } else if metadata.is_dir() {
                stack.push(path.clone());
                format!("dir {mode:o}")
            } else {
                format!(
                    "file {mode:o} {:?}",
                    std::fs::read_to_string(&path).unwrap()
                )
            };
            out.insert(relative, description);
        }
    }
    out
}

#[test]
fn create_matches_systemd_tmpfiles() {
    if Command::new("systemd-tmpfiles")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: `systemd-tmpfiles` is not installed (apt-get install systemd)");
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let (ours, theirs) = (temp.path().join("ours"), temp.path().join("theirs"));
    prepare(&ours);
    prepare(&theirs);
    let config_path = temp.path().join("demo.conf");
    std::fs::write(&config_path, CONFIG).unwrap();
    let output = Command::new("systemd-tmpfiles")
        .arg("--root")
        .arg(&theirs)
        .arg("--create")
        .arg(&config_path)
        .output()
        .expect("run systemd-tmpfiles");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let entries = parse_tmpfiles("demo.conf", CONFIG).unwrap();
    apply(&ours, &plan_tmpfiles(&entries).unwrap());
    assert_eq!(snapshot(&ours), snapshot(&theirs));
}
