//! Streaming, parse-only reader for Debian binary packages (`.deb`).
//!
//! A `.deb` is an `ar` archive with, in this order, `debian-binary` (format
//! `2.x`), `control.tar[.gz|.xz|.zst]` and `data.tar[.gz|.xz|.zst|.bz2|.lzma]`
//! (deb(5)). We read the file once, front to back, with bounded memory: the
//! `ar` layer is parsed by hand (60-byte headers), each member is
//! decompressed on the fly and its tar stream parsed with the `tar` crate,
//! whose unpack functions are never used. Every byte of the artifact passes
//! through a sha256 hasher, and every regular file's content through another.
//!
//! Everything in a package is attacker-controlled, so validation is strict:
//! see `THREATS.md` cases 1–22. Each refusal is a [`ReadError`] naming the
//! artifact, the `ar` member and the entry.

use crate::model::{
    canonical_entry_path, parse_relations, Entry, EntryKind, FileDigests, Format, Limits, Package,
    PathProblem, RelationError, Relations, Script, ScriptName, Trigger,
};
use crate::version::Version;
use sha2::{Digest, Sha256};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

/// A `.deb` could not be read, or was refused. Names the artifact, the `ar`
/// member (`data.tar.xz`) and the entry (`./usr/bin/x`) where known.
#[derive(Debug)]
pub struct ReadError {
    pub artifact: PathBuf,
    pub member: Option<String>,
    /// The entry name as shipped (lossily decoded if it is not UTF-8).
    pub entry: Option<String>,
    /// Boxed to keep `Result<_, ReadError>` small.
    pub problem: Box<Problem>,
}

impl fmt::Display for ReadError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "`{}`", self.artifact.display())?;
        if let Some(member) = &self.member {
            write!(formatter, ", member `{}`", member.escape_debug())?;
        }
        if let Some(entry) = &self.entry {
            // escape_debug: a name with a newline or escape sequence must not
            // be able to forge lines in the terminal or in logs (THREATS 19).
            write!(formatter, ", entry `{}`", entry.escape_debug())?;
        }
        write!(formatter, ": {}", self.problem)
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&*self.problem)
    }
}

/// What exactly is wrong. Tests match on these variants.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    #[error("cannot read the file")]
    Io(#[source] io::Error),
    #[error("not a regular file")]
    NotARegularFile,
    #[error("not a .deb: the file does not start with the `!<arch>` ar magic")]
    NotAnArArchive,
    #[error("the archive is truncated ({what})")]
    Truncated { what: &'static str },
    #[error("malformed ar member header: {reason}")]
    MalformedMemberHeader { reason: String },
    #[error("ar member name is not allowed (it contains `/`, `..`, or unprintable bytes)")]
    BadMemberName,
    #[error("the first member must be `debian-binary`")]
    MissingDebianBinary,
    #[error("unsupported .deb format version `{found}` (only 2.x is supported)")]
    UnsupportedFormatVersion { found: String },
    #[error("unexpected member: {reason}")]
    UnexpectedMember { reason: String },
    #[error("the archive has no `{which}` member")]
    MissingMember { which: &'static str },
    #[error("odd-sized member is not followed by its padding byte")]
    MissingPadding,
    #[error("cannot decompress {compression} data: {message}")]
    Decompression {
        compression: &'static str,
        message: String,
    },
    #[error("uncompressed content exceeds the limit of {limit} bytes (decompression bomb?)")]
    UncompressedTooLarge { limit: u64 },
    #[error(
        "xz/lzma stream needs more memory than the limit of {limit} bytes (dictionary too large)"
    )]
    XzDictionaryTooLarge { limit: u64 },
    #[error("zstd frame window is larger than 2^{limit_log} bytes")]
    ZstdWindowTooLarge { limit_log: u32 },
    #[error("malformed tar data: {message}")]
    MalformedTar { message: String },
    #[error("tar stream ends without an end-of-archive block (truncated?)")]
    MissingEndOfArchive,
    #[error("entry name is not valid UTF-8")]
    NonUtf8Name,
    #[error("{0}")]
    BadPath(PathProblem),
    #[error("duplicate entry: `{path}` appears more than once (after canonicalisation)")]
    DuplicateEntry { path: String },
    #[error("unsupported entry type {kind} (devices, FIFOs and sockets are never installed)")]
    DeviceOrFifo { kind: &'static str },
    #[error("GNU sparse files are not supported")]
    Sparse,
    #[error("unsupported tar entry type `{type_byte}`")]
    UnsupportedEntryType { type_byte: String },
    #[error("entry of type {kind} declares {size} bytes of content")]
    ContentOnNonFile { kind: EntryKind, size: u64 },
    #[error(
        "entry lies beneath `{ancestor}`, which this archive ships as a {kind}, not a directory"
    )]
    BeneathNonDirectory { ancestor: String, kind: EntryKind },
    #[error("ambiguous pax header: {reason}")]
    AmbiguousPax { reason: String },
    #[error("link target is missing")]
    MissingLinkTarget,
    #[error("symlink target is not valid UTF-8")]
    NonUtf8Target,
    #[error("symlink target contains a control character or NUL")]
    BadTargetCharacter,
    #[error("symlink target is {length} bytes long, the limit is {limit}")]
    TargetTooLong { length: usize, limit: usize },
    #[error("hardlink target `{target}`: {problem}")]
    BadHardlinkTarget {
        target: String,
        problem: PathProblem,
    },
    #[error("hardlink target `{target}` is not a regular file earlier in this archive")]
    HardlinkTargetNotAFile { target: String },
    #[error(
        "owner or group name `{name}` is not allowed (must be printable, without `:` or spaces)"
    )]
    BadOwnerName { name: String },
    #[error("the data archive has more than {limit} entries")]
    TooManyEntries { limit: u64 },
    #[error("content is {found} bytes, the header declares {declared}")]
    ContentSizeMismatch { declared: u64, found: u64 },
    #[error("control archive entries must be plain files at its top level")]
    BadControlEntry,
    #[error("control file is larger than the limit of {limit} bytes")]
    ControlFileTooLarge { limit: u64 },
    #[error("control file is not valid UTF-8")]
    ControlNotUtf8,
    #[error("malformed control paragraph: {message}")]
    MalformedControl { message: String },
    #[error("control field `{field}` is missing")]
    MissingField { field: &'static str },
    #[error("control field `{field}` appears more than once")]
    DuplicateField { field: String },
    #[error("invalid package name `{name}`")]
    BadPackageName { name: String },
    #[error("invalid `Version` field: {0}")]
    BadVersion(String),
    #[error("invalid `{field}` field: {source}")]
    BadRelation {
        field: &'static str,
        #[source]
        source: RelationError,
    },
    #[error("line {line}: {reason}")]
    BadConffiles { line: usize, reason: String },
    #[error("line {line}: {reason}")]
    BadMd5sums { line: usize, reason: String },
    #[error("line {line}: {reason}")]
    BadTriggers { line: usize, reason: String },
    /// What only an `.rpm` can get wrong (lead, headers, cpio payload).
    #[error(transparent)]
    Rpm(#[from] crate::rpm::RpmProblem),
}

impl From<PathProblem> for Problem {
    fn from(problem: PathProblem) -> Self {
        Self::BadPath(problem)
    }
}

/// Read a `.deb`: metadata, scripts, and every data entry with its content
/// digest. Streams the file once; memory stays bounded by `limits`.
pub fn read(path: &Path, limits: &Limits) -> Result<Package, ReadError> {
    let outcome = walk(
        path,
        limits,
        FileDigests::Compute,
        &mut |_entry: &Entry, _content: &mut dyn Read| -> Result<(), std::convert::Infallible> {
            Ok(())
        },
    );
    match outcome {
        Ok(package) => Ok(package),
        Err(WalkError::Read(error)) => Err(error),
        Err(WalkError::Callback(never)) => match never {},
    }
}

/// Stream the data entries with their content (for the install engine).
///
/// `visit` is called once per entry, in archive order, with a reader over the
/// file's bytes (empty for non-files). Validation is the same as [`read`];
/// an entry is only handed out after its header passed every check, but
/// later entries may still fail, so callers must stage and only commit after
/// this returns `Ok`. `entry.sha256` is `None` in the callback because the
/// digest is only known once the content has been read; the returned
/// [`Package`] carries the digests (and the whole-artifact sha256), so a
/// caller can compare them with what it verified earlier.
/// Bytes the callback does not read are drained (and hashed) afterwards.
pub fn for_each_data_entry<E, F>(path: &Path, limits: &Limits, visit: F) -> Result<Package, E>
where
    E: From<ReadError>,
    F: FnMut(&Entry, &mut dyn Read) -> Result<(), E>,
{
    stream_data_entries(path, limits, FileDigests::Compute, visit)
}

/// [`for_each_data_entry`], choosing whether file digests are computed:
/// with [`FileDigests::Skip`] the returned entries have no `sha256`, and
/// only the artifact's sha256 vouches for the content.
pub fn stream_data_entries<E, F>(
    path: &Path,
    limits: &Limits,
    digests: FileDigests,
    mut visit: F,
) -> Result<Package, E>
where
    E: From<ReadError>,
    F: FnMut(&Entry, &mut dyn Read) -> Result<(), E>,
{
    walk(path, limits, digests, &mut visit).map_err(WalkError::into_error)
}

pub(crate) enum WalkError<E> {
    Read(ReadError),
    Callback(E),
}

impl<E: From<ReadError>> WalkError<E> {
    /// The caller's error: a read error converted, the callback's as is.
    pub(crate) fn into_error(self) -> E {
        match self {
            WalkError::Read(error) => E::from(error),
            WalkError::Callback(error) => error,
        }
    }
}

/// The error context while walking: which member and entry we are in.
pub(crate) struct Location<'p> {
    pub(crate) artifact: &'p Path,
    pub(crate) member: Option<String>,
    pub(crate) entry: Option<String>,
}

