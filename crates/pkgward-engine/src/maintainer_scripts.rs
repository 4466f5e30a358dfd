//! Running maintainer-script residues in the sandbox, the way dpkg runs
//! maintainer scripts (`docs/sandbox.md`, section *Maintainer scripts*).
//!
//! One run: the target root becomes `/`, read-only except the package's
//! writable paths (planned by `pkgward_plan::maintainer_scripts`, the
//! writable paths rule); the script is bind-mounted from a private host
//! directory at `/run/pkgward/script/<name>` and executed with the
//! interpreter of its `#!` line (`/bin/sh` without one, as dpkg's `execvp`
//! falls back to), which must exist *in the root* — never the host's shell.
//! Arguments and environment are dpkg's (dpkg(1), ENVIRONMENT). Shims that do
//! not act but append their argv to a request log come first on `PATH`
//! (`/run/pkgward/shims`) and are also overlaid, with a `policy-rc.d` that
//! exits 101, on the root's `/usr/sbin` — without writing into the root
//! (read-only overlayfs and binds into the sandbox's private `/run`). The
//! engine reads the request log back afterwards: pkgward's declarative
//! phase is what acts; the requests are recorded and reported.
//!
//! The script run is the recorded one with its fully translated debhelper
//! blocks neutralised (`pkgward_plan::maintainer_scripts::script_to_run`):
//! pkgward performed their actions already.
//!
//! Every run is recorded in `script_runs` with the achieved sandbox status
//! (or the setup error), the exit code, the requests, the output and the
//! neutralised blocks.

use crate::root::Root;
use crate::EngineError;
use pkgward_db::{Database, ScriptRecord, ScriptRunRecord};
use pkgward_plan::maintainer_scripts::script_to_run;
use pkgward_plan::{decode_script_content, PackagePlan};
use pkgward_sandbox::{Bind, HelperProgram, LandlockRequirement, Overlay, Spec, DEFAULT_PATH};
use std::path::PathBuf;
use std::time::Duration;

/// Where the script is mounted inside the sandbox.
pub const SCRIPT_DIRECTORY: &str = "/run/pkgward/script";
/// Where the shims are mounted inside (first on `PATH`).
pub const SHIM_DIRECTORY: &str = "/run/pkgward/shims";
/// Where the shims append their requests (one line per call).
pub const REQUEST_DIRECTORY: &str = "/run/pkgward/requests";

/// The dpkg version whose maintainer-script interface pkgward provides
/// (`DPKG_RUNNING_VERSION`): Debian 12's.
pub const DPKG_INTERFACE_VERSION: &str = "1.21.22";

/// Commands replaced by a shim that records the request and does not act:
/// service management, accounts, alternatives, tmpfiles, triggers and
/// caches are pkgward's own declarative actions.
pub const SHIMMED_COMMANDS: &[&str] = &[
    "deb-systemd-helper",
    "deb-systemd-invoke",
    "systemctl",
    "invoke-rc.d",
    "update-rc.d",
    "service",
    "start-stop-daemon",
    "adduser",
    "addgroup",
    "deluser",
    "delgroup",
    "useradd",
    "groupadd",
    "usermod",
    "groupmod",
    "userdel",
    "groupdel",
    "update-alternatives",
    "systemd-sysusers",
    "systemd-tmpfiles",
    "dpkg-statoverride",
    "dpkg-trigger",
    "ldconfig",
    "py3compile",
    "py3clean",
    "update-initramfs",
];

/// Most bytes of output kept in the database per run.
const RECORDED_OUTPUT_LIMIT: usize = 64 << 10;

