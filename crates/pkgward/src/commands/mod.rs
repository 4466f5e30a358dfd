//! One module per subcommand. Each exposes `Args` (clap) and
//! `run(&Args) -> anyhow::Result<ExitCode>`.

pub mod attest;
pub mod audit_scripts;
pub mod check;
pub mod files;
pub mod inspect;
pub mod install;
pub mod keygen;
pub mod list;
pub mod owner;
pub mod recover;
pub mod remove;
pub mod sandbox;
pub mod verify_attestation;
