//! Choosing how one transaction makes its writes durable
//! ([`Durability::Auto`]).
//!
//! Both strategies give the same guarantee; their costs differ:
//! - `fsync` of each staged file costs a device round trip per file (made
//!   by the flusher threads, `crate::writeback`), whatever else the system
//!   is writing;
//! - one `syncfs` per phase costs writing everything dirty on the
//!   filesystem, pkgward's files and other processes' data alike.
//!
//! So `syncfs` wins when little besides pkgward's own files is dirty, and
//! per-file `fsync` wins when another writer (a build, a copy) keeps much
//! dirty data in the page cache: dpkg moved from `sync()` to per-file
//! `fsync` for that case. The choice compares the dirty data already in
//! the page cache (`/proc/meminfo` `Dirty` + `Writeback`, system-wide: an
//! upper bound of what a `syncfs` of the root's filesystem would also
//! write) with what the per-file round trips cost, expressed in bytes:
//! [`BYTES_PER_FSYNC`] per file to stage.
//!
//! Measured on this project's VM (docs/benchmarks.md, rpm section): the
//! per-file strategy costs about 57 µs more per staged file than one
//! `syncfs` (2,520 files: 0.62 s against 0.47 s), and the disk writes about
//! 800 MB/s, so one file's round trip is worth ~46 KB of someone else's
//! dirty data; [`BYTES_PER_FSYNC`] is below that, so the choice leans
//! towards the strategy whose cost cannot grow with other processes' writes.
//! Dirty data written by others after the choice is the risk `syncfs`
//! keeps; per-file `fsync` is chosen whenever `/proc/meminfo` cannot be read.

use crate::transaction::Durability;
use pkgward_plan::{PlacementKind, Plan};

/// What one file's `fsync` round trip is worth in bytes of other dirty data.
pub(crate) const BYTES_PER_FSYNC: u64 = 32 * 1024;

/// The strategy for `plan` (`Auto` resolved; the others are kept).
pub(crate) fn resolve(durability: Durability, plan: &Plan) -> Durability {
    match durability {
        Durability::Auto => choose(dirty_bytes(), files_to_stage(plan)),
        chosen => chosen,
    }
}

/// `SyncFilesystem` when the dirty data a `syncfs` would also flush
/// (`dirty`, `None` when unknown) costs less than `files` round trips.
pub(crate) fn choose(dirty: Option<u64>, files: u64) -> Durability {
    match dirty {
        Some(dirty) if dirty <= files.saturating_mul(BYTES_PER_FSYNC) => Durability::SyncFilesystem,
        _ => Durability::FsyncEachFile,
    }
}

/// Regular files the plan stages (the ones the per-file strategy fsyncs).
fn files_to_stage(plan: &Plan) -> u64 {
    let files = plan
        .packages
        .iter()
        .flat_map(|package| &package.placements)
        .filter(|placement| placement.kind == PlacementKind::File)
        .count();
    u64::try_from(files).unwrap_or(u64::MAX)
}

/// `Dirty` + `Writeback` from `/proc/meminfo`, in bytes.
fn dirty_bytes() -> Option<u64> {
    parse_meminfo_dirty(&std::fs::read_to_string("/proc/meminfo").ok()?)
}

fn parse_meminfo_dirty(meminfo: &str) -> Option<u64> {
    let field = |name: &str| -> Option<u64> {
        let line = meminfo
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))?;
        let kib = line.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()?;
        kib.checked_mul(1024)
    };
    field("Dirty")?.checked_add(field("Writeback")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMINFO: &str = "MemTotal:       24576000 kB\nDirty:              1234 kB\n\
                           Writeback:            16 kB\nWritebackTmp:          0 kB\n";

    #[test]
    fn dirty_is_dirty_plus_writeback_not_writeback_tmp() {
        assert_eq!(parse_meminfo_dirty(MEMINFO), Some((1234 + 16) * 1024));
    }

    #[test]
    fn unreadable_meminfo_counts_as_unknown() {
        assert_eq!(parse_meminfo_dirty("MemTotal: 1 kB\n"), None);
        assert_eq!(parse_meminfo_dirty("Dirty: lots\nWriteback: 0 kB\n"), None);
    }

    #[test]
    fn syncfs_only_while_other_dirty_data_costs_less_than_the_fsyncs() {
        // 2,520 files: up to 80 MiB of others' dirty data is cheaper to flush.
        assert_eq!(choose(Some(1 << 20), 2_520), Durability::SyncFilesystem);
        assert_eq!(
            choose(Some(2_520 * BYTES_PER_FSYNC), 2_520),
            Durability::SyncFilesystem
        );
        assert_eq!(
            choose(Some(2_520 * BYTES_PER_FSYNC + 1), 2_520),
            Durability::FsyncEachFile
        );
        // A build writing 2 GiB: fsync each of a few files instead.
        assert_eq!(choose(Some(2 << 30), 40), Durability::FsyncEachFile);
        // Nothing to stage and nothing dirty: either is free; syncfs.
        assert_eq!(choose(Some(0), 0), Durability::SyncFilesystem);
        assert_eq!(choose(Some(4096), 0), Durability::FsyncEachFile);
        assert_eq!(choose(None, 2_520), Durability::FsyncEachFile);
    }
}
