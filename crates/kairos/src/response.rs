//! KairosDB's response bodies, written by hand so that numbers come out as KairosDB writes
//! them (longs as integers, doubles through [`java_double`]).

use std::fmt::Write;

use serde_json::Value;

use crate::aggregate::KValue;
use crate::format::java_double;
use crate::group::{GroupResult, MetricResult};
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
        if self.metrics > 0 {
            self.out.push(',');
        }
        self.metrics += 1;
        let _ = write!(
            self.out,
            "{{\"sample_size\":{},\"results\":[",
            m.sample_size
        );
        for (j, g) in m.results.iter().enumerate() {
            if j > 0 {
                self.out.push(',');
            }
            group(&mut self.out, g)?;
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
    out.push_str(&Value::String(g.name.clone()).to_string());
    if let Some(group_by) = &g.group_by {
        out.push_str(",\"group_by\":");
        out.push_str(&Value::Array(group_by.clone()).to_string());
    }
    if let Some(tags) = &g.tags {
        out.push_str(",\"tags\":");
        out.push_str(&serde_json::to_string(tags).unwrap_or_else(|_| "{}".to_owned()));
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
        KValue::Double(d) => out.push_str(&java_double(*d)),
        KValue::Text(s) => out.push_str(&Value::String(s.clone()).to_string()),
        KValue::Null => out.push_str("null"),
    }
    Ok(())
}
