//! Hostile and malformed `.rpm` packages: lead, signature header, header and
//! payload corruption, traversal in file names (header and cpio), bombs and
//! limits. Every refusal names the part of the package (`lead`, `signature
//! header`, `header`, `payload`) and, where there is one, the entry; nothing
//! panics (a mutation sweep flips bytes all over a package).
//!
//! Packages are built with the `rpm` crate's builder; [`reseal`] edits a
//! built package's header or decompressed cpio and recomputes the payload
//! digest, header digest and package size, so a test reaches the check it
//! targets instead of stopping at the first digest.
#![allow(clippy::disallowed_methods, clippy::print_stderr)]

use pkgward_package::deb::{Problem, ReadError};
use pkgward_package::model::PathProblem;
use pkgward_package::rpm::RpmProblem;
use pkgward_package::rpm_builder::{self, rpm};
use pkgward_package::{Limits, Package, ScriptName};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};

fn read_with(bytes: &[u8], limits: &Limits) -> Result<Package, ReadError> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(bytes).unwrap();
    file.flush().unwrap();
    pkgward_package::rpm::read(file.path(), limits)
}

fn refused_with(bytes: &[u8], limits: &Limits) -> ReadError {
    match read_with(bytes, limits) {
        Ok(package) => panic!("expected a refusal, got {} entries", package.entries.len()),
        Err(error) => error,
    }
}

fn refused(bytes: &[u8]) -> ReadError {
    refused_with(bytes, &Limits::default())
}

fn rpm_problem(error: &ReadError) -> &RpmProblem {
    match &*error.problem {
        Problem::Rpm(problem) => problem,
        other => panic!("expected an rpm problem, got {other:?} ({error})"),
    }
}

fn assert_names(error: &ReadError, member: &str, entry: Option<&str>) {
    assert_eq!(error.member.as_deref(), Some(member), "{error}");
    assert_eq!(error.entry.as_deref(), entry, "{error}");
    let message = error.to_string();
    assert!(message.contains(&format!("member `{member}`")), "{message}");
    if let Some(entry) = entry {
        assert!(
            message.contains(&format!("entry `{}`", entry.escape_debug())),
            "{message}"
        );
    }
}

fn sample_bytes(compression: rpm::CompressionType) -> Vec<u8> {
    let package = rpm_builder::sample("demo", 6, compression).unwrap();
    let mut bytes = Vec::new();
    package.write(&mut bytes).unwrap();
    bytes
}

fn gzip_sample() -> Vec<u8> {
    sample_bytes(rpm::CompressionType::Gzip)
}

fn replace_once(haystack: &mut [u8], old: &[u8], new: &[u8]) {
    assert_eq!(old.len(), new.len());
    let at = haystack
        .windows(old.len())
        .position(|window| window == old)
        .unwrap_or_else(|| panic!("`{}` not found", String::from_utf8_lossy(old)));
    haystack[at..at + old.len()].copy_from_slice(new);
}

/// Set an integer tag of the header structure `header` (which starts with
/// its 16-byte intro) in place.
fn set_integer_tag(header: &mut [u8], tag: u32, value: u64) -> bool {
    let entries = u32::from_be_bytes(header[8..12].try_into().unwrap()) as usize;
    let store = 16 + entries * 16;
    for index in 0..entries {
        let entry = &header[16 + index * 16..32 + index * 16];
        let word = |at: usize| u32::from_be_bytes(entry[at..at + 4].try_into().unwrap());
        if word(0) == tag {
            let offset = store + word(8) as usize;
            match word(4) {
                4 => header[offset..offset + 4]
                    .copy_from_slice(&u32::try_from(value).unwrap().to_be_bytes()),
                5 => header[offset..offset + 8].copy_from_slice(&value.to_be_bytes()),
                other => panic!("tag {tag} has type {other}"),
            }
            return true;
        }
    }
    false
}

