//! Verification: every entry and every declared action of a package checked
//! against a compiled policy. Nothing from the package is executed.

use crate::evaluate::{
    CompiledPolicy, Decision, InstalledOwner, Layer, Provenance, Request, Subject, UnknownRepo,
    Verdict,
};
use crate::footprint::{footprint_with, DeclarationFile, Footprint};
use crate::model::ScriptMode;
use pkgward_package::file_capabilities::FileCapabilities;
use pkgward_package::model::{EntryKind, Package};
use serde::Serialize;
use std::fmt;

/// One checked item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Item {
    Place {
        path: String,
        entry: String,
    },
    Setuid {
        path: String,
        mode: String,
    },
    FileCapabilities {
        path: String,
        capabilities: String,
        source: String,
    },
    User {
        name: String,
        uid_zero: bool,
        source: String,
    },
    Group {
        name: String,
        source: String,
    },
    Service {
        unit: String,
        runs_as: Option<String>,
        source: String,
    },
    Scripts {
        mode: ScriptMode,
        scripts: Vec<String>,
    },
    Twins {
        first: String,
        second: String,
    },
}

impl fmt::Display for Item {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Place { path, entry } => write!(formatter, "{entry} `{path}`"),
            Self::Setuid { path, mode } => {
                write!(formatter, "setuid/setgid file `{path}` (mode {mode})")
            }
            Self::FileCapabilities {
                path,
                capabilities,
                source,
            } => write!(
                formatter,
                "file capabilities `{capabilities}` on `{path}` ({source})"
            ),
            Self::User {
                name,
                uid_zero: false,
                ..
            } => write!(formatter, "user `{name}`"),
            Self::User {
                name,
                uid_zero: true,
                ..
            } => write!(formatter, "user `{name}` with uid 0"),
            Self::Group { name, .. } => write!(formatter, "group `{name}`"),
            Self::Service {
                unit,
                runs_as: Some(user),
                ..
            } => write!(formatter, "service `{unit}` running as `{user}`"),
            Self::Service {
                unit,
                runs_as: None,
                ..
            } => write!(formatter, "service `{unit}`"),
            Self::Scripts { mode, scripts } => {
                write!(formatter, "{} scripts ({})", mode, scripts.join(", "))
            }
            Self::Twins { first, second } => {
                write!(formatter, "twin names `{first}` and `{second}`")
            }
        }
    }
}

impl Item {
    /// Group label for human output.
    pub fn group(&self) -> &'static str {
        match self {
            Self::Place { .. } | Self::Twins { .. } => "paths",
            Self::Setuid { .. } => "setuid",
            Self::FileCapabilities { .. } => "file capabilities",
            Self::User { .. } | Self::Group { .. } => "users and groups",
            Self::Service { .. } => "services",
            Self::Scripts { .. } => "scripts",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checked {
    pub item: Item,
    pub decision: Decision,
}

/// The result of verifying one package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub package: String,
    pub version: String,
    pub repo: String,
    pub artifact_sha256: String,
    pub footprint: Footprint,
    pub checked: Vec<Checked>,
}

impl Verification {
    pub fn denials(&self) -> impl Iterator<Item = &Checked> {
        self.checked.iter().filter(|c| !c.decision.is_allowed())
    }

