//! Thin, safe wrappers around the Linux system calls the sandbox needs and
//! that neither `std` nor `libc` wrap safely. Every `unsafe` block of the
//! setup code lives here, each with its `// SAFETY:` argument; errors are
//! `std::io::Error` from `errno`, named by the caller.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn check(result: libc::c_long) -> io::Result<libc::c_long> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

fn check_int(result: libc::c_int) -> io::Result<libc::c_int> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

pub fn c_string(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// `struct open_how` of openat2(2).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// Open `path` as an `O_PATH` descriptor, resolved as if `root` were `/`
/// (absolute symlinks and `..` stay inside it): a writable grant named
/// `/var/lib/x` must never reach the host through a symlink the package
/// shipped.
pub fn open_path_in_root(root: &OwnedFd, path: &Path) -> io::Result<OwnedFd> {
    let path = c_string(path)?;
    let how = OpenHow {
        flags: (libc::O_PATH | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: `path` is a NUL-terminated string and `how` a properly sized
    // open_how that outlive the call; the kernel returns a new descriptor
    // that we own.
    let fd = check(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            path.as_ptr(),
            &raw const how,
            std::mem::size_of::<OpenHow>(),
        )
    })?;
    // SAFETY: a descriptor just returned by the kernel, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(RawFd::try_from(fd).expect("descriptors fit in an int")) })
}

/// Open a host path with ordinary resolution (`O_PATH`, close-on-exec).
pub fn open_path(path: &Path, directory: bool) -> io::Result<OwnedFd> {
    let c_path = c_string(path)?;
    let mut flags = libc::O_PATH | libc::O_CLOEXEC;
    if directory {
        flags |= libc::O_DIRECTORY;
    }
    // SAFETY: `c_path` is NUL-terminated and lives across the call.
    let fd = check_int(unsafe { libc::open(c_path.as_ptr(), flags) })?;
    // SAFETY: a descriptor just returned by the kernel, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `/proc/self/fd/N`: how mount(2) is told to use a descriptor's location.
pub fn fd_path(fd: &OwnedFd) -> CString {
    CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("no NUL in a number")
}

pub fn mount(
    source: Option<&CStr>,
    target: &CStr,
    filesystem: Option<&CStr>,
    flags: libc::c_ulong,
    data: Option<&CStr>,
) -> io::Result<()> {
    let pointer = |value: Option<&CStr>| value.map_or(std::ptr::null(), CStr::as_ptr);
    // SAFETY: every pointer is either NULL or a NUL-terminated string that
    // lives across the call.
    check_int(unsafe {
        libc::mount(
            pointer(source),
            target.as_ptr(),
            pointer(filesystem),
            flags,
            pointer(data).cast(),
        )
    })?;
    Ok(())
}

/// `struct mount_attr` of `mount_setattr(2)`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

pub const MOUNT_ATTR_RDONLY: u64 = 0x01;
pub const MOUNT_ATTR_NOSUID: u64 = 0x02;
pub const MOUNT_ATTR_NODEV: u64 = 0x04;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x08;
const AT_RECURSIVE: libc::c_uint = 0x8000;

/// Change the flags of the mount at `fd` (and, with `recursive`, every mount
/// beneath it). Unlike `MS_REMOUNT`, this reaches submounts, which is what
/// makes a recursive bind of `/` read-only all the way down.
pub fn mount_setattr(fd: &OwnedFd, set: u64, clear: u64, recursive: bool) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    // SAFETY: an empty NUL-terminated path with AT_EMPTY_PATH names `fd`
    // itself; `attr` is a properly sized mount_attr living across the call.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &raw const attr,
            std::mem::size_of::<MountAttr>(),
        )
    })?;
    Ok(())
}

pub fn mkdir_at(directory: &OwnedFd, name: &CStr, mode: libc::mode_t) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated and lives across the call.
    check_int(unsafe { libc::mkdirat(directory.as_raw_fd(), name.as_ptr(), mode) })?;
    Ok(())
}

