//! Conformance: the enablement symlinks computed by
//! `pkgward_actions::units::enablement` must equal what
//! `systemctl --root R enable UNIT` creates, on synthetic units (aliases,
//! templates with `DefaultInstance=`, instances, `Also=`, `RequiredBy=`,
//! specifiers) and on the real units shipped by corpus packages. Skips
//! loudly when `systemctl` (or, for the corpus case, the corpus) is absent.
#![allow(clippy::disallowed_methods, clippy::print_stderr)]

use pkgward_actions::units::{enablement, parse_unit, parse_unit_name, EnableSymlink};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const UNIT_DIRECTORIES: &[&str] = &[
    "/etc/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
];

fn systemctl_available() -> bool {
    Command::new("systemctl")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Finds a unit (or, for an instance, its template) the way systemctl does.
fn find_unit(root: &Path, name: &str) -> Option<(String, String)> {
    let parsed = parse_unit_name(name)?;
    let mut candidates = vec![name.to_owned()];
    if parsed
        .instance
        .as_deref()
        .is_some_and(|instance| !instance.is_empty())
    {
        candidates.push(format!("{}@.{}", parsed.prefix, parsed.suffix));
    }
    for candidate in candidates {
        for directory in UNIT_DIRECTORIES {
            let path = format!("{directory}/{candidate}");
            let full = root.join(path.trim_start_matches('/'));
            if full.is_file() {
                return Some((path, std::fs::read_to_string(full).ok()?));
            }
        }
    }
    None
}

/// Our symlinks for enabling `name`, following `Also=`.
fn planned_symlinks(root: &Path, name: &str) -> BTreeSet<EnableSymlink> {
    let mut out = BTreeSet::new();
    let mut queue = vec![name.to_owned()];
    let mut seen = BTreeSet::new();
    while let Some(current) = queue.pop() {
        if !seen.insert(current.clone()) {
            continue;
        }
        let Some((path, text)) = find_unit(root, &current) else {
            continue;
        };
        let unit = parse_unit(&path, &text).expect("parse unit");
        let result = enablement(&current, &path, &unit).expect("enablement");
        out.extend(result.symlinks);
        queue.extend(result.also);
    }
    out
}

fn symlinks_on_disk(root: &Path) -> BTreeSet<EnableSymlink> {
    let mut out = BTreeSet::new();
    let base = root.join("etc/systemd/system");
    let mut stack = vec![base];
    while let Some(directory) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&directory) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let metadata = std::fs::symlink_metadata(&path).expect("metadata");
            if metadata.file_type().is_symlink() {
                let target = std::fs::read_link(&path).expect("readlink");
                let relative = path.strip_prefix(root).expect("inside root");
                out.insert(EnableSymlink {
                    link: format!("/{}", relative.display()),
                    target: target.display().to_string(),
                });
            } else if metadata.is_dir() {
                stack.push(path);
            }
        }
    }
    out
}

