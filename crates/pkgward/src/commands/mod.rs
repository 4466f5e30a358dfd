//! One module per subcommand. Each exposes `Args` (clap) and
//! `run(&Args) -> anyhow::Result<ExitCode>`.

pub mod attest;
pub mod audit;
pub mod explain;
pub mod inspect;
pub mod keygen;
pub mod policy;
pub mod verify;
pub mod verify_attestation;
