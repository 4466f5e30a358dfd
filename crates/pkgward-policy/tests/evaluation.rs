//! Data-driven decision tests: one `check(policy, grants, request, expect)`
//! helper, many tiny cases, one per rule type and precedence rule. Cases are
//! named after what they pin.

use pkgward_policy::evaluate::{InstalledOwner, Layer, Request, Subject, Verdict};
use pkgward_policy::version::Version;
use pkgward_policy::{load, AliasTable, CompiledPolicy, PolicyInput, ScriptMode, SourceFile};

const ADMIN: &str = r#"
[[repo]]
name = "debian"
ceiling = { paths = ["/**"], guarded = ["*"], users = ["*"], groups = ["*"], services = ["*"], setuid = ["*"], scripts = "sandboxed" }

[[repo]]
name = "vendor"
ceiling = { paths = ["/opt/vendor/**", "/usr/share/applications/vendor*.desktop"], scripts = "none" }

[[override]]
package = "*"
deny = { paths = ["/etc/apt/**"] }

[[override]]
package = "blocked"
deny = { paths = ["/**"], users = ["*"], services = ["*"], setuid = ["*"], scripts = "sandboxed" }

[[override]]
package = "trusted"
repo = "debian"
allow = { paths = ["/srv/trusted/**"], users = ["root"], scripts = "unconfined" }
"#;

/// What a case expects: the verdict and the layer that decided.
struct Expect(Verdict, Layer);

#[allow(clippy::too_many_arguments)]
fn check_with(
    policy: &str,
    grants: &str,
    repo: &str,
    name: &str,
    version: &str,
    installed: &[InstalledOwner],
    request: Request<'_>,
    expect: &Expect,
) {
    let mut input = PolicyInput::default();
    if !policy.is_empty() {
        input.policy_files.push(SourceFile {
            name: "policy.toml",
            text: policy,
        });
    }
    if !grants.is_empty() {
        input.grants_files.push((
            repo.to_owned(),
            SourceFile {
                name: "grants.toml",
                text: grants,
            },
        ));
    }
    let policy = load(&input).unwrap_or_else(|e| panic!("{e}"));
    let compiled = CompiledPolicy::new(policy, AliasTable::usrmerge());
    let version = Version::parse(version).unwrap();
    let subject = Subject {
        repo,
        name,
        version: &version,
    };
    let rules = compiled.for_subject(&subject, installed).unwrap();
    let decision = rules.decide(&request);
    // The allocation-free judgement is the same decision before its words.
    let judgement = rules.judge(&request);
    assert_eq!(judgement.verdict(), decision.verdict, "{request}");
    assert_eq!(
        judgement.canonical_path(),
        decision.canonical_path.as_deref(),
        "{request}"
    );
    assert_eq!(
        judgement.guarded_location().map(|l| l.id.as_str()),
        decision.guarded.as_ref().map(|g| g.id.as_str()),
        "{request}"
    );
    assert_eq!(judgement.into_decision(), decision, "{request}");
    assert_eq!(
        (decision.verdict, decision.because.layer),
        (expect.0, expect.1),
        "{request} for `{name}` {version}: {decision:#?}"
    );
    if decision.verdict == Verdict::Deny {
        assert!(
            decision.hint.is_some(),
            "a denial must carry a hint: {decision:#?}"
        );
    }
}

fn check(grants: &str, name: &str, request: Request<'_>, expect: &Expect) {
    check_with(ADMIN, grants, "debian", name, "1.0-1", &[], request, expect);
}

use Layer::{Canonical, Catalog, Ceiling, Delegation, Grant, Override};
use Verdict::{Allow, Deny, Forbid};

const REDIS: &str = r#"
[[grant]]
package = "redis-server"
version = ">= 5:7.0, << 5:8"
paths = ["/etc/redis/**", "/var/lib/redis/**", "/usr/bin/redis-*", "/usr/share/doc/{name}/**"]
users = ["redis"]
groups = ["redis"]
services = ["redis-server", "redis-server@"]
scripts = "sandboxed"

[[grant]]
package = "everything"
paths = ["/**"]

[[grant]]
package = "cronjob"
paths = ["/**"]
guarded = ["cron"]

