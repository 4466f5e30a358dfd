//! The commit journal: `<root>/var/lib/pkgward/journal`.
//!
//! Written (and fsynced, with its directory) after everything is staged and
//! synced and before the first change to the root; removed after the database
//! commit. While it exists, the transaction is committing and recovery rolls
//! it forward. Format: one header line `pkgward-journal 1 <sha256 of body>`
//! then the JSON body. A torn or half-written journal fails the checksum and
//! is treated as never written (THREATS 51): nothing in the root was touched
//! before a complete journal existed.

use crate::{EngineError, STATE_DIRECTORY};
use pkgward_db::Change;
use rustix::fs::{fsync, openat, renameat, unlinkat, AtFlags, Mode, OFlags};
use rustix::io::Errno;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};

const HEADER: &str = "pkgward-journal 1 ";

/// One idempotent change to the root, replayable by recovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum Step {
    /// Create the directory if missing (an existing one is left as it is, like dpkg).
    MakeDirectory {
        path: String,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    /// Rename `staged` (a name in the staging directory) to `path`. A missing
    /// staged name means the rename already happened.
    Place { staged: String, path: String },
    /// Delete the file or symlink `path` if present (setuid bits are removed first).
    Remove { path: String },
    /// Delete the directory `path` if present and empty.
    RemoveDirectory { path: String },
    /// Rename the staged account files into place while holding
    /// `/etc/.pwd.lock` (lckpwdf). A missing staged name already happened.
    AccountFiles { files: Vec<StagedAccountFile> },
    /// Create the symlink `path` -> `target` (unit enablement) unless it is
    /// there already.
    Symlink { path: String, target: String },
    /// Delete the symlink `path` if it still points to `target`.
    RemoveSymlink { path: String, target: String },
    /// Rename `staged` to `path` only if nothing is at `path` (`tmpfiles.d`
    /// `f`/`L`/`C`): an existing object is kept and the staged one dropped.
    PlaceIfAbsent { staged: String, path: String },
    /// Set owner/group/mode of `path` (never through a final symlink; the
    /// mode is not applied to symlinks).
    SetAttributes {
        path: String,
        uid: Option<u32>,
        gid: Option<u32>,
        mode: Option<u32>,
    },
}

/// One account file staged at prepare.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedAccountFile {
    /// The name in the staging directory.
    pub staged: String,
    /// `/etc/passwd`, `/etc/group`, `/etc/shadow` or `/etc/gshadow`.
    pub path: String,
}

/// What a committing transaction will do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalRecord {
    /// The transaction id: also the name of its staging directory.
    pub transaction: String,
    pub steps: Vec<Step>,
    pub change: Change,
}

/// What reading the journal found.
#[derive(Debug)]
pub enum JournalState {
    Absent,
    /// Incomplete or corrupt: never fully written, so never acted on.
    Torn,
    Committing(JournalRecord),
}

/// Writes `record` durably: temp file, fsync, rename, fsync of the directory.
pub fn write(state_directory: &OwnedFd, record: &JournalRecord) -> Result<(), EngineError> {
    let body =
        serde_json::to_vec(record).map_err(|error| EngineError::Journal(error.to_string()))?;
    let digest = hex::encode(Sha256::digest(&body));
    let io = |errno| {
        EngineError::io(
            format!("cannot write the journal `{STATE_DIRECTORY}/journal`"),
            errno,
        )
    };
    let fd = openat(
        state_directory,
        "journal.tmp",
        OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map_err(io)?;
    let mut file = std::fs::File::from(fd);
    let written = file
        .write_all(format!("{HEADER}{digest}\n").as_bytes())
        .and_then(|()| file.write_all(&body));
    written.map_err(|source| EngineError::Write {
        path: format!("{STATE_DIRECTORY}/journal"),
        source,
    })?;
    fsync(&file).map_err(io)?;
    renameat(state_directory, "journal.tmp", state_directory, "journal").map_err(io)?;
    fsync(state_directory).map_err(io)
}

/// Reads the journal.
pub fn read(state_directory: &impl AsFd) -> Result<JournalState, EngineError> {
    let fd = match openat(
        state_directory,
        "journal",
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(JournalState::Absent),
        Err(errno) => {
            return Err(EngineError::io(
                format!("cannot open the journal `{STATE_DIRECTORY}/journal`"),
                errno,
            ))
        }
    };
    let mut bytes = Vec::new();
    std::fs::File::from(fd)
        .read_to_end(&mut bytes)
        .map_err(|source| EngineError::Read {
            path: format!("{STATE_DIRECTORY}/journal"),
            source,
        })?;
    Ok(parse(&bytes).map_or(JournalState::Torn, JournalState::Committing))
}

fn parse(bytes: &[u8]) -> Option<JournalRecord> {
    let newline = bytes.iter().position(|&byte| byte == b'\n')?;
    let header = std::str::from_utf8(&bytes[..newline]).ok()?;
    let expected = header.strip_prefix(HEADER)?;
    let body = &bytes[newline + 1..];
    if hex::encode(Sha256::digest(body)) != expected {
        return None;
    }
    serde_json::from_slice(body).ok()
}

/// Removes the journal (and any stale temp file) durably.
pub fn remove(state_directory: &OwnedFd) -> Result<(), EngineError> {
    for name in ["journal", "journal.tmp"] {
        match unlinkat(state_directory, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(errno) => {
                return Err(EngineError::io(
                    format!("cannot remove `{STATE_DIRECTORY}/{name}`"),
                    errno,
                ))
            }
        }
    }
    fsync(state_directory)
        .map_err(|errno| EngineError::io(format!("cannot sync `{STATE_DIRECTORY}`"), errno))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> JournalRecord {
        JournalRecord {
            transaction: "t1".into(),
            steps: vec![Step::Place {
                staged: "0-1".into(),
                path: "/usr/bin/hello".into(),
            }],
            change: Change::default(),
        }
    }

    #[test]
    fn journal_round_trips_and_torn_journals_are_detected() {
        let directory = tempfile::tempdir().unwrap();
        let fd: OwnedFd = rustix::fs::open(
            directory.path(),
            OFlags::RDONLY | OFlags::DIRECTORY,
            Mode::empty(),
        )
        .unwrap();
        assert!(matches!(read(&fd).unwrap(), JournalState::Absent));
        write(&fd, &record()).unwrap();
        match read(&fd).unwrap() {
            JournalState::Committing(read_back) => assert_eq!(read_back, record()),
            other => panic!("expected the record, got {other:?}"),
        }
        // Every truncation of the file is torn, never a different record.
        let bytes = std::fs::read(directory.path().join("journal")).unwrap();
        for length in 0..bytes.len() {
            assert!(parse(&bytes[..length]).is_none(), "truncated at {length}");
        }
        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(parse(&flipped).is_none());
        remove(&fd).unwrap();
        assert!(matches!(read(&fd).unwrap(), JournalState::Absent));
    }
}
