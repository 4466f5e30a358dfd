//! Alternatives in dpkg's layout, so `update-alternatives` keeps working on
//! a root pkgward manages: the admin file `/var/lib/dpkg/alternatives/NAME`
//! and the link chain `LINK -> /etc/alternatives/NAME -> PATH`.
//!
//! Admin file format (dpkg's `update-alternatives.c`): status (`auto` or
//! `manual`), the master link, then `slave-name`/`slave-link` pairs ended by
//! an empty line; then per choice: path, priority, one line per slave (the
//! slave's path or empty); an empty line ends the file. dpkg writes choices
//! sorted by path and slaves sorted by name, drops slaves no choice provides,
//! and in auto mode keeps the current choice when it ties with the best
//! priority. The conformance test runs the real `update-alternatives --root`
//! on the same sequence and compares bytes and links.

use crate::refusal::Refusal;
use serde::Serialize;
use std::collections::BTreeSet;

/// The admin directory and the link directory, relative to the root.
pub const ADMIN_DIRECTORY: &str = "/var/lib/dpkg/alternatives";
pub const ALTERNATIVES_DIRECTORY: &str = "/etc/alternatives";

/// `auto` or `manual`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AlternativeStatus {
    Auto,
    Manual,
}

/// One choice of an alternative.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlternativeChoice {
    pub path: String,
    pub priority: i64,
    /// One entry per slave of the group, in the group's slave order.
    pub slave_paths: Vec<Option<String>>,
}

/// The parsed state of `/var/lib/dpkg/alternatives/NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlternativeGroup {
    pub name: String,
    pub status: AlternativeStatus,
    pub link: String,
    /// `(name, link)`.
    pub slaves: Vec<(String, String)>,
    pub choices: Vec<AlternativeChoice>,
}

/// An error in an admin file or a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlternativeError {
    #[error("alternatives file `{name}` line {line}: {reason}")]
    Parse {
        name: String,
        line: usize,
        reason: String,
    },
    #[error("alternative `{name}`: {reason}")]
    Conflict { name: String, reason: String },
}

/// Parses an admin file.
pub fn parse_alternative(name: &str, text: &str) -> Result<AlternativeGroup, AlternativeError> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut index = 0;
    let error = |line: usize, reason: &str| AlternativeError::Parse {
        name: name.to_owned(),
        line: line + 1,
        reason: reason.to_owned(),
    };
    let next = |index: &mut usize| -> Option<&str> {
        let line = lines.get(*index).copied();
        *index += 1;
        line
    };
    let status = match next(&mut index) {
        Some("auto") => AlternativeStatus::Auto,
        Some("manual") => AlternativeStatus::Manual,
        _ => return Err(error(0, "status must be `auto` or `manual`")),
    };
    let link = next(&mut index)
        .filter(|link| link.starts_with('/'))
        .ok_or_else(|| error(1, "master link must be an absolute path"))?
        .to_owned();
    let mut slaves = Vec::new();
    loop {
        let at = index;
        match next(&mut index) {
            Some("") => break,
            Some(slave_name) => {
                let slave_link = next(&mut index)
                    .filter(|link| link.starts_with('/'))
                    .ok_or_else(|| error(at + 1, "slave link must be an absolute path"))?;
                slaves.push((slave_name.to_owned(), slave_link.to_owned()));
            }
            None => return Err(error(at, "unterminated slave list")),
        }
    }
    let mut choices = Vec::new();
    loop {
        let at = index;
        match next(&mut index) {
            Some("") => break,
            Some(path) => {
                let priority = next(&mut index)
                    .and_then(|priority| priority.parse::<i64>().ok())
                    .ok_or_else(|| error(at + 1, "priority must be an integer"))?;
                let mut slave_paths = Vec::new();
                for _ in &slaves {
                    match next(&mut index) {
                        Some("") => slave_paths.push(None),
                        Some(path) => slave_paths.push(Some(path.to_owned())),
                        None => return Err(error(index, "missing slave path")),
                    }
                }
                choices.push(AlternativeChoice {
                    path: path.to_owned(),
                    priority,
                    slave_paths,
                });
            }
            None => return Err(error(at, "unterminated choice list")),
        }
    }
    Ok(AlternativeGroup {
        name: name.to_owned(),
        status,
        link,
        slaves,
        choices,
    })
}

/// Writes an admin file exactly as dpkg does.
pub fn serialize_alternative(group: &AlternativeGroup) -> String {
    let mut out = String::new();
    out.push_str(match group.status {
        AlternativeStatus::Auto => "auto\n",
        AlternativeStatus::Manual => "manual\n",
    });
    out.push_str(&group.link);
    out.push('\n');
    for (name, link) in &group.slaves {
        out.push_str(name);
        out.push('\n');
        out.push_str(link);
        out.push('\n');
    }
    out.push('\n');
    for choice in &group.choices {
        out.push_str(&choice.path);
        out.push('\n');
        out.push_str(&choice.priority.to_string());
        out.push('\n');
        for slave in &choice.slave_paths {
            out.push_str(slave.as_deref().unwrap_or(""));
            out.push('\n');
        }
    }
    out.push('\n');
    out
}

