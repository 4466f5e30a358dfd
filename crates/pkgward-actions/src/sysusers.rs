//! `sysusers.d` (systemd-sysusers configuration): parse, check against the
//! package's account grants, and plan the edit of `passwd`, `group`, `shadow`
//! and `gshadow` as plain bytes the engine writes later (atomically, under
//! `/etc/.pwd.lock`).
//!
//! The edit plan reproduces what `systemd-sysusers --root R` (systemd 252, the
//! Debian 12 build) writes for the same input — the conformance test in
//! `tests/sysusers_conformance.rs` runs both and compares the four files. The
//! id allocation follows sysusers' algorithm (see `docs/script-translation.md`
//! and [`plan_account_edit`]): groups are processed first, then users; one
//! shared search counter walks *downwards* from the top of the allocation
//! ranges (`r` lines, or `1..=SYS_UID_MAX` when there are none) and a new
//! user's uid prefers the gid of its same-named group.
//!
//! Deliberate differences from sysusers, all in the direction of refusing:
//! a fixed uid/gid that is already taken is an error here (sysusers silently
//! allocates another one, which lets a package believe it got uid N), and
//! existing lines are kept byte for byte (sysusers re-serialises them through
//! `putpwent`, which only differs for malformed or NIS `+`/`-` lines).

use crate::refusal::Refusal;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The longest user/group name accepted, as sysusers enforces for utmp
/// compatibility (`UT_NAMESIZE - 1`).
pub const MAX_NAME_LEN: usize = 31;

/// Groups whose membership gives root-equivalent or sensitive powers; a
/// package may put its users into them only with an explicit grant.
pub const PRIVILEGED_GROUPS: &[&str] = &[
    "root",
    "sudo",
    "wheel",
    "admin",
    "adm",
    "shadow",
    "disk",
    "kmem",
    "tty",
    "utmp",
    "staff",
    "systemd-journal",
    "docker",
    "lxd",
    "libvirt",
    "input",
];

/// Shells that do not allow an interactive login.
pub const NOLOGIN_SHELLS: &[&str] = &[
    "/usr/sbin/nologin",
    "/sbin/nologin",
    "/bin/false",
    "/usr/bin/false",
];

/// How the id field of a `u` line names the user's primary group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum PrimaryGroup {
    /// No group given: a group with the user's name (created if missing).
    SameName,
    /// `uid:gid` — the group with this gid must already exist (or be created by a `g` line).
    Gid(u32),
    /// `uid:name` — the group with this name must exist or be created by a `g` line.
    Name(String),
}

/// One parsed `sysusers.d` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum SysusersKind {
    /// `u` / `u!`: create a system user (and its group).
    User {
        name: String,
        uid: Option<u32>,
        primary_group: PrimaryGroup,
        gecos: Option<String>,
        home: Option<String>,
        shell: Option<String>,
        /// `u!` (systemd 257): the account is created fully locked (expired).
        locked: bool,
    },
    /// `g`: create a system group.
    Group { name: String, gid: Option<u32> },
    /// `m user group`: add a user to a group (creating either if missing).
    Member { user: String, group: String },
    /// `r - lo-hi`: restrict the id allocation range.
    Range { min: u32, max: u32 },
}

/// A parsed line with its position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SysusersEntry {
    pub line: usize,
    pub kind: SysusersKind,
}

/// A line that is not valid `sysusers.d` syntax (or uses a feature that
/// pkgward does not accept, like host-dependent specifiers).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{file}` line {line}: {reason}")]
pub struct SysusersParseError {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

/// Splits a line into words the way systemd's `extract_first_word` with
/// `EXTRACT_UNQUOTE` does: whitespace separates, single and double quotes
/// group, a backslash takes the next character literally.
pub(crate) fn split_quoted_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(words);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(&c) = chars.peek() {
            match (quote, c) {
                (None, c) if c.is_whitespace() => break,
                (None, '"' | '\'') => {
                    quote = Some(c);
                    chars.next();
                }
                (Some(q), c) if c == q => {
                    quote = None;
                    chars.next();
                }
                (_, '\\') => {
                    chars.next();
                    match chars.next() {
                        Some(escaped) => word.push(escaped),
                        None => return Err("trailing backslash".to_owned()),
                    }
                }
                (_, c) => {
                    word.push(c);
                    chars.next();
                }
            }
        }
        if let Some(q) = quote {
            return Err(format!("unterminated {q} quote"));
        }
        words.push(word);
    }
}

