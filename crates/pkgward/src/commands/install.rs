//! `pkgward install PKG…`: read the packages, plan against the root's
//! installed state and policy, print the plan (`--dry-run`) or apply it.
//!
//! Also holds what the other engine commands share: the `--root` argument,
//! opening the root, taking the lock, and printing/applying a plan.

use anyhow::Context;
use pkgward_engine::{EngineError, Root, RootLock};
use pkgward_package::deb;
use pkgward_package::{artifact, EntryKind, Format, Limits, Package};
use pkgward_plan::planner::{Judge, Request};
use pkgward_plan::{Plan, PlannedDecision};
use pkgward_policy::footprint::DeclarationFile;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `--root`, shared by every command that works on a root.
#[derive(Debug, Clone, clap::Args)]
pub struct RootArgs {
    /// The root to work on, like dpkg's `--root` (default `/`).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
}

// Each bool is a command-line flag.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Package files (`.deb` or `.rpm`; one format per transaction).
    #[arg(required = true)]
    pub packages: Vec<PathBuf>,
    #[command(flatten)]
    pub root: RootArgs,
    /// The repository the packages come from (selects its grants).
    #[arg(long, value_name = "NAME", default_value = "local")]
    pub repo: String,
    /// Administrator policy file.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Repository grants file.
    #[arg(long, value_name = "FILE")]
    pub grants: Option<PathBuf>,
    /// Read attestations from DIR instead of `PKG.att/` next to each package
    /// (for repos whose policy has a `verifiers` rule).
    #[arg(long, value_name = "DIR")]
    pub attestations: Option<PathBuf>,
    /// Do not refuse these packages for unmet Depends/Pre-Depends (dpkg's
    /// `--ignore-depends`): for roots whose dependencies another tool provides.
    #[arg(long, value_name = "PACKAGE", value_delimiter = ',')]
    pub ignore_depends: Vec<String>,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Run no maintainer script (declarative actions are still applied).
    /// Packages whose postinst would run are recorded half-configured.
    #[arg(long)]
    pub no_scripts: bool,
    /// Place files only, like `dpkg -x`: no maintainer script and no
    /// declarative action (accounts, enablement links, tmpfiles,
    /// alternatives). Implies `--no-scripts`.
    #[arg(long)]
    pub files_only: bool,
    /// Print the plan (and result) as JSON.
    #[arg(long)]
    pub json: bool,
    /// Wait up to SECONDS for another pkgward holding the root's lock.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub wait: u64,
    /// How staged files and renames are made durable before the database
    /// commit (the guarantee is the same; the cost differs): `files` fsyncs
    /// each staged file and changed directory (like dpkg); `filesystem`
    /// flushes the filesystem with one `syncfs` per phase (like rpm), which
    /// also writes other processes' dirty data; `auto` picks `filesystem`
    /// when little other data is dirty, else `files`.
    #[arg(long, value_name = "STRATEGY", default_value = "auto")]
    pub sync: SyncStrategy,
}

/// `--sync`: how writes are made durable before the database commit.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SyncStrategy {
    Auto,
    Files,
    Filesystem,
}

impl SyncStrategy {
    pub(crate) fn durability(self) -> pkgward_engine::Durability {
        match self {
            SyncStrategy::Auto => pkgward_engine::Durability::Auto,
            SyncStrategy::Files => pkgward_engine::Durability::FsyncEachFile,
            SyncStrategy::Filesystem => pkgward_engine::Durability::SyncFilesystem,
        }
    }
}

pub(crate) fn open_root(args: &RootArgs) -> anyhow::Result<Root> {
    Root::open(&args.root)
        .with_context(|| format!("cannot use `{}` as the root", args.root.display()))
}

pub(crate) fn take_lock(root: &Root, wait: u64) -> anyhow::Result<RootLock> {
    match pkgward_engine::lock(root, Duration::from_secs(wait)) {
        Ok(lock) => Ok(lock),
        // The hint is the innermost error so `render` finds it in the chain.
        Err(error @ EngineError::Locked { .. }) => Err(anyhow::Error::new(crate::render::Hint(
            "wait for it to finish, or pass `--wait SECONDS`".to_owned(),
        ))
        .context(error)),
        Err(error) => Err(error.into()),
    }
}

