//! Errors of the lint crate: only its own inputs (profile and ignore files) can be wrong; an
//! image's bad configuration is a verdict, never an error.

/// What is wrong with a profile or ignore file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("profile file: {0}")]
    Profile(String),
    #[error("ignore file line {line}: {why}")]
    Ignore { line: usize, why: String },
}

impl imagewise_types::HasKind for Error {
    fn kind(&self) -> imagewise_types::ErrorKind {
        imagewise_types::ErrorKind::Usage
    }
}
