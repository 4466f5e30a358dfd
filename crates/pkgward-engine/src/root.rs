//! Access to a target root through directory file descriptors.
//!
//! Every path inside the root is walked one component at a time from the
//! root's directory fd: each step is an `openat2(O_PATH | O_NOFOLLOW)` of a
//! single name with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS` (so the kernel
//! itself refuses `..`, absolute names and any symlink during that step). When
//! a step meets a symlink the walker checks who owns it and then follows its
//! target itself, *inside the root*: an absolute target restarts at the root's
//! fd and `..` never climbs above it. That gives `RESOLVE_IN_ROOT` semantics
//! (usrmerge links such as `/lib -> usr/lib` work, `/var/run -> /run` lands in
//! `<root>/run`, THREATS 28) plus the check `RESOLVE_IN_ROOT` alone cannot do:
//! a symlink owned by a uid other than root (or the root directory's owner)
//! is refused as unsafe, because whoever owns it could point it anywhere in
//! the root (THREATS 27; rpm `tests/rpmi.at` "install on invalid symlinked
//! directory"). The walk holds an fd for every step, so a directory swapped
//! for a symlink after it was checked cannot redirect a later `*at` call
//! (CVE-2021-35937/35938 class, THREATS 29).
//!
//! While a transaction runs (the root is locked and only pkgward changes it),
//! [`Root::remember_directories`] keeps the resolved chain of every directory
//! walked, keyed by the path asked for, so each directory is resolved once per
//! transaction instead of once per file (issue 8: 12 `openat2` per placed
//! file). A walk starts from the longest remembered prefix and continues with
//! the same per-component checks. The transaction forgets everything
//! ([`Root::forget_directories`]) before any step that could remove, replace
//! or re-own a directory or symlink on a remembered chain. Walks that may not
//! create also remember where a requested path was found missing (preflight
//! asks several times about directories the transaction has yet to create);
//! those answers are dropped by the first walk that may create.
//!
//! No function here ever joins the root path with a package path and hands
//! the result to the kernel; `Root::path` is used only in messages.

use crate::EngineError;
use rustix::fs::{
    fstat, openat, openat2, readlinkat, AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat,
};
use rustix::io::Errno;
use std::collections::{HashMap, HashSet, VecDeque};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// The most symlinks followed while resolving one path (Linux's own limit).
const MAX_SYMLINKS: usize = 40;

/// An opened target root.
#[derive(Debug)]
pub struct Root {
    path: PathBuf,
    directory: OwnedFd,
    /// Owners whose symlinks are trusted: root, and the owner of the root
    /// directory itself (so an unprivileged user can manage their own root).
    trusted_uids: Vec<u32>,
    /// An `O_PATH` fd of the root, the first element of every walk.
    walk_start: Arc<OwnedFd>,
    /// Remembered walks (see the module docs); `None` when not remembering.
    remembered: Mutex<Option<Remembered>>,
}

/// What a root remembers while a transaction runs.
#[derive(Debug, Default)]
struct Remembered {
    /// Resolved directories by the path asked for.
    directories: HashMap<String, Chain>,
    /// Paths asked for whose last component was missing (their parent is in
    /// `directories`).
    absent: HashSet<String>,
}

/// The fds and names from the root down to one directory.
type Chain = Vec<(Arc<OwnedFd>, String)>;

/// One item of a walk's work list: a name to resolve, or the marker that
/// the `n`th component of the requested path is now fully resolved (after
/// any symlink it named was followed), so the chain can be remembered.
#[derive(Debug)]
enum Pending {
    /// A name, with its position when it is a component of the requested
    /// path rather than of a symlink's target.
    Name(String, Option<usize>),
    Reached(usize),
}

/// Forgets the remembered directories when dropped.
#[derive(Debug)]
pub struct RememberedDirectories<'root> {
    root: &'root Root,
}

impl Drop for RememberedDirectories<'_> {
    fn drop(&mut self) {
        *self.root.remembered_lock() = None;
    }
}

