//! Timestamps as the SDK uses them: `i64` nanoseconds since the Unix epoch, UTC
//! ([`sextant_model::Timestamp`]), with conversions from the system clock and RFC 3339 text.
//!
//! The representable range is that of `i64` nanoseconds: 1677-09-21 to 2262-04-11.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sextant_model::Timestamp;

use crate::{Error, Result};

/// An instant the SDK takes wherever it takes a time ([`Flow::new`](super::Flow::new),
/// [`DataQuery::start_at`](crate::DataQuery::start_at), …): `i64` nanoseconds since the
/// Unix epoch, a [`SystemTime`], or a `chrono` `DateTime` in any time zone. Times outside
/// 1677-09-21..2262-04-11 saturate at those bounds.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use sextant_client::ingest::time::IntoTimestamp;
///
/// let t = UNIX_EPOCH + Duration::from_millis(1_720_141_748_555);
/// assert_eq!(t.into_timestamp(), 1_720_141_748_555_000_000);
/// let utc = chrono::DateTime::parse_from_rfc3339("2024-07-05T01:09:08.555Z").unwrap();
/// assert_eq!(utc.into_timestamp(), 1_720_141_748_555_000_000);
/// assert_eq!(1_720_141_748_555_000_000i64.into_timestamp(), 1_720_141_748_555_000_000);
/// ```
pub trait IntoTimestamp {
    /// Nanoseconds since the Unix epoch, UTC.
    fn into_timestamp(self) -> Timestamp;
}

impl IntoTimestamp for Timestamp {
    fn into_timestamp(self) -> Timestamp {
        self
    }
}

impl IntoTimestamp for SystemTime {
    fn into_timestamp(self) -> Timestamp {
        from_system_time(self)
    }
}

impl<Tz: chrono::TimeZone> IntoTimestamp for chrono::DateTime<Tz> {
    fn into_timestamp(self) -> Timestamp {
        self.timestamp_nanos_opt()
            .unwrap_or(if self.timestamp() < 0 {
                i64::MIN
            } else {
                i64::MAX
            })
    }
}

impl<T: IntoTimestamp + Copy> IntoTimestamp for &T {
    fn into_timestamp(self) -> Timestamp {
        (*self).into_timestamp()
    }
}

/// The current time.
pub fn now() -> Timestamp {
    from_system_time(SystemTime::now())
}

/// A system time as nanoseconds since the epoch, saturating outside the representable range.
pub fn from_system_time(time: SystemTime) -> Timestamp {
    let saturate = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => saturate(after),
        Err(before) => -saturate(before.duration()),
    }
}

/// The protobuf form of a timestamp.
pub(crate) fn to_pb(t: Timestamp) -> pbjson_types::Timestamp {
    pbjson_types::Timestamp {
        seconds: t.div_euclid(1_000_000_000),
        // In 0..1e9, so it fits.
        nanos: t.rem_euclid(1_000_000_000) as i32,
    }
}

/// Parses an RFC 3339 timestamp such as `2024-07-04T18:09:08.555123-07:00` or
/// `2024-07-05T01:09:08Z`: a date, `T` (or `t` or a space), a time with up to nine fraction
/// digits, and `Z` or an offset. Leap seconds (`:60`) are refused.
pub fn parse_rfc3339(text: &str) -> Result<Timestamp> {
    parse(text.as_bytes())
        .map_err(|why| Error::Validation(format!("timestamp {text:?} is not RFC 3339 ({why})")))
}

