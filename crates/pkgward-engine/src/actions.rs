//! The actions phase of a transaction: the declarative actions of a plan
//! (accounts, unit enablement) turned into staged files and journal steps.
//!
//! Accounts: at prepare, `/etc/.pwd.lock` is locked the way `lckpwdf(3)`
//! does (an `fcntl` write lock on the whole file, created `0600` if
//! missing), the root's `passwd`, `group`, `shadow` and `gshadow` are read
//! through the root's fd, `pkgward_actions::sysusers::plan_account_edit`
//! computes their new contents (existing lines kept byte for byte, ids chosen
//! as `systemd-sysusers` 252 chooses them) and the new files are staged with
//! the mode and owner of the files they replace. The lock is held until the
//! commit has renamed them, so `useradd`, `vipw` or `systemd-sysusers`
//! cannot change the files between the read and the rename. The accounts
//! the edit creates are visible when the package's files are staged: a file
//! owned by `redis` gets the uid the same transaction gives `redis`.
//!
//! Enablement: one [`Step::Symlink`] per link `systemctl --root R enable`
//! makes; removal deletes a link only while it still points where pkgward
//! made it point ([`Step::RemoveSymlink`]).

use crate::accounts::Accounts;
use crate::journal::{StagedAccountFile, Step};
use crate::root::{DirectoryCreation, Root};
use crate::EngineError;
use pkgward_actions::sysusers::{
    parse_sysusers, plan_account_edit, AccountEditConfig, AccountFiles, CreatedAccount,
};
use pkgward_plan::actions::{CreateKind, PlannedAction};
use pkgward_plan::Plan;
use rustix::fs::{fchmod, fchown, fstat, openat, FlockOperation, Gid, Mode, OFlags, Uid};
use rustix::io::Errno;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

/// The account files, in the order they are renamed into place.
const ACCOUNT_FILES: [&str; 4] = ["/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow"];

/// `lckpwdf`'s lock file and its timeout (shadow-utils waits 15 seconds).
const PASSWORD_LOCK: &str = "/etc/.pwd.lock";
const PASSWORD_LOCK_TIMEOUT: Duration = Duration::from_secs(15);

/// A held `/etc/.pwd.lock`; released when dropped (closing the fd drops the
/// process's `fcntl` locks on the file).
#[derive(Debug)]
pub struct PasswordLock {
    _file: OwnedFd,
}

/// Locks the root's account files as `lckpwdf(3)` does.
pub fn lock_password_files(root: &Root) -> Result<PasswordLock, EngineError> {
    let io = |errno| EngineError::io(format!("cannot lock `{PASSWORD_LOCK}`"), errno);
    let (parent, leaf) = root
        .parent(PASSWORD_LOCK, Some(DirectoryCreation::DEFAULT))?
        .expect("created when missing");
    let file = openat(
        &parent.fd,
        leaf.as_str(),
        OFlags::WRONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map_err(io)?;
    let started = Instant::now();
    loop {
        match rustix::fs::fcntl_lock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(PasswordLock { _file: file }),
            Err(Errno::AGAIN | Errno::ACCESS) if started.elapsed() < PASSWORD_LOCK_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(Errno::AGAIN | Errno::ACCESS) => {
                return Err(EngineError::Action {
                    what: format!("cannot lock `{PASSWORD_LOCK}`"),
                    reason:
                        "another program (useradd, vipw, systemd-sysusers …) held it for 15 seconds"
                            .to_owned(),
                })
            }
            Err(errno) => return Err(io(errno)),
        }
    }
}

/// What the actions phase prepared.
#[derive(Debug)]
pub(crate) struct PreparedActions {
    /// The root's accounts as they will be after the commit.
    pub accounts: Accounts,
    /// Steps before the file placements (the account files).
    pub first_steps: Vec<Step>,
    /// Steps after them (enablement symlinks, their removal).
    pub last_steps: Vec<Step>,
    /// Held from reading the account files until the commit renamed them.
    pub password_lock: Option<PasswordLock>,
}

/// One account file as found in the root.
struct CurrentFile {
    bytes: Option<Vec<u8>>,
    mode: u32,
    uid: u32,
    gid: u32,
}

