//! Maintainer-script classifier: turns Debian maintainer scripts into
//! declarative actions pkgward performs itself, plus the residue that would
//! still have to run (in the sandbox, or unconfined).
//!
//! The script is parsed with [`crate::shell`] and *abstractly interpreted*:
//! - every branch of `if`/`case` is visited (the dpkg action argument `$1` is
//!   unknown), so an action anywhere in the script is found;
//! - variables hold the set of literal values they may have (`_dh_action` is
//!   `{start, restart}`), `${DPKG_ROOT:-/}` resolves with `DPKG_ROOT` empty,
//!   function calls bind their arguments, `for` over literal words and
//!   `while read` over a here-document are unrolled;
//! - conditions made of queries (`[`, `test`, `command -v`, `which`,
//!   `dpkg --compare-versions`, `deb-systemd-helper was-enabled`, …) are
//!   guards with no effect; a recognised command becomes an action whose
//!   arguments must be fully known; anything else is residue with a reason.
//!
//! Debhelper blocks (`# Automatically added by dh_X` … `# End automatically
//! added section`) are recognised so counts can be attributed to the helper,
//! but their content is interpreted like any other code: the marker comment
//! is package-controlled text and is never trusted on its own.
//!
//! Deriving an action says nothing about whether it is *allowed*: the
//! actions carry their paths, users and units, and the plan checks them
//! against the package's grants (so `chown` "on own paths" is enforced by the
//! policy, not by the classifier).

use crate::shell::{
    self, AndOr, Command, List, Pipeline, Redirect, RedirectOperator, SimpleCommand, Word, WordPart,
};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The overall verdict for one script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Classification {
    /// Every effect maps to a declarative action; nothing needs to run.
    FullyDeclarative,
    /// Some commands remain; they can run in the sandbox.
    DeclarativeWithResidue,
    /// Some remaining commands need privileges the sandbox cannot give.
    NeedsUnconfined,
}

/// A declarative action derived from a script.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum DerivedAction {
    /// `deb-systemd-helper enable`, `systemctl enable`: enable the unit per its `[Install]`.
    ServiceEnable { unit: String },
    /// `deb-systemd-helper update-state`: record the enablement symlinks
    /// without enabling (the administrator disabled the unit).
    ServiceUpdateState { unit: String },
    /// `deb-systemd-helper unmask` / `systemctl unmask`.
    ServiceUnmask { unit: String },
    /// `deb-systemd-helper disable|mask|purge`.
    ServiceDisable { unit: String, verb: String },
    /// `deb-systemd-invoke`/`invoke-rc.d`/`systemctl` start, restart, stop, reload.
    ServiceControl { unit: String, verb: String },
    /// `systemctl daemon-reload`.
    DaemonReload,
    /// `update-rc.d NAME defaults|remove|…` (System V links).
    SysvLinks { script: String, verb: String },
    /// `systemd-sysusers FILE.conf`: apply the package's sysusers.d file.
    Sysusers { config: String },
    /// `systemd-tmpfiles --create FILE.conf`.
    Tmpfiles { config: String },
    /// `update-alternatives --install`.
    AlternativeInstall {
        link: String,
        name: String,
        path: String,
        priority: i64,
        slaves: Vec<(String, String, String)>,
    },
    /// `update-alternatives --remove NAME PATH`.
    AlternativeRemove { name: String, path: String },
    /// `dpkg-maintscript-helper rm_conffile|mv_conffile|symlink_to_dir|dir_to_symlink …`.
    ConffileMigration {
        operation: String,
        arguments: Vec<String>,
    },
    /// `adduser --system` / `useradd --system`.
    CreateSystemUser {
        name: String,
        /// The primary group: a name, or a gid in digits (`useradd -g 27`).
        group: Option<String>,
        home: Option<String>,
        shell: Option<String>,
        gecos: Option<String>,
        /// A fixed uid (`-u`/`--uid`), checked like a sysusers.d one.
        uid: Option<u32>,
    },
    /// `addgroup --system` / `groupadd --system`.
    CreateSystemGroup {
        name: String,
        /// A fixed gid (`-g`/`--gid`), checked like a sysusers.d one.
        gid: Option<u32>,
    },
    /// `adduser USER GROUP` (membership).
    AddToGroup { user: String, group: String },
    /// `dpkg-statoverride --add`.
    StatOverride {
        owner: String,
        group: String,
        mode: String,
        path: String,
    },
    /// `dpkg-statoverride --remove`.
    StatOverrideRemove { path: String },
    /// `chmod MODE PATH`.
    SetMode { path: String, mode: String },
    /// `chown OWNER[:GROUP] PATH`.
    SetOwner { path: String, owner: String },
    /// `setcap CAPS PATH`.
    SetFileCapabilities { path: String, capabilities: String },
    /// `mkdir [-p]` / `install -d`.
    CreateDirectory {
        path: String,
        mode: Option<String>,
        owner: Option<String>,
        group: Option<String>,
    },
    /// `rm [-f] [-r]`.
    RemovePath { path: String, recursive: bool },
    /// `rmdir`.
    RemoveDirectory { path: String },
    /// `echo/printf LITERAL > PATH`, `install -m M /dev/null PATH`, `touch PATH`.
    WriteFile { path: String, content: String },
    /// `mv SRC DST` (conffile moves around upgrades).
    RenamePath { from: String, to: String },
    /// `ln -s TARGET LINK`.
    Symlink {
        target: String,
        link: String,
        replace: bool,
    },
    /// `find DIR [-maxdepth N] [-type T] [-name P] [-lname P] [-empty] -delete`.
    RemoveMatching {
        directory: String,
        max_depth: Option<u32>,
        kind: Option<String>,
        name: Option<String>,
        link_target: Option<String>,
        only_empty: bool,
    },
    /// `deluser --system NAME` / `userdel NAME` (on purge).
    RemoveUser { name: String },
    /// `delgroup --system NAME` / `groupdel NAME`.
    RemoveGroup { name: String },
    /// `ucf [--three-way] TEMPLATE DEST`: install a configuration file from a
    /// template, keeping local changes (pkgward's conffile handling).
    ManagedConfig {
        template: String,
        destination: String,
    },
    /// `ucf --purge DEST` / `ucfr --purge PKG DEST`.
    ManagedConfigPurge { path: String },
    /// `ucfr PKG DEST`: register the package as the file's owner.
    ManagedConfigOwner { package: String, path: String },
    /// `cp SRC DST` (typically installing a default config when absent).
    CopyFile { from: String, to: String },
    /// `py3compile`/`pypy3compile -p PKG`.
    PythonCompile { package: String },
    /// `py3clean`/`pypy3clean -p PKG`.
    PythonClean { package: String },
    /// `ldconfig`.
    Ldconfig,
    /// `. /usr/share/debconf/confmodule` and `db_*` with defaults.
    Debconf { command: String },
    /// `db_purge`.
    DebconfPurge,
    /// `add-shell` / `remove-shell`.
    LoginShell { path: String, add: bool },
    /// A cache/registry refresh pkgward runs once per transaction
    /// (`update-mime-database`, `update-desktop-database`, …).
    RefreshRegistry {
        tool: String,
        arguments: Vec<String>,
    },
    /// `dpkg-trigger --no-await NAME`.
    ActivateTrigger { name: String },
    /// `apparmor_parser -r PROFILE`.
    AppArmorReload { profile: String },
}

/// Why a command is residue, grouped for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Residue {
    pub line: usize,
    /// Short category key for counting, e.g. unknown command `dbus-uuidgen`.
    pub category: String,
    /// The command as written (reconstructed from the syntax tree).
    pub text: String,
    /// Whether running it needs privileges the sandbox cannot grant.
    pub needs_unconfined: bool,
}

/// One recognised item: an action or a no-op idiom, for counting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recognised {
    pub line: usize,
    pub idiom: String,
    /// The debhelper tool whose block contains the line, if any.
    pub debhelper: Option<String>,
    pub action: Option<DerivedAction>,
}

/// The result for one script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptReport {
    pub script: String,
    pub classification: Classification,
    pub actions: Vec<DerivedAction>,
    pub recognised: Vec<Recognised>,
    pub residue: Vec<Residue>,
    /// Debhelper blocks found: (tool, first line, last line).
    pub debhelper_blocks: Vec<(String, usize, usize)>,
}

/// Inputs about the package the script belongs to.
#[derive(Debug, Clone, Default)]
pub struct ScriptContext {
    /// The binary package name (for `py3compile -p NAME` and `$DPKG_MAINTSCRIPT_PACKAGE`).
    pub package: String,
}

/// Possible values of a variable: a small set of literal strings, or unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Known(BTreeSet<String>),
    Unknown,
}

impl Value {
    fn single(text: impl Into<String>) -> Self {
        Value::Known(BTreeSet::from([text.into()]))
    }
    fn union(&self, other: &Value) -> Value {
        match (self, other) {
            (Value::Known(a), Value::Known(b)) => {
                let merged: BTreeSet<String> = a.union(b).cloned().collect();
                if merged.len() > 8 {
                    Value::Unknown
                } else {
                    Value::Known(merged)
                }
            }
            _ => Value::Unknown,
        }
    }
}

#[derive(Debug, Clone)]
struct Environment {
    variables: BTreeMap<String, Value>,
    positional: Vec<Value>,
    /// Inside a function or unrolled loop the positional parameters are bound.
    positional_bound: bool,
}

impl Environment {
    fn merge(&self, other: &Environment) -> Environment {
        let mut variables = BTreeMap::new();
        let names: BTreeSet<&String> = self
            .variables
            .keys()
            .chain(other.variables.keys())
            .collect();
        for name in names {
            let value = match (self.variables.get(name), other.variables.get(name)) {
                (Some(a), Some(b)) => a.union(b),
                // Assigned on one path only: it may also still be unset (empty).
                (Some(a), None) | (None, Some(a)) => a.union(&Value::single("")),
                (None, None) => Value::Unknown,
            };
            variables.insert(name.clone(), value);
        }
        let positional = if self.positional == other.positional {
            self.positional.clone()
        } else {
            vec![Value::Unknown; self.positional.len().max(other.positional.len())]
        };
        Environment {
            variables,
            positional,
            positional_bound: self.positional_bound || other.positional_bound,
        }
    }
}

/// Commands that only query state: allowed anywhere, derive nothing.
const QUERY_COMMANDS: &[&str] = &[
    "[",
    "test",
    "true",
    "false",
    ":",
    "echo",
    "printf",
    "which",
    "type",
    "basename",
    "dirname",
    "uname",
    "getent",
    "id",
    "grep",
    "egrep",
    "fgrep",
    "cat",
    "head",
    "tail",
    "cut",
    "tr",
    "wc",
    "sort",
    "uniq",
    "readlink",
    "realpath",
    "stat",
    "ls",
    "expr",
    "seq",
    "date",
    "ischroot",
    "runlevel",
    "pidof",
    "dpkg-query",
    "dpkg-architecture",
    "locale",
    "sleep",
    "aa-enabled",
    "logger",
    "df",
    "tty",
    "getconf",
    "nproc",
    "hostname",
    "whoami",
    "md5sum",
    "sha1sum",
    "sha256sum",
    "sha512sum",
    "cmp",
    "diff",
];

