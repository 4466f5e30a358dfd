//! Robustness: every parser and the classifier return errors or residue on
//! arbitrary input and never panic (a malicious package must not be able to
//! crash an audit or an install).

use proptest::prelude::*;

/// Strings biased towards the characters the parsers treat specially.
fn tricky_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("'".to_owned()),
            Just("\"".to_owned()),
            Just("\\".to_owned()),
            Just("\n".to_owned()),
            Just("$".to_owned()),
            Just("${".to_owned()),
            Just("$(".to_owned()),
            Just("`".to_owned()),
            Just("(".to_owned()),
            Just(")".to_owned()),
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just(";;".to_owned()),
            Just("<<".to_owned()),
            Just("<<-".to_owned()),
            Just("EOF".to_owned()),
            Just(" ".to_owned()),
            Just("if ".to_owned()),
            Just("then ".to_owned()),
            Just("fi".to_owned()),
            Just("case ".to_owned()),
            Just(" in ".to_owned()),
            Just("esac".to_owned()),
            Just("for x in a b; do ".to_owned()),
            Just("done".to_owned()),
            Just("f() ".to_owned()),
            Just("rm -rf /x".to_owned()),
            Just("[Service]".to_owned()),
            Just("User=".to_owned()),
            Just("%".to_owned()),
            Just("#".to_owned()),
            Just("=".to_owned()),
            Just(":".to_owned()),
            Just("u ".to_owned()),
            Just("m ".to_owned()),
            Just("d /run/x 0755".to_owned()),
            Just("é".to_owned()),
            Just("\u{0}".to_owned()),
            "[a-z0-9/_.-]{0,6}".prop_map(|s| s),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn shell_parser_and_classifier_never_panic(text in tricky_text()) {
        let _ = pkgward_actions::shell::parse_script(&text);
        let context = pkgward_actions::scripts::ScriptContext { package: "demo".to_owned() };
        let _ = pkgward_actions::scripts::classify_script("postinst", format!("#!/bin/sh\n{text}").as_bytes(), &context);
    }

    #[test]
    fn declarative_parsers_never_panic(text in tricky_text()) {
        let _ = pkgward_actions::sysusers::parse_sysusers("x.conf", &text);
        if let Ok(entries) = pkgward_actions::sysusers::parse_sysusers("x.conf", &text) {
            let _ = pkgward_actions::sysusers::plan_account_edit(&entries, &pkgward_actions::sysusers::AccountFiles::default(), &pkgward_actions::sysusers::AccountEditConfig::default());
        }
        let _ = pkgward_actions::units::parse_unit("x.service", &text);
        let _ = pkgward_actions::units::check_unit_file("/lib/systemd/system/x.service", Some(&text), &pkgward_actions::units::ServiceGrant::default());
        if let Ok(entries) = pkgward_actions::tmpfiles::parse_tmpfiles("x.conf", &text) {
            let _ = pkgward_actions::tmpfiles::plan_tmpfiles(&entries);
        }
        let _ = pkgward_actions::alternatives::parse_alternative("x", &text);
        let _ = pkgward_actions::units::parse_presets("x.preset", &text);
    }
}
