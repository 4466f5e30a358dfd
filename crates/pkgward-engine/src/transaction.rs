//! Prepare → journal → commit → cleanup, and recovery.
//!
//! Guarantee: until the journal is durably written, the root itself is
//! untouched (only pkgward's staging directory inside its state directory
//! changes), so a crash or error before it leaves the root byte-identical and
//! recovery only deletes staging. Once the journal exists every step it lists
//! is idempotent and recovery rolls the transaction forward: renames whose
//! staged file is gone already happened, removals of absent paths are no-ops,
//! and the database change replaces rows by package name.
//!
//! Durability: every staged file is on disk before the journal is written,
//! and the renames before the database commit, so a committed database row
//! never points at a file that could still vanish on power loss (THREATS
//! 50). Either each staged file and changed directory is fsynced (what dpkg
//! does), or the filesystem is flushed with one `syncfs` per phase (what rpm
//! 4.18 does at the end of a transaction; the batch strategy of THREATS 73);
//! [`Durability::Auto`] picks per transaction (`crate::durability`).

use crate::accounts::Accounts;
use crate::failpoint::failpoint;
use crate::journal::{self, JournalRecord, JournalState, Step};
use crate::lock::RootLock;
use crate::root::{make_directory, DirectoryCreation, Root};
use crate::writeback::{Flushers, WritebackQueue, FLUSHERS};
use crate::{EngineError, STAGING_DIRECTORY, STATE_DIRECTORY};
use pkgward_db::{
    Change, DecisionRecord, DirRecord, FileKind, FileRecord, PackageInstall, PackageRecord,
    PackageRemoval, PackageStatus,
};
use pkgward_plan::{
    ConffileAction, PackagePlan, Placement, PlacementKind, Plan, NEW_CONFFILE_SUFFIX,
};
use rustix::fs::{
    fchmod, fchown, fstat, linkat, openat, renameat, statat, symlinkat, syncfs, unlinkat, AtFlags,
    FileType, Gid, Mode, OFlags, Uid,
};
use rustix::io::Errno;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Where the bytes of each planned package come from (the `.deb` files, or
/// packages built in memory by tests).
pub trait ContentSource: Sync {
    /// Streams the data entries of `plan.packages[package]` in archive order:
    /// `each` gets the entry's canonical shipped path and a reader over its
    /// content (empty for non-files).
    fn stream(
        &self,
        package: usize,
        each: &mut dyn FnMut(&str, &mut dyn Read) -> Result<(), EngineError>,
    ) -> Result<(), EngineError>;

    /// Whether [`ContentSource::stream`] fails (after its last entry at the
    /// latest) unless the bytes it read are exactly the planned artifact's
    /// (`PackagePlan::artifact_sha256`). Then every entry's content is the
    /// planned content, and staging does not hash each file again: a
    /// failed stream fails prepare before the journal, so nothing of a
    /// changed artifact reaches the root. Sources that cannot promise this
    /// keep the default, and staging compares each file's digest.
    fn checks_artifact(&self) -> bool {
        false
    }
}

/// Settings of one apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Recorded as `installed_at` (seconds since the epoch).
    pub now: i64,
    /// How staged files and renames are made durable before the database commit.
    pub durability: Durability,
    /// How many packages are decompressed and staged at once.
    pub workers: usize,
}

/// How prepare and commit make their writes durable. Both give the same
/// guarantee (everything the journal and the database refer to is on disk
/// first); they differ in cost. `syncfs` is one call but flushes every dirty
/// page of the filesystem, other processes' too; per-file `fsync` flushes
/// only pkgward's files and directories (what dpkg does), which is cheaper on
/// a filesystem that other writers keep busy (THREATS 73: measured in
/// `docs/benchmarks.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `fsync` each staged file, then the staging directory; after the renames,
    /// `fsync` each directory that changed.
    FsyncEachFile,
    /// One `syncfs` after staging and one after the renames.
    SyncFilesystem,
    /// `SyncFilesystem` when the page cache holds little dirty data besides
    /// what the transaction writes (a `syncfs` then flushes little else),
    /// `FsyncEachFile` otherwise: chosen once per transaction from
    /// `/proc/meminfo` and the number of files to stage (`crate::durability`).
    Auto,
}

/// What an apply did.
#[derive(Debug, Default)]
pub struct Outcome {
    pub transaction: String,
    pub notices: Vec<String>,
    pub files_placed: usize,
}

/// What recovery found and did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The transaction rolled forward, if a complete journal was found.
    pub rolled_forward: Option<String>,
    /// A torn journal was found and discarded.
    pub discarded_torn_journal: bool,
    /// Staging directories removed.
    pub removed_staging: Vec<String>,
}

impl RecoveryReport {
    pub fn did_something(&self) -> bool {
        self.rolled_forward.is_some()
            || self.discarded_torn_journal
            || !self.removed_staging.is_empty()
    }
}

