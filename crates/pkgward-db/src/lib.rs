//! The package database: the only crate that links SQLite.
//!
//! One gateway type, [`Database`], owns the connection. The database lives at
//! `<root>/var/lib/pkgward/db.sqlite` (see `docs/engine.md` for the whole
//! on-disk state map). It runs in WAL mode so readers (`list`, `files`,
//! `owner`, `check`) keep working while one writer holds the install lock,
//! with `synchronous=FULL` so a committed transaction survives power loss.
//!
//! Schema changes are append-only migrations keyed on `PRAGMA user_version`:
//! migration `n` moves the schema from version `n` to `n + 1`; a released
//! migration is never edited, only followed by a new one.
//!
//! Architecture Invariant: this crate never touches files inside the root
//! other than the database itself; it records what the engine did.

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Errors from the package database. Every message names the database file.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("cannot open the package database `{path}`")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("package database `{path}` has schema version {found}, newer than this pkgward understands ({known})")]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("query on the package database `{path}` failed")]
    Query {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("package `{name}` is not recorded in the package database `{path}`")]
    NotRecorded { path: PathBuf, name: String },
    #[error("package database `{path}` holds an invalid value `{value}` in column `{column}`")]
    InvalidValue {
        path: PathBuf,
        column: &'static str,
        value: String,
    },
}

/// The append-only list of migrations. Index `n` upgrades `user_version` n → n+1.
/// Each `CREATE TABLE` is preceded by a comment saying what the table records.
const MIGRATIONS: &[&str] = &[
    // 0 → 1: the initial schema.
    r"
    -- One row per package known to this root: installed, or removed with its
    -- modified conffiles kept (`config-files`, like dpkg). `name` is unique:
    -- one version of a package is installed at a time.
    CREATE TABLE packages (
        id              INTEGER PRIMARY KEY,
        repo            TEXT NOT NULL,
        name            TEXT NOT NULL UNIQUE,
        version         TEXT NOT NULL,
        architecture    TEXT NOT NULL,
        artifact_sha256 TEXT NOT NULL,
        status          TEXT NOT NULL CHECK (status IN ('installed', 'config-files')),
        installed_at    INTEGER NOT NULL,
        -- Depends/Pre-Depends/Conflicts/Breaks/Replaces/Provides as JSON, so
        -- later plans can check dependencies against what is installed.
        relations       TEXT NOT NULL DEFAULT '{}'
    ) STRICT;

    -- Every non-directory path a package placed, by canonical (resolved) path:
    -- `/lib/x` installed through a usrmerge link is recorded as `/usr/lib/x`.
    -- A path has at most one owner. `digest` is the sha256 of the shipped
    -- content (files only); `target` is the symlink target or the hardlink's
    -- canonical target path. For conffiles, `conffile_original_digest` is the
    -- digest of the content pkgward last put in place, so a later run can tell
    -- whether the administrator edited it (dpkg's conffile hash).
    CREATE TABLE files (
        package_id      INTEGER NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
        path            TEXT NOT NULL PRIMARY KEY,
        kind            TEXT NOT NULL CHECK (kind IN ('file', 'symlink', 'hardlink')),
        mode            INTEGER NOT NULL,
        owner           TEXT NOT NULL,
        grp             TEXT NOT NULL,
        digest          TEXT,
        target          TEXT,
        conffile        INTEGER NOT NULL DEFAULT 0,
        conffile_original_digest TEXT
    ) STRICT;
    CREATE INDEX files_by_package ON files(package_id);

    -- Directories pkgward created or that a package ships, with the metadata
    -- they were given. A directory is shared: its owners are in `dir_owners`
    -- and it is removed from disk (if empty) when the last owner goes.
    CREATE TABLE dirs (
        path  TEXT NOT NULL PRIMARY KEY,
        mode  INTEGER NOT NULL,
        owner TEXT NOT NULL,
        grp   TEXT NOT NULL
    ) STRICT;

    -- Which packages ship which directory: the reference count of `dirs`.
    CREATE TABLE dir_owners (
        path       TEXT NOT NULL REFERENCES dirs(path),
        package_id INTEGER NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
        PRIMARY KEY (path, package_id)
    ) STRICT;
    CREATE INDEX dir_owners_by_package ON dir_owners(package_id);

    -- The policy decisions taken for a package when it was installed, with
    -- their provenance as JSON (rule, file, line, delegation chain), so
    -- `explain` and audits can show why something was allowed.
    CREATE TABLE decisions (
        package_id INTEGER NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
        item       TEXT NOT NULL,
        verdict    TEXT NOT NULL,
        provenance TEXT NOT NULL
    ) STRICT;
    CREATE INDEX decisions_by_package ON decisions(package_id);

    -- The capability footprint of each installed package (JSON from
    -- pkgward-policy), used by upgrades to detect capability growth.
    CREATE TABLE footprints (
        package_id INTEGER NOT NULL PRIMARY KEY REFERENCES packages(id) ON DELETE CASCADE,
        footprint  TEXT NOT NULL
    ) STRICT;

    -- Each maintainer-script run: which script, the sandbox status achieved
    -- (JSON, recorded, never assumed) and the exit code. Filled once scripts run.
    CREATE TABLE script_runs (
        id         INTEGER PRIMARY KEY,
        package_id INTEGER NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
        script     TEXT NOT NULL,
        sandbox_status TEXT NOT NULL,
        exit_code  INTEGER,
        ran_at     INTEGER NOT NULL
    ) STRICT;

    -- Attestations (DSSE envelopes) that admitted a package, with the key that
    -- signed each. Filled once attestation checks run at install.
    CREATE TABLE attestations (
        id         INTEGER PRIMARY KEY,
        package_id INTEGER NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
        key_id     TEXT NOT NULL,
        envelope   TEXT NOT NULL,
        verified_at INTEGER NOT NULL
    ) STRICT;
    ",
    // 1 → 2: declarative actions.
    r"
    -- The declarative actions pkgward carried out for a package instead of its
    -- maintainer scripts (accounts, unit enablement), in plan order, as JSON
    -- (`pkgward_plan::actions::PlannedAction`): removal deletes the symlinks
    -- they made; `files` and `audit` show them. `kind` is the action's tag.
    CREATE TABLE actions (
        package_id INTEGER NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
        kind       TEXT NOT NULL,
        detail     TEXT NOT NULL
    ) STRICT;
    CREATE INDEX actions_by_package ON actions(package_id);
    ",
    // 2 → 3: maintainer scripts and configuration state.
    r"
    -- Whether the package is configured (1, dpkg's `installed`) or not (0,
    -- dpkg's `half-configured`: the files are in place, `postinst configure`
    -- has not succeeded). An install whose postinst is to run records 0; the
    -- configure phase sets 1 when the postinst succeeds.
    ALTER TABLE packages ADD COLUMN configured INTEGER NOT NULL DEFAULT 1;

    -- The maintainer scripts of each installed package, kept so `remove` can
    -- run `prerm` and `postrm`. `content` is base64; `run` says whether the
    -- classification left residue to run in the sandbox.
    CREATE TABLE maintainer_scripts (
        package_id     INTEGER NOT NULL REFERENCES packages(id) ON DELETE CASCADE,
        name           TEXT NOT NULL,
        interpreter    TEXT,
        classification TEXT NOT NULL,
        run            INTEGER NOT NULL,
        content        TEXT NOT NULL,
        -- JSON list: where the package's scripts may write (planned at install).
        writable_paths TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (package_id, name)
    ) STRICT;

    -- What each script run was given and what it asked the shims for.
    ALTER TABLE script_runs ADD COLUMN arguments TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE script_runs ADD COLUMN requests TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE script_runs ADD COLUMN output TEXT NOT NULL DEFAULT '';
    ",
    // 3 → 4: what of a script did not run.
    r"
    -- JSON list: the fully translated debhelper blocks blanked out of the
    -- script before this run (`dh_installsystemd block, lines 4-9`).
    ALTER TABLE script_runs ADD COLUMN neutralised TEXT NOT NULL DEFAULT '[]';
    ",
    // 4 → 5: the last configured version, and runs after a package's rows went.
    r"
    -- The version whose `postinst configure` last succeeded (dpkg's
    -- Config-Version): what `postinst configure` gets as its old version.
    -- Kept across upgrades and reinstalls until the new version is
    -- configured; NULL when no version was ever configured. Rows from before
    -- this column that were configured were configured at their version.
    ALTER TABLE packages ADD COLUMN config_version TEXT;
    UPDATE packages SET config_version = version WHERE configured = 1;

    -- Script runs of a package whose rows were already gone when the script
    -- ran: `postrm remove` and `postrm purge` run after the removal's commit
    -- (dpkg's order), which deletes the package unless conffiles are kept.
    -- Keyed by name and version, with no reference to `packages`: nothing
    -- cascades into it, so the record outlives the package.
    CREATE TABLE removed_script_runs (
        id             INTEGER PRIMARY KEY,
        package        TEXT NOT NULL,
        version        TEXT NOT NULL,
        script         TEXT NOT NULL,
        sandbox_status TEXT NOT NULL,
        exit_code      INTEGER,
        ran_at         INTEGER NOT NULL,
        arguments      TEXT NOT NULL,
        requests       TEXT NOT NULL,
        output         TEXT NOT NULL,
        neutralised    TEXT NOT NULL
    ) STRICT;
    CREATE INDEX removed_script_runs_by_package ON removed_script_runs(package);
    ",
    // 5 → 6: the container format of each package.
    r"
    -- `deb` or `rpm`: which package manager's rules the package's version and
    -- relations follow (dpkg ordering or `rpmvercmp`) and which conventions
    -- its scripts run under. Every package recorded before this column
    -- existed came from a `.deb` (earlier pkgward installed only those).
    ALTER TABLE packages ADD COLUMN format TEXT NOT NULL DEFAULT 'deb';
    ",
    // 6 → 7: file capabilities.
    r"
    -- The file capabilities pkgward gave the file (`security.capability`),
    -- in libcap's text form (`cap_net_raw=ep`), granted by policy; NULL for
    -- none. `check` compares the file's attribute with it.
    ALTER TABLE files ADD COLUMN capabilities TEXT;
    ",
];

/// The container format a recorded package was read from (`deb`, `rpm`).
/// Versions and relations are text in the database; the format says which
/// rules read them back (docs/rpm.md, *Versions*).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageFormat {
    /// Also what a journal written before the column existed means.
    #[default]
    Deb,
    Rpm,
}

impl PackageFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            PackageFormat::Deb => "deb",
            PackageFormat::Rpm => "rpm",
        }
    }
}

