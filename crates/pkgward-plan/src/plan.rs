//! The plan as plain data: what an install or removal will do to a root.
//!
//! A [`Plan`] is computed without side effects, printed by `--dry-run`
//! (human or `--json`) and applied by `pkgward-engine` exactly as printed.

use pkgward_package::Format;
use serde::{Deserialize, Serialize};

/// What a plan serialised before `PackagePlan::format` existed means:
/// pkgward installed only `.deb` packages then.
fn deb_format() -> Format {
    Format::Deb
}

/// Everything one `install` or `remove` run will do, or why it will not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Packages to place, in dependency order (dependencies first).
    pub packages: Vec<PackagePlan>,
    /// Packages to remove.
    pub removals: Vec<RemovalPlan>,
    /// Every problem found. A plan with problems is refused as a whole and
    /// the engine never applies it.
    pub problems: Vec<Problem>,
}

impl Plan {
    /// Whether the plan may be applied.
    pub fn is_refused(&self) -> bool {
        !self.problems.is_empty()
    }
}

/// One package to install or upgrade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackagePlan {
    pub repo: String,
    pub name: String,
    pub version: String,
    pub architecture: String,
    pub artifact_sha256: String,
    /// The format the package was read from: recorded in the database so
    /// its version and relations are read back by the right rules, and
    /// deciding its scripts' arguments (dpkg's or rpm's).
    #[serde(default = "deb_format")]
    pub format: Format,
    /// The package's relationship fields (the model's `Relations`) as JSON,
    /// recorded so later plans can check dependencies against it.
    pub relations: serde_json::Value,
    /// The installed version this replaces, for upgrades (and downgrades).
    pub previous_version: Option<String>,
    /// The new version is older than `previous_version` by the package
    /// format's own ordering (dpkg's, or `rpmvercmp` for rpm). Allowed, as
    /// dpkg allows it (with a notice); rpm would want `--oldpackage`.
    #[serde(default)]
    pub downgrade: bool,
    /// Every archive entry and where it goes, in archive order.
    pub placements: Vec<Placement>,
    /// Canonical paths of the previous version's files that the new version no
    /// longer ships: removed at commit (dpkg's obsolete-file removal).
    pub obsolete_files: Vec<String>,
    /// Directories whose last owner goes with this plan: removed if empty.
    pub obsolete_dirs: Vec<String>,
    /// Every maintainer script the package ships, classified, with whether
    /// and why it runs (`maintainer_scripts.rs`). Recorded in the database at
    /// commit so removal can run `prerm`/`postrm`.
    #[serde(default)]
    pub scripts: Vec<PlannedScript>,
    /// Paths inside the root the package's scripts may write (the writable
    /// paths rule of `docs/sandbox.md`).
    #[serde(default)]
    pub script_writable_paths: Vec<String>,
    /// The policy decisions taken for this package.
    pub decisions: Vec<PlannedDecision>,
    /// Notes for the operator (conffile kept, owner name missing, …).
    pub notices: Vec<String>,
    /// The package's capability footprint (`pkgward_policy::footprint`
    /// serde form), filled in by the caller after planning (the planner
    /// has no declaration contents) and recorded in the `footprints` table
    /// at commit; the next upgrade compares against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footprint: Option<serde_json::Value>,
    /// Declarative actions pkgward carries out for this package instead of
    /// its maintainer scripts (accounts, unit enablement, …), each already
    /// judged; filled in by the caller with [`crate::actions::plan_actions`].
    #[serde(default)]
    pub actions: Vec<crate::actions::PlannedAction>,
    /// On upgrade: enablement symlinks the previous version's actions made
    /// that the new version's do not, removed at commit.
    #[serde(default)]
    pub stale_links: Vec<crate::actions::ActionSymlink>,
}

