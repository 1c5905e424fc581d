//! What a write may bring: limits on a new series' name and labels, and the range of
//! timestamps. Checked when a write is prepared (`Head::prepare`), never on WAL
//! replay: a series stored before a limit existed stays readable and writable.

use sextant_model::{SeriesKey, SeriesPoints, Timestamp};

use crate::Error;

/// The longest series name, in bytes.
pub const MAX_NAME_BYTES: usize = 1024;
/// The most labels a series may have.
pub const MAX_LABELS: usize = 64;
/// The longest label name, in bytes.
pub const MAX_LABEL_NAME_BYTES: usize = 256;
/// The longest label value, in bytes.
pub const MAX_LABEL_VALUE_BYTES: usize = 4096;
/// The newest timestamp a point may have. Reads name their end exclusively, so a point at
/// `i64::MAX` nanoseconds could never be read back.
pub const MAX_TIMESTAMP: Timestamp = Timestamp::MAX - 1;

/// How much of a refused key an error shows.
const SHOWN_BYTES: usize = 200;

/// The key as an error shows it: cut after [`SHOWN_BYTES`] bytes, so that a refused 60 MB
/// label does not make a 60 MB message.
pub(crate) fn shown(key: &SeriesKey) -> String {
    let mut text = key.to_string();
    if text.len() > SHOWN_BYTES {
        let mut cut = SHOWN_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let total = text.len();
        text.truncate(cut);
        text.push_str(&format!("… ({total} bytes)"));
    }
    text
}

/// Whether a new series' key is within the limits and free of control characters.
pub(crate) fn check_new_key(key: &SeriesKey) -> Result<(), Error> {
    let refuse = |reason: String| {
        Err(Error::SeriesKeyRefused {
            series: shown(key),
            reason,
        })
    };
    let name = key.name();
    if name.len() > MAX_NAME_BYTES {
        return refuse(format!(
            "its name is {} bytes long; the limit is {MAX_NAME_BYTES}",
            name.len()
        ));
    }
    if let Some(at) = control(name) {
        return refuse(format!("its name holds a control character at byte {at}"));
    }
    let labels = key.labels();
    if labels.len() > MAX_LABELS {
        return refuse(format!(
            "it has {} labels; the limit is {MAX_LABELS}",
            labels.len()
        ));
    }
    for label in labels {
        let (n, v) = (label.name, label.value);
        if n.len() > MAX_LABEL_NAME_BYTES {
            return refuse(format!(
                "label name {:?}… is {} bytes long; the limit is {MAX_LABEL_NAME_BYTES}",
                prefix(n),
                n.len()
            ));
        }
        if v.len() > MAX_LABEL_VALUE_BYTES {
            return refuse(format!(
                "the value of label {:?} is {} bytes long; the limit is {MAX_LABEL_VALUE_BYTES}",
                prefix(n),
                v.len()
            ));
        }
        if let Some(at) = control(n) {
            return refuse(format!(
                "label name {:?} holds a control character at byte {at}",
                prefix(n)
            ));
        }
        if let Some(at) = control(v) {
            return refuse(format!(
                "the value of label {:?} holds a control character at byte {at}",
                prefix(n)
            ));
        }
    }
    Ok(())
}

/// Whether every point of a series is at or before [`MAX_TIMESTAMP`].
pub(crate) fn check_timestamps(sp: &SeriesPoints) -> Result<(), Error> {
    match sp.points.iter().find(|p| p.timestamp > MAX_TIMESTAMP) {
        Some(p) => Err(Error::TimestampOutOfRange {
            series: shown(&sp.key),
            timestamp: p.timestamp,
            max: MAX_TIMESTAMP,
        }),
        None => Ok(()),
    }
}

/// The byte offset of the first control character (C0, DEL or C1) in `text`.
fn control(text: &str) -> Option<usize> {
    text.char_indices()
        .find(|(_, c)| c.is_control())
        .map(|(at, _)| at)
}

/// The first 40 bytes of a name, for a message.
fn prefix(text: &str) -> &str {
    let mut cut = text.len().min(40);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

#[cfg(test)]
mod tests {
    use sextant_model::{DataType, Point, Value};

    use super::*;

    fn key(name: &str, labels: &[(&str, &str)]) -> SeriesKey {
        SeriesKey::new(name, labels.iter().copied()).unwrap()
    }

    #[test]
    fn keys_within_the_limits_pass_and_others_are_named() {
        assert!(check_new_key(&key("cpu", &[("host", "a"), ("dc", "eu")])).is_ok());
        let long_value = "v".repeat(MAX_LABEL_VALUE_BYTES + 1);
        let many: Vec<(String, String)> = (0..=MAX_LABELS)
            .map(|i| (format!("l{i}"), "x".to_owned()))
            .collect();
        let cases = [
            (
                SeriesKey::bare("n".repeat(MAX_NAME_BYTES + 1)).unwrap(),
                "its name is 1025 bytes long; the limit is 1024",
            ),
            (
                key("cpu\u{1b}[2J", &[]),
                "its name holds a control character at byte 3",
            ),
            (
                key("cpu", &[("host", &long_value)]),
                "the value of label \"host\" is 4097 bytes long; the limit is 4096",
            ),
            (
                key("cpu", &[("ho\0st", "a")]),
                "label name \"ho\\0st\" holds a control character at byte 2",
            ),
            (
                key("cpu", &[("host", "a\nb")]),
                "the value of label \"host\" holds a control character at byte 1",
            ),
            (
                SeriesKey::new("cpu", many.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap(),
                "it has 65 labels; the limit is 64",
            ),
        ];
        for (key, want) in cases {
            let message = check_new_key(&key).unwrap_err().to_string();
            assert!(message.contains(want), "{message}");
            assert!(message.len() < 600, "{message}");
        }
    }

    #[test]
    fn the_last_instant_is_refused_and_the_one_before_kept() {
        let points = |t| SeriesPoints {
            key: key("cpu", &[]),
            data_type: DataType::Double,
            points: vec![Point::new(t, Value::Double(1.0))],
        };
        assert!(check_timestamps(&points(MAX_TIMESTAMP)).is_ok());
        assert!(check_timestamps(&points(Timestamp::MIN)).is_ok());
        let message = check_timestamps(&points(Timestamp::MAX))
            .unwrap_err()
            .to_string();
        assert!(message.contains("9223372036854775807"), "{message}");
    }
}
