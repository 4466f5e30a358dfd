//! `pkgward sandbox [--root R] [--write PATH]… [--read PATH]… [--net none]
//! [--timeout S] -- CMD…`: run any command in the sandbox that maintainer
//! scripts run in. The exit code is the command's (124 on timeout, 128 + N
//! when killed by signal N).

use crate::render::Hint;
use anyhow::Context;
use pkgward_sandbox::{
    HelperProgram, LandlockRequirement, Outcome, SandboxError, Spec, Status, UserMapping,
};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NetworkArg {
    /// An empty network namespace: no network at all.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LandlockArg {
    /// Refuse to run unless Landlock (ABI 3 or better) is fully enforced.
    Refuse,
    /// Run with whatever Landlock the kernel offers, and report it.
    Degrade,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory that becomes `/` inside, mounted read-only.
    #[arg(long, default_value = "/")]
    pub root: PathBuf,
    /// A path inside the root where the command may write (repeatable).
    #[arg(long = "write", value_name = "PATH")]
    pub write: Vec<PathBuf>,
    /// A host path made visible read-only at the same path (repeatable).
    #[arg(long = "read", value_name = "PATH")]
    pub read: Vec<PathBuf>,
    /// Network access.
    #[arg(long, value_enum, default_value = "none")]
    pub net: NetworkArg,
    /// Wall-clock limit in seconds; the whole sandbox is killed after it.
    #[arg(long, value_name = "S", default_value_t = 600)]
    pub timeout: u64,
    /// Most processes the sandbox may hold at once; 0 for no limit. For root
    /// callers the sandbox's pid namespace enforces it (Linux 6.14+, at
    /// least 300), else a `pids` cgroup (see docs/sandbox.md).
    #[arg(long, value_name = "N", default_value_t = 512)]
    pub max_processes: u64,
    /// Extra environment variable for the command (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// What to do when Landlock is weaker than required.
    #[arg(long, value_enum, default_value = "refuse")]
    pub landlock: LandlockArg,
    /// Print the achieved confinement to stderr.
    #[arg(long, short)]
    pub verbose: bool,
    /// Print one JSON object (status, exit, output) instead of the output.
    #[arg(long)]
    pub json: bool,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let mut spec = Spec::new(args.command.clone());
    spec.root.clone_from(&args.root);
    spec.writable.clone_from(&args.write);
    spec.readable.clone_from(&args.read);
    spec.timeout = Duration::from_secs(args.timeout);
    spec.limits.processes = (args.max_processes > 0).then_some(args.max_processes);
    spec.landlock = match args.landlock {
        LandlockArg::Refuse => LandlockRequirement::Refuse { minimum_abi: 3 },
        LandlockArg::Degrade => LandlockRequirement::Degrade,
    };
    match args.net {
        NetworkArg::None => spec.network = pkgward_sandbox::Network::None,
    }
    for entry in &args.env {
        let (name, value) = entry
            .split_once('=')
            .with_context(|| format!("`--env {entry}` is not `NAME=VALUE`"))?;
        spec.set_environment(name, value);
    }

    let helper = HelperProgram::current().context("cannot find the pkgward executable")?;
    let outcome = match pkgward_sandbox::run(&spec, &helper) {
        Ok(outcome) => outcome,
        Err(error) => {
            let hint = hint_for(&error);
            let error = anyhow::Error::new(error);
            return Err(match hint {
                Some(hint) => error.context(Hint(hint)),
                None => error,
            });
        }
    };

    if args.json {
        let json = serde_json::json!({
            "status": outcome.status,
            "exit": outcome.exit,
            "exit_code": outcome.exit.code(),
            "stdout": String::from_utf8_lossy(&outcome.stdout),
            "stderr": String::from_utf8_lossy(&outcome.stderr),
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        show_output(&outcome);
        if args.verbose {
            eprint!("{}", describe(&outcome.status));
        }
        if !outcome.exit.success() {
            eprintln!("pkgward: sandboxed command {}", outcome.exit);
        }
    }
    Ok(ExitCode::from(
        u8::try_from(outcome.exit.code()).unwrap_or(u8::MAX),
    ))
}

fn show_output(outcome: &Outcome) {
    // Output was captured while the command ran; show it now. A closed
    // stdout (`| head`) is not an error worth reporting.
    let _ = std::io::stdout().write_all(&outcome.stdout);
    let _ = std::io::stderr().write_all(&outcome.stderr);
}

fn hint_for(error: &SandboxError) -> Option<String> {
    match error {
        SandboxError::Setup(message) if message.contains("landlock") => Some(
            "run with `--landlock degrade` to accept weaker Landlock; the achieved level is shown with `--verbose`"
                .to_owned(),
        ),
        SandboxError::Setup(message) if message.contains("namespaces") => Some(
            "user namespaces may be disabled: check `/proc/sys/user/max_user_namespaces` and `kernel.unprivileged_userns_clone`"
                .to_owned(),
        ),
        SandboxError::Setup(message) if message.contains("to mount on") => Some(
            "the root needs `/proc`, `/dev`, `/tmp` and `/run` directories".to_owned(),
        ),
        _ => None,
    }
}

/// The human rendering of `--verbose`.
fn describe(status: &Status) -> String {
    let landlock = &status.landlock;
    let mapping = match &status.user_mapping {
        UserMapping::Identity { count } => format!("identity 0..{count}"),
        UserMapping::Single { uid, gid } => format!("0 -> uid {uid}, gid {gid}"),
    };
    let capabilities = if status.capability_bounding_set.is_empty() {
        "none".to_owned()
    } else {
        status.capability_bounding_set.join(", ")
    };
    format!(
        "sandbox: namespaces {}\n\
         sandbox: user ids {mapping}\n\
         sandbox: landlock ABI {} of kernel ABI {} ({:?} enforcement; truncate {}, device ioctl {}, scoping {})\n\
         sandbox: seccomp {} ({} system calls denied, architecture guard {})\n\
         sandbox: no_new_privs {}, capabilities {capabilities}\n",
        status.namespaces.join(" "),
        landlock.abi,
        landlock.kernel_abi,
        landlock.enforcement,
        yes_no(landlock.truncate_controlled),
        yes_no(landlock.device_ioctl_controlled),
        yes_no(landlock.scoped),
        if status.seccomp.filter_installed { "on" } else { "off" },
        status.seccomp.denied_syscalls,
        yes_no(status.seccomp.architecture_guard),
        yes_no(status.no_new_privs),
    )
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
}