impl Location<'_> {
    pub(crate) fn error(&self, problem: impl Into<Problem>) -> ReadError {
        ReadError {
            artifact: self.artifact.to_path_buf(),
            member: self.member.clone(),
            entry: self.entry.clone(),
            problem: Box::new(problem.into()),
        }
    }
}

impl<E> From<ReadError> for WalkError<E> {
    fn from(error: ReadError) -> Self {
        Self::Read(error)
    }
}

/// Reads the artifact front to back and hashes every byte on the way.
pub(crate) struct ArtifactReader {
    pub(crate) inner: BufReader<File>,
    pub(crate) hasher: Sha256,
}

impl Read for ArtifactReader {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let count = self.inner.read(buffer)?;
        self.hasher.update(&buffer[..count]);
        Ok(count)
    }
}

/// Wraps a reader, counts what passes through and hashes it (file content
/// digests) unless the walk skips them ([`FileDigests::Skip`]).
pub(crate) struct HashingReader<'r> {
    pub(crate) inner: &'r mut dyn Read,
    pub(crate) hasher: Option<Sha256>,
    pub(crate) count: u64,
}

impl HashingReader<'_> {
    pub(crate) fn new(inner: &mut dyn Read, digests: FileDigests) -> HashingReader<'_> {
        HashingReader {
            inner,
            hasher: (digests == FileDigests::Compute).then(Sha256::new),
            count: 0,
        }
    }

    /// The hex sha256 of what was read, when hashing.
    pub(crate) fn digest(self) -> Option<String> {
        self.hasher.map(|hasher| hex::encode(hasher.finalize()))
    }
}

impl Read for HashingReader<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let count = self.inner.read(buffer)?;
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&buffer[..count]);
        }
        self.count += count as u64;
        Ok(count)
    }
}

const AR_MAGIC: &[u8; 8] = b"!<arch>\n";
const AR_HEADER_LEN: usize = 60;

struct MemberHeader {
    name: String,
    size: u64,
}

/// Read exactly `buffer.len()` bytes; `Ok(false)` on a clean EOF before the
/// first byte, a truncation error on EOF in the middle.
pub(crate) fn read_exact_or_eof(
    reader: &mut impl Read,
    buffer: &mut [u8],
    what: &'static str,
) -> Result<bool, Problem> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(Problem::Truncated { what }),
            Ok(count) => filled += count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(Problem::Io(error)),
        }
    }
    Ok(true)
}

/// Parse one 60-byte `ar` member header the way dpkg does
/// (`lib/dpkg/ar.c`): name padded with spaces and optionally terminated by
/// `/` (GNU ar), decimal size, `` `\n `` trailer. Other fields are ignored,
/// as dpkg ignores them.
fn read_member_header(reader: &mut impl Read) -> Result<Option<MemberHeader>, Problem> {
    let mut header = [0u8; AR_HEADER_LEN];
    if !read_exact_or_eof(reader, &mut header, "inside an ar member header")? {
        return Ok(None);
    }
    if &header[58..60] != b"`\n" {
        return Err(Problem::MalformedMemberHeader {
            reason: "bad header trailer (expected a backtick and newline)".to_owned(),
        });
    }
    let raw_name = &header[..16];
    if !raw_name.iter().all(|byte| (0x20..0x7f).contains(byte)) {
        return Err(Problem::BadMemberName);
    }
    let mut name = std::str::from_utf8(raw_name)
        .map_err(|_| Problem::BadMemberName)?
        .trim_end_matches(' ');
    if let Some(stripped) = name.strip_suffix('/') {
        name = stripped;
    }
    if name.is_empty() || name.contains('/') || name.contains("..") {
        return Err(Problem::BadMemberName);
    }
    let raw_size = std::str::from_utf8(&header[48..58]).unwrap_or("");
    let size_text = raw_size.trim_end_matches(' ');
    if size_text.is_empty() || !size_text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(Problem::MalformedMemberHeader {
            reason: format!(
                "size field `{}` is not a decimal number",
                raw_size.escape_debug()
            ),
        });
    }
    let size = size_text
        .parse::<u64>()
        .map_err(|_| Problem::MalformedMemberHeader {
            reason: format!("size field `{size_text}` is out of range"),
        })?;
    Ok(Some(MemberHeader {
        name: name.to_owned(),
        size,
    }))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Xz,
    Lzma,
    Zstd,
    Bzip2,
}

