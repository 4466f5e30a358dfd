//! Which maintainer scripts of a package run, and where they may write.
//!
//! Every script is classified by `pkgward_actions::scripts::classify_script`
//! (never re-implemented here). A fully declarative script never runs: its
//! actions are pkgward's own (the actions phase). A script with residue runs
//! in the sandbox at its dpkg phase, which the policy's `scripts` mode must
//! allow: `none` refuses the package, `sandboxed` runs residue scripts,
//! `unconfined` is needed by scripts classified `NeedsUnconfined` — and even
//! then pkgward runs them in the same sandbox, because unconfined execution is
//! not implemented (the privileged commands then fail and the package is left
//! half-configured, never run with more power than the sandbox gives).
//!
//! Writable paths for a package's scripts (the *writable paths rule*, see
//! `docs/sandbox.md`): the package's own directories — directories among its
//! placements, or parents of them, whose final component is the package's
//! name (`/etc/foo`, `/usr/share/foo`, `/var/lib/foo`, also `foo.d`, `foo-x`)
//! — plus `/var/lib/<name>`, `/var/cache/<name>`, `/var/log/<name>` and
//! `/run/<name>`, each kept only when the policy would let the package place a
//! new file directly in it (so guarded locations and deny overrides stay
//! read-only). Shared directories (`/usr/bin`, `/etc`) are never writable.
//!
//! The script that runs is not the script as shipped: every debhelper block
//! that is *fully translated* (no residue line in it: pkgward performs its
//! actions itself) is neutralised first — its body lines blanked, a `:` in
//! place of the first, the marker comments kept so line numbers still point
//! at the original (`script_to_run`). Only whole debhelper blocks are
//! removed: they are debhelper's self-contained autoscript snippets. Single
//! commands outside blocks never are: variables, `set -e`, conditionals and
//! functions tie them to the rest of the script. A block is kept whole
//! (fail safe) when its markers are nested or unterminated, when it could
//! affect the rest of the script (`exit`, `return`, `set`, `trap`,
//! `export`, `unset`, `shift`, `cd`, `exec`, `eval`, `.`/`source`, variable
//! assignments other than debhelper's own `_dh_*`, function definitions),
//! or when the neutralised script does not classify to exactly the same
//! residue as the original.

use crate::plan::{PlannedDecision, PlannedScript, Problem};
use crate::planner::Judge;
use pkgward_actions::scripts::{classify_script, Classification, ScriptContext, ScriptReport};
use pkgward_package::{EntryKind, Package, ScriptName};
use pkgward_policy::ScriptMode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// How many residue lines a planned script lists (the rest are counted).
const RESIDUE_LINES_SHOWN: usize = 5;

/// What planning decided about one package's scripts.
#[derive(Debug)]
pub struct ScriptsPlan {
    pub scripts: Vec<PlannedScript>,
    pub writable_paths: Vec<String>,
    /// The `scripts` decision, when the package ships scripts.
    pub decision: Option<PlannedDecision>,
    /// The policy's refusal, and rpm scriptlets pkgward has no phase for.
    pub problems: Vec<Problem>,
}

/// Why pkgward never runs a script of this kind, for the rpm-only kinds
/// without a phase: `%pretrans` runs before anything of the transaction is
/// installed (Fedora writes it in Lua because the root may have no shell
/// yet), the `*trans` kinds are per transaction, and triggers fire on
/// *other* packages' installs. pkgward runs `%pre`, `%post`, `%preun` and
/// `%postun` (at dpkg's preinst, postinst, prerm and postrm phases) only, so a
/// scriptlet of these kinds with residue is refused instead of silently not
/// run; a fully declarative one needs no run (its actions are pkgward's).
pub fn unsupported_script_reason(name: ScriptName) -> Option<&'static str> {
    match name {
        ScriptName::Pretrans
        | ScriptName::Posttrans
        | ScriptName::Preuntrans
        | ScriptName::Postuntrans => Some(
            "pkgward runs no per-transaction scriptlets (only %pre, %post, %preun and %postun)",
        ),
        ScriptName::Trigger | ScriptName::FileTrigger => {
            Some("pkgward fires no rpm triggers (only %pre, %post, %preun and %postun run)")
        }
        ScriptName::Preinst
        | ScriptName::Postinst
        | ScriptName::Prerm
        | ScriptName::Postrm
        | ScriptName::Config => None,
    }
}

