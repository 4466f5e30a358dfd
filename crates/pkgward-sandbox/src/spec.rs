//! What the caller asks for: a [`Spec`] is plain data, built and validated
//! without any syscall, then serialised to the helper process, which only
//! applies it (STYLE.md point 8: a small, closed protocol across the sandbox
//! boundary).

use serde::{Deserialize, Serialize};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// The `PATH` every sandboxed command starts with (Debian's root `PATH`).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Everything the sandbox needs to run one command.
///
/// Paths in `writable` are paths *inside* the sandbox (they name directories
/// beneath `root`); paths in `readable` are host paths bind-mounted read-only
/// at the same path inside (for tools the root does not contain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    /// The directory that becomes `/` inside, bind-mounted read-only.
    pub root: PathBuf,
    /// Directories inside the root where the command may write.
    pub writable: Vec<PathBuf>,
    /// Host directories or files made visible read-only at the same path.
    pub readable: Vec<PathBuf>,
    /// The command and its arguments; `argv[0]` is searched in `PATH` of
    /// `environment` when it contains no `/`.
    pub argv: Vec<String>,
    /// The complete environment of the command: nothing else is inherited.
    pub environment: Vec<(String, String)>,
    /// Resource limits applied before the command starts.
    pub limits: ResourceLimits,
    /// Wall-clock limit; when it expires the whole pid namespace is killed.
    pub timeout: Duration,
    /// Network access: only [`Network::None`] exists today.
    pub network: Network,
    /// What to do when Landlock is missing or weaker than asked for.
    pub landlock: LandlockRequirement,
    /// Whether to install the seccomp denylist (on unless debugging).
    pub seccomp: bool,
    /// Keep the file-ownership capabilities (`CAP_CHOWN`, `CAP_DAC_OVERRIDE`,
    /// `CAP_FOWNER`, `CAP_FSETID`) of the namespace's root for the command, so
    /// maintainer scripts can `chown` inside their writable paths. They are
    /// capabilities of the sandbox's user namespace only. Off by default:
    /// then every capability set of the command is empty.
    pub keep_file_ownership_capabilities: bool,
    /// Host paths mounted at chosen places in the sandbox's own tmpfs
    /// (`/tmp`, `/run`): the engine's private files for one run (a
    /// maintainer script, its shims, the shims' request log). Never a write
    /// into the root.
    #[serde(default)]
    pub binds: Vec<Bind>,
    /// Read-only overlays: a host directory's entries shown on top of one of
    /// the root's own directories (a `policy-rc.d` in `/usr/sbin`), without
    /// writing into the root.
    #[serde(default)]
    pub overlays: Vec<Overlay>,
}

/// A host path mounted at `target`, which must lie beneath `/tmp` or `/run`
/// (the sandbox's private tmpfs, where the mount point is created).
/// Writable binds are also writable under Landlock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bind {
    pub source: PathBuf,
    pub target: PathBuf,
    pub writable: bool,
}

/// A read-only overlayfs at `target` (a directory of the root, resolved
/// inside it): `layer`'s entries (a host directory) hide the root's entries of
/// the same name; the root's other entries stay visible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overlay {
    pub layer: PathBuf,
    pub target: PathBuf,
}

/// Network policy of the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Network {
    /// A fresh, empty network namespace (loopback down): no connection to
    /// anything, abstract unix sockets of the host unreachable.
    None,
}

/// STYLE.md point 7: the caller states a required level, the sandbox returns
/// what it achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "level")]
pub enum LandlockRequirement {
    /// Refuse to run the command unless Landlock enforces every requested
    /// right and the kernel offers at least `minimum_abi` (3 brings truncate
    /// control, 5 ioctl on devices, 6 signal and abstract socket scoping).
    Refuse { minimum_abi: u8 },
    /// Use what the kernel offers, down to nothing, and report it.
    Degrade,
}

/// `setrlimit` values (soft = hard) for the command. `None` leaves a limit as
/// inherited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceLimits {
    /// `RLIMIT_CPU`, seconds of CPU time.
    pub cpu_seconds: Option<u64>,
    /// `RLIMIT_AS`, bytes of address space.
    pub address_space_bytes: Option<u64>,
    /// `RLIMIT_NPROC`, processes of the sandbox's root user (counted inside
    /// the sandbox's user namespace, so the host's processes do not count).
    pub processes: Option<u64>,
    /// `RLIMIT_FSIZE`, largest file the command may write.
    pub file_size_bytes: Option<u64>,
    /// `RLIMIT_NOFILE`, open file descriptors.
    pub open_files: Option<u64>,
    /// `RLIMIT_CORE`; 0 so that a crashing script leaves no core file.
    pub core_bytes: Option<u64>,
}