/// The shim: append the call to the request log, answer queries "no", succeed.
const SHIM: &str = r#"#!/bin/sh
# pkgward shim: records the request for pkgward's declarative phase and does
# not act (docs/sandbox.md, "Maintainer scripts").
{
  printf '%s' "${0##*/}"
  for argument in "$@"; do printf ' %s' "$argument"; done
  printf '\n'
} >> /run/pkgward/requests/log
case " $* " in
  *" is-enabled "*|*" is-active "*|*" is-failed "*|*" was-enabled "*|*" debian-installed "*|*" is-system-running "*) exit 1 ;;
esac
exit 0
"#;

/// Debian's policy-rc.d interface: 101 = "action forbidden by policy", so a
/// real `invoke-rc.d`/`deb-systemd-invoke` starts nothing.
const POLICY_RC_D: &str =
    "#!/bin/sh\n# pkgward: no service starts from maintainer scripts\nexit 101\n";

/// Which dpkg action a script is run for, with dpkg's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `preinst install` (fresh install).
    PreinstInstall,
    /// `preinst upgrade <old-version>`.
    PreinstUpgrade { old_version: String },
    /// `postinst configure <most-recently-configured-version>` (empty on a
    /// fresh install).
    PostinstConfigure { old_version: Option<String> },
    /// `prerm remove`.
    PrermRemove,
    /// `postrm remove`.
    PostrmRemove,
    /// `postrm purge`.
    PostrmPurge,
}

impl Action {
    /// The script this action runs.
    pub fn script(&self) -> &'static str {
        match self {
            Action::PreinstInstall | Action::PreinstUpgrade { .. } => "preinst",
            Action::PostinstConfigure { .. } => "postinst",
            Action::PrermRemove => "prerm",
            Action::PostrmRemove | Action::PostrmPurge => "postrm",
        }
    }

    /// dpkg's arguments (Debian Policy 6.5, dpkg's `maintscript_*` calls).
    pub fn arguments(&self) -> Vec<String> {
        match self {
            Action::PreinstInstall => vec!["install".to_owned()],
            Action::PreinstUpgrade { old_version } => {
                vec!["upgrade".to_owned(), old_version.clone()]
            }
            // dpkg passes the empty string when nothing was configured before.
            Action::PostinstConfigure { old_version } => vec![
                "configure".to_owned(),
                old_version.clone().unwrap_or_default(),
            ],
            Action::PrermRemove | Action::PostrmRemove => vec!["remove".to_owned()],
            Action::PostrmPurge => vec!["purge".to_owned()],
        }
    }
}

/// The package a script belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptOwner {
    pub name: String,
    pub version: String,
    pub architecture: String,
}

impl ScriptOwner {
    /// The owner of a planned package's scripts.
    pub fn of(package: &PackagePlan) -> ScriptOwner {
        ScriptOwner {
            name: package.name.clone(),
            version: package.version.clone(),
            architecture: package.architecture.clone(),
        }
    }

    /// The owner of an installed package's recorded scripts.
    pub fn recorded(record: &pkgward_db::PackageRecord) -> ScriptOwner {
        ScriptOwner {
            name: record.name.clone(),
            version: record.version.clone(),
            architecture: record.architecture.clone(),
        }
    }
}

/// The environment dpkg gives maintainer scripts (dpkg(1), ENVIRONMENT),
/// on top of the sandbox's allow-listed defaults, with the shims first on
/// `PATH`. `DPKG_ROOT` is empty: inside the sandbox the root is `/`.
pub fn dpkg_environment(owner: &ScriptOwner, script: &str) -> Vec<(String, String)> {
    let mut environment: Vec<(String, String)> = pkgward_sandbox::default_environment()
        .into_iter()
        .filter(|(name, _)| name != "PATH")
        .collect();
    environment.extend(
        [
            ("PATH", format!("{SHIM_DIRECTORY}:{DEFAULT_PATH}")),
            ("DPKG_MAINTSCRIPT_NAME", script.to_owned()),
            ("DPKG_MAINTSCRIPT_PACKAGE", owner.name.clone()),
            ("DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT", "1".to_owned()),
            ("DPKG_MAINTSCRIPT_ARCH", owner.architecture.clone()),
            ("DPKG_MAINTSCRIPT_DEBUG", "0".to_owned()),
            ("DPKG_RUNNING_VERSION", DPKG_INTERFACE_VERSION.to_owned()),
            ("DPKG_ADMINDIR", "/var/lib/dpkg".to_owned()),
            ("DPKG_ROOT", String::new()),
            ("DEBIAN_FRONTEND", "noninteractive".to_owned()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value)),
    );
    environment
}

