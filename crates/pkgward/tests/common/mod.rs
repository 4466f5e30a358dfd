//! Helpers shared by the CLI's integration tests: run the real `pkgward`
//! binary and render its output for assertion messages.
// Each test crate includes this module and uses part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Output};

/// Runs the `pkgward` binary built for these tests with `arguments`.
pub fn pkgward(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pkgward"))
        .args(arguments)
        .output()
        .unwrap()
}

/// The exit status, stdout and stderr of `output`, for assertion messages.
pub fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `rpm --root ROOT -i --nodeps --noscripts --nosignature PACKAGES…`, the
/// peer installs are compared with.
pub fn rpm_install_without_scripts(root: &Path, packages: &[std::path::PathBuf]) -> Output {
    Command::new("rpm")
        .arg("--root")
        .arg(root)
        // Debian's rpm keeps its database in `~/.rpmdb`; put it in the root.
        .args([
            "--dbpath",
            "/var/lib/rpm",
            "-i",
            "--nodeps",
            "--noscripts",
            "--nosignature",
        ])
        .args(packages)
        .env("LC_ALL", "C")
        .output()
        .unwrap()
}

/// Whether the tests run as root (installs chown files, the sandbox needs it).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// pkgward's own state directory, relative to a root: left out of manifests.
pub const PKGWARD_STATE: &[&str] = &["var/lib/pkgward"];

/// Path → type (`dir`, `link TARGET`, `file SHA256`), mode and owner of every
/// path under `root`, except the relative paths in `skip` and what lies
/// beneath them (package managers' own state).
pub fn manifest(root: &Path, skip: &[&str]) -> BTreeMap<String, String> {
    let mut result = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(directory) = pending.pop() {
        for entry in std::fs::read_dir(&directory).unwrap() {
            let path = entry.unwrap().path();
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if skip
                .iter()
                .any(|state| relative == *state || relative.starts_with(&format!("{state}/")))
            {
                continue;
            }
            let metadata = std::fs::symlink_metadata(&path).unwrap();
            let description = if metadata.is_dir() {
                pending.push(path.clone());
                "dir".to_owned()
            } else if metadata.file_type().is_symlink() {
                format!("link {}", std::fs::read_link(&path).unwrap().display())
            } else {
                let mut file = std::fs::File::open(&path).unwrap();
                format!(
                    "file {}",
                    pkgward_engine::digest::sha256_of_reader(&mut file).unwrap()
                )
            };
            result.insert(
                relative,
                format!(
                    "{description} {:o} {}:{}",
                    metadata.mode() & 0o7777,
                    metadata.uid(),
                    metadata.gid()
                ),
            );
        }
    }
    result
}
