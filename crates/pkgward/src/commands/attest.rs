//! `pkgward attest PKG --key FILE …`: verify a package against a policy
//! without running anything from it, and sign the result as a DSSE envelope
//! holding an in-toto Statement v1 (schema in `docs/attestations.md`).
//!
//! The package is read once by the `.deb` reader, which also hashes the
//! artifact; the subject digest is that hash, so the statement is about the
//! bytes that were verified. The footprint and verdict are
//! `pkgward_policy::verify::verify`'s: PASSED when no item is denied.

use crate::render::Hint;
use anyhow::Context as _;
use pkgward_attest::{FootprintPredicate, PrivateKey, Statement, Verdict};
use pkgward_package::model::EntryKind;
use pkgward_policy::footprint::{is_declaration_path, DeclarationFile};
use pkgward_policy::{AliasTable, CompiledPolicy, PolicyInput, SourceFile};
use sha2::{Digest as _, Sha256};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Largest policy or grants file accepted.
const MAX_POLICY_BYTES: u64 = 8 * 1024 * 1024;
/// Largest declaration (sysusers / unit file) read from a package.
const MAX_DECLARATION_BYTES: u64 = 1024 * 1024;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The package file to verify and attest.
    pub package: PathBuf,
    /// The verifier's private key (PKCS#8 PEM, from `pkgward keygen`).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Policy file to verify against [default: the embedded default policy].
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Grants file for `--repo` (part of the policy digest).
    #[arg(long, value_name = "FILE")]
    pub grants: Option<PathBuf>,
    /// Repository the package is verified for (recorded as `policy.repo`).
    #[arg(long, value_name = "NAME", default_value = "local")]
    pub repo: String,
    /// Where to write the envelope [default: `PKG.att/<key id prefix>.json`].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Verifier id recorded in the predicate [default: `pkgward:<key id>`].
    #[arg(long, value_name = "ID")]
    pub verifier_id: Option<String>,
}

/// What the verification found.
struct Assessment {
    artifact_sha256: String,
    footprint: serde_json::Value,
    verdict: Verdict,
    denials: Vec<String>,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let key_text = read_small(&args.key, 64 * 1024, "private key")?;
    let key = PrivateKey::from_pkcs8_pem(&String::from_utf8_lossy(&key_text))
        .with_context(|| format!("cannot use private key `{}`", args.key.display()))?;
    let public = key.public_key();
    let artifact_name = args
        .package
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .with_context(|| format!("package path `{}` has no file name", args.package.display()))?;
    let policy = match &args.policy {
        Some(path) => Some((
            path.display().to_string(),
            read_text(path, MAX_POLICY_BYTES, "policy")?,
        )),
        None => None,
    };
    let grants = match &args.grants {
        Some(path) => Some((
            path.display().to_string(),
            read_text(path, MAX_POLICY_BYTES, "grants")?,
        )),
        None => None,
    };
    let policy_sha256 = configured_policy_digest(
        policy.as_ref().map(|(_, text)| text.as_str()),
        grants.as_ref().map(|(_, text)| text.as_str()),
    );
    let assessment = assess(args, policy.as_ref(), grants.as_ref())?;

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("system clock is before 1970")?;
    let statement = Statement::for_artifact(
        &artifact_name,
        &assessment.artifact_sha256,
        FootprintPredicate {
            verifier_id: args
                .verifier_id
                .clone()
                .unwrap_or_else(|| format!("pkgward:{}", public.key_id())),
            policy_sha256,
            footprint: assessment.footprint,
            verdict: assessment.verdict,
            time_verified: i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
            pkgward_version: env!("CARGO_PKG_VERSION").to_owned(),
        },
    );
    // The repo is extra information inside the signed payload; readers that
    // do not know it ignore it.
    let mut payload = statement.to_json();
    payload["predicate"]["policy"]["repo"] = serde_json::Value::String(args.repo.clone());
    let envelope = pkgward_attest::envelope::sign(
        pkgward_attest::IN_TOTO_PAYLOAD_TYPE,
        &serde_json::to_vec(&payload)?,
        &[&key],
    );