/// Expands the specifiers pkgward supports in sysusers fields. Only `%%` is
/// accepted: every other specifier (`%m`, `%H`, `%b`, …) depends on the host
/// the file is applied on, which would make the check and the result differ.
fn expand_specifiers(field: &str) -> Result<String, String> {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.next() {
                Some('%') => out.push('%'),
                Some(other) => {
                    return Err(format!(
                        "specifier `%{other}` is not supported: it depends on the host"
                    ))
                }
                None => return Err("lone `%` at the end of a field".to_owned()),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// systemd's strict `valid_user_group_name`: `[a-zA-Z_][a-zA-Z0-9_-]*`, at
/// most 31 bytes. This rejects `0day`, `+`, `a:b`, a leading `-` and names
/// with whitespace or control characters — the classic passwd-injection
/// shapes (CVE-2017-1000082 was a user name starting with a digit being
/// taken for a uid).
pub fn validate_account_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty name".to_owned());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "name `{}` is longer than {MAX_NAME_LEN} bytes",
            name.escape_default()
        ));
    }
    let mut chars = name.chars();
    let first = chars.next().unwrap_or('_');
    if !(first.is_ascii_alphabetic() || first == '_') {
        return Err(format!(
            "name `{}` must start with a letter or `_`",
            name.escape_default()
        ));
    }
    if let Some(bad) = chars.find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-')) {
        return Err(format!(
            "name `{}` contains `{}`; only letters, digits, `_` and `-` are allowed",
            name.escape_default(),
            bad.escape_default()
        ));
    }
    Ok(())
}

fn validate_passwd_field(what: &str, value: &str) -> Result<(), String> {
    if let Some(bad) = value.chars().find(|c| *c == ':' || c.is_control()) {
        return Err(format!(
            "{what} `{}` contains `{}`, which would corrupt the passwd line",
            value.escape_default(),
            bad.escape_default()
        ));
    }
    Ok(())
}

fn validate_absolute_path(what: &str, value: &str) -> Result<(), String> {
    validate_passwd_field(what, value)?;
    if !value.starts_with('/') {
        return Err(format!("{what} `{value}` is not an absolute path"));
    }
    if value
        .split('/')
        .skip(1)
        .any(|component| component == "." || component == "..")
        || (value.len() > 1 && (value.ends_with('/') || value.contains("//")))
    {
        return Err(format!("{what} `{value}` is not a normalised path"));
    }
    Ok(())
}

