//! The built-in catalog of guarded locations: places where a file makes code
//! run (autoexec), changes who may do what (privilege), changes the kernel's
//! behaviour (kernel) or is shared system state that pkgward itself edits
//! through content-checked actions (state).
//!
//! A broad grant (`/**`, `/etc/**`) never covers these: a grant must name the
//! location's id (`cron`), its class (`autoexec`), or a pattern that reaches
//! into it (`/etc/cron.d/backup`, `/etc/cron.d/*`). The list was started
//! from what real Debian 12 packages ship and from the places attackers use
//! for persistence (MITRE ATT&CK T1053, T1037, T1543, T1546, T1547, T1574).
//!
//! Patterns are written in merged-`/usr` form; the unmerged `/lib`, `/bin`,
//! `/sbin` spellings are added when the catalog is compiled, so a root
//! without usrmerge links is guarded too.

use serde::Serialize;
use std::fmt;

/// What kind of power a guarded location confers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum GuardedClass {
    /// A file here is executed or sourced by something else, often as root.
    Autoexec,
    /// A file here changes authentication, authorisation or trust.
    Privilege,
    /// A file here changes kernel behaviour or loads kernel code.
    Kernel,
    /// Shared system state pkgward edits itself through checked actions.
    State,
}

impl GuardedClass {
    pub const ALL: [Self; 4] = [Self::Autoexec, Self::Privilege, Self::Kernel, Self::State];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Autoexec => "autoexec",
            Self::Privilege => "privilege",
            Self::Kernel => "kernel",
            Self::State => "state",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|class| class.as_str() == text)
    }
}

impl fmt::Display for GuardedClass {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// One catalog location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuardedLocation {
    /// Short id a grant names: `guarded = ["cron"]`.
    pub id: String,
    pub class: GuardedClass,
    /// Path patterns (merged-`/usr` form).
    pub patterns: Vec<String>,
    /// One line: why a file here is dangerous.
    pub reason: String,
}

use GuardedClass::{Autoexec, Kernel, Privilege, State};

