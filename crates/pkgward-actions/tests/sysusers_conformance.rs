//! Conformance: the edit plan of `pkgward_actions::sysusers` must produce the
//! same four account files as `systemd-sysusers --root R` (Debian 12:
//! systemd 252) for the same inputs. Each case writes a temp root, runs the
//! real tool on it, and compares bytes with the pure plan applied to the same
//! starting files. Skips loudly when `systemd-sysusers` is absent.
#![allow(clippy::disallowed_methods, clippy::print_stderr)]

use pkgward_actions::sysusers::{
    parse_sysusers, plan_account_edit, AccountEditConfig, AccountFiles,
};
use std::path::Path;
use std::process::Command;

/// A Debian-like base (first lines of base-passwd's `passwd.master`).
const BASE_PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
bin:x:2:2:bin:/bin:/usr/sbin/nologin\n\
sys:x:3:3:sys:/dev:/usr/sbin/nologin\n\
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n\
_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\n\
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const BASE_GROUP: &str = "root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nadm:x:4:\n\
www-data:x:33:\nstaff:x:50:\nnogroup:x:65534:\n";
const BASE_SHADOW: &str = "root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n\
bin:*:19000:0:99999:7:::\nsys:*:19000:0:99999:7:::\nwww-data:*:19000:0:99999:7:::\n\
_apt:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n";
const BASE_GSHADOW: &str = "root:*::\ndaemon:*::\nbin:*::\nsys:*::\nadm:*::\n\
www-data:*::\nstaff:*::\nnogroup:*::\n";

/// `SOURCE_DATE_EPOCH` for the tool; the plan gets the same day count.
const EPOCH_SECONDS: u64 = 20_000 * 86_400;

fn sysusers_available() -> bool {
    Command::new("systemd-sysusers")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

fn read_optional(path: &Path) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

/// Runs both implementations on `files` + `config_text` and compares.
fn assert_same_as_sysusers(case: &str, files: &AccountFiles, config_text: &str) {
    if !sysusers_available() {
        eprintln!("SKIPPED {case}: `systemd-sysusers` is not installed (apt-get install systemd)");
        return;
    }
    let temp = tempfile::tempdir().expect("temp dir");
    let root = temp.path().join("root");
    let etc = root.join("etc");
    std::fs::create_dir_all(&etc).expect("mkdir etc");
    for (name, content) in [
        ("passwd", &files.passwd),
        ("group", &files.group),
        ("shadow", &files.shadow),
        ("gshadow", &files.gshadow),
    ] {
        if let Some(bytes) = content {
            std::fs::write(etc.join(name), bytes).expect("write account file");
        }
    }
    let config_path = temp.path().join(format!("{case}.conf"));
    std::fs::write(&config_path, config_text).expect("write config");
    let output = Command::new("systemd-sysusers")
        .arg("--root")
        .arg(&root)
        .arg(&config_path)
        .env("SOURCE_DATE_EPOCH", EPOCH_SECONDS.to_string())
        .env("SYSTEMD_LOG_LEVEL", "info")
        .output()
        .expect("run systemd-sysusers");
    assert!(
        output.status.success(),
        "{case}: systemd-sysusers failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let entries = parse_sysusers(&format!("{case}.conf"), config_text).expect("parse");
    let config = AccountEditConfig {
        days_since_epoch: EPOCH_SECONDS / 86_400,
        ..AccountEditConfig::default()
    };
    let edit = plan_account_edit(&entries, files, &config).expect("plan");
    for (name, before, planned) in [
        ("passwd", &files.passwd, &edit.passwd),
        ("group", &files.group, &edit.group),
        ("shadow", &files.shadow, &edit.shadow),
        ("gshadow", &files.gshadow, &edit.gshadow),
    ] {
        let expected = read_optional(&etc.join(name));
        let ours = planned.clone().or_else(|| before.clone());
        assert_eq!(
            ours.as_deref().map(String::from_utf8_lossy),
            expected.as_deref().map(String::from_utf8_lossy),
            "{case}: `{name}` differs from systemd-sysusers (tool said: {})",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

fn debian_base() -> AccountFiles {
    AccountFiles {
        passwd: Some(BASE_PASSWD.as_bytes().to_vec()),
        group: Some(BASE_GROUP.as_bytes().to_vec()),
        shadow: Some(BASE_SHADOW.as_bytes().to_vec()),
        gshadow: Some(BASE_GSHADOW.as_bytes().to_vec()),
    }
}

#[test]
fn real_corpus_sysusers_files_match() {
    // The three sysusers.d files shipped in the corpus (dbus, polkitd,
    // systemd-timesyncd), applied together in one run.
    let config = "u messagebus - \"System Message Bus\"\n\
                  u polkitd - \"polkit\" /nonexistent\n\
                  u systemd-timesync - \"systemd Time Synchronization\"\n";
    assert_same_as_sysusers("corpus", &debian_base(), config);
}

#[test]
fn groups_first_shared_counter_and_ranges_match() {
    let config = "g grp1 -\n\
                  u usr1 - \"User One\" /var/lib/usr1\n\
                  u bar 900:grp1\n\
                  g g2 850\n\
                  m usr1 g2\n\
                  m usr1 newgrp\n\
                  r - 500-700\n\
                  u late -\n";
    assert_same_as_sysusers("ranges", &debian_base(), config);
}

#[test]
fn existing_group_reused_as_uid_and_nis_lines_kept_last() {
    let mut files = debian_base();
    files.passwd = Some(format!("{BASE_PASSWD}+::::::\n").into_bytes());
    files.group = Some(format!("{BASE_GROUP}foo:x:998:\n").into_bytes());
    let config = "u foo -\nu other - - /var/lib/other /bin/false\n";
    assert_same_as_sysusers("reuse", &files, config);
}

#[test]
fn members_merge_sorted_and_implicit_items_match() {
    let mut files = debian_base();
    files.group = Some(format!("{BASE_GROUP}svc:x:500:zed,b\n").into_bytes());
    files.gshadow = Some(format!("{BASE_GSHADOW}svc:!*::zed,b\n").into_bytes());
    let config = "m zz svc\nm aa svc\nm zz newg\nm aa newg\nm zz svc\n";
    assert_same_as_sysusers("members", &files, config);
}

#[test]
fn empty_root_without_files_matches() {
    let config = "g first -\nu second 400\nu third -:first\nu fourth 401:401\n";
    let files = AccountFiles::default();
    // `u fourth 401:401` names gid 401, which `u second 400`'s group does
    // not create; drop it so both tools succeed.
    let config = config.replace("u fourth 401:401\n", "");
    assert_same_as_sysusers("empty", &files, &config);
}

#[test]
fn missing_trailing_newline_is_repaired_like_sysusers() {
    let mut files = debian_base();
    files.passwd = Some(BASE_PASSWD.trim_end().as_bytes().to_vec());
    assert_same_as_sysusers("newline", &files, "u svc -\n");
}