fn parse_id(text: &str) -> Result<u32, String> {
    // systemd's parse_uid rejects signs, leading whitespace and the values
    // 0xFFFF / 0xFFFFFFFF (the 16-bit and 32-bit "invalid" uids).
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` is not a numeric id"));
    }
    let value: u32 = text
        .parse()
        .map_err(|_| format!("id `{text}` is out of range"))?;
    if value == 0xFFFF || value == u32::MAX {
        return Err(format!("id `{text}` is reserved as invalid"));
    }
    Ok(value)
}

fn optional(field: Option<&String>) -> Option<&str> {
    match field.map(String::as_str) {
        None | Some("-") => None,
        Some(value) => Some(value),
    }
}

/// Parses a whole `sysusers.d` file. Comments (`#`) and blank lines are
/// skipped; every other line must be one of `u`, `u!`, `g`, `m`, `r`.
pub fn parse_sysusers(file: &str, text: &str) -> Result<Vec<SysusersEntry>, SysusersParseError> {
    let mut entries = Vec::new();
    for (index, raw_line) in text.lines().enumerate() {
        let line = index + 1;
        let error = |reason: String| SysusersParseError {
            file: file.to_owned(),
            line,
            reason,
        };
        let trimmed = raw_line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let words = split_quoted_words(trimmed).map_err(&error)?;
        if words.len() > 6 {
            return Err(error(format!(
                "{} fields, at most 6 are allowed (type, name, id, GECOS, home, shell)",
                words.len()
            )));
        }
        let expanded: Vec<String> = words
            .iter()
            .map(|word| expand_specifiers(word))
            .collect::<Result<_, _>>()
            .map_err(&error)?;
        let kind_word = expanded[0].as_str();
        let name = expanded.get(1);
        let id = optional(expanded.get(2));
        let kind = match kind_word {
            "u" | "u!" => {
                let name = name.ok_or_else(|| error("`u` line without a name".to_owned()))?;
                validate_account_name(name).map_err(&error)?;
                let (uid, primary_group) = match id {
                    None => (None, PrimaryGroup::SameName),
                    Some(id) if id.starts_with('/') => {
                        return Err(error(format!(
                            "id `{id}` taken from a file's owner is not supported: the result would depend on the host"
                        )))
                    }
                    Some(id) => {
                        let (uid_text, group_text) = match id.split_once(':') {
                            Some((uid, group)) => (uid, Some(group)),
                            None => (id, None),
                        };
                        let uid = if uid_text == "-" {
                            None
                        } else {
                            Some(parse_id(uid_text).map_err(&error)?)
                        };
                        let group = match group_text {
                            None => PrimaryGroup::SameName,
                            Some(group) if group.bytes().all(|b| b.is_ascii_digit()) => {
                                PrimaryGroup::Gid(parse_id(group).map_err(&error)?)
                            }
                            Some(group) => {
                                validate_account_name(group).map_err(&error)?;
                                PrimaryGroup::Name(group.to_owned())
                            }
                        };
                        (uid, group)
                    }
                };
                let gecos = optional(expanded.get(3)).map(str::to_owned);
                if let Some(gecos) = &gecos {
                    validate_passwd_field("GECOS", gecos).map_err(&error)?;
                }
                let home = optional(expanded.get(4)).map(str::to_owned);
                if let Some(home) = &home {
                    validate_absolute_path("home", home).map_err(&error)?;
                }
                let shell = optional(expanded.get(5)).map(str::to_owned);
                if let Some(shell) = &shell {
                    validate_absolute_path("shell", shell).map_err(&error)?;
                }
                SysusersKind::User {
                    name: name.clone(),
                    uid,
                    primary_group,
                    gecos,
                    home,
                    shell,
                    locked: kind_word == "u!",
                }
            }
            "g" => {
                let name = name.ok_or_else(|| error("`g` line without a name".to_owned()))?;
                validate_account_name(name).map_err(&error)?;
                if expanded.len() > 3 && expanded[3..].iter().any(|field| field != "-") {
                    return Err(error(
                        "`g` lines take only a name and an id; GECOS, home and shell must be `-`"
                            .to_owned(),
                    ));
                }
                let gid = match id {
                    None => None,
                    Some(id) if id.starts_with('/') => {
                        return Err(error(format!(
                            "id `{id}` taken from a file's group is not supported: the result would depend on the host"
                        )))
                    }
                    Some(id) => Some(parse_id(id).map_err(&error)?),
                };
                SysusersKind::Group {
                    name: name.clone(),
                    gid,
                }
            }
            "m" => {
                let user = name.ok_or_else(|| error("`m` line without a user".to_owned()))?;
                validate_account_name(user).map_err(&error)?;
                let group = expanded
                    .get(2)
                    .ok_or_else(|| error("`m` line without a group".to_owned()))?;
                validate_account_name(group).map_err(&error)?;
                if expanded.len() > 3 {
                    return Err(error(
                        "`m` lines take exactly a user and a group".to_owned(),
                    ));
                }
                SysusersKind::Member {
                    user: user.clone(),
                    group: group.clone(),
                }
            }
            "r" => {
                if optional(name).is_some() {
                    return Err(error("`r` lines take `-` as the name".to_owned()));
                }
                let range = id.ok_or_else(|| error("`r` line without a range".to_owned()))?;
                let (min, max) = if let Some((lo, hi)) = range.split_once('-') {
                    (parse_id(lo).map_err(&error)?, parse_id(hi).map_err(&error)?)
                } else {
                    let single = parse_id(range).map_err(&error)?;
                    (single, single)
                };
                if min > max {
                    return Err(error(format!("range `{range}` is empty")));
                }
                SysusersKind::Range { min, max }
            }
            other => {
                return Err(error(format!(
                    "unknown line type `{}`; expected `u`, `u!`, `g`, `m` or `r`",
                    other.escape_default()
                )))
            }
        };
        entries.push(SysusersEntry { line, kind });
    }
    Ok(entries)
}

/// What a package may do with accounts (from its grants).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountGrant {
    /// User names the package may create or use.
    pub users: BTreeSet<String>,
    /// Group names the package may create or join (a granted user name also
    /// covers the group of the same name).
    pub groups: BTreeSet<String>,
    /// Privileged groups ([`PRIVILEGED_GROUPS`]) it may add members to.
    pub privileged_groups: BTreeSet<String>,
    /// Whether its users may have a login shell.
    pub login_shells: bool,
}

/// The system id range (login.defs `SYS_UID_MIN`..`SYS_UID_MAX`; systemd 252
/// on Debian has it compiled in as `1..=999` and ignores login.defs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SystemIdRange {
    pub min: u32,
    pub max: u32,
}

impl Default for SystemIdRange {
    fn default() -> Self {
        Self { min: 1, max: 999 }
    }
}

fn group_is_privileged(name: &str) -> bool {
    PRIVILEGED_GROUPS.contains(&name)
}