/// Edit a gzip package's header (same length) and decompressed cpio, then
/// make every digest and size consistent again.
fn reseal(
    bytes: &[u8],
    edit_header: impl FnOnce(&mut Vec<u8>),
    edit_cpio: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    let layout = rpm_builder::locate(bytes).unwrap();
    let mut signature = bytes[..layout.header].to_vec();
    let mut header = bytes[layout.header..layout.payload].to_vec();
    let payload = &bytes[layout.payload..];
    let old_payload_digest = hex::encode(Sha256::digest(payload));
    let old_header_digest = hex::encode(Sha256::digest(&header));
    let mut cpio = Vec::new();
    flate2::read::GzDecoder::new(payload)
        .read_to_end(&mut cpio)
        .unwrap();
    edit_cpio(&mut cpio);
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(&cpio).unwrap();
    let new_payload = encoder.finish().unwrap();
    let length = header.len();
    edit_header(&mut header);
    assert_eq!(header.len(), length, "header edits must keep its length");
    replace_once(
        &mut header,
        old_payload_digest.as_bytes(),
        hex::encode(Sha256::digest(&new_payload)).as_bytes(),
    );
    replace_once(
        &mut signature,
        old_header_digest.as_bytes(),
        hex::encode(Sha256::digest(&header)).as_bytes(),
    );
    let size = (header.len() + new_payload.len()) as u64;
    let signature_header = &mut signature[layout.signature..];
    let sized = set_integer_tag(signature_header, 1000, size)
        | set_integer_tag(signature_header, 270, size);
    assert!(sized, "the signature header has no size tag");
    [signature, header, new_payload].concat()
}

#[test]
fn resealed_but_unchanged_package_still_reads() {
    let bytes = reseal(&gzip_sample(), |_| {}, |_| {});
    read_with(&bytes, &Limits::default()).unwrap();
}

#[test]
fn not_an_rpm() {
    let error = refused(b"!<arch>\nthis is a deb, not an rpm");
    assert!(matches!(rpm_problem(&error), RpmProblem::NotAnRpm));
    assert_names(&error, "lead", None);
    let error = refused(&[0xed, 0xab]);
    assert!(matches!(rpm_problem(&error), RpmProblem::NotAnRpm));
}

#[test]
fn lead_corruption() {
    let mut bytes = gzip_sample();
    bytes[4] = 9;
    let error = refused(&bytes);
    assert!(matches!(
        rpm_problem(&error),
        RpmProblem::UnsupportedLeadVersion { major: 9 }
    ));
    assert_names(&error, "lead", None);
    let mut bytes = gzip_sample();
    bytes[7] = 1;
    assert!(matches!(
        rpm_problem(&refused(&bytes)),
        RpmProblem::SourcePackage
    ));
    let mut bytes = gzip_sample();
    bytes[79] = 0;
    assert!(matches!(
        rpm_problem(&refused(&bytes)),
        RpmProblem::UnsupportedSignatureType { found: 0 }
    ));
}

#[test]
fn signature_header_corruption() {
    let mut bytes = gzip_sample();
    bytes[96] = 0;
    let error = refused(&bytes);
    assert!(matches!(rpm_problem(&error), RpmProblem::BadHeaderMagic));
    assert_names(&error, "signature header", None);
    // An index count far beyond rpm's limit is refused before allocating.
    let mut bytes = gzip_sample();
    bytes[96 + 8..96 + 12].copy_from_slice(&0x00ff_ffffu32.to_be_bytes());
    assert!(matches!(
        rpm_problem(&refused(&bytes)),
        RpmProblem::HeaderTooLarge { .. }
    ));
    let error = refused(&gzip_sample()[..150]);
    assert!(
        matches!(&*error.problem, Problem::Truncated { .. }),
        "{error}"
    );
    assert_names(&error, "signature header", None);
}

#[test]
fn header_corruption() {
    let bytes = gzip_sample();
    let layout = rpm_builder::locate(&bytes).unwrap();
    // A flipped byte in the data store: the header digest catches it.
    let mut flipped = bytes.clone();
    flipped[layout.payload - 3] ^= 0x20;
    let error = refused(&flipped);
    assert!(
        matches!(
            rpm_problem(&error),
            RpmProblem::DigestMismatch { what: "header", .. }
        ),
        "{error}"
    );
    assert_names(&error, "header", None);
    // An index entry pointing outside the store, digests made consistent:
    // the parser itself refuses it.
    let resealed = reseal(
        &bytes,
        |header| header[16 + 8..16 + 12].copy_from_slice(&0x7fff_fff0u32.to_be_bytes()),
        |_| {},
    );
    let error = refused(&resealed);
    assert!(
        matches!(
            rpm_problem(&error),
            RpmProblem::BadIndexEntry { index: 0, .. }
        ),
        "{error}"
    );
    assert_names(&error, "header", None);
    // An unknown data type.
    let resealed = reseal(
        &bytes,
        |header| header[16 + 4..16 + 8].copy_from_slice(&77u32.to_be_bytes()),
        |_| {},
    );
    assert!(matches!(
        rpm_problem(&refused(&resealed)),
        RpmProblem::BadIndexEntry { .. }
    ));
    // A string array whose count runs past the store.
    let resealed = reseal(
        &bytes,
        |header| {
            let entries = u32::from_be_bytes(header[8..12].try_into().unwrap()) as usize;
            for index in 0..entries {
                let entry = 16 + index * 16;
                if header[entry..entry + 4] == 1117u32.to_be_bytes() {
                    header[entry + 12..entry + 16].copy_from_slice(&0x00ff_ffffu32.to_be_bytes());
                }
            }
        },
        |_| {},
    );
    let error = refused(&resealed);
    assert!(
        matches!(rpm_problem(&error), RpmProblem::BadTag { tag: 1117, .. }),
        "{error}"
    );
}

