//! How long a query may run, and whether its client still waits for it.
//!
//! A query runs on a blocking thread, which nothing stops from outside. The handler starts a
//! [`QueryBudget`] (a deadline) with a [`ClientGuard`]; the query asks [`QueryBudget::check`]
//! between units of work and stops with a message naming the limit once the deadline has
//! passed, or as soon as the guard is dropped — which happens when the handler's future is
//! dropped because its client went away (or the server shuts down).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The longest a query runs by default (`sextant serve --query-timeout`).
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(60);

/// The most raw points a query may hold in memory at once by default (`sextant serve
/// --query-max-points`): what a KairosDB metric reads before its aggregators run, about 16
/// bytes a point as read and as much again converted.
pub const DEFAULT_QUERY_MAX_POINTS: usize = 50_000_000;

/// A query's deadline and its client's presence; cheap to clone into the query's thread.
#[derive(Debug, Clone)]
pub struct QueryBudget {
    deadline: Instant,
    timeout: Duration,
    gone: Arc<AtomicBool>,
}

/// Held by the handler while its query runs; dropping it tells the query to stop.
#[derive(Debug)]
pub struct ClientGuard(Arc<AtomicBool>);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl QueryBudget {
    /// A budget of `timeout` from now, and the guard whose drop ends it.
    pub fn start(timeout: Duration) -> (QueryBudget, ClientGuard) {
        let gone = Arc::new(AtomicBool::new(false));
        let budget = QueryBudget {
            deadline: Instant::now() + timeout,
            timeout,
            gone: gone.clone(),
        };
        (budget, ClientGuard(gone))
    }

    /// Whether the query may go on: `Err` with the reason once its client has gone or its
    /// time is up.
    pub fn check(&self) -> Result<(), String> {
        if self.gone.load(Ordering::Relaxed) {
            return Err("the query was stopped: its client went away".to_owned());
        }
        if Instant::now() >= self.deadline {
            return Err(format!(
                "the query ran longer than the server's limit of {} s (sextant serve \
                 --query-timeout); ask for less: a shorter range, fewer series or cheaper \
                 aggregators",
                self.timeout.as_secs_f64()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_ends_at_its_deadline_or_when_its_guard_is_dropped() {
        let (budget, guard) = QueryBudget::start(Duration::from_secs(3600));
        assert_eq!(budget.check(), Ok(()));
        drop(guard);
        assert!(budget.check().unwrap_err().contains("client went away"));

        let (budget, _guard) = QueryBudget::start(Duration::ZERO);
        let err = budget.check().unwrap_err();
        assert!(err.contains("limit of 0 s"), "{err}");
        assert!(err.contains("--query-timeout"), "{err}");
    }
}