/// Applies `plan` to `root`. The caller holds the lock (`_lock`) and has run
/// [`recover`] first.
pub fn apply(
    root: &Root,
    _lock: &RootLock,
    database: &mut pkgward_db::Database,
    plan: &Plan,
    source: &dyn ContentSource,
    options: &ApplyOptions,
) -> Result<Outcome, EngineError> {
    if plan.is_refused() {
        return Err(EngineError::Refused {
            problems: plan.problems.iter().map(ToString::to_string).collect(),
        });
    }
    let options = &ApplyOptions {
        durability: crate::durability::resolve(options.durability, plan),
        ..options.clone()
    };
    let mut notices = Vec::new();
    // The root is locked: resolve each directory once for the whole
    // transaction (run_step forgets them before any step that could change
    // a directory or symlink a walk passed through).
    let _remembered = root.remember_directories();
    let state_directory = open_readable_directory(root, STATE_DIRECTORY, true)?;
    let staging_parent = open_readable_directory(root, STAGING_DIRECTORY, true)?;
    let transaction = transaction_id();
    rustix::fs::mkdirat(
        &staging_parent,
        transaction.as_str(),
        Mode::from_raw_mode(0o700),
    )
    .map_err(|errno| {
        EngineError::io(
            format!("cannot create staging `{STAGING_DIRECTORY}/{transaction}`"),
            errno,
        )
    })?;
    let staging = openat(
        &staging_parent,
        transaction.as_str(),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|errno| {
        EngineError::io(
            format!("cannot open staging `{STAGING_DIRECTORY}/{transaction}`"),
            errno,
        )
    })?;

    // The actions phase first: the accounts it creates own staged files too.
    let prepared = crate::actions::prepare_actions(
        root,
        &staging,
        plan,
        options.now,
        options.durability == Durability::FsyncEachFile,
        &mut notices,
    )
    .and_then(|actions| {
        prepare(
            root,
            &staging,
            plan,
            source,
            &actions.accounts,
            options,
            &mut notices,
        )?;
        // One flush of the whole filesystem instead of an fsync per file.
        match options.durability {
            Durability::SyncFilesystem => syncfs(&staging),
            // The files were fsynced as they were written; their names too
            // now (`Auto` was resolved above: this is the safe reading).
            Durability::FsyncEachFile | Durability::Auto => rustix::fs::fsync(&staging),
        }
        .map_err(|errno| EngineError::io("cannot sync the staging directory".to_owned(), errno))?;
        failpoint("prepare-synced");
        let mut steps = actions.first_steps;
        steps.extend(commit_steps(plan, &actions.accounts, &mut notices));
        steps.extend(actions.last_steps);
        preflight(root, &steps)?;
        Ok((steps, actions.password_lock))
    });
    let (steps, password_lock) = match prepared {
        Ok(prepared) => prepared,
        Err(error) => {
            // Nothing in the root changed: drop staging and report.
            let _ = remove_staging_directory(&staging_parent, &transaction);
            return Err(error);
        }
    };
    let record = JournalRecord {
        transaction: transaction.clone(),
        change: database_change(plan, options.now),
        steps,
    };
    journal::write(&state_directory, &record)?;
    failpoint("journal-written");
    let files_placed = record
        .steps
        .iter()
        .filter(|step| matches!(step, Step::Place { .. }))
        .count();
    finish(
        root,
        database,
        &state_directory,
        &staging_parent,
        &record,
        "commit-step",
        options.durability,
    )?;
    drop(password_lock);
    Ok(Outcome {
        transaction,
        notices,
        files_placed,
    })
}

/// Finishes a transaction whose journal is written: the steps, a flush, the
/// database commit, the journal's removal and the staging cleanup. Used by
/// both [`apply`] and [`recover`].
fn finish(
    root: &Root,
    database: &mut pkgward_db::Database,
    state_directory: &OwnedFd,
    staging_parent: &OwnedFd,
    record: &JournalRecord,
    step_failpoint: &str,
    durability: Durability,
) -> Result<(), EngineError> {
    let staging = match openat(
        staging_parent,
        record.transaction.as_str(),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => Some(fd),
        Err(Errno::NOENT) => None,
        Err(errno) => {
            return Err(EngineError::io(
                format!(
                    "cannot open staging `{STAGING_DIRECTORY}/{}`",
                    record.transaction
                ),
                errno,
            ))
        }
    };
    let (ready_sender, ready) = std::sync::mpsc::sync_channel::<bool>(1);
    let change = &record.change;
    let (placed, written) = std::thread::scope(|scope| {
        // The database rows are written while the files move into place,
        // and committed only once the renames are durable (`apply_when`).
        let writer = scope.spawn(move || database.apply_when(change, || ready.recv() == Ok(true)));
        let placed = place(root, staging.as_ref(), record, step_failpoint, durability);
        // A failed placement (or a panic, which drops the sender) rolls
        // the rows back; recovery redoes both from the journal.
        let _ = ready_sender.send(placed.is_ok());
        let written = writer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (placed, written)
    });
    placed?;
    written?;
    failpoint("commit-database");
    journal::remove(state_directory)?;
    failpoint("commit-journal-removed");
    drop(staging);
    remove_staging_directory(staging_parent, &record.transaction)?;
    Ok(())
}

/// Runs the journal's steps and makes them durable (the commit's file
/// half; [`finish`] writes the database rows meanwhile).
fn place(
    root: &Root,
    staging: Option<&OwnedFd>,
    record: &JournalRecord,
    step_failpoint: &str,
    durability: Durability,
) -> Result<(), EngineError> {
    for step in &record.steps {
        // Action steps can replace symlinks, re-own paths or write account
        // files: walks before and after them resolve everything afresh.
        let action = !matches!(
            step,
            Step::Place { .. }
                | Step::MakeDirectory { .. }
                | Step::Remove { .. }
                | Step::RemoveDirectory { .. }
        );
        if action {
            root.forget_directories();
        }
        run_step(root, staging, step, step_failpoint == RECOVER_STEP)?;
        if action {
            root.forget_directories();
        }
        failpoint(step_failpoint);
    }
    failpoint("commit-steps-done");
    match durability {
        Durability::SyncFilesystem => syncfs(root.fd())
            .map_err(|errno| EngineError::io("cannot sync the root filesystem".to_owned(), errno)),
        Durability::FsyncEachFile | Durability::Auto => {
            sync_changed_directories(root, &record.steps)
        }
    }
}

