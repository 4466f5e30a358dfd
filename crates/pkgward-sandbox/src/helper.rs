//! The re-executed helper process and the sandbox's pid 1.
//!
//! The caller (a multi-threaded program, possibly) spawns a fresh copy of an
//! executable whose `main` first calls [`run_helper_if_requested`]; that
//! copy is recognised by its `argv[0]` ([`HELPER_ARGV0`]) and is
//! single-threaded, which `CLONE_NEWUSER` requires. Its file descriptor 0 is
//! the control socket: it reads the [`Spec`] (JSON) until EOF, and later the
//! caller reads [`Message`]s from it.
//!
//! The helper clones a child into new user, mount, pid, network, IPC, UTS and
//! cgroup namespaces. The child is pid 1 of the new pid namespace. The helper
//! stays outside: it writes the child's uid/gid maps (only a process in the
//! parent namespace can map a range of ids), then supervises the wall-clock
//! timeout and kills pid 1 when it expires — the kernel then kills every
//! process of the namespace.
//!
//! Pid 1 builds the filesystem view, applies rlimits, drops capabilities,
//! applies Landlock, `no_new_privs` and seccomp, reports the achieved
//! [`Status`], forks the command and reaps every orphan until the command
//! exits; its own exit then ends the namespace.

use crate::kernel;
use crate::landlock_rules;
use crate::mounts;
use crate::process_limit::PidsCgroup;
use crate::spec::Spec;
use crate::status::{Message, ProcessLimit, SeccompStatus, Status, UserMapping};
use crate::syscall_filter;
use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// `argv[0]` that turns an executable into the sandbox helper.
pub const HELPER_ARGV0: &str = "pkgward-sandbox-helper";

/// How many ids a root caller maps into the sandbox: the same ids inside and
/// outside, covering Debian's system and ordinary users (0–65535).
const IDENTITY_MAPPED_IDS: u32 = 65536;

/// The namespaces the sandbox unshares, by `/proc/<pid>/ns` name.
const NAMESPACES: [(&str, libc::c_int); 7] = [
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

/// Call first thing in `main`, before any thread starts. Returns the exit
/// code to exit with when this process is the helper, `None` otherwise.
pub fn run_helper_if_requested() -> Option<i32> {
    let argv0 = std::env::args_os().next()?;
    if argv0 != HELPER_ARGV0 {
        return None;
    }
    // SAFETY: the caller set fd 0 to the control socket when spawning the
    // helper; this process owns it from here on.
    let control = unsafe { UnixStream::from_raw_fd(0) };
    Some(helper_main(control))
}

fn send(control: &mut UnixStream, message: &Message) {
    let mut line = serde_json::to_string(message).expect("messages serialise");
    line.push('\n');
    // The caller may be gone; there is nobody left to tell.
    let _ = control.write_all(line.as_bytes());
}

fn helper_main(mut control: UnixStream) -> i32 {
    // Die with the caller: an orphaned sandbox must not outlive it.
    let original_parent = kernel::parent_pid();
    if kernel::set_parent_death_signal().is_err() || original_parent == 1 {
        return 1;
    }
    let mut spec_json = Vec::new();
    if let Err(error) = control.read_to_end(&mut spec_json) {
        send(
            &mut control,
            &Message::SetupFailed(format!("cannot read the spec: {error}")),
        );
        return 1;
    }
    let spec: Spec = match serde_json::from_slice(&spec_json) {
        Ok(spec) => spec,
        Err(error) => {
            send(
                &mut control,
                &Message::SetupFailed(format!("malformed spec: {error}")),
            );
            return 1;
        }
    };
    if let Err(error) = spec.validate() {
        send(&mut control, &Message::SetupFailed(error.to_string()));
        return 1;
    }
    match supervise(&spec, &mut control) {
        Ok(timed_out) => {
            send(&mut control, &Message::HelperDone { timed_out });
            0
        }
        Err(error) => {
            send(&mut control, &Message::SetupFailed(error));
            1
        }
    }
}

/// Outside the namespaces: clone pid 1, map its ids, enforce the timeout.
fn supervise(spec: &Spec, control: &mut UnixStream) -> Result<bool, String> {
    let (maps_written_reader, maps_written_writer) =
        kernel::pipe().map_err(|error| format!("cannot create a pipe: {error}"))?;
    let flags = NAMESPACES.iter().fold(0, |flags, (_, flag)| flags | flag);
    let uid = kernel::effective_uid();
    let gid = kernel::effective_gid();
    let mapping = if uid == 0 {
        UserMapping::Identity {
            count: IDENTITY_MAPPED_IDS,
        }
    } else {
        UserMapping::Single { uid, gid }
    };

    let pid = kernel::clone_into_namespaces(flags).map_err(|error| {
        format!("cannot create user, mount, pid, network, ipc, uts and cgroup namespaces: {error}")
    })?;
    if pid == 0 {
        drop(maps_written_writer);
        let code = init_main(spec, control, &maps_written_reader, mapping);
        kernel::exit_immediately(code);
    }
    drop(maps_written_reader);

    if let Err(error) = write_id_maps(pid, &mapping) {
        let _ = kernel::kill(pid, libc::SIGKILL);
        let _ = kernel::wait_for(pid);
        return Err(format!("cannot map user ids into the sandbox: {error}"));
    }
    // Pid 1 may start its setup now; the process limit is prepared
    // meanwhile (moving a process between cgroups takes about a millisecond)
    // and pid 1 waits for it only before forking the command.
    let mut writer = std::fs::File::from(maps_written_writer);
    let _ = writer.write_all(b"m");
    let cgroup = match spec.limits.processes {
        Some(limit) if uid == 0 => PidsCgroup::create(pid, limit).ok(),
        _ => None,
    };
    let process_limit = match (spec.limits.processes, &cgroup) {
        (Some(_), Some(_)) => ProcessLimit::Cgroup,
        (Some(_), None) if uid != 0 => ProcessLimit::Rlimit,
        _ => ProcessLimit::None,
    };
    let byte = match process_limit {
        ProcessLimit::Cgroup => b'c',
        ProcessLimit::Rlimit => b'r',
        ProcessLimit::None => b'n',
    };
    let _ = writer.write_all(&[byte]);
    drop(writer);

    let pidfd = kernel::pidfd_open(pid).map_err(|error| format!("pidfd_open: {error}"))?;
    let deadline = std::time::Instant::now() + spec.timeout;
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            // Killing pid 1 makes the kernel kill every other process of the
            // pid namespace: nothing the command forked survives.
            let _ = kernel::kill(pid, libc::SIGKILL);
            timed_out = true;
            break;
        }
        let wait_ms = libc::c_int::try_from(left.as_millis().clamp(1, 60_000)).unwrap_or(60_000);
        match kernel::poll_readable(&pidfd, wait_ms) {
            Ok(true) => break,
            Ok(false) => {}
            Err(error) => {
                let _ = kernel::kill(pid, libc::SIGKILL);
                let _ = kernel::wait_for(pid);
                return Err(format!("cannot wait for the sandbox: {error}"));
            }
        }
    }
    kernel::wait_for(pid).map_err(|error| format!("cannot reap the sandbox: {error}"))?;
    drop(cgroup);
    Ok(timed_out)
}