#[test]
fn truncated_or_extended_packages_are_refused_before_streaming() {
    let bytes = gzip_sample();
    let error = refused(&bytes[..bytes.len() - 10]);
    assert!(
        matches!(rpm_problem(&error), RpmProblem::SizeMismatch { .. }),
        "{error}"
    );
    let mut extended = bytes.clone();
    extended.extend_from_slice(b"smuggled");
    let error = refused(&extended);
    assert!(
        matches!(rpm_problem(&error), RpmProblem::SizeMismatch { .. }),
        "{error}"
    );
}

#[test]
fn payload_corruption_is_refused_in_the_payload() {
    let bytes = gzip_sample();
    let layout = rpm_builder::locate(&bytes).unwrap();
    let mut flipped = bytes.clone();
    flipped[layout.payload + (bytes.len() - layout.payload) / 2] ^= 0x55;
    let error = refused(&flipped);
    assert_eq!(error.member.as_deref(), Some("payload"), "{error}");
}

#[test]
fn traversal_in_a_cpio_name() {
    let bytes = reseal(
        &gzip_sample(),
        |_| {},
        |cpio| replace_once(cpio, b"./usr/bin/demo\0", b"../../bin/demo\0"),
    );
    let error = refused(&bytes);
    assert_eq!(
        &*error.problem.to_string(),
        PathProblem::ParentComponent.to_string(),
        "{error}"
    );
    assert_names(&error, "payload", Some("../../bin/demo"));
}

#[test]
fn traversal_in_a_header_name() {
    let package = rpm::PackageBuilder::new("evil", "1", "MIT", "noarch", "traversal")
        .with_file_contents(
            "root::0:0::/:/bin/sh\n",
            rpm::FileOptions::new("/usr/share/../../etc/passwd"),
        )
        .unwrap()
        .build()
        .unwrap();
    let mut bytes = Vec::new();
    package.write(&mut bytes).unwrap();
    let error = refused(&bytes);
    assert!(
        matches!(
            &*error.problem,
            Problem::BadPath(PathProblem::ParentComponent)
        ),
        "{error}"
    );
    assert_names(&error, "header", Some("/usr/share/../../etc/passwd"));
}

#[test]
fn payload_member_must_be_in_the_header() {
    let bytes = reseal(
        &gzip_sample(),
        |_| {},
        |cpio| replace_once(cpio, b"./usr/bin/demo\0", b"./usr/bin/dem0\0"),
    );
    let error = refused(&bytes);
    assert!(
        matches!(rpm_problem(&error), RpmProblem::NotInHeader),
        "{error}"
    );
    assert_names(&error, "payload", Some("./usr/bin/dem0"));
}

#[test]
fn content_must_match_the_header_digest() {
    let bytes = reseal(
        &gzip_sample(),
        |_| {},
        |cpio| replace_once(cpio, b"echo demo\n", b"echo pwnd\n"),
    );
    let error = refused(&bytes);
    assert!(
        matches!(rpm_problem(&error), RpmProblem::FileDigestMismatch { .. }),
        "{error}"
    );
    assert_names(&error, "payload", Some("./usr/bin/demo"));
}

/// Each streamed entry's path and content.
type Streamed = Vec<(String, Vec<u8>)>;