fn read_account_file(
    root: &Root,
    path: &str,
    default_gid: u32,
) -> Result<CurrentFile, EngineError> {
    let shadow = path.ends_with("shadow");
    let Some(mut file) = root.open_regular_file(path)? else {
        return Ok(CurrentFile {
            bytes: None,
            // Debian's modes: shadow files are `root:shadow 0640`.
            mode: if shadow { 0o640 } else { 0o644 },
            uid: 0,
            gid: if shadow { default_gid } else { 0 },
        });
    };
    let status =
        fstat(&file).map_err(|errno| EngineError::io(format!("cannot stat `{path}`"), errno))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|source| EngineError::Read {
            path: path.to_owned(),
            source,
        })?;
    Ok(CurrentFile {
        bytes: Some(bytes),
        mode: status.st_mode & 0o7777,
        uid: status.st_uid,
        gid: status.st_gid,
    })
}

fn stage_bytes(
    staging: &OwnedFd,
    name: &str,
    path: &str,
    bytes: &[u8],
    current: &CurrentFile,
    fsync: bool,
) -> Result<(), EngineError> {
    let io = |errno| EngineError::io(format!("cannot stage `{path}`"), errno);
    let fd = openat(
        staging,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map_err(io)?;
    let mut file = std::fs::File::from(fd);
    file.write_all(bytes).map_err(|source| EngineError::Write {
        path: path.to_owned(),
        source,
    })?;
    fchown(
        &file,
        Some(Uid::from_raw(current.uid)),
        Some(Gid::from_raw(current.gid)),
    )
    .map_err(io)?;
    fchmod(&file, Mode::from_raw_mode(current.mode)).map_err(io)?;
    if fsync {
        rustix::fs::fsync(&file).map_err(io)?;
    }
    Ok(())
}

/// The group id of `name` in group-file text (for `shadow`'s group).
fn group_id(group_text: &str, name: &str) -> Option<u32> {
    group_text.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == name).then_some(())?;
        fields.nth(1)?.parse().ok()
    })
}

/// The root's four account files as they are now (`None`: absent).
pub fn read_account_files(root: &Root) -> Result<AccountFiles, EngineError> {
    let mut files = [None, None, None, None];
    for (slot, path) in files.iter_mut().zip(ACCOUNT_FILES) {
        *slot = read_account_file(root, path, 0)?.bytes;
    }
    let [passwd, group, shadow, gshadow] = files;
    Ok(AccountFiles {
        passwd,
        group,
        shadow,
        gshadow,
    })
}

