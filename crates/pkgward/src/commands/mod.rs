//! One module per subcommand. Each exposes `Args` (clap) and
//! `run(&Args) -> anyhow::Result<ExitCode>`.

pub mod attest;
pub mod inspect;
pub mod keygen;
pub mod sandbox;
pub mod verify_attestation;
