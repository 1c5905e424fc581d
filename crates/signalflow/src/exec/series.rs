//! Time series as a job sees them: identity and metadata, and values on the job's timeline.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A time series id: 8 bytes, written in messages as their URL-safe base64 without padding
/// (11 characters), the form SignalFx gives `tsId`s.
pub type TsId = [u8; 8];

/// The text form of a [`TsId`].
pub fn ts_id_text(id: &TsId) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}

/// The [`TsId`] of a text form, if it is one.
pub fn ts_id_from_text(text: &str) -> Option<TsId> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()?;
    bytes.try_into().ok()
}

/// A stable 8-byte id of some text (FNV-1a, 64 bits): the same program and inputs give the
/// same computed ids on every run and every server.
pub fn stable_id(parts: &[&str]) -> TsId {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.as_bytes().iter().chain(&[0xff]) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash.to_be_bytes()
}

/// How a metric's points roll up by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricKind {
    /// A level: rolled up by average.
    #[default]
    Gauge,
    /// Counts per interval: rolled up by sum.
    Counter,
    /// A running total: rolled up by the increase over the interval.
    CumulativeCounter,
}

/// The metadata of one time series.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Meta {
    /// Its id.
    pub id: TsId,
    /// `sf_metric`: the metric, or a generated `_SF_COMP_…` name for a computed series.
    pub metric: String,
    /// The metric its values come from, when all of them come from one.
    pub originating_metric: Option<String>,
    /// Dimensions.
    pub dims: BTreeMap<String, String>,
    /// Custom properties, own or inherited from its dimensions.
    pub props: BTreeMap<String, String>,
    /// Tags, own or inherited from its dimensions.
    pub tags: BTreeSet<String>,
    /// Whether the series was computed (an aggregation, arithmetic, a constant).
    pub computed: bool,
}

impl Meta {
    /// The value of `key` among dimensions, then properties; `sf_metric` is the metric.
    pub fn get(&self, key: &str) -> Option<&str> {
        if key == "sf_metric" {
            return Some(&self.metric);
        }
        self.dims
            .get(key)
            .or_else(|| self.props.get(key))
            .map(String::as_str)
    }

    /// Dimensions and properties as one sorted text, for ids.
    pub fn identity(&self) -> String {
        let mut text = String::new();
        for (k, v) in self.dims.iter().chain(self.props.iter()) {
            text.push_str(k);
            text.push('\u{1}');
            text.push_str(v);
            text.push('\u{2}');
        }
        text
    }
}

/// One series of a stream: metadata and one value per logical timestamp of the timeline
/// (`None` where it has none).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Metadata.
    pub meta: Arc<Meta>,
    /// Values, one per logical timestamp.
    pub values: Vec<Option<f64>>,
}

/// A stream: the series it carries, each on the job's whole timeline.
pub type Stream = Vec<Series>;

/// A metadata filter: `filter(key, values…)` combined with `and`, `or`, `not`.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// The key has one of the values (patterns with `*` and `?`).
    Match {
        /// Dimension, property, `sf_metric` or `sf_tags`.
        key: String,
        /// Patterns, any of which may match.
        values: Vec<String>,
        /// Whether a series without the key matches.
        match_missing: bool,
    },
    /// Both.
    And(Box<Filter>, Box<Filter>),
    /// Either.
    Or(Box<Filter>, Box<Filter>),
    /// Not.
    Not(Box<Filter>),
}

impl Filter {
    /// Whether `meta` passes.
    pub fn matches(&self, meta: &Meta) -> bool {
        match self {
            Filter::Match {
                key,
                values,
                match_missing,
            } => {
                if key == "sf_tags" {
                    return meta
                        .tags
                        .iter()
                        .any(|tag| values.iter().any(|p| wildcard(p, tag)));
                }
                match meta.get(key) {
                    Some(value) => values.iter().any(|p| wildcard(p, value)),
                    None => *match_missing,
                }
            }
            Filter::And(a, b) => a.matches(meta) && b.matches(meta),
            Filter::Or(a, b) => a.matches(meta) || b.matches(meta),
            Filter::Not(a) => !a.matches(meta),
        }
    }
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters and `?` for
/// one. Linear in the lengths (the classic greedy matcher with one backtrack point).
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard("web*", "web-1"));
        assert!(wildcard("*", ""));
        assert!(wildcard("w?b-*1", "web-11"));
        assert!(!wildcard("web*", "db-1"));
        assert!(wildcard("*-1", "web-1"));
        assert!(!wildcard("a", "ab"));
        assert!(wildcard("a*b*c", "aXXbYYc"));
        assert!(!wildcard("a*b*c", "aXXbYY"));
    }

    #[test]
    fn ts_ids_round_trip() {
        let id = stable_id(&["A", "host\u{1}h1"]);
        let text = ts_id_text(&id);
        assert_eq!(text.len(), 11);
        assert_eq!(ts_id_from_text(&text), Some(id));
        assert_ne!(stable_id(&["A", "host"]), stable_id(&["Ahost"]));
    }
}