/// Whether a package is installed or only its kept conffiles remain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PackageStatus {
    Installed,
    /// Removed without `--purge`; the administrator's modified conffiles are kept.
    ConfigFiles,
}

impl PackageStatus {
    fn as_str(self) -> &'static str {
        match self {
            PackageStatus::Installed => "installed",
            PackageStatus::ConfigFiles => "config-files",
        }
    }
}

/// A package's identity and state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageRecord {
    pub repo: String,
    pub name: String,
    pub version: String,
    pub architecture: String,
    pub artifact_sha256: String,
    pub status: PackageStatus,
    /// Seconds since the Unix epoch.
    pub installed_at: i64,
    /// The package's relationship fields, JSON text.
    pub relations: String,
    /// The format it was read from: the rules its version and relations
    /// follow. Absent in journals written before it existed: `deb`.
    #[serde(default)]
    pub format: PackageFormat,
}

/// The kind of a non-directory path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FileKind {
    File,
    Symlink,
    Hardlink,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::File => "file",
            FileKind::Symlink => "symlink",
            FileKind::Hardlink => "hardlink",
        }
    }
}

/// One non-directory path owned by a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub path: String,
    pub kind: FileKind,
    pub mode: u32,
    pub owner: String,
    pub group: String,
    pub digest: Option<String>,
    pub target: Option<String>,
    pub conffile: bool,
    pub conffile_original_digest: Option<String>,
    /// File capabilities in libcap's text form (`cap_net_raw=ep`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<String>,
}

/// One directory shipped by a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirRecord {
    pub path: String,
    pub mode: u32,
    pub owner: String,
    pub group: String,
}

/// One policy decision recorded for a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub item: String,
    pub verdict: String,
    /// JSON text.
    pub provenance: String,
}

/// One trusted key's attestation that admitted an installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationRecord {
    /// sha256 (hex) of the trusted key's raw bytes.
    pub key_id: String,
    /// The DSSE envelope JSON exactly as it was verified.
    pub envelope: String,
    /// When the installer verified it, seconds since the epoch.
    pub verified_at: i64,
}

/// Everything recorded about a package when it is (re)installed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageInstall {
    pub package: PackageRecord,
    pub files: Vec<FileRecord>,
    pub dirs: Vec<DirRecord>,
    pub decisions: Vec<DecisionRecord>,
    /// JSON text, if a footprint was computed.
    pub footprint: Option<String>,
    /// The declarative actions carried out, in order.
    #[serde(default)]
    pub actions: Vec<ActionRecord>,
    /// The package's maintainer scripts.
    #[serde(default)]
    pub scripts: Vec<ScriptRecord>,
}

/// One declarative action carried out for a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// The action's kind (`accounts`, `enable-unit`, …).
    pub kind: String,
    /// The action as JSON text.
    pub detail: String,
}

/// One maintainer script of an installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptRecord {
    /// `preinst`, `postinst`, `prerm`, `postrm`, `config`.
    pub name: String,
    pub interpreter: Option<String>,
    pub classification: String,
    /// Whether it runs (residue left after translation).
    pub run: bool,
    /// The bytes, base64.
    pub content: String,
    /// Where the package's scripts may write (planned at install).
    #[serde(default)]
    pub writable_paths: Vec<String>,
}

/// One maintainer-script run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptRunRecord {
    pub script: String,
    /// dpkg's arguments (`configure`, the old version …).
    pub arguments: Vec<String>,
    /// The achieved sandbox status (JSON), or the setup error when the
    /// sandbox could not be set up.
    pub sandbox_status: String,
    /// `None` when the script never started.
    pub exit_code: Option<i32>,
    pub ran_at: i64,
    /// What the script asked the shims for (`systemctl start foo`).
    pub requests: Vec<String>,
    /// Captured stdout and stderr (truncated).
    pub output: String,
    /// The fully translated debhelper blocks that did not run.
    #[serde(default)]
    pub neutralised: Vec<String>,
}