/// One maintainer script of a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedScript {
    /// `preinst`, `postinst`, `prerm`, `postrm` or `config`.
    pub name: String,
    /// The `#!` line's interpreter (with its arguments), if any.
    pub interpreter: Option<String>,
    /// `FullyDeclarative`, `DeclarativeWithResidue` or `NeedsUnconfined`.
    pub classification: String,
    /// Whether it runs (in the sandbox) at its dpkg phase.
    pub run: bool,
    /// Why it runs or does not.
    pub why: String,
    /// The first residue lines (`line N: category: text`).
    pub residue: Vec<String>,
    /// The fully translated debhelper blocks blanked out of the script
    /// before it runs (`maintainer_scripts::script_to_run`).
    #[serde(default)]
    pub neutralised: Vec<crate::maintainer_scripts::NeutralisedBlock>,
    /// The script's bytes, base64 (standard alphabet).
    pub content: String,
}

impl PlannedScript {
    /// Base64 of `bytes`, for [`PlannedScript::content`].
    pub fn encode(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// The script's bytes; `None` if `content` is not base64 (a tampered
    /// plan or record).
    pub fn bytes(&self) -> Option<Vec<u8>> {
        decode_script_content(&self.content)
    }
}

/// The bytes of a script's base64 `content` (plan or database record).
pub fn decode_script_content(content: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(content)
        .ok()
}

/// What kind of filesystem object a placement creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlacementKind {
    Dir,
    File,
    Symlink,
    Hardlink,
}

/// Where one archive entry goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// The canonical path as shipped in the archive (`/lib/x`).
    pub shipped_path: String,
    /// The canonical path after resolving the root's directory symlinks
    /// (`/usr/lib/x` under usrmerge): what policy judged and the database records.
    pub path: String,
    pub kind: PlacementKind,
    /// The mode to apply: the shipped mode with setuid/setgid removed unless
    /// policy allowed them.
    pub mode: u32,
    /// The mode in the archive.
    pub shipped_mode: u32,
    pub owner: String,
    pub group: String,
    /// Symlink target as shipped, or the hardlink's canonical target path.
    pub target: Option<String>,
    /// sha256 of the content (files only), from reading the package.
    pub digest: Option<String>,
    /// Set for conffiles: what to do with the administrator's copy.
    pub conffile: Option<ConffileAction>,
    /// For conffiles whose administrator copy is kept: the digest pkgward
    /// last installed there, still the reference for "modified" next time.
    pub conffile_original_digest: Option<String>,
    /// File capabilities to give the file (canonical text, `cap_net_raw=ep`),
    /// present only when the policy granted every one of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<String>,
}

/// dpkg's conffile handling, decided from the recorded and on-disk digests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConffileAction {
    /// Not present or unmodified: install the shipped version (atomically).
    Install,
    /// The administrator modified it: keep theirs, write the shipped version
    /// beside it as `<path>.pkgward-new`.
    KeepModifiedWriteNew,
    /// The administrator deleted it: it stays deleted (dpkg behaviour).
    KeepDeleted,
}

/// The suffix of a new conffile version written beside a modified one.
pub const NEW_CONFFILE_SUFFIX: &str = ".pkgward-new";

/// One package to remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovalPlan {
    pub name: String,
    pub version: String,
    /// Whether conffiles go too.
    pub purge: bool,
    /// Canonical paths deleted from disk.
    pub delete_files: Vec<String>,
    /// Modified conffiles kept on disk and recorded (`config-files` state).
    pub keep_conffiles: Vec<String>,
    /// Directories whose last owner goes: removed if empty, deepest first.
    pub delete_dirs: Vec<String>,
    /// Symlinks the package's actions created (unit enablement): removed
    /// when they still point where pkgward made them point. Accounts stay.
    #[serde(default)]
    pub remove_links: Vec<crate::actions::ActionSymlink>,
    /// Alternatives the package registered: `(name, path)` choices removed
    /// (dpkg's `update-alternatives --remove`), the links re-pointed.
    #[serde(default)]
    pub remove_alternatives: Vec<(String, String)>,
}

/// One policy decision for the plan, printable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedDecision {
    /// What was asked (`place /usr/bin/hello`, `setuid /usr/bin/su`, `scripts`).
    pub item: String,
    /// `allow`, `deny` or `forbid`.
    pub verdict: String,
    /// Which rule of which file decided, as text.
    pub because: String,
    pub hint: Option<String>,
}

