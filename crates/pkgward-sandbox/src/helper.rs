//! The helper: the sandbox's pid 1.
//!
//! The caller ([`crate::run`]) clones a child straight into new user, mount,
//! pid, network, IPC, UTS and cgroup namespaces, writes its uid/gid maps from
//! outside (only a process in the parent namespace can map a range of ids),
//! and the child re-executes an executable whose `main` first calls
//! [`run_helper_if_requested`], recognised by its `argv[0]`
//! ([`HELPER_ARGV0`]). The re-execution matters when the caller has threads
//! (one of them may hold a lock the child would need): the helper starts
//! single-threaded and clean, with an empty environment. A single-threaded
//! caller's child skips it and goes on in place ([`run_in_place`]), after
//! making itself look fresh ([`kernel::forget_the_caller`]): loading the
//! executable again was half the CPU of a short run.
//!
//! Its descriptors: 0 is the control socket (it reads a [`HelperRequest`] as
//! JSON until EOF and writes [`Message`]s back as JSON lines), 1 and 2 the
//! capture pipes, 3 a socket for the process limit: when asked to limit
//! its own pid namespace and that fails, pid 1 says `f`; unless the limit is
//! its namespace's, pid 1 waits there for the caller to say which limit is
//! in place. Pid 1 builds the filesystem view, applies rlimits, drops
//! capabilities, applies `no_new_privs`, Landlock and seccomp, reports the
//! achieved [`Status`], forks the command and reaps every orphan until the
//! command exits; its exit then ends the namespace. The caller enforces the
//! timeout by killing pid 1.

use crate::kernel;
use crate::landlock_rules;
use crate::mounts;
use crate::process_limit;
use crate::spec::Spec;
use crate::status::{Message, ProcessLimit, SeccompStatus, Status, UserMapping};
use crate::syscall_filter;
use serde::{Deserialize, Serialize};
use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::net::UnixStream;

/// `argv[0]` that turns an executable into the sandbox helper.
pub const HELPER_ARGV0: &str = "pkgward-sandbox-helper";

/// The namespaces the sandbox is cloned into, by `/proc/<pid>/ns` name.
pub(crate) const NAMESPACES: [(&str, libc::c_int); 7] = [
    ("user", libc::CLONE_NEWUSER),
    ("mnt", libc::CLONE_NEWNS),
    ("pid", libc::CLONE_NEWPID),
    ("net", libc::CLONE_NEWNET),
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("cgroup", libc::CLONE_NEWCGROUP),
];

/// Capabilities kept (in the sandbox's user namespace only) when the spec
/// asks for file-ownership capabilities.
const FILE_OWNERSHIP_CAPABILITIES: [(u32, &str); 4] = [
    (0, "cap_chown"),
    (1, "cap_dac_override"),
    (3, "cap_fowner"),
    (4, "cap_fsetid"),
];

/// What the caller sends the helper: the spec, how it mapped the ids, and
/// the process limit pid 1 should try to enforce through its pid
/// namespace's `pid_max` (see `process_limit.rs`).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct HelperRequest {
    pub spec: Spec,
    pub mapping: UserMapping,
    pub pid_namespace_limit: Option<u64>,
}

/// Call first thing in `main`, before any thread starts. Returns the exit
/// code to exit with when this process is the helper, `None` otherwise.
pub fn run_helper_if_requested() -> Option<i32> {
    let argv0 = std::env::args_os().next()?;
    if argv0 != HELPER_ARGV0 {
        return None;
    }
    Some(run_on_descriptors())
}

/// The helper in the caller's own fork-like child, without executing
/// anything (single-threaded callers, see [`kernel::clone_helper`]); never
/// returns.
pub(crate) fn run_in_place() -> ! {
    // A panic must never unwind into the caller's code, which this process
    // shares a copy of: it ends the helper like any other failure.
    let code = std::panic::catch_unwind(|| {
        kernel::forget_the_caller();
        run_on_descriptors()
    })
    .unwrap_or(1);
    kernel::exit_immediately(code)
}

/// The helper on descriptors 0–3 set up by the caller.
fn run_on_descriptors() -> i32 {
    kernel::close_descriptors_from(4);
    // SAFETY: the caller set fd 0 to the control socket and fd 3 to the
    // process-limit socket when it cloned this process; it owns them from here.
    let (control, process_limit_channel) = unsafe {
        (
            UnixStream::from_raw_fd(0),
            std::os::fd::OwnedFd::from_raw_fd(3),
        )
    };
    helper_main(control, &process_limit_channel)
}

fn send(control: &mut UnixStream, message: &Message) {
    let mut line = serde_json::to_string(message).expect("messages serialise");
    line.push('\n');
    // The caller may be gone; there is nobody left to tell.
    let _ = control.write_all(line.as_bytes());
}