/// `(id, class, patterns, reason)`. More specific locations come first: a
/// path is attributed to the first location that matches it.
pub const CATALOG: &[(&str, GuardedClass, &[&str], &str)] = &[
    (
        "systemd-generators",
        Autoexec,
        &[
            "/usr/lib/systemd/system-generators/**",
            "/usr/lib/systemd/user-generators/**",
            "/usr/lib/systemd/system-environment-generators/**",
            "/usr/lib/systemd/user-environment-generators/**",
            "/etc/systemd/system-generators/**",
            "/etc/systemd/user-generators/**",
            "/usr/local/lib/systemd/system-generators/**",
        ],
        "generators run as root early at every boot and on every daemon-reload",
    ),
    (
        "systemd-presets",
        Autoexec,
        &[
            "/usr/lib/systemd/system-preset/**",
            "/usr/lib/systemd/user-preset/**",
            "/etc/systemd/system-preset/**",
            "/etc/systemd/user-preset/**",
        ],
        "presets decide which units get enabled, including other packages' units",
    ),
    (
        "systemd-sleep-hooks",
        Autoexec,
        &[
            "/usr/lib/systemd/system-sleep/**",
            "/usr/lib/systemd/system-shutdown/**",
            "/etc/pm/sleep.d/**",
        ],
        "executables run as root on suspend, resume and shutdown",
    ),
    (
        "systemd-units",
        Autoexec,
        &[
            "/usr/lib/systemd/system/**",
            "/etc/systemd/system/**",
            "/usr/local/lib/systemd/system/**",
            "/run/systemd/system/**",
        ],
        "system units start programs as root (or any user) at boot and on activation",
    ),
    (
        "systemd-user-units",
        Autoexec,
        &["/usr/lib/systemd/user/**", "/etc/systemd/user/**"],
        "user units start programs in every user's session",
    ),
    (
        "systemd-config",
        Autoexec,
        &["/etc/systemd/**", "/usr/lib/systemd/**"],
        "systemd manager, networkd, resolved and logind configuration and helpers run as root",
    ),
    (
        "sysv-init",
        Autoexec,
        &["/etc/init.d/**", "/etc/rc?.d/**", "/etc/inittab"],
        "init scripts run as root at boot and on service changes",
    ),
    (
        "rc-local",
        Autoexec,
        &["/etc/rc.local"],
        "run as root at the end of boot",
    ),
    (
        "inetd",
        Autoexec,
        &["/etc/inetd.conf", "/etc/xinetd.conf", "/etc/xinetd.d/**"],
        "binds network services that run programs, often as root",
    ),
    (
        "init-defaults",
        Autoexec,
        &["/etc/default/**"],
        "sourced as shell by init scripts and helpers running as root",
    ),
    (
        "cron",
        Autoexec,
        &["/etc/cron.d/**"],
        "cron runs these job lines, as any user including root",
    ),
    (
        "cron-periodic",
        Autoexec,
        &[
            "/etc/cron.hourly/**",
            "/etc/cron.daily/**",
            "/etc/cron.weekly/**",
            "/etc/cron.monthly/**",
            "/etc/cron.yearly/**",
        ],
        "run-parts executes these as root on a schedule",
    ),
    (
        "crontab",
        Autoexec,
        &[
            "/etc/crontab",
            "/etc/anacrontab",
            "/var/spool/cron/**",
            "/etc/cron.allow",
            "/etc/cron.deny",
            "/etc/at.allow",
            "/etc/at.deny",
        ],
        "the system crontab, per-user crontabs and at jobs run as their owner",
    ),
    (
        "shell-profile",
        Autoexec,
        &["/etc/profile", "/etc/profile.d/**"],
        "sourced by every login shell of every user, including root",
    ),
    (
        "shell-rc",
        Autoexec,
        &[
            "/etc/bash.bashrc",
            "/etc/bash.bash_logout",
            "/etc/zsh/**",
            "/etc/fish/**",
            "/etc/csh.cshrc",
            "/etc/csh.login",
            "/etc/skel/**",
        ],
        "sourced by interactive shells, or copied into every new home directory",
    ),
    (
        "environment",
        Autoexec,
        &[
            "/etc/environment",
            "/etc/environment.d/**",
            "/usr/lib/environment.d/**",
        ],
        "sets variables such as LD_PRELOAD and PATH for every session",
    ),
    (
        "shell-completion",
        Autoexec,
        &[
            "/usr/share/bash-completion/**",
            "/etc/bash_completion",
            "/etc/bash_completion.d/**",
            "/usr/share/zsh/vendor-completions/**",
            "/usr/share/zsh/functions/**",
            "/usr/share/fish/vendor_completions.d/**",
            "/usr/share/fish/vendor_conf.d/**",
        ],
        "sourced into every interactive shell, including root's",
    ),
    (
        "sudoers",
        Privilege,
        &[
            "/etc/sudoers",
            "/etc/sudoers.d/**",
            "/etc/sudo.conf",
            "/etc/doas.conf",
        ],
        "grants root to users and commands",
    ),
    (
        "sudo-plugins",
        Privilege,
        &["/usr/libexec/sudo/**", "/usr/lib/sudo/**"],
        "code loaded into sudo, which runs setuid root",
    ),
    (
        "pam-config",
        Privilege,
        &["/etc/pam.d/**", "/usr/lib/pam.d/**", "/etc/pam.conf"],
        "decides how every login and privilege change authenticates",
    ),
    (
        "pam-modules",
        Privilege,
        &[
            "/usr/lib/*/security/**",
            "/usr/lib/security/**",
            "/usr/lib64/security/**",
        ],
        "shared objects loaded into every authenticating process",
    ),
    (
        "security-config",
        Privilege,
        &["/etc/security/**", "/etc/login.defs", "/etc/securetty"],
        "limits, access rules, namespaces and pam_env variables for logins",
    ),
    (
        "nss-config",
        Privilege,
        &["/etc/nsswitch.conf"],
        "decides which modules answer user, group and host lookups",
    ),
    (
        "nss-modules",
        Privilege,
        &[
            "/usr/lib/*/libnss_*",
            "/usr/lib/libnss_*",
            "/usr/lib64/libnss_*",
        ],
        "shared objects loaded into every process that looks up a user or host",
    ),
    (
        "ld-so-config",
        Privilege,
        &["/etc/ld.so.conf", "/etc/ld.so.conf.d/**"],
        "adds library directories searched by every dynamically linked program",
    ),
    (
        "ld-so-preload",
        Privilege,
        &["/etc/ld.so.preload"],
        "a library injected into every process, including setuid ones",
    ),
    (
        "udev-rules",
        Autoexec,
        &[
            "/etc/udev/rules.d/**",
            "/usr/lib/udev/rules.d/**",
            "/run/udev/rules.d/**",
        ],
        "rules run programs as root on device events",
    ),
    (
        "udev-helpers",
        Autoexec,
        &["/usr/lib/udev/**", "/etc/udev/**"],
        "helpers and hwdb used by udev, running as root",
    ),
    (
        "modprobe",
        Kernel,
        &["/etc/modprobe.d/**", "/usr/lib/modprobe.d/**"],
        "`install` lines run arbitrary commands as root when a module loads",
    ),
    (
        "modules-load",
        Kernel,
        &[
            "/etc/modules-load.d/**",
            "/usr/lib/modules-load.d/**",
            "/etc/modules",
        ],
        "loads kernel modules at boot",
    ),
    (
        "sysctl",
        Kernel,
        &[
            "/etc/sysctl.d/**",
            "/usr/lib/sysctl.d/**",
            "/etc/sysctl.conf",
        ],
        "changes kernel parameters (core_pattern can run a program as root)",
    ),
    (
        "binfmt",
        Kernel,
        &["/etc/binfmt.d/**", "/usr/lib/binfmt.d/**"],
        "registers interpreters the kernel runs for matching executables",
    ),
    (
        "kernel-modules",
        Kernel,
        &["/usr/lib/modules/**", "/usr/lib/firmware/**"],
        "kernel code and firmware loaded into the kernel",
    ),
    (
        "boot",
        Kernel,
        &["/boot/**", "/etc/grub.d/**", "/usr/lib/grub/**"],
        "boot loader, kernels and the scripts update-grub runs as root",
    ),
    (
        "kernel-hooks",
        Autoexec,
        &["/etc/kernel/**", "/usr/lib/kernel/**"],
        "run as root whenever a kernel is installed or removed",
    ),
    (
        "initramfs-hooks",
        Autoexec,
        &[
            "/etc/initramfs-tools/**",
            "/usr/share/initramfs-tools/**",
            "/usr/lib/dracut/**",
            "/etc/dracut.conf.d/**",
        ],
        "code copied into and run from the initramfs, as root, before the real root",
    ),
    (
        "dbus-system-services",
        Autoexec,
        &[
            "/usr/share/dbus-1/system-services/**",
            "/usr/lib/dbus-1.0/**",
        ],
        "the system bus starts these programs, often as root, on demand",
    ),
    (
        "dbus-session-services",
        Autoexec,
        &["/usr/share/dbus-1/services/**"],
        "the session bus starts these programs in every user's session",
    ),
    (
        "dbus-policy",
        Privilege,
        &[
            "/usr/share/dbus-1/system.d/**",
            "/etc/dbus-1/**",
            "/usr/share/dbus-1/session.d/**",
        ],
        "decides who may own and call privileged bus names",
    ),
    (
        "polkit-actions",
        Privilege,
        &["/usr/share/polkit-1/actions/**"],
        "declares privileged actions and who may perform them without a password",
    ),
    (
        "polkit-rules",
        Privilege,
        &[
            "/etc/polkit-1/**",
            "/usr/share/polkit-1/rules.d/**",
            "/var/lib/polkit-1/**",
        ],
        "JavaScript rules that authorise privileged actions",
    ),
    (
        "xdg-autostart",
        Autoexec,
        &["/etc/xdg/autostart/**", "/usr/share/gnome/autostart/**"],
        "started in every graphical session",
    ),
    (
        "x-session",
        Autoexec,
        &[
            "/etc/X11/Xsession",
            "/etc/X11/Xsession.d/**",
            "/etc/X11/xinit/**",
            "/etc/X11/Xreset.d/**",
        ],
        "sourced as shell when an X session starts",
    ),
    (
        "display-manager-hooks",
        Autoexec,
        &["/etc/gdm3/**", "/etc/lightdm/**", "/etc/sddm.conf.d/**"],
        "login-manager scripts run as root around each session",
    ),
    (
        "apt-config",
        Autoexec,
        &["/etc/apt/apt.conf", "/etc/apt/apt.conf.d/**"],
        "`DPkg::Pre-Invoke` and friends run commands as root on every apt run",
    ),
    (
        "apt-sources",
        Privilege,
        &["/etc/apt/sources.list", "/etc/apt/sources.list.d/**"],
        "decides where every later package comes from",
    ),
    (
        "apt-keys",
        Privilege,
        &[
            "/etc/apt/trusted.gpg",
            "/etc/apt/trusted.gpg.d/**",
            "/etc/apt/keyrings/**",
        ],
        "keys trusted to sign every later package",
    ),
    (
        "apt-preferences",
        Privilege,
        &["/etc/apt/preferences", "/etc/apt/preferences.d/**"],
        "pins can replace any package with a version from another source",
    ),
    (
        "dpkg-config",
        Autoexec,
        &["/etc/dpkg/dpkg.cfg", "/etc/dpkg/dpkg.cfg.d/**"],
        "`pre-invoke`/`post-invoke` run commands as root on every dpkg run",
    ),
    (
        "package-database",
        State,
        &[
            "/var/lib/dpkg/**",
            "/var/lib/pkgward/**",
            "/etc/alternatives/**",
            "/var/lib/dpkg/alternatives/**",
        ],
        "package manager state: editing it lies about what is installed",
    ),
    (
        "pkgward-policy",
        Privilege,
        &["/etc/pkgward/**"],
        "pkgward's own policy: a package must never widen its own grants",
    ),
    (
        "network-hooks",
        Autoexec,
        &[
            "/etc/NetworkManager/dispatcher.d/**",
            "/usr/lib/NetworkManager/dispatcher.d/**",
            "/etc/networkd-dispatcher/**",
            "/usr/lib/networkd-dispatcher/**",
            "/etc/network/if-*.d/**",
            "/etc/dhcp/dhclient-enter-hooks.d/**",
            "/etc/dhcp/dhclient-exit-hooks.d/**",
        ],
        "scripts run as root when network interfaces change state",
    ),
    (
        "ppp-hooks",
        Autoexec,
        &["/etc/ppp/**"],
        "ip-up/ip-down scripts run as root",
    ),
    (
        "resolvconf-hooks",
        Autoexec,
        &["/etc/resolvconf/**"],
        "update scripts run as root on DNS changes",
    ),
    (
        "logrotate",
        Autoexec,
        &["/etc/logrotate.conf", "/etc/logrotate.d/**"],
        "`postrotate`/`prerotate` scripts run as root daily",
    ),
    (
        "syslog-config",
        Autoexec,
        &["/etc/rsyslog.conf", "/etc/rsyslog.d/**"],
        "rsyslog can pipe messages into programs it runs as root",
    ),
    (
        "acpi-events",
        Autoexec,
        &["/etc/acpi/**"],
        "acpid runs these actions as root on hardware events",
    ),
    (
        "motd",
        Autoexec,
        &["/etc/update-motd.d/**"],
        "run as root by pam_motd at every login",
    ),
    (
        "python-pth",
        Autoexec,
        &[
            "/usr/lib/python3/dist-packages/*.pth",
            "/usr/lib/python3*/dist-packages/*.pth",
            "/usr/lib/python3*/site-packages/*.pth",
            "/usr/local/lib/python3*/dist-packages/*.pth",
            "/usr/local/lib/python3*/site-packages/*.pth",
        ],
        "`import` lines in .pth files run at the start of every Python process",
    ),
    (
        "python-customize",
        Autoexec,
        &[
            "/usr/lib/python3/dist-packages/sitecustomize.py",
            "/usr/lib/python3/dist-packages/usercustomize.py",
            "/usr/lib/python3*/sitecustomize.py",
            "/usr/lib/python3*/usercustomize.py",
            "/etc/python3*/sitecustomize.py",
            "/usr/local/lib/python3*/dist-packages/sitecustomize.py",
        ],
        "imported automatically by every Python process",
    ),
    (
        "apparmor",
        Privilege,
        &["/etc/apparmor.d/**", "/etc/apparmor/**"],
        "confinement profiles: replacing one unconfines a program",
    ),
    (
        "selinux",
        Privilege,
        &["/etc/selinux/**"],
        "mandatory access control policy",
    ),
    (
        "tls-trust",
        Privilege,
        &[
            "/etc/ssl/certs/**",
            "/usr/share/ca-certificates/**",
            "/usr/local/share/ca-certificates/**",
            "/etc/ca-certificates.conf",
            "/etc/ca-certificates/**",
            "/etc/ssl/openssl.cnf",
        ],
        "certificate authorities every TLS client trusts",
    ),
    (
        "ssh-config",
        Privilege,
        &["/etc/ssh/**"],
        "sshd and ssh configuration, host keys and authorized-keys commands",
    ),
    (
        "account-database",
        State,
        &[
            "/etc/passwd",
            "/etc/group",
            "/etc/shadow",
            "/etc/gshadow",
            "/etc/subuid",
            "/etc/subgid",
            "/etc/passwd-",
            "/etc/group-",
            "/etc/shadow-",
            "/etc/gshadow-",
        ],
        "users and groups: pkgward edits these only through checked sysusers actions",
    ),
    (
        "login-shells",
        State,
        &["/etc/shells"],
        "which programs count as login shells (chsh, ftp, …)",
    ),
    (
        "mount-table",
        State,
        &["/etc/fstab", "/etc/crypttab"],
        "what gets mounted at boot, with which options",
    ),
    (
        "tmpfiles",
        State,
        &["/etc/tmpfiles.d/**", "/usr/lib/tmpfiles.d/**"],
        "creates, chowns and removes paths as root at boot (`Z / 0777`)",
    ),
    (
        "sysusers",
        State,
        &["/etc/sysusers.d/**", "/usr/lib/sysusers.d/**"],
        "declares users and groups; applied by pkgward after content checks",
    ),
    (
        "home-directories",
        Autoexec,
        &["/root/**", "/home/**"],
        "dotfiles in a home directory run in that user's shells and sessions",
    ),
];

