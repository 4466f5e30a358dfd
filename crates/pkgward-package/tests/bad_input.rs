//! Hostile and malformed packages (THREATS.md cases 1–22), one test per case,
//! each archive built here with `deb_builder`. Every refusal must name the
//! `ar` member and, where there is one, the entry.
// Tests may run the reference tools (GNU tar) and report loud skips.
#![allow(clippy::disallowed_methods, clippy::print_stderr)]

use pkgward_package::deb::{self, Problem, ReadError};
use pkgward_package::deb_builder::{
    ar_archive, ar_member_header, control_paragraph, control_tar, deb_from_parts, deb_with_data,
    Compression, RawHeader, TarBuilder,
};
use pkgward_package::model::PathProblem;
use pkgward_package::{EntryKind, Limits, Package};
use std::io::Write;

fn read_with(bytes: &[u8], limits: &Limits) -> Result<Package, ReadError> {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(bytes).expect("write temp file");
    file.flush().expect("flush temp file");
    deb::read(file.path(), limits)
}

fn read(bytes: &[u8]) -> Result<Package, ReadError> {
    read_with(bytes, &Limits::default())
}

fn refused(bytes: &[u8]) -> ReadError {
    match read(bytes) {
        Ok(package) => panic!("expected a refusal, got {} entries", package.entries.len()),
        Err(error) => error,
    }
}

/// A `.deb` whose data.tar.gz holds the given tar.
fn data_deb(tar: &TarBuilder) -> Vec<u8> {
    deb_with_data(&tar.finish(), Compression::Gzip)
}

/// Asserts the member and entry named by the error, and that the rendered
/// message names them too.
fn assert_names(error: &ReadError, member: &str, entry: Option<&str>) {
    assert_eq!(error.member.as_deref(), Some(member), "{error}");
    assert_eq!(error.entry.as_deref(), entry, "{error}");
    let message = error.to_string();
    assert!(message.contains(&format!("member `{member}`")), "{message}");
    if let Some(entry) = entry {
        let shown = format!("entry `{}`", entry.escape_debug());
        assert!(message.contains(&shown), "{message}");
    }
}

fn path_problem(error: &ReadError) -> &PathProblem {
    match &*error.problem {
        Problem::BadPath(problem) => problem,
        other => panic!("expected a path problem, got {other:?}"),
    }
}

#[test]
fn well_formed_test_package_is_read_in_every_compression() {
    for compression in [
        Compression::None,
        Compression::Gzip,
        Compression::Xz,
        Compression::Zstd,
        Compression::Bzip2,
    ] {
        let mut tar = TarBuilder::new();
        tar.dir("./")
            .dir("./usr/")
            .dir("./usr/bin/")
            .file("./usr/bin/tool", 0o4755, b"#!/bin/sh\necho hi\n")
            .symlink("./usr/bin/alias", "tool")
            .hardlink("./usr/bin/again", "./usr/bin/tool");
        let package = read(&deb_with_data(&tar.finish(), compression)).expect("reads");
        let paths: Vec<_> = package.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/",
                "/usr",
                "/usr/bin",
                "/usr/bin/tool",
                "/usr/bin/alias",
                "/usr/bin/again"
            ],
            "{compression:?}"
        );
        let tool = &package.entries[3];
        assert_eq!(tool.mode, 0o4755);
        assert_eq!(tool.size, 18);
        let expected = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
            b"#!/bin/sh\necho hi\n",
        ));
        assert_eq!(tool.sha256.as_deref(), Some(expected.as_str()));
        assert_eq!(package.entries[4].target.as_deref(), Some("tool"));
        assert_eq!(package.entries[5].target.as_deref(), Some("/usr/bin/tool"));
        assert_eq!(package.entries[5].kind, EntryKind::Hardlink);
        assert_eq!(package.installed_size, 18);
        assert_eq!(package.name, "test-package");
    }
}

// --- 1. absolute paths ---------------------------------------------------

#[test]
fn case01_absolute_paths_are_refused() {
    for name in ["/tmp/outside/sentinel", "//tmp/outside/sentinel"] {
        let mut tar = TarBuilder::new();
        tar.file(name, 0o644, b"x");
        let error = refused(&data_deb(&tar));
        assert_names(&error, "data.tar.gz", Some(name));
        assert_eq!(path_problem(&error), &PathProblem::Absolute);
    }
}

// --- 2. parent traversal -------------------------------------------------

#[test]
fn case02_parent_components_are_refused() {
    for name in [
        "../outside/sentinel",
        "usr/../../outside/x",
        "tmp/../../moo",
    ] {
        let mut tar = TarBuilder::new();
        tar.file(name, 0o644, b"x");
        let error = refused(&data_deb(&tar));
        assert_names(&error, "data.tar.gz", Some(name));
        assert_eq!(path_problem(&error), &PathProblem::ParentComponent);
    }
}

// --- 3. symlink, then a write through it ---------------------------------

#[test]
fn case03_entry_beneath_an_archive_symlink_is_refused() {
    let mut tar = TarBuilder::new();
    tar.symlink("./lnk", "/tmp/outside")
        .file("./lnk/sentinel", 0o644, b"PWN");
    let error = refused(&data_deb(&tar));
    assert_names(&error, "data.tar.gz", Some("./lnk/sentinel"));
    assert!(matches!(
        &*error.problem,
        Problem::BeneathNonDirectory { ancestor, kind: EntryKind::Symlink } if ancestor == "/lnk"
    ));
}

// --- 4. symlink, then a file of the same name ----------------------------

