//! The maintainer-script phases of `install` and `remove` (dpkg's order):
//! `preinst` before the commit, `postinst configure` after it, `prerm`
//! before a removal's commit and `postrm` after it. Each script runs in the
//! sandbox through `pkgward_engine::maintainer_scripts`; only scripts the
//! plan marked `run` (residue left after translation) run at all.
//!
//! Also `pkgward scripts PKG`: the recorded scripts (with the fully translated
//! debhelper blocks that are blanked out before they run) and runs of a package.

use anyhow::Context;
use pkgward_db::{Database, ScriptRecord};
use pkgward_engine::maintainer_scripts::{
    self, Action, ConfigureReport, ScriptJob, ScriptOwner, ScriptRun, ScriptRunner,
};
use pkgward_engine::Root;
use pkgward_plan::maintainer_scripts::{script_to_run, NeutralisedBlock};
use pkgward_plan::{decode_script_content, Plan};
use pkgward_policy::model::SandboxMissing;
use pkgward_sandbox::{HelperProgram, LandlockRequirement};
use std::process::ExitCode;
use std::time::Duration;

/// How scripts of one repo run, from its `sandbox` rule.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ScriptSandbox {
    Run(LandlockRequirement),
    /// `on-missing = "skip-scripts"` and the kernel lacks what the sandbox needs.
    Skip,
}