[[grant]]
package = "exact-cron"
paths = ["/etc/cron.d/exact-cron"]

[[grant]]
package = "class-autoexec"
paths = ["/etc/**"]
guarded = ["autoexec"]

[[grant]]
package = "setuid-tool"
paths = ["/usr/bin/*"]
setuid = ["/usr/bin/setuid-tool"]

[[grant]]
package = "root-service"
services = ["root-service"]
users = ["root"]

[[grant]]
package = "star-users"
users = ["*"]
groups = ["*"]
services = ["*"]

[[grant]]
package = "blocked"
paths = ["/**"]
users = ["*"]
scripts = "sandboxed"

[[grant]]
package = "python3-*"
paths = ["/usr/share/doc/{name}/**"]
"#;

#[test]
fn path_grants_with_name_placeholder_and_version_constraint() {
    let v = |version: &str, path: &str, expect: Expect| {
        check_with(
            ADMIN,
            REDIS,
            "debian",
            "redis-server",
            version,
            &[],
            Request::Place { path },
            &expect,
        );
    };
    v("5:7.0.15-1", "/usr/bin/redis-server", Expect(Allow, Grant));
    v(
        "5:7.0.15-1",
        "/usr/share/doc/redis-server/copyright",
        Expect(Allow, Grant),
    );
    v(
        "5:7.0.15-1",
        "/usr/share/doc/other/copyright",
        Expect(Deny, Grant),
    );
    v("5:7.0.15-1", "/usr/bin/redis/nested", Expect(Deny, Grant));
    // The version constraint uses dpkg ordering: 5:8~rc1 < 5:8, 7.0 < 5:7.0.
    v("5:8~rc1", "/usr/bin/redis-server", Expect(Allow, Grant));
    v("5:8", "/usr/bin/redis-server", Expect(Deny, Grant));
    v("7.0", "/usr/bin/redis-server", Expect(Deny, Grant));
}

#[test]
fn broad_grants_never_cover_guarded_paths() {
    check(
        REDIS,
        "everything",
        Request::Place {
            path: "/etc/cron.d/x",
        },
        &Expect(Deny, Catalog),
    );
    check(
        REDIS,
        "everything",
        Request::Place {
            path: "/etc/sudoers.d/x",
        },
        &Expect(Deny, Catalog),
    );
    check(
        REDIS,
        "everything",
        Request::Place {
            path: "/usr/lib/x86_64-linux-gnu/security/pam_x.so",
        },
        &Expect(Deny, Catalog),
    );
    check(
        REDIS,
        "everything",
        Request::Place { path: "/etc/x" },
        &Expect(Allow, Grant),
    );
    check(
        REDIS,
        "cronjob",
        Request::Place {
            path: "/etc/cron.d/x",
        },
        &Expect(Allow, Grant),
    );
    check(
        REDIS,
        "cronjob",
        Request::Place {
            path: "/etc/cron.daily/x",
        },
        &Expect(Deny, Catalog),
    );
    check(
        REDIS,
        "exact-cron",
        Request::Place {
            path: "/etc/cron.d/exact-cron",
        },
        &Expect(Allow, Grant),
    );
    check(
        REDIS,
        "exact-cron",
        Request::Place {
            path: "/etc/cron.d/other",
        },
        &Expect(Deny, Catalog),
    );
    check(
        REDIS,
        "class-autoexec",
        Request::Place {
            path: "/etc/cron.daily/x",
        },
        &Expect(Allow, Grant),
    );
    check(
        REDIS,
        "class-autoexec",
        Request::Place {
            path: "/etc/sudoers.d/x",
        },
        &Expect(Deny, Catalog),
    );
}

