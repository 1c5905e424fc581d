//! Time in KairosDB's terms: epoch milliseconds, eight units, relative times, and calendar
//! arithmetic in IANA time zones (chrono-tz, which compiles the zone database into the binary
//! so results never depend on the host's zoneinfo files).
//!
//! Milliseconds, seconds, minutes and hours are fixed lengths. Days and weeks are local
//! calendar days in the zone (23 or 25 hours across a DST change), months and years are
//! calendar steps with the day of month clamped, as Joda-Time does for KairosDB.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, Months, NaiveDate, NaiveDateTime, TimeZone,
};
use chrono_tz::Tz;

/// KairosDB's time units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimeUnit {
    /// Milliseconds.
    Milliseconds,
    /// Seconds.
    Seconds,
    /// Minutes.
    Minutes,
    /// Hours.
    Hours,
    /// Local calendar days.
    Days,
    /// Seven local days.
    Weeks,
    /// Calendar months.
    Months,
    /// Calendar years.
    Years,
}

/// The units as KairosDB lists them in its error messages.
pub const UNIT_NAMES: &str = "MILLISECONDS,SECONDS,MINUTES,HOURS,DAYS,WEEKS,MONTHS,YEARS";

impl TimeUnit {
    /// Parses a unit name, case-insensitively.
    pub fn parse(text: &str) -> Option<TimeUnit> {
        Some(match text.to_ascii_lowercase().as_str() {
            "milliseconds" => TimeUnit::Milliseconds,
            "seconds" => TimeUnit::Seconds,
            "minutes" => TimeUnit::Minutes,
            "hours" => TimeUnit::Hours,
            "days" => TimeUnit::Days,
            "weeks" => TimeUnit::Weeks,
            "months" => TimeUnit::Months,
            "years" => TimeUnit::Years,
            _ => return None,
        })
    }

    /// The name KairosDB writes in responses (upper case).
    pub fn upper_name(self) -> &'static str {
        match self {
            TimeUnit::Milliseconds => "MILLISECONDS",
            TimeUnit::Seconds => "SECONDS",
            TimeUnit::Minutes => "MINUTES",
            TimeUnit::Hours => "HOURS",
            TimeUnit::Days => "DAYS",
            TimeUnit::Weeks => "WEEKS",
            TimeUnit::Months => "MONTHS",
            TimeUnit::Years => "YEARS",
        }
    }

    /// The length of a unit in milliseconds, for the units of fixed length.
    pub fn fixed_ms(self) -> Option<i64> {
        Some(match self {
            TimeUnit::Milliseconds => 1,
            TimeUnit::Seconds => 1_000,
            TimeUnit::Minutes => 60_000,
            TimeUnit::Hours => 3_600_000,
            _ => return None,
        })
    }

    /// A nominal length in milliseconds (a month as 30 days, a year as 365), used only to
    /// estimate before exact calendar arithmetic corrects.
    fn nominal_ms(self) -> i64 {
        match self {
            TimeUnit::Days => 86_400_000,
            TimeUnit::Weeks => 7 * 86_400_000,
            TimeUnit::Months => 30 * 86_400_000,
            TimeUnit::Years => 365 * 86_400_000,
            fixed => fixed.fixed_ms().unwrap_or(1),
        }
    }
}

/// A length of time: `value` `unit`s (KairosDB's `sampling` and `range_size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sampling {
    /// How many units.
    pub value: i64,
    /// Which unit.
    pub unit: TimeUnit,
}

impl Sampling {
    /// One millisecond: the default sampling of KairosDB's aggregators.
    pub const MILLISECOND: Sampling = Sampling {
        value: 1,
        unit: TimeUnit::Milliseconds,
    };

    /// Its length in milliseconds when it starts at `t` in zone `tz`.
    pub fn ms_from(self, t: i64, tz: Tz) -> i64 {
        add(t, self.value, self.unit, tz).saturating_sub(t)
    }
}

