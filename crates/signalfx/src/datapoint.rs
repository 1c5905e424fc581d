//! `POST /v2/datapoint` bodies: a `DataPointUploadMessage` in protobuf, or the JSON object
//! `{"gauge": [...], "counter": [...], "cumulative_counter": [...]}` of the fallback client.
//!
//! Each point is decoded on its own. A point that cannot be stored as written (no metric, no
//! value or several, an integer beyond 64 bits, an empty dimension key or value, a repeated
//! dimension, an unknown metric type) becomes a [`BadPoint`] naming its position, metric,
//! dimensions and reason; the other points are kept, since the client never learns of an
//! error and failing a request would lose up to 300 good points. Only a body that is not a
//! message of the right type at all is an [`Error`].
//!
//! Presence is kept: a point without a timestamp has `timestamp_ms: None` (the server's time),
//! and a protobuf point without a metric type is a gauge (the proto2 default).

use crate::json::{self, Json};
use crate::{Error, Result, proto};

/// A SignalFx metric type: series metadata, fixed for the life of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricType {
    /// A value at an instant.
    Gauge,
    /// A count over the reporting interval.
    Counter,
    /// A count since some start, only growing.
    CumulativeCounter,
}

impl MetricType {
    /// The name SignalFx's REST API uses: `GAUGE`, `COUNTER`, `CUMULATIVE_COUNTER`.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Gauge => "GAUGE",
            MetricType::Counter => "COUNTER",
            MetricType::CumulativeCounter => "CUMULATIVE_COUNTER",
        }
    }

    /// Parses [`MetricType::as_str`]'s names, in any case.
    pub fn parse(name: &str) -> Option<MetricType> {
        [
            MetricType::Gauge,
            MetricType::Counter,
            MetricType::CumulativeCounter,
        ]
        .into_iter()
        .find(|t| t.as_str().eq_ignore_ascii_case(name))
    }

    /// The key of the JSON body that holds points of this type.
    pub fn json_key(self) -> &'static str {
        match self {
            MetricType::Gauge => "gauge",
            MetricType::Counter => "counter",
            MetricType::CumulativeCounter => "cumulative_counter",
        }
    }
}

impl std::fmt::Display for MetricType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A datapoint's value, with its type as sent.
#[derive(Debug, Clone, PartialEq)]
pub enum PointValue {
    /// `intValue`, or a JSON integer.
    Int(i64),
    /// `doubleValue`, or a JSON number with a fraction or exponent; NaN and infinities
    /// included.
    Double(f64),
    /// `strValue`, or a JSON string.
    Str(String),
}

/// One decoded datapoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Datapoint {
    /// The metric name, not empty.
    pub metric: String,
    /// The dimensions in the order sent, keys and values not empty, keys distinct.
    pub dimensions: Vec<(String, String)>,
    /// Milliseconds since the Unix epoch; `None` means the server's time.
    pub timestamp_ms: Option<i64>,
    /// The value.
    pub value: PointValue,
    /// The metric type.
    pub metric_type: MetricType,
}

/// A point refused by the decoder, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct BadPoint {
    /// The point's position in the body, from 0 (for JSON: counted across the type keys in
    /// the order written).
    pub index: usize,
    /// Its metric, when it has one.
    pub metric: Option<String>,
    /// Its dimensions as far as they could be read.
    pub dimensions: Vec<(String, String)>,
    /// What is wrong, quoting the input.
    pub reason: String,
}

/// A decoded body: the points kept and the points refused.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DatapointBody {
    /// The good points, in body order.
    pub points: Vec<Datapoint>,
    /// The refused points, in body order.
    pub refused: Vec<BadPoint>,
}

/// Decodes a `DataPointUploadMessage`.
pub fn decode_protobuf(bytes: &[u8]) -> Result<DatapointBody> {
    let message: proto::DataPointUploadMessage =
        prost::Message::decode(bytes).map_err(|e| Error::Protobuf {
            message: "DataPointUploadMessage",
            reason: e.to_string(),
        })?;
    let mut body = DatapointBody {
        points: Vec::with_capacity(message.datapoints.len()),
        refused: Vec::new(),
    };
    for (index, point) in message.datapoints.into_iter().enumerate() {
        match from_proto(point) {
            Ok(point) => body.points.push(point),
            Err((metric, dimensions, reason)) => body.refused.push(BadPoint {
                index,
                metric,
                dimensions,
                reason,
            }),
        }
    }
    Ok(body)
}

type Refused = (Option<String>, Vec<(String, String)>, String);

