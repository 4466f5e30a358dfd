//! `build-rpms OUT_DIR COUNT FILES [gzip|xz|zstd|none]`: write COUNT sample
//! `.rpm` packages (`rpm_builder::sample`, FILES data files each) into
//! `OUT_DIR`, for `scripts/bench-rpm` and manual peer checks.
#![allow(clippy::print_stderr, clippy::disallowed_methods)]

use pkgward_package::rpm_builder::{self, rpm};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let (Some(directory), Some(Ok(count)), Some(Ok(files))) = (
        arguments.first().map(PathBuf::from),
        arguments.get(1).map(|count| count.parse::<usize>()),
        arguments.get(2).map(|files| files.parse::<usize>()),
    ) else {
        eprintln!("usage: build-rpms OUT_DIR COUNT FILES [gzip|xz|zstd|none]");
        return ExitCode::from(2);
    };
    let compression = match arguments.get(3).map_or("zstd", String::as_str) {
        "gzip" => rpm::CompressionType::Gzip,
        "xz" => rpm::CompressionType::Xz,
        "none" => rpm::CompressionType::None,
        _ => rpm::CompressionType::Zstd,
    };
    if let Err(error) = std::fs::create_dir_all(&directory) {
        eprintln!("cannot create `{}`: {error}", directory.display());
        return ExitCode::FAILURE;
    }
    for index in 0..count {
        let name = format!("bench{index:03}");
        let path = directory.join(format!("{name}.rpm"));
        let written = rpm_builder::sample(&name, files, compression)
            .and_then(|package| rpm_builder::write(&package, &path));
        if let Err(error) = written {
            eprintln!("cannot build `{}`: {error}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
