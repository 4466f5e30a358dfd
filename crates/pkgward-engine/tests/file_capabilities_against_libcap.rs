//! Our text → `security.capability` encoding against libcap's own tools
//! (`setcap`/`getcap`, Debian package `libcap2-bin`), both ways:
//! `setcap TEXT F` then the raw attribute equals our bytes for TEXT; our
//! bytes written with `fsetxattr` then `getcap F` reads back the same set.
//! Needs root (`CAP_SETFCAP`) and libcap2-bin; skips loudly otherwise.
#![allow(clippy::print_stderr, clippy::disallowed_methods)]

use pkgward_engine::file_capabilities;
use pkgward_package::file_capabilities::{FileCapabilities, XATTR_NAME};
use std::path::Path;
use std::process::Command;

const TEXT_FORMS: &[&str] = &[
    "cap_net_raw+ep",
    "cap_net_raw,cap_net_admin=ep",
    "cap_net_bind_service=p",
    "cap_net_admin,cap_net_raw+eip",
    "cap_chown=p cap_kill+i",
    "cap_sys_admin+ip",
    // Capabilities 38-40 live in the second 32-bit half.
    "cap_perfmon,cap_bpf=ep",
    "cap_checkpoint_restore+ep",
    "cap_dac_override,cap_setuid,cap_setgid,cap_sys_ptrace+ep",
];

fn tools_available() -> bool {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED: needs root (CAP_SETFCAP) to set file capabilities");
        return false;
    }
    for tool in ["setcap", "getcap"] {
        if Command::new(tool).arg("-h").output().is_err() {
            eprintln!("SKIPPED: `{tool}` not found (apt-get install -y libcap2-bin)");
            return false;
        }
    }
    true
}

fn new_file(directory: &Path, name: &str) -> std::fs::File {
    std::fs::write(directory.join(name), b"#!/bin/sh\n").unwrap();
    std::fs::File::open(directory.join(name)).unwrap()
}

fn raw_attribute(file: &std::fs::File) -> Vec<u8> {
    let mut buffer = [0u8; 64];
    let length = rustix::fs::fgetxattr(file, XATTR_NAME, &mut buffer[..]).unwrap();
    buffer[..length].to_vec()
}

#[test]
fn setcap_writes_the_bytes_we_encode() {
    if !tools_available() {
        return;
    }
    let directory = tempfile::tempdir().unwrap();
    for (index, text) in TEXT_FORMS.iter().enumerate() {
        let name = format!("setcap-{index}");
        let file = new_file(directory.path(), &name);
        let status = Command::new("setcap")
            .arg(text)
            .arg(directory.path().join(&name))
            .status()
            .unwrap();
        assert!(status.success(), "setcap {text}");
        let ours = FileCapabilities::parse(text).unwrap();
        assert_eq!(raw_attribute(&file), ours.to_xattr(), "{text}");
        assert_eq!(
            file_capabilities::read_from(&file, &name).unwrap(),
            Some(ours),
            "{text}"
        );
    }
}

#[test]
fn getcap_reads_what_we_write() {
    if !tools_available() {
        return;
    }
    let directory = tempfile::tempdir().unwrap();
    for (index, text) in TEXT_FORMS.iter().enumerate() {
        let name = format!("ours-{index}");
        let file = new_file(directory.path(), &name);
        let ours = FileCapabilities::parse(text).unwrap();
        file_capabilities::apply(&file, &name, Some(&ours.to_string())).unwrap();
        let output = Command::new("getcap")
            .arg(directory.path().join(&name))
            .output()
            .unwrap();
        assert!(output.status.success(), "getcap {text}");
        let stdout = String::from_utf8(output.stdout).unwrap();
        let (_, printed) = stdout
            .trim_end()
            .split_once(' ')
            .unwrap_or_else(|| panic!("getcap printed `{stdout}` for {text}"));
        assert_eq!(
            FileCapabilities::parse(printed),
            Ok(ours),
            "{text}: {printed}"
        );
        // For the usual one-clause forms our canonical text is getcap's.
        if !text.contains(' ') {
            assert_eq!(printed, ours.to_string(), "{text}");
        }
    }
}

#[test]
fn chown_clears_the_attribute_so_staging_sets_it_last() {
    if !tools_available() {
        return;
    }
    let directory = tempfile::tempdir().unwrap();
    let file = new_file(directory.path(), "chowned");
    file_capabilities::apply(&file, "chowned", Some("cap_net_raw=ep")).unwrap();
    assert!(file_capabilities::read_from(&file, "chowned")
        .unwrap()
        .is_some());
    rustix::fs::fchown(
        &file,
        Some(rustix::process::Uid::from_raw(1)),
        Some(rustix::process::Gid::from_raw(1)),
    )
    .unwrap();
    assert_eq!(
        file_capabilities::read_from(&file, "chowned").unwrap(),
        None
    );
    // Removing is idempotent.
    file_capabilities::remove(&file, "chowned").unwrap();
}
