use std::fmt;

/// The classification of every Sextant error. Each library error maps to one kind; each
/// transport (HTTP, gRPC) maps kinds to its statuses in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request or input is malformed or violates a rule; retrying will not help.
    InvalidInput,
    /// The thing named does not exist.
    NotFound,
    /// The thing to create exists already, or conflicts with what exists.
    AlreadyExists,
    /// No valid credentials were given.
    Unauthenticated,
    /// The credentials do not allow this.
    PermissionDenied,
    /// A configured limit would be exceeded.
    LimitExceeded,
    /// The service cannot do this now; retrying later may help.
    Unavailable,
    /// A bug or an unexpected failure; the detail belongs in the log, not the reply.
    Internal,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::NotFound => "not found",
            ErrorKind::AlreadyExists => "already exists",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::PermissionDenied => "permission denied",
            ErrorKind::LimitExceeded => "limit exceeded",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        })
    }
}
