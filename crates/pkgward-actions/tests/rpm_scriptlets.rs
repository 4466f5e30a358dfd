//! rpm scriptlets reach the classifier as the rpm reader models them: a
//! `#!PROG` line, then the body. Lua scriptlets (`#!<lua>`) run inside the
//! package manager's own process, so they always need unconfined execution;
//! `/bin/sh` scriptlets are classified like any maintainer script.

use pkgward_actions::scripts::{classify_script, Classification, ScriptContext};

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
