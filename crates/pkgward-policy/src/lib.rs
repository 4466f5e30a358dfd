//! Capability policy: policy/grant files, the guarded-path catalog, compiled
//! matchers, and decisions with provenance.
//!
//! Architecture invariant: this crate is pure. It never touches the
//! filesystem, the environment or processes; callers pass file names and
//! contents in, and get values out (`clippy.toml` fences this).
//!
//! Flow: [`parse::load`] (TOML → validated [`model::Policy`], errors at
//! `file:line:column`) → [`evaluate::CompiledPolicy::new`] (catalog + aliases,
//! once) → [`evaluate::CompiledPolicy::for_subject`] (one package's rules) →
//! [`evaluate::SubjectPolicy::decide`] (one [`evaluate::Decision`] per
//! request). [`footprint`] turns a package into requests and least-privilege
//! grants; [`verify`] checks every entry and declaration of a package.

pub mod catalog;
pub mod evaluate;
pub mod file_capabilities;
pub mod footprint;
pub mod model;
pub mod parse;
pub mod path;
pub mod pattern;
pub mod verify;
pub mod version;

pub use evaluate::{
    CompiledPolicy, Decision, InstalledOwner, Judgement, Layer, Provenance, Request, Subject,
    SubjectPolicy, Verdict,
};
pub use model::{Policy, ScriptMode};
pub use parse::{load, PolicyError, PolicyErrors, PolicyInput, SourceFile};
pub use path::AliasTable;