/// Every entry's path and content, and the package, of one streaming read.
fn stream_with(
    bytes: &[u8],
    digests: pkgward_package::FileDigests,
) -> Result<(Streamed, Package), ReadError> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(bytes).unwrap();
    file.flush().unwrap();
    let mut seen = Vec::new();
    let package = pkgward_package::artifact::stream_data_entries(
        file.path(),
        &Limits::default(),
        digests,
        |entry, content| {
            let mut bytes = Vec::new();
            content.read_to_end(&mut bytes).unwrap();
            seen.push((entry.path.clone(), bytes));
            Ok::<(), ReadError>(())
        },
    )?;
    Ok((seen, package))
}

#[test]
fn skipping_file_digests_streams_the_same_content_and_artifact_digest() {
    use pkgward_package::FileDigests;
    let bytes = gzip_sample();
    let (computed, hashed) = stream_with(&bytes, FileDigests::Compute).unwrap();
    let (skipped, unhashed) = stream_with(&bytes, FileDigests::Skip).unwrap();
    assert_eq!(computed, skipped);
    assert_eq!(hashed.artifact_sha256, unhashed.artifact_sha256);
    assert!(hashed.entries.iter().any(|entry| entry.sha256.is_some()));
    assert!(unhashed.entries.iter().all(|entry| entry.sha256.is_none()));
    // Skipped digests are not checked against the header: a changed file
    // is left to the caller's comparison of the artifact sha256, which
    // then differs (the engine's `checks_artifact` contract).
    let tampered = reseal(
        &bytes,
        |_| {},
        |cpio| replace_once(cpio, b"echo demo\n", b"echo pwnd\n"),
    );
    assert!(stream_with(&tampered, FileDigests::Compute).is_err());
    let (_, tampered) = stream_with(&tampered, FileDigests::Skip).unwrap();
    assert_ne!(tampered.artifact_sha256, hashed.artifact_sha256);
}

#[test]
fn payload_type_must_match_the_header() {
    // The cpio mode of `./etc/demo.conf` says symlink; the header says file.
    let bytes = reseal(
        &gzip_sample(),
        |_| {},
        |cpio| {
            let name = cpio
                .windows(16)
                .position(|window| window == b"./etc/demo.conf\0")
                .unwrap();
            // The name follows the 110-byte header; namesize is its last but one field.
            let header = name - 110;
            cpio[header + 14..header + 22].copy_from_slice(b"0000a1a4");
        },
    );
    let error = refused(&bytes);
    assert!(
        matches!(rpm_problem(&error), RpmProblem::PayloadDisagrees { .. }),
        "{error}"
    );
    assert_names(&error, "payload", Some("./etc/demo.conf"));
}

#[test]
fn cpio_header_garbage() {
    let bytes = reseal(
        &gzip_sample(),
        |_| {},
        |cpio| cpio[..6].copy_from_slice(b"070707"),
    );
    let error = refused(&bytes);
    assert!(
        matches!(rpm_problem(&error), RpmProblem::BadCpioHeader { .. }),
        "{error}"
    );
    let bytes = reseal(
        &gzip_sample(),
        |_| {},
        |cpio| cpio[6..14].copy_from_slice(b"zzzzzzzz"),
    );
    assert!(matches!(
        rpm_problem(&refused(&bytes)),
        RpmProblem::BadCpioHeader { .. }
    ));
    let bytes = reseal(&gzip_sample(), |_| {}, |cpio| cpio.truncate(cpio.len() / 2));
    let error = refused(&bytes);
    assert!(
        matches!(
            &*error.problem,
            Problem::Truncated { .. } | Problem::ContentSizeMismatch { .. }
        ),
        "{error}"
    );
    assert_eq!(error.member.as_deref(), Some("payload"), "{error}");
    // Cut right after the last member: no trailer.
    let bytes = reseal(
        &gzip_sample(),
        |_| {},
        |cpio| {
            let trailer = cpio
                .windows(10)
                .rposition(|window| window == b"TRAILER!!!")
                .unwrap();
            cpio.truncate(trailer - 110);
        },
    );
    let error = refused(&bytes);
    assert!(
        matches!(&*error.problem, Problem::Truncated { .. }),
        "{error}"
    );
    assert_names(&error, "payload", None);
}

