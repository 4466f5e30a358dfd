//! THREATS 32 (systemd unit content): every case is refused with the
//! directive and line named; parser edge cases; presets.

use pkgward_actions::units::{
    check_unit_file, parse_presets, parse_unit, preset_enables, ServiceGrant,
};
use pkgward_actions::Refusal;

fn grant() -> ServiceGrant {
    ServiceGrant {
        units: ["demo.service", "demo.socket", "demo@.service"]
            .into_iter()
            .map(str::to_owned)
            .collect(),
        users: ["demo".to_owned()].into(),
        groups: ["demo".to_owned()].into(),
        ..ServiceGrant::default()
    }
}

fn check(path: &str, text: &str) -> Vec<Refusal> {
    check_unit_file(path, Some(text), &grant())
}

fn assert_refused(refusals: &[Refusal], directive: &str, line: usize, fragment: &str) {
    assert!(
        refusals
            .iter()
            .any(|r| r.directive == directive && r.line == line && r.reason.contains(fragment)),
        "expected `{directive}` at line {line} containing {fragment:?}, got {refusals:#?}"
    );
}

const GOOD: &str = "[Unit]\nDescription=Demo\n[Service]\nUser=demo\nGroup=demo\nExecStart=-/usr/bin/demo\nExecStartPre=@/usr/bin/demo-check demo-check\n[Install]\nWantedBy=multi-user.target\n";

#[test]
fn granted_service_passes() {
    assert!(check("/lib/systemd/system/demo.service", GOOD).is_empty());
}

#[test]
fn privileged_exec_prefixes_are_refused() {
    for prefix in ["+", "!", "!!", "-+", "@!"] {
        let text = format!(
            "[Service]\nUser=demo\nExecStartPre={prefix}/bin/sh -c 'id'\nExecStart=/usr/bin/demo\n"
        );
        assert_refused(
            &check("/lib/systemd/system/demo.service", &text),
            "ExecStartPre",
            3,
            "full privileges",
        );
    }
    let mut allowing = grant();
    allowing.privileged_exec = true;
    let text = "[Service]\nUser=demo\nExecStartPre=+/bin/true\nExecStart=/usr/bin/demo\n";
    assert!(check_unit_file("/lib/systemd/system/demo.service", Some(text), &allowing).is_empty());
}

#[test]
fn missing_user_means_root_and_is_refused() {
    let refusals = check(
        "/lib/systemd/system/demo.service",
        "[Unit]\nDescription=x\n[Service]\nExecStart=/usr/bin/demo\n",
    );
    assert_refused(&refusals, "User", 3, "runs as root");
    // DynamicUser is fine without a named user.
    assert!(check(
        "/lib/systemd/system/demo.service",
        "[Service]\nDynamicUser=yes\nExecStart=/usr/bin/demo\n"
    )
    .is_empty());
}

#[test]
fn user_root_and_foreign_users_are_refused() {
    assert_refused(
        &check(
            "/lib/systemd/system/demo.service",
            "[Service]\nUser=root\nExecStart=/x\n",
        ),
        "User",
        2,
        "runs the service as root",
    );
    assert_refused(
        &check(
            "/lib/systemd/system/demo.service",
            "[Service]\nUser=demo\nGroup=shadow\nExecStart=/x\n",
        ),
        "Group",
        3,
        "`shadow` is not granted",
    );
    assert_refused(
        &check(
            "/lib/systemd/system/demo.service",
            "[Service]\nUser=demo\nSupplementaryGroups=demo disk\nExecStart=/x\n",
        ),
        "SupplementaryGroups",
        3,
        "`disk` is not granted",
    );
    assert_refused(
        &check(
            "/lib/systemd/system/demo.service",
            "[Service]\nUser=%u\nExecStart=/x\n",
        ),
        "User",
        2,
        "specifier",
    );
}

#[test]
fn duplicate_service_section_with_later_root_user_is_refused() {
    let text = "[Service]\nUser=demo\nExecStart=/usr/bin/demo\n[Install]\nWantedBy=multi-user.target\n[Service]\nUser=root\n";
    let refusals = check("/lib/systemd/system/demo.service", text);
    assert_refused(&refusals, "User", 7, "root");
    let unit = parse_unit("demo.service", text).unwrap();
    assert_eq!(unit.last_value("Service", "User").unwrap().value, "root");
}

#[test]
fn line_continuation_cannot_hide_exec_start() {
    // The continued comment-looking text is part of `Description=`, but the
    // backslash-joined `ExecStartPre=` on the next lines is a real directive.
    let text = "[Service]\nUser=demo\nDescription=harmless \\\n  text\nExecStartPre=\\\n+/bin/sh -c evil\nExecStart=/usr/bin/demo\n";
    let refusals = check("/lib/systemd/system/demo.service", text);
    assert_refused(&refusals, "ExecStartPre", 5, "full privileges");
    let unit = parse_unit("demo.service", text).unwrap();
    assert_eq!(
        unit.values("Service", "ExecStartPre")[0].value,
        "+/bin/sh -c evil"
    );
}

