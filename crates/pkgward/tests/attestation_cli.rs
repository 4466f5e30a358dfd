//! The attestation commands end to end: `keygen`, `attest`,
//! `verify-attestation`, in a temp dir, with real keys and real signatures.
#![allow(clippy::print_stderr)] // tests report skips and peer output on stderr

use assert_cmd::Command;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/debs")
        .join(name)
}

fn pkgward() -> Command {
    Command::cargo_bin("pkgward").unwrap()
}

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        let setup = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::copy(
            example("pkgward-hello_1.0-1_all.deb"),
            setup.path("hello_1.0_amd64.deb"),
        )
        .unwrap();
        std::fs::write(
            setup.path("policy.toml"),
            pkgward_policy::parse::EMBEDDED_DEFAULT,
        )
        .unwrap();
        // The default policy with placement narrowed to /opt: hello's
        // /usr/bin file is denied, so the verdict is FAILED.
        let strict = pkgward_policy::parse::EMBEDDED_DEFAULT.replace(
            "package = \"*\"\npaths = [\"/**\"]",
            "package = \"*\"\npaths = [\"/opt/**\"]",
        );
        assert_ne!(
            strict,
            pkgward_policy::parse::EMBEDDED_DEFAULT,
            "default policy changed shape"
        );
        std::fs::write(setup.path("strict.toml"), strict).unwrap();
        setup
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `keygen` and return the printed public key.
    fn keygen(&self, name: &str) -> String {
        let output = pkgward()
            .args(["keygen", "--out"])
            .arg(self.path("keys"))
            .args(["--name", name])
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    /// `attest` the hello package with `key` under `policy` (a file in the
    /// temp dir); returns the envelope path.
    fn attest(&self, key: &str, policy: &str) -> PathBuf {
        let out = self.path(&format!("{key}.{policy}.json"));
        pkgward()
            .arg("attest")
            .arg(self.path("hello_1.0_amd64.deb"))
            .arg("--key")
            .arg(self.path(&format!("keys/{key}.key")))
            .arg("--policy")
            .arg(self.path(policy))
            .args(["--verifier-id", key, "--out"])
            .arg(&out)
            .assert()
            .success();
        out
    }

    fn policy_sha256(&self, policy: &str) -> String {
        pkgward_attest::policy_digest(&std::fs::read(self.path(policy)).unwrap(), None)
    }

    /// `verify-attestation` accepting both test policies.
    fn verify(&self, envelopes: &[&Path], keys: &[&str], threshold: usize) -> std::process::Output {
        let mut command = pkgward();
        command.arg("verify-attestation").args(envelopes);
        command
            .arg("--artifact")
            .arg(self.path("hello_1.0_amd64.deb"));
        for key in keys {
            command.args(["--key", key]);
        }
        command
            .args(["--threshold", &threshold.to_string()])
            .args(["--policy-digest", &self.policy_sha256("policy.toml")])
            .args(["--policy-digest", &self.policy_sha256("strict.toml")])
            .output()
            .unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn keygen_writes_a_0600_private_key_and_prints_the_public_key() {
    let setup = Setup::new();
    // umask 000: the mode must come from the create call itself.
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 000; exec \"$0\" keygen --out \"$1\" --name ci")
        .arg(assert_cmd::cargo::cargo_bin("pkgward"))
        .arg(setup.path("keys"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let printed = text(&output.stdout).trim().to_owned();
    assert!(printed.starts_with("ed25519:"), "{printed}");
    let private_mode = std::fs::metadata(setup.path("keys/ci.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(private_mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(setup.path("keys"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    let public_file = std::fs::read_to_string(setup.path("keys/ci.pub")).unwrap();
    assert_eq!(public_file.trim(), printed);
    let private = pkgward_attest::PrivateKey::from_pkcs8_pem(
        &std::fs::read_to_string(setup.path("keys/ci.key")).unwrap(),
    )
    .unwrap();
    assert_eq!(private.public_key().to_text(), printed);
}

#[test]
fn keygen_never_overwrites() {
    let setup = Setup::new();
    setup.keygen("a");
    let before = std::fs::read(setup.path("keys/a.key")).unwrap();
    let output = pkgward()
        .args(["keygen", "--out"])
        .arg(setup.path("keys"))
        .args(["--name", "a"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("already exists"),
        "{}",
        text(&output.stderr)
    );
    assert!(text(&output.stderr).contains("hint: keys are never overwritten"));
    assert_eq!(std::fs::read(setup.path("keys/a.key")).unwrap(), before);
}

#[test]
fn keygen_keys_are_readable_by_openssl() {
    let Ok(probe) = std::process::Command::new("openssl")
        .arg("version")
        .output()
    else {
        eprintln!("SKIPPED keygen_keys_are_readable_by_openssl: `openssl` is not installed");
        return;
    };
    assert!(probe.status.success());
    let setup = Setup::new();
    let public = setup.keygen("a");
    let output = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(setup.path("keys/a.key"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let from_openssl = pkgward_attest::PublicKey::parse(&text(&output.stdout)).unwrap();
    assert_eq!(from_openssl.to_text(), public);
}

#[test]
fn two_of_three_needs_two_distinct_passing_verifiers() {
    let setup = Setup::new();
    let keys = [setup.keygen("a"), setup.keygen("b"), setup.keygen("c")];
    let named: Vec<String> = ["a", "b", "c"]
        .iter()
        .zip(&keys)
        .map(|(name, key)| format!("{name}={key}"))
        .collect();
    let named: Vec<&str> = named.iter().map(String::as_str).collect();
    let a = setup.attest("a", "policy.toml");
    let b = setup.attest("b", "policy.toml");
    let c_failed = setup.attest("c", "strict.toml");

    let output = setup.verify(&[&a, &b], &named, 2);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("accepted: 2 of 2 required"), "{stdout}");
    assert_eq!(stdout.matches("counted").count(), 2, "{stdout}");

    // One PASSED and one FAILED: below threshold, and says why.
    let output = setup.verify(&[&a, &c_failed], &named, 2);
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("verdict is FAILED"), "{stdout}");
    assert!(text(&output.stderr).contains("only 1 of the 2 required"));

    // The same envelope twice counts once.
    let output = setup.verify(&[&a, &a], &named, 2);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stdout).contains("signed only by keys already counted (`a`)"));
}

#[test]
fn configuration_errors_are_refused_before_checking() {
    let setup = Setup::new();
    let a = setup.keygen("a");
    let b = setup.keygen("b");
    let envelope = setup.attest("a", "policy.toml");
    let pem = pkgward_attest::PublicKey::parse(&a).unwrap().to_spki_pem();
    std::fs::write(setup.path("a.pem"), pem).unwrap();
    let pem_path = setup.path("a.pem");
    let pem_path = pem_path.to_str().unwrap();
    for (keys, threshold, expected) in [
        (vec![a.as_str(), pem_path], 1, "are the same key"),
        (vec![a.as_str(), b.as_str()], 0, "threshold is 0"),
        (
            vec![a.as_str(), b.as_str()],
            3,
            "threshold 3 is larger than the 2 distinct",
        ),
    ] {
        let output = setup.verify(&[&envelope], &keys, threshold);
        assert_eq!(output.status.code(), Some(1));
        let stderr = text(&output.stderr);
        assert!(stderr.contains(expected), "{expected}: {stderr}");
        assert!(
            stderr.contains("error: invalid verifier configuration"),
            "{stderr}"
        );
    }
}

#[test]
fn wrong_artifact_and_wrong_policy_do_not_count() {
    let setup = Setup::new();
    let a = setup.keygen("a");
    let envelope = setup.attest("a", "policy.toml");
    std::fs::copy(
        example("pkgward-sneaky-cron_0.9-1_all.deb"),
        setup.path("hello_1.0_amd64.deb"),
    )
    .unwrap();
    let output = setup.verify(&[&envelope], &[&a], 1);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stdout).contains("no subject has sha256"),
        "{}",
        text(&output.stdout)
    );

    let setup = Setup::new();
    let a = setup.keygen("a");
    let envelope = setup.attest("a", "policy.toml");
    let mut edited = std::fs::read_to_string(setup.path("policy.toml")).unwrap();
    edited.push_str("# edited\n");
    std::fs::write(setup.path("policy.toml"), edited).unwrap();
    let output = setup.verify(&[&envelope], &[&a], 1);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stdout).contains("is not an accepted policy"),
        "{}",
        text(&output.stdout)
    );
}

