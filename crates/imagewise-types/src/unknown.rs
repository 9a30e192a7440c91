//! The error of every `FromStr` of this crate's names (and of the names other crates parse the
//! same way): the word given, what kind of name it should have been, and the accepted ones.

use crate::{ErrorKind, HasKind};

/// A word that is not one of the names of its kind (`--fail-on severe`, `--arch x64`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {given:?}; use {expected}")]
pub struct UnknownName {
    /// What kind of name ("architecture", "severity").
    pub what: &'static str,
    /// The word as given.
    pub given: String,
    /// The accepted names, in words.
    pub expected: &'static str,
}

impl UnknownName {
    pub fn new(what: &'static str, given: &str, expected: &'static str) -> UnknownName {
        UnknownName {
            what,
            given: given.to_string(),
            expected,
        }
    }
}

impl HasKind for UnknownName {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Usage
    }
}
