//! `POST /api/v1/datapoints` bodies: an array of metric objects or one metric object, each
//! with `timestamp`+`value` and/or `datapoints` pairs, parsed with KairosDB's type rules and
//! validation messages. Bad metrics and bad points are reported and skipped; the rest is
//! kept (KairosDB's partial success).
//!
//! Without a `type`, a JSON number or a numeric string (optional sign, digits, at most one
//! `.`) is a long when its text has no `.` (or exponent) and a double otherwise; any other
//! string is a string. `type` (on the metric, or third in a datapoint) forces `long`,
//! `double` or `string`.
//!
//! Deviation: KairosDB requires at least one tag; Sextant accepts tagless metrics (the
//! series then has no labels), because Proficloud's client sends none.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::Result;
use crate::aggregate::{DataPoint, KValue};

/// One metric object of the body, as far as it was valid.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestMetric {
    /// Its index in the body.
    pub index: usize,
    /// The metric name.
    pub name: String,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// Its valid points, each with its datapoint index (`None` for `timestamp`+`value`).
    pub points: Vec<(Option<usize>, DataPoint)>,
}

impl IngestMetric {
    /// How errors name a point of this metric: `metric[0](name=m).datapoints[3]`.
    pub fn point_path(&self, datapoint: Option<usize>) -> String {
        match datapoint {
            Some(j) => format!("metric[{}](name={}).datapoints[{j}]", self.index, self.name),
            None => format!("metric[{}](name={})", self.index, self.name),
        }
    }
}

/// A parsed body: the valid metrics and the messages about the rest.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ingest {
    /// Metrics with at least their valid points.
    pub metrics: Vec<IngestMetric>,
    /// KairosDB-style messages, in body order.
    pub errors: Vec<String>,
}

/// Parses a body. Only a body that is not JSON fails as a whole.
///
/// The body is read as a stream: each metric object of an array becomes a JSON tree of its
/// own, is turned into an [`IngestMetric`] and dropped before the next is read, so memory holds
/// the parsed metrics and one object's tree rather than a tree of the whole body (a body of
/// many small objects cost about 28 times its size as one tree).
pub fn parse(body: &[u8]) -> Result<Ingest> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(crate::Error::invalid(
            "Invalid json. No content due to end of input.",
        ));
    }
    let mut ingest = Ingest::default();
    let mut de = serde_json::Deserializer::from_slice(body);
    let invalid = |e: serde_json::Error| crate::Error::invalid(format!("Invalid json. {e}"));
    serde::de::DeserializeSeed::deserialize(Body(&mut ingest), &mut de).map_err(invalid)?;
    de.end().map_err(invalid)?;
    Ok(ingest)
}

/// The body's top level: an array of metric objects, one metric object, or a mistake.
struct Body<'a>(&'a mut Ingest);

impl<'de> serde::de::DeserializeSeed<'de> for Body<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Body<'_> {
    fn not_metrics<E>(self) -> std::result::Result<(), E> {
        self.0
            .errors
            .push("the body must be a metric object or an array of them".to_owned());
        Ok(())
    }
}

impl<'de> serde::de::Visitor<'de> for Body<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a metric object or an array of them")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<(), A::Error> {
        let mut i = 0;
        while let Some(item) = seq.next_element::<Value>()? {
            metric(i, &item, self.0);
            i += 1;
        }
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> std::result::Result<(), A::Error> {
        let item: Value =
            serde::Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        metric(0, &item, self.0);
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> std::result::Result<(), E> {
        self.not_metrics()
    }

    fn visit_i64<E>(self, _: i64) -> std::result::Result<(), E> {
        self.not_metrics()
    }

    fn visit_u64<E>(self, _: u64) -> std::result::Result<(), E> {
        self.not_metrics()
    }

    fn visit_f64<E>(self, _: f64) -> std::result::Result<(), E> {
        self.not_metrics()
    }

    fn visit_str<E>(self, _: &str) -> std::result::Result<(), E> {
        self.not_metrics()
    }

    fn visit_unit<E>(self) -> std::result::Result<(), E> {
        self.not_metrics()
    }
}

#[derive(Clone, Copy)]
enum Forced {
    Long,
    Double,
    Text,
}

fn forced(type_name: Option<&Value>) -> std::result::Result<Option<Forced>, String> {
    match type_name {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => match s.as_str() {
            "long" => Ok(Some(Forced::Long)),
            "double" => Ok(Some(Forced::Double)),
            "string" => Ok(Some(Forced::Text)),
            other => Err(format!("Unregistered data point type '{other}'")),
        },
        Some(other) => Err(format!("Unregistered data point type '{other}'")),
    }
}

