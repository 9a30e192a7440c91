//! Errors of the facts crate. Inspecting an image never fails (what cannot be read becomes a
//! problem in the report); reading a lone package database handed in by a caller can.

use imagewise_types::{ErrorKind, HasKind};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file name is none of the rpm database names.
    #[error("{0} is not an rpm database file name (rpmdb.sqlite, Packages.db or Packages)")]
    NotRpmDatabase(String),
    /// The database's bytes do not follow its format.
    #[error("rpm database {database}: {detail}")]
    Corrupt { database: String, detail: String },
    /// A valid database in a variant imagewise does not read (an encrypted Berkeley DB).
    #[error("rpm database {database}: {detail}")]
    Unsupported { database: String, detail: String },
}

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::NotRpmDatabase(_) => ErrorKind::Usage,
            Error::Corrupt { .. } => ErrorKind::Corrupt,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
        }
    }
}
