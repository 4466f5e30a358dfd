//! Package model and parse-only readers (.deb; later .rpm). Never writes files or runs processes.
//!
//! - [`model`]: the format-independent [`Package`] and its parts.
//! - [`version`]: Debian version ordering.
//! - `deb`: the streaming `.deb` reader.
//!
//! Architecture Invariant: this crate only reads. It opens the artifact it is
//! given and nothing else; it never creates files, never unpacks, never runs
//! a process.

pub mod deb;
pub mod deb_builder;
pub mod model;
pub mod rpm;
#[cfg(feature = "rpm-builder")]
pub mod rpm_builder;
pub mod rpm_version;
pub mod version;

pub use model::{
    Entry, EntryKind, Format, Limits, Package, Relation, Relations, Script, ScriptName, Trigger,
    VersionOp,
};
pub use version::{Version, VersionScheme};