impl Compression {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::None => "uncompressed",
            Self::Gzip => "gzip",
            Self::Xz => "xz",
            Self::Lzma => "lzma",
            Self::Zstd => "zstd",
            Self::Bzip2 => "bzip2",
        }
    }

    /// The compressions dpkg accepts for the member with this stem
    /// (`control.tar` or `data.tar`). bzip2 and lzma are data-only in dpkg.
    fn for_member(name: &str, stem: &str) -> Option<Self> {
        let suffix = name.strip_prefix(stem)?;
        match suffix {
            "" => Some(Self::None),
            ".gz" => Some(Self::Gzip),
            ".xz" => Some(Self::Xz),
            ".zst" => Some(Self::Zstd),
            ".bz2" if stem == "data.tar" => Some(Self::Bzip2),
            ".lzma" if stem == "data.tar" => Some(Self::Lzma),
            _ => None,
        }
    }
}

/// Counts decompressed bytes across the control and data archives and
/// records the precise reason when a decompressor fails, because the `tar`
/// crate flattens reader errors into plain `io::Error`s.
pub(crate) struct StreamMeter {
    pub(crate) total: Cell<u64>,
    pub(crate) limit: u64,
    pub(crate) failure: RefCell<Option<Problem>>,
}

pub(crate) struct MeteredReader<'a> {
    pub(crate) inner: Box<dyn Read + 'a>,
    pub(crate) meter: &'a StreamMeter,
    pub(crate) compression: Compression,
    pub(crate) limits: &'a Limits,
    /// Bytes handed to the tar parser from this stream.
    pub(crate) consumed: &'a Cell<u64>,
}

impl Read for MeteredReader<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let count = match self.inner.read(buffer) {
            Ok(count) => count,
            Err(error) => {
                let mut failure = self.meter.failure.borrow_mut();
                if failure.is_none() {
                    *failure = Some(classify_decompression_error(
                        &error,
                        self.compression,
                        self.limits,
                    ));
                }
                return Err(error);
            }
        };
        let total = self.meter.total.get() + count as u64;
        self.meter.total.set(total);
        self.consumed.set(self.consumed.get() + count as u64);
        if total > self.meter.limit {
            *self.meter.failure.borrow_mut() = Some(Problem::UncompressedTooLarge {
                limit: self.meter.limit,
            });
            return Err(io::Error::other("uncompressed size limit exceeded"));
        }
        Ok(count)
    }
}

fn classify_decompression_error(
    error: &io::Error,
    compression: Compression,
    limits: &Limits,
) -> Problem {
    if let Some(lzma_error) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<liblzma::stream::Error>())
    {
        if matches!(lzma_error, liblzma::stream::Error::MemLimit) {
            return Problem::XzDictionaryTooLarge {
                limit: limits.max_xz_dict,
            };
        }
    }
    let message = error.to_string();
    // zstd reports `ZSTD_error_frameParameter_windowTooLarge` only as text
    // through the `zstd` crate's io::Error.
    if compression == Compression::Zstd && message.contains("too much memory") {
        return Problem::ZstdWindowTooLarge {
            limit_log: limits.max_zstd_window_log,
        };
    }
    if error.kind() == io::ErrorKind::UnexpectedEof {
        return Problem::Truncated {
            what: "inside compressed data",
        };
    }
    Problem::Decompression {
        compression: compression.name(),
        message,
    }
}

fn decompressor<'a>(
    compression: Compression,
    input: impl Read + 'a,
    limits: &Limits,
) -> Result<Box<dyn Read + 'a>, Problem> {
    Ok(match compression {
        Compression::None => Box::new(input),
        // Multi-member decoders: gzip, xz and bzip2 all allow concatenated
        // streams, and the reference tools decode all of them.
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
        Compression::Xz => {
            // The memory limit bounds the dictionary an attacker can make us
            // allocate (THREATS 13: xz with a 1.5 GiB dictionary).
            let stream = liblzma::stream::Stream::new_stream_decoder(
                limits.max_xz_dict,
                liblzma::stream::CONCATENATED,
            )
            .map_err(|error| Problem::Decompression {
                compression: "xz",
                message: error.to_string(),
            })?;
            Box::new(liblzma::read::XzDecoder::new_stream(input, stream))
        }
        Compression::Lzma => {
            let stream =
                liblzma::stream::Stream::new_lzma_decoder(limits.max_xz_dict).map_err(|error| {
                    Problem::Decompression {
                        compression: "lzma",
                        message: error.to_string(),
                    }
                })?;
            Box::new(liblzma::read::XzDecoder::new_stream(input, stream))
        }
        Compression::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::new(input).map_err(|error| {
                Problem::Decompression {
                    compression: "zstd",
                    message: error.to_string(),
                }
            })?;
            // A 200-byte frame may declare a 2 GiB window (THREATS 13).
            decoder
                .window_log_max(limits.max_zstd_window_log)
                .map_err(|error| Problem::Decompression {
                    compression: "zstd",
                    message: error.to_string(),
                })?;
            Box::new(decoder)
        }
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(input)),
    })
}

/// Decompressed bytes travel from the decompressor thread in chunks of this size.
const PIPELINE_CHUNK: usize = 128 * 1024;
/// Chunks in flight: bounds the pipeline's memory to about 0.5 MiB.
const PIPELINE_DEPTH: usize = 4;

/// Run the decompressor (and, through the member reader, the artifact
/// hasher) on its own thread, so decompression overlaps tar parsing and
/// content hashing — the same split as dpkg-deb's decompressor process
/// feeding `tar`. The returned reader yields the decompressed bytes; a
/// decompressor failure is recorded in `meter` and surfaces as a read error.
/// If the reader is dropped early, the thread stops at its next chunk.
///
/// The reader hands each consumed chunk back for reuse: a new zeroed
/// 128 KiB allocation per chunk (at glibc's mmap threshold, so an `mmap`,
/// page faults and `munmap` each) cost more than 5 % of an install's CPU.
pub(crate) fn spawn_decompressor<'scope, 'meter>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    compression: Compression,
    input: impl Read + Send + 'scope,
    limits: &'scope Limits,
    meter: &'meter StreamMeter,
) -> ChannelReader<'meter> {
    let (sender, receiver) = std::sync::mpsc::sync_channel(PIPELINE_DEPTH);
    // Chunks in flight plus the one being read and the one being filled.
    let (recycle, recycled) = std::sync::mpsc::sync_channel::<Vec<u8>>(PIPELINE_DEPTH + 2);
    scope.spawn(move || {
        let mut decoder = match decompressor(compression, input, limits) {
            Ok(decoder) => decoder,
            Err(problem) => {
                let _ = sender.send(Err(problem));
                return;
            }
        };
        loop {
            let mut chunk = recycled
                .try_recv()
                .unwrap_or_else(|_| vec![0u8; PIPELINE_CHUNK]);
            // Recycled chunks keep their bytes: only a short last chunk's
            // length needs restoring (its tail is overwritten before use).
            chunk.resize(PIPELINE_CHUNK, 0);
            let mut filled = 0;
            let mut failure = None;
            while filled < chunk.len() {
                match decoder.read(&mut chunk[filled..]) {
                    Ok(0) => break,
                    Ok(count) => filled += count,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) => {
                        failure = Some(classify_decompression_error(&error, compression, limits));
                        break;
                    }
                }
            }
            chunk.truncate(filled);
            // A send only fails when the reader is gone: stop quietly.
            if filled > 0 && sender.send(Ok(chunk)).is_err() {
                return;
            }
            if let Some(problem) = failure {
                let _ = sender.send(Err(problem));
                return;
            }
            if filled < PIPELINE_CHUNK {
                return;
            }
        }
    });
    ChannelReader {
        receiver,
        recycle,
        current: Vec::new(),
        position: 0,
        meter,
    }
}

