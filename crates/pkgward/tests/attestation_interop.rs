//! Interoperability with an independent DSSE implementation: Python
//! `securesystemslib` (Debian package `python3-securesystemslib`, installed
//! by `.ci/run`) verifies envelopes written by `pkgward attest`, and
//! `pkgward verify-attestation` verifies envelopes Python signed. The Python
//! side (`tests/interop/dsse_interop.py`) also computes PAE on its own.
//!
//! Skips loudly when no Python with securesystemslib is found. The
//! interpreter used and the securesystemslib code path are printed.
#![allow(clippy::print_stderr)] // tests report skips and peer output on stderr

use assert_cmd::Command;
use std::path::{Path, PathBuf};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/dsse_interop.py");

/// The first interpreter that can import securesystemslib's signer API.
/// Debian's `/usr/bin/python3` comes first: a `python3` earlier on PATH
/// (pyenv, venv) may not see Debian's dist-packages.
/// `PKGWARD_INTEROP_PYTHON` names another interpreter to try first (for
/// example a venv with a newer securesystemslib that has `dsse.Envelope`).
fn python() -> Option<PathBuf> {
    let chosen = std::env::var("PKGWARD_INTEROP_PYTHON").ok();
    let candidates = chosen
        .iter()
        .map(String::as_str)
        .chain(["/usr/bin/python3", "python3"]);
    for candidate in candidates {
        let ok = std::process::Command::new(candidate)
            .args(["-c", "import securesystemslib.signer"])
            .output()
            .is_ok_and(|output| output.status.success());
        if ok {
            return Some(PathBuf::from(candidate));
        }
    }
    None
}

macro_rules! python_or_skip {
    ($name:literal) => {
        match python() {
            Some(python) => python,
            None => {
                eprintln!(
                    "SKIP {}: no python3 with securesystemslib (apt-get install python3-securesystemslib)",
                    $name
                );
                return;
            }
        }
    };
}

fn run_python(python: &Path, arguments: &[&std::ffi::OsStr]) -> std::process::Output {
    let output = std::process::Command::new(python)
        .arg(SCRIPT)
        .args(arguments)
        .output()
        .unwrap();
    eprintln!(
        "python: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A real package (the hello example) and the default policy.
fn fixture(dir: &Path) -> (PathBuf, PathBuf, String) {
    let package = dir.join("pkgward-hello_1.0-1_all.deb");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/debs/pkgward-hello_1.0-1_all.deb"),
        &package,
    )
    .unwrap();
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, pkgward_policy::parse::EMBEDDED_DEFAULT).unwrap();
    let policy_sha256 =
        pkgward_attest::policy_digest(pkgward_policy::parse::EMBEDDED_DEFAULT.as_bytes(), None);
    (package, policy, policy_sha256)
}

#[test]
fn python_computes_the_same_pae() {
    let python = python_or_skip!("python_computes_the_same_pae");
    let output = run_python(&python, &["pae-vector".as_ref()]);
    assert!(output.status.success());
}

#[test]
fn securesystemslib_verifies_pkgward_envelopes() {
    let python = python_or_skip!("securesystemslib_verifies_pkgward_envelopes");
    let dir = tempfile::tempdir().unwrap();
    let (package, policy, policy_sha256) = fixture(dir.path());
    let keygen = Command::cargo_bin("pkgward")
        .unwrap()
        .args(["keygen", "--out"])
        .arg(dir.path().join("keys"))
        .output()
        .unwrap();
    assert!(keygen.status.success());
    let public = String::from_utf8(keygen.stdout).unwrap().trim().to_owned();
    let envelope = dir.path().join("envelope.json");
    Command::cargo_bin("pkgward")
        .unwrap()
        .arg("attest")
        .arg(&package)
        .arg("--key")
        .arg(dir.path().join("keys/verifier.key"))
        .arg("--policy")
        .arg(&policy)
        .arg("--out")
        .arg(&envelope)
        .assert()
        .success();
    let output = run_python(
        &python,
        &[
            "verify".as_ref(),
            envelope.as_os_str(),
            public.as_ref(),
            package.as_os_str(),
            policy_sha256.as_ref(),
        ],
    );
    assert!(
        output.status.success(),
        "securesystemslib refused our envelope"
    );

    // Non-vacuous: another key must not verify it on the Python side.
    let other = pkgward_attest::PrivateKey::from_seed(&[5; 32])
        .public_key()
        .to_text();
    let output = run_python(
        &python,
        &[
            "verify".as_ref(),
            envelope.as_os_str(),
            other.as_ref(),
            package.as_os_str(),
            policy_sha256.as_ref(),
        ],
    );
    assert!(
        !output.status.success(),
        "python accepted a signature under the wrong key"
    );
}

#[test]
fn pkgward_verifies_securesystemslib_envelopes() {
    let python = python_or_skip!("pkgward_verifies_securesystemslib_envelopes");
    let dir = tempfile::tempdir().unwrap();
    let (package, _policy, policy_sha256) = fixture(dir.path());
    let envelope = dir.path().join("python.json");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let time_verified = pkgward_attest::timestamp::format_rfc3339(i64::try_from(now).unwrap());
    let output = run_python(
        &python,
        &[
            "sign".as_ref(),
            package.as_os_str(),
            envelope.as_os_str(),
            policy_sha256.as_ref(),
            time_verified.as_ref(),
        ],
    );
    assert!(output.status.success());
    let public = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(public.starts_with("ed25519:"), "{public}");

    let verify = |artifact: &Path| {
        Command::cargo_bin("pkgward")
            .unwrap()
            .arg("verify-attestation")
            .arg(&envelope)
            .arg("--artifact")
            .arg(artifact)
            .args(["--key", &format!("python={public}")])
            .args(["--policy-digest", &policy_sha256, "--max-age", "3600"])
            .output()
            .unwrap()
    };
    let output = verify(&package);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("counted") && stdout.contains("verifier `python-securesystemslib`"),
        "{stdout}"
    );

    // Non-vacuous: the same envelope for other bytes does not count.
    let other = dir.path().join("other.deb");
    std::fs::write(&other, b"other bytes").unwrap();
    assert_eq!(verify(&other).status.code(), Some(1));
}