fn helper_main(mut control: UnixStream, process_limit_channel: &std::os::fd::OwnedFd) -> i32 {
    if std::process::id() != 1 {
        send(
            &mut control,
            &Message::SetupFailed("the sandbox helper is not pid 1 of a new pid namespace".into()),
        );
        return 1;
    }
    let mut request_json = Vec::new();
    if let Err(error) = control.read_to_end(&mut request_json) {
        send(
            &mut control,
            &Message::SetupFailed(format!("cannot read the spec: {error}")),
        );
        return 1;
    }
    let request: HelperRequest = match serde_json::from_slice(&request_json) {
        Ok(request) => request,
        Err(error) => {
            send(
                &mut control,
                &Message::SetupFailed(format!("malformed spec: {error}")),
            );
            return 1;
        }
    };
    if let Err(error) = request.spec.validate() {
        send(&mut control, &Message::SetupFailed(error.to_string()));
        return 1;
    }
    // Our pid namespace's own limit is written by a child while we set up.
    let pending_limit = request
        .pid_namespace_limit
        .map(process_limit::start_limiting_pid_namespace);
    init_main(
        &request.spec,
        &mut control,
        process_limit_channel,
        pending_limit,
        request.mapping,
    )
}

/// Pid 1 of the sandbox. Returns its exit code (the command's, shell-style).
fn init_main(
    spec: &Spec,
    control: &mut UnixStream,
    caller_limit_channel: &std::os::fd::OwnedFd,
    pending_limit: Option<std::io::Result<kernel::PendingWrite>>,
    mapping: UserMapping,
) -> i32 {
    match confine(spec, mapping) {
        Ok((mut status, program, argv, environment)) => {
            // The limit must be in place before the first fork. When our pid
            // namespace limits itself the caller has nothing to do and is
            // not disturbed; otherwise it prepares the limit while we set up
            // (told at once when not asked to leave it to us, asked with `f`
            // when our own limit failed) and we wait for its answer.
            let asked = pending_limit.is_some();
            let namespace_limited = pending_limit
                .is_some_and(|pending| pending.and_then(kernel::PendingWrite::finish).is_ok());
            if asked && !namespace_limited && !write_byte(caller_limit_channel, b'f') {
                return 1;
            }
            status.process_limit = if namespace_limited {
                ProcessLimit::PidNamespace
            } else {
                match read_byte(caller_limit_channel) {
                    Some(b'c') => ProcessLimit::Cgroup,
                    Some(b'r') => ProcessLimit::Rlimit,
                    Some(_) => ProcessLimit::None,
                    None => return 1,
                }
            };
            send(control, &Message::Confined(status));
            run_command(control, &program, &argv, &environment)
        }
        Err(error) => {
            send(control, &Message::SetupFailed(error));
            1
        }
    }
}

type Prepared = (Status, CString, Vec<CString>, Vec<CString>);

/// One byte to the caller; false when the caller is gone.
fn write_byte(channel: &std::os::fd::OwnedFd, byte: u8) -> bool {
    loop {
        // SAFETY: writing one byte from a local to a socket we own.
        let written = unsafe { libc::write(channel.as_raw_fd(), (&raw const byte).cast(), 1) };
        if written == 1 {
            return true;
        }
        if written < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
        {
            continue;
        }
        return false;
    }
}

/// One byte from the caller; `None` when the caller is gone.
fn read_byte(pipe: &std::os::fd::OwnedFd) -> Option<u8> {
    let mut byte = [0u8; 1];
    loop {
        // SAFETY: reading one byte into a buffer we own from a pipe we own.
        let read = unsafe { libc::read(pipe.as_raw_fd(), byte.as_mut_ptr().cast(), 1) };
        if read == 1 {
            return Some(byte[0]);
        }
        if read < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        return None;
    }
}

fn confine(spec: &Spec, mapping: UserMapping) -> Result<Prepared, String> {
    if matches!(mapping, UserMapping::Identity { .. }) {
        kernel::drop_supplementary_groups()
            .map_err(|error| format!("cannot drop supplementary groups: {error}"))?;
    }
    kernel::set_hostname("pkgward-sandbox")
        .map_err(|error| format!("cannot set the hostname: {error}"))?;
    mounts::build_and_enter(spec)?;
    apply_resource_limits(spec)?;
    let capability_bounding_set = drop_capabilities(spec.keep_file_ownership_capabilities)?;

    kernel::set_no_new_privileges().map_err(|error| format!("cannot set no_new_privs: {error}"))?;
    let writable: Vec<std::path::PathBuf> = spec
        .writable
        .iter()
        .cloned()
        .chain(
            spec.binds
                .iter()
                .filter(|bind| bind.writable)
                .map(|bind| bind.target.clone()),
        )
        .collect();
    let landlock = landlock_rules::restrict(&writable, spec.landlock)?;
    let seccomp = if spec.seccomp {
        let filter = syscall_filter::build()
            .map_err(|error| format!("cannot build the seccomp filter: {error}"))?;
        kernel::install_seccomp(&filter.program)
            .map_err(|error| format!("cannot install the seccomp filter: {error}"))?;
        SeccompStatus {
            filter_installed: true,
            denied_syscalls: filter.denied_syscalls,
            architecture_guard: true,
        }
    } else {
        SeccompStatus {
            filter_installed: false,
            denied_syscalls: 0,
            architecture_guard: false,
        }
    };

    let (program, argv, environment) = prepare_command(spec)?;
    let status = Status {
        namespaces: NAMESPACES
            .iter()
            .map(|(name, _)| (*name).to_owned())
            .collect(),
        user_mapping: mapping,
        landlock,
        seccomp,
        no_new_privs: kernel::no_new_privileges(),
        capability_bounding_set,
        // Filled in by the caller once the helper has reported it.
        process_limit: ProcessLimit::None,
    };
    Ok((status, program, argv, environment))
}

