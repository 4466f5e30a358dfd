//! Package model and parse-only readers (.deb and .rpm). Never writes files or runs processes.
//!
//! - [`model`]: the format-independent [`Package`] and its parts.
//! - [`version`]: Debian version ordering.
//! - `deb`: the streaming `.deb` reader; `rpm`: the streaming `.rpm` reader;
//!   `artifact`: picks one by the file's magic bytes.
//! - [`rpm_version`]: rpm version ordering (`rpmvercmp`).
//! - [`file_capabilities`]: file capabilities, text form and `security.capability` bytes.
//!
//! Architecture Invariant: this crate only reads. It opens the artifact it is
//! given and nothing else; it never creates files, never unpacks, never runs
//! a process.

pub mod artifact;
pub mod deb;
pub mod deb_builder;
pub mod file_capabilities;
pub mod model;
pub mod rpm;
#[cfg(feature = "rpm-builder")]
pub mod rpm_builder;
pub mod rpm_version;
pub mod version;

pub use model::{
    Entry, EntryKind, FileDigests, Format, Limits, Package, Relation, Relations, Script,
    ScriptName, Trigger, VersionOp,
};
pub use version::{Version, VersionScheme};