#[test]
fn case04_symlink_then_same_name_file_is_a_duplicate() {
    let mut tar = TarBuilder::new();
    tar.symlink("./x", "/tmp/outside/sentinel")
        .file("./x", 0o644, b"PWN");
    let error = refused(&data_deb(&tar));
    assert_names(&error, "data.tar.gz", Some("./x"));
    assert!(matches!(&*error.problem, Problem::DuplicateEntry { path } if path == "/x"));
}

// --- 5. relative symlink chains ------------------------------------------

#[test]
fn case05_relative_symlink_chains_are_refused() {
    let mut tar = TarBuilder::new();
    tar.symlink("cur", ".")
        .symlink("par", "cur/..")
        .file("par/moo", 0o644, b"x");
    let error = refused(&data_deb(&tar));
    assert_names(&error, "data.tar.gz", Some("par/moo"));
    assert!(matches!(
        &*error.problem,
        Problem::BeneathNonDirectory { .. }
    ));

    let mut tar = TarBuilder::new();
    tar.dir("dir/")
        .symlink("dir/up", "..")
        .symlink("dir/up/up2", "..")
        .file("dir/up/up2/pwned", 0o644, b"x");
    let error = refused(&data_deb(&tar));
    assert_names(&error, "data.tar.gz", Some("dir/up/up2"));
    assert!(matches!(
        &*error.problem,
        Problem::BeneathNonDirectory { ancestor, .. } if ancestor == "/dir/up"
    ));
}

// --- 6. symlink, then a directory of the same name -----------------------

#[test]
fn case06_symlink_then_same_name_directory_is_a_duplicate() {
    let mut tar = TarBuilder::new();
    tar.symlink("./foo", "/tmp/outside/dir");
    tar.entry(
        &RawHeader {
            mode: 0o777,
            ..RawHeader::dir(b"./foo/")
        },
        &[],
    );
    let error = refused(&data_deb(&tar));
    assert_names(&error, "data.tar.gz", Some("./foo/"));
    assert!(matches!(&*error.problem, Problem::DuplicateEntry { path } if path == "/foo"));
}

// --- 7. hardlinks to outside or to files not in the archive --------------

#[test]
fn case07_hardlinks_outside_the_archive_are_refused() {
    type Check = fn(&Problem) -> bool;
    let cases: [(&str, Check); 3] = [
        ("/etc/shadow", |problem| {
            matches!(
                problem,
                Problem::BadHardlinkTarget {
                    problem: PathProblem::Absolute,
                    ..
                }
            )
        }),
        ("../outside/sentinel", |problem| {
            matches!(
                problem,
                Problem::BadHardlinkTarget {
                    problem: PathProblem::ParentComponent,
                    ..
                }
            )
        }),
        (
            "./etc/shadow",
            |problem| matches!(problem, Problem::HardlinkTargetNotAFile { target } if target == "/etc/shadow"),
        ),
    ];
    for (target, expected) in cases {
        let mut tar = TarBuilder::new();
        tar.hardlink("./h", target).file("./h", 0o644, b"x");
        let error = refused(&data_deb(&tar));
        assert_names(&error, "data.tar.gz", Some("./h"));
        assert!(expected(&error.problem), "{target}: {error}");
    }
}

// --- 8. hardlink to an archive symlink -----------------------------------

#[test]
fn case08_hardlink_to_a_symlink_is_refused() {
    let mut tar = TarBuilder::new();
    tar.symlink("./s", "/tmp/outside/sentinel")
        .hardlink("./h", "./s");
    let error = refused(&data_deb(&tar));
    assert_names(&error, "data.tar.gz", Some("./h"));
    assert!(
        matches!(&*error.problem, Problem::HardlinkTargetNotAFile { target } if target == "/s")
    );
}

// --- 9. setuid bits are reported exactly (the engine strips old inodes) --

#[test]
fn case09_setuid_and_setgid_bits_are_kept_in_the_model() {
    let mut tar = TarBuilder::new();
    tar.file("./usr/bin/tool", 0o4755, b"\x7fELF")
        .file("./usr/bin/group-tool", 0o2755, b"\x7fELF")
        .entry(
            &RawHeader {
                mode: 0o1777,
                ..RawHeader::dir(b"./tmp/")
            },
            &[],
        );
    let package = read(&data_deb(&tar)).expect("reads");
    let modes: Vec<_> = package.entries.iter().map(|entry| entry.mode).collect();
    assert_eq!(modes, [0o4755, 0o2755, 0o1777]);
}

// --- 10. device and FIFO entries -----------------------------------------

#[test]
fn case10_devices_and_fifos_are_refused() {
    for (type_byte, kind) in [
        (b'3', "character device"),
        (b'4', "block device"),
        (b'6', "FIFO"),
    ] {
        let mut tar = TarBuilder::new();
        tar.entry(&RawHeader::other(b"./dev/mem", type_byte), &[]);
        let error = refused(&data_deb(&tar));
        assert_names(&error, "data.tar.gz", Some("./dev/mem"));
        assert!(
            matches!(&*error.problem, Problem::DeviceOrFifo { kind: found } if *found == kind),
            "{error}"
        );
    }
}

// --- 11. setuid file with a capability xattr: read, mode reported --------

#[test]
fn case11_pax_xattrs_do_not_change_the_model() {
    let mut tar = TarBuilder::new();
    tar.pax(&[("SCHILY.xattr.security.capability", b"\x01\x00\x00\x02")])
        .file("./usr/bin/ping", 0o6755, b"\x7fELF");
    let package = read(&data_deb(&tar)).expect("reads");
    assert_eq!(package.entries.len(), 1);
    assert_eq!(package.entries[0].path, "/usr/bin/ping");
    assert_eq!(package.entries[0].mode, 0o6755);
}