/// The script mode a classification needs.
pub fn required_mode(classification: Classification) -> ScriptMode {
    match classification {
        Classification::FullyDeclarative => ScriptMode::None,
        Classification::DeclarativeWithResidue => ScriptMode::Sandboxed,
        Classification::NeedsUnconfined => ScriptMode::Unconfined,
    }
}

/// A fully translated debhelper block blanked out of the script that runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeutralisedBlock {
    /// The debhelper tool named by the start marker (`dh_installsystemd`).
    pub tool: String,
    /// The start marker's line (1-based).
    pub first_line: usize,
    /// The end marker's line.
    pub last_line: usize,
}

impl std::fmt::Display for NeutralisedBlock {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "{} block, lines {}-{}",
            self.tool, self.first_line, self.last_line
        )
    }
}

/// The script that actually runs, and which blocks were blanked out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptToRun {
    pub bytes: Vec<u8>,
    pub neutralised: Vec<NeutralisedBlock>,
}

/// The script `package`'s `script_name` runs as: the shipped `bytes` with
/// every fully translated debhelper block neutralised (module docs).
pub fn script_to_run(package: &str, script_name: &str, bytes: &[u8]) -> ScriptToRun {
    let context = ScriptContext {
        package: package.to_owned(),
    };
    let report = classify_script(script_name, bytes, &context);
    let candidate = neutralise_translated_blocks(bytes, &report);
    if candidate.neutralised.is_empty() {
        return candidate;
    }
    // Fail safe: the remaining script must have exactly the residue the
    // original has, at the same lines — otherwise a blanked block mattered.
    let again = classify_script(script_name, &candidate.bytes, &context);
    if again.residue == report.residue {
        candidate
    } else {
        ScriptToRun {
            bytes: bytes.to_vec(),
            neutralised: Vec::new(),
        }
    }
}

/// The pure transform behind [`script_to_run`]: blanks the body of each
/// debhelper block of `report` that has no residue line, is properly
/// delimited (not nested, terminated) and cannot affect the rest of the
/// script. Everything else stays byte for byte; line count and line
/// endings are unchanged.
pub fn neutralise_translated_blocks(bytes: &[u8], report: &ScriptReport) -> ScriptToRun {
    let unchanged = || ScriptToRun {
        bytes: bytes.to_vec(),
        neutralised: Vec::new(),
    };
    let Ok(source) = std::str::from_utf8(bytes) else {
        return unchanged();
    };
    let lines: Vec<&str> = source.split_inclusive('\n').collect();
    let delimited = delimited_blocks(&lines);
    let mut neutralised = Vec::new();
    for (tool, first_line, last_line) in &report.debhelper_blocks {
        let (first_line, last_line) = (*first_line, *last_line);
        let translated = delimited.contains(&(first_line, last_line))
            && last_line > first_line + 1
            && !report
                .residue
                .iter()
                .any(|residue| (first_line..=last_line).contains(&residue.line))
            && lines[first_line..last_line - 1]
                .iter()
                .all(|line| !affects_rest_of_script(line));
        if translated {
            neutralised.push(NeutralisedBlock {
                tool: tool.clone(),
                first_line,
                last_line,
            });
        }
    }
    if neutralised.is_empty() {
        return unchanged();
    }
    let mut output = String::with_capacity(source.len());
    for (index, line) in lines.iter().enumerate() {
        let number = index + 1;
        let Some(block) = neutralised
            .iter()
            .find(|block| block.first_line < number && number < block.last_line)
        else {
            output.push_str(line);
            continue;
        };
        if number == block.first_line + 1 {
            output.push(':');
        }
        // Keep the line's ending (`\n` or `\r\n`): line numbers stay.
        let content = line.trim_end_matches(['\n', '\r']);
        output.push_str(&line[content.len()..]);
    }
    ScriptToRun {
        bytes: output.into_bytes(),
        neutralised,
    }
}

