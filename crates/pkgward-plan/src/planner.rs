//! Computing a [`Plan`]: dependency order, placements, obsolete files,
//! conffile actions, and the complete list of problems.
//!
//! Pure: the installed snapshot, on-disk conffile digests and the resolved
//! location of every entry come in as data ([`Snapshot`], [`Request`]); policy
//! comes in through the [`Judge`] trait.

use crate::plan::{
    ConffileAction, PackagePlan, Placement, PlacementKind, Plan, PlannedDecision, Problem,
    RemovalPlan,
};
use pkgward_package::{EntryKind, Package, Relation, Relations, Version};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// What is installed in the root, as the database records it.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub packages: Vec<InstalledPackage>,
    /// The current sha256 of conffile paths on disk (`None`: absent). Only
    /// paths the caller measured are present.
    pub conffiles_on_disk: HashMap<String, Option<String>>,
}

/// One installed package.
#[derive(Debug, Clone)]
pub struct InstalledPackage {
    pub name: String,
    pub version: Version,
    pub relations: Relations,
    /// `false` when only kept conffiles remain (`config-files`).
    pub installed: bool,
    pub files: Vec<InstalledFile>,
    pub dirs: Vec<String>,
}

/// One recorded non-directory path.
#[derive(Debug, Clone)]
pub struct InstalledFile {
    pub path: String,
    pub conffile: bool,
    /// For conffiles: the digest pkgward last put there.
    pub conffile_original_digest: Option<String>,
}

/// One package to install.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub package: &'a Package,
    pub repo: String,
    /// For each entry of `package.entries` (same index): its canonical path
    /// after resolving the root's directory symlinks, or why it cannot be used.
    pub resolved: Vec<Result<String, String>>,
}

/// The policy questions a plan asks. The real implementation is the compiled
/// policy of `pkgward-policy`; tests use small closures-based judges.
pub trait Judge {
    /// May `package` place an entry of `kind` at the resolved `path`?
    fn place(&self, package: &Package, repo: &str, path: &str, kind: EntryKind) -> PlannedDecision;
    /// May `package` keep setuid/setgid bits on `path`?
    fn setuid(&self, package: &Package, repo: &str, path: &str) -> PlannedDecision;
    /// May the file `package` places at `path` carry the file capabilities
    /// in `capabilities` (a mask of capability numbers)?
    fn file_capabilities(
        &self,
        package: &Package,
        repo: &str,
        path: &str,
        capabilities: u64,
    ) -> PlannedDecision;
    /// May `package`'s maintainer scripts run in `mode` (the most any of its
    /// scripts needs; `none` when every script is fully declarative)?
    fn scripts(
        &self,
        package: &Package,
        repo: &str,
        mode: pkgward_policy::ScriptMode,
    ) -> PlannedDecision;
}

fn allowed(decision: &PlannedDecision) -> bool {
    decision.verdict == "allow"
}

/// A package that may satisfy relations: requested or installed.
struct Candidate<'a> {
    name: &'a str,
    version: &'a Version,
    relations: &'a Relations,
}