/// The consuming end of [`spawn_decompressor`].
pub(crate) struct ChannelReader<'meter> {
    receiver: std::sync::mpsc::Receiver<Result<Vec<u8>, Problem>>,
    /// Consumed chunks go back to the decompressor thread.
    recycle: std::sync::mpsc::SyncSender<Vec<u8>>,
    current: Vec<u8>,
    position: usize,
    meter: &'meter StreamMeter,
}

impl Read for ChannelReader<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        while self.position == self.current.len() {
            match self.receiver.recv() {
                Ok(Ok(chunk)) => {
                    let consumed = std::mem::replace(&mut self.current, chunk);
                    if consumed.capacity() == PIPELINE_CHUNK {
                        // Full or gone: the decompressor allocates instead.
                        let _ = self.recycle.try_send(consumed);
                    }
                    self.position = 0;
                }
                Ok(Err(problem)) => {
                    *self.meter.failure.borrow_mut() = Some(problem);
                    return Err(io::Error::other("decompression failed"));
                }
                // The decompressor thread finished: end of stream.
                Err(std::sync::mpsc::RecvError) => return Ok(0),
            }
        }
        let count = buffer.len().min(self.current.len() - self.position);
        buffer[..count].copy_from_slice(&self.current[self.position..self.position + count]);
        self.position += count;
        Ok(count)
    }
}

/// Where we are in dpkg's member order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    ExpectDebianBinary,
    ExpectControl,
    ExpectData,
    AfterData,
}

/// What the control archive told us.
#[derive(Default)]
struct ControlData {
    fields: Option<Vec<(String, String)>>,
    scripts: Vec<Script>,
    conffiles: Vec<String>,
    triggers: Vec<Trigger>,
    md5sums: Vec<(String, String)>,
}

/// Open a package file for reading, with its length. Refuses FIFOs, devices
/// and directories before opening: opening a FIFO for reading blocks until a
/// writer appears (THREATS 10: never block on a FIFO), and a device could be
/// endless. Checked again on the open file.
pub(crate) fn open_artifact(location: &Location<'_>) -> Result<(ArtifactReader, u64), ReadError> {
    let metadata =
        std::fs::metadata(location.artifact).map_err(|error| location.error(Problem::Io(error)))?;
    if !metadata.is_file() {
        return Err(location.error(Problem::NotARegularFile));
    }
    let file = File::open(location.artifact).map_err(|error| location.error(Problem::Io(error)))?;
    let metadata = file
        .metadata()
        .map_err(|error| location.error(Problem::Io(error)))?;
    if !metadata.is_file() {
        return Err(location.error(Problem::NotARegularFile));
    }
    let reader = ArtifactReader {
        inner: BufReader::with_capacity(64 * 1024, file),
        hasher: Sha256::new(),
    };
    Ok((reader, metadata.len()))
}

fn walk<E>(
    artifact: &Path,
    limits: &Limits,
    digests: FileDigests,
    visit: &mut dyn FnMut(&Entry, &mut dyn Read) -> Result<(), E>,
) -> Result<Package, WalkError<E>> {
    let mut location = Location {
        artifact,
        member: None,
        entry: None,
    };
    let (mut reader, _) = open_artifact(&location)?;
    let mut magic = [0u8; 8];
    match read_exact_or_eof(&mut reader, &mut magic, "inside the ar magic") {
        Ok(true) if &magic == AR_MAGIC => {}
        Ok(_) => return Err(location.error(Problem::NotAnArArchive).into()),
        Err(Problem::Truncated { .. }) => {
            return Err(location.error(Problem::NotAnArArchive).into())
        }
        Err(problem) => return Err(location.error(problem).into()),
    }

    let meter = StreamMeter {
        total: Cell::new(0),
        limit: limits.max_total_uncompressed,
        failure: RefCell::new(None),
    };
    let mut stage = Stage::ExpectDebianBinary;
    let mut control = ControlData::default();
    let mut entries = Vec::new();
    let mut installed_size = 0u64;

    loop {
        location.member = None;
        location.entry = None;
        let header = read_member_header(&mut reader).map_err(|problem| location.error(problem))?;
        let Some(header) = header else { break };
        location.member = Some(header.name.clone());
        let mut member = (&mut reader).take(header.size);

        match stage {
            Stage::ExpectDebianBinary => {
                if header.name != "debian-binary" {
                    return Err(location.error(Problem::MissingDebianBinary).into());
                }
                check_debian_binary(&mut member, header.size)
                    .map_err(|problem| location.error(problem))?;
                stage = Stage::ExpectControl;
            }
            // dpkg reserves member names starting with `_` for future
            // extensions and skips them wherever they appear after
            // `debian-binary`.
            _ if header.name.starts_with('_') => {}
            Stage::ExpectControl => {
                let Some(compression) = Compression::for_member(&header.name, "control.tar") else {
                    let reason = if header.name.starts_with("data.tar") {
                        "data archive comes before the control archive".to_owned()
                    } else {
                        "expected `control.tar` with an optional .gz/.xz/.zst suffix".to_owned()
                    };
                    return Err(location.error(Problem::UnexpectedMember { reason }).into());
                };
                control =
                    read_control_member(&mut member, compression, limits, &meter, &mut location)?;
                stage = Stage::ExpectData;
            }
            Stage::ExpectData => {
                let Some(compression) = Compression::for_member(&header.name, "data.tar") else {
                    let reason = if header.name.starts_with("control.tar") {
                        "second control archive".to_owned()
                    } else {
                        "expected `data.tar` with an optional .gz/.xz/.zst/.bz2/.lzma suffix"
                            .to_owned()
                    };
                    return Err(location.error(Problem::UnexpectedMember { reason }).into());
                };
                read_data_member(
                    &mut member,
                    compression,
                    limits,
                    &meter,
                    &mut location,
                    &mut entries,
                    &mut installed_size,
                    digests,
                    visit,
                )?;
                stage = Stage::AfterData;
            }
            Stage::AfterData => {
                // Two data (or control) archives is the classic parser
                // differential: refuse anything but reserved members here.
                return Err(location
                    .error(Problem::UnexpectedMember {
                        reason: "only `_`-prefixed members may follow the data archive".to_owned(),
                    })
                    .into());
            }
        }

        location.entry = None;
        // Consume the rest of the member (tar padding, trailing bytes after
        // the compressed stream) so the next header is where `size` says.
        let consumed_so_far = header.size - member.limit();
        let drained = io::copy(&mut member, &mut io::sink())
            .map_err(|error| location.error(Problem::Io(error)))?;
        if consumed_so_far + drained != header.size {
            return Err(location
                .error(Problem::Truncated {
                    what: "member content ends before its declared size",
                })
                .into());
        }
        if header.size % 2 == 1 {
            let mut padding = [0u8; 1];
            if !read_exact_or_eof(&mut reader, &mut padding, "padding")
                .map_err(|problem| location.error(problem))?
            {
                return Err(location.error(Problem::MissingPadding).into());
            }
        }
    }

    location.member = None;
    let missing = match stage {
        Stage::ExpectDebianBinary => Some("debian-binary"),
        Stage::ExpectControl => Some("control.tar"),
        Stage::ExpectData => Some("data.tar"),
        Stage::AfterData => None,
    };
    if let Some(which) = missing {
        return Err(location.error(Problem::MissingMember { which }).into());
    }

    let artifact_sha256 = hex::encode(reader.hasher.finalize());
    location.member = Some("control.tar".to_owned());
    let package = assemble_package(control, entries, artifact_sha256, installed_size)
        .map_err(|problem| location.error(problem))?;
    Ok(package)
}

