//! Escape attempts from inside the sandbox (THREATS.md section C), one
//! sandbox run — one probe process — per case. Each case asserts the
//! probe's one-line errno report *and* an oracle outside: the temp root's
//! files are byte-identical afterwards (but for the writable grant), the
//! probe binary is unchanged, host listeners saw no connection, host
//! processes are alive.
//!
//! The sandbox root is a temp directory (never the machine's `/`), with the
//! host's `/usr` and the probe's directory bound read-only into it.
//!
//! Needs user namespaces and Landlock ABI ≥ 3; the cases skip LOUDLY (a line
//! on stderr) when either is missing. The setuid case needs real root.
#![allow(clippy::print_stderr, clippy::items_after_statements)]

use pkgward_sandbox::{
    CommandExit, Enforcement, HelperProgram, LandlockRequirement, Outcome, ProcessLimit, Spec,
    HELPER_ARGV0,
};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

const PROBE: &str = env!("CARGO_BIN_EXE_pkgward-sandbox-probe");
const GRANT: &str = "/var/lib/grant";
const SENTINEL_TEXT: &[u8] = b"original sentinel\n";

fn skip_reason() -> Option<String> {
    static PREFLIGHT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    PREFLIGHT.get_or_init(preflight).clone()
}

/// Whether this machine can run the sandbox at all. A container without
/// the right to create namespaces fails setup in a recognisable way; that
/// is a reason to skip, any other failure is a test failure.
fn preflight() -> Option<String> {
    if !pkgward_sandbox::user_namespaces_available() {
        return Some("user namespaces are disabled on this machine".to_owned());
    }
    let abi = pkgward_sandbox::landlock_kernel_abi();
    if abi < 3 {
        return Some(format!(
            "Landlock ABI {abi} is below 3 (truncate control); the sandbox refuses to run"
        ));
    }
    let fixture = Fixture::new();
    match pkgward_sandbox::run(&fixture.spec("ok", &[]), &HelperProgram::new(PROBE)) {
        Err(pkgward_sandbox::SandboxError::Setup(message))
            if message.contains("cannot create user, mount")
                || message.contains("cannot map user ids")
                || message.contains("cannot make mount propagation") =>
        {
            Some(format!("the sandbox cannot be set up here: {message}"))
        }
        _ => None,
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find(|line| line.starts_with("Uid:"))
            .is_some_and(|line| line.split_whitespace().nth(2) == Some("0"))
    })
}

macro_rules! skip_unless_sandbox_works {
    () => {
        if let Some(reason) = skip_reason() {
            eprintln!("SKIPPED {}: {reason}", module_path!());
            return;
        }
    };
}

/// Set (by [`every_case_passes_with_the_helper_run_in_place`]) to run every
/// case from a single-threaded process, where the helper is not executed
/// again but goes on in the caller's fork-like child. This test process has
/// many threads, so by default the helper is executed afresh.
const IN_PLACE: &str = "PKGWARD_ESCAPE_TESTS_IN_PLACE";

fn run_from_a_single_threaded_process(spec: &Spec) -> Outcome {
    use std::io::Write as _;
    let mut child = std::process::Command::new(PROBE)
        .arg("--run-sandbox")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the probe as a sandbox caller");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&serde_json::to_vec(spec).unwrap())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("an outcome as JSON")
}

#[test]
fn every_case_passes_with_the_helper_run_in_place() {
    if std::env::var_os(IN_PLACE).is_some() {
        return;
    }
    skip_unless_sandbox_works!();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .env(IN_PLACE, "1")
        .args(["--skip", "every_case_passes_with_the_helper_run_in_place"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Whether a process whose command line holds `marker` exists.
fn process_with(marker: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        std::fs::read(entry.path().join("cmdline")).is_ok_and(|cmdline| {
            cmdline
                .windows(marker.len())
                .any(|window| window == marker.as_bytes())
        })
    })
}

#[test]
fn the_sandbox_dies_with_its_caller_whether_the_helper_ran_in_place_or_not() {
    if std::env::var_os(IN_PLACE).is_some() {
        return;
    }
    skip_unless_sandbox_works!();
    for (mode, extra) in [
        ("in-place", None),
        ("executed", Some("--with-a-second-thread")),
    ] {
        use std::io::Write as _;
        let fixture = Fixture::new();
        let marker = format!("pkgward-escape-{mode}-{}", std::process::id());
        let spec = fixture.spec(
            "exec",
            &["/bin/sh", "-c", "while :; do sleep 1; done", &marker],
        );
        let mut caller = std::process::Command::new(PROBE);
        caller.arg("--run-sandbox").args(extra);
        let mut caller = caller
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        caller
            .stdin
            .take()
            .unwrap()
            .write_all(&serde_json::to_vec(&spec).unwrap())
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !process_with(&marker) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let started = process_with(&marker);
        caller.kill().unwrap();
        caller.wait().unwrap();
        assert!(started, "{mode}: the command never started");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while process_with(&marker) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            !process_with(&marker),
            "{mode}: the sandbox outlived its caller"
        );
    }
}

