//! Errors of the select crate: a requirements document or line it cannot read, a catalog it
//! cannot use.

use imagewise_types::ErrorKind;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("requirements: {0}")]
    Spec(String),
    /// The catalog file exists but is not a sound imagewise catalog.
    #[error("catalog {path}: {detail}; move the file away (or restore it from a backup) and add the images again")]
    CatalogCorrupt { path: String, detail: String },
    /// Nothing in the catalog has this name, digest or reference.
    #[error("no image {0:?} in the catalog (see `imagewise catalog list`)")]
    NotInCatalog(String),
    /// A digest prefix or name that fits more than one image.
    #[error(
        "{key:?} names more than one image in the catalog: {matches}; give more of the digest"
    )]
    Ambiguous { key: String, matches: String },
    /// `--name` already names another image.
    #[error(
        "the name {name:?} is taken by {digest}; choose another --name or `catalog rm` that one"
    )]
    NameTaken { name: String, digest: String },
    /// SQLite failed on a sound file (disk full, permission, lock held too long).
    #[error("catalog {path}: {source}")]
    Catalog {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
}

impl imagewise_types::HasKind for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Spec(_) | Error::Ambiguous { .. } => ErrorKind::Usage,
            Error::CatalogCorrupt { .. } => ErrorKind::Damaged,
            Error::NotInCatalog(_) => ErrorKind::NotFound,
            Error::NameTaken { .. } => ErrorKind::Conflict,
            Error::Catalog { source, .. } => match source.sqlite_error_code() {
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                    ErrorKind::Transient
                }
                Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
                    ErrorKind::Damaged
                }
                _ => ErrorKind::Io,
            },
        }
    }
}