/// Opens (with `create`, maybe creates) the database of a root whose lock is
/// held, and finishes or undoes an interrupted transaction before anything
/// reads it. Every writer goes in this order — lock, database, recovery,
/// then the installed state — so none opens the database or plans against
/// it while another writer is between its journal and its commit: opened
/// before the lock, a fresh root's database could fail with "database is
/// locked" while another writer switched it to WAL (THREATS 71).
/// `recovered` is set when recovery did something.
pub(crate) fn open_and_recover(
    root: &Root,
    lock: &RootLock,
    create: bool,
    recovered: &mut bool,
) -> anyhow::Result<Option<pkgward_engine::RootDatabase>> {
    let Some(mut database) = pkgward_engine::open_database(root, create)? else {
        return Ok(None);
    };
    let report = pkgward_engine::recover(root, lock, &mut database.database)?;
    if report.did_something() {
        super::recover::print_report(&report);
        *recovered = true;
    }
    Ok(Some(database))
}

/// The error of a command that needs installed packages in a root without a
/// database.
pub(crate) fn nothing_installed(root: &Root) -> String {
    format!("no packages are installed in `{}`", root.path().display())
}

/// For commands that change packages already installed (`remove`,
/// `configure`): the lock, then recovery, then the database. A root without
/// a database has nothing to change; that is said before the lock would
/// create the state directory, so such a root stays untouched.
pub(crate) fn lock_installed_root(
    root: &Root,
    wait: u64,
) -> anyhow::Result<(RootLock, pkgward_engine::RootDatabase)> {
    if !pkgward_engine::database_exists(root)? {
        anyhow::bail!(nothing_installed(root));
    }
    let lock = take_lock(root, wait)?;
    let database = open_and_recover(root, &lock, false, &mut false)?
        .with_context(|| nothing_installed(root))?;
    Ok((lock, database))
}

/// The decisions of the compiled policy (`--policy`, `--grants`, or the
/// embedded default). Per-package rules are compiled once and cached.
pub(crate) struct PolicyJudge<'p> {
    compiled: &'p pkgward_policy::CompiledPolicy,
    installed: Vec<pkgward_policy::InstalledOwner>,
    rules: std::cell::RefCell<
        std::collections::HashMap<
            String,
            Result<std::rc::Rc<pkgward_policy::SubjectPolicy<'p>>, String>,
        >,
    >,
}

impl std::fmt::Debug for PolicyJudge<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("PolicyJudge")
    }
}

fn planned(decision: &pkgward_policy::Decision) -> PlannedDecision {
    PlannedDecision {
        item: String::new(),
        verdict: match decision.verdict {
            pkgward_policy::Verdict::Allow => "allow",
            pkgward_policy::Verdict::Deny => "deny",
            pkgward_policy::Verdict::Forbid => "forbid",
        }
        .to_owned(),
        because: format!(
            "{} ({})",
            decision.because.location(),
            decision.because.rule
        ),
        hint: decision.hint.clone(),
    }
}

/// A judge with the compiled policy and no installed owners (for commands
/// that judge packages outside a root's installed state, like `audit`).
pub(crate) fn policy_judge(compiled: &pkgward_policy::CompiledPolicy) -> PolicyJudge<'_> {
    PolicyJudge {
        compiled,
        installed: Vec::new(),
        rules: std::cell::RefCell::new(std::collections::HashMap::new()),
    }
}

impl PolicyJudge<'_> {
    fn decide(
        &self,
        package: &Package,
        repo: &str,
        request: &pkgward_policy::Request<'_>,
    ) -> PlannedDecision {
        let key = format!("{repo}\0{}\0{}", package.name, package.version);
        let rules = self
            .rules
            .borrow_mut()
            .entry(key)
            .or_insert_with(|| {
                let subject = pkgward_policy::Subject {
                    repo,
                    name: &package.name,
                    version: &package.version,
                };
                self.compiled
                    .for_subject(&subject, &self.installed)
                    .map(std::rc::Rc::new)
                    .map_err(|error| error.to_string())
            })
            .clone();
        match rules {
            Ok(rules) => planned(&rules.decide(request)),
            Err(reason) => PlannedDecision {
                item: String::new(),
                verdict: "deny".to_owned(),
                because: reason,
                hint: Some("pass `--repo NAME` for a repo the policy defines".to_owned()),
            },
        }
    }
}

