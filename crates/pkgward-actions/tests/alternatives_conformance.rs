//! Conformance: the alternatives plan, applied to one temp root, must give
//! the same admin files (byte for byte) and the same link chain as the real
//! `update-alternatives --root` applied to another, step by step. Skips
//! loudly when `update-alternatives` is absent.
#![allow(clippy::disallowed_methods, clippy::print_stderr)]

use pkgward_actions::alternatives::{
    check_alternative_install, parse_alternative, plan_alternative_install,
    plan_alternative_remove, AlternativeGrant, AlternativeInstall, AlternativePlan,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const FILES: &[&str] = &[
    "/usr/bin/less",
    "/bin/more",
    "/usr/bin/zz",
    "/usr/bin/aa",
    "/usr/bin/bb",
    "/usr/bin/cc",
    "/usr/share/man/man1/less.1.gz",
    "/usr/share/man/man1/more.1.gz",
    "/usr/share/man/man1/x.gz",
    "/usr/share/man/man1/y.gz",
];

fn inside(root: &Path, path: &str) -> std::path::PathBuf {
    root.join(path.trim_start_matches('/'))
}

fn prepare(root: &Path) {
    for file in FILES {
        let path = inside(root, file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"").unwrap();
    }
    std::fs::create_dir_all(inside(root, "/var/lib/dpkg/alternatives")).unwrap();
    std::fs::create_dir_all(inside(root, "/etc/alternatives")).unwrap();
}

fn apply(root: &Path, name: &str, plan: &AlternativePlan) {
    let admin = inside(root, &format!("/var/lib/dpkg/alternatives/{name}"));
    match &plan.admin_file {
        Some(text) => std::fs::write(&admin, text).unwrap(),
        None => {
            let _ = std::fs::remove_file(&admin);
        }
    }
    for link in &plan.remove {
        let _ = std::fs::remove_file(inside(root, link));
    }
    for (link, target) in &plan.symlinks {
        let path = inside(root, link);
        let _ = std::fs::remove_file(&path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, &path).unwrap();
    }
}

/// Every symlink and admin file under the root.
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(directory) = stack.pop() {
        for entry in std::fs::read_dir(&directory).unwrap().flatten() {
            let path = entry.path();
            let relative = format!("/{}", path.strip_prefix(root).unwrap().display());
            let metadata = std::fs::symlink_metadata(&path).unwrap();
            if metadata.file_type().is_symlink() {
                out.insert(
                    relative,
                    format!("-> {}", std::fs::read_link(&path).unwrap().display()),
                );
            } else if metadata.is_dir() {
                stack.push(path);
            } else if relative.starts_with("/var/lib/dpkg/alternatives/") {
                out.insert(relative, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    out
}

enum Step<'a> {
    Install(
        &'a str,
        &'a str,
        &'a str,
        i64,
        &'a [(&'a str, &'a str, &'a str)],
    ),
    Remove(&'a str, &'a str),
}

fn ours(root: &Path, step: &Step<'_>) {
    let (name, existing) = match step {
        Step::Install(_, name, ..) | Step::Remove(name, _) => {
            let admin = inside(root, &format!("/var/lib/dpkg/alternatives/{name}"));
            let existing = std::fs::read_to_string(admin)
                .ok()
                .map(|text| parse_alternative(name, &text).expect("parse admin file"));
            (*name, existing)
        }
    };
    let current = std::fs::read_link(inside(root, &format!("/etc/alternatives/{name}")))
        .ok()
        .map(|p| p.display().to_string());
    let plan = match step {
        Step::Install(link, name, path, priority, slaves) => {
            let request = AlternativeInstall {
                link: (*link).to_owned(),
                name: (*name).to_owned(),
                path: (*path).to_owned(),
                priority: *priority,
                slaves: slaves
                    .iter()
                    .map(|(l, n, p)| ((*l).to_owned(), (*n).to_owned(), (*p).to_owned()))
                    .collect(),
            };
            let grant = AlternativeGrant {
                names: std::iter::once(name.to_string())
                    .chain(slaves.iter().map(|(_, n, _)| n.to_string()))
                    .collect(),
            };
            assert!(check_alternative_install("test", 1, &request, &grant).is_empty());
            plan_alternative_install(existing.as_ref(), current.as_deref(), &request).expect("plan")
        }
        Step::Remove(_, path) => {
            plan_alternative_remove(existing.as_ref().expect("exists"), current.as_deref(), path)
        }
    };
    apply(root, name, &plan);
}

fn theirs(root: &Path, step: &Step<'_>) {
    let mut command = Command::new("update-alternatives");
    command.arg("--root").arg(root).arg("--quiet");
    match step {
        Step::Install(link, name, path, priority, slaves) => {
            command.args(["--install", link, name, path, &priority.to_string()]);
            for (l, n, p) in *slaves {
                command.args(["--slave", l, n, p]);
            }
        }
        Step::Remove(name, path) => {
            command.args(["--remove", name, path]);
        }
    }
    let output = command.output().expect("run update-alternatives");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn install_and_remove_sequences_match_update_alternatives() {
    if Command::new("update-alternatives")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: `update-alternatives` is not installed (apt-get install dpkg)");
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let (our_root, their_root) = (temp.path().join("ours"), temp.path().join("theirs"));
    prepare(&our_root);
    prepare(&their_root);
    let less_slave: &[(&str, &str, &str)] = &[(
        "/usr/share/man/man1/pager.1.gz",
        "pager.1.gz",
        "/usr/share/man/man1/less.1.gz",
    )];
    let more_slave: &[(&str, &str, &str)] = &[(
        "/usr/share/man/man1/pager.1.gz",
        "pager.1.gz",
        "/usr/share/man/man1/more.1.gz",
    )];
    let two_slaves: &[(&str, &str, &str)] = &[
        (
            "/usr/share/man/man1/zslave.gz",
            "zslave",
            "/usr/share/man/man1/x.gz",
        ),
        (
            "/usr/share/man/man1/aslave.gz",
            "aslave",
            "/usr/share/man/man1/y.gz",
        ),
    ];
    let other_slave: &[(&str, &str, &str)] = &[(
        "/usr/share/man/man1/mslave.gz",
        "mslave",
        "/usr/share/man/man1/y.gz",
    )];
    let steps = [
        Step::Install("/usr/bin/pager", "pager", "/usr/bin/less", 77, less_slave),
        Step::Install("/usr/bin/pager", "pager", "/bin/more", 50, more_slave),
        Step::Install("/usr/bin/pager", "pager", "/usr/bin/zz", 90, &[]),
        Step::Remove("pager", "/usr/bin/zz"),
        Step::Install("/usr/bin/pager", "pager", "/bin/more", 100, more_slave),
        Step::Install("/usr/bin/tie", "tie", "/usr/bin/bb", 10, two_slaves),
        Step::Install("/usr/bin/tie", "tie", "/usr/bin/aa", 10, other_slave),
        Step::Remove("tie", "/usr/bin/bb"),
        Step::Install("/usr/bin/t3", "t3", "/usr/bin/bb", 10, &[]),
        Step::Install("/usr/bin/t3", "t3", "/usr/bin/aa", 10, &[]),
        Step::Install("/usr/bin/t3", "t3", "/usr/bin/cc", 5, &[]),
        Step::Remove("t3", "/usr/bin/aa"),
        Step::Remove("t3", "/usr/bin/bb"),
        Step::Remove("t3", "/usr/bin/cc"),
    ];
    for (index, step) in steps.iter().enumerate() {
        ours(&our_root, step);
        theirs(&their_root, step);
        assert_eq!(
            snapshot(&our_root),
            snapshot(&their_root),
            "after step {index}"
        );
    }
}

#[test]
fn names_must_be_granted() {
    let request = AlternativeInstall {
        link: "/usr/bin/editor".into(),
        name: "editor".into(),
        path: "/usr/bin/evil".into(),
        priority: 1000,
        slaves: vec![(
            "/usr/share/man/man1/x.1.gz".into(),
            "../../etc/x".into(),
            "/x".into(),
        )],
    };
    let refusals = check_alternative_install("postinst", 7, &request, &AlternativeGrant::default());
    assert!(
        refusals
            .iter()
            .any(|r| r.reason.contains("`editor` is not granted")),
        "{refusals:#?}"
    );
    assert!(
        refusals
            .iter()
            .any(|r| r.reason.contains("not a valid alternative name")),
        "{refusals:#?}"
    );
}

#[test]
fn conflicting_link_is_an_error_and_bad_files_name_the_line() {
    let group = parse_alternative("pager", "auto\n/usr/bin/pager\n\n/bin/more\n50\n\n").unwrap();
    let request = AlternativeInstall {
        link: "/usr/bin/other".into(),
        name: "pager".into(),
        path: "/bin/x".into(),
        priority: 1,
        slaves: vec![],
    };
    assert!(plan_alternative_install(Some(&group), None, &request)
        .unwrap_err()
        .to_string()
        .contains("its link is `/usr/bin/pager`"));
    let error =
        parse_alternative("pager", "auto\n/usr/bin/pager\n\n/bin/more\nfifty\n\n").unwrap_err();
    assert!(
        error
            .to_string()
            .contains("line 5: priority must be an integer"),
        "{error}"
    );
}
