//! Builds `.rpm` packages for tests and benchmarks (feature `rpm-builder`),
//! with the `rpm` crate's builder: no `rpmbuild` needed. The reader
//! ([`crate::rpm`]) never uses the `rpm` crate; only this builder does.
//!
//! [`sample`] makes a realistic package (directories, files of varied
//! sizes and modes, a symlink, a `%config(noreplace)` file, a `%ghost`, a
//! shell `%post`), [`locate`] finds the byte ranges of a built package's
//! parts so tests can corrupt each one.

pub use rpm;

use std::path::Path;

/// Write a built package to `path`.
///
/// # Errors
/// When the package cannot be serialised or the file cannot be written.
pub fn write(package: &rpm::Package, path: &Path) -> Result<(), rpm::Error> {
    package.write_file(path)
}

/// A package named `name` with `files` regular files under
/// `/usr/share/NAME/` (sizes cycling through 0 B .. ~64 KiB, some
/// executable), `/usr/bin/NAME` (0755), `/usr/bin/NAME-link` (symlink),
/// `/etc/NAME.conf` (`%config(noreplace)`), `/var/log/NAME.log` (`%ghost`)
/// and a `/bin/sh` `%post`.
///
/// # Errors
/// When the `rpm` builder refuses the package.
pub fn sample(
    name: &str,
    files: usize,
    compression: rpm::CompressionType,
) -> Result<rpm::Package, rpm::Error> {
    let config = rpm::BuildConfig::default().compression(compression);
    let mut builder = rpm::PackageBuilder::new(name, "1.2.3", "MIT", "x86_64", "sample package")
        .using_config(config)
        .release("4.fc40")
        .description("A package built by pkgward's tests.")
        .with_file_contents(
            "",
            rpm::FileOptions::new(format!("/usr/share/{name}")).mode(rpm::FileMode::dir(0o755)),
        )?
        .with_file_contents(
            format!("#!/bin/sh\necho {name}\n"),
            rpm::FileOptions::new(format!("/usr/bin/{name}")).mode(rpm::FileMode::regular(0o755)),
        )?
        .with_file_contents(
            "",
            rpm::FileOptions::new(format!("/usr/bin/{name}-link"))
                .symlink(name.to_owned())
                .mode(rpm::FileMode::symbolic_link(0o777)),
        )?
        .with_file_contents(
            format!("# {name} configuration\nkey = value\n"),
            rpm::FileOptions::new(format!("/etc/{name}.conf"))
                .mode(rpm::FileMode::regular(0o644))
                .is_config_noreplace(),
        )?
        .with_file_contents(
            "",
            rpm::FileOptions::new(format!("/var/log/{name}.log"))
                .mode(rpm::FileMode::regular(0o640))
                .is_ghost(),
        )?
        .post_install_script(format!("echo installed {name}\n"));
    for index in 0..files {
        let size = (index * 7919) % 65_536;
        let content: Vec<u8> = (0..size)
            .map(|byte| u8::try_from((byte * 31 + index) % 251).unwrap_or(0))
            .collect();
        let mode = if index % 5 == 0 { 0o755 } else { 0o644 };
        builder = builder.with_file_contents(
            content,
            rpm::FileOptions::new(format!("/usr/share/{name}/file-{index:05}"))
                .mode(rpm::FileMode::regular(mode)),
        )?;
    }
    builder.build()
}

/// Byte offsets of a package's parts: `signature` (the signature header
/// starts here, after the 96-byte lead), `header` (the main header) and
/// `payload`. `None` when the bytes are not a well-formed package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub signature: usize,
    pub header: usize,
    pub payload: usize,
}

/// Find the [`Layout`] of a package's bytes.
pub fn locate(bytes: &[u8]) -> Option<Layout> {
    // Length of the header structure at `start` and its data store size.
    let header_at = |start: usize| -> Option<(usize, usize)> {
        let intro = bytes.get(start..start + 16)?;
        let entries = u32::from_be_bytes(intro[8..12].try_into().ok()?) as usize;
        let data = u32::from_be_bytes(intro[12..16].try_into().ok()?) as usize;
        Some((16 + entries * 16 + data, data))
    };
    let signature = 96;
    let (signature_length, signature_data) = header_at(signature)?;
    let header = signature + signature_length + (8 - signature_data % 8) % 8;
    let payload = header + header_at(header)?.0;
    Some(Layout {
        signature,
        header,
        payload,
    })
}
