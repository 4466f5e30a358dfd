//! The declarative actions of an install plan: gathers what the pure
//! planner (`pkgward_plan::actions::plan_actions`) needs from the root (its
//! preset files, the unit names that already exist there) and adds each
//! package's judged actions, and every refusal, to the plan.

use anyhow::Context;
use pkgward_engine::Root;
use pkgward_package::Package;
use pkgward_plan::actions::PlannedAction;
use pkgward_plan::actions::{plan_actions, ActionInput, ActionJudge};
use pkgward_plan::PlacementKind;
use pkgward_plan::Plan;
use pkgward_policy::footprint::{DeclarationFile, Footprint};
use std::collections::{BTreeMap, BTreeSet};

/// Reads the root's presets (a broken preset file is an error naming it).
fn presets(root: &Root) -> anyhow::Result<Vec<pkgward_actions::units::PresetRule>> {
    let mut rules = Vec::new();
    for (path, bytes) in pkgward_engine::actions::preset_files(root)? {
        let text = String::from_utf8_lossy(&bytes);
        rules.extend(
            pkgward_actions::units::parse_presets(&path, &text)
                .with_context(|| format!("cannot read the preset file `{path}`"))?,
        );
    }
    Ok(rules)
}

/// The system unit names a package's files declare, with their `Alias=` names.
fn unit_names(declarations: &[DeclarationFile]) -> (Vec<String>, Vec<String>) {
    let mut units = Vec::new();
    let mut aliases = Vec::new();
    for file in declarations {
        let Some((directory, name)) = file.path.rsplit_once('/') else {
            continue;
        };
        if !directory.ends_with("/systemd/system") {
            continue;
        }
        units.push(name.to_owned());
        if let Ok(unit) =
            pkgward_actions::units::parse_unit(&file.path, &String::from_utf8_lossy(&file.bytes))
        {
            aliases.extend(
                unit.list("Install", "Alias")
                    .into_iter()
                    .map(|(alias, _)| alias),
            );
        }
    }
    (units, aliases)
}

/// Plans, judges and records the actions of every package of `plan`.
pub(crate) fn plan_package_actions(
    root: &Root,
    plan: &mut Plan,
    packages: &[Package],
    declarations: &[Vec<DeclarationFile>],
    footprints: &[Footprint],
    judge: &dyn ActionJudge,
) -> anyhow::Result<()> {
    let presets = presets(root)?;
    let names: Vec<(Vec<String>, Vec<String>)> =
        declarations.iter().map(|files| unit_names(files)).collect();
    let mut problems = Vec::new();
    for planned in &mut plan.packages {
        let Some(index) = packages.iter().position(|package| {
            package.name == planned.name && package.artifact_sha256 == planned.artifact_sha256
        }) else {
            continue;
        };
        let (own_units, aliases) = &names[index];
        let mut foreign_units = BTreeMap::new();
        for alias in aliases {
            if own_units.contains(alias) {
                continue;
            }
            if let Some(path) = pkgward_engine::actions::existing_unit(root, alias)? {
                foreign_units.insert(alias.clone(), format!("exists at `{path}`"));
            }
            for (other, (units, _)) in names.iter().enumerate() {
                if other != index && units.contains(alias) {
                    foreign_units.insert(
                        alias.clone(),
                        format!("shipped by `{}`", packages[other].name),
                    );
                }
            }
        }
        let footprint = &footprints[index];
        let planned_actions = plan_actions(
            &ActionInput {
                package: &packages[index],
                repo: &planned.repo,
                declarations: &declarations[index],
                services: &footprint.services,
                placements: &planned.placements,
                presets: &presets,
                foreign_units: &foreign_units,
            },
            judge,
        );
        planned.actions = planned_actions.actions;
        planned.decisions.extend(planned_actions.decisions);
        problems.extend(planned_actions.problems);
    }
    plan.problems.extend(problems);
    apply_attributes_to_placements(root, plan)?;
    check_account_edit(root, plan)?;
    Ok(())
}

