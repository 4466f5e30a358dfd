//! The process limit of a sandbox run by root: the pid namespace's own
//! `pid_max`, else a `pids` cgroup.
//!
//! `RLIMIT_NPROC` does not bind real root: `copy_process` skips the check
//! when the task's user is `INIT_USER`, and with the identity id mapping the
//! sandbox's uid 0 *is* kuid 0. Two mechanisms do bind root:
//!
//! - Since Linux 6.14 (commit 7863dcc72d0f) `kernel.pid_max` is per pid
//!   namespace, and `alloc_pid` checks it at every level of the hierarchy:
//!   with `pid_max = limit + 1` in the sandbox's namespace, at most `limit`
//!   tasks (pid 1 included, threads included, nested namespaces included)
//!   can exist in it. Pid 1 sets it itself, for free, before anything else
//!   runs. The command (uid 0 inside) could write it through a writable
//!   procfs, so this is used only with seccomp on (no new namespaces, no
//!   mounts: the only procfs is the sandbox's, whose `/proc/sys` is
//!   read-only). A short-lived child of pid 1 writes it with a non-root
//!   effective uid and the namespace capabilities, while pid 1 sets up
//!   ([`crate::kernel::start_write_with_effective_uid`]): a kernel without the
//!   per-namespace sysctl refuses that write, so the host's global `pid_max`
//!   can never be touched (and pid 1's own uid, whose change would clear its
//!   parent-death signal, stays as it is).
//! - Otherwise the caller (outside the namespaces, still root) creates a
//!   child of its own `pids` cgroup (cgroup v1 `pids` hierarchy, or cgroup
//!   v2 when the `pids` controller can be enabled), sets `pids.max` and moves
//!   the sandbox's pid 1 into it before pid 1 forks anything. The migration
//!   waits for an RCU grace period on cgroup v1, which is why it is second.
//!
//! For an unprivileged caller `RLIMIT_NPROC` does bind and is what limits
//! processes. Which one applied is reported in the status.

use std::io;
use std::path::{Path, PathBuf};

/// Where a task reads and writes its pid namespace's `pid_max`.
const SYSCTL_DIRECTORY: &std::ffi::CStr = c"/proc/sys/kernel";
const PID_MAX: &std::ffi::CStr = c"pid_max";

/// The effective uid `pid_max` is written with: `nobody`, mapped by the
/// identity mapping, and not root.
const UNPRIVILEGED_UID: u32 = 65534;

/// In pid 1: start allowing at most `limit` tasks in our pid namespace
/// (pids `1..=limit`); finish before the first fork. Fails, and nothing is
/// changed, on kernels before 6.14, for a limit below the kernel's minimum
/// `pid_max` (at least 301), or when `/proc/sys` is read-only.
pub(crate) fn start_limiting_pid_namespace(limit: u64) -> io::Result<crate::kernel::PendingWrite> {
    let pid_max = limit
        .checked_add(1)
        .ok_or_else(|| io::Error::other("process limit too large"))?;
    crate::kernel::start_write_with_effective_uid(
        SYSCTL_DIRECTORY,
        PID_MAX,
        pid_max.to_string().as_bytes(),
        UNPRIVILEGED_UID,
    )
}

/// A cgroup created for one sandbox; removed on drop.
#[derive(Debug)]
pub(crate) struct PidsCgroup {
    path: PathBuf,
}

impl PidsCgroup {
    /// Create the cgroup with `pids.max = limit` and move `pid` into it.
    pub(crate) fn create(pid: libc::pid_t, limit: u64) -> io::Result<Self> {
        let own = std::fs::read_to_string("/proc/self/cgroup")?;
        let parent = pids_cgroup_directory(&own)?;
        let path = parent.join(format!("pkgward-sandbox-{pid}"));
        std::fs::create_dir(&path)?;
        let cgroup = Self { path };
        std::fs::write(cgroup.path.join("pids.max"), limit.to_string())?;
        std::fs::write(cgroup.path.join("cgroup.procs"), pid.to_string())?;
        Ok(cgroup)
    }
}

impl Drop for PidsCgroup {
    fn drop(&mut self) {
        // The namespace's processes are gone once its pid 1 has been reaped
        // (the kernel waits for them in zap_pid_ns_processes); retry briefly
        // in case the cgroup still counts an exiting task.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.path).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

/// The directory under which to create the sandbox's cgroup: our own
/// `pids` cgroup on cgroup v1; on cgroup v2 the first of our own cgroup and
/// the (namespace's) root cgroup where the `pids` controller is or can be
/// enabled for children. Our own v2 cgroup usually fails (it holds
/// processes, and "no internal processes" forbids enabling controllers
/// there), the root cgroup is exempt from that rule.
fn pids_cgroup_directory(own: &str) -> io::Result<PathBuf> {
    for line in own.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if controllers
            .split(',')
            .any(|controller| controller == "pids")
        {
            return Ok(Path::new("/sys/fs/cgroup/pids").join(path.trim_start_matches('/')));
        }
    }
    let unified = own
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .ok_or_else(|| io::Error::other("no pids cgroup controller"))?;
    let mut last_error = io::Error::other("the pids controller is not available");
    for directory in [
        Path::new("/sys/fs/cgroup").join(unified.trim_start_matches('/')),
        PathBuf::from("/sys/fs/cgroup"),
    ] {
        match enable_pids_for_children(&directory) {
            Ok(()) => return Ok(directory),
            Err(error) => last_error = error,
        }
    }
    Err(last_error)
}

fn enable_pids_for_children(directory: &Path) -> io::Result<()> {
    let enabled = std::fs::read_to_string(directory.join("cgroup.subtree_control"))?;
    if enabled.split_whitespace().any(|c| c == "pids") {
        return Ok(());
    }
    let available = std::fs::read_to_string(directory.join("cgroup.controllers"))?;
    if !available.split_whitespace().any(|c| c == "pids") {
        return Err(io::Error::other("the pids controller is not available"));
    }
    std::fs::write(directory.join("cgroup.subtree_control"), "+pids")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_v1_pids_hierarchy() {
        let own = "9:name=systemd:/\n8:pids:/a/b\n0::/\n";
        assert_eq!(
            pids_cgroup_directory(own).unwrap(),
            Path::new("/sys/fs/cgroup/pids/a/b")
        );
    }
}
