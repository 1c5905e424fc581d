//! Durations as SignalFlow writes them, and the job's timeline of logical timestamps.

/// Milliseconds per unit of a duration string.
const UNITS: &[(&str, i64)] = &[
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
    ("w", 604_800_000),
];

/// A duration string such as `'5m'`, `'1h30m'`, `'500ms'` or `'1w'`, in milliseconds: one or
/// more numbers each followed by a unit (`ms`, `s`, `m`, `h`, `d`, `w`). `None` if the text is
/// not one, or the total is zero or beyond a thousand years.
pub fn parse_duration(text: &str) -> Option<i64> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 12 {
            return None;
        }
        let number: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, scale) = UNITS
            .iter()
            .filter(|(unit, _)| rest.starts_with(unit))
            .max_by_key(|(unit, _)| unit.len())?;
        rest = &rest[unit.len()..];
        total = total.checked_add(number.checked_mul(*scale)?)?;
    }
    (total > 0 && total <= 1000 * 365 * 86_400_000).then_some(total)
}

/// The logical timestamps of a job: `len` instants `first + i × resolution`, milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeline {
    /// The first logical timestamp, a multiple of the resolution.
    pub first: i64,
    /// Milliseconds between logical timestamps.
    pub resolution: i64,
    /// How many.
    pub len: usize,
}

impl Timeline {
    /// The `i`-th logical timestamp.
    pub fn at(&self, i: usize) -> i64 {
        self.first + i as i64 * self.resolution
    }

    /// The end of the last interval: `[first, end)` is what the timeline covers, each logical
    /// timestamp labelling the interval it starts.
    pub fn end(&self) -> i64 {
        self.at(self.len)
    }

    /// Whole steps in `duration` milliseconds, at least one.
    pub fn steps(&self, duration: i64) -> usize {
        ((duration + self.resolution - 1) / self.resolution).max(1) as usize
    }
}

/// `t` rounded down to a multiple of `step`.
pub fn align_down(t: i64, step: i64) -> i64 {
    t.div_euclid(step) * step
}

/// `t` rounded up to a multiple of `step`.
pub fn align_up(t: i64, step: i64) -> i64 {
    -align_down(-t, step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Some(300_000));
        assert_eq!(parse_duration("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration("500ms"), Some(500));
        assert_eq!(parse_duration("1w"), Some(604_800_000));
        assert_eq!(parse_duration("2d"), Some(172_800_000));
        for bad in ["", "m", "5", "5x", "0s", "-1m", "1.5m", "99999999999999w"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn alignment() {
        assert_eq!(align_down(1_999, 1_000), 1_000);
        assert_eq!(align_up(1_001, 1_000), 2_000);
        assert_eq!(align_up(2_000, 1_000), 2_000);
        assert_eq!(align_down(-1, 1_000), -1_000);
    }
}