// --- 12. numeric ids in base-256 and PAX form are informational ----------

#[test]
fn case12_large_numeric_ids_are_read_as_information() {
    let mut tar = TarBuilder::new();
    tar.entry(
        &RawHeader {
            uid: 1 << 31,
            base256_uid: true,
            owner: Vec::new(),
            ..RawHeader::file(b"./a", 0)
        },
        &[],
    );
    tar.pax(&[("uid", b"4294967296"), ("uname", b"builder")])
        .file("./b", 0o644, b"");
    let package = read(&data_deb(&tar)).expect("reads");
    assert_eq!(package.entries[0].uid, 1 << 31);
    // No name shipped: the numeric id stands in for it.
    assert_eq!(package.entries[0].owner, "2147483648");
    assert_eq!(package.entries[1].uid, 1 << 32);
    assert_eq!(package.entries[1].owner, "builder");
}

// --- 13. zstd window and xz dictionary bombs ------------------------------

#[test]
fn case13_zstd_frame_declaring_a_2_gib_window_is_refused() {
    // Frame header: magic, descriptor 0x00 (no single-segment flag, so a
    // window descriptor follows), window descriptor exponent 21 => 2^31.
    let mut frame = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3];
    // One last raw block of 180 bytes.
    let block_size: u32 = 180;
    let block_header = (block_size << 3) | 1;
    frame.extend_from_slice(&block_header.to_le_bytes()[..3]);
    frame.extend(std::iter::repeat_n(0u8, 180));
    let control = Compression::Gzip.compress(&control_tar(&control_paragraph("bomb", "1"), &[]));
    let bytes = ar_archive(&[
        ("debian-binary", b"2.0\n"),
        ("control.tar.gz", &control),
        ("data.tar.zst", &frame),
    ]);
    let started = std::time::Instant::now();
    let error = refused(&bytes);
    assert_names(&error, "data.tar.zst", None);
    assert!(
        matches!(
            &*error.problem,
            Problem::ZstdWindowTooLarge { limit_log: 27 }
        ),
        "{error}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn case13_xz_stream_with_a_1_5_gib_dictionary_is_refused() {
    let mut tar = TarBuilder::new();
    tar.file("./a", 0o644, b"hello");
    let mut xz = Compression::Xz.compress(&tar.finish());
    // The first block header follows the 12-byte stream header: size byte,
    // flags 0x00 (one filter, no sizes), filter id 0x21 (LZMA2), properties
    // size 1, then the dictionary size byte. 37 encodes 3 << 29 = 1.5 GiB.
    assert_eq!(
        &xz[13..16],
        &[0x00, 0x21, 0x01],
        "unexpected xz block header layout"
    );
    let header_length = (usize::from(xz[12]) + 1) * 4;
    xz[16] = 37;
    let mut crc = flate2::Crc::new();
    crc.update(&xz[12..12 + header_length - 4]);
    xz[12 + header_length - 4..12 + header_length].copy_from_slice(&crc.sum().to_le_bytes());
    let control = Compression::Gzip.compress(&control_tar(&control_paragraph("bomb", "1"), &[]));
    let bytes = ar_archive(&[
        ("debian-binary", b"2.0\n"),
        ("control.tar.gz", &control),
        ("data.tar.xz", &xz),
    ]);
    let error = refused(&bytes);
    assert_names(&error, "data.tar.xz", None);
    assert!(
        matches!(&*error.problem, Problem::XzDictionaryTooLarge { .. }),
        "{error}"
    );
}

// --- 14. size bombs ------------------------------------------------------

#[test]
fn case14_uncompressed_size_limit_stops_a_zero_bomb() {
    let zeros = vec![0u8; 4 << 20];
    let mut tar = TarBuilder::new();
    tar.file("./zeros", 0o644, &zeros);
    let bytes = deb_with_data(&tar.finish(), Compression::Zstd);
    assert!(bytes.len() < 64 * 1024, "the bomb should compress well");
    let limits = Limits {
        max_total_uncompressed: 1 << 20,
        ..Limits::default()
    };
    let error = read_with(&bytes, &limits).expect_err("refused");
    assert_names(&error, "data.tar.zst", Some("./zeros"));
    assert!(matches!(
        &*error.problem,
        Problem::UncompressedTooLarge { limit } if *limit == 1 << 20
    ));
}

#[test]
fn case14_huge_declared_size_with_a_short_body_is_truncation() {
    let mut tar = TarBuilder::new();
    tar.entry(
        &RawHeader {
            raw_size_field: Some(b"77777777777\0".to_vec()),
            ..RawHeader::file(b"./big", 0)
        },
        b"short",
    );
    let error = refused(&data_deb(&tar));
    assert_names(&error, "data.tar.gz", Some("./big"));
    assert!(
        matches!(
            &*error.problem,
            Problem::Truncated { .. } | Problem::ContentSizeMismatch { .. }
        ),
        "{error}"
    );
}

// --- 15. sparse files ----------------------------------------------------

