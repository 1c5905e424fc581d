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

/// The limits a query of one organization runs under: the server's (`sextant serve
/// --query-timeout`, `--query-max-points`), or those set for the organization (`sextant org
/// limits`), each naming where it was set in the errors it causes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// The longest a query runs.
    pub timeout: Duration,
    /// The most raw points a query holds.
    pub max_points: usize,
    /// Whether `timeout` was set for the organization.
    pub timeout_by_org: bool,
    /// Whether `max_points` was set for the organization.
    pub max_points_by_org: bool,
}

impl QueryLimits {
    /// The server's limits.
    pub fn server(timeout: Duration, max_points: usize) -> QueryLimits {
        QueryLimits {
            timeout,
            max_points,
            timeout_by_org: false,
            max_points_by_org: false,
        }
    }

    /// These limits with those set for one organization in their place.
    pub fn for_org(self, set: &sextant_catalog::OrgLimits) -> QueryLimits {
        QueryLimits {
            timeout: set
                .query_timeout_ms
                .map_or(self.timeout, Duration::from_millis),
            max_points: set.query_max_points.map_or(self.max_points, |points| {
                usize::try_from(points).unwrap_or(usize::MAX)
            }),
            timeout_by_org: set.query_timeout_ms.is_some() || self.timeout_by_org,
            max_points_by_org: set.query_max_points.is_some() || self.max_points_by_org,
        }
    }

    /// Where the point limit was set, as errors name it: ` (sextant serve
    /// --query-max-points)` or ` (the organization's limit: sextant org limits
    /// --query-max-points)`.
    pub fn max_points_hint(&self) -> &'static str {
        if self.max_points_by_org {
            " (the organization's limit: sextant org limits --query-max-points)"
        } else {
            " (sextant serve --query-max-points)"
        }
    }
}

/// A query's deadline and its client's presence; cheap to clone into the query's thread.
#[derive(Debug, Clone)]
pub struct QueryBudget {
    deadline: Instant,
    timeout: Duration,
    by_org: bool,
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
    /// A budget of `limits.timeout` from now, and the guard whose drop ends it.
    pub fn start(limits: &QueryLimits) -> (QueryBudget, ClientGuard) {
        let gone = Arc::new(AtomicBool::new(false));
        let budget = QueryBudget {
            deadline: Instant::now() + limits.timeout,
            timeout: limits.timeout,
            by_org: limits.timeout_by_org,
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
            let (whose, how) = if self.by_org {
                ("the organization's", "sextant org limits --query-timeout")
            } else {
                ("the server's", "sextant serve --query-timeout")
            };
            return Err(format!(
                "the query ran longer than {whose} limit of {} s ({how}); ask for less: a \
                 shorter range, fewer series or cheaper aggregators",
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
        let server = QueryLimits::server(Duration::from_secs(3600), 10);
        let (budget, guard) = QueryBudget::start(&server);
        assert_eq!(budget.check(), Ok(()));
        drop(guard);
        assert!(budget.check().unwrap_err().contains("client went away"));

        let (budget, _guard) = QueryBudget::start(&QueryLimits::server(Duration::ZERO, 10));
        let err = budget.check().unwrap_err();
        assert!(err.contains("the server's limit of 0 s"), "{err}");
        assert!(err.contains("(sextant serve --query-timeout)"), "{err}");
    }

    #[test]
    fn an_organization_s_limits_replace_the_server_s_and_name_themselves() {
        let server = QueryLimits::server(Duration::from_secs(60), 1_000);
        let org = server.for_org(&sextant_catalog::OrgLimits {
            query_timeout_ms: Some(0),
            query_max_points: None,
        });
        assert_eq!(org.timeout, Duration::ZERO);
        assert_eq!(org.max_points, 1_000);
        assert!(org.max_points_hint().contains("sextant serve"));
        let (budget, _guard) = QueryBudget::start(&org);
        let err = budget.check().unwrap_err();
        assert!(
            err.contains("the organization's limit of 0 s (sextant org limits --query-timeout)"),
            "{err}"
        );
        let org = server.for_org(&sextant_catalog::OrgLimits {
            query_timeout_ms: None,
            query_max_points: Some(5),
        });
        assert_eq!((org.timeout, org.max_points), (Duration::from_secs(60), 5));
        assert!(org.max_points_hint().contains("sextant org limits"));
    }
}
