use std::path::PathBuf;

use sextant_model::ErrorKind;

/// The catalog's error.
///
/// Every variant maps to one [`ErrorKind`] through [`Error::kind`]. Messages quote the id, name
/// or key that was asked for, so that whoever reads them knows what to fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing asked for does not exist in the caller's organization.
    #[error("{what} {id:?} not found")]
    NotFound {
        /// What was looked for, e.g. `"asset"`.
        what: &'static str,
        /// The id or name that was asked for.
        id: String,
    },

    /// The thing to create exists already, or conflicts with what exists.
    #[error("{what} already exists: {detail}")]
    AlreadyExists {
        /// What conflicts, e.g. `"flow"`.
        what: &'static str,
        /// Which one, and how it conflicts.
        detail: String,
    },

    /// The input breaks a rule of the catalog (an empty name, a bad page token, ...).
    #[error("{0}")]
    InvalidInput(String),

    /// A limit of the organization would be passed (stored file bytes, say).
    #[error("{0}")]
    LimitExceeded(String),

    /// The database file could not be opened or migrated.
    #[error("cannot open catalog database {path:?}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },

    /// The database file was written by a newer Sextant.
    #[error(
        "catalog database has schema version {found}; this build knows versions up to {supported}"
    )]
    SchemaTooNew {
        /// The version found in the file.
        found: i64,
        /// The newest version this build can use.
        supported: i64,
    },

    /// A stored row cannot be read back (for example a JSON column that does not parse).
    #[error("corrupt catalog row: {0}")]
    Corrupt(String),

    /// The operating system could not provide randomness for a key secret.
    #[error("cannot read OS randomness for a key secret: {0}")]
    Randomness(String),

    /// SQLite failed.
    #[error("catalog database error: {0}")]
    Internal(#[from] rusqlite::Error),
}

impl Error {
    /// The classification transports map to their statuses.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Error::InvalidInput(_) => ErrorKind::InvalidInput,
            Error::LimitExceeded(_) => ErrorKind::LimitExceeded,
            Error::Open { .. }
            | Error::SchemaTooNew { .. }
            | Error::Corrupt(_)
            | Error::Randomness(_)
            | Error::Internal(_) => ErrorKind::Internal,
        }
    }

    pub(crate) fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        Error::NotFound {
            what,
            id: id.into(),
        }
    }

    pub(crate) fn already_exists(what: &'static str, detail: impl Into<String>) -> Self {
        Error::AlreadyExists {
            what,
            detail: detail.into(),
        }
    }
}

/// The catalog's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_messages() {
        let cases = [
            (
                Error::not_found("asset", "a1"),
                ErrorKind::NotFound,
                "asset \"a1\" not found",
            ),
            (
                Error::already_exists("flow", "flow \"f\" has other channels"),
                ErrorKind::AlreadyExists,
                "flow already exists: flow \"f\" has other channels",
            ),
            (
                Error::InvalidInput("empty asset name".into()),
                ErrorKind::InvalidInput,
                "empty asset name",
            ),
            (
                Error::Corrupt("bad json".into()),
                ErrorKind::Internal,
                "corrupt catalog row: bad json",
            ),
        ];
        for (error, kind, message) in cases {
            assert_eq!(error.kind(), kind, "{error}");
            assert_eq!(error.to_string(), message);
        }
    }
}
