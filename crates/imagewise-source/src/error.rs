//! Errors of the source crate. "The image is broken" (`Corrupt`), "imagewise does not read that
//! yet" (`Unsupported`), "the image is unsafe" (`Unsafe`) and I/O failures are kept apart so a
//! user knows whether to fix the image, wait for imagewise, or look at their disk.

use std::path::PathBuf;

use imagewise_types::{ErrorKind, HasKind};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The input is damaged or does not follow its format.
    #[error("{what} is corrupt: {detail}")]
    Corrupt { what: String, detail: String },

    /// A valid input that uses something imagewise does not read yet.
    #[error("{what}: {detail}")]
    Unsupported { what: String, detail: String },

    /// The input tries something unsafe (escape the image, loop forever, exhaust memory).
    #[error("{what}: {detail}")]
    Unsafe { what: String, detail: String },

    /// A blob's content does not match the digest it is referenced by.
    #[error("{what}: digest mismatch: expected {expected}, content hashes to {actual}; the image is damaged or was tampered with")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },

    /// A limit set in `OpenOptions` was reached.
    #[error(
        "{what}: {detail} (limit {limit}); raise the limit with {knob} if the input is trusted"
    )]
    LimitExceeded {
        what: String,
        detail: String,
        limit: u64,
        knob: &'static str,
    },

    /// The reference or its selector (tag, platform, partition) does not name anything.
    #[error("{what}: {detail}")]
    NotFound { what: String, detail: String },

    /// The path does not exist in the image, or is not what the call needs.
    #[error("{path}: {detail}")]
    Path { path: String, detail: String },

    /// A value given for an option is malformed.
    #[error("{option} {value:?}: {detail}")]
    BadValue {
        option: &'static str,
        value: String,
        detail: String,
    },

    /// The reference string itself is malformed.
    #[error("invalid image reference {reference:?}: {detail}")]
    Reference { reference: String, detail: String },

    /// A failure of a tree provided by another crate (a stored snapshot), with its kind;
    /// `detail` names what failed.
    #[error("{detail}")]
    External {
        what: String,
        kind: ErrorKind,
        detail: String,
    },
}

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Io { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound => ErrorKind::NotFound,
                _ => ErrorKind::Io,
            },
            Error::Corrupt { .. } | Error::DigestMismatch { .. } => ErrorKind::Corrupt,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::Unsafe { .. } => ErrorKind::UnsafeInput,
            Error::LimitExceeded { .. } => ErrorKind::LimitExceeded,
            Error::NotFound { .. } | Error::Path { .. } => ErrorKind::NotFound,
            Error::Reference { .. } | Error::BadValue { .. } => ErrorKind::Usage,
            Error::External { kind, .. } => *kind,
        }
    }
}

/// The error a [`crate::TreeProvider`]'s reader returns (inside an `std::io::Error`) to say what
/// kind of failure it met: reading a provided file then fails with that kind, not as a corrupt
/// image.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ProvidedError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ProvidedError {
    /// Wrap for returning from `Read::read`.
    pub fn io(kind: ErrorKind, message: impl Into<String>) -> std::io::Error {
        std::io::Error::other(ProvidedError {
            kind,
            message: message.into(),
        })
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn corrupt(what: impl Into<String>, detail: impl Into<String>) -> Error {
        Error::Corrupt {
            what: what.into(),
            detail: detail.into(),
        }
    }

    pub(crate) fn unsupported(what: impl Into<String>, detail: impl Into<String>) -> Error {
        Error::Unsupported {
            what: what.into(),
            detail: detail.into(),
        }
    }

    pub(crate) fn unsafe_input(what: impl Into<String>, detail: impl Into<String>) -> Error {
        Error::Unsafe {
            what: what.into(),
            detail: detail.into(),
        }
    }

    pub(crate) fn not_found(what: impl Into<String>, detail: impl Into<String>) -> Error {
        Error::NotFound {
            what: what.into(),
            detail: detail.into(),
        }
    }

    pub(crate) fn path(path: impl Into<String>, detail: impl Into<String>) -> Error {
        Error::Path {
            path: path.into(),
            detail: detail.into(),
        }
    }

    /// Turn an I/O error met while parsing `what` into the right kind: a short read means the
    /// input is truncated (corrupt), a limit error from our readers stays a limit error.
    pub(crate) fn from_stream(what: &str, path: &std::path::Path, e: std::io::Error) -> Error {
        if let Some(inner) = e.get_ref() {
            if let Some(limit) = inner.downcast_ref::<crate::limits::LimitHit>() {
                return limit.to_error(what);
            }
            if let Some(p) = inner.downcast_ref::<ProvidedError>() {
                return Error::External {
                    what: what.to_string(),
                    kind: p.kind,
                    detail: p.message.clone(),
                };
            }
        }
        let text = e.to_string();
        if text.contains("unexpected EOF") || text.contains("unexpected end") {
            return Error::corrupt(what, format!("{text}: the file is truncated"));
        }
        match e.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                Error::corrupt(what, "unexpected end of data: the file is truncated")
            }
            std::io::ErrorKind::InvalidData
            | std::io::ErrorKind::InvalidInput
            | std::io::ErrorKind::Other => Error::corrupt(what, e.to_string()),
            _ => Error::io(path, e),
        }
    }
}
