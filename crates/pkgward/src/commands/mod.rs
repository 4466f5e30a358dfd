//! One module per subcommand. Each exposes `Args` (clap) and
//! `run(&Args) -> anyhow::Result<ExitCode>`.

pub mod actions;
pub mod attest;
pub mod audit;
pub mod audit_scripts;
pub mod check;
pub mod explain;
pub mod files;
pub mod inspect;
pub mod install;
pub mod keygen;
pub mod list;
pub mod owner;
pub mod package_read;
pub mod policy;
pub mod progress;
pub mod recover;
pub mod remove;
pub mod sandbox;
pub mod script_phases;
pub mod verify;
pub mod verify_attestation;
