//! `pkgward-sandbox-probe CASE [ARG…]`: tries one forbidden thing and prints
//! a one-line report, `CASE: ok …` or `CASE: errno NAME`, that the escape
//! tests assert on (the approach of bubblewrap's `tests/try-syscall.c`).
//! One case per process, so a case that gets killed takes nothing else down.
//!
//! The binary doubles as a sandbox helper (its `main` first checks for the
//! helper's `argv[0]`), so the tests need no other executable.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;

fn errno_name(code: i32) -> String {
    let name = match code {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EINVAL => "EINVAL",
        libc::ETXTBSY => "ETXTBSY",
        libc::EFBIG => "EFBIG",
        libc::EROFS => "EROFS",
        libc::ENOTTY => "ENOTTY",
        libc::ENOSYS => "ENOSYS",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::ENODEV => "ENODEV",
        _ => return format!("errno {code}"),
    };
    name.to_owned()
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Report a raw syscall result: `ok N` or `errno NAME`.
fn report(result: libc::c_long) -> String {
    if result < 0 {
        format!("errno {}", errno_name(last_errno()))
    } else {
        format!("ok {result}")
    }
}

fn report_io<T>(result: std::io::Result<T>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(error) => format!("errno {}", errno_name(error.raw_os_error().unwrap_or(0))),
    }
}

fn c(text: &str) -> CString {
    CString::new(text).expect("no NUL")
}

fn arg(args: &[String], index: usize) -> &str {
    args.get(index).map_or("", String::as_str)
}

/// Open for writing without creating or truncating; on success write a
/// marker so the oracle outside sees the escape.
fn try_write(path: &str) -> String {
    let result = std::fs::OpenOptions::new().append(true).open(path);
    match result {
        Ok(mut file) => {
            // Never write to the sysrq trigger: "e" would SIGTERM every
            // process of the machine. Opening it is the escape already.
            if !path.ends_with("sysrq-trigger") {
                let _ = file.write_all(b"escaped\n");
            }
            "ok".to_owned()
        }
        Err(error) => format!("errno {}", errno_name(error.raw_os_error().unwrap_or(0))),
    }
}

fn socket_connect(domain: i32, kind: i32, address: &[u8]) -> String {
    // SAFETY: creating a socket takes integers only.
    let fd = unsafe { libc::socket(domain, kind | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return format!("socket errno {}", errno_name(last_errno()));
    }
    // SAFETY: `address` holds a complete sockaddr of the given length.
    let result = unsafe {
        libc::connect(
            fd,
            address.as_ptr().cast(),
            libc::socklen_t::try_from(address.len()).expect("small"),
        )
    };
    let outcome = if result < 0 {
        format!("errno {}", errno_name(last_errno()))
    } else if kind == libc::SOCK_DGRAM {
        // SAFETY: sending one byte from a static buffer.
        let sent = unsafe { libc::send(fd, b"x".as_ptr().cast(), 1, 0) };
        if sent < 0 {
            format!("errno {}", errno_name(last_errno()))
        } else {
            "ok".to_owned()
        }
    } else {
        "ok".to_owned()
    };
    // SAFETY: closing the socket we created.
    unsafe { libc::close(fd) };
    outcome
}

fn unix_address(name: &[u8], abstract_name: bool) -> Vec<u8> {
    // SAFETY: sockaddr_un is plain old data.
    let mut address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    address.sun_family = libc::sa_family_t::try_from(libc::AF_UNIX).expect("small");
    let offset = usize::from(abstract_name);
    for (slot, byte) in address.sun_path[offset..].iter_mut().zip(name) {
        *slot = libc::c_char::from_ne_bytes([*byte]);
    }
    let length = std::mem::size_of::<libc::sa_family_t>() + offset + name.len();
    // SAFETY: viewing the initialised struct as bytes, within its size.
    let bytes = unsafe {
        std::slice::from_raw_parts(
            (&raw const address).cast::<u8>(),
            std::mem::size_of_val(&address),
        )
    };
    bytes[..length].to_vec()
}

fn inet_address(port: u16) -> Vec<u8> {
    // SAFETY: sockaddr_in is plain old data.
    let mut address: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    address.sin_family = libc::sa_family_t::try_from(libc::AF_INET).expect("small");
    address.sin_port = port.to_be();
    address.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
    // SAFETY: viewing the initialised struct as bytes, within its size.
    let bytes = unsafe {
        std::slice::from_raw_parts(
            (&raw const address).cast::<u8>(),
            std::mem::size_of_val(&address),
        )
    };
    bytes.to_vec()
}

fn status_fields() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let wanted = [
        "NoNewPrivs",
        "Seccomp",
        "CapInh",
        "CapPrm",
        "CapEff",
        "CapBnd",
        "CapAmb",
    ];
    let mut fields = Vec::new();
    for line in status.lines() {
        if let Some((name, value)) = line.split_once(':') {
            if wanted.contains(&name) {
                fields.push(format!("{name}={}", value.trim()));
            }
        }
    }
    fields.join(" ")
}