/// Plans the account edit against the root's files now, so a conflict (a
/// fixed id another account holds, a missing primary group) refuses the plan
/// before anything is staged; prepare computes it again under the lock.
fn check_account_edit(root: &Root, plan: &mut Plan) -> anyhow::Result<()> {
    use pkgward_actions::sysusers::{parse_sysusers, plan_account_edit, AccountEditConfig};
    let mut entries = Vec::new();
    let mut first = None;
    for planned in &plan.packages {
        for action in &planned.actions {
            if let PlannedAction::Accounts { source, text } = action {
                first.get_or_insert_with(|| planned.name.clone());
                entries.extend(parse_sysusers(source, text).unwrap_or_default());
            }
        }
    }
    let Some(package) = first else {
        return Ok(());
    };
    let files = pkgward_engine::actions::read_account_files(root)?;
    if let Err(error) = plan_account_edit(&entries, &files, &AccountEditConfig::default()) {
        plan.problems.push(pkgward_plan::Problem::Denied {
            package,
            item: "the accounts of this transaction".to_owned(),
            because: error.to_string(),
            hint: Some(
                "the root's account files already hold a conflicting entry; resolve it there"
                    .to_owned(),
            ),
        });
    }
    Ok(())
}

/// Names of accounts the plan's `Accounts` actions create.
fn planned_account_names(plan: &Plan) -> (BTreeSet<String>, BTreeSet<String>) {
    use pkgward_actions::sysusers::{parse_sysusers, PrimaryGroup, SysusersKind};
    let mut users = BTreeSet::new();
    let mut groups = BTreeSet::new();
    for action in plan.packages.iter().flat_map(|planned| &planned.actions) {
        let PlannedAction::Accounts { source, text } = action else {
            continue;
        };
        for entry in parse_sysusers(source, text).unwrap_or_default() {
            match entry.kind {
                SysusersKind::User {
                    name,
                    primary_group,
                    ..
                } => {
                    if primary_group == PrimaryGroup::SameName {
                        groups.insert(name.clone());
                    }
                    users.insert(name);
                }
                SysusersKind::Group { name, .. } => {
                    groups.insert(name);
                }
                SysusersKind::Member { .. } | SysusersKind::Range { .. } => {}
            }
        }
    }
    (users, groups)
}

/// Owner/group/mode actions on paths the package ships change those
/// placements, so the files are staged with them and recorded as they are
/// (`check` stays clean). An action naming an account that neither the root
/// nor the transaction has is not carried out (described instead): pkgward
/// never gives a mode, setgid above all, to a fallback owner.
fn apply_attributes_to_placements(root: &Root, plan: &mut Plan) -> anyhow::Result<()> {
    let accounts = pkgward_engine::accounts::Accounts::read(root)?;
    let (new_users, new_groups) = planned_account_names(plan);
    for planned in &mut plan.packages {
        for action in &mut planned.actions {
            let PlannedAction::SetAttributes {
                source,
                path,
                owner,
                group,
                mode,
            } = action
            else {
                continue;
            };
            let missing = owner
                .iter()
                .filter(|name| !accounts.knows_user(name) && !new_users.contains(*name))
                .map(|name| format!("user `{name}`"))
                .chain(
                    group
                        .iter()
                        .filter(|name| !accounts.knows_group(name) && !new_groups.contains(*name))
                        .map(|name| format!("group `{name}`")),
                )
                .collect::<Vec<_>>();
            if !missing.is_empty() {
                *action = PlannedAction::Described {
                    source: source.clone(),
                    what: format!(
                        "`{path}` left as it is: {} exists neither in the root nor in this transaction",
                        missing.join(" and ")
                    ),
                };
                continue;
            }
            for placement in &mut planned.placements {
                if placement.path == *path && placement.kind != PlacementKind::Symlink {
                    if let Some(owner) = owner {
                        placement.owner.clone_from(owner);
                    }
                    if let Some(group) = group {
                        placement.group.clone_from(group);
                    }
                    if let Some(mode) = mode {
                        placement.mode = *mode;
                    }
                }
            }
        }
    }
    Ok(())
}