/// The argv that runs `script` like the kernel runs a `#!` script: the
/// interpreter's path, the rest of the `#!` line as one argument (if any),
/// the script's path, then dpkg's arguments. No `#!` line: `/bin/sh`.
pub fn script_argv(interpreter: Option<&str>, script: &str, arguments: &[String]) -> Vec<String> {
    let line = interpreter.map_or("/bin/sh", str::trim);
    let (path, rest) = match line.split_once([' ', '\t']) {
        Some((path, rest)) => (path, rest.trim()),
        None => (line, ""),
    };
    let mut argv = vec![path.to_owned()];
    if !rest.is_empty() {
        argv.push(rest.to_owned());
    }
    argv.push(format!("{SCRIPT_DIRECTORY}/{script}"));
    argv.extend(arguments.iter().cloned());
    argv
}

/// How scripts are run.
#[derive(Debug, Clone)]
pub struct ScriptRunner<'a> {
    pub root: &'a Root,
    /// The `pkgward` executable (its `main` starts the sandbox helper).
    pub helper: &'a HelperProgram,
    /// Wall-clock limit per script (the sandbox default: 10 minutes).
    pub timeout: Duration,
    pub landlock: LandlockRequirement,
    /// Seconds since the epoch, for the record.
    pub now: i64,
}

/// A finished (or never started) run.
#[derive(Debug, Clone)]
pub struct ScriptRun {
    pub owner: String,
    pub record: ScriptRunRecord,
    /// Exit 0.
    pub succeeded: bool,
    /// Why it failed, in one line (exit status, setup error, missing interpreter).
    pub failure: Option<String>,
    /// The whole captured output (stdout then stderr), lossy UTF-8.
    pub output: String,
}

/// A script that cannot even be started.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("script `{script}` of `{package}` needs interpreter `{interpreter}`, which the root does not have; pkgward never uses the host's")]
    MissingInterpreter {
        package: String,
        script: String,
        interpreter: String,
    },
    #[error("script `{script}` of `{package}` has invalid recorded content")]
    BadContent { package: String, script: String },
    #[error("cannot prepare the private files of script `{script}` in `{}`", directory.display())]
    Private {
        script: String,
        directory: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// The database record of a planned script (recorded at commit; also what a
/// run before the package is recorded is given).
pub fn script_record(
    script: &pkgward_plan::PlannedScript,
    writable_paths: &[String],
) -> ScriptRecord {
    ScriptRecord {
        name: script.name.clone(),
        interpreter: script.interpreter.clone(),
        classification: script.classification.clone(),
        run: script.run,
        content: script.content.clone(),
        writable_paths: writable_paths.to_vec(),
    }
}

/// One script to run: its owner, its record (with the writable paths) and
/// the dpkg action.
#[derive(Debug, Clone)]
pub struct ScriptJob<'a> {
    pub owner: ScriptOwner,
    pub script: &'a ScriptRecord,
    pub action: Action,
}