fn from_proto(point: proto::DataPoint) -> Result<Datapoint, Refused> {
    let proto::DataPoint {
        metric,
        timestamp,
        value,
        metric_type,
        dimensions,
        ..
    } = point;
    let dimensions: Vec<(String, String)> = dimensions
        .into_iter()
        .map(|d| (d.key.unwrap_or_default(), d.value.unwrap_or_default()))
        .collect();
    let metric = metric.filter(|m| !m.is_empty());
    let fail =
        |metric: Option<String>, dimensions, reason: String| Err((metric, dimensions, reason));
    if let Err(reason) = check_dimensions(&dimensions) {
        return fail(metric, dimensions, reason);
    }
    let Some(metric) = metric else {
        return fail(None, dimensions, "the point has no metric name".to_owned());
    };
    let metric_type = match metric_type.unwrap_or(proto::MetricType::Gauge as i32) {
        0 => MetricType::Gauge,
        1 => MetricType::Counter,
        3 => MetricType::CumulativeCounter,
        2 => {
            return fail(
                Some(metric),
                dimensions,
                "metric type ENUM is not served: send GAUGE, COUNTER or CUMULATIVE_COUNTER"
                    .to_owned(),
            );
        }
        other => {
            return fail(
                Some(metric),
                dimensions,
                format!("unknown metric type {other}"),
            );
        }
    };
    let value = match value {
        Some(proto::Datum {
            str_value: Some(s),
            double_value: None,
            int_value: None,
        }) => PointValue::Str(s),
        Some(proto::Datum {
            str_value: None,
            double_value: Some(d),
            int_value: None,
        }) => PointValue::Double(d),
        Some(proto::Datum {
            str_value: None,
            double_value: None,
            int_value: Some(i),
        }) => PointValue::Int(i),
        None
        | Some(proto::Datum {
            str_value: None,
            double_value: None,
            int_value: None,
        }) => {
            return fail(
                Some(metric),
                dimensions,
                "the point has no value".to_owned(),
            );
        }
        Some(_) => {
            return fail(
                Some(metric),
                dimensions,
                "the point's value sets more than one of strValue, doubleValue and intValue"
                    .to_owned(),
            );
        }
    };
    Ok(Datapoint {
        metric,
        dimensions,
        timestamp_ms: timestamp,
        value,
        metric_type,
    })
}

/// Dimension keys and values must be non-empty and keys distinct: a series' labels are.
pub(crate) fn check_dimensions(dimensions: &[(String, String)]) -> Result<(), String> {
    for (i, (key, value)) in dimensions.iter().enumerate() {
        if key.is_empty() {
            return Err(format!("a dimension has an empty key (value {value:?})"));
        }
        if value.is_empty() {
            return Err(format!("dimension `{key}` has an empty value"));
        }
        if dimensions[..i].iter().any(|(k, _)| k == key) {
            return Err(format!("dimension `{key}` is given twice"));
        }
    }
    Ok(())
}

/// Decodes the JSON body of the fallback client.
pub fn decode_json(bytes: &[u8]) -> Result<DatapointBody> {
    let document = json::parse(bytes).map_err(Error::Json)?;
    let Json::Object(members) = document else {
        return Err(Error::Json(format!(
            "expected an object of `gauge`, `counter` and `cumulative_counter` arrays, not {}",
            document.kind()
        )));
    };
    let mut body = DatapointBody::default();
    let mut index = 0;
    for (key, points) in members {
        let metric_type = [
            MetricType::Gauge,
            MetricType::Counter,
            MetricType::CumulativeCounter,
        ]
        .into_iter()
        .find(|t| t.json_key() == key);
        let Json::Array(points) = points else {
            return Err(Error::Json(format!(
                "`{key}` must be an array of points, not {}",
                points.kind()
            )));
        };
        for point in points {
            let result = match metric_type {
                Some(t) => from_json(point, t),
                None => Err((
                    None,
                    Vec::new(),
                    format!(
                        "`{key}` is not a metric type: expected gauge, counter or cumulative_counter"
                    ),
                )),
            };
            match result {
                Ok(point) => body.points.push(point),
                Err((metric, dimensions, reason)) => body.refused.push(BadPoint {
                    index,
                    metric,
                    dimensions,
                    reason,
                }),
            }
            index += 1;
        }
    }
    Ok(body)
}

