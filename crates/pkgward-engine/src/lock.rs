//! The root's exclusive writer lock: `<root>/var/lib/pkgward/lock`.
//!
//! An `flock` on an open file description: released by the kernel when the
//! holder exits or crashes, so a stale lock never needs manual cleanup. The
//! holder writes its pid into the file so a waiting process can say who holds
//! it (THREATS 74). Readers (`list`, `files`, `owner`, `check`) never take the
//! lock: SQLite's WAL gives them a consistent snapshot.

use crate::root::{DirectoryCreation, Root};
use crate::{EngineError, STATE_DIRECTORY};
use rustix::fs::{flock, openat, FlockOperation, Mode, OFlags};
use rustix::io::Errno;
use std::io::{Read, Seek, Write};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

/// A held writer lock; dropping it releases the lock.
#[derive(Debug)]
pub struct RootLock {
    _file: std::fs::File,
}

/// Takes the writer lock of `root`, waiting up to `wait` for another holder.
pub fn lock(root: &Root, wait: Duration) -> Result<RootLock, EngineError> {
    let state = root
        .directory(STATE_DIRECTORY, Some(DirectoryCreation::DEFAULT))?
        .expect("created when missing");
    let fd: OwnedFd = openat(
        &state.fd,
        "lock",
        OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )
    .map_err(|errno| {
        EngineError::io(
            format!("cannot open the lock `{STATE_DIRECTORY}/lock`"),
            errno,
        )
    })?;
    let deadline = Instant::now() + wait;
    loop {
        match flock(&fd, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => break,
            Err(Errno::WOULDBLOCK) => {
                if Instant::now() >= deadline {
                    let mut holder = String::new();
                    let mut file = std::fs::File::from(fd);
                    let _ = file.read_to_string(&mut holder);
                    return Err(EngineError::Locked {
                        pid: holder.trim().parse().ok(),
                        waited: wait,
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(errno) => {
                return Err(EngineError::io(
                    format!("cannot lock `{STATE_DIRECTORY}/lock`"),
                    errno,
                ))
            }
        }
    }
    let mut file = std::fs::File::from(fd);
    let write_pid = |file: &mut std::fs::File| -> std::io::Result<()> {
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "{}", std::process::id())?;
        file.flush()
    };
    write_pid(&mut file).map_err(|source| EngineError::Write {
        path: format!("{STATE_DIRECTORY}/lock"),
        source,
    })?;
    Ok(RootLock { _file: file })
}
