//! Errors of the select crate: a requirements document or line it cannot read.

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("requirements: {0}")]
    Spec(String),
}

impl imagewise_types::HasKind for Error {
    fn kind(&self) -> imagewise_types::ErrorKind {
        imagewise_types::ErrorKind::Usage
    }
}