#[test]
fn cron_under_a_double_star_grant_names_the_class_and_hints_the_grant() {
    let policy = load(&PolicyInput {
        policy_files: vec![SourceFile {
            name: "policy.toml",
            text: ADMIN,
        }],
        grants_files: vec![(
            "debian".into(),
            SourceFile {
                name: "grants.toml",
                text: REDIS,
            },
        )],
    })
    .unwrap();
    let compiled = CompiledPolicy::new(policy, AliasTable::usrmerge());
    let version = Version::parse("1").unwrap();
    let rules = compiled
        .for_subject(
            &Subject {
                repo: "debian",
                name: "everything",
                version: &version,
            },
            &[],
        )
        .unwrap();
    let decision = rules.decide(&Request::Place {
        path: "/etc/cron.d/x",
    });
    assert_eq!(decision.verdict, Deny);
    assert_eq!(decision.guarded.as_ref().unwrap().id, "cron");
    assert!(
        decision
            .because
            .rule
            .contains("guarded location `cron` (autoexec"),
        "{}",
        decision.because.rule
    );
    assert!(
        decision.because.rule.contains("grants.toml:"),
        "{}",
        decision.because.rule
    );
    let hint = decision.hint.unwrap();
    assert!(hint.contains("guarded = [\"cron\"]"), "{hint}");
}

#[test]
fn ceilings_cap_grants() {
    let vendor = r#"
[[grant]]
package = "tool"
paths = ["/opt/vendor/**", "/usr/bin/tool"]
scripts = "sandboxed"
users = ["tool"]
"#;
    let v =
        |request, expect| check_with(ADMIN, vendor, "vendor", "tool", "1", &[], request, &expect);
    v(
        Request::Place {
            path: "/opt/vendor/bin/tool",
        },
        Expect(Allow, Grant),
    );
    v(
        Request::Place {
            path: "/usr/bin/tool",
        },
        Expect(Deny, Ceiling),
    );
    v(
        Request::Scripts {
            mode: ScriptMode::Sandboxed,
        },
        Expect(Deny, Ceiling),
    );
    v(
        Request::User {
            name: "tool",
            uid_zero: false,
        },
        Expect(Deny, Ceiling),
    );
    v(
        Request::Place {
            path: "/usr/share/applications/vendor-tool.desktop",
        },
        Expect(Deny, Grant),
    );
}

#[test]
fn deny_overrides_win_over_grants_and_allow_overrides() {
    check(
        REDIS,
        "everything",
        Request::Place {
            path: "/etc/apt/sources.list.d/x.list",
        },
        &Expect(Forbid, Override),
    );
    check(
        REDIS,
        "everything",
        Request::Place { path: "/etc/apt/x" },
        &Expect(Forbid, Override),
    );
    check(
        REDIS,
        "blocked",
        Request::Place { path: "/usr/bin/x" },
        &Expect(Forbid, Override),
    );
    check(
        REDIS,
        "blocked",
        Request::User {
            name: "x",
            uid_zero: false,
        },
        &Expect(Forbid, Override),
    );
    check(
        REDIS,
        "blocked",
        Request::Scripts {
            mode: ScriptMode::Sandboxed,
        },
        &Expect(Forbid, Override),
    );
    check(
        REDIS,
        "blocked",
        Request::Setuid { path: "/usr/bin/x" },
        &Expect(Forbid, Override),
    );
    check(
        REDIS,
        "blocked",
        Request::Service {
            unit: "x.service",
            runs_as: None,
        },
        &Expect(Forbid, Override),
    );
}

#[test]
fn allow_overrides_extend_past_grants_and_ceiling() {
    check(
        REDIS,
        "trusted",
        Request::Place {
            path: "/srv/trusted/data",
        },
        &Expect(Allow, Override),
    );
    check(
        REDIS,
        "trusted",
        Request::User {
            name: "root",
            uid_zero: false,
        },
        &Expect(Allow, Override),
    );
    check(
        REDIS,
        "trusted",
        Request::Scripts {
            mode: ScriptMode::Unconfined,
        },
        &Expect(Allow, Override),
    );
    // The override is scoped to repo `debian`: the same name from `vendor`
    // gets nothing from it.
    check_with(
        ADMIN,
        "[[grant]]\npackage = \"x\"\npaths = [\"/opt/vendor/x\"]\n",
        "vendor",
        "trusted",
        "1",
        &[],
        Request::Place {
            path: "/srv/trusted/data",
        },
        &Expect(Deny, Grant),
    );
}