impl pkgward_plan::actions::ActionJudge for PolicyJudge<'_> {
    fn user(&self, package: &Package, repo: &str, name: &str, uid_zero: bool) -> PlannedDecision {
        self.decide(
            package,
            repo,
            &pkgward_policy::Request::User { name, uid_zero },
        )
    }
    fn group(&self, package: &Package, repo: &str, name: &str) -> PlannedDecision {
        self.decide(package, repo, &pkgward_policy::Request::Group { name })
    }
    fn service(
        &self,
        package: &Package,
        repo: &str,
        unit: &str,
        runs_as: Option<&str>,
    ) -> PlannedDecision {
        self.decide(
            package,
            repo,
            &pkgward_policy::Request::Service { unit, runs_as },
        )
    }
}

impl Judge for PolicyJudge<'_> {
    fn place(&self, package: &Package, repo: &str, path: &str, kind: EntryKind) -> PlannedDecision {
        if kind == EntryKind::Dir {
            // pkgward-policy: directories need no grant (created as needed, owned by root).
            return PlannedDecision {
                item: String::new(),
                verdict: "allow".to_owned(),
                because: "directories need no grant".to_owned(),
                hint: None,
            };
        }
        self.decide(package, repo, &pkgward_policy::Request::Place { path })
    }
    fn setuid(&self, package: &Package, repo: &str, path: &str) -> PlannedDecision {
        self.decide(package, repo, &pkgward_policy::Request::Setuid { path })
    }
    fn file_capabilities(
        &self,
        package: &Package,
        repo: &str,
        path: &str,
        capabilities: u64,
    ) -> PlannedDecision {
        self.decide(
            package,
            repo,
            &pkgward_policy::Request::FileCapabilities { path, capabilities },
        )
    }
    fn scripts(
        &self,
        package: &Package,
        repo: &str,
        mode: pkgward_policy::ScriptMode,
    ) -> PlannedDecision {
        // `mode` is what the package's scripts need (pkgward_plan::maintainer_scripts).
        self.decide(package, repo, &pkgward_policy::Request::Scripts { mode })
    }
}

/// Where install's policy comes from: `--policy`/`--grants`, else the
/// root's `etc/pkgward/policy.toml` and `policy.d/*.toml`, else the embedded
/// default — the same rule as `verify`, `explain` and `audit`.
fn policy_source(args: &Args) -> crate::commands::policy::PolicySource {
    crate::commands::policy::PolicySource {
        policy: args.policy.iter().cloned().collect(),
        grants: args.grants.clone(),
        repo: args.repo.clone(),
        root: args.root.root.clone(),
    }
}

/// Streams the package files (`.deb` or `.rpm`) of a plan into the engine.
struct DebContent<'a> {
    files: &'a [PathBuf],
    packages: &'a [Package],
    /// Content kept from the planning read, per package (`package_read`).
    kept: &'a [Option<super::package_read::KeptContent>],
    plan: &'a Plan,
    limits: Limits,
    progress: &'a super::progress::Progress,
}

/// No package content: for plans that only remove.
pub(crate) struct NoContent;

impl pkgward_engine::ContentSource for NoContent {
    fn stream(
        &self,
        package: usize,
        _: &mut dyn FnMut(&str, &mut dyn Read) -> Result<(), EngineError>,
    ) -> Result<(), EngineError> {
        Err(EngineError::PackageChanged {
            package: package.to_string(),
            detail: "a removal plan has no package content".to_owned(),
        })
    }
}

#[derive(Debug)]
enum StreamError {
    Read(deb::ReadError),
    Engine(EngineError),
}

impl From<deb::ReadError> for StreamError {
    fn from(error: deb::ReadError) -> Self {
        StreamError::Read(error)
    }
}