fn check_debian_binary(member: &mut impl Read, size: u64) -> Result<(), Problem> {
    if size > 64 {
        return Err(Problem::UnsupportedFormatVersion {
            found: format!("({size} bytes)"),
        });
    }
    let mut content = Vec::new();
    member.read_to_end(&mut content).map_err(Problem::Io)?;
    if content.len() as u64 != size {
        return Err(Problem::Truncated {
            what: "member content ends before its declared size",
        });
    }
    let text = String::from_utf8_lossy(&content);
    let first_line = text.split('\n').next().unwrap_or("");
    // dpkg accepts any 2.x (it warns about minor versions it does not know).
    let ok = text.contains('\n')
        && first_line.strip_prefix("2.").is_some_and(|minor| {
            !minor.is_empty() && minor.bytes().all(|byte| byte.is_ascii_digit())
        });
    if !ok {
        return Err(Problem::UnsupportedFormatVersion {
            found: first_line.escape_debug().to_string(),
        });
    }
    Ok(())
}

/// Map an error from the `tar` crate, preferring the precise reason the
/// decompressor recorded.
fn tar_problem(error: &io::Error, meter: &StreamMeter) -> Problem {
    if let Some(problem) = meter.failure.borrow_mut().take() {
        return problem;
    }
    if error.kind() == io::ErrorKind::UnexpectedEof {
        return Problem::Truncated {
            what: "inside the tar stream",
        };
    }
    Problem::MalformedTar {
        message: error.to_string(),
    }
}

fn read_control_member<E>(
    member: &mut (impl Read + Send),
    compression: Compression,
    limits: &Limits,
    meter: &StreamMeter,
    location: &mut Location<'_>,
) -> Result<ControlData, WalkError<E>> {
    std::thread::scope(|scope| {
        let decompressed = spawn_decompressor(scope, compression, member, limits, meter);
        read_control_tar(Box::new(decompressed), compression, limits, meter, location)
    })
}

fn read_control_tar<E>(
    decompressed: Box<dyn Read + '_>,
    compression: Compression,
    limits: &Limits,
    meter: &StreamMeter,
    location: &mut Location<'_>,
) -> Result<ControlData, WalkError<E>> {
    let consumed = Cell::new(0);
    let metered = MeteredReader {
        inner: decompressed,
        meter,
        compression,
        limits,
        consumed: &consumed,
    };
    let mut archive = tar::Archive::new(metered);
    let mut control = ControlData::default();
    let mut seen = HashSet::new();
    let mut end_of_last_entry = 0u64;
    let entries = archive
        .entries()
        .map_err(|error| location.error(tar_problem(&error, meter)))?;
    for entry in entries {
        location.entry = None;
        let mut entry = entry.map_err(|error| location.error(tar_problem(&error, meter)))?;
        let raw_path = entry.path_bytes().into_owned();
        location.entry = Some(String::from_utf8_lossy(&raw_path).into_owned());
        end_of_last_entry = entry.raw_file_position() + entry.size().div_ceil(512) * 512;
        let path = String::from_utf8(raw_path).map_err(|_| location.error(Problem::NonUtf8Name))?;
        let entry_type = entry.header().entry_type();
        let is_directory = entry_type.is_dir();
        let canonical = canonical_entry_path(&path, is_directory, limits)
            .map_err(|problem| location.error(problem))?;
        if canonical == "/" && is_directory {
            continue;
        }
        // Only plain files directly in the archive root: `../postinst`,
        // `sub/postinst` and symlinked scripts are refused (THREATS 22).
        let name = &canonical[1..];
        if name.contains('/') || !entry_type.is_file() {
            return Err(location.error(Problem::BadControlEntry).into());
        }
        if !seen.insert(name.to_owned()) {
            return Err(location
                .error(Problem::DuplicateEntry {
                    path: canonical.clone(),
                })
                .into());
        }
        let size = entry.size();
        if size > limits.max_control_file_size {
            return Err(location
                .error(Problem::ControlFileTooLarge {
                    limit: limits.max_control_file_size,
                })
                .into());
        }
        let mut content = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(1 << 20));
        (&mut entry)
            .take(size)
            .read_to_end(&mut content)
            .map_err(|error| location.error(tar_problem(&error, meter)))?;
        if content.len() as u64 != size {
            return Err(location
                .error(Problem::Truncated {
                    what: "control file content",
                })
                .into());
        }
        interpret_control_file(name, content, limits, &mut control)
            .map_err(|problem| location.error(problem))?;
    }
    location.entry = None;
    check_end_of_archive(consumed.get(), end_of_last_entry)
        .map_err(|problem| location.error(problem))?;
    finish_stream(archive.into_inner(), meter).map_err(|problem| location.error(problem))?;
    if control.fields.is_none() {
        location.entry = Some("./control".to_owned());
        return Err(location
            .error(Problem::MalformedControl {
                message: "the control archive has no `control` file".to_owned(),
            })
            .into());
    }
    Ok(control)
}

/// The `tar` crate treats a clean EOF where a header should be as the end of
/// the archive. GNU tar and dpkg expect zero blocks there; an archive that
/// simply stops is more likely truncated, so we insist on at least one.
fn check_end_of_archive(consumed: u64, end_of_last_entry: u64) -> Result<(), Problem> {
    if consumed < end_of_last_entry + 512 {
        return Err(Problem::MissingEndOfArchive);
    }
    Ok(())
}

