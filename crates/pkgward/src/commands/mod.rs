//! One module per subcommand. Each exposes `Args` (clap) and
//! `run(&Args) -> anyhow::Result<ExitCode>`.

pub mod attest;
pub mod audit_scripts;
pub mod inspect;
pub mod keygen;
pub mod verify_attestation;
pub mod sandbox;
