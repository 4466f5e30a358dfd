//! Owner and group names → ids, from the root's own `/etc/passwd` and
//! `/etc/group` (read through the root's fd), never from the archive's
//! numeric ids (THREATS 12) and never from the host's account database.

use crate::root::Root;
use crate::EngineError;
use std::collections::HashMap;
use std::io::Read;

/// The root's accounts, by name.
#[derive(Debug, Default, Clone)]
pub struct Accounts {
    users: HashMap<String, u32>,
    groups: HashMap<String, u32>,
}

/// An owner resolved to ids, with a note when a name was missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedOwner {
    pub uid: u32,
    pub gid: u32,
    pub note: Option<String>,
}

impl Accounts {
    /// Reads `/etc/passwd` and `/etc/group` of `root`; a missing file is empty.
    pub fn read(root: &Root) -> Result<Accounts, EngineError> {
        Ok(Accounts {
            users: parse(&read_text(root, "/etc/passwd")?),
            groups: parse(&read_text(root, "/etc/group")?),
        })
    }

    /// The accounts of the given `passwd` and `group` texts (the files a
    /// transaction is about to put in place).
    pub fn from_texts(passwd: &str, group: &str) -> Accounts {
        Accounts {
            users: parse(passwd),
            groups: parse(group),
        }
    }

    /// Whether the user `name` exists (`root` always does).
    pub fn knows_user(&self, name: &str) -> bool {
        name == "root" || self.users.contains_key(name)
    }

    /// Whether the group `name` exists (`root` always does).
    pub fn knows_group(&self, name: &str) -> bool {
        name == "root" || self.groups.contains_key(name)
    }

    /// The ids for `owner:group`. `root` is always 0. A name the root does not
    /// know falls back to 0 with a note, so the operator sees it (dpkg would
    /// fail; pkgward records the fallback instead of guessing a number).
    pub fn resolve(&self, owner: &str, group: &str) -> ResolvedOwner {
        let mut notes = Vec::new();
        let uid = match owner {
            "root" | "" => 0,
            name => self.users.get(name).copied().unwrap_or_else(|| {
                notes.push(format!(
                    "user `{name}` is not in the root's /etc/passwd, using root"
                ));
                0
            }),
        };
        let gid = match group {
            "root" | "" => 0,
            name => self.groups.get(name).copied().unwrap_or_else(|| {
                notes.push(format!(
                    "group `{name}` is not in the root's /etc/group, using root"
                ));
                0
            }),
        };
        ResolvedOwner {
            uid,
            gid,
            note: (!notes.is_empty()).then(|| notes.join("; ")),
        }
    }
}

fn read_text(root: &Root, path: &str) -> Result<String, EngineError> {
    let Some(mut file) = root.open_regular_file(path)? else {
        return Ok(String::new());
    };
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|source| EngineError::Read {
            path: path.to_owned(),
            source,
        })?;
    Ok(text)
}

/// `name:x:id:...` lines (passwd and group share the first three fields).
fn parse(text: &str) -> HashMap<String, u32> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let _password = fields.next()?;
            let id = fields.next()?.parse().ok()?;
            Some((name.to_owned(), id))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lines_parse_and_missing_names_fall_back_with_a_note() {
        let accounts = Accounts {
            users: parse(
                "root:x:0:0::/root:/bin/sh\nmessagebus:x:100:101::/:/usr/sbin/nologin\nbroken\n",
            ),
            groups: parse("root:x:0:\nmessagebus:x:101:\n"),
        };
        assert_eq!(
            accounts.resolve("messagebus", "messagebus"),
            ResolvedOwner {
                uid: 100,
                gid: 101,
                note: None
            }
        );
        let missing = accounts.resolve("nobody-here", "root");
        assert_eq!((missing.uid, missing.gid), (0, 0));
        assert!(missing.note.unwrap().contains("`nobody-here`"));
    }
}