fn interpret_control_file(
    name: &str,
    content: Vec<u8>,
    limits: &Limits,
    control: &mut ControlData,
) -> Result<(), Problem> {
    if let Some(script_name) = ScriptName::from_control_name(name) {
        let interpreter = script_interpreter(&content);
        control.scripts.push(Script {
            name: script_name,
            interpreter,
            bytes: content,
        });
        return Ok(());
    }
    match name {
        "control" => {
            let text = String::from_utf8(content).map_err(|_| Problem::ControlNotUtf8)?;
            control.fields = Some(parse_control_paragraph(&text)?);
        }
        "conffiles" => {
            let text = String::from_utf8(content).map_err(|_| Problem::ControlNotUtf8)?;
            control.conffiles = parse_conffiles(&text, limits)?;
        }
        "md5sums" => {
            let text = String::from_utf8(content).map_err(|_| Problem::ControlNotUtf8)?;
            control.md5sums = parse_md5sums(&text, limits)?;
        }
        "triggers" => {
            let text = String::from_utf8(content).map_err(|_| Problem::ControlNotUtf8)?;
            control.triggers = parse_triggers(&text)?;
        }
        // shlibs, symbols, templates, ...: informational for us.
        _ => {}
    }
    Ok(())
}

/// The interpreter named on a `#!` first line, without its arguments.
fn script_interpreter(content: &[u8]) -> Option<String> {
    let rest = content.strip_prefix(b"#!")?;
    let line_end = rest
        .iter()
        .position(|&byte| byte == b'\n')
        .unwrap_or(rest.len());
    let line = std::str::from_utf8(&rest[..line_end]).ok()?;
    line.split_whitespace().next().map(str::to_owned)
}

fn parse_control_paragraph(text: &str) -> Result<Vec<(String, String)>, Problem> {
    let document: deb822_fast::Deb822 =
        text.parse()
            .map_err(|error: deb822_fast::Error| Problem::MalformedControl {
                message: error.to_string(),
            })?;
    let mut paragraphs = document.iter();
    let paragraph = paragraphs.next().ok_or_else(|| Problem::MalformedControl {
        message: "the control file is empty".to_owned(),
    })?;
    if paragraphs.next().is_some() {
        return Err(Problem::MalformedControl {
            message: "the control file has more than one paragraph".to_owned(),
        });
    }
    let mut fields: Vec<(String, String)> = Vec::with_capacity(paragraph.len());
    for (name, value) in paragraph.iter() {
        if fields
            .iter()
            .any(|(existing, _)| existing.eq_ignore_ascii_case(name))
        {
            return Err(Problem::DuplicateField {
                field: name.to_owned(),
            });
        }
        fields.push((name.to_owned(), value.to_owned()));
    }
    Ok(fields)
}

/// `conffiles` as dpkg reads it (`src/main/archives.c`, `deb-conffiles(5)`):
/// one absolute path per line, optionally preceded by flags such as
/// `remove-on-upgrade`; no empty lines, no leading or trailing whitespace,
/// every line newline-terminated, no duplicates.
fn parse_conffiles(text: &str, limits: &Limits) -> Result<Vec<String>, Problem> {
    let mut conffiles = Vec::new();
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(Problem::BadConffiles {
            line: text.lines().count(),
            reason: "missing final newline".to_owned(),
        });
    }
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        let error = |reason: &str| Problem::BadConffiles {
            line: line_number,
            reason: reason.to_owned(),
        };
        if line.trim().is_empty() {
            return Err(error("empty and whitespace-only lines are not allowed"));
        }
        if line.starts_with(char::is_whitespace) {
            return Err(error("leading whitespace"));
        }
        if line.ends_with(char::is_whitespace) {
            return Err(error("trailing whitespace"));
        }
        let (flag, path) = match line.split_once(' ') {
            Some((flag, path)) if !line.starts_with('/') => (Some(flag), path),
            _ => (None, line),
        };
        if let Some(flag) = flag {
            if flag != "remove-on-upgrade" {
                return Err(error(&format!("unknown flag `{flag}`")));
            }
        }
        let relative = path
            .strip_prefix('/')
            .ok_or_else(|| error(&format!("conffile `{path}` is not an absolute path")))?;
        let canonical = canonical_entry_path(relative, false, limits)
            .map_err(|problem| error(&format!("conffile `{path}`: {problem}")))?;
        if conffiles.contains(&canonical) {
            return Err(error(&format!("conffile `{path}` is listed twice")));
        }
        // `remove-on-upgrade` conffiles are not shipped by this version;
        // they name files to delete, so they are not conffiles of this package.
        if flag.is_none() {
            conffiles.push(canonical);
        }
    }
    Ok(conffiles)
}

fn parse_md5sums(text: &str, limits: &Limits) -> Result<Vec<(String, String)>, Problem> {
    let mut sums = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let error = |reason: &str| Problem::BadMd5sums {
            line: index + 1,
            reason: reason.to_owned(),
        };
        if line.is_empty() {
            continue;
        }
        let (digest, path) = line
            .split_once(' ')
            .ok_or_else(|| error("expected `<md5>  <path>`"))?;
        if digest.len() != 32 || !digest.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(error("the digest is not 32 hex digits"));
        }
        // md5sum's text mode uses two spaces, binary mode ` *`.
        let path = path.trim_start_matches(' ').trim_start_matches('*');
        let canonical = canonical_entry_path(path, false, limits)
            .map_err(|problem| error(&format!("path `{path}`: {problem}")))?;
        sums.push((canonical, digest.to_ascii_lowercase()));
    }
    Ok(sums)
}

/// `triggers` (deb-triggers(5)): `directive name` per line, `#` comments.
fn parse_triggers(text: &str) -> Result<Vec<Trigger>, Problem> {
    const DIRECTIVES: [&str; 6] = [
        "interest",
        "interest-await",
        "interest-noawait",
        "activate",
        "activate-await",
        "activate-noawait",
    ];
    let mut triggers = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let error = |reason: String| Problem::BadTriggers {
            line: index + 1,
            reason,
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let directive = words.next().unwrap_or_default();
        let Some(name) = words.next() else {
            return Err(error(format!(
                "directive `{directive}` has no trigger name"
            )));
        };
        if words.next().is_some() {
            return Err(error("expected `directive name`".to_owned()));
        }
        if !DIRECTIVES.contains(&directive) {
            return Err(error(format!("unknown directive `{directive}`")));
        }
        triggers.push(Trigger {
            directive: directive.to_owned(),
            name: name.to_owned(),
            script: None,
        });
    }
    Ok(triggers)
}

/// The tar type of an entry, or why we refuse it.
fn entry_kind(entry_type: tar::EntryType) -> Result<EntryKind, Problem> {
    use tar::EntryType;
    match entry_type {
        // `\0` (old-style regular file) maps to Regular too.
        EntryType::Regular => Ok(EntryKind::File),
        EntryType::Directory => Ok(EntryKind::Dir),
        EntryType::Symlink => Ok(EntryKind::Symlink),
        EntryType::Link => Ok(EntryKind::Hardlink),
        EntryType::Char => Err(Problem::DeviceOrFifo {
            kind: "character device",
        }),
        EntryType::Block => Err(Problem::DeviceOrFifo {
            kind: "block device",
        }),
        EntryType::Fifo => Err(Problem::DeviceOrFifo { kind: "FIFO" }),
        EntryType::GNUSparse => Err(Problem::Sparse),
        other => Err(Problem::UnsupportedEntryType {
            type_byte: (other.as_byte() as char).escape_debug().to_string(),
        }),
    }
}

