//! File capabilities (`security.capability`): libcap's text form
//! (`cap_net_raw+ep`, `cap_net_admin,cap_net_raw=ep`), the binary extended
//! attribute the kernel reads at `execve` (`struct vfs_cap_data`,
//! `include/uapi/linux/capability.h`), and the names of the capabilities.
//!
//! Our own small implementation: the `caps` crate only handles the
//! capabilities of processes, not file attributes, and libcap would mean
//! linking C. It is checked against `setcap`/`getcap` (libcap2-bin) in
//! `crates/pkgward-engine/tests/file_capabilities_against_libcap.rs`.
//!
//! A package asks for file capabilities through rpm's `FILECAPS` header tag
//! (the text form, as `cap_to_text` wrote it at build time) or a Debian
//! maintainer script's `setcap CAPS PATH`; both are the text form parsed here.

use std::fmt;

/// Capability names by number, as libcap 2.66 and Linux 6.x know them
/// (`CAP_LAST_CAP` = 40, `cap_checkpoint_restore`).
pub const CAPABILITY_NAMES: [&str; 41] = [
    "cap_chown",
    "cap_dac_override",
    "cap_dac_read_search",
    "cap_fowner",
    "cap_fsetid",
    "cap_kill",
    "cap_setgid",
    "cap_setuid",
    "cap_setpcap",
    "cap_linux_immutable",
    "cap_net_bind_service",
    "cap_net_broadcast",
    "cap_net_admin",
    "cap_net_raw",
    "cap_ipc_lock",
    "cap_ipc_owner",
    "cap_sys_module",
    "cap_sys_rawio",
    "cap_sys_chroot",
    "cap_sys_ptrace",
    "cap_sys_pacct",
    "cap_sys_admin",
    "cap_sys_boot",
    "cap_sys_nice",
    "cap_sys_resource",
    "cap_sys_time",
    "cap_sys_tty_config",
    "cap_mknod",
    "cap_lease",
    "cap_audit_write",
    "cap_audit_control",
    "cap_setfcap",
    "cap_mac_override",
    "cap_mac_admin",
    "cap_syslog",
    "cap_wake_alarm",
    "cap_block_suspend",
    "cap_audit_read",
    "cap_perfmon",
    "cap_bpf",
    "cap_checkpoint_restore",
];

/// Every capability this module knows, as a mask.
pub const ALL_CAPABILITIES: u64 = (1 << CAPABILITY_NAMES.len()) - 1;

/// Capabilities that are root, or lead to root in a few steps, for a program
/// that holds them: a policy's `*` never covers them (each must be written
/// by name). The list follows the well-known analysis of which capabilities
/// are root-equivalent (grsecurity's "False Boundaries and Arbitrary Code
/// Execution"; capabilities(7)): each entry says how it becomes root.
pub const ROOT_EQUIVALENT: [(&str, &str); 18] = [
    (
        "cap_chown",
        "chown `/etc/shadow` or any setuid binary to yourself",
    ),
    (
        "cap_dac_override",
        "write any file (`/etc/passwd`, root's crontab)",
    ),
    (
        "cap_dac_read_search",
        "read any file, and `open_by_handle_at` escapes a chroot",
    ),
    ("cap_fowner", "chmod any file, including setuid bits"),
    ("cap_setgid", "become any group (`shadow`, `disk`)"),
    ("cap_setuid", "become root"),
    ("cap_setpcap", "grant capabilities on to other programs"),
    ("cap_sys_module", "load kernel code"),
    ("cap_sys_rawio", "read and write `/dev/mem` and raw ports"),
    (
        "cap_sys_chroot",
        "chroot beside a hardlinked setuid binary and its own libc",
    ),
    ("cap_sys_ptrace", "inject code into root's processes"),
    ("cap_sys_admin", "mount, namespaces, and most of root"),
    ("cap_sys_boot", "`kexec_load` a kernel of one's choice"),
    ("cap_mknod", "create a device node for the raw disk"),
    ("cap_setfcap", "give any file any capability"),
    ("cap_mac_override", "bypass mandatory access control"),
    ("cap_mac_admin", "rewrite mandatory access control policy"),
    ("cap_bpf", "load BPF programs that read kernel memory"),
];