#[test]
fn case15_gnu_sparse_entries_are_refused() {
    let mut tar = TarBuilder::new();
    // GNU sparse header: one map entry (512 bytes at the very end) at byte
    // 386, real size at byte 483: ~8 GiB of apparent size from 512 stored bytes.
    let mut header = RawHeader::other(b"./sparse", b'S');
    header.size = 512;
    header.patches = vec![
        (386, b"77777776000\0".to_vec()),
        (398, b"00000001000\0".to_vec()),
        (483, b"77777777000\0".to_vec()),
    ];
    tar.entry(&header, &[1u8; 512]);
    let error = refused(&data_deb(&tar));
    assert_names(&error, "data.tar.gz", Some("./sparse"));
    assert!(matches!(&*error.problem, Problem::Sparse), "{error}");

    let mut tar = TarBuilder::new();
    tar.pax(&[
        ("GNU.sparse.major", b"1"),
        ("GNU.sparse.minor", b"0"),
        ("GNU.sparse.realsize", b"1099511627776"),
    ])
    .file("./pax-sparse", 0o644, b"");
    let error = refused(&data_deb(&tar));
    assert_names(&error, "data.tar.gz", Some("./pax-sparse"));
    assert!(matches!(&*error.problem, Problem::Sparse), "{error}");
}

// --- 16. duplicates after canonicalisation -------------------------------

#[test]
fn case16_duplicates_are_refused_after_canonicalisation() {
    let cases: [(&[(&str, bool)], &str); 4] = [
        (&[("usr/bin/a", false), ("usr/bin/a", false)], "usr/bin/a"),
        (&[("./a", false), ("a", false)], "a"),
        (&[("a", false), ("a/", true)], "a/"),
        (
            &[("./usr//bin/./b", false), ("usr/bin/b", false)],
            "usr/bin/b",
        ),
    ];
    for (entries, second) in cases {
        let mut tar = TarBuilder::new();
        for (name, is_dir) in entries {
            if *is_dir {
                tar.dir(name);
            } else {
                tar.file(name, 0o644, name.as_bytes());
            }
        }
        let error = refused(&data_deb(&tar));
        assert_names(&error, "data.tar.gz", Some(second));
        assert!(
            matches!(&*error.problem, Problem::DuplicateEntry { .. }),
            "{error}"
        );
    }
}

// --- 17. PAX size smuggling (CVE-2025-62518 / CVE-2026-33055) --------------

/// PAX `size=2048` in front of a header saying 8: the 2048 bytes of content
/// swallow a symlink header that a reader honouring the header size would see.
fn pax_smuggle_tar() -> Vec<u8> {
    let mut tar = TarBuilder::new();
    tar.pax(&[("size", b"2048")]);
    let mut content = b"harmless".to_vec();
    content.resize(512, 0);
    content.extend_from_slice(&RawHeader::symlink(b"smuggled", b"/etc/shadow").to_block());
    content.resize(2048, 0);
    tar.entry(&RawHeader::file(b"regular.txt", 8), &content);
    tar.finish()
}

#[test]
fn case17_pax_size_smuggling_matches_gnu_tar() {
    let tar_bytes = pax_smuggle_tar();
    let package = read(&deb_with_data(&tar_bytes, Compression::None)).expect("reads");
    let ours: Vec<_> = package.entries.iter().map(|e| e.path.clone()).collect();
    // The stored reference list (what GNU tar and Go archive/tar report).
    assert_eq!(ours, ["/regular.txt"]);
    assert_eq!(package.entries[0].size, 2048);
    assert!(package.entries.iter().all(|e| e.kind != EntryKind::Symlink));

    // And, where GNU tar is installed, the live comparison.
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(&tar_bytes).expect("write");
    match std::process::Command::new("tar")
        .arg("-tf")
        .arg(file.path())
        .output()
    {
        Ok(output) if output.status.success() => {
            let gnu: Vec<String> = String::from_utf8_lossy(&output.stdout)
                .lines()
                .map(|line| format!("/{}", line.trim_start_matches("./")))
                .collect();
            assert_eq!(ours, gnu);
        }
        other => eprintln!("SKIPPED live GNU tar comparison: `tar -tf` unavailable ({other:?})"),
    }
}

// --- 18. malformed headers -----------------------------------------------

#[test]
fn case18_bad_header_checksum_is_refused() {
    let mut tar = TarBuilder::new();
    tar.file("./ok", 0o644, b"x").entry(
        &RawHeader {
            corrupt_checksum: true,
            ..RawHeader::file(b"./bad", 0)
        },
        &[],
    );
    let error = refused(&data_deb(&tar));
    assert_eq!(error.member.as_deref(), Some("data.tar.gz"));
    assert!(
        matches!(&*error.problem, Problem::MalformedTar { message } if message.contains("checksum")),
        "{error}"
    );
}

#[test]
fn case18_non_octal_size_is_refused() {
    let mut tar = TarBuilder::new();
    tar.entry(
        &RawHeader {
            raw_size_field: Some(b"12x4\0".to_vec()),
            ..RawHeader::file(b"./bad-size", 0)
        },
        &[],
    );
    let error = refused(&data_deb(&tar));
    assert_eq!(error.member.as_deref(), Some("data.tar.gz"));
    assert!(
        matches!(&*error.problem, Problem::MalformedTar { .. }),
        "{error}"
    );
}

#[test]
fn case18_truncated_tar_is_refused() {
    let mut tar = TarBuilder::new();
    tar.file("./a", 0o644, &[7u8; 3000]);
    let mut bytes = tar.finish();
    bytes.truncate(1024);
    let error = refused(&deb_with_data(&bytes, Compression::Gzip));
    assert_names(&error, "data.tar.gz", Some("./a"));
    assert!(
        matches!(
            &*error.problem,
            Problem::Truncated { .. } | Problem::ContentSizeMismatch { .. }
        ),
        "{error}"
    );
}

