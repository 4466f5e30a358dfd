//! Helpers shared by the CLI's integration tests: run the real `pkgward`
//! binary and render its output for assertion messages.
// Each test crate includes this module and uses part of it.
#![allow(dead_code)]

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

/// Whether the tests run as root (installs chown files, the sandbox needs it).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}