    pub fn passed(&self) -> bool {
        self.denials().next().is_none()
    }
}

/// Check every entry (directories need no grant: they are created as needed,
/// owned by root) and every declaration of `package` from `repo`.
pub fn verify(
    package: &Package,
    declarations: &[DeclarationFile],
    compiled: &CompiledPolicy,
    repo: &str,
    installed: &[InstalledOwner],
) -> Result<Verification, UnknownRepo> {
    let subject = Subject {
        repo,
        name: &package.name,
        version: &package.version,
    };
    let rules = compiled.for_subject(&subject, installed)?;
    let footprint = footprint_with(package, declarations, compiled);
    let mut checked = Vec::new();
    for entry in &package.entries {
        if entry.kind == EntryKind::Dir {
            continue;
        }
        let decision = rules.decide(&Request::Place { path: &entry.path });
        checked.push(Checked {
            item: Item::Place {
                path: entry.path.clone(),
                entry: entry.kind.as_str().to_owned(),
            },
            decision,
        });
    }
    for (path, reason) in &footprint.rejected_paths {
        // Directories with bad names are refused too (files were refused above).
        if package
            .entries
            .iter()
            .any(|e| e.path == *path && e.kind == EntryKind::Dir)
        {
            checked.push(Checked {
                item: Item::Place {
                    path: path.clone(),
                    entry: "dir".to_owned(),
                },
                decision: Decision {
                    verdict: Verdict::Deny,
                    because: canonical_provenance(reason.clone()),
                    hint: Some(
                        "the package must ship canonical, visible names; this cannot be granted"
                            .to_owned(),
                    ),
                    canonical_path: None,
                    guarded: None,
                },
            });
        }
    }
    for (first, second) in &footprint.twins {
        checked.push(Checked {
            item: Item::Twins { first: first.clone(), second: second.clone() },
            decision: Decision {
                verdict: Verdict::Deny,
                because: canonical_provenance(format!(
                    "`{first}` and `{second}` differ only by case or Unicode normalisation (THREATS 30)"
                )),
                hint: Some("rename one of them; twins collide on case-insensitive filesystems and mislead readers".to_owned()),
                canonical_path: None,
                guarded: None,
            },
        });
    }
    for entry in &footprint.setuid {
        checked.push(Checked {
            item: Item::Setuid {
                path: entry.path.clone(),
                mode: entry.mode.clone(),
            },
            decision: rules.decide(&Request::Setuid { path: &entry.path }),
        });
    }
    for entry in &footprint.file_capabilities {
        let capabilities = FileCapabilities::parse(&entry.capabilities)
            .map(|parsed| parsed.requested())
            .unwrap_or_default();
        checked.push(Checked {
            item: Item::FileCapabilities {
                path: entry.path.clone(),
                capabilities: entry.capabilities.clone(),
                source: entry.source.clone(),
            },
            decision: rules.decide(&Request::FileCapabilities {
                path: &entry.path,
                capabilities,
            }),
        });
    }
    for unusable in crate::file_capabilities::requested_file_capabilities(package)
        .unusable
        .into_iter()
        .filter(|unusable| unusable.refuses)
    {
        checked.push(Checked {
            item: Item::FileCapabilities {
                path: unusable.path.clone(),
                capabilities: unusable.text.clone(),
                source: unusable.source.clone(),
            },
            decision: Decision {
                verdict: Verdict::Deny,
                because: canonical_provenance(format!(
                    "file capabilities `{}` of `{}` ({}): {}",
                    unusable.text, unusable.path, unusable.source, unusable.reason
                )),
                hint: Some("the package must name capabilities as libcap does (`cap_net_raw+ep`); this cannot be granted".to_owned()),
                canonical_path: None,
                guarded: None,
            },
        });
    }
    for user in &footprint.users {
        checked.push(Checked {
            item: Item::User {
                name: user.name.clone(),
                uid_zero: user.uid_zero,
                source: user.source.clone(),
            },
            decision: rules.decide(&Request::User {
                name: &user.name,
                uid_zero: user.uid_zero,
            }),
        });
    }
    for group in &footprint.groups {
        checked.push(Checked {
            item: Item::Group {
                name: group.name.clone(),
                source: group.source.clone(),
            },
            decision: rules.decide(&Request::Group { name: &group.name }),
        });
    }
    for service in &footprint.services {
        checked.push(Checked {
            item: Item::Service {
                unit: service.unit.clone(),
                runs_as: service.runs_as.clone(),
                source: service.source.clone(),
            },
            decision: rules.decide(&Request::Service {
                unit: &service.unit,
                runs_as: service.runs_as.as_deref(),
            }),
        });
    }
    if !package.scripts.is_empty() {
        checked.push(Checked {
            item: Item::Scripts {
                mode: ScriptMode::Sandboxed,
                scripts: footprint.scripts.clone(),
            },
            decision: rules.decide(&Request::Scripts {
                mode: ScriptMode::Sandboxed,
            }),
        });
    }
    Ok(Verification {
        package: package.name.clone(),
        version: package.version.to_string(),
        repo: repo.to_owned(),
        artifact_sha256: package.artifact_sha256.clone(),
        footprint,
        checked,
    })
}

fn canonical_provenance(rule: String) -> Provenance {
    Provenance {
        layer: Layer::Canonical,
        file: std::sync::Arc::from("<path rules>"),
        line: 0,
        column: 0,
        rule,
        chain: Vec::new(),
    }
}
