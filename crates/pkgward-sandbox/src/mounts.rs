//! The sandbox's filesystem view, built by pid 1 in its new mount namespace
//! (the plan of bubblewrap's `setup_newroot`, written as one function):
//!
//! 1. Every source is opened first, as a descriptor: the root, the writable
//!    grants (resolved *inside* the root with `RESOLVE_IN_ROOT`, so a symlink
//!    the package shipped cannot point a grant at the host), the extra
//!    read-only paths and the five host devices. Later mounts cannot hide
//!    them.
//! 2. Propagation from the host becomes one-way (`MS_SLAVE`, recursive): no
//!    mount made here reaches the host (THREATS.md C47).
//! 3. The root is bind-mounted recursively over the host's `/tmp` (in this
//!    namespace only) and made read-only, nosuid and nodev *recursively* with
//!    `mount_setattr` — a `MS_REMOUNT` would leave submounts such as `/boot`
//!    writable.
//! 4. Private tmpfs on `/tmp` and `/run` (hiding the host's sockets such as
//!    `/run/dbus/system_bus_socket`, which a read-only mount does not stop:
//!    connecting to a socket is not a write), a read-only tmpfs `/dev` with
//!    bind mounts of null, zero, full, random and urandom, the read-only
//!    extra paths, then the writable grants.
//! 5. A fresh `/proc` for the new pid namespace, with `/proc/sys`,
//!    `/proc/sysrq-trigger`, `/proc/irq` and `/proc/bus` bound read-only over
//!    themselves (as bubblewrap does).
//! 6. `pivot_root` into it and detach the old root.

use crate::kernel::{
    self, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY,
};
use crate::spec::Spec;
use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

const DEVICES: [&str; 5] = ["null", "zero", "full", "random", "urandom"];
/// Where the new root is assembled: the host's `/tmp` directory, hidden in
/// this mount namespace only.
const STAGING: &str = "/tmp";

struct Source {
    fd: OwnedFd,
    inside: PathBuf,
    directory: bool,
}