impl Default for ResourceLimits {
    fn default() -> Self {
        Self {
            cpu_seconds: Some(600),
            address_space_bytes: Some(8 << 30),
            processes: Some(512),
            file_size_bytes: Some(4 << 30),
            open_files: Some(1024),
            core_bytes: Some(0),
        }
    }
}

/// A spec that cannot be applied, found without any syscall.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("the command is empty")]
    EmptyCommand,
    #[error("path `{path}` must be absolute")]
    RelativePath { path: PathBuf },
    #[error("path `{path}` must not contain `..` or `.` components")]
    DotComponent { path: PathBuf },
    #[error("writable path `{path}` is the whole root; grant directories beneath it")]
    WritableRoot { path: PathBuf },
    #[error("argument `{argument}` contains a NUL byte")]
    NulInArgument { argument: String },
    #[error("environment entry `{name}` is invalid: names are non-empty, without `=` or NUL")]
    BadEnvironmentName { name: String },
    #[error("environment value of `{name}` contains a NUL byte")]
    NulInEnvironmentValue { name: String },
    #[error("the timeout must be longer than zero")]
    ZeroTimeout,
    #[error("landlock minimum ABI {minimum_abi} is not a Landlock ABI (1 or more)")]
    BadLandlockAbi { minimum_abi: u8 },
    #[error("bind target `{path}` must lie beneath `/tmp` or `/run`")]
    BindOutsidePrivateTmpfs { path: PathBuf },
    #[error("path `{path}` contains `,` or `:`, which overlay options cannot carry")]
    OverlayOptionCharacter { path: PathBuf },
}

impl Spec {
    /// A spec for `argv` with the defaults: root `/` read-only, nothing
    /// writable but a private `/tmp`, the default environment, default limits,
    /// a 10 minute timeout, no network, Landlock required at ABI 3 or better,
    /// seccomp on, no capabilities.
    pub fn new(argv: Vec<String>) -> Self {
        Self {
            root: PathBuf::from("/"),
            writable: Vec::new(),
            readable: Vec::new(),
            argv,
            environment: default_environment(),
            limits: ResourceLimits::default(),
            timeout: Duration::from_secs(600),
            network: Network::None,
            landlock: LandlockRequirement::Refuse { minimum_abi: 3 },
            seccomp: true,
            keep_file_ownership_capabilities: false,
            binds: Vec::new(),
            overlays: Vec::new(),
        }
    }

    /// Set `name` in the environment, replacing an earlier value.
    pub fn set_environment(&mut self, name: &str, value: &str) {
        self.environment.retain(|(existing, _)| existing != name);
        self.environment.push((name.to_owned(), value.to_owned()));
    }

    /// Check everything that can be checked without looking at the system.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.argv.is_empty() {
            return Err(SpecError::EmptyCommand);
        }
        for argument in &self.argv {
            if argument.contains('\0') {
                return Err(SpecError::NulInArgument {
                    argument: argument.clone(),
                });
            }
        }
        check_path(&self.root)?;
        for path in self.writable.iter().chain(&self.readable) {
            check_path(path)?;
        }
        for bind in &self.binds {
            check_path(&bind.source)?;
            check_path(&bind.target)?;
            let beneath_tmpfs = ["/tmp", "/run"]
                .iter()
                .any(|tmpfs| bind.target.starts_with(tmpfs) && bind.target != Path::new(tmpfs));
            if !beneath_tmpfs {
                return Err(SpecError::BindOutsidePrivateTmpfs {
                    path: bind.target.clone(),
                });
            }
        }
        for overlay in &self.overlays {
            check_path(&overlay.layer)?;
            check_path(&overlay.target)?;
            // The layer's host path is written into the mount options, whose
            // separators are `,` (options) and `:` (layers).
            if overlay.layer.to_string_lossy().contains([',', ':']) {
                return Err(SpecError::OverlayOptionCharacter {
                    path: overlay.layer.clone(),
                });
            }
        }
        if let Some(path) = self.writable.iter().find(|path| path == &Path::new("/")) {
            return Err(SpecError::WritableRoot { path: path.clone() });
        }
        for (name, value) in &self.environment {
            if name.is_empty() || name.contains('=') || name.contains('\0') {
                return Err(SpecError::BadEnvironmentName { name: name.clone() });
            }
            if value.contains('\0') {
                return Err(SpecError::NulInEnvironmentValue { name: name.clone() });
            }
        }
        if self.timeout.is_zero() {
            return Err(SpecError::ZeroTimeout);
        }
        if let LandlockRequirement::Refuse { minimum_abi: 0 } = self.landlock {
            return Err(SpecError::BadLandlockAbi { minimum_abi: 0 });
        }
        Ok(())
    }
}