/// A script run of a package that was no longer recorded when it ran (its
/// `postrm` after the removal deleted its rows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedScriptRun {
    /// The version that was removed.
    pub version: String,
    pub run: ScriptRunRecord,
}

/// A removal: the package's rows go, except `keep_conffiles` (paths), which
/// stay recorded under status `config-files`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageRemoval {
    pub name: String,
    pub keep_conffiles: Vec<String>,
}

/// One atomic change to the database: removals, then installs (an install
/// replaces any previous rows of the same name). Applying the same change
/// twice yields the same state, which recovery relies on when it rolls a
/// journal forward.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub removals: Vec<PackageRemoval>,
    pub installs: Vec<PackageInstall>,
}

/// The gateway to the package database: the only owner of the connection.
#[derive(Debug)]
pub struct Database {
    connection: Connection,
    path: PathBuf,
}

impl Database {
    /// The schema version this build writes.
    #[allow(clippy::cast_possible_wrap)] // a handful of migrations
    pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

    /// Opens (creating if needed) the database at `path` and applies pending
    /// migrations. The parent directory must exist.
    pub fn open(path: &Path) -> Result<Database, DatabaseError> {
        let open_error = |source| DatabaseError::Open {
            path: path.to_path_buf(),
            source,
        };
        let connection = Connection::open(path).map_err(open_error)?;
        // WAL: readers never block on the writer. synchronous=FULL: WAL
        // frames are fsynced at every commit, so a commit is durable.
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(open_error)?;
        connection
            .pragma_update(None, "synchronous", "FULL")
            .map_err(open_error)?;
        connection
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(open_error)?;
        connection
            .busy_timeout(std::time::Duration::from_secs(30))
            .map_err(open_error)?;
        let mut database = Database {
            connection,
            path: path.to_path_buf(),
        };
        database.migrate()?;
        Ok(database)
    }

