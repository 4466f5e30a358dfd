//! The caller's side: clone the sandbox's pid 1 into its namespaces, map
//! its ids, settle the process limit, then wait — collecting output and
//! messages — until it ends or the timeout kills it.

use crate::helper::{HelperRequest, HELPER_ARGV0, NAMESPACES};
use crate::kernel;
use crate::process_limit::PidsCgroup;
use crate::spec::{Spec, SpecError};
use crate::status::{CommandExit, Message, Outcome, UserMapping};
use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// Most bytes kept of each of the command's stdout and stderr; the rest is
/// read and dropped so the command never blocks on a full pipe.
pub const CAPTURE_LIMIT: usize = 16 << 20;

/// How many ids a root caller maps into the sandbox: the same ids inside and
/// outside, covering Debian's system and ordinary users (0–65535).
const IDENTITY_MAPPED_IDS: u32 = 65536;

/// An executable whose `main` calls
/// [`crate::run_helper_if_requested`] before anything else (the `pkgward`
/// binary itself, via `std::env::current_exe()`).
#[derive(Debug, Clone)]
pub struct HelperProgram {
    pub executable: PathBuf,
}

impl HelperProgram {
    pub fn new(executable: impl Into<PathBuf>) -> Self {
        Self {
            executable: executable.into(),
        }
    }