#[test]
fn size_bomb_stops_at_the_limit() {
    let package = rpm::PackageBuilder::new("bomb", "1", "MIT", "noarch", "zeros")
        .using_config(rpm::BuildConfig::default().compression(rpm::CompressionType::Zstd))
        .with_file_contents(
            vec![0u8; 16 << 20],
            rpm::FileOptions::new("/usr/share/bomb/zeros"),
        )
        .unwrap()
        .build()
        .unwrap();
    let mut bytes = Vec::new();
    package.write(&mut bytes).unwrap();
    assert!(bytes.len() < 64 << 10, "the bomb compresses well");
    let limits = Limits {
        max_total_uncompressed: 1 << 20,
        ..Limits::default()
    };
    let error = refused_with(&bytes, &limits);
    assert!(
        matches!(
            &*error.problem,
            Problem::UncompressedTooLarge { limit: 1_048_576 }
        ),
        "{error}"
    );
    assert_eq!(error.member.as_deref(), Some("payload"));
}

#[test]
fn entry_and_path_limits() {
    let bytes = gzip_sample();
    let error = refused_with(
        &bytes,
        &Limits {
            max_entries: 3,
            ..Limits::default()
        },
    );
    assert!(
        matches!(&*error.problem, Problem::TooManyEntries { limit: 3 }),
        "{error}"
    );
    assert_names(&error, "header", None);
    let error = refused_with(
        &bytes,
        &Limits {
            max_path_len: 12,
            ..Limits::default()
        },
    );
    assert!(
        matches!(
            &*error.problem,
            Problem::BadPath(PathProblem::TooLong { .. })
        ),
        "{error}"
    );
    let error = refused_with(
        &bytes,
        &Limits {
            max_control_file_size: 100,
            ..Limits::default()
        },
    );
    assert!(
        matches!(rpm_problem(&error), RpmProblem::HeaderTooLarge { .. }),
        "{error}"
    );
}

#[test]
fn xz_dictionary_beyond_the_limit_is_refused() {
    let bytes = sample_bytes(rpm::CompressionType::Xz);
    let error = refused_with(
        &bytes,
        &Limits {
            max_xz_dict: 64 << 10,
            ..Limits::default()
        },
    );
    assert!(
        matches!(&*error.problem, Problem::XzDictionaryTooLarge { .. }),
        "{error}"
    );
    assert_eq!(error.member.as_deref(), Some("payload"));
}

/// Flip one byte at a time across the whole package (every byte of lead and
/// headers, a stride through the payload): each read ends in a package or
/// a named refusal, never a panic or a hang.
#[test]
fn single_byte_mutations_never_panic() {
    let bytes = gzip_sample();
    let layout = rpm_builder::locate(&bytes).unwrap();
    let mut refusals = 0;
    let positions = (0..layout.payload).chain((layout.payload..bytes.len()).step_by(7));
    for position in positions {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut mutated = bytes.clone();
            mutated[position] ^= flip;
            if let Err(error) = read_with(&mutated, &Limits::default()) {
                assert!(error.member.is_some(), "refusal without a part: {error}");
                refusals += 1;
            }
        }
    }
    assert!(refusals > 1000, "only {refusals} refusals");
}

/// A package with two files of identical content (`a`, `b`), edited into a
/// hardlink set the way rpmbuild writes one: the header gives both the same
/// inode, and the payload carries the content once, with the *last* member
/// (`b`); `a` comes first with size 0 and `nlink` 2. With `same_inode`
/// false, `a` claims to be a link but no member of its set has content.
fn hardlink_package(same_inode: bool) -> Vec<u8> {
    let content = "same content\n";
    let package = rpm::PackageBuilder::new("links", "1", "MIT", "noarch", "hardlinks")
        .using_config(rpm::BuildConfig::default().compression(rpm::CompressionType::Gzip))
        .with_file_contents(
            content,
            rpm::FileOptions::new("/usr/share/links/a").mode(rpm::FileMode::regular(0o644)),
        )
        .unwrap()
        .with_file_contents(
            content,
            rpm::FileOptions::new("/usr/share/links/b").mode(rpm::FileMode::regular(0o644)),
        )
        .unwrap()
        .build()
        .unwrap();
    let mut bytes = Vec::new();
    package.write(&mut bytes).unwrap();
    reseal(
        &bytes,
        |header| {
            if !same_inode {
                return;
            }
            // FILEINODES (1096, int32): give `b` (index 1) the inode of `a` (index 0).
            let entries = u32::from_be_bytes(header[8..12].try_into().unwrap()) as usize;
            let store = 16 + entries * 16;
            let entry = (0..entries)
                .map(|index| 16 + index * 16)
                .find(|&entry| header[entry..entry + 4] == 1096u32.to_be_bytes())
                .unwrap();
            let offset = store
                + u32::from_be_bytes(header[entry + 8..entry + 12].try_into().unwrap()) as usize;
            let first: [u8; 4] = header[offset..offset + 4].try_into().unwrap();
            header[offset + 4..offset + 8].copy_from_slice(&first);
        },
        |cpio| {
            let name_a = cpio
                .windows(20)
                .position(|window| window == b"./usr/share/links/a\0")
                .unwrap();
            let start_a = name_a - 110;
            let name_b = cpio
                .windows(20)
                .position(|window| window == b"./usr/share/links/b\0")
                .unwrap();
            let start_b = name_b - 110;
            cpio[start_b + 38..start_b + 46].copy_from_slice(b"00000002");
            // `a`: header + name (padded) + content (padded) → header + name with size 0, nlink 2.
            let name_end = (name_a + 20).next_multiple_of(4);
            cpio[start_a + 38..start_a + 46].copy_from_slice(b"00000002");
            cpio[start_a + 54..start_a + 62].copy_from_slice(b"00000000");
            cpio.drain(name_end..start_b);
        },
    )
}