/// Stages the account files and computes the steps of every action of `plan`.
pub(crate) fn prepare_actions(
    root: &Root,
    staging: &OwnedFd,
    plan: &Plan,
    now: i64,
    fsync: bool,
    notices: &mut Vec<String>,
) -> Result<PreparedActions, EngineError> {
    let mut entries = Vec::new();
    for package in &plan.packages {
        for action in &package.actions {
            if let PlannedAction::Accounts { source, text } = action {
                entries.extend(parse_sysusers(source, text).map_err(|error| {
                    EngineError::Action {
                        what: format!(
                            "`{}`: accounts from {source} line {}",
                            package.name, error.line
                        ),
                        reason: error.reason,
                    }
                })?);
            }
        }
    }
    let mut first_steps = Vec::new();
    let mut password_lock = None;
    let accounts = if entries.is_empty() {
        Accounts::read(root)?
    } else {
        password_lock = Some(lock_password_files(root)?);
        let group_now = read_account_file(root, "/etc/group", 0)?;
        let shadow_gid = group_now
            .bytes
            .as_deref()
            .and_then(|bytes| group_id(&String::from_utf8_lossy(bytes), "shadow"))
            .unwrap_or(0);
        let current = [
            read_account_file(root, ACCOUNT_FILES[0], 0)?,
            group_now,
            read_account_file(root, ACCOUNT_FILES[2], shadow_gid)?,
            read_account_file(root, ACCOUNT_FILES[3], shadow_gid)?,
        ];
        let files = AccountFiles {
            passwd: current[0].bytes.clone(),
            group: current[1].bytes.clone(),
            shadow: current[2].bytes.clone(),
            gshadow: current[3].bytes.clone(),
        };
        let config = AccountEditConfig {
            days_since_epoch: u64::try_from(now / 86_400).unwrap_or(0),
            ..AccountEditConfig::default()
        };
        let edit =
            plan_account_edit(&entries, &files, &config).map_err(|error| EngineError::Action {
                what: "cannot plan the account files".to_owned(),
                reason: error.to_string(),
            })?;
        let new = [&edit.passwd, &edit.group, &edit.shadow, &edit.gshadow];
        let mut staged = Vec::new();
        for ((path, bytes), current) in ACCOUNT_FILES.iter().zip(new).zip(&current) {
            if let Some(bytes) = bytes {
                let name = format!("accounts{}", path.replace('/', "-"));
                stage_bytes(staging, &name, path, bytes, current, fsync)?;
                staged.push(StagedAccountFile {
                    staged: name,
                    path: (*path).to_owned(),
                });
            }
        }
        for created in &edit.created {
            notices.push(match created {
                CreatedAccount::User { name, uid, gid } => {
                    format!("created user `{name}` (uid {uid}, gid {gid})")
                }
                CreatedAccount::Group { name, gid } => {
                    format!("created group `{name}` (gid {gid})")
                }
                CreatedAccount::Membership { user, group } => {
                    format!("added user `{user}` to group `{group}`")
                }
            });
        }
        if !staged.is_empty() {
            first_steps.push(Step::AccountFiles { files: staged });
        }
        let text = |new: &Option<Vec<u8>>, old: &Option<Vec<u8>>| {
            String::from_utf8_lossy(new.as_ref().or(old.as_ref()).map_or(&[][..], Vec::as_slice))
                .into_owned()
        };
        Accounts::from_texts(
            &text(&edit.passwd, &files.passwd),
            &text(&edit.group, &files.group),
        )
    };
    let mut last_steps = Vec::new();
    for (package_index, package) in plan.packages.iter().enumerate() {
        for (action_index, action) in package.actions.iter().enumerate() {
            match action {
                PlannedAction::EnableUnit { symlinks, .. } => {
                    last_steps.extend(symlinks.iter().map(|symlink| Step::Symlink {
                        path: symlink.link.clone(),
                        target: symlink.target.clone(),
                    }));
                }
                PlannedAction::CreatePath {
                    path,
                    kind,
                    mode,
                    owner,
                    group,
                    argument,
                    ..
                } => {
                    let ids = accounts.resolve(owner, group);
                    if let Some(note) = ids.note {
                        notices.push(format!("{}: `{path}`: {note}", package.name));
                    }
                    let staged = format!("action-{package_index}-{action_index}");
                    let current = CurrentFile {
                        bytes: None,
                        mode: *mode & 0o7777,
                        uid: ids.uid,
                        gid: ids.gid,
                    };
                    match kind {
                        CreateKind::Directory => last_steps.push(Step::MakeDirectory {
                            path: path.clone(),
                            mode: *mode & 0o7777,
                            uid: ids.uid,
                            gid: ids.gid,
                        }),
                        CreateKind::File => {
                            let content = argument.as_deref().unwrap_or_default();
                            stage_bytes(
                                staging,
                                &staged,
                                path,
                                content.as_bytes(),
                                &current,
                                fsync,
                            )?;
                            last_steps.push(Step::PlaceIfAbsent {
                                staged,
                                path: path.clone(),
                            });
                        }
                        CreateKind::Copy => {
                            let from = argument.as_deref().unwrap_or_default();
                            let Some(mut file) = root.open_regular_file(from)? else {
                                notices.push(format!(
                                    "{}: `{path}` not created: copy source `{from}` is not a regular file in the root",
                                    package.name
                                ));
                                continue;
                            };
                            let mut bytes = Vec::new();
                            file.read_to_end(&mut bytes)
                                .map_err(|source| EngineError::Read {
                                    path: from.to_owned(),
                                    source,
                                })?;
                            stage_bytes(staging, &staged, path, &bytes, &current, fsync)?;
                            last_steps.push(Step::PlaceIfAbsent {
                                staged,
                                path: path.clone(),
                            });
                        }
                        CreateKind::Symlink => {
                            let target = argument.as_deref().unwrap_or_default();
                            rustix::fs::symlinkat(target, staging, staged.as_str()).map_err(
                                |errno| {
                                    EngineError::io(format!("cannot stage symlink `{path}`"), errno)
                                },
                            )?;
                            last_steps.push(Step::PlaceIfAbsent {
                                staged,
                                path: path.clone(),
                            });
                        }
                    }
                }
                PlannedAction::SetAttributes {
                    path,
                    owner,
                    group,
                    mode,
                    ..
                } => {
                    let ids = accounts.resolve(
                        owner.as_deref().unwrap_or("root"),
                        group.as_deref().unwrap_or("root"),
                    );
                    if let Some(note) = ids.note {
                        // Never give a mode (setgid above all) to a fallback owner.
                        notices.push(format!("{}: `{path}` left as it is: {note}", package.name));
                        continue;
                    }
                    last_steps.push(Step::SetAttributes {
                        path: path.clone(),
                        uid: owner.as_ref().map(|_| ids.uid),
                        gid: group.as_ref().map(|_| ids.gid),
                        mode: *mode,
                    });
                }
                PlannedAction::Accounts { .. }
                | PlannedAction::Alternative { .. }
                | PlannedAction::Described { .. } => {}
            }
        }
    }
    for package in &plan.packages {
        last_steps.extend(
            package
                .stale_links
                .iter()
                .map(|symlink| Step::RemoveSymlink {
                    path: symlink.link.clone(),
                    target: symlink.target.clone(),
                }),
        );
    }
    last_steps.extend(prepare_alternatives(root, staging, plan, fsync)?);
    for removal in &plan.removals {
        last_steps.extend(
            removal
                .remove_links
                .iter()
                .map(|symlink| Step::RemoveSymlink {
                    path: symlink.link.clone(),
                    target: symlink.target.clone(),
                }),
        );
    }
    Ok(PreparedActions {
        accounts,
        first_steps,
        last_steps,
        password_lock,
    })
}