fn metric(i: usize, item: &Value, ingest: &mut Ingest) {
    let Some(m) = item.as_object() else {
        ingest
            .errors
            .push(format!("metric[{i}] must be a JSON object"));
        return;
    };
    let name = match m.get("name") {
        None | Some(Value::Null) => {
            ingest
                .errors
                .push(format!("metric[{i}].name may not be null."));
            return;
        }
        Some(Value::String(s)) if s.is_empty() => {
            ingest
                .errors
                .push(format!("metric[{i}].name may not be empty."));
            return;
        }
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let path = format!("metric[{i}](name={name})");
    let mut tags = BTreeMap::new();
    match m.get("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Object(t)) => {
            let mut bad = false;
            for (j, (k, v)) in t.iter().enumerate() {
                if k.is_empty() {
                    ingest
                        .errors
                        .push(format!("{path}.tag[{j}].name may not be empty."));
                    bad = true;
                    continue;
                }
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => String::new(),
                };
                if text.is_empty() {
                    ingest
                        .errors
                        .push(format!("{path}.tag[{k}].value may not be empty."));
                    bad = true;
                    continue;
                }
                tags.insert(k.clone(), text);
            }
            if bad {
                return;
            }
        }
        Some(_) => {
            ingest.errors.push(format!(
                "{path}.tags must be an object of tag names to values."
            ));
            return;
        }
    }
    let metric_type = match forced(m.get("type")) {
        Ok(t) => t,
        Err(message) => {
            ingest.errors.push(format!("{path} {message}"));
            return;
        }
    };
    let mut out = IngestMetric {
        index: i,
        name,
        tags,
        points: Vec::new(),
    };
    single(m, &path, metric_type, &mut out, &mut ingest.errors);
    match m.get("datapoints") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for (j, entry) in list.iter().enumerate() {
                let at = format!("{path}.datapoints[{j}]");
                match datapoint(entry, &at, metric_type) {
                    Ok(p) => out.points.push((Some(j), p)),
                    Err(message) => ingest.errors.push(message),
                }
            }
        }
        Some(_) => ingest.errors.push(format!(
            "{path}.datapoints must be an array of [timestamp, value] pairs."
        )),
    }
    if !out.points.is_empty() {
        ingest.metrics.push(out);
    }
}

fn single(
    m: &Map<String, Value>,
    path: &str,
    metric_type: Option<Forced>,
    out: &mut IngestMetric,
    errors: &mut Vec<String>,
) {
    let timestamp = m
        .get("time")
        .filter(|v| !v.is_null())
        .or_else(|| m.get("timestamp").filter(|v| !v.is_null()));
    let value = m.get("value").filter(|v| !v.is_null());
    match (timestamp, value) {
        (None, None) => {}
        (Some(_), None) => errors.push(format!("{path}.value may not be null.")),
        (None, Some(_)) => errors.push(format!("{path}.timestamp may not be null.")),
        (Some(t), Some(v)) => match millis(t, &format!("{path}.timestamp"))
            .and_then(|t| typed(v, metric_type, path).map(|v| DataPoint::new(t, v)))
        {
            Ok(p) => out.points.push((None, p)),
            Err(message) => errors.push(message),
        },
    }
}

fn datapoint(
    entry: &Value,
    at: &str,
    metric_type: Option<Forced>,
) -> std::result::Result<DataPoint, String> {
    let Some(pair) = entry.as_array() else {
        return Err(format!("{at} must be an array [timestamp, value]."));
    };
    let t = match pair.first() {
        None | Some(Value::Null) => return Err(format!("{at}.timestamp cannot be null or empty.")),
        Some(Value::String(s)) if s.is_empty() => {
            return Err(format!("{at}.timestamp cannot be null or empty."));
        }
        Some(t) => millis(t, &format!("{at}.timestamp"))?,
    };
    let v = match pair.get(1) {
        None | Some(Value::Null) => return Err(format!("{at}.value may not be empty.")),
        Some(Value::String(s)) if s.is_empty() => {
            return Err(format!("{at}.value may not be empty."));
        }
        Some(v) => v,
    };
    let point_type = match pair.get(2) {
        None => metric_type,
        Some(t) => forced(Some(t)).map_err(|m| format!("{at} {m}"))?,
    };
    Ok(DataPoint::new(t, typed(v, point_type, at)?))
}

/// A timestamp in milliseconds: an integer, its text, or a float holding a whole number (what
/// pandas-based clients such as Proficloud's send: `1700000000000.0`). A fractional one is
/// refused with its value, never rounded.
fn millis(value: &Value, path: &str) -> std::result::Result<i64, String> {
    let parsed = match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| match value {
        Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() != 0.0) => format!(
            "{path} must be a whole number of milliseconds, not {value}; Sextant does not round timestamps."
        ),
        _ => format!("{path} must be an integer number of milliseconds, not {value}."),
    })
}

