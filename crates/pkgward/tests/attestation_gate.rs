//! The install-time attestation gate end to end: real keys from
//! `pkgward keygen`, real envelopes from `pkgward attest`, the shipped
//! example packages, temp roots. A repo with `verifiers = { keys = [3 keys],
//! threshold = 2 }` installs only with two distinct valid PASSED
//! attestations; every refusal names each envelope and why it did not count,
//! and leaves the root byte-identical (THREATS section E).
#![allow(clippy::print_stderr)] // tests report skips on stderr

use assert_cmd::Command;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
mod common;
use common::is_root;

const HELLO: &str = "pkgward-hello_1.0-1_all.deb";
const GREETING: &str = "pkgward-greeting-data_2.3-1_all.deb";
const SNEAKY: &str = "pkgward-sneaky-cron_0.9-1_all.deb";

fn pkgward() -> Command {
    Command::cargo_bin("pkgward").unwrap()
}

macro_rules! require_root {
    () => {
        if !is_root() {
            eprintln!("SKIPPED: this test needs root (installed files are chowned to root)");
            return;
        }
    };
}

/// A work directory with copies of the example packages, three verifier
/// keys, a policy whose repo `verified` needs 2 of them, and a root.
struct Setup {
    work: tempfile::TempDir,
    root: tempfile::TempDir,
    /// Public keys (`ed25519:<base64>`) of `v1`, `v2`, `v3`.
    public_keys: Vec<String>,
}

impl Setup {
    fn new() -> Self {
        let setup = Self {
            work: tempfile::tempdir().unwrap(),
            root: tempfile::tempdir().unwrap(),
            public_keys: Vec::new(),
        };
        std::fs::create_dir_all(setup.root.path().join("var/lib")).unwrap();
        for name in [HELLO, GREETING, SNEAKY] {
            std::fs::copy(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../examples/debs")
                    .join(name),
                setup.path(name),
            )
            .unwrap();
        }
        let mut setup = setup;
        for name in ["v1", "v2", "v3"] {
            let output = pkgward()
                .args(["keygen", "--out"])
                .arg(setup.path("keys"))
                .args(["--name", name])
                .output()
                .unwrap();
            assert!(output.status.success(), "{output:?}");
            setup.public_keys.push(
                String::from_utf8(output.stdout)
                    .unwrap()
                    .lines()
                    .next()
                    .unwrap()
                    .to_owned(),
            );
        }
        let keys = setup
            .public_keys
            .iter()
            .map(|key| format!("\"{key}\""))
            .collect::<Vec<_>>()
            .join(", ");
        setup.write_policy("policy.toml", &keys, 2);
        setup
    }

    /// The embedded default policy plus repo `verified` (open ceiling, the
    /// default's grant, and the verifier rule).
    fn write_policy(&self, name: &str, keys: &str, threshold: i64) {
        let policy = format!(
            "{}\n[[repo]]\nname = \"verified\"\nceiling = {{ paths = [\"/**\"], guarded = [\"*\"], users = [\"*\"], groups = [\"*\"], services = [\"*\"], setuid = [\"*\"], scripts = \"unconfined\" }}\nverifiers = {{ keys = [{keys}], threshold = {threshold} }}\n\n[[grant]]\nrepo = \"verified\"\npackage = \"*\"\npaths = [\"/**\"]\nguarded = [\"systemd-units\", \"sysusers\"]\nusers = [\"*\"]\ngroups = [\"*\"]\nservices = [\"*\"]\nscripts = \"sandboxed\"\n",
            pkgward_policy::parse::EMBEDDED_DEFAULT
        );
        std::fs::write(self.path(name), policy).unwrap();
    }

