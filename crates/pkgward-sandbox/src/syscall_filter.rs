//! The seccomp filter: a hand-written architecture guard followed by a
//! `seccompiler` denylist.
//!
//! `seccompiler` checks the audit architecture but not the x32 bit: on `x86_64`
//! a call numbered `nr | 0x4000_0000` reaches the x32 entry with the *same*
//! handler as the native call, so a denylist keyed on native numbers would
//! let `mount | 0x4000_0000` through. And `int $0x80` enters the i386 table
//! (audit arch `AUDIT_ARCH_I386`) with different numbers. The guard kills the
//! process for both (THREATS.md C42), which is why it is prepended here.
//!
//! Denied calls return `EPERM` so a script sees an ordinary failure; `clone3`
//! returns `ENOSYS` because its flags live in memory that seccomp cannot
//! read, and `ENOSYS` makes glibc fall back to `clone`, whose flags we can
//! check (the approach of Flatpak and bubblewrap users).

use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};
use std::collections::BTreeMap;

// Classic BPF opcodes and seccomp constants (linux/filter.h, linux/seccomp.h,
// linux/audit.h); spelled out because the guard is written by hand.
const BPF_LOAD_WORD_ABSOLUTE: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const BPF_JUMP_IF_EQUAL: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const BPF_JUMP_IF_GREATER_OR_EQUAL: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const BPF_RETURN: u16 = 0x06; // BPF_RET | BPF_K
const SECCOMP_DATA_NR_OFFSET: u32 = 0;
const SECCOMP_DATA_ARCH_OFFSET: u32 = 4;
const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const SYSCALL_CLONE3: u32 = 435;

/// Namespace flags that `clone` must not carry: a new user namespace would
/// give the script a fresh set of capabilities to attack the kernel with.
/// `CLONE_NEWTIME` (0x80) is absent because for `clone` those bits are the
/// exit signal; it can only be requested through `clone3` and `unshare`,
/// which are both denied.
const CLONE_NAMESPACE_FLAGS: [libc::c_int; 7] = [
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWNS,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWCGROUP,
];

/// System calls denied whatever their arguments, with why.
const DENIED_UNCONDITIONALLY: &[(i64, &str)] = &[
    (libc::SYS_mount, "mounts"),
    (libc::SYS_umount2, "unmounting the read-only root's pieces"),
    (libc::SYS_pivot_root, "changing the root after setup"),
    (libc::SYS_move_mount, "new mount API"),
    (libc::SYS_open_tree, "new mount API"),
    (libc::SYS_fsopen, "new mount API"),
    (libc::SYS_fsmount, "new mount API"),
    (libc::SYS_fsconfig, "new mount API"),
    (libc::SYS_fspick, "new mount API"),
    (libc::SYS_mount_setattr, "clearing read-only flags"),
    (libc::SYS_ptrace, "tracing"),
    (
        libc::SYS_process_vm_readv,
        "reading other processes' memory",
    ),
    (
        libc::SYS_process_vm_writev,
        "writing other processes' memory",
    ),
    (libc::SYS_kexec_load, "replacing the kernel"),
    (libc::SYS_kexec_file_load, "replacing the kernel"),
    (libc::SYS_init_module, "loading kernel modules"),
    (libc::SYS_finit_module, "loading kernel modules"),
    (libc::SYS_delete_module, "unloading kernel modules"),
    (libc::SYS_bpf, "eBPF, a large kernel attack surface"),
    (
        libc::SYS_perf_event_open,
        "perf, a large kernel attack surface",
    ),
    (libc::SYS_userfaultfd, "race widening for kernel exploits"),
    (libc::SYS_keyctl, "the kernel keyring is not namespaced"),
    (libc::SYS_add_key, "the kernel keyring is not namespaced"),
    (
        libc::SYS_request_key,
        "the kernel keyring is not namespaced",
    ),
    (
        libc::SYS_io_uring_setup,
        "io_uring bypasses seccomp for its operations",
    ),
    (
        libc::SYS_io_uring_enter,
        "io_uring bypasses seccomp for its operations",
    ),
    (
        libc::SYS_io_uring_register,
        "io_uring bypasses seccomp for its operations",
    ),
    (libc::SYS_unshare, "new namespaces"),
    (libc::SYS_setns, "joining other namespaces"),
    (libc::SYS_chroot, "chroot games inside the sandbox"),
    (
        libc::SYS_open_by_handle_at,
        "opening files by handle escapes mounts (shocker)",
    ),
    (libc::SYS_name_to_handle_at, "pairs with open_by_handle_at"),
    (libc::SYS_pidfd_getfd, "stealing descriptors"),
    (libc::SYS_syslog, "kernel log"),
    (libc::SYS_acct, "process accounting"),
    (libc::SYS_swapon, "swap"),
    (libc::SYS_swapoff, "swap"),
    (libc::SYS_reboot, "reboot"),
    (libc::SYS_iopl, "port I/O"),
    (libc::SYS_ioperm, "port I/O"),
    (libc::SYS_uselib, "obsolete loader"),
    (libc::SYS_quotactl, "quotas"),
    (libc::SYS_vhangup, "terminal hangup"),
];