fn from_json(point: Json, metric_type: MetricType) -> Result<Datapoint, Refused> {
    let Json::Object(members) = point else {
        return Err((
            None,
            Vec::new(),
            format!("a point must be an object, not {}", point.kind()),
        ));
    };
    let mut metric = None;
    let mut value = None;
    let mut timestamp = None;
    let mut dimensions = Vec::new();
    let mut problem = None;
    for (key, member) in members {
        match key.as_str() {
            "metric" => match member {
                Json::Str(s) if !s.is_empty() => metric = Some(s),
                other => {
                    problem.get_or_insert(format!(
                        "`metric` must be a non-empty string, not {}",
                        other.kind()
                    ));
                }
            },
            "value" => value = Some(member),
            "timestamp" => match member {
                Json::Null => timestamp = None,
                Json::Int(t) => timestamp = Some(t),
                Json::BigInt(t) => {
                    problem.get_or_insert(format!(
                        "timestamp {t} is out of range: milliseconds since the epoch fit 64 bits"
                    ));
                }
                other => {
                    problem.get_or_insert(format!(
                        "`timestamp` must be an integer of milliseconds, not {}",
                        other.kind()
                    ));
                }
            },
            "dimensions" => match member {
                Json::Null => {}
                Json::Object(dims) => {
                    for (k, v) in dims {
                        match v {
                            Json::Str(v) => dimensions.push((k, v)),
                            other => {
                                problem.get_or_insert(format!(
                                    "dimension `{k}` must be a string, not {}",
                                    other.kind()
                                ));
                            }
                        }
                    }
                }
                other => {
                    problem.get_or_insert(format!(
                        "`dimensions` must be an object of strings, not {}",
                        other.kind()
                    ));
                }
            },
            // Fields of other clients, such as `source`, are ignored.
            _ => {}
        }
    }
    if let Some(problem) = problem {
        return Err((metric, dimensions, problem));
    }
    if let Err(reason) = check_dimensions(&dimensions) {
        return Err((metric, dimensions, reason));
    }
    let Some(metric) = metric else {
        return Err((None, dimensions, "the point has no metric name".to_owned()));
    };
    let value = match value {
        Some(Json::Int(i)) => PointValue::Int(i),
        Some(Json::Float(f)) => PointValue::Double(f),
        Some(Json::Str(s)) => PointValue::Str(s),
        Some(Json::BigInt(digits)) => {
            return Err((
                Some(metric),
                dimensions,
                format!("integer value {digits} is out of range: integers are stored in 64 bits"),
            ));
        }
        None | Some(Json::Null) => {
            return Err((
                Some(metric),
                dimensions,
                "the point has no value".to_owned(),
            ));
        }
        Some(other) => {
            return Err((
                Some(metric),
                dimensions,
                format!(
                    "the value must be a number or a string, not {}",
                    other.kind()
                ),
            ));
        }
    };
    Ok(Datapoint {
        metric,
        dimensions,
        timestamp_ms: timestamp,
        value,
        metric_type,
    })
}