#[test]
fn pid_1_shows_how_the_helper_started() {
    skip_unless_sandbox_works!();
    let fixture = Fixture::new();
    let outcome = fixture.run(&fixture.spec("read-secret", &["/proc/1/cmdline", HELPER_ARGV0]));
    // Executed afresh, pid 1's command line is the helper's; run in place,
    // the caller's arguments (and environment) are wiped.
    let executed = std::env::var_os(IN_PLACE).is_none();
    assert_eq!(
        report_line("read-secret", &outcome),
        format!("ok contains-secret={executed}")
    );
}

/// A temp root laid out like a tiny Debian system.
struct Fixture {
    root: tempfile::TempDir,
    /// A host directory that is not part of the root.
    outside: tempfile::TempDir,
    probe_bytes: Vec<u8>,
}

impl Fixture {
    fn new() -> Self {
        let root = tempfile::tempdir().expect("temp root");
        let base = root.path();
        for directory in [
            "etc",
            "tmp",
            "run",
            "dev",
            "proc",
            "usr",
            "root",
            "var/lib/grant",
        ] {
            std::fs::create_dir_all(base.join(directory)).unwrap();
        }
        std::fs::write(base.join("etc/sentinel"), SENTINEL_TEXT).unwrap();
        std::fs::write(base.join("etc/hostname"), b"host\n").unwrap();
        std::fs::write(base.join("var/lib/grant/existing"), b"granted file\n").unwrap();
        // Mirror the host's usrmerge links, or mount point directories.
        for top in ["bin", "sbin", "lib", "lib64"] {
            let host = Path::new("/").join(top);
            match std::fs::read_link(&host) {
                Ok(target) => std::os::unix::fs::symlink(target, base.join(top)).unwrap(),
                Err(_) if host.is_dir() => std::fs::create_dir_all(base.join(top)).unwrap(),
                Err(_) => {}
            }
        }
        let probe_directory = Path::new(PROBE).parent().unwrap();
        std::fs::create_dir_all(base.join(probe_directory.strip_prefix("/").unwrap())).unwrap();
        let outside = tempfile::tempdir().expect("outside dir");
        std::fs::write(outside.path().join("sentinel"), SENTINEL_TEXT).unwrap();
        Self {
            root,
            outside,
            probe_bytes: std::fs::read(PROBE).unwrap(),
        }
    }

    fn spec(&self, case: &str, args: &[&str]) -> Spec {
        let mut command_line = vec![PROBE.to_owned(), case.to_owned()];
        command_line.extend(args.iter().map(|arg| (*arg).to_owned()));
        let mut spec = Spec::new(command_line);
        self.root.path().clone_into(&mut spec.root);
        spec.writable = vec![PathBuf::from(GRANT)];
        let mut readable = vec![
            PathBuf::from("/usr"),
            Path::new(PROBE).parent().unwrap().to_owned(),
        ];
        for top in ["bin", "sbin", "lib", "lib64"] {
            let host = Path::new("/").join(top);
            if host.is_dir() && std::fs::read_link(&host).is_err() {
                readable.push(host);
            }
        }
        spec.readable = readable;
        spec.timeout = Duration::from_secs(60);
        spec.landlock = LandlockRequirement::Refuse { minimum_abi: 3 };
        spec
    }

    /// Path, kind, content of everything in the root but the grant.
    fn snapshot(&self) -> BTreeMap<PathBuf, (String, Vec<u8>)> {
        let mut entries = BTreeMap::new();
        let mut stack = vec![self.root.path().to_owned()];
        let grant = self.root.path().join(GRANT.trim_start_matches('/'));
        while let Some(directory) = stack.pop() {
            for entry in std::fs::read_dir(&directory).unwrap().flatten() {
                let path = entry.path();
                if path == grant {
                    continue;
                }
                let metadata = std::fs::symlink_metadata(&path).unwrap();
                let content = if metadata.is_file() {
                    std::fs::read(&path).unwrap()
                } else if metadata.is_symlink() {
                    std::fs::read_link(&path)
                        .unwrap()
                        .into_os_string()
                        .into_encoded_bytes()
                } else {
                    if metadata.is_dir() {
                        stack.push(path.clone());
                    }
                    Vec::new()
                };
                use std::os::unix::fs::MetadataExt;
                entries.insert(
                    path,
                    (
                        format!(
                            "{:o} {}:{}",
                            metadata.mode(),
                            metadata.uid(),
                            metadata.gid()
                        ),
                        content,
                    ),
                );
            }
        }
        entries
    }

