//! `pkgward attest PKG --key FILE …`: sign what a verifier found about a
//! package as a DSSE envelope holding an in-toto Statement v1 (schema in
//! `docs/attestations.md`).
//!
//! The subject is the package file's name and the sha256 of its bytes. The
//! footprint and verdict come from [`assess`]. Until `pkgward-policy`'s
//! `footprint`/`verify` are merged, `assess` takes them from the caller
//! (`--footprint FILE.json --verdict PASSED|FAILED`) rather than computing
//! them: the attestation then records what the caller asserts, and says so
//! in the verifier id unless one is given. It never invents a verdict.

use crate::render::Hint;
use anyhow::Context as _;
use pkgward_attest::{FootprintPredicate, PrivateKey, Statement, Verdict};
use sha2::{Digest as _, Sha256};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Largest footprint file accepted (the envelope limit is 16 MiB).
const MAX_FOOTPRINT_BYTES: u64 = 8 * 1024 * 1024;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum VerdictArg {
    #[value(name = "PASSED")]
    Passed,
    #[value(name = "FAILED")]
    Failed,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The package file to attest.
    pub package: PathBuf,
    /// The verifier's private key (PKCS#8 PEM, from `pkgward keygen`).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The policy the package was checked against; its digest is recorded.
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// Grants file used together with the policy (part of the policy digest).
    #[arg(long, value_name = "FILE")]
    pub grants: Option<PathBuf>,
    /// Repository the package was checked for (recorded as `policy.repo`).
    #[arg(long, value_name = "NAME")]
    pub repo: Option<String>,
    /// Where to write the envelope [default: `PKG.att/<key id prefix>.json`].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Verifier id recorded in the predicate [default: `pkgward:<key id>`].
    #[arg(long, value_name = "ID")]
    pub verifier_id: Option<String>,
    /// Footprint JSON to attest (required until footprints are computed by
    /// pkgward-policy; see docs/attestations.md).
    #[arg(long, value_name = "FILE.json")]
    pub footprint: Option<PathBuf>,
    /// Verdict to attest, as reached by the verification that produced
    /// `--footprint`.
    #[arg(long, value_name = "PASSED|FAILED")]
    pub verdict: Option<VerdictArg>,
}

/// What the verification found.
struct Assessment {
    footprint: serde_json::Value,
    verdict: Verdict,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let key_text = read_small(&args.key, 64 * 1024, "private key")?;
    let key = PrivateKey::from_pkcs8_pem(&String::from_utf8_lossy(&key_text))
        .with_context(|| format!("cannot use private key `{}`", args.key.display()))?;
    let public = key.public_key();
    let artifact_sha256 = sha256_file(&args.package)?;
    let artifact_name = args
        .package
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .with_context(|| format!("package path `{}` has no file name", args.package.display()))?;
    let policy = read_small(&args.policy, MAX_FOOTPRINT_BYTES, "policy")?;
    let grants = args
        .grants
        .as_ref()
        .map(|path| read_small(path, MAX_FOOTPRINT_BYTES, "grants"))
        .transpose()?;
    let policy_sha256 = pkgward_attest::policy_digest(&policy, grants.as_deref());
    let assessment = assess(args)?;

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("system clock is before 1970")?;
    let statement = Statement::for_artifact(
        &artifact_name,
        &artifact_sha256,
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
    if let Some(repo) = &args.repo {
        payload["predicate"]["policy"]["repo"] = serde_json::Value::String(repo.clone());
    }
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
    eprintln!(
        "attested `{artifact_name}` (sha256 {artifact_sha256}): {} under policy {}, key id {}",
        statement.predicate.verdict.as_str(),
        statement.predicate.policy_sha256,
        public.key_id()
    );
    println!("{}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// The footprint and verdict to sign. This is the seam where
/// `pkgward_policy::footprint` and `pkgward_policy::verify` plug in; until
/// they are merged, both are inputs and nothing is guessed.
fn assess(args: &Args) -> anyhow::Result<Assessment> {
    let (Some(footprint_path), Some(verdict)) = (&args.footprint, args.verdict) else {
        return Err(hinted(
            "`pkgward attest` needs `--footprint FILE.json` and `--verdict PASSED|FAILED`",
            "this build cannot compute footprints itself yet: run the verification and pass its footprint and verdict",
        ));
    };
    let bytes = read_small(footprint_path, MAX_FOOTPRINT_BYTES, "footprint")?;
    let footprint = pkgward_attest::strict_json::parse_value(&bytes)
        .with_context(|| format!("footprint `{}` is not valid JSON", footprint_path.display()))?;
    Ok(Assessment {
        footprint,
        verdict: match verdict {
            VerdictArg::Passed => Verdict::Passed,
            VerdictArg::Failed => Verdict::Failed,
        },
    })
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

/// An error whose message is `message` and whose hint is `hint`. The hint is
/// the root of the chain, where `render::error` can recognise it by type
/// (context layers wrap their value and do not downcast from `chain()`).
pub(crate) fn hinted(message: impl std::fmt::Display, hint: &str) -> anyhow::Error {
    anyhow::Error::new(Hint(hint.to_owned())).context(message.to_string())
}