/// Open an envelope written by `attest` with the key that signed it.
fn statement_of(
    envelope_path: &Path,
    public: &str,
) -> (pkgward_attest::Statement, serde_json::Value) {
    let bytes = std::fs::read(envelope_path).unwrap();
    let envelope = pkgward_attest::envelope::UnverifiedEnvelope::parse(
        &bytes,
        &pkgward_attest::Limits::default(),
    )
    .unwrap();
    let key = pkgward_attest::PublicKey::parse(public).unwrap();
    let payload = envelope
        .payload_verified_by(&key)
        .expect("signed by the key");
    (
        pkgward_attest::Statement::parse(payload).unwrap(),
        serde_json::from_slice(payload).unwrap(),
    )
}

#[test]
fn attest_records_the_verification_of_the_package() {
    let setup = Setup::new();
    let public = setup.keygen("a");
    let (statement, raw) = statement_of(&setup.attest("a", "policy.toml"), &public);
    assert_eq!(statement.subjects[0].name, "hello_1.0_amd64.deb");
    let deb = std::fs::read(setup.path("hello_1.0_amd64.deb")).unwrap();
    assert!(statement.names_sha256(&hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&deb))));
    assert_eq!(
        statement.predicate.policy_sha256,
        setup.policy_sha256("policy.toml")
    );
    assert_eq!(statement.predicate.verdict, pkgward_attest::Verdict::Passed);
    assert_eq!(statement.predicate.verifier_id, "a");
    // The footprint is pkgward-policy's, computed from the package.
    let footprint = &statement.predicate.footprint;
    assert_eq!(footprint["package"], "pkgward-hello");
    assert!(
        footprint["paths"]
            .as_array()
            .unwrap()
            .iter()
            .any(|path| path == "/usr/bin/pkgward-hello"),
        "{footprint}"
    );
    assert_eq!(raw["predicate"]["policy"]["repo"], "local");

    // Under the strict policy the same package is FAILED.
    let (statement, _) = statement_of(&setup.attest("a", "strict.toml"), &public);
    assert_eq!(statement.predicate.verdict, pkgward_attest::Verdict::Failed);
}

