//! The installed snapshot a plan starts from: the database's packages plus the
//! on-disk digests of conffiles (measured through the root's fds), so the pure
//! planner can apply dpkg's conffile rules.

use crate::root::Root;
use crate::EngineError;
use pkgward_db::{Database, PackageStatus};
use pkgward_package::{Relations, Version};
use pkgward_plan::planner::{InstalledFile, InstalledPackage, Snapshot};

/// Reads the snapshot of `database`; also measures `extra_conffiles` (the
/// conffiles of packages about to be installed).
pub fn snapshot(
    root: &Root,
    database: Option<&Database>,
    extra_conffiles: &[String],
) -> Result<Snapshot, EngineError> {
    let mut result = Snapshot::default();
    let mut conffiles: Vec<String> = extra_conffiles.to_vec();
    if let Some(database) = database {
        for record in database.packages()? {
            // The database does not record the package format yet: a version
            // dpkg refuses can only have come from an `.rpm` (`1.0^git1`), so
            // it is read with rpm's rules (docs/rpm.md, "Known gap").
            let version = Version::parse(&record.version)
                .or_else(|error| Version::parse_rpm(&record.version).map_err(|_| error))
                .map_err(|error| EngineError::CorruptRecord {
                    package: record.name.clone(),
                    detail: format!("version `{}`: {error}", record.version),
                })?;
            let relations: Relations = if record.relations == "{}" {
                Relations::default()
            } else {
                serde_json::from_str(&record.relations).map_err(|error| {
                    EngineError::CorruptRecord {
                        package: record.name.clone(),
                        detail: format!("relations: {error}"),
                    }
                })?
            };
            let files: Vec<InstalledFile> = database
                .files(&record.name)?
                .into_iter()
                .map(|file| InstalledFile {
                    path: file.path,
                    conffile: file.conffile,
                    conffile_original_digest: file.conffile_original_digest,
                })
                .collect();
            conffiles.extend(
                files
                    .iter()
                    .filter(|file| file.conffile)
                    .map(|file| file.path.clone()),
            );
            result.packages.push(InstalledPackage {
                name: record.name.clone(),
                version,
                relations,
                installed: record.status == PackageStatus::Installed,
                files,
                dirs: database
                    .dirs(&record.name)?
                    .into_iter()
                    .map(|directory| directory.path)
                    .collect(),
            });
        }
    }
    for path in conffiles {
        if let std::collections::hash_map::Entry::Vacant(vacant) =
            result.conffiles_on_disk.entry(path)
        {
            let digest = root.file_digest(vacant.key())?;
            vacant.insert(digest);
        }
    }
    Ok(result)
}