#[test]
fn users_groups_services_and_privileged_names() {
    check(
        REDIS,
        "redis-server",
        Request::User {
            name: "redis",
            uid_zero: false,
        },
        &Expect(Deny, Grant),
    );
    check_with(
        ADMIN,
        REDIS,
        "debian",
        "redis-server",
        "5:7.0",
        &[],
        Request::User {
            name: "redis",
            uid_zero: false,
        },
        &Expect(Allow, Grant),
    );
    check(
        REDIS,
        "star-users",
        Request::User {
            name: "anything",
            uid_zero: false,
        },
        &Expect(Allow, Grant),
    );
    check(
        REDIS,
        "star-users",
        Request::User {
            name: "root",
            uid_zero: false,
        },
        &Expect(Deny, Grant),
    );
    check(
        REDIS,
        "star-users",
        Request::User {
            name: "evil",
            uid_zero: true,
        },
        &Expect(Deny, Grant),
    );
    check(
        REDIS,
        "star-users",
        Request::Group { name: "staff2" },
        &Expect(Allow, Grant),
    );
    check(
        REDIS,
        "star-users",
        Request::Group { name: "sudo" },
        &Expect(Deny, Grant),
    );
    check(
        REDIS,
        "star-users",
        Request::Service {
            unit: "x.service",
            runs_as: Some("x"),
        },
        &Expect(Allow, Grant),
    );
    check(
        REDIS,
        "star-users",
        Request::Service {
            unit: "x.service",
            runs_as: Some("root"),
        },
        &Expect(Deny, Grant),
    );
    check(
        REDIS,
        "root-service",
        Request::Service {
            unit: "root-service.service",
            runs_as: Some("root"),
        },
        &Expect(Allow, Grant),
    );
    check(
        REDIS,
        "root-service",
        Request::Service {
            unit: "other.service",
            runs_as: Some("root"),
        },
        &Expect(Deny, Grant),
    );
    check_with(
        ADMIN,
        REDIS,
        "debian",
        "redis-server",
        "5:7.0",
        &[],
        Request::Service {
            unit: "redis-server@.service",
            runs_as: Some("redis"),
        },
        &Expect(Allow, Grant),
    );
}

#[test]
fn setuid_needs_its_own_grant() {
    check(
        REDIS,
        "setuid-tool",
        Request::Setuid {
            path: "/usr/bin/setuid-tool",
        },
        &Expect(Allow, Grant),
    );
    check(
        REDIS,
        "setuid-tool",
        Request::Setuid {
            path: "/bin/setuid-tool",
        },
        &Expect(Allow, Grant),
    );
    check(
        REDIS,
        "setuid-tool",
        Request::Setuid {
            path: "/usr/bin/other",
        },
        &Expect(Deny, Grant),
    );
    check(
        REDIS,
        "everything",
        Request::Setuid { path: "/usr/bin/x" },
        &Expect(Deny, Grant),
    );
}

#[test]
fn script_modes_are_ordered() {
    check(
        REDIS,
        "blocked",
        Request::Scripts {
            mode: ScriptMode::None,
        },
        &Expect(Allow, Grant),
    );
    check_with(
        ADMIN,
        REDIS,
        "debian",
        "redis-server",
        "5:7.0",
        &[],
        Request::Scripts {
            mode: ScriptMode::Sandboxed,
        },
        &Expect(Allow, Grant),
    );
    check_with(
        ADMIN,
        REDIS,
        "debian",
        "redis-server",
        "5:7.0",
        &[],
        Request::Scripts {
            mode: ScriptMode::Unconfined,
        },
        &Expect(Deny, Grant),
    );
    check(
        REDIS,
        "everything",
        Request::Scripts {
            mode: ScriptMode::Sandboxed,
        },
        &Expect(Deny, Grant),
    );
}

const DELEGATION: &str = r#"
[[grant]]
package = "python3"
paths = ["/usr/lib/python3/**"]

[[grant]]
package = "python3-*"
paths = ["/usr/share/doc/{name}/**"]

[[delegate]]
owner = "python3"
path = "/usr/lib/python3/dist-packages/**"
to = { package = "python3-*" }
except = ["**/*.so"]
"#;