/// How to create missing directories while walking.
#[derive(Debug, Clone, Copy)]
pub struct DirectoryCreation {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl DirectoryCreation {
    /// `0755 root:root`, what dpkg uses for directories a package does not ship.
    pub const DEFAULT: DirectoryCreation = DirectoryCreation {
        mode: 0o755,
        uid: 0,
        gid: 0,
    };
}

/// A directory inside the root, resolved.
#[derive(Debug)]
pub struct ResolvedDirectory {
    /// An `O_PATH` fd of the directory, usable with every `*at` call.
    pub fd: Arc<OwnedFd>,
    /// Its canonical path inside the root (`/usr/lib` for `/lib` under usrmerge).
    pub canonical: String,
}

/// The outcome of walking a path without creating anything.
#[derive(Debug)]
enum Walk {
    Found(Chain),
    /// The walk stopped at a missing component: the resolved prefix, and the
    /// unresolved rest (first element is the missing name).
    Missing(Chain, Vec<String>),
}

impl Root {
    /// Opens the root directory `path`.
    pub fn open(path: &Path) -> Result<Root, EngineError> {
        let directory = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|errno| {
            EngineError::io(format!("cannot open the root `{}`", path.display()), errno)
        })?;
        let status = fstat(&directory).map_err(|errno| {
            EngineError::io(format!("cannot stat the root `{}`", path.display()), errno)
        })?;
        let mut trusted_uids = vec![0];
        if status.st_uid != 0 {
            trusted_uids.push(status.st_uid);
        }
        let walk_start = open_component_fd(&directory, ".").map_err(|errno| {
            EngineError::io(
                format!("cannot reopen the root `{}`", path.display()),
                errno,
            )
        })?;
        Ok(Root {
            path: path.to_path_buf(),
            directory,
            trusted_uids,
            walk_start: Arc::new(walk_start),
            remembered: Mutex::new(None),
        })
    }

    /// The root's path, for messages only.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The root directory's fd.
    pub fn fd(&self) -> &OwnedFd {
        &self.directory
    }

