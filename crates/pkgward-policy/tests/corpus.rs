//! Corpus tests on the 143 real Debian packages of the shared corpus
//! (`$PKGWARD_CORPUS` or `<repo>/../shared/corpus`; skipped loudly when
//! absent): the least-privilege grants written from each footprint make
//! `verify` pass for every package, and the same grants without their
//! guarded paths fail for every package that touches a guarded location.

// Tests report skips loudly on stderr, and find the corpus through the
// environment as the working agreement says.
#![allow(clippy::print_stderr, clippy::disallowed_methods)]

use pkgward_package::deb;
use pkgward_package::model::{EntryKind, Limits, Package};
use pkgward_policy::footprint::{footprint_with, is_declaration_path, DeclarationFile};
use pkgward_policy::verify::verify;
use pkgward_policy::{load, AliasTable, CompiledPolicy, Layer, PolicyInput, SourceFile};
use std::path::{Path, PathBuf};

fn corpus_debs() -> Option<Vec<PathBuf>> {
    let directory = std::env::var_os("PKGWARD_CORPUS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
        PathBuf::from,
    );
    let debs = directory.join("debs");
    let Ok(entries) = std::fs::read_dir(&debs) else {
        eprintln!(
            "SKIPPED: shared corpus not found at `{}` (set PKGWARD_CORPUS)",
            debs.display()
        );
        return None;
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    paths.sort();
    Some(paths)
}

fn read(path: &Path) -> (Package, Vec<DeclarationFile>) {
    let mut declarations = Vec::new();
    let package = deb::for_each_data_entry(
        path,
        &Limits::default(),
        |entry, content| -> Result<(), deb::ReadError> {
            if entry.kind == EntryKind::File && is_declaration_path(&entry.path) {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(content, &mut bytes).unwrap();
                declarations.push(DeclarationFile {
                    path: entry.path.clone(),
                    bytes,
                });
            }
            Ok(())
        },
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (package, declarations)
}

fn compile(grants: &str) -> CompiledPolicy {
    let policy = load(&PolicyInput {
        policy_files: vec![],
        grants_files: vec![(
            "local".into(),
            SourceFile {
                name: "suggested.toml",
                text: grants,
            },
        )],
    })
    .unwrap_or_else(|e| panic!("suggested grants do not load: {e}"));
    CompiledPolicy::new(policy, AliasTable::usrmerge())
}

#[test]
fn suggested_grants_round_trip_and_guarded_removal_on_the_corpus() {
    let Some(paths) = corpus_debs() else { return };
    assert_eq!(paths.len(), 143, "the shared corpus has 143 packages");
    let builtin = CompiledPolicy::new(
        load(&PolicyInput::default()).unwrap(),
        AliasTable::usrmerge(),
    );
    let packages: Vec<_> = paths.iter().map(|p| read(p)).collect();
    let mut all_grants = String::new();
    for (package, declarations) in &packages {
        all_grants.push_str(&footprint_with(package, declarations, &builtin).suggested_grant());
    }
    let compiled = compile(&all_grants);
    for (package, declarations) in &packages {
        let verification = verify(package, declarations, &compiled, "local", &[]).unwrap();
        let denials: Vec<_> = verification.denials().collect();
        assert!(
            denials.is_empty(),
            "{} refused under its own suggested grant: {denials:#?}",
            package.name
        );
    }
    let mut touching_guarded = 0;
    for (package, declarations) in &packages {
        let footprint = footprint_with(package, declarations, &builtin);
        if footprint.guarded.is_empty() {
            continue;
        }
        touching_guarded += 1;
        let compiled = compile(&footprint.suggested_grant_with(false));
        let verification = verify(package, declarations, &compiled, "local", &[]).unwrap();
        let guarded_denials = verification
            .denials()
            .filter(|c| c.decision.because.layer == Layer::Catalog)
            .count();
        let guarded_paths: usize = footprint.guarded.iter().map(|g| g.paths.len()).sum();
        assert_eq!(
            guarded_denials, guarded_paths,
            "{}: every guarded path must be refused",
            package.name
        );
    }
    eprintln!(
        "{touching_guarded} of {} corpus packages touch a guarded location",
        packages.len()
    );
    assert!(touching_guarded > 30);
}
