//! Landlock, applied inside the sandbox after `pivot_root`: read and execute
//! everywhere, write only beneath the writable paths and the private `/tmp`.
//!
//! Landlock is the second wall behind the read-only mounts: it still holds if
//! a mount trick (a bug, a future syscall the denylist misses) made a
//! read-only mount writable. It also covers what mount flags cannot: truncate
//! (ABI 3, THREATS.md C34), `ioctl` on devices (ABI 5) and, with ABI 6,
//! abstract unix sockets and signals aimed outside the sandbox (C38, C39).
//! TCP `bind`/`connect` (ABI 4) is handled with no rule allowing it, on top of
//! the empty network namespace.

use crate::spec::LandlockRequirement;
use crate::status::{Enforcement, LandlockStatus};
use landlock::{
    path_beneath_rules, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};
use std::path::PathBuf;

/// The Landlock ABI version the running kernel offers (0 when Landlock is not
/// built in or not enabled).
pub fn kernel_abi() -> u8 {
    // SAFETY: landlock_create_ruleset with a NULL attribute, size 0 and the
    // VERSION flag only returns a number; it reads no memory.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32, // LANDLOCK_CREATE_RULESET_VERSION
        )
    };
    u8::try_from(version).unwrap_or(0)
}

/// Restrict the calling process (and its future children).
///
/// `writable` are paths as seen after `pivot_root`. Devices that every
/// program writes to (`/dev/null`…) get write access on the file itself.
pub(crate) fn restrict(
    writable: &[PathBuf],
    requirement: LandlockRequirement,
) -> Result<LandlockStatus, String> {
    let kernel_abi = kernel_abi();
    // The rights of the kernel's own ABI, so that "fully enforced" means
    // "everything this kernel can enforce". The landlock crate caps it at the
    // newest ABI it knows.
    let abi = ABI::from(i32::from(kernel_abi));
    if let LandlockRequirement::Refuse { minimum_abi } = requirement {
        if kernel_abi < minimum_abi {
            return Err(format!(
                "landlock ABI {kernel_abi} is below the required ABI {minimum_abi}"
            ));
        }
    }
    let compat_level = match requirement {
        LandlockRequirement::Refuse { .. } => CompatLevel::HardRequirement,
        LandlockRequirement::Degrade => CompatLevel::BestEffort,
    };

    let read_access = AccessFs::from_read(abi);
    let write_access = AccessFs::from_all(abi);
    let device_access = read_access | AccessFs::WriteFile;
    let writable_paths: Vec<PathBuf> = writable
        .iter()
        .cloned()
        .chain(std::iter::once(PathBuf::from("/tmp")))
        .collect();
    let devices = [
        "/dev/null",
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
    ];

    let build = || -> Result<landlock::RestrictionStatus, landlock::RulesetError> {
        let mut ruleset = Ruleset::default()
            .set_compatibility(compat_level)
            .handle_access(write_access)?;
        if kernel_abi >= 4 {
            ruleset = ruleset.handle_access(AccessNet::from_all(abi))?;
        }
        if kernel_abi >= 6 {
            ruleset = ruleset.scope(Scope::from_all(abi))?;
        }
        ruleset
            .create()?
            .add_rules(path_beneath_rules(["/"], read_access))?
            .add_rules(path_beneath_rules(devices, device_access))?
            .add_rules(path_beneath_rules(&writable_paths, write_access))?
            .restrict_self()
    };
    let restriction = match build() {
        Ok(restriction) => restriction,
        Err(error) => return Err(format!("landlock: {error}")),
    };
    let enforcement = match restriction.ruleset {
        RulesetStatus::FullyEnforced => Enforcement::Full,
        RulesetStatus::PartiallyEnforced => Enforcement::Partial,
        RulesetStatus::NotEnforced => Enforcement::None,
    };
    if matches!(requirement, LandlockRequirement::Refuse { .. }) && enforcement != Enforcement::Full
    {
        return Err(format!(
            "landlock is only {enforcement:?} enforced (kernel ABI {kernel_abi}) and the spec refuses to degrade"
        ));
    }
    let abi_in_use = if enforcement == Enforcement::None {
        0
    } else {
        abi as u8
    };
    Ok(LandlockStatus {
        kernel_abi,
        abi: abi_in_use,
        enforcement,
        truncate_controlled: abi_in_use >= 3,
        device_ioctl_controlled: abi_in_use >= 5,
        scoped: abi_in_use >= 6,
    })
}