/// Build the view and `pivot_root` into it. Errors name the path involved.
pub(crate) fn build_and_enter(spec: &Spec) -> Result<(), String> {
    let root = kernel::open_path(&spec.root, true)
        .map_err(|error| format!("cannot open root `{}`: {error}", spec.root.display()))?;
    let writable = spec
        .writable
        .iter()
        .map(|path| {
            let fd = kernel::open_path_in_root(&root, path).map_err(|error| {
                format!(
                    "writable path `{}` cannot be opened in root `{}`: {error}",
                    path.display(),
                    spec.root.display()
                )
            })?;
            let directory = kernel::is_directory(&fd).map_err(|error| error.to_string())?;
            Ok(Source {
                fd,
                inside: path.clone(),
                directory,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let readable = spec
        .readable
        .iter()
        .map(|path| {
            let fd = kernel::open_path(path, false).map_err(|error| {
                format!("read path `{}` cannot be opened: {error}", path.display())
            })?;
            let directory = kernel::is_directory(&fd).map_err(|error| error.to_string())?;
            Ok(Source {
                fd,
                inside: path.clone(),
                directory,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    // Host paths of binds and overlay layers are opened now too: once the
    // root covers the host's `/tmp`, a host path under `/tmp` names
    // something else.
    let bind_sources = spec
        .binds
        .iter()
        .map(|extra| {
            kernel::open_path(&extra.source, false).map_err(|error| {
                format!(
                    "bind source `{}` cannot be opened: {error}",
                    extra.source.display()
                )
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let overlay_layers = spec
        .overlays
        .iter()
        .map(|overlay| {
            kernel::open_path(&overlay.layer, true).map_err(|error| {
                format!(
                    "overlay layer `{}` cannot be opened: {error}",
                    overlay.layer.display()
                )
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let devices = DEVICES
        .iter()
        .map(|name| {
            let path = Path::new("/dev").join(name);
            kernel::open_path(&path, false)
                .map_err(|error| format!("host device `{}`: {error}", path.display()))
        })
        .collect::<Result<Vec<_>, String>>()?;

    kernel::mount(None, c"/", None, libc::MS_REC | libc::MS_SLAVE, None)
        .map_err(|error| format!("cannot make mount propagation one-way: {error}"))?;

    let staging = CString::new(STAGING).expect("static");
    kernel::mount(
        Some(&kernel::fd_path(&root)),
        &staging,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )
    .map_err(|error| format!("cannot bind root `{}`: {error}", spec.root.display()))?;
    let new_root = kernel::open_path(Path::new(STAGING), true)
        .map_err(|error| format!("cannot open the staged root: {error}"))?;
    kernel::mount_setattr(
        &new_root,
        MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        0,
        true,
    )
    .map_err(|error| {
        format!(
            "cannot make root `{}` read-only: {error}",
            spec.root.display()
        )
    })?;

    for directory in ["/tmp", "/run"] {
        let target = existing_mount_point(&new_root, Path::new(directory), spec)?;
        kernel::mount(
            Some(c"tmpfs"),
            &kernel::fd_path(&target),
            Some(c"tmpfs"),
            libc::MS_NOSUID | libc::MS_NODEV,
            Some(
                &CString::new(if directory == "/tmp" {
                    "mode=1777,size=50%"
                } else {
                    "mode=0755,size=10%"
                })
                .expect("static"),
            ),
        )
        .map_err(|error| format!("cannot mount a private `{directory}`: {error}"))?;
    }

    mount_devices(&new_root, &devices, spec)?;

    for source in &readable {
        let target = mount_point(&new_root, &source.inside, source.directory, spec)?;
        bind(&source.fd, &target, &source.inside)?;
        let mounted = reopen(&new_root, &source.inside)?;
        kernel::mount_setattr(
            &mounted,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
            0,
            true,
        )
        .map_err(|error| {
            format!(
                "cannot make read path `{}` read-only: {error}",
                source.inside.display()
            )
        })?;
    }

    mount_overlays(&new_root, &overlay_layers, spec)?;
    mount_binds(&new_root, &bind_sources, spec)?;

    for source in &writable {
        let target = mount_point(&new_root, &source.inside, source.directory, spec)?;
        bind(&source.fd, &target, &source.inside)?;
        let mounted = reopen(&new_root, &source.inside)?;
        // Clearing read-only fails with EPERM for a submount the host itself
        // mounted read-only (the kernel locks it); such a submount stays
        // read-only and the top of the grant is still made writable.
        let make_writable = |recursive| {
            kernel::mount_setattr(
                &mounted,
                MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                MOUNT_ATTR_RDONLY,
                recursive,
            )
        };
        make_writable(true)
            .or_else(|_| make_writable(false))
            .map_err(|error| {
                format!(
                    "cannot make writable path `{}` writable: {error}",
                    source.inside.display()
                )
            })?;
    }

    let proc_target = existing_mount_point(&new_root, Path::new("/proc"), spec)?;
    kernel::mount(
        Some(c"proc"),
        &kernel::fd_path(&proc_target),
        Some(c"proc"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        None,
    )
    .map_err(|error| format!("cannot mount a fresh `/proc`: {error}"))?;
    for protected in ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"] {
        let path = Path::new(protected);
        let Ok(fd) = kernel::open_path_in_root(&new_root, path) else {
            continue; // not every kernel has every one of them
        };
        bind(&fd, &fd, path)?;
        let mounted = reopen(&new_root, path)?;
        kernel::mount_setattr(
            &mounted,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
            0,
            true,
        )
        .map_err(|error| format!("cannot make `{protected}` read-only: {error}"))?;
    }

    kernel::pivot_root_here(&new_root)
        .map_err(|error| format!("cannot pivot into root `{}`: {error}", spec.root.display()))
}

fn mount_devices(new_root: &OwnedFd, devices: &[OwnedFd], spec: &Spec) -> Result<(), String> {
    let target = existing_mount_point(new_root, Path::new("/dev"), spec)?;
    kernel::mount(
        Some(c"tmpfs"),
        &kernel::fd_path(&target),
        Some(c"tmpfs"),
        libc::MS_NOSUID | libc::MS_NOEXEC,
        Some(c"mode=0755,size=64k"),
    )
    .map_err(|error| format!("cannot mount a minimal `/dev`: {error}"))?;
    let dev = reopen(new_root, Path::new("/dev"))?;
    for (name, source) in DEVICES.iter().zip(devices) {
        let c_name = CString::new(*name).expect("static");
        kernel::create_file_at(&dev, &c_name, 0o666)
            .map_err(|error| format!("cannot create `/dev/{name}`: {error}"))?;
        let node = reopen(new_root, &Path::new("/dev").join(name))?;
        bind(source, &node, &Path::new("/dev").join(name))?;
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        kernel::symlink_at(
            &CString::new(target).expect("static"),
            &dev,
            &CString::new(name).expect("static"),
        )
        .map_err(|error| format!("cannot create `/dev/{name}`: {error}"))?;
    }
    // The tmpfs itself becomes read-only: nothing can add device nodes or
    // files next to the five devices (the binds stay writable).
    kernel::mount_setattr(&dev, MOUNT_ATTR_RDONLY, 0, false)
        .map_err(|error| format!("cannot make `/dev` read-only: {error}"))
}

/// The spec's read-only overlays (see [`crate::Overlay`]): overlayfs with two
/// lower layers and no upper layer is read-only by construction. Allowed in a
/// user namespace since Linux 5.11.
fn mount_overlays(new_root: &OwnedFd, layers: &[OwnedFd], spec: &Spec) -> Result<(), String> {
    for (overlay, layer) in spec.overlays.iter().zip(layers) {
        let target = kernel::open_path_in_root(new_root, &overlay.target).map_err(|error| {
            format!(
                "overlay target `{}` is not a directory of root `{}`: {error}",
                overlay.target.display(),
                spec.root.display()
            )
        })?;
        if !kernel::is_directory(&target).map_err(|error| error.to_string())? {
            return Err(format!(
                "overlay target `{}` is not a directory",
                overlay.target.display()
            ));
        }
        let options = format!(
            "lowerdir={}:{}",
            kernel::fd_path(layer).to_string_lossy(),
            kernel::fd_path(&target).to_string_lossy()
        );
        kernel::mount(
            Some(c"overlay"),
            &kernel::fd_path(&target),
            Some(c"overlay"),
            libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
            Some(&CString::new(options).map_err(|_| "overlay options contain NUL".to_owned())?),
        )
        .map_err(|error| {
            format!(
                "cannot mount an overlay on `{}`: {error}",
                overlay.target.display()
            )
        })?;
    }
    Ok(())
}

/// The spec's binds of host paths into the private `/tmp` and `/run`.
fn mount_binds(new_root: &OwnedFd, sources: &[OwnedFd], spec: &Spec) -> Result<(), String> {
    for (extra, source) in spec.binds.iter().zip(sources) {
        let directory = kernel::is_directory(source).map_err(|error| error.to_string())?;
        let target = mount_point(new_root, &extra.target, directory, spec)?;
        bind(source, &target, &extra.target)?;
        let mounted = reopen(new_root, &extra.target)?;
        let (set, clear) = if extra.writable {
            (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, MOUNT_ATTR_RDONLY)
        } else {
            (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0)
        };
        kernel::mount_setattr(&mounted, set, clear, true).map_err(|error| {
            format!(
                "cannot set the flags of bind `{}`: {error}",
                extra.target.display()
            )
        })?;
    }
    Ok(())
}

fn bind(source: &OwnedFd, target: &OwnedFd, inside: &Path) -> Result<(), String> {
    kernel::mount(
        Some(&kernel::fd_path(source)),
        &kernel::fd_path(target),
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )
    .map_err(|error| format!("cannot bind-mount `{}`: {error}", inside.display()))
}

fn reopen(new_root: &OwnedFd, inside: &Path) -> Result<OwnedFd, String> {
    kernel::open_path_in_root(new_root, inside).map_err(|error| {
        format!(
            "cannot open `{}` after mounting it: {error}",
            inside.display()
        )
    })
}

fn existing_mount_point(new_root: &OwnedFd, inside: &Path, spec: &Spec) -> Result<OwnedFd, String> {
    kernel::open_path_in_root(new_root, inside).map_err(|error| {
        format!(
            "root `{}` has no `{}` to mount on: {error}",
            spec.root.display(),
            inside.display()
        )
    })
}

/// The mount point for `inside`, created when it lies on one of the
/// sandbox's own tmpfs (a grant under `/tmp` or `/run`); a missing mount
/// point on the read-only root is an error naming it.
fn mount_point(
    new_root: &OwnedFd,
    inside: &Path,
    directory: bool,
    spec: &Spec,
) -> Result<OwnedFd, String> {
    if let Ok(fd) = kernel::open_path_in_root(new_root, inside) {
        return Ok(fd);
    }
    let missing = |error: std::io::Error| {
        format!(
            "cannot create mount point `{}` in root `{}`: {error}",
            inside.display(),
            spec.root.display()
        )
    };
    let names: Vec<&std::ffi::OsStr> = inside
        .components()
        .filter_map(|component| match component {
            Component::Normal(name) => Some(name),
            _ => None,
        })
        .collect();
    let mut parent = kernel::open_path(Path::new(STAGING), true).map_err(missing)?;
    for (index, name) in names.iter().enumerate() {
        let c_name = CString::new(name.as_encoded_bytes())
            .map_err(|_| format!("path `{}` contains a NUL byte", inside.display()))?;
        let last = index + 1 == names.len();
        if let Ok(next) = kernel::open_directory_at(&parent, &c_name) {
            parent = next;
            continue;
        }
        if last && !directory {
            kernel::create_file_at(&parent, &c_name, 0o644).map_err(missing)?;
            return reopen(new_root, inside);
        }
        match kernel::mkdir_at(&parent, &c_name, 0o755) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(missing(error)),
        }
        parent = kernel::open_directory_at(&parent, &c_name).map_err(missing)?;
    }
    Ok(parent)
}