#[test]
fn comments_inside_continuations_are_skipped() {
    let unit = parse_unit(
        "x.service",
        "[Service]\nExecStart=/bin/echo a \\\n# comment\n  b\n",
    )
    .unwrap();
    assert_eq!(
        unit.values("Service", "ExecStart")[0].value,
        "/bin/echo a  b"
    );
}

#[test]
fn ambient_capabilities_and_bounding_set_widening_are_refused() {
    let refusals = check("/lib/systemd/system/demo.service", "[Service]\nUser=demo\nAmbientCapabilities=CAP_NET_BIND_SERVICE cap_sys_admin\nExecStart=/x\n");
    assert_refused(&refusals, "AmbientCapabilities", 3, "`CAP_SYS_ADMIN`");
    assert_refused(
        &refusals,
        "AmbientCapabilities",
        3,
        "`CAP_NET_BIND_SERVICE`",
    );
    let refusals = check(
        "/lib/systemd/system/demo.service.d/override.conf",
        "[Service]\nCapabilityBoundingSet=CAP_SYS_ADMIN\n",
    );
    assert_refused(&refusals, "CapabilityBoundingSet", 2, "widens");
    let refusals = check(
        "/lib/systemd/system/demo.service",
        "[Service]\nUser=demo\nCapabilityBoundingSet=\nExecStart=/x\n",
    );
    assert_refused(&refusals, "CapabilityBoundingSet", 3, "all capabilities");
    // Narrowing in the unit itself is fine.
    assert!(check(
        "/lib/systemd/system/demo.service",
        "[Service]\nUser=demo\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\nExecStart=/x\n"
    )
    .is_empty());
}

#[test]
fn drop_in_into_another_packages_unit_is_refused() {
    let refusals = check(
        "/usr/lib/systemd/system/ssh.service.d/override.conf",
        "[Service]\nExecStartPost=/usr/bin/demo\n",
    );
    assert_refused(&refusals, "drop-in", 1, "`ssh.service`");
    // Into its own unit it is fine.
    assert!(check(
        "/lib/systemd/system/demo.service.d/limits.conf",
        "[Service]\nLimitNOFILE=65536\n"
    )
    .is_empty());
}

#[test]
fn alias_and_also_of_foreign_units_are_refused() {
    let text =
        "[Service]\nUser=demo\nExecStart=/x\n[Install]\nAlias=getty@.service\nAlso=ssh.service\n";
    let refusals = check("/lib/systemd/system/demo.service", text);
    assert_refused(&refusals, "Alias", 5, "`getty@.service`");
    assert_refused(&refusals, "Also", 6, "`ssh.service`");
}

#[test]
fn generators_are_refused_unless_granted() {
    let refusals = check_unit_file(
        "/usr/lib/systemd/system-generators/demo-generator",
        None,
        &grant(),
    );
    assert_eq!(refusals[0].directive, "generator");
    let mut allowing = grant();
    allowing.generators = true;
    assert!(check_unit_file(
        "/lib/systemd/system-generators/demo-generator",
        None,
        &allowing
    )
    .is_empty());
}

#[test]
fn unit_names_not_owned_are_refused_and_instances_of_owned_templates_pass() {
    assert_refused(
        &check("/lib/systemd/system/getty@.service", GOOD),
        "unit",
        1,
        "not granted",
    );
    assert!(check("/lib/systemd/system/demo@.service", GOOD).is_empty());
}

#[test]
fn parse_errors_name_the_line() {
    let error = parse_unit("x.service", "[Service]\nUser=demo\nnot an assignment\n").unwrap_err();
    assert_eq!(error.line, 3);
    let error = parse_unit("x.service", "User=demo\n").unwrap_err();
    assert!(
        error.to_string().contains("outside of any section"),
        "{error}"
    );
    let error = parse_unit("x.service", "[Service\n").unwrap_err();
    assert!(error.reason.contains("malformed section header"));
}

#[test]
fn presets_first_match_wins_and_default_enables() {
    let rules = parse_presets(
        "90-demo.preset",
        "# comment\nenable demo*.service\ndisable *\n",
    )
    .unwrap();
    assert!(preset_enables(&rules, "demo.service"));
    assert!(preset_enables(&rules, "demo-extra.service"));
    assert!(!preset_enables(&rules, "ssh.service"));
    assert!(preset_enables(&[], "anything.service"));
    let rules = parse_presets("x.preset", "disable ssh.service\nenable s[st]h.service\n").unwrap();
    assert!(!preset_enables(&rules, "ssh.service"));
    assert!(preset_enables(&rules, "sth.service"));
    let error = parse_presets("x.preset", "maybe foo.service\n").unwrap_err();
    assert!(error.reason.contains("unknown preset verb `maybe`"));
}