fn fd_census() -> String {
    let mut fds = Vec::new();
    let directory = std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd");
    for entry in directory.flatten() {
        let name = entry.file_name();
        let target = std::fs::read_link(entry.path()).unwrap_or_default();
        // The descriptor read_dir itself holds points at the fd directory.
        if target.as_os_str().as_bytes().ends_with(b"/fd") {
            continue;
        }
        fds.push(format!("{}", name.to_string_lossy()));
    }
    fds.sort();
    format!("fds={}", fds.join(","))
}

fn fork_bomb() -> String {
    let mut forks = 0;
    loop {
        // SAFETY: single-threaded probe; the child only pauses.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: pause and _exit are async-signal-safe.
            unsafe {
                libc::pause();
                libc::_exit(0);
            }
        }
        if pid < 0 {
            return format!("forks={forks} errno {}", errno_name(last_errno()));
        }
        forks += 1;
        if forks >= 1000 {
            return format!("forks={forks} unlimited");
        }
    }
}

#[allow(clippy::too_many_lines)]
fn run_case(case: &str, args: &[String]) -> String {
    // SAFETY (for every raw syscall below): the arguments are integers,
    // NULL, or pointers to buffers that live across the call; the probe
    // only wants the errno.
    match case {
        "ok" => "ok".to_owned(),
        "write" => try_write(arg(args, 0)),
        "create" => report_io(std::fs::write(arg(args, 0), b"escaped\n")),
        "truncate" => {
            let path = c(arg(args, 0));
            // SAFETY: see above.
            report(libc::c_long::from(unsafe {
                libc::truncate(path.as_ptr(), 0)
            }))
        }
        "symlink-escape" => {
            // A symlink inside the writable grant pointing at /etc, then a
            // write through it.
            let link = format!("{}/to-etc", arg(args, 0));
            let _ = std::os::unix::fs::symlink("/etc", &link);
            try_write(&format!("{link}/{}", arg(args, 1)))
        }
        "hardlink" => report_io(std::fs::hard_link(arg(args, 0), arg(args, 1))),
        "rename" => report_io(std::fs::rename(arg(args, 0), arg(args, 1))),
        "mknod" => {
            let path = c(arg(args, 0));
            // SAFETY: see above.
            report(libc::c_long::from(unsafe {
                libc::mknod(path.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3))
            }))
        }
        "read-secret" => {
            let mut text = Vec::new();
            match std::fs::File::open(arg(args, 0)).and_then(|mut f| f.read_to_end(&mut text)) {
                Ok(_) => format!(
                    "ok contains-secret={}",
                    text.windows(arg(args, 1).len().max(1))
                        .any(|window| window == arg(args, 1).as_bytes())
                ),
                Err(error) => format!("errno {}", errno_name(error.raw_os_error().unwrap_or(0))),
            }
        }
        "ptrace-attach" => report(unsafe {
            // SAFETY: see above.
            libc::ptrace(libc::PTRACE_ATTACH, 1, 0, 0)
        }),
        "process-vm-readv" => {
            let mut buffer = [0u8; 8];
            let local = libc::iovec {
                iov_base: buffer.as_mut_ptr().cast(),
                iov_len: 8,
            };
            let remote = libc::iovec {
                iov_base: 0x40_0000 as *mut libc::c_void,
                iov_len: 8,
            };
            // SAFETY: see above.
            report(unsafe {
                libc::syscall(
                    libc::SYS_process_vm_readv,
                    1,
                    &raw const local,
                    1,
                    &raw const remote,
                    1,
                    0,
                )
            })
        }
        "mount" => {
            // SAFETY: see above.
            report(libc::c_long::from(unsafe {
                libc::mount(
                    c"tmpfs".as_ptr(),
                    c"/tmp".as_ptr(),
                    c"tmpfs".as_ptr(),
                    0,
                    std::ptr::null(),
                )
            }))
        }
        "umount" => {
            // SAFETY: see above.
            report(libc::c_long::from(unsafe {
                libc::umount2(c"/proc".as_ptr(), libc::MNT_DETACH)
            }))
        }
        "fsopen" => {
            // SAFETY: see above.
            report(unsafe { libc::syscall(libc::SYS_fsopen, c"tmpfs".as_ptr(), 0) })
        }
        "open-tree" => {
            // SAFETY: see above.
            report(unsafe {
                libc::syscall(
                    libc::SYS_open_tree,
                    libc::AT_FDCWD,
                    c"/".as_ptr(),
                    1, /* OPEN_TREE_CLONE */
                )
            })
        }
        "pivot-root" => {
            // SAFETY: see above.
            report(unsafe {
                libc::syscall(libc::SYS_pivot_root, c"/tmp".as_ptr(), c"/tmp".as_ptr())
            })
        }
        "unshare-user" => {
            // SAFETY: see above.
            report(libc::c_long::from(unsafe {
                libc::unshare(libc::CLONE_NEWUSER)
            }))
        }
        "unshare-mount" => {
            // SAFETY: see above.
            report(libc::c_long::from(unsafe {
                libc::unshare(libc::CLONE_NEWNS)
            }))
        }
        "setns" => {
            let ns = std::fs::File::open("/proc/self/ns/net");
            match ns {
                Ok(file) => {
                    use std::os::fd::AsRawFd;
                    // SAFETY: see above.
                    report(libc::c_long::from(unsafe {
                        libc::setns(file.as_raw_fd(), 0)
                    }))
                }
                Err(error) => format!(
                    "open errno {}",
                    errno_name(error.raw_os_error().unwrap_or(0))
                ),
            }
        }
        "clone-newuser" => {
            // SAFETY: see above; on success the child exits at once.
            let pid = unsafe {
                libc::syscall(
                    libc::SYS_clone,
                    (libc::CLONE_NEWUSER | libc::SIGCHLD) as libc::c_ulong,
                    0usize,
                    0usize,
                    0usize,
                    0usize,
                )
            };
            if pid == 0 {
                // SAFETY: leaving the child at once.
                unsafe { libc::_exit(0) };
            }
            report(pid)
        }
        "clone3" => {
            let mut arguments = [0u64; 11];
            arguments[4] = libc::SIGCHLD as u64; // exit_signal
                                                 // SAFETY: see above; on success the child exits at once.
            let pid = unsafe {
                libc::syscall(
                    libc::SYS_clone3,
                    arguments.as_mut_ptr(),
                    std::mem::size_of_val(&arguments),
                )
            };
            if pid == 0 {
                // SAFETY: leaving the child at once.
                unsafe { libc::_exit(0) };
            }
            report(pid)
        }
        "keyctl" => {
            // SAFETY: see above. KEYCTL_JOIN_SESSION_KEYRING = 1.
            report(unsafe { libc::syscall(libc::SYS_keyctl, 1, std::ptr::null::<u8>()) })
        }
        "add-key" => {
            // SAFETY: see above. KEY_SPEC_SESSION_KEYRING = -3.
            report(unsafe {
                libc::syscall(
                    libc::SYS_add_key,
                    c"user".as_ptr(),
                    c"probe".as_ptr(),
                    b"x".as_ptr(),
                    1,
                    -3,
                )
            })
        }
        "request-key" => {
            // SAFETY: see above.
            report(unsafe {
                libc::syscall(
                    libc::SYS_request_key,
                    c"user".as_ptr(),
                    c"probe".as_ptr(),
                    std::ptr::null::<u8>(),
                    0,
                )
            })
        }
        "bpf" => {
            let mut attribute = [0u8; 128];
            // SAFETY: see above. BPF_MAP_CREATE = 0.
            report(unsafe {
                libc::syscall(libc::SYS_bpf, 0, attribute.as_mut_ptr(), attribute.len())
            })
        }
        "perf-event-open" => {
            let mut attribute = [0u8; 128];
            attribute[4..8].copy_from_slice(&128u32.to_ne_bytes());
            // SAFETY: see above.
            report(unsafe {
                libc::syscall(
                    libc::SYS_perf_event_open,
                    attribute.as_mut_ptr(),
                    0,
                    -1,
                    -1,
                    0,
                )
            })
        }
        "userfaultfd" => {
            // SAFETY: see above.
            report(unsafe { libc::syscall(libc::SYS_userfaultfd, 0) })
        }
        "io-uring-setup" => {
            let mut parameters = [0u8; 120];
            // SAFETY: see above.
            report(unsafe { libc::syscall(libc::SYS_io_uring_setup, 1, parameters.as_mut_ptr()) })
        }
        "open-by-handle-at" => {
            let mut handle = [0u8; 128];
            handle[0..4].copy_from_slice(&8u32.to_ne_bytes());
            // SAFETY: see above.
            report(unsafe {
                libc::syscall(
                    libc::SYS_open_by_handle_at,
                    libc::AT_FDCWD,
                    handle.as_mut_ptr(),
                    0,
                )
            })
        }
        "kexec-load" => {
            // SAFETY: see above.
            report(unsafe { libc::syscall(libc::SYS_kexec_load, 0, 0, std::ptr::null::<u8>(), 0) })
        }
        "init-module" => {
            // SAFETY: see above.
            report(unsafe {
                libc::syscall(
                    libc::SYS_init_module,
                    std::ptr::null::<u8>(),
                    0,
                    c"".as_ptr(),
                )
            })
        }
        "finit-module" => {
            // SAFETY: see above.
            report(unsafe { libc::syscall(libc::SYS_finit_module, 0, c"".as_ptr(), 0) })
        }
        "personality" => {
            // SAFETY: see above. ADDR_NO_RANDOMIZE.
            report(unsafe { libc::syscall(libc::SYS_personality, 0x004_0000) })
        }
        "chroot" => {
            // SAFETY: see above.
            report(libc::c_long::from(unsafe {
                libc::chroot(c"/tmp".as_ptr())
            }))
        }
        "x32-openat" => {
            // openat through the x32 entry: `nr | __X32_SYSCALL_BIT`. Should
            // be killed by the guard before it returns.
            // SAFETY: see above.
            let result = unsafe {
                libc::syscall(
                    libc::SYS_openat | 0x4000_0000,
                    libc::AT_FDCWD,
                    c"/etc/hostname".as_ptr(),
                    libc::O_RDONLY,
                )
            };
            format!("not killed: {}", report(result))
        }
        "int80" => {
            // i386 getpid (20) through `int $0x80`.
            let mut result: i64 = 20;
            // SAFETY: `int $0x80` with eax = 20 (getpid) reads and writes
            // only eax; the other registers it may clobber are declared.
            unsafe {
                std::arch::asm!(
                    "int 0x80",
                    inout("rax") result,
                    lateout("r8") _, lateout("r9") _, lateout("r10") _, lateout("r11") _,
                );
            }
            format!("not killed: returned {result}")
        }
        "tiocsti" => {
            // SAFETY: see above.
            report(libc::c_long::from(unsafe {
                libc::ioctl(0, libc::TIOCSTI, b"x".as_ptr())
            }))
        }
        "tiocsti-high-bits" => {
            // CVE-2019-10063: the kernel truncates the command to 32 bits.
            // SAFETY: see above.
            report(unsafe {
                libc::syscall(
                    libc::SYS_ioctl,
                    0,
                    libc::TIOCSTI | (1u64 << 32),
                    b"x".as_ptr(),
                )
            })
        }
        "tioclinux" => {
            let mut subcode = [2u8; 8]; // TIOCL_SETSEL
                                        // SAFETY: see above.
            report(libc::c_long::from(unsafe {
                libc::ioctl(0, libc::TIOCLINUX, subcode.as_mut_ptr())
            }))
        }
        "kill-all" => {
            // SAFETY: see above.
            report(libc::c_long::from(unsafe { libc::kill(-1, libc::SIGKILL) }))
        }
        "kill-pid" => {
            let pid: i32 = arg(args, 0).parse().unwrap_or(0);
            // SAFETY: see above.
            report(libc::c_long::from(unsafe {
                libc::kill(pid, libc::SIGKILL)
            }))
        }
        "abstract-connect" => socket_connect(
            libc::AF_UNIX,
            libc::SOCK_STREAM,
            &unix_address(arg(args, 0).as_bytes(), true),
        ),
        "unix-connect" => socket_connect(
            libc::AF_UNIX,
            libc::SOCK_STREAM,
            &unix_address(arg(args, 0).as_bytes(), false),
        ),
        "tcp-connect" => socket_connect(
            libc::AF_INET,
            libc::SOCK_STREAM,
            &inet_address(arg(args, 0).parse().unwrap_or(0)),
        ),
        "udp-send" => socket_connect(
            libc::AF_INET,
            libc::SOCK_DGRAM,
            &inet_address(arg(args, 0).parse().unwrap_or(0)),
        ),
        "fd-census" => fd_census(),
        "env-census" => {
            let mut names: Vec<String> = std::env::vars_os()
                .map(|(name, _)| name.to_string_lossy().into_owned())
                .collect();
            names.sort();
            format!("env={}", names.join(","))
        }
        "proc-status" => status_fields(),
        "euid" => {
            // SAFETY: geteuid cannot fail.
            format!("euid={}", unsafe { libc::geteuid() })
        }
        "exec" => {
            let error = std::os::unix::process::CommandExt::exec(
                std::process::Command::new(arg(args, 0)).args(&args[1..]),
            );
            format!("exec failed: {error}")
        }
        "fork-bomb" => fork_bomb(),
        "file-size" => {
            // Ignore SIGXFSZ so the limit shows as EFBIG instead of a kill.
            // SAFETY: see above.
            unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
            let mut file = match std::fs::File::create(arg(args, 0)) {
                Ok(file) => file,
                Err(error) => {
                    return format!(
                        "create errno {}",
                        errno_name(error.raw_os_error().unwrap_or(0))
                    )
                }
            };
            let chunk = vec![0u8; 1 << 16];
            let mut written = 0usize;
            loop {
                match file.write(&chunk) {
                    Ok(0) => return format!("written={written} stopped"),
                    Ok(count) => written += count,
                    Err(error) => {
                        return format!(
                            "written={written} errno {}",
                            errno_name(error.raw_os_error().unwrap_or(0))
                        )
                    }
                }
                if written > 1 << 30 {
                    return format!("written={written} unlimited");
                }
            }
        }
        "allocate" => {
            // SAFETY: see above; an anonymous mapping we never touch.
            let address = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    100 << 30,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            if address == libc::MAP_FAILED {
                format!("errno {}", errno_name(last_errno()))
            } else {
                "ok".to_owned()
            }
        }
        "spin" => loop {
            std::hint::spin_loop();
        },
        "sleep" => {
            std::thread::sleep(std::time::Duration::from_secs(
                arg(args, 0).parse().unwrap_or(60),
            ));
            "woke".to_owned()
        }
        _ => format!("unknown case `{case}`"),
    }
}