/// Create an empty regular file (a mount point for a device bind mount).
pub fn create_file_at(directory: &OwnedFd, name: &CStr, mode: libc::mode_t) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated; the returned descriptor is closed at
    // once by OwnedFd.
    let fd = check_int(unsafe {
        libc::openat(
            directory.as_raw_fd(),
            name.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC,
            libc::c_uint::from(mode),
        )
    })?;
    // SAFETY: a descriptor just returned by the kernel, owned by nobody else.
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
    Ok(())
}

/// Open an `O_PATH` directory descriptor beneath `directory` (no symlinks).
pub fn open_directory_at(directory: &OwnedFd, name: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: `name` is NUL-terminated and lives across the call.
    let fd = check_int(unsafe {
        libc::openat(
            directory.as_raw_fd(),
            name.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: a descriptor just returned by the kernel, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn symlink_at(target: &CStr, directory: &OwnedFd, name: &CStr) -> io::Result<()> {
    // SAFETY: both strings are NUL-terminated and live across the call.
    check_int(unsafe { libc::symlinkat(target.as_ptr(), directory.as_raw_fd(), name.as_ptr()) })?;
    Ok(())
}

pub fn is_directory(fd: &OwnedFd) -> io::Result<bool> {
    // SAFETY: `stat` is plain old data, fully written by a successful fstat.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `stat` is a valid, writable struct stat.
    check_int(unsafe { libc::fstat(fd.as_raw_fd(), &raw mut stat) })?;
    Ok(stat.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

/// `pivot_root(".", ".")`: the new root stacks over the old one, which is then
/// detached; no `put_old` directory is needed inside the root.
pub fn pivot_root_here(new_root: &OwnedFd) -> io::Result<()> {
    // SAFETY: fchdir on a descriptor we own.
    check_int(unsafe { libc::fchdir(new_root.as_raw_fd()) })?;
    // SAFETY: both arguments are static NUL-terminated strings.
    check(unsafe { libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) })?;
    // SAFETY: a static NUL-terminated string.
    check_int(unsafe { libc::umount2(c".".as_ptr(), libc::MNT_DETACH) })?;
    // SAFETY: a static NUL-terminated string.
    check_int(unsafe { libc::chdir(c"/".as_ptr()) })?;
    Ok(())
}

/// Clone a child into new namespaces and make it execute `program`.
///
/// The child gets `descriptors[i]` as its fd `i` (0: control socket, 1 and
/// 2: capture pipes, 3: process-limit pipe), dies with the calling thread
/// (`PR_SET_PDEATHSIG`), waits for one byte on `maps_written` — exec'ing
/// before its ids are mapped would drop its capabilities in the new user
/// namespace — and executes `program` with `argv` and an empty environment.
///
/// The caller may be multi-threaded (`clone` with `CLONE_NEWUSER` is
/// allowed there, unlike `unshare`), so between clone and exec the child
/// only makes raw system calls on data prepared beforehand: no allocation,
/// no lock another thread may hold.
///
/// With `program` `None` the child does not execute anything: `clone_helper`
/// returns 0 in it, and it must go on as the helper in place
/// ([`crate::helper::run_in_place`]). Only a single-threaded caller may ask
/// for that (no lock can be held by a thread that does not exist in the
/// child); it saves loading the executable a second time, the largest cost
/// of a run.
pub fn clone_helper(
    flags: libc::c_int,
    descriptors: [RawFd; 4],
    maps_written: RawFd,
    program: Option<(&CStr, &[*const libc::c_char])>,
) -> io::Result<libc::pid_t> {
    if let Some((_, argv)) = program {
        assert_eq!(
            argv.last(),
            Some(&std::ptr::null()),
            "argv is NULL-terminated"
        );
    }
    let environment: [*const libc::c_char; 1] = [std::ptr::null()];
    // SAFETY: a raw clone without CLONE_VM and with a NULL stack behaves like
    // fork(2). The child below only calls async-signal-safe system calls on
    // integers and on `program`, `argv` and `environment`, which were built
    // before the clone and stay valid in the child's copy of memory.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            libc::c_ulong::from((flags | libc::SIGCHLD).unsigned_abs()),
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid > 0 {
        return Ok(libc::pid_t::try_from(pid).expect("pids fit in pid_t"));
    }
    // SAFETY: the child side, see above. Descriptors are first duplicated
    // above 10 so that moving them to 0..=3 cannot overwrite one another,
    // and so that the final dup2 clears close-on-exec. `maps_written` is
    // duplicated above 10 too: its number may itself be one of 0..=3 (in a
    // multi-threaded caller another thread can close fd 3 just before the
    // caller creates the pipe, and the pipe gets the lowest free number);
    // read by its number after the dup2s, it would then name one of the
    // child's own descriptors — fd 3, the process-limit socket, on which
    // the caller says nothing when pid 1 limits its pid namespace itself —
    // and the child would wait there until the timeout killed it.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        let maps_written = libc::fcntl(maps_written, libc::F_DUPFD_CLOEXEC, 10);
        if maps_written < 0 {
            libc::_exit(126);
        }
        let mut high = [0; 4];
        for (slot, fd) in high.iter_mut().zip(descriptors) {
            *slot = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10);
            if *slot < 0 {
                libc::_exit(126);
            }
        }
        for (target, fd) in (0..).zip(high) {
            if libc::dup2(fd, target) < 0 {
                libc::_exit(126);
            }
        }
        let mut byte = 0u8;
        if libc::read(maps_written, (&raw mut byte).cast(), 1) != 1 {
            libc::_exit(126);
        }
        let Some((program, argv)) = program else {
            return Ok(0);
        };
        libc::execve(program.as_ptr(), argv.as_ptr(), environment.as_ptr());
        libc::_exit(127)
    }
}

/// Whether this process has one thread (then a fork-like child may go on
/// running its code). The `Threads:` line of `/proc/self/status` is the
/// kernel's count; listing `/proc/self/task` is not reliable while other
/// threads exit (the listing can skip entries). With one thread the answer
/// cannot change behind our back: only this thread could start another.
pub fn is_single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Threads:"))
            .is_some_and(|count| count.trim() == "1")
    })
}

