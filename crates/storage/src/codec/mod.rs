//! Column codecs: how timestamps and typed values are stored compactly in part blocks.

/// A codec failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Encoded bytes could not be decoded.
    #[error("corrupt {column} column: {detail}")]
    Corrupt {
        /// Which column was being decoded.
        column: &'static str,
        /// What was wrong.
        detail: String,
    },
}
