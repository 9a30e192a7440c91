//! Errors: what went wrong, with the repository path or the input named.

/// A store error. `Input` is the user's to fix (bad arguments, a missing repository, a wrong
/// key); `Damaged` means the repository's bytes are not what was written; `Locked` means another
/// process holds a conflicting lock; `Io` is the operating system's answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Damaged(String),
    #[error("{0}")]
    Locked(String),
    /// The OS error is part of the message (not a `source`, so `{:#}` chains do not print it
    /// twice).
    #[error("{what}: {err}")]
    Io { what: String, err: std::io::Error },
    #[error("reading the image: {0}")]
    Source(#[from] imagewise_source::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(what: impl std::fmt::Display, source: std::io::Error) -> Error {
        Error::Io {
            what: what.to_string(),
            err: source,
        }
    }

    pub(crate) fn input(msg: impl Into<String>) -> Error {
        Error::Input(msg.into())
    }

    pub(crate) fn damaged(msg: impl Into<String>) -> Error {
        Error::Damaged(msg.into())
    }

    /// True when the user can fix this by changing the command (exit code 2).
    pub fn is_input(&self) -> bool {
        matches!(self, Error::Input(_) | Error::Locked(_) | Error::Source(_))
    }
}

/// `map_err` helper: wrap an io error with what was being done.
pub(crate) trait IoContext<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::io(what(), e))
    }
}