    fn remembered_lock(&self) -> std::sync::MutexGuard<'_, Option<Remembered>> {
        self.remembered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Remembers resolved directories until the returned guard is dropped.
    /// Only valid while the caller holds the root's lock and forgets them
    /// ([`Root::forget_directories`]) before changing any directory or
    /// symlink that a walk may have passed through.
    pub fn remember_directories(&self) -> RememberedDirectories<'_> {
        *self.remembered_lock() = Some(Remembered::default());
        RememberedDirectories { root: self }
    }

    /// Forgets every remembered directory (it keeps remembering new ones).
    pub fn forget_directories(&self) {
        if let Some(remembered) = self.remembered_lock().as_mut() {
            remembered.directories.clear();
            remembered.absent.clear();
        }
    }

    /// The chain to start a walk of `components` from, and how many of the
    /// components it already covers: the longest remembered prefix, or the
    /// root; or, when a prefix is remembered as missing, the finished walk.
    fn start_of_walk(
        &self,
        components: &[String],
        may_create: bool,
    ) -> Result<(Chain, usize), Walk> {
        let root = || Ok((vec![(Arc::clone(&self.walk_start), String::new())], 0));
        // `.` and `..` are resolved by the walk itself against its own chain.
        if components.iter().any(|name| name == "." || name == "..") {
            return root();
        }
        let mut remembered = self.remembered_lock();
        let Some(remembered) = remembered.as_mut() else {
            return root();
        };
        if may_create {
            remembered.absent.clear();
        } else if !remembered.absent.is_empty() {
            for missing in 1..=components.len() {
                if !remembered
                    .absent
                    .contains(&prefix_key(&components[..missing]))
                {
                    continue;
                }
                let parent = &components[..missing - 1];
                let chain = if parent.is_empty() {
                    vec![(Arc::clone(&self.walk_start), String::new())]
                } else if let Some(chain) = remembered.directories.get(&prefix_key(parent)) {
                    chain.clone()
                } else {
                    break;
                };
                return Err(Walk::Missing(chain, components[missing - 1..].to_vec()));
            }
        }
        for covered in (1..=components.len()).rev() {
            if let Some(chain) = remembered
                .directories
                .get(&prefix_key(&components[..covered]))
            {
                return Ok((chain.clone(), covered));
            }
        }
        root()
    }

    fn remember(&self, components: &[String], chain: &Chain) {
        if let Some(remembered) = self.remembered_lock().as_mut() {
            remembered
                .directories
                .insert(prefix_key(components), chain.clone());
        }
    }

    fn remember_absent(&self, components: &[String]) {
        if let Some(remembered) = self.remembered_lock().as_mut() {
            remembered.absent.insert(prefix_key(components));
        }
    }

    /// Walks the directory path `path` (absolute, inside the root), following
    /// symlinks inside the root and refusing unsafe ones. With `create`, missing
    /// directories are made; without, the walk reports where it stopped.
    fn walk(&self, path: &str, create: Option<DirectoryCreation>) -> Result<Walk, EngineError> {
        let components: Vec<String> = split(path).collect();
        let (mut stack, covered) = match self.start_of_walk(&components, create.is_some()) {
            Ok(start) => start,
            Err(finished) => return Ok(finished),
        };
        let mut pending: VecDeque<Pending> = VecDeque::new();
        for (position, name) in components.iter().enumerate().skip(covered) {
            pending.push_back(Pending::Name(name.clone(), Some(position)));
            pending.push_back(Pending::Reached(position));
        }
        let mut symlinks = 0;
        while let Some(item) = pending.pop_front() {
            let (name, position) = match item {
                Pending::Name(name, position) => (name, position),
                Pending::Reached(position) => {
                    self.remember(&components[..=position], &stack);
                    continue;
                }
            };
            if name == "." {
                continue;
            }
            if name == ".." {
                // `..` never climbs above the root: like RESOLVE_IN_ROOT.
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            let parent = &stack.last().expect("the root stays on the stack").0;
            let fd = match open_component_fd(parent, &name) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => {
                    let Some(creation) = create else {
                        if let Some(position) = position {
                            self.remember_absent(&components[..=position]);
                        }
                        let mut rest = vec![name];
                        rest.extend(pending.into_iter().filter_map(|item| match item {
                            Pending::Name(name, _) => Some(name),
                            Pending::Reached(_) => None,
                        }));
                        return Ok(Walk::Missing(stack, rest));
                    };
                    make_directory(parent, &name, creation).map_err(|errno| {
                        EngineError::io(
                            format!("cannot create directory `{}`", joined(&stack, Some(&name))),
                            errno,
                        )
                    })?;
                    open_component_fd(parent, &name).map_err(|errno| {
                        EngineError::io(
                            format!("cannot open `{}`", joined(&stack, Some(&name))),
                            errno,
                        )
                    })?
                }
                Err(errno) => {
                    return Err(EngineError::io(
                        format!("cannot open `{}`", joined(&stack, Some(&name))),
                        errno,
                    ))
                }
            };
            let status = fstat(&fd).map_err(|errno| {
                EngineError::io(
                    format!("cannot stat `{}`", joined(&stack, Some(&name))),
                    errno,
                )
            })?;
            match FileType::from_raw_mode(status.st_mode) {
                FileType::Directory => stack.push((Arc::new(fd), name)),
                FileType::Symlink => {
                    let where_ = joined(&stack, Some(&name));
                    if !self.trusted_uids.contains(&status.st_uid) {
                        return Err(EngineError::UnsafeSymlink {
                            path: where_,
                            uid: status.st_uid,
                        });
                    }
                    symlinks += 1;
                    if symlinks > MAX_SYMLINKS {
                        return Err(EngineError::SymlinkLoop { path: where_ });
                    }
                    // readlinkat on the O_PATH fd of the link itself: the link
                    // whose owner was checked is the one whose target is read.
                    let target = readlinkat(&fd, "", Vec::new()).map_err(|errno| {
                        EngineError::io(format!("cannot read symlink `{where_}`"), errno)
                    })?;
                    let target = target.to_string_lossy().into_owned();
                    if target.starts_with('/') {
                        stack.truncate(1);
                    }
                    for component in split(&target).collect::<Vec<_>>().into_iter().rev() {
                        pending.push_front(Pending::Name(component, None));
                    }
                }
                _ => {
                    return Err(EngineError::NotADirectory {
                        path: joined(&stack, Some(&name)),
                    })
                }
            }
        }
        Ok(Walk::Found(stack))
    }

    /// Resolves the directory `path`, creating missing directories with `create`.
    pub fn directory(
        &self,
        path: &str,
        create: Option<DirectoryCreation>,
    ) -> Result<Option<ResolvedDirectory>, EngineError> {
        match self.walk(path, create)? {
            Walk::Found(mut stack) => {
                let canonical = joined(&stack, None);
                let (fd, _) = stack.pop().expect("the root stays on the stack");
                Ok(Some(ResolvedDirectory { fd, canonical }))
            }
            Walk::Missing(..) => Ok(None),
        }
    }

    /// Resolves the parent of `path` (creating missing parents with `create`)
    /// and returns it with the final name. The final name is not followed.
    pub fn parent(
        &self,
        path: &str,
        create: Option<DirectoryCreation>,
    ) -> Result<Option<(ResolvedDirectory, String)>, EngineError> {
        let (parent, leaf) = split_parent(path).ok_or_else(|| EngineError::InvalidPath {
            path: path.to_owned(),
            reason: "has no final component".to_owned(),
        })?;
        Ok(self
            .directory(parent, create)?
            .map(|directory| (directory, leaf.to_owned())))
    }

    /// The canonical form of `path`: its parent resolved through the root's
    /// symlinks (unsafe ones refused); with `follow_leaf`, the last component
    /// too (used for directory entries: a package's `/lib` directory entry is
    /// satisfied by the root's `/lib -> usr/lib`). Missing components are kept
    /// as written.
    pub fn canonical_path(&self, path: &str, follow_leaf: bool) -> Result<String, EngineError> {
        if follow_leaf || path == "/" {
            return Ok(match self.walk(path, None)? {
                Walk::Found(stack) => joined(&stack, None),
                Walk::Missing(stack, rest) => join_rest(&joined(&stack, None), &rest),
            });
        }
        let (parent, leaf) = split_parent(path).ok_or_else(|| EngineError::InvalidPath {
            path: path.to_owned(),
            reason: "has no final component".to_owned(),
        })?;
        let parent = match self.walk(parent, None)? {
            Walk::Found(stack) => joined(&stack, None),
            Walk::Missing(stack, rest) => join_rest(&joined(&stack, None), &rest),
        };
        Ok(join_rest(&parent, &[leaf.to_owned()]))
    }

    /// `lstat` of `path` inside the root; `None` when it or a parent is missing.
    pub fn status(&self, path: &str) -> Result<Option<Stat>, EngineError> {
        if path == "/" {
            return fstat(&self.directory)
                .map(Some)
                .map_err(|errno| EngineError::io("cannot stat the root".to_owned(), errno));
        }
        let Some((directory, leaf)) = self.parent(path, None)? else {
            return Ok(None);
        };
        match rustix::fs::statat(&directory.fd, leaf.as_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(status) => Ok(Some(status)),
            Err(Errno::NOENT) => Ok(None),
            Err(errno) => Err(EngineError::io(format!("cannot stat `{path}`"), errno)),
        }
    }

    /// Opens the regular file `path` for reading, never following a final
    /// symlink and never blocking on a FIFO; `None` when missing or not a
    /// regular file.
    pub fn open_regular_file(&self, path: &str) -> Result<Option<std::fs::File>, EngineError> {
        let Some((directory, leaf)) = self.parent(path, None)? else {
            return Ok(None);
        };
        let fd = match openat(
            &directory.fd,
            leaf.as_str(),
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::NOENT | Errno::LOOP | Errno::NXIO) => return Ok(None),
            Err(errno) => return Err(EngineError::io(format!("cannot open `{path}`"), errno)),
        };
        let status =
            fstat(&fd).map_err(|errno| EngineError::io(format!("cannot stat `{path}`"), errno))?;
        if FileType::from_raw_mode(status.st_mode) != FileType::RegularFile {
            return Ok(None);
        }
        Ok(Some(std::fs::File::from(fd)))
    }

    /// The sha256 of the regular file `path`, `None` when absent or not a regular file.
    pub fn file_digest(&self, path: &str) -> Result<Option<String>, EngineError> {
        let Some(mut file) = self.open_regular_file(path)? else {
            return Ok(None);
        };
        crate::digest::sha256_of_reader(&mut file)
            .map(Some)
            .map_err(|error| EngineError::Read {
                path: path.to_owned(),
                source: error,
            })
    }

    /// The target of the symlink `path`, `None` when absent or not a symlink.
    pub fn symlink_target(&self, path: &str) -> Result<Option<String>, EngineError> {
        let Some((directory, leaf)) = self.parent(path, None)? else {
            return Ok(None);
        };
        match readlinkat(&directory.fd, leaf.as_str(), Vec::new()) {
            Ok(target) => Ok(Some(target.to_string_lossy().into_owned())),
            Err(Errno::NOENT | Errno::INVAL) => Ok(None),
            Err(errno) => Err(EngineError::io(
                format!("cannot read symlink `{path}`"),
                errno,
            )),
        }
    }
}

