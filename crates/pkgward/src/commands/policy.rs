//! `pkgward policy show [--default] [--catalog]`, and the policy loading
//! shared by `verify`, `explain` and `audit`.
//!
//! The policy crate is pure; reading files happens here: `--policy FILE`
//! (repeatable), else `<root>/etc/pkgward/policy.toml` then
//! `<root>/etc/pkgward/policy.d/*.toml` in name order, else the embedded
//! default. `--grants FILE` is the grants file of `--repo` (default `local`).

use crate::render::Hint;
use anyhow::Context as _;
use pkgward_package::model::Package;
use pkgward_policy::footprint::DeclarationFile;
use pkgward_policy::parse::{EMBEDDED_DEFAULT, EMBEDDED_DEFAULT_NAME};
use pkgward_policy::{load, AliasTable, CompiledPolicy, PolicyInput, SourceFile};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Where the policy comes from (shared by verify, explain, audit).
#[derive(Debug, Clone, clap::Args)]
pub struct PolicySource {
    /// Administrator policy file (repeatable) [default: `<root>/etc/pkgward/policy.toml` and `policy.d/*.toml`, else the embedded default].
    #[arg(long, value_name = "FILE")]
    pub policy: Vec<PathBuf>,
    /// Grants file for `--repo`; replaces the grants the policy defines for that repo.
    #[arg(long, value_name = "FILE")]
    pub grants: Option<PathBuf>,
    /// Repository the packages come from.
    #[arg(long, value_name = "NAME", default_value = "local")]
    pub repo: String,
    /// Root whose `etc/pkgward` policy is read (only read, never written).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
}

/// Files read for a policy: (name, contents).
#[derive(Debug, Default)]
pub struct PolicyFiles {
    pub policy: Vec<(String, String)>,
    pub grants: Option<(String, String)>,
}

impl PolicyFiles {
    /// The digest attestations name: the policy files' texts in load order
    /// (the embedded default when there are none) and the grants file, as
    /// `pkgward attest` computes it for its one `--policy` file.
    pub fn digest(&self) -> String {
        let policy: String = self.policy.iter().map(|(_, text)| text.as_str()).collect();
        crate::commands::attest::configured_policy_digest(
            (!self.policy.is_empty()).then_some(policy.as_str()),
            self.grants.as_ref().map(|(_, text)| text.as_str()),
        )
    }
}

impl PolicySource {
    pub fn read_files(&self) -> anyhow::Result<PolicyFiles> {
        let mut files = PolicyFiles::default();
        let read = |path: &Path| -> anyhow::Result<(String, String)> {
            let text = fs_err::read_to_string(path)?;
            Ok((path.display().to_string(), text))
        };
        if self.policy.is_empty() {
            let directory = self.root.join("etc/pkgward");
            let main = directory.join("policy.toml");
            if main.exists() {
                files.policy.push(read(&main)?);
            }
            let drop_ins = directory.join("policy.d");
            if drop_ins.is_dir() {
                let mut names: Vec<PathBuf> = fs_err::read_dir(&drop_ins)?
                    .filter_map(Result::ok)
                    .map(|entry| entry.path())
                    .filter(|path| path.extension().is_some_and(|e| e == "toml"))
                    .collect();
                names.sort();
                for name in names {
                    files.policy.push(read(&name)?);
                }
            }
        } else {
            for path in &self.policy {
                files.policy.push(read(path)?);
            }
        }
        if let Some(path) = &self.grants {
            files.grants = Some(read(path)?);
        }
        Ok(files)
    }

    /// Read, parse, validate and compile the policy.
    pub fn compile(&self) -> anyhow::Result<CompiledPolicy> {
        self.compile_files(&self.read_files()?)
    }

    /// Parse, validate and compile policy files already read with
    /// [`PolicySource::read_files`], so a caller that also digests them
    /// (the attestation gate) judges and digests the same bytes.
    pub fn compile_files(&self, files: &PolicyFiles) -> anyhow::Result<CompiledPolicy> {
        let input = PolicyInput {
            policy_files: files
                .policy
                .iter()
                .map(|(name, text)| SourceFile { name, text })
                .collect(),
            grants_files: files
                .grants
                .iter()
                .map(|(name, text)| (self.repo.clone(), SourceFile { name, text }))
                .collect(),
        };
        let policy = load(&input).map_err(|errors| {
            let first_hint = errors.0.iter().find_map(|e| e.hint.clone());
            let error = anyhow::Error::new(errors);
            match first_hint {
                Some(hint) => error.context(Hint(hint)),
                None => error,
            }
        })?;
        if policy.repo(&self.repo).is_none() {
            let defined: Vec<String> = policy
                .repos
                .iter()
                .map(|r| format!("`{}`", r.name.value))
                .collect();
            return Err(anyhow::anyhow!(
                "repo `{}` is not defined by the policy",
                self.repo
            ))
            .context(Hint(format!(
                "pass `--repo` with one of: {}",
                defined.join(", ")
            )));
        }
        Ok(CompiledPolicy::new(policy, AliasTable::usrmerge()))
    }
}

/// Read a package and the bytes of its declaration files (sysusers.d,
/// units) in one pass over the archive.
pub fn read_package(path: &Path) -> anyhow::Result<(Package, Vec<DeclarationFile>)> {
    let (package, declarations, _) = super::package_read::read_package(path, None)?;
    Ok((package, declarations))
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Print the effective policy files, the embedded default, or the catalog.
    Show(ShowArgs),
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Print the embedded default policy as an editable policy file.
    #[arg(long, conflicts_with = "catalog")]
    pub default: bool,
    /// Print the guarded-path catalog (id, class, patterns, reason).
    #[arg(long)]
    pub catalog: bool,
    /// Print JSON (catalog only).
    #[arg(long, requires = "catalog")]
    pub json: bool,
    #[command(flatten)]
    pub source: PolicySource,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    match &args.command {
        PolicyCommand::Show(show) => run_show(show),
    }
}

fn run_show(args: &ShowArgs) -> anyhow::Result<ExitCode> {
    if args.default {
        print!("{EMBEDDED_DEFAULT}");
        return Ok(ExitCode::SUCCESS);
    }
    if args.catalog {
        let compiled = args.source.compile()?;
        let locations: Vec<_> = compiled.locations().collect();
        if args.json {
            println!("{}", serde_json::to_string_pretty(&locations)?);
        } else {
            for location in locations {
                println!(
                    "{:<24} {:<10} {}",
                    location.id, location.class, location.reason
                );
                for pattern in &location.patterns {
                    println!("{:<24} {:<10}   {pattern}", "", "");
                }
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    // Validate first, so `show` never prints a policy that would not load.
    args.source.compile()?;
    let files = args.source.read_files()?;
    if files.policy.is_empty() {
        println!("# no policy files: the embedded default applies ({EMBEDDED_DEFAULT_NAME})");
        print!("{EMBEDDED_DEFAULT}");
    }
    for (name, text) in files.policy.iter().chain(files.grants.iter()) {
        println!("# file: {name}");
        print!("{text}");
        if !text.ends_with('\n') {
            println!();
        }
    }
    Ok(ExitCode::SUCCESS)
}