fn write_id_maps(pid: libc::pid_t, mapping: &UserMapping) -> std::io::Result<()> {
    let proc_dir = Path::new("/proc").join(pid.to_string());
    match mapping {
        UserMapping::Identity { count } => {
            std::fs::write(proc_dir.join("uid_map"), format!("0 0 {count}\n"))?;
            std::fs::write(proc_dir.join("gid_map"), format!("0 0 {count}\n"))?;
        }
        UserMapping::Single { uid, gid } => {
            // An unprivileged writer must deny setgroups before mapping gids.
            std::fs::write(proc_dir.join("setgroups"), "deny")?;
            std::fs::write(proc_dir.join("uid_map"), format!("0 {uid} 1\n"))?;
            std::fs::write(proc_dir.join("gid_map"), format!("0 {gid} 1\n"))?;
        }
    }
    Ok(())
}

/// Pid 1 of the sandbox. Returns its exit code (the command's, shell-style).
fn init_main(
    spec: &Spec,
    control: &mut UnixStream,
    maps_written: &std::os::fd::OwnedFd,
    mapping: UserMapping,
) -> i32 {
    // The helper may die between clone and here: check the pipe, not a
    // signal that may never come.
    if kernel::set_parent_death_signal().is_err() {
        return 1;
    }
    // First byte: the id maps are written.
    if read_byte(maps_written).is_none() {
        return 1;
    }
    match confine(spec, mapping) {
        Ok((mut status, program, argv, environment)) => {
            // Second byte: the process limit is in place (or not).
            status.process_limit = match read_byte(maps_written) {
                Some(b'c') => ProcessLimit::Cgroup,
                Some(b'r') => ProcessLimit::Rlimit,
                Some(_) => ProcessLimit::None,
                None => return 1,
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

/// One byte from the helper's pipe; `None` when the helper is gone.
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
    let landlock = landlock_rules::restrict(&spec.writable, spec.landlock)?;
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