/// Checks parsed lines against the grant. Returns every refusal (empty when
/// the file is acceptable).
pub fn check_sysusers(
    file: &str,
    entries: &[SysusersEntry],
    grant: &AccountGrant,
    range: SystemIdRange,
) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    let user_allowed = |name: &str| grant.users.contains(name);
    let group_allowed = |name: &str| {
        if group_is_privileged(name) {
            grant.privileged_groups.contains(name)
        } else {
            grant.groups.contains(name) || grant.users.contains(name)
        }
    };
    let check_id =
        |refusals: &mut Vec<Refusal>, line: usize, directive: &str, what: &str, id: u32| {
            if id == 0 {
                refusals.push(Refusal::new(
                    file,
                    line,
                    directive,
                    format!("{what} 0 is root's; packages never get it"),
                ));
            } else if id < range.min || id > range.max {
                refusals.push(Refusal::new(
                    file,
                    line,
                    directive,
                    format!(
                        "{what} {id} is outside the system range {}..={}",
                        range.min, range.max
                    ),
                ));
            }
        };
    for entry in entries {
        let line = entry.line;
        match &entry.kind {
            SysusersKind::User {
                name,
                uid,
                primary_group,
                home,
                shell,
                locked,
                ..
            } => {
                let directive = if *locked { "u!" } else { "u" };
                if !user_allowed(name) {
                    refusals.push(
                        Refusal::new(
                            file,
                            line,
                            directive,
                            format!("user `{name}` is not granted to this package"),
                        )
                        .with_hint(format!("grant `users = [\"{name}\"]`")),
                    );
                }
                if let Some(uid) = uid {
                    check_id(&mut refusals, line, directive, "uid", *uid);
                }
                match primary_group {
                    PrimaryGroup::SameName => {}
                    PrimaryGroup::Gid(gid) => check_id(&mut refusals, line, directive, "gid", *gid),
                    PrimaryGroup::Name(group) => {
                        if !group_allowed(group) {
                            refusals.push(Refusal::new(
                                file,
                                line,
                                directive,
                                format!("primary group `{group}` of user `{name}` is not granted to this package"),
                            ));
                        }
                    }
                }
                if home.as_deref() == Some("/") {
                    refusals.push(Refusal::new(
                        file,
                        line,
                        directive,
                        format!("home `/` for user `{name}`: a service user's home must be its own directory (or be left `-`)"),
                    ));
                }
                if let Some(shell) = shell {
                    if !NOLOGIN_SHELLS.contains(&shell.as_str()) && !grant.login_shells {
                        refusals.push(
                            Refusal::new(
                                file,
                                line,
                                directive,
                                format!("login shell `{shell}` for system user `{name}`"),
                            )
                            .with_hint("use `-` (nologin) or grant `login_shells = true`"),
                        );
                    }
                }
            }
            SysusersKind::Group { name, gid } => {
                if !group_allowed(name) {
                    refusals.push(
                        Refusal::new(
                            file,
                            line,
                            "g",
                            format!("group `{name}` is not granted to this package"),
                        )
                        .with_hint(format!("grant `groups = [\"{name}\"]`")),
                    );
                }
                if let Some(gid) = gid {
                    check_id(&mut refusals, line, "g", "gid", *gid);
                }
            }
            SysusersKind::Member { user, group } => {
                if !user_allowed(user) {
                    refusals.push(Refusal::new(
                        file,
                        line,
                        "m",
                        format!("user `{user}` is not granted to this package"),
                    ));
                }
                if group_is_privileged(group) && !grant.privileged_groups.contains(group.as_str()) {
                    refusals.push(
                        Refusal::new(
                            file,
                            line,
                            "m",
                            format!("membership of `{user}` in privileged group `{group}`"),
                        )
                        .with_hint(format!("grant `privileged_groups = [\"{group}\"]`")),
                    );
                } else if !group_allowed(group) {
                    refusals.push(Refusal::new(
                        file,
                        line,
                        "m",
                        format!("group `{group}` is not granted to this package"),
                    ));
                }
            }
            SysusersKind::Range { min, max } => {
                if *min == 0 || *min < range.min || *max > range.max {
                    refusals.push(Refusal::new(
                        file,
                        line,
                        "r",
                        format!(
                            "range {min}-{max} leaves the system range {}..={}",
                            range.min, range.max
                        ),
                    ));
                }
            }
        }
    }
    refusals
}

/// The current contents of the four account files (`None`: file absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountFiles {
    pub passwd: Option<Vec<u8>>,
    pub group: Option<Vec<u8>>,
    pub shadow: Option<Vec<u8>>,
    pub gshadow: Option<Vec<u8>>,
}

/// Inputs of the edit that are not in the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountEditConfig {
    /// Default allocation range when no `r` lines are given.
    pub system_range: SystemIdRange,
    /// Days since 1970-01-01 for the shadow "last change" field (sysusers
    /// uses `SOURCE_DATE_EPOCH` when set, else today).
    pub days_since_epoch: u64,
    /// The shell for users without one (Debian's `NOLOGIN`).
    pub nologin_shell: String,
}

impl Default for AccountEditConfig {
    fn default() -> Self {
        Self {
            system_range: SystemIdRange::default(),
            days_since_epoch: 0,
            nologin_shell: "/usr/sbin/nologin".to_owned(),
        }
    }
}

/// One account created by the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum CreatedAccount {
    User { name: String, uid: u32, gid: u32 },
    Group { name: String, gid: u32 },
    Membership { user: String, group: String },
}

/// The planned new contents; `None` means the file is left untouched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountEdit {
    pub passwd: Option<Vec<u8>>,
    pub group: Option<Vec<u8>>,
    pub shadow: Option<Vec<u8>>,
    pub gshadow: Option<Vec<u8>>,
    pub created: Vec<CreatedAccount>,
}

