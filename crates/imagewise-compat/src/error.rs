//! Errors of a check: the application could not be read. (A binary that will not run is no
//! error: it is a verdict.)

use imagewise_types::{ErrorKind, HasKind};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `--path` that names nothing in the application image.
    #[error("--path {path}: {source}")]
    Path {
        path: String,
        #[source]
        source: imagewise_source::Error,
    },
    /// Reading the application's files failed.
    #[error("reading the application: {0}")]
    Read(#[from] imagewise_source::Error),
    /// The application holds nothing to check; `detail` says what was looked at.
    #[error("{app}: no ELF programs or libraries to check{detail}")]
    NoBinaries { app: String, detail: String },
}

/// Why a file could not be read as the loader would read it (an ELF file, the loader's cache):
/// said in words, which become part of a verdict's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unreadable {
    /// No ELF magic: the loader skips such a file on a search path.
    #[error("not an ELF file")]
    NotElf,
    /// What is wrong, in words (truncated, malformed, too big, an I/O failure).
    #[error("{0}")]
    Malformed(String),
}

impl From<String> for Unreadable {
    fn from(s: String) -> Unreadable {
        Unreadable::Malformed(s)
    }
}

impl From<&str> for Unreadable {
    fn from(s: &str) -> Unreadable {
        Unreadable::Malformed(s.to_string())
    }
}

impl HasKind for Unreadable {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Corrupt
    }
}

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Path { source, .. } | Error::Read(source) => source.kind(),
            Error::NoBinaries { .. } => ErrorKind::Usage,
        }
    }
}
