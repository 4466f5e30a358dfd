//! Rendering of errors, once, at the top: `error:` then each `caused by:`,
//! then any `hint:` lines. Messages are lowercase, without a trailing period,
//! and meaningful without colour.

/// A hint attached to an error as context: rendered as `hint: …` after the
/// causes rather than as another cause.
#[derive(Debug)]
pub struct Hint(pub String);

impl std::fmt::Display for Hint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Hint {}

/// Print an error chain to stderr.
pub fn error(error: &anyhow::Error) {
    let mut hints = Vec::new();
    let mut first = true;
    for cause in error.chain() {
        if let Some(hint) = cause.downcast_ref::<Hint>() {
            hints.push(hint.0.clone());
            continue;
        }
        if first {
            eprintln!("error: {cause}");
            first = false;
        } else {
            eprintln!("  caused by: {cause}");
        }
    }
    for hint in hints {
        eprintln!("hint: {hint}");
    }
}
