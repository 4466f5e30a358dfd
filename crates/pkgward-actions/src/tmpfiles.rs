//! `tmpfiles.d` create-type lines: parse, check paths, owners and modes
//! against the package's grants, and plan the filesystem actions the engine
//! performs at install (instead of running `systemd-tmpfiles --create`).
//!
//! Line format (tmpfiles.d(5)): `Type Path Mode User Group Age Argument`,
//! `-` for defaults; the type may carry the modifiers `!` (boot only), `-`
//! (ignore errors), `=`, `~` (base64 argument), `^` (credential) and `+`
//! (replace/append). Paths may be double-quoted. Refused shapes include
//! `Z / 0777` (recursive chmod of the whole root), `R /`, device nodes
//! without a grant, setuid modes, world-writable directories without the
//! sticky bit, and any path outside the package's grants (THREATS 32).

use crate::refusal::Refusal;
use crate::sysusers::split_quoted_words;
use serde::Serialize;
use std::collections::BTreeSet;

/// The line types pkgward understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TmpfilesType {
    /// `f` / `f+` (truncate).
    File,
    /// `w` / `w+` (append).
    Write,
    /// `d`.
    Directory,
    /// `D` (contents removed at boot / `--remove`).
    DirectoryVolatile,
    /// `e`: adjust an existing directory.
    AdjustDirectory,
    /// `v`, `q`, `Q`: subvolume (a directory on non-btrfs).
    Subvolume,
    /// `p` / `p+`.
    Fifo,
    /// `L` / `L+`.
    Symlink,
    /// `c` / `c+`.
    CharacterDevice,
    /// `b` / `b+`.
    BlockDevice,
    /// `C` / `C+`.
    Copy,
    /// `x`.
    Exclude,
    /// `X`.
    ExcludeOnly,
    /// `r`.
    Remove,
    /// `R`.
    RemoveRecursive,
    /// `z`.
    AdjustMode,
    /// `Z`.
    AdjustModeRecursive,
    /// `t` / `T`: extended attributes.
    Xattr { recursive: bool },
    /// `h` / `H`: file attributes (chattr).
    Attributes { recursive: bool },
    /// `a` / `A`: ACLs.
    Acl { recursive: bool },
}

impl TmpfilesType {
    fn from_letter(letter: char) -> Option<Self> {
        Some(match letter {
            'f' => Self::File,
            'w' => Self::Write,
            'd' => Self::Directory,
            'D' => Self::DirectoryVolatile,
            'e' => Self::AdjustDirectory,
            'v' | 'q' | 'Q' => Self::Subvolume,
            'p' => Self::Fifo,
            'L' => Self::Symlink,
            'c' => Self::CharacterDevice,
            'b' => Self::BlockDevice,
            'C' => Self::Copy,
            'x' => Self::Exclude,
            'X' => Self::ExcludeOnly,
            'r' => Self::Remove,
            'R' => Self::RemoveRecursive,
            'z' => Self::AdjustMode,
            'Z' => Self::AdjustModeRecursive,
            't' => Self::Xattr { recursive: false },
            'T' => Self::Xattr { recursive: true },
            'h' => Self::Attributes { recursive: false },
            'H' => Self::Attributes { recursive: true },
            'a' => Self::Acl { recursive: false },
            'A' => Self::Acl { recursive: true },
            _ => return None,
        })
    }

    fn recursive(self) -> bool {
        matches!(
            self,
            Self::RemoveRecursive
                | Self::AdjustModeRecursive
                | Self::Xattr { recursive: true }
                | Self::Attributes { recursive: true }
                | Self::Acl { recursive: true }
        )
    }
}

/// A mode field: octal bits, `~` (masked by existing bits), `:` (only
/// applied on creation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TmpfilesMode {
    pub bits: u32,
    pub masked: bool,
    pub only_on_create: bool,
}

