use sextant_model::ErrorKind;

/// The storage engine's error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A column could not be encoded or decoded.
    #[error(transparent)]
    Codec(#[from] crate::codec::Error),
}

impl Error {
    /// The kind of this error, for mapping to transport statuses.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Codec(_) => ErrorKind::Internal,
        }
    }
}

/// The storage engine's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