/// `update-alternatives --install LINK NAME PATH PRIORITY [--slave LINK NAME PATH]…`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlternativeInstall {
    pub link: String,
    pub name: String,
    pub path: String,
    pub priority: i64,
    /// `(link, name, path)`.
    pub slaves: Vec<(String, String, String)>,
}

/// Which alternative names a package may register (from its grants).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlternativeGrant {
    pub names: BTreeSet<String>,
}

/// Checks an install request against the grant: the master and every slave
/// name must be granted, paths absolute and normalised.
pub fn check_alternative_install(
    file: &str,
    line: usize,
    request: &AlternativeInstall,
    grant: &AlternativeGrant,
) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    let names =
        std::iter::once(&request.name).chain(request.slaves.iter().map(|(_, name, _)| name));
    for name in names {
        if name.is_empty() || name.contains(['/', '\n']) || name == "." || name == ".." {
            refusals.push(Refusal::new(
                file,
                line,
                "update-alternatives",
                format!(
                    "`{}` is not a valid alternative name",
                    name.escape_default()
                ),
            ));
        } else if !grant.names.contains(name) {
            refusals.push(
                Refusal::new(
                    file,
                    line,
                    "update-alternatives",
                    format!("alternative name `{name}` is not granted to this package"),
                )
                .with_hint(format!("grant `alternatives = [\"{name}\"]`")),
            );
        }
    }
    let paths = [&request.link, &request.path].into_iter().chain(
        request
            .slaves
            .iter()
            .flat_map(|(link, _, path)| [link, path]),
    );
    for path in paths {
        if !path.starts_with('/')
            || path.split('/').any(|component| component == "..")
            || path.contains('\n')
        {
            refusals.push(Refusal::new(
                file,
                line,
                "update-alternatives",
                format!(
                    "`{}` is not an absolute normalised path",
                    path.escape_default()
                ),
            ));
        }
    }
    refusals
}

/// The planned result for one alternative group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct AlternativePlan {
    /// New admin file content; `None` when the file is to be removed.
    pub admin_file: Option<String>,
    /// Symlinks to (re)create: `(link, target)`, all paths inside the root.
    pub symlinks: Vec<(String, String)>,
    /// Links to remove (stale slaves, or everything when the group goes away).
    pub remove: Vec<String>,
    /// The selected choice after the operation.
    pub selected: Option<String>,
}

fn select(group: &AlternativeGroup, current: Option<&str>) -> Option<usize> {
    let best_priority = group.choices.iter().map(|choice| choice.priority).max()?;
    if let Some(position) = current.and_then(|current| {
        group
            .choices
            .iter()
            .position(|choice| choice.path == current)
    }) {
        // Manual mode keeps its choice; auto mode keeps a current choice that
        // ties with the best (dpkg does not flip between equals).
        if group.status == AlternativeStatus::Manual
            || group.choices[position].priority == best_priority
        {
            return Some(position);
        }
    }
    group
        .choices
        .iter()
        .position(|choice| choice.priority == best_priority)
}

fn links_for(
    group: &AlternativeGroup,
    selected: Option<usize>,
    plan: &mut AlternativePlan,
    previous_slaves: &[(String, String)],
) {
    let Some(selected) = selected else { return };
    let choice = &group.choices[selected];
    plan.selected = Some(choice.path.clone());
    plan.symlinks.push((
        format!("{ALTERNATIVES_DIRECTORY}/{}", group.name),
        choice.path.clone(),
    ));
    plan.symlinks.push((
        group.link.clone(),
        format!("{ALTERNATIVES_DIRECTORY}/{}", group.name),
    ));
    for ((slave_name, slave_link), slave_path) in group.slaves.iter().zip(&choice.slave_paths) {
        if let Some(path) = slave_path {
            plan.symlinks.push((
                format!("{ALTERNATIVES_DIRECTORY}/{slave_name}"),
                path.clone(),
            ));
            plan.symlinks.push((
                slave_link.clone(),
                format!("{ALTERNATIVES_DIRECTORY}/{slave_name}"),
            ));
        } else {
            plan.remove.push(slave_link.clone());
            plan.remove
                .push(format!("{ALTERNATIVES_DIRECTORY}/{slave_name}"));
        }
    }
    for (slave_name, slave_link) in previous_slaves {
        if !group.slaves.iter().any(|(name, _)| name == slave_name) {
            plan.remove.push(slave_link.clone());
            plan.remove
                .push(format!("{ALTERNATIVES_DIRECTORY}/{slave_name}"));
        }
    }
}