/// `pkgward-sandbox-probe --run-sandbox < spec.json`: run the spec with the
/// sandbox library from this single-threaded process (so its helper runs in
/// place, without being executed again) and print the outcome as JSON. The
/// escape tests use it to check that path too.
const RUN_SANDBOX: &str = "--run-sandbox";

fn run_sandbox() -> ! {
    let mut input = String::new();
    let outcome = std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|error| error.to_string())
        .and_then(|_| {
            serde_json::from_str::<pkgward_sandbox::Spec>(&input).map_err(|e| e.to_string())
        })
        .and_then(|spec| {
            let helper = pkgward_sandbox::HelperProgram::current().map_err(|e| e.to_string())?;
            pkgward_sandbox::run(&spec, &helper).map_err(|error| format!("{error} ({error:?})"))
        });
    match outcome {
        Ok(outcome) => {
            println!(
                "{}",
                serde_json::to_string(&outcome).expect("outcomes serialise")
            );
            std::process::exit(0)
        }
        Err(error) => {
            eprintln!("sandbox failed: {error}");
            std::process::exit(3)
        }
    }
}

fn main() {
    if let Some(code) = pkgward_sandbox::run_helper_if_requested() {
        std::process::exit(code);
    }
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    if arguments.first().map(String::as_str) == Some(RUN_SANDBOX) {
        if arguments.get(1).map(String::as_str) == Some("--with-a-second-thread") {
            // A caller with two threads: the helper is executed afresh.
            std::thread::spawn(|| loop {
                std::thread::park();
            });
        }
        run_sandbox();
    }
    let Some((case, rest)) = arguments.split_first() else {
        eprintln!("usage: pkgward-sandbox-probe CASE [ARG…]");
        std::process::exit(2);
    };
    let line = run_case(case, rest);
    println!("{case}: {line}");
}
