//! Declarative actions: sysusers.d, systemd units, tmpfiles.d and
//! alternatives parsers and checkers, and the maintainer-script classifier.
//!
//! Architecture Invariant: this crate is pure. It never reads the
//! environment, runs a process or writes a file; every function takes bytes
//! and grant inputs and returns plain data (refusals, edit plans, symlink
//! lists, classifications) that `pkgward-engine` applies later through
//! directory file descriptors.

pub mod alternatives;
pub mod refusal;
pub mod scripts;
pub mod shell;
pub mod sysusers;
pub mod tmpfiles;
pub mod units;

pub use refusal::Refusal;
