//! One module per subcommand. Each exposes `Args` (clap) and
//! `run(&Args) -> anyhow::Result<ExitCode>`.

pub mod check;
pub mod files;
pub mod inspect;
pub mod install;
pub mod list;
pub mod owner;
pub mod recover;
pub mod remove;
