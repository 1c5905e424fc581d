//! Users' logins: an e-mail address and a password, hashed with Argon2id, that `POST
//! /v2/session` (SignalFx's `SignalFx.login(email, password)`) exchanges for a session key:
//! an API key of the user's organization, with the scope the login was given, that stops
//! working after [`SESSION_LIFETIME`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

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

/// Failed logins an address may have within [`LOGIN_WINDOW`]; further attempts are refused
/// with 429, without checking the password, until the oldest failure is that old.
pub const MAX_FAILED_LOGINS: usize = 5;

/// The window failed logins are counted over.
pub const LOGIN_WINDOW: Duration = Duration::from_secs(60);

/// The most addresses tracked; beyond it the oldest failures are forgotten first.
const MAX_TRACKED: usize = 10_000;

/// Failed logins per address (as typed, lowercased): whether an address exists or not, so a
/// refusal says nothing about it. Every failure costs the server an Argon2 hash; this bounds
/// how many a client can make it compute per address.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: parking_lot::Mutex<HashMap<String, Vec<Instant>>>,
}

impl LoginLimiter {
    /// `Ok` when `email` may try now; otherwise 429 naming how long to wait.
    pub fn check(&self, email: &str, now: Instant) -> Result<(), HttpError> {
        let mut failures = self.failures.lock();
        let Some(times) = failures.get_mut(&email.to_lowercase()) else {
            return Ok(());
        };
        times.retain(|t| now.duration_since(*t) < LOGIN_WINDOW);
        if times.len() < MAX_FAILED_LOGINS {
            return Ok(());
        }
        let wait = LOGIN_WINDOW.saturating_sub(now.duration_since(times[0]));
        Err(HttpError::new(
            ErrorKind::LimitExceeded,
            format!(
                "{MAX_FAILED_LOGINS} failed logins for this address within {} s; try again in {} s",
                LOGIN_WINDOW.as_secs(),
                wait.as_secs().max(1)
            ),
        ))
    }

    /// Counts a failed login of `email`.
    pub fn failed(&self, email: &str, now: Instant) {
        let mut failures = self.failures.lock();
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, times| {
                times.retain(|t| now.duration_since(*t) < LOGIN_WINDOW);
                !times.is_empty()
            });
            if failures.len() >= MAX_TRACKED {
                failures.clear();
            }
        }
        failures.entry(email.to_lowercase()).or_default().push(now);
    }

    /// Forgets the failures of `email` once it logged in.
    pub fn succeeded(&self, email: &str) {
        self.failures.lock().remove(&email.to_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_logins_of_an_address_are_limited_within_the_window() {
        let limiter = LoginLimiter::default();
        let t0 = Instant::now();
        for i in 0..MAX_FAILED_LOGINS {
            assert!(
                limiter.check("Ripley@Nostromo.example", t0).is_ok(),
                "attempt {i}"
            );
            limiter.failed("Ripley@Nostromo.example", t0);
        }
        let refused = limiter
            .check("ripley@nostromo.example", t0 + Duration::from_secs(20))
            .unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::LimitExceeded);
        let message = refused.reply().message();
        assert!(message.contains("try again in 40 s"), "{message}");
        // Another address is not affected; the window passing lifts the limit.
        assert!(limiter.check("dallas@nostromo.example", t0).is_ok());
        assert!(
            limiter
                .check("ripley@nostromo.example", t0 + LOGIN_WINDOW)
                .is_ok()
        );
        // A success forgets the failures.
        limiter.succeeded("RIPLEY@nostromo.example");
        assert!(limiter.check("ripley@nostromo.example", t0).is_ok());
    }

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