    /// The path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn query_error(&self) -> impl Fn(rusqlite::Error) -> DatabaseError + '_ {
        move |source| DatabaseError::Query {
            path: self.path.clone(),
            source,
        }
    }

    /// Runs a query with one text parameter and maps every row: the shape of
    /// the per-package and per-path listings below.
    fn rows_for<T>(
        &self,
        sql: &str,
        parameter: &str,
        map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, DatabaseError> {
        let mut statement = self.connection.prepare(sql).map_err(self.query_error())?;
        let rows = statement
            .query_map([parameter], map)
            .map_err(self.query_error())?;
        rows.collect::<Result<_, _>>().map_err(self.query_error())
    }

    fn migrate(&mut self) -> Result<(), DatabaseError> {
        let path = self.path.clone();
        let error = |source| DatabaseError::Query {
            path: path.clone(),
            source,
        };
        let transaction = self
            .connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(error)?;
        let current: i64 = transaction
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(error)?;
        if current > Self::SCHEMA_VERSION {
            return Err(DatabaseError::TooNew {
                path,
                found: current,
                known: Self::SCHEMA_VERSION,
            });
        }
        let start = usize::try_from(current).unwrap_or(0);
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(start) {
            transaction.execute_batch(migration).map_err(error)?;
            transaction
                .pragma_update(
                    None,
                    "user_version",
                    i64::try_from(index + 1).unwrap_or(i64::MAX),
                )
                .map_err(error)?;
        }
        transaction.commit().map_err(error)
    }

    /// `PRAGMA integrity_check`: `Ok(())` when SQLite reports `ok`, otherwise the report.
    pub fn integrity_check(&self) -> Result<Result<(), String>, DatabaseError> {
        let report: String = self
            .connection
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .map_err(self.query_error())?;
        Ok(if report == "ok" { Ok(()) } else { Err(report) })
    }

    /// All packages, sorted by name.
    pub fn packages(&self) -> Result<Vec<PackageRecord>, DatabaseError> {
        let mut statement = self
            .connection
            .prepare(
                "SELECT repo, name, version, architecture, artifact_sha256, status, installed_at,
                        relations, format
                 FROM packages ORDER BY name",
            )
            .map_err(self.query_error())?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, i64>(6)?,
                    row.get::<_, String>(7)?,
                    row.get::<_, String>(8)?,
                ))
            })
            .map_err(self.query_error())?;
        let mut packages = Vec::new();
        for row in rows {
            let (
                repo,
                name,
                version,
                architecture,
                artifact_sha256,
                status,
                installed_at,
                relations,
                format,
            ) = row.map_err(self.query_error())?;
            let format = match format.as_str() {
                "deb" => PackageFormat::Deb,
                "rpm" => PackageFormat::Rpm,
                _ => {
                    return Err(DatabaseError::InvalidValue {
                        path: self.path.clone(),
                        column: "packages.format",
                        value: format,
                    })
                }
            };
            let status = match status.as_str() {
                "installed" => PackageStatus::Installed,
                "config-files" => PackageStatus::ConfigFiles,
                _ => {
                    return Err(DatabaseError::InvalidValue {
                        path: self.path.clone(),
                        column: "packages.status",
                        value: status,
                    })
                }
            };
            packages.push(PackageRecord {
                repo,
                name,
                version,
                architecture,
                artifact_sha256,
                status,
                installed_at,
                relations,
                format,
            });
        }
        Ok(packages)
    }

    /// The package named `name`, if recorded.
    pub fn package(&self, name: &str) -> Result<Option<PackageRecord>, DatabaseError> {
        Ok(self
            .packages()?
            .into_iter()
            .find(|package| package.name == name))
    }

    /// The files of the package `name`, sorted by path.
    pub fn files(&self, name: &str) -> Result<Vec<FileRecord>, DatabaseError> {
        let mut statement = self
            .connection
            .prepare(
                "SELECT f.path, f.kind, f.mode, f.owner, f.grp, f.digest, f.target, f.conffile,
                        f.conffile_original_digest, f.capabilities
                 FROM files f JOIN packages p ON p.id = f.package_id
                 WHERE p.name = ?1 ORDER BY f.path",
            )
            .map_err(self.query_error())?;
        let rows = statement
            .query_map([name], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, Option<String>>(5)?,
                    row.get::<_, Option<String>>(6)?,
                    row.get::<_, i64>(7)?,
                    row.get::<_, Option<String>>(8)?,
                    row.get::<_, Option<String>>(9)?,
                ))
            })
            .map_err(self.query_error())?;
        let mut files = Vec::new();
        for row in rows {
            let (path, kind, mode, owner, group, digest, target, conffile, original, capabilities) =
                row.map_err(self.query_error())?;
            let kind = match kind.as_str() {
                "file" => FileKind::File,
                "symlink" => FileKind::Symlink,
                "hardlink" => FileKind::Hardlink,
                _ => {
                    return Err(DatabaseError::InvalidValue {
                        path: self.path.clone(),
                        column: "files.kind",
                        value: kind,
                    })
                }
            };
            files.push(FileRecord {
                path,
                kind,
                mode: u32::try_from(mode).map_err(|_| DatabaseError::InvalidValue {
                    path: self.path.clone(),
                    column: "files.mode",
                    value: mode.to_string(),
                })?,
                owner,
                group,
                digest,
                target,
                conffile: conffile != 0,
                conffile_original_digest: original,
                capabilities,
            });
        }
        Ok(files)
    }

    /// The directories the package `name` ships, sorted by path.
    pub fn dirs(&self, name: &str) -> Result<Vec<DirRecord>, DatabaseError> {
        self.rows_for(
            "SELECT d.path, d.mode, d.owner, d.grp
                 FROM dirs d JOIN dir_owners o ON o.path = d.path
                 JOIN packages p ON p.id = o.package_id
                 WHERE p.name = ?1 ORDER BY d.path",
            name,
            |row| {
                Ok(DirRecord {
                    path: row.get(0)?,
                    mode: row.get(1)?,
                    owner: row.get(2)?,
                    group: row.get(3)?,
                })
            },
        )
    }

    /// The packages owning `path` (canonical): the one owner of a file, or all
    /// the owners of a directory, sorted by name.
    pub fn owners(&self, path: &str) -> Result<Vec<String>, DatabaseError> {
        self.rows_for(
            "SELECT p.name FROM files f JOIN packages p ON p.id = f.package_id WHERE f.path = ?1
                 UNION
                 SELECT p.name FROM dir_owners o JOIN packages p ON p.id = o.package_id WHERE o.path = ?1
                 ORDER BY 1",
            path,
            |row| row.get::<_, String>(0),
        )
    }

    /// The decisions recorded for the package `name`.
    /// The declarative actions recorded for `name`, in the order carried out.
    pub fn actions(&self, name: &str) -> Result<Vec<ActionRecord>, DatabaseError> {
        self.rows_for(
            "SELECT a.kind, a.detail FROM actions a
                 JOIN packages p ON p.id = a.package_id WHERE p.name = ?1 ORDER BY a.rowid",
            name,
            |row| {
                Ok(ActionRecord {
                    kind: row.get(0)?,
                    detail: row.get(1)?,
                })
            },
        )
    }

    pub fn decisions(&self, name: &str) -> Result<Vec<DecisionRecord>, DatabaseError> {
        self.rows_for(
            "SELECT d.item, d.verdict, d.provenance FROM decisions d
                 JOIN packages p ON p.id = d.package_id WHERE p.name = ?1 ORDER BY d.rowid",
            name,
            |row| {
                Ok(DecisionRecord {
                    item: row.get(0)?,
                    verdict: row.get(1)?,
                    provenance: row.get(2)?,
                })
            },
        )
    }

    /// The footprint JSON recorded for the package `name`.
    pub fn footprint(&self, name: &str) -> Result<Option<String>, DatabaseError> {
        self.connection
            .query_row(
                "SELECT f.footprint FROM footprints f JOIN packages p ON p.id = f.package_id
                 WHERE p.name = ?1",
                [name],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.query_error())
    }

    /// The maintainer scripts recorded for the package `name`.
    pub fn scripts(&self, name: &str) -> Result<Vec<ScriptRecord>, DatabaseError> {
        self.rows_for(
            "SELECT s.name, s.interpreter, s.classification, s.run, s.content, s.writable_paths
             FROM maintainer_scripts s JOIN packages p ON p.id = s.package_id
             WHERE p.name = ?1 ORDER BY s.name",
            name,
            |row| {
                Ok(ScriptRecord {
                    name: row.get(0)?,
                    interpreter: row.get(1)?,
                    classification: row.get(2)?,
                    run: row.get::<_, i64>(3)? != 0,
                    content: row.get(4)?,
                    writable_paths: serde_json::from_str(&row.get::<_, String>(5)?)
                        .unwrap_or_default(),
                })
            },
        )
    }

    /// Whether the package `name`'s configuration succeeded; `None` when it
    /// is not recorded.
    pub fn configured(&self, name: &str) -> Result<Option<bool>, DatabaseError> {
        self.connection
            .query_row(
                "SELECT configured FROM packages WHERE name = ?1",
                [name],
                |row| row.get::<_, i64>(0),
            )
            .optional()
            .map(|configured| configured.map(|value| value != 0))
            .map_err(self.query_error())
    }

    /// `NotRecorded` when a statement about package `name` changed no row.
    fn touched_package(&self, changed: usize, name: &str) -> Result<(), DatabaseError> {
        if changed == 0 {
            return Err(DatabaseError::NotRecorded {
                path: self.path.clone(),
                name: name.to_owned(),
            });
        }
        Ok(())
    }

    /// Marks the package `name` configured (`postinst configure` succeeded,
    /// so its version becomes the last configured one) or half-configured
    /// (the last configured version stays).
    pub fn set_configured(&mut self, name: &str, configured: bool) -> Result<(), DatabaseError> {
        let changed = self
            .connection
            .execute(
                "UPDATE packages SET configured = ?2,
                        config_version = CASE WHEN ?2 THEN version ELSE config_version END
                 WHERE name = ?1",
                params![name, i64::from(configured)],
            )
            .map_err(self.query_error())?;
        self.touched_package(changed, name)
    }

    /// The version of package `name` whose `postinst configure` last
    /// succeeded (dpkg's Config-Version), the old version `postinst
    /// configure` is given; `None` when none was (or `name` is not recorded).
    pub fn configured_version(&self, name: &str) -> Result<Option<String>, DatabaseError> {
        self.connection
            .query_row(
                "SELECT config_version FROM packages WHERE name = ?1",
                [name],
                |row| row.get::<_, Option<String>>(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(self.query_error())
    }

    /// Records one script run of the package `name`.
    pub fn record_script_run(
        &mut self,
        name: &str,
        run: &ScriptRunRecord,
    ) -> Result<(), DatabaseError> {
        let changed = self
            .connection
            .execute(
                "INSERT INTO script_runs (package_id, script, sandbox_status, exit_code, ran_at,
                                          arguments, requests, output, neutralised)
                 SELECT id, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM packages WHERE name = ?1",
                rusqlite::params_from_iter(
                    std::iter::once(SqlValue::from(name.to_owned())).chain(script_run_values(run)),
                ),
            )
            .map_err(self.query_error())?;
        self.touched_package(changed, name)
    }

    /// Records one script run of package `name` `version` whose rows are
    /// gone (a `postrm` after the removal's commit), by name and version.
    pub fn record_removed_script_run(
        &mut self,
        name: &str,
        version: &str,
        run: &ScriptRunRecord,
    ) -> Result<(), DatabaseError> {
        let key = [name, version].map(|text| SqlValue::from(text.to_owned()));
        self.connection
            .execute(
                "INSERT INTO removed_script_runs (package, version, script, sandbox_status,
                                                  exit_code, ran_at, arguments, requests, output,
                                                  neutralised)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                rusqlite::params_from_iter(key.into_iter().chain(script_run_values(run))),
            )
            .map_err(self.query_error())?;
        Ok(())
    }

    /// Every script run recorded for package `name` after its rows were
    /// gone, oldest first.
    pub fn removed_script_runs(&self, name: &str) -> Result<Vec<RemovedScriptRun>, DatabaseError> {
        self.rows_for(
            "SELECT script, arguments, sandbox_status, exit_code, ran_at, requests, output,
                    neutralised, version
             FROM removed_script_runs WHERE package = ?1 ORDER BY id",
            name,
            |row| {
                Ok(RemovedScriptRun {
                    run: script_run_from_row(row)?,
                    version: row.get(8)?,
                })
            },
        )
    }

    /// Every recorded script run of the package `name`, oldest first.
    pub fn script_runs(&self, name: &str) -> Result<Vec<ScriptRunRecord>, DatabaseError> {
        self.rows_for(
            "SELECT r.script, r.arguments, r.sandbox_status, r.exit_code, r.ran_at, r.requests,
                    r.output, r.neutralised
             FROM script_runs r JOIN packages p ON p.id = r.package_id
             WHERE p.name = ?1 ORDER BY r.id",
            name,
            script_run_from_row,
        )
    }

    /// Records the attestations that admitted the installed package `name`,
    /// replacing any recorded for it before, in one SQLite transaction.
    /// Idempotent. Rows go with the package (`ON DELETE CASCADE`), so a
    /// reinstall or removal never leaves stale attestations behind.
    pub fn record_attestations(
        &mut self,
        name: &str,
        records: &[AttestationRecord],
    ) -> Result<(), DatabaseError> {
        let path = self.path.clone();
        let error = |source| DatabaseError::Query {
            path: path.clone(),
            source,
        };
        let transaction = self
            .connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(error)?;
        let Some(id) = transaction
            .query_row(
                "SELECT id FROM packages WHERE name = ?1 AND status = 'installed'",
                [name],
                |row| row.get::<_, i64>(0),
            )
            .optional()
            .map_err(error)?
        else {
            return Err(DatabaseError::NotRecorded {
                path: self.path.clone(),
                name: name.to_owned(),
            });
        };
        transaction
            .execute("DELETE FROM attestations WHERE package_id = ?1", [id])
            .map_err(error)?;
        {
            let mut insert = transaction
                .prepare(
                    "INSERT INTO attestations (package_id, key_id, envelope, verified_at)
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(error)?;
            for record in records {
                insert
                    .execute(params![
                        id,
                        record.key_id,
                        record.envelope,
                        record.verified_at
                    ])
                    .map_err(error)?;
            }
        }
        transaction.commit().map_err(error)
    }

    /// The attestations recorded for the package `name`, in insertion order.
    pub fn attestations(&self, name: &str) -> Result<Vec<AttestationRecord>, DatabaseError> {
        self.rows_for(
            "SELECT a.key_id, a.envelope, a.verified_at FROM attestations a
                 JOIN packages p ON p.id = a.package_id WHERE p.name = ?1 ORDER BY a.id",
            name,
            |row| {
                Ok(AttestationRecord {
                    key_id: row.get(0)?,
                    envelope: row.get(1)?,
                    verified_at: row.get(2)?,
                })
            },
        )
    }

    /// Applies `change` in one SQLite transaction. Idempotent.
    pub fn apply(&mut self, change: &Change) -> Result<(), DatabaseError> {
        self.apply_when(change, || true).map(|_| ())
    }

    /// Like [`Database::apply`], but commits only if `ready` returns
    /// `true` once the rows are written, and rolls back otherwise
    /// (`Ok(false)`). The engine writes the rows while it renames files
    /// into place on another thread, and `ready` waits for those renames
    /// to be durable: a committed row never points at a file that could
    /// still vanish, and a crash before the commit leaves no row.
    pub fn apply_when(
        &mut self,
        change: &Change,
        ready: impl FnOnce() -> bool,
    ) -> Result<bool, DatabaseError> {
        let path = self.path.clone();
        let error = |source| DatabaseError::Query {
            path: path.clone(),
            source,
        };
        let transaction = self
            .connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(error)?;
        for removal in &change.removals {
            apply_removal(&transaction, removal).map_err(error)?;
        }
        for install in &change.installs {
            apply_install(&transaction, install).map_err(error)?;
        }
        // Directories whose last owner went are forgotten; the engine removes
        // them from disk (if empty) as part of the same journaled commit.
        transaction
            .execute(
                "DELETE FROM dirs WHERE path NOT IN (SELECT path FROM dir_owners)",
                [],
            )
            .map_err(error)?;
        if !ready() {
            transaction.rollback().map_err(error)?;
            return Ok(false);
        }
        transaction.commit().map_err(error)?;
        Ok(true)
    }
}