/// The root-equivalent capabilities as a mask.
#[must_use]
pub fn root_equivalent_mask() -> u64 {
    ROOT_EQUIVALENT
        .iter()
        .filter_map(|(name, _)| capability_number(name))
        .fold(0, |mask, number| mask | (1 << number))
}

/// The number of the capability `name` (`cap_net_raw` → 13), case-insensitive
/// as libcap is.
#[must_use]
pub fn capability_number(name: &str) -> Option<u32> {
    CAPABILITY_NAMES
        .iter()
        .position(|known| known.eq_ignore_ascii_case(name))
        .and_then(|index| u32::try_from(index).ok())
}

/// The names in `mask`, in capability-number order (libcap's order).
#[must_use]
pub fn capability_names(mask: u64) -> Vec<&'static str> {
    CAPABILITY_NAMES
        .iter()
        .enumerate()
        .filter(|(number, _)| mask & (1 << number) != 0)
        .map(|(_, name)| *name)
        .collect()
}

/// `security.capability`, the extended attribute that holds file capabilities.
pub const XATTR_NAME: &str = "security.capability";

/// `VFS_CAP_REVISION_2`: 64-bit capability sets, no root id.
const REVISION_2: u32 = 0x0200_0000;
/// `VFS_CAP_REVISION_1`: 32-bit sets (kernels before 2.6.25).
const REVISION_1: u32 = 0x0100_0000;
/// `VFS_CAP_REVISION_3`: revision 2 plus the root uid of a user namespace.
const REVISION_3: u32 = 0x0300_0000;
const REVISION_MASK: u32 = 0xff00_0000;
/// `VFS_CAP_FLAGS_EFFECTIVE`: raise the permitted set into the effective set
/// at `execve` (libcap's `e` flag, one bit for the whole file).
const FLAG_EFFECTIVE: u32 = 0x0000_0001;

/// The capabilities of one file, as the kernel stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileCapabilities {
    /// Capabilities the program may use (`p`).
    pub permitted: u64,
    /// Capabilities kept from the caller's inheritable set (`i`).
    pub inheritable: u64,
    /// Whether permitted capabilities are effective at once (`e`).
    pub effective: bool,
}

/// Why a text form or an attribute cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapabilityError {
    #[error("unknown capability `{0}`")]
    UnknownCapability(String),
    #[error("capability clause `{0}` has no `=`, `+` or `-` operator")]
    MissingOperator(String),
    #[error("unknown capability flag `{0}` (flags are `e`, `i` and `p`)")]
    UnknownFlag(char),
    #[error(
        "effective flag on only some capabilities in `{0}`: a file has one effective bit for all"
    )]
    PartialEffective(String),
    #[error("no capabilities in `{0}`")]
    Empty(String),
    #[error("`security.capability` attribute of {0} bytes is not a capability set")]
    BadAttributeLength(usize),
    #[error("`security.capability` attribute revision {0:#010x} is not known")]
    UnknownRevision(u32),
    #[error("`security.capability` attribute names capability bits {0:#x} beyond the known ones")]
    UnknownBits(u64),
}

