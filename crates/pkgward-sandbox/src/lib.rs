//! Sandbox for maintainer scripts and `pkgward sandbox -- CMD`: namespaces,
//! Landlock, seccomp. The only crate with `unsafe` code; every block carries
//! a `// SAFETY:` comment and nearly all of them live in [`kernel`].
//!
//! The caller builds a [`Spec`] (plain data), [`run`] hands it to a
//! helper process (re-executed, or for a single-threaded caller its own
//! fork-like child) over a socket, and gets back an [`Outcome`]:
//! the achieved [`Status`] (what was enforced, measured inside), the
//! command's exit and its captured output. See `docs/sandbox.md`.
//!
//! Architecture Invariant: the command never starts unless every namespace,
//! the read-only root, seccomp (when asked) and Landlock at the required
//! level are in place; any setup failure is reported as an error and the
//! command is not run.

mod helper;
mod kernel;
mod landlock_rules;
mod mounts;
mod process_limit;
mod run;
mod spec;
mod status;
mod syscall_filter;

pub use helper::{run_helper_if_requested, HELPER_ARGV0};
pub use landlock_rules::kernel_abi as landlock_kernel_abi;
pub use run::{run, user_namespaces_available, HelperProgram, SandboxError, CAPTURE_LIMIT};
pub use spec::{
    default_environment, Bind, LandlockRequirement, Network, Overlay, ResourceLimits, Spec,
    SpecError, DEFAULT_PATH,
};
pub use status::{
    CommandExit, Enforcement, LandlockStatus, Outcome, ProcessLimit, SeccompStatus, Status,
    UserMapping,
};
