//! The installed snapshot a plan starts from: the database's packages plus the
//! on-disk digests of conffiles (measured through the root's fds), so the pure
//! planner can apply dpkg's conffile rules.

use crate::root::Root;
use crate::EngineError;
use pkgward_db::{Database, PackageFormat, PackageStatus};
use pkgward_package::{Format, Relations, Version};
use pkgward_plan::planner::{InstalledFile, InstalledPackage, Snapshot};

/// The database's name for a package's format.
pub fn recorded_format(format: Format) -> PackageFormat {
    match format {
        Format::Deb => PackageFormat::Deb,
        Format::Rpm => PackageFormat::Rpm,
    }
}

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
            // Versions and relations are text; the recorded format says
            // whose rules read them (docs/rpm.md, *Versions*): an installed
            // rpm `1.a-1` is older than `1.1-1`, as rpm says, not newer.
            let rpm = record.format == PackageFormat::Rpm;
            let corrupt = |detail: String| EngineError::CorruptRecord {
                package: record.name.clone(),
                detail,
            };
            let version = if rpm {
                Version::parse_rpm(&record.version)
            } else {
                Version::parse(&record.version)
            }
            .map_err(|error| corrupt(format!("version `{}`: {error}", record.version)))?;
            let mut relations: Relations = if record.relations == "{}" {
                Relations::default()
            } else {
                serde_json::from_str(&record.relations)
                    .map_err(|error| corrupt(format!("relations: {error}")))?
            };
            if rpm {
                relations = relations
                    .into_rpm_scheme()
                    .map_err(|error| corrupt(format!("relations: {error}")))?;
            }
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