impl pkgward_engine::ContentSource for DebContent<'_> {
    fn stream(
        &self,
        package: usize,
        each: &mut dyn FnMut(&str, &mut dyn Read) -> Result<(), EngineError>,
    ) -> Result<(), EngineError> {
        let planned = &self.plan.packages[package];
        let index = self
            .packages
            .iter()
            .position(|candidate| {
                candidate.name == planned.name
                    && candidate.artifact_sha256 == planned.artifact_sha256
            })
            .expect("every planned package was read");
        if let Some(kept) = &self.kept[index] {
            // The bytes the plan was made from: nothing to check again.
            for (path, bytes) in kept.entries() {
                each(path, &mut &bytes[..])?;
            }
            self.progress.advance();
            return Ok(());
        }
        let outcome =
            // The artifact sha256 compared below covers every file: no
            // file digests this time (`checks_artifact`).
            artifact::stream_data_entries(
                &self.files[index],
                &self.limits,
                pkgward_package::FileDigests::Skip,
                |entry, reader| each(&entry.path, reader).map_err(StreamError::Engine),
            );
        match outcome {
            Ok(read_again) if read_again.artifact_sha256 == planned.artifact_sha256 => {
                self.progress.advance();
                Ok(())
            }
            Ok(_) => Err(EngineError::PackageChanged {
                package: planned.name.clone(),
                detail: format!(
                    "`{}` changed on disk since it was read",
                    self.files[index].display()
                ),
            }),
            Err(StreamError::Engine(error)) => Err(error),
            Err(StreamError::Read(error)) => Err(EngineError::Source {
                package: planned.name.clone(),
                source: Box::new(error),
            }),
        }
    }

    /// Kept content is the planned bytes; a package read again is compared
    /// with the planned artifact sha256 above.
    fn checks_artifact(&self) -> bool {
        true
    }
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let source = policy_source(args);
    // Read once: the same bytes are compiled and digested for attestations.
    let policy_files = source.read_files()?;
    let compiled = source.compile_files(&policy_files)?;
    let root = open_root(&args.root)?;
    let limits = Limits::default();
    let progress = super::progress::Progress::new(args.json);
    progress.phase("reading", args.packages.len());
    let mut packages = Vec::new();
    let mut declarations = Vec::new();
    let mut kept = Vec::new();
    // A dry run stages nothing: it keeps no content.
    for (package, files, content) in read_packages(&args.packages, !args.dry_run, &progress)? {
        packages.push(package);
        declarations.push(files);
        kept.push(content);
    }
    refuse_mixed_formats(&args.packages, &packages)?;
    // Before the database or lock is created: a refusal changes nothing.
    let admitted = crate::attestation_gate::check(
        &crate::attestation_gate::GateInput::new(args, policy_files.digest()),
        &compiled,
        &packages,
    )?;
    // A root pkgward never wrote to has no state directory yet: judge the
    // plan before creating one, so a refusal leaves such a root
    // byte-identical too (THREATS "reject"), not just free of database rows.
    let mut plan_before_database = None;
    if !args.dry_run && !pkgward_engine::database_exists(&root)? {
        let plan = make_plan(&root, None, &packages, &declarations, &compiled, args)?;
        if plan.is_refused() {
            return refuse(&plan, args.json);
        }
        plan_before_database = Some(plan);
    }
    // Writers lock before reading the installed state, so the plan cannot go
    // stale, and before opening (maybe creating) the database: two
    // installers creating a fresh root's database at once could fail with
    // "database is locked" while one switched it to WAL.
    let lock = if args.dry_run {
        None
    } else {
        Some(take_lock(&root, args.wait)?)
    };
    let mut recovered = false;
    let mut database = match &lock {
        None => pkgward_engine::open_database(&root, false)?,
        Some(lock) => open_and_recover(&root, lock, true, &mut recovered)?,
    };
    if let Some(database) = database.as_ref() {
        refuse_format_foreign_to_root(&args.packages, &packages, &database.database)?;
    }
    // The plan made before the database existed still holds when, under
    // the lock, the database is empty and nothing was recovered: no other
    // pkgward changed the root in between (it would have left rows or a
    // journal), so planning again would judge the same root. Planning is
    // the costly part of a first install into a fresh root.
    let unchanged_since_planned = !recovered
        && match database.as_ref() {
            Some(database) => database.database.packages()?.is_empty(),
            None => false,
        };
    let plan = match plan_before_database {
        Some(plan) if unchanged_since_planned => plan,
        _ => make_plan(
            &root,
            database.as_ref().map(|database| &database.database),
            &packages,
            &declarations,
            &compiled,
            args,
        )?,
    };
    let mut held = false;
    if let Some(database) = database.as_ref() {
        if !plan.is_refused() {
            held = hold_capability_growth(&plan, &database.database, &compiled, args)?;
        }
    }
    let content = DebContent {
        files: &args.packages,
        packages: &packages,
        kept: &kept,
        plan: &plan,
        limits,
        progress: &progress,
    };
    let script_sandbox = super::script_phases::script_sandbox(&compiled, &args.repo);
    // dpkg's order: preinst before anything is unpacked.
    let no_scripts = args.no_scripts || args.files_only;
    let preinst_runs = if args.dry_run || no_scripts || plan.is_refused() {
        Vec::new()
    } else {
        super::script_phases::run_preinsts(
            &root,
            database.as_mut().map(|database| &mut database.database),
            &plan,
            script_sandbox,
        )?
    };
    if !args.dry_run && !plan.is_refused() {
        progress.phase("staging", plan.packages.len());
    }
    if let Some(database) = database.as_mut() {
        let code = finish_plan(
            &root,
            lock.as_ref(),
            &mut database.database,
            &plan,
            &content,
            Output {
                dry_run: args.dry_run,
                json: args.json,
                durability: args.sync.durability(),
            },
        )?;
        if !args.dry_run {
            admitted.record(&mut database.database)?;
            if no_scripts {
                super::script_phases::leave_unconfigured(&plan);
                return Ok(if held { ExitCode::from(1) } else { code });
            }
            // The files are in place: the configure phase (postinst).
            let configured = super::script_phases::configure_after_commit(
                &root,
                &mut database.database,
                &plan,
                script_sandbox,
                &preinst_runs,
            )?;
            if configured != ExitCode::SUCCESS {
                return Ok(configured);
            }
        }
        // A dry run whose upgrade would be held says so in its exit status.
        return Ok(if held { ExitCode::from(1) } else { code });
    }
    // Dry run on a root pkgward never touched: nothing to apply anyway.
    print_plan(&plan, args.json)?;
    Ok(if plan.is_refused() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// A transaction holds packages of one format. `.deb` and `.rpm` packages
/// name their dependencies in different namespaces (`libc6` vs
/// `libc.so.6()(64bit)`), order versions differently and run scripts under
/// different conventions (dpkg's `configure` vs rpm's instance counts), so
/// one plan over both would check nothing meaningful: refuse, naming one
/// package of each format (docs/rpm.md).
fn refuse_mixed_formats(files: &[PathBuf], packages: &[Package]) -> anyhow::Result<()> {
    let first_of = |format: Format| {
        packages
            .iter()
            .position(|package| package.format == format)
            .map(|index| files[index].display().to_string())
    };
    if let (Some(deb), Some(rpm)) = (first_of(Format::Deb), first_of(Format::Rpm)) {
        return Err(anyhow::Error::new(crate::render::Hint(
            "install `.deb` and `.rpm` packages into separate roots; a root holds packages of one format (docs/rpm.md)".to_owned(),
        ))
        .context(format!(
            "cannot install `.deb` and `.rpm` packages in one transaction: `{deb}` is a .deb, `{rpm}` is an .rpm"
        )));
    }
    Ok(())
}

/// A root holds packages of one format, also across transactions: the
/// reasons of [`refuse_mixed_formats`] hold for a plan over installed
/// packages too (an installed rpm's `Requires` would be checked against
/// `.deb` names). Recorded `config-files` packages count: their format
/// decides how their remaining rows are read.
fn refuse_format_foreign_to_root(
    files: &[PathBuf],
    packages: &[Package],
    database: &pkgward_db::Database,
) -> anyhow::Result<()> {
    let Some((index, package)) = packages.iter().enumerate().next() else {
        return Ok(());
    };
    let format = pkgward_engine::snapshot::recorded_format(package.format);
    let Some(installed) = database
        .packages()?
        .into_iter()
        .find(|record| record.format != format)
    else {
        return Ok(());
    };
    let described = |format: pkgward_db::PackageFormat| match format {
        pkgward_db::PackageFormat::Deb => "a .deb",
        pkgward_db::PackageFormat::Rpm => "an .rpm",
    };
    Err(anyhow::Error::new(crate::render::Hint(format!(
        "a root holds packages of one format (docs/rpm.md): install `.{}` packages into another root, or remove the `.{}` packages from this one first",
        format.as_str(),
        installed.format.as_str()
    )))
    .context(format!(
        "cannot install `{}` ({}) into a root holding .{} packages: `{}` {} is {}",
        files[index].display(),
        described(format),
        installed.format.as_str(),
        installed.name,
        installed.version,
        described(installed.format)
    )))
}

/// Judges the requested packages against the installed state (none for a
/// root pkgward never wrote to) and the compiled policy: the whole plan,
/// with each package's footprint recorded for the database.
fn make_plan(
    root: &Root,
    database: Option<&pkgward_db::Database>,
    packages: &[Package],
    declarations: &[Vec<DeclarationFile>],
    compiled: &pkgward_policy::CompiledPolicy,
    args: &Args,
) -> anyhow::Result<Plan> {
    let conffiles: Vec<String> = packages
        .iter()
        .flat_map(|package| package.conffiles.iter().cloned())
        .collect();
    let snapshot = pkgward_engine::snapshot::snapshot(root, database, &conffiles)?;
    let requests: Vec<Request<'_>> = packages
        .iter()
        .map(|package| Request {
            package,
            repo: args.repo.clone(),
            resolved: package
                .entries
                .iter()
                .map(|entry| {
                    root.canonical_path(&entry.path, entry.kind == EntryKind::Dir)
                        .map_err(|error| error.to_string())
                })
                .collect(),
        })
        .collect();
    // Installed packages and their directories make delegations effective.
    let mut installed = Vec::new();
    if let Some(database) = database {
        for record in database.packages()? {
            installed.push(pkgward_policy::InstalledOwner {
                directories: database
                    .dirs(&record.name)?
                    .into_iter()
                    .map(|directory| directory.path)
                    .collect(),
                package: record.name,
                repo: record.repo,
            });
        }
    }
    let judge = PolicyJudge {
        compiled,
        installed,
        rules: std::cell::RefCell::new(std::collections::HashMap::new()),
    };
    let mut plan = pkgward_plan::planner::plan_install(&snapshot, &requests, &judge);
    plan.problems.retain(|problem| match problem {
        pkgward_plan::Problem::UnmetDependency { package, .. } => {
            !args.ignore_depends.contains(package)
        }
        // No scriptlet runs at all then (docs/rpm.md).
        pkgward_plan::Problem::UnsupportedScript { .. } => !(args.no_scripts || args.files_only),
        _ => true,
    });
    // One footprint per package, shared by the record and the actions.
    let footprints: Vec<pkgward_policy::footprint::Footprint> = packages
        .iter()
        .zip(declarations)
        .map(|(package, declarations)| {
            pkgward_policy::footprint::footprint_with(package, declarations, compiled)
        })
        .collect();
    record_footprints(&mut plan, packages, &footprints)?;
    if args.files_only {
        return Ok(plan);
    }
    super::actions::plan_package_actions(
        root,
        &mut plan,
        packages,
        declarations,
        &footprints,
        &judge,
    )?;
    if let Some(database) = database {
        super::actions::add_stale_links(database, &mut plan)?;
    }
    Ok(plan)
}

/// One package with its declaration files and kept content, or why it
/// could not be read.
type PackageRead = anyhow::Result<super::package_read::ReadPackage>;

/// Reads every package with the bytes of its declaration files (for its
/// footprint) and, with `keep_content`, the content staging will need
/// (`package_read`), several at once: reading is decompression-bound.
fn read_packages(
    files: &[PathBuf],
    keep_content: bool,
    progress: &super::progress::Progress,
) -> anyhow::Result<Vec<super::package_read::ReadPackage>> {
    let budget = std::sync::atomic::AtomicU64::new(super::package_read::kept_content_budget());
    let budget = keep_content.then_some(&budget);
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(files.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<PackageRead>>> =
        files.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(file) = files.get(index) else { return };
                let read = super::package_read::read_package(file, budget);
                progress.advance();
                *results[index].lock().expect("no panics while held") = Some(read);
            });
        }
    });
    results
        .into_iter()
        .map(|result| {
            result
                .into_inner()
                .expect("no panics while held")
                .expect("every file was read")
        })
        .collect()
}