/// Recovers an interrupted transaction: rolls a complete journal forward,
/// discards a torn one, and removes leftover staging. Idempotent.
pub fn recover(
    root: &Root,
    _lock: &RootLock,
    database: &mut pkgward_db::Database,
) -> Result<RecoveryReport, EngineError> {
    let mut report = RecoveryReport::default();
    let _remembered = root.remember_directories();
    let Some(state_directory) = root.directory(STATE_DIRECTORY, None)? else {
        return Ok(report);
    };
    let state_directory = reopen_readable(&state_directory.fd, STATE_DIRECTORY)?;
    let staging_parent = open_readable_directory(root, STAGING_DIRECTORY, true)?;
    match journal::read(&state_directory)? {
        JournalState::Committing(record) => {
            finish(
                root,
                database,
                &state_directory,
                &staging_parent,
                &record,
                RECOVER_STEP,
                // Recovery is rare: flush everything.
                Durability::SyncFilesystem,
            )?;
            report.rolled_forward = Some(record.transaction);
        }
        JournalState::Torn => {
            journal::remove(&state_directory)?;
            report.discarded_torn_journal = true;
        }
        JournalState::Absent => {}
    }
    for name in list_directory(&staging_parent, STAGING_DIRECTORY)? {
        remove_staging_directory(&staging_parent, &name)?;
        report.removed_staging.push(name);
    }
    Ok(report)
}

fn transaction_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |duration| duration.as_nanos());
    format!("{}-{nanos}", std::process::id())
}

/// Where a placement is staged, relative to the transaction's staging
/// directory: one subdirectory per package, so staging workers never share
/// a directory (its lock, and lookups in one directory of every file).
fn staged_name(package: usize, placement: usize) -> String {
    format!("{package}/{placement}")
}

/// Streams every package into staging, `options.workers` packages at a time.
fn prepare(
    root: &Root,
    staging: &OwnedFd,
    plan: &Plan,
    source: &dyn ContentSource,
    accounts: &Accounts,
    options: &ApplyOptions,
    notices: &mut Vec<String>,
) -> Result<(), EngineError> {
    let _ = root;
    let defaults =
        StagedFileDefaults::of(staging, options.durability == Durability::FsyncEachFile)?;
    let next = AtomicUsize::new(0);
    let first_error: Mutex<Option<EngineError>> = Mutex::new(None);
    let collected_notices: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let workers = options.workers.clamp(1, plan.packages.len().max(1));
    let (writeback, flushers) = Flushers::new();
    let writeback = defaults.fsync_each_file.then_some(writeback);
    std::thread::scope(|scope| {
        if writeback.is_some() {
            for _ in 0..FLUSHERS {
                scope.spawn(|| flushers.run());
            }
        }
        for _ in 0..workers {
            let writeback = writeback.clone();
            let first_error = &first_error;
            let next = &next;
            let collected_notices = &collected_notices;
            scope.spawn(move || loop {
                if first_error.lock().expect("no panics while held").is_some() {
                    return;
                }
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(package) = plan.packages.get(index) else {
                    return;
                };
                let mut local_notices = Vec::new();
                let target = StagingTarget {
                    staging,
                    accounts,
                    defaults: &defaults,
                    writeback: writeback.as_ref(),
                    hash_files: !source.checks_artifact(),
                };
                if let Err(error) =
                    stage_package(&target, index, package, source, &mut local_notices)
                {
                    first_error
                        .lock()
                        .expect("no panics while held")
                        .get_or_insert(error);
                    return;
                }
                collected_notices
                    .lock()
                    .expect("no panics while held")
                    .extend(local_notices);
            });
        }
        // The flushers return once every worker's queue is dropped and the
        // queue is empty: the scope ends after the last fsync.
        drop(writeback);
    });
    notices.extend(
        collected_notices
            .into_inner()
            .expect("no panics while held"),
    );
    match first_error.into_inner().expect("no panics while held") {
        Some(error) => Err(error),
        None => flushers.finish(),
    }
}

/// What a file created in staging gets without further calls, so staging
/// only spends an `fchown`/`fchmod` on files that need another owner or mode
/// (issue 8: one of each per file before).
#[derive(Debug, Clone, Copy)]
struct StagedFileDefaults {
    fsync_each_file: bool,
    /// The owner a new file in staging has: the effective uid, and the
    /// staging directory's group when it is setgid, else the effective gid.
    uid: u32,
    gid: u32,
    /// The process umask (from `/proc/self/status`; `None` when unknown,
    /// then every file gets an explicit `fchmod`).
    umask: Option<u32>,
}

impl StagedFileDefaults {
    fn of(staging: &OwnedFd, fsync_each_file: bool) -> Result<StagedFileDefaults, EngineError> {
        let status = fstat(staging).map_err(|errno| {
            EngineError::io("cannot stat the staging directory".to_owned(), errno)
        })?;
        let gid = if status.st_mode & 0o2000 == 0 {
            rustix::process::getegid().as_raw()
        } else {
            status.st_gid
        };
        Ok(StagedFileDefaults {
            fsync_each_file,
            uid: rustix::process::geteuid().as_raw(),
            gid,
            umask: current_umask(),
        })
    }

    /// The mode to create a file with, and whether it still needs an
    /// `fchmod` afterwards: setuid/setgid/sticky bits are only set after the
    /// owner (chown clears them) and the umask may strip bits.
    fn creation_mode(&self, mode: u32) -> (u32, bool) {
        let mode = mode & 0o7777;
        match self.umask {
            Some(umask) if mode & 0o7000 == 0 && mode & umask == 0 => (mode, false),
            _ => (0o600, true),
        }
    }
}