#[test]
fn delegations_apply_only_from_installed_owners_and_respect_except() {
    let owner = InstalledOwner {
        package: "python3".into(),
        repo: "debian".into(),
        directories: vec![
            "/usr/lib/python3".into(),
            "/usr/lib/python3/dist-packages".into(),
        ],
    };
    let v = |installed: &[InstalledOwner], name: &str, path: &str, expect: Expect| {
        check_with(
            ADMIN,
            DELEGATION,
            "debian",
            name,
            "1",
            installed,
            Request::Place { path },
            &expect,
        );
    };
    v(
        std::slice::from_ref(&owner),
        "python3-yaml",
        "/usr/lib/python3/dist-packages/yaml/__init__.py",
        Expect(Allow, Delegation),
    );
    v(
        &[],
        "python3-yaml",
        "/usr/lib/python3/dist-packages/yaml/__init__.py",
        Expect(Deny, Grant),
    );
    v(
        std::slice::from_ref(&owner),
        "python3-yaml",
        "/usr/lib/python3/dist-packages/_yaml.so",
        Expect(Deny, Grant),
    );
    v(
        std::slice::from_ref(&owner),
        "other",
        "/usr/lib/python3/dist-packages/x.py",
        Expect(Deny, Grant),
    );
    // Delegations never cover guarded paths: a `.pth` file runs code in every
    // Python process.
    v(
        std::slice::from_ref(&owner),
        "python3-yaml",
        "/usr/lib/python3/dist-packages/evil.pth",
        Expect(Deny, Catalog),
    );
    // The owner must own the directory.
    let not_owner = InstalledOwner {
        directories: vec!["/usr/lib/python3".into()],
        ..owner.clone()
    };
    v(
        &[not_owner],
        "python3-yaml",
        "/usr/lib/python3/dist-packages/yaml/x.py",
        Expect(Deny, Grant),
    );
}

#[test]
fn delegation_carries_its_chain() {
    let policy = load(&PolicyInput {
        policy_files: vec![SourceFile {
            name: "policy.toml",
            text: ADMIN,
        }],
        grants_files: vec![(
            "debian".into(),
            SourceFile {
                name: "grants.toml",
                text: DELEGATION,
            },
        )],
    })
    .unwrap();
    let compiled = CompiledPolicy::new(policy, AliasTable::usrmerge());
    let version = Version::parse("1").unwrap();
    let owner = InstalledOwner {
        package: "python3".into(),
        repo: "debian".into(),
        directories: vec!["/usr/lib/python3/dist-packages".into()],
    };
    let rules = compiled
        .for_subject(
            &Subject {
                repo: "debian",
                name: "python3-yaml",
                version: &version,
            },
            &[owner],
        )
        .unwrap();
    let decision = rules.decide(&Request::Place {
        path: "/usr/lib/python3/dist-packages/yaml/x.py",
    });
    assert_eq!(decision.because.chain.len(), 1);
    assert!(decision.because.chain[0]
        .contains("`python3` (installed, owns `/usr/lib/python3/dist-packages`)"));
    assert_eq!(&*decision.because.file, "grants.toml");
}

#[test]
fn canonical_path_rules_threats_23_to_30() {
    let grants = "[[grant]]\npackage = \"foo\"\npaths = [\"/usr/share/foo/**\"]\n";
    let v = |path: &str, expect: Expect| check(grants, "foo", Request::Place { path }, &expect);
    v("/usr/share/foo/x", Expect(Allow, Grant));
    v("usr/./share/foo/x", Expect(Allow, Grant));
    v("/usr/./bin/x", Expect(Deny, Grant));
    v("/usr//bin/x", Expect(Deny, Grant));
    v("./usr/share/foo/../../bin/x", Expect(Deny, Canonical));
    v("/usr/share/foo/pass\u{200c}wd", Expect(Deny, Canonical));
    // usrmerge: `/lib/security` is `/usr/lib/security` (PAM modules).
    check(
        REDIS,
        "everything",
        Request::Place {
            path: "/lib/security/pam_evil.so",
        },
        &Expect(Deny, Catalog),
    );
    check(
        REDIS,
        "everything",
        Request::Place {
            path: "/lib/systemd/system/x.service",
        },
        &Expect(Deny, Catalog),
    );
}