/// In a helper that was not executed afresh: make the inherited process
/// look and behave like a fresh one. Caught signals go back to their
/// default action (as `execve` does), and the caller's argument and
/// environment strings, which `/proc/1/cmdline` and `/proc/1/environ`
/// show, are overwritten with NUL bytes.
pub fn forget_the_caller() {
    for signal in 1..libc::SIGRTMAX() {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            continue;
        }
        // SAFETY: querying and setting a signal disposition with a zeroed
        // (valid) sigaction; pid 1 is single-threaded.
        unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &raw mut current) == 0
                && current.sa_sigaction != libc::SIG_DFL
                && current.sa_sigaction != libc::SIG_IGN
            {
                let default: libc::sigaction = std::mem::zeroed();
                libc::sigaction(signal, &raw const default, std::ptr::null_mut());
            }
        }
    }
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the command name (which may hold spaces): the first is
    // field 3; arg_start..arg_end and env_start..env_end are 48..51.
    let Some((_, after_name)) = stat.rsplit_once(')') else {
        return;
    };
    let fields: Vec<usize> = after_name
        .split_whitespace()
        .skip(45)
        .take(4)
        .filter_map(|field| field.parse().ok())
        .collect();
    if let [arg_start, arg_end, env_start, env_end] = fields[..] {
        for (start, end) in [(arg_start, arg_end), (env_start, env_end)] {
            if start < end {
                // SAFETY: the kernel reports these ranges of our own initial
                // stack, which is mapped writable; nothing reads the strings
                // afterwards (pid 1 never looks at its arguments or
                // environment).
                unsafe { std::ptr::write_bytes(start as *mut u8, 0, end - start) };
            }
        }
    }
}

/// Wait until one of `fds` has an event or `timeout_ms` passes (-1: no
/// timeout). Returns how many have events; `revents` tells which.
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: libc::c_int) -> io::Result<usize> {
    loop {
        // SAFETY: `fds` is a valid slice of pollfd of the given length.
        let ready = unsafe {
            libc::poll(
                fds.as_mut_ptr(),
                libc::nfds_t::try_from(fds.len()).expect("few fds"),
                timeout_ms,
            )
        };
        if ready < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        return Ok(usize::try_from(ready).expect("non-negative"));
    }
}