/// The umask without changing it (reading it with `umask(2)` would set it,
/// racing other threads that create files).
fn current_umask() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let value = status
        .lines()
        .find_map(|line| line.strip_prefix("Umask:"))?;
    u32::from_str_radix(value.trim(), 8).ok()
}

/// Where and how one staging worker writes.
#[derive(Clone, Copy)]
struct StagingTarget<'a> {
    staging: &'a OwnedFd,
    accounts: &'a Accounts,
    defaults: &'a StagedFileDefaults,
    /// Present under `Durability::FsyncEachFile`: staged files go to the flushers.
    writeback: Option<&'a WritebackQueue>,
    /// Compare each staged file with its planned digest (the source does
    /// not check the whole artifact: [`ContentSource::checks_artifact`]).
    hash_files: bool,
}

fn stage_package(
    target: &StagingTarget<'_>,
    index: usize,
    package: &PackagePlan,
    source: &dyn ContentSource,
    notices: &mut Vec<String>,
) -> Result<(), EngineError> {
    let accounts = target.accounts;
    let directory = make_package_staging(target.staging, index)?;
    let target = &StagingTarget {
        staging: &directory,
        ..*target
    };
    let staging = &directory;
    // One copy buffer per package, not one (zeroed) per file.
    let mut buffer = vec![0u8; 128 * 1024];
    let by_shipped_path: HashMap<&str, usize> = package
        .placements
        .iter()
        .enumerate()
        .map(|(position, placement)| (placement.shipped_path.as_str(), position))
        .collect();
    let mut seen = vec![false; package.placements.len()];
    source.stream(index, &mut |path, reader| {
        let position = *by_shipped_path
            .get(path)
            .ok_or_else(|| EngineError::PackageChanged {
                package: package.name.clone(),
                detail: format!("entry `{path}` is not in the plan"),
            })?;
        seen[position] = true;
        let placement = &package.placements[position];
        if placement.conffile == Some(ConffileAction::KeepDeleted) {
            return Ok(());
        }
        let owner = accounts.resolve(&placement.owner, &placement.group);
        if let Some(note) = &owner.note {
            if placement.kind != PlacementKind::Dir {
                notices.push(format!("{}: `{}`: {note}", package.name, placement.path));
            }
        }
        let name = position.to_string();
        match placement.kind {
            PlacementKind::Dir => Ok(()),
            PlacementKind::File => stage_file(
                target,
                &name,
                placement,
                reader,
                (owner.uid, owner.gid),
                &package.name,
                &mut buffer,
            ),
            PlacementKind::Symlink => {
                let target = placement.target.as_deref().unwrap_or_default();
                symlinkat(target, staging, name.as_str())
                    .and_then(|()| {
                        rustix::fs::chownat(
                            staging,
                            name.as_str(),
                            Some(Uid::from_raw(owner.uid)),
                            Some(Gid::from_raw(owner.gid)),
                            AtFlags::SYMLINK_NOFOLLOW,
                        )
                    })
                    .map_err(|errno| {
                        EngineError::io(format!("cannot stage symlink `{}`", placement.path), errno)
                    })
            }
            PlacementKind::Hardlink => {
                // The target was staged earlier in this archive (tar order); the
                // link shares its inode, so both renames place one file.
                let target = placement.target.as_deref().unwrap_or_default();
                let target_position =
                    *by_shipped_path
                        .get(target)
                        .ok_or_else(|| EngineError::PackageChanged {
                            package: package.name.clone(),
                            detail: format!(
                                "hardlink `{}` targets `{target}`, which is not in the package",
                                placement.path
                            ),
                        })?;
                linkat(
                    staging,
                    target_position.to_string().as_str(),
                    staging,
                    name.as_str(),
                    AtFlags::empty(),
                )
                .map_err(|errno| {
                    EngineError::io(format!("cannot stage hardlink `{}`", placement.path), errno)
                })
            }
        }
    })?;
    if let Some(position) = seen.iter().position(|seen| !seen) {
        return Err(EngineError::PackageChanged {
            package: package.name.clone(),
            detail: format!(
                "planned entry `{}` is missing from the archive",
                package.placements[position].shipped_path
            ),
        });
    }
    if target.defaults.fsync_each_file {
        // The staged names: the files themselves go through the flushers.
        rustix::fs::fsync(staging).map_err(|errno| {
            EngineError::io(
                format!("cannot sync the staging directory of `{}`", package.name),
                errno,
            )
        })?;
    }
    Ok(())
}

/// Creates and opens the staging subdirectory of package `index`.
fn make_package_staging(staging: &OwnedFd, index: usize) -> Result<OwnedFd, EngineError> {
    let name = index.to_string();
    let io = |what: &str, errno| EngineError::io(format!("cannot {what} staging `{name}`"), errno);
    rustix::fs::mkdirat(staging, name.as_str(), Mode::from_raw_mode(0o700))
        .map_err(|errno| io("create", errno))?;
    openat(
        staging,
        name.as_str(),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|errno| io("open", errno))
}