/// Why the edit cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountEditError {
    #[error("line {line}: {what} {id} requested for `{name}` is already used by `{holder}`")]
    IdInUse {
        line: usize,
        what: &'static str,
        id: u32,
        name: String,
        holder: String,
    },
    #[error("line {line}: primary group {group} of user `{name}` does not exist")]
    MissingGroup {
        line: usize,
        name: String,
        group: String,
    },
    #[error("no free id left in the allocation range for `{name}`")]
    RangeExhausted { name: String },
    #[error("`{file}` is not valid UTF-8")]
    NotUtf8 { file: &'static str },
}

/// An account database read from the files: names to ids and back.
#[derive(Debug, Default)]
struct AccountDatabase {
    user_by_name: BTreeMap<String, u32>,
    user_by_id: BTreeMap<u32, String>,
    group_by_name: BTreeMap<String, u32>,
    group_by_id: BTreeMap<u32, String>,
}

fn file_text<'a>(
    bytes: Option<&'a Vec<u8>>,
    file: &'static str,
) -> Result<&'a str, AccountEditError> {
    match bytes {
        None => Ok(""),
        Some(bytes) => std::str::from_utf8(bytes).map_err(|_| AccountEditError::NotUtf8 { file }),
    }
}

fn read_id_table(
    text: &str,
    by_name: &mut BTreeMap<String, u32>,
    by_id: &mut BTreeMap<u32, String>,
) {
    for line in text.lines() {
        if line.starts_with('+') || line.starts_with('-') {
            continue;
        }
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() < 3 {
            continue;
        }
        if let Ok(id) = fields[2].parse::<u32>() {
            by_name.entry(fields[0].to_owned()).or_insert(id);
            by_id.entry(id).or_insert_with(|| fields[0].to_owned());
        }
    }
}

#[derive(Debug, Clone)]
struct UserItem {
    line: usize,
    name: String,
    uid: Option<u32>,
    primary_group: PrimaryGroup,
    gecos: Option<String>,
    home: Option<String>,
    shell: Option<String>,
    locked: bool,
}

#[derive(Debug, Clone)]
struct GroupItem {
    line: usize,
    name: String,
    gid: Option<u32>,
}

/// The allocation state: sysusers' `todo_uids`/`todo_gids` and the shared
/// downward `search_uid` counter.
struct Allocator<'a> {
    database: &'a AccountDatabase,
    ranges: Vec<(u32, u32)>,
    search: Option<u32>,
    new_users: Vec<(String, u32, u32, usize)>,
    new_groups: Vec<(String, u32)>,
}

