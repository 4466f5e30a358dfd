//! Robustness: corrupting a valid package at random positions (and cutting it
//! short) must yield either a package or a `ReadError` — never a panic, a hang
//! or an error without the artifact named. Deterministic (fixed seed), so a
//! failure reproduces.

use pkgward_package::deb;
use pkgward_package::deb_builder::{
    control_paragraph, control_tar, deb_from_parts, Compression, TarBuilder,
};
use pkgward_package::Limits;
use std::io::Write;

/// xorshift64*: a tiny deterministic generator, enough to pick positions.
struct Generator(u64);

impl Generator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next() % bound as u64).expect("fits")
    }
}

fn sample_deb(compression: Compression) -> Vec<u8> {
    let mut tar = TarBuilder::new();
    tar.dir("./")
        .dir("./usr/")
        .file("./usr/tool", 0o755, b"#!/bin/sh\necho tool\n")
        .symlink("./usr/alias", "tool")
        .hardlink("./usr/again", "./usr/tool")
        .pax(&[("path", b"./usr/with-pax-name")])
        .file("placeholder", 0o644, b"pax");
    let control = control_tar(
        &control_paragraph("sample", "1.0-1"),
        &[
            ("postinst", b"#!/bin/sh\nexit 0\n", 0o755),
            ("conffiles", b"/etc/sample.conf\n", 0o644),
        ],
    );
    deb_from_parts(&control, &tar.finish(), compression)
}

fn replace_content(file: &mut std::fs::File, bytes: &[u8]) {
    file.set_len(0).expect("truncate");
    std::io::Seek::rewind(file).expect("rewind");
    file.write_all(bytes).expect("write");
}

#[test]
fn random_corruption_never_panics() {
    let mut generator = Generator(0x9e37_79b9_7f4a_7c15);
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    let mut outcomes = (0, 0);
    for compression in [
        Compression::None,
        Compression::Gzip,
        Compression::Xz,
        Compression::Zstd,
        Compression::Bzip2,
    ] {
        let original = sample_deb(compression);
        replace_content(file.as_file_mut(), &original);
        deb::read(file.path(), &Limits::default()).expect("the unmodified sample reads");
        for round in 0..120 {
            let mut bytes = original.clone();
            if round % 10 == 9 {
                let length = generator.below(bytes.len());
                bytes.truncate(length);
            } else {
                for _ in 0..=generator.below(4) {
                    let position = generator.below(bytes.len());
                    bytes[position] ^= 1 << generator.below(8);
                }
            }
            replace_content(file.as_file_mut(), &bytes);
            match deb::read(file.path(), &Limits::default()) {
                Ok(_) => outcomes.0 += 1,
                Err(error) => {
                    assert_eq!(error.artifact, file.path());
                    assert!(!error.to_string().is_empty());
                    outcomes.1 += 1;
                }
            }
        }
    }
    // Most corruptions must be caught (content bytes flips may still read).
    assert!(
        outcomes.1 > outcomes.0,
        "accepted {} / refused {}",
        outcomes.0,
        outcomes.1
    );
}
