//! Errors: what went wrong, with the repository path or the input named, and its
//! [`ErrorKind`] for whoever decides an exit code, an HTTP status or a retry.

use imagewise_source::{ErrorKind, HasKind};

/// A store error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The user's to fix: bad arguments, a wrong key, a target that is not empty.
    #[error("{0}")]
    Input(String),
    /// What was named is not there: a repository, a snapshot, a path in a snapshot.
    #[error("{0}")]
    NotFound(String),
    /// The repository's bytes are not what was written.
    #[error("{0}")]
    Damaged(String),
    /// A repository or a feature this build does not read (a newer format, a location scheme
    /// without a backend).
    #[error("{0}")]
    Unsupported(String),
    /// A snapshot whose signature does not check out, where signatures are required.
    #[error("{0}")]
    Untrusted(String),
    /// Another process holds a conflicting lock.
    #[error("{0}")]
    Locked(String),
    /// A file that must be created exactly once already exists (a conditional create lost).
    #[error("{0}")]
    Exists(String),
    /// A backend failure that may pass (a timeout, a throttled or unreachable server).
    #[error("{0}")]
    Transient(String),
    /// The OS error is part of the message (not a `source`, so `{:#}` chains do not print it
    /// twice).
    #[error("{what}: {err}")]
    Io { what: String, err: std::io::Error },
    #[error("reading the image: {0}")]
    Source(#[from] imagewise_source::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What is wrong with the bytes of one stored object (a pack entry, a frame, an index file, a
/// tree). The caller names the object when it turns this into an [`Error::Damaged`] or a
/// `repo check` problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    #[error("unknown blob kind {0}")]
    BlobKind(u8),
    #[error("unknown compression {0}")]
    Compression(u8),
    #[error("blob {blob} claims {len} bytes, more than any blob")]
    TooBig { blob: String, len: u32 },
    #[error("blob {0} has a bad place in its frame")]
    Place(String),
    #[error("blob {blob} lies past the pack's {data_len} bytes of data")]
    PastData { blob: String, data_len: u64 },
    #[error("is cut off (the pack is truncated)")]
    CutOff,
    #[error("{present} of {len} bytes present")]
    Short { present: usize, len: u32 },
    #[error("does not decompress ({0})")]
    Decompress(String),
    #[error("its frame holds {frame} bytes, the blob would end at {end}")]
    FrameEnd { frame: usize, end: usize },
    #[error("decompresses to {got} bytes, not {want}")]
    Length { got: usize, want: u32 },
    #[error("content does not match its hash")]
    Hash,
    #[error("not an index file (bad magic or too short)")]
    IndexMagic,
    #[error("its bytes do not match its checksum and name")]
    IndexChecksum,
    #[error("ends inside a {0}")]
    IndexTruncated(&'static str),
    #[error("names a frame at offset {0}, past where any pack reaches")]
    IndexOffset(u64),
    #[error("not a tree ({0})")]
    TreeJson(String),
    #[error("bad entry name {0:?}")]
    TreeName(String),
    #[error("entries not sorted or repeated at {0:?}")]
    TreeOrder(String),
    #[error("entry {name:?} lacks what a {kind} needs")]
    TreeEntry { name: String, kind: &'static str },
    #[error("file {0:?}: extents do not add up to its size")]
    TreeSize(String),
}

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

    pub(crate) fn not_found(msg: impl Into<String>) -> Error {
        Error::NotFound(msg.into())
    }

    pub(crate) fn damaged(msg: impl Into<String>) -> Error {
        Error::Damaged(msg.into())
    }

    /// Whether the same call may succeed later.
    pub fn retryable(&self) -> bool {
        self.kind().retryable()
    }
}

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Input(_) => ErrorKind::Usage,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::Damaged(_) => ErrorKind::Damaged,
            Error::Unsupported(_) => ErrorKind::Unsupported,
            Error::Untrusted(_) => ErrorKind::UnsafeInput,
            Error::Locked(_) | Error::Exists(_) => ErrorKind::Conflict,
            Error::Transient(_) => ErrorKind::Transient,
            Error::Io { err, .. } => match err.kind() {
                std::io::ErrorKind::NotFound => ErrorKind::NotFound,
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted => {
                    ErrorKind::Transient
                }
                _ => ErrorKind::Io,
            },
            Error::Source(e) => e.kind(),
        }
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