impl Allocator<'_> {
    fn todo_uid_holder(&self, uid: u32) -> Option<&str> {
        self.new_users
            .iter()
            .find(|(_, id, _, _)| *id == uid)
            .map(|(name, ..)| name.as_str())
    }
    fn todo_gid_holder(&self, gid: u32) -> Option<&str> {
        self.new_groups
            .iter()
            .find(|(_, id)| *id == gid)
            .map(|(name, _)| name.as_str())
    }

    /// sysusers `uid_is_ok`: the uid is free, and (when `check_with_gid`) no
    /// group of a different name holds the same number.
    fn uid_is_ok(&self, uid: u32, name: &str, check_with_gid: bool) -> Result<(), String> {
        if let Some(holder) = self.todo_uid_holder(uid) {
            return Err(holder.to_owned());
        }
        if check_with_gid {
            if let Some(holder) = self.todo_gid_holder(uid) {
                if holder != name {
                    return Err(format!("group {holder}"));
                }
            }
        }
        if let Some(holder) = self.database.user_by_id.get(&uid) {
            return Err(holder.clone());
        }
        if check_with_gid {
            if let Some(holder) = self.database.group_by_id.get(&uid) {
                if holder != name {
                    return Err(format!("group {holder}"));
                }
            }
        }
        Ok(())
    }

    /// sysusers `gid_is_ok`.
    fn gid_is_ok(&self, gid: u32, name: &str, check_with_uid: bool) -> Result<(), String> {
        if let Some(holder) = self.todo_gid_holder(gid) {
            return Err(holder.to_owned());
        }
        if check_with_uid {
            if let Some(holder) = self.todo_uid_holder(gid) {
                if holder != name {
                    return Err(format!("user {holder}"));
                }
            }
        }
        if let Some(holder) = self.database.group_by_id.get(&gid) {
            return Err(holder.clone());
        }
        if check_with_uid {
            if let Some(holder) = self.database.user_by_id.get(&gid) {
                if holder != name {
                    return Err(format!("user {holder}"));
                }
            }
        }
        Ok(())
    }

    /// sysusers `uid_range_next_lower`: the highest id in the ranges that is
    /// below the current search position.
    fn next_lower(&mut self, name: &str) -> Result<u32, AccountEditError> {
        let below = self.search.unwrap_or(u32::MAX);
        let candidate = self
            .ranges
            .iter()
            .filter(|(min, _)| *min < below)
            .map(|(_, max)| (*max).min(below - 1))
            .max();
        match candidate {
            Some(id) => {
                self.search = Some(id);
                Ok(id)
            }
            None => Err(AccountEditError::RangeExhausted {
                name: name.to_owned(),
            }),
        }
    }

    fn existing_or_new_gid(&self, name: &str) -> Option<u32> {
        self.database.group_by_name.get(name).copied().or_else(|| {
            self.new_groups
                .iter()
                .find(|(group, _)| group == name)
                .map(|(_, gid)| *gid)
        })
    }

    /// sysusers `add_group`, for a `g` line or the group of a `u` line.
    fn add_group(
        &mut self,
        line: usize,
        name: &str,
        gid: Option<u32>,
        uid_hint: Option<u32>,
    ) -> Result<u32, AccountEditError> {
        if let Some(existing) = self.existing_or_new_gid(name) {
            return Ok(existing);
        }
        let mut chosen = None;
        if let Some(gid) = gid {
            if let Err(holder) = self.gid_is_ok(gid, name, false) {
                // sysusers would silently allocate another gid here; a package
                // that asked for a fixed gid is told instead.
                return Err(AccountEditError::IdInUse {
                    line,
                    what: "gid",
                    id: gid,
                    name: name.to_owned(),
                    holder,
                });
            }
            chosen = Some(gid);
        }
        if chosen.is_none() {
            if let Some(uid) = uid_hint {
                if self.gid_is_ok(uid, name, true).is_ok() {
                    chosen = Some(uid);
                }
            }
        }
        let gid = match chosen {
            Some(gid) => gid,
            None => loop {
                // "We look for new GIDs in the UID pool!" — one counter for both.
                let candidate = self.next_lower(name)?;
                if self.gid_is_ok(candidate, name, true).is_ok() {
                    break candidate;
                }
            },
        };
        self.new_groups.push((name.to_owned(), gid));
        Ok(gid)
    }

    /// sysusers `process_item` for a user followed by `add_user`.
    fn add_user(
        &mut self,
        user: &UserItem,
        group_items: &[GroupItem],
    ) -> Result<(), AccountEditError> {
        let (gid, strict) = match &user.primary_group {
            PrimaryGroup::Gid(gid) => {
                // A numeric gid must name a group that exists (or is being
                // created); sysusers fails with "please create GID".
                if self.database.group_by_id.contains_key(gid)
                    || self.todo_gid_holder(*gid).is_some()
                {
                    (*gid, true)
                } else {
                    return Err(AccountEditError::MissingGroup {
                        line: user.line,
                        name: user.name.clone(),
                        group: gid.to_string(),
                    });
                }
            }
            PrimaryGroup::Name(group) => match self.existing_or_new_gid(group) {
                Some(gid) => (gid, true),
                None => {
                    return Err(AccountEditError::MissingGroup {
                        line: user.line,
                        name: user.name.clone(),
                        group: group.clone(),
                    })
                }
            },
            PrimaryGroup::SameName => {
                let queued = group_items.iter().any(|group| group.name == user.name)
                    && self.new_groups.iter().any(|(group, _)| *group == user.name);
                if queued {
                    (
                        self.existing_or_new_gid(&user.name).unwrap_or_default(),
                        true,
                    )
                } else {
                    (
                        self.add_group(user.line, &user.name, None, user.uid)?,
                        false,
                    )
                }
            }
        };
        if self.database.user_by_name.contains_key(&user.name) {
            return Ok(());
        }
        let mut uid = None;
        if let Some(fixed) = user.uid {
            if let Err(holder) = self.uid_is_ok(fixed, &user.name, !strict) {
                return Err(AccountEditError::IdInUse {
                    line: user.line,
                    what: "uid",
                    id: fixed,
                    name: user.name.clone(),
                    holder,
                });
            }
            uid = Some(fixed);
        }
        if uid.is_none() && self.uid_is_ok(gid, &user.name, true).is_ok() {
            uid = Some(gid);
        }
        let uid = match uid {
            Some(uid) => uid,
            None => loop {
                let candidate = self.next_lower(&user.name)?;
                if self.uid_is_ok(candidate, &user.name, true).is_ok() {
                    break candidate;
                }
            },
        };
        self.new_users
            .push((user.name.clone(), uid, gid, user.line));
        Ok(())
    }
}

