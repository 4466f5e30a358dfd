//! Maintainer-script residues run by `install` and `remove` in the sandbox,
//! end to end with the real `pkgward` binary, against temp roots that hold a
//! real shell: the host's `dash` with the two libraries it links (copied into
//! the root — never bound from the host, the root must be self-contained).
//! Needs root (installed files are chowned), user namespaces and Landlock:
//! each test skips LOUDLY without them.
#![allow(clippy::print_stderr)]

use pkgward_package::deb_builder::{control_tar, deb_from_parts, Compression, TarBuilder};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
mod common;
use common::text;

fn pkgward(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pkgward"))
        .args(arguments)
        .env("PKGWARD_SCRIPT_TIMEOUT", "60")
        .output()
        .unwrap()
}

/// The files a root needs for `/bin/sh`: the host's dash and its libraries.
const SHELL_FILES: [(&str, &str); 3] = [
    ("/usr/bin/dash", "usr/bin/dash"),
    (
        "/lib/x86_64-linux-gnu/libc.so.6",
        "usr/lib/x86_64-linux-gnu/libc.so.6",
    ),
    (
        "/lib64/ld-linux-x86-64.so.2",
        "usr/lib64/ld-linux-x86-64.so.2",
    ),
];

/// Whether these tests can run here; prints the reason when not.
fn can_run() -> bool {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED: maintainer-script tests need root (installed files are chowned)");
        return false;
    }
    if !pkgward_sandbox::user_namespaces_available() {
        eprintln!("SKIPPED: maintainer-script tests need user namespaces");
        return false;
    }
    if pkgward_sandbox::landlock_kernel_abi() < 3 {
        eprintln!("SKIPPED: maintainer-script tests need Landlock ABI 3 or newer");
        return false;
    }
    if let Some((missing, _)) = SHELL_FILES
        .iter()
        .find(|(host, _)| !Path::new(host).exists())
    {
        eprintln!("SKIPPED: maintainer-script tests copy the host's dash; `{missing}` is missing");
        return false;
    }
    true
}

/// A usrmerged root with `/bin/sh`, `/etc/passwd` and the mount points the
/// sandbox needs.
fn root_with_shell() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let path = root.path();
    for directory in [
        "etc",
        "tmp",
        "run",
        "dev",
        "proc",
        "root",
        "usr/bin",
        "usr/sbin",
        "usr/lib/x86_64-linux-gnu",
        "usr/lib64",
        "var/lib",
    ] {
        std::fs::create_dir_all(path.join(directory)).unwrap();
    }
    for (link, target) in [
        ("bin", "usr/bin"),
        ("sbin", "usr/sbin"),
        ("lib", "usr/lib"),
        ("lib64", "usr/lib64"),
        ("usr/bin/sh", "dash"),
    ] {
        std::os::unix::fs::symlink(target, path.join(link)).unwrap();
    }
    for (host, inside) in SHELL_FILES {
        std::fs::copy(host, path.join(inside)).unwrap();
    }
    std::fs::write(path.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(path.join("etc/group"), "root:x:0:\n").unwrap();
    root
}

/// A package `name` 1.0 shipping `files` and the given maintainer scripts.
fn build(
    directory: &Path,
    name: &str,
    files: &[(&str, &str)],
    scripts: &[(&str, &str)],
) -> PathBuf {
    build_version(directory, name, "1.0", files, scripts)
}