#[test]
fn hardlink_sets_become_one_file_and_links_to_it() {
    let package = read_with(&hardlink_package(true), &Limits::default()).unwrap();
    let a = package
        .entries
        .iter()
        .position(|entry| entry.path == "/usr/share/links/a")
        .unwrap();
    let b = package
        .entries
        .iter()
        .position(|entry| entry.path == "/usr/share/links/b")
        .unwrap();
    assert!(b < a, "the link follows the file that carries the content");
    assert_eq!(package.entries[b].kind, pkgward_package::EntryKind::File);
    assert_eq!(package.entries[b].size, 13);
    assert_eq!(
        package.entries[a].kind,
        pkgward_package::EntryKind::Hardlink
    );
    assert_eq!(
        package.entries[a].target.as_deref(),
        Some("/usr/share/links/b")
    );
    assert_eq!(package.installed_size, 13);
}

#[test]
fn a_hardlink_whose_set_has_no_content_is_refused() {
    let error = refused(&hardlink_package(false));
    assert!(
        matches!(rpm_problem(&error), RpmProblem::PayloadDisagrees { .. }),
        "{error}"
    );
    assert_names(&error, "payload", Some("/usr/share/links/a"));
}

/// One header tag to append: number, data type, count and raw data.
struct ExtraTag {
    tag: u32,
    kind: u32,
    count: u32,
    data: Vec<u8>,
}

fn strings(values: &[&str]) -> ExtraTag {
    ExtraTag {
        tag: 0,
        kind: 8,
        count: u32::try_from(values.len()).unwrap(),
        data: values
            .iter()
            .flat_map(|value| [value.as_bytes(), b"\0"].concat())
            .collect(),
    }
}

fn int32s(values: &[u32]) -> ExtraTag {
    ExtraTag {
        tag: 0,
        kind: 4,
        count: u32::try_from(values.len()).unwrap(),
        data: values
            .iter()
            .flat_map(|value| value.to_be_bytes())
            .collect(),
    }
}

fn tagged(tag: u32, mut extra: ExtraTag) -> ExtraTag {
    extra.tag = tag;
    extra
}

/// Append tags to a package's main header (the `rpm` crate's builder cannot
/// write triggers), then fix the header digest and the declared size.
fn with_extra_tags(bytes: &[u8], extra: &[ExtraTag]) -> Vec<u8> {
    let layout = rpm_builder::locate(bytes).unwrap();
    let mut signature = bytes[..layout.header].to_vec();
    let header = &bytes[layout.header..layout.payload];
    let payload = &bytes[layout.payload..];
    let entries = u32::from_be_bytes(header[8..12].try_into().unwrap()) as usize;
    let mut index = header[16..16 + entries * 16].to_vec();
    let mut store = header[16 + entries * 16..].to_vec();
    for tag in extra {
        let alignment = match tag.kind {
            4 => 4,
            _ => 1,
        };
        while store.len() % alignment != 0 {
            store.push(0);
        }
        index.extend_from_slice(&tag.tag.to_be_bytes());
        index.extend_from_slice(&tag.kind.to_be_bytes());
        index.extend_from_slice(&u32::try_from(store.len()).unwrap().to_be_bytes());
        index.extend_from_slice(&tag.count.to_be_bytes());
        store.extend_from_slice(&tag.data);
    }
    let mut new_header = header[..8].to_vec();
    new_header.extend_from_slice(&u32::try_from(entries + extra.len()).unwrap().to_be_bytes());
    new_header.extend_from_slice(&u32::try_from(store.len()).unwrap().to_be_bytes());
    new_header.extend_from_slice(&index);
    new_header.extend_from_slice(&store);
    replace_once(
        &mut signature,
        hex::encode(Sha256::digest(header)).as_bytes(),
        hex::encode(Sha256::digest(&new_header)).as_bytes(),
    );
    let size = (new_header.len() + payload.len()) as u64;
    let signature_header = &mut signature[layout.signature..];
    assert!(
        set_integer_tag(signature_header, 1000, size)
            | set_integer_tag(signature_header, 270, size)
    );
    [signature, new_header, payload.to_vec()].concat()
}