/// Appends `new_lines` to `existing`, before the first NIS compat line (`+…`
/// or `-…`) as sysusers does, keeping every existing byte.
fn insert_lines(existing: Option<&Vec<u8>>, new_lines: &[String]) -> Vec<u8> {
    let existing = existing.map(Vec::as_slice).unwrap_or_default();
    let mut head = Vec::with_capacity(existing.len() + 64 * new_lines.len());
    let mut tail: &[u8] = &[];
    let mut offset = 0;
    for raw_line in existing.split_inclusive(|b| *b == b'\n') {
        if raw_line.first().is_some_and(|b| *b == b'+' || *b == b'-') {
            tail = &existing[offset..];
            break;
        }
        head.extend_from_slice(raw_line);
        offset += raw_line.len();
    }
    if !head.is_empty() && !head.ends_with(b"\n") {
        head.push(b'\n');
    }
    for line in new_lines {
        head.extend_from_slice(line.as_bytes());
        head.push(b'\n');
    }
    head.extend_from_slice(tail);
    head
}

/// Adds members to existing group/gshadow lines (field `members_field`),
/// producing the sorted, de-duplicated member list sysusers writes.
fn add_members_to_existing(
    existing: Option<&Vec<u8>>,
    members_field: usize,
    members: &BTreeMap<String, Vec<String>>,
) -> (Vec<u8>, bool) {
    let existing = existing.map(Vec::as_slice).unwrap_or_default();
    let mut out = Vec::with_capacity(existing.len() + 32);
    let mut changed = false;
    for raw_line in existing.split_inclusive(|b| *b == b'\n') {
        let text = std::str::from_utf8(raw_line).unwrap_or("");
        let body = text.strip_suffix('\n').unwrap_or(text);
        let fields: Vec<&str> = body.split(':').collect();
        let additions = fields
            .first()
            .and_then(|name| members.get(*name))
            .filter(|_| fields.len() == members_field + 1 && !body.starts_with(['+', '-']));
        if let Some(additions) = additions {
            let mut list: BTreeSet<&str> = fields[members_field]
                .split(',')
                .filter(|member| !member.is_empty())
                .collect();
            let before = list.len();
            list.extend(additions.iter().map(String::as_str));
            if list.len() != before {
                changed = true;
                let mut rewritten = fields[..members_field].join(":");
                rewritten.push(':');
                rewritten.push_str(&list.into_iter().collect::<Vec<_>>().join(","));
                out.extend_from_slice(rewritten.as_bytes());
                if raw_line.ends_with(b"\n") {
                    out.push(b'\n');
                }
                continue;
            }
        }
        out.extend_from_slice(raw_line);
    }
    (out, changed)
}