/// Close every descriptor from `first` up (what the helper did not expect
/// to inherit).
pub fn close_descriptors_from(first: u32) {
    // SAFETY: close_range takes integers only; the descriptors closed are
    // not owned by any Rust object in the freshly started helper.
    unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0u32) };
}

pub fn fork() -> io::Result<libc::pid_t> {
    // SAFETY: called from the sandbox's pid 1, which is single-threaded.
    check_int(unsafe { libc::fork() })
}

pub fn set_no_new_privileges() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    check_int(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) })?;
    Ok(())
}

pub fn no_new_privileges() -> bool {
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 }
}

pub fn drop_from_bounding_set(capability: u32) -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    check_int(unsafe {
        libc::prctl(
            libc::PR_CAPBSET_DROP,
            libc::c_ulong::from(capability),
            0,
            0,
            0,
        )
    })?;
    Ok(())
}

pub fn clear_ambient_capabilities() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    check_int(unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    })?;
    Ok(())
}

/// `SECBIT_NO_SETUID_FIXUP` (linux/securebits.h): changing uids leaves the
/// capability sets alone.
const SECBIT_NO_SETUID_FIXUP: libc::c_ulong = 1 << 2;

/// A write started by [`start_write_with_effective_uid`]; [`Self::finish`]
/// waits for it.
#[derive(Debug)]
pub struct PendingWrite {
    child: libc::pid_t,
    /// The directory the child opens the file in, kept open until it is done.
    _directory: OwnedFd,
}

impl PendingWrite {
    /// Wait for the child; `Ok` when it wrote all of the contents.
    pub fn finish(self) -> io::Result<()> {
        let (_, status) = wait_for(self.child)?;
        if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "the write failed (status {status:#x})"
            )))
        }
    }
}

/// Start writing `contents` to `name` in `directory` with effective uid
/// `euid` while keeping every capability (securebit `NO_SETUID_FIXUP`). Pid
/// 1 uses this for a sysctl that must be *namespaced*: the capabilities of
/// the sandbox's user namespace open it, but a global sysctl only ever lets
/// euid 0 (which, identity-mapped, is real root) write, so a non-root euid
/// can never reach the host's value.
///
/// The write happens in a short-lived child, which runs while pid 1 goes on
/// setting up: changing the effective uid clears the parent-death signal
/// (prctl(2)), and pid 1 must keep dying with its caller. The child opens
/// the file relative to `directory`, opened here, so that pid 1 changing
/// the root meanwhile does not matter.
pub fn start_write_with_effective_uid(
    directory: &CStr,
    name: &CStr,
    contents: &[u8],
    euid: u32,
) -> io::Result<PendingWrite> {
    const UNCHANGED: libc::uid_t = libc::uid_t::MAX;
    let directory = open_path(
        Path::new(std::ffi::OsStr::from_bytes(directory.to_bytes())),
        true,
    )?;
    // SAFETY: a raw clone without CLONE_VM behaves like fork(2) without
    // glibc's bookkeeping (pid 1 may be a fork-like copy of its caller
    // whose glibc thread state is stale, see `clone_helper`). The child
    // only makes raw system calls on `directory`, `name` and `contents`,
    // which stay valid in its copy of memory, and leaves with `_exit`; the
    // uid change is a raw `setresuid` so that glibc's all-threads machinery
    // stays out.
    let child = check(unsafe {
        libc::syscall(
            libc::SYS_clone,
            libc::c_ulong::from(libc::SIGCHLD.unsigned_abs()),
            0usize,
            0usize,
            0usize,
            0usize,
        )
    })?;
    let child = libc::pid_t::try_from(child).expect("pids fit in pid_t");
    if child == 0 {
        // SAFETY: see above.
        unsafe {
            let failed = libc::prctl(libc::PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP, 0, 0, 0) != 0
                || libc::syscall(libc::SYS_setresuid, UNCHANGED, euid, UNCHANGED) != 0;
            if failed {
                libc::_exit(1);
            }
            let fd = libc::openat(
                directory.as_raw_fd(),
                name.as_ptr(),
                libc::O_WRONLY | libc::O_CLOEXEC,
            );
            if fd < 0 {
                libc::_exit(2);
            }
            let written = libc::write(fd, contents.as_ptr().cast(), contents.len());
            libc::_exit(if usize::try_from(written).ok() == Some(contents.len()) {
                0
            } else {
                3
            });
        }
    }
    Ok(PendingWrite {
        child,
        _directory: directory,
    })
}