/// Parses an IANA time zone id.
pub fn parse_zone(id: &str) -> Option<Tz> {
    id.parse::<Tz>().ok()
}

fn local(t: i64, tz: Tz) -> NaiveDateTime {
    match tz.timestamp_millis_opt(t) {
        LocalResult::Single(d) | LocalResult::Ambiguous(d, _) => d.naive_local(),
        LocalResult::None => DateTime::from_timestamp_millis(t)
            .unwrap_or_default()
            .naive_utc(),
    }
}

/// The instant of a local time: the earlier one when the clock goes back, the first valid
/// one after a gap when it jumps forward.
fn instant(local: NaiveDateTime, tz: Tz) -> i64 {
    let mut candidate = local;
    for _ in 0..4 {
        match tz.from_local_datetime(&candidate) {
            LocalResult::Single(d) | LocalResult::Ambiguous(d, _) => return d.timestamp_millis(),
            LocalResult::None => candidate += Duration::minutes(30),
        }
    }
    candidate.and_utc().timestamp_millis()
}

/// `t` plus `n` units in zone `tz` (`n` may be negative). Saturates at the ends of time.
pub fn add(t: i64, n: i64, unit: TimeUnit, tz: Tz) -> i64 {
    if let Some(ms) = unit.fixed_ms() {
        return t.saturating_add(n.saturating_mul(ms));
    }
    let start = local(t, tz);
    let shifted = match unit {
        TimeUnit::Days | TimeUnit::Weeks => {
            let days = if unit == TimeUnit::Weeks {
                n.saturating_mul(7)
            } else {
                n
            };
            Duration::try_days(days).and_then(|d| start.checked_add_signed(d))
        }
        _ => {
            let months = if unit == TimeUnit::Years {
                n.saturating_mul(12)
            } else {
                n
            };
            match u32::try_from(months.unsigned_abs()) {
                Ok(m) if months >= 0 => start.checked_add_months(Months::new(m)),
                Ok(m) => start.checked_sub_months(Months::new(m)),
                Err(_) => None,
            }
        }
    };
    match shifted {
        Some(local) => instant(local, tz),
        None if n >= 0 => i64::MAX,
        None => i64::MIN,
    }
}

/// The whole units between `from` and `to` in zone `tz`, truncated toward zero, as Joda's
/// `Days.daysBetween` and its siblings count them.
pub fn between(from: i64, to: i64, unit: TimeUnit, tz: Tz) -> i64 {
    if let Some(ms) = unit.fixed_ms() {
        return (i128::from(to) - i128::from(from)).wrapping_div(i128::from(ms)) as i64;
    }
    let mut n = ((i128::from(to) - i128::from(from)) / i128::from(unit.nominal_ms())) as i64;
    if to >= from {
        while n > 0 && add(from, n, unit, tz) > to {
            n -= 1;
        }
        while add(from, n + 1, unit, tz) <= to {
            n += 1;
        }
    } else {
        while n < 0 && add(from, n, unit, tz) < to {
            n += 1;
        }
        while add(from, n - 1, unit, tz) >= to {
            n -= 1;
        }
    }
    n
}

/// Rounds `t` down in zone `tz` as KairosDB's `align_sampling` does: to January 1st for
/// years, the 1st for months, Monday for weeks, local midnight for days, hours, minutes and
/// seconds (KairosDB's documentation says "the top of the hour"; its code rounds to
/// midnight), and to the whole second for milliseconds.
pub fn align(t: i64, unit: TimeUnit, tz: Tz) -> i64 {
    if unit == TimeUnit::Milliseconds {
        return t - t.rem_euclid(1000);
    }
    let day = local(t, tz).date();
    let date = match unit {
        TimeUnit::Years => NaiveDate::from_ymd_opt(day.year(), 1, 1),
        TimeUnit::Months => NaiveDate::from_ymd_opt(day.year(), day.month(), 1),
        TimeUnit::Weeks => day.checked_sub_signed(Duration::days(i64::from(
            day.weekday().num_days_from_monday(),
        ))),
        _ => Some(day),
    }
    .unwrap_or(day);
    instant(date.and_hms_opt(0, 0, 0).unwrap_or_default(), tz)
}

