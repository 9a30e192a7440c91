//! What kind of failure an error is, whatever crate it comes from: the one thing a front end
//! needs to decide an exit code, an HTTP status or whether to retry.

/// The kinds of failure. Every library error of imagewise reports one through [`HasKind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The command or its arguments are wrong (a malformed reference, a bad option value).
    Usage,
    /// The input is damaged or does not follow its format (a truncated tar, a corrupt ext4, a
    /// pack whose bytes do not hash to their id).
    Corrupt,
    /// Data imagewise stored and reads back (a repository's packs, index, snapshots) is not
    /// what was written: the answer to "is it sound?" is no.
    Damaged,
    /// A valid input that uses something imagewise does not read yet.
    Unsupported,
    /// The input tries something unsafe (escape the image, loop, exhaust memory).
    UnsafeInput,
    /// A limit the caller set was reached.
    LimitExceeded,
    /// The thing named does not exist (a file, a tag, a snapshot, a partition).
    NotFound,
    /// Someone else holds it, or it already exists (a lock, a file that must not be
    /// overwritten).
    Conflict,
    /// The operating system refused or failed (permission, a full disk, a device error): not
    /// the input's fault and not a bug.
    Io,
    /// Worth retrying: a timeout, a throttled or unreachable server.
    Transient,
    /// A bug in imagewise (or an operating-system failure nothing above can name better).
    Internal,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 11] = [
        ErrorKind::Usage,
        ErrorKind::Corrupt,
        ErrorKind::Damaged,
        ErrorKind::Unsupported,
        ErrorKind::UnsafeInput,
        ErrorKind::LimitExceeded,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::Io,
        ErrorKind::Transient,
        ErrorKind::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Usage => "usage",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::Damaged => "damaged",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::UnsafeInput => "unsafe-input",
            ErrorKind::LimitExceeded => "limit-exceeded",
            ErrorKind::NotFound => "not-found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Io => "io",
            ErrorKind::Transient => "transient",
            ErrorKind::Internal => "internal",
        }
    }

    /// Whether trying the same call again may succeed.
    pub fn retryable(self) -> bool {
        matches!(self, ErrorKind::Transient | ErrorKind::Conflict)
    }

    /// The process exit code for a command that failed this way (DESIGN.md): 1 when stored
    /// data is damaged (the answer to "is it sound?" is no), 2 for anything the user can act on
    /// (the input, the arguments, a limit, a lock, a server to wait for), 3 for bugs only.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Damaged => 1,
            ErrorKind::Internal => 3,
            _ => 2,
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error that knows its [`ErrorKind`].
pub trait HasKind {
    fn kind(&self) -> ErrorKind;
}
