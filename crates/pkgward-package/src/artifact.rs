//! One entry point for every package file: the format is decided by the
//! file's first bytes (the rpm lead magic `ed ab ee db`, else the `.deb`
//! reader, whose error names the `!<arch>` magic it expected), never by the
//! file name, so `x.deb` holding an rpm is read — and judged — as the rpm it is.

use crate::deb::{Problem, ReadError};
use crate::model::{Entry, FileDigests, Format, Limits, Package};
use std::io::Read;
use std::path::Path;

/// The format of the package file at `path`, from its magic bytes.
///
/// # Errors
/// When the file cannot be opened or read.
pub fn detect(path: &Path) -> Result<Format, ReadError> {
    let io_error = |error| ReadError {
        artifact: path.to_path_buf(),
        member: None,
        entry: None,
        problem: Box::new(Problem::Io(error)),
    };
    // Same rule as the readers: never open what is not a regular file (a
    // FIFO would block the open, THREATS 10).
    if !std::fs::metadata(path).map_err(io_error)?.is_file() {
        return Err(ReadError {
            artifact: path.to_path_buf(),
            member: None,
            entry: None,
            problem: Box::new(Problem::NotARegularFile),
        });
    }
    let mut magic = [0u8; 4];
    let mut file = std::fs::File::open(path).map_err(io_error)?;
    let mut filled = 0;
    while filled < magic.len() {
        match file.read(&mut magic[filled..]).map_err(io_error)? {
            0 => break,
            count => filled += count,
        }
    }
    Ok(if filled == 4 && magic == crate::rpm::RPM_MAGIC {
        Format::Rpm
    } else {
        Format::Deb
    })
}

/// Read a `.deb` or `.rpm` (see [`crate::deb::read`], [`crate::rpm::read`]).
///
/// # Errors
/// Whatever the format's reader refuses.
pub fn read(path: &Path, limits: &Limits) -> Result<Package, ReadError> {
    match detect(path)? {
        Format::Deb => crate::deb::read(path, limits),
        Format::Rpm => crate::rpm::read(path, limits),
    }
}

/// Stream a `.deb` or `.rpm`'s entries with their content (see
/// [`crate::deb::for_each_data_entry`]; same contract for both formats).
///
/// # Errors
/// Whatever the format's reader refuses, or the callback's error.
pub fn for_each_data_entry<E, F>(path: &Path, limits: &Limits, visit: F) -> Result<Package, E>
where
    E: From<ReadError>,
    F: FnMut(&Entry, &mut dyn Read) -> Result<(), E>,
{
    stream_data_entries(path, limits, FileDigests::Compute, visit)
}

/// [`for_each_data_entry`], choosing whether file digests are computed (see
/// [`crate::deb::stream_data_entries`]).
///
/// # Errors
/// Whatever the format's reader refuses, or the callback's error.
pub fn stream_data_entries<E, F>(
    path: &Path,
    limits: &Limits,
    digests: FileDigests,
    visit: F,
) -> Result<Package, E>
where
    E: From<ReadError>,
    F: FnMut(&Entry, &mut dyn Read) -> Result<(), E>,
{
    match detect(path).map_err(E::from)? {
        Format::Deb => crate::deb::stream_data_entries(path, limits, digests, visit),
        Format::Rpm => crate::rpm::stream_data_entries(path, limits, digests, visit),
    }
}
