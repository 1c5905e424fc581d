use sextant_model::ErrorKind;

/// The rule engine's error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A rule cannot be evaluated: its expression does not parse or type-check, or it refers to
    /// a channel the asset does not have.
    #[error("rule `{rule}`: {detail}")]
    InvalidRule {
        /// The rule's name.
        rule: String,
        /// What is wrong, quoting the expression.
        detail: String,
    },

    /// The catalog failed.
    #[error(transparent)]
    Catalog(#[from] sextant_catalog::Error),

    /// The store failed.
    #[error(transparent)]
    Store(#[from] sextant_storage::Error),

    /// A read through the query crate failed.
    #[error(transparent)]
    Query(#[from] sextant_query::Error),

    /// The engine has been shut down.
    #[error("the rule engine has stopped")]
    Stopped,
}

impl Error {
    /// The classification transports map to their statuses.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidRule { .. } => ErrorKind::InvalidInput,
            Error::Catalog(e) => e.kind(),
            Error::Store(e) => e.kind(),
            Error::Query(e) => e.kind(),
            Error::Stopped => ErrorKind::Unavailable,
        }
    }
}

/// The rule engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