    /// Run one case and check the root and the probe binary are unchanged.
    fn run(&self, spec: &Spec) -> Outcome {
        let before = self.snapshot();
        let outcome = if std::env::var_os(IN_PLACE).is_some() {
            run_from_a_single_threaded_process(spec)
        } else {
            pkgward_sandbox::run(spec, &HelperProgram::new(PROBE))
                .unwrap_or_else(|error| panic!("sandbox failed: {error} ({error:?})"))
        };
        assert_eq!(
            self.snapshot(),
            before,
            "the root changed outside the grant"
        );
        assert_eq!(
            std::fs::read(self.outside.path().join("sentinel")).unwrap(),
            SENTINEL_TEXT
        );
        assert!(
            std::fs::read(PROBE).unwrap() == self.probe_bytes,
            "the probe binary changed"
        );
        outcome
    }
}

fn report_line(case: &str, outcome: &Outcome) -> String {
    let stdout = String::from_utf8_lossy(&outcome.stdout);
    let prefix = format!("{case}: ");
    stdout
        .lines()
        .find_map(|line| line.strip_prefix(&prefix).map(str::to_owned))
        .unwrap_or_else(|| {
            panic!(
                "no report for `{case}`: exit {:?}, stdout {stdout:?}, stderr {:?}",
                outcome.exit,
                String::from_utf8_lossy(&outcome.stderr)
            )
        })
}

/// Run `case` and require `errno X` with X one of `allowed`.
fn expect_errno(case: &str, args: &[&str], allowed: &[&str]) {
    let fixture = Fixture::new();
    let outcome = fixture.run(&fixture.spec(case, args));
    let line = report_line(case, &outcome);
    let errno = line
        .strip_prefix("errno ")
        .unwrap_or_else(|| panic!("`{case}` was not denied: `{line}`"));
    assert!(
        allowed.contains(&errno),
        "`{case}` failed with {errno}, expected one of {allowed:?}"
    );
}

const WRITE_DENIED: &[&str] = &["EROFS", "EACCES"];

// --- C33: writes outside the grant -------------------------------------

#[test]
fn write_to_a_root_file_is_denied() {
    skip_unless_sandbox_works!();
    expect_errno("write", &["/etc/sentinel"], WRITE_DENIED);
}

#[test]
fn creating_a_file_in_the_root_is_denied() {
    skip_unless_sandbox_works!();
    expect_errno("create", &["/etc/new-file"], WRITE_DENIED);
}

#[test]
fn creating_a_file_in_dev_is_denied() {
    skip_unless_sandbox_works!();
    expect_errno("create", &["/dev/new-file"], WRITE_DENIED);
}

#[test]
fn host_paths_outside_the_root_are_invisible() {
    skip_unless_sandbox_works!();
    let fixture = Fixture::new();
    let path = fixture.outside.path().join("sentinel");
    let spec = fixture.spec("write", &[path.to_str().unwrap()]);
    let outcome = fixture.run(&spec);
    assert_eq!(report_line("write", &outcome), "errno ENOENT");
}

#[test]
fn a_symlink_in_the_grant_does_not_lead_outside() {
    skip_unless_sandbox_works!();
    expect_errno("symlink-escape", &[GRANT, "sentinel"], WRITE_DENIED);
}

#[test]
fn hard_linking_a_root_file_into_the_grant_is_denied() {
    skip_unless_sandbox_works!();
    expect_errno(
        "hardlink",
        &["/etc/sentinel", "/var/lib/grant/link"],
        &["EXDEV", "EACCES", "EPERM", "EROFS"],
    );
}

#[test]
fn renaming_a_root_file_into_the_grant_is_denied() {
    skip_unless_sandbox_works!();
    expect_errno(
        "rename",
        &["/etc/sentinel", "/var/lib/grant/moved"],
        &["EXDEV", "EACCES", "EROFS"],
    );
}

#[test]
fn mknod_in_the_grant_is_denied() {
    skip_unless_sandbox_works!();
    expect_errno("mknod", &["/var/lib/grant/null"], &["EPERM", "EACCES"]);
}

// --- positive controls: the grant and /tmp are writable --------------------

