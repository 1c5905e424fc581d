//! KairosDB's response bodies, written by hand so that numbers come out as KairosDB writes
//! them (longs as integers, doubles through [`java_double`]).

use std::fmt::Write;

use serde_json::Value;

use crate::aggregate::KValue;
use crate::format::java_double;
use crate::group::{GroupResult, MetricResult};
use crate::{Error, Result};

/// The body of a query response: `{"queries":[{"sample_size":N,"results":[…]}]}`. Fails with
/// a runtime error (500) when a value is NaN or infinite, as KairosDB does.
pub fn query_body(metrics: &[MetricResult]) -> Result<String> {
    let mut out = String::from("{\"queries\":[");
    for (i, m) in metrics.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{{\"sample_size\":{},\"results\":[", m.sample_size);
        for (j, g) in m.results.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            group(&mut out, g)?;
        }
        out.push_str("]}");
    }
    out.push_str("]}");
    Ok(out)
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