#[test]
fn case18_missing_end_of_archive_blocks_are_refused() {
    let mut tar = TarBuilder::new();
    tar.file("./a", 0o644, b"x");
    let error = refused(&deb_with_data(&tar.finish_without_end(), Compression::Gzip));
    assert_names(&error, "data.tar.gz", None);
    assert!(
        matches!(&*error.problem, Problem::MissingEndOfArchive),
        "{error}"
    );
}

#[test]
fn case18_gnu_long_name_without_a_following_entry_is_refused() {
    let mut tar = TarBuilder::new();
    tar.gnu_long_name(b"./orphan-long-name");
    let error = refused(&data_deb(&tar));
    assert_eq!(error.member.as_deref(), Some("data.tar.gz"));
    assert!(
        matches!(&*error.problem, Problem::MalformedTar { .. }),
        "{error}"
    );
}

#[test]
fn case18_long_name_with_embedded_nul_is_refused() {
    let mut tar = TarBuilder::new();
    tar.gnu_long_name(b"./usr/bin/evil\0/../../etc/shadow")
        .file("./placeholder", 0o644, b"x");
    let error = refused(&data_deb(&tar));
    assert_names(
        &error,
        "data.tar.gz",
        Some("./usr/bin/evil\0/../../etc/shadow"),
    );
    assert_eq!(path_problem(&error), &PathProblem::Nul);
}

#[test]
fn case18_dot_dot_exactly_at_byte_100_is_refused() {
    let mut name = b"./".to_vec();
    name.extend(std::iter::repeat_n(b'a', 95));
    name.extend_from_slice(b"/..");
    assert_eq!(name.len(), 100);
    let mut tar = TarBuilder::new();
    tar.entry(&RawHeader::file(&name, 0), &[]);
    let error = refused(&data_deb(&tar));
    assert_eq!(error.member.as_deref(), Some("data.tar.gz"));
    assert_eq!(path_problem(&error), &PathProblem::ParentComponent);
}

// --- 19. control characters and non-UTF-8 --------------------------------

#[test]
fn case19_control_characters_in_names_are_refused() {
    for name in ["./usr/share/a\nb", "./usr/share/\x1b[2J"] {
        let mut tar = TarBuilder::new();
        tar.file(name, 0o644, b"x");
        let error = refused(&data_deb(&tar));
        assert_names(&error, "data.tar.gz", Some(name));
        assert_eq!(path_problem(&error), &PathProblem::ControlCharacter);
        assert!(!error.to_string().contains('\n'), "raw newline in {error}");
        assert!(!error.to_string().contains('\x1b'), "raw escape in {error}");
    }
}

#[test]
fn case19_non_utf8_names_are_refused() {
    let mut tar = TarBuilder::new();
    tar.entry(&RawHeader::file(b"./usr/share/\xff\xfe", 0), &[]);
    let error = refused(&data_deb(&tar));
    assert_names(&error, "data.tar.gz", Some("./usr/share/\u{fffd}\u{fffd}"));
    assert!(matches!(&*error.problem, Problem::NonUtf8Name), "{error}");
}

// --- 20. long names and targets ------------------------------------------

#[test]
fn case20_over_long_component_path_depth_and_target_are_refused() {
    let long_component = format!("./{}", "c".repeat(256));
    let mut tar = TarBuilder::new();
    tar.gnu_long_name(long_component.as_bytes())
        .file("placeholder", 0o644, b"");
    let error = refused(&data_deb(&tar));
    assert_names(&error, "data.tar.gz", Some(&long_component));
    assert_eq!(
        path_problem(&error),
        &PathProblem::ComponentTooLong {
            length: 256,
            limit: 255
        }
    );

    let long_path = format!("./{}", vec!["d".repeat(200); 21].join("/"));
    let mut tar = TarBuilder::new();
    tar.pax(&[("path", long_path.as_bytes())])
        .file("placeholder", 0o644, b"");
    let error = refused(&data_deb(&tar));
    assert_names(&error, "data.tar.gz", Some(&long_path));
    assert!(matches!(
        path_problem(&error),
        PathProblem::TooLong { limit: 4095, .. }
    ));

    let deep_path = format!("./{}", ["x"; 200].join("/"));
    let mut tar = TarBuilder::new();
    tar.pax(&[("path", deep_path.as_bytes())])
        .file("placeholder", 0o644, b"");
    let error = refused(&data_deb(&tar));
    assert_names(&error, "data.tar.gz", Some(&deep_path));
    assert!(matches!(
        path_problem(&error),
        PathProblem::TooDeep { depth: 200, .. }
    ));

    let long_target = "t".repeat(5000);
    let mut tar = TarBuilder::new();
    tar.gnu_long_link(long_target.as_bytes())
        .symlink("./link", "placeholder");
    let error = refused(&data_deb(&tar));
    assert_names(&error, "data.tar.gz", Some("./link"));
    assert!(matches!(
        &*error.problem,
        Problem::TargetTooLong {
            length: 5000,
            limit: 4095
        }
    ));
}

// --- 21. the ar layer ----------------------------------------------------

fn members() -> (Vec<u8>, Vec<u8>) {
    let control = Compression::Gzip.compress(&control_tar(&control_paragraph("pkg", "1"), &[]));
    let mut tar = TarBuilder::new();
    tar.file("./a", 0o644, b"x");
    let data = Compression::Gzip.compress(&tar.finish());
    (control, data)
}