/// Whether `text` is KairosDB's numeric string: an optional sign, digits, at most one `.`.
fn numeric_text(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let mut dots = 0;
    let mut any = false;
    for c in digits.chars() {
        match c {
            '0'..='9' => any = true,
            '.' => dots += 1,
            _ => return false,
        }
    }
    any && dots <= 1
}

fn typed(value: &Value, forced: Option<Forced>, path: &str) -> std::result::Result<KValue, String> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        _ => return Err(format!("{path} value is an invalid type")),
    };
    let long = |t: &str| {
        t.trim_start_matches('+')
            .parse::<i64>()
            .map(KValue::Long)
            .map_err(|_| format!("{path} value {value} is not a valid long"))
    };
    let double = |t: &str| {
        t.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(KValue::Double)
            .ok_or_else(|| format!("{path} value {value} is not a valid double"))
    };
    match forced {
        Some(Forced::Long) => long(&text),
        Some(Forced::Double) => double(&text),
        Some(Forced::Text) => Ok(KValue::Text(text)),
        None => {
            let numeric = match value {
                Value::Number(_) => true,
                Value::String(s) => numeric_text(s),
                _ => false,
            };
            if !numeric {
                return Ok(KValue::Text(text));
            }
            if text.contains(['.', 'e', 'E']) {
                double(&text)
            } else {
                // Beyond a long's range: KairosDB would fail; keep the value as a double.
                long(&text).or_else(|_| double(&text))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_float_timestamps_are_taken_and_fractional_ones_refused() {
        let body = br#"[{"name":"m","datapoints":[[1700000000000.0,1],[1700000000001,2]]},
            {"name":"m","timestamp":1700000000002.5,"value":3}]"#;
        let ingest = parse(body).unwrap();
        let times: Vec<i64> = ingest.metrics[0].points.iter().map(|p| p.1.t).collect();
        assert_eq!(times, [1_700_000_000_000, 1_700_000_000_001]);
        assert!(
            ingest.metrics[0].tags.is_empty(),
            "a metric without tags is taken"
        );
        assert_eq!(
            ingest.errors,
            [
                "metric[1](name=m).timestamp must be a whole number of milliseconds, not \
              1700000000002.5; Sextant does not round timestamps."
            ]
        );
    }

    #[test]
    fn types_follow_the_text_of_values() {
        let body = br#"[{"name":"m","tags":{"h":"a"},"timestamp":5,"value":"42",
            "datapoints":[[1,2.5],[2,"-7"],[3,"abc"],[4,3,"double"],[6,true]]}]"#;
        let ingest = parse(body).unwrap();
        assert!(ingest.errors.is_empty(), "{:?}", ingest.errors);
        let values: Vec<KValue> = ingest.metrics[0]
            .points
            .iter()
            .map(|p| p.1.v.clone())
            .collect();
        assert_eq!(
            values,
            [
                KValue::Long(42),
                KValue::Double(2.5),
                KValue::Long(-7),
                KValue::Text("abc".into()),
                KValue::Double(3.0),
                KValue::Text("true".into()),
            ]
        );
    }

    #[test]
    fn bad_points_are_named_and_their_siblings_kept() {
        let body = br#"[{"name":""},{"name":"x","tags":{"":"v"},"timestamp":1,"value":1},
            {"name":"y","timestamp":1},{"name":"z","datapoints":[[null,1],[1,null],[2,{"a":1}],[3,1]]},
            {"name":"w","type":"complex","value":1,"timestamp":1},
            {"name":"v","tags":{"h":""},"value":1,"timestamp":1}]"#;
        let ingest = parse(body).unwrap();
        assert_eq!(
            ingest.errors,
            [
                "metric[0].name may not be empty.",
                "metric[1](name=x).tag[0].name may not be empty.",
                "metric[2](name=y).value may not be null.",
                "metric[3](name=z).datapoints[0].timestamp cannot be null or empty.",
                "metric[3](name=z).datapoints[1].value may not be empty.",
                "metric[3](name=z).datapoints[2] value is an invalid type",
                "metric[4](name=w) Unregistered data point type 'complex'",
                "metric[5](name=v).tag[h].value may not be empty.",
            ]
        );
        assert_eq!(ingest.metrics.len(), 1);
        assert_eq!(
            ingest.metrics[0].points,
            [(Some(3), DataPoint::new(3, KValue::Long(1)))]
        );
        assert_eq!(
            parse(b"").unwrap_err().messages(),
            ["Invalid json. No content due to end of input."]
        );
    }
}