/// Owner/group names end up in the database and in listings: refuse names
/// that could forge lines or fields there.
pub(crate) fn check_owner_name(name: &str) -> Result<(), Problem> {
    if name.is_empty()
        || name.chars().any(|character| {
            character.is_control() || character.is_whitespace() || character == ':'
        })
    {
        return Err(Problem::BadOwnerName {
            name: name.escape_debug().to_string(),
        });
    }
    Ok(())
}

fn owner_name(
    pax_value: Option<Vec<u8>>,
    header_value: Option<&[u8]>,
    numeric: u64,
) -> Result<String, Problem> {
    let bytes = pax_value.or_else(|| header_value.map(<[u8]>::to_vec));
    let name = match bytes {
        Some(bytes) if !bytes.is_empty() => {
            String::from_utf8(bytes).map_err(|error| Problem::BadOwnerName {
                name: String::from_utf8_lossy(error.as_bytes())
                    .escape_debug()
                    .to_string(),
            })?
        }
        _ => numeric.to_string(),
    };
    check_owner_name(&name)?;
    Ok(name)
}

#[allow(clippy::too_many_arguments)]
fn read_data_member<E>(
    member: &mut (impl Read + Send),
    compression: Compression,
    limits: &Limits,
    meter: &StreamMeter,
    location: &mut Location<'_>,
    entries: &mut Vec<Entry>,
    installed_size: &mut u64,
    digests: FileDigests,
    visit: &mut dyn FnMut(&Entry, &mut dyn Read) -> Result<(), E>,
) -> Result<(), WalkError<E>> {
    std::thread::scope(|scope| {
        let decompressed = spawn_decompressor(scope, compression, member, limits, meter);
        read_data_tar(
            Box::new(decompressed),
            compression,
            limits,
            meter,
            location,
            entries,
            installed_size,
            digests,
            visit,
        )
    })
}

#[allow(clippy::too_many_arguments)]
fn read_data_tar<E>(
    decompressed: Box<dyn Read + '_>,
    compression: Compression,
    limits: &Limits,
    meter: &StreamMeter,
    location: &mut Location<'_>,
    entries: &mut Vec<Entry>,
    installed_size: &mut u64,
    digests: FileDigests,
    visit: &mut dyn FnMut(&Entry, &mut dyn Read) -> Result<(), E>,
) -> Result<(), WalkError<E>> {
    let consumed = Cell::new(0);
    let metered = MeteredReader {
        inner: decompressed,
        meter,
        compression,
        limits,
        consumed: &consumed,
    };
    let mut archive = tar::Archive::new(metered);
    // canonical path -> kind, for duplicate and hardlink checks.
    let mut seen: HashMap<String, EntryKind> = HashMap::new();
    let mut end_of_last_entry = 0u64;
    let tar_entries = archive
        .entries()
        .map_err(|error| location.error(tar_problem(&error, meter)))?;
    for tar_entry in tar_entries {
        location.entry = None;
        let mut tar_entry =
            tar_entry.map_err(|error| location.error(tar_problem(&error, meter)))?;
        let raw_path = tar_entry.path_bytes().into_owned();
        location.entry = Some(String::from_utf8_lossy(&raw_path).into_owned());
        if entries.len() as u64 >= limits.max_entries {
            return Err(location
                .error(Problem::TooManyEntries {
                    limit: limits.max_entries,
                })
                .into());
        }
        let size = tar_entry.size();
        end_of_last_entry = tar_entry.raw_file_position() + size.div_ceil(512) * 512;

        let kind = entry_kind(tar_entry.header().entry_type())
            .map_err(|problem| location.error(problem))?;
        let mut pax_owner = None;
        let mut pax_group = None;
        let mut pax_keys: HashSet<Vec<u8>> = HashSet::new();
        let tar_entry_link = tar_entry
            .link_name_bytes()
            .map(std::borrow::Cow::into_owned);
        let tar_entry_size = tar_entry.size();
        if let Some(extensions) = tar_entry
            .pax_extensions()
            .map_err(|error| location.error(tar_problem(&error, meter)))?
        {
            for extension in extensions {
                let extension = extension.map_err(|error| {
                    location.error(Problem::MalformedTar {
                        message: format!("bad pax extended header: {error}"),
                    })
                })?;
                let key = extension.key_bytes().to_vec();
                // The `tar` crate takes the *first* record of a key and
                // silently ignores a malformed `size`; GNU tar and Python take
                // the *last* and fail on garbage. Any such disagreement is a
                // smuggling vector (CVE-2025-62518 class), so refuse it.
                if !pax_keys.insert(key.clone()) {
                    return Err(location
                        .error(Problem::AmbiguousPax {
                            reason: format!(
                                "record `{}` appears twice",
                                String::from_utf8_lossy(&key).escape_debug()
                            ),
                        })
                        .into());
                }
                if matches!(key.as_slice(), b"size" | b"uid" | b"gid") {
                    let value = std::str::from_utf8(extension.value_bytes())
                        .ok()
                        .and_then(|text| text.parse::<u64>().ok());
                    match (key.as_slice(), value) {
                        (_, None) => {
                            return Err(location
                                .error(Problem::AmbiguousPax {
                                    reason: format!(
                                        "record `{}` is not a decimal number",
                                        String::from_utf8_lossy(&key)
                                    ),
                                })
                                .into())
                        }
                        (b"size", Some(size)) if size != tar_entry_size => {
                            return Err(location
                                .error(Problem::AmbiguousPax {
                                    reason: "record `size` disagrees with the size used".to_owned(),
                                })
                                .into())
                        }
                        _ => {}
                    }
                }
                if key == b"path" && extension.value_bytes() != raw_path.as_slice() {
                    return Err(location
                        .error(Problem::AmbiguousPax {
                            reason: "record `path` conflicts with a GNU long name".to_owned(),
                        })
                        .into());
                }
                if key == b"linkpath" && Some(extension.value_bytes()) != tar_entry_link.as_deref()
                {
                    return Err(location
                        .error(Problem::AmbiguousPax {
                            reason: "record `linkpath` conflicts with a GNU long link".to_owned(),
                        })
                        .into());
                }
                match key.as_slice() {
                    b"uname" => pax_owner = Some(extension.value_bytes().to_vec()),
                    b"gname" => pax_group = Some(extension.value_bytes().to_vec()),
                    // PAX-format sparse files (GNU.sparse.*): THREATS 15.
                    key if key.starts_with(b"GNU.sparse.") => {
                        return Err(location.error(Problem::Sparse).into())
                    }
                    _ => {}
                }
            }
        }
        let path = String::from_utf8(raw_path).map_err(|_| location.error(Problem::NonUtf8Name))?;
        let canonical = canonical_entry_path(&path, kind == EntryKind::Dir, limits)
            .map_err(|problem| location.error(problem))?;
        if seen.contains_key(&canonical) {
            return Err(location
                .error(Problem::DuplicateEntry { path: canonical })
                .into());
        }
        // `lnk -> /outside` followed by `lnk/file` (THREATS 3, 5): an entry
        // may only live beneath directories, never beneath a symlink or file
        // shipped earlier in the same archive.
        for (index, _) in canonical.match_indices('/').skip(1) {
            let ancestor = &canonical[..index];
            if let Some(&ancestor_kind) = seen.get(ancestor) {
                if ancestor_kind != EntryKind::Dir {
                    return Err(location
                        .error(Problem::BeneathNonDirectory {
                            ancestor: ancestor.to_owned(),
                            kind: ancestor_kind,
                        })
                        .into());
                }
            }
        }
        if kind != EntryKind::File && size != 0 {
            // Readers disagree on whether such content is skipped (GNU tar)
            // or parsed as the next header (Python tarfile): refuse.
            return Err(location
                .error(Problem::ContentOnNonFile { kind, size })
                .into());
        }

        let header = tar_entry.header();
        let mode = header
            .mode()
            .map_err(|error| location.error(tar_problem(&error, meter)))?
            & 0o7777;
        let uid = header
            .uid()
            .map_err(|error| location.error(tar_problem(&error, meter)))?;
        let gid = header
            .gid()
            .map_err(|error| location.error(tar_problem(&error, meter)))?;
        let owner = owner_name(pax_owner, header.username_bytes(), uid)
            .map_err(|problem| location.error(problem))?;
        let group = owner_name(pax_group, header.groupname_bytes(), gid)
            .map_err(|problem| location.error(problem))?;

        let target = match kind {
            EntryKind::Symlink => {
                let raw = tar_entry
                    .link_name_bytes()
                    .filter(|bytes| !bytes.is_empty())
                    .ok_or_else(|| location.error(Problem::MissingLinkTarget))?
                    .into_owned();
                let target =
                    String::from_utf8(raw).map_err(|_| location.error(Problem::NonUtf8Target))?;
                if target.chars().any(char::is_control) {
                    return Err(location.error(Problem::BadTargetCharacter).into());
                }
                if target.len() > limits.max_target_len {
                    return Err(location
                        .error(Problem::TargetTooLong {
                            length: target.len(),
                            limit: limits.max_target_len,
                        })
                        .into());
                }
                Some(target)
            }
            EntryKind::Hardlink => {
                let raw = tar_entry
                    .link_name_bytes()
                    .filter(|bytes| !bytes.is_empty())
                    .ok_or_else(|| location.error(Problem::MissingLinkTarget))?
                    .into_owned();
                let raw =
                    String::from_utf8(raw).map_err(|_| location.error(Problem::NonUtf8Target))?;
                let canonical_target =
                    canonical_entry_path(&raw, false, limits).map_err(|problem| {
                        location.error(Problem::BadHardlinkTarget {
                            target: raw.escape_debug().to_string(),
                            problem,
                        })
                    })?;
                // A hardlink may only point at a regular file this archive
                // already shipped: never at a symlink (cpython gh-157190), a
                // directory, or anything pre-existing in the root (THREATS 7, 8).
                if seen.get(&canonical_target) != Some(&EntryKind::File) {
                    return Err(location
                        .error(Problem::HardlinkTargetNotAFile {
                            target: canonical_target,
                        })
                        .into());
                }
                Some(canonical_target)
            }
            EntryKind::File | EntryKind::Dir => None,
        };

        let mut entry = Entry {
            path: canonical.clone(),
            kind,
            mode,
            owner,
            group,
            uid,
            gid,
            size: if kind == EntryKind::File { size } else { 0 },
            target,
            sha256: None,
        };

        let mut hashing = HashingReader::new(&mut tar_entry, digests);
        visit(&entry, &mut hashing).map_err(WalkError::Callback)?;
        io::copy(&mut hashing, &mut io::sink())
            .map_err(|error| location.error(tar_problem(&error, meter)))?;
        if hashing.count != entry.size {
            return Err(location
                .error(Problem::ContentSizeMismatch {
                    declared: entry.size,
                    found: hashing.count,
                })
                .into());
        }
        if kind == EntryKind::File {
            entry.sha256 = hashing.digest();
            *installed_size += size;
        }
        seen.insert(canonical, kind);
        entries.push(entry);
    }
    location.entry = None;
    if let Some(problem) = meter.failure.borrow_mut().take() {
        return Err(location.error(problem).into());
    }
    check_end_of_archive(consumed.get(), end_of_last_entry)
        .map_err(|problem| location.error(problem))?;
    finish_stream(archive.into_inner(), meter).map_err(|problem| location.error(problem))?;
    Ok(())
}

