//! Reading a package once for both planning and staging.
//!
//! Planning must read every package whole before anything is written (the
//! footprint, the digests and the declaration files decide the plan, and a
//! refused plan leaves the root byte-identical). Staging then needs every
//! file's content again. Reading the artifact a second time means
//! decompressing and hashing it again — on the 62-package Debian closure
//! that was about half of the CPU time of an install (`lzma_decode`), on the
//! rpm benchmark set four sha256 passes over every byte. So the planning read
//! keeps the decompressed content of the packages it reads, up to
//! [`KEPT_CONTENT_BUDGET`] bytes for the whole transaction (first come, first
//! kept, in the order the reads finish), and staging takes
//! it from memory. A package that does not fit is read again from its file,
//! and that second read is checked against the planned artifact digest.
//!
//! Kept content cannot go stale: it is the very bytes the plan was made
//! from, so a file swapped on disk after planning changes nothing.

use anyhow::Context;
use pkgward_package::{EntryKind, Limits, Package};
use pkgward_policy::footprint::{is_declaration_path, DeclarationFile};
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The most decompressed content one install keeps in memory between
/// planning and staging; beyond it packages are read twice. Bounded so an
/// install's peak RSS stays below 100 MiB (the install issue's goal). Peak
/// RSS of installing the 62-package closure of `python3 curl jq` (73 MiB of
/// content) by budget: 0 → 67–71 MiB, 8 → 84, 16 → 84, 24 → 96, 32 → 115,
/// 256 (all kept) → 123 MiB (docs/benchmarks.md).
pub(crate) const KEPT_CONTENT_BUDGET: u64 = 16 << 20;

/// `PKGWARD_KEPT_CONTENT_BYTES` overrides [`KEPT_CONTENT_BUDGET`]: `0` reads
/// every package twice (least memory), a large value keeps everything
/// (fewest reads). A value that is not a number is ignored.
pub(crate) const KEPT_CONTENT_VARIABLE: &str = "PKGWARD_KEPT_CONTENT_BYTES";

/// The budget of this install: the variable's value, else the default.
pub(crate) fn kept_content_budget() -> u64 {
    std::env::var(KEPT_CONTENT_VARIABLE)
        .ok()
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(KEPT_CONTENT_BUDGET)
}

/// The most bytes of one declaration file (sysusers.d, unit, tmpfiles.d)
/// read for the footprint.
const MAX_DECLARATION_BYTES: u64 = 1 << 20;

/// Every entry the reader visited, in its order, with the content of files.
#[derive(Debug, Default)]
pub(crate) struct KeptContent {
    entries: Vec<(String, Option<Vec<u8>>)>,
}

impl KeptContent {
    /// The visited entries in archive order: path, and content for files.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries
            .iter()
            .map(|(path, content)| (path.as_str(), content.as_deref().unwrap_or_default()))
    }
}

/// A package, its declaration files, and its content when it was kept.
pub(crate) type ReadPackage = (Package, Vec<DeclarationFile>, Option<KeptContent>);

/// Reads `path` once: the package, the bytes of its declaration files, and,
/// while `budget` (bytes left, shared by concurrent reads) allows, the
/// content of every file. `None` as budget keeps nothing.
pub(crate) fn read_package(path: &Path, budget: Option<&AtomicU64>) -> anyhow::Result<ReadPackage> {
    let mut declarations = Vec::new();
    let mut kept = budget.map(|_| KeptContent::default());
    let mut reserved = 0u64;
    let package = pkgward_package::artifact::for_each_data_entry(
        path,
        &Limits::default(),
        |entry, content| -> anyhow::Result<()> {
            let declaration = entry.kind == EntryKind::File
                && (is_declaration_path(&entry.path)
                    || pkgward_plan::actions::is_tmpfiles_path(&entry.path));
            let mut bytes = None;
            if entry.kind == EntryKind::File && kept.is_some() {
                if budget.is_some_and(|budget| take(budget, entry.size)) {
                    reserved += entry.size;
                    let mut all = Vec::with_capacity(usize::try_from(entry.size).unwrap_or(0));
                    content
                        .read_to_end(&mut all)
                        .with_context(|| format!("cannot read `{}`", entry.path))?;
                    bytes = Some(all);
                } else {
                    // Over budget: this package is read again at staging.
                    kept = None;
                    give_back(budget, &mut reserved);
                }
            }
            if declaration {
                let text = if let Some(all) = &bytes {
                    all.iter()
                        .copied()
                        .take(usize::try_from(MAX_DECLARATION_BYTES).unwrap_or(usize::MAX))
                        .collect()
                } else {
                    let mut text = Vec::new();
                    content
                        .take(MAX_DECLARATION_BYTES)
                        .read_to_end(&mut text)
                        .with_context(|| format!("cannot read `{}`", entry.path))?;
                    text
                };
                declarations.push(DeclarationFile {
                    path: entry.path.clone(),
                    bytes: text,
                });
            }
            if let Some(kept) = kept.as_mut() {
                kept.entries.push((entry.path.clone(), bytes));
            }
            Ok(())
        },
    );
    let package = match package {
        Ok(package) => package,
        Err(error) => {
            give_back(budget, &mut reserved);
            return Err(error).with_context(|| format!("cannot read package `{}`", path.display()));
        }
    };
    Ok((package, declarations, kept))
}

/// Takes `size` bytes from `budget` if that many are left.
fn take(budget: &AtomicU64, size: u64) -> bool {
    budget
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(size)
        })
        .is_ok()
}

fn give_back(budget: Option<&AtomicU64>, reserved: &mut u64) {
    if let Some(budget) = budget {
        budget.fetch_add(*reserved, Ordering::SeqCst);
    }
    *reserved = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/debs")
            .join(name)
    }

    #[test]
    fn kept_content_is_every_visited_entry_in_order_with_the_file_bytes() {
        let path = example("pkgward-hello_1.0-1_all.deb");
        let budget = AtomicU64::new(KEPT_CONTENT_BUDGET);
        let (package, _, kept) = read_package(&path, Some(&budget)).unwrap();
        let kept = kept.expect("a small package fits");
        let paths: Vec<&str> = kept.entries().map(|(path, _)| path).collect();
        let shipped: Vec<&str> = package.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, shipped);
        for ((_, bytes), entry) in kept.entries().zip(&package.entries) {
            match &entry.sha256 {
                Some(digest) => assert_eq!(
                    &hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes)),
                    digest,
                    "{}",
                    entry.path
                ),
                None => assert!(bytes.is_empty(), "{}", entry.path),
            }
        }
        assert_eq!(
            KEPT_CONTENT_BUDGET - budget.load(Ordering::SeqCst),
            package.installed_size
        );
    }

    #[test]
    fn a_package_over_the_budget_is_not_kept_and_returns_what_it_took() {
        let path = example("pkgward-hello_1.0-1_all.deb");
        let budget = AtomicU64::new(3);
        let (package, _, kept) = read_package(&path, Some(&budget)).unwrap();
        assert!(package.installed_size > 3);
        assert!(kept.is_none());
        assert_eq!(budget.load(Ordering::SeqCst), 3);
        let (_, _, kept) = read_package(&path, None).unwrap();
        assert!(kept.is_none());
    }
}