/// One parsed line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TmpfilesEntry {
    pub line: usize,
    /// The type letter as written, with modifiers (`r!`, `L+`).
    pub directive: String,
    pub kind: TmpfilesType,
    /// `+`: replace (L, p, c, b, C), truncate (f), append (w).
    pub plus: bool,
    /// `!`: only at boot.
    pub boot_only: bool,
    /// `-`: errors ignored.
    pub ignore_errors: bool,
    pub path: String,
    pub mode: Option<TmpfilesMode>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub age: Option<String>,
    pub argument: Option<String>,
}

/// A syntax error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{file}` line {line}: {reason}")]
pub struct TmpfilesParseError {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

fn dash(field: Option<&String>) -> Option<String> {
    field.filter(|value| value.as_str() != "-").cloned()
}

fn expand_path_specifiers(path: &str) -> Result<String, String> {
    // Only `%%` is static; `%h`, `%t`, `%m`, `%b` … depend on the host or user.
    let mut out = String::new();
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.next() {
                Some('%') => out.push('%'),
                Some(other) => {
                    return Err(format!(
                        "specifier `%{other}` is not supported: it depends on the host"
                    ))
                }
                None => return Err("lone `%` at the end of the path".to_owned()),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Parses a tmpfiles.d file.
pub fn parse_tmpfiles(file: &str, text: &str) -> Result<Vec<TmpfilesEntry>, TmpfilesParseError> {
    let mut entries = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let error = |reason: String| TmpfilesParseError {
            file: file.to_owned(),
            line,
            reason,
        };
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        // The argument is the rest of the line after six fields: split the
        // first six words, keep the remainder verbatim.
        let (words, argument) = split_fields(trimmed, 6).map_err(&error)?;
        if words.len() < 2 {
            return Err(error("a type and a path are required".to_owned()));
        }
        let directive = words[0].clone();
        let mut letters = directive.chars();
        let letter = letters.next().unwrap_or(' ');
        let kind = TmpfilesType::from_letter(letter).ok_or_else(|| {
            error(format!(
                "unknown line type `{}`",
                directive.escape_default()
            ))
        })?;
        let mut plus = false;
        let mut boot_only = false;
        let mut ignore_errors = false;
        for modifier in letters {
            match modifier {
                '+' => plus = true,
                '!' => boot_only = true,
                '-' => ignore_errors = true,
                '=' => {}
                '~' | '^' => {
                    return Err(error(format!(
                        "modifier `{modifier}` (encoded or credential argument) is not supported"
                    )))
                }
                other => {
                    return Err(error(format!(
                        "unknown modifier `{other}` in `{directive}`"
                    )))
                }
            }
        }
        let path = expand_path_specifiers(&words[1]).map_err(&error)?;
        if !path.starts_with('/') {
            return Err(error(format!("path `{path}` is not absolute")));
        }
        if path.split('/').any(|component| component == "..") || path.contains(['\n', '\0']) {
            return Err(error(format!(
                "path `{}` is not normalised",
                path.escape_default()
            )));
        }
        let mode = match dash(words.get(2)) {
            None => None,
            Some(text) => {
                let mut rest = text.as_str();
                let mut masked = false;
                let mut only_on_create = false;
                loop {
                    if let Some(tail) = rest.strip_prefix('~') {
                        masked = true;
                        rest = tail;
                    } else if let Some(tail) = rest.strip_prefix(':') {
                        only_on_create = true;
                        rest = tail;
                    } else {
                        break;
                    }
                }
                let bits = u32::from_str_radix(rest, 8)
                    .ok()
                    .filter(|bits| *bits <= 0o7777)
                    .ok_or_else(|| error(format!("mode `{text}` is not an octal mode")))?;
                Some(TmpfilesMode {
                    bits,
                    masked,
                    only_on_create,
                })
            }
        };
        entries.push(TmpfilesEntry {
            line,
            directive,
            kind,
            plus,
            boot_only,
            ignore_errors,
            path,
            mode,
            user: dash(words.get(3)).map(|user| user.trim_start_matches(':').to_owned()),
            group: dash(words.get(4)).map(|group| group.trim_start_matches(':').to_owned()),
            age: dash(words.get(5)),
            argument: argument.filter(|argument| argument != "-"),
        });
    }
    Ok(entries)
}

/// What a package may do through tmpfiles.d (from its grants).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TmpfilesGrant {
    /// Path globs the package may create or modify (`/run/demo`,
    /// `/var/lib/demo/**`; `*` stays within a component, `**` crosses).
    pub paths: Vec<String>,
    /// Owners it may give (besides `root`).
    pub users: BTreeSet<String>,
    pub groups: BTreeSet<String>,
    /// Character/block device nodes.
    pub device_nodes: bool,
    /// setuid/setgid bits.
    pub setuid: bool,
}

/// Glob match with `*` (within a component), `?` and `**` (any depth,
/// including none: `/var/lib/demo/**` also covers `/var/lib/demo`).
pub fn path_glob_match(pattern: &str, path: &str) -> bool {
    fn matches(pattern: &[u8], text: &[u8]) -> bool {
        match pattern {
            [] => text.is_empty(),
            [b'/', b'*', b'*'] => text.is_empty() || text.first() == Some(&b'/'),
            [b'*', b'*', rest @ ..] => (0..=text.len()).any(|skip| matches(rest, &text[skip..])),
            [b'*', rest @ ..] => (0..=text.len())
                .take_while(|skip| *skip == 0 || text[skip - 1] != b'/')
                .any(|skip| matches(rest, &text[skip..])),
            [b'?', rest @ ..] => {
                text.first().is_some_and(|c| *c != b'/') && matches(rest, &text[1..])
            }
            [c, rest @ ..] => text.first() == Some(c) && matches(rest, &text[1..]),
        }
    }
    matches(pattern.as_bytes(), path.as_bytes())
}

/// Splits the first `count` whitespace-separated fields (double or single
/// quotes group, backslash escapes) and returns the rest of the line
/// verbatim, as tmpfiles.d does for the argument field.
fn split_fields(line: &str, count: usize) -> Result<(Vec<String>, Option<String>), String> {
    let mut fields = Vec::new();
    let mut rest = line.trim_start();
    while fields.len() < count && !rest.is_empty() {
        let mut end = rest.len();
        let mut quote: Option<char> = None;
        let mut escaped = false;
        for (index, c) in rest.char_indices() {
            if escaped {
                escaped = false;
                continue;
            }
            match (quote, c) {
                (_, '\\') => escaped = true,
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, c) if c.is_whitespace() => {
                    end = index;
                    break;
                }
                _ => {}
            }
        }
        if quote.is_some() {
            return Err("unterminated quote".to_owned());
        }
        let word = split_quoted_words(&rest[..end])?
            .into_iter()
            .next()
            .unwrap_or_default();
        fields.push(word);
        rest = rest[end..].trim_start();
    }
    let argument = (!rest.is_empty()).then(|| rest.to_owned());
    Ok((fields, argument))
}

