//! Install planning: (installed snapshot, policy, packages) -> Plan, as plain data. Pure.
//!
//! Architecture Invariant: this crate has no side effects. Everything the
//! plan needs from the root (what is installed, on-disk conffile digests,
//! resolved paths) is passed in by the caller.

pub mod actions;
pub mod capability_growth;
pub mod maintainer_scripts;
pub mod plan;
pub mod planner;

pub use plan::*;