/// Fills in each planned package's footprint (recorded at commit).
fn record_footprints(
    plan: &mut Plan,
    packages: &[Package],
    footprints: &[pkgward_policy::footprint::Footprint],
) -> anyhow::Result<()> {
    for planned in &mut plan.packages {
        if let Some(index) = packages.iter().position(|package| {
            package.name == planned.name && package.artifact_sha256 == planned.artifact_sha256
        }) {
            planned.footprint = Some(serde_json::to_value(&footprints[index])?);
        }
    }
    Ok(())
}

/// Compares each upgraded package's new footprint with the recorded one
/// (`pkgward_plan::capability_growth`). Under the repo's
/// `capability-growth = "hold"` (the default) any growth refuses the install
/// before anything is written; under `allow` it is printed as a notice.
/// Installed packages without a recorded footprint cannot be compared: a
/// notice says so. A dry run prints what would be held and returns `true`
/// instead of refusing.
fn hold_capability_growth(
    plan: &Plan,
    database: &pkgward_db::Database,
    compiled: &pkgward_policy::CompiledPolicy,
    args: &Args,
) -> anyhow::Result<bool> {
    let mut recorded = std::collections::BTreeMap::new();
    for planned in &plan.packages {
        if planned.previous_version.is_some() && planned.footprint.is_some() {
            if let Some(footprint) = database.footprint(&planned.name)? {
                recorded.insert(planned.name.clone(), footprint);
            }
        }
    }
    let review =
        pkgward_plan::capability_growth::review(plan, compiled.policy(), &args.repo, &recorded)?;
    for notice in review.notices() {
        eprintln!("notice: {notice}");
    }
    let held = review.held().count() > 0;
    if !held || args.dry_run {
        for package in review.held() {
            eprintln!("notice: capability growth would be held: {package}");
        }
        return Ok(held);
    }
    Err(anyhow::Error::new(crate::render::Hint(review.held_hint()))
        .context(review.held_message())
        .context("refused"))
}