fn path_granted(grant: &TmpfilesGrant, path: &str) -> bool {
    grant
        .paths
        .iter()
        .any(|pattern| path_glob_match(pattern, path))
}

/// Checks parsed lines against the grant; returns every refusal.
pub fn check_tmpfiles(
    file: &str,
    entries: &[TmpfilesEntry],
    grant: &TmpfilesGrant,
) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    for entry in entries {
        let directive = entry.directive.as_str();
        let refuse = |reason: String| Refusal::new(file, entry.line, directive, reason);
        if matches!(
            entry.kind,
            TmpfilesType::Exclude | TmpfilesType::ExcludeOnly
        ) {
            // Excluding from cleanup only prevents deletion.
            continue;
        }
        if entry.path == "/" || entry.path.trim_end_matches('/').is_empty() {
            refusals.push(refuse(format!(
                "`{directive}` on `/` would {} the whole root",
                if entry.kind.recursive() {
                    "recursively change"
                } else {
                    "change"
                }
            )));
            continue;
        }
        if !path_granted(grant, &entry.path) {
            refusals.push(
                refuse(format!(
                    "path `{}` is outside the package's grants",
                    entry.path
                ))
                .with_hint(format!("grant `paths = [\"{}\"]`", entry.path)),
            );
        }
        if matches!(
            entry.kind,
            TmpfilesType::CharacterDevice | TmpfilesType::BlockDevice
        ) && !grant.device_nodes
        {
            refusals.push(refuse(format!(
                "device node `{}` needs a `device_nodes` grant",
                entry.path
            )));
        }
        if let Some(mode) = entry.mode {
            if mode.bits & 0o6000 != 0 && !grant.setuid {
                refusals.push(
                    refuse(format!(
                        "mode {:04o} sets setuid/setgid on `{}`",
                        mode.bits, entry.path
                    ))
                    .with_hint("grant `setuid` for this path"),
                );
            }
            if mode.bits & 0o002 != 0 && mode.bits & 0o1000 == 0 {
                refusals.push(refuse(format!(
                    "mode {:04o} makes `{}` world-writable without the sticky bit",
                    mode.bits, entry.path
                )));
            }
        }
        if let Some(user) = &entry.user {
            if user != "root" && user != "0" && !grant.users.contains(user) {
                refusals.push(refuse(format!(
                    "owner `{user}` is not granted to this package"
                )));
            }
        }
        if let Some(group) = &entry.group {
            if group != "root" && group != "0" && !grant.groups.contains(group) {
                refusals.push(refuse(format!(
                    "group `{group}` is not granted to this package"
                )));
            }
        }
        if entry.kind == TmpfilesType::Copy {
            if let Some(source) = &entry.argument {
                if !source.starts_with('/') {
                    refusals.push(refuse(format!("copy source `{source}` is not absolute")));
                }
            }
        }
    }
    refusals
}