#[test]
fn the_grant_is_writable_and_writes_reach_the_root() {
    skip_unless_sandbox_works!();
    let fixture = Fixture::new();
    let outcome = fixture.run(&fixture.spec("create", &["/var/lib/grant/new-file"]));
    assert_eq!(report_line("create", &outcome), "ok");
    assert_eq!(
        std::fs::read(fixture.root.path().join("var/lib/grant/new-file")).unwrap(),
        b"escaped\n"
    );
    let outcome = fixture.run(&fixture.spec("truncate", &["/var/lib/grant/existing"]));
    assert_eq!(report_line("truncate", &outcome), "ok 0");
    assert_eq!(
        std::fs::metadata(fixture.root.path().join("var/lib/grant/existing"))
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn private_tmp_is_writable_and_leaves_nothing_behind() {
    skip_unless_sandbox_works!();
    let fixture = Fixture::new();
    let outcome = fixture.run(&fixture.spec("create", &["/tmp/scratch"]));
    assert_eq!(report_line("create", &outcome), "ok");
    assert!(!fixture.root.path().join("tmp/scratch").exists());
}

// --- binds and overlays (the engine's private files for maintainer scripts) --

#[test]
fn binds_into_run_are_read_only_or_writable_as_asked_and_never_touch_the_root() {
    skip_unless_sandbox_works!();
    let fixture = Fixture::new();
    let read_only = tempfile::tempdir().unwrap();
    let writable = tempfile::tempdir().unwrap();
    let with_binds = |case: &str, path: &str| {
        let mut spec = fixture.spec(case, &[path]);
        spec.binds = vec![
            pkgward_sandbox::Bind {
                source: read_only.path().to_owned(),
                target: "/run/pkgward/ro".into(),
                writable: false,
            },
            pkgward_sandbox::Bind {
                source: writable.path().to_owned(),
                target: "/run/pkgward/rw".into(),
                writable: true,
            },
        ];
        spec
    };
    let outcome = fixture.run(&with_binds("create", "/run/pkgward/ro/x"));
    let line = report_line("create", &outcome);
    assert!(line == "errno EROFS" || line == "errno EACCES", "{line}");
    assert!(!read_only.path().join("x").exists());
    let outcome = fixture.run(&with_binds("create", "/run/pkgward/rw/x"));
    assert_eq!(report_line("create", &outcome), "ok");
    assert_eq!(
        std::fs::read(writable.path().join("x")).unwrap(),
        b"escaped\n"
    );
    assert!(!fixture.root.path().join("run/pkgward").exists());
}

#[test]
fn an_overlay_shows_its_layer_over_a_root_directory_read_only() {
    skip_unless_sandbox_works!();
    let fixture = Fixture::new();
    let layer = tempfile::tempdir().unwrap();
    std::fs::write(layer.path().join("policy-rc.d"), b"layer secret\n").unwrap();
    let with_overlay = |case: &str, args: &[&str]| {
        let mut spec = fixture.spec(case, args);
        spec.overlays = vec![pkgward_sandbox::Overlay {
            layer: layer.path().to_owned(),
            target: "/etc".into(),
        }];
        spec
    };
    let outcome = fixture.run(&with_overlay(
        "read-secret",
        &["/etc/policy-rc.d", "layer secret"],
    ));
    assert_eq!(
        report_line("read-secret", &outcome),
        "ok contains-secret=true"
    );
    // The root's own entries stay visible beneath the layer.
    let outcome = fixture.run(&with_overlay("read-secret", &["/etc/sentinel", "sentinel"]));
    assert!(report_line("read-secret", &outcome).starts_with("ok"));
    let outcome = fixture.run(&with_overlay("create", &["/etc/policy-rc.d-new"]));
    let line = report_line("create", &outcome);
    assert!(line == "errno EROFS" || line == "errno EACCES", "{line}");
    assert!(!fixture.root.path().join("etc/policy-rc.d").exists());
    assert_eq!(std::fs::read_dir(layer.path()).unwrap().count(), 1);
}

// --- C34: truncate --------------------------------------------------------

#[test]
fn truncating_a_readable_file_is_denied() {
    skip_unless_sandbox_works!();
    expect_errno("truncate", &["/etc/sentinel"], WRITE_DENIED);
}

// --- C37: /proc/self/exe, /proc/1, /proc/sys, sysrq ------------------------

#[test]
fn writing_proc_self_exe_is_denied() {
    skip_unless_sandbox_works!();
    expect_errno(
        "write",
        &["/proc/self/exe"],
        &["ETXTBSY", "EACCES", "EROFS"],
    );
}

#[test]
fn writing_proc_1_exe_is_denied() {
    skip_unless_sandbox_works!();
    expect_errno("write", &["/proc/1/exe"], &["ETXTBSY", "EACCES", "EROFS"]);
}

#[test]
fn writing_through_proc_1_root_is_denied() {
    skip_unless_sandbox_works!();
    expect_errno("write", &["/proc/1/root/etc/sentinel"], WRITE_DENIED);
}

#[test]
fn proc_1_environ_holds_no_host_environment() {
    skip_unless_sandbox_works!();
    let fixture = Fixture::new();
    // The test process certainly has PATH; the helper was started with an
    // empty environment, so pid 1 must not have it.
    let outcome = fixture.run(&fixture.spec("read-secret", &["/proc/1/environ", "PATH="]));
    let line = report_line("read-secret", &outcome);
    assert!(
        line == "ok contains-secret=false" || line.starts_with("errno "),
        "{line}"
    );
}

#[test]
fn writing_core_pattern_is_denied() {
    skip_unless_sandbox_works!();
    expect_errno("write", &["/proc/sys/kernel/core_pattern"], WRITE_DENIED);
}

#[test]
fn writing_sysrq_trigger_is_denied() {
    skip_unless_sandbox_works!();
    expect_errno(
        "write",
        &["/proc/sysrq-trigger"],
        &["EROFS", "EACCES", "ENOENT"],
    );
}

// --- C38: signals and ptrace ---------------------------------------------

struct HostSleeper(std::process::Child);

impl HostSleeper {
    fn start() -> Self {
        Self(
            std::process::Command::new("sleep")
                .arg("60")
                .spawn()
                .expect("sleep"),
        )
    }
    fn assert_alive(&mut self) {
        assert!(
            self.0.try_wait().unwrap().is_none(),
            "the host process was killed from inside the sandbox"
        );
    }
}

impl Drop for HostSleeper {
    fn drop(&mut self) {
        // Ends the process this test started, by its pid.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn kill_minus_one_reaches_only_the_sandbox() {
    skip_unless_sandbox_works!();
    let mut sleeper = HostSleeper::start();
    let fixture = Fixture::new();
    let outcome = fixture.run(&fixture.spec("kill-all", &[]));
    let line = report_line("kill-all", &outcome);
    assert!(line == "errno ESRCH" || line.starts_with("ok"), "{line}");
    sleeper.assert_alive();
}

#[test]
fn a_host_pid_cannot_be_signalled() {
    skip_unless_sandbox_works!();
    let mut sleeper = HostSleeper::start();
    let pid = sleeper.0.id().to_string();
    let fixture = Fixture::new();
    let outcome = fixture.run(&fixture.spec("kill-pid", &[&pid]));
    assert_eq!(report_line("kill-pid", &outcome), "errno ESRCH");
    sleeper.assert_alive();
}

#[test]
fn ptrace_attach_is_denied() {
    skip_unless_sandbox_works!();
    expect_errno("ptrace-attach", &[], &["EPERM"]);
}

#[test]
fn process_vm_readv_is_denied() {
    skip_unless_sandbox_works!();
    expect_errno("process-vm-readv", &[], &["EPERM"]);
}

// --- C39, C40: sockets and network -----------------------------------------

#[test]
fn abstract_socket_of_the_host_is_unreachable() {
    skip_unless_sandbox_works!();
    use std::os::linux::net::SocketAddrExt;
    let name = format!("pkgward-probe-{}", std::process::id());
    let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let listener = std::os::unix::net::UnixListener::bind_addr(&address).unwrap();
    listener.set_nonblocking(true).unwrap();
    let fixture = Fixture::new();
    let outcome = fixture.run(&fixture.spec("abstract-connect", &[&name]));
    let line = report_line("abstract-connect", &outcome);
    assert!(
        line == "errno ECONNREFUSED" || line == "errno EPERM",
        "{line}"
    );
    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "the host listener saw a connection"
    );
}

#[test]
fn host_sockets_under_run_are_hidden() {
    skip_unless_sandbox_works!();
    let fixture = Fixture::new();
    let socket = fixture.root.path().join("run/probe.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    listener.set_nonblocking(true).unwrap();
    let outcome = fixture.run(&fixture.spec("unix-connect", &["/run/probe.sock"]));
    assert_eq!(report_line("unix-connect", &outcome), "errno ENOENT");
    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
}

#[test]
fn tcp_to_a_host_listener_fails() {
    skip_unless_sandbox_works!();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let fixture = Fixture::new();
    let outcome = fixture.run(&fixture.spec("tcp-connect", &[&port]));
    let line = report_line("tcp-connect", &outcome);
    assert!(
        ["errno ENETUNREACH", "errno EACCES", "errno ECONNREFUSED"].contains(&line.as_str()),
        "{line}"
    );
    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
}

#[test]
fn udp_to_a_host_port_fails() {
    skip_unless_sandbox_works!();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_nonblocking(true).unwrap();
    let port = socket.local_addr().unwrap().port().to_string();
    let fixture = Fixture::new();
    let outcome = fixture.run(&fixture.spec("udp-send", &[&port]));
    let line = report_line("udp-send", &outcome);
    assert!(line.starts_with("errno "), "{line}");
    let mut buffer = [0u8; 16];
    assert_eq!(
        socket.recv(&mut buffer).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
}

// --- C41, C43: dangerous system calls (table-driven) ------------------------

macro_rules! denied_syscall_tests {
    ($($test:ident: $case:literal => $errno:literal;)*) => {$(
        #[test]
        fn $test() {
            skip_unless_sandbox_works!();
            expect_errno($case, &[], &[$errno]);
        }
    )*};
}

denied_syscall_tests! {
    mount_is_denied: "mount" => "EPERM";
    umount_is_denied: "umount" => "EPERM";
    fsopen_is_denied: "fsopen" => "EPERM";
    open_tree_is_denied: "open-tree" => "EPERM";
    pivot_root_is_denied: "pivot-root" => "EPERM";
    unshare_user_is_denied: "unshare-user" => "EPERM";
    unshare_mount_is_denied: "unshare-mount" => "EPERM";
    setns_is_denied: "setns" => "EPERM";
    clone_with_newuser_is_denied: "clone-newuser" => "EPERM";
    clone3_returns_enosys: "clone3" => "ENOSYS";
    keyctl_is_denied: "keyctl" => "EPERM";
    add_key_is_denied: "add-key" => "EPERM";
    request_key_is_denied: "request-key" => "EPERM";
    bpf_is_denied: "bpf" => "EPERM";
    perf_event_open_is_denied: "perf-event-open" => "EPERM";
    userfaultfd_is_denied: "userfaultfd" => "EPERM";
    io_uring_setup_is_denied: "io-uring-setup" => "EPERM";
    open_by_handle_at_is_denied: "open-by-handle-at" => "EPERM";
    kexec_load_is_denied: "kexec-load" => "EPERM";
    init_module_is_denied: "init-module" => "EPERM";
    finit_module_is_denied: "finit-module" => "EPERM";
    personality_is_denied: "personality" => "EPERM";
    chroot_is_denied: "chroot" => "EPERM";
    // C35: without seccomp these would be ENOTTY on /dev/null; EPERM proves
    // the filter, including the high-bits variant (CVE-2019-10063).
    tiocsti_is_denied: "tiocsti" => "EPERM";
    tiocsti_with_high_bits_is_denied: "tiocsti-high-bits" => "EPERM";
    tioclinux_is_denied: "tioclinux" => "EPERM";
}

// --- C42: x32 and i386 entry points are killed -----------------------------

fn expect_killed_by_sigsys(case: &str) {
    let fixture = Fixture::new();
    let outcome = fixture.run(&fixture.spec(case, &[]));
    assert_eq!(
        outcome.exit,
        CommandExit::Signaled(libc::SIGSYS),
        "`{case}` survived: {}",
        String::from_utf8_lossy(&outcome.stdout)
    );
}

#[test]
fn x32_openat_is_killed() {
    skip_unless_sandbox_works!();
    expect_killed_by_sigsys("x32-openat");
}

#[test]
fn int_0x80_i386_syscall_is_killed() {
    skip_unless_sandbox_works!();
    expect_killed_by_sigsys("int80");
}

// --- C36, C44, C45: what the command inherits -------------------------------

#[test]
fn only_fds_0_1_2_are_open() {
    skip_unless_sandbox_works!();
    // An fd the caller holds without CLOEXEC is inherited by the helper
    // (std does not close it); it must not reach the command.
    let fixture = Fixture::new();
    let leaked = std::fs::File::open(fixture.root.path().join("etc/sentinel")).unwrap();
    {
        use std::os::fd::AsRawFd;
        // SAFETY: F_SETFD on a descriptor this test owns.
        let result = unsafe { libc::fcntl(leaked.as_raw_fd(), libc::F_SETFD, 0) };
        assert_eq!(result, 0);
    }
    let outcome = fixture.run(&fixture.spec("fd-census", &[]));
    assert_eq!(report_line("fd-census", &outcome), "fds=0,1,2");
    drop(leaked);
}

#[test]
fn environment_is_the_allow_list_only() {
    skip_unless_sandbox_works!();
    let fixture = Fixture::new();
    let outcome = fixture.run(&fixture.spec("env-census", &[]));
    assert_eq!(
        report_line("env-census", &outcome),
        "env=HOME,LANG,PATH,TERM"
    );
}

#[test]
fn no_new_privs_seccomp_and_no_capabilities() {
    skip_unless_sandbox_works!();
    let fixture = Fixture::new();
    let outcome = fixture.run(&fixture.spec("proc-status", &[]));
    let line = report_line("proc-status", &outcome);
    for field in [
        "NoNewPrivs=1",
        "Seccomp=2",
        "CapInh=0000000000000000",
        "CapPrm=0000000000000000",
        "CapEff=0000000000000000",
        "CapBnd=0000000000000000",
        "CapAmb=0000000000000000",
    ] {
        assert!(line.contains(field), "missing {field} in `{line}`");
    }
    // The reported status agrees with what the kernel shows.
    assert!(outcome.status.no_new_privs);
    assert!(outcome.status.seccomp.filter_installed);
    assert!(outcome.status.capability_bounding_set.is_empty());
    assert_eq!(outcome.status.landlock.enforcement, Enforcement::Full);
    assert!(outcome.status.landlock.abi >= 3);
    assert!(outcome.status.landlock.abi <= pkgward_sandbox::landlock_kernel_abi());
    assert!(outcome.status.landlock.truncate_controlled);
}

#[test]
fn a_setuid_binary_does_not_change_the_euid() {
    skip_unless_sandbox_works!();
    if !is_root() {
        eprintln!("SKIPPED setuid case: creating a setuid file owned by another user needs root");
        return;
    }
    let fixture = Fixture::new();
    let copy = fixture.root.path().join("var/lib/grant/setuid-probe");
    std::fs::copy(PROBE, &copy).unwrap();
    std::os::unix::fs::chown(&copy, Some(1234), Some(1234)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o4755)).unwrap();
    // Sanity: outside the sandbox the bit is really there.
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&copy).unwrap().mode() & 0o4000, 0o4000);
    // Another test thread cloning its sandbox while `copy` was open for
    // writing holds that descriptor until its child execs: exec may then
    // fail with ETXTBSY for a moment (the multi-threaded fork/exec race).
    for _attempt in 0..5 {
        let outcome = fixture.run(&fixture.spec("exec", &["/var/lib/grant/setuid-probe", "euid"]));
        if String::from_utf8_lossy(&outcome.stdout).contains("Text file busy") {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        assert_eq!(report_line("euid", &outcome), "euid=0");
        return;
    }
    panic!("the setuid copy stayed busy");
}

// --- C46: resource limits and the timeout ----------------------------------

/// The number of forks in the probe's `forks=N …` fork-bomb report.
fn fork_count(line: &str) -> u32 {
    line.strip_prefix("forks=")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("{line}"))
}

#[test]
fn a_fork_bomb_hits_the_process_limit() {
    skip_unless_sandbox_works!();
    let fixture = Fixture::new();
    // Ask first what would enforce the limit: without a mechanism the bomb
    // would really fill the machine's process table.
    let mut spec = fixture.spec("ok", &[]);
    spec.limits.processes = Some(32);
    if fixture.run(&spec).status.process_limit == ProcessLimit::None {
        eprintln!(
            "SKIPPED fork bomb case: no pids cgroup could be created and RLIMIT_NPROC does not bind root"
        );
        return;
    }
    spec.argv[1] = "fork-bomb".to_owned();
    let outcome = fixture.run(&spec);
    let line = report_line("fork-bomb", &outcome);
    let forks = fork_count(&line);
    assert!(forks < 32, "{line}");
    assert!(line.ends_with("errno EAGAIN"), "{line}");
}

/// Whether the running kernel is at least `major.minor`.
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0)) >= (major, minor)
}