/// [`build`] at another version.
fn build_version(
    directory: &Path,
    name: &str,
    version: &str,
    files: &[(&str, &str)],
    scripts: &[(&str, &str)],
) -> PathBuf {
    let mut data = TarBuilder::new();
    data.dir("./");
    let mut made = std::collections::BTreeSet::new();
    for (path, content) in files {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mut prefix = String::from(".");
        for part in &parts[..parts.len() - 1] {
            prefix = format!("{prefix}/{part}");
            if made.insert(prefix.clone()) {
                data.dir(&format!("{prefix}/"));
            }
        }
        data.file(&format!(".{path}"), 0o644, content.as_bytes());
    }
    let control = format!(
        "Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: Test <test@example.invalid>\nDescription: test package\n with maintainer scripts\n"
    );
    let mut extra: Vec<(&str, &[u8], u32)> = scripts
        .iter()
        .map(|(script, body)| (*script, body.as_bytes(), 0o755))
        .collect();
    // Files under /etc are conffiles, as debhelper makes them.
    let mut conffiles = String::new();
    for (path, _) in files.iter().filter(|(path, _)| path.starts_with("/etc/")) {
        conffiles.push_str(path);
        conffiles.push('\n');
    }
    if !conffiles.is_empty() {
        extra.push(("conffiles", conffiles.as_bytes(), 0o644));
    }
    let bytes = deb_from_parts(
        &control_tar(&control, &extra),
        &data.finish(),
        Compression::Gzip,
    );
    let path = directory.join(format!("{name}_{version}_all.deb"));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Path → content (files), target (symlinks) or `dir`, for every path under
/// `root` except pkgward's state and the paths in `except`.
fn tree(root: &Path, except: &[&str]) -> BTreeMap<String, String> {
    let mut result = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(directory) = pending.pop() {
        for entry in std::fs::read_dir(&directory).unwrap() {
            let path = entry.unwrap().path();
            let relative = format!("/{}", path.strip_prefix(root).unwrap().display());
            if relative.starts_with("/var/lib/pkgward") || except.contains(&relative.as_str()) {
                continue;
            }
            let metadata = std::fs::symlink_metadata(&path).unwrap();
            let value = if metadata.is_symlink() {
                format!("-> {}", std::fs::read_link(&path).unwrap().display())
            } else if metadata.is_dir() {
                pending.push(path.clone());
                "dir".to_owned()
            } else {
                String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned()
            };
            result.insert(relative, value);
        }
    }
    result
}

fn scripts_json(root: &Path, package: &str) -> serde_json::Value {
    let output = pkgward(&[
        "scripts",
        "--root",
        root.to_str().unwrap(),
        "--json",
        package,
    ]);
    assert!(output.status.success(), "{}", text(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A root with a shell and the output of installing one package into it.
struct Installed {
    root: tempfile::TempDir,
    _debs: tempfile::TempDir,
    output: Output,
}

impl Installed {
    fn root_path(&self) -> &str {
        self.root.path().to_str().unwrap()
    }
}

/// A root with a shell and a built package: (root, the debs' directory, the
/// package). `None` (after saying why) when these tests cannot run here.
fn prepare(
    name: &str,
    files: &[(&str, &str)],
    scripts: &[(&str, &str)],
) -> Option<(tempfile::TempDir, tempfile::TempDir, PathBuf)> {
    if !can_run() {
        return None;
    }
    let root = root_with_shell();
    let debs = tempfile::tempdir().unwrap();
    let deb = build(debs.path(), name, files, scripts);
    Some((root, debs, deb))
}

/// `None` (after saying why) when these tests cannot run here.
fn install_one(name: &str, files: &[(&str, &str)], scripts: &[(&str, &str)]) -> Option<Installed> {
    let (root, debs, deb) = prepare(name, files, scripts)?;
    let output = pkgward(&[
        "install",
        "--root",
        root.path().to_str().unwrap(),
        deb.to_str().unwrap(),
    ]);
    Some(Installed {
        root,
        _debs: debs,
        output,
    })
}

/// `sh -c` keeps a write out of the classifier's reach: it is residue and runs.
const GRANTED_WRITE: &str = r#"#!/bin/sh
set -e
sh -c 'echo written > /usr/share/foo/state'
if sh -c 'echo owned > /etc/passwd' 2>/dev/null; then echo passwd-written; else echo passwd-refused; fi
if sh -c 'echo x > /usr/bin/planted' 2>/dev/null; then echo usr-bin-written; else echo usr-bin-refused; fi
echo "name=$DPKG_MAINTSCRIPT_NAME package=$DPKG_MAINTSCRIPT_PACKAGE arch=$DPKG_MAINTSCRIPT_ARCH root=[$DPKG_ROOT] frontend=$DEBIAN_FRONTEND args=[$1] [$2] path=$PATH"
"#;

#[test]
fn a_residue_writes_inside_its_granted_directory_and_nowhere_else() {
    let Some((root, _debs, deb)) = prepare(
        "foo",
        &[("/usr/share/foo/data", "data\n")],
        &[("postinst", GRANTED_WRITE)],
    ) else {
        return;
    };
    let before = tree(root.path(), &[]);
    let root_path = root.path().to_str().unwrap();
    let dry = pkgward(&[
        "install",
        "--dry-run",
        "--root",
        root_path,
        deb.to_str().unwrap(),
    ]);
    let dry_text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry_text.contains("script postinst: runs in the sandbox (DeclarativeWithResidue"),
        "{}",
        text(&dry)
    );
    assert!(
        dry_text.contains("scripts may write: /run/foo, /usr/share/foo"),
        "{}",
        text(&dry)
    );
    let output = pkgward(&["install", "--root", root_path, deb.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout)
            .contains("configured foo (postinst ran in the sandbox)"),
        "{}",
        text(&output)
    );
    assert_eq!(
        std::fs::read_to_string(root.path().join("usr/share/foo/state")).unwrap(),
        "written\n"
    );
    // Outside the grant nothing changed: the whole tree is what it was plus
    // the package's own files.
    let mut expected = before;
    for (path, value) in [
        ("/usr/share", "dir"),
        ("/usr/share/foo", "dir"),
        ("/usr/share/foo/data", "data\n"),
        ("/usr/share/foo/state", "written\n"),
        ("/var/lib/pkgward", "dir"),
    ] {
        expected.insert(path.to_owned(), value.to_owned());
    }
    expected.remove("/var/lib/pkgward");
    assert_eq!(tree(root.path(), &[]), expected);
    let record = scripts_json(root.path(), "foo");
    assert_eq!(record["configured"], true);
    let run = &record["runs"][0];
    assert_eq!(run["script"], "postinst");
    assert_eq!(run["arguments"], serde_json::json!(["configure", ""]));
    assert_eq!(run["exit_code"], 0);
    let output_text = run["output"].as_str().unwrap();
    assert!(output_text.contains("passwd-refused"), "{output_text}");
    assert!(output_text.contains("usr-bin-refused"), "{output_text}");
    assert!(
        output_text.contains("name=postinst package=foo arch=all root=[] frontend=noninteractive args=[configure] [] path=/run/pkgward/shims:"),
        "{output_text}"
    );
    let status: serde_json::Value =
        serde_json::from_str(run["sandbox_status"].as_str().unwrap()).unwrap();
    assert_eq!(status["no_new_privs"], true, "{status}");
    assert_eq!(status["seccomp"]["filter_installed"], true, "{status}");
}

#[test]
fn a_residue_writing_etc_passwd_fails_cleanly_and_leaves_the_package_half_configured() {
    let Some(installed) = install_one(
        "bad",
        &[("/usr/share/bad/data", "data\n")],
        &[(
            "postinst",
            "#!/bin/sh\nset -e\necho about to write\nsh -c 'echo evil:x:0:0::/:/bin/sh >> /etc/passwd'\necho not reached\n",
        )],
    ) else {
        return;
    };
    let (root, root_path, output) = (&installed.root, installed.root_path(), &installed.output);
    assert_eq!(output.status.code(), Some(1), "{}", text(output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`postinst` of `bad` failed in the sandbox: exited with code"),
        "{stderr}"
    );
    assert!(stderr.contains("about to write"), "{stderr}");
    assert!(!stderr.contains("not reached"), "{stderr}");
    assert!(stderr.contains("half-configured"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(root.path().join("etc/passwd")).unwrap(),
        "root:x:0:0:root:/root:/bin/sh\n"
    );
    // dpkg semantics: the files stay, the package is half-configured.
    assert!(root.path().join("usr/share/bad/data").exists());
    let record = scripts_json(root.path(), "bad");
    assert_eq!(record["configured"], false);
    assert_ne!(record["runs"][0]["exit_code"], 0);
    let list = pkgward(&["list", "--root", root_path]);
    assert!(
        String::from_utf8_lossy(&list.stdout).contains("bad\t1.0\tall\tlocal\thalf-configured"),
        "{}",
        text(&list)
    );
    let human = pkgward(&["scripts", "--root", root_path, "bad"]);
    assert!(
        String::from_utf8_lossy(&human.stdout).starts_with("bad: half-configured"),
        "{}",
        text(&human)
    );
}

#[test]
fn shimmed_service_requests_are_recorded_not_run_and_policy_rc_d_denies() {
    let Some(installed) = install_one(
        "svc",
        &[("/usr/share/svc/data", "data\n")],
        &[(
            "postinst",
            "#!/bin/sh\nset -e\nsh -c 'systemctl start svc.service'\ninvoke-rc.d svc restart\nsh -c 'adduser --system svc'\nif systemctl is-enabled svc.service; then echo enabled; else echo not-enabled; fi\nset +e\n/usr/sbin/policy-rc.d svc start\necho policy-rc.d=$?\n",
        )],
    ) else {
        return;
    };
    let (root, output) = (&installed.root, &installed.output);
    assert!(output.status.success(), "{}", text(output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("asked `systemctl start svc.service`: recorded, not run, and not one of the actions pkgward performs"),
        "{stderr}"
    );
    // `invoke-rc.d svc restart` is in the script itself: the classifier
    // derived it as pkgward's own action, so it is no notice.
    assert!(!stderr.contains("asked `invoke-rc.d"), "{stderr}");
    let record = scripts_json(root.path(), "svc");
    let run = &record["runs"][0];
    assert_eq!(
        run["requests"],
        serde_json::json!([
            "systemctl start svc.service",
            "invoke-rc.d svc restart",
            "adduser --system svc",
            "systemctl is-enabled svc.service"
        ])
    );
    let output_text = run["output"].as_str().unwrap();
    assert!(output_text.contains("not-enabled"), "{output_text}");
    assert!(output_text.contains("policy-rc.d=101"), "{output_text}");
    // The overlays and binds never touched the root.
    assert!(!root.path().join("usr/sbin/policy-rc.d").exists());
    assert!(!root.path().join("usr/sbin/systemctl").exists());
    assert_eq!(
        std::fs::read_to_string(root.path().join("etc/passwd")).unwrap(),
        "root:x:0:0:root:/root:/bin/sh\n"
    );
}

#[test]
fn a_root_without_the_interpreter_fails_naming_it_and_never_uses_the_hosts() {
    if !can_run() {
        return;
    }
    let root = root_with_shell();
    std::fs::remove_file(root.path().join("usr/bin/sh")).unwrap();
    let debs = tempfile::tempdir().unwrap();
    let deb = build(
        debs.path(),
        "foo",
        &[("/usr/share/foo/data", "data\n")],
        &[("postinst", GRANTED_WRITE)],
    );
    let root_path = root.path().to_str().unwrap();
    let output = pkgward(&["install", "--root", root_path, deb.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "script `postinst` of `foo` needs interpreter `/bin/sh`, which the root does not have"
        ),
        "{stderr}"
    );
    assert!(!root.path().join("usr/share/foo/state").exists());
}

#[test]
fn scripts_none_refuses_residue_but_not_fully_declarative_scripts() {
    if !can_run() {
        return;
    }
    let root = root_with_shell();
    let debs = tempfile::tempdir().unwrap();
    let grants = debs.path().join("grants.toml");
    std::fs::write(
        &grants,
        "[[grant]]\nrepo = \"local\"\npackage = \"*\"\npaths = [\"/**\"]\nscripts = \"none\"\n",
    )
    .unwrap();
    let residue = build(
        debs.path(),
        "foo",
        &[("/usr/share/foo/data", "data\n")],
        &[("postinst", GRANTED_WRITE)],
    );
    let root_path = root.path().to_str().unwrap();
    let grants_path = grants.to_str().unwrap();
    let before = tree(root.path(), &[]);
    let output = pkgward(&[
        "install",
        "--root",
        root_path,
        "--grants",
        grants_path,
        residue.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`sandboxed` maintainer scripts (postinst) denied by"),
        "{stderr}"
    );
    assert!(stderr.contains("scripts = \"sandboxed\""), "{stderr}");
    assert_eq!(tree(root.path(), &[]), before);
    let declarative = build(
        debs.path(),
        "quiet",
        &[("/usr/share/quiet/data", "data\n")],
        &[("postinst", "#!/bin/sh\nset -e\nexit 0\n")],
    );
    let output = pkgward(&[
        "install",
        "--root",
        root_path,
        "--grants",
        grants_path,
        declarative.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let record = scripts_json(root.path(), "quiet");
    assert_eq!(record["scripts"][0]["run"], false);
    assert_eq!(record["runs"], serde_json::json!([]));
}

#[test]
fn remove_runs_prerm_before_and_postrm_after_the_files_go() {
    let Some((root, _debs, deb)) = prepare(
        "foo",
        &[("/usr/share/foo/data", "data\n"), ("/var/lib/foo/keep", "k\n")],
        &[
            (
                "prerm",
                "#!/bin/sh\nset -e\nsh -c \"echo prerm-\\$1 > /var/lib/foo/prerm\" sh \"$1\"\n[ -e /usr/share/foo/data ]\n",
            ),
            (
                "postrm",
                "#!/bin/sh\nset -e\nsh -c \"echo postrm-\\$1 >> /var/lib/foo/postrm\" sh \"$1\"\n[ ! -e /usr/share/foo/data ]\n",
            ),
        ],
    ) else {
        return;
    };
    let root_path = root.path().to_str().unwrap();
    let output = pkgward(&["install", "--root", root_path, deb.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    let output = pkgward(&["remove", "--root", root_path, "--purge", "foo"]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        std::fs::read_to_string(root.path().join("var/lib/foo/prerm")).unwrap(),
        "prerm-remove\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.path().join("var/lib/foo/postrm")).unwrap(),
        "postrm-remove\npostrm-purge\n"
    );
    assert!(!root.path().join("usr/share/foo/data").exists());
}

#[test]
fn a_package_kept_as_config_files_runs_only_postrm_purge_when_purged() {
    let Some(installed) = install_one(
        "keep",
        &[
            ("/etc/keep/keep.conf", "shipped\n"),
            ("/var/lib/keep/state", "s\n"),
        ],
        &[
            // Keeps /var/lib/keep non-empty, so it outlives the package's files.
            (
                "prerm",
                "#!/bin/sh\nset -e\nsh -c 'echo prerm > /var/lib/keep/prerm'\n",
            ),
            (
                "postrm",
                "#!/bin/sh\nset -e\nsh -c \"echo postrm-\\$1 >> /var/lib/keep/postrm\" sh \"$1\"\n",
            ),
        ],
    ) else {
        return;
    };
    let (root, root_path) = (installed.root.path(), installed.root_path());
    assert!(
        installed.output.status.success(),
        "{}",
        text(&installed.output)
    );
    std::fs::write(root.join("etc/keep/keep.conf"), "edited\n").unwrap();
    let output = pkgward(&["remove", "--root", root_path, "keep"]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        std::fs::read_to_string(root.join("var/lib/keep/postrm")).unwrap(),
        "postrm-remove\n"
    );
    // Kept as `config-files`: its postrm is still recorded, and purging
    // runs `postrm purge` only (its files are long gone).
    let output = pkgward(&["remove", "--root", root_path, "--purge", "keep"]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        std::fs::read_to_string(root.join("var/lib/keep/postrm")).unwrap(),
        "postrm-remove\npostrm-purge\n"
    );
    assert!(!root.join("etc/keep/keep.conf").exists());
}

#[test]
fn killing_pkgward_during_the_postinst_leaves_the_package_half_configured() {
    // The loop's name carries this test process's id, so a run of the same
    // test elsewhere on the machine can neither satisfy nor fail the checks.
    let marker = format!("pkgward-test-slow-postinst-{}", std::process::id());
    let postinst = format!(
        "#!/bin/sh\nsh -c 'echo started > /usr/share/slow/started'\nexec sh -c 'while :; do :; done' {marker}\n"
    );
    let Some((root, _debs, deb)) = prepare(
        "slow",
        &[("/usr/share/slow/data", "data\n")],
        &[("postinst", postinst.as_str())],
    ) else {
        return;
    };
    let root_path = root.path().to_str().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pkgward"))
        .args(["install", "--root", root_path, deb.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = root.path().join("usr/share/slow/started");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !started.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let loop_alive = || {
        std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
            std::fs::read(entry.path().join("cmdline")).is_ok_and(|cmdline| {
                cmdline
                    .windows(marker.len())
                    .any(|window| window == marker.as_bytes())
            })
        })
    };
    let was_started = started.exists();
    // Give the `exec` a moment, then check the loop is really running.
    let mut alive_before = false;
    for _ in 0..100 {
        alive_before = loop_alive();
        if alive_before {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(was_started, "the postinst never started");
    assert!(alive_before, "the script's loop was never seen running");
    // The commit is done, the postinst never finished: half-configured.
    let record = scripts_json(root.path(), "slow");
    assert_eq!(record["configured"], false, "{record}");
    assert!(root.path().join("usr/share/slow/data").exists());
    // The sandbox died with its caller (PR_SET_PDEATHSIG kills the whole pid
    // namespace): the endless loop is gone.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while loop_alive() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!loop_alive(), "the script outlived pkgward");
}

#[test]
fn configure_reruns_a_failed_postinst_once_the_cause_is_fixed() {
    let Some(installed) = install_one(
        "later",
        &[("/usr/share/later/data", "data\n")],
        &[(
            "postinst",
            "#!/bin/sh\nset -e\nsh -c '[ -e /usr/share/later/ready ]'\nsh -c \"echo configured-with-[\\$1] > /usr/share/later/done\" sh \"$2\"\n",
        )],
    ) else {
        return;
    };
    let (root, root_path) = (installed.root.path(), installed.root_path());
    assert_eq!(
        installed.output.status.code(),
        Some(1),
        "{}",
        text(&installed.output)
    );
    assert_eq!(scripts_json(root, "later")["configured"], false);
    // Still failing: stays half-configured, the run is recorded.
    let output = pkgward(&["configure", "--root", root_path, "later"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("stays half-configured"),
        "{}",
        text(&output)
    );
    // The administrator fixes the cause; configure succeeds.
    std::fs::write(root.join("usr/share/later/ready"), "").unwrap();
    let output = pkgward(&["configure", "--root", root_path, "later"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout)
            .contains("configured later (postinst ran in the sandbox)"),
        "{}",
        text(&output)
    );
    assert_eq!(
        std::fs::read_to_string(root.join("usr/share/later/done")).unwrap(),
        "configured-with-[]\n"
    );
    let record = scripts_json(root, "later");
    assert_eq!(record["configured"], true);
    assert_eq!(record["runs"].as_array().unwrap().len(), 3);
    let output = pkgward(&["configure", "--root", root_path, "later"]);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("later is already configured"),
        "{}",
        text(&output)
    );
}

/// dpkg's `postinst configure` gets the last configured version (its
/// Config-Version): after an upgrade whose postinst failed, that is still
/// the old version, at install time and when `pkgward configure` retries.
#[test]
fn configure_passes_the_last_configured_version_after_a_failed_upgrade() {
    let files = [("/usr/share/up/data", "data\n")];
    let Some((root, debs, first)) = prepare(
        "up",
        &files,
        &[(
            "postinst",
            "#!/bin/sh\nset -e\nsh -c \"echo v1-with-[\\$1] > /usr/share/up/done\" sh \"$2\"\n",
        )],
    ) else {
        return;
    };
    let second = build_version(
        debs.path(),
        "up",
        "2.0",
        &files,
        &[(
            "postinst",
            "#!/bin/sh\nset -e\nsh -c '[ -e /usr/share/up/ready ]'\nsh -c \"echo v2-with-[\\$1] > /usr/share/up/done\" sh \"$2\"\n",
        )],
    );
    let (root, root_path) = (root.path(), root.path().to_str().unwrap());
    let output = pkgward(&["install", "--root", root_path, first.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    let done = || std::fs::read_to_string(root.join("usr/share/up/done")).unwrap();
    assert_eq!(done(), "v1-with-[]\n");
    let output = pkgward(&["install", "--root", root_path, second.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let record = scripts_json(root, "up");
    assert_eq!(record["configured"], false, "{record}");
    let runs = record["runs"].as_array().unwrap();
    assert_eq!(
        runs.last().unwrap()["arguments"],
        serde_json::json!(["configure", "1.0"])
    );
    // Still failing: 2.0 was never configured, so the retry says 1.0 too.
    let output = pkgward(&["configure", "--root", root_path, "up"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    std::fs::write(root.join("usr/share/up/ready"), "").unwrap();
    let output = pkgward(&["configure", "--root", root_path, "up"]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(done(), "v2-with-[1.0]\n");
    let runs = scripts_json(root, "up")["runs"].clone();
    let arguments: Vec<&serde_json::Value> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|run| &run["arguments"])
        .collect();
    assert_eq!(
        arguments,
        [
            &serde_json::json!(["configure", "1.0"]),
            &serde_json::json!(["configure", "1.0"]),
            &serde_json::json!(["configure", "1.0"]),
        ]
    );
    // 2.0 is configured now: installing it again passes 2.0.
    let output = pkgward(&["install", "--root", root_path, second.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        scripts_json(root, "up")["runs"][0]["arguments"],
        serde_json::json!(["configure", "2.0"])
    );
}

/// `postrm remove` and `postrm purge` run after the removal deleted the
/// package's rows; their runs are recorded by name and version and shown by
/// `pkgward scripts` for the removed package.
#[test]
fn postrm_runs_after_the_package_is_gone_are_recorded_by_name_and_version() {
    let Some(installed) = install_one(
        "gone",
        &[
            ("/usr/share/gone/data", "data\n"),
            ("/var/lib/gone/keep", "k\n"),
        ],
        &[
            // Keeps /var/lib/gone non-empty, so the postrm can write there.
            (
                "prerm",
                "#!/bin/sh\nset -e\nsh -c 'echo prerm > /var/lib/gone/prerm'\n",
            ),
            (
                "postrm",
                "#!/bin/sh\nset -e\nsh -c \"echo postrm-\\$1 >> /var/lib/gone/postrm\" sh \"$1\"\n",
            ),
        ],
    ) else {
        return;
    };
    let root_path = installed.root_path();
    assert!(
        installed.output.status.success(),
        "{}",
        text(&installed.output)
    );
    let output = pkgward(&["remove", "--root", root_path, "--purge", "gone"]);
    assert!(output.status.success(), "{}", text(&output));
    let record = scripts_json(installed.root.path(), "gone");
    assert_eq!(record["removed"], true, "{record}");
    let runs = record["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{record}");
    for (run, argument) in runs.iter().zip(["remove", "purge"]) {
        assert_eq!(run["version"], "1.0", "{record}");
        assert_eq!(run["run"]["script"], "postrm", "{record}");
        assert_eq!(
            run["run"]["arguments"],
            serde_json::json!([argument]),
            "{record}"
        );
        assert_eq!(run["run"]["exit_code"], 0, "{record}");
    }
    let output = pkgward(&["scripts", "--root", root_path, "gone"]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "gone: removed\nrun postrm 'remove': exit 0 (version 1.0)\nrun postrm 'purge': exit 0 (version 1.0)\n"
    );
    let output = pkgward(&["scripts", "--root", root_path, "never"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("package `never` is not installed"),
        "{}",
        text(&output)
    );
}

/// A postinst whose dh_installsystemd-style block is fully translated (its
/// `mkdir` becomes pkgward's own action) and would fail if run — plain
/// `mkdir` of an existing directory, on the read-only `/etc` — plus residue
/// before and after it that writes into the package's directory.
const TRANSLATED_BLOCK_POSTINST: &str = "#!/bin/sh
set -e
sh -c 'echo before > /usr/share/blocky/state'
# Automatically added by dh_installsystemd/13.11.4
if [ \"$1\" = \"configure\" ]; then
\tmkdir /etc/blockstate
fi
# End automatically added section
sh -c 'echo after >> /usr/share/blocky/state'
";

#[test]
fn a_fully_translated_debhelper_block_does_not_run_and_the_residue_does() {
    let Some((root, _debs, deb)) = prepare(
        "blocky",
        &[("/usr/share/blocky/data", "data\n")],
        &[("postinst", TRANSLATED_BLOCK_POSTINST)],
    ) else {
        return;
    };
    let root_path = root.path().to_str().unwrap();
    let deb = deb.to_str().unwrap();
    let dry = pkgward(&["install", "--dry-run", "--root", root_path, deb]);
    let dry_text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry_text.contains("    not run (translated): dh_installsystemd block, lines 4-8"),
        "{}",
        text(&dry)
    );
    let dry_json = pkgward(&["install", "--dry-run", "--json", "--root", root_path, deb]);
    let plan: serde_json::Value = serde_json::from_slice(&dry_json.stdout).unwrap();
    let script = &plan["packages"][0]["scripts"][0];
    assert_eq!(script["run"], true, "{plan}");
    assert_eq!(
        script["neutralised"],
        serde_json::json!([{"tool": "dh_installsystemd", "first_line": 4, "last_line": 8}]),
        "{plan}"
    );
    let output = pkgward(&["install", "--root", root_path, deb]);
    assert!(output.status.success(), "{}", text(&output));
    // The residue on both sides of the block ran; the block's action was
    // pkgward's own.
    assert_eq!(
        std::fs::read_to_string(root.path().join("usr/share/blocky/state")).unwrap(),
        "before\nafter\n"
    );
    assert!(root.path().join("etc/blockstate").is_dir());
    let record = scripts_json(root.path(), "blocky");
    assert_eq!(record["configured"], true);
    assert_eq!(
        record["scripts"][0]["neutralised"],
        serde_json::json!([{"tool": "dh_installsystemd", "first_line": 4, "last_line": 8}])
    );
    assert_eq!(record["runs"][0]["exit_code"], 0);
    assert_eq!(
        record["runs"][0]["neutralised"],
        serde_json::json!(["dh_installsystemd block, lines 4-8"])
    );
    let human = pkgward(&["scripts", "--root", root_path, "blocky"]);
    assert!(
        String::from_utf8_lossy(&human.stdout)
            .contains("  not run (translated): dh_installsystemd block, lines 4-8"),
        "{}",
        text(&human)
    );
}