#[test]
fn case21_members_out_of_order_are_refused() {
    let (control, data) = members();
    let error = refused(&ar_archive(&[
        ("debian-binary", b"2.0\n"),
        ("data.tar.gz", &data),
        ("control.tar.gz", &control),
    ]));
    assert_names(&error, "data.tar.gz", None);
    assert!(
        matches!(&*error.problem, Problem::UnexpectedMember { .. }),
        "{error}"
    );

    let error = refused(&ar_archive(&[
        ("control.tar.gz", &control),
        ("debian-binary", b"2.0\n"),
        ("data.tar.gz", &data),
    ]));
    assert_names(&error, "control.tar.gz", None);
    assert!(
        matches!(&*error.problem, Problem::MissingDebianBinary),
        "{error}"
    );
}

#[test]
fn case21_format_version_3_is_refused() {
    let (control, data) = members();
    let error = refused(&ar_archive(&[
        ("debian-binary", b"3.0\n"),
        ("control.tar.gz", &control),
        ("data.tar.gz", &data),
    ]));
    assert_names(&error, "debian-binary", None);
    assert!(
        matches!(&*error.problem, Problem::UnsupportedFormatVersion { found } if found == "3.0"),
        "{error}"
    );
}

#[test]
fn case21_two_data_members_are_refused() {
    let (control, data) = members();
    let error = refused(&ar_archive(&[
        ("debian-binary", b"2.0\n"),
        ("control.tar.gz", &control),
        ("data.tar.gz", &data),
        ("data.tar.xz", &data),
    ]));
    assert_names(&error, "data.tar.xz", None);
    assert!(
        matches!(&*error.problem, Problem::UnexpectedMember { .. }),
        "{error}"
    );

    let error = refused(&ar_archive(&[
        ("debian-binary", b"2.0\n"),
        ("control.tar.gz", &control),
        ("control.tar.gz", &control),
        ("data.tar.gz", &data),
    ]));
    assert_names(&error, "control.tar.gz", None);
    assert!(
        matches!(&*error.problem, Problem::UnexpectedMember { reason } if reason.contains("second control"))
    );
}

#[test]
fn case21_member_size_past_end_of_file_is_refused() {
    let (control, _) = members();
    let mut bytes = ar_archive(&[("debian-binary", b"2.0\n"), ("control.tar.gz", &control)]);
    bytes.extend_from_slice(&ar_member_header("data.tar.gz", 1_000_000));
    bytes.extend_from_slice(b"not nearly enough");
    let error = refused(&bytes);
    assert_names(&error, "data.tar.gz", None);
    assert!(
        matches!(
            &*error.problem,
            Problem::Truncated { .. } | Problem::Decompression { .. }
        ),
        "{error}"
    );
}

#[test]
fn case21_member_names_with_slash_or_dot_dot_are_refused() {
    for name in ["../evil", "a/b"] {
        let mut bytes = b"!<arch>\n".to_vec();
        let mut header = ar_member_header("x", 4);
        header[..16].copy_from_slice(format!("{name:<16}").as_bytes());
        bytes.extend_from_slice(&header);
        bytes.extend_from_slice(b"2.0\n");
        let error = refused(&bytes);
        assert_eq!(error.member, None, "{error}");
        assert!(matches!(&*error.problem, Problem::BadMemberName), "{error}");
    }
}

#[test]
fn case21_odd_member_without_padding_byte_is_refused() {
    let (control, data) = members();
    // An odd-sized reserved member (dpkg skips `_` members) as the last
    // member, with its padding byte cut off.
    let mut bytes = ar_archive(&[
        ("debian-binary", b"2.0\n"),
        ("control.tar.gz", &control),
        ("data.tar.gz", &data),
        ("_extra", b"odd"),
    ]);
    assert_eq!(bytes.pop(), Some(b'\n'));
    let error = refused(&bytes);
    assert_names(&error, "_extra", None);
    assert!(
        matches!(&*error.problem, Problem::MissingPadding),
        "{error}"
    );
}

#[test]
fn trailing_garbage_after_the_compressed_stream_is_refused() {
    let (control, mut data) = members();
    data.extend_from_slice(b"garbage");
    let error = refused(&ar_archive(&[
        ("debian-binary", b"2.0\n"),
        ("control.tar.gz", &control),
        ("data.tar.gz", &data),
    ]));
    assert_names(&error, "data.tar.gz", None);
    assert!(
        matches!(
            &*error.problem,
            Problem::Decompression { .. } | Problem::Truncated { .. }
        ),
        "{error}"
    );
}

// --- 22. the control archive ---------------------------------------------

fn control_deb(extra_files: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut tar = TarBuilder::new();
    tar.file("./a", 0o644, b"x");
    deb_from_parts(
        &control_tar(&control_paragraph("pkg", "1"), extra_files),
        &tar.finish(),
        Compression::Gzip,
    )
}

#[test]
fn case22_control_entry_outside_the_control_root_is_refused() {
    let mut tar = TarBuilder::new();
    tar.file("./control", 0o644, control_paragraph("pkg", "1").as_bytes())
        .file("../postinst", 0o755, b"#!/bin/sh\n");
    let mut data = TarBuilder::new();
    data.file("./a", 0o644, b"x");
    let error = refused(&deb_from_parts(
        &tar.finish(),
        &data.finish(),
        Compression::Gzip,
    ));
    assert_names(&error, "control.tar.gz", Some("../postinst"));
    assert_eq!(path_problem(&error), &PathProblem::ParentComponent);

    let mut tar = TarBuilder::new();
    tar.file("./control", 0o644, control_paragraph("pkg", "1").as_bytes())
        .symlink("./postinst", "/bin/sh");
    let error = refused(&deb_from_parts(
        &tar.finish(),
        &data.finish(),
        Compression::Gzip,
    ));
    assert_names(&error, "control.tar.gz", Some("./postinst"));
    assert!(
        matches!(&*error.problem, Problem::BadControlEntry),
        "{error}"
    );
}