fn clause_text(clause: &[Relation]) -> String {
    clause
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Whether `relation` is satisfied by `candidate` itself or by one of its Provides.
fn satisfies(candidate: &Candidate<'_>, relation: &Relation) -> bool {
    if candidate.name == relation.name {
        return match &relation.constraint {
            None => true,
            Some((operator, reference)) => {
                operator.accepts(candidate.version.cmp_for_relation(reference))
            }
        };
    }
    candidate
        .relations
        .provides
        .iter()
        .flatten()
        .any(|provided| {
            provided.name == relation.name
                && match (&relation.constraint, &provided.constraint) {
                    (None, _) => true,
                    // Only a versioned Provides (`foo (= 1.2)`) satisfies a versioned relation.
                    (Some((operator, reference)), Some((_, provided_version))) => {
                        operator.accepts(provided_version.cmp_for_relation(reference))
                    }
                    (Some(_), None) => false,
                }
        })
}

/// Computes the plan to install `requests` into a root holding `snapshot`.
pub fn plan_install(snapshot: &Snapshot, requests: &[Request<'_>], judge: &dyn Judge) -> Plan {
    let mut problems = Vec::new();
    let requested: HashSet<&str> = requests
        .iter()
        .map(|request| request.package.name.as_str())
        .collect();
    let installed_by_name: HashMap<&str, &InstalledPackage> = snapshot
        .packages
        .iter()
        .map(|package| (package.name.as_str(), package))
        .collect();
    // The world after the plan: requested packages, plus installed ones not upgraded by it.
    let mut world: Vec<Candidate<'_>> = requests
        .iter()
        .map(|request| Candidate {
            name: &request.package.name,
            version: &request.package.version,
            relations: &request.package.relations,
        })
        .collect();
    world.extend(
        snapshot
            .packages
            .iter()
            .filter(|package| package.installed && !requested.contains(package.name.as_str()))
            .map(|package| Candidate {
                name: &package.name,
                version: &package.version,
                relations: &package.relations,
            }),
    );

    for request in requests {
        let package = request.package;
        for (field, clauses) in [
            ("Pre-Depends", &package.relations.pre_depends),
            ("Depends", &package.relations.depends),
        ] {
            for clause in clauses {
                if clause
                    .iter()
                    .any(|relation| world.iter().any(|candidate| satisfies(candidate, relation)))
                {
                    continue;
                }
                let found = world
                    .iter()
                    .filter(|candidate| {
                        clause
                            .iter()
                            .any(|relation| relation.name == candidate.name)
                    })
                    .map(|candidate| format!("{} {}", candidate.name, candidate.version))
                    .collect();
                problems.push(Problem::UnmetDependency {
                    package: package.name.clone(),
                    field: field.to_owned(),
                    clause: clause_text(clause),
                    found,
                });
            }
        }
        for (field, clauses) in [
            ("Conflicts", &package.relations.conflicts),
            ("Breaks", &package.relations.breaks),
        ] {
            for clause in clauses {
                for relation in clause {
                    for candidate in &world {
                        if candidate.name == package.name {
                            continue;
                        }
                        // A package may conflict with a name it provides itself
                        // (the dpkg idiom for exclusive virtual packages).
                        if satisfies(candidate, relation) {
                            problems.push(Problem::Conflict {
                                package: package.name.clone(),
                                field: field.to_owned(),
                                clause: relation.to_string(),
                                with: candidate.name.to_owned(),
                            });
                        }
                    }
                }
            }
        }
    }
    // Installed packages that conflict with or break a requested one.
    for installed in snapshot
        .packages
        .iter()
        .filter(|package| package.installed && !requested.contains(package.name.as_str()))
    {
        for (field, clauses) in [
            ("Conflicts", &installed.relations.conflicts),
            ("Breaks", &installed.relations.breaks),
        ] {
            for relation in clauses.iter().flatten() {
                for request in requests {
                    let candidate = Candidate {
                        name: &request.package.name,
                        version: &request.package.version,
                        relations: &request.package.relations,
                    };
                    if satisfies(&candidate, relation) {
                        problems.push(Problem::Conflict {
                            package: installed.name.clone(),
                            field: field.to_owned(),
                            clause: relation.to_string(),
                            with: request.package.name.clone(),
                        });
                    }
                }
            }
        }
    }

    // File ownership after the plan, to find conflicts and takeovers.
    let mut owner_of: HashMap<&str, &str> = HashMap::new();
    for package in snapshot
        .packages
        .iter()
        .filter(|package| package.installed && !requested.contains(package.name.as_str()))
    {
        for file in &package.files {
            owner_of.insert(&file.path, &package.name);
        }
    }
    let mut dir_owner_count: HashMap<&str, usize> = HashMap::new();
    for package in snapshot.packages.iter().filter(|package| package.installed) {
        for directory in &package.dirs {
            *dir_owner_count.entry(directory).or_default() += 1;
        }
    }
    let mut claimed_by_request: HashMap<String, &str> = HashMap::new();
    let mut packages = Vec::new();
    for request in requests {
        let (package_plan, package_problems) = plan_package(
            snapshot,
            request,
            judge,
            &installed_by_name,
            &owner_of,
            &mut claimed_by_request,
            &world,
        );
        problems.extend(package_problems);
        packages.push(package_plan);
    }
    // Obsolete files: shipped by the previous version, not by the new one,
    // and not claimed by another requested package.
    let claimed: HashSet<&String> = claimed_by_request.keys().collect();
    for package_plan in &mut packages {
        let Some(previous) = installed_by_name
            .get(package_plan.name.as_str())
            .filter(|previous| previous.installed)
        else {
            continue;
        };
        let new_paths: HashSet<&str> = package_plan
            .placements
            .iter()
            .map(|placement| placement.path.as_str())
            .collect();
        package_plan.obsolete_files = previous
            .files
            .iter()
            // dpkg keeps obsolete conffiles on disk; pkgward forgets them without deleting.
            .filter(|file| {
                !file.conffile
                    && !new_paths.contains(file.path.as_str())
                    && !claimed.contains(&file.path)
            })
            .map(|file| file.path.clone())
            .collect();
        let mut obsolete_dirs: Vec<String> = previous
            .dirs
            .iter()
            .filter(|directory| {
                !new_paths.contains(directory.as_str())
                    && dir_owner_count
                        .get(directory.as_str())
                        .copied()
                        .unwrap_or(0)
                        <= 1
            })
            .cloned()
            .collect();
        obsolete_dirs.sort_by_key(|path| std::cmp::Reverse(path.matches('/').count()));
        package_plan.obsolete_dirs = obsolete_dirs;
    }
    let order = dependency_order(requests);
    let mut ordered: Vec<Option<PackagePlan>> = packages.into_iter().map(Some).collect();
    let packages = order
        .into_iter()
        .filter_map(|index| ordered[index].take())
        .collect();
    Plan {
        packages,
        removals: vec![],
        problems,
    }
}

#[allow(clippy::too_many_arguments)]
fn plan_package<'a>(
    snapshot: &Snapshot,
    request: &'a Request<'a>,
    judge: &dyn Judge,
    installed_by_name: &HashMap<&str, &InstalledPackage>,
    owner_of: &HashMap<&str, &str>,
    claimed_by_request: &mut HashMap<String, &'a str>,
    world: &[Candidate<'_>],
) -> (PackagePlan, Vec<Problem>) {
    let package = request.package;
    let mut problems = Vec::new();
    let mut decisions: BTreeMap<(String, String), (usize, PlannedDecision)> = BTreeMap::new();
    let previous = installed_by_name
        .get(package.name.as_str())
        .copied()
        .filter(|previous| previous.installed);
    let previous_files: HashMap<&str, &InstalledFile> = installed_by_name
        .get(package.name.as_str())
        .map(|previous| {
            previous
                .files
                .iter()
                .map(|file| (file.path.as_str(), file))
                .collect()
        })
        .unwrap_or_default();
    // Replaces lets this package take over paths of `owner` (dpkg's file takeover).
    let replaces = |owner: &str| {
        package
            .relations
            .replaces
            .iter()
            .flatten()
            .filter(|relation| relation.name == owner)
            .any(|relation| {
                world
                    .iter()
                    .filter(|candidate| candidate.name == owner)
                    .any(|candidate| satisfies(candidate, relation))
                    || snapshot
                        .packages
                        .iter()
                        .filter(|installed| installed.name == owner)
                        .any(|installed| {
                            satisfies(
                                &Candidate {
                                    name: &installed.name,
                                    version: &installed.version,
                                    relations: &installed.relations,
                                },
                                relation,
                            )
                        })
            })
    };
    let conffiles: HashSet<&str> = package.conffiles.iter().map(String::as_str).collect();
    let digest_of: HashMap<&str, Option<&String>> = package
        .entries
        .iter()
        .map(|entry| (entry.path.as_str(), entry.sha256.as_ref()))
        .collect();
    let capability_requests =
        pkgward_policy::file_capabilities::requested_file_capabilities(package);
    let mut notices = Vec::new();
    for unusable in &capability_requests.unusable {
        let item = format!(
            "file capabilities `{}` on `{}` ({})",
            unusable.text, unusable.path, unusable.source
        );
        if unusable.refuses {
            problems.push(Problem::Denied {
                package: package.name.clone(),
                item,
                because: unusable.reason.clone(),
                hint: Some("the package must name capabilities as libcap does (`cap_net_raw+ep`); this cannot be granted".to_owned()),
            });
        } else {
            notices.push(format!("{}: {item}: {}", package.name, unusable.reason));
        }
    }
    let capabilities_of: HashMap<
        &str,
        &pkgward_policy::file_capabilities::RequestedFileCapabilities,
    > = capability_requests
        .requested
        .iter()
        .map(|requested| (requested.path.as_str(), requested))
        .collect();
    let mut placements = Vec::new();
    for (entry, resolved) in package.entries.iter().zip(&request.resolved) {
        let path = match resolved {
            Ok(path) => path.clone(),
            Err(reason) => {
                problems.push(Problem::Path {
                    package: package.name.clone(),
                    path: entry.path.clone(),
                    reason: reason.clone(),
                });
                continue;
            }
        };
        let decision = judge.place(package, &request.repo, &path, entry.kind);
        if !allowed(&decision) {
            problems.push(Problem::Denied {
                package: package.name.clone(),
                item: format!("place `{path}`"),
                because: decision.because.clone(),
                hint: decision.hint.clone(),
            });
        }
        // One recorded decision per rule, with a count, rather than one per path.
        decisions
            .entry((decision.verdict.clone(), decision.because.clone()))
            .or_insert_with(|| {
                (
                    0,
                    PlannedDecision {
                        item: String::new(),
                        ..decision.clone()
                    },
                )
            })
            .0 += 1;
        let mut mode = entry.mode & 0o7777;
        if entry.kind == EntryKind::File && mode & 0o6000 != 0 {
            let decision = judge.setuid(package, &request.repo, &path);
            if !allowed(&decision) {
                // Stripped, not refused: the file is still useful without the bits.
                mode &= !0o6000;
            }
            decisions.insert(
                ("setuid".to_owned(), path.clone()),
                (
                    1,
                    PlannedDecision {
                        item: format!("setuid `{path}`"),
                        ..decision
                    },
                ),
            );
        }
        let mut capabilities = None;
        if let Some(requested) = capabilities_of.get(entry.path.as_str()) {
            let text = requested.capabilities.to_string();
            let decision = judge.file_capabilities(
                package,
                &request.repo,
                &path,
                requested.capabilities.requested(),
            );
            let item = format!(
                "file capabilities `{text}` on `{path}` ({})",
                requested.source
            );
            if allowed(&decision) {
                capabilities = Some(text);
            } else {
                // Refused, not stripped: rpm and setcap users expect the
                // capabilities, and a binary without them fails at run time
                // in ways that are hard to trace back to the install.
                problems.push(Problem::Denied {
                    package: package.name.clone(),
                    item: item.clone(),
                    because: decision.because.clone(),
                    hint: decision.hint.clone(),
                });
            }
            decisions.insert(
                ("file-capabilities".to_owned(), path.clone()),
                (1, PlannedDecision { item, ..decision }),
            );
        }
        if entry.kind != EntryKind::Dir {
            if let Some(owner) = owner_of.get(path.as_str()) {
                if *owner != package.name && !replaces(owner) {
                    problems.push(Problem::FileConflict {
                        package: package.name.clone(),
                        path: path.clone(),
                        owner: (*owner).to_owned(),
                    });
                }
            }
            if let Some(other) = claimed_by_request.insert(path.clone(), &package.name) {
                if other != package.name && !replaces(other) {
                    problems.push(Problem::FileConflict {
                        package: package.name.clone(),
                        path: path.clone(),
                        owner: other.to_owned(),
                    });
                }
            }
        }
        let (conffile, conffile_original_digest) =
            if conffiles.contains(entry.path.as_str()) && entry.kind == EntryKind::File {
                conffile_action(
                    snapshot,
                    previous_files.get(path.as_str()).copied(),
                    &path,
                    entry.sha256.as_deref(),
                )
            } else {
                (None, None)
            };
        let kind = match entry.kind {
            EntryKind::Dir => PlacementKind::Dir,
            EntryKind::File => PlacementKind::File,
            EntryKind::Symlink => PlacementKind::Symlink,
            EntryKind::Hardlink => PlacementKind::Hardlink,
        };
        placements.push(Placement {
            shipped_path: entry.path.clone(),
            path,
            kind,
            mode,
            shipped_mode: entry.mode & 0o7777,
            owner: entry.owner.clone(),
            group: entry.group.clone(),
            target: entry.target.clone(),
            digest: match entry.kind {
                EntryKind::Hardlink => entry
                    .target
                    .as_deref()
                    .and_then(|target| digest_of.get(target).copied().flatten().cloned()),
                _ => entry.sha256.clone(),
            },
            conffile,
            conffile_original_digest,
            capabilities,
        });
    }
    let directories = crate::maintainer_scripts::package_directories(
        placements
            .iter()
            .map(|placement| (placement.path.as_str(), entry_kind(placement.kind))),
    );
    let scripts_plan =
        crate::maintainer_scripts::plan_scripts(package, &request.repo, judge, &directories);
    problems.extend(scripts_plan.problems);
    if let Some(decision) = scripts_plan.decision {
        decisions.insert(
            ("scripts".to_owned(), String::new()),
            (
                1,
                PlannedDecision {
                    item: "scripts".to_owned(),
                    ..decision
                },
            ),
        );
    }
    let decisions = decisions
        .into_values()
        .map(|(count, decision)| {
            if decision.item.is_empty() {
                PlannedDecision {
                    item: format!("place {count} path{}", if count == 1 { "" } else { "s" }),
                    ..decision
                }
            } else {
                decision
            }
        })
        .collect();
    let plan = PackagePlan {
        repo: request.repo.clone(),
        name: package.name.clone(),
        version: package.version.to_string(),
        architecture: package.architecture.clone(),
        artifact_sha256: package.artifact_sha256.clone(),
        format: package.format,
        relations: serde_json::to_value(&package.relations).unwrap_or_default(),
        previous_version: previous.map(|previous| previous.version.to_string()),
        // The installed version was read back by its recorded format's
        // rules, the new one by its reader's: both agree on the ordering.
        downgrade: previous.is_some_and(|previous| package.version < previous.version),
        placements,
        obsolete_files: vec![],
        obsolete_dirs: vec![],
        scripts: scripts_plan.scripts,
        script_writable_paths: scripts_plan.writable_paths,
        decisions,
        notices: {
            notices.extend(
                previous
                    .filter(|previous| package.version < previous.version)
                    .map(|previous| {
                        format!(
                            "downgrading `{}` from {} to {} ({} version ordering)",
                            package.name,
                            previous.version,
                            package.version,
                            match package.format {
                                pkgward_package::Format::Deb => "dpkg",
                                pkgward_package::Format::Rpm => "rpm",
                            }
                        )
                    }),
            );
            notices
        },
        footprint: None,
        actions: vec![],
        stale_links: vec![],
    };
    (plan, problems)
}

fn entry_kind(kind: PlacementKind) -> EntryKind {
    match kind {
        PlacementKind::Dir => EntryKind::Dir,
        PlacementKind::File => EntryKind::File,
        PlacementKind::Symlink => EntryKind::Symlink,
        PlacementKind::Hardlink => EntryKind::Hardlink,
    }
}

/// dpkg's conffile rules, from the recorded digest and what is on disk.
fn conffile_action(
    snapshot: &Snapshot,
    previous: Option<&InstalledFile>,
    path: &str,
    shipped: Option<&str>,
) -> (Option<ConffileAction>, Option<String>) {
    let on_disk = snapshot
        .conffiles_on_disk
        .get(path)
        .cloned()
        .unwrap_or(None);
    let recorded = previous
        .filter(|file| file.conffile)
        .and_then(|file| file.conffile_original_digest.clone());
    match (previous.is_some_and(|file| file.conffile), on_disk) {
        // Fresh install, nothing there.
        (false, None) => (Some(ConffileAction::Install), None),
        // Fresh install over an identical file.
        (false, Some(disk)) if Some(disk.as_str()) == shipped => {
            (Some(ConffileAction::Install), None)
        }
        // Fresh install over a file the administrator put there: keep it.
        (false, Some(_)) => (Some(ConffileAction::KeepModifiedWriteNew), None),
        // Upgrade; the administrator deleted it: it stays deleted.
        (true, None) => (Some(ConffileAction::KeepDeleted), recorded),
        (true, Some(disk)) => {
            if recorded.as_deref() == Some(disk.as_str()) || shipped == Some(disk.as_str()) {
                (Some(ConffileAction::Install), None)
            } else {
                (Some(ConffileAction::KeepModifiedWriteNew), recorded)
            }
        }
    }
}

/// Indices of `requests` with dependencies first (Pre-Depends and Depends
/// among the requested packages); input order breaks ties and cycles.
fn dependency_order(requests: &[Request<'_>]) -> Vec<usize> {
    let count = requests.len();
    let mut needs: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); count];
    for (index, request) in requests.iter().enumerate() {
        let relations = &request.package.relations;
        for relation in relations
            .pre_depends
            .iter()
            .chain(&relations.depends)
            .flatten()
        {
            for (other, candidate) in requests.iter().enumerate() {
                let candidate_view = Candidate {
                    name: &candidate.package.name,
                    version: &candidate.package.version,
                    relations: &candidate.package.relations,
                };
                if other != index && satisfies(&candidate_view, relation) {
                    needs[index].insert(other);
                }
            }
        }
    }
    let mut done = vec![false; count];
    let mut order = Vec::with_capacity(count);
    while order.len() < count {
        let ready =
            (0..count).find(|&index| !done[index] && needs[index].iter().all(|&other| done[other]));
        // A cycle: take the first remaining package in input order.
        let next =
            ready.unwrap_or_else(|| (0..count).find(|&index| !done[index]).expect("some remain"));
        done[next] = true;
        order.push(next);
    }
    order
}

/// Computes the plan to remove `names` (with `purge`: conffiles too).
pub fn plan_removal(snapshot: &Snapshot, names: &[String], purge: bool) -> Plan {
    let mut problems = Vec::new();
    let removing: HashSet<&str> = names.iter().map(String::as_str).collect();
    let mut removals = Vec::new();
    for name in names {
        let Some(package) = snapshot
            .packages
            .iter()
            .find(|package| &package.name == name)
        else {
            problems.push(Problem::NotInstalled {
                package: name.clone(),
            });
            continue;
        };
        if !package.installed && !purge {
            problems.push(Problem::NotInstalled {
                package: name.clone(),
            });
            continue;
        }
        let mut delete_files = Vec::new();
        let mut keep_conffiles = Vec::new();
        for file in &package.files {
            if file.conffile && !purge {
                let on_disk = snapshot
                    .conffiles_on_disk
                    .get(&file.path)
                    .cloned()
                    .unwrap_or(None);
                match on_disk {
                    None => {}
                    Some(disk) if Some(&disk) == file.conffile_original_digest.as_ref() => {
                        delete_files.push(file.path.clone());
                    }
                    Some(_) => keep_conffiles.push(file.path.clone()),
                }
            } else {
                delete_files.push(file.path.clone());
                if file.conffile {
                    // Purge also takes the new versions pkgward wrote beside
                    // modified conffiles (dpkg purges its `.dpkg-dist` too).
                    delete_files.push(format!("{}{}", file.path, crate::plan::NEW_CONFFILE_SUFFIX));
                }
            }
        }
        let mut delete_dirs: Vec<String> = package
            .dirs
            .iter()
            .filter(|directory| {
                snapshot
                    .packages
                    .iter()
                    .filter(|other| other.installed && other.dirs.contains(directory))
                    .all(|other| removing.contains(other.name.as_str()))
            })
            .cloned()
            .collect();
        delete_dirs.sort_by_key(|path| std::cmp::Reverse(path.matches('/').count()));
        removals.push(RemovalPlan {
            name: name.clone(),
            version: package.version.to_string(),
            purge,
            delete_files,
            keep_conffiles,
            delete_dirs,
            remove_links: Vec::new(),
            remove_alternatives: Vec::new(),
        });
    }
    // Reverse dependencies: an installed package that stays and whose
    // Depends/Pre-Depends clause would lose its last satisfier.
    let remaining: Vec<Candidate<'_>> = snapshot
        .packages
        .iter()
        .filter(|package| package.installed && !removing.contains(package.name.as_str()))
        .map(|package| Candidate {
            name: &package.name,
            version: &package.version,
            relations: &package.relations,
        })
        .collect();
    for dependent in &remaining {
        for clause in dependent
            .relations
            .pre_depends
            .iter()
            .chain(&dependent.relations.depends)
        {
            let satisfied_after = clause.iter().any(|relation| {
                remaining
                    .iter()
                    .any(|candidate| satisfies(candidate, relation))
            });
            if satisfied_after {
                continue;
            }
            let satisfied_before = clause.iter().any(|relation| {
                snapshot
                    .packages
                    .iter()
                    .filter(|package| package.installed)
                    .any(|package| {
                        satisfies(
                            &Candidate {
                                name: &package.name,
                                version: &package.version,
                                relations: &package.relations,
                            },
                            relation,
                        )
                    })
            });
            if satisfied_before {
                for name in names {
                    if clause.iter().any(|relation| &relation.name == name)
                        || snapshot.packages.iter().any(|package| {
                            &package.name == name
                                && clause.iter().any(|relation| {
                                    package
                                        .relations
                                        .provides
                                        .iter()
                                        .flatten()
                                        .any(|provided| provided.name == relation.name)
                                })
                        })
                    {
                        problems.push(Problem::NeededBy {
                            package: name.clone(),
                            needed_by: dependent.name.to_owned(),
                            clause: clause_text(clause),
                        });
                    }
                }
            }
        }
    }
    Plan {
        packages: vec![],
        removals,
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkgward_package::model::parse_relations;
    use pkgward_package::{Entry, Format, Script, ScriptName};

    struct TestJudge {
        deny_prefix: Option<&'static str>,
        allow_setuid: bool,
        allow_scripts: bool,
    }

    fn decision(allow: bool, rule: &str) -> PlannedDecision {
        PlannedDecision {
            item: String::new(),
            verdict: if allow { "allow" } else { "deny" }.to_owned(),
            because: rule.to_owned(),
            hint: (!allow).then(|| "grant it".to_owned()),
        }
    }

    impl Judge for TestJudge {
        fn place(&self, _: &Package, _: &str, path: &str, _: EntryKind) -> PlannedDecision {
            let denied = self
                .deny_prefix
                .is_some_and(|prefix| path.starts_with(prefix));
            decision(
                !denied,
                if denied {
                    "test.toml:1 deny"
                } else {
                    "test.toml:2 allow"
                },
            )
        }
        fn setuid(&self, _: &Package, _: &str, _: &str) -> PlannedDecision {
            decision(self.allow_setuid, "test.toml:3 setuid")
        }
        // The same switch as setuid: both are privilege on a file.
        fn file_capabilities(&self, _: &Package, _: &str, _: &str, _: u64) -> PlannedDecision {
            decision(self.allow_setuid, "test.toml:5 file-capabilities")
        }
        fn scripts(
            &self,
            _: &Package,
            _: &str,
            mode: pkgward_policy::ScriptMode,
        ) -> PlannedDecision {
            // Like the real policy: nothing to run is always allowed.
            decision(
                self.allow_scripts || mode == pkgward_policy::ScriptMode::None,
                "test.toml:4 scripts",
            )
        }
    }

    const ALLOW: TestJudge = TestJudge {
        deny_prefix: None,
        allow_setuid: false,
        allow_scripts: true,
    };

    fn entry(path: &str, kind: EntryKind, mode: u32, digest: &str) -> Entry {
        Entry {
            path: path.to_owned(),
            kind,
            mode,
            owner: "root".to_owned(),
            group: "root".to_owned(),
            uid: 0,
            gid: 0,
            size: 0,
            target: None,
            sha256: (kind == EntryKind::File).then(|| digest.to_owned()),
        }
    }

    fn package(
        name: &str,
        version: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str)],
    ) -> Package {
        let mut relations = Relations::default();
        for (field, value) in fields {
            let parsed = parse_relations(value).unwrap();
            match *field {
                "Depends" => relations.depends = parsed,
                "Pre-Depends" => relations.pre_depends = parsed,
                "Conflicts" => relations.conflicts = parsed,
                "Breaks" => relations.breaks = parsed,
                "Replaces" => relations.replaces = parsed,
                "Provides" => relations.provides = parsed,
                other => panic!("{other}"),
            }
        }
        let mut entries = vec![
            entry("/", EntryKind::Dir, 0o755, ""),
            entry("/usr", EntryKind::Dir, 0o755, ""),
        ];
        entries.extend(
            files
                .iter()
                .map(|(path, digest)| entry(path, EntryKind::File, 0o755, digest)),
        );
        Package {
            format: Format::Deb,
            name: name.to_owned(),
            version: Version::parse(version).unwrap(),
            architecture: "amd64".to_owned(),
            description: String::new(),
            maintainer: None,
            relations,
            fields: vec![],
            scripts: vec![],
            conffiles: vec![],
            triggers: vec![],
            md5sums: vec![],
            entries,
            artifact_sha256: "00".repeat(32),
            installed_size: 0,
        }
    }

    fn request(package: &Package) -> Request<'_> {
        Request {
            package,
            repo: "test".to_owned(),
            resolved: package
                .entries
                .iter()
                .map(|entry| Ok(entry.path.clone()))
                .collect(),
        }
    }

    fn installed(package: &Package) -> InstalledPackage {
        InstalledPackage {
            name: package.name.clone(),
            version: package.version.clone(),
            relations: package.relations.clone(),
            installed: true,
            files: package
                .entries
                .iter()
                .filter(|entry| entry.kind != EntryKind::Dir)
                .map(|entry| InstalledFile {
                    path: entry.path.clone(),
                    conffile: package.conffiles.contains(&entry.path),
                    conffile_original_digest: package
                        .conffiles
                        .contains(&entry.path)
                        .then(|| entry.sha256.clone().unwrap()),
                })
                .collect(),
            dirs: package
                .entries
                .iter()
                .filter(|entry| entry.kind == EntryKind::Dir && entry.path != "/")
                .map(|entry| entry.path.clone())
                .collect(),
        }
    }

    #[test]
    fn dependencies_order_the_plan_and_unmet_ones_are_all_reported() {
        let app = package(
            "app",
            "1.0",
            &[("Depends", "libfoo (>= 2), missing | alsomissing (>> 3)")],
            &[("/usr/app", "a")],
        );
        let lib = package("libfoo", "2.1", &[], &[("/usr/libfoo", "b")]);
        let plan = plan_install(
            &Snapshot::default(),
            &[request(&app), request(&lib)],
            &ALLOW,
        );
        let names: Vec<_> = plan
            .packages
            .iter()
            .map(|package| package.name.as_str())
            .collect();
        assert_eq!(names, ["libfoo", "app"]);
        assert_eq!(
            plan.problems,
            vec![Problem::UnmetDependency {
                package: "app".into(),
                field: "Depends".into(),
                clause: "missing | alsomissing (>> 3)".into(),
                found: vec![],
            }]
        );
        let old_lib = package("libfoo", "1.0", &[], &[]);
        let snapshot = Snapshot {
            packages: vec![installed(&old_lib)],
            ..Snapshot::default()
        };
        let plan = plan_install(
            &snapshot,
            &[request(&package(
                "app",
                "1.0",
                &[("Pre-Depends", "libfoo (>= 2)")],
                &[],
            ))],
            &ALLOW,
        );
        assert_eq!(plan.problems.len(), 1);
        assert!(
            plan.problems[0].to_string().contains("found libfoo 1.0"),
            "{}",
            plan.problems[0]
        );
    }

    #[test]
    fn provides_satisfy_unversioned_and_matching_versioned_relations() {
        let provider = package("mawk", "1.3", &[("Provides", "awk, awk-impl (= 2)")], &[]);
        let user = package("user", "1", &[("Depends", "awk, awk-impl (>= 2)")], &[]);
        let plan = plan_install(
            &Snapshot::default(),
            &[request(&provider), request(&user)],
            &ALLOW,
        );
        assert!(plan.problems.is_empty(), "{:?}", plan.problems);
        let strict = package("strict", "1", &[("Depends", "awk (>= 1)")], &[]);
        let plan = plan_install(
            &Snapshot::default(),
            &[request(&provider), request(&strict)],
            &ALLOW,
        );
        assert_eq!(
            plan.problems.len(),
            1,
            "unversioned Provides cannot satisfy a versioned Depends"
        );
    }

    #[test]
    fn conflicts_and_breaks_are_checked_both_ways() {
        let old = package("old", "1", &[("Breaks", "new (<< 2)")], &[]);
        let snapshot = Snapshot {
            packages: vec![installed(&old)],
            ..Snapshot::default()
        };
        let new = package("new", "1", &[("Conflicts", "old")], &[]);
        let plan = plan_install(&snapshot, &[request(&new)], &ALLOW);
        let fields: Vec<_> = plan
            .problems
            .iter()
            .map(|problem| match problem {
                Problem::Conflict { package, field, .. } => format!("{package} {field}"),
                other => other.to_string(),
            })
            .collect();
        assert_eq!(fields, ["new Conflicts", "old Breaks"]);
    }

    #[test]
    fn file_conflicts_unless_replaces_allows_the_takeover() {
        let a = package("alpha", "1", &[], &[("/usr/tool", "x")]);
        let snapshot = Snapshot {
            packages: vec![installed(&a)],
            ..Snapshot::default()
        };
        let b = package("beta", "1", &[], &[("/usr/tool", "y")]);
        let plan = plan_install(&snapshot, &[request(&b)], &ALLOW);
        assert_eq!(
            plan.problems,
            vec![Problem::FileConflict {
                package: "beta".into(),
                path: "/usr/tool".into(),
                owner: "alpha".into()
            }]
        );
        let b_replacing = package(
            "beta",
            "1",
            &[("Replaces", "alpha (<< 2)")],
            &[("/usr/tool", "y")],
        );
        assert!(plan_install(&snapshot, &[request(&b_replacing)], &ALLOW)
            .problems
            .is_empty());
        let b_wrong_version = package(
            "beta",
            "1",
            &[("Replaces", "alpha (<< 1)")],
            &[("/usr/tool", "y")],
        );
        assert_eq!(
            plan_install(&snapshot, &[request(&b_wrong_version)], &ALLOW)
                .problems
                .len(),
            1
        );
        // Two requested packages with the same path.
        let c = package("gamma", "1", &[], &[("/usr/same", "1")]);
        let d = package("delta", "1", &[], &[("/usr/same", "2")]);
        assert_eq!(
            plan_install(&Snapshot::default(), &[request(&c), request(&d)], &ALLOW)
                .problems
                .len(),
            1
        );
    }

    #[test]
    fn file_capabilities_are_refused_without_a_grant_and_carried_with_one() {
        let mut ping = package("ping", "1", &[], &[("/usr/ping", "p"), ("/usr/other", "o")]);
        ping.fields.push((
            "File-Capabilities".to_owned(),
            "/usr/ping cap_net_raw=ep".to_owned(),
        ));
        ping.scripts = vec![Script {
            name: ScriptName::Postinst,
            interpreter: Some("/bin/sh".into()),
            bytes: b"#!/bin/sh\nset -e\nsetcap cap_net_bind_service+ep /usr/other\nsetcap cap_kill+ep /usr/missing\n".to_vec(),
        }];
        let plan = plan_install(&Snapshot::default(), &[request(&ping)], &ALLOW);
        let texts: Vec<String> = plan.problems.iter().map(ToString::to_string).collect();
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert!(
            texts[0].contains("file capabilities `cap_net_raw=ep` on `/usr/ping` (FILECAPS) denied by test.toml:5 file-capabilities"),
            "{texts:?}"
        );
        assert!(
            texts[1].contains(
                "file capabilities `cap_net_bind_service=ep` on `/usr/other` (postinst: setcap)"
            ),
            "{texts:?}"
        );
        let granting = TestJudge {
            deny_prefix: None,
            allow_setuid: true,
            allow_scripts: true,
        };
        let plan = plan_install(&Snapshot::default(), &[request(&ping)], &granting);
        assert!(plan.problems.is_empty(), "{:?}", plan.problems);
        let capabilities: Vec<(&str, Option<&str>)> = plan.packages[0]
            .placements
            .iter()
            .filter(|placement| placement.kind == PlacementKind::File)
            .map(|placement| (placement.path.as_str(), placement.capabilities.as_deref()))
            .collect();
        assert_eq!(
            capabilities,
            vec![
                ("/usr/ping", Some("cap_net_raw=ep")),
                ("/usr/other", Some("cap_net_bind_service=ep")),
            ]
        );
        // A setcap on a path the package does not ship is reported, not done.
        assert_eq!(
            plan.packages[0].notices,
            vec!["ping: file capabilities `cap_kill+ep` on `/usr/missing` (postinst: setcap): not a regular file this package ships: not carried out".to_owned()]
        );
    }

    #[test]
    fn denials_setuid_stripping_and_scripts_follow_the_judge() {
        let mut tool = package(
            "tool",
            "1",
            &[],
            &[("/usr/bin-su", "s"), ("/etc/cron.d-job", "c")],
        );
        tool.entries[2].mode = 0o4755;
        tool.scripts = vec![Script {
            name: ScriptName::Postinst,
            interpreter: Some("/bin/sh".into()),
            bytes: b"#!/bin/sh\nset -e\nfrobnicate --now\n".to_vec(),
        }];
        let judge = TestJudge {
            deny_prefix: Some("/etc/cron.d"),
            allow_setuid: false,
            allow_scripts: false,
        };
        let plan = plan_install(&Snapshot::default(), &[request(&tool)], &judge);
        let setuid = plan.packages[0]
            .placements
            .iter()
            .find(|placement| placement.path == "/usr/bin-su")
            .unwrap();
        assert_eq!((setuid.shipped_mode, setuid.mode), (0o4755, 0o755));
        let texts: Vec<String> = plan.problems.iter().map(ToString::to_string).collect();
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert!(
            texts[0].contains("place `/etc/cron.d-job` denied by test.toml:1 deny"),
            "{texts:?}"
        );
        assert!(
            texts[1].contains("`sandboxed` maintainer scripts (postinst)"),
            "{texts:?}"
        );
        let plan = plan_install(&Snapshot::default(), &[request(&tool)], &ALLOW);
        assert!(plan.problems.is_empty());
        let script = &plan.packages[0].scripts[0];
        assert_eq!(
            (
                script.name.as_str(),
                script.run,
                script.classification.as_str()
            ),
            ("postinst", true, "DeclarativeWithResidue")
        );
        assert_eq!(
            script.bytes().unwrap(),
            b"#!/bin/sh\nset -e\nfrobnicate --now\n"
        );
        assert_eq!(
            plan.packages[0].script_writable_paths,
            [
                "/run/tool",
                "/var/cache/tool",
                "/var/lib/tool",
                "/var/log/tool"
            ]
        );
        assert!(plan
            .render_human()
            .contains("script postinst: runs in the sandbox (DeclarativeWithResidue"));
    }

    #[test]
    fn fully_declarative_scripts_never_run_and_need_no_script_grant() {
        let mut tool = package("tool", "1", &[], &[("/usr/bin/tool", "t")]);
        tool.scripts = vec![Script {
            name: ScriptName::Postinst,
            interpreter: Some("/bin/sh".into()),
            bytes: b"#!/bin/sh\nset -e\n".to_vec(),
        }];
        let judge = TestJudge {
            deny_prefix: None,
            allow_setuid: false,
            allow_scripts: false,
        };
        let plan = plan_install(&Snapshot::default(), &[request(&tool)], &judge);
        assert!(plan.problems.is_empty(), "{:?}", plan.problems);
        assert!(!plan.packages[0].scripts[0].run);
        assert!(plan.packages[0].script_writable_paths.is_empty());
    }

    #[test]
    fn upgrade_lists_obsolete_files_and_decides_conffiles_like_dpkg() {
        let mut v1 = package(
            "foo",
            "1",
            &[],
            &[
                ("/usr/old", "o"),
                ("/etc/a.conf", "a1"),
                ("/etc/b.conf", "b1"),
                ("/etc/c.conf", "c1"),
            ],
        );
        v1.conffiles = vec![
            "/etc/a.conf".into(),
            "/etc/b.conf".into(),
            "/etc/c.conf".into(),
        ];
        let mut v2 = package(
            "foo",
            "2",
            &[],
            &[
                ("/usr/new", "n"),
                ("/etc/a.conf", "a2"),
                ("/etc/b.conf", "b2"),
                ("/etc/c.conf", "c2"),
            ],
        );
        v2.conffiles = v1.conffiles.clone();
        let snapshot = Snapshot {
            packages: vec![installed(&v1)],
            conffiles_on_disk: HashMap::from([
                ("/etc/a.conf".to_owned(), Some("a1".to_owned())),
                ("/etc/b.conf".to_owned(), Some("edited".to_owned())),
                ("/etc/c.conf".to_owned(), None),
            ]),
        };
        let plan = plan_install(&snapshot, &[request(&v2)], &ALLOW);
        assert!(plan.problems.is_empty(), "{:?}", plan.problems);
        let package = &plan.packages[0];
        assert_eq!(package.previous_version.as_deref(), Some("1"));
        assert_eq!(package.obsolete_files, ["/usr/old"]);
        let action = |path: &str| {
            package
                .placements
                .iter()
                .find(|placement| placement.path == path)
                .unwrap()
                .conffile
        };
        assert_eq!(action("/etc/a.conf"), Some(ConffileAction::Install));
        assert_eq!(
            action("/etc/b.conf"),
            Some(ConffileAction::KeepModifiedWriteNew)
        );
        assert_eq!(action("/etc/c.conf"), Some(ConffileAction::KeepDeleted));
    }

    #[test]
    fn removal_keeps_modified_conffiles_unless_purged_and_refuses_needed_packages() {
        let mut lib = package("lib", "1", &[], &[("/usr/lib1", "l"), ("/etc/l.conf", "c")]);
        lib.conffiles = vec!["/etc/l.conf".into()];
        let app = package("app", "1", &[("Depends", "lib")], &[]);
        let snapshot = Snapshot {
            packages: vec![installed(&lib), installed(&app)],
            conffiles_on_disk: HashMap::from([(
                "/etc/l.conf".to_owned(),
                Some("edited".to_owned()),
            )]),
        };
        let plan = plan_removal(&snapshot, &["lib".to_owned()], false);
        assert_eq!(
            plan.problems,
            vec![Problem::NeededBy {
                package: "lib".into(),
                needed_by: "app".into(),
                clause: "lib".into()
            }]
        );
        let plan = plan_removal(&snapshot, &["lib".to_owned(), "app".to_owned()], false);
        assert!(plan.problems.is_empty(), "{:?}", plan.problems);
        assert_eq!(plan.removals[0].keep_conffiles, ["/etc/l.conf"]);
        assert_eq!(plan.removals[0].delete_files, ["/usr/lib1"]);
        assert_eq!(
            plan.removals[0].delete_dirs,
            ["/usr"],
            "both owners of /usr go"
        );
        let only_lib = plan_removal(
            &Snapshot {
                packages: vec![installed(&lib), installed(&package("other", "1", &[], &[]))],
                ..snapshot.clone()
            },
            &["lib".to_owned()],
            false,
        );
        assert!(
            only_lib.removals[0].delete_dirs.is_empty(),
            "/usr still owned by other"
        );
        let purge = plan_removal(&snapshot, &["lib".to_owned(), "app".to_owned()], true);
        assert!(purge.removals[0]
            .delete_files
            .contains(&"/etc/l.conf".to_owned()));
        assert_eq!(
            plan_removal(&snapshot, &["nope".to_owned()], false).problems,
            vec![Problem::NotInstalled {
                package: "nope".into()
            }]
        );
    }
}