fn apply_removal(transaction: &Transaction<'_>, removal: &PackageRemoval) -> rusqlite::Result<()> {
    let Some(id) = transaction
        .query_row(
            "SELECT id FROM packages WHERE name = ?1",
            [&removal.name],
            |row| row.get::<_, i64>(0),
        )
        .optional()?
    else {
        return Ok(());
    };
    if removal.keep_conffiles.is_empty() {
        transaction.execute("DELETE FROM packages WHERE id = ?1", [id])?;
        return Ok(());
    }
    // dpkg's `config-files` state: the package is gone but the conffiles the
    // administrator edited stay on disk and stay recorded, so `--purge` later
    // knows to delete them.
    transaction.execute(
        "UPDATE packages SET status = 'config-files' WHERE id = ?1",
        [id],
    )?;
    transaction.execute("DELETE FROM decisions WHERE package_id = ?1", [id])?;
    transaction.execute("DELETE FROM footprints WHERE package_id = ?1", [id])?;
    transaction.execute("DELETE FROM actions WHERE package_id = ?1", [id])?;
    let mut statement = transaction.prepare("SELECT path FROM files WHERE package_id = ?1")?;
    let paths: Vec<String> = statement
        .query_map([id], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    for path in paths {
        if !removal.keep_conffiles.contains(&path) {
            transaction.execute("DELETE FROM files WHERE path = ?1", [&path])?;
        }
    }
    // The package keeps owning the directories that hold its kept conffiles,
    // so a later `--purge` removes them once the conffiles are gone.
    transaction.execute(
        "DELETE FROM dir_owners WHERE package_id = ?1 AND NOT EXISTS (
             SELECT 1 FROM files f WHERE f.package_id = ?1 AND f.path LIKE dir_owners.path || '/%')",
        [id],
    )?;
    Ok(())
}

/// The columns `script, sandbox_status, exit_code, ran_at, arguments,
/// requests, output, neutralised` of one run, in that order, as both
/// `script_runs` and `removed_script_runs` store them (lists as JSON).
fn script_run_values(run: &ScriptRunRecord) -> [SqlValue; 8] {
    let as_json =
        |value: &Vec<String>| SqlValue::from(serde_json::to_string(value).unwrap_or_default());
    [
        SqlValue::from(run.script.clone()),
        SqlValue::from(run.sandbox_status.clone()),
        SqlValue::from(run.exit_code),
        SqlValue::from(run.ran_at),
        as_json(&run.arguments),
        as_json(&run.requests),
        SqlValue::from(run.output.clone()),
        as_json(&run.neutralised),
    ]
}

/// One script run from the columns `script, arguments, sandbox_status,
/// exit_code, ran_at, requests, output, neutralised` (in that order) of
/// `script_runs` or `removed_script_runs`.
fn script_run_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ScriptRunRecord> {
    let from_json = |text: String| serde_json::from_str(&text).unwrap_or_default();
    Ok(ScriptRunRecord {
        script: row.get(0)?,
        arguments: from_json(row.get(1)?),
        sandbox_status: row.get(2)?,
        exit_code: row.get(3)?,
        ran_at: row.get(4)?,
        requests: from_json(row.get(5)?),
        output: row.get(6)?,
        neutralised: from_json(row.get(7)?),
    })
}

