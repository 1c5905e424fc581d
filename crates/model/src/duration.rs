//! Durations as flags and requests write them: a whole number and a unit, such as `250ms`,
//! `10s`, `5m` or `1h`.

use std::time::Duration;

/// Parses a duration such as `0s`, `250ms`, `2s`, `1m` or `1h` (units `ns`, `us`, `ms`, `s`,
/// `m`, `h`). The error quotes the text and says what was wrong with it.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("duration {text:?} needs a unit: ns, us, ms, s, m or h"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("duration {text:?} must start with a whole number"))?;
    let nanos = match unit {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        other => {
            return Err(format!(
                "duration {text:?} has unit {other:?}; use ns, us, ms, s, m or h"
            ));
        }
    };
    number
        .checked_mul(nanos)
        .map(Duration::from_nanos)
        .ok_or_else(|| format!("duration {text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_or_say_why_not() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_duration("3d").unwrap_err().contains("unit \"d\""));
        assert!(parse_duration("10").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("s").unwrap_err().contains("whole number"));
        assert!(
            parse_duration("99999999999999h")
                .unwrap_err()
                .contains("too long")
        );
    }
}
