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

impl HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Path { source, .. } | Error::Read(source) => source.kind(),
            Error::NoBinaries { .. } => ErrorKind::Usage,
        }
    }
}