fn stage_file(
    target: &StagingTarget<'_>,
    name: &str,
    placement: &Placement,
    reader: &mut dyn Read,
    (uid, gid): (u32, u32),
    package: &str,
    buffer: &mut [u8],
) -> Result<(), EngineError> {
    let StagingTarget {
        staging,
        defaults,
        writeback,
        hash_files,
        ..
    } = *target;
    let io = |errno| EngineError::io(format!("cannot stage `{}`", placement.path), errno);
    // Staging is a 0700 directory of root's: a file created with its final
    // permission bits is reachable by nobody else while it is written.
    let (creation_mode, needs_fchmod) = defaults.creation_mode(placement.mode);
    let fd = openat(
        staging,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(creation_mode),
    )
    .map_err(io)?;
    let mut file = std::fs::File::from(fd);
    let mut hasher = hash_files.then(Sha256::new);
    loop {
        let count = match reader.read(buffer) {
            Ok(0) => break,
            Ok(count) => count,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(EngineError::Read {
                    path: placement.shipped_path.clone(),
                    source,
                })
            }
        };
        if let Some(hasher) = hasher.as_mut() {
            hasher.update(&buffer[..count]);
        }
        file.write_all(&buffer[..count])
            .map_err(|source| EngineError::Write {
                path: placement.path.clone(),
                source,
            })?;
    }
    let digest = hasher.map(|hasher| hex::encode(hasher.finalize()));
    if let (Some(digest), Some(expected)) = (digest, placement.digest.as_deref()) {
        if expected != digest {
            // The artifact changed between planning and staging.
            return Err(EngineError::PackageChanged {
                package: package.to_owned(),
                detail: format!(
                    "content of `{}` does not match the planned digest",
                    placement.shipped_path
                ),
            });
        }
    }
    // Owner first, then mode: chown clears setuid bits, so the mode (already
    // stripped of setuid/setgid unless policy allowed them) is applied last.
    if (uid, gid) != (defaults.uid, defaults.gid) {
        fchown(&file, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid))).map_err(io)?;
    }
    if needs_fchmod {
        fchmod(&file, Mode::from_raw_mode(placement.mode & 0o7777)).map_err(io)?;
    }
    // Last: chown and writes clear `security.capability`.
    crate::file_capabilities::apply(&file, &placement.path, placement.capabilities.as_deref())?;
    if let Some(writeback) = writeback {
        // Durable before the journal is written: the flusher threads fsync
        // it, and prepare returns only after they all finished.
        writeback.push(file, placement.path.clone())?;
    }
    failpoint("prepare-file-staged");
    Ok(())
}

/// The journal steps for `plan`, in the order they are applied.
fn commit_steps(plan: &Plan, accounts: &Accounts, notices: &mut Vec<String>) -> Vec<Step> {
    let mut steps = Vec::new();
    for (index, package) in plan.packages.iter().enumerate() {
        for (position, placement) in package.placements.iter().enumerate() {
            match (placement.kind, placement.conffile) {
                (PlacementKind::Dir, _) => {
                    if placement.path != "/" {
                        let owner = accounts.resolve(&placement.owner, &placement.group);
                        steps.push(Step::MakeDirectory {
                            path: placement.path.clone(),
                            mode: placement.mode & 0o7777,
                            uid: owner.uid,
                            gid: owner.gid,
                        });
                    }
                }
                (_, Some(ConffileAction::KeepDeleted)) => {
                    notices.push(format!(
                        "{}: conffile `{}` was deleted by the administrator and stays deleted",
                        package.name, placement.path
                    ));
                }
                (_, Some(ConffileAction::KeepModifiedWriteNew)) => {
                    notices.push(format!(
                        "{}: conffile `{}` was modified; kept it, new version written to `{}{NEW_CONFFILE_SUFFIX}`",
                        package.name, placement.path, placement.path
                    ));
                    steps.push(Step::Place {
                        staged: staged_name(index, position),
                        path: format!("{}{NEW_CONFFILE_SUFFIX}", placement.path),
                    });
                }
                _ => steps.push(Step::Place {
                    staged: staged_name(index, position),
                    path: placement.path.clone(),
                }),
            }
        }
        for path in &package.obsolete_files {
            steps.push(Step::Remove { path: path.clone() });
        }
    }
    let mut directories: Vec<&String> = plan
        .packages
        .iter()
        .flat_map(|package| &package.obsolete_dirs)
        .collect();
    for removal in &plan.removals {
        for path in &removal.delete_files {
            steps.push(Step::Remove { path: path.clone() });
        }
        directories.extend(&removal.delete_dirs);
    }
    // Deepest first, so a parent is only tried once its children are gone.
    directories.sort_by_key(|path| std::cmp::Reverse(path.matches('/').count()));
    directories.dedup();
    steps.extend(
        directories
            .into_iter()
            .map(|path| Step::RemoveDirectory { path: path.clone() }),
    );
    steps
}

/// Checks, before anything in the root changes, that every step can run:
/// parents resolve safely (no unsafe symlinks), no file would replace a
/// directory, no directory is expected where a non-directory stands.
fn preflight(root: &Root, steps: &[Step]) -> Result<(), EngineError> {
    for step in steps {
        match step {
            Step::Place { path, .. } => {
                root.canonical_path(path, false)?;
                if let Some(status) = root.status(path)? {
                    if FileType::from_raw_mode(status.st_mode) == FileType::Directory {
                        return Err(EngineError::WouldReplaceDirectory { path: path.clone() });
                    }
                }
            }
            Step::MakeDirectory { path, .. } => {
                root.canonical_path(path, true)?;
                if let Some(status) = root.status(path)? {
                    match FileType::from_raw_mode(status.st_mode) {
                        FileType::Directory => {}
                        // A symlink to a directory stands in for it (usrmerge).
                        FileType::Symlink
                            if root
                                .directory(path, None)
                                .is_ok_and(|found| found.is_some()) => {}
                        _ => return Err(EngineError::NotADirectory { path: path.clone() }),
                    }
                }
            }
            Step::Symlink { path, target } => {
                crate::actions::preflight_symlink(root, path, target)?;
            }
            Step::PlaceIfAbsent { path, .. } | Step::SetAttributes { path, .. } => {
                root.canonical_path(path, false)?;
            }
            Step::Remove { .. }
            | Step::RemoveDirectory { .. }
            | Step::AccountFiles { .. }
            | Step::RemoveSymlink { .. } => {}
        }
    }
    Ok(())
}