impl FileCapabilities {
    /// Parse libcap's text form (`cap_from_text`): whitespace-separated
    /// clauses `NAMES OPS`, NAMES a comma list (`all`, or nothing, for every
    /// capability), OPS one or more of `=`, `+`, `-` each followed by flags
    /// from `eip`. Clauses apply in order, as libcap applies them.
    ///
    /// # Errors
    /// An unknown name or flag, a clause without operator, an effective flag
    /// on only part of the capabilities (libcap refuses to write such a set
    /// to a file), or no capability at all.
    pub fn parse(text: &str) -> Result<Self, CapabilityError> {
        let (mut effective, mut inheritable, mut permitted) = (0u64, 0u64, 0u64);
        for clause in text.split_whitespace() {
            let Some(operator_at) = clause.find(['=', '+', '-']) else {
                return Err(CapabilityError::MissingOperator(clause.to_owned()));
            };
            let (names, mut operations) = clause.split_at(operator_at);
            let mut mask = 0u64;
            if names.is_empty() || names.eq_ignore_ascii_case("all") {
                mask = ALL_CAPABILITIES;
            } else {
                for name in names.split(',') {
                    let number = capability_number(name)
                        .ok_or_else(|| CapabilityError::UnknownCapability(name.to_owned()))?;
                    mask |= 1 << number;
                }
            }
            while let Some(operator) = operations.chars().next() {
                let rest = &operations[1..];
                let flags_end = rest.find(['=', '+', '-']).unwrap_or(rest.len());
                let flags = &rest[..flags_end];
                operations = &rest[flags_end..];
                if operator == '=' {
                    // `=` first clears the named capabilities from every set.
                    effective &= !mask;
                    inheritable &= !mask;
                    permitted &= !mask;
                }
                for flag in flags.chars() {
                    let set = match flag.to_ascii_lowercase() {
                        'e' => &mut effective,
                        'i' => &mut inheritable,
                        'p' => &mut permitted,
                        other => return Err(CapabilityError::UnknownFlag(other)),
                    };
                    if operator == '-' {
                        *set &= !mask;
                    } else {
                        *set |= mask;
                    }
                }
            }
        }
        if permitted | inheritable == 0 {
            return Err(CapabilityError::Empty(text.to_owned()));
        }
        // A file has one effective bit: libcap's `_fcaps_save` refuses a set
        // whose effective capabilities are neither none nor all of the
        // permitted and inheritable ones.
        if effective != 0 && (permitted | inheritable) & !effective != 0 {
            return Err(CapabilityError::PartialEffective(text.to_owned()));
        }
        Ok(Self {
            permitted,
            inheritable,
            effective: effective != 0,
        })
    }

    /// Every capability named, permitted or inheritable: what a policy judges.
    #[must_use]
    pub fn requested(&self) -> u64 {
        self.permitted | self.inheritable
    }

    /// The `security.capability` value, `VFS_CAP_REVISION_2` as `setcap`
    /// writes it for root in the initial user namespace: little-endian
    /// `magic_etc`, then permitted and inheritable as two 32-bit halves each.
    #[must_use]
    pub fn to_xattr(&self) -> [u8; 20] {
        let mut bytes = [0u8; 20];
        let magic = REVISION_2 | if self.effective { FLAG_EFFECTIVE } else { 0 };
        bytes[0..4].copy_from_slice(&magic.to_le_bytes());
        for (half, shift) in [(0usize, 0u32), (1, 32)] {
            let at = 4 + half * 8;
            // Truncation is the point: each set is stored as two 32-bit words.
            #[allow(clippy::cast_possible_truncation)]
            let (permitted, inheritable) = (
                (self.permitted >> shift) as u32,
                (self.inheritable >> shift) as u32,
            );
            bytes[at..at + 4].copy_from_slice(&permitted.to_le_bytes());
            bytes[at + 4..at + 8].copy_from_slice(&inheritable.to_le_bytes());
        }
        bytes
    }

    /// Read a `security.capability` value of revision 1, 2 or 3 (the root id
    /// of revision 3 is not kept: pkgward only writes revision 2).
    ///
    /// # Errors
    /// A length or revision the kernel would not accept, or bits beyond the
    /// capabilities this module knows.
    pub fn from_xattr(bytes: &[u8]) -> Result<Self, CapabilityError> {
        let word = |at: usize| {
            bytes
                .get(at..at + 4)
                .and_then(|slice| <[u8; 4]>::try_from(slice).ok())
                .map(u32::from_le_bytes)
        };
        let magic = word(0).ok_or(CapabilityError::BadAttributeLength(bytes.len()))?;
        let halves = match (magic & REVISION_MASK, bytes.len()) {
            (REVISION_1, 12) => 1,
            (REVISION_2, 20) | (REVISION_3, 24) => 2,
            (REVISION_1 | REVISION_2 | REVISION_3, length) => {
                return Err(CapabilityError::BadAttributeLength(length))
            }
            (revision, _) => return Err(CapabilityError::UnknownRevision(revision)),
        };
        let (mut permitted, mut inheritable) = (0u64, 0u64);
        for half in 0..halves {
            let at = 4 + half * 8;
            let shift = 32 * half;
            permitted |= u64::from(word(at).unwrap_or(0)) << shift;
            inheritable |= u64::from(word(at + 4).unwrap_or(0)) << shift;
        }
        let unknown = (permitted | inheritable) & !ALL_CAPABILITIES;
        if unknown != 0 {
            return Err(CapabilityError::UnknownBits(unknown));
        }
        Ok(Self {
            permitted,
            inheritable,
            effective: magic & FLAG_EFFECTIVE != 0,
        })
    }
}