/// Encodes points as a `DataPointUploadMessage` (for tests and benchmarks: what the Python
/// client sends).
pub fn encode_protobuf(points: &[Datapoint]) -> Vec<u8> {
    let message = proto::DataPointUploadMessage {
        datapoints: points
            .iter()
            .map(|p| proto::DataPoint {
                source: None,
                metric: Some(p.metric.clone()),
                timestamp: p.timestamp_ms,
                value: Some(match &p.value {
                    PointValue::Int(i) => proto::Datum {
                        int_value: Some(*i),
                        ..Default::default()
                    },
                    PointValue::Double(d) => proto::Datum {
                        double_value: Some(*d),
                        ..Default::default()
                    },
                    PointValue::Str(s) => proto::Datum {
                        str_value: Some(s.clone()),
                        ..Default::default()
                    },
                }),
                metric_type: Some(match p.metric_type {
                    MetricType::Gauge => proto::MetricType::Gauge,
                    MetricType::Counter => proto::MetricType::Counter,
                    MetricType::CumulativeCounter => proto::MetricType::CumulativeCounter,
                } as i32),
                dimensions: p
                    .dimensions
                    .iter()
                    .map(|(k, v)| proto::Dimension {
                        key: Some(k.clone()),
                        value: Some(v.clone()),
                    })
                    .collect(),
            })
            .collect(),
    };
    prost::Message::encode_to_vec(&message)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn point(metric: &str, value: PointValue, t: Option<i64>, mt: MetricType) -> Datapoint {
        Datapoint {
            metric: metric.into(),
            dimensions: vec![("host".into(), "h1".into())],
            timestamp_ms: t,
            value,
            metric_type: mt,
        }
    }

    #[test]
    fn protobuf_round_trips_with_presence() {
        let points = vec![
            point(
                "g",
                PointValue::Double(f64::INFINITY),
                Some(1),
                MetricType::Gauge,
            ),
            point("c", PointValue::Int(i64::MIN), None, MetricType::Counter),
            point(
                "cc",
                PointValue::Str("x".into()),
                Some(0),
                MetricType::CumulativeCounter,
            ),
        ];
        let body = decode_protobuf(&encode_protobuf(&points)).unwrap();
        assert_eq!(body.points, points);
        assert!(body.refused.is_empty());
    }

    #[test]
    fn bad_protobuf_points_are_refused_alone() {
        let good = proto::DataPoint {
            metric: Some("m".into()),
            value: Some(proto::Datum {
                int_value: Some(1),
                ..Default::default()
            }),
            ..Default::default()
        };
        let dim = |k: &str, v: &str| proto::Dimension {
            key: Some(k.into()),
            value: Some(v.into()),
        };
        let cases: Vec<(proto::DataPoint, &str)> = vec![
            (
                proto::DataPoint {
                    metric: None,
                    ..good.clone()
                },
                "the point has no metric name",
            ),
            (
                proto::DataPoint {
                    value: None,
                    ..good.clone()
                },
                "the point has no value",
            ),
            (
                proto::DataPoint {
                    value: Some(proto::Datum {
                        int_value: Some(1),
                        double_value: Some(1.0),
                        str_value: None,
                    }),
                    ..good.clone()
                },
                "the point's value sets more than one of strValue, doubleValue and intValue",
            ),
            (
                proto::DataPoint {
                    metric_type: Some(2),
                    ..good.clone()
                },
                "metric type ENUM is not served: send GAUGE, COUNTER or CUMULATIVE_COUNTER",
            ),
            (
                proto::DataPoint {
                    metric_type: Some(9),
                    ..good.clone()
                },
                "unknown metric type 9",
            ),
            (
                proto::DataPoint {
                    dimensions: vec![dim("host", "")],
                    ..good.clone()
                },
                "dimension `host` has an empty value",
            ),
            (
                proto::DataPoint {
                    dimensions: vec![dim("a", "1"), dim("a", "2")],
                    ..good.clone()
                },
                "dimension `a` is given twice",
            ),
        ];
        for (bad, reason) in cases {
            let message = proto::DataPointUploadMessage {
                datapoints: vec![good.clone(), bad, good.clone()],
            };
            let body = decode_protobuf(&prost::Message::encode_to_vec(&message)).unwrap();
            assert_eq!(body.points.len(), 2, "{reason}");
            assert_eq!(body.points[0].metric_type, MetricType::Gauge);
            assert_eq!(body.points[0].timestamp_ms, None);
            assert_eq!(body.refused.len(), 1, "{reason}");
            assert_eq!(body.refused[0].index, 1);
            assert_eq!(body.refused[0].reason, reason);
        }
        let err = decode_protobuf(b"\x0a\xff").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the body is not a valid protobuf DataPointUploadMessage"),
            "{err}"
        );
    }

    #[test]
    fn json_bodies_as_the_fallback_client_sends_them() {
        let body = br#"{"gauge": [{"metric": "g", "value": NaN, "dimensions": {"host": "h1"}},
                                  {"metric": "g2", "value": 9223372036854775808, "timestamp": 5},
                                  {"metric": "g3", "value": true}],
                        "counter": [{"metric": "c", "value": 3, "timestamp": 1000}],
                        "cumulative_counter": [{"metric": "cc", "value": "s", "timestamp": null}],
                        "histogram": [{"metric": "h", "value": 1}]}"#;
        let body = decode_json(body).unwrap();
        let got: Vec<_> = body
            .points
            .iter()
            .map(|p| (p.metric.as_str(), p.metric_type, p.timestamp_ms))
            .collect();
        assert_eq!(
            got,
            [
                ("g", MetricType::Gauge, None),
                ("c", MetricType::Counter, Some(1000)),
                ("cc", MetricType::CumulativeCounter, None),
            ]
        );
        assert!(matches!(body.points[0].value, PointValue::Double(v) if v.is_nan()));
        assert_eq!(body.points[0].dimensions, [("host".into(), "h1".into())]);
        assert_eq!(body.points[1].value, PointValue::Int(3));
        assert_eq!(body.points[2].value, PointValue::Str("s".into()));
        let refused: Vec<_> = body
            .refused
            .iter()
            .map(|r| (r.index, r.metric.as_deref(), r.reason.as_str()))
            .collect();
        assert_eq!(
            refused,
            [
                (
                    1,
                    Some("g2"),
                    "integer value 9223372036854775808 is out of range: integers are stored in 64 bits"
                ),
                (
                    2,
                    Some("g3"),
                    "the value must be a number or a string, not a boolean"
                ),
                (
                    5,
                    None,
                    "`histogram` is not a metric type: expected gauge, counter or cumulative_counter"
                ),
            ]
        );
        for (text, want) in [
            (&b"[]"[..], "expected an object of `gauge`"),
            (
                b"{\"gauge\": 1}",
                "`gauge` must be an array of points, not an integer",
            ),
            (b"{\"gauge\": [", "the body ends where a value was expected"),
        ] {
            let err = decode_json(text).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
    }

    proptest! {
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_protobuf(&bytes);
            let _ = decode_json(&bytes);
        }
    }
}