    fn path(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    fn root(&self) -> &Path {
        self.root.path()
    }

    /// `pkgward attest PACKAGE --key keys/KEY.key --policy policy.toml
    /// --repo verified [--out OUT]`; returns the envelope path.
    fn attest(&self, package: &str, key: &str, out: Option<&Path>) -> PathBuf {
        let mut command = pkgward();
        command
            .arg("attest")
            .arg(self.path(package))
            .arg("--key")
            .arg(self.path(&format!("keys/{key}.key")))
            .arg("--policy")
            .arg(self.path("policy.toml"))
            .args(["--repo", "verified", "--verifier-id", key]);
        if let Some(out) = out {
            command.arg("--out").arg(out);
        }
        let output = command.output().unwrap();
        assert!(output.status.success(), "{output:?}");
        PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
    }

    /// `pkgward install --root ROOT --policy policy.toml --repo REPO PKG…`.
    fn install(&self, repo: &str, packages: &[&str], extra: &[&str]) -> std::process::Output {
        let mut command = pkgward();
        command
            .arg("install")
            .arg("--root")
            .arg(self.root())
            .arg("--policy")
            .arg(self.path("policy.toml"))
            .args(["--repo", repo])
            .args(extra);
        for package in packages {
            command.arg(self.path(package));
        }
        command.output().unwrap()
    }

    fn list(&self) -> String {
        let output = pkgward()
            .arg("list")
            .arg("--root")
            .arg(self.root())
            .output()
            .unwrap();
        // On a root pkgward never touched, `list` prints nothing.
        String::from_utf8(output.stdout).unwrap()
    }

    /// Attest greeting-data (hello's dependency) with two keys, so refusal
    /// tests refuse on hello's attestations alone.
    fn attest_greeting(&self) {
        self.attest(GREETING, "v1", None);
        self.attest(GREETING, "v2", None);
    }

    fn hello_att(&self) -> PathBuf {
        self.path(&format!("{HELLO}.att"))
    }

    /// Install hello + greeting-data into repo `verified`; expect a refusal
    /// of hello that changes nothing. Returns stderr.
    fn expect_refusal(&self) -> String {
        let before = manifest(self.root());
        let output = self.install("verified", &[HELLO, GREETING], &[]);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        assert!(
            stderr.contains("error: refused `pkgward-hello` 1.0-1 from repo `verified`: "),
            "{stderr}"
        );
        assert!(
            stderr.contains("of the 2 required distinct trusted verifier keys attest it"),
            "{stderr}"
        );
        assert!(stderr.contains("hint: nothing was changed"), "{stderr}");
        assert_eq!(manifest(self.root()), before, "the root changed");
        assert!(
            !self.root().join("var/lib/pkgward").exists(),
            "refusal created pkgward state"
        );
        assert_eq!(self.list(), "");
        stderr
    }
}

/// Path → type, mode, owner, digest/target of everything under `root`.
fn manifest(root: &Path) -> BTreeMap<String, String> {
    let mut result = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(directory) = pending.pop() {
        for entry in std::fs::read_dir(&directory).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(root).unwrap().display().to_string();
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
                    "{description} {:o} {}:{} {}",
                    metadata.mode() & 0o7777,
                    metadata.uid(),
                    metadata.gid(),
                    metadata.mtime()
                ),
            );
        }
    }
    result
}