/// Renames the staged account files into place under the password lock.
pub(crate) fn place_account_files(
    root: &Root,
    staging: Option<&OwnedFd>,
    files: &[StagedAccountFile],
) -> Result<(), EngineError> {
    let Some(staging) = staging else {
        return Ok(());
    };
    let _lock = lock_password_files(root)?;
    for file in files {
        if !staged_still_there(staging, &file.staged, &file.path)? {
            continue;
        }
        let (parent, leaf) = root
            .parent(&file.path, Some(DirectoryCreation::DEFAULT))?
            .expect("created when missing");
        rustix::fs::renameat(staging, file.staged.as_str(), &parent.fd, leaf.as_str()).map_err(
            |errno| EngineError::io(format!("cannot move `{}` into place", file.path), errno),
        )?;
    }
    Ok(())
}

/// Whether the staged name is still in staging (gone: the rename already
/// happened in the run that crashed).
pub(crate) fn staged_still_there(
    staging: &OwnedFd,
    staged: &str,
    path: &str,
) -> Result<bool, EngineError> {
    match rustix::fs::statat(staging, staged, rustix::fs::AtFlags::SYMLINK_NOFOLLOW) {
        Ok(_) => Ok(true),
        Err(Errno::NOENT) => Ok(false),
        Err(errno) => Err(EngineError::io(
            format!("cannot stat the staged copy of `{path}`"),
            errno,
        )),
    }
}

/// Creates the symlink `path` -> `target` unless it exists with that target.
pub(crate) fn make_symlink(root: &Root, path: &str, target: &str) -> Result<(), EngineError> {
    let (parent, leaf) = root
        .parent(path, Some(DirectoryCreation::DEFAULT))?
        .expect("created when missing");
    match rustix::fs::readlinkat(&parent.fd, leaf.as_str(), Vec::new()) {
        Ok(existing) if existing.to_bytes() == target.as_bytes() => return Ok(()),
        Ok(_) | Err(Errno::INVAL) => return Err(conflicting_link(path, target)),
        Err(Errno::NOENT) => {}
        Err(errno) => return Err(EngineError::io(format!("cannot read `{path}`"), errno)),
    }
    rustix::fs::symlinkat(target, &parent.fd, leaf.as_str())
        .map_err(|errno| EngineError::io(format!("cannot create symlink `{path}`"), errno))
}