#[test]
fn unknown_repo_is_an_error() {
    let policy = load(&PolicyInput {
        policy_files: vec![SourceFile {
            name: "p",
            text: ADMIN,
        }],
        grants_files: vec![],
    })
    .unwrap();
    let compiled = CompiledPolicy::new(policy, AliasTable::none());
    let version = Version::parse("1").unwrap();
    let error = compiled
        .for_subject(
            &Subject {
                repo: "nope",
                name: "x",
                version: &version,
            },
            &[],
        )
        .unwrap_err();
    assert!(error.to_string().contains("repo `nope` is not defined"));
}

#[test]
fn policy_defined_guarded_locations_are_guarded() {
    let admin = format!("{ADMIN}\n[[guarded]]\nid = \"site-hooks\"\nclass = \"autoexec\"\npaths = [\"/srv/hooks/**\"]\nreason = \"run by the site's deploy tool\"\n");
    check_with(
        &admin,
        REDIS,
        "debian",
        "everything",
        "1",
        &[],
        Request::Place {
            path: "/srv/hooks/x",
        },
        &Expect(Deny, Catalog),
    );
    check_with(
        &admin,
        REDIS,
        "debian",
        "class-autoexec",
        "1",
        &[],
        Request::Place {
            path: "/srv/hooks/x",
        },
        &Expect(Deny, Catalog),
    );
    check_with(
        &admin,
        REDIS,
        "debian",
        "cronjob",
        "1",
        &[],
        Request::Place { path: "/srv/x" },
        &Expect(Allow, Grant),
    );
}

const CAPABILITIES_ADMIN: &str = r#"
[[repo]]
name = "debian"
ceiling = { paths = ["/**"], file-capabilities = ["*=*"] }

[[repo]]
name = "narrow"
ceiling = { paths = ["/**"], file-capabilities = ["/usr/bin/*=cap_net_raw"] }

[[override]]
package = "denied"
deny = { file-capabilities = ["*=*"] }

[[override]]
package = "admin-allowed"
allow = { file-capabilities = ["/usr/bin/dumpcap=cap_net_admin,cap_net_raw"] }
"#;

const CAPABILITIES_GRANTS: &str = r#"
[[grant]]
package = "*"
paths = ["/**"]

[[grant]]
package = "ping"
file-capabilities = ["/usr/bin/ping=cap_net_raw"]

[[grant]]
package = "starry"
file-capabilities = ["/usr/lib/{name}/*=*"]

[[grant]]
package = "admin-tool"
file-capabilities = ["/usr/bin/admin-tool=*,cap_sys_admin"]

[[grant]]
package = "denied"
file-capabilities = ["*=*"]
"#;

fn capability_mask(text: &str) -> u64 {
    pkgward_package::file_capabilities::FileCapabilities::parse(text)
        .unwrap()
        .requested()
}

fn check_capabilities(repo: &str, name: &str, path: &str, capabilities: &str, expect: &Expect) {
    check_with(
        CAPABILITIES_ADMIN,
        CAPABILITIES_GRANTS,
        repo,
        name,
        "1.0-1",
        &[],
        Request::FileCapabilities {
            path,
            capabilities: capability_mask(capabilities),
        },
        expect,
    );
}