/// The canonical text form: one clause per distinct flag set, names in
/// capability-number order, flags in libcap's `eip` order
/// (`cap_net_admin,cap_net_raw=ep`), as `getcap` prints the usual cases.
impl fmt::Display for FileCapabilities {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let effective = if self.effective { self.requested() } else { 0 };
        let mut clauses: Vec<(String, u64)> = Vec::new();
        for number in 0..CAPABILITY_NAMES.len() {
            let bit = 1u64 << number;
            let mut flags = String::new();
            for (set, flag) in [
                (effective, 'e'),
                (self.inheritable, 'i'),
                (self.permitted, 'p'),
            ] {
                if set & bit != 0 {
                    flags.push(flag);
                }
            }
            if flags.is_empty() {
                continue;
            }
            match clauses.iter_mut().find(|(existing, _)| *existing == flags) {
                Some((_, mask)) => *mask |= bit,
                None => clauses.push((flags, bit)),
            }
        }
        for (index, (flags, mask)) in clauses.iter().enumerate() {
            if index > 0 {
                formatter.write_str(" ")?;
            }
            write!(formatter, "{}={flags}", capability_names(*mask).join(","))?;
        }
        Ok(())
    }
}

/// The file capabilities a package declares in its `File-Capabilities` field
/// (the `.rpm` reader writes one `PATH CAPS` line per file with `FILECAPS`),
/// as `(path, text)` pairs. The path is everything before the last space:
/// paths may hold spaces, capability text as rpm writes it does not.
#[must_use]
pub fn declared_in_field(field: Option<&str>) -> Vec<(&str, &str)> {
    field
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.rsplit_once(' '))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(names: &[&str]) -> u64 {
        names
            .iter()
            .map(|name| 1u64 << capability_number(name).unwrap())
            .fold(0, |all, bit| all | bit)
    }

    #[test]
    fn text_forms_parse_as_libcap_reads_them() {
        let cases: &[(&str, u64, u64, bool)] = &[
            ("cap_net_raw+ep", mask(&["cap_net_raw"]), 0, true),
            ("cap_net_raw=ep", mask(&["cap_net_raw"]), 0, true),
            (
                "cap_net_raw,cap_net_admin=ep",
                mask(&["cap_net_raw", "cap_net_admin"]),
                0,
                true,
            ),
            (
                "CAP_NET_BIND_SERVICE=p",
                mask(&["cap_net_bind_service"]),
                0,
                false,
            ),
            (
                "cap_net_admin,cap_net_raw+eip",
                mask(&["cap_net_admin", "cap_net_raw"]),
                mask(&["cap_net_admin", "cap_net_raw"]),
                true,
            ),
            (
                "cap_chown=p cap_kill+i",
                mask(&["cap_chown"]),
                mask(&["cap_kill"]),
                false,
            ),
            (
                "cap_net_raw,cap_kill=p cap_kill-p",
                mask(&["cap_net_raw"]),
                0,
                false,
            ),
            ("=ep", ALL_CAPABILITIES, 0, true),
            ("all=p", ALL_CAPABILITIES, 0, false),
            // The last clause wins for what it names (`=` resets).
            ("cap_kill=ep cap_kill=p", mask(&["cap_kill"]), 0, false),
        ];
        for (text, permitted, inheritable, effective) in cases {
            let parsed = FileCapabilities::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(
                (parsed.permitted, parsed.inheritable, parsed.effective),
                (*permitted, *inheritable, *effective),
                "{text}"
            );
            // The canonical text reads back as the same set.
            assert_eq!(
                FileCapabilities::parse(&parsed.to_string()),
                Ok(parsed),
                "{text}"
            );
        }
    }

    #[test]
    fn bad_text_forms_name_the_offending_part() {
        for (text, message) in [
            ("cap_net_rawx+ep", "unknown capability `cap_net_rawx`"),
            ("cap_net_raw", "capability clause `cap_net_raw` has no `=`, `+` or `-` operator"),
            ("cap_net_raw+ex", "unknown capability flag `x` (flags are `e`, `i` and `p`)"),
            ("", "no capabilities in ``"),
            ("cap_net_raw-ep", "no capabilities in `cap_net_raw-ep`"),
            (
                "cap_net_raw+ep cap_kill+p",
                "effective flag on only some capabilities in `cap_net_raw+ep cap_kill+p`: a file has one effective bit for all",
            ),
        ] {
            assert_eq!(
                FileCapabilities::parse(text).unwrap_err().to_string(),
                message,
                "{text}"
            );
        }
    }

    #[test]
    fn canonical_text_is_what_getcap_prints_for_the_usual_forms() {
        for (text, canonical) in [
            ("cap_net_raw+ep", "cap_net_raw=ep"),
            (
                "cap_net_raw,cap_net_admin=ep",
                "cap_net_admin,cap_net_raw=ep",
            ),
            ("cap_net_bind_service=p", "cap_net_bind_service=p"),
            (
                "cap_net_raw,cap_net_admin+eip",
                "cap_net_admin,cap_net_raw=eip",
            ),
        ] {
            assert_eq!(
                FileCapabilities::parse(text).unwrap().to_string(),
                canonical
            );
        }
    }

    #[test]
    fn the_attribute_is_revision_2_little_endian_and_reads_back() {
        let ping = FileCapabilities::parse("cap_net_raw+ep").unwrap();
        assert_eq!(
            ping.to_xattr(),
            [0x01, 0, 0, 0x02, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        // cap_bpf (39) lives in the second 32-bit half.
        let high = FileCapabilities::parse("cap_bpf,cap_perfmon=ip").unwrap();
        let bytes = high.to_xattr();
        assert_eq!(&bytes[0..4], &[0, 0, 0, 0x02]);
        assert_eq!(&bytes[12..16], &[0xc0, 0, 0, 0]);
        assert_eq!(&bytes[16..20], &[0xc0, 0, 0, 0]);
        for capabilities in [ping, high] {
            assert_eq!(
                FileCapabilities::from_xattr(&capabilities.to_xattr()),
                Ok(capabilities)
            );
        }
        // Revision 3 (a namespaced root id) and revision 1 read too.
        let mut v3 = ping.to_xattr().to_vec();
        v3[3] = 0x03;
        v3.extend_from_slice(&1000u32.to_le_bytes());
        assert_eq!(FileCapabilities::from_xattr(&v3), Ok(ping));
        let v1 = [0x01, 0, 0, 0x01, 0x00, 0x20, 0, 0, 0, 0, 0, 0];
        assert_eq!(FileCapabilities::from_xattr(&v1), Ok(ping));
    }

    #[test]
    fn malformed_attributes_are_errors() {
        assert_eq!(
            FileCapabilities::from_xattr(&[1, 2]),
            Err(CapabilityError::BadAttributeLength(2))
        );
        let mut short = FileCapabilities::parse("cap_kill=p")
            .unwrap()
            .to_xattr()
            .to_vec();
        short.pop();
        assert_eq!(
            FileCapabilities::from_xattr(&short),
            Err(CapabilityError::BadAttributeLength(19))
        );
        let mut unknown = [0u8; 20];
        unknown[3] = 0x07;
        assert_eq!(
            FileCapabilities::from_xattr(&unknown),
            Err(CapabilityError::UnknownRevision(0x0700_0000))
        );
        let mut beyond = [0u8; 20];
        beyond[3] = 0x02;
        beyond[15] = 0x80;
        assert!(matches!(
            FileCapabilities::from_xattr(&beyond),
            Err(CapabilityError::UnknownBits(_))
        ));
    }

    #[test]
    fn root_equivalent_names_are_known_capabilities() {
        assert_eq!(
            root_equivalent_mask().count_ones() as usize,
            ROOT_EQUIVALENT.len()
        );
        assert_eq!(
            root_equivalent_mask() & mask(&["cap_net_raw", "cap_net_bind_service"]),
            0
        );
    }

    #[test]
    fn the_rpm_field_splits_at_the_last_space() {
        assert_eq!(
            declared_in_field(Some("/usr/bin/a b cap_net_raw=ep\n/usr/sbin/c cap_kill=p")),
            vec![
                ("/usr/bin/a b", "cap_net_raw=ep"),
                ("/usr/sbin/c", "cap_kill=p")
            ]
        );
        assert!(declared_in_field(None).is_empty());
    }
}