/// Opens one name below `parent` as an `O_PATH` fd without following it.
/// `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS` make the kernel refuse anything but
/// a plain child name, whatever `name` holds.
pub(crate) fn open_component_fd(parent: &impl AsFd, name: &str) -> Result<OwnedFd, Errno> {
    openat2(
        parent,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    )
}

/// `mkdirat` then the exact mode (mkdir is subject to the umask) and owner.
pub(crate) fn make_directory(
    parent: &impl AsFd,
    name: &str,
    creation: DirectoryCreation,
) -> Result<(), Errno> {
    match rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(0o700)) {
        Ok(()) => {}
        Err(Errno::EXIST) => return Ok(()),
        Err(errno) => return Err(errno),
    }
    // While the directory is still 0700 it cannot be used by anyone else;
    // give it its owner first, then its mode.
    rustix::fs::chownat(
        parent,
        name,
        Some(rustix::fs::Uid::from_raw(creation.uid)),
        Some(rustix::fs::Gid::from_raw(creation.gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )?;
    rustix::fs::chmodat(
        parent,
        name,
        Mode::from_raw_mode(creation.mode & 0o7777),
        AtFlags::empty(),
    )
}

fn split(path: &str) -> impl Iterator<Item = String> + '_ {
    path.split('/')
        .filter(|component| !component.is_empty())
        .map(str::to_owned)
}