/// Decompress to the end of the stream after the tar end-of-archive block,
/// so the compressor's own integrity check (xz and gzip CRCs, zstd checksum)
/// is verified, as dpkg's decompressor does. Still bounded by the
/// uncompressed-size limit.
fn finish_stream(mut rest: MeteredReader<'_>, meter: &StreamMeter) -> Result<(), Problem> {
    io::copy(&mut rest, &mut io::sink()).map_err(|error| tar_problem(&error, meter))?;
    Ok(())
}

fn assemble_package(
    control: ControlData,
    entries: Vec<Entry>,
    artifact_sha256: String,
    installed_size: u64,
) -> Result<Package, Problem> {
    let fields = control.fields.unwrap_or_default();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(field_name, _)| field_name.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    };
    let name = field("Package").ok_or(Problem::MissingField { field: "Package" })?;
    if !crate::model::is_valid_package_name(name) {
        return Err(Problem::BadPackageName {
            name: name.escape_debug().to_string(),
        });
    }
    let version_text = field("Version").ok_or(Problem::MissingField { field: "Version" })?;
    let version =
        Version::parse(version_text).map_err(|error| Problem::BadVersion(error.to_string()))?;
    let architecture = field("Architecture").ok_or(Problem::MissingField {
        field: "Architecture",
    })?;
    let relation = |field_name: &'static str| -> Result<_, Problem> {
        match field(field_name) {
            Some(value) => parse_relations(value).map_err(|source| Problem::BadRelation {
                field: field_name,
                source,
            }),
            None => Ok(Vec::new()),
        }
    };
    let relations = Relations {
        depends: relation("Depends")?,
        pre_depends: relation("Pre-Depends")?,
        recommends: relation("Recommends")?,
        suggests: relation("Suggests")?,
        conflicts: relation("Conflicts")?,
        breaks: relation("Breaks")?,
        replaces: relation("Replaces")?,
        provides: relation("Provides")?,
    };
    Ok(Package {
        format: Format::Deb,
        name: name.to_owned(),
        version,
        architecture: architecture.to_owned(),
        description: field("Description").unwrap_or_default().to_owned(),
        maintainer: field("Maintainer").map(str::to_owned),
        relations,
        scripts: control.scripts,
        conffiles: control.conffiles,
        triggers: control.triggers,
        md5sums: control.md5sums,
        entries,
        artifact_sha256,
        installed_size,
        fields,
    })
}