const START_MARKER: &str = "# Automatically added by ";
const END_MARKER: &str = "# End automatically added section";

/// (first line, last line) of every block whose start marker opens at top
/// level and whose end marker closes it with no other marker in between;
/// blocks around or inside nested markers, and unterminated ones, are left
/// out.
fn delimited_blocks(lines: &[&str]) -> Vec<(usize, usize)> {
    let mut blocks = Vec::new();
    let mut depth = 0usize;
    let mut open: Option<usize> = None;
    for (index, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with(START_MARKER) {
            depth += 1;
            open = (depth == 1).then_some(index + 1);
        } else if trimmed == END_MARKER && depth > 0 {
            depth -= 1;
            if depth == 0 {
                if let Some(first) = open.take() {
                    blocks.push((first, index + 1));
                }
            } else {
                open = None;
            }
        }
    }
    blocks
}

/// Whether a line of a block could change what the rest of the script does
/// (control flow, shell state, definitions), so the block must run whole.
fn affects_rest_of_script(line: &str) -> bool {
    const STATEFUL: &[&str] = &[
        "exit", "return", "set", "trap", "export", "unset", "readonly", "shift", "cd", "exec",
        "eval", ".", "source", "alias", "umask", "local", "declare", "typeset",
    ];
    let code = line.trim();
    if code.starts_with('#') {
        return false;
    }
    if code.contains("()") {
        return true;
    }
    code.split(|character: char| character.is_whitespace() || ";&|(){}`".contains(character))
        .filter(|word| !word.is_empty())
        .any(|word| {
            STATEFUL.contains(&word)
                || word.split_once('=').is_some_and(|(name, _)| {
                    // `_dh_*` are debhelper's snippet-local variables
                    // (`_dh_action`), set by every snippet that reads them.
                    !name.is_empty()
                        && !name.starts_with("_dh_")
                        && name
                            .chars()
                            .all(|character| character.is_ascii_alphanumeric() || character == '_')
                        && !name.starts_with(|character: char| character.is_ascii_digit())
                })
        })
}

/// The classification of each of `package`'s scripts (in order) and the
/// script mode they need together.
fn classify_package_scripts(package: &Package) -> (Vec<ScriptReport>, ScriptMode) {
    let context = ScriptContext {
        package: package.name.clone(),
    };
    let mut needed = ScriptMode::None;
    let mut reports = Vec::new();
    for script in &package.scripts {
        let report = classify_script(script.name.as_str(), &script.bytes, &context);
        // debconf's `config` script is run by debconf, never by dpkg or pkgward.
        if script.name != ScriptName::Config {
            needed = needed.max(required_mode(report.classification));
        }
        reports.push(report);
    }
    (reports, needed)
}

/// The script mode `package`'s scripts need: what `install` asks the policy
/// for (`none` when every script is fully declarative or there are none).
pub fn needed_script_mode(package: &Package) -> ScriptMode {
    classify_package_scripts(package).1
}