/// Builtins that only change the interpreter's own state.
const SHELL_BUILTINS: &[&str] = &[
    "set",
    "exit",
    "return",
    "shift",
    "umask",
    "break",
    "continue",
    "local",
    "export",
    "unset",
    "wait",
    "read",
    "readonly",
    "eval_gettext",
    "gettext",
];

/// Tools whose effect is a cache or registry rebuild pkgward runs once per
/// transaction (the same job dpkg triggers do).
const REGISTRY_TOOLS: &[&str] = &[
    "update-mime-database",
    "update-mime",
    "update-desktop-database",
    "gtk-update-icon-cache",
    "update-icon-caches",
    "update-xmlcatalog",
    "update-catalog",
    "fc-cache",
    "glib-compile-schemas",
    "gio-querymodules",
    "update-ca-certificates",
    "mandb",
    "install-info",
    "update-menus",
    "update-info-dir",
    "install-sgmlcatalog",
    "update-gconf-defaults",
    "update-perl-sax-parsers",
    "c_rehash",
    // dictionaries-common: rebuild the default-wordlist registry.
    "update-default-wordlist",
    "remove-default-wordlist",
];

/// Tools whose effects pkgward carries out declaratively: an availability
/// check for them (`command -v`, `which`, `[ -x … ]`) is folded to true.
const DECLARATIVE_TOOLS: &[&str] = &[
    "py3compile",
    "py3clean",
    "deb-systemd-helper",
    "deb-systemd-invoke",
    "update-alternatives",
    "dpkg-maintscript-helper",
    "systemd-sysusers",
    "systemd-tmpfiles",
    "ldconfig",
    "update-rc.d",
    "invoke-rc.d",
    "adduser",
    "addgroup",
    "deluser",
    "delgroup",
    "dpkg-statoverride",
    "dpkg-trigger",
    "update-mime-database",
    "update-desktop-database",
    "update-mime",
    "add-shell",
    "remove-shell",
];

/// Commands that need privileges no sandbox grants: their residue makes the
/// script `NeedsUnconfined`.
const PRIVILEGED_COMMANDS: &[&str] = &[
    "update-passwd",
    "usermod",
    "groupmod",
    "passwd",
    "chpasswd",
    "chage",
    "gpasswd",
    "pam-auth-update",
    "modprobe",
    "insmod",
    "rmmod",
    "depmod",
    "update-initramfs",
    "mount",
    "umount",
    "sysctl",
    "udevadm",
    "update-grub",
    "grub-install",
    "mknod",
    "chroot",
    "apt-get",
    "apt",
    "aptitude",
    "wget",
    "curl",
    "kill",
    "pkill",
    "killall",
    "telinit",
    "init",
    "reboot",
    "shutdown",
    "start-stop-daemon",
    "setfacl",
    "chattr",
    "iptables",
    "nft",
    "ip",
    "hwclock",
    "swapon",
    "mkswap",
    "losetup",
    "dpkg",
];

fn command_name(word: &str) -> &str {
    // `/usr/sbin/update-rc.d` and `update-rc.d` are the same idiom.
    word.rsplit('/').next().unwrap_or(word)
}

/// Finds debhelper blocks by their marker comments.
fn debhelper_blocks(source: &str) -> Vec<(String, usize, usize)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, usize)> = None;
    for (index, line) in source.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("# Automatically added by ") {
            let tool = rest.split(['/', ' ']).next().unwrap_or(rest).to_owned();
            open = Some((tool, index + 1));
        } else if trimmed == "# End automatically added section" {
            if let Some((tool, start)) = open.take() {
                blocks.push((tool, start, index + 1));
            }
        }
    }
    blocks
}

/// Classifies one maintainer script (`name` is `postinst` etc.).
pub fn classify_script(name: &str, bytes: &[u8], context: &ScriptContext) -> ScriptReport {
    let mut report = ScriptReport {
        script: name.to_owned(),
        classification: Classification::FullyDeclarative,
        actions: Vec::new(),
        recognised: Vec::new(),
        residue: Vec::new(),
        debhelper_blocks: Vec::new(),
    };
    let Ok(source) = std::str::from_utf8(bytes) else {
        report.residue.push(Residue {
            line: 1,
            category: "not UTF-8 text".to_owned(),
            text: String::new(),
            needs_unconfined: false,
        });
        report.classification = Classification::DeclarativeWithResidue;
        return report;
    };
    let interpreter = source
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("#!"))
        .map(|line| line.split_whitespace().next().unwrap_or("").to_owned());
    match interpreter.as_deref().map(command_name) {
        None | Some("sh" | "bash" | "dash") => {}
        // An rpm Lua scriptlet (`#!<lua>`, see pkgward-package's rpm reader)
        // runs inside rpm's own process with its full privileges; there is
        // no separate program to put in a sandbox, so it needs unconfined.
        Some("<lua>") => {
            report.residue.push(Residue {
                line: 1,
                category: "rpm Lua scriptlet (runs in the package manager's own process)"
                    .to_owned(),
                text: "#!<lua>".to_owned(),
                needs_unconfined: true,
            });
            report.classification = Classification::NeedsUnconfined;
            return report;
        }
        Some(other) => {
            report.residue.push(Residue {
                line: 1,
                category: format!("interpreter `{other}`"),
                text: format!("#!{}", interpreter.clone().unwrap_or_default()),
                needs_unconfined: false,
            });
            report.classification = Classification::DeclarativeWithResidue;
            return report;
        }
    }
    report.debhelper_blocks = debhelper_blocks(source);
    let list = match shell::parse_script(source) {
        Ok(list) => list,
        Err(error) => {
            report.residue.push(Residue {
                line: error.line,
                category: "shell syntax not understood".to_owned(),
                text: error.reason,
                needs_unconfined: false,
            });
            report.classification = Classification::DeclarativeWithResidue;
            return report;
        }
    };
    let mut interpreter = Interpreter {
        context,
        blocks: report.debhelper_blocks.clone(),
        functions: BTreeMap::new(),
        recognised: Vec::new(),
        residue: Vec::new(),
        depth: 0,
        output: None,
        steps: 0,
    };
    let mut environment = Environment {
        variables: BTreeMap::from([
            // pkgward applies actions to the root itself: scripts see `/`.
            ("DPKG_ROOT".to_owned(), Value::single("")),
            (
                "DPKG_MAINTSCRIPT_PACKAGE".to_owned(),
                Value::single(context.package.clone()),
            ),
        ]),
        positional: vec![Value::Unknown; 4],
        positional_bound: false,
    };
    interpreter.run_list(&list, &mut environment, None);
    // A line visited several times (function bodies, unrolled loops) counts
    // once per distinct action.
    let mut seen_recognised = BTreeSet::new();
    report.recognised = interpreter
        .recognised
        .into_iter()
        .filter(|item| {
            seen_recognised.insert((item.line, item.idiom.clone(), format!("{:?}", item.action)))
        })
        .collect();
    let mut seen = BTreeSet::new();
    report.residue = interpreter
        .residue
        .into_iter()
        .filter(|item| seen.insert((item.line, item.category.clone(), item.text.clone())))
        .collect();
    let mut actions: Vec<DerivedAction> = report
        .recognised
        .iter()
        .filter_map(|item| item.action.clone())
        .collect();
    actions.sort();
    actions.dedup();
    // `%sysusers_create_compat` tries a fixed uid only when it is free
    // (`if ! getent passwd ID; then useradd -u ID …; else useradd …`):
    // both branches are recognised, and a fixed id in use would fail the
    // transaction where the script falls back. Keep the fallback's
    // dynamic allocation, as before fixed ids were kept.
    let dynamic: Vec<DerivedAction> = actions
        .iter()
        .filter(|action| matches!(action, DerivedAction::CreateSystemUser { uid: None, .. }))
        .cloned()
        .collect();
    actions.retain(|action| match action {
        DerivedAction::CreateSystemUser { uid: Some(_), .. } => {
            let mut without = action.clone();
            if let DerivedAction::CreateSystemUser { uid, .. } = &mut without {
                *uid = None;
            }
            !dynamic.contains(&without)
        }
        _ => true,
    });
    report.actions = actions;
    report.classification = if report.residue.is_empty() {
        Classification::FullyDeclarative
    } else if report
        .residue
        .iter()
        .any(|residue| residue.needs_unconfined)
    {
        Classification::NeedsUnconfined
    } else {
        Classification::DeclarativeWithResidue
    };
    report
}

struct Interpreter<'a> {
    context: &'a ScriptContext,
    blocks: Vec<(String, usize, usize)>,
    functions: BTreeMap<String, Command>,
    recognised: Vec<Recognised>,
    residue: Vec<Residue>,
    depth: usize,
    /// When evaluating a command substitution: what `echo` printed.
    output: Option<String>,
    /// Commands interpreted so far; unrolled loops and function calls are
    /// bounded by [`STEP_BUDGET`] so a hostile script cannot stall an audit.
    steps: usize,
}

/// The most commands one script's interpretation may visit.
const STEP_BUDGET: usize = 20_000;

/// Lines fed to a `while read` loop from a here-document.
type StandardInput<'s> = Option<&'s str>;