fn print_plan(plan: &Plan, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(plan)?);
    } else {
        print!("{}", plan.render_human());
    }
    Ok(())
}

/// Prints (dry run) or applies `plan`; a refused plan is an error listing every problem.
// The shared tail of `install` and `remove`: each flag is one of their arguments.
#[allow(clippy::too_many_arguments)]
/// Reports a refused plan: every problem, and that nothing was changed.
fn refuse(plan: &Plan, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        print_plan(plan, true)?;
    }
    let list: String = plan
        .problems
        .iter()
        .fold(String::new(), |mut list, problem| {
            use std::fmt::Write;
            let _ = write!(list, "\n  - {problem}");
            list
        });
    Err(anyhow::Error::new(crate::render::Hint(
        "`--dry-run` prints the whole plan; nothing was changed".to_owned(),
    ))
    .context(format!(
        "{} problem{}:{list}",
        plan.problems.len(),
        if plan.problems.len() == 1 { "" } else { "s" }
    ))
    .context("refused"))
}

/// How a plan is carried out: printed only (`--dry-run`), in which format,
/// and how writes are made durable.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    pub dry_run: bool,
    pub json: bool,
    pub durability: pkgward_engine::Durability,
}

pub(crate) fn finish_plan(
    root: &Root,
    lock: Option<&RootLock>,
    database: &mut pkgward_db::Database,
    plan: &Plan,
    content: &dyn pkgward_engine::ContentSource,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let Output {
        dry_run,
        json,
        durability,
    } = output;
    if dry_run {
        print_plan(plan, json)?;
        return Ok(if plan.is_refused() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    if plan.is_refused() {
        return refuse(plan, json);
    }
    let lock = lock.expect("a lock is held for a real run");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |duration| {
            i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
        });
    let options = pkgward_engine::ApplyOptions {
        now,
        workers: 2,
        durability,
    };
    let outcome = pkgward_engine::apply(root, lock, database, plan, content, &options)?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "transaction": outcome.transaction, "files_placed": outcome.files_placed, "notices": outcome.notices, "plan": plan })
        );
    } else {
        for package in &plan.packages {
            println!("installed {} {}", package.name, package.version);
        }
        for removal in &plan.removals {
            println!("removed {} {}", removal.name, removal.version);
        }
        let planned = plan.packages.iter().flat_map(|package| &package.notices);
        for notice in planned.chain(&outcome.notices) {
            println!("notice: {notice}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
