//! Helpers shared by the CLI's integration tests: run the real `pkgward`
//! binary and render its output for assertion messages.
// Each test crate includes this module and uses part of it.
#![allow(dead_code)]

use pkgward_package::rpm_builder::rpm;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
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

/// The files a root needs for `/bin/sh`: the host's dash and its libraries.
pub const SHELL_FILES: [(&str, &str); 3] = [
    ("/usr/bin/dash", "usr/bin/dash"),
    (
        "/lib/x86_64-linux-gnu/libc.so.6",
        "usr/lib/x86_64-linux-gnu/libc.so.6",
    ),
    (
        "/lib64/ld-linux-x86-64.so.2",
        "usr/lib64/ld-linux-x86-64.so.2",
    ),
];

/// Whether maintainer-script tests can run here; prints the reason when not.
#[allow(clippy::print_stderr)]
pub fn can_run_scripts() -> bool {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED: maintainer-script tests need root (installed files are chowned)");
        return false;
    }
    if !pkgward_sandbox::user_namespaces_available() {
        eprintln!("SKIPPED: maintainer-script tests need user namespaces");
        return false;
    }
    if pkgward_sandbox::landlock_kernel_abi() < 3 {
        eprintln!("SKIPPED: maintainer-script tests need Landlock ABI 3 or newer");
        return false;
    }
    if let Some((missing, _)) = SHELL_FILES
        .iter()
        .find(|(host, _)| !Path::new(host).exists())
    {
        eprintln!("SKIPPED: maintainer-script tests copy the host's dash; `{missing}` is missing");
        return false;
    }
    true
}

/// A usrmerged root with `/bin/sh`, `/etc/passwd` and the mount points the
/// sandbox needs.
pub fn root_with_shell() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let path = root.path();
    for directory in [
        "etc",
        "tmp",
        "run",
        "dev",
        "proc",
        "root",
        "usr/bin",
        "usr/sbin",
        "usr/lib/x86_64-linux-gnu",
        "usr/lib64",
        "var/lib",
    ] {
        std::fs::create_dir_all(path.join(directory)).unwrap();
    }
    for (link, target) in [
        ("bin", "usr/bin"),
        ("sbin", "usr/sbin"),
        ("lib", "usr/lib"),
        ("lib64", "usr/lib64"),
        ("usr/bin/sh", "dash"),
    ] {
        std::os::unix::fs::symlink(target, path.join(link)).unwrap();
    }
    for (host, inside) in SHELL_FILES {
        std::fs::copy(host, path.join(inside)).unwrap();
    }
    std::fs::write(path.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(path.join("etc/group"), "root:x:0:\n").unwrap();
    root
}

/// Writes the built `.rpm` `package` as `DIRECTORY/NAME.rpm`.
pub fn write_rpm(directory: &Path, name: &str, package: &rpm::Package) -> PathBuf {
    let path = directory.join(format!("{name}.rpm"));
    pkgward_package::rpm_builder::write(package, &path).unwrap();
    path
}

/// A noarch package `name`-`version`-`release` with one 0644 data file
/// `/usr/share/NAME/data`, ready for more builder calls.
pub fn one_file_rpm(name: &str, version: &str, release: &str) -> rpm::PackageBuilder {
    rpm::PackageBuilder::new(name, version, "MIT", "noarch", "test package")
        .release(release)
        .with_file_contents(
            format!("{name}\n"),
            rpm::FileOptions::new(format!("/usr/share/{name}/data"))
                .mode(rpm::FileMode::regular(0o644)),
        )
        .unwrap()
}