fn assert_enable_matches(root: &Path, name: &str) {
    let before = symlinks_on_disk(root);
    let output = Command::new("systemctl")
        .arg("--root")
        .arg(root)
        .arg("enable")
        .arg(name)
        .env("SYSTEMD_LOG_LEVEL", "warning")
        // The SysV part (update-rc.d for `/etc/init.d` scripts) is not
        // systemd enablement; Debian's systemctl would run it in a chroot.
        .env("SYSTEMCTL_SKIP_SYSV", "1")
        .output()
        .expect("run systemctl");
    let after = symlinks_on_disk(root);
    let created: BTreeSet<EnableSymlink> = after.difference(&before).cloned().collect();
    let ours = planned_symlinks(root, name);
    // Links that already existed (shared aliases) count as created by both.
    let ours_new: BTreeSet<EnableSymlink> = ours.difference(&before).cloned().collect();
    assert_eq!(
        ours_new,
        created,
        "`systemctl --root enable {name}` differs (systemctl said: {})",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn write(root: &Path, path: &str, text: &str) {
    let full = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
    std::fs::write(full, text).expect("write unit");
}

#[test]
fn synthetic_units_enable_like_systemctl() {
    if !systemctl_available() {
        eprintln!("SKIPPED: `systemctl` is not installed (apt-get install systemd)");
        return;
    }
    let temp = tempfile::tempdir().expect("temp");
    let root = temp.path();
    write(root, "/lib/systemd/system/demo.service", "[Unit]\nDescription=Demo\n[Service]\nExecStart=/usr/bin/demo\n[Install]\nWantedBy=multi-user.target\nAlias=demo-alias.service\nAlso=demo.socket\nRequiredBy=network.target\n");
    write(
        root,
        "/lib/systemd/system/demo.socket",
        "[Socket]\nListenStream=/run/demo.sock\n[Install]\nWantedBy=sockets.target\n",
    );
    write(root, "/usr/lib/systemd/system/tpl@.service", "[Service]\nExecStart=/bin/true %i\n[Install]\nWantedBy=multi-user.target %p-extra.target\nDefaultInstance=inst\nAlias=tplalias@.service\n");
    write(root, "/lib/systemd/system/t2@.service", "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\nAlias=t2alias@.service\n");
    write(root, "/lib/systemd/system/plain.service", "[Service]\nExecStart=/bin/true\n[Install]\n# a comment\nWantedBy=multi-user.target \\\n  graphical.target\nAlias=%N-x.service\nAlso=t2@bar.service\n");
    write(root, "/lib/systemd/system/reset.timer", "[Timer]\nOnCalendar=daily\n[Install]\nWantedBy=multi-user.target\nWantedBy=\nWantedBy=timers.target\n");
    write(root, "/lib/systemd/system/dup.service", "[Install]\nWantedBy=a.target\n[Service]\nExecStart=/bin/true\n[Install]\nRequiredBy=b.target\n");
    for name in [
        "demo.service",
        "tpl@.service",
        "tpl@foo.service",
        "t2@.service",
        "plain.service",
        "reset.timer",
        "dup.service",
    ] {
        assert_enable_matches(root, name);
    }
}

fn corpus_debs() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("PKGWARD_CORPUS").map(|c| PathBuf::from(c).join("debs")),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/debs")),
    ];
    candidates.into_iter().flatten().find(|path| path.is_dir())
}

#[test]
fn corpus_units_enable_like_systemctl() {
    if !systemctl_available() {
        eprintln!("SKIPPED: `systemctl` is not installed (apt-get install systemd)");
        return;
    }
    let Some(debs) = corpus_debs() else {
        eprintln!("SKIPPED: corpus not found (set PKGWARD_CORPUS or place it at ../shared/corpus)");
        return;
    };
    let packages = [
        "redis-server",
        "cron",
        "chrony",
        "avahi-daemon",
        "openssh-server",
        "memcached",
        "dbus",
        "systemd-timesyncd",
        "logrotate",
        "util-linux",
        "lighttpd",
        "apache2",
        "uuid-runtime",
        "nginx-common",
    ];
    let mut checked = 0;
    for package in packages {
        let Some(deb) = std::fs::read_dir(&debs)
            .expect("read corpus")
            .flatten()
            .map(|entry| entry.path())
            .find(|path| {
                path.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{package}_")))
            })
        else {
            eprintln!("note: `{package}` not in corpus");
            continue;
        };
        let temp = tempfile::tempdir().expect("temp");
        let root = temp.path();
        let status = Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(root)
            .status()
            .expect("dpkg-deb");
        assert!(status.success(), "dpkg-deb -x {}", deb.display());
        for directory in ["lib/systemd/system", "usr/lib/systemd/system"] {
            let Ok(entries) = std::fs::read_dir(root.join(directory)) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .flatten()
                .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| parse_unit_name(name).is_some())
                .collect();
            names.sort();
            for name in names {
                let text =
                    std::fs::read_to_string(root.join(directory).join(&name)).expect("read unit");
                if !text.contains("[Install]") {
                    continue;
                }
                assert_enable_matches(root, &name);
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "only {checked} corpus units were compared");
    eprintln!("compared {checked} corpus units with systemctl --root enable");
}