#[test]
fn case22_bad_conffiles_are_refused() {
    let cases: [(&[u8], &str); 5] = [
        (b"etc/relative.conf\n", "not an absolute path"),
        (b" /etc/leading-space.conf\n", "leading whitespace"),
        (b"/etc/no-final-newline.conf", "missing final newline"),
        (b"/etc/a.conf\n/etc/a.conf\n", "listed twice"),
        (b"/etc/a.conf\n\n", "empty"),
    ];
    for (content, expected) in cases {
        let error = refused(&control_deb(&[("conffiles", content, 0o644)]));
        assert_names(&error, "control.tar.gz", Some("./conffiles"));
        assert!(
            matches!(&*error.problem, Problem::BadConffiles { reason, .. } if reason.contains(expected)),
            "{expected}: {error}"
        );
    }
}

#[test]
fn case22_duplicate_control_entry_is_refused() {
    let error = refused(&control_deb(&[
        ("postinst", b"#!/bin/sh\n", 0o755),
        ("postinst", b"#!/bin/sh\nrm -rf /\n", 0o755),
    ]));
    assert_names(&error, "control.tar.gz", Some("./postinst"));
    assert!(
        matches!(&*error.problem, Problem::DuplicateEntry { .. }),
        "{error}"
    );
}

#[test]
fn control_files_are_interpreted() {
    let package = read(&control_deb(&[
        ("postinst", b"#!/bin/sh -e\nexit 0\n", 0o755),
        ("config", b"#! /usr/bin/perl\n", 0o755),
        ("prerm", b"no interpreter line\n", 0o755),
        (
            "conffiles",
            b"/etc/pkg.conf\nremove-on-upgrade /etc/old.conf\n",
            0o644,
        ),
        (
            "triggers",
            b"# comment\ninterest-noawait /usr/share/icons\nactivate-noawait ldconfig\n",
            0o644,
        ),
        (
            "md5sums",
            b"d41d8cd98f00b204e9800998ecf8427e  usr/share/doc/pkg/copyright\n",
            0o644,
        ),
    ]))
    .expect("reads");
    let postinst = package
        .script(pkgward_package::ScriptName::Postinst)
        .expect("postinst");
    assert_eq!(postinst.interpreter.as_deref(), Some("/bin/sh"));
    let config = package
        .script(pkgward_package::ScriptName::Config)
        .expect("config");
    assert_eq!(config.interpreter.as_deref(), Some("/usr/bin/perl"));
    let prerm = package
        .script(pkgward_package::ScriptName::Prerm)
        .expect("prerm");
    assert_eq!(prerm.interpreter, None);
    assert_eq!(package.conffiles, ["/etc/pkg.conf"]);
    assert_eq!(package.triggers.len(), 2);
    assert_eq!(package.triggers[0].directive, "interest-noawait");
    assert_eq!(package.triggers[1].name, "ldconfig");
    assert_eq!(
        package.md5sums,
        [(
            "/usr/share/doc/pkg/copyright".to_owned(),
            "d41d8cd98f00b204e9800998ecf8427e".to_owned()
        )]
    );
}

#[test]
fn for_each_data_entry_streams_content_in_archive_order() {
    let mut tar = TarBuilder::new();
    tar.dir("./")
        .file("./a", 0o644, b"first")
        .file("./b", 0o755, b"second");
    let bytes = data_deb(&tar);
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(&bytes).expect("write");
    let mut seen = Vec::new();
    let package = deb::for_each_data_entry(file.path(), &Limits::default(), |entry, content| {
        let mut text = String::new();
        content
            .read_to_string(&mut text)
            .map_err(|error| ReadError {
                artifact: file.path().to_path_buf(),
                member: None,
                entry: Some(entry.path.clone()),
                problem: Box::new(Problem::Io(error)),
            })?;
        seen.push((entry.path.clone(), text));
        Ok::<(), ReadError>(())
    })
    .expect("streams");
    assert_eq!(
        seen,
        [
            ("/".to_owned(), String::new()),
            ("/a".to_owned(), "first".to_owned()),
            ("/b".to_owned(), "second".to_owned())
        ]
    );
    assert_eq!(package.entries.len(), 3);
    assert!(package.entries[1].sha256.is_some());
    // Without file digests: the same entries and artifact digest, no sha256.
    let unhashed = deb::stream_data_entries(
        file.path(),
        &Limits::default(),
        pkgward_package::FileDigests::Skip,
        |_, _| Ok::<(), ReadError>(()),
    )
    .expect("streams");
    assert_eq!(unhashed.artifact_sha256, package.artifact_sha256);
    assert_eq!(unhashed.entries.len(), 3);
    assert!(unhashed.entries.iter().all(|entry| entry.sha256.is_none()));
}

