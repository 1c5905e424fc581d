//! Retrying calls that failed on the way, with exponential backoff.
//!
//! Only failures that say nothing about the request itself are retried: UNAVAILABLE (the
//! server is restarting, overloaded or unreachable) and errors raised by the transport under
//! the call (a connection reset, a refused stream). Answers the server gave about the request
//! — invalid argument, failed precondition, not found, unauthenticated — are final.
//!
//! Retrying an ingest stream is safe, which is why the SDK does it without asking:
//!
//! - the server commits a stream atomically, after its last message, and answers only once the
//!   batch is durable; a stream cut short is not stored at all, so sending it again stores it
//!   once;
//! - a stream can also be stored and its answer lost (the connection drops after the commit);
//!   sending it again then writes the same points at the same timestamps, and the server keeps
//!   one point per series and timestamp, the last written, so nothing is duplicated.
//!
//! The one visible effect of the second case is that a retried point overwrites a different
//! value written to the same series and timestamp by someone else in between.

use std::future::Future;
use std::time::Duration;

use crate::{Error, Result};

/// How failed calls are retried. The waits between attempts are `initial_backoff`, then
/// `multiplier` times the previous wait, at most `max_backoff` each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 means no retry.
    pub attempts: u32,
    /// The wait before the second attempt.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
    /// How much each wait grows.
    pub multiplier: u32,
}

impl Default for RetryPolicy {
    /// Five attempts over about seven seconds: waits of 0.1, 0.4, 1.6 and 5 s.
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            multiplier: 4,
        }
    }
}

impl RetryPolicy {
    /// No retries: every call is tried once.
    pub fn none() -> Self {
        RetryPolicy {
            attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The wait after failed attempt number `attempt` (1-based).
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let factor = self
            .multiplier
            .max(1)
            .saturating_pow(attempt.saturating_sub(1));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Whether a failed call may be tried again.
pub(crate) fn is_retryable(status: &tonic::Status) -> bool {
    match status.code() {
        tonic::Code::Unavailable => true,
        // A status with a source was made by the transport under the call, not sent by the
        // server: the request may never have arrived.
        tonic::Code::Unknown | tonic::Code::Cancelled | tonic::Code::Internal => {
            std::error::Error::source(status).is_some()
        }
        _ => false,
    }
}

/// Why a call failed for good.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The last attempt's status.
    pub status: tonic::Status,
    /// How many attempts were made.
    pub attempts: u32,
    /// Whether the failure said nothing about the request, so that the same request may
    /// succeed later.
    pub transient: bool,
}

impl Failure {
    /// The SDK error of this failure of `call`.
    pub fn into_error(self, call: &'static str, detail: impl FnOnce() -> String) -> Error {
        let mut message = self.status.message().to_owned();
        let detail = detail();
        if !detail.is_empty() {
            message = format!("{message} ({detail})");
        }
        if self.attempts > 1 {
            message = format!("{message} (after {} attempts)", self.attempts);
        }
        Error::rpc(call, tonic::Status::new(self.status.code(), message))
    }
}

/// Runs `attempt` until it succeeds, fails for good, or the policy's attempts are spent.
pub(crate) async fn retry_call<T, F, Fut>(
    policy: &RetryPolicy,
    call: &'static str,
    mut attempt: F,
) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, tonic::Status>>,
{
    let attempts = policy.attempts.max(1);
    let mut number = 1;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(status) => {
                let transient = is_retryable(&status);
                if !transient || number >= attempts {
                    return Err(Failure {
                        status,
                        attempts: number,
                        transient,
                    });
                }
                let wait = policy.backoff(number);
                tracing::warn!(
                    call,
                    attempt = number,
                    ?wait,
                    "call failed ({}: {}); retrying",
                    status.code(),
                    status.message()
                );
                tokio::time::sleep(wait).await;
                number += 1;
            }
        }
    }
}

/// [`retry_call`] with the failure as an SDK error.
pub(crate) async fn retry<T, F, Fut>(
    policy: &RetryPolicy,
    call: &'static str,
    attempt: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, tonic::Status>>,
{
    retry_call(policy, call, attempt)
        .await
        .map_err(|f| f.into_error(call, String::new))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap() {
        let policy = RetryPolicy::default();
        let waits: Vec<u128> = (1..=6).map(|n| policy.backoff(n).as_millis()).collect();
        assert_eq!(waits, [100, 400, 1600, 5000, 5000, 5000]);
    }

    #[test]
    fn only_failures_on_the_way_are_retried() {
        assert!(is_retryable(&tonic::Status::unavailable("restarting")));
        assert!(!is_retryable(&tonic::Status::invalid_argument("bad")));
        assert!(!is_retryable(&tonic::Status::failed_precondition(
            "changed"
        )));
        assert!(!is_retryable(&tonic::Status::unauthenticated("who")));
        assert!(!is_retryable(&tonic::Status::unknown("sent by a server")));
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_are_bounded_and_counted() {
        let mut calls = 0;
        let err = retry(&RetryPolicy::default(), "Call", || {
            calls += 1;
            async { Err::<(), _>(tonic::Status::unavailable("down")) }
        })
        .await
        .unwrap_err();
        assert_eq!(calls, 5);
        assert!(err.to_string().contains("down (after 5 attempts)"), "{err}");

        let mut calls = 0;
        let got = retry(&RetryPolicy::default(), "Call", || {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Err(tonic::Status::unavailable("down"))
                } else {
                    Ok(n)
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(got, 3);
    }
}
