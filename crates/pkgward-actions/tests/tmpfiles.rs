//! tmpfiles.d: parsing (real corpus files, quoting, modifiers, verbatim
//! arguments), refusals (THREATS 32 `Z / 0777` and friends) and the plan.

use pkgward_actions::tmpfiles::{
    check_tmpfiles, parse_tmpfiles, path_glob_match, plan_tmpfiles, TmpfilesAction, TmpfilesGrant,
    TmpfilesType,
};

fn grant(paths: &[&str]) -> TmpfilesGrant {
    TmpfilesGrant {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        users: ["demo".to_owned()].into(),
        groups: ["demo".to_owned()].into(),
        ..TmpfilesGrant::default()
    }
}

fn refusals(text: &str, grant: &TmpfilesGrant) -> Vec<String> {
    let entries = parse_tmpfiles("demo.conf", text).expect("parse");
    check_tmpfiles("demo.conf", &entries, grant)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn corpus_files_parse_and_pass_with_their_grants() {
    // dbus-daemon's and polkitd's shipped files.
    let dbus = "d /var/lib/dbus 0755 - - -\n\nL /var/lib/dbus/machine-id - - - - /etc/machine-id\n\nd /run/dbus/containers 0755 messagebus - - -\n";
    let mut dbus_grant = grant(&["/var/lib/dbus/**", "/run/dbus/**"]);
    dbus_grant.users.insert("messagebus".to_owned());
    assert!(refusals(dbus, &dbus_grant).is_empty());
    let polkit = "d\t/etc/polkit-1/rules.d\t0700\tpolkitd\troot\t-\t-\nd\t/var/lib/polkit-1\t0700\tpolkitd\troot\t-\t-\n";
    let entries = parse_tmpfiles("polkitd.conf", polkit).unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].user.as_deref(), Some("polkitd"));
    let plan = plan_tmpfiles(&parse_tmpfiles("dbus.conf", dbus).unwrap()).unwrap();
    assert_eq!(
        plan[1],
        TmpfilesAction::CreateSymlink {
            path: "/var/lib/dbus/machine-id".into(),
            target: "/etc/machine-id".into(),
            replace: false
        }
    );
}

#[test]
fn modifiers_quotes_and_verbatim_arguments() {
    let entries = parse_tmpfiles("x.conf", "r! /etc/passwd.lock\nf+ \"/run/demo/a file\" 0640 demo demo - hello   world\nL+ /run/demo/link - - - - /target with space\n").unwrap();
    assert!(entries[0].boot_only && entries[0].kind == TmpfilesType::Remove);
    assert_eq!(entries[1].path, "/run/demo/a file");
    assert_eq!(entries[1].argument.as_deref(), Some("hello   world"));
    assert!(entries[1].plus);
    assert_eq!(entries[2].argument.as_deref(), Some("/target with space"));
    // `r!` is boot-only removal: nothing at install (`--create`).
    let plan = plan_tmpfiles(&entries).unwrap();
    assert_eq!(plan.len(), 2);
    assert_eq!(
        plan[0],
        TmpfilesAction::CreateFile {
            path: "/run/demo/a file".into(),
            mode: 0o640,
            user: "demo".into(),
            group: "demo".into(),
            content: Some("hello   world".into()),
            truncate: true
        }
    );
}

#[test]
fn recursive_chmod_of_root_is_refused() {
    let text = refusals("Z / 0777\n", &grant(&["/**"]));
    assert!(
        text.iter()
            .any(|r| r.contains("line 1: `Z`") && r.contains("recursively change the whole root")),
        "{text:?}"
    );
}

#[test]
fn recursive_remove_of_root_is_refused() {
    let text = refusals("R /\n", &grant(&["/**"]));
    assert!(
        text.iter()
            .any(|r| r.contains("`R`") && r.contains("whole root")),
        "{text:?}"
    );
}

#[test]
fn paths_outside_grants_are_refused() {
    let text = refusals(
        "w /proc/sys/kernel/core_pattern - - - - |/tmp/x\nd /run/demo 0755 demo demo -\n",
        &grant(&["/run/demo"]),
    );
    assert_eq!(text.len(), 1, "{text:?}");
    assert!(text[0].contains("`/proc/sys/kernel/core_pattern` is outside the package's grants"));
}

#[test]
fn device_nodes_setuid_and_world_writable_are_refused() {
    let g = grant(&["/run/demo/**"]);
    assert!(refusals("c /run/demo/mem 0600 - - - 1:1\n", &g)[0].contains("device node"));
    assert!(refusals("f /run/demo/x 4755\n", &g)[0].contains("setuid"));
    assert!(refusals("d /run/demo/spool 0777\n", &g)[0].contains("world-writable"));
    assert!(refusals("d /run/demo/spool 1777\n", &g).is_empty());
}

#[test]
fn owners_not_granted_are_refused() {
    let text = refusals("d /run/demo 0755 sshd shadow -\n", &grant(&["/run/demo"]));
    assert!(text.iter().any(|r| r.contains("owner `sshd`")), "{text:?}");
    assert!(
        text.iter().any(|r| r.contains("group `shadow`")),
        "{text:?}"
    );
}

#[test]
fn parse_errors_name_the_line() {
    let error = parse_tmpfiles("x.conf", "d /ok\nd relative/path\n").unwrap_err();
    assert_eq!(error.line, 2);
    assert!(error.reason.contains("not absolute"));
    assert!(parse_tmpfiles("x.conf", "d /run/%h\n")
        .unwrap_err()
        .reason
        .contains("specifier `%h`"));
    assert!(parse_tmpfiles("x.conf", "d /run/x 9999\n")
        .unwrap_err()
        .reason
        .contains("not an octal mode"));
    assert!(parse_tmpfiles("x.conf", "d /run/../etc\n")
        .unwrap_err()
        .reason
        .contains("not normalised"));
    assert!(parse_tmpfiles("x.conf", "Y /run/x\n")
        .unwrap_err()
        .reason
        .contains("unknown line type"));
}

#[test]
fn glob_semantics() {
    assert!(path_glob_match("/var/lib/demo/**", "/var/lib/demo"));
    assert!(path_glob_match("/var/lib/demo/**", "/var/lib/demo/a/b"));
    assert!(!path_glob_match("/var/lib/demo/**", "/var/lib/demoX"));
    assert!(path_glob_match("/run/demo*", "/run/demo.sock"));
    assert!(!path_glob_match("/run/demo*", "/run/demo/x"));
}