fn conflicting_link(path: &str, target: &str) -> EngineError {
    EngineError::Action {
        what: format!("cannot create the enablement symlink `{path}` -> `{target}`"),
        reason: "something else is already there (systemctl enable refuses too)".to_owned(),
    }
}

/// Checks before the commit that a symlink can be made.
pub(crate) fn preflight_symlink(root: &Root, path: &str, target: &str) -> Result<(), EngineError> {
    root.canonical_path(path, false)?;
    match root.symlink_target(path)? {
        Some(existing) if existing == target => Ok(()),
        Some(_) => Err(conflicting_link(path, target)),
        None if root.status(path)?.is_some() => Err(conflicting_link(path, target)),
        None => Ok(()),
    }
}

/// Deletes the symlink `path` if it still points to `target`.
pub(crate) fn remove_symlink(root: &Root, path: &str, target: &str) -> Result<(), EngineError> {
    let Some((parent, leaf)) = root.parent(path, None)? else {
        return Ok(());
    };
    match rustix::fs::readlinkat(&parent.fd, leaf.as_str(), Vec::new()) {
        Ok(existing) if existing.to_bytes() == target.as_bytes() => {}
        // Gone, replaced or re-pointed by the administrator: theirs now.
        Ok(_) | Err(Errno::NOENT | Errno::INVAL) => return Ok(()),
        Err(errno) => return Err(EngineError::io(format!("cannot read `{path}`"), errno)),
    }
    match rustix::fs::unlinkat(&parent.fd, leaf.as_str(), rustix::fs::AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(errno) => Err(EngineError::io(format!("cannot remove `{path}`"), errno)),
    }
}

/// systemd's preset directories, highest priority first.
const PRESET_DIRECTORIES: &[&str] = &[
    "/etc/systemd/system-preset",
    "/run/systemd/system-preset",
    "/usr/local/lib/systemd/system-preset",
    "/usr/lib/systemd/system-preset",
    "/lib/systemd/system-preset",
];

/// The root's `*.preset` files as systemd reads them: one file per name (the
/// first directory wins), in file-name order. Returns (path, contents).
pub fn preset_files(root: &Root) -> Result<Vec<(String, Vec<u8>)>, EngineError> {
    let mut by_name = std::collections::BTreeMap::new();
    for directory in PRESET_DIRECTORIES {
        let Some(found) = root.directory(directory, None)? else {
            continue;
        };
        let readable = openat(
            &found.fd,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|errno| EngineError::io(format!("cannot open `{directory}`"), errno))?;
        let listing = rustix::fs::Dir::read_from(&readable)
            .map_err(|errno| EngineError::io(format!("cannot list `{directory}`"), errno))?;
        for entry in listing {
            let entry = entry
                .map_err(|errno| EngineError::io(format!("cannot list `{directory}`"), errno))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            #[allow(clippy::case_sensitive_file_extension_comparisons)]
            if !name.ends_with(".preset") || by_name.contains_key(&name) {
                continue;
            }
            let path = format!("{directory}/{name}");
            if let Some(mut file) = root.open_regular_file(&path)? {
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes)
                    .map_err(|source| EngineError::Read {
                        path: path.clone(),
                        source,
                    })?;
                by_name.insert(name, (path, bytes));
            }
        }
    }
    Ok(by_name.into_values().collect())
}