#[test]
fn attest_of_a_package_that_uses_a_guarded_location_is_failed_and_says_why() {
    let setup = Setup::new();
    let public = setup.keygen("a");
    std::fs::copy(
        example("pkgward-sneaky-cron_0.9-1_all.deb"),
        setup.path("sneaky.deb"),
    )
    .unwrap();
    let out = setup.path("sneaky.json");
    let output = pkgward()
        .arg("attest")
        .arg(setup.path("sneaky.deb"))
        .arg("--key")
        .arg(setup.path("keys/a.key"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(
        text(&output.stderr).contains("denied: file `/etc/cron.d/pkgward-sneaky`"),
        "{}",
        text(&output.stderr)
    );
    let (statement, _) = statement_of(&out, &public);
    assert_eq!(statement.predicate.verdict, pkgward_attest::Verdict::Failed);
    // Without --policy: the embedded default's digest.
    assert_eq!(
        statement.predicate.policy_sha256,
        pkgward_attest::policy_digest(pkgward_policy::parse::EMBEDDED_DEFAULT.as_bytes(), None)
    );
}

#[test]
fn attest_refuses_unknown_repos_and_non_packages() {
    let setup = Setup::new();
    setup.keygen("a");
    let output = pkgward()
        .arg("attest")
        .arg(setup.path("hello_1.0_amd64.deb"))
        .arg("--key")
        .arg(setup.path("keys/a.key"))
        .args(["--repo", "nowhere"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("repo `nowhere` is not defined"),
        "{}",
        text(&output.stderr)
    );
    std::fs::write(setup.path("not-a.deb"), b"hello").unwrap();
    let output = pkgward()
        .arg("attest")
        .arg(setup.path("not-a.deb"))
        .arg("--key")
        .arg(setup.path("keys/a.key"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("cannot read package"),
        "{}",
        text(&output.stderr)
    );
    assert!(!setup.path("hello_1.0_amd64.deb.att").exists());
    assert!(!setup.path("not-a.deb.att").exists());
}

#[test]
fn attest_writes_next_to_the_package_by_default() {
    let setup = Setup::new();
    let public = setup.keygen("a");
    let output = pkgward()
        .arg("attest")
        .arg(setup.path("hello_1.0_amd64.deb"))
        .arg("--key")
        .arg(setup.path("keys/a.key"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let key_id = pkgward_attest::PublicKey::parse(&public).unwrap().key_id();
    let expected = setup.path(&format!("hello_1.0_amd64.deb.att/{}.json", &key_id[..16]));
    assert_eq!(text(&output.stdout).trim(), expected.display().to_string());
    let found = pkgward_attest::discovery::read_envelope_dir(
        &pkgward_attest::discovery::attestation_dir_for(&setup.path("hello_1.0_amd64.deb")),
        &pkgward_attest::Limits::default(),
    )
    .unwrap();
    assert_eq!(found.len(), 1);
}

#[test]
fn attested_footprint_covers_the_installers_own_footprint_of_the_same_bytes() {
    let setup = Setup::new();
    let public = setup.keygen("a");
    let (statement, _) = statement_of(&setup.attest("a", "policy.toml"), &public);
    let footprint_of = |path: &Path| {
        let package =
            pkgward_package::deb::read(path, &pkgward_package::model::Limits::default()).unwrap();
        serde_json::to_value(pkgward_policy::footprint::footprint(&package, &[])).unwrap()
    };
    let hello = footprint_of(&setup.path("hello_1.0_amd64.deb"));
    assert!(pkgward_attest::coverage::json_covers(
        &statement.predicate.footprint,
        &hello
    ));
    let sneaky = footprint_of(&example("pkgward-sneaky-cron_0.9-1_all.deb"));
    assert!(!pkgward_attest::coverage::json_covers(
        &statement.predicate.footprint,
        &sneaky
    ));
}
