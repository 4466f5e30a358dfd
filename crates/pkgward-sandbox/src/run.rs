//! The caller's side: spawn the helper, send the spec, collect output and the
//! helper's messages into an [`Outcome`].

use crate::helper::HELPER_ARGV0;
use crate::spec::{Spec, SpecError};
use crate::status::{CommandExit, Message, Outcome};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Most bytes kept of each of the command's stdout and stderr; the rest is
/// read and dropped so the command never blocks on a full pipe.
pub const CAPTURE_LIMIT: usize = 16 << 20;

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
pub fn run(spec: &Spec, helper: &HelperProgram) -> Result<Outcome, SandboxError> {
    spec.validate()?;
    let (mut control, helper_end) = UnixStream::pair().map_err(SandboxError::Control)?;
    let mut child = Command::new(&helper.executable)
        .arg0(HELPER_ARGV0)
        .env_clear()
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(helper_end)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| SandboxError::Spawn {
            executable: helper.executable.clone(),
            source,
        })?;

    let spec_json = serde_json::to_vec(spec).expect("specs serialise");
    control
        .write_all(&spec_json)
        .and_then(|()| control.shutdown(std::net::Shutdown::Write))
        .map_err(SandboxError::Control)?;

    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let stderr_reader = std::thread::spawn(move || capture(stderr));
    let stdout_bytes = capture(stdout);
    let mut messages = String::new();
    let control_result = control.read_to_string(&mut messages);
    let stderr_bytes = stderr_reader.join().unwrap_or_default();
    // The helper exits right after its last message; reap it.
    let _ = child.wait();
    control_result.map_err(SandboxError::Control)?;

    let mut status = None;
    let mut ended = None;
    let mut timed_out = false;
    for line in messages.lines().filter(|line| !line.is_empty()) {
        let message: Message = serde_json::from_str(line)
            .map_err(|error| SandboxError::Protocol(format!("`{line}`: {error}")))?;
        match message {
            Message::Confined(achieved) => status = Some(achieved),
            Message::SetupFailed(error) => return Err(SandboxError::Setup(error)),
            Message::CommandEnded(exit) => ended = Some(exit),
            Message::HelperDone { timed_out: killed } => timed_out = killed,
        }
    }
    let status = status.ok_or_else(|| {
        SandboxError::Protocol("the sandbox ended without reporting its status".to_owned())
    })?;
    let exit = match (timed_out, ended) {
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
        stdout: stdout_bytes,
        stderr: stderr_bytes,
    })
}

fn capture(mut reader: impl Read) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buffer = vec![0u8; 65536];
    loop {
        match reader.read(&mut buffer) {
            Ok(0) | Err(_) => return kept,
            Ok(read) => {
                let room = CAPTURE_LIMIT.saturating_sub(kept.len());
                kept.extend_from_slice(&buffer[..read.min(room)]);
            }
        }
    }
}

/// Whether the machine can run the sandbox at all: user namespaces are
/// allowed. For tests and `--verbose` hints; the sandbox itself reports the
/// precise error when they are not.
pub fn user_namespaces_available() -> bool {
    let disabled = |path: &str, off: &str| {
        std::fs::read_to_string(Path::new(path)).is_ok_and(|value| value.trim() == off)
    };
    !disabled("/proc/sys/kernel/unprivileged_userns_clone", "0")
        && !disabled("/proc/sys/user/max_user_namespaces", "0")
}
