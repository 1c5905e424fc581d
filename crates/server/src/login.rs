//! Users' logins: an e-mail address and a password, hashed with Argon2id, that `POST
//! /v2/session` (SignalFx's `SignalFx.login(email, password)`) exchanges for a session key:
//! an API key of the user's organization, with the scope the login was given, that stops
//! working after [`SESSION_LIFETIME`].

use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sextant_model::ErrorKind;

use crate::error::HttpError;

/// How long a session key works.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// The fewest characters a password may have.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// The PHC string of `password` hashed with Argon2id (the crate's default parameters) and a
/// random salt. Takes tens of milliseconds: call it off the I/O threads.
pub fn hash_password(password: &str) -> Result<String, HttpError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(HttpError::invalid(format!(
            "the password has fewer than {MIN_PASSWORD_CHARS} characters"
        )));
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(HttpError::internal)?;
    let salt = SaltString::encode_b64(&salt).map_err(HttpError::internal)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(HttpError::internal)
}

/// Whether `password` is the one `hash` (a PHC string) was made from. With `hash` `None` (no
/// such login) it spends the same time and answers `false`, so that the answer's delay does
/// not tell which addresses have a login.
pub fn verify_password(password: &str, hash: Option<&str>) -> bool {
    // A hash of a password nobody knows, made once with the same parameters.
    static DECOY: std::sync::LazyLock<Option<String>> =
        std::sync::LazyLock::new(|| hash_password("decoy password, never accepted").ok());
    let (hash, real) = match hash {
        Some(hash) => (Some(hash), true),
        None => (DECOY.as_deref(), false),
    };
    let Some(parsed) = hash.and_then(|h| PasswordHash::new(h).ok()) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
        && real
}

/// The refusal of a login: the same whether the address or the password is wrong.
pub fn refused() -> HttpError {
    HttpError::new(
        ErrorKind::Unauthenticated,
        "wrong e-mail address or password",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_against_their_hash_only() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse", Some(&hash)));
        assert!(!verify_password("correct hors", Some(&hash)));
        assert!(!verify_password("correct horse", None));
        assert!(!verify_password("correct horse", Some("not a hash")));
        assert_ne!(hash, hash_password("correct horse").unwrap(), "salted");
        let short = hash_password("short").unwrap_err().reply().message();
        assert!(short.contains("fewer than 8"), "{short}");
    }
}