pub fn set_resource_limit(resource: libc::__rlimit_resource_t, value: u64) -> io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: `limit` is a valid rlimit living across the call.
    check_int(unsafe { libc::setrlimit(resource, &raw const limit) })?;
    Ok(())
}

pub fn set_hostname(name: &str) -> io::Result<()> {
    // SAFETY: the pointer and length describe `name`'s bytes.
    check_int(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) })?;
    Ok(())
}

pub fn drop_supplementary_groups() -> io::Result<()> {
    // SAFETY: a zero-length list with a NULL pointer is valid for setgroups.
    check_int(unsafe { libc::setgroups(0, std::ptr::null()) })?;
    Ok(())
}

pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    check_int(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: two descriptors just returned by the kernel, owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

pub fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes integers and returns a new descriptor.
    let fd = check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: a descriptor just returned by the kernel, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(RawFd::try_from(fd).expect("descriptors fit in an int")) })
}

pub fn kill(pid: libc::pid_t, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: kill takes integers only.
    check_int(unsafe { libc::kill(pid, signal) })?;
    Ok(())
}

/// waitpid, retried on EINTR. Returns (pid, raw status).
pub fn wait_for(pid: libc::pid_t) -> io::Result<(libc::pid_t, libc::c_int)> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid int to write to.
        let result = unsafe { libc::waitpid(pid, &raw mut status, 0) };
        if result < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        return Ok((result, status));
    }
}

/// Decode a raw wait status into the command's exit.
pub fn decode_wait_status(status: libc::c_int) -> crate::status::CommandExit {
    if libc::WIFSIGNALED(status) {
        crate::status::CommandExit::Signaled(libc::WTERMSIG(status))
    } else {
        crate::status::CommandExit::Exited(libc::WEXITSTATUS(status))
    }
}

pub fn exit_immediately(code: libc::c_int) -> ! {
    // SAFETY: _exit never returns and runs no destructors or atexit handlers,
    // which is what a forked child must do.
    unsafe { libc::_exit(code) }
}

/// The command's side of the fork: become a session leader (no controlling
/// terminal, so TIOCSTI has nothing to inject into, CVE-2017-5226), put
/// `/dev/null` on stdin, close every descriptor above 2 (THREATS.md C36),
/// restore the signal dispositions Rust changed, and exec.
pub fn exec_command(
    null_device: RawFd,
    program: &CStr,
    argv: &[CString],
    environment: &[CString],
) -> ! {
    let mut argv_pointers: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_pointers.push(std::ptr::null());
    let mut environment_pointers: Vec<*const libc::c_char> =
        environment.iter().map(|e| e.as_ptr()).collect();
    environment_pointers.push(std::ptr::null());
    // SAFETY: plain syscalls on integers and on NULL-terminated arrays of
    // NUL-terminated strings that live until execve replaces the process.
    unsafe {
        libc::setsid();
        libc::dup2(null_device, 0);
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        // The Rust runtime ignores SIGPIPE; an ignored disposition survives
        // exec, and scripts expect `yes | head` to end.
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        let mut empty_set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&raw mut empty_set);
        libc::sigprocmask(
            libc::SIG_SETMASK,
            &raw const empty_set,
            std::ptr::null_mut(),
        );
        libc::execve(
            program.as_ptr(),
            argv_pointers.as_ptr(),
            environment_pointers.as_ptr(),
        );
    }
    let error = io::Error::last_os_error();
    let message = format!(
        "pkgward-sandbox: cannot execute `{}`: {error}\n",
        program.to_string_lossy()
    );
    // SAFETY: writing a buffer we own to stderr.
    unsafe { libc::write(2, message.as_ptr().cast(), message.len()) };
    exit_immediately(if error.kind() == io::ErrorKind::NotFound {
        127
    } else {
        126
    })
}