/// A reason the plan cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Problem {
    /// Policy refused something the package needs.
    Denied {
        package: String,
        item: String,
        because: String,
        hint: Option<String>,
    },
    /// A Depends or Pre-Depends clause no installed or planned package satisfies.
    UnmetDependency {
        package: String,
        field: String,
        /// The clause as written, alternatives joined with ` | `.
        clause: String,
        /// What was found instead (other versions, providers), for the message.
        found: Vec<String>,
    },
    /// Conflicts or Breaks against an installed or planned package.
    Conflict {
        package: String,
        field: String,
        clause: String,
        with: String,
    },
    /// Two packages want the same path and no Replaces allows the takeover.
    FileConflict {
        package: String,
        path: String,
        owner: String,
    },
    /// A path in the root cannot be used (unsafe symlink, not a directory, …).
    Path {
        package: String,
        path: String,
        reason: String,
    },
    /// Removal of a package another installed package depends on.
    NeededBy {
        package: String,
        needed_by: String,
        clause: String,
    },
    /// Removal of a package that is not installed.
    NotInstalled { package: String },
    /// An rpm scriptlet with residue that pkgward has no phase for
    /// (`%pretrans`, `%posttrans`, `%preuntrans`, `%postuntrans`, triggers):
    /// refused rather than silently not run (docs/rpm.md). `install
    /// --no-scripts` drops this problem: no scriptlet runs then anyway.
    UnsupportedScript {
        package: String,
        script: String,
        reason: String,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Denied {
                package,
                item,
                because,
                hint,
            } => {
                write!(formatter, "`{package}`: {item} denied by {because}")?;
                if let Some(hint) = hint {
                    write!(formatter, " (hint: {hint})")?;
                }
                Ok(())
            }
            Problem::UnmetDependency {
                package,
                field,
                clause,
                found,
            } => {
                write!(formatter, "`{package}` {field} `{clause}`: not satisfied")?;
                if !found.is_empty() {
                    write!(formatter, " (found {})", found.join(", "))?;
                }
                Ok(())
            }
            Problem::Conflict {
                package,
                field,
                clause,
                with,
            } => write!(formatter, "`{package}` {field} `{clause}`: `{with}` is installed or planned"),
            Problem::FileConflict {
                package,
                path,
                owner,
            } => write!(
                formatter,
                "`{package}` ships `{path}`, which belongs to `{owner}` (no Replaces allows the takeover)"
            ),
            Problem::Path {
                package,
                path,
                reason,
            } => write!(formatter, "`{package}`: `{path}`: {reason}"),
            Problem::NeededBy {
                package,
                needed_by,
                clause,
            } => write!(formatter, "`{package}` is needed by `{needed_by}` (Depends `{clause}`)"),
            Problem::NotInstalled { package } => write!(formatter, "`{package}` is not installed"),
            Problem::UnsupportedScript {
                package,
                script,
                reason,
            } => write!(
                formatter,
                "`{package}`: scriptlet `{script}` would have to run, but {reason} (hint: `install --no-scripts` installs without running any scriptlet)"
            ),
        }
    }
}