/// The actions recorded for the installed package `name`.
fn recorded_actions(
    database: &pkgward_db::Database,
    name: &str,
) -> anyhow::Result<Vec<PlannedAction>> {
    database
        .actions(name)?
        .into_iter()
        .map(|record| {
            serde_json::from_str(&record.detail)
                .with_context(|| format!("recorded action of `{name}` is not valid"))
        })
        .collect()
}

/// On upgrade, the links the previous version's actions made that the new
/// version's actions do not make go (like `deb-systemd-helper update-state`).
pub(crate) fn add_stale_links(
    database: &pkgward_db::Database,
    plan: &mut Plan,
) -> anyhow::Result<()> {
    for planned in &mut plan.packages {
        if planned.previous_version.is_none() {
            continue;
        }
        let new: BTreeSet<&pkgward_plan::actions::ActionSymlink> = planned
            .actions
            .iter()
            .filter_map(|action| match action {
                PlannedAction::EnableUnit { symlinks, .. } => Some(symlinks),
                _ => None,
            })
            .flatten()
            .collect();
        let mut stale = Vec::new();
        for action in recorded_actions(database, &planned.name)? {
            if let PlannedAction::EnableUnit { symlinks, .. } = action {
                stale.extend(
                    symlinks
                        .into_iter()
                        .filter(|symlink| !new.contains(symlink)),
                );
            }
        }
        planned.stale_links = stale;
    }
    Ok(())
}

/// Fills in each removal's `remove_links` from the actions recorded at
/// install: the enablement symlinks go with the package. Accounts stay, as
/// with Debian's packages (files may still be owned by them).
pub(crate) fn add_removal_links(
    database: &pkgward_db::Database,
    plan: &mut Plan,
) -> anyhow::Result<()> {
    for removal in &mut plan.removals {
        for action in recorded_actions(database, &removal.name)? {
            match action {
                PlannedAction::EnableUnit { symlinks, .. } => removal.remove_links.extend(symlinks),
                PlannedAction::Alternative { name, path, .. } => {
                    removal.remove_alternatives.push((name, path));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// The placements `audit` judges a package's actions against: every entry
/// at its shipped path (no root to resolve it in).
fn shipped_placements(package: &Package) -> Vec<pkgward_plan::Placement> {
    package
        .entries
        .iter()
        .map(|entry| pkgward_plan::Placement {
            shipped_path: entry.path.clone(),
            path: entry.path.clone(),
            kind: match entry.kind {
                pkgward_package::EntryKind::Dir => PlacementKind::Dir,
                pkgward_package::EntryKind::File => PlacementKind::File,
                pkgward_package::EntryKind::Symlink => PlacementKind::Symlink,
                pkgward_package::EntryKind::Hardlink => PlacementKind::Hardlink,
            },
            mode: entry.mode & 0o7777,
            shipped_mode: entry.mode & 0o7777,
            owner: entry.owner.clone(),
            group: entry.group.clone(),
            target: entry.target.clone(),
            digest: entry.sha256.clone(),
            conffile: None,
            conffile_original_digest: None,
            capabilities: None,
        })
        .collect()
}

/// `audit --actions`: the actions one package would get, judged by the
/// policy, with what would refuse them (no root state: no presets, no
/// foreign units).
pub(crate) fn audit_actions(
    package: &Package,
    declarations: &[DeclarationFile],
    compiled: &pkgward_policy::CompiledPolicy,
    repo: &str,
) -> pkgward_plan::actions::PackageActions {
    let footprint = pkgward_policy::footprint::footprint_with(package, declarations, compiled);
    let placements = shipped_placements(package);
    plan_actions(
        &ActionInput {
            package,
            repo,
            declarations,
            services: &footprint.services,
            placements: &placements,
            presets: &[],
            foreign_units: &BTreeMap::new(),
        },
        &super::install::policy_judge(compiled),
    )
}