/// Classifies `package`'s scripts, asks the judge for the mode they need and
/// derives the scripts' writable paths from `directories` (the resolved
/// directories the package places or places files into).
pub fn plan_scripts(
    package: &Package,
    repo: &str,
    judge: &dyn Judge,
    directories: &BTreeSet<String>,
) -> ScriptsPlan {
    if package.scripts.is_empty() {
        return ScriptsPlan {
            scripts: Vec::new(),
            writable_paths: Vec::new(),
            decision: None,
            problems: Vec::new(),
        };
    }
    let (reports, needed) = classify_package_scripts(package);
    let decision = judge.scripts(package, repo, needed);
    let allowed = decision.verdict == "allow";
    let mut problems: Vec<Problem> = Vec::new();
    problems.extend((!allowed).then(|| Problem::Denied {
        package: package.name.clone(),
        item: format!(
            "`{needed}` maintainer scripts ({})",
            package
                .scripts
                .iter()
                .zip(&reports)
                .filter(|(script, report)| script.name != ScriptName::Config
                    && required_mode(report.classification) > ScriptMode::None)
                .map(|(script, _)| script.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        because: decision.because.clone(),
        hint: decision.hint.clone(),
    }));
    for (script, report) in package.scripts.iter().zip(&reports) {
        if let Some(reason) = unsupported_script_reason(script.name) {
            if report.classification != Classification::FullyDeclarative {
                problems.push(Problem::UnsupportedScript {
                    package: package.name.clone(),
                    script: script.name.as_str().to_owned(),
                    reason: reason.to_owned(),
                });
            }
        }
    }
    let scripts = package
        .scripts
        .iter()
        .zip(&reports)
        .map(|(script, report)| {
            let (run, why) = if script.name == ScriptName::Config {
                (false, "debconf's `config` script is not run by pkgward".to_owned())
            } else if let Some(reason) = unsupported_script_reason(script.name) {
                (false, reason.to_owned())
            } else {
                match report.classification {
                    Classification::FullyDeclarative => (
                        false,
                        "fully declarative: pkgward performs its actions itself".to_owned(),
                    ),
                    Classification::DeclarativeWithResidue => (
                        allowed,
                        format!(
                            "{} residue command{} run in the sandbox",
                            report.residue.len(),
                            if report.residue.len() == 1 { "" } else { "s" }
                        ),
                    ),
                    Classification::NeedsUnconfined => (
                        allowed,
                        "needs privileges the sandbox does not give; runs in the sandbox anyway (unconfined execution is not implemented)".to_owned(),
                    ),
                }
            };
            let mut residue: Vec<String> = report
                .residue
                .iter()
                .take(RESIDUE_LINES_SHOWN)
                .map(|residue| format!("line {}: {}: {}", residue.line, residue.category, residue.text))
                .collect();
            if report.residue.len() > RESIDUE_LINES_SHOWN {
                residue.push(format!("… {} more", report.residue.len() - RESIDUE_LINES_SHOWN));
            }
            // What runs is the script without its fully translated blocks;
            // a script with no residue runs not at all, so nothing to show.
            let neutralised = if run && !report.residue.is_empty() {
                script_to_run(&package.name, script.name.as_str(), &script.bytes).neutralised
            } else {
                Vec::new()
            };
            PlannedScript {
                name: script.name.as_str().to_owned(),
                interpreter: script.interpreter.clone(),
                classification: format!("{:?}", report.classification),
                run,
                why,
                residue,
                neutralised,
                content: PlannedScript::encode(&script.bytes),
            }
        })
        .collect::<Vec<_>>();
    let writable_paths = if scripts.iter().any(|script| script.run) {
        writable_paths(package, repo, judge, directories)
    } else {
        Vec::new()
    };
    ScriptsPlan {
        scripts,
        writable_paths,
        decision: Some(decision),
        problems,
    }
}

/// Whether the final component of `directory` names the package.
fn names_package(directory: &str, name: &str) -> bool {
    let last = directory.rsplit('/').next().unwrap_or_default();
    last == name
        || last
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with(['.', '-', '_']))
}

/// The writable paths rule (module docs).
fn writable_paths(
    package: &Package,
    repo: &str,
    judge: &dyn Judge,
    directories: &BTreeSet<String>,
) -> Vec<String> {
    let name = &package.name;
    let mut candidates: BTreeSet<String> = directories
        .iter()
        .filter(|directory| names_package(directory, name))
        .cloned()
        .collect();
    for base in ["/var/lib", "/var/cache", "/var/log", "/run"] {
        candidates.insert(format!("{base}/{name}"));
    }
    let granted: Vec<String> = candidates
        .into_iter()
        .filter(|directory| {
            let probe = format!("{directory}/pkgward-script-write");
            judge.place(package, repo, &probe, EntryKind::File).verdict == "allow"
        })
        .collect();
    // A directory beneath another writable one adds nothing.
    granted
        .iter()
        .filter(|directory| {
            !granted
                .iter()
                .any(|other| other != *directory && directory.starts_with(&format!("{other}/")))
        })
        .cloned()
        .collect()
}

/// Every directory `package` places, or places an entry into, by resolved path.
pub fn package_directories<'a>(
    placements: impl Iterator<Item = (&'a str, EntryKind)>,
) -> BTreeSet<String> {
    let mut directories = BTreeSet::new();
    for (path, kind) in placements {
        if kind == EntryKind::Dir {
            directories.insert(path.to_owned());
        }
        if let Some((parent, _)) = path.rsplit_once('/') {
            if !parent.is_empty() {
                directories.insert(parent.to_owned());
            }
        }
    }
    directories
}

/// The shim requests of a run that the script's own declarative actions do
/// not cover: each request line is classified like a one-line script (by
/// the same `classify_script`); it is covered when that yields no residue
/// and only actions the whole script already derives (pkgward performs
/// those itself) — or none at all (queries such as `was-enabled`).
pub fn uncovered_requests(
    package: &str,
    script_name: &str,
    script: &[u8],
    requests: &[String],
) -> Vec<String> {
    let context = ScriptContext {
        package: package.to_owned(),
    };
    let derived = classify_script(script_name, script, &context).actions;
    requests
        .iter()
        .filter(|request| {
            let report = classify_script(script_name, request.as_bytes(), &context);
            report.classification != Classification::FullyDeclarative
                || report
                    .actions
                    .iter()
                    .any(|action| !derived.contains(action))
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_named_directories() {
        assert!(names_package("/etc/foo", "foo"));
        assert!(names_package("/etc/foo.d", "foo"));
        assert!(names_package("/usr/share/foo-data", "foo"));
        assert!(!names_package("/usr/share/foobar", "foo"));
        assert!(!names_package("/usr/bin", "foo"));
    }

    #[test]
    fn directories_include_parents_of_files() {
        let directories = package_directories(
            [
                ("/usr/bin/foo", EntryKind::File),
                ("/etc/foo", EntryKind::Dir),
            ]
            .into_iter(),
        );
        assert_eq!(
            directories.into_iter().collect::<Vec<_>>(),
            ["/etc", "/etc/foo", "/usr/bin"]
        );
    }

    /// A postinst with a residue line, a fully translated systemd block and a
    /// block with residue.
    const POSTINST: &str = "#!/bin/sh\nset -e\necho ready > /var/lib/foo/state\n# Automatically added by dh_installsystemd/13.11.4\nif [ \"$1\" = \"configure\" ]; then\n\tmkdir -p /etc/systemd/x\n\tdeb-systemd-helper unmask 'foo.service' >/dev/null || true\nfi\n# End automatically added section\n# Automatically added by dh_python3\nfrobnicate --now\n# End automatically added section\necho done\n";

    fn report_of(script: &str) -> ScriptReport {
        let context = ScriptContext {
            package: "foo".to_owned(),
        };
        classify_script("postinst", script.as_bytes(), &context)
    }

    #[test]
    fn fully_translated_block_is_blanked_and_residue_block_kept() {
        let report = report_of(POSTINST);
        assert_eq!(report.debhelper_blocks.len(), 2, "{report:?}");
        let to_run = script_to_run("foo", "postinst", POSTINST.as_bytes());
        assert_eq!(
            to_run.neutralised,
            [NeutralisedBlock {
                tool: "dh_installsystemd".to_owned(),
                first_line: 4,
                last_line: 9
            }]
        );
        let text = String::from_utf8(to_run.bytes).unwrap();
        assert_eq!(
            text,
            "#!/bin/sh\nset -e\necho ready > /var/lib/foo/state\n# Automatically added by dh_installsystemd/13.11.4\n:\n\n\n\n# End automatically added section\n# Automatically added by dh_python3\nfrobnicate --now\n# End automatically added section\necho done\n"
        );
        // Line numbers are stable: same line count, residue at the same lines.
        assert_eq!(text.lines().count(), POSTINST.lines().count());
        assert_eq!(report_of(&text).residue, report.residue);
    }

    #[test]
    fn line_endings_and_lines_outside_blocks_stay_byte_for_byte() {
        let script = POSTINST.replace('\n', "\r\n");
        let to_run = script_to_run("foo", "postinst", script.as_bytes());
        assert_eq!(to_run.neutralised.len(), 1);
        let text = String::from_utf8(to_run.bytes).unwrap();
        assert!(text.starts_with("#!/bin/sh\r\nset -e\r\necho ready > /var/lib/foo/state\r\n# Automatically added by dh_installsystemd/13.11.4\r\n:\r\n\r\n\r\n\r\n# End"), "{text:?}");
        assert!(text
            .ends_with("frobnicate --now\r\n# End automatically added section\r\necho done\r\n"));
    }

    #[test]
    fn nested_or_unterminated_markers_keep_blocks_whole() {
        let nested = POSTINST.replace(
            "\tmkdir -p /etc/systemd/x\n",
            "# Automatically added by dh_installinit\n\tmkdir -p /etc/systemd/x\n# End automatically added section\n",
        );
        let to_run = script_to_run("foo", "postinst", nested.as_bytes());
        assert!(to_run.neutralised.is_empty(), "{:?}", to_run.neutralised);
        assert_eq!(to_run.bytes, nested.as_bytes());
        let unterminated = "#!/bin/sh\necho ready > /var/lib/foo/state\n# Automatically added by dh_installsystemd\nmkdir -p /etc/systemd/x\n";
        let to_run = script_to_run("foo", "postinst", unterminated.as_bytes());
        assert!(to_run.neutralised.is_empty());
        assert_eq!(to_run.bytes, unterminated.as_bytes());
    }

    #[test]
    fn blocks_that_could_affect_the_rest_of_the_script_run_whole() {
        for line in [
            "[ -x /usr/bin/foo ] || exit 0",
            "set +e",
            "FOO=bar",
            "helper() { :; }",
            ". /usr/share/debconf/confmodule",
        ] {
            assert!(affects_rest_of_script(line), "`{line}`");
            let script = POSTINST.replace("\tmkdir -p /etc/systemd/x\n", &format!("\t{line}\n"));
            let to_run = script_to_run("foo", "postinst", script.as_bytes());
            assert!(
                to_run.neutralised.is_empty(),
                "`{line}`: {:?}",
                to_run.neutralised
            );
            assert_eq!(to_run.bytes, script.as_bytes());
        }
        // Ordinary translated commands do not.
        assert!(!affects_rest_of_script(
            "\tsystemd-tmpfiles ${DPKG_ROOT:+--root=\"$DPKG_ROOT\"} --create foo.conf || true"
        ));
        assert!(!affects_rest_of_script(
            "if [ \"$1\" = \"configure\" ]; then"
        ));
        assert!(!affects_rest_of_script("\t\t_dh_action=restart"));
    }

    #[test]
    fn a_declarative_script_has_nothing_to_neutralise_in_the_plan_sense() {
        // Without residue the script is not run at all; the transform still
        // blanks its blocks but plan_scripts shows none (not run).
        let script = "#!/bin/sh\n# Automatically added by dh_installsystemd\ndeb-systemd-helper unmask foo.service\n# End automatically added section\n";
        let to_run = script_to_run("foo", "postinst", script.as_bytes());
        assert_eq!(to_run.neutralised.len(), 1);
        assert_eq!(
            String::from_utf8(to_run.bytes).unwrap(),
            "#!/bin/sh\n# Automatically added by dh_installsystemd\n:\n# End automatically added section\n"
        );
    }

    #[test]
    fn requests_the_script_declares_are_covered_others_are_not() {
        let script = b"#!/bin/sh\nset -e\ndeb-systemd-helper unmask foo.service\nif deb-systemd-helper --quiet was-enabled foo.service; then deb-systemd-helper enable foo.service; fi\nfrobnicate\n";
        let requests = vec![
            "deb-systemd-helper unmask foo.service".to_owned(),
            "deb-systemd-helper --quiet was-enabled foo.service".to_owned(),
            "systemctl start bar.service".to_owned(),
            "adduser --system baz".to_owned(),
        ];
        let uncovered = uncovered_requests("foo", "postinst", script, &requests);
        assert_eq!(
            uncovered,
            ["systemctl start bar.service", "adduser --system baz"]
        );
    }
}