impl Interpreter<'_> {
    fn block_at(&self, line: usize) -> Option<String> {
        self.blocks
            .iter()
            .find(|(_, start, end)| (*start..=*end).contains(&line))
            .map(|(tool, ..)| tool.clone())
    }

    fn recognise(&mut self, line: usize, idiom: impl Into<String>, action: Option<DerivedAction>) {
        let debhelper = self.block_at(line);
        self.recognised.push(Recognised {
            line,
            idiom: idiom.into(),
            debhelper,
            action,
        });
    }

    fn residue(&mut self, line: usize, category: impl Into<String>, text: impl Into<String>) {
        let category = category.into();
        let needs_unconfined = category.starts_with("privileged");
        self.residue.push(Residue {
            line,
            category,
            text: text.into(),
            needs_unconfined,
        });
    }

    fn run_list(&mut self, list: &List, environment: &mut Environment, input: StandardInput<'_>) {
        for and_or in list {
            self.run_and_or(and_or, environment, input, false);
        }
    }

    fn run_condition(
        &mut self,
        list: &List,
        environment: &mut Environment,
        input: StandardInput<'_>,
    ) {
        for and_or in list {
            self.run_and_or(and_or, environment, input, true);
        }
    }

    fn run_and_or(
        &mut self,
        and_or: &AndOr,
        environment: &mut Environment,
        input: StandardInput<'_>,
        condition: bool,
    ) {
        if and_or.background {
            self.residue(
                and_or.first.commands.first().map_or(0, Command::line),
                "background job",
                "&",
            );
        }
        // `a || b`: both may run; variables assigned in `b` are merged.
        self.run_pipeline(
            &and_or.first,
            environment,
            input,
            condition || !and_or.rest.is_empty(),
        );
        for (_, pipeline) in &and_or.rest {
            let mut branch = environment.clone();
            self.run_pipeline(pipeline, &mut branch, input, condition);
            *environment = environment.merge(&branch);
        }
    }

    fn run_pipeline(
        &mut self,
        pipeline: &Pipeline,
        environment: &mut Environment,
        input: StandardInput<'_>,
        condition: bool,
    ) {
        if pipeline.commands.len() == 1 {
            self.run_command(&pipeline.commands[0], environment, input, condition);
            return;
        }
        // A pipeline is declarative only when every stage is a query (its
        // output is discarded or tested); any stage with an effect fed by a
        // dynamic stream (`dpkg -L | xargs rm`) is residue.
        let line = pipeline.commands[0].line();
        let mut all_queries = true;
        for command in &pipeline.commands {
            match command {
                Command::Simple(simple) => {
                    let words: Vec<BTreeSet<String>> = simple
                        .words
                        .iter()
                        .map(|word| self.expand_word(word, environment).unwrap_or_default())
                        .collect();
                    let name = words
                        .first()
                        .filter(|first| first.len() == 1)
                        .and_then(|first| first.iter().next().cloned());
                    let substitutions_pure = simple
                        .words
                        .iter()
                        .all(|word| self.substitution_is_pure(word, environment));
                    let is_query = name.as_deref().is_some_and(|name| {
                        !self.functions.contains_key(name) && Self::is_query(name, &words)
                    }) && substitutions_pure
                        && simple.redirects.iter().all(Redirect::is_harmless);
                    if !is_query {
                        all_queries = false;
                    }
                }
                _ => all_queries = false,
            }
        }
        if all_queries {
            self.recognise(line, "query pipeline", None);
        } else {
            let text = pipeline
                .commands
                .iter()
                .map(describe_command)
                .collect::<Vec<_>>()
                .join(" | ");
            let category = pipeline
                .commands
                .iter()
                .rev()
                .find_map(|command| match command {
                    Command::Simple(simple) => simple.words.first().and_then(Word::literal),
                    _ => None,
                })
                .map_or_else(
                    || "pipeline".to_owned(),
                    |last| format!("pipeline into `{}`", command_name(&last)),
                );
            self.residue(line, category, text);
        }
    }

    fn heredoc_input(redirects: &[Redirect]) -> Option<&str> {
        redirects
            .iter()
            .find(|redirect| redirect.operator == RedirectOperator::HereDocument)
            .and_then(|redirect| redirect.here_document.as_deref())
    }

    fn check_compound_redirects(&mut self, command: &Command) {
        for redirect in command.redirects() {
            if !redirect.is_harmless() {
                self.residue(
                    command.line(),
                    "redirect into a file",
                    format!("> {}", redirect.target),
                );
            }
        }
    }

    fn run_command(
        &mut self,
        command: &Command,
        environment: &mut Environment,
        input: StandardInput<'_>,
        condition: bool,
    ) {
        self.steps += 1;
        if self.steps > STEP_BUDGET {
            if self.steps == STEP_BUDGET + 1 {
                self.residue(
                    command.line(),
                    "script too complex to analyse",
                    "step budget exhausted",
                );
            }
            return;
        }
        match command {
            Command::Simple(simple) => self.run_simple(simple, environment, input, condition),
            Command::If {
                branches,
                otherwise,
                ..
            } => {
                self.check_compound_redirects(command);
                let input = Self::heredoc_input(command.redirects()).or(input);
                let mut merged: Option<Environment> = None;
                let mut before = environment.clone();
                let mut decided = false;
                for (condition_list, body) in branches {
                    let truth = self.static_truth(condition_list, &before);
                    self.run_condition(condition_list, &mut before, input);
                    if truth == Some(false) {
                        continue;
                    }
                    let mut branch = before.clone();
                    self.run_list(body, &mut branch, input);
                    merged = Some(match merged {
                        None => branch,
                        Some(previous) => previous.merge(&branch),
                    });
                    if truth == Some(true) {
                        decided = true;
                        break;
                    }
                }
                if decided {
                    *environment = merged.unwrap_or(before);
                } else {
                    let mut last = before.clone();
                    if let Some(otherwise) = otherwise {
                        self.run_list(otherwise, &mut last, input);
                    }
                    *environment = match merged {
                        None => last,
                        Some(previous) => previous.merge(&last),
                    };
                }
                self.recognise(command.line(), "if guard", None);
            }
            Command::Case { word, arms, .. } => {
                self.check_compound_redirects(command);
                let input = Self::heredoc_input(command.redirects()).or(input);
                let subject = self.expand_word(word, environment);
                let mut merged: Option<Environment> = None;
                for arm in arms {
                    // When the subject is known, only matching arms run.
                    if let Some(values) = &subject {
                        let patterns: Vec<Option<String>> =
                            arm.patterns.iter().map(Word::literal).collect();
                        let matches = patterns.iter().any(|pattern| match pattern {
                            Some(pattern) => values.iter().any(|value| glob_match(pattern, value)),
                            None => true,
                        });
                        if !matches {
                            continue;
                        }
                    }
                    let mut branch = environment.clone();
                    self.run_list(&arm.body, &mut branch, input);
                    merged = Some(match merged {
                        None => branch,
                        Some(previous) => previous.merge(&branch),
                    });
                }
                if let Some(merged) = merged {
                    *environment = environment.merge(&merged);
                }
                self.recognise(command.line(), "case guard", None);
            }
            Command::For {
                variable,
                words,
                body,
                ..
            } => {
                self.check_compound_redirects(command);
                let input = Self::heredoc_input(command.redirects()).or(input);
                let values: Option<Vec<String>> = words.as_ref().and_then(|words| {
                    let mut values = Vec::new();
                    for word in words {
                        if word.has_unquoted_glob() {
                            return None;
                        }
                        let expanded = self.expand_word(word, environment)?;
                        if expanded.len() != 1 {
                            return None;
                        }
                        for value in expanded {
                            values.extend(value.split_whitespace().map(str::to_owned));
                        }
                    }
                    Some(values)
                });
                match values {
                    Some(values) if values.len() <= 64 => {
                        for value in values {
                            environment
                                .variables
                                .insert(variable.clone(), Value::single(value));
                            self.run_list(body, environment, input);
                        }
                    }
                    _ => {
                        environment
                            .variables
                            .insert(variable.clone(), Value::Unknown);
                        let mut branch = environment.clone();
                        self.run_list(body, &mut branch, input);
                        *environment = environment.merge(&branch);
                    }
                }
                self.recognise(command.line(), "for loop", None);
            }
            Command::Loop {
                condition: loop_condition,
                body,
                redirects,
                ..
            } => {
                self.check_compound_redirects(command);
                let input = Self::heredoc_input(redirects).or(input);
                if let (Some(lines), Some(read_variables)) =
                    (input, read_loop_variables(loop_condition))
                {
                    // `while read a b; do …; done <<DATA`: unroll over the data.
                    for data_line in lines.lines().take(256) {
                        let mut fields: Vec<String> =
                            data_line.split_whitespace().map(str::to_owned).collect();
                        for (index, variable) in read_variables.iter().enumerate() {
                            let value = if index + 1 == read_variables.len() && fields.len() > index
                            {
                                fields.split_off(index).join(" ")
                            } else {
                                fields.get(index).cloned().unwrap_or_default()
                            };
                            environment
                                .variables
                                .insert(variable.clone(), Value::single(value));
                        }
                        self.run_list(body, environment, None);
                    }
                    self.recognise(command.line(), "while read over here-document", None);
                } else {
                    self.run_condition(loop_condition, environment, input);
                    let mut branch = environment.clone();
                    self.run_list(body, &mut branch, input);
                    *environment = environment.merge(&branch);
                    self.recognise(command.line(), "loop", None);
                }
            }
            Command::Group {
                body, redirects, ..
            }
            | Command::Subshell {
                body, redirects, ..
            } => {
                self.check_compound_redirects(command);
                let input = Self::heredoc_input(redirects).or(input);
                if matches!(command, Command::Subshell { .. }) {
                    let mut inner = environment.clone();
                    self.run_list(body, &mut inner, input);
                } else {
                    self.run_list(body, environment, input);
                }
            }
            Command::FunctionDefinition { name, body, line } => {
                self.functions.insert(name.clone(), (**body).clone());
                self.recognise(*line, "function definition", None);
            }
        }
    }

    /// Expands a word to its possible values (`None`: not statically known).
    fn expand_word(&self, word: &Word, environment: &Environment) -> Option<BTreeSet<String>> {
        let mut results: BTreeSet<String> = BTreeSet::from([String::new()]);
        for part in &word.parts {
            let choices: BTreeSet<String> = match part {
                WordPart::Literal { text, .. } => BTreeSet::from([text.clone()]),
                WordPart::Parameter { name, modifier, .. } => {
                    let value = Self::lookup(name, environment);
                    match modifier.as_deref() {
                        None => match value {
                            Value::Known(set) => set,
                            Value::Unknown => return None,
                        },
                        Some(modifier) => {
                            let (operator, alternative) = split_modifier(modifier)?;
                            let alternative_word =
                                shell::parse_script(&format!("x {alternative}\n"))
                                    .ok()
                                    .and_then(|list| {
                                        match list.first().map(|and_or| &and_or.first.commands[0]) {
                                            Some(Command::Simple(simple)) => {
                                                simple.words.get(1).cloned()
                                            }
                                            _ => None,
                                        }
                                    })
                                    .unwrap_or_default();
                            let alternative_values =
                                self.expand_word(&alternative_word, environment);
                            match (operator, value) {
                                (":-", Value::Known(set)) => {
                                    let mut out = BTreeSet::new();
                                    for item in set {
                                        if item.is_empty() {
                                            out.extend(alternative_values.clone()?);
                                        } else {
                                            out.insert(item);
                                        }
                                    }
                                    out
                                }
                                (":+", Value::Known(set)) => {
                                    let mut out = BTreeSet::new();
                                    for item in set {
                                        if item.is_empty() {
                                            out.insert(String::new());
                                        } else {
                                            out.extend(alternative_values.clone()?);
                                        }
                                    }
                                    out
                                }
                                _ => return None,
                            }
                        }
                    }
                }
                WordPart::CommandSubstitution { source, .. } => {
                    self.evaluate_substitution(source, environment)?
                }
                WordPart::Arithmetic { .. } => return None,
            };
            let mut next = BTreeSet::new();
            for prefix in &results {
                for choice in &choices {
                    next.insert(format!("{prefix}{choice}"));
                }
            }
            if next.len() > 8 {
                return None;
            }
            results = next;
        }
        Some(results)
    }

    /// Evaluates the few substitutions whose output is a pure function of
    /// known arguments: `dirname`, `basename`, `echo`, and
    /// `dpkg-divert --truename P` (P itself when no diversion is registered;
    /// pkgward's database holds diversions and none are created by scripts
    /// it translates).
    fn evaluate_substitution(
        &self,
        source: &str,
        environment: &Environment,
    ) -> Option<BTreeSet<String>> {
        let list = shell::parse_script(source).ok()?;
        let [and_or] = list.as_slice() else {
            return None;
        };
        if !and_or.rest.is_empty() || and_or.first.commands.len() != 1 {
            return None;
        }
        let Command::Simple(simple) = &and_or.first.commands[0] else {
            return None;
        };
        if !simple.assignments.is_empty() || !simple.redirects.iter().all(Redirect::is_harmless) {
            return None;
        }
        let words = self.expand_words(&simple.words, environment)?;
        let mut out = BTreeSet::new();
        let single = |index: usize| -> Option<Vec<String>> {
            words.get(index).map(|set| set.iter().cloned().collect())
        };
        let name = single(0)?;
        let [name] = name.as_slice() else { return None };
        match (command_name(name), words.len()) {
            ("dirname", 2) => {
                for path in single(1)? {
                    let trimmed = path.trim_end_matches('/');
                    out.insert(match trimmed.rfind('/') {
                        Some(0) => "/".to_owned(),
                        Some(index) => trimmed[..index].to_owned(),
                        None => ".".to_owned(),
                    });
                }
            }
            ("basename", 2 | 3) => {
                let suffix = words
                    .get(2)
                    .and_then(|set| set.iter().next().cloned())
                    .unwrap_or_default();
                for path in single(1)? {
                    let base = path
                        .trim_end_matches('/')
                        .rsplit('/')
                        .next()
                        .unwrap_or("")
                        .to_owned();
                    out.insert(
                        base.strip_suffix(suffix.as_str())
                            .filter(|rest| !rest.is_empty())
                            .map_or(base.clone(), str::to_owned),
                    );
                }
            }
            ("echo", 2) => out.extend(single(1)?),
            ("dpkg-divert", 3) if words[1].contains("--truename") => out.extend(single(2)?),
            _ => return None,
        }
        Some(out)
    }

    /// Runs a substitution's commands and returns what they print, when it
    /// is fully known and has no effect (`$(slave a b c)` printing
    /// `--slave …` lines).
    fn capture_output(&self, source: &str, environment: &Environment) -> Option<String> {
        let list = shell::parse_script(source).ok()?;
        let mut probe = Interpreter {
            context: self.context,
            blocks: Vec::new(),
            functions: self.functions.clone(),
            recognised: Vec::new(),
            residue: Vec::new(),
            depth: self.depth + 1,
            output: Some(String::new()),
            steps: 0,
        };
        let mut inner = environment.clone();
        probe.run_list(&list, &mut inner, None);
        if !probe.residue.is_empty() || probe.recognised.iter().any(|item| item.action.is_some()) {
            return None;
        }
        // Output from an echo with an unknown argument is not captured: make
        // sure every echo had known words by checking for unknown queries.
        probe.output
    }

    /// Whether every command substitution in the word only queries.
    fn substitution_is_pure(&self, word: &Word, environment: &Environment) -> bool {
        word.parts.iter().all(|part| match part {
            WordPart::CommandSubstitution { source, .. } => {
                shell::parse_script(source).is_ok_and(|list| {
                    let mut probe = Interpreter {
                        context: self.context,
                        blocks: Vec::new(),
                        functions: self.functions.clone(),
                        recognised: Vec::new(),
                        residue: Vec::new(),
                        depth: self.depth + 1,
                        output: None,
                        steps: 0,
                    };
                    let mut inner = environment.clone();
                    probe.run_list(&list, &mut inner, None);
                    probe.residue.is_empty()
                        && probe.recognised.iter().all(|item| item.action.is_none())
                })
            }
            _ => true,
        })
    }

    fn lookup(name: &str, environment: &Environment) -> Value {
        if let Ok(index) = name.parse::<usize>() {
            if index == 0 {
                return Value::Unknown;
            }
            if environment.positional_bound {
                return environment
                    .positional
                    .get(index - 1)
                    .cloned()
                    .unwrap_or_else(|| Value::single(""));
            }
            return Value::Unknown;
        }
        environment
            .variables
            .get(name)
            .cloned()
            .unwrap_or(Value::Unknown)
    }

    /// Expands all words; `None` when any is unknown. Each entry lists the
    /// alternatives for that word.
    fn expand_words(
        &self,
        words: &[Word],
        environment: &Environment,
    ) -> Option<Vec<BTreeSet<String>>> {
        words
            .iter()
            .map(|word| self.expand_word(word, environment))
            .collect()
    }

    fn is_query(name: &str, words: &[BTreeSet<String>]) -> bool {
        let arguments: Vec<&str> = words
            .iter()
            .skip(1)
            .filter_map(|alternatives| alternatives.iter().next().map(String::as_str))
            .collect();
        let name = command_name(name);
        match name {
            // `sed -i`, and the `e` (execute) and `w FILE` (write) commands
            // or flags, have effects; plain filtering does not.
            "sed" => !arguments.iter().any(|a| {
                a.starts_with("-i")
                    || a.starts_with("--in-place")
                    || a.ends_with(",e")
                    || a.ends_with("/e")
                    || a.contains("/e;")
                    || a.contains("/w ")
                    || a.contains(",w ")
                    || a.starts_with("w ")
                    || a.starts_with("e ")
            }),
            // `env` alone prints the environment; with arguments it runs a command.
            "env" | "printenv" => arguments.iter().all(|a| a.starts_with('-') && *a != "-"),
            "awk" | "mawk" | "gawk" => !arguments
                .iter()
                .any(|a| a.contains("system(") || a.contains("print >") || a.contains("printf >")),
            "find" => !arguments
                .iter()
                .any(|a| matches!(*a, "-delete" | "-exec" | "-execdir" | "-ok" | "-fprint")),
            "dpkg" => arguments.first().is_some_and(|first| {
                matches!(
                    *first,
                    "--compare-versions"
                        | "-s"
                        | "--status"
                        | "-L"
                        | "--listfiles"
                        | "--print-architecture"
                        | "-l"
                        | "--list"
                        | "-S"
                        | "--search"
                        | "--assert-multi-arch"
                        | "--validate-version"
                )
            }),
            "dpkg-divert" => arguments
                .iter()
                .any(|a| matches!(*a, "--truename" | "--list" | "--listpackage")),
            "dpkg-statoverride" => arguments.contains(&"--list"),
            "deb-systemd-helper" => arguments
                .iter()
                .any(|a| matches!(*a, "was-enabled" | "debian-installed" | "is-enabled")),
            "systemctl" => arguments.iter().any(|a| {
                matches!(
                    *a,
                    "is-enabled"
                        | "is-active"
                        | "is-system-running"
                        | "is-failed"
                        | "show"
                        | "status"
                        | "cat"
                        | "list-units"
                        | "list-unit-files"
                )
            }),
            "invoke-rc.d" => arguments.contains(&"--query"),
            "command" => arguments
                .first()
                .is_some_and(|first| matches!(*first, "-v" | "-V")),
            "db_get"
            | "db_fget"
            | "db_version"
            | "db_capb"
            | "db_metaget"
            | "db_title"
            | "db_x_loadtemplatefile" => true,
            _ => QUERY_COMMANDS.contains(&name),
        }
    }

    fn run_simple(
        &mut self,
        simple: &SimpleCommand,
        environment: &mut Environment,
        input: StandardInput<'_>,
        condition: bool,
    ) {
        let line = simple.line;
        let text = describe_simple(simple);
        let words_vec = self.prepare_words(&simple.words, environment);
        // Redirections: harmless ones are fine; writes need a known target.
        let mut write_target: Option<(String, bool)> = None;
        for redirect in &simple.redirects {
            if redirect.is_harmless() {
                continue;
            }
            match (
                redirect.operator,
                self.expand_word(&redirect.target, environment),
            ) {
                (
                    RedirectOperator::Output | RedirectOperator::Clobber | RedirectOperator::Append,
                    Some(values),
                ) if values.len() == 1 => {
                    let path = values.into_iter().next().unwrap_or_default();
                    write_target = Some((path, redirect.operator == RedirectOperator::Append));
                }
                _ => {
                    self.residue(line, "redirect into a file", text.clone());
                    return;
                }
            }
        }
        // Assignments (alone or as a prefix).
        if words_vec.is_empty() {
            for (name, value) in &simple.assignments {
                let value = if let Some(values) = self.expand_word(value, environment) {
                    Value::Known(values)
                } else {
                    // A substitution made only of queries leaves the variable unknown but has no effect.
                    if !self.substitutions_are_queries(value, environment, line) {
                        return;
                    }
                    Value::Unknown
                };
                environment.variables.insert(name.clone(), value);
            }
            self.recognise(line, "variable assignment", None);
            return;
        }
        for word in &words_vec {
            if !self.substitutions_are_queries(word, environment, line) {
                return;
            }
        }
        let Some(name_values) = self.expand_word(&words_vec[0], environment) else {
            self.residue(line, "command name not known statically", text);
            return;
        };
        if name_values.len() != 1 {
            self.residue(line, "command name not known statically", text);
            return;
        }
        let name_owned = name_values.into_iter().next().unwrap_or_default();
        let name = command_name(&name_owned).to_owned();

        // Function calls: bind arguments and interpret the body.
        if let Some(body) = self.functions.get(&name).cloned() {
            if self.depth >= 8 {
                self.residue(line, "recursion too deep", text);
                return;
            }
            let mut inner = environment.clone();
            inner.positional = simple
                .words
                .iter()
                .skip(1)
                .map(|word| {
                    self.expand_word(word, environment)
                        .map_or(Value::Unknown, Value::Known)
                })
                .collect();
            inner.positional_bound = true;
            self.depth += 1;
            self.run_command(&body, &mut inner, input, condition);
            self.depth -= 1;
            // Functions share global variables with the caller.
            inner.positional.clone_from(&environment.positional);
            inner.positional_bound = environment.positional_bound;
            *environment = inner;
            self.recognise(line, "function call", None);
            return;
        }

        // Arguments: each word may have several values; actions need one.
        let expanded = self.expand_words(&words_vec, environment);
        if let Some((path, append)) = write_target {
            let here_document = simple
                .redirects
                .iter()
                .find(|redirect| redirect.operator == RedirectOperator::HereDocument);
            match (&expanded, name.as_str()) {
                (Some(words), ":" | "true") if words.len() == 1 => {
                    self.recognise(
                        line,
                        ": > file",
                        Some(DerivedAction::WriteFile {
                            path,
                            content: String::new(),
                        }),
                    );
                }
                (Some(words), "cat")
                    if words.len() == 1
                        && here_document.is_some_and(|document| {
                            document
                                .target
                                .parts
                                .iter()
                                .any(|part| matches!(part, WordPart::Literal { quoted: true, .. }))
                                || !document
                                    .here_document
                                    .as_deref()
                                    .unwrap_or("")
                                    .contains(['$', '`'])
                        }) =>
                {
                    let content = here_document
                        .and_then(|document| document.here_document.clone())
                        .unwrap_or_default();
                    self.recognise(
                        line,
                        "cat <<EOF > file",
                        Some(DerivedAction::WriteFile { path, content }),
                    );
                }
                (Some(words), "echo" | "printf") if words.iter().all(|w| w.len() == 1) => {
                    let content: Vec<String> = words
                        .iter()
                        .skip(1)
                        .filter_map(|w| w.iter().next().cloned())
                        .collect();
                    let mut content = content.join(" ");
                    if name == "echo" {
                        content.push('\n');
                    }
                    let idiom = if append {
                        "echo >> file"
                    } else {
                        "echo > file"
                    };
                    self.recognise(
                        line,
                        idiom,
                        Some(DerivedAction::WriteFile { path, content }),
                    );
                }
                _ => self.residue(line, "redirect into a file", text),
            }
            return;
        }
        if name == "read" {
            for word in words_vec.iter().skip(1) {
                if let Some(variable) = word.literal() {
                    if !variable.starts_with('-') {
                        environment.variables.insert(variable, Value::Unknown);
                    }
                }
            }
            self.recognise(line, "read", None);
            return;
        }
        if name == "set" {
            let arguments = &words_vec[1..];
            if arguments.first().and_then(Word::literal).as_deref() == Some("--") {
                let values: Option<Vec<String>> = arguments[1..]
                    .iter()
                    .map(|word| {
                        self.expand_word(word, environment)
                            .filter(|values| values.len() == 1)
                            .and_then(|values| values.into_iter().next())
                    })
                    .collect();
                environment.positional = match values {
                    Some(values) => values
                        .iter()
                        .flat_map(|value| value.split_whitespace())
                        .map(Value::single)
                        .collect(),
                    None => vec![Value::Unknown; 9],
                };
                environment.positional_bound = true;
            }
            self.recognise(line, "set", None);
            return;
        }
        if name == "shift" {
            if environment.positional_bound && !environment.positional.is_empty() {
                environment.positional.remove(0);
            }
            self.recognise(line, "shift", None);
            return;
        }
        if matches!(name.as_str(), "export" | "local" | "readonly") {
            for word in &words_vec[1..] {
                if let Some(literal) = word.literal() {
                    if let Some((variable, value)) = literal.split_once('=') {
                        environment
                            .variables
                            .insert(variable.to_owned(), Value::single(value));
                        continue;
                    }
                }
                if let Some(WordPart::Literal { text: first, .. }) = word.parts.first() {
                    if let Some((variable, _)) = first.split_once('=') {
                        environment
                            .variables
                            .insert(variable.to_owned(), Value::Unknown);
                    }
                }
            }
            self.recognise(line, name.clone(), None);
            return;
        }
        if name == "trap" {
            // A trap handler runs arbitrary code later; only resetting is inert.
            let handler = words_vec.get(1).and_then(Word::literal);
            if words_vec.len() <= 1 || matches!(handler.as_deref(), Some("" | "-")) {
                self.recognise(line, "trap reset", None);
            } else {
                self.residue(line, "trap handler", text);
            }
            return;
        }
        if SHELL_BUILTINS.contains(&name.as_str()) {
            self.recognise(line, name.clone(), None);
            return;
        }
        // While capturing a substitution's output, only `echo` of known
        // words (and commands printing nothing) keep the output known.
        let prints_nothing = matches!(name.as_str(), "[" | "test" | "true" | "false" | ":")
            || words_vec.first().is_some_and(|_| {
                simple.redirects.iter().any(|redirect| {
                    matches!(
                        redirect.operator,
                        RedirectOperator::Output | RedirectOperator::Clobber
                    ) && redirect.descriptor.unwrap_or(1) == 1
                        && redirect.target.literal().as_deref() == Some("/dev/null")
                })
            });
        let echo_known = name == "echo"
            && expanded
                .as_ref()
                .is_some_and(|words| words.iter().all(|w| w.len() == 1));
        if self.output.is_some() && !prints_nothing && !echo_known {
            self.residue(line, "output not known statically", text);
            return;
        }
        let Some(words) = expanded else {
            // Queries may take unknown arguments (`[ "$1" = configure ]`).
            let partial: Vec<BTreeSet<String>> = simple
                .words
                .iter()
                .map(|word| self.expand_word(word, environment).unwrap_or_default())
                .collect();
            if Self::is_query(&name, &partial) {
                self.recognise(line, query_idiom(&name, &partial), None);
            } else {
                self.residue(
                    line,
                    format!("argument not known statically for `{name}`"),
                    text,
                );
            }
            return;
        };
        if name == "echo" && words.iter().all(|alternatives| alternatives.len() == 1) {
            if let Some(output) = &mut self.output {
                let printed: Vec<&str> = words
                    .iter()
                    .skip(1)
                    .filter_map(|w| w.iter().next().map(String::as_str))
                    .collect();
                output.push_str(&printed.join(" "));
                output.push('\n');
            }
        }
        if Self::is_query(&name, &words) {
            self.recognise(line, query_idiom(&name, &words), None);
            return;
        }
        // Expand alternatives (`$_dh_action` ∈ {start, restart}) into one
        // argument vector each.
        let mut vectors: Vec<Vec<String>> = vec![Vec::new()];
        for alternatives in &words {
            let mut next = Vec::new();
            for vector in &vectors {
                for alternative in alternatives {
                    let mut extended = vector.clone();
                    extended.push(alternative.clone());
                    next.push(extended);
                }
            }
            vectors = next;
            if vectors.len() > 16 {
                self.residue(
                    line,
                    format!("argument not known statically for `{name}`"),
                    text,
                );
                return;
            }
        }
        for argv in vectors {
            self.run_argv(line, &name, &argv, &text, environment);
        }
        let _ = condition;
    }

    /// Splices a bound `"$@"` into separate words and drops the script
    /// arguments passed through after `dpkg-maintscript-helper … --`.
    fn prepare_words(&self, words: &[Word], environment: &Environment) -> Vec<Word> {
        let mut out = Vec::with_capacity(words.len());
        for word in words {
            let meaningful: Vec<&WordPart> = word
                .parts
                .iter()
                .filter(|part| !matches!(part, WordPart::Literal { text, .. } if text.is_empty()))
                .collect();
            if let [WordPart::CommandSubstitution {
                source,
                quoted: false,
            }] = meaningful.as_slice()
            {
                // An unquoted substitution whose output is known is split into words.
                if let Some(output) = self.capture_output(source, environment) {
                    out.extend(output.split_whitespace().map(|text| Word {
                        parts: vec![WordPart::Literal {
                            text: text.to_owned(),
                            quoted: true,
                        }],
                    }));
                    continue;
                }
            }
            // Field splitting: an unquoted expansion that yields the empty
            // string produces no word at all (`${DPKG_ROOT:+--root=…}`).
            let has_quotes = word.parts.iter().any(|part| {
                matches!(
                    part,
                    WordPart::Literal { quoted: true, .. }
                        | WordPart::Parameter { quoted: true, .. }
                        | WordPart::CommandSubstitution { quoted: true, .. }
                )
            });
            if !has_quotes
                && self
                    .expand_word(word, environment)
                    .is_some_and(|values| values.len() == 1 && values.contains(""))
            {
                continue;
            }
            if let [WordPart::Parameter {
                name,
                modifier: None,
                ..
            }] = meaningful.as_slice()
            {
                if (name == "@" || name == "*") && environment.positional_bound {
                    let values: Option<Vec<String>> = environment
                        .positional
                        .iter()
                        .map(|value| match value {
                            Value::Known(set) if set.len() == 1 => set.iter().next().cloned(),
                            _ => None,
                        })
                        .collect();
                    if let Some(values) = values {
                        out.extend(values.into_iter().map(|text| Word {
                            parts: vec![WordPart::Literal { text, quoted: true }],
                        }));
                        continue;
                    }
                }
            }
            out.push(word.clone());
        }
        if out
            .first()
            .and_then(Word::literal)
            .is_some_and(|name| command_name(&name) == "dpkg-maintscript-helper")
        {
            if let Some(separator) = out
                .iter()
                .position(|word| word.literal().as_deref() == Some("--"))
            {
                out.truncate(separator + 1);
            }
        }
        out
    }

    /// Decides `[ -z X ]`, `[ -n X ]`, `[ X = Y ]`, `[ X != Y ]` (and `&&`
    /// chains, `!`) when every operand is known: constant folding, so a
    /// branch that cannot run (`chroot "$DPKG_ROOT"` when it is empty) is
    /// not counted.
    fn static_truth(&self, condition: &List, environment: &Environment) -> Option<bool> {
        let [and_or] = condition.as_slice() else {
            return None;
        };
        let mut result = self.pipeline_truth(&and_or.first, environment)?;
        for (connector, pipeline) in &and_or.rest {
            let value = self.pipeline_truth(pipeline, environment);
            match connector {
                shell::Connector::And => {
                    if !result {
                        return Some(false);
                    }
                    result = value?;
                }
                shell::Connector::Or => {
                    if result {
                        return Some(true);
                    }
                    result = value?;
                }
            }
        }
        Some(result)
    }

    fn pipeline_truth(&self, pipeline: &Pipeline, environment: &Environment) -> Option<bool> {
        let [Command::Simple(simple)] = pipeline.commands.as_slice() else {
            return None;
        };
        // `command -v py3clean`, `which update-alternatives`, `[ -x
        // /usr/bin/deb-systemd-helper ]`: pkgward performs these tools'
        // effects itself, so the check is true and the fallback branch
        // (`else dpkg -L … | sed …`) never runs.
        let literal: Option<Vec<String>> = simple.words.iter().map(Word::literal).collect();
        if let Some(literal) = &literal {
            let tool = match literal
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice()
            {
                ["command", "-v", tool] | ["which", tool] => Some((*tool).to_owned()),
                ["[", "-x", path, "]"] | ["test", "-x", path] if path.starts_with('/') => {
                    Some((*path).to_owned())
                }
                _ => None,
            };
            if let Some(tool) = tool {
                if DECLARATIVE_TOOLS.contains(&command_name(&tool)) {
                    return Some(!pipeline.negated);
                }
            }
        }
        let words = self.expand_words(&simple.words, environment)?;
        let words: Vec<String> = words
            .into_iter()
            .map(|set| {
                if set.len() == 1 {
                    set.into_iter().next()
                } else {
                    None
                }
            })
            .collect::<Option<_>>()?;
        let mut arguments: Vec<&str> = words.iter().map(String::as_str).collect();
        match arguments.first().copied() {
            Some("[") if arguments.last() == Some(&"]") => {
                arguments.pop();
                arguments.remove(0);
            }
            Some("test") => {
                arguments.remove(0);
            }
            _ => return None,
        }
        let value = match arguments.as_slice() {
            ["-z", x] => x.is_empty(),
            ["-n", x] => !x.is_empty(),
            [x, "=" | "==", y] => x == y,
            [x, "!=", y] => x != y,
            _ => return None,
        };
        Some(value != pipeline.negated)
    }

    fn substitutions_are_queries(
        &mut self,
        word: &Word,
        environment: &Environment,
        line: usize,
    ) -> bool {
        for part in &word.parts {
            if let WordPart::CommandSubstitution { source, .. } = part {
                match shell::parse_script(source) {
                    Ok(list) => {
                        let mut probe = Interpreter {
                            context: self.context,
                            blocks: Vec::new(),
                            functions: self.functions.clone(),
                            recognised: Vec::new(),
                            residue: Vec::new(),
                            depth: self.depth + 1,
                            output: None,
                            steps: 0,
                        };
                        let mut inner = environment.clone();
                        probe.run_list(&list, &mut inner, None);
                        if !probe.residue.is_empty()
                            || probe.recognised.iter().any(|item| item.action.is_some())
                        {
                            self.residue(
                                line,
                                "command substitution with effects",
                                format!("$({source})"),
                            );
                            return false;
                        }
                    }
                    Err(error) => {
                        self.residue(
                            line,
                            "shell syntax not understood",
                            format!("$({source}): {error}"),
                        );
                        return false;
                    }
                }
            }
        }
        true
    }

    /// Maps one fully known command line to an action, a no-op or residue.
    fn run_argv(
        &mut self,
        line: usize,
        name: &str,
        argv: &[String],
        text: &str,
        environment: &mut Environment,
    ) {
        let arguments: Vec<&str> = argv.iter().skip(1).map(String::as_str).collect();
        let positional: Vec<&str> = arguments
            .iter()
            .copied()
            .filter(|a| !a.starts_with('-'))
            .collect();
        let has = |flag: &str| arguments.contains(&flag);
        match name {
            "." | "source" => {
                if arguments.first() == Some(&"/usr/share/debconf/confmodule") {
                    self.recognise(
                        line,
                        "debconf confmodule",
                        Some(DerivedAction::Debconf {
                            command: "load".to_owned(),
                        }),
                    );
                } else {
                    self.residue(line, "sourcing a file", text);
                }
            }
            "db_purge" => self.recognise(line, "db_purge", Some(DerivedAction::DebconfPurge)),
            db if db.starts_with("db_") => {
                // Questions are answered with their defaults (noninteractive).
                self.recognise(
                    line,
                    "debconf db_*",
                    Some(DerivedAction::Debconf {
                        command: db.to_owned(),
                    }),
                );
            }
            "deb-systemd-helper" => {
                let verb = positional.first().copied().unwrap_or("");
                let units: Vec<String> = positional
                    .iter()
                    .skip(1)
                    .map(|unit| (*unit).to_owned())
                    .collect();
                match verb {
                    "enable" | "update-state" | "unmask" | "reenable" => {
                        for unit in units {
                            let action = match verb {
                                "update-state" => DerivedAction::ServiceUpdateState { unit },
                                "unmask" => DerivedAction::ServiceUnmask { unit },
                                _ => DerivedAction::ServiceEnable { unit },
                            };
                            self.recognise(
                                line,
                                format!("deb-systemd-helper {verb}"),
                                Some(action),
                            );
                        }
                    }
                    "disable" | "mask" | "purge" => {
                        for unit in units {
                            self.recognise(
                                line,
                                format!("deb-systemd-helper {verb}"),
                                Some(DerivedAction::ServiceDisable {
                                    unit,
                                    verb: verb.to_owned(),
                                }),
                            );
                        }
                    }
                    _ => self.residue(
                        line,
                        format!("unknown deb-systemd-helper verb `{verb}`"),
                        text,
                    ),
                }
            }
            "deb-systemd-invoke" | "systemctl" => {
                let verb = positional.first().copied().unwrap_or("");
                match verb {
                    "daemon-reload" => self.recognise(
                        line,
                        format!("{name} daemon-reload"),
                        Some(DerivedAction::DaemonReload),
                    ),
                    "start"
                    | "restart"
                    | "stop"
                    | "try-restart"
                    | "reload"
                    | "try-reload-or-restart"
                    | "reload-or-restart" => {
                        for unit in positional.iter().skip(1) {
                            self.recognise(
                                line,
                                format!("{name} {verb}"),
                                Some(DerivedAction::ServiceControl {
                                    unit: (*unit).to_owned(),
                                    verb: verb.to_owned(),
                                }),
                            );
                        }
                    }
                    "enable" | "disable" | "mask" | "unmask" if name == "systemctl" => {
                        for unit in positional.iter().skip(1) {
                            let action = if verb == "enable" {
                                DerivedAction::ServiceEnable {
                                    unit: (*unit).to_owned(),
                                }
                            } else if verb == "unmask" {
                                DerivedAction::ServiceUnmask {
                                    unit: (*unit).to_owned(),
                                }
                            } else {
                                DerivedAction::ServiceDisable {
                                    unit: (*unit).to_owned(),
                                    verb: verb.to_owned(),
                                }
                            };
                            self.recognise(line, format!("systemctl {verb}"), Some(action));
                        }
                    }
                    _ => self.residue(line, format!("privileged: `{name} {verb}`"), text),
                }
            }
            "invoke-rc.d" => {
                if let [script, verb, ..] = positional.as_slice() {
                    self.recognise(
                        line,
                        "invoke-rc.d",
                        Some(DerivedAction::ServiceControl {
                            unit: format!("{script}.service"),
                            verb: (*verb).to_owned(),
                        }),
                    );
                } else {
                    self.residue(line, "invoke-rc.d without script and action", text);
                }
            }
            "update-rc.d" => {
                if let [script, verb, ..] = positional.as_slice() {
                    self.recognise(
                        line,
                        "update-rc.d",
                        Some(DerivedAction::SysvLinks {
                            script: (*script).to_owned(),
                            verb: (*verb).to_owned(),
                        }),
                    );
                } else {
                    self.residue(line, "update-rc.d without script and action", text);
                }
            }
            "systemd-sysusers" => {
                for config in positional {
                    self.recognise(
                        line,
                        "systemd-sysusers",
                        Some(DerivedAction::Sysusers {
                            config: config.to_owned(),
                        }),
                    );
                }
            }
            "systemd-tmpfiles" => {
                if has("--create") && !positional.is_empty() {
                    for config in positional {
                        self.recognise(
                            line,
                            "systemd-tmpfiles --create",
                            Some(DerivedAction::Tmpfiles {
                                config: config.to_owned(),
                            }),
                        );
                    }
                } else {
                    self.residue(line, "systemd-tmpfiles without --create FILE", text);
                }
            }
            "update-alternatives" => self.update_alternatives(line, &arguments, text),
            "dpkg-maintscript-helper" => {
                let operation = positional.first().copied().unwrap_or("");
                if matches!(
                    operation,
                    "rm_conffile" | "mv_conffile" | "symlink_to_dir" | "dir_to_symlink"
                ) {
                    let rest: Vec<String> = arguments
                        .iter()
                        .skip_while(|a| **a != operation)
                        .skip(1)
                        .take_while(|a| **a != "--")
                        .map(|a| (*a).to_owned())
                        .collect();
                    self.recognise(
                        line,
                        format!("dpkg-maintscript-helper {operation}"),
                        Some(DerivedAction::ConffileMigration {
                            operation: operation.to_owned(),
                            arguments: rest,
                        }),
                    );
                } else {
                    self.residue(line, format!("dpkg-maintscript-helper `{operation}`"), text);
                }
            }
            "adduser" | "useradd" | "addgroup" | "groupadd" => {
                self.account_command(line, name, &arguments, text);
            }
            "usermod" => self.usermod_command(line, &arguments, text),
            "dpkg-statoverride" => {
                if has("--add") || has("--update") {
                    if let [owner, group, mode, path] = positional.as_slice() {
                        self.recognise(
                            line,
                            "dpkg-statoverride --add",
                            Some(DerivedAction::StatOverride {
                                owner: (*owner).to_owned(),
                                group: (*group).to_owned(),
                                mode: (*mode).to_owned(),
                                path: (*path).to_owned(),
                            }),
                        );
                        return;
                    }
                } else if has("--remove") {
                    if let [path] = positional.as_slice() {
                        self.recognise(
                            line,
                            "dpkg-statoverride --remove",
                            Some(DerivedAction::StatOverrideRemove {
                                path: (*path).to_owned(),
                            }),
                        );
                        return;
                    }
                }
                self.residue(line, "dpkg-statoverride form not recognised", text);
            }
            "chmod" | "chown" | "chgrp" => {
                let recursive = arguments.iter().any(|a| matches!(*a, "-R" | "--recursive"));
                // `chmod -x FILE`: a symbolic mode may start with `-`.
                let operands: Vec<&str> = arguments
                    .iter()
                    .copied()
                    .filter(|a| !a.starts_with('-') || (name == "chmod" && is_symbolic_mode(a)))
                    .filter(|a| !matches!(*a, "-R" | "--recursive"))
                    .collect();
                if let [spec, paths @ ..] = operands.as_slice() {
                    if !paths.is_empty() && paths.iter().all(|path| path.starts_with('/')) {
                        for path in paths {
                            let path = (*path).to_owned();
                            let action = match name {
                                "chmod" => DerivedAction::SetMode {
                                    path,
                                    mode: (*spec).to_owned(),
                                },
                                "chgrp" => DerivedAction::SetOwner {
                                    path,
                                    owner: format!(":{spec}"),
                                },
                                _ => DerivedAction::SetOwner {
                                    path,
                                    owner: (*spec).to_owned(),
                                },
                            };
                            self.recognise(
                                line,
                                if recursive {
                                    format!("{name} -R")
                                } else {
                                    name.to_owned()
                                },
                                Some(action),
                            );
                        }
                        return;
                    }
                }
                self.residue(
                    line,
                    format!("`{name}` on a relative or unknown path"),
                    text,
                );
            }
            "setcap" => {
                if let [capabilities, path] = positional.as_slice() {
                    self.recognise(
                        line,
                        "setcap",
                        Some(DerivedAction::SetFileCapabilities {
                            path: (*path).to_owned(),
                            capabilities: (*capabilities).to_owned(),
                        }),
                    );
                } else {
                    self.residue(line, "setcap form not recognised", text);
                }
            }
            "mkdir" => {
                let mode = option_value(&arguments, &["-m", "--mode"]);
                let paths: Vec<&str> = positional_after_options(&arguments, &["-m", "--mode"]);
                if !paths.is_empty() && paths.iter().all(|p| p.starts_with('/')) {
                    for path in paths {
                        self.recognise(
                            line,
                            "mkdir",
                            Some(DerivedAction::CreateDirectory {
                                path: path.to_owned(),
                                mode: mode.clone(),
                                owner: None,
                                group: None,
                            }),
                        );
                    }
                } else {
                    self.residue(line, "`mkdir` on a relative or unknown path", text);
                }
            }
            "install" => {
                let valued = ["-m", "--mode", "-o", "--owner", "-g", "--group"];
                let mode = option_value(&arguments, &["-m", "--mode"]);
                let owner = option_value(&arguments, &["-o", "--owner"]);
                let group = option_value(&arguments, &["-g", "--group"]);
                let paths = positional_after_options(&arguments, &valued);
                if has("-d") || has("--directory") {
                    if !paths.is_empty() && paths.iter().all(|p| p.starts_with('/')) {
                        for path in paths {
                            self.recognise(
                                line,
                                "install -d",
                                Some(DerivedAction::CreateDirectory {
                                    path: path.to_owned(),
                                    mode: mode.clone(),
                                    owner: owner.clone(),
                                    group: group.clone(),
                                }),
                            );
                        }
                        return;
                    }
                } else if let ["/dev/null", target] = paths.as_slice() {
                    self.recognise(
                        line,
                        "install /dev/null (empty file)",
                        Some(DerivedAction::WriteFile {
                            path: (*target).to_owned(),
                            content: String::new(),
                        }),
                    );
                    if let Some(mode) = mode {
                        self.recognise(
                            line,
                            "install -m",
                            Some(DerivedAction::SetMode {
                                path: (*target).to_owned(),
                                mode,
                            }),
                        );
                    }
                    return;
                }
                self.residue(line, "install form not recognised", text);
            }
            "touch" => {
                if !positional.is_empty() && positional.iter().all(|p| p.starts_with('/')) {
                    for path in positional {
                        self.recognise(
                            line,
                            "touch",
                            Some(DerivedAction::WriteFile {
                                path: path.to_owned(),
                                content: String::new(),
                            }),
                        );
                    }
                } else {
                    self.residue(line, "touch form not recognised", text);
                }
            }
            "rm" => {
                let recursive = arguments.iter().any(|a| {
                    a.starts_with('-')
                        && !a.starts_with("--")
                        && (a.contains('r') || a.contains('R'))
                        || *a == "--recursive"
                });
                let paths: Vec<&str> = positional.iter().copied().filter(|p| *p != "--").collect();
                if !paths.is_empty()
                    && paths
                        .iter()
                        .all(|p| p.starts_with('/') && *p != "/" && !p.contains("/../"))
                {
                    for path in paths {
                        self.recognise(
                            line,
                            if recursive { "rm -r" } else { "rm" },
                            Some(DerivedAction::RemovePath {
                                path: path.to_owned(),
                                recursive,
                            }),
                        );
                    }
                } else {
                    self.residue(line, "`rm` on a relative or unknown path", text);
                }
            }
            "rmdir" => {
                if !positional.is_empty()
                    && positional.iter().all(|p| p.starts_with('/') && *p != "/")
                {
                    for path in positional {
                        self.recognise(
                            line,
                            "rmdir",
                            Some(DerivedAction::RemoveDirectory {
                                path: path.to_owned(),
                            }),
                        );
                    }
                } else {
                    self.residue(line, "`rmdir` on a relative or unknown path", text);
                }
            }
            "cp" => {
                if let [from, to] = positional.as_slice() {
                    if from.starts_with('/') && to.starts_with('/') {
                        self.recognise(
                            line,
                            "cp",
                            Some(DerivedAction::CopyFile {
                                from: (*from).to_owned(),
                                to: (*to).to_owned(),
                            }),
                        );
                        return;
                    }
                }
                self.residue(line, "cp form not recognised", text);
            }
            "mv" => {
                let operands: Vec<&str> =
                    positional.iter().copied().filter(|p| *p != "--").collect();
                if let [from, to] = operands.as_slice() {
                    if from.starts_with('/') && to.starts_with('/') {
                        self.recognise(
                            line,
                            "mv",
                            Some(DerivedAction::RenamePath {
                                from: (*from).to_owned(),
                                to: (*to).to_owned(),
                            }),
                        );
                        return;
                    }
                }
                self.residue(line, "`mv` on a relative or unknown path", text);
            }
            "ln" => {
                let symbolic = arguments.iter().any(|a| {
                    a.starts_with('-') && !a.starts_with("--") && a.contains('s')
                        || *a == "--symbolic"
                });
                let replace = arguments.iter().any(|a| {
                    a.starts_with('-') && !a.starts_with("--") && a.contains('f') || *a == "--force"
                });
                if let [target, link] = positional.as_slice() {
                    if symbolic && link.starts_with('/') {
                        self.recognise(
                            line,
                            "ln -s",
                            Some(DerivedAction::Symlink {
                                target: (*target).to_owned(),
                                link: (*link).to_owned(),
                                replace,
                            }),
                        );
                        return;
                    }
                }
                self.residue(line, "`ln` form not recognised", text);
            }
            "find" => self.find_delete(line, &arguments, text),
            "ucf" | "ucfr" => {
                let operands = positional_after_options(
                    &arguments,
                    &["--sum-file", "--src-dir", "--state-dir"],
                );
                let purge = has("--purge");
                let known_flags = arguments.iter().filter(|a| a.starts_with('-')).all(|a| {
                    matches!(
                        *a,
                        "--purge"
                            | "--three-way"
                            | "--debconf-ok"
                            | "--sum-file"
                            | "--force"
                            | "--verbose"
                            | "--src-dir"
                            | "--state-dir"
                    )
                });
                let action = match (name, purge, operands.as_slice()) {
                    ("ucf", false, [template, destination]) => Some(DerivedAction::ManagedConfig {
                        template: (*template).to_owned(),
                        destination: (*destination).to_owned(),
                    }),
                    ("ucf", true, [path]) | ("ucfr", true, [_, path]) => {
                        Some(DerivedAction::ManagedConfigPurge {
                            path: (*path).to_owned(),
                        })
                    }
                    ("ucfr", false, [package, path]) => Some(DerivedAction::ManagedConfigOwner {
                        package: (*package).to_owned(),
                        path: (*path).to_owned(),
                    }),
                    _ => None,
                };
                match action {
                    Some(action) if known_flags => self.recognise(
                        line,
                        if purge {
                            format!("{name} --purge")
                        } else {
                            name.to_owned()
                        },
                        Some(action),
                    ),
                    _ => self.residue(line, format!("`{name}` form not recognised"), text),
                }
            }
            "deluser" | "delgroup" | "userdel" | "groupdel" => {
                // Removing an account is checked against the package's
                // granted users/groups by the plan, with or without `--system`.
                let flags_ok = arguments
                    .iter()
                    .filter(|a| a.starts_with('-'))
                    .all(|a| matches!(*a, "--system" | "--quiet" | "--only-if-empty"));
                let system = true;
                if let ([account], true, true) = (positional.as_slice(), flags_ok, system) {
                    let account = (*account).to_owned();
                    let action = if matches!(name, "deluser" | "userdel") {
                        DerivedAction::RemoveUser { name: account }
                    } else {
                        DerivedAction::RemoveGroup { name: account }
                    };
                    self.recognise(line, format!("{name} --system"), Some(action));
                } else {
                    self.residue(
                        line,
                        format!(
                            "`{name}` form not recognised (only system accounts are declarative)"
                        ),
                        text,
                    );
                }
            }
            "py3compile" | "pypy3compile" | "py3clean" | "pypy3clean" => {
                let package = option_value(&arguments, &["-p", "--package"])
                    .unwrap_or_else(|| self.context.package.clone());
                let action = if name.ends_with("compile") {
                    DerivedAction::PythonCompile { package }
                } else {
                    DerivedAction::PythonClean { package }
                };
                self.recognise(line, name.to_owned(), Some(action));
            }
            "ldconfig" => self.recognise(line, "ldconfig", Some(DerivedAction::Ldconfig)),
            "add-shell" | "remove-shell" => {
                for path in positional {
                    self.recognise(
                        line,
                        name.to_owned(),
                        Some(DerivedAction::LoginShell {
                            path: path.to_owned(),
                            add: name == "add-shell",
                        }),
                    );
                }
            }
            "dpkg-trigger" => {
                if let Some(trigger) = positional.first() {
                    self.recognise(
                        line,
                        "dpkg-trigger",
                        Some(DerivedAction::ActivateTrigger {
                            name: (*trigger).to_owned(),
                        }),
                    );
                } else {
                    self.residue(line, "dpkg-trigger without a name", text);
                }
            }
            "apparmor_parser" => {
                if let Some(profile) = positional.last() {
                    self.recognise(
                        line,
                        "apparmor_parser",
                        Some(DerivedAction::AppArmorReload {
                            profile: (*profile).to_owned(),
                        }),
                    );
                } else {
                    self.residue(line, "apparmor_parser form not recognised", text);
                }
            }
            tool if REGISTRY_TOOLS.contains(&tool) => {
                self.recognise(
                    line,
                    tool.to_owned(),
                    Some(DerivedAction::RefreshRegistry {
                        tool: tool.to_owned(),
                        arguments: arguments.iter().map(|a| (*a).to_owned()).collect(),
                    }),
                );
            }
            other if PRIVILEGED_COMMANDS.contains(&other) => {
                self.residue(line, format!("privileged: `{other}`"), text);
            }
            other => {
                let _ = environment;
                self.residue(line, format!("unknown command `{other}`"), text);
            }
        }
    }

    #[allow(clippy::similar_names)]
    fn update_alternatives(&mut self, line: usize, arguments: &[&str], text: &str) {
        let mut index = 0;
        // Global options before the action.
        while index < arguments.len()
            && matches!(
                arguments[index],
                "--quiet" | "--verbose" | "--force" | "--skip-auto"
            )
        {
            index += 1;
        }
        match arguments.get(index).copied() {
            Some("--install") => {
                let Some([link, name, path, priority]) = arguments
                    .get(index + 1..index + 5)
                    .and_then(|s| <[&str; 4]>::try_from(s).ok())
                else {
                    self.residue(
                        line,
                        "update-alternatives --install form not recognised",
                        text,
                    );
                    return;
                };
                let Ok(priority) = priority.parse::<i64>() else {
                    self.residue(line, "update-alternatives priority not numeric", text);
                    return;
                };
                let mut slaves = Vec::new();
                let mut rest = &arguments[index + 5..];
                while let ["--slave", slave_link, slave_name, slave_path, tail @ ..] = rest {
                    slaves.push((
                        (*slave_link).to_owned(),
                        (*slave_name).to_owned(),
                        (*slave_path).to_owned(),
                    ));
                    rest = tail;
                }
                if !rest.iter().all(|a| matches!(*a, "--quiet")) {
                    self.residue(
                        line,
                        "update-alternatives --install form not recognised",
                        text,
                    );
                    return;
                }
                self.recognise(
                    line,
                    "update-alternatives --install",
                    Some(DerivedAction::AlternativeInstall {
                        link: link.to_owned(),
                        name: name.to_owned(),
                        path: path.to_owned(),
                        priority,
                        slaves,
                    }),
                );
            }
            Some("--remove") => {
                if let Some([name, path]) = arguments
                    .get(index + 1..index + 3)
                    .and_then(|s| <[&str; 2]>::try_from(s).ok())
                {
                    self.recognise(
                        line,
                        "update-alternatives --remove",
                        Some(DerivedAction::AlternativeRemove {
                            name: name.to_owned(),
                            path: path.to_owned(),
                        }),
                    );
                } else {
                    self.residue(
                        line,
                        "update-alternatives --remove form not recognised",
                        text,
                    );
                }
            }
            Some(action) => self.residue(line, format!("update-alternatives `{action}`"), text),
            None => self.residue(line, "update-alternatives without an action", text),
        }
    }

    fn find_delete(&mut self, line: usize, arguments: &[&str], text: &str) {
        let Some((directory, predicates)) = arguments.split_first() else {
            self.residue(line, "`find` form not recognised", text);
            return;
        };
        let mut action = DerivedAction::RemoveMatching {
            directory: (*directory).to_owned(),
            max_depth: None,
            kind: None,
            name: None,
            link_target: None,
            only_empty: false,
        };
        let mut deletes = false;
        let mut rest = predicates;
        let DerivedAction::RemoveMatching {
            max_depth,
            kind,
            name,
            link_target,
            only_empty,
            ..
        } = &mut action
        else {
            return;
        };
        loop {
            match rest {
                [] => break,
                ["-maxdepth", depth, tail @ ..] => {
                    let Ok(depth) = depth.parse() else { break };
                    *max_depth = Some(depth);
                    rest = tail;
                }
                ["-type", value, tail @ ..] => {
                    *kind = Some((*value).to_owned());
                    rest = tail;
                }
                ["-name", value, tail @ ..] => {
                    *name = Some((*value).to_owned());
                    rest = tail;
                }
                ["-lname", value, tail @ ..] => {
                    *link_target = Some((*value).to_owned());
                    rest = tail;
                }
                ["-empty", tail @ ..] => {
                    *only_empty = true;
                    rest = tail;
                }
                ["-delete"] => {
                    deletes = true;
                    rest = &[];
                }
                _ => {
                    self.residue(line, "`find` form not recognised", text);
                    return;
                }
            }
        }
        if deletes && directory.starts_with('/') && *directory != "/" {
            self.recognise(line, "find -delete", Some(action));
        } else {
            self.residue(line, "`find` form not recognised", text);
        }
    }

    /// `usermod -a -G GROUP[,GROUP…] USER` (also `--append --groups`, as
    /// `%sysusers_create_compat` writes for sysusers.d `m` lines) only adds
    /// supplementary groups: `AddToGroup` each. Any other `usermod` changes
    /// an existing account (shell, home, ids, the whole group list without
    /// `-a`): privileged residue, as before.
    fn usermod_command(&mut self, line: usize, arguments: &[&str], text: &str) {
        // `-aG` is the usual spelling of `-a -G`.
        let arguments: Vec<&str> = arguments
            .iter()
            .flat_map(|argument| match *argument {
                "-aG" => vec!["-a", "-G"],
                other => vec![other],
            })
            .collect();
        let arguments = arguments.as_slice();
        let append = arguments.iter().any(|a| matches!(*a, "-a" | "--append"));
        let groups = option_value(arguments, &["-G", "--groups"]);
        let only_append = arguments
            .iter()
            .filter(|argument| argument.starts_with('-'))
            .all(|argument| {
                matches!(*argument, "-a" | "--append" | "-G" | "--groups")
                    || argument.starts_with("--groups=")
            });
        let positional = positional_after_options(arguments, &["-G", "--groups"]);
        match (append && only_append, groups, positional.as_slice()) {
            (true, Some(groups), [user]) if !groups.is_empty() => {
                for group in groups.split(',').filter(|group| !group.is_empty()) {
                    self.recognise(
                        line,
                        "usermod -a -G",
                        Some(DerivedAction::AddToGroup {
                            user: (*user).to_owned(),
                            group: group.to_owned(),
                        }),
                    );
                }
            }
            _ => self.residue(line, "privileged: `usermod`", text),
        }
    }

    fn account_command(&mut self, line: usize, name: &str, arguments: &[&str], text: &str) {
        let system = arguments.iter().any(|a| matches!(*a, "--system" | "-r"));
        let valued = [
            "--home",
            "-d",
            "--home-dir",
            "--shell",
            "-s",
            "--ingroup",
            "-g",
            "--gid",
            "--uid",
            "-u",
            "--gecos",
            "-c",
            "--comment",
            "--firstuid",
            "--lastuid",
            "--firstgid",
            "--lastgid",
            "--conf",
            // shadow-utils' useradd/groupadd options that take a value.
            "-G",
            "--groups",
            "-k",
            "--skel",
            "-K",
            "--key",
            "-e",
            "--expiredate",
            "--inactive",
            "-b",
            "--base-dir",
            "-Z",
            "--selinux-user",
        ];
        // `-p`/`--password` would set a password hash, `-R`/`-P` act on
        // another root: not a plain system account declaration.
        if name == "useradd" || name == "groupadd" {
            if let Some(option) = arguments.iter().find(|argument| {
                matches!(
                    **argument,
                    "-p" | "--password" | "-R" | "--root" | "-P" | "--prefix"
                )
            }) {
                self.residue(line, format!("`{name} {option}` not translated"), text);
                return;
            }
        }
        // `-f` is useradd's `--inactive DAYS` but groupadd's `--force`.
        let mut valued = valued.to_vec();
        if name == "useradd" {
            valued.push("-f");
        }
        let positional = positional_after_options(arguments, &valued);
        let group_flag = arguments.contains(&"--group");
        // A fixed id: `-u`/`--uid` of a user, `-g`/`--gid` of a group
        // (for a user, `-g` names its primary group, by name or gid).
        let id_options: &[&str] = if matches!(name, "groupadd" | "addgroup") {
            &["-g", "--gid"]
        } else {
            &["-u", "--uid"]
        };
        // `groupadd -f -g ID`: `-f` drops a `-g` that is in use, so the
        // id is only a preference; leave it to the allocator.
        let forced = name == "groupadd" && arguments.iter().any(|a| matches!(*a, "-f" | "--force"));
        let mut fixed_id = None;
        if let Some(value) = option_value(arguments, id_options).filter(|_| !forced) {
            let Ok(id) = value.parse::<u32>() else {
                self.residue(
                    line,
                    format!("`{name}`: id `{value}` is not a number"),
                    text,
                );
                return;
            };
            fixed_id = Some(id);
        }
        // useradd without `-g`: `-N` takes the primary group from
        // /etc/default/useradd, which pkgward does not model.
        if name == "useradd"
            && arguments
                .iter()
                .any(|a| matches!(*a, "-N" | "--no-user-group"))
            && option_value(arguments, &["-g", "--gid"]).is_none()
        {
            self.residue(
                line,
                "`useradd -N` without `-g` (the primary group comes from /etc/default/useradd)",
                text,
            );
            return;
        }
        if name == "useradd" && system {
            // `-G a,b`: supplementary groups, as `usermod -a -G` would add.
            if let (Some(groups), [user]) = (
                option_value(arguments, &["-G", "--groups"]),
                positional.as_slice(),
            ) {
                for group in groups.split(',').filter(|group| !group.is_empty()) {
                    self.recognise(
                        line,
                        "useradd -G",
                        Some(DerivedAction::AddToGroup {
                            user: (*user).to_owned(),
                            group: group.to_owned(),
                        }),
                    );
                }
            }
        }
        match (name, positional.as_slice()) {
            ("adduser", [user, group]) if !system => {
                self.recognise(
                    line,
                    "adduser USER GROUP",
                    Some(DerivedAction::AddToGroup {
                        user: (*user).to_owned(),
                        group: (*group).to_owned(),
                    }),
                );
            }
            ("adduser" | "useradd", [user]) if system => {
                // Without a group, `adduser --system` puts the user in
                // `nogroup` (`None`), while `useradd -r` creates a group
                // named like the user (login.defs' USERGROUPS_ENAB, on by
                // default on Fedora and Debian, or `-U`); `-N` without `-g`
                // was refused above.
                let group = option_value(arguments, &["--ingroup", "-g", "--gid"])
                    .or_else(|| (group_flag || name == "useradd").then(|| (*user).to_owned()));
                self.recognise(
                    line,
                    format!("{name} --system"),
                    Some(DerivedAction::CreateSystemUser {
                        name: (*user).to_owned(),
                        group,
                        home: option_value(arguments, &["--home", "-d", "--home-dir"]),
                        shell: option_value(arguments, &["--shell", "-s"]),
                        gecos: option_value(arguments, &["--gecos", "-c", "--comment"]),
                        uid: fixed_id,
                    }),
                );
            }
            ("addgroup" | "groupadd", [group])
                if system || option_value(arguments, &["-g", "--gid"]).is_some() =>
            {
                self.recognise(
                    line,
                    format!("{name} --system"),
                    Some(DerivedAction::CreateSystemGroup {
                        name: (*group).to_owned(),
                        gid: fixed_id,
                    }),
                );
            }
            ("adduser", [group]) if group_flag && system => {
                self.recognise(
                    line,
                    "adduser --system --group",
                    Some(DerivedAction::CreateSystemGroup {
                        name: (*group).to_owned(),
                        gid: fixed_id,
                    }),
                );
            }
            _ => self.residue(
                line,
                format!("`{name}` form not recognised (only system accounts are declarative)"),
                text,
            ),
        }
    }
}