/// Removes setuid/setgid bits from the regular file `name` before it is
/// replaced or unlinked, so a hardlink someone made to it elsewhere does not
/// keep a privileged copy of the old version (THREATS 9, CVE-2010-2059 class,
/// rpm's `removeSBITS`). Returns the type of what stands at `name`, if anything.
fn strip_privileged_bits(
    directory: &impl AsFd,
    name: &str,
    path: &str,
) -> Result<Option<FileType>, EngineError> {
    let status = match statat(directory, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(status) => status,
        Err(Errno::NOENT) => return Ok(None),
        Err(errno) => return Err(EngineError::io(format!("cannot stat `{path}`"), errno)),
    };
    let file_type = FileType::from_raw_mode(status.st_mode);
    // File capabilities only matter on an executable, and only survive the
    // replacement through another link to the inode (`st_nlink > 1`).
    let may_keep_capabilities = status.st_mode & 0o111 != 0 && status.st_nlink > 1;
    if file_type != FileType::RegularFile
        || (status.st_mode & 0o6000 == 0 && !may_keep_capabilities)
    {
        return Ok(Some(file_type));
    }
    let fd = openat(
        directory,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )
    .map_err(|errno| {
        EngineError::io(
            format!("cannot open `{path}` to remove its setuid bits"),
            errno,
        )
    })?;
    let status =
        fstat(&fd).map_err(|errno| EngineError::io(format!("cannot stat `{path}`"), errno))?;
    if status.st_mode & 0o6000 != 0 {
        fchmod(&fd, Mode::from_raw_mode(status.st_mode & 0o1777)).map_err(|errno| {
            EngineError::io(format!("cannot remove the setuid bits of `{path}`"), errno)
        })?;
    }
    if may_keep_capabilities {
        crate::file_capabilities::remove(&fd, path)?;
    }
    Ok(Some(file_type))
}

/// Whether replacing or removing an entry of `file_type` can change what a
/// remembered directory walk resolved (a directory or a symlink on its chain).
fn may_change_directories(file_type: Option<FileType>) -> bool {
    matches!(file_type, Some(FileType::Directory | FileType::Symlink))
}

/// The failpoint of steps run again by recovery.
const RECOVER_STEP: &str = "recover-step";

/// Runs one journal step. `rolling_forward`: recovery runs a journal again,
/// whose renames may have happened already (their staged name is gone); a
/// first run renames what it just staged under the lock, so it does not
/// look first.
fn run_step(
    root: &Root,
    staging: Option<&OwnedFd>,
    step: &Step,
    rolling_forward: bool,
) -> Result<(), EngineError> {
    match step {
        Step::MakeDirectory {
            path,
            mode,
            uid,
            gid,
        } => {
            let (parent, leaf) = root
                .parent(path, Some(DirectoryCreation::DEFAULT))?
                .expect("created when missing");
            match statat(&parent.fd, leaf.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(_) => Ok(()),
                Err(Errno::NOENT) => make_directory(
                    &parent.fd,
                    &leaf,
                    DirectoryCreation {
                        mode: *mode,
                        uid: *uid,
                        gid: *gid,
                    },
                )
                .map_err(|errno| {
                    EngineError::io(format!("cannot create directory `{path}`"), errno)
                }),
                Err(errno) => Err(EngineError::io(format!("cannot stat `{path}`"), errno)),
            }
        }
        Step::Place { staged, path } => {
            let Some(staging) = staging else {
                return Ok(());
            };
            if rolling_forward && !crate::actions::staged_still_there(staging, staged, path)? {
                return Ok(());
            }
            let (parent, leaf) = root
                .parent(path, Some(DirectoryCreation::DEFAULT))?
                .expect("created when missing");
            if may_change_directories(strip_privileged_bits(&parent.fd, &leaf, path)?) {
                root.forget_directories();
            }
            renameat(staging, staged.as_str(), &parent.fd, leaf.as_str()).map_err(|errno| {
                match errno {
                    Errno::ISDIR | Errno::NOTEMPTY | Errno::EXIST => {
                        EngineError::WouldReplaceDirectory { path: path.clone() }
                    }
                    errno => EngineError::io(format!("cannot move `{path}` into place"), errno),
                }
            })
        }
        Step::Remove { path } => {
            let Some((parent, leaf)) = root.parent(path, None)? else {
                return Ok(());
            };
            match statat(&parent.fd, leaf.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(status) if FileType::from_raw_mode(status.st_mode) == FileType::Directory => {
                    return Ok(())
                }
                Ok(status) => {
                    if may_change_directories(Some(FileType::from_raw_mode(status.st_mode))) {
                        root.forget_directories();
                    }
                }
                Err(Errno::NOENT) => return Ok(()),
                Err(errno) => return Err(EngineError::io(format!("cannot stat `{path}`"), errno)),
            }
            strip_privileged_bits(&parent.fd, &leaf, path)?;
            match unlinkat(&parent.fd, leaf.as_str(), AtFlags::empty()) {
                Ok(()) | Err(Errno::NOENT) => Ok(()),
                Err(errno) => Err(EngineError::io(format!("cannot remove `{path}`"), errno)),
            }
        }
        Step::RemoveDirectory { path } => {
            root.forget_directories();
            let Some((parent, leaf)) = root.parent(path, None)? else {
                return Ok(());
            };
            match unlinkat(&parent.fd, leaf.as_str(), AtFlags::REMOVEDIR) {
                // Not empty: something else (the administrator, another
                // package's untracked file) still lives there; dpkg keeps it too.
                Ok(())
                | Err(
                    Errno::NOENT | Errno::NOTEMPTY | Errno::EXIST | Errno::NOTDIR | Errno::BUSY,
                ) => Ok(()),
                Err(errno) => Err(EngineError::io(
                    format!("cannot remove directory `{path}`"),
                    errno,
                )),
            }
        }
        Step::AccountFiles { files } => {
            crate::actions::place_account_files(root, staging, files)?;
            failpoint("commit-action-step");
            Ok(())
        }
        Step::Symlink { path, target } => {
            crate::actions::make_symlink(root, path, target)?;
            failpoint("commit-action-step");
            Ok(())
        }
        Step::RemoveSymlink { path, target } => {
            crate::actions::remove_symlink(root, path, target)?;
            failpoint("commit-action-step");
            Ok(())
        }
        Step::PlaceIfAbsent { staged, path } => {
            crate::actions::place_if_absent(root, staging, staged, path)?;
            failpoint("commit-action-step");
            Ok(())
        }
        Step::SetAttributes {
            path,
            uid,
            gid,
            mode,
        } => {
            crate::actions::set_attributes(root, path, *uid, *gid, *mode)?;
            failpoint("commit-action-step");
            Ok(())
        }
    }
}