/// Now minus `value` `unit`s on the UTC calendar: KairosDB's relative time.
pub fn relative(now: i64, value: i64, unit: TimeUnit) -> i64 {
    add(now, value.saturating_neg(), unit, Tz::UTC)
}

/// The (year, month) of `t` on the UTC calendar.
pub fn utc_year_month(t: i64) -> (i64, i64) {
    let d = local(t, Tz::UTC);
    (i64::from(d.year()), i64::from(d.month0()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARIS: Tz = chrono_tz::Europe::Paris;

    fn ms(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn calendar_steps_clamp_and_follow_daylight_saving() {
        // Jan 31 + 1 month is Feb 29 in a leap year.
        assert_eq!(
            add(ms("2024-01-31T00:00:00Z"), 1, TimeUnit::Months, Tz::UTC),
            ms("2024-02-29T00:00:00Z")
        );
        // The day Paris moves its clocks forward has 23 hours.
        let before = ms("2024-03-31T00:00:00+01:00");
        assert_eq!(
            add(before, 1, TimeUnit::Days, PARIS) - before,
            23 * 3_600_000
        );
        assert_eq!(
            between(
                before,
                ms("2024-04-01T00:00:00+02:00"),
                TimeUnit::Days,
                PARIS
            ),
            1
        );
        assert_eq!(
            between(
                before,
                ms("2024-03-31T23:59:59+02:00"),
                TimeUnit::Days,
                PARIS
            ),
            0
        );
        assert_eq!(
            between(
                ms("2024-01-31T00:00:00Z"),
                ms("2024-03-30T00:00:00Z"),
                TimeUnit::Months,
                Tz::UTC
            ),
            1
        );
        assert_eq!(between(10, 3, TimeUnit::Seconds, Tz::UTC), 0);
        assert_eq!(between(-5000, 0, TimeUnit::Seconds, Tz::UTC), 5);
    }

    #[test]
    fn alignment_rounds_to_the_calendar_of_the_zone() {
        let t = ms("2024-05-15T13:45:30.250Z"); // a Wednesday
        assert_eq!(
            align(t, TimeUnit::Milliseconds, Tz::UTC),
            ms("2024-05-15T13:45:30Z")
        );
        assert_eq!(
            align(t, TimeUnit::Hours, Tz::UTC),
            ms("2024-05-15T00:00:00Z")
        );
        assert_eq!(
            align(t, TimeUnit::Weeks, Tz::UTC),
            ms("2024-05-13T00:00:00Z")
        );
        assert_eq!(
            align(t, TimeUnit::Months, Tz::UTC),
            ms("2024-05-01T00:00:00Z")
        );
        assert_eq!(
            align(t, TimeUnit::Years, Tz::UTC),
            ms("2024-01-01T00:00:00Z")
        );
        assert_eq!(
            align(t, TimeUnit::Days, PARIS),
            ms("2024-05-15T00:00:00+02:00")
        );
    }

    #[test]
    fn relative_times_count_back_on_the_utc_calendar() {
        let now = ms("2024-03-31T12:00:00Z");
        assert_eq!(
            relative(now, 1, TimeUnit::Months),
            ms("2024-02-29T12:00:00Z")
        );
        assert_eq!(
            relative(now, 2, TimeUnit::Weeks),
            ms("2024-03-17T12:00:00Z")
        );
        assert_eq!(relative(now, 90, TimeUnit::Seconds), now - 90_000);
        assert_eq!(
            relative(now, 1, TimeUnit::Years),
            ms("2023-03-31T12:00:00Z")
        );
    }
}
