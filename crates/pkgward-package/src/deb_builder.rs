//! Build `.deb` bytes in tests, including deliberately malformed ones.
//!
//! Tests across the workspace build the packages they need instead of
//! checking in blobs (STYLE 12). Everything here produces bytes in memory;
//! the caller writes them to a temporary file. Tar headers are written by
//! hand rather than with `tar::Builder` so tests can produce what a
//! well-behaved writer never would: bad checksums, non-octal sizes, PAX
//! records that contradict the header, device entries, names with control
//! characters or without UTF-8.

use std::io::Write;

/// Block size of tar archives.
pub const BLOCK: usize = 512;

/// One hand-made tar header. Start from [`RawHeader::file`] and friends and
/// change what the test needs.
#[derive(Debug, Clone)]
pub struct RawHeader {
    /// Stored in the 100-byte name field; longer names are cut (use a GNU
    /// long name or PAX `path` record for those).
    pub name: Vec<u8>,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// The size written into the header.
    pub size: u64,
    /// If set, written verbatim into the 12-byte size field instead of `size`.
    pub raw_size_field: Option<Vec<u8>>,
    /// `b'0'` file, `b'5'` dir, `b'2'` symlink, `b'1'` hardlink, ...
    pub type_byte: u8,
    pub link_name: Vec<u8>,
    pub owner: Vec<u8>,
    pub group: Vec<u8>,
    /// Write a wrong checksum.
    pub corrupt_checksum: bool,
    /// Write the uid in GNU base-256 form (for ids that do not fit octal).
    pub base256_uid: bool,
    /// Raw bytes patched into the block at the given offsets before the
    /// checksum is computed (GNU sparse maps, odd magic values, ...).
    pub patches: Vec<(usize, Vec<u8>)>,
}

impl RawHeader {
    fn new(name: &[u8], type_byte: u8, mode: u32) -> Self {
        Self {
            name: name.to_vec(),
            mode,
            uid: 0,
            gid: 0,
            size: 0,
            raw_size_field: None,
            type_byte,
            link_name: Vec::new(),
            owner: b"root".to_vec(),
            group: b"root".to_vec(),
            corrupt_checksum: false,
            base256_uid: false,
            patches: Vec::new(),
        }
    }

    pub fn file(name: &[u8], size: u64) -> Self {
        let mut header = Self::new(name, b'0', 0o644);
        header.size = size;
        header
    }

    pub fn dir(name: &[u8]) -> Self {
        Self::new(name, b'5', 0o755)
    }

    pub fn symlink(name: &[u8], target: &[u8]) -> Self {
        let mut header = Self::new(name, b'2', 0o777);
        header.link_name = target.to_vec();
        header
    }

    pub fn hardlink(name: &[u8], target: &[u8]) -> Self {
        let mut header = Self::new(name, b'1', 0o644);
        header.link_name = target.to_vec();
        header
    }

    /// Any other type byte (`b'3'` char device, `b'6'` FIFO, `b'S'` sparse, ...).
    pub fn other(name: &[u8], type_byte: u8) -> Self {
        Self::new(name, type_byte, 0o644)
    }