#[test]
fn a_fork_bomb_hits_the_pid_namespace_limit_and_the_host_pid_max_is_untouched() {
    skip_unless_sandbox_works!();
    if !is_root() {
        eprintln!(
            "SKIPPED pid namespace limit: only root callers use it (RLIMIT_NPROC binds others)"
        );
        return;
    }
    let host_pid_max = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap();
    let fixture = Fixture::new();
    let mut spec = fixture.spec("fork-bomb", &[]);
    spec.limits.processes = Some(400);
    let outcome = fixture.run(&spec);
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap(),
        host_pid_max,
        "the host's pid_max must never change"
    );
    if !kernel_at_least(6, 14) {
        assert_ne!(outcome.status.process_limit, ProcessLimit::PidNamespace);
        eprintln!("SKIPPED pid namespace limit: pid_max is per namespace only since Linux 6.14");
        return;
    }
    assert_eq!(outcome.status.process_limit, ProcessLimit::PidNamespace);
    let line = report_line("fork-bomb", &outcome);
    let forks = fork_count(&line);
    // Pids 1..=400: pid 1, the probe, and its children.
    assert!((350..=398).contains(&forks), "{line}");
    assert!(line.ends_with("errno EAGAIN"), "{line}");
}

#[test]
fn a_limit_below_the_kernel_minimum_pid_max_falls_back_to_the_cgroup() {
    skip_unless_sandbox_works!();
    if !is_root() || !kernel_at_least(6, 14) {
        eprintln!("SKIPPED pid namespace fallback: needs root and Linux 6.14");
        return;
    }
    let fixture = Fixture::new();
    let mut spec = fixture.spec("ok", &[]);
    // `pid_max` cannot go below 301: 32 processes need the cgroup.
    spec.limits.processes = Some(32);
    let limit = fixture.run(&spec).status.process_limit;
    assert!(
        matches!(limit, ProcessLimit::Cgroup | ProcessLimit::None),
        "{limit:?}"
    );
    // Without seccomp the command could mount a procfs in a new user
    // namespace and raise `pid_max`: the namespace limit is not used.
    spec.limits.processes = Some(400);
    spec.seccomp = false;
    let limit = fixture.run(&spec).status.process_limit;
    assert_ne!(limit, ProcessLimit::PidNamespace);
}

