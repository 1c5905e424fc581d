//! KairosDB's response bodies, written by hand so that numbers come out as KairosDB writes
//! them (longs as integers, doubles through [`write_java_double`]).

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value;

use crate::aggregate::KValue;
use crate::format::write_java_double;
use crate::group::{GroupByEntry, GroupResult, MetricResult};
use crate::{Error, Result};

/// The body of a query response, `{"queries":[{"sample_size":N,"results":[…]}, …]}`, written
/// a metric at a time, so that each metric's results can be dropped once written: a query of
/// several metrics over many series holds one metric's groups at a time besides the text.
#[derive(Debug)]
pub struct QueryBody {
    out: String,
    metrics: usize,
}

impl Default for QueryBody {
    fn default() -> Self {
        QueryBody::new()
    }
}

impl QueryBody {
    /// An empty response.
    pub fn new() -> QueryBody {
        QueryBody {
            out: String::from("{\"queries\":["),
            metrics: 0,
        }
    }

    /// Appends the next metric's results. Fails with a runtime error (500) when a value is NaN
    /// or infinite, as KairosDB does.
    pub fn push(&mut self, m: &MetricResult) -> Result<()> {
        self.push_spilling(m, usize::MAX, &mut |_| Ok(()))
    }

    /// [`QueryBody::push`], handing the text written so far to `spill` each time it passes
    /// `chunk` bytes at the end of a group: `spill` takes what it sends on and leaves the
    /// rest, so that an answer of any size holds about `chunk` bytes of text at a time. An
    /// error from `spill` (the client left) stops the writing and is returned.
    pub fn push_spilling(
        &mut self,
        m: &MetricResult,
        chunk: usize,
        spill: &mut dyn FnMut(&mut String) -> Result<()>,
    ) -> Result<()> {
        self.push_groups(m.sample_size, m.results.iter(), chunk, spill)
    }

    /// [`QueryBody::push_spilling`] for a metric whose groups are made as they are written,
    /// each dropped once written.
    pub fn push_groups<G: Borrow<GroupResult>>(
        &mut self,
        sample_size: usize,
        groups: impl Iterator<Item = G>,
        chunk: usize,
        spill: &mut dyn FnMut(&mut String) -> Result<()>,
    ) -> Result<()> {
        if self.metrics > 0 {
            self.out.push(',');
        }
        self.metrics += 1;
        let _ = write!(self.out, "{{\"sample_size\":{sample_size},\"results\":[");
        for (j, g) in groups.enumerate() {
            if j > 0 {
                self.out.push(',');
            }
            group(&mut self.out, g.borrow())?;
            if self.out.len() >= chunk {
                spill(&mut self.out)?;
            }
        }
        self.out.push_str("]}");
        Ok(())
    }

    /// The bytes written so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether nothing but the opening was written.
    pub fn is_empty(&self) -> bool {
        self.metrics == 0
    }

    /// The rest of the body: all of it unless parts were spilled.
    pub fn finish(mut self) -> String {
        self.out.push_str("]}");
        self.out
    }
}

fn group(out: &mut String, g: &GroupResult) -> Result<()> {
    out.push_str("{\"name\":");
    string(out, &g.name);
    if let Some(group_by) = &g.group_by {
        out.push_str(",\"group_by\":[");
        for (k, entry) in group_by.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            group_by_entry(out, entry);
        }
        out.push(']');
    }
    if let Some(tags) = &g.tags {
        out.push_str(",\"tags\":{");
        for (k, (name, values)) in tags.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            string(out, name);
            out.push(':');
            strings(out, values);
        }
        out.push('}');
    }
    out.push_str(",\"values\":[");
    for (k, p) in g.values.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        let _ = write!(out, "[{},", p.t);
        value(out, &p.v)?;
        out.push(']');
    }
    out.push_str("]}");
    Ok(())
}