#[test]
fn corrupted_compression_checksum_after_the_tar_end_is_detected() {
    let mut tar = TarBuilder::new();
    tar.file("./a", 0o644, b"content");
    let mut gzip = Compression::Gzip.compress(&tar.finish());
    // The gzip trailer is CRC32 then ISIZE; the tar parser stops at the first
    // end block, so only draining the stream finds this.
    let crc_position = gzip.len() - 8;
    gzip[crc_position] ^= 0xff;
    let control = Compression::Gzip.compress(&control_tar(&control_paragraph("pkg", "1"), &[]));
    let error = refused(&ar_archive(&[
        ("debian-binary", b"2.0\n"),
        ("control.tar.gz", &control),
        ("data.tar.gz", &gzip),
    ]));
    assert_names(&error, "data.tar.gz", None);
    assert!(
        matches!(
            &*error.problem,
            Problem::Decompression {
                compression: "gzip",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn callback_error_stops_the_stream_without_waiting_for_the_rest() {
    #[derive(Debug)]
    enum Outcome {
        Stopped(String),
        Read(#[allow(dead_code)] ReadError),
    }
    impl From<ReadError> for Outcome {
        fn from(error: ReadError) -> Self {
            Self::Read(error)
        }
    }
    // Enough data that the decompressor thread is still producing when the
    // callback gives up: the reader must stop it and return the error.
    let mut tar = TarBuilder::new();
    tar.file("./first", 0o644, b"stop here");
    tar.file("./big", 0o644, &vec![0x5a; 8 << 20]);
    let bytes = deb_with_data(&tar.finish(), Compression::Xz);
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(&bytes).expect("write");

    let mut visited = 0;
    let result = deb::for_each_data_entry(file.path(), &Limits::default(), |entry, _| {
        visited += 1;
        Err(Outcome::Stopped(entry.path.clone()))
    });
    assert!(matches!(result, Err(Outcome::Stopped(path)) if path == "/first"));
    assert_eq!(visited, 1);
}

#[test]
fn case17_pax_records_that_readers_resolve_differently_are_refused() {
    // Duplicate `size`: the tar crate would take the first, GNU tar the last.
    let mut tar = TarBuilder::new();
    tar.pax(&[("size", b"8"), ("size", b"2048")])
        .file("./dup-size", 0o644, b"harmless");
    let error = refused(&data_deb(&tar));
    assert_names(&error, "data.tar.gz", Some("./dup-size"));
    assert!(
        matches!(&*error.problem, Problem::AmbiguousPax { reason } if reason.contains("twice")),
        "{error}"
    );

    // Garbage `size`: the tar crate would silently fall back to the header.
    let mut tar = TarBuilder::new();
    tar.pax(&[("size", b"2048junk")])
        .file("./bad-size", 0o644, b"harmless");
    let error = refused(&data_deb(&tar));
    assert_names(&error, "data.tar.gz", Some("./bad-size"));
    assert!(
        matches!(&*error.problem, Problem::AmbiguousPax { reason } if reason.contains("not a decimal")),
        "{error}"
    );

    // A GNU long name and a PAX path naming different files.
    let mut tar = TarBuilder::new();
    tar.gnu_long_name(b"./usr/share/doc/harmless")
        .pax(&[("path", b"./etc/cron.d/evil")])
        .file("./short", 0o644, b"x");
    let error = refused(&data_deb(&tar));
    assert_names(&error, "data.tar.gz", Some("./usr/share/doc/harmless"));
    assert!(
        matches!(&*error.problem, Problem::AmbiguousPax { reason } if reason.contains("`path`")),
        "{error}"
    );
}

#[test]
fn global_pax_headers_and_unknown_types_are_refused() {
    // A global header (`g`) would rename every later entry for Python's
    // tarfile but is ignored by the tar crate: refuse rather than guess.
    for type_byte in [b'g', b'7', b'V'] {
        let mut tar = TarBuilder::new();
        tar.entry(&RawHeader::other(b"./odd", type_byte), &[])
            .file("./a", 0o644, b"x");
        let error = refused(&data_deb(&tar));
        assert_eq!(error.member.as_deref(), Some("data.tar.gz"));
        assert!(
            matches!(&*error.problem, Problem::UnsupportedEntryType { type_byte: found } if *found == char::from(type_byte).to_string()),
            "{error}"
        );
    }
}

#[test]
fn owner_names_with_control_characters_are_refused() {
    let mut tar = TarBuilder::new();
    tar.pax(&[("uname", b"root\x1b[2Jforged")])
        .file("./a", 0o644, b"x");
    let error = refused(&data_deb(&tar));
    assert_names(&error, "data.tar.gz", Some("./a"));
    assert!(
        matches!(&*error.problem, Problem::BadOwnerName { .. }),
        "{error}"
    );
    assert!(!error.to_string().contains('\x1b'));

    // A newline inside a PAX value is a malformed record for the tar crate
    // (it splits records on newlines), so it is refused one layer earlier.
    let mut tar = TarBuilder::new();
    tar.pax(&[("uname", b"root\nforged: line")])
        .file("./a", 0o644, b"x");
    let error = refused(&data_deb(&tar));
    assert_names(&error, "data.tar.gz", Some("./a"));
    assert!(
        matches!(&*error.problem, Problem::MalformedTar { .. }),
        "{error}"
    );
}

#[test]
fn directories_and_fifos_are_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("temp dir");
    let error = deb::read(dir.path(), &Limits::default()).expect_err("a directory");
    assert!(
        matches!(&*error.problem, Problem::NotARegularFile),
        "{error}"
    );

    let fifo = dir.path().join("fifo.deb");
    match std::process::Command::new("mkfifo").arg(&fifo).status() {
        Ok(status) if status.success() => {
            // Would block forever in open() without the check.
            let error = deb::read(&fifo, &Limits::default()).expect_err("a FIFO");
            assert!(
                matches!(&*error.problem, Problem::NotARegularFile),
                "{error}"
            );
        }
        other => eprintln!("SKIPPED FIFO part: `mkfifo` unavailable ({other:?})"),
    }
}
