//! `pkgward verify-attestation ENVELOPE… --artifact PKG --key K… [--threshold N]`:
//! the install-time attestation check, for people and CI.
//!
//! Prints one line per envelope (`counted` with the keys it credited, or
//! `ignored` with the specific refusal), then the count of distinct trusted
//! keys. Exits 1 when fewer than `--threshold` distinct keys attest. There
//! is no install plan here, so footprint coverage is not checked; the
//! install check does that.

use super::attest::hinted;
use anyhow::Context as _;
use pkgward_attest::discovery::read_envelope_file;
use pkgward_attest::{
    check, Expectation, Limits, PolicyRequirement, PublicKey, Report, TrustedKey, VerifierSet,
};
use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// DSSE envelope files.
    #[arg(required = true, value_name = "ENVELOPE")]
    pub envelopes: Vec<PathBuf>,
    /// The package file the attestations must be about.
    #[arg(long, value_name = "PKG")]
    pub artifact: PathBuf,
    /// A trusted key: `ed25519:<base64>`, `NAME=ed25519:<base64>`, or a file
    /// holding either form or a PEM public key. Repeat for each verifier.
    #[arg(long = "key", value_name = "KEY", required = true)]
    pub keys: Vec<String>,
    /// How many distinct trusted keys must attest.
    #[arg(long, default_value_t = 1)]
    pub threshold: usize,
    /// Accepted policy digest (sha256 hex, optionally `sha256:`-prefixed).
    /// Repeatable. Without it the policy digest is not checked.
    #[arg(long = "policy-digest", value_name = "DIGEST")]
    pub policy_digests: Vec<String>,
    /// Refuse attestations verified longer ago than this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub max_age: Option<u64>,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let keys = args
        .keys
        .iter()
        .map(|text| trusted_key(text))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let verifiers = VerifierSet::new(keys, args.threshold).map_err(|error| {
        hinted(
            error,
            "list each verifier key once and use 1 <= --threshold <= number of keys",
        )
        .context("invalid verifier configuration")
    })?;
    let limits = Limits::default();
    let envelopes = args
        .envelopes
        .iter()
        .map(|path| read_envelope_file(path, &limits))
        .collect::<Result<Vec<_>, _>>()?;
    let policy = if args.policy_digests.is_empty() {
        PolicyRequirement::Any
    } else {
        PolicyRequirement::OneOf(
            args.policy_digests
                .iter()
                .map(|digest| normalise_digest(digest))
                .collect::<anyhow::Result<_>>()?,
        )
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("system clock is before 1970")?;
    let artifact_sha256 = super::attest::sha256_file(&args.artifact)?;
    let expectation = Expectation {
        artifact_sha256: artifact_sha256.clone(),
        policy,
        now_unix: i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
        max_age_seconds: args.max_age,
    };
    let result = check(&envelopes, &verifiers, &expectation, |_| true, &limits);
    let report = match &result {
        Ok(accepted) => &accepted.0,
        Err(refusal) => &refusal.0,
    };
    print_report(report);
    if args.policy_digests.is_empty() {
        eprintln!("note: policy digests were not checked (no `--policy-digest`)");
    }
    match result {
        Ok(accepted) => {
            println!(
                "accepted: {} of {} required distinct trusted keys attest `{}` (sha256 {artifact_sha256})",
                accepted.0.distinct_keys(),
                accepted.0.threshold,
                args.artifact.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(refusal) => Err(hinted(
            refusal,
            "each line above says why an envelope did not count; a key counts once however many signatures it made",
        )
        .context(format!(
            "attestations for `{}` (sha256 {artifact_sha256}) do not meet the threshold",
            args.artifact.display()
        ))),
    }
}

fn print_report(report: &Report) {
    for outcome in &report.outcomes {
        match &outcome.result {
            Ok(counted) => {
                let keys: Vec<String> = counted
                    .keys
                    .iter()
                    .map(|trusted| {
                        format!("`{}` ({})", trusted.identity, &trusted.key.key_id()[..16])
                    })
                    .collect();
                println!(
                    "counted  {}: key {}, verifier `{}`, verified {}",
                    outcome.source,
                    keys.join(", "),
                    counted.verifier_id,
                    pkgward_attest::timestamp::format_rfc3339(counted.time_verified)
                );
            }
            Err(refusal) => println!("ignored  {}: {refusal}", outcome.source),
        }
    }
}

/// `NAME=KEY`, `KEY`, or a file holding a key (`ed25519:` text or PEM).
fn trusted_key(argument: &str) -> anyhow::Result<TrustedKey> {
    let (name, text) = match argument.split_once('=') {
        Some((name, rest))
            if !name.is_empty()
                && !name.contains([':', '/'])
                && !name.starts_with("-----")
                && !rest.is_empty() =>
        {
            (Some(name.to_owned()), rest.to_owned())
        }
        _ => (None, argument.to_owned()),
    };
    let text = if text.starts_with(pkgward_attest::keys::PUBLIC_KEY_PREFIX)
        || text.starts_with("-----BEGIN")
    {
        text
    } else {
        let file = fs_err::File::open(&text).with_context(|| {
            format!("`--key {argument}` is neither a key nor a readable key file")
        })?;
        let mut contents = String::new();
        file.take(64 * 1024).read_to_string(&mut contents)?;
        contents
    };
    let key = PublicKey::parse(&text).with_context(|| format!("invalid `--key {argument}`"))?;
    Ok(TrustedKey {
        identity: name.unwrap_or_else(|| key.key_id()[..16].to_owned()),
        key,
    })
}

/// Accept `sha256:<hex>` or `<hex>`; 64 hex digits, lower-cased.
fn normalise_digest(text: &str) -> anyhow::Result<String> {
    let hex_part = text.strip_prefix("sha256:").unwrap_or(text);
    if hex_part.len() != 64 || !hex_part.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        anyhow::bail!("policy digest `{text}` is not 64 hex digits (sha256)");
    }
    Ok(hex_part.to_ascii_lowercase())
}
