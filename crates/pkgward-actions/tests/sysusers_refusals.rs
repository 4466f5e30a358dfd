//! THREATS 31 (declarative user injection): every listed shape is refused,
//! either as invalid syntax (parse error naming the line) or by the check
//! against the grant, or by the edit plan (id collisions) — and a refused
//! input never yields an edit of the account files.

use pkgward_actions::sysusers::{
    check_sysusers, parse_sysusers, plan_account_edit, AccountEditConfig, AccountEditError,
    AccountFiles, AccountGrant, SystemIdRange,
};

fn grant(users: &[&str]) -> AccountGrant {
    AccountGrant {
        users: users.iter().map(|name| (*name).to_owned()).collect(),
        ..AccountGrant::default()
    }
}

/// Parses and checks; returns the combined error text ("" when accepted).
fn refusal_text(config: &str, grant: &AccountGrant) -> String {
    match parse_sysusers("test.conf", config) {
        Err(error) => error.to_string(),
        Ok(entries) => check_sysusers("test.conf", &entries, grant, SystemIdRange::default())
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

fn assert_refused(config: &str, grant: &AccountGrant, expected_fragment: &str) {
    let text = refusal_text(config, grant);
    assert!(
        text.contains(expected_fragment),
        "expected a refusal containing {expected_fragment:?} for {config:?}, got {text:?}"
    );
}

#[test]
fn accepted_service_user_passes() {
    assert_eq!(
        refusal_text("u redis - \"Redis\" /var/lib/redis\n", &grant(&["redis"])),
        ""
    );
}

#[test]
fn name_starting_with_digit_is_refused() {
    assert_refused("u 0day -\n", &grant(&["0day"]), "must start with a letter");
}

#[test]
fn root_is_refused_when_not_granted() {
    assert_refused(
        "u root -\n",
        &grant(&["redis"]),
        "user `root` is not granted",
    );
}

#[test]
fn plus_name_is_refused() {
    assert_refused("u + -\n", &grant(&["+"]), "must start with a letter");
}

#[test]
fn colon_in_name_is_refused() {
    assert_refused("u a:b -\n", &grant(&["a:b"]), "contains `:`");
}

#[test]
fn leading_dash_and_overlong_names_are_refused() {
    assert_refused("g -wheel -\n", &grant(&[]), "must start with a letter");
    let long = "a".repeat(32);
    assert_refused(&format!("u {long} -\n"), &grant(&[&long]), "longer than 31");
}

#[test]
fn newline_in_gecos_is_refused() {
    // A quoted GECOS cannot continue on the next line: the quote is unterminated.
    assert_refused(
        "u svc - \"x\nroot2:x:0:0::/:/bin/sh\"\n",
        &grant(&["svc"]),
        "unterminated",
    );
    // A carriage return or other control character inside the field.
    assert_refused(
        "u svc - \"x\ry\"\n",
        &grant(&["svc"]),
        "would corrupt the passwd line",
    );
}

#[test]
fn colon_in_gecos_home_or_shell_is_refused() {
    assert_refused("u svc - \"a:0:0\"\n", &grant(&["svc"]), "GECOS");
    assert_refused("u svc - - /var/lib/a:b\n", &grant(&["svc"]), "home");
}

#[test]
fn uid_and_gid_zero_are_refused() {
    assert_refused("u svc 0\n", &grant(&["svc"]), "uid 0 is root's");
    assert_refused("u svc 500:0\n", &grant(&["svc"]), "gid 0 is root's");
    assert_refused("g svc 0\n", &grant(&["svc"]), "gid 0 is root's");
}

#[test]
fn uid_outside_system_range_is_refused() {
    assert_refused("u svc 1000\n", &grant(&["svc"]), "outside the system range");
    assert_refused("r - 0-2000\n", &grant(&[]), "leaves the system range");
}

#[test]
fn home_root_directory_is_refused() {
    assert_refused("u svc - - /\n", &grant(&["svc"]), "home `/`");
}

#[test]
fn login_shell_for_system_user_is_refused_unless_granted() {
    assert_refused(
        "u svc - - /var/lib/svc /bin/sh\n",
        &grant(&["svc"]),
        "login shell `/bin/sh`",
    );
    let mut allowing = grant(&["svc"]);
    allowing.login_shells = true;
    assert_eq!(
        refusal_text("u svc - - /var/lib/svc /bin/sh\n", &allowing),
        ""
    );
    assert_eq!(
        refusal_text(
            "u svc - - /var/lib/svc /usr/sbin/nologin\n",
            &grant(&["svc"])
        ),
        ""
    );
}

#[test]
fn privileged_group_membership_is_refused_unless_granted() {
    for group in ["root", "sudo", "adm", "shadow", "disk"] {
        assert_refused(
            &format!("m svc {group}\n"),
            &grant(&["svc"]),
            &format!("privileged group `{group}`"),
        );
    }
    assert_refused("u svc -:sudo\n", &grant(&["svc"]), "primary group `sudo`");
    let mut allowing = grant(&["svc"]);
    allowing.privileged_groups.insert("adm".to_owned());
    assert_eq!(refusal_text("m svc adm\n", &allowing), "");
}

#[test]
fn host_dependent_specifiers_are_refused_and_percent_escape_works() {
    assert_refused(
        "u svc - \"on %H\"\n",
        &grant(&["svc"]),
        "specifier `%H` is not supported",
    );
    let entries = parse_sysusers("t.conf", "u svc - \"100%% busy\"\n").expect("parse");
    assert!(format!("{entries:?}").contains("100% busy"));
}

#[test]
fn uid_from_file_owner_is_refused() {
    assert_refused(
        "u svc /var/lib/svc\n",
        &grant(&["svc"]),
        "depend on the host",
    );
}

#[test]
fn uid_colliding_with_existing_user_is_refused_and_files_untouched() {
    let files = AccountFiles {
        passwd: Some(
            b"root:x:0:0:root:/root:/bin/bash\nold:x:500:500::/:/usr/sbin/nologin\n".to_vec(),
        ),
        group: Some(b"root:x:0:\nold:x:500:\n".to_vec()),
        shadow: None,
        gshadow: None,
    };
    let entries = parse_sysusers("t.conf", "u svc 500\n").expect("parse");
    assert!(check_sysusers(
        "t.conf",
        &entries,
        &grant(&["svc"]),
        SystemIdRange::default()
    )
    .is_empty());
    let error = plan_account_edit(&entries, &files, &AccountEditConfig::default()).unwrap_err();
    assert!(
        matches!(error, AccountEditError::IdInUse { id: 500, .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("already used by `old`"),
        "{error}"
    );
}

#[test]
fn locked_accounts_use_bang_star_never_empty_or_double_bang() {
    let entries = parse_sysusers("t.conf", "u svc -\nu! locked -\n").expect("parse");
    let edit = plan_account_edit(
        &entries,
        &AccountFiles::default(),
        &AccountEditConfig::default(),
    )
    .expect("plan");
    let shadow = String::from_utf8(edit.shadow.expect("shadow written")).expect("utf-8");
    assert_eq!(shadow, "svc:!*:0::::::\nlocked:!*:0:::::1:\n");
    assert!(!shadow.contains("!!"));
}

#[test]
fn existing_lines_are_kept_byte_for_byte() {
    // Odd but valid spacing in an existing GECOS must survive untouched.
    let passwd = b"root:x:0:0:Root  User ,,,:/root:/bin/bash\n".to_vec();
    let files = AccountFiles {
        passwd: Some(passwd.clone()),
        ..AccountFiles::default()
    };
    let entries = parse_sysusers("t.conf", "u svc -\n").expect("parse");
    let edit = plan_account_edit(&entries, &files, &AccountEditConfig::default()).expect("plan");
    let new_passwd = edit.passwd.expect("passwd written");
    assert!(new_passwd.starts_with(&passwd));
    assert_eq!(
        &new_passwd[passwd.len()..],
        b"svc:x:999:999::/:/usr/sbin/nologin\n"
    );
}

#[test]
fn parse_errors_name_the_line() {
    let error = parse_sysusers("x.conf", "# comment\n\nu ok -\nq bad -\n").unwrap_err();
    assert_eq!(error.line, 4);
    assert!(
        error
            .to_string()
            .starts_with("`x.conf` line 4: unknown line type `q`"),
        "{error}"
    );
}