pub fn is_executable_file(path: &CStr) -> bool {
    // SAFETY: `stat` is plain old data, fully written by a successful stat.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated; `stat` is writable.
    let found = unsafe { libc::stat(path.as_ptr(), &raw mut stat) } == 0;
    // SAFETY: `path` is NUL-terminated.
    found
        && stat.st_mode & libc::S_IFMT == libc::S_IFREG
        && unsafe { libc::access(path.as_ptr(), libc::X_OK) } == 0
}

pub fn open_null_device() -> io::Result<OwnedFd> {
    // SAFETY: a static NUL-terminated path.
    let fd = check_int(unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) })?;
    // SAFETY: a descriptor just returned by the kernel, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn effective_uid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

pub fn effective_gid() -> u32 {
    // SAFETY: getegid cannot fail.
    unsafe { libc::getegid() }
}

/// Install a classic BPF seccomp program (`no_new_privs` must be set).
pub fn install_seccomp(program: &[seccompiler::sock_filter]) -> io::Result<()> {
    seccompiler::apply_filter(program).map_err(|error| io::Error::other(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The in-place helper is only sound with one thread: the check must
    /// never say "one" while other threads come and go.
    #[test]
    fn a_busy_multi_threaded_process_is_never_single_threaded() {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let churners: Vec<_> = (0..1)
            .map(|_| {
                let stop = std::sync::Arc::clone(&stop);
                std::thread::spawn(move || {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        std::thread::spawn(|| {}).join().unwrap();
                    }
                })
            })
            .collect();
        let wrong = (0..20_000).filter(|_| is_single_threaded()).count();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for churner in churners {
            churner.join().unwrap();
        }
        assert_eq!(wrong, 0);
    }

    /// The pipe on which the child waits for its id maps may have a number
    /// the child moves one of its own descriptors to (0..=3): a busy
    /// multi-threaded caller gets fd 3 for it when another thread closed fd
    /// 3 a moment before. The child must still read the maps byte from that
    /// pipe. Checked in a fresh copy of this test binary, whose fd 0
    /// (`/dev/null`) is free to become the pipe: the child's fd 0 is then a
    /// pipe that only ever says end-of-file, so a child reading the wrong
    /// descriptor exits with 126 instead of executing `true`.
    #[test]
    #[allow(clippy::print_stderr)] // the loud skip
    fn the_child_reads_the_maps_pipe_even_when_it_has_a_number_the_child_reuses() {
        const IN_FRESH_PROCESS: &str = "PKGWARD_SANDBOX_TEST_MAPS_PIPE_ON_FD_0";
        const NAME: &str = "kernel::tests::the_child_reads_the_maps_pipe_even_when_it_has_a_number_the_child_reuses";
        if std::env::var_os(IN_FRESH_PROCESS).is_none() {
            let output = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", NAME, "--test-threads=1"])
                .env(IN_FRESH_PROCESS, "1")
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            return;
        }
        let true_program = CString::new("/bin/true").unwrap();
        if !is_executable_file(&true_program) {
            eprintln!("SKIPPED {NAME}: no `/bin/true` to execute");
            return;
        }
        let (maps_reader, maps_writer) = pipe().unwrap();
        // SAFETY: fd 0 of this process is the `/dev/null` its parent gave
        // it, which nothing here reads; it becomes the maps pipe.
        assert_eq!(unsafe { libc::dup2(maps_reader.as_raw_fd(), 0) }, 0);
        drop(maps_reader);
        std::io::Write::write_all(&mut std::fs::File::from(maps_writer), b"m").unwrap();
        let (end_of_file, writer) = pipe().unwrap();
        drop(writer);
        let argv = [true_program.as_ptr(), std::ptr::null()];
        let pid = clone_helper(
            0,
            [end_of_file.as_raw_fd(), 1, 2, end_of_file.as_raw_fd()],
            0,
            Some((true_program.as_c_str(), argv.as_slice())),
        )
        .unwrap();
        let (_, status) = wait_for(pid).unwrap();
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "the child did not execute `/bin/true` (wait status {status:#x}; 126: it read \
             end-of-file from a descriptor other than the maps pipe)"
        );
    }
}
