//! rpm scriptlets reach the classifier as the rpm reader models them: a
//! `#!PROG` line, then the body. Lua scriptlets (`#!<lua>`) run inside the
//! package manager's own process, so they always need unconfined execution;
//! `/bin/sh` scriptlets are classified like any maintainer script.

use pkgward_actions::scripts::{classify_script, Classification, DerivedAction, ScriptContext};

fn context() -> ScriptContext {
    ScriptContext {
        package: "demo".to_owned(),
    }
}

#[test]
fn lua_scriptlets_need_unconfined() {
    let report = classify_script("postinst", b"#!<lua>\nprint(\"hello\")", &context());
    assert_eq!(report.classification, Classification::NeedsUnconfined);
    assert!(report.residue[0].needs_unconfined);
    assert!(
        report.residue[0].category.contains("Lua"),
        "{:?}",
        report.residue
    );
}

#[test]
fn shell_scriptlets_are_classified_like_maintainer_scripts() {
    let trivial = classify_script("postinst", b"#!/bin/sh\nexit 0\n", &context());
    assert_eq!(trivial.classification, Classification::FullyDeclarative);
    let perl = classify_script("prerm", b"#!/usr/bin/perl -w\nprint 'bye';\n", &context());
    assert_eq!(perl.classification, Classification::DeclarativeWithResidue);
    assert!(
        perl.residue[0].category.contains("perl"),
        "{:?}",
        perl.residue
    );
}

fn fedora(body: &str) -> pkgward_actions::scripts::ScriptReport {
    classify_script(
        "preinst",
        format!("#!/bin/sh\n{body}").as_bytes(),
        &context(),
    )
}

fn user(name: &str, group: &str, home: &str, shell: &str, gecos: &str) -> DerivedAction {
    DerivedAction::CreateSystemUser {
        name: name.to_owned(),
        group: Some(group.to_owned()),
        home: Some(home.to_owned()),
        shell: Some(shell.to_owned()),
        gecos: Some(gecos.to_owned()),
        uid: None,
    }
}

fn assert_fully_declarative(report: &pkgward_actions::scripts::ScriptReport) {
    assert_eq!(
        report.classification,
        Classification::FullyDeclarative,
        "{:?}",
        report.residue
    );
}

/// The classifier reports actions sorted and without duplicates.
fn sorted(mut actions: Vec<DerivedAction>) -> Vec<DerivedAction> {
    actions.sort();
    actions
}

fn group(name: &str) -> DerivedAction {
    DerivedAction::CreateSystemGroup {
        name: name.to_owned(),
        gid: None,
    }
}

/// Fedora's packaging guidelines (`UsersAndGroups`, "dynamic allocation"):
/// the `getent … ||` guard, then `groupadd -r`/`useradd -r`, then `exit 0`.
#[test]
fn the_fedora_guidelines_account_idiom_is_fully_declarative() {
    let report = fedora(
        "getent group foo >/dev/null || groupadd -r foo\n\
         getent passwd foo >/dev/null || \\\n    useradd -r -g foo -d /var/lib/foo -s /sbin/nologin \\\n    -c \"Foo daemon\" foo\n\
         exit 0\n",
    );
    assert_fully_declarative(&report);
    assert_eq!(
        sorted(vec![
            group("foo"),
            user("foo", "foo", "/var/lib/foo", "/sbin/nologin", "Foo daemon")
        ]),
        report.actions
    );
}

/// `%sysusers_create_compat` (systemd-rpm-macros) expands a sysusers.d file
/// through `sysusers.generate-pre.sh` into guarded `groupadd`/`useradd`
/// calls with quoted arguments and `|| :`, and `if` blocks when ids are
/// given; `m` lines become a guarded `usermod -a -G`.
#[test]
fn the_sysusers_create_compat_expansion_is_fully_declarative() {
    let report = fedora(
        "getent group 'foo' >/dev/null || groupadd -r 'foo' || :\n\
         getent passwd 'foo' >/dev/null || \\\n  useradd -r -g 'foo' -d '/var/lib/foo' -s '/usr/sbin/nologin' -c 'Foo daemon' 'foo' || :\n\
         getent group 'bar' >/dev/null || groupadd -f -g '355' -r 'bar' || :\n\
         if ! getent passwd 'bar' >/dev/null; then\n\
           if ! getent passwd '355' >/dev/null; then\n\
             useradd -r -u '355' -g 'bar' -d '/' -s '/usr/sbin/nologin' -c '' 'bar' || :\n\
           else\n\
             useradd -r -g 'bar' -d '/' -s '/usr/sbin/nologin' -c '' 'bar' || :\n\
           fi\n\
         fi\n\
         if getent group 'lock' >/dev/null; then\n\
           usermod -a -G 'lock' 'foo' || :\n\
         fi\n",
    );
    assert_fully_declarative(&report);
    assert!(
        report.actions.contains(&group("foo")),
        "{:?}",
        report.actions
    );
    assert!(
        report.actions.contains(&group("bar")),
        "{:?}",
        report.actions
    );
    assert!(
        report.actions.contains(&user(
            "foo",
            "foo",
            "/var/lib/foo",
            "/usr/sbin/nologin",
            "Foo daemon"
        )),
        "{:?}",
        report.actions
    );
    assert!(
        report
            .actions
            .contains(&user("bar", "bar", "/", "/usr/sbin/nologin", "")),
        "{:?}",
        report.actions
    );
    assert!(
        report.actions.contains(&DerivedAction::AddToGroup {
            user: "foo".to_owned(),
            group: "lock".to_owned()
        }),
        "{:?}",
        report.actions
    );
}