/// The catalog as owned values (built-in entries only).
pub fn builtin_locations() -> Vec<GuardedLocation> {
    CATALOG
        .iter()
        .map(|(id, class, patterns, reason)| GuardedLocation {
            id: (*id).to_owned(),
            class: *class,
            patterns: patterns.iter().map(|p| (*p).to_owned()).collect(),
            reason: (*reason).to_owned(),
        })
        .collect()
}

/// The unmerged spellings of a merged-`/usr` pattern: `/usr/lib/x` is also
/// `/lib/x` on a root without usrmerge links.
pub fn unmerged_variants(pattern: &str) -> Vec<String> {
    let mut variants = vec![pattern.to_owned()];
    for directory in ["bin", "sbin", "lib", "lib64"] {
        let prefix = format!("/usr/{directory}/");
        if let Some(rest) = pattern.strip_prefix(&prefix) {
            variants.push(format!("/{directory}/{rest}"));
        }
    }
    variants
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::PathPattern;
    use std::collections::HashSet;

    #[test]
    fn catalog_is_large_valid_and_unique() {
        assert!(
            CATALOG.len() >= 45,
            "catalog has {} locations",
            CATALOG.len()
        );
        let mut ids = HashSet::new();
        for (id, _, patterns, reason) in CATALOG {
            assert!(ids.insert(*id), "duplicate id `{id}`");
            assert!(!reason.is_empty() && !reason.ends_with('.'));
            for pattern in *patterns {
                PathPattern::parse(pattern).unwrap_or_else(|e| panic!("{id}: {e}"));
            }
        }
        for class in GuardedClass::ALL {
            assert!(
                CATALOG.iter().any(|entry| entry.1 == class),
                "no location of class {class}"
            );
        }
    }

    #[test]
    fn unmerged_variants_cover_lib() {
        assert_eq!(
            unmerged_variants("/usr/lib/systemd/system/**"),
            vec!["/usr/lib/systemd/system/**", "/lib/systemd/system/**"]
        );
    }
}