    /// The 512-byte GNU-format header block (as dpkg-deb writes them).
    pub fn to_block(&self) -> [u8; BLOCK] {
        let mut block = [0u8; BLOCK];
        copy_truncated(&mut block[0..100], &self.name);
        write_octal(&mut block[100..108], u64::from(self.mode));
        if self.base256_uid {
            // GNU base-256: high bit of the first byte set, big-endian value.
            let mut field = [0u8; 8];
            field[1..].copy_from_slice(&self.uid.to_be_bytes()[1..]);
            field[0] = 0x80;
            block[108..116].copy_from_slice(&field);
        } else {
            write_octal(&mut block[108..116], self.uid);
        }
        write_octal(&mut block[116..124], self.gid);
        match &self.raw_size_field {
            Some(raw) => copy_truncated(&mut block[124..136], raw),
            None => write_octal(&mut block[124..136], self.size),
        }
        write_octal(&mut block[136..148], 0);
        block[156] = self.type_byte;
        copy_truncated(&mut block[157..257], &self.link_name);
        // GNU magic `ustar  \0`.
        block[257..265].copy_from_slice(b"ustar  \0");
        copy_truncated(&mut block[265..297], &self.owner);
        copy_truncated(&mut block[297..329], &self.group);
        for (offset, bytes) in &self.patches {
            block[*offset..*offset + bytes.len()].copy_from_slice(bytes);
        }
        block[148..156].copy_from_slice(b"        ");
        let sum: u32 = block.iter().map(|&byte| u32::from(byte)).sum();
        let sum = if self.corrupt_checksum { sum + 1 } else { sum };
        let text = format!("{sum:06o}\0 ");
        block[148..156].copy_from_slice(text.as_bytes());
        block
    }
}

fn copy_truncated(field: &mut [u8], value: &[u8]) {
    let length = value.len().min(field.len());
    field[..length].copy_from_slice(&value[..length]);
}

fn write_octal(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    let text = format!("{value:0width$o}");
    let bytes = text.as_bytes();
    let start = bytes.len().saturating_sub(width);
    field[..width].copy_from_slice(&bytes[start..]);
    field[width] = 0;
}

/// Accumulates tar blocks.
#[derive(Debug, Clone, Default)]
pub struct TarBuilder {
    bytes: Vec<u8>,
}

impl TarBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// A header followed by `content`, padded to the block size. The header's
    /// size field is whatever `header` says, so the two may disagree.
    pub fn entry(&mut self, header: &RawHeader, content: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(&header.to_block());
        self.bytes.extend_from_slice(content);
        self.pad();
        self
    }

    pub fn file(&mut self, name: &str, mode: u32, content: &[u8]) -> &mut Self {
        let mut header = RawHeader::file(name.as_bytes(), content.len() as u64);
        header.mode = mode;
        self.entry(&header, content)
    }

    pub fn dir(&mut self, name: &str) -> &mut Self {
        self.entry(&RawHeader::dir(name.as_bytes()), &[])
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(&RawHeader::symlink(name.as_bytes(), target.as_bytes()), &[])
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(
            &RawHeader::hardlink(name.as_bytes(), target.as_bytes()),
            &[],
        )
    }

    /// A PAX extended header (`x`) that applies to the next entry.
    pub fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
        let mut body = Vec::new();
        for (key, value) in records {
            // Each record is `<len> <key>=<value>\n` where len counts itself.
            let rest = key.len() + value.len() + 3;
            let mut length = rest + 1;
            while length.to_string().len() + rest != length {
                length += 1;
            }
            body.extend_from_slice(format!("{length} {key}=").as_bytes());
            body.extend_from_slice(value);
            body.push(b'\n');
        }
        let header = RawHeader::file(b"././@PaxHeader", body.len() as u64);
        let mut header = header;
        header.type_byte = b'x';
        self.entry(&header, &body)
    }

    /// A GNU long name (`L`) record that applies to the next entry.
    pub fn gnu_long_name(&mut self, name: &[u8]) -> &mut Self {
        let mut body = name.to_vec();
        body.push(0);
        let mut header = RawHeader::file(b"././@LongLink", body.len() as u64);
        header.type_byte = b'L';
        self.entry(&header, &body)
    }

    /// A GNU long link target (`K`) record that applies to the next entry.
    pub fn gnu_long_link(&mut self, target: &[u8]) -> &mut Self {
        let mut body = target.to_vec();
        body.push(0);
        let mut header = RawHeader::file(b"././@LongLink", body.len() as u64);
        header.type_byte = b'K';
        self.entry(&header, &body)
    }

    /// Arbitrary bytes, unpadded.
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(bytes);
        self
    }

    fn pad(&mut self) {
        let remainder = self.bytes.len() % BLOCK;
        if remainder != 0 {
            self.bytes.resize(self.bytes.len() + BLOCK - remainder, 0);
        }
    }

    /// The archive with its two end-of-archive zero blocks.
    pub fn finish(&self) -> Vec<u8> {
        let mut bytes = self.bytes.clone();
        bytes.resize(bytes.len() + 2 * BLOCK, 0);
        bytes
    }

    /// The archive without end-of-archive blocks (truncated-looking).
    pub fn finish_without_end(&self) -> Vec<u8> {
        self.bytes.clone()
    }
}