/// The database change recorded for `plan`.
fn database_change(plan: &Plan, now: i64) -> Change {
    let removals = plan
        .removals
        .iter()
        .map(|removal| PackageRemoval {
            name: removal.name.clone(),
            keep_conffiles: removal.keep_conffiles.clone(),
        })
        .collect();
    let installs = plan
        .packages
        .iter()
        .map(|package| PackageInstall {
            package: PackageRecord {
                repo: package.repo.clone(),
                name: package.name.clone(),
                version: package.version.clone(),
                architecture: package.architecture.clone(),
                artifact_sha256: package.artifact_sha256.clone(),
                status: PackageStatus::Installed,
                installed_at: now,
                relations: package.relations.to_string(),
                format: crate::snapshot::recorded_format(package.format),
            },
            files: package
                .placements
                .iter()
                .filter(|placement| placement.kind != PlacementKind::Dir)
                .map(|placement| file_record(package, placement))
                .collect(),
            dirs: package
                .placements
                .iter()
                .filter(|placement| placement.kind == PlacementKind::Dir && placement.path != "/")
                .map(|placement| DirRecord {
                    path: placement.path.clone(),
                    mode: placement.mode & 0o7777,
                    owner: placement.owner.clone(),
                    group: placement.group.clone(),
                })
                .collect(),
            decisions: package
                .decisions
                .iter()
                .map(|decision| DecisionRecord {
                    item: decision.item.clone(),
                    verdict: decision.verdict.clone(),
                    provenance:
                        serde_json::json!({ "because": decision.because, "hint": decision.hint })
                            .to_string(),
                })
                .collect(),
            footprint: package.footprint.as_ref().map(ToString::to_string),
            actions: package
                .actions
                .iter()
                .filter(|action| {
                    !matches!(
                        action,
                        pkgward_plan::actions::PlannedAction::Described { .. }
                    )
                })
                .map(|action| {
                    let detail = serde_json::to_value(action).unwrap_or_default();
                    pkgward_db::ActionRecord {
                        kind: detail["action"].as_str().unwrap_or_default().to_owned(),
                        detail: detail.to_string(),
                    }
                })
                .collect(),
            scripts: package
                .scripts
                .iter()
                .map(|script| {
                    crate::maintainer_scripts::script_record(script, &package.script_writable_paths)
                })
                .collect(),
        })
        .collect();
    Change { removals, installs }
}

fn file_record(package: &PackagePlan, placement: &Placement) -> FileRecord {
    let kind = match placement.kind {
        PlacementKind::Symlink => FileKind::Symlink,
        PlacementKind::Hardlink => FileKind::Hardlink,
        PlacementKind::File | PlacementKind::Dir => FileKind::File,
    };
    // A hardlink shares its target's inode: its content, mode and file
    // capabilities are the target's.
    let linked = match placement.kind {
        PlacementKind::Hardlink => placement.target.as_deref().and_then(|target| {
            package
                .placements
                .iter()
                .find(|other| other.shipped_path == target)
        }),
        _ => None,
    };
    let (digest, mode, capabilities) = match (placement.kind, linked) {
        (PlacementKind::Hardlink, linked) => (
            linked.and_then(|other| other.digest.clone()),
            linked.map_or(placement.mode, |other| other.mode),
            linked.and_then(|other| other.capabilities.clone()),
        ),
        _ => (
            placement.digest.clone(),
            placement.mode,
            placement.capabilities.clone(),
        ),
    };
    let target = match placement.kind {
        PlacementKind::Hardlink => placement
            .target
            .as_ref()
            .map(|target| linked.map_or_else(|| target.clone(), |other| other.path.clone())),
        _ => placement.target.clone(),
    };
    FileRecord {
        path: placement.path.clone(),
        kind,
        capabilities,
        mode: mode & 0o7777,
        owner: placement.owner.clone(),
        group: placement.group.clone(),
        digest: digest.clone(),
        target,
        conffile: placement.conffile.is_some(),
        conffile_original_digest: match placement.conffile {
            None => None,
            Some(ConffileAction::Install) => digest,
            // The administrator's copy stays; what pkgward last installed is
            // still the reference for "modified", carried by the plan.
            Some(ConffileAction::KeepModifiedWriteNew | ConffileAction::KeepDeleted) => {
                placement.conffile_original_digest.clone()
            }
        },
    }
}