#[test]
fn the_command_cannot_raise_pid_max() {
    skip_unless_sandbox_works!();
    expect_errno("write", &["/proc/sys/kernel/pid_max"], WRITE_DENIED);
}

#[test]
fn the_file_size_limit_stops_a_large_write() {
    skip_unless_sandbox_works!();
    let fixture = Fixture::new();
    let mut spec = fixture.spec("file-size", &["/var/lib/grant/big"]);
    spec.limits.file_size_bytes = Some(1 << 20);
    let outcome = fixture.run(&spec);
    assert_eq!(
        report_line("file-size", &outcome),
        format!("written={} errno EFBIG", 1 << 20)
    );
    assert_eq!(
        std::fs::metadata(fixture.root.path().join("var/lib/grant/big"))
            .unwrap()
            .len(),
        1 << 20
    );
}

#[test]
fn a_huge_allocation_hits_the_address_space_limit() {
    skip_unless_sandbox_works!();
    expect_errno("allocate", &[], &["ENOMEM"]);
}

#[test]
fn the_cpu_limit_kills_a_spinning_command() {
    skip_unless_sandbox_works!();
    let fixture = Fixture::new();
    let mut spec = fixture.spec("spin", &[]);
    spec.limits.cpu_seconds = Some(1);
    let outcome = fixture.run(&spec);
    assert!(
        matches!(
            outcome.exit,
            CommandExit::Signaled(signal) if signal == libc::SIGXCPU || signal == libc::SIGKILL
        ),
        "{:?}",
        outcome.exit
    );
}