impl ScriptRunner<'_> {
    /// Runs one script in the sandbox and returns what happened. Errors are
    /// only for scripts that could not be prepared (missing interpreter,
    /// private files); a sandbox setup failure is a failed run with its
    /// reason recorded.
    pub fn run(&self, job: &ScriptJob<'_>) -> Result<ScriptRun, ScriptError> {
        let script = job.action.script();
        let content =
            decode_script_content(&job.script.content).ok_or_else(|| ScriptError::BadContent {
                package: job.owner.name.clone(),
                script: script.to_owned(),
            })?;
        let arguments = job.action.arguments();
        let argv = script_argv(job.script.interpreter.as_deref(), script, &arguments);
        if !self.is_executable_in_root(&argv[0])? {
            return Err(ScriptError::MissingInterpreter {
                package: job.owner.name.clone(),
                script: script.to_owned(),
                interpreter: argv[0].clone(),
            });
        }
        // Fully translated debhelper blocks do not run: pkgward performed
        // their actions (docs/sandbox.md, "Maintainer scripts").
        let to_run = script_to_run(&job.owner.name, script, &content);
        let private = PrivateFiles::create(script, &to_run.bytes)?;
        let mut spec = Spec::new(argv);
        spec.root = self.root.path().to_path_buf();
        spec.environment = dpkg_environment(&job.owner, script);
        spec.timeout = self.timeout;
        spec.landlock = self.landlock;
        // Scripts chown and chmod inside their writable paths; the
        // capabilities are the sandbox user namespace's only.
        spec.keep_file_ownership_capabilities = true;
        spec.binds = vec![
            Bind {
                source: private.path.join("script"),
                target: SCRIPT_DIRECTORY.into(),
                writable: false,
            },
            Bind {
                source: private.path.join("shims"),
                target: SHIM_DIRECTORY.into(),
                writable: false,
            },
            Bind {
                source: private.path.join("requests"),
                target: REQUEST_DIRECTORY.into(),
                writable: true,
            },
        ];
        let mut unavailable = Vec::new();
        for path in &job.script.writable_paths {
            if let Some(beneath_run) = path.strip_prefix("/run/") {
                // `/run` is the sandbox's private tmpfs: the package's run
                // directory is a fresh private one, gone after the run.
                let source =
                    private.directory(&format!("run-{}", beneath_run.replace('/', "-")))?;
                spec.binds.push(Bind {
                    source,
                    target: path.into(),
                    writable: true,
                });
            } else if self.is_directory_in_root(path)? {
                spec.writable.push(path.into());
            } else {
                unavailable.push(path.clone());
            }
        }
        if self.is_directory_in_root("/usr/sbin")? {
            spec.overlays.push(Overlay {
                layer: private.path.join("usr-sbin"),
                target: "/usr/sbin".into(),
            });
        }
        let result = pkgward_sandbox::run(&spec, self.helper);
        let requests = private.requests();
        let mut record = ScriptRunRecord {
            script: script.to_owned(),
            arguments,
            sandbox_status: String::new(),
            exit_code: None,
            ran_at: self.now,
            requests,
            output: String::new(),
            neutralised: to_run.neutralised.iter().map(ToString::to_string).collect(),
        };
        let run = match result {
            Ok(outcome) => {
                let mut output = String::from_utf8_lossy(&outcome.stdout).into_owned();
                output.push_str(&String::from_utf8_lossy(&outcome.stderr));
                record.sandbox_status = serde_json::to_string(&outcome.status).unwrap_or_default();
                record.exit_code = Some(outcome.exit.code());
                record.output = truncated(&output, RECORDED_OUTPUT_LIMIT);
                let succeeded = outcome.exit.success();
                let failure = (!succeeded).then(|| {
                    let mut reason = outcome.exit.to_string();
                    if !unavailable.is_empty() {
                        reason.push_str("; granted paths missing from the root, not writable: ");
                        reason.push_str(&unavailable.join(", "));
                    }
                    reason
                });
                ScriptRun {
                    owner: job.owner.name.clone(),
                    record,
                    succeeded,
                    failure,
                    output,
                }
            }
            Err(error) => {
                let reason = error_chain(&error);
                record.sandbox_status = serde_json::json!({ "setup-error": reason }).to_string();
                ScriptRun {
                    owner: job.owner.name.clone(),
                    record,
                    succeeded: false,
                    failure: Some(format!("the sandbox could not be set up: {reason}")),
                    output: String::new(),
                }
            }
        };
        Ok(run)
    }

    fn is_directory_in_root(&self, path: &str) -> Result<bool, EngineError> {
        let canonical = match self.root.canonical_path(path, true) {
            Ok(canonical) => canonical,
            // A file where a directory was expected: not usable, not an error.
            Err(EngineError::NotADirectory { .. }) => return Ok(false),
            Err(error) => return Err(error),
        };
        Ok(self.root.status(&canonical)?.is_some_and(|status| {
            rustix::fs::FileType::from_raw_mode(status.st_mode) == rustix::fs::FileType::Directory
        }))
    }

    /// Whether `path` names an executable regular file in the root, following
    /// symlinks inside the root (`/bin/sh -> dash` under `/bin -> usr/bin`).
    fn is_executable_in_root(&self, path: &str) -> Result<bool, EngineError> {
        let mut current = path.to_owned();
        for _ in 0..40 {
            if !current.starts_with('/') {
                return Ok(false);
            }
            let canonical = self.root.canonical_path(&current, false)?;
            let Some(status) = self.root.status(&canonical)? else {
                return Ok(false);
            };
            match rustix::fs::FileType::from_raw_mode(status.st_mode) {
                rustix::fs::FileType::RegularFile => return Ok(status.st_mode & 0o111 != 0),
                rustix::fs::FileType::Symlink => {
                    let Some(target) = self.root.symlink_target(&canonical)? else {
                        return Ok(false);
                    };
                    current = if target.starts_with('/') {
                        target
                    } else {
                        let parent = canonical.rsplit_once('/').map_or("", |(parent, _)| parent);
                        format!("{parent}/{target}")
                    };
                    current = normalise(&current);
                }
                _ => return Ok(false),
            }
        }
        Ok(false)
    }
}

