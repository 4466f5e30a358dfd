//! What the sandbox achieved ([`Status`]) and how the command ended
//! ([`Outcome`]). The achieved status is measured inside the sandbox and
//! reported back, never assumed from the spec (STYLE.md point 7).

use serde::{Deserialize, Serialize};

/// The confinement actually in force when the command started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The namespaces the command runs in (all of them, or the sandbox
    /// refuses to start: there is no degraded mode for namespaces).
    pub namespaces: Vec<String>,
    /// How user ids are mapped into the sandbox's user namespace.
    pub user_mapping: UserMapping,
    pub landlock: LandlockStatus,
    pub seccomp: SeccompStatus,
    /// `PR_GET_NO_NEW_PRIVS` read back after it was set.
    pub no_new_privs: bool,
    /// Capabilities left in the bounding set (names); empty by default.
    pub capability_bounding_set: Vec<String>,
    /// What enforces the spec's process limit.
    pub process_limit: ProcessLimit,
}

/// What enforces the process limit (see `process_limit.rs` for why root
/// needs a cgroup).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProcessLimit {
    /// `pid_max` of the sandbox's own pid namespace (root callers, kernel
    /// 6.14 or later, seccomp on): no pid beyond the limit can be allocated
    /// in the namespace, for any process or thread in it or below it.
    PidNamespace,
    /// A `pids` cgroup created for this run (root callers otherwise).
    Cgroup,
    /// `RLIMIT_NPROC` (unprivileged callers: it binds their uid).
    Rlimit,
    /// Nothing: root caller without a usable `pids` cgroup, or no limit in
    /// the spec. The timeout and the pid namespace still end every process.
    None,
}

/// User-id mapping of the sandbox's user namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum UserMapping {
    /// The caller is root: ids `0..count` inside are the same ids outside, so
    /// files created and `chown`ed inside carry the real owners.
    Identity { count: u32 },
    /// An unprivileged caller: only uid/gid 0 inside exists, mapped to the
    /// caller's ids; `chown` to other users is impossible.
    Single { uid: u32, gid: u32 },
}

/// Landlock as enforced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LandlockStatus {
    /// The ABI version the kernel reports (0: no Landlock).
    pub kernel_abi: u8,
    /// The ABI whose rights were requested and handled.
    pub abi: u8,
    pub enforcement: Enforcement,
    /// Truncation of files outside writable paths is denied (ABI ≥ 3).
    pub truncate_controlled: bool,
    /// `ioctl` on device files is denied (ABI ≥ 5).
    pub device_ioctl_controlled: bool,
    /// Abstract unix sockets and signals are scoped to the sandbox (ABI ≥ 6).
    pub scoped: bool,
}

/// The three results `landlock_restrict_self` can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Enforcement {
    Full,
    Partial,
    None,
}

/// seccomp as installed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeccompStatus {
    /// A filter is installed (`Seccomp: 2` in `/proc/self/status`).
    pub filter_installed: bool,
    /// Number of system calls on the denylist (excluding the guards).
    pub denied_syscalls: usize,
    /// The architecture guard (kill on non-x86_64 and x32 calls) is present.
    pub architecture_guard: bool,
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "value")]
pub enum CommandExit {
    /// `exit(code)`.
    Exited(i32),
    /// Killed by this signal (for example 31, `SIGSYS`, from the seccomp
    /// architecture guard; 9 after a resource limit).
    Signaled(i32),
    /// The wall-clock timeout expired and the pid namespace was killed.
    TimedOut,
}

impl CommandExit {
    /// The shell convention: the exit code, or 128 + signal.
    pub fn code(self) -> i32 {
        match self {
            CommandExit::Exited(code) => code,
            CommandExit::Signaled(signal) => 128 + signal,
            CommandExit::TimedOut => 124,
        }
    }

    pub fn success(self) -> bool {
        self == CommandExit::Exited(0)
    }
}

impl std::fmt::Display for CommandExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommandExit::Exited(code) => write!(f, "exited with code {code}"),
            CommandExit::Signaled(signal) => write!(f, "killed by signal {signal}"),
            CommandExit::TimedOut => f.write_str("timed out"),
        }
    }
}

/// Everything a finished sandbox run returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: Status,
    pub exit: CommandExit,
    /// The command's standard output (at most [`crate::CAPTURE_LIMIT`] bytes).
    pub stdout: Vec<u8>,
    /// The command's standard error (at most [`crate::CAPTURE_LIMIT`] bytes).
    pub stderr: Vec<u8>,
}

/// The closed set of messages sent from the sandbox's pid 1 to the caller, one
/// JSON object per line over the control socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Message {
    /// Sent by the sandbox's pid 1 when confinement is in place, just before
    /// the command starts.
    Confined(Status),
    /// Sent instead of `Confined` when setup failed; the command never ran.
    SetupFailed(String),
    /// Sent by pid 1 when the command ended on its own.
    CommandEnded(CommandExit),
}