/// Compressions a test can wrap a tar in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Xz,
    Zstd,
    Bzip2,
}

impl Compression {
    /// The member-name suffix (`.xz`).
    pub fn suffix(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Gzip => ".gz",
            Self::Xz => ".xz",
            Self::Zstd => ".zst",
            Self::Bzip2 => ".bz2",
        }
    }

    pub fn compress(self, bytes: &[u8]) -> Vec<u8> {
        match self {
            Self::None => bytes.to_vec(),
            Self::Gzip => {
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                encoder.write_all(bytes).expect("writing to memory");
                encoder.finish().expect("writing to memory")
            }
            Self::Xz => {
                let mut encoder = liblzma::write::XzEncoder::new(Vec::new(), 1);
                encoder.write_all(bytes).expect("writing to memory");
                encoder.finish().expect("writing to memory")
            }
            Self::Zstd => zstd::stream::encode_all(bytes, 3).expect("writing to memory"),
            Self::Bzip2 => {
                let mut encoder =
                    bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                encoder.write_all(bytes).expect("writing to memory");
                encoder.finish().expect("writing to memory")
            }
        }
    }
}

/// An `ar` archive from `(name, content)` members, with correct 60-byte
/// headers and odd-size padding.
pub fn ar_archive(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut bytes = b"!<arch>\n".to_vec();
    for (name, content) in members {
        bytes.extend_from_slice(&ar_member_header(name, content.len() as u64));
        bytes.extend_from_slice(content);
        if content.len() % 2 == 1 {
            bytes.push(b'\n');
        }
    }
    bytes
}

/// One 60-byte ar member header (GNU ar style `name/`).
pub fn ar_member_header(name: &str, size: u64) -> [u8; 60] {
    let text = format!(
        "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
        format!("{name}/"),
        0,
        0,
        0,
        100_644,
        size
    );
    let mut header = [b' '; 60];
    let bytes = text.as_bytes();
    header.copy_from_slice(&bytes[..60]);
    header
}

/// The default control paragraph for test packages.
pub fn control_paragraph(name: &str, version: &str) -> String {
    format!(
        "Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: Test <test@example.invalid>\nDescription: test package\n built by pkgward's test builder\n"
    )
}

/// A control archive holding `control` plus the given extra files.
pub fn control_tar(control: &str, extra_files: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut tar = TarBuilder::new();
    tar.dir("./");
    tar.file("./control", 0o644, control.as_bytes());
    for (name, content, mode) in extra_files {
        tar.file(&format!("./{name}"), *mode, content);
    }
    tar.finish()
}

/// A well-formed `.deb` (format 2.0, `control.tar.gz`, `data.tar<suffix>`)
/// around a given data tar.
pub fn deb_with_data(data_tar: &[u8], compression: Compression) -> Vec<u8> {
    let control = control_tar(&control_paragraph("test-package", "1.0-1"), &[]);
    deb_from_parts(&control, data_tar, compression)
}

/// A well-formed `.deb` from a control tar and a data tar.
pub fn deb_from_parts(control_tar: &[u8], data_tar: &[u8], compression: Compression) -> Vec<u8> {
    let control = Compression::Gzip.compress(control_tar);
    let data = compression.compress(data_tar);
    let data_name = format!("data.tar{}", compression.suffix());
    ar_archive(&[
        ("debian-binary", b"2.0\n"),
        ("control.tar.gz", &control),
        (&data_name, &data),
    ])
}
