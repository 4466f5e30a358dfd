//! `pkgward keygen --out DIR [--name N]`: create an ed25519 verifier key pair.
//!
//! Writes `DIR/N.key` (PKCS#8 PEM, readable by OpenSSL) and `DIR/N.pub`
//! (`ed25519:<base64>`, the form policies list), and prints the public key.
//! The private key file is created with mode 0600 in the `open` call itself,
//! never chmod-ed afterwards, so no other user can open it in between; an
//! existing file is never overwritten (`O_EXCL`).

use super::attest::hinted;
use anyhow::Context as _;
use pkgward_attest::PrivateKey;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory for the key files (created with mode 0700 if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Base name of the key files: `NAME.key` and `NAME.pub`.
    #[arg(long, value_name = "NAME", default_value = "verifier")]
    pub name: String,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    if args.name.is_empty() || args.name.starts_with('.') || args.name.contains(['/', '\0']) {
        anyhow::bail!(
            "key name `{}` must be a plain file name (no `/`, not starting with `.`)",
            args.name
        );
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&args.out)
        .with_context(|| format!("cannot create key directory `{}`", args.out.display()))?;
    let private_path = args.out.join(format!("{}.key", args.name));
    let public_path = args.out.join(format!("{}.pub", args.name));
    for path in [&private_path, &public_path] {
        if path.symlink_metadata().is_ok() {
            return Err(hinted(
                format!("key file `{}` already exists", path.display()),
                "keys are never overwritten: choose another `--name` or another `--out`",
            ));
        }
    }
    let key = PrivateKey::generate();
    let public = key.public_key();
    write_new(&private_path, 0o600, key.to_pkcs8_pem().as_bytes())?;
    write_new(
        &public_path,
        0o644,
        format!("{}\n", public.to_text()).as_bytes(),
    )?;
    println!("{}", public.to_text());
    eprintln!(
        "wrote `{}` (private, mode 0600) and `{}`; key id {}",
        private_path.display(),
        public_path.display(),
        public.key_id()
    );
    Ok(ExitCode::SUCCESS)
}

/// Create `path` exclusively with `mode` and write `bytes`, flushed to disk.
fn write_new(path: &Path, mode: u32, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create key file `{}`", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write key file `{}`", path.display()))?;
    Ok(())
}