    /// The running executable.
    pub fn current() -> std::io::Result<Self> {
        Ok(Self::new(std::env::current_exe()?))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("invalid sandbox spec")]
    Spec(#[from] SpecError),
    #[error("cannot start the sandbox helper `{}`", executable.display())]
    Spawn {
        executable: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot talk to the sandbox helper")]
    Control(#[source] std::io::Error),
    #[error("sandbox setup failed: {0}")]
    Setup(String),
    #[error("the sandbox helper broke the protocol: {0}")]
    Protocol(String),
}

/// Run `spec` in the sandbox and wait for it.
///
/// The calling thread must stay alive until this returns: the sandbox is
/// killed when the thread that created it exits (`PR_SET_PDEATHSIG`).
pub fn run(spec: &Spec, helper: &HelperProgram) -> Result<Outcome, SandboxError> {
    spec.validate()?;
    let uid = kernel::effective_uid();
    let gid = kernel::effective_gid();
    let mapping = if uid == 0 {
        UserMapping::Identity {
            count: IDENTITY_MAPPED_IDS,
        }
    } else {
        UserMapping::Single { uid, gid }
    };

    // The request is written before the helper exists: it is small, the
    // socket buffers it, and the helper can read it the moment it starts.
    let (mut control, helper_control) = UnixStream::pair().map_err(SandboxError::Control)?;
    // Root callers: pid 1 first tries its pid namespace's `pid_max`, which
    // costs nothing; only with seccomp on (see `process_limit.rs`).
    let pid_namespace_limit = spec.limits.processes.filter(|_| uid == 0 && spec.seccomp);
    let request = HelperRequest {
        spec: spec.clone(),
        mapping: mapping.clone(),
        pid_namespace_limit,
    };
    control
        .write_all(&serde_json::to_vec(&request).expect("requests serialise"))
        .and_then(|()| control.shutdown(std::net::Shutdown::Write))
        .map_err(SandboxError::Control)?;
    let (stdout_reader, stdout_writer) = kernel::pipe().map_err(SandboxError::Control)?;
    let (stderr_reader, stderr_writer) = kernel::pipe().map_err(SandboxError::Control)?;
    let (limit_channel, helper_limit_channel) =
        UnixStream::pair().map_err(SandboxError::Control)?;
    let (maps_reader, maps_writer) = kernel::pipe().map_err(SandboxError::Control)?;

    let spawn_error = |source| SandboxError::Spawn {
        executable: helper.executable.clone(),
        source,
    };
    let program = kernel::c_string(&helper.executable).map_err(spawn_error)?;
    let argv0 = CString::new(HELPER_ARGV0).expect("static");
    let argv = [argv0.as_ptr(), std::ptr::null()];
    let flags = NAMESPACES.iter().fold(0, |flags, (_, flag)| flags | flag);
    // A single-threaded caller's child goes on as the helper in place;
    // otherwise the child executes `helper` afresh.
    let in_place = kernel::is_single_threaded();
    let pid = kernel::clone_helper(
        flags,
        [
            helper_control.as_raw_fd(),
            stdout_writer.as_raw_fd(),
            stderr_writer.as_raw_fd(),
            helper_limit_channel.as_raw_fd(),
        ],
        maps_reader.as_raw_fd(),
        (!in_place).then_some((program.as_c_str(), argv.as_slice())),
    )
    .map_err(|error| {
        SandboxError::Setup(format!(
            "cannot create user, mount, pid, network, ipc, uts and cgroup namespaces: {error}"
        ))
    })?;
    if pid == 0 {
        crate::helper::run_in_place();
    }
    drop((
        helper_control,
        stdout_writer,
        stderr_writer,
        helper_limit_channel,
        maps_reader,
    ));
    // From here on, every early return must kill and reap the child.
    let abandon = |error: SandboxError| {
        let _ = kernel::kill(pid, libc::SIGKILL);
        let _ = kernel::wait_for(pid);
        error
    };

    write_id_maps(pid, &mapping).map_err(|error| {
        abandon(SandboxError::Setup(format!(
            "cannot map user ids into the sandbox: {error}"
        )))
    })?;
    let mut maps_writer = std::fs::File::from(maps_writer);
    maps_writer
        .write_all(b"m")
        .map_err(|error| abandon(SandboxError::Control(error)))?;
    drop(maps_writer);

    // The process limit must be in place before pid 1 forks the command.
    // When pid 1 was asked to limit its own pid namespace, it speaks only
    // if that failed (then it waits for the cgroup, settled in `collect`);
    // otherwise it waits for this byte, and the cgroup is made while it
    // sets up.
    let mut limit = ProcessLimitSettlement {
        pid,
        processes: spec.limits.processes,
        root: uid == 0,
        channel: Some(limit_channel),
        cgroup: None,
    };
    if pid_namespace_limit.is_none() {
        limit.settle();
    }

    let pidfd = kernel::pidfd_open(pid)
        .map_err(|error| abandon(SandboxError::Setup(format!("pidfd_open: {error}"))))?;
    let collected = collect(
        pid,
        &pidfd,
        spec.timeout,
        stdout_reader,
        stderr_reader,
        control,
        &mut limit,
    )
    .map_err(|error| abandon(SandboxError::Control(error)))?;
    kernel::wait_for(pid).map_err(SandboxError::Control)?;
    drop(limit);

    let mut status = None;
    let mut ended = None;
    for line in collected.messages.lines().filter(|line| !line.is_empty()) {
        let message: Message = serde_json::from_str(line)
            .map_err(|error| SandboxError::Protocol(format!("`{line}`: {error}")))?;
        match message {
            Message::Confined(achieved) => status = Some(achieved),
            Message::SetupFailed(error) => return Err(SandboxError::Setup(error)),
            Message::CommandEnded(exit) => ended = Some(exit),
        }
    }
    let status = status.ok_or_else(|| {
        SandboxError::Protocol(format!(
            "the sandbox ended without reporting its status{}",
            if collected.stderr.is_empty() {
                String::new()
            } else {
                format!(": {}", String::from_utf8_lossy(&collected.stderr).trim())
            }
        ))
    })?;
    let exit = match (collected.timed_out, ended) {
        (true, _) => CommandExit::TimedOut,
        (false, Some(exit)) => exit,
        (false, None) => {
            return Err(SandboxError::Protocol(
                "the sandbox ended without reporting the command's exit".to_owned(),
            ))
        }
    };
    Ok(Outcome {
        status,
        exit,
        stdout: collected.stdout,
        stderr: collected.stderr,
    })
}

/// The caller's side of the process limit: the channel to pid 1 and, for
/// root callers whose pid namespace could not limit itself, the cgroup
/// (removed on drop, after pid 1 has been reaped).
struct ProcessLimitSettlement {
    pid: libc::pid_t,
    processes: Option<u64>,
    root: bool,
    channel: Option<UnixStream>,
    cgroup: Option<PidsCgroup>,
}

impl ProcessLimitSettlement {
    /// Create the cgroup when one is needed (root callers; `RLIMIT_NPROC`
    /// binds everyone else) and tell pid 1 what enforces the limit.
    fn settle(&mut self) {
        let byte = match self.processes {
            Some(processes) if self.root => {
                self.cgroup = PidsCgroup::create(self.pid, processes).ok();
                if self.cgroup.is_some() {
                    b'c'
                } else {
                    b'n'
                }
            }
            Some(_) => b'r',
            None => b'n',
        };
        if let Some(mut channel) = self.channel.take() {
            // A failed write means pid 1 is gone; the wait reports it.
            let _ = channel.write_all(&[byte]);
        }
    }

    /// Pid 1 spoke (or ended): `f` means its pid namespace could not limit
    /// itself and it waits for the cgroup.
    fn answer(&mut self) {
        let mut byte = [0u8];
        let asked = self
            .channel
            .as_mut()
            .is_some_and(|channel| channel.read_exact(&mut byte).is_ok() && byte[0] == b'f');
        if asked {
            self.settle();
        } else {
            self.channel = None;
        }
    }
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

/// Index of the control socket among the collected streams.
const CONTROL: usize = 2;
/// Poll owners beyond the collected streams.
const PIDFD: usize = 3;
const LIMIT_CHANNEL: usize = 4;

struct Collected {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    messages: String,
    timed_out: bool,
}

/// One thread, one poll loop: output and pid 1's end, until both output
/// streams are closed and pid 1 has exited; then the messages. When the
/// timeout expires, pid 1 is killed by its pid; the kernel then kills every
/// process of its pid namespace, which closes the streams.
///
/// The control socket is read only once pid 1 has exited: its few short
/// messages (status, exit; well under the socket's buffer) wait there, and
/// the caller is not woken up for each of them while pid 1 works — on a
/// loaded machine every wake-up is a scheduling delay.
fn collect(
    pid: libc::pid_t,
    pidfd: &OwnedFd,
    timeout: std::time::Duration,
    stdout: OwnedFd,
    stderr: OwnedFd,
    control: UnixStream,
    limit: &mut ProcessLimitSettlement,
) -> std::io::Result<Collected> {
    let mut streams: [(Option<std::fs::File>, Vec<u8>); 3] = [
        (Some(std::fs::File::from(stdout)), Vec::new()),
        (Some(std::fs::File::from(stderr)), Vec::new()),
        (
            Some(std::fs::File::from(OwnedFd::from(control))),
            Vec::new(),
        ),
    ];
    let deadline = std::time::Instant::now() + timeout;
    let mut timed_out = false;
    let mut exited = false;
    let mut buffer = vec![0u8; 65536];
    while !exited || streams.iter().any(|(file, _)| file.is_some()) {
        let mut poll_fds = Vec::with_capacity(4);
        let mut owners = Vec::with_capacity(4);
        for (index, (file, _)) in streams.iter().enumerate() {
            if index == CONTROL && !exited {
                continue;
            }
            if let Some(file) = file {
                poll_fds.push(libc::pollfd {
                    fd: file.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
                owners.push(Some(index));
            }
        }
        if !exited {
            poll_fds.push(libc::pollfd {
                fd: pidfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
            owners.push(Some(PIDFD));
        }
        if let Some(channel) = &limit.channel {
            poll_fds.push(libc::pollfd {
                fd: channel.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
            owners.push(Some(LIMIT_CHANNEL));
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() && !timed_out {
            let _ = kernel::kill(pid, libc::SIGKILL);
            timed_out = true;
        }
        let wait_ms = if timed_out {
            -1
        } else {
            libc::c_int::try_from(left.as_millis().clamp(1, 60_000)).unwrap_or(60_000)
        };
        kernel::poll(&mut poll_fds, wait_ms)?;
        for (poll_fd, owner) in poll_fds.iter().zip(&owners) {
            if poll_fd.revents == 0 {
                continue;
            }
            let index = owner.expect("every polled descriptor has an owner");
            if index == PIDFD {
                exited = true;
                continue;
            }
            if index == LIMIT_CHANNEL {
                limit.answer();
                continue;
            }
            let (file, kept) = &mut streams[index];
            let read = file.as_mut().expect("polled").read(&mut buffer);
            match read {
                Ok(0) | Err(_) => *file = None,
                Ok(count) => {
                    let room = CAPTURE_LIMIT.saturating_sub(kept.len());
                    kept.extend_from_slice(&buffer[..count.min(room)]);
                }
            }
        }
    }
    let [(_, stdout), (_, stderr), (_, messages)] = streams;
    Ok(Collected {
        stdout,
        stderr,
        messages: String::from_utf8_lossy(&messages).into_owned(),
        timed_out,
    })
}

/// Whether the machine can run the sandbox at all: user namespaces are
/// allowed. For tests and hints; the sandbox itself reports the precise
/// error when they are not.
pub fn user_namespaces_available() -> bool {
    let disabled = |path: &str, off: &str| {
        std::fs::read_to_string(Path::new(path)).is_ok_and(|value| value.trim() == off)
    };
    let unprivileged_blocked =
        kernel::effective_uid() != 0 && disabled("/proc/sys/kernel/unprivileged_userns_clone", "0");
    !unprivileged_blocked && !disabled("/proc/sys/user/max_user_namespaces", "0")
}