#[test]
fn two_distinct_passed_attestations_install_and_are_recorded() {
    require_root!();
    let setup = Setup::new();
    setup.attest_greeting();
    setup.attest(HELLO, "v1", None);
    setup.attest(HELLO, "v3", None);
    let output = setup.install("verified", &[HELLO, GREETING], &[]);
    assert!(output.status.success(), "{output:?}");
    let list = setup.list();
    assert!(list.contains("pkgward-hello"), "{list}");
    assert!(list.contains("pkgward-greeting-data"), "{list}");
    assert!(setup.root().join("usr/bin/pkgward-hello").exists());

    let database =
        pkgward_db::Database::open(&setup.root().join("var/lib/pkgward/db.sqlite")).unwrap();
    let recorded = database.attestations("pkgward-hello").unwrap();
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    let expected_ids: Vec<String> = [0, 2]
        .iter()
        .map(|index| {
            pkgward_attest::PublicKey::parse(&setup.public_keys[*index])
                .unwrap()
                .key_id()
        })
        .collect();
    let mut recorded_ids: Vec<String> = recorded.iter().map(|row| row.key_id.clone()).collect();
    recorded_ids.sort();
    let mut expected_sorted = expected_ids.clone();
    expected_sorted.sort();
    assert_eq!(recorded_ids, expected_sorted);
    // The envelope is stored exactly as it was verified.
    let on_disk = std::fs::read_to_string(
        setup
            .hello_att()
            .join(format!("{}.json", &expected_ids[0][..16])),
    )
    .unwrap();
    assert!(recorded.iter().any(|row| row.envelope == on_disk));
    assert_eq!(
        database
            .attestations("pkgward-greeting-data")
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn attestations_dir_flag_is_used_instead_of_the_package_att_dir() {
    require_root!();
    let setup = Setup::new();
    let elsewhere = setup.path("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    // All four envelopes in one directory: each package counts the two
    // about its own bytes; the others are subject mismatches.
    for (package, key) in [
        (HELLO, "v2"),
        (HELLO, "v3"),
        (GREETING, "v1"),
        (GREETING, "v3"),
    ] {
        setup.attest(
            package,
            key,
            Some(&elsewhere.join(format!("{package}-{key}.json"))),
        );
    }
    let elsewhere_text = elsewhere.to_str().unwrap().to_owned();
    let output = setup.install(
        "verified",
        &[HELLO, GREETING],
        &["--attestations", &elsewhere_text],
    );
    assert!(output.status.success(), "{output:?}");
    assert!(setup.list().contains("pkgward-hello"));
}

#[test]
fn one_attestation_is_refused() {
    let setup = Setup::new();
    setup.attest_greeting();
    let envelope = setup.attest(HELLO, "v1", None);
    let stderr = setup.expect_refusal();
    assert!(
        stderr.contains("1 of the 2 required distinct trusted verifier keys"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("- `{}`: counted (key `", envelope.display())),
        "{stderr}"
    );
}

#[test]
fn no_attestations_at_all_is_refused_and_says_where_it_looked() {
    let setup = Setup::new();
    setup.attest_greeting();
    let stderr = setup.expect_refusal();
    assert!(stderr.contains("0 of the 2 required"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "no attestations in `{}`",
            setup.hello_att().display()
        )),
        "{stderr}"
    );
}

#[test]
fn the_same_attestation_copied_twice_counts_once() {
    let setup = Setup::new();
    setup.attest_greeting();
    let envelope = setup.attest(HELLO, "v1", None);
    let copy = setup.hello_att().join("zz-copy.json");
    std::fs::copy(&envelope, &copy).unwrap();
    let stderr = setup.expect_refusal();
    assert!(stderr.contains("1 of the 2 required"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "- `{}`: ignored: signed only by keys already counted",
            copy.display()
        )),
        "{stderr}"
    );
}

#[test]
fn two_envelopes_signed_by_one_key_count_once() {
    let setup = Setup::new();
    setup.attest_greeting();
    let att = setup.hello_att();
    std::fs::create_dir_all(&att).unwrap();
    setup.attest(HELLO, "v2", Some(&att.join("a.json")));
    // A different envelope (other verifier id) from the same key.
    let mut command = pkgward();
    let output = command
        .arg("attest")
        .arg(setup.path(HELLO))
        .arg("--key")
        .arg(setup.path("keys/v2.key"))
        .arg("--policy")
        .arg(setup.path("policy.toml"))
        .args(["--repo", "verified", "--verifier-id", "v2-again", "--out"])
        .arg(att.join("b.json"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_ne!(
        std::fs::read(att.join("a.json")).unwrap(),
        std::fs::read(att.join("b.json")).unwrap()
    );
    let stderr = setup.expect_refusal();
    assert!(stderr.contains("1 of the 2 required"), "{stderr}");
    assert!(
        stderr.contains("b.json`: ignored: signed only by keys already counted"),
        "{stderr}"
    );
}

#[test]
fn an_attestation_for_another_artifact_does_not_count() {
    let setup = Setup::new();
    setup.attest_greeting();
    setup.attest(HELLO, "v1", None);
    // v3 attested greeting-data, not hello: moved into hello's directory.
    let other = setup.attest(GREETING, "v3", Some(&setup.path("other.json")));
    let moved = setup.hello_att().join("other.json");
    std::fs::rename(other, &moved).unwrap();
    let stderr = setup.expect_refusal();
    assert!(stderr.contains("1 of the 2 required"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "- `{}`: ignored: no subject has sha256",
            moved.display()
        )),
        "{stderr}"
    );
}

#[test]
fn failed_verdicts_count_toward_nothing() {
    let setup = Setup::new();
    // sneaky-cron places `/etc/cron.d/pkgward-sneaky`, a guarded location
    // the `verified` grant does not name: both verifiers sign FAILED.
    setup.attest(SNEAKY, "v1", None);
    setup.attest(SNEAKY, "v2", None);
    let before = manifest(setup.root());
    let output = setup.install("verified", &[SNEAKY], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        stderr.contains(
            "refused `pkgward-sneaky-cron` 0.9-1 from repo `verified`: 0 of the 2 required"
        ),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("ignored: verdict is FAILED").count(),
        2,
        "{stderr}"
    );
    assert_eq!(manifest(setup.root()), before);
    assert_eq!(setup.list(), "");
}

#[test]
fn an_attestation_under_another_policy_does_not_count() {
    let setup = Setup::new();
    setup.attest_greeting();
    setup.attest(HELLO, "v1", None);
    setup.attest(HELLO, "v2", None);
    // The administrator changed the policy after the verifiers signed.
    let mut policy = std::fs::read_to_string(setup.path("policy.toml")).unwrap();
    policy.push_str("\n# edited\n");
    std::fs::write(setup.path("policy.toml"), policy).unwrap();
    let stderr = setup.expect_refusal();
    assert!(stderr.contains("0 of the 2 required"), "{stderr}");
    assert!(stderr.contains("ignored: policy digest `"), "{stderr}");
}

#[test]
fn a_repo_without_verifiers_installs_without_attestations() {
    require_root!();
    let setup = Setup::new();
    let output = setup.install("local", &[HELLO, GREETING], &[]);
    assert!(output.status.success(), "{output:?}");
    assert!(setup.list().contains("pkgward-hello"));
    let database =
        pkgward_db::Database::open(&setup.root().join("var/lib/pkgward/db.sqlite")).unwrap();
    assert!(database.attestations("pkgward-hello").unwrap().is_empty());
}

#[test]
fn threshold_zero_and_above_the_keys_are_policy_errors_at_install() {
    let setup = Setup::new();
    let keys = setup
        .public_keys
        .iter()
        .map(|key| format!("\"{key}\""))
        .collect::<Vec<_>>()
        .join(", ");
    for (threshold, message) in [
        (0, "verifier threshold of repo `verified` is 0"),
        (
            4,
            "verifier threshold 4 of repo `verified` exceeds its 3 key(s)",
        ),
    ] {
        setup.write_policy("policy.toml", &keys, threshold);
        let before = manifest(setup.root());
        let output = setup.install("verified", &[HELLO, GREETING], &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        assert!(stderr.contains(message), "{stderr}");
        assert_eq!(manifest(setup.root()), before);
        assert_eq!(setup.list(), "");
    }
}

#[test]
fn a_footprint_that_does_not_cover_the_package_does_not_count() {
    let setup = Setup::new();
    setup.attest_greeting();
    // Two trusted keys sign PASSED statements about hello's exact bytes under
    // the configured policy, but their footprint leaves out the binary hello
    // places: it does not cover what is being installed.
    let policy_text = std::fs::read_to_string(setup.path("policy.toml")).unwrap();
    let loaded = pkgward_policy::load(&pkgward_policy::PolicyInput {
        policy_files: vec![pkgward_policy::SourceFile {
            name: "policy.toml",
            text: &policy_text,
        }],
        grants_files: vec![],
    })
    .unwrap();
    let compiled =
        pkgward_policy::CompiledPolicy::new(loaded, pkgward_policy::AliasTable::usrmerge());
    let package =
        pkgward_package::deb::read(&setup.path(HELLO), &pkgward_package::Limits::default())
            .unwrap();
    let mut footprint = serde_json::to_value(pkgward_policy::footprint::footprint_with(
        &package,
        &[],
        &compiled,
    ))
    .unwrap();
    let paths = footprint["paths"].as_array_mut().unwrap();
    let before = paths.len();
    paths.retain(|path| path != "/usr/bin/pkgward-hello");
    assert_eq!(paths.len(), before - 1, "{footprint}");
    let att = setup.hello_att();
    std::fs::create_dir_all(&att).unwrap();
    for key in ["v1", "v2"] {
        let private = pkgward_attest::PrivateKey::from_pkcs8_pem(
            &std::fs::read_to_string(setup.path(&format!("keys/{key}.key"))).unwrap(),
        )
        .unwrap();
        let statement = pkgward_attest::Statement::for_artifact(
            HELLO,
            &package.artifact_sha256,
            pkgward_attest::FootprintPredicate {
                verifier_id: key.to_owned(),
                policy_sha256: pkgward_attest::policy_digest(policy_text.as_bytes(), None),
                footprint: footprint.clone(),
                verdict: pkgward_attest::Verdict::Passed,
                time_verified: i64::try_from(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_secs(),
                )
                .unwrap(),
                pkgward_version: "test".to_owned(),
            },
        );
        std::fs::write(
            att.join(format!("{key}.json")),
            pkgward_attest::sign_statement(&statement, &private),
        )
        .unwrap();
    }
    let stderr = setup.expect_refusal();
    assert!(stderr.contains("0 of the 2 required"), "{stderr}");
    assert_eq!(
        stderr
            .matches("ignored: footprint does not cover what is being installed")
            .count(),
        2,
        "{stderr}"
    );
}
