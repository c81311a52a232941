//! The library's error type: a documented kind plus a located message.

use std::fmt;
use std::path::PathBuf;

/// What went wrong, broadly. The CLI maps each kind to an exit code.
///
/// A run that fails (an expectation does not hold, a host panics, the
/// wall-clock cap is hit) is not an error: it is a [`crate::trace::Report`]
/// that says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The scenario file could not be read from disk. Exit code 2.
    Io,
    /// The scenario file is not valid YAML, or does not follow the scenario
    /// format. Always carries a location. Exit code 2.
    Scenario,
}

/// A position in a scenario file, 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// The error type of the library.
///
/// `Display` gives one line: `file:line:column: message, expected ...`.
/// [`crate::diagnostic::render`] gives the snippet form the CLI prints.
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub location: Option<Location>,
    /// What is wrong, without the list of what would have been accepted.
    pub message: String,
    /// What would have been accepted at `location` (keys, values, host
    /// names), where the parser knows; empty otherwise.
    pub expected: Vec<String>,
    /// A hint for fixing it, e.g. the expected key nearest to a typo.
    pub help: Option<String>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            location: None,
            message: message.into(),
            expected: Vec::new(),
            help: None,
        }
    }

    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    pub fn expecting(mut self, expected: Vec<String>) -> Self {
        self.expected = expected;
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The `expected` list in prose: "`a`", "`a` or `b`", "one of `a`, `b`, `c`".
    pub fn expected_text(&self) -> Option<String> {
        let quoted: Vec<String> = self.expected.iter().map(|e| format!("`{e}`")).collect();
        match quoted.as_slice() {
            [] => None,
            [one] => Some(one.clone()),
            [a, b] => Some(format!("{a} or {b}")),
            many => Some(format!("one of {}", many.join(", "))),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = &self.location {
            write!(f, "{loc}: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(expected) = self.expected_text() {
            write!(f, ", expected {expected}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}
