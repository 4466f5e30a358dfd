//! Which file capabilities a package asks for, from both places a package
//! can ask: rpm's `FILECAPS` header tag (the reader's `File-Capabilities`
//! field) and `setcap CAPS PATH` in a `preinst`/`postinst` (Debian's
//! iputils-ping does `setcap cap_net_raw+ep /bin/ping`), which the script
//! classifier reports as `DerivedAction::SetFileCapabilities`.
//!
//! Both become one request per file that `footprint`, `verify` and the
//! planner judge with [`crate::Request::FileCapabilities`] and the engine
//! applies as the `security.capability` attribute of the staged file. Only
//! the package's own regular files can carry them: a `setcap` on anything
//! else is reported, never carried out.

use pkgward_actions::scripts::{classify_script, DerivedAction, ScriptContext};
use pkgward_package::file_capabilities::{declared_in_field, FileCapabilities};
use pkgward_package::{EntryKind, Package};
use std::collections::BTreeMap;

/// One file's requested capabilities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedFileCapabilities {
    /// The path as the package ships it (canonical, before aliases).
    pub path: String,
    pub capabilities: FileCapabilities,
    /// `FILECAPS` or `postinst: setcap`.
    pub source: String,
}

/// A request pkgward cannot carry out as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusableFileCapabilities {
    pub path: String,
    /// The text form as written.
    pub text: String,
    pub source: String,
    pub reason: String,
    /// Whether the package is refused (a text that is not a capability set)
    /// or the request is only reported (a path the package does not ship).
    pub refuses: bool,
}

/// Everything a package asks for, sorted by path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileCapabilityRequests {
    pub requested: Vec<RequestedFileCapabilities>,
    pub unusable: Vec<UnusableFileCapabilities>,
}

/// The file capabilities `package` asks for. A later request for the same
/// path replaces an earlier one (a `setcap` in `postinst` runs after rpm
/// or dpkg placed the file).
pub fn requested_file_capabilities(package: &Package) -> FileCapabilityRequests {
    let mut asked: Vec<(String, String, String)> =
        declared_in_field(package.field("File-Capabilities"))
            .into_iter()
            .map(|(path, text)| (path.to_owned(), text.to_owned(), "FILECAPS".to_owned()))
            .collect();
    let context = ScriptContext {
        package: package.name.clone(),
    };
    for script in &package.scripts {
        let name = script.name.as_str();
        // Classifying is the costly part; most scripts never mention setcap.
        if (name != "preinst" && name != "postinst")
            || !script.bytes.windows(6).any(|window| window == b"setcap")
        {
            continue;
        }
        for action in classify_script(name, &script.bytes, &context).actions {
            if let DerivedAction::SetFileCapabilities { path, capabilities } = action {
                asked.push((path, capabilities, format!("{name}: setcap")));
            }
        }
    }
    let mut by_path: BTreeMap<String, Result<RequestedFileCapabilities, UnusableFileCapabilities>> =
        BTreeMap::new();
    for (path, text, source) in asked {
        let shipped_file = package
            .entries
            .iter()
            .any(|entry| entry.path == path && entry.kind == EntryKind::File);
        let outcome = if shipped_file {
            match FileCapabilities::parse(&text) {
                Ok(capabilities) => Ok(RequestedFileCapabilities {
                    path: path.clone(),
                    capabilities,
                    source,
                }),
                Err(error) => Err(UnusableFileCapabilities {
                    path: path.clone(),
                    text,
                    source,
                    reason: error.to_string(),
                    refuses: true,
                }),
            }
        } else {
            Err(UnusableFileCapabilities {
                path: path.clone(),
                text,
                source,
                reason: "not a regular file this package ships: not carried out".to_owned(),
                refuses: false,
            })
        };
        by_path.insert(path, outcome);
    }
    let mut requests = FileCapabilityRequests::default();
    for outcome in by_path.into_values() {
        match outcome {
            Ok(requested) => requests.requested.push(requested),
            Err(unusable) => requests.unusable.push(unusable),
        }
    }
    requests
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkgward_package::model::{Entry, Format, Relations, Script, ScriptName};
    use pkgward_package::Version;

    fn entry(path: &str, kind: EntryKind) -> Entry {
        Entry {
            path: path.to_owned(),
            kind,
            mode: 0o755,
            owner: "root".into(),
            group: "root".into(),
            uid: 0,
            gid: 0,
            size: 1,
            target: (kind == EntryKind::Symlink).then(|| "pinger".to_owned()),
            sha256: (kind == EntryKind::File).then(|| "00".to_owned()),
        }
    }

    fn package_with(script: &str, field: Option<&str>) -> Package {
        Package {
            format: Format::Deb,
            name: "pinger".to_owned(),
            version: Version::parse("1.0").unwrap(),
            architecture: "amd64".into(),
            description: "test".into(),
            maintainer: None,
            relations: Relations::default(),
            fields: field
                .map(|field| vec![("File-Capabilities".to_owned(), field.to_owned())])
                .unwrap_or_default(),
            scripts: vec![Script {
                name: ScriptName::Postinst,
                interpreter: Some("/bin/sh".to_owned()),
                bytes: script.as_bytes().to_vec(),
            }],
            conffiles: Vec::new(),
            triggers: Vec::new(),
            md5sums: Vec::new(),
            entries: vec![
                entry("/usr/bin/pinger", EntryKind::File),
                entry("/usr/bin/other", EntryKind::File),
                entry("/usr/bin/link", EntryKind::Symlink),
            ],
            artifact_sha256: "00".into(),
            installed_size: 2,
        }
    }

    #[test]
    fn setcap_in_postinst_and_filecaps_are_requests_on_shipped_files() {
        let package = package_with(
            "#!/bin/sh\nset -e\nsetcap cap_net_raw+ep /usr/bin/pinger\nsetcap cap_kill+ep /usr/bin/link\nsetcap cap_bogus+ep /usr/bin/other\n",
            Some("/usr/bin/missing cap_net_raw=ep"),
        );
        let requests = requested_file_capabilities(&package);
        assert_eq!(requests.requested.len(), 1);
        let pinger = &requests.requested[0];
        assert_eq!(
            (pinger.path.as_str(), pinger.source.as_str()),
            ("/usr/bin/pinger", "postinst: setcap")
        );
        assert_eq!(pinger.capabilities.to_string(), "cap_net_raw=ep");
        let unusable: Vec<_> = requests
            .unusable
            .iter()
            .map(|u| (u.path.as_str(), u.refuses, u.reason.as_str()))
            .collect();
        assert_eq!(
            unusable,
            vec![
                (
                    "/usr/bin/link",
                    false,
                    "not a regular file this package ships: not carried out"
                ),
                (
                    "/usr/bin/missing",
                    false,
                    "not a regular file this package ships: not carried out"
                ),
                ("/usr/bin/other", true, "unknown capability `cap_bogus`"),
            ]
        );
    }

    #[test]
    fn a_package_without_capabilities_asks_for_none() {
        let package = package_with("#!/bin/sh\nexit 0\n", None);
        assert_eq!(
            requested_file_capabilities(&package),
            FileCapabilityRequests::default()
        );
    }
}
