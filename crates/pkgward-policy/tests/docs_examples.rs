//! The TOML examples in `docs/policy.md` load without errors, and the
//! default shown there is the embedded one, so the documentation cannot
//! drift from the schema.

use pkgward_policy::parse::EMBEDDED_DEFAULT;
use pkgward_policy::{load, PolicyInput, SourceFile};

fn toml_blocks() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/policy.md");
    let text = std::fs::read_to_string(path).expect("docs/policy.md exists");
    let mut blocks = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("```toml\n") {
        let body = &rest[start + 8..];
        let end = body.find("```").expect("closed block");
        blocks.push(body[..end].to_owned());
        rest = &body[end + 3..];
    }
    blocks
}

#[test]
fn documented_examples_load() {
    let blocks = toml_blocks();
    assert_eq!(blocks.len(), 3, "admin policy, grants file, default");
    let input = PolicyInput {
        policy_files: vec![SourceFile {
            name: "docs/policy.toml",
            text: &blocks[0],
        }],
        grants_files: vec![(
            "debian".into(),
            SourceFile {
                name: "docs/grants.toml",
                text: &blocks[1],
            },
        )],
    };
    let policy = load(&input).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(policy.repos.len(), 2);
    assert_eq!(policy.delegations.len(), 1);
    assert_eq!(blocks[2], EMBEDDED_DEFAULT);
}
