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
///
/// A [`Hint`] attached with `.context(Hint(..))` sits in the chain as one
/// more layer; `anyhow` exposes context values only through
/// `Error::downcast_ref`, not through the chain's items, so the hint is
/// found that way and its layer is left out of the causes.
pub fn error(error: &anyhow::Error) {
    let hint = error.downcast_ref::<Hint>().map(|hint| hint.0.clone());
    let mut first = true;
    for cause in error.chain() {
        let text = cause.to_string();
        if hint.as_deref() == Some(text.as_str()) {
            continue;
        }
        if first {
            eprintln!("error: {text}");
            first = false;
        } else {
            eprintln!("  caused by: {text}");
        }
    }
    if let Some(hint) = hint {
        eprintln!("hint: {hint}");
    }
}