/// Where a unit file named `name` already exists in the root (a regular
/// file in one of systemd's system unit directories), if anywhere.
pub fn existing_unit(root: &Root, name: &str) -> Result<Option<String>, EngineError> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Ok(None);
    }
    for directory in [
        "/etc/systemd/system",
        "/usr/local/lib/systemd/system",
        "/usr/lib/systemd/system",
        "/lib/systemd/system",
    ] {
        let path = format!("{directory}/{name}");
        if root.open_regular_file(&path)?.is_some() {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// Renames `staged` to `path` unless something is there already.
pub(crate) fn place_if_absent(
    root: &Root,
    staging: Option<&OwnedFd>,
    staged: &str,
    path: &str,
) -> Result<(), EngineError> {
    let Some(staging) = staging else {
        return Ok(());
    };
    if !staged_still_there(staging, staged, path)? {
        return Ok(());
    }
    let (parent, leaf) = root
        .parent(path, Some(DirectoryCreation::DEFAULT))?
        .expect("created when missing");
    match rustix::fs::renameat_with(
        staging,
        staged,
        &parent.fd,
        leaf.as_str(),
        rustix::fs::RenameFlags::NOREPLACE,
    ) {
        Ok(()) => Ok(()),
        Err(Errno::EXIST) => rustix::fs::unlinkat(staging, staged, rustix::fs::AtFlags::empty())
            .map_err(|errno| {
                EngineError::io(format!("cannot drop the staged copy of `{path}`"), errno)
            }),
        Err(errno) => Err(EngineError::io(
            format!("cannot move `{path}` into place"),
            errno,
        )),
    }
}

/// Sets owner, group and mode of `path`; a missing path is left missing.
pub(crate) fn set_attributes(
    root: &Root,
    path: &str,
    uid: Option<u32>,
    gid: Option<u32>,
    mode: Option<u32>,
) -> Result<(), EngineError> {
    use rustix::fs::{AtFlags, FileType};
    let Some((parent, leaf)) = root.parent(path, None)? else {
        return Ok(());
    };
    let status = match rustix::fs::statat(&parent.fd, leaf.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
        Ok(status) => status,
        Err(Errno::NOENT) => return Ok(()),
        Err(errno) => return Err(EngineError::io(format!("cannot stat `{path}`"), errno)),
    };
    let io = |errno| EngineError::io(format!("cannot set the attributes of `{path}`"), errno);
    if uid.is_some() || gid.is_some() {
        rustix::fs::chownat(
            &parent.fd,
            leaf.as_str(),
            uid.map(Uid::from_raw),
            gid.map(Gid::from_raw),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(io)?;
    }
    // chown clears setuid/setgid bits, so the mode comes last; a symlink
    // has no mode of its own (and chmod would follow it).
    if let Some(mode) = mode {
        if FileType::from_raw_mode(status.st_mode) != FileType::Symlink {
            rustix::fs::chmodat(
                &parent.fd,
                leaf.as_str(),
                Mode::from_raw_mode(mode & 0o7777),
                AtFlags::empty(),
            )
            .map_err(io)?;
        }
    }
    Ok(())
}

/// One alternative group as the transaction sees it while planning.
struct AlternativeState {
    group: Option<pkgward_actions::alternatives::AlternativeGroup>,
    /// The current choice (`/etc/alternatives/NAME`'s target).
    current: Option<String>,
}

/// Reads the root's admin file and current choice of alternative `name`.
fn load_alternative(root: &Root, name: &str) -> Result<AlternativeState, EngineError> {
    use pkgward_actions::alternatives::{
        parse_alternative, ADMIN_DIRECTORY, ALTERNATIVES_DIRECTORY,
    };
    let admin = format!("{ADMIN_DIRECTORY}/{name}");
    let group = match root.open_regular_file(&admin)? {
        None => None,
        Some(mut file) => {
            let mut text = String::new();
            file.read_to_string(&mut text)
                .map_err(|source| EngineError::Read {
                    path: admin.clone(),
                    source,
                })?;
            Some(
                parse_alternative(name, &text).map_err(|error| EngineError::Action {
                    what: format!("cannot read `{admin}`"),
                    reason: error.to_string(),
                })?,
            )
        }
    };
    let current = root.symlink_target(&format!("{ALTERNATIVES_DIRECTORY}/{name}"))?;
    Ok(AlternativeState { group, current })
}

/// The transaction's view of alternative `name`, read from the root the
/// first time it is needed.
fn alternative_state<'a>(
    states: &'a mut std::collections::BTreeMap<String, AlternativeState>,
    root: &Root,
    name: &str,
) -> Result<&'a mut AlternativeState, EngineError> {
    if !states.contains_key(name) {
        states.insert(name.to_owned(), load_alternative(root, name)?);
    }
    Ok(states.get_mut(name).expect("loaded"))
}

/// Stages what one alternative operation changes and returns its steps;
/// `state` becomes the state after it.
fn stage_alternative(
    root: &Root,
    staging: &OwnedFd,
    name: &str,
    outcome: &pkgward_actions::alternatives::AlternativePlan,
    state: &mut AlternativeState,
    counter: &mut usize,
    fsync: bool,
) -> Result<Vec<Step>, EngineError> {
    use pkgward_actions::alternatives::{parse_alternative, ADMIN_DIRECTORY};
    let mut steps = Vec::new();
    let admin = format!("{ADMIN_DIRECTORY}/{name}");
    if let Some(text) = &outcome.admin_file {
        *counter += 1;
        let staged = format!("alternative-{counter}");
        let current = CurrentFile {
            bytes: None,
            mode: 0o644,
            uid: 0,
            gid: 0,
        };
        stage_bytes(staging, &staged, &admin, text.as_bytes(), &current, fsync)?;
        steps.push(Step::Place {
            staged,
            path: admin,
        });
        state.group = Some(
            parse_alternative(name, text).map_err(|error| EngineError::Action {
                what: format!("alternative `{name}`"),
                reason: error.to_string(),
            })?,
        );
    } else {
        steps.push(Step::Remove { path: admin });
        state.group = None;
    }
    state.current.clone_from(&outcome.selected);
    for (link, target) in &outcome.symlinks {
        // dpkg never replaces a real file with an alternative link.
        if let Some(status) = root.status(link)? {
            if rustix::fs::FileType::from_raw_mode(status.st_mode) != rustix::fs::FileType::Symlink
            {
                return Err(EngineError::Action {
                    what: format!("cannot make the alternative link `{link}`"),
                    reason: "a file that is not a symlink is there".to_owned(),
                });
            }
        }
        *counter += 1;
        let staged = format!("alternative-{counter}");
        rustix::fs::symlinkat(target.as_str(), staging, staged.as_str()).map_err(|errno| {
            EngineError::io(format!("cannot stage the symlink `{link}`"), errno)
        })?;
        steps.push(Step::Place {
            staged,
            path: link.clone(),
        });
    }
    for link in &outcome.remove {
        if let Some(target) = root.symlink_target(link)? {
            steps.push(Step::RemoveSymlink {
                path: link.clone(),
                target,
            });
        }
    }
    Ok(steps)
}

/// The steps of every alternative install (and, for removals, every choice
/// removal), computed against the root's admin files now, in order: several
/// operations on one name compose.
fn prepare_alternatives(
    root: &Root,
    staging: &OwnedFd,
    plan: &Plan,
    fsync: bool,
) -> Result<Vec<Step>, EngineError> {
    use pkgward_actions::alternatives::{
        plan_alternative_install, plan_alternative_remove, AlternativeInstall,
    };
    let mut states: std::collections::BTreeMap<String, AlternativeState> =
        std::collections::BTreeMap::new();
    let mut steps = Vec::new();
    let mut counter = 0usize;
    let mut stage_steps = |name: &str,
                           outcome: &pkgward_actions::alternatives::AlternativePlan,
                           state: &mut AlternativeState| {
        stage_alternative(root, staging, name, outcome, state, &mut counter, fsync)
    };
    for package in &plan.packages {
        for action in &package.actions {
            let PlannedAction::Alternative {
                link,
                name,
                path,
                priority,
                slaves,
                ..
            } = action
            else {
                continue;
            };
            let state = alternative_state(&mut states, root, name)?;
            let outcome = plan_alternative_install(
                state.group.as_ref(),
                state.current.as_deref(),
                &AlternativeInstall {
                    link: link.clone(),
                    name: name.clone(),
                    path: path.clone(),
                    priority: *priority,
                    slaves: slaves.clone(),
                },
            )
            .map_err(|error| EngineError::Action {
                what: format!("`{}`: cannot install alternative `{name}`", package.name),
                reason: error.to_string(),
            })?;
            steps.extend(stage_steps(name, &outcome, state)?);
        }
    }
    for removal in &plan.removals {
        for (name, path) in &removal.remove_alternatives {
            let state = alternative_state(&mut states, root, name)?;
            let Some(group) = &state.group else { continue };
            let outcome = plan_alternative_remove(group, state.current.as_deref(), path);
            steps.extend(stage_steps(name, &outcome, state)?);
        }
    }
    Ok(steps)
}