#[test]
fn the_timeout_kills_the_whole_sandbox() {
    skip_unless_sandbox_works!();
    let fixture = Fixture::new();
    let mut spec = fixture.spec("sleep", &["30"]);
    spec.timeout = Duration::from_secs(1);
    let started = std::time::Instant::now();
    let outcome = fixture.run(&spec);
    assert_eq!(outcome.exit, CommandExit::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(10));
}

// --- C47: mount propagation ------------------------------------------------

#[test]
fn no_mount_reaches_the_host() {
    skip_unless_sandbox_works!();
    let fixture = Fixture::new();
    let root = fixture.root.path().to_str().unwrap().to_owned();
    let mounts_of_root = || {
        let mut text = String::new();
        std::fs::File::open("/proc/self/mountinfo")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text.lines().filter(|line| line.contains(&root)).count()
    };
    assert_eq!(mounts_of_root(), 0);
    let outcome = fixture.run(&fixture.spec("ok", &[]));
    assert_eq!(report_line("ok", &outcome), "ok");
    assert_eq!(
        mounts_of_root(),
        0,
        "a sandbox mount propagated to the host"
    );
}

// --- setup errors are reported, not run -------------------------------------

#[test]
fn a_missing_writable_path_is_an_error_naming_it() {
    skip_unless_sandbox_works!();
    let fixture = Fixture::new();
    let mut spec = fixture.spec("ok", &[]);
    spec.writable.push(PathBuf::from("/var/lib/absent"));
    let error = pkgward_sandbox::run(&spec, &HelperProgram::new(PROBE)).unwrap_err();
    assert!(error.to_string().contains("`/var/lib/absent`"), "{error}");
}

#[test]
fn a_writable_symlink_cannot_point_outside_the_root() {
    skip_unless_sandbox_works!();
    let fixture = Fixture::new();
    // A package shipped `/var/lib/evil -> /etc`; granting it must grant the
    // root's /etc at most, never the host's.
    std::os::unix::fs::symlink("/etc", fixture.root.path().join("var/lib/evil")).unwrap();
    let mut spec = fixture.spec("write", &["/var/lib/evil/sentinel"]);
    spec.writable.push(PathBuf::from("/var/lib/evil"));
    let outcome = pkgward_sandbox::run(&spec, &HelperProgram::new(PROBE)).unwrap();
    // Resolved inside the root: the root's /etc became writable (what was
    // granted), and the host's /etc was never touched.
    assert_eq!(report_line("write", &outcome), "ok");
    assert_eq!(
        std::fs::read(fixture.root.path().join("etc/sentinel")).unwrap(),
        b"original sentinel\nescaped\n"
    );
}