#[test]
fn file_capabilities_need_a_grant_naming_path_and_capabilities() {
    let cases: &[(&str, &str, &str, &str, Expect)] = &[
        // The grant names the path and the capability.
        (
            "debian",
            "ping",
            "/usr/bin/ping",
            "cap_net_raw+ep",
            Expect(Allow, Grant),
        ),
        // The usrmerge alias of the granted path.
        (
            "debian",
            "ping",
            "/bin/ping",
            "cap_net_raw+ep",
            Expect(Allow, Grant),
        ),
        // One capability more than granted.
        (
            "debian",
            "ping",
            "/usr/bin/ping",
            "cap_net_raw,cap_net_admin+ep",
            Expect(Deny, Grant),
        ),
        // Another path.
        (
            "debian",
            "ping",
            "/usr/bin/other",
            "cap_net_raw+ep",
            Expect(Deny, Grant),
        ),
        // Nothing granted at all.
        (
            "debian",
            "other",
            "/usr/bin/other",
            "cap_net_raw+ep",
            Expect(Deny, Grant),
        ),
        // `*` covers ordinary capabilities, with `{name}` in the path.
        (
            "debian",
            "starry",
            "/usr/lib/starry/helper",
            "cap_net_bind_service,cap_kill=ep",
            Expect(Allow, Grant),
        ),
        // ... but never a root-equivalent one.
        (
            "debian",
            "starry",
            "/usr/lib/starry/helper",
            "cap_sys_admin+ep",
            Expect(Deny, Grant),
        ),
        (
            "debian",
            "starry",
            "/usr/lib/starry/helper",
            "cap_setuid,cap_kill+ep",
            Expect(Deny, Grant),
        ),
        // A root-equivalent capability written by name is granted; the
        // ceiling's `*` is a bound and covers it.
        (
            "debian",
            "admin-tool",
            "/usr/bin/admin-tool",
            "cap_sys_admin,cap_kill+ep",
            Expect(Allow, Grant),
        ),
        // The ceiling of `narrow` allows only cap_net_raw under /usr/bin.
        (
            "narrow",
            "ping",
            "/usr/bin/ping",
            "cap_net_raw+ep",
            Expect(Allow, Grant),
        ),
        (
            "narrow",
            "admin-tool",
            "/usr/bin/admin-tool",
            "cap_kill+ep",
            Expect(Deny, Ceiling),
        ),
        // A deny override wins over any grant.
        (
            "debian",
            "denied",
            "/usr/bin/denied",
            "cap_net_raw+ep",
            Expect(Forbid, Override),
        ),
        // An allow override gives what no grant gives.
        (
            "debian",
            "admin-allowed",
            "/usr/bin/dumpcap",
            "cap_net_admin,cap_net_raw+eip",
            Expect(Allow, Override),
        ),
        (
            "debian",
            "admin-allowed",
            "/usr/bin/dumpcap",
            "cap_sys_admin+ep",
            Expect(Deny, Grant),
        ),
    ];
    for (repo, name, path, capabilities, expect) in cases {
        check_capabilities(repo, name, path, capabilities, expect);
    }
}

#[test]
fn a_file_capability_refusal_prints_the_grant_line_to_add() {
    let input = PolicyInput {
        policy_files: vec![SourceFile {
            name: "policy.toml",
            text: CAPABILITIES_ADMIN,
        }],
        grants_files: ["debian", "narrow"]
            .into_iter()
            .map(|repo| {
                (
                    repo.to_owned(),
                    SourceFile {
                        name: "grants.toml",
                        text: CAPABILITIES_GRANTS,
                    },
                )
            })
            .collect(),
    };
    let compiled = CompiledPolicy::new(load(&input).unwrap(), AliasTable::usrmerge());
    let version = Version::parse("1.0").unwrap();
    let decide = |repo: &str, name: &str, path: &str, text: &str| {
        compiled
            .for_subject(
                &Subject {
                    repo,
                    name,
                    version: &version,
                },
                &[],
            )
            .unwrap()
            .decide(&Request::FileCapabilities {
                path,
                capabilities: capability_mask(text),
            })
    };
    let missing = decide(
        "debian",
        "other",
        "/bin/other",
        "cap_net_raw,cap_net_admin+ep",
    );
    assert_eq!(
        missing.because.rule,
        "no grant for `other` in repo `debian` gives `/usr/bin/other` the file capabilities `cap_net_admin,cap_net_raw`"
    );
    assert_eq!(
        missing.hint.as_deref(),
        Some("grant it: `[[grant]] package = \"other\" file-capabilities = [\"/usr/bin/other=cap_net_admin,cap_net_raw\"]` (without it the package is refused)")
    );
    let root = decide("debian", "starry", "/usr/lib/starry/x", "cap_sys_admin+ep");
    assert!(
        root.because
            .rule
            .ends_with("(`*` never covers root-equivalent capabilities such as `cap_sys_admin`: they are granted by name)"),
        "{}",
        root.because.rule
    );
    let ceiling = decide("narrow", "admin-tool", "/usr/bin/admin-tool", "cap_kill+ep");
    assert!(ceiling
        .because
        .rule
        .contains("but the ceiling of repo `narrow` does not"));
    assert!(ceiling
        .hint
        .as_deref()
        .unwrap()
        .starts_with("the administrator can add `\"/usr/bin/admin-tool=cap_kill\"` to `ceiling.file-capabilities` of repo `narrow` at policy.toml:"));
}