    let out = if let Some(out) = &args.out {
        out.clone()
    } else {
        let dir = pkgward_attest::discovery::attestation_dir_for(&args.package);
        fs_err::create_dir_all(&dir)?;
        dir.join(format!("{}.json", &public.key_id()[..16]))
    };
    fs_err::write(&out, envelope.as_bytes())?;
    for denial in &assessment.denials {
        eprintln!("denied: {denial}");
    }
    eprintln!(
        "attested `{artifact_name}` (sha256 {}): {} for repo `{}` under policy {}, key id {}",
        assessment.artifact_sha256,
        statement.predicate.verdict.as_str(),
        args.repo,
        statement.predicate.policy_sha256,
        public.key_id()
    );
    println!("{}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// Read the package (declarations extracted for the footprint), load the
/// policy, and verify. Nothing from the package is executed.
fn assess(
    args: &Args,
    policy: Option<&(String, String)>,
    grants: Option<&(String, String)>,
) -> anyhow::Result<Assessment> {
    let (package, declarations) = read_with_declarations(&args.package)?;

    let input = PolicyInput {
        policy_files: policy
            .map(|(name, text)| vec![SourceFile { name, text }])
            .unwrap_or_default(),
        grants_files: grants
            .map(|(name, text)| vec![(args.repo.clone(), SourceFile { name, text })])
            .unwrap_or_default(),
    };
    let loaded = pkgward_policy::load(&input).map_err(|errors| anyhow::anyhow!("{errors}"))?;
    let compiled = CompiledPolicy::new(loaded, AliasTable::usrmerge());
    let mut verification =
        pkgward_policy::verify::verify(&package, &declarations, &compiled, &args.repo, &[])
            .map_err(|unknown| hinted(unknown, "pass `--repo` with a repo the policy defines"))?;
    super::verify::judge_scripts_as_install_does(
        &mut verification,
        &package,
        &compiled,
        &args.repo,
    )?;
    let denials = verification
        .denials()
        .map(|checked| {
            format!(
                "{} (by {}: {})",
                checked.item,
                checked.decision.because.location(),
                checked.decision.because.rule
            )
        })
        .collect();
    Ok(Assessment {
        artifact_sha256: package.artifact_sha256.clone(),
        footprint: serde_json::to_value(&verification.footprint)?,
        verdict: if verification.passed() {
            Verdict::Passed
        } else {
            Verdict::Failed
        },
        denials,
    })
}

/// The policy digest an attestation names and the installer compares
/// (`predicate.policy.digest.sha256`): of the policy text given, or of the
/// embedded default policy when there is none, framed with the grants text
/// when there is one (`pkgward_attest::policy_digest`).
pub(crate) fn configured_policy_digest(policy: Option<&str>, grants: Option<&str>) -> String {
    let policy_text = policy.unwrap_or(pkgward_policy::parse::EMBEDDED_DEFAULT);
    pkgward_attest::policy_digest(policy_text.as_bytes(), grants.map(str::as_bytes))
}

/// Read a package (`.deb` or `.rpm`, which the reader hashes) and keep the
/// declarations (sysusers and unit files) the footprint is computed from.
/// Nothing from the package is executed.
pub(crate) fn read_with_declarations(
    package_path: &Path,
) -> anyhow::Result<(pkgward_package::model::Package, Vec<DeclarationFile>)> {
    let mut declarations = Vec::new();
    let package = pkgward_package::artifact::for_each_data_entry(
        package_path,
        &pkgward_package::model::Limits::default(),
        |entry, reader| -> anyhow::Result<()> {
            if entry.kind == EntryKind::File && is_declaration_path(&entry.path) {
                let mut bytes = Vec::new();
                reader
                    .take(MAX_DECLARATION_BYTES + 1)
                    .read_to_end(&mut bytes)?;
                if bytes.len() as u64 > MAX_DECLARATION_BYTES {
                    anyhow::bail!(
                        "declaration `{}` is larger than {MAX_DECLARATION_BYTES} bytes",
                        entry.path
                    );
                }
                declarations.push(DeclarationFile {
                    path: entry.path.clone(),
                    bytes,
                });
            }
            Ok(())
        },
    )
    .with_context(|| format!("cannot read package `{}`", package_path.display()))?;
    Ok((package, declarations))
}

/// Stream the file through sha256.
pub(crate) fn sha256_file(path: &Path) -> anyhow::Result<String> {
    let mut file = fs_err::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

/// Read a file of at most `limit` bytes.
fn read_small(path: &Path, limit: u64, what: &str) -> anyhow::Result<Vec<u8>> {
    let file = fs_err::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        anyhow::bail!(
            "{what} file `{}` is larger than {limit} bytes",
            path.display()
        );
    }
    Ok(bytes)
}

fn read_text(path: &Path, limit: u64, what: &str) -> anyhow::Result<String> {
    String::from_utf8(read_small(path, limit, what)?)
        .map_err(|_| anyhow::anyhow!("{what} file `{}` is not UTF-8", path.display()))
}

/// An error whose message is `message` and whose hint is `hint`. The hint is
/// the root of the chain, where `render::error` can recognise it by type
/// (context layers wrap their value and do not downcast from `chain()`).
pub(crate) fn hinted(message: impl std::fmt::Display, hint: &str) -> anyhow::Error {
    anyhow::Error::new(Hint(hint.to_owned())).context(message.to_string())
}