/// Sorts and prunes as dpkg does before saving.
fn normalise(group: &mut AlternativeGroup) {
    // Drop slaves no choice provides.
    let keep: Vec<bool> = (0..group.slaves.len())
        .map(|index| {
            group
                .choices
                .iter()
                .any(|choice| choice.slave_paths.get(index).is_some_and(Option::is_some))
        })
        .collect();
    let mut index = 0;
    group.slaves.retain(|_| {
        let kept = keep[index];
        index += 1;
        kept
    });
    for choice in &mut group.choices {
        let mut index = 0;
        choice.slave_paths.retain(|_| {
            let kept = keep[index];
            index += 1;
            kept
        });
    }
    // Sort slaves by name, permuting every choice's slave paths alongside.
    let mut order: Vec<usize> = (0..group.slaves.len()).collect();
    order.sort_by(|a, b| group.slaves[*a].0.cmp(&group.slaves[*b].0));
    group.slaves = order
        .iter()
        .map(|index| group.slaves[*index].clone())
        .collect();
    for choice in &mut group.choices {
        choice.slave_paths = order
            .iter()
            .map(|index| choice.slave_paths[*index].clone())
            .collect();
    }
    group.choices.sort_by(|a, b| a.path.cmp(&b.path));
}

/// Plans `--install`. `existing` is the parsed admin file (if any) and
/// `current` the target of `/etc/alternatives/NAME` (if any).
pub fn plan_alternative_install(
    existing: Option<&AlternativeGroup>,
    current: Option<&str>,
    request: &AlternativeInstall,
) -> Result<AlternativePlan, AlternativeError> {
    let mut group = existing.cloned().unwrap_or_else(|| AlternativeGroup {
        name: request.name.clone(),
        status: AlternativeStatus::Auto,
        link: request.link.clone(),
        slaves: Vec::new(),
        choices: Vec::new(),
    });
    if group.link != request.link {
        return Err(AlternativeError::Conflict {
            name: request.name.clone(),
            reason: format!(
                "its link is `{}`, the request uses `{}`",
                group.link, request.link
            ),
        });
    }
    let previous_slaves = group.slaves.clone();
    // Register new slaves (dpkg appends, then sorts on save).
    for (slave_link, slave_name, _) in &request.slaves {
        if slave_name == &group.name {
            return Err(AlternativeError::Conflict {
                name: request.name.clone(),
                reason: format!("slave `{slave_name}` has the master's name"),
            });
        }
        match group.slaves.iter().find(|(name, _)| name == slave_name) {
            Some((_, link)) if link != slave_link => {
                return Err(AlternativeError::Conflict {
                    name: request.name.clone(),
                    reason: format!(
                        "slave `{slave_name}` has link `{link}`, the request uses `{slave_link}`"
                    ),
                })
            }
            Some(_) => {}
            None => {
                group.slaves.push((slave_name.clone(), slave_link.clone()));
                for choice in &mut group.choices {
                    choice.slave_paths.push(None);
                }
            }
        }
    }
    let slave_paths: Vec<Option<String>> = group
        .slaves
        .iter()
        .map(|(name, _)| {
            request
                .slaves
                .iter()
                .find(|(_, slave, _)| slave == name)
                .map(|(_, _, path)| path.clone())
        })
        .collect();
    match group
        .choices
        .iter_mut()
        .find(|choice| choice.path == request.path)
    {
        Some(choice) => {
            choice.priority = request.priority;
            choice.slave_paths = slave_paths;
        }
        None => group.choices.push(AlternativeChoice {
            path: request.path.clone(),
            priority: request.priority,
            slave_paths,
        }),
    }
    let selected_path = select(&group, current).map(|index| group.choices[index].path.clone());
    normalise(&mut group);
    let selected =
        selected_path.and_then(|path| group.choices.iter().position(|choice| choice.path == path));
    let mut plan = AlternativePlan {
        admin_file: Some(serialize_alternative(&group)),
        ..AlternativePlan::default()
    };
    links_for(&group, selected, &mut plan, &previous_slaves);
    Ok(plan)
}

/// Plans `--remove NAME PATH`.
pub fn plan_alternative_remove(
    existing: &AlternativeGroup,
    current: Option<&str>,
    path: &str,
) -> AlternativePlan {
    let mut group = existing.clone();
    let previous_slaves = group.slaves.clone();
    group.choices.retain(|choice| choice.path != path);
    let mut plan = AlternativePlan::default();
    if group.choices.is_empty() {
        plan.remove
            .push(format!("{ALTERNATIVES_DIRECTORY}/{}", group.name));
        plan.remove.push(group.link.clone());
        for (name, link) in &group.slaves {
            plan.remove.push(format!("{ALTERNATIVES_DIRECTORY}/{name}"));
            plan.remove.push(link.clone());
        }
        return plan;
    }
    let mut current = current;
    if current == Some(path) {
        // Removing the selected choice returns the group to auto mode.
        group.status = AlternativeStatus::Auto;
        current = None;
    }
    let selected_path = select(&group, current).map(|index| group.choices[index].path.clone());
    normalise(&mut group);
    let selected = selected_path.and_then(|selected| {
        group
            .choices
            .iter()
            .position(|choice| choice.path == selected)
    });
    plan.admin_file = Some(serialize_alternative(&group));
    links_for(&group, selected, &mut plan, &previous_slaves);
    plan
}
