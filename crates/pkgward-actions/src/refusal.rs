//! A refusal: one directive of one declarative file that the package's grants
//! do not allow. Checkers return lists of these (never stop at the first) so
//! an audit shows everything a package would need in one run.

use serde::Serialize;
use std::fmt;

/// Why a declarative line was refused, with enough context to point at it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// The file the line came from, as given to the parser (`usr/lib/sysusers.d/redis.conf`).
    pub file: String,
    /// 1-based line number (the first physical line of a continued line).
    pub line: usize,
    /// The directive or line type that was refused (`ExecStartPre`, `u`, `Z`).
    pub directive: String,
    /// What is wrong, lowercase, no trailing period.
    pub reason: String,
    /// The grant that would allow it, when one exists.
    pub hint: Option<String>,
}

impl Refusal {
    pub(crate) fn new(
        file: &str,
        line: usize,
        directive: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            file: file.to_owned(),
            line,
            directive: directive.into(),
            reason: reason.into(),
            hint: None,
        }
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` line {}: `{}`: {}",
            self.file, self.line, self.directive, self.reason
        )
    }
}