/// The filter as installed: the guard, then the denylist program.
pub(crate) struct SyscallFilter {
    pub program: BpfProgram,
    pub denied_syscalls: usize,
}

/// Build the whole program. Pure: nothing is installed here.
pub(crate) fn build() -> Result<SyscallFilter, seccompiler::BackendError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for (syscall, _why) in DENIED_UNCONDITIONALLY {
        // An empty rule list matches the call whatever its arguments.
        rules.insert(*syscall, Vec::new());
    }

    // ioctl: TIOCSTI pushes bytes into a terminal's input queue, TIOCLINUX
    // can paste the console selection (CVE-2017-5226, CVE-2023-28100). The
    // kernel only looks at the low 32 bits of the command, so compare those
    // alone: `TIOCSTI | 1 << 32` must match too (CVE-2019-10063).
    let ioctl_rules = [libc::TIOCSTI, libc::TIOCLINUX]
        .into_iter()
        .map(|command| {
            SeccompRule::new(vec![SeccompCondition::new(
                1,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(0xFFFF_FFFF),
                command,
            )?])
        })
        .collect::<Result<Vec<_>, _>>()?;
    rules.insert(libc::SYS_ioctl, ioctl_rules);

    // clone: any namespace flag (one rule per flag; rules are alternatives).
    let clone_rules = CLONE_NAMESPACE_FLAGS
        .into_iter()
        .map(|flag| {
            let flag = u64::from(flag.unsigned_abs());
            SeccompRule::new(vec![SeccompCondition::new(
                0,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(flag),
                flag,
            )?])
        })
        .collect::<Result<Vec<_>, _>>()?;
    rules.insert(libc::SYS_clone, clone_rules);

    // personality: allow querying (0xffffffff) and PER_LINUX (0); deny the
    // rest, notably ADDR_NO_RANDOMIZE (0x0040000) which turns off ASLR for
    // exploits, and READ_IMPLIES_EXEC.
    rules.insert(
        libc::SYS_personality,
        vec![SeccompRule::new(vec![
            SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Ne, 0)?,
            SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Ne, 0xFFFF_FFFF)?,
        ])?],
    );

    let denied_syscalls = rules.len();
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        TargetArch::x86_64,
    )?;
    let denylist: BpfProgram = filter.try_into()?;

    let mut program = architecture_guard();
    program.extend(denylist);
    Ok(SyscallFilter {
        program,
        denied_syscalls,
    })
}

fn statement(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// The guard `seccompiler` lacks. Jumps are relative, so the denylist
/// program can simply follow it.
fn architecture_guard() -> BpfProgram {
    vec![
        // A foreign audit architecture (i386 via `int $0x80`): kill.
        statement(BPF_LOAD_WORD_ABSOLUTE, SECCOMP_DATA_ARCH_OFFSET),
        jump(BPF_JUMP_IF_EQUAL, AUDIT_ARCH_X86_64, 1, 0),
        statement(BPF_RETURN, SECCOMP_RET_KILL_PROCESS),
        // The x32 ABI shares the x86_64 audit arch; its numbers carry
        // __X32_SYSCALL_BIT: kill.
        statement(BPF_LOAD_WORD_ABSOLUTE, SECCOMP_DATA_NR_OFFSET),
        jump(BPF_JUMP_IF_GREATER_OR_EQUAL, X32_SYSCALL_BIT, 0, 1),
        statement(BPF_RETURN, SECCOMP_RET_KILL_PROCESS),
        // clone3 → ENOSYS (see the module comment).
        jump(BPF_JUMP_IF_EQUAL, SYSCALL_CLONE3, 0, 1),
        statement(BPF_RETURN, SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_builds_and_starts_with_the_guard() {
        let filter = build().unwrap();
        assert_eq!(filter.program[..8], architecture_guard()[..]);
        assert!(filter.program.len() > 8 + DENIED_UNCONDITIONALLY.len());
        assert_eq!(
            filter.denied_syscalls,
            DENIED_UNCONDITIONALLY.len() + 3 // ioctl, clone, personality
        );
        // The kernel refuses programs longer than BPF_MAXINSNS.
        assert!(filter.program.len() < 4096);
    }

    #[test]
    fn guard_kills_foreign_architectures_and_x32() {
        let guard = architecture_guard();
        assert_eq!(guard[1].k, AUDIT_ARCH_X86_64);
        assert_eq!(guard[2].k, SECCOMP_RET_KILL_PROCESS);
        assert_eq!(guard[4].k, X32_SYSCALL_BIT);
        assert_eq!(guard[5].k, SECCOMP_RET_KILL_PROCESS);
    }
}