/// The repo's sandbox rule applied to this kernel: `refuse` needs Landlock
/// ABI 3 (truncate control), `degrade` takes what there is,
/// `skip-scripts` skips every script when the kernel lacks it.
pub(crate) fn script_sandbox(
    compiled: &pkgward_policy::CompiledPolicy,
    repo: &str,
) -> ScriptSandbox {
    let rule = compiled
        .policy()
        .repos
        .iter()
        .find(|candidate| candidate.name.value == repo)
        .map(|repo| repo.sandbox)
        .unwrap_or_default();
    let refuse = LandlockRequirement::Refuse { minimum_abi: 3 };
    match rule.on_missing {
        SandboxMissing::Refuse => ScriptSandbox::Run(refuse),
        SandboxMissing::Degrade => ScriptSandbox::Run(LandlockRequirement::Degrade),
        SandboxMissing::SkipScripts => {
            if pkgward_sandbox::landlock_kernel_abi() >= 3
                && pkgward_sandbox::user_namespaces_available()
            {
                ScriptSandbox::Run(refuse)
            } else {
                ScriptSandbox::Skip
            }
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |duration| {
            i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
        })
}

/// The wall-clock limit of one script: the sandbox default (10 minutes),
/// or `PKGWARD_SCRIPT_TIMEOUT` seconds (tests).
fn script_timeout() -> Duration {
    std::env::var("PKGWARD_SCRIPT_TIMEOUT")
        .ok()
        .and_then(|seconds| seconds.parse().ok())
        .map_or(Duration::from_secs(600), Duration::from_secs)
}

fn with_runner<T>(
    root: &Root,
    landlock: LandlockRequirement,
    body: impl FnOnce(&ScriptRunner<'_>) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let helper = HelperProgram::current().context("cannot find the pkgward executable")?;
    let runner = ScriptRunner {
        root,
        helper: &helper,
        timeout: script_timeout(),
        landlock,
        now: now(),
    };
    body(&runner)
}

/// One notice per shim request the script's own declarative actions do not
/// cover (`pkgward_plan::maintainer_scripts::uncovered_requests`): those
/// were recorded and not performed by anyone.
fn print_requests(run: &ScriptRun, script: &ScriptRecord) {
    let bytes = pkgward_plan::decode_script_content(&script.content).unwrap_or_default();
    let uncovered = pkgward_plan::maintainer_scripts::uncovered_requests(
        &run.owner,
        &run.record.script,
        &bytes,
        &run.record.requests,
    );
    for request in uncovered {
        eprintln!(
            "notice: {} of `{}` asked `{request}`: recorded, not run, and not one of the actions pkgward performs for it",
            run.record.script, run.owner
        );
    }
}

fn failure_error(
    package: &str,
    script: &str,
    reason: &str,
    output: &str,
    hint: &str,
) -> anyhow::Error {
    let output = output.trim_end();
    let shown = if output.is_empty() {
        "(no output)".to_owned()
    } else {
        output.to_owned()
    };
    anyhow::Error::new(crate::render::Hint(hint.to_owned()))
        .context(format!("script output:\n{shown}"))
        .context(format!(
            "`{script}` of `{package}` failed in the sandbox: {reason}"
        ))
}

/// `preinst install|upgrade` of every planned package whose preinst runs,
/// before anything is staged: a failure aborts the install with the root
/// unchanged (except the package's writable paths); the failed run is
/// recorded when an earlier version of the package is. The successful runs
/// are returned to be recorded once the packages exist in the database.
pub(crate) fn run_preinsts(
    root: &Root,
    database: Option<&mut Database>,
    plan: &Plan,
    sandbox: ScriptSandbox,
) -> anyhow::Result<Vec<ScriptRun>> {
    let ScriptSandbox::Run(landlock) = sandbox else {
        return Ok(Vec::new());
    };
    let mut runs = Vec::new();
    for package in &plan.packages {
        let Some(preinst) = package
            .scripts
            .iter()
            .find(|script| script.name == "preinst" && script.run)
        else {
            continue;
        };
        let record = maintainer_scripts::script_record(preinst, &package.script_writable_paths);
        let action = match &package.previous_version {
            Some(old_version) => Action::PreinstUpgrade {
                old_version: old_version.clone(),
            },
            None => Action::PreinstInstall,
        };
        let job = ScriptJob {
            owner: ScriptOwner::of(package),
            script: &record,
            action,
        };
        let run = with_runner(root, landlock, |runner| Ok(runner.run(&job)?))?;
        print_requests(&run, &record);
        if !run.succeeded {
            if let Some(database) = database {
                if database.package(&package.name)?.is_some() {
                    database.record_script_run(&package.name, &run.record)?;
                }
            }
            return Err(failure_error(
                &package.name,
                "preinst",
                run.failure.as_deref().unwrap_or_default(),
                &run.output,
                "nothing was installed; the root is unchanged outside the package's writable paths",
            ));
        }
        runs.push(run);
    }
    Ok(runs)
}

/// After the commit: records the preinst runs, then the configure phase.
pub(crate) fn configure_after_commit(
    root: &Root,
    database: &mut Database,
    plan: &Plan,
    sandbox: ScriptSandbox,
    preinst_runs: &[ScriptRun],
) -> anyhow::Result<ExitCode> {
    for run in preinst_runs {
        database.record_script_run(&run.owner, &run.record)?;
    }
    let ScriptSandbox::Run(landlock) = sandbox else {
        if plan
            .packages
            .iter()
            .any(|package| package.scripts.iter().any(|script| script.run))
        {
            eprintln!("notice: scripts skipped (packages whose postinst would run stay half-configured): the kernel lacks what the sandbox needs and the repo's policy says `on-missing = \"skip-scripts\"`");
        }
        return Ok(ExitCode::SUCCESS);
    };
    let report: ConfigureReport = with_runner(root, landlock, |runner| {
        Ok(maintainer_scripts::configure(
            runner,
            database,
            &plan.packages,
        )?)
    })?;
    let postinst_of = |name: &str| {
        plan.packages
            .iter()
            .find(|package| package.name == name)
            .and_then(|package| {
                package
                    .scripts
                    .iter()
                    .find(|script| script.name == "postinst")
                    .map(|script| maintainer_scripts::script_record(script, &[]))
            })
    };
    for run in report.configured.iter().chain(&report.failed_run) {
        if let Some(script) = postinst_of(&run.owner) {
            print_requests(run, &script);
        }
    }
    for run in &report.configured {
        println!("configured {} (postinst ran in the sandbox)", run.owner);
    }
    let Some(failure) = report.failed else {
        return Ok(ExitCode::SUCCESS);
    };
    let mut hint = format!(
        "`{}` is installed but half-configured (its files are in place, like dpkg); `pkgward scripts {}` shows the run; fix the cause and install the package again to rerun its postinst",
        failure.package, failure.package
    );
    if !report.not_attempted.is_empty() {
        hint.push_str("; also left half-configured without running: ");
        hint.push_str(&report.not_attempted.join(", "));
    }
    Err(failure_error(
        &failure.package,
        "postinst",
        &failure.reason,
        &failure.output,
        &hint,
    ))
}

/// `install --no-scripts` (or `--files-only`): packages whose postinst
/// would have run are recorded half-configured, with a notice each.
pub(crate) fn leave_unconfigured(plan: &Plan) {
    for package in &plan.packages {
        if package
            .scripts
            .iter()
            .any(|script| script.name == "postinst" && script.run)
        {
            // Committed half-configured already (pkgward-db); say so.
            eprintln!(
                "notice: `{}` left half-configured: its postinst was not run (`--no-scripts`/`--files-only`)",
                package.name
            );
        }
    }
}

/// The removal's scripts of one package, read from the database before the
/// commit deletes them.
pub(crate) struct RemovalScripts {
    owner: ScriptOwner,
    prerm: Option<ScriptRecord>,
    postrm: Option<ScriptRecord>,
    purge: bool,
    /// Installed (not only `config-files`) when the removal started.
    installed: bool,
}

pub(crate) fn removal_scripts(
    database: &Database,
    plan: &Plan,
) -> anyhow::Result<Vec<RemovalScripts>> {
    let mut all = Vec::new();
    for removal in &plan.removals {
        let Some(record) = database.package(&removal.name)? else {
            continue;
        };
        let scripts = database.scripts(&removal.name)?;
        let find = |name: &str| {
            scripts
                .iter()
                .find(|script| script.name == name && script.run)
                .cloned()
        };
        let installed = record.status == pkgward_db::PackageStatus::Installed;
        all.push(RemovalScripts {
            owner: ScriptOwner::recorded(&record),
            // A `config-files` package's prerm ran when it was removed.
            prerm: installed.then(|| find("prerm")).flatten(),
            postrm: find("postrm"),
            purge: removal.purge,
            installed,
        });
    }
    Ok(all)
}

/// `prerm remove` before the removal's commit: a failure aborts the removal
/// (dpkg keeps the package installed). Recorded in `script_runs`.
pub(crate) fn run_prerms(
    root: &Root,
    database: &mut Database,
    scripts: &[RemovalScripts],
) -> anyhow::Result<()> {
    for package in scripts {
        let Some(prerm) = &package.prerm else {
            continue;
        };
        let job = ScriptJob {
            owner: package.owner.clone(),
            script: prerm,
            action: Action::PrermRemove,
        };
        let landlock = LandlockRequirement::Refuse { minimum_abi: 3 };
        let run = with_runner(root, landlock, |runner| Ok(runner.run(&job)?))?;
        database.record_script_run(&package.owner.name, &run.record)?;
        print_requests(&run, prerm);
        if !run.succeeded {
            return Err(failure_error(
                &package.owner.name,
                "prerm",
                run.failure.as_deref().unwrap_or_default(),
                &run.output,
                "nothing was removed",
            ));
        }
    }
    Ok(())
}

/// `postrm remove` (and `postrm purge` with `--purge`) after the commit:
/// the files are gone; a failure is reported (exit 1) and the package stays
/// removed, as with dpkg. Recorded in `script_runs` while the package is
/// recorded, in `removed_script_runs` once its rows went with the removal.
pub(crate) fn run_postrms(
    root: &Root,
    database: &mut Database,
    scripts: &[RemovalScripts],
) -> anyhow::Result<()> {
    for package in scripts {
        let Some(postrm) = &package.postrm else {
            continue;
        };
        // dpkg: `postrm remove` when the files go, `postrm purge` when the
        // conffiles go — later, for a package left as `config-files`.
        let mut actions = Vec::new();
        if package.installed {
            actions.push(Action::PostrmRemove);
        }
        if package.purge {
            actions.push(Action::PostrmPurge);
        }
        for action in actions {
            let job = ScriptJob {
                owner: package.owner.clone(),
                script: postrm,
                action,
            };
            let landlock = LandlockRequirement::Refuse { minimum_abi: 3 };
            let run = with_runner(root, landlock, |runner| Ok(runner.run(&job)?))?;
            // With the package's rows while it is recorded (`config-files`);
            // once the removal deleted them, by name and version.
            match database.record_script_run(&package.owner.name, &run.record) {
                Err(pkgward_db::DatabaseError::NotRecorded { .. }) => database
                    .record_removed_script_run(
                        &package.owner.name,
                        &package.owner.version,
                        &run.record,
                    )?,
                recorded => recorded?,
            }
            print_requests(&run, postrm);
            if !run.succeeded {
                return Err(failure_error(
                    &package.owner.name,
                    "postrm",
                    run.failure.as_deref().unwrap_or_default(),
                    &run.output,
                    "the package's files are already removed",
                ));
            }
        }
    }
    Ok(())
}

/// `pkgward scripts PKG`: the recorded maintainer scripts of an installed
/// package, its configuration state and every recorded run.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Name of an installed package.
    pub package: String,
    #[command(flatten)]
    pub root: super::install::RootArgs,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let root = super::install::open_root(&args.root)?;
    let database = pkgward_engine::open_database(&root, false)?
        .with_context(|| super::install::nothing_installed(&root))?;
    let database = &database.database;
    let Some(configured) = database.configured(&args.package)? else {
        return show_removed_runs(database, args);
    };
    let scripts = database.scripts(&args.package)?;
    let runs = database.script_runs(&args.package)?;
    // The fully translated debhelper blocks blanked out before a script runs.
    let neutralised: Vec<Vec<NeutralisedBlock>> = scripts
        .iter()
        .map(|script| {
            script
                .run
                .then(|| decode_script_content(&script.content))
                .flatten()
                .map(|bytes| script_to_run(&args.package, &script.name, &bytes).neutralised)
                .unwrap_or_default()
        })
        .collect();
    if args.json {
        let scripts: Vec<_> = scripts
            .iter()
            .zip(&neutralised)
            .map(|(script, neutralised)| {
                serde_json::json!({
                    "name": script.name,
                    "interpreter": script.interpreter,
                    "classification": script.classification,
                    "run": script.run,
                    "neutralised": neutralised,
                    "writable_paths": script.writable_paths,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "package": args.package,
                "configured": configured,
                "scripts": scripts,
                "runs": runs,
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{}: {}",
        args.package,
        if configured {
            "configured"
        } else {
            "half-configured"
        }
    );
    for (index, script) in scripts.iter().enumerate() {
        println!(
            "script {}: {} ({})",
            script.name,
            if script.run {
                "runs in the sandbox"
            } else {
                "not run"
            },
            script.classification
        );
        for block in &neutralised[index] {
            println!("  not run (translated): {block}");
        }
    }
    for run in &runs {
        print_run(run, "");
    }
    Ok(ExitCode::SUCCESS)
}

/// One recorded run: script, arguments, exit, then each shim request.
fn print_run(run: &pkgward_db::ScriptRunRecord, suffix: &str) {
    println!(
        "run {} {}: {}{suffix}",
        run.script,
        run.arguments
            .iter()
            .map(|argument| format!("'{argument}'"))
            .collect::<Vec<_>>()
            .join(" "),
        run.exit_code
            .map_or_else(|| "did not start".to_owned(), |code| format!("exit {code}"))
    );
    for request in &run.requests {
        println!("  requested: {request}");
    }
}

/// `pkgward scripts PKG` for a package that is no longer recorded: the runs
/// of its scripts after its rows were gone (`postrm` after the removal),
/// with the version each belonged to. None: it is not installed.
fn show_removed_runs(database: &Database, args: &Args) -> anyhow::Result<ExitCode> {
    let removed = database.removed_script_runs(&args.package)?;
    if removed.is_empty() {
        anyhow::bail!("package `{}` is not installed", args.package);
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "package": args.package,
                "removed": true,
                "runs": removed,
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}: removed", args.package);
    for removed in &removed {
        print_run(&removed.run, &format!(" (version {})", removed.version));
    }
    Ok(ExitCode::SUCCESS)
}

/// `pkgward configure PKG…`: run the recorded `postinst configure` of
/// half-configured packages again (after fixing what made it fail), in the
/// order given, with the most recently configured version as dpkg passes it
/// (`configure ''` when no version was configured yet). Landlock ABI 3 is
/// required, as for removal scripts.
#[derive(Debug, clap::Args)]
pub struct ConfigureArgs {
    /// Names of half-configured packages.
    #[arg(required = true)]
    pub packages: Vec<String>,
    #[command(flatten)]
    pub root: super::install::RootArgs,
    /// Wait up to SECONDS for another pkgward holding the root's lock.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub wait: u64,
}

pub fn configure(args: &ConfigureArgs) -> anyhow::Result<ExitCode> {
    let root = super::install::open_root(&args.root)?;
    // Lock, recovery, then the database, like every writer.
    let (_lock, mut database) = super::install::lock_installed_root(&root, args.wait)?;
    let landlock = LandlockRequirement::Refuse { minimum_abi: 3 };
    for name in &args.packages {
        let database = &mut database.database;
        let record = database
            .package(name)?
            .filter(|record| record.status == pkgward_db::PackageStatus::Installed)
            .ok_or_else(|| anyhow::anyhow!("package `{name}` is not installed"))?;
        if database.configured(name)? == Some(true) {
            println!("{name} is already configured");
            continue;
        }
        let scripts = database.scripts(name)?;
        let Some(postinst) = scripts
            .iter()
            .find(|script| script.name == "postinst" && script.run)
        else {
            database.set_configured(name, true)?;
            println!("configured {name} (no postinst to run)");
            continue;
        };
        let job = ScriptJob {
            owner: ScriptOwner::recorded(&record),
            script: postinst,
            action: Action::PostinstConfigure {
                old_version: database.configured_version(name)?,
            },
        };
        let run = with_runner(&root, landlock, |runner| Ok(runner.run(&job)?))?;
        database.record_script_run(name, &run.record)?;
        print_requests(&run, postinst);
        if !run.succeeded {
            return Err(failure_error(
                name,
                "postinst",
                run.failure.as_deref().unwrap_or_default(),
                &run.output,
                &format!(
                    "`{name}` stays half-configured; `pkgward scripts {name}` shows every run"
                ),
            ));
        }
        database.set_configured(name, true)?;
        println!("configured {name} (postinst ran in the sandbox)");
    }
    Ok(ExitCode::SUCCESS)
}
