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
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub location: Option<Location>,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            location: None,
            message: message.into(),
        }
    }

    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(loc) => write!(f, "{loc}: {}", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

impl std::error::Error for Error {}
