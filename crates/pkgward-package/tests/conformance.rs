//! Conformance: for every real `.deb` we can find, the entries our reader
//! reports equal what dpkg sees. The reference is `dpkg-deb --fsys-tarfile`
//! (dpkg's own ar/decompression layer) parsed by Python's `tarfile` (an
//! independent tar reader): same paths, types, modes, sizes, owners, groups,
//! link targets and content sha256, plus the package name, version and
//! architecture from `dpkg-deb -f` and the artifact's sha256.
//!
//! Inputs: the committed `testdata/debs/*.deb` (so this runs on a fresh
//! clone), the shared corpus (`$PKGWARD_CORPUS` or `<repo>/../shared/corpus`,
//! skipped loudly when absent), and `hello` repacked by `dpkg-deb -b` with
//! gzip, zstd and no compression, so every compression dpkg writes is covered.
//! dpkg-deb and python3 are the references; the test skips loudly without them.
#![allow(clippy::print_stderr, clippy::disallowed_methods)]

use pkgward_package::{deb, EntryKind, Limits};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Lists each package with dpkg-deb + Python tarfile, one JSON object per package.
const REFERENCE_LISTER: &str = r#"
import hashlib, json, subprocess, sys, tarfile
result = {}
for path in sys.argv[1:]:
    fields = subprocess.run(["dpkg-deb", "-f", path, "Package", "Version", "Architecture"],
                            check=True, capture_output=True, text=True).stdout
    control = dict(line.split(": ", 1) for line in fields.splitlines())
    with open(path, "rb") as artifact:
        artifact_sha256 = hashlib.sha256(artifact.read()).hexdigest()
    process = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", path], stdout=subprocess.PIPE)
    entries = []
    with tarfile.open(fileobj=process.stdout, mode="r|") as archive:
        for member in archive:
            if member.isreg():
                kind = "file"
                digest = hashlib.sha256(archive.extractfile(member).read()).hexdigest()
            elif member.isdir():
                kind, digest = "dir", None
            elif member.issym():
                kind, digest = "symlink", None
            elif member.islnk():
                kind, digest = "hardlink", None
            else:
                kind, digest = "other:" + member.type.decode(), None
            entries.append({
                "name": member.name, "type": kind, "mode": member.mode & 0o7777,
                "size": member.size if kind == "file" else 0,
                "owner": member.uname or str(member.uid), "group": member.gname or str(member.gid),
                "link": member.linkname or None, "sha256": digest,
            })
    if process.wait() != 0:
        raise SystemExit("dpkg-deb --fsys-tarfile failed for " + path)
    result[path] = {"control": control, "sha256": artifact_sha256, "entries": entries}
json.dump(result, sys.stdout)
"#;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("PKGWARD_CORPUS")
        .map_or_else(|| repo_root().join("../shared/corpus"), PathBuf::from);
    dir.join("debs").is_dir().then_some(dir)
}

fn debs_in(dir: &Path) -> Vec<PathBuf> {
    let mut debs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "deb"))
                .collect()
        })
        .unwrap_or_default();
    debs.sort();
    debs
}

fn tool_available(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|output| output.status.success())
}

/// How python's tarfile names map onto our canonical paths.
fn canonical(name: &str) -> String {
    let trimmed = name.trim_start_matches("./").trim_end_matches('/');
    if trimmed.is_empty() || trimmed == "." {
        "/".to_owned()
    } else {
        format!("/{trimmed}")
    }
}

/// `hello` repacked by dpkg-deb itself in each compression it writes.
fn repacked_variants(work: &Path) -> Vec<PathBuf> {
    let source = repo_root().join("testdata/debs/hello_2.10-3_amd64.deb");
    let tree = work.join("hello-tree");
    let status = Command::new("dpkg-deb")
        .arg("-R")
        .arg(&source)
        .arg(&tree)
        .status()
        .expect("run dpkg-deb -R");
    assert!(status.success(), "dpkg-deb -R failed");
    let mut variants = Vec::new();
    for compression in ["gzip", "zstd", "none"] {
        let output = work.join(format!("hello-{compression}.deb"));
        let status = Command::new("dpkg-deb")
            .args(["--root-owner-group", "-Z", compression, "-b"])
            .arg(&tree)
            .arg(&output)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run dpkg-deb -b");
        assert!(status.success(), "dpkg-deb -b -Z{compression} failed");
        variants.push(output);
    }
    variants
}

#[test]
fn entries_match_dpkg_deb_and_python_tarfile() {
    if !tool_available("dpkg-deb", "--version") || !tool_available("python3", "--version") {
        eprintln!("SKIPPED conformance: needs dpkg-deb and python3 (apt-get install dpkg python3)");
        return;
    }
    let mut debs = debs_in(&repo_root().join("testdata/debs"));
    assert!(
        debs.len() >= 3,
        "testdata/debs should hold the committed real packages"
    );
    match corpus_dir() {
        Some(dir) => {
            let corpus = debs_in(&dir.join("debs"));
            eprintln!("conformance: {} shared corpus packages", corpus.len());
            debs.extend(corpus);
        }
        None => eprintln!(
            "SKIPPED shared corpus part of conformance: set PKGWARD_CORPUS or provide ../shared/corpus"
        ),
    }
    let work = tempfile::tempdir().expect("temp dir");
    debs.extend(repacked_variants(work.path()));

    let output = Command::new("python3")
        .arg("-c")
        .arg(REFERENCE_LISTER)
        .args(&debs)
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "reference lister failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let reference: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("reference JSON");

    let mut compared_entries = 0;
    for deb_path in &debs {
        let expected = &reference[deb_path.to_str().expect("UTF-8 path")];
        let package = deb::read(deb_path, &Limits::default())
            .unwrap_or_else(|error| panic!("our reader refused a real package: {error}"));
        let label = deb_path.display();
        assert_eq!(package.name, expected["control"]["Package"], "{label}");
        assert_eq!(
            package.version.to_string(),
            expected["control"]["Version"],
            "{label}"
        );
        assert_eq!(
            package.architecture, expected["control"]["Architecture"],
            "{label}"
        );
        assert_eq!(package.artifact_sha256, expected["sha256"], "{label}");
        let expected_entries = expected["entries"].as_array().expect("entries");
        assert_eq!(
            package.entries.len(),
            expected_entries.len(),
            "{label}: entry count"
        );
        for (ours, theirs) in package.entries.iter().zip(expected_entries) {
            let name = theirs["name"].as_str().expect("name");
            let context = format!("{label}: entry `{name}`");
            assert_eq!(ours.path, canonical(name), "{context}");
            assert_eq!(ours.kind.as_str(), theirs["type"], "{context}");
            assert_eq!(u64::from(ours.mode), theirs["mode"], "{context}");
            assert_eq!(ours.size, theirs["size"], "{context}");
            assert_eq!(ours.owner, theirs["owner"], "{context}");
            assert_eq!(ours.group, theirs["group"], "{context}");
            let expected_target = match ours.kind {
                EntryKind::Hardlink => theirs["link"].as_str().map(canonical),
                _ => theirs["link"].as_str().map(str::to_owned),
            };
            assert_eq!(ours.target, expected_target, "{context}");
            assert_eq!(
                ours.sha256.as_deref(),
                theirs["sha256"].as_str(),
                "{context}"
            );
            compared_entries += 1;
        }
    }
    eprintln!(
        "conformance: {} packages, {compared_entries} entries agree with dpkg-deb + python tarfile",
        debs.len()
    );
}