fn parse(s: &[u8]) -> Result<Timestamp, &'static str> {
    let digits = |from: usize, len: usize| -> Result<i64, &'static str> {
        let part = s.get(from..from + len).ok_or("too short")?;
        part.iter().try_fold(0i64, |n, &b| {
            if b.is_ascii_digit() {
                Ok(n * 10 + i64::from(b - b'0'))
            } else {
                Err("a digit is expected")
            }
        })
    };
    let expect = |at: usize, what: &[u8], why: &'static str| -> Result<(), &'static str> {
        match s.get(at) {
            Some(b) if what.contains(b) => Ok(()),
            _ => Err(why),
        }
    };
    let year = digits(0, 4)?;
    expect(4, b"-", "`-` expected after the year")?;
    let month = digits(5, 2)?;
    expect(7, b"-", "`-` expected after the month")?;
    let day = digits(8, 2)?;
    expect(10, b"Tt ", "`T` expected after the date")?;
    let hour = digits(11, 2)?;
    expect(13, b":", "`:` expected after the hour")?;
    let minute = digits(14, 2)?;
    expect(16, b":", "`:` expected after the minutes")?;
    let second = digits(17, 2)?;
    if !(1..=12).contains(&month) {
        return Err("month out of range");
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err("day out of range");
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err("time of day out of range");
    }
    let mut at = 19;
    let mut fraction = 0i64;
    if s.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while s.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        let len = at - start;
        if len == 0 {
            return Err("digits expected after `.`");
        }
        if len > 9 {
            return Err("more than nine fraction digits");
        }
        fraction = digits(start, len)? * 10i64.pow(9 - len as u32);
    }
    let offset_seconds = match s.get(at) {
        Some(b'Z' | b'z') => {
            at += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            let hours = digits(at + 1, 2)?;
            expect(at + 3, b":", "`:` expected in the offset")?;
            let minutes = digits(at + 4, 2)?;
            if hours > 23 || minutes > 59 {
                return Err("offset out of range");
            }
            at += 6;
            let offset = hours * 3600 + minutes * 60;
            if *sign == b'-' { -offset } else { offset }
        }
        _ => return Err("`Z` or an offset such as `+02:00` expected"),
    };
    if at != s.len() {
        return Err("unexpected text after the offset");
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    let nanos = i128::from(seconds) * 1_000_000_000 + i128::from(fraction);
    i64::try_from(nanos).map_err(|_| "outside the years 1677 to 2262")
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number since 1970-01-01 (the inverse of `days_from_civil`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats a timestamp as RFC 3339 in UTC with nine fraction digits, e.g.
/// `2024-07-05T01:09:08.555000000Z`.
pub fn format_rfc3339(t: Timestamp) -> String {
    let seconds = t.div_euclid(1_000_000_000);
    let nanos = t.rem_euclid(1_000_000_000);
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let of_day = seconds.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_cases() {
        let cases: &[(&str, i64)] = &[
            ("1970-01-01T00:00:00Z", 0),
            ("1970-01-01T00:00:01.5Z", 1_500_000_000),
            ("1969-12-31T23:59:59.999999999Z", -1),
            ("2024-07-05T01:09:08.555Z", 1_720_141_748_555_000_000),
            ("2024-07-04T18:09:08.555-07:00", 1_720_141_748_555_000_000),
            ("2024-07-05 03:09:08.555+02:00", 1_720_141_748_555_000_000),
            ("2024-02-29t00:00:00z", 1_709_164_800_000_000_000),
            ("2262-04-11T23:47:16.854775807Z", i64::MAX),
        ];
        for (text, want) in cases {
            assert_eq!(parse_rfc3339(text).unwrap(), *want, "{text}");
        }
    }

    #[test]
    fn rfc3339_refusals_quote_the_input() {
        for bad in [
            "",
            "2024-07-05",
            "2024-07-05T01:09:08",
            "2024-13-05T01:09:08Z",
            "2023-02-29T01:09:08Z",
            "2024-07-05T24:00:00Z",
            "2024-07-05T01:09:60Z",
            "2024-07-05T01:09:08.Z",
            "2024-07-05T01:09:08.1234567890Z",
            "2024-07-05T01:09:08+0200",
            "2024-07-05T01:09:08Zjunk",
            "2262-04-12T00:00:00Z",
            "１９７０-01-01T00:00:00Z",
        ] {
            let err = parse_rfc3339(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn format_round_trips() {
        for t in [
            0,
            -1,
            1_720_141_748_555_000_123,
            i64::MAX,
            i64::MIN,
            951_782_400_000_000_000,
        ] {
            let text = format_rfc3339(t);
            assert_eq!(parse_rfc3339(&text).unwrap(), t, "{text}");
        }
        assert_eq!(
            format_rfc3339(1_720_141_748_555_000_000),
            "2024-07-05T01:09:08.555000000Z"
        );
    }

    #[test]
    fn system_time_conversion() {
        assert_eq!(from_system_time(UNIX_EPOCH + Duration::from_nanos(42)), 42);
        assert_eq!(
            from_system_time(UNIX_EPOCH - Duration::from_secs(1)),
            -1_000_000_000
        );
        let pb = to_pb(-1);
        assert_eq!((pb.seconds, pb.nanos), (-1, 999_999_999));
    }
}