/// A `group_by` entry, its keys in the order KairosDB's answers (and `serde_json`) sort them.
fn group_by_entry(out: &mut String, entry: &GroupByEntry) {
    match entry {
        GroupByEntry::Tag { names, group } => {
            out.push_str("{\"group\":{");
            let mut pair = |k: usize, name: &str, v: &str| {
                if k > 0 {
                    out.push(',');
                }
                string(out, name);
                out.push(':');
                string(out, v);
            };
            if group.is_sorted_by(|a, b| a.0 < b.0) {
                // Ascending and distinct already, as one tag per name in name order gives.
                for (k, (name, v)) in group.iter().enumerate() {
                    pair(k, name, v);
                }
            } else {
                // A name listed twice appears once, with its (equal) value.
                let group: BTreeMap<&str, &str> = group
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                for (k, (name, v)) in group.iter().enumerate() {
                    pair(k, name, v);
                }
            }
            out.push_str("},\"name\":\"tag\",\"tags\":");
            strings(out, names.iter());
            out.push('}');
        }
        GroupByEntry::Type(kind) => {
            let _ = write!(out, "{{\"name\":\"type\",\"type\":\"{}\"}}", kind.name());
        }
        GroupByEntry::Other(v) => {
            let _ = write!(out, "{v}");
        }
    }
}

/// `items` as a JSON array of strings.
fn strings<S: AsRef<str>>(out: &mut String, items: impl IntoIterator<Item = S>) {
    out.push('[');
    for (k, item) in items.into_iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        string(out, item.as_ref());
    }
    out.push(']');
}

/// `s` as a JSON string. Text that needs no escape (the common case: names, tags) is copied
/// as it is; anything else goes through `serde_json`.
fn string(out: &mut String, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        let _ = write!(out, "{}", Value::from(s));
    }
}

fn value(out: &mut String, v: &KValue) -> Result<()> {
    match v {
        KValue::Long(n) => {
            let _ = write!(out, "{n}");
        }
        KValue::Double(d) if !d.is_finite() => {
            return Err(Error::Runtime(format!(
                "the query produced the value {d}, which JSON cannot carry; check divisors, percentiles and chains"
            )));
        }
        KValue::Double(d) => write_java_double(out, *d),
        KValue::Text(s) => string(out, s),
        KValue::Null => out.push_str("null"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::aggregate::DataPoint;
    use crate::group::GroupKind;

    proptest! {
        /// A group written by hand is the text `serde_json` writes for the same JSON, whatever
        /// the names and values hold (quotes, backslashes, control characters, any Unicode),
        /// with the `group_by` entries' keys sorted as `serde_json` sorts them.
        #[test]
        fn groups_are_written_as_serde_json_writes_them(
            name in any::<String>(),
            names in prop::collection::vec(any::<String>(), 1..4),
            values in prop::collection::vec(any::<String>(), 1..4),
            tags in prop::collection::btree_map(
                any::<String>(),
                prop::collection::btree_set(any::<String>(), 1..3),
                0..3,
            ),
            text in any::<String>(),
            long in any::<i64>(),
        ) {
            let pairs: Vec<(String, String)> = names
                .iter()
                .zip(values.iter().cycle())
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect();
            let time = json!({"name": "time", "group": {"group_number": 3}});
            let g = GroupResult {
                name: name.clone(),
                group_by: Some(vec![
                    GroupByEntry::Other(time.clone()),
                    GroupByEntry::Tag { names: Arc::from(names.as_slice()), group: pairs.clone() },
                    GroupByEntry::Type(GroupKind::Text),
                ]),
                tags: Some(tags.clone()),
                values: vec![
                    DataPoint::new(1, KValue::Text(text.clone())),
                    DataPoint::new(-2, KValue::Long(long)),
                ],
            };
            let mut out = String::new();
            group(&mut out, &g).unwrap();
            let group_map: serde_json::Map<String, Value> = pairs
                .into_iter()
                .map(|(n, v)| (n, Value::String(v)))
                .collect();
            let group_by = json!([
                time,
                {"name": "tag", "tags": names, "group": group_map},
                {"name": "type", "type": "text"},
            ]);
            let tags: BTreeMap<String, BTreeSet<String>> = tags;
            let expected = format!(
                r#"{{"name":{},"group_by":{},"tags":{},"values":[[1,{}],[-2,{long}]]}}"#,
                Value::String(name),
                group_by,
                serde_json::to_string(&tags).unwrap(),
                Value::String(text),
            );
            prop_assert_eq!(out, expected);
        }
    }
}