impl Plan {
    /// The human rendering `--dry-run` prints: every package with its
    /// placements summarised, obsolete files, conffile actions, maintainer
    /// scripts (which run and why), decisions, and every problem.
    pub fn render_human(&self) -> String {
        use std::fmt::Write;
        let mut text = String::new();
        for package in &self.packages {
            let action = match &package.previous_version {
                Some(previous) if package.downgrade => {
                    format!("downgrade {previous} -> {}", package.version)
                }
                Some(previous) => format!("upgrade {previous} -> {}", package.version),
                None => format!("install {}", package.version),
            };
            let _ = writeln!(text, "{} ({action}) from {}", package.name, package.repo);
            let count = |kind: PlacementKind| {
                package
                    .placements
                    .iter()
                    .filter(|placement| placement.kind == kind)
                    .count()
            };
            let _ = writeln!(
                text,
                "  place: {} files, {} symlinks, {} hardlinks, {} directories",
                count(PlacementKind::File),
                count(PlacementKind::Symlink),
                count(PlacementKind::Hardlink),
                count(PlacementKind::Dir)
            );
            for placement in &package.placements {
                if placement.path != placement.shipped_path {
                    let _ = writeln!(
                        text,
                        "  resolved: {} -> {}",
                        placement.shipped_path, placement.path
                    );
                }
                if placement.mode != placement.shipped_mode {
                    let _ = writeln!(
                        text,
                        "  mode: {} {:04o} -> {:04o}",
                        placement.path, placement.shipped_mode, placement.mode
                    );
                }
                match placement.conffile {
                    Some(ConffileAction::Install) | None => {}
                    Some(ConffileAction::KeepModifiedWriteNew) => {
                        let _ = writeln!(text, "  conffile: {} modified, keep it; new version to {}{NEW_CONFFILE_SUFFIX}", placement.path, placement.path);
                    }
                    Some(ConffileAction::KeepDeleted) => {
                        let _ = writeln!(
                            text,
                            "  conffile: {} deleted by the administrator, stays deleted",
                            placement.path
                        );
                    }
                }
            }
            for path in &package.obsolete_files {
                let _ = writeln!(text, "  remove obsolete: {path}");
            }
            for script in &package.scripts {
                let _ = writeln!(
                    text,
                    "  script {}: {} ({}: {})",
                    script.name,
                    if script.run {
                        "runs in the sandbox"
                    } else {
                        "not run"
                    },
                    script.classification,
                    script.why
                );
                for line in &script.residue {
                    let _ = writeln!(text, "    residue {line}");
                }
                for block in &script.neutralised {
                    let _ = writeln!(text, "    not run (translated): {block}");
                }
            }
            if package.scripts.iter().any(|script| script.run) {
                let _ = writeln!(
                    text,
                    "  scripts may write: {}",
                    if package.script_writable_paths.is_empty() {
                        "nothing but a private /tmp".to_owned()
                    } else {
                        package.script_writable_paths.join(", ")
                    }
                );
            }
            for placement in &package.placements {
                if let Some(capabilities) = &placement.capabilities {
                    let _ = writeln!(
                        text,
                        "  file capabilities: {} {capabilities}",
                        placement.path
                    );
                }
            }
            for action in &package.actions {
                let _ = writeln!(text, "  action: {action}");
            }
            for notice in &package.notices {
                let _ = writeln!(text, "  notice: {notice}");
            }
            for symlink in &package.stale_links {
                let _ = writeln!(
                    text,
                    "  remove stale link: {} -> {}",
                    symlink.link, symlink.target
                );
            }
            for decision in &package.decisions {
                let _ = writeln!(
                    text,
                    "  {}: {} ({})",
                    decision.verdict, decision.item, decision.because
                );
            }
            for notice in &package.notices {
                let _ = writeln!(text, "  notice: {notice}");
            }
        }
        for removal in &self.removals {
            let _ = writeln!(
                text,
                "{} (remove {}{})",
                removal.name,
                removal.version,
                if removal.purge { ", purge" } else { "" }
            );
            let _ = writeln!(
                text,
                "  delete: {} files, {} directories",
                removal.delete_files.len(),
                removal.delete_dirs.len()
            );
            for path in &removal.keep_conffiles {
                let _ = writeln!(text, "  keep modified conffile: {path}");
            }
            for (name, path) in &removal.remove_alternatives {
                let _ = writeln!(text, "  remove alternative: {name} {path}");
            }
            for symlink in &removal.remove_links {
                let _ = writeln!(
                    text,
                    "  remove link: {} -> {}",
                    symlink.link, symlink.target
                );
            }
        }
        if !self.problems.is_empty() {
            let _ = writeln!(
                text,
                "refused: {} problem{}",
                self.problems.len(),
                if self.problems.len() == 1 { "" } else { "s" }
            );
            for problem in &self.problems {
                let _ = writeln!(text, "  - {problem}");
            }
        }
        text
    }
}