/// A filesystem action the engine performs for a tmpfiles line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum TmpfilesAction {
    CreateDirectory {
        path: String,
        mode: u32,
        user: String,
        group: String,
        /// `D`: contents are removed at boot.
        volatile: bool,
        cleanup_age: Option<String>,
    },
    CreateFile {
        path: String,
        mode: u32,
        user: String,
        group: String,
        content: Option<String>,
        truncate: bool,
    },
    WriteFile {
        path: String,
        content: String,
        append: bool,
    },
    CreateFifo {
        path: String,
        mode: u32,
        user: String,
        group: String,
        replace: bool,
    },
    CreateSymlink {
        path: String,
        target: String,
        replace: bool,
    },
    CreateDeviceNode {
        path: String,
        block: bool,
        major: u32,
        minor: u32,
        mode: u32,
        user: String,
        group: String,
        replace: bool,
    },
    Copy {
        path: String,
        source: String,
        replace: bool,
    },
    AdjustOwnership {
        path: String,
        mode: Option<u32>,
        user: Option<String>,
        group: Option<String>,
        recursive: bool,
    },
    Remove {
        path: String,
        recursive: bool,
    },
    ExcludeFromCleanup {
        path: String,
    },
    /// `t`, `h`, `a` and their recursive forms: carried as written.
    SetMetadata {
        directive: String,
        path: String,
        argument: Option<String>,
    },
}

