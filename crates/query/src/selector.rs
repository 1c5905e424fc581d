//! Which series a read is about: one selector type for every front end.
//!
//! [`Selector`] is storage's [`SeriesSelector`](sextant_storage::SeriesSelector) under the name readers use, with its text
//! form (`cpu{host=~"h[0-9]+",region!="eu"}`; see `docs/query.md` and
//! [`sextant_storage::head`] for the grammar and matching rules).
//!
//! # Why the type and its parser live in storage
//!
//! The `Store` trait takes a selector in `select`, `delete`, `label_names` and
//! `label_values`, and the head's index evaluates it against its posting lists, so the type
//! must be defined at or below storage: a contract crate never depends on the crates above
//! it. The parser stays beside the type because `Display` and `parse` are one round-trip
//! pair tested together. This module re-exports both, so that front ends depend on the query
//! crate alone and a second selector type cannot appear.

use sextant_model::SeriesKey;

pub use sextant_storage::head::{NAME_LABEL, Pattern};
pub use sextant_storage::{Match, SelectorError, SeriesSelector as Selector};

use crate::Result;

/// Parses a selector's text form, e.g. `cpu.usage_user{host=~"h[0-9]+"}`.
///
/// Fails with [`crate::Error::Selector`], quoting the text and the byte where it went wrong.
pub fn parse(text: &str) -> Result<Selector> {
    Ok(Selector::parse(text)?)
}

/// The selector of series with exactly `key`'s name and label values. Series with further
/// labels match it too (a selector constrains only what it names); filter on the key for an
/// exact match.
pub fn of_key(key: &SeriesKey) -> Selector {
    key.labels()
        .iter()
        .fold(Selector::name(key.name()), |s, l| {
            s.label(l.name, Match::equal(l.value))
        })
}

#[cfg(test)]
mod tests {
    use sextant_model::ErrorKind;

    use super::*;

    #[test]
    fn parses_and_prints_one_selector_type() {
        let cases: &[(&str, &str)] = &[
            ("cpu", "cpu"),
            (r#"cpu{host="h1"}"#, r#"cpu{host="h1"}"#),
            (
                r#" cpu { host =~ "h[0-9]+" , } "#,
                r#"cpu{host=~"h[0-9]+"}"#,
            ),
            (r#"{__name__^="cpu."}"#, r#"{__name__^="cpu."}"#),
            ("{}", "{}"),
        ];
        for &(text, printed) in cases {
            let s = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(s.to_string(), printed, "{text}");
            assert_eq!(parse(printed).unwrap(), s);
        }
    }

    #[test]
    fn a_bad_selector_is_invalid_input_quoting_it() {
        for text in ["", "cpu{", r#"cpu{host=~"("}"#] {
            let err = parse(text).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{text}");
            assert!(err.to_string().contains(&format!("{text:?}")) || text.contains('('));
        }
    }

    #[test]
    fn the_selector_of_a_key_matches_it() {
        let key = SeriesKey::new("v", [("asset", "a1"), ("run", "r")]).unwrap();
        let s = of_key(&key);
        assert!(s.matches(&key));
        assert!(!s.matches(&SeriesKey::new("v", [("asset", "a1")]).unwrap()));
        assert_eq!(s.to_string(), r#"v{asset="a1",run="r"}"#);
    }
}