fn is_symbolic_mode(text: &str) -> bool {
    let body = text.trim_start_matches(['u', 'g', 'o', 'a']);
    body.starts_with(['-', '+', '='])
        && body.len() > 1
        && body[1..].chars().all(|c| "rwxXst".contains(c))
}

fn query_idiom(name: &str, words: &[BTreeSet<String>]) -> String {
    let first_argument = words
        .get(1)
        .and_then(|w| w.iter().next())
        .map_or("", String::as_str);
    match name {
        "[" | "test" => "test guard".to_owned(),
        "command" | "which" => "command -v / which guard".to_owned(),
        "dpkg" if first_argument == "--compare-versions" => {
            "dpkg --compare-versions guard".to_owned()
        }
        "echo" | "printf" => "echo".to_owned(),
        other => format!("query `{other}`"),
    }
}

fn option_value(arguments: &[&str], names: &[&str]) -> Option<String> {
    for (index, argument) in arguments.iter().enumerate() {
        for name in names {
            if argument == name {
                return arguments.get(index + 1).map(|value| (*value).to_owned());
            }
            if let Some(value) = argument.strip_prefix(&format!("{name}=")) {
                return Some(value.to_owned());
            }
        }
    }
    None
}

fn positional_after_options<'a>(arguments: &[&'a str], valued: &[&str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut skip_next = false;
    for argument in arguments {
        if skip_next {
            skip_next = false;
            continue;
        }
        if valued.contains(argument) {
            skip_next = true;
            continue;
        }
        if argument.starts_with('-') && *argument != "-" {
            continue;
        }
        out.push(*argument);
    }
    out
}