#[test]
fn triggers_and_file_triggers_map_to_scripts_and_conditions() {
    const TRIGGERIN: u32 = 1 << 16;
    const TRIGGERUN: u32 = 1 << 17;
    const GREATER_EQUAL: u32 = (1 << 2) | (1 << 3);
    let bytes = with_extra_tags(
        &gzip_sample(),
        &[
            tagged(
                1065,
                strings(&["echo bash changed\n", "echo glibc going\n"]),
            ),
            tagged(1092, strings(&["/bin/sh", "/bin/bash"])),
            tagged(1066, strings(&["bash", "glibc"])),
            tagged(1067, strings(&["5.1", ""])),
            tagged(1068, int32s(&[TRIGGERIN | GREATER_EQUAL, TRIGGERUN])),
            tagged(1069, int32s(&[0, 1])),
            tagged(5066, strings(&["rpm.execute('depmod')"])),
            tagged(5067, strings(&["<lua>"])),
            tagged(5069, strings(&["/usr/lib/modules"])),
            tagged(5070, int32s(&[0])),
            tagged(5072, int32s(&[TRIGGERIN])),
        ],
    );
    let package = read_with(&bytes, &Limits::default()).unwrap();
    let trigger_scripts: Vec<(&str, Option<&str>, String)> = package
        .scripts
        .iter()
        .filter(|script| matches!(script.name, ScriptName::Trigger | ScriptName::FileTrigger))
        .map(|script| {
            (
                script.name.as_str(),
                script.interpreter.as_deref(),
                String::from_utf8_lossy(&script.bytes).into_owned(),
            )
        })
        .collect();
    assert_eq!(
        trigger_scripts,
        vec![
            (
                "trigger",
                Some("/bin/sh"),
                "#!/bin/sh\necho bash changed\n".to_owned()
            ),
            (
                "trigger",
                Some("/bin/bash"),
                "#!/bin/bash\necho glibc going\n".to_owned()
            ),
            (
                "filetrigger",
                Some("<lua>"),
                "#!<lua>\nrpm.execute('depmod')".to_owned()
            ),
        ]
    );
    let conditions: Vec<(&str, &str, String)> = package
        .triggers
        .iter()
        .map(|trigger| {
            let script = &package.scripts[trigger.script.unwrap()];
            (
                trigger.directive.as_str(),
                trigger.name.as_str(),
                String::from_utf8_lossy(&script.bytes).into_owned(),
            )
        })
        .collect();
    assert_eq!(conditions[0].0, "triggerin");
    assert_eq!(conditions[0].1, "bash (>= 5.1)");
    assert!(conditions[0].2.contains("bash changed"));
    assert_eq!(conditions[1].0, "triggerun");
    assert_eq!(conditions[1].1, "glibc");
    assert!(conditions[1].2.contains("glibc going"));
    assert_eq!(conditions[2].0, "filetriggerin");
    assert_eq!(conditions[2].1, "/usr/lib/modules");
    assert!(conditions[2].2.starts_with("#!<lua>"));
}

#[test]
fn a_trigger_pointing_past_its_scriptlets_is_refused() {
    let bytes = with_extra_tags(
        &gzip_sample(),
        &[
            tagged(1065, strings(&["echo one\n"])),
            tagged(1066, strings(&["bash"])),
            tagged(1068, int32s(&[1 << 16])),
            tagged(1069, int32s(&[7])),
        ],
    );
    let error = refused(&bytes);
    assert!(
        matches!(rpm_problem(&error), RpmProblem::BadTag { tag: 1069, .. }),
        "{error}"
    );
    assert_names(&error, "header", None);
}