/// `..` and `.` removed lexically (symlink targets inside the root; the
/// parent part is already canonical).
fn normalise(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn truncated(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n[… {} bytes more]", &text[..end], text.len() - end)
}

/// The run's private host directory (mode 0700 in the host's temporary
/// directory; removed when dropped): the script, the shims, the request log,
/// the `/usr/sbin` overlay layer, private `/run/<name>` directories.
struct PrivateFiles {
    path: PathBuf,
    script: String,
}

impl PrivateFiles {
    fn create(script: &str, content: &[u8]) -> Result<PrivateFiles, ScriptError> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |duration| duration.as_nanos());
        let path =
            std::env::temp_dir().join(format!("pkgward-script-{}-{nanos}", std::process::id()));
        let error = |source| ScriptError::Private {
            script: script.to_owned(),
            directory: path.clone(),
            source,
        };
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(error)?;
        let private = PrivateFiles {
            path: path.clone(),
            script: script.to_owned(),
        };
        let write = |relative: &str, bytes: &[u8], mode: u32| -> std::io::Result<()> {
            let file = path.join(relative);
            std::fs::write(&file, bytes)?;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode))
        };
        (|| -> std::io::Result<()> {
            for directory in ["script", "shims", "requests", "usr-sbin"] {
                std::fs::DirBuilder::new()
                    .mode(0o755)
                    .create(path.join(directory))?;
            }
            write(&format!("script/{script}"), content, 0o755)?;
            for command in SHIMMED_COMMANDS {
                write(&format!("shims/{command}"), SHIM.as_bytes(), 0o755)?;
                write(&format!("usr-sbin/{command}"), SHIM.as_bytes(), 0o755)?;
            }
            write("usr-sbin/policy-rc.d", POLICY_RC_D.as_bytes(), 0o755)?;
            Ok(())
        })()
        .map_err(error)?;
        Ok(private)
    }

    fn directory(&self, name: &str) -> Result<PathBuf, ScriptError> {
        use std::os::unix::fs::DirBuilderExt;
        let path = self.path.join(name);
        std::fs::DirBuilder::new()
            .mode(0o755)
            .create(&path)
            .map_err(|source| ScriptError::Private {
                script: self.script.clone(),
                directory: path.clone(),
                source,
            })?;
        Ok(path)
    }

    /// The shims' request log, one request per line.
    fn requests(&self) -> Vec<String> {
        std::fs::read(self.path.join("requests/log"))
            .map(|bytes| {
                String::from_utf8_lossy(&bytes)
                    .lines()
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for PrivateFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The configure phase after a committed install: `postinst configure` of
/// every planned package whose postinst runs, in the plan's (dependency)
/// order. Such packages were committed half-configured; each success marks
/// its package configured. The first failure stops: that package and the
/// later ones with a postinst to run stay half-configured (not attempted),
/// like dpkg leaving them unconfigured.
/// Every run is recorded in `script_runs`.
pub fn configure(
    runner: &ScriptRunner<'_>,
    database: &mut Database,
    packages: &[PackagePlan],
) -> Result<ConfigureReport, ScriptError> {
    let mut report = ConfigureReport::default();
    for package in packages {
        let Some(postinst) = package
            .scripts
            .iter()
            .find(|script| script.name == "postinst" && script.run)
        else {
            continue;
        };
        if report.failed.is_some() {
            database
                .set_configured(&package.name, false)
                .map_err(EngineError::from)?;
            report.not_attempted.push(package.name.clone());
            continue;
        }
        let record = script_record(postinst, &package.script_writable_paths);
        let job = ScriptJob {
            owner: ScriptOwner::of(package),
            script: &record,
            // dpkg passes the last configured version (Config-Version),
            // which the database carries across the commit: the previous
            // version when it was configured, else an older one or none.
            action: Action::PostinstConfigure {
                old_version: database
                    .configured_version(&package.name)
                    .map_err(EngineError::from)?,
            },
        };
        let run = match runner.run(&job) {
            Ok(run) => run,
            Err(error) => {
                database
                    .set_configured(&package.name, false)
                    .map_err(EngineError::from)?;
                report.failed = Some(ConfigureFailure {
                    package: package.name.clone(),
                    reason: error.to_string(),
                    output: String::new(),
                });
                continue;
            }
        };
        database
            .record_script_run(&package.name, &run.record)
            .map_err(EngineError::from)?;
        if run.succeeded {
            database
                .set_configured(&package.name, true)
                .map_err(EngineError::from)?;
            report.configured.push(run);
        } else {
            database
                .set_configured(&package.name, false)
                .map_err(EngineError::from)?;
            report.failed = Some(ConfigureFailure {
                package: package.name.clone(),
                reason: run.failure.clone().unwrap_or_default(),
                output: run.output.clone(),
            });
            report.failed_run = Some(run);
        }
    }
    Ok(report)
}

/// What the configure phase did.
#[derive(Debug, Default)]
pub struct ConfigureReport {
    /// Successful runs, in order.
    pub configured: Vec<ScriptRun>,
    pub failed: Option<ConfigureFailure>,
    /// The failed run, when the script started.
    pub failed_run: Option<ScriptRun>,
    /// Packages left half-configured without running their postinst.
    pub not_attempted: Vec<String>,
}

/// The postinst that failed.
#[derive(Debug, Clone)]
pub struct ConfigureFailure {
    pub package: String,
    pub reason: String,
    pub output: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> ScriptOwner {
        ScriptOwner {
            name: "foo".into(),
            version: "1.0-1".into(),
            architecture: "amd64".into(),
        }
    }

    #[test]
    fn dpkg_arguments_per_action() {
        assert_eq!(Action::PreinstInstall.arguments(), ["install"]);
        assert_eq!(
            Action::PreinstUpgrade {
                old_version: "0.9".into()
            }
            .arguments(),
            ["upgrade", "0.9"]
        );
        assert_eq!(
            Action::PostinstConfigure { old_version: None }.arguments(),
            ["configure", ""]
        );
        assert_eq!(
            Action::PostinstConfigure {
                old_version: Some("0.9".into())
            }
            .arguments(),
            ["configure", "0.9"]
        );
        assert_eq!(Action::PrermRemove.arguments(), ["remove"]);
        assert_eq!(Action::PostrmPurge.arguments(), ["purge"]);
        assert_eq!(Action::PostrmRemove.script(), "postrm");
    }

    #[test]
    fn environment_is_dpkgs_with_shims_first_and_nothing_inherited() {
        let environment = dpkg_environment(&owner(), "postinst");
        let get = |name: &str| {
            environment
                .iter()
                .filter(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(get("DPKG_MAINTSCRIPT_NAME"), ["postinst"]);
        assert_eq!(get("DPKG_MAINTSCRIPT_PACKAGE"), ["foo"]);
        assert_eq!(get("DPKG_MAINTSCRIPT_ARCH"), ["amd64"]);
        assert_eq!(get("DPKG_ROOT"), [""]);
        assert_eq!(get("DEBIAN_FRONTEND"), ["noninteractive"]);
        assert_eq!(get("DPKG_RUNNING_VERSION"), [DPKG_INTERFACE_VERSION]);
        let path = get("PATH");
        assert_eq!(path.len(), 1);
        assert!(path[0].starts_with("/run/pkgward/shims:"), "{path:?}");
        assert!(get("LD_PRELOAD").is_empty());
        let names: std::collections::BTreeSet<_> =
            environment.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names.len(), environment.len(), "no duplicates");
    }

    #[test]
    fn argv_follows_the_kernels_shebang_rule() {
        let arguments = vec!["configure".to_owned(), String::new()];
        assert_eq!(
            script_argv(Some("/bin/sh"), "postinst", &arguments),
            ["/bin/sh", "/run/pkgward/script/postinst", "configure", ""]
        );
        assert_eq!(
            script_argv(Some("/usr/bin/perl -w -T"), "postinst", &arguments),
            [
                "/usr/bin/perl",
                "-w -T",
                "/run/pkgward/script/postinst",
                "configure",
                ""
            ]
        );
        assert_eq!(
            script_argv(None, "prerm", &["remove".to_owned()]),
            ["/bin/sh", "/run/pkgward/script/prerm", "remove"]
        );
    }

    #[test]
    fn symlink_targets_are_normalised_lexically() {
        assert_eq!(normalise("/usr/bin/../lib/./x"), "/usr/lib/x");
        assert_eq!(normalise("/../../etc"), "/etc");
    }

    #[test]
    fn output_is_truncated_on_a_character_boundary() {
        assert_eq!(truncated("abc", 10), "abc");
        let text = "ééé";
        assert!(truncated(text, 3).starts_with('é'));
        assert!(truncated(text, 3).contains("bytes more"));
    }

    #[test]
    fn private_files_hold_script_shims_and_policy_rc_d_and_go_away() {
        let private = PrivateFiles::create("postinst", b"#!/bin/sh\ntrue\n").unwrap();
        let path = private.path.clone();
        assert_eq!(
            std::fs::read(path.join("script/postinst")).unwrap(),
            b"#!/bin/sh\ntrue\n"
        );
        for command in SHIMMED_COMMANDS {
            assert!(path.join("shims").join(command).is_file(), "{command}");
        }
        assert!(std::fs::read_to_string(path.join("usr-sbin/policy-rc.d"))
            .unwrap()
            .contains("exit 101"));
        std::fs::write(path.join("requests/log"), "systemctl start foo\n").unwrap();
        assert_eq!(private.requests(), ["systemctl start foo"]);
        drop(private);
        assert!(!path.exists());
    }
}