/// Plans the edit of the account files for the given lines (already checked
/// with [`check_sysusers`]). Pure: the same inputs give the same bytes.
///
/// Processing order and id choice follow systemd-sysusers 252:
/// 1. `m` lines add implicit users and groups that no `u`/`g` line declares;
/// 2. every group item (`g` lines, then implicit ones) in order: an existing
///    group is kept; a fixed gid must be free; otherwise the next free id
///    below the shared search counter (which starts above the top of the
///    ranges) is taken, skipping ids used as uid by a differently named user;
/// 3. every user item in order: its primary group is created first (a new
///    same-named group prefers the user's fixed uid as gid), then the uid is
///    the fixed one, else the gid of its group when free, else the next free
///    id below the counter;
/// 4. new lines are appended before any NIS `+`/`-` line; shadow gets
///    `!*` (locked password) and the day count; members are merged, sorted.
pub fn plan_account_edit(
    entries: &[SysusersEntry],
    files: &AccountFiles,
    config: &AccountEditConfig,
) -> Result<AccountEdit, AccountEditError> {
    let mut database = AccountDatabase::default();
    read_id_table(
        file_text(files.passwd.as_ref(), "passwd")?,
        &mut database.user_by_name,
        &mut database.user_by_id,
    );
    read_id_table(
        file_text(files.group.as_ref(), "group")?,
        &mut database.group_by_name,
        &mut database.group_by_id,
    );
    file_text(files.shadow.as_ref(), "shadow")?;
    file_text(files.gshadow.as_ref(), "gshadow")?;

    let mut users: Vec<UserItem> = Vec::new();
    let mut groups: Vec<GroupItem> = Vec::new();
    let mut members: Vec<(String, Vec<String>)> = Vec::new();
    let mut ranges: Vec<(u32, u32)> = Vec::new();
    for entry in entries {
        match &entry.kind {
            SysusersKind::User {
                name,
                uid,
                primary_group,
                gecos,
                home,
                shell,
                locked,
            } => {
                // First line for a name wins, as in sysusers ("Two or more
                // conflicting lines … ignoring").
                if !users.iter().any(|user| user.name == *name) {
                    users.push(UserItem {
                        line: entry.line,
                        name: name.clone(),
                        uid: *uid,
                        primary_group: primary_group.clone(),
                        gecos: gecos.clone(),
                        home: home.clone(),
                        shell: shell.clone(),
                        locked: *locked,
                    });
                }
            }
            SysusersKind::Group { name, gid } => {
                if !groups.iter().any(|group| group.name == *name) {
                    groups.push(GroupItem {
                        line: entry.line,
                        name: name.clone(),
                        gid: *gid,
                    });
                }
            }
            SysusersKind::Member { user, group } => {
                match members.iter_mut().find(|(name, _)| name == group) {
                    Some((_, list)) => {
                        if !list.contains(user) {
                            list.push(user.clone());
                        }
                    }
                    None => members.push((group.clone(), vec![user.clone()])),
                }
            }
            SysusersKind::Range { min, max } => ranges.push((*min, *max)),
        }
    }
    if ranges.is_empty() {
        ranges.push((config.system_range.min, config.system_range.max));
    }
    // Implicit items from `m` lines (sysusers `add_implicit`).
    for (group, list) in &members {
        let line = entries
            .iter()
            .find(
                |entry| matches!(&entry.kind, SysusersKind::Member { group: g, .. } if g == group),
            )
            .map_or(0, |entry| entry.line);
        for user in list {
            if !users.iter().any(|item| item.name == *user) {
                users.push(UserItem {
                    line,
                    name: user.clone(),
                    uid: None,
                    primary_group: PrimaryGroup::SameName,
                    gecos: None,
                    home: None,
                    shell: None,
                    locked: false,
                });
            }
        }
        if !users.iter().any(|item| item.name == *group)
            && !groups.iter().any(|item| item.name == *group)
        {
            groups.push(GroupItem {
                line,
                name: group.clone(),
                gid: None,
            });
        }
    }

    let mut allocator = Allocator {
        database: &database,
        ranges,
        search: None,
        new_users: Vec::new(),
        new_groups: Vec::new(),
    };
    for group in &groups {
        allocator.add_group(group.line, &group.name, group.gid, None)?;
    }
    for user in &users {
        allocator.add_user(user, &groups)?;
    }

    let members_map: BTreeMap<String, Vec<String>> = members.iter().cloned().collect();
    let mut edit = AccountEdit::default();
    for (name, gid) in &allocator.new_groups {
        edit.created.push(CreatedAccount::Group {
            name: name.clone(),
            gid: *gid,
        });
    }
    for (name, uid, gid, _) in &allocator.new_users {
        edit.created.push(CreatedAccount::User {
            name: name.clone(),
            uid: *uid,
            gid: *gid,
        });
    }
    for (group, list) in &members {
        for user in list {
            edit.created.push(CreatedAccount::Membership {
                user: user.clone(),
                group: group.clone(),
            });
        }
    }

    if !allocator.new_users.is_empty() {
        let mut passwd_lines = Vec::new();
        let mut shadow_lines = Vec::new();
        for (name, uid, gid, _) in &allocator.new_users {
            let item = users.iter().find(|user| user.name == *name);
            let gecos = item.and_then(|user| user.gecos.clone()).unwrap_or_default();
            let home = item
                .and_then(|user| user.home.clone())
                .unwrap_or_else(|| "/".to_owned());
            let shell = item
                .and_then(|user| user.shell.clone())
                .unwrap_or_else(|| config.nologin_shell.clone());
            passwd_lines.push(format!("{name}:x:{uid}:{gid}:{gecos}:{home}:{shell}"));
            let locked = item.is_some_and(|user| user.locked);
            // `!*`: no password can ever match, and it is visibly locked;
            // never `!!` or empty (THREATS 31). `u!` also expires the account
            // (systemd 257 semantics: expiry day 1).
            let expire = if locked { "1" } else { "" };
            shadow_lines.push(format!(
                "{name}:!*:{}:::::{expire}:",
                config.days_since_epoch
            ));
        }
        edit.passwd = Some(insert_lines(files.passwd.as_ref(), &passwd_lines));
        edit.shadow = Some(insert_lines(files.shadow.as_ref(), &shadow_lines));
    }

    let (group_with_members, group_changed) =
        add_members_to_existing(files.group.as_ref(), 3, &members_map);
    let (gshadow_with_members, gshadow_changed) =
        add_members_to_existing(files.gshadow.as_ref(), 3, &members_map);
    if !allocator.new_groups.is_empty() || group_changed || gshadow_changed {
        let mut group_lines = Vec::new();
        let mut gshadow_lines = Vec::new();
        for (name, gid) in &allocator.new_groups {
            let list = members_map
                .get(name)
                .map(|list| {
                    let sorted: BTreeSet<&str> = list.iter().map(String::as_str).collect();
                    sorted.into_iter().collect::<Vec<_>>().join(",")
                })
                .unwrap_or_default();
            group_lines.push(format!("{name}:x:{gid}:{list}"));
            gshadow_lines.push(format!("{name}:!*::{list}"));
        }
        edit.group = Some(insert_lines(Some(&group_with_members), &group_lines));
        edit.gshadow = Some(insert_lines(Some(&gshadow_with_members), &gshadow_lines));
    }
    Ok(edit)
}