/// shadow-utils' other flags: `-M` (no home), `-N` (no user group: the
/// primary group is the `-g` one, or none), `-U` (a group named like the
/// user), `-l` (no lastlog entry), `--system` spelled out, `true`/`:`
/// after `||`.
#[test]
fn useradd_flags_and_guards_are_understood() {
    let report = fedora(
        "getent group web >/dev/null || groupadd --system web\n\
         getent passwd web >/dev/null || useradd -r -M -N -l -g web -s /sbin/nologin web || true\n\
         getent passwd solo >/dev/null || useradd --system -U -d /var/lib/solo solo || :\n\
         :\n",
    );
    assert_fully_declarative(&report);
    assert_eq!(
        report.actions,
        sorted(vec![
            group("web"),
            DerivedAction::CreateSystemUser {
                name: "web".to_owned(),
                group: Some("web".to_owned()),
                home: None,
                shell: Some("/sbin/nologin".to_owned()),
                gecos: None,
                uid: None,
            },
            DerivedAction::CreateSystemUser {
                name: "solo".to_owned(),
                group: Some("solo".to_owned()),
                home: Some("/var/lib/solo".to_owned()),
                shell: None,
                gecos: None,
                uid: None,
            },
        ])
    );
}

/// Fedora's soft-static allocation (`UsersAndGroups`: `-g`/`-u` with the id
/// from the uidgid list) keeps its ids; an id that is not a number is left
/// to the script.
#[test]
fn fixed_ids_are_kept_and_checked() {
    let report = fedora(
        "getent group mysql >/dev/null || groupadd -r -g 27 mysql\n\
         getent passwd mysql >/dev/null || useradd -r -u 27 -g mysql -d /var/lib/mysql -s /sbin/nologin mysql\n\
         getent passwd dbadm >/dev/null || useradd -r --uid 28 -g 27 dbadm\n",
    );
    assert_fully_declarative(&report);
    assert_eq!(
        report.actions,
        sorted(vec![
            DerivedAction::CreateSystemGroup {
                name: "mysql".to_owned(),
                gid: Some(27),
            },
            DerivedAction::CreateSystemUser {
                name: "mysql".to_owned(),
                group: Some("mysql".to_owned()),
                home: Some("/var/lib/mysql".to_owned()),
                shell: Some("/sbin/nologin".to_owned()),
                gecos: None,
                uid: Some(27),
            },
            DerivedAction::CreateSystemUser {
                name: "dbadm".to_owned(),
                group: Some("27".to_owned()),
                home: None,
                shell: None,
                gecos: None,
                uid: Some(28),
            },
        ])
    );
    let named = fedora("useradd -r -u mysql mysql\n");
    assert_ne!(named.classification, Classification::FullyDeclarative);
    assert!(
        named
            .residue
            .iter()
            .any(|residue| residue.category.contains("id `mysql` is not a number")),
        "{:?}",
        named.residue
    );
}

/// What is not an account declaration stays residue: a non-system
/// `useradd`, and `usermod` changing anything but supplementary groups
/// (`-aG`, the usual spelling of `-a -G`, only adds them).
#[test]
fn other_account_commands_stay_residue() {
    let login = fedora("useradd -m alice\n");
    assert_ne!(login.classification, Classification::FullyDeclarative);
    let shell = fedora("usermod -s /bin/bash foo\n");
    assert_eq!(shell.classification, Classification::NeedsUnconfined);
    let replace = fedora("usermod -G wheel foo\n");
    assert_eq!(replace.classification, Classification::NeedsUnconfined);
    let combined = fedora("usermod -aG lock,dialout foo\n");
    assert_fully_declarative(&combined);
    assert_eq!(
        combined.actions,
        sorted(vec![
            DerivedAction::AddToGroup {
                user: "foo".to_owned(),
                group: "dialout".to_owned()
            },
            DerivedAction::AddToGroup {
                user: "foo".to_owned(),
                group: "lock".to_owned()
            },
        ])
    );
}
