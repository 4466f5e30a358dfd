//! `check`: the installed state on disk against the database, like `rpm -V`:
//! missing paths, type changes, mode drift, file capabilities, content
//! digests, symlink targets.

use crate::root::Root;
use crate::EngineError;
use pkgward_db::{Database, FileKind, PackageStatus};
use pkgward_package::file_capabilities::FileCapabilities;
use rustix::fs::FileType;
use serde::Serialize;

/// One difference between the database and the disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub package: String,
    pub path: String,
    /// `missing`, `type`, `mode`, `capabilities`, `digest`, `target` or
    /// `conffile-modified`.
    pub kind: &'static str,
    pub detail: String,
}

/// Compares every file of `packages` (all installed packages when empty).
pub fn verify(
    root: &Root,
    database: &Database,
    packages: &[String],
) -> Result<Vec<Drift>, EngineError> {
    let mut drifts = Vec::new();
    let installed = database.packages()?;
    for package in installed
        .iter()
        .filter(|package| package.status == PackageStatus::Installed)
    {
        if !packages.is_empty() && !packages.contains(&package.name) {
            continue;
        }
        let mut drift = |path: &str, kind: &'static str, detail: String| {
            drifts.push(Drift {
                package: package.name.clone(),
                path: path.to_owned(),
                kind,
                detail,
            });
        };
        for directory in database.dirs(&package.name)? {
            match root.directory(&directory.path, None) {
                Ok(Some(_)) => {}
                Ok(None) => drift(
                    &directory.path,
                    "missing",
                    "directory is missing".to_owned(),
                ),
                Err(error) => drift(&directory.path, "type", error.to_string()),
            }
        }
        for file in database.files(&package.name)? {
            let Some(status) = root.status(&file.path)? else {
                drift(
                    &file.path,
                    "missing",
                    format!("{} is missing", file.kind.as_str()),
                );
                continue;
            };
            let actual_type = FileType::from_raw_mode(status.st_mode);
            let expected_type = match file.kind {
                FileKind::File | FileKind::Hardlink => FileType::RegularFile,
                FileKind::Symlink => FileType::Symlink,
            };
            if actual_type != expected_type {
                drift(
                    &file.path,
                    "type",
                    format!("expected a {}, found {actual_type:?}", file.kind.as_str()),
                );
                continue;
            }
            if expected_type == FileType::Symlink {
                let target = root.symlink_target(&file.path)?;
                if target != file.target {
                    drift(
                        &file.path,
                        "target",
                        format!(
                            "points to `{}`, recorded `{}`",
                            target.unwrap_or_default(),
                            file.target.clone().unwrap_or_default()
                        ),
                    );
                }
                continue;
            }
            let mode = status.st_mode & 0o7777;
            if mode != file.mode {
                drift(
                    &file.path,
                    "mode",
                    format!("mode {mode:04o}, recorded {:04o}", file.mode),
                );
            }
            // One open for both the attribute and the content.
            let Some(mut opened) = root.open_regular_file(&file.path)? else {
                drift(&file.path, "missing", "file is missing".to_owned());
                continue;
            };
            let capabilities = crate::file_capabilities::read_from(&opened, &file.path)?;
            let recorded = file
                .capabilities
                .as_deref()
                .and_then(|text| FileCapabilities::parse(text).ok());
            if capabilities != recorded {
                let describe = |capabilities: Option<FileCapabilities>| {
                    capabilities.map_or_else(|| "none".to_owned(), |c| format!("`{c}`"))
                };
                drift(
                    &file.path,
                    "capabilities",
                    format!(
                        "file capabilities {}, recorded {}",
                        describe(capabilities),
                        describe(recorded)
                    ),
                );
            }
            let digest = crate::digest::sha256_of_reader(&mut opened)
                .map(Some)
                .map_err(|error| EngineError::Read {
                    path: file.path.clone(),
                    source: error,
                })?;
            let reference = if file.conffile {
                file.conffile_original_digest.as_ref()
            } else {
                file.digest.as_ref()
            };
            if digest.as_ref() != reference {
                let kind = if file.conffile {
                    "conffile-modified"
                } else {
                    "digest"
                };
                drift(
                    &file.path,
                    kind,
                    "content differs from the recorded sha256".to_owned(),
                );
            }
        }
    }
    Ok(drifts)
}