/// Plans what `systemd-tmpfiles --create` (what `dh_installtmpfiles` runs at
/// install) does for lines that passed [`check_tmpfiles`]: boot-only (`!`)
/// lines, `r`/`R` (removal happens with `--remove`) and `x`/`X` (cleanup
/// exclusions) produce nothing. Defaults follow tmpfiles.d(5): directories
/// 0755, files 0644, owner root. Action semantics, as the engine applies
/// them (and the conformance test checks against `systemd-tmpfiles --root`):
/// - `CreateDirectory`: created if missing; mode and owner set either way;
/// - `CreateFile`: created with `content` (no newline added) if missing, or
///   rewritten when `truncate`; mode and owner set either way;
/// - `WriteFile`: written (or appended) only if the file exists;
/// - `CreateSymlink`: created if missing, or replaced when `replace`;
/// - `AdjustOwnership`: applied to existing paths only (`e`, `z`, `Z`).
pub fn plan_tmpfiles(entries: &[TmpfilesEntry]) -> Result<Vec<TmpfilesAction>, TmpfilesParseError> {
    let mut actions = Vec::new();
    for entry in entries {
        if entry.boot_only
            || matches!(
                entry.kind,
                TmpfilesType::Remove
                    | TmpfilesType::RemoveRecursive
                    | TmpfilesType::Exclude
                    | TmpfilesType::ExcludeOnly
            )
        {
            continue;
        }
        let user = entry.user.clone().unwrap_or_else(|| "root".to_owned());
        let group = entry.group.clone().unwrap_or_else(|| "root".to_owned());
        let mode_or = |default: u32| entry.mode.map_or(default, |mode| mode.bits);
        let path = entry.path.clone();
        let action = match entry.kind {
            TmpfilesType::Directory | TmpfilesType::DirectoryVolatile | TmpfilesType::Subvolume => {
                TmpfilesAction::CreateDirectory {
                    path,
                    mode: mode_or(0o755),
                    user,
                    group,
                    volatile: entry.kind == TmpfilesType::DirectoryVolatile,
                    cleanup_age: entry.age.clone(),
                }
            }
            TmpfilesType::File => TmpfilesAction::CreateFile {
                path,
                mode: mode_or(0o644),
                user,
                group,
                content: entry.argument.clone(),
                truncate: entry.plus,
            },
            TmpfilesType::Write => TmpfilesAction::WriteFile {
                path,
                content: entry.argument.clone().unwrap_or_default(),
                append: entry.plus,
            },
            TmpfilesType::Fifo => TmpfilesAction::CreateFifo {
                path,
                mode: mode_or(0o644),
                user,
                group,
                replace: entry.plus,
            },
            TmpfilesType::Symlink => TmpfilesAction::CreateSymlink {
                // Without an argument the target is the same path under
                // /usr/share/factory (tmpfiles.d(5)).
                target: entry
                    .argument
                    .clone()
                    .unwrap_or_else(|| format!("/usr/share/factory{path}")),
                path,
                replace: entry.plus,
            },
            TmpfilesType::CharacterDevice | TmpfilesType::BlockDevice => {
                let argument = entry.argument.clone().unwrap_or_default();
                let (major, minor) = argument
                    .split_once(':')
                    .and_then(|(major, minor)| Some((major.parse().ok()?, minor.parse().ok()?)))
                    .ok_or_else(|| TmpfilesParseError {
                        file: String::new(),
                        line: entry.line,
                        reason: format!("device argument `{argument}` is not `major:minor`"),
                    })?;
                TmpfilesAction::CreateDeviceNode {
                    path,
                    block: entry.kind == TmpfilesType::BlockDevice,
                    major,
                    minor,
                    mode: mode_or(0o644),
                    user,
                    group,
                    replace: entry.plus,
                }
            }
            TmpfilesType::Copy => TmpfilesAction::Copy {
                source: entry
                    .argument
                    .clone()
                    .unwrap_or_else(|| format!("/usr/share/factory{path}")),
                path,
                replace: entry.plus,
            },
            TmpfilesType::AdjustMode
            | TmpfilesType::AdjustModeRecursive
            | TmpfilesType::AdjustDirectory => TmpfilesAction::AdjustOwnership {
                path,
                mode: entry.mode.map(|mode| mode.bits),
                user: entry.user.clone(),
                group: entry.group.clone(),
                recursive: entry.kind == TmpfilesType::AdjustModeRecursive,
            },
            TmpfilesType::Remove | TmpfilesType::RemoveRecursive => TmpfilesAction::Remove {
                path,
                recursive: entry.kind == TmpfilesType::RemoveRecursive,
            },
            TmpfilesType::Exclude | TmpfilesType::ExcludeOnly => {
                TmpfilesAction::ExcludeFromCleanup { path }
            }
            TmpfilesType::Xattr { .. }
            | TmpfilesType::Attributes { .. }
            | TmpfilesType::Acl { .. } => TmpfilesAction::SetMetadata {
                directive: entry.directive.clone(),
                path,
                argument: entry.argument.clone(),
            },
        };
        actions.push(action);
    }
    Ok(actions)
}
