//! `pkgward audit-scripts DIR`: classify the maintainer scripts of every
//! `.deb` in a directory and report how many packages become fully
//! declarative, the per-idiom counts and the largest residue categories.
//! This is the rerunnable command behind `docs/script-translation.md`.
//!
//! Packages are read with `pkgward_package::deb::read` (nothing is
//! unpacked, no process runs); only the four dpkg maintainer scripts
//! (`preinst`, `postinst`, `prerm`, `postrm`) are counted — `config` is a
//! debconf script and is left out of the figure.

use anyhow::Context as _;
use pkgward_actions::scripts::{classify_script, Classification, ScriptContext, ScriptReport};
use pkgward_package::{Limits, ScriptName};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory of `.deb` files (e.g. `../shared/corpus/debs`).
    pub directory: PathBuf,
    /// Print one JSON object instead of the Markdown report.
    #[arg(long)]
    pub json: bool,
    /// List every residue line per package in the Markdown report.
    #[arg(long)]
    pub details: bool,
}

const SCRIPT_NAMES: [ScriptName; 4] = [
    ScriptName::Preinst,
    ScriptName::Postinst,
    ScriptName::Prerm,
    ScriptName::Postrm,
];

#[derive(Debug, Serialize)]
struct PackageResult {
    package: String,
    file: String,
    classification: Classification,
    scripts: Vec<ScriptReport>,
}

#[derive(Debug, Serialize)]
struct Summary {
    debs: usize,
    packages_with_scripts: usize,
    fully_declarative: usize,
    with_residue: usize,
    needs_unconfined: usize,
    scripts: BTreeMap<String, usize>,
    idioms: Vec<(String, usize, usize)>,
    debhelper_blocks: Vec<(String, usize)>,
    residue_categories: Vec<(String, usize, usize)>,
    packages: Vec<PackageResult>,
}

fn audit(directory: &Path) -> anyhow::Result<Summary> {
    let mut debs: Vec<PathBuf> = fs_err::read_dir(directory)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "deb"))
        .collect();
    debs.sort();
    if debs.is_empty() {
        anyhow::bail!("no `.deb` files in `{}`", directory.display());
    }
    let mut packages = Vec::new();
    let limits = Limits::default();
    for deb in &debs {
        let package = pkgward_package::deb::read(deb, &limits)
            .with_context(|| format!("cannot read `{}`", deb.display()))?;
        let context = ScriptContext {
            package: package.name.clone(),
        };
        let mut scripts = Vec::new();
        for name in SCRIPT_NAMES {
            if let Some(script) = package.scripts.iter().find(|script| script.name == name) {
                scripts.push(classify_script(name.as_str(), &script.bytes, &context));
            }
        }
        let package = package.name;
        if scripts.is_empty() {
            continue;
        }
        let classification = scripts
            .iter()
            .map(|script| script.classification)
            .max()
            .unwrap_or(Classification::FullyDeclarative);
        packages.push(PackageResult {
            package,
            file: deb
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default(),
            classification,
            scripts,
        });
    }

    let mut script_counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut idioms: BTreeMap<String, (usize, std::collections::BTreeSet<String>)> = BTreeMap::new();
    let mut blocks: BTreeMap<String, usize> = BTreeMap::new();
    let mut residue: BTreeMap<String, (usize, std::collections::BTreeSet<String>)> =
        BTreeMap::new();
    for package in &packages {
        for script in &package.scripts {
            *script_counts
                .entry(format!("{:?}", script.classification))
                .or_default() += 1;
            for item in &script.recognised {
                let entry = idioms.entry(item.idiom.clone()).or_default();
                entry.0 += 1;
                entry.1.insert(package.package.clone());
            }
            for (tool, ..) in &script.debhelper_blocks {
                *blocks.entry(tool.clone()).or_default() += 1;
            }
            for item in &script.residue {
                let entry = residue.entry(item.category.clone()).or_default();
                entry.0 += 1;
                entry.1.insert(package.package.clone());
            }
        }
    }
    let mut idioms: Vec<(String, usize, usize)> = idioms
        .into_iter()
        .map(|(idiom, (count, set))| (idiom, count, set.len()))
        .collect();
    idioms.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut residue_categories: Vec<(String, usize, usize)> = residue
        .into_iter()
        .map(|(category, (count, set))| (category, count, set.len()))
        .collect();
    residue_categories.sort_by(|a, b| {
        b.2.cmp(&a.2)
            .then(b.1.cmp(&a.1))
            .then_with(|| a.0.cmp(&b.0))
    });
    let mut debhelper_blocks: Vec<(String, usize)> = blocks.into_iter().collect();
    debhelper_blocks.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let count = |wanted: Classification| {
        packages
            .iter()
            .filter(|p| p.classification == wanted)
            .count()
    };
    Ok(Summary {
        debs: debs.len(),
        packages_with_scripts: packages.len(),
        fully_declarative: count(Classification::FullyDeclarative),
        with_residue: count(Classification::DeclarativeWithResidue),
        needs_unconfined: count(Classification::NeedsUnconfined),
        scripts: script_counts,
        idioms,
        debhelper_blocks,
        residue_categories,
        packages,
    })
}