fn apply_install(transaction: &Transaction<'_>, install: &PackageInstall) -> rusqlite::Result<()> {
    let package = &install.package;
    // The last configured version outlives the rows it is replaced with
    // (dpkg keeps Config-Version until the new version is configured).
    // Applying the same change twice carries the same value again.
    let config_version: Option<String> = transaction
        .query_row(
            "SELECT config_version FROM packages WHERE name = ?1",
            [&package.name],
            |row| row.get(0),
        )
        .optional()?
        .flatten();
    transaction.execute("DELETE FROM packages WHERE name = ?1", [&package.name])?;
    transaction.execute(
        "INSERT INTO packages (repo, name, version, architecture, artifact_sha256, status,
                               installed_at, relations, format)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            package.repo,
            package.name,
            package.version,
            package.architecture,
            package.artifact_sha256,
            package.status.as_str(),
            package.installed_at,
            package.relations,
            package.format.as_str()
        ],
    )?;
    let id = transaction.last_insert_rowid();
    {
        // A path taken over from another package (Replaces, or a config-files
        // remnant) changes owner: the previous row goes.
        let mut insert_file = transaction.prepare(
            "INSERT OR REPLACE INTO files (package_id, path, kind, mode, owner, grp, digest, target,
                                           conffile, conffile_original_digest, capabilities)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        for file in &install.files {
            insert_file.execute(params![
                id,
                file.path,
                file.kind.as_str(),
                file.mode,
                file.owner,
                file.group,
                file.digest,
                file.target,
                i64::from(file.conffile),
                file.conffile_original_digest,
                file.capabilities
            ])?;
        }
        let mut insert_dir = transaction.prepare(
            "INSERT INTO dirs (path, mode, owner, grp) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(path) DO NOTHING",
        )?;
        let mut insert_dir_owner = transaction
            .prepare("INSERT OR IGNORE INTO dir_owners (path, package_id) VALUES (?1, ?2)")?;
        for dir in &install.dirs {
            insert_dir.execute(params![dir.path, dir.mode, dir.owner, dir.group])?;
            insert_dir_owner.execute(params![dir.path, id])?;
        }
        let mut insert_decision = transaction.prepare(
            "INSERT INTO decisions (package_id, item, verdict, provenance) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for decision in &install.decisions {
            insert_decision.execute(params![
                id,
                decision.item,
                decision.verdict,
                decision.provenance
            ])?;
        }
    }
    if let Some(footprint) = &install.footprint {
        transaction.execute(
            "INSERT INTO footprints (package_id, footprint) VALUES (?1, ?2)",
            params![id, footprint],
        )?;
    }
    // A package whose postinst is to run is half-configured until the
    // configure phase succeeds: a crash between the commit and the end of
    // its postinst leaves it recorded as not configured (dpkg's state).
    if install
        .scripts
        .iter()
        .any(|script| script.name == "postinst" && script.run)
    {
        transaction.execute(
            "UPDATE packages SET configured = 0, config_version = ?2 WHERE id = ?1",
            params![id, config_version],
        )?;
    } else {
        // Nothing to run: configured at this version by the commit.
        transaction.execute(
            "UPDATE packages SET config_version = version WHERE id = ?1",
            [id],
        )?;
    }
    let mut insert_script = transaction.prepare(
        "INSERT INTO maintainer_scripts (package_id, name, interpreter, classification, run, content,
                                         writable_paths)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for script in &install.scripts {
        insert_script.execute(params![
            id,
            script.name,
            script.interpreter,
            script.classification,
            i64::from(script.run),
            script.content,
            serde_json::to_string(&script.writable_paths).unwrap_or_default()
        ])?;
    }
    let mut insert_action = transaction
        .prepare("INSERT INTO actions (package_id, kind, detail) VALUES (?1, ?2, ?3)")?;
    for action in &install.actions {
        insert_action.execute(params![id, action.kind, action.detail])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(name: &str, version: &str) -> PackageRecord {
        PackageRecord {
            repo: "test".into(),
            name: name.into(),
            version: version.into(),
            architecture: "amd64".into(),
            artifact_sha256: "00".repeat(32),
            status: PackageStatus::Installed,
            installed_at: 1,
            relations: "{}".into(),
            format: PackageFormat::Deb,
        }
    }

    fn file(path: &str, conffile: bool) -> FileRecord {
        FileRecord {
            path: path.into(),
            kind: FileKind::File,
            mode: 0o644,
            owner: "root".into(),
            group: "root".into(),
            digest: Some("ab".repeat(32)),
            target: None,
            conffile,
            conffile_original_digest: conffile.then(|| "ab".repeat(32)),
            capabilities: None,
        }
    }

    fn dir(path: &str) -> DirRecord {
        DirRecord {
            path: path.into(),
            mode: 0o755,
            owner: "root".into(),
            group: "root".into(),
        }
    }

    fn install(
        name: &str,
        version: &str,
        files: Vec<FileRecord>,
        dirs: Vec<DirRecord>,
    ) -> PackageInstall {
        PackageInstall {
            package: package(name, version),
            files,
            dirs,
            decisions: vec![DecisionRecord {
                item: "place /usr/bin".into(),
                verdict: "allow".into(),
                provenance: "{}".into(),
            }],
            footprint: Some("{\"files\":[]}".into()),
            scripts: vec![ScriptRecord {
                name: "postinst".into(),
                interpreter: Some("/bin/sh".into()),
                classification: "DeclarativeWithResidue".into(),
                run: true,
                content: "IyEvYmluL3NoCg==".into(),
                writable_paths: vec!["/var/lib/hello".into()],
            }],
            actions: vec![ActionRecord {
                kind: "enable-unit".into(),
                detail: "{}".into(),
            }],
        }
    }

    /// A change removing `name` entirely.
    fn removal(name: &str) -> Change {
        Change {
            removals: vec![PackageRemoval {
                name: name.into(),
                keep_conffiles: vec![],
            }],
            installs: vec![],
        }
    }

    fn open_temp() -> (tempfile::TempDir, Database) {
        let directory = tempfile::tempdir().unwrap();
        let database = Database::open(&directory.path().join("db.sqlite")).unwrap();
        (directory, database)
    }

    #[test]
    fn attestations_are_recorded_replaced_and_dropped_with_the_package() {
        let (_directory, mut database) = open_temp();
        let record = |key: &str| AttestationRecord {
            key_id: key.repeat(64),
            envelope: format!("{{\"key\":\"{key}\"}}"),
            verified_at: 7,
        };
        let refused = database.record_attestations("hello", &[record("a")]);
        assert!(
            matches!(refused, Err(DatabaseError::NotRecorded { ref name, .. }) if name == "hello"),
            "{refused:?}"
        );
        database
            .apply(&Change {
                removals: vec![],
                installs: vec![install("hello", "1.0", vec![], vec![])],
            })
            .unwrap();
        database
            .record_attestations("hello", &[record("a"), record("b")])
            .unwrap();
        assert_eq!(
            database.attestations("hello").unwrap(),
            vec![record("a"), record("b")]
        );
        database
            .record_attestations("hello", &[record("c")])
            .unwrap();
        assert_eq!(database.attestations("hello").unwrap(), vec![record("c")]);
        database.apply(&removal("hello")).unwrap();
        assert_eq!(database.attestations("hello").unwrap(), vec![]);
    }

    #[test]
    fn apply_when_commits_only_when_ready() {
        let (directory, mut database) = open_temp();
        let change = Change {
            removals: vec![],
            installs: vec![install(
                "hello",
                "1.0",
                vec![file("/usr/bin/hello", false)],
                vec![],
            )],
        };
        let mut asked = false;
        let committed = database
            .apply_when(&change, || {
                asked = true;
                false
            })
            .unwrap();
        assert!(asked && !committed);
        assert_eq!(database.packages().unwrap(), vec![]);
        // Written while `ready` waits, visible to no other connection yet.
        let committed = database
            .apply_when(&change, || {
                let other = rusqlite::Connection::open_with_flags(
                    directory.path().join("db.sqlite"),
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .unwrap();
                let count: i64 = other
                    .query_row("SELECT count(*) FROM packages", [], |row| row.get(0))
                    .unwrap();
                count == 0
            })
            .unwrap();
        assert!(committed);
        assert_eq!(database.packages().unwrap(), vec![package("hello", "1.0")]);
    }

    #[test]
    fn fresh_database_has_current_schema_wal_and_full_sync() {
        let (_directory, database) = open_temp();
        let version: i64 = database
            .connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, Database::SCHEMA_VERSION);
        let mode: String = database
            .connection
            .pragma_query_value(None, "journal_mode", |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let synchronous: i64 = database
            .connection
            .pragma_query_value(None, "synchronous", |row| row.get(0))
            .unwrap();
        assert_eq!(synchronous, 2, "FULL is 2");
        assert_eq!(database.integrity_check().unwrap(), Ok(()));
    }

    #[test]
    fn reopening_does_not_rerun_migrations_and_keeps_rows() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("db.sqlite");
        let mut database = Database::open(&path).unwrap();
        database
            .apply(&Change {
                removals: vec![],
                installs: vec![install(
                    "hello",
                    "1.0",
                    vec![file("/usr/bin/hello", false)],
                    vec![],
                )],
            })
            .unwrap();
        drop(database);
        let database = Database::open(&path).unwrap();
        assert_eq!(database.packages().unwrap().len(), 1);
    }

    #[test]
    fn format_is_recorded_and_rows_from_before_the_column_read_as_deb() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("db.sqlite");
        // A database written by a pkgward that knew schema 4 only.
        let connection = Connection::open(&path).unwrap();
        for migration in &MIGRATIONS[..4] {
            connection.execute_batch(migration).unwrap();
        }
        connection.pragma_update(None, "user_version", 4).unwrap();
        connection
            .execute(
                "INSERT INTO packages (repo, name, version, architecture, artifact_sha256, status,
                                       installed_at, relations)
                 VALUES ('test', 'old', '1.0', 'amd64', '00', 'installed', 1, '{}')",
                [],
            )
            .unwrap();
        drop(connection);
        let mut database = Database::open(&path).unwrap();
        assert_eq!(
            database.package("old").unwrap().unwrap().format,
            PackageFormat::Deb
        );
        let mut rpm = install("tool", "1.a-1", vec![], vec![]);
        rpm.package.format = PackageFormat::Rpm;
        database
            .apply(&Change {
                removals: vec![],
                installs: vec![rpm],
            })
            .unwrap();
        assert_eq!(
            database.package("tool").unwrap().unwrap().format,
            PackageFormat::Rpm
        );
        // A journal's change written before the field existed means `deb`.
        let record: PackageRecord = serde_json::from_str(
            r#"{"repo":"r","name":"n","version":"1","architecture":"all","artifact_sha256":"00",
                "status":"Installed","installed_at":1,"relations":"{}"}"#,
        )
        .unwrap();
        assert_eq!(record.format, PackageFormat::Deb);
        database
            .connection
            .execute("UPDATE packages SET format = 'pkg' WHERE name = 'old'", [])
            .unwrap();
        let error = database.packages().unwrap_err().to_string();
        assert!(
            error.contains("`pkg`") && error.contains("packages.format"),
            "{error}"
        );
    }

    #[test]
    fn newer_schema_is_refused_with_its_version() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("db.sqlite");
        drop(Database::open(&path).unwrap());
        let connection = Connection::open(&path).unwrap();
        connection.pragma_update(None, "user_version", 99).unwrap();
        drop(connection);
        let error = Database::open(&path).unwrap_err();
        assert!(error.to_string().contains("schema version 99"), "{error}");
    }

    #[test]
    fn install_records_package_files_dirs_decisions_footprint() {
        let (_directory, mut database) = open_temp();
        let change = Change {
            removals: vec![],
            installs: vec![install(
                "hello",
                "1.0",
                vec![
                    FileRecord {
                        capabilities: Some("cap_net_raw=ep".into()),
                        ..file("/usr/bin/hello", false)
                    },
                    file("/etc/hello.conf", true),
                ],
                vec![dir("/usr"), dir("/usr/bin")],
            )],
        };
        database.apply(&change).unwrap();
        // Idempotent: recovery may apply the same change again.
        database.apply(&change).unwrap();
        assert_eq!(database.packages().unwrap(), vec![package("hello", "1.0")]);
        let files = database.files("hello").unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].path, "/etc/hello.conf");
        assert!(files[0].conffile);
        assert_eq!(files[0].capabilities, None);
        assert_eq!(files[1].capabilities.as_deref(), Some("cap_net_raw=ep"));
        assert_eq!(
            database.dirs("hello").unwrap(),
            vec![dir("/usr"), dir("/usr/bin")]
        );
        assert_eq!(database.owners("/usr/bin/hello").unwrap(), vec!["hello"]);
        assert_eq!(database.decisions("hello").unwrap().len(), 1);
        assert_eq!(database.actions("hello").unwrap().len(), 1);
        assert_eq!(
            database.footprint("hello").unwrap().as_deref(),
            Some("{\"files\":[]}")
        );
    }

    #[test]
    fn scripts_configuration_state_and_runs_are_recorded_and_go_with_the_package() {
        let (_directory, mut database) = open_temp();
        let change = Change {
            removals: vec![],
            installs: vec![install("hello", "1.0", vec![], vec![])],
        };
        database.apply(&change).unwrap();
        let scripts = database.scripts("hello").unwrap();
        assert_eq!(scripts, install("hello", "1.0", vec![], vec![]).scripts);
        // Its postinst runs: not configured until the configure phase says so.
        assert_eq!(database.configured("hello").unwrap(), Some(false));
        database.set_configured("hello", true).unwrap();
        assert_eq!(database.configured("hello").unwrap(), Some(true));
        assert!(matches!(
            database.set_configured("absent", false),
            Err(DatabaseError::NotRecorded { .. })
        ));
        let run = ScriptRunRecord {
            script: "postinst".into(),
            arguments: vec!["configure".into(), String::new()],
            sandbox_status: "{}".into(),
            exit_code: Some(1),
            ran_at: 7,
            requests: vec!["systemctl start hello".into()],
            output: "boom".into(),
            neutralised: vec!["dh_installsystemd block, lines 4-9".into()],
        };
        database.record_script_run("hello", &run).unwrap();
        assert_eq!(database.script_runs("hello").unwrap(), vec![run.clone()]);
        // A reinstall replaces the rows: to be configured again, runs of the
        // old installation gone with it.
        database.apply(&change).unwrap();
        assert_eq!(database.configured("hello").unwrap(), Some(false));
        assert!(database.script_runs("hello").unwrap().is_empty());
        database.apply(&removal("hello")).unwrap();
        assert!(database.scripts("hello").unwrap().is_empty());
        assert!(database.record_script_run("hello", &run).is_err());
    }

    #[test]
    fn the_last_configured_version_is_kept_until_the_new_one_is_configured() {
        let (_directory, mut database) = open_temp();
        let change = |version: &str| Change {
            removals: vec![],
            installs: vec![install("hello", version, vec![], vec![])],
        };
        // Its postinst runs: never configured yet.
        database.apply(&change("1.0")).unwrap();
        assert_eq!(database.configured_version("hello").unwrap(), None);
        database.set_configured("hello", true).unwrap();
        assert_eq!(
            database.configured_version("hello").unwrap().as_deref(),
            Some("1.0")
        );
        // The upgrade's postinst has not succeeded (twice: recovery may
        // apply a change again): still 1.0, as dpkg's Config-Version.
        database.apply(&change("2.0")).unwrap();
        database.apply(&change("2.0")).unwrap();
        database.set_configured("hello", false).unwrap();
        assert_eq!(database.configured("hello").unwrap(), Some(false));
        assert_eq!(
            database.configured_version("hello").unwrap().as_deref(),
            Some("1.0")
        );
        database.set_configured("hello", true).unwrap();
        assert_eq!(
            database.configured_version("hello").unwrap().as_deref(),
            Some("2.0")
        );
        // Without a postinst to run, the commit configures the version.
        let mut without_postinst = install("plain", "3", vec![], vec![]);
        without_postinst.scripts.clear();
        database
            .apply(&Change {
                removals: vec![],
                installs: vec![without_postinst],
            })
            .unwrap();
        assert_eq!(
            database.configured_version("plain").unwrap().as_deref(),
            Some("3")
        );
        assert_eq!(database.configured_version("absent").unwrap(), None);
    }

    #[test]
    fn runs_after_the_package_rows_are_gone_are_kept_by_name_and_version() {
        let (_directory, mut database) = open_temp();
        database
            .apply(&Change {
                removals: vec![],
                installs: vec![install("hello", "1.0", vec![], vec![])],
            })
            .unwrap();
        database.apply(&removal("hello")).unwrap();
        let run = ScriptRunRecord {
            script: "postrm".into(),
            arguments: vec!["remove".into()],
            sandbox_status: "{}".into(),
            exit_code: Some(0),
            ran_at: 9,
            requests: vec![],
            output: String::new(),
            neutralised: vec![],
        };
        assert!(matches!(
            database.record_script_run("hello", &run),
            Err(DatabaseError::NotRecorded { .. })
        ));
        database
            .record_removed_script_run("hello", "1.0", &run)
            .unwrap();
        let removed = RemovedScriptRun {
            version: "1.0".into(),
            run,
        };
        assert_eq!(
            database.removed_script_runs("hello").unwrap(),
            vec![removed.clone()]
        );
        // A later install and removal of the package leave them alone.
        database
            .apply(&Change {
                removals: vec![],
                installs: vec![install("hello", "2.0", vec![], vec![])],
            })
            .unwrap();
        database.apply(&removal("hello")).unwrap();
        assert_eq!(
            database.removed_script_runs("hello").unwrap(),
            vec![removed]
        );
        assert!(database.removed_script_runs("other").unwrap().is_empty());
    }

    #[test]
    fn shared_directories_are_reference_counted() {
        let (_directory, mut database) = open_temp();
        database
            .apply(&Change {
                removals: vec![],
                installs: vec![
                    install(
                        "a",
                        "1",
                        vec![file("/usr/bin/a", false)],
                        vec![dir("/usr"), dir("/usr/bin")],
                    ),
                    install(
                        "b",
                        "1",
                        vec![file("/usr/bin/b", false)],
                        vec![dir("/usr"), dir("/usr/bin")],
                    ),
                ],
            })
            .unwrap();
        assert_eq!(database.owners("/usr/bin").unwrap(), vec!["a", "b"]);
        database.apply(&removal("a")).unwrap();
        assert_eq!(database.owners("/usr/bin").unwrap(), vec!["b"]);
        assert!(database.package("a").unwrap().is_none());
        assert!(database.files("a").unwrap().is_empty());
        database.apply(&removal("b")).unwrap();
        let remaining: i64 = database
            .connection
            .query_row("SELECT count(*) FROM dirs", [], |row| row.get(0))
            .unwrap();
        assert_eq!(remaining, 0, "last owner gone: directory rows gone");
    }

    #[test]
    fn remove_keeping_modified_conffiles_leaves_config_files_state() {
        let (_directory, mut database) = open_temp();
        database
            .apply(&Change {
                removals: vec![],
                installs: vec![install(
                    "hello",
                    "1.0",
                    vec![file("/usr/bin/hello", false), file("/etc/hello.conf", true)],
                    vec![dir("/etc")],
                )],
            })
            .unwrap();
        database
            .apply(&Change {
                removals: vec![PackageRemoval {
                    name: "hello".into(),
                    keep_conffiles: vec!["/etc/hello.conf".into()],
                }],
                installs: vec![],
            })
            .unwrap();
        let record = database.package("hello").unwrap().unwrap();
        assert_eq!(record.status, PackageStatus::ConfigFiles);
        let files = database.files("hello").unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].path, "/etc/hello.conf");
        assert_eq!(
            database.dirs("hello").unwrap(),
            vec![dir("/etc")],
            "still holds its conffile"
        );
    }

    #[test]
    fn upgrade_replaces_rows_and_takeover_moves_ownership() {
        let (_directory, mut database) = open_temp();
        database
            .apply(&Change {
                removals: vec![],
                installs: vec![install(
                    "a",
                    "1",
                    vec![file("/usr/bin/tool", false), file("/usr/bin/old", false)],
                    vec![],
                )],
            })
            .unwrap();
        database
            .apply(&Change {
                removals: vec![],
                installs: vec![install(
                    "a",
                    "2",
                    vec![file("/usr/bin/tool", false)],
                    vec![],
                )],
            })
            .unwrap();
        assert_eq!(database.package("a").unwrap().unwrap().version, "2");
        assert_eq!(database.files("a").unwrap().len(), 1);
        // Package b (Replaces: a) takes over /usr/bin/tool: one owner row remains.
        database
            .apply(&Change {
                removals: vec![],
                installs: vec![install(
                    "b",
                    "1",
                    vec![file("/usr/bin/tool", false)],
                    vec![],
                )],
            })
            .unwrap();
        assert_eq!(database.owners("/usr/bin/tool").unwrap(), vec!["b"]);
        assert!(database.files("a").unwrap().is_empty());
    }
}