fn split_modifier(modifier: &str) -> Option<(&str, &str)> {
    for operator in [":-", ":+", ":=", ":?", "-", "+", "=", "?"] {
        if let Some(rest) = modifier.strip_prefix(operator) {
            let normalised = match operator {
                "-" => ":-",
                "+" => ":+",
                other => other,
            };
            return Some((normalised, rest));
        }
    }
    None
}

/// `while read a b` → `[a, b]`.
fn read_loop_variables(condition: &List) -> Option<Vec<String>> {
    let [and_or] = condition.as_slice() else {
        return None;
    };
    let [Command::Simple(simple)] = and_or.first.commands.as_slice() else {
        return None;
    };
    let words: Vec<String> = simple
        .words
        .iter()
        .map(Word::literal)
        .collect::<Option<_>>()?;
    let (first, rest) = words.split_first()?;
    if first != "read" {
        return None;
    }
    let variables: Vec<String> = rest
        .iter()
        .filter(|w| !w.starts_with('-'))
        .cloned()
        .collect();
    (!variables.is_empty()).then_some(variables)
}

/// Minimal `case` pattern matching: `*`, `?`, literal text, `[…]` treated
/// as matching any one character.
fn glob_match(pattern: &str, text: &str) -> bool {
    fn matches(pattern: &[char], text: &[char]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some(('*', rest)) => (0..=text.len()).any(|skip| matches(rest, &text[skip..])),
            Some(('?', rest)) => !text.is_empty() && matches(rest, &text[1..]),
            Some(('[', rest)) => {
                let close = rest.iter().position(|c| *c == ']');
                match close {
                    Some(close) => !text.is_empty() && matches(&rest[close + 1..], &text[1..]),
                    None => text.first() == Some(&'[') && matches(rest, &text[1..]),
                }
            }
            Some((c, rest)) => text.first() == Some(c) && matches(rest, &text[1..]),
        }
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    matches(&pattern, &text)
}

fn describe_simple(simple: &SimpleCommand) -> String {
    let mut parts: Vec<String> = simple
        .assignments
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    parts.extend(simple.words.iter().map(ToString::to_string));
    parts.join(" ")
}

fn describe_command(command: &Command) -> String {
    match command {
        Command::Simple(simple) => describe_simple(simple),
        Command::If { .. } => "if …".to_owned(),
        Command::Case { .. } => "case …".to_owned(),
        Command::For { .. } => "for …".to_owned(),
        Command::Loop { until: false, .. } => "while …".to_owned(),
        Command::Loop { until: true, .. } => "until …".to_owned(),
        Command::Group { .. } => "{ … }".to_owned(),
        Command::Subshell { .. } => "( … )".to_owned(),
        Command::FunctionDefinition { name, .. } => format!("{name}() …"),
    }
}