fn apply_resource_limits(spec: &Spec) -> Result<(), String> {
    let limits = &spec.limits;
    for (name, resource, value) in [
        ("RLIMIT_CPU", libc::RLIMIT_CPU, limits.cpu_seconds),
        ("RLIMIT_AS", libc::RLIMIT_AS, limits.address_space_bytes),
        ("RLIMIT_NPROC", libc::RLIMIT_NPROC, limits.processes),
        ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE, limits.file_size_bytes),
        ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE, limits.open_files),
        ("RLIMIT_CORE", libc::RLIMIT_CORE, limits.core_bytes),
    ] {
        if let Some(value) = value {
            kernel::set_resource_limit(resource, value)
                .map_err(|error| format!("cannot set {name} to {value}: {error}"))?;
        }
    }
    Ok(())
}

/// Empty the bounding set (but for the file-ownership capabilities when
/// asked): the command, uid 0 inside, then gets exactly the bounding set at
/// `execve` (its inheritable and ambient sets are empty), so by default
/// `CapEff`, `CapPrm`, `CapBnd` and `CapAmb` are all 0 (THREATS.md C44).
fn drop_capabilities(keep_file_ownership: bool) -> Result<Vec<String>, String> {
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .unwrap_or(40);
    let mut kept = Vec::new();
    for capability in 0..=last {
        if keep_file_ownership {
            if let Some((_, name)) = FILE_OWNERSHIP_CAPABILITIES
                .iter()
                .find(|(number, _)| *number == capability)
            {
                kept.push((*name).to_owned());
                continue;
            }
        }
        kernel::drop_from_bounding_set(capability)
            .map_err(|error| format!("cannot drop capability {capability}: {error}"))?;
    }
    kernel::clear_ambient_capabilities()
        .map_err(|error| format!("cannot clear ambient capabilities: {error}"))?;
    Ok(kept)
}

/// Resolve the program in the sandbox's `PATH` and build the C strings now,
/// before forking.
fn prepare_command(spec: &Spec) -> Result<(CString, Vec<CString>, Vec<CString>), String> {
    let to_c = |text: &str| CString::new(text).map_err(|_| format!("`{text}` contains a NUL byte"));
    let argv = spec
        .argv
        .iter()
        .map(|argument| to_c(argument))
        .collect::<Result<Vec<_>, _>>()?;
    let environment = spec
        .environment
        .iter()
        .map(|(name, value)| to_c(&format!("{name}={value}")))
        .collect::<Result<Vec<_>, _>>()?;
    let name = &spec.argv[0];
    let program = if name.contains('/') {
        to_c(name)?
    } else {
        let path = spec
            .environment
            .iter()
            .find(|(variable, _)| variable == "PATH")
            .map_or("", |(_, value)| value.as_str());
        path.split(':')
            .filter(|directory| !directory.is_empty())
            .map(|directory| format!("{directory}/{name}"))
            .filter_map(|candidate| CString::new(candidate).ok())
            .find(|candidate| kernel::is_executable_file(candidate))
            .ok_or_else(|| format!("command `{name}` not found in the sandbox's PATH `{path}`"))?
    };
    Ok((program, argv, environment))
}

/// Fork the command and reap every process until it exits.
fn run_command(
    control: &mut UnixStream,
    program: &CString,
    argv: &[CString],
    environment: &[CString],
) -> i32 {
    let null_device = match kernel::open_null_device() {
        Ok(fd) => fd,
        Err(error) => {
            send(
                control,
                &Message::SetupFailed(format!("cannot open `/dev/null`: {error}")),
            );
            return 1;
        }
    };
    let child = match kernel::fork() {
        Ok(0) => kernel::exec_command(null_device.as_raw_fd(), program, argv, environment),
        Ok(child) => child,
        Err(error) => {
            send(
                control,
                &Message::SetupFailed(format!("cannot fork the command: {error}")),
            );
            return 1;
        }
    };
    drop(null_device);
    // As pid 1, every orphan of the namespace is ours to reap; stop when the
    // command itself is done (what is left dies with us).
    loop {
        match kernel::wait_for(-1) {
            Ok((pid, status)) if pid == child => {
                let exit = kernel::decode_wait_status(status);
                send(control, &Message::CommandEnded(exit));
                return exit.code();
            }
            Ok(_) => {}
            Err(_) => return 1,
        }
    }
}
