//! Applies a Plan to a root: staging through directory fds, commit, journal, recovery.
//!
//! On-disk state (the full map is in `docs/engine.md`), all under the root:
//! - `var/lib/pkgward/db.sqlite` (+ `-wal`, `-shm`): the package database ([`pkgward_db`]).
//! - `var/lib/pkgward/lock`: the writer lock ([`lock`]).
//! - `var/lib/pkgward/staging/<transaction>/`: files staged by prepare ([`transaction`]).
//! - `var/lib/pkgward/journal`: present only while a transaction commits ([`journal`]).
//!
//! Architecture Invariant: the engine never decides policy; it applies a
//! [`pkgward_plan::Plan`] that was already judged, and refuses a refused one.

pub mod accounts;
pub mod actions;
pub mod digest;
mod durability;
pub mod failpoint;
pub mod file_capabilities;
pub mod journal;
pub mod lock;
pub mod maintainer_scripts;
pub mod root;
pub mod snapshot;
pub mod transaction;
pub mod verify;
mod writeback;

pub use lock::{lock, RootLock};
pub use root::Root;
pub use transaction::{
    apply, recover, ApplyOptions, ContentSource, Durability, Outcome, RecoveryReport,
};

use std::os::fd::OwnedFd;

/// pkgward's state directory inside a root.
pub const STATE_DIRECTORY: &str = "/var/lib/pkgward";
/// Where prepare stages files: inside the root's filesystem so commit is a rename.
pub const STAGING_DIRECTORY: &str = "/var/lib/pkgward/staging";

/// Errors of the engine. Paths are paths inside the root.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read `{path}`")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write `{path}`")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "unsafe symlink `{path}`: owned by uid {uid}, not root; refusing to resolve through it"
    )]
    UnsafeSymlink { path: String, uid: u32 },
    #[error("too many symlinks resolving `{path}`")]
    SymlinkLoop { path: String },
    #[error("`{path}` is not a directory")]
    NotADirectory { path: String },
    #[error("`{path}` is a directory in the root; a package cannot replace it with a file")]
    WouldReplaceDirectory { path: String },
    #[error("invalid path `{path}`: {reason}")]
    InvalidPath { path: String, reason: String },
    #[error("the root is locked by {}", match pid { Some(pid) => format!("PID {pid}"), None => "another pkgward".to_owned() })]
    Locked {
        pid: Option<u32>,
        waited: std::time::Duration,
    },
    #[error("package `{package}` changed since it was planned: {detail}")]
    PackageChanged { package: String, detail: String },
    #[error("the plan is refused: {}", problems.join("; "))]
    Refused { problems: Vec<String> },
    #[error("cannot stream package `{package}`")]
    Source {
        package: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the database record of `{package}` is invalid: {detail}")]
    CorruptRecord { package: String, detail: String },
    #[error("{what}: {reason}")]
    Action { what: String, reason: String },
    #[error("the journal cannot be encoded: {0}")]
    Journal(String),
    #[error(transparent)]
    Database(#[from] pkgward_db::DatabaseError),
}

impl EngineError {
    pub(crate) fn io(what: String, errno: rustix::io::Errno) -> EngineError {
        EngineError::Io {
            what,
            source: errno.into(),
        }
    }
}

/// The package database of a root, opened through the state directory's fd
/// (`/proc/self/fd/N/db.sqlite`), so no path string built from the root's
/// path reaches SQLite. The fd stays open as long as the database.
#[derive(Debug)]
pub struct RootDatabase {
    pub database: pkgward_db::Database,
    _state_directory: OwnedFd,
}

/// Whether pkgward has a database in `root`, without opening it: a command
/// that changes an existing root checks this before it takes the lock (which
/// creates the state directory), so a root pkgward never used stays
/// untouched.
pub fn database_exists(root: &Root) -> Result<bool, EngineError> {
    Ok(root
        .status(&format!("{STATE_DIRECTORY}/db.sqlite"))?
        .is_some())
}

/// Opens the database of `root`. Without `create`, a root where pkgward never
/// ran has no database: `None`.
pub fn open_database(root: &Root, create: bool) -> Result<Option<RootDatabase>, EngineError> {
    let creation = create.then_some(root::DirectoryCreation::DEFAULT);
    let Some(state) = root.directory(STATE_DIRECTORY, creation)? else {
        return Ok(None);
    };
    if !create && !database_exists(root)? {
        return Ok(None);
    }
    let fd = rustix::fs::openat(
        &state.fd,
        ".",
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY,
        rustix::fs::Mode::empty(),
    )
    .map_err(|errno| EngineError::io(format!("cannot open `{STATE_DIRECTORY}`"), errno))?;
    let path = format!(
        "/proc/self/fd/{}/db.sqlite",
        std::os::fd::AsRawFd::as_raw_fd(&fd)
    );
    let database = pkgward_db::Database::open(std::path::Path::new(&path))?;
    Ok(Some(RootDatabase {
        database,
        _state_directory: fd,
    }))
}
