//! `pkgward inspect PKG`: what a package contains, without installing it.
//!
//! Reads the package with the streaming reader (`pkgward_package::artifact::read`,
//! `.deb` or `.rpm` by magic bytes)
//! and prints either a human listing or, with `--json`, one JSON object whose
//! shape is documented on [`package_json`] and relied on by tests and scripts.

use anyhow::Context;
use pkgward_package::{artifact, Entry, EntryKind, Limits, Package, Relation};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The package file (`.deb` or `.rpm`).
    pub package: PathBuf,
    /// Print one JSON object instead of the human listing.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    // The reader's error names the artifact, member and entry; the context
    // says what we were doing.
    let package = artifact::read(&args.package, &Limits::default())
        .with_context(|| format!("cannot inspect `{}`", args.package.display()))?;
    let output = if args.json {
        let mut text = serde_json::to_string_pretty(&package_json(&package))?;
        text.push('\n');
        text
    } else {
        human_listing(&package)
    };
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(output.as_bytes()) {
        // `pkgward inspect x.deb | head` is normal use, not an error.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.context("cannot write to standard output")?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `mode` as four octal digits, like `0755` or `4755`.
fn octal_mode(mode: u32) -> String {
    format!("{mode:04o}")
}

fn relation_groups(groups: &[Vec<Relation>]) -> Vec<String> {
    groups
        .iter()
        .map(|alternatives| {
            alternatives
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect()
}

/// The `--json` shape: `format` (`deb` or `rpm`), `name`, `version`, `architecture`, `description`,
/// `maintainer`, `relations` (field → list of `a | b (>= 1)` strings),
/// `scripts` (`{name, interpreter, size}`), `conffiles`, `triggers`
/// (`{directive, name}`), `entries` (`{path, type, mode, size, owner,
/// group, target, sha256}` with `mode` an octal string and `type` one of
/// `file|dir|symlink|hardlink`), `installed_size`, `artifact_sha256`.
fn package_json(package: &Package) -> Value {
    let relations = &package.relations;
    json!({
        "format": package.format,
        "name": package.name,
        "version": package.version.to_string(),
        "architecture": package.architecture,
        "description": package.description,
        "maintainer": package.maintainer,
        "relations": {
            "depends": relation_groups(&relations.depends),
            "pre_depends": relation_groups(&relations.pre_depends),
            "recommends": relation_groups(&relations.recommends),
            "suggests": relation_groups(&relations.suggests),
            "conflicts": relation_groups(&relations.conflicts),
            "breaks": relation_groups(&relations.breaks),
            "replaces": relation_groups(&relations.replaces),
            "provides": relation_groups(&relations.provides),
        },
        "scripts": package.scripts.iter().map(|script| json!({
            "name": script.name.as_str(),
            "interpreter": script.interpreter,
            "size": script.bytes.len(),
        })).collect::<Vec<_>>(),
        "conffiles": package.conffiles,
        "triggers": package.triggers.iter().map(|trigger| json!({
            "directive": trigger.directive,
            "name": trigger.name,
        })).collect::<Vec<_>>(),
        "entries": package.entries.iter().map(entry_json).collect::<Vec<_>>(),
        "installed_size": package.installed_size,
        "artifact_sha256": package.artifact_sha256,
    })
}

fn entry_json(entry: &Entry) -> Value {
    json!({
        "path": entry.path,
        "type": entry.kind.as_str(),
        "mode": octal_mode(entry.mode),
        "size": entry.size,
        "owner": entry.owner,
        "group": entry.group,
        "target": entry.target,
        "sha256": entry.sha256,
    })
}

/// Control field text may contain anything; never let it drive the terminal.
fn printable(text: &str) -> String {
    text.chars()
        .map(|character| {
            if character.is_control() && character != '\n' {
                character.escape_debug().to_string()
            } else {
                character.to_string()
            }
        })
        .collect()
}

/// `ls -l`-style type and permission column.
fn permission_column(entry: &Entry) -> String {
    let type_char = match entry.kind {
        EntryKind::File => '-',
        EntryKind::Dir => 'd',
        EntryKind::Symlink => 'l',
        EntryKind::Hardlink => 'h',
    };
    let mode = entry.mode;
    let bit = |mask: u32, set: char| if mode & mask != 0 { set } else { '-' };
    let exec = |exec_mask: u32, special_mask: u32, special: char| match (
        mode & exec_mask != 0,
        mode & special_mask != 0,
    ) {
        (true, true) => special,
        (false, true) => special.to_ascii_uppercase(),
        (true, false) => 'x',
        (false, false) => '-',
    };
    [
        type_char,
        bit(0o400, 'r'),
        bit(0o200, 'w'),
        exec(0o100, 0o4000, 's'),
        bit(0o040, 'r'),
        bit(0o020, 'w'),
        exec(0o010, 0o2000, 's'),
        bit(0o004, 'r'),
        bit(0o002, 'w'),
        exec(0o001, 0o1000, 't'),
    ]
    .iter()
    .collect()
}

fn human_listing(package: &Package) -> String {
    let mut out = String::new();
    let description = printable(&package.description);
    let mut description_lines = description.lines();
    let _ = writeln!(
        out,
        "{} {} ({})",
        package.name, package.version, package.architecture
    );
    let _ = writeln!(out, "  {}", description_lines.next().unwrap_or(""));
    if let Some(maintainer) = &package.maintainer {
        let _ = writeln!(out, "maintainer: {}", printable(maintainer));
    }
    let _ = writeln!(out, "installed size: {} bytes", package.installed_size);
    let _ = writeln!(out, "sha256: {}", package.artifact_sha256);
    let relations = &package.relations;
    for (label, groups) in [
        ("pre-depends", &relations.pre_depends),
        ("depends", &relations.depends),
        ("recommends", &relations.recommends),
        ("suggests", &relations.suggests),
        ("conflicts", &relations.conflicts),
        ("breaks", &relations.breaks),
        ("replaces", &relations.replaces),
        ("provides", &relations.provides),
    ] {
        if !groups.is_empty() {
            let _ = writeln!(out, "{label}: {}", relation_groups(groups).join(", "));
        }
    }
    if !package.scripts.is_empty() {
        let _ = writeln!(out, "scripts:");
        for script in &package.scripts {
            let _ = writeln!(
                out,
                "  {:<9} {:<16} {} bytes",
                script.name.as_str(),
                printable(script.interpreter.as_deref().unwrap_or("(no #! line)")),
                script.bytes.len()
            );
        }
    }
    if !package.conffiles.is_empty() {
        let _ = writeln!(out, "conffiles:");
        for conffile in &package.conffiles {
            let _ = writeln!(out, "  {conffile}");
        }
    }
    if !package.triggers.is_empty() {
        let _ = writeln!(out, "triggers:");
        for trigger in &package.triggers {
            let _ = writeln!(out, "  {} {}", trigger.directive, printable(&trigger.name));
        }
    }
    let _ = writeln!(out, "entries ({}):", package.entries.len());
    for entry in &package.entries {
        let suffix = match (&entry.kind, &entry.target) {
            (EntryKind::Symlink, Some(target)) => format!(" -> {}", printable(target)),
            (EntryKind::Hardlink, Some(target)) => format!(" link to {target}"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  {} {}/{} {:>10} {}{}",
            permission_column(entry),
            entry.owner,
            entry.group,
            entry.size,
            entry.path,
            suffix
        );
    }
    out
}