/// The key a walk of `components` is remembered under.
fn prefix_key(components: &[String]) -> String {
    let mut key = String::new();
    for name in components {
        key.push('/');
        key.push_str(name);
    }
    key
}

fn joined(stack: &[(Arc<OwnedFd>, String)], extra: Option<&str>) -> String {
    let mut path = String::new();
    for (_, name) in stack.iter().skip(1) {
        path.push('/');
        path.push_str(name);
    }
    if let Some(extra) = extra {
        path.push('/');
        path.push_str(extra);
    }
    if path.is_empty() {
        path.push('/');
    }
    path
}

fn join_rest(base: &str, rest: &[String]) -> String {
    let mut path = base.trim_end_matches('/').to_owned();
    for component in rest {
        if component == "." || component.is_empty() {
            continue;
        }
        path.push('/');
        path.push_str(component);
    }
    if path.is_empty() {
        path.push('/');
    }
    path
}

/// Splits `/a/b/c` into (`/a/b`, `c`); `None` for `/`.
pub fn split_parent(path: &str) -> Option<(&str, &str)> {
    let trimmed = path.trim_end_matches('/');
    let index = trimmed.rfind('/')?;
    let leaf = &trimmed[index + 1..];
    if leaf.is_empty() {
        return None;
    }
    let parent = if index == 0 { "/" } else { &trimmed[..index] };
    Some((parent, leaf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn canonical_of(root: &Root, path: &str) -> Option<String> {
        root.directory(path, None)
            .expect("walk succeeds")
            .map(|found| found.canonical)
    }

    #[test]
    fn remembered_walks_resolve_like_fresh_walks_through_symlinks_and_dotdot() {
        let temporary = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir_all(temporary.path().join("usr/lib/x86_64/deep")).expect("mkdir");
        std::fs::create_dir_all(temporary.path().join("usr/share")).expect("mkdir");
        symlink("usr/lib", temporary.path().join("lib")).expect("symlink");
        symlink("../share", temporary.path().join("usr/lib/share-link")).expect("symlink");
        let root = Root::open(temporary.path()).expect("open root");
        let paths = [
            "/lib/x86_64/deep",
            "/lib/x86_64",
            "/lib/share-link",
            "/usr/lib/share-link",
            "/lib/../lib/x86_64",
            "/missing/below",
        ];
        let fresh: Vec<_> = paths.iter().map(|path| canonical_of(&root, path)).collect();
        let _remembered = root.remember_directories();
        // Twice: the first walks remember, the second start from what was remembered.
        for _ in 0..2 {
            let remembered: Vec<_> = paths.iter().map(|path| canonical_of(&root, path)).collect();
            assert_eq!(remembered, fresh);
        }
        assert_eq!(fresh[0].as_deref(), Some("/usr/lib/x86_64/deep"));
        assert_eq!(fresh[2].as_deref(), Some("/usr/share"));
        assert_eq!(fresh[5], None);
        assert_eq!(
            root.canonical_path("/missing/below/file", false)
                .expect("canonical"),
            "/missing/below/file"
        );
    }

    #[test]
    fn a_path_remembered_as_missing_is_found_after_a_walk_that_creates() {
        let temporary = tempfile::tempdir().expect("temporary directory");
        let root = Root::open(temporary.path()).expect("open root");
        let _remembered = root.remember_directories();
        assert!(root.status("/opt/tool/file").expect("status").is_none());
        assert!(root.directory("/opt/tool", None).expect("walk").is_none());
        let creation = DirectoryCreation {
            mode: 0o755,
            uid: rustix::process::geteuid().as_raw(),
            gid: rustix::process::getegid().as_raw(),
        };
        let (parent, leaf) = root
            .parent("/opt/tool/file", Some(creation))
            .expect("walk")
            .expect("created");
        assert_eq!(
            (parent.canonical.as_str(), leaf.as_str()),
            ("/opt/tool", "file")
        );
        assert_eq!(
            canonical_of(&root, "/opt/tool").as_deref(),
            Some("/opt/tool")
        );
    }

    #[test]
    fn forgetting_makes_a_directory_replaced_by_a_symlink_resolve_afresh() {
        let temporary = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir_all(temporary.path().join("a/inner")).expect("mkdir");
        std::fs::create_dir_all(temporary.path().join("b/inner")).expect("mkdir");
        let root = Root::open(temporary.path()).expect("open root");
        let _remembered = root.remember_directories();
        assert_eq!(canonical_of(&root, "/a/inner").as_deref(), Some("/a/inner"));
        std::fs::rename(temporary.path().join("a"), temporary.path().join("old-a")).expect("mv");
        symlink("b", temporary.path().join("a")).expect("symlink");
        root.forget_directories();
        assert_eq!(canonical_of(&root, "/a/inner").as_deref(), Some("/b/inner"));
    }

    #[test]
    // Skipping without root must be loud (STYLE: tests never pass silently).
    #[allow(clippy::print_stderr)]
    fn a_remembered_walk_still_refuses_a_symlink_owned_by_another_user() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("SKIPPED: this test needs root (a symlink owned by another uid)");
            return;
        }
        let temporary = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir_all(temporary.path().join("usr/lib")).expect("mkdir");
        symlink("usr/lib", temporary.path().join("lib")).expect("symlink");
        rustix::fs::chownat(
            rustix::fs::CWD,
            temporary.path().join("lib"),
            Some(rustix::fs::Uid::from_raw(12345)),
            None,
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .expect("chown the symlink");
        let root = Root::open(temporary.path()).expect("open root");
        let _remembered = root.remember_directories();
        assert!(canonical_of(&root, "/usr/lib").is_some());
        for _ in 0..2 {
            assert!(matches!(
                root.directory("/lib", None),
                Err(EngineError::UnsafeSymlink { uid: 12345, .. })
            ));
        }
    }
}
