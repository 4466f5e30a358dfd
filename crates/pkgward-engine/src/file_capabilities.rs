//! File capabilities on disk: writing the `security.capability` attribute of
//! a staged file, reading it back for `check`, and removing it from an
//! inode about to be replaced.
//!
//! Order matters, as for setuid bits: the kernel removes
//! `security.capability` when a file's owner changes (`chown(2)`) and when
//! it is written to (`file_remove_privs`), so the attribute is set last,
//! after the content, `fchown` and `fchmod` of staging. The staged inode is
//! then renamed into place, which keeps it. The value is
//! `VFS_CAP_REVISION_2`, what `setcap` writes as root in the initial user
//! namespace and what `rpm` writes from `FILECAPS`
//! ([`pkgward_package::file_capabilities::FileCapabilities::to_xattr`]).

use crate::root::Root;
use crate::EngineError;
use pkgward_package::file_capabilities::{FileCapabilities, XATTR_NAME};
use rustix::fs::XattrFlags;
use rustix::io::Errno;
use std::os::fd::AsFd;

/// Gives the staged file `file` (placed later at `path`) the capabilities
/// of its placement; nothing when it has none. Called by staging after
/// `fchown`/`fchmod`.
///
/// # Errors
/// Capability text the planner should never have passed, or the kernel's
/// refusal (`EPERM` without `CAP_SETFCAP`, `EOPNOTSUPP` on a filesystem
/// without `security.*` attributes): the install fails rather than placing
/// a program without the capabilities its package asked for.
pub fn apply(file: &impl AsFd, path: &str, capabilities: Option<&str>) -> Result<(), EngineError> {
    let Some(text) = capabilities else {
        return Ok(());
    };
    let parsed = FileCapabilities::parse(text).map_err(|error| EngineError::InvalidPath {
        path: path.to_owned(),
        reason: format!("file capabilities `{text}`: {error}"),
    })?;
    rustix::fs::fsetxattr(file, XATTR_NAME, &parsed.to_xattr(), XattrFlags::empty()).map_err(
        |errno| {
            EngineError::io(
                format!("cannot set the file capabilities `{text}` of `{path}`"),
                errno,
            )
        },
    )
}

/// The capabilities of the open file `file`; `None` when it has none.
///
/// # Errors
/// An attribute the kernel would not have accepted is an error naming `path`.
pub fn read_from(file: &impl AsFd, path: &str) -> Result<Option<FileCapabilities>, EngineError> {
    let mut buffer = [0u8; 64];
    match rustix::fs::fgetxattr(file, XATTR_NAME, &mut buffer[..]) {
        Ok(length) => FileCapabilities::from_xattr(&buffer[..length])
            .map(Some)
            .map_err(|error| EngineError::InvalidPath {
                path: path.to_owned(),
                reason: error.to_string(),
            }),
        // No attribute, or a filesystem without extended attributes.
        Err(Errno::NODATA | Errno::OPNOTSUPP) => Ok(None),
        Err(errno) => Err(EngineError::io(
            format!("cannot read the file capabilities of `{path}`"),
            errno,
        )),
    }
}

/// The capabilities of the regular file `path` in `root`; `None` when it
/// has none or is not a regular file.
///
/// # Errors
/// As [`read_from`], and when `path` cannot be opened.
pub fn read(root: &Root, path: &str) -> Result<Option<FileCapabilities>, EngineError> {
    match root.open_regular_file(path)? {
        Some(file) => read_from(&file, path),
        None => Ok(None),
    }
}

/// Removes the capabilities of the open file `file`, if any: used before an
/// inode is replaced or unlinked, so a hardlink someone made to it keeps no
/// privileged copy of the old version (THREATS 9, as for setuid bits).
///
/// # Errors
/// The kernel's refusal, naming `path`.
pub fn remove(file: &impl AsFd, path: &str) -> Result<(), EngineError> {
    match rustix::fs::fremovexattr(file, XATTR_NAME) {
        Ok(()) | Err(Errno::NODATA | Errno::OPNOTSUPP) => Ok(()),
        Err(errno) => Err(EngineError::io(
            format!("cannot remove the file capabilities of `{path}`"),
            errno,
        )),
    }
}