/// The environment allow-list: these and nothing else, whatever the caller's
/// environment holds (`LD_PRELOAD`, `SSH_AUTH_SOCK`, proxies with passwords…,
/// THREATS.md C45).
pub fn default_environment() -> Vec<(String, String)> {
    [
        ("PATH", DEFAULT_PATH),
        ("LANG", "C.UTF-8"),
        ("TERM", "dumb"),
        ("HOME", "/root"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect()
}

fn check_path(path: &Path) -> Result<(), SpecError> {
    if !path.is_absolute() {
        return Err(SpecError::RelativePath {
            path: path.to_owned(),
        });
    }
    // `Path::components` silently drops `.` components, so look at the raw
    // bytes as well.
    let has_dot = path
        .as_os_str()
        .as_encoded_bytes()
        .split(|byte| *byte == b'/')
        .any(|component| component == b"." || component == b"..");
    if has_dot || path.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(SpecError::DotComponent {
            path: path.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_is_valid() {
        assert_eq!(Spec::new(vec!["/bin/true".into()]).validate(), Ok(()));
    }

    #[test]
    fn empty_command_is_refused() {
        assert_eq!(Spec::new(vec![]).validate(), Err(SpecError::EmptyCommand));
    }

    #[test]
    fn relative_and_dotted_paths_are_refused() {
        let mut spec = Spec::new(vec!["true".into()]);
        spec.writable.push("var/lib".into());
        assert!(matches!(
            spec.validate(),
            Err(SpecError::RelativePath { .. })
        ));
        spec.writable = vec!["/var/../etc".into()];
        assert!(matches!(
            spec.validate(),
            Err(SpecError::DotComponent { .. })
        ));
        spec.writable = vec!["/var/./lib".into()];
        assert!(matches!(
            spec.validate(),
            Err(SpecError::DotComponent { .. })
        ));
        spec.writable = vec!["/".into()];
        assert!(matches!(
            spec.validate(),
            Err(SpecError::WritableRoot { .. })
        ));
    }

    #[test]
    fn binds_must_target_the_private_tmpfs_and_overlays_plain_paths() {
        let mut spec = Spec::new(vec!["true".into()]);
        spec.binds.push(Bind {
            source: "/tmp/x".into(),
            target: "/usr/bin/x".into(),
            writable: false,
        });
        assert_eq!(
            spec.validate(),
            Err(SpecError::BindOutsidePrivateTmpfs {
                path: "/usr/bin/x".into()
            })
        );
        spec.binds[0].target = "/run".into();
        assert!(spec.validate().is_err());
        spec.binds[0].target = "/run/pkgward/x".into();
        assert_eq!(spec.validate(), Ok(()));
        spec.overlays.push(Overlay {
            layer: "/tmp/a,upperdir=/etc".into(),
            target: "/usr/sbin".into(),
        });
        assert!(matches!(
            spec.validate(),
            Err(SpecError::OverlayOptionCharacter { .. })
        ));
    }

    #[test]
    fn environment_names_are_checked() {
        let mut spec = Spec::new(vec!["true".into()]);
        spec.set_environment("A=B", "c");
        assert_eq!(
            spec.validate(),
            Err(SpecError::BadEnvironmentName { name: "A=B".into() })
        );
    }

    #[test]
    fn set_environment_replaces() {
        let mut spec = Spec::new(vec!["true".into()]);
        spec.set_environment("TERM", "xterm");
        let terms: Vec<_> = spec
            .environment
            .iter()
            .filter(|(name, _)| name == "TERM")
            .collect();
        assert_eq!(terms, vec![&("TERM".to_owned(), "xterm".to_owned())]);
    }

    #[test]
    fn spec_round_trips_through_json() {
        let spec = Spec::new(vec!["/bin/echo".into(), "hi".into()]);
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(serde_json::from_str::<Spec>(&json).unwrap(), spec);
    }
}