/// `fsync`s every directory whose entries the steps changed, so the renames
/// and removals are durable before the database commit.
fn sync_changed_directories(root: &Root, steps: &[Step]) -> Result<(), EngineError> {
    let mut parents = std::collections::BTreeSet::new();
    for step in steps {
        let paths: Vec<&String> = match step {
            Step::MakeDirectory { path, .. }
            | Step::Place { path, .. }
            | Step::Remove { path }
            | Step::RemoveDirectory { path }
            | Step::Symlink { path, .. }
            | Step::RemoveSymlink { path, .. }
            | Step::PlaceIfAbsent { path, .. }
            | Step::SetAttributes { path, .. } => vec![path],
            Step::AccountFiles { files } => files.iter().map(|file| &file.path).collect(),
        };
        for path in paths {
            if let Some((parent, _)) = crate::root::split_parent(path) {
                parents.insert(parent.to_owned());
            }
        }
    }
    for parent in parents {
        if let Some(directory) = root.directory(&parent, None)? {
            let readable = reopen_readable(&directory.fd, &parent)?;
            rustix::fs::fsync(&readable).map_err(|errno| {
                EngineError::io(format!("cannot sync directory `{parent}`"), errno)
            })?;
        }
    }
    Ok(())
}

/// Resolves `path` (creating it when `create`) and opens it readable, for
/// `syncfs`, `fsync` and directory listing (an `O_PATH` fd allows none of them).
fn open_readable_directory(root: &Root, path: &str, create: bool) -> Result<OwnedFd, EngineError> {
    let directory = root
        .directory(path, create.then_some(DirectoryCreation::DEFAULT))?
        .ok_or_else(|| EngineError::NotADirectory {
            path: path.to_owned(),
        })?;
    reopen_readable(&directory.fd, path)
}

fn reopen_readable(fd: &OwnedFd, path: &str) -> Result<OwnedFd, EngineError> {
    openat(
        fd,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|errno| EngineError::io(format!("cannot open `{path}`"), errno))
}

fn list_directory(directory: &OwnedFd, path: &str) -> Result<Vec<String>, EngineError> {
    let mut names = Vec::new();
    let listing = rustix::fs::Dir::read_from(directory)
        .map_err(|errno| EngineError::io(format!("cannot list `{path}`"), errno))?;
    for entry in listing {
        let entry =
            entry.map_err(|errno| EngineError::io(format!("cannot list `{path}`"), errno))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != "." && name != ".." {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Removes the staging directory `name` and everything in it.
fn remove_staging_directory(staging_parent: &OwnedFd, name: &str) -> Result<(), EngineError> {
    remove_staging_directory_in(staging_parent, STAGING_DIRECTORY, name)
}

/// Removes directory `name` of `parent` (shown as `parent_path` in errors)
/// with its files and subdirectories (a transaction's package subdirectories).
fn remove_staging_directory_in(
    staging_parent: &OwnedFd,
    parent_path: &str,
    name: &str,
) -> Result<(), EngineError> {
    let path = format!("{parent_path}/{name}");
    let directory = match openat(
        staging_parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(()),
        Err(Errno::NOTDIR | Errno::LOOP) => {
            return unlinkat(staging_parent, name, AtFlags::empty())
                .map_err(|errno| EngineError::io(format!("cannot remove `{path}`"), errno));
        }
        Err(errno) => return Err(EngineError::io(format!("cannot open `{path}`"), errno)),
    };
    for entry in list_directory(&directory, &path)? {
        match unlinkat(&directory, entry.as_str(), AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => {}
            // A package's staging subdirectory (`staged_name`).
            Err(Errno::ISDIR) => remove_staging_directory_in(&directory, &path, &entry)?,
            Err(errno) => {
                return Err(EngineError::io(
                    format!("cannot remove `{path}/{entry}`"),
                    errno,
                ))
            }
        }
    }
    match unlinkat(staging_parent, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(errno) => Err(EngineError::io(format!("cannot remove `{path}`"), errno)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults(umask: Option<u32>) -> StagedFileDefaults {
        StagedFileDefaults {
            fsync_each_file: false,
            uid: 0,
            gid: 0,
            umask,
        }
    }

    #[test]
    fn files_get_their_mode_at_creation_unless_special_bits_or_the_umask_interfere() {
        assert_eq!(defaults(Some(0o022)).creation_mode(0o644), (0o644, false));
        assert_eq!(
            defaults(Some(0o022)).creation_mode(0o100_755),
            (0o755, false)
        );
        // The umask would strip group/other write: create private, fchmod later.
        assert_eq!(defaults(Some(0o022)).creation_mode(0o664), (0o600, true));
        // setuid is only set after the owner (chown clears it).
        assert_eq!(defaults(Some(0)).creation_mode(0o4755), (0o600, true));
        assert_eq!(defaults(None).creation_mode(0o644), (0o600, true));
    }

    #[test]
    fn the_umask_is_read_without_changing_it() {
        let umask = current_umask().expect("Linux reports Umask in /proc/self/status");
        assert!(umask <= 0o777);
        assert_eq!(current_umask(), Some(umask));
    }
}