#[allow(clippy::cast_precision_loss)]
fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

fn markdown(summary: &Summary, details: bool) -> String {
    let mut out = String::new();
    let total = summary.packages_with_scripts;
    let _ = writeln!(out, "| measure | value |\n|---|---|");
    let _ = writeln!(out, "| `.deb` files read | {} |", summary.debs);
    let _ = writeln!(out, "| packages with maintainer scripts | {total} |");
    let _ = writeln!(
        out,
        "| **fully declarative** | **{} ({:.1}%)** |",
        summary.fully_declarative,
        percent(summary.fully_declarative, total)
    );
    let _ = writeln!(
        out,
        "| declarative + sandboxable residue | {} ({:.1}%) |",
        summary.with_residue,
        percent(summary.with_residue, total)
    );
    let _ = writeln!(
        out,
        "| needs unconfined execution | {} ({:.1}%) |",
        summary.needs_unconfined,
        percent(summary.needs_unconfined, total)
    );
    for (classification, count) in &summary.scripts {
        let _ = writeln!(out, "| scripts {classification} | {count} |");
    }
    let _ = writeln!(
        out,
        "\n### Debhelper blocks recognised\n\n| tool | blocks |\n|---|---|"
    );
    for (tool, count) in &summary.debhelper_blocks {
        let _ = writeln!(out, "| `{tool}` | {count} |");
    }
    let _ = writeln!(
        out,
        "\n### Idioms (occurrences, packages)\n\n| idiom | occurrences | packages |\n|---|---|---|"
    );
    for (idiom, count, packages) in &summary.idioms {
        let _ = writeln!(
            out,
            "| {} | {count} | {packages} |",
            idiom.replace('|', "\\|")
        );
    }
    let _ = writeln!(out, "\n### Residue categories (by packages affected)\n\n| category | occurrences | packages |\n|---|---|---|");
    for (category, count, packages) in &summary.residue_categories {
        let _ = writeln!(
            out,
            "| {} | {count} | {packages} |",
            category.replace('|', "\\|")
        );
    }
    let _ = writeln!(
        out,
        "\n### Per package\n\n| package | result | scripts | residue lines |\n|---|---|---|---|"
    );
    for package in &summary.packages {
        let scripts: Vec<String> = package
            .scripts
            .iter()
            .map(|script| {
                let mark = match script.classification {
                    Classification::FullyDeclarative => "decl",
                    Classification::DeclarativeWithResidue => "residue",
                    Classification::NeedsUnconfined => "unconfined",
                };
                format!("{} ({mark})", script.script)
            })
            .collect();
        let residue: usize = package
            .scripts
            .iter()
            .map(|script| script.residue.len())
            .sum();
        let _ = writeln!(
            out,
            "| {} | {:?} | {} | {residue} |",
            package.package,
            package.classification,
            scripts.join(", ")
        );
    }
    if details {
        let _ = writeln!(out, "\n### Residue detail\n");
        for package in &summary.packages {
            for script in &package.scripts {
                for item in &script.residue {
                    let _ = writeln!(
                        out,
                        "- {} {}:{} — {} — `{}`",
                        package.package,
                        script.script,
                        item.line,
                        item.category,
                        item.text.replace('`', "'")
                    );
                }
            }
        }
    }
    out
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let summary = audit(&args.directory).with_context(|| {
        format!(
            "cannot audit the packages in `{}`",
            args.directory.display()
        )
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", markdown(&summary, args.details));
    }
    Ok(ExitCode::SUCCESS)
}
