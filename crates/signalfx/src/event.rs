//! `POST /v2/event` bodies: an `EventUploadMessage` in protobuf, or the JSON array of the
//! fallback client, `[{"eventType", "category", "dimensions", "properties", "timestamp"}]`.
//!
//! As with datapoints, each event is decoded on its own and a bad one is refused alone. An
//! absent category is `USER_DEFINED` (the proto2 default, and what the JSON client's `null`
//! means); an absent timestamp is the server's time.

use crate::datapoint::check_dimensions;
use crate::json::{self, Json};
use crate::{Error, Result, proto};

/// An event's category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventCategory {
    /// Sent by users: the default.
    UserDefined,
    /// An alert.
    Alert,
    /// An audit record.
    Audit,
    /// A job.
    Job,
    /// From collectd.
    Collectd,
    /// From service discovery.
    ServiceDiscovery,
    /// An exception.
    Exception,
    /// From an agent.
    Agent,
}

const CATEGORIES: [(EventCategory, &str, i32); 8] = [
    (EventCategory::UserDefined, "USER_DEFINED", 1_000_000),
    (EventCategory::Alert, "ALERT", 100_000),
    (EventCategory::Audit, "AUDIT", 200_000),
    (EventCategory::Job, "JOB", 300_000),
    (EventCategory::Collectd, "COLLECTD", 400_000),
    (
        EventCategory::ServiceDiscovery,
        "SERVICE_DISCOVERY",
        500_000,
    ),
    (EventCategory::Exception, "EXCEPTION", 700_000),
    (EventCategory::Agent, "AGENT", 2_000_000),
];

impl EventCategory {
    /// The category's name: `USER_DEFINED`, `ALERT`, ...
    pub fn as_str(self) -> &'static str {
        CATEGORIES
            .iter()
            .find(|(c, _, _)| *c == self)
            .map_or("USER_DEFINED", |(_, name, _)| name)
    }

    /// The category of a name, in any case.
    pub fn parse(name: &str) -> Option<EventCategory> {
        CATEGORIES
            .iter()
            .find(|(_, n, _)| n.eq_ignore_ascii_case(name))
            .map(|(c, _, _)| *c)
    }

    /// The category of a protobuf enum number.
    pub fn from_number(number: i32) -> Option<EventCategory> {
        CATEGORIES
            .iter()
            .find(|(_, _, n)| *n == number)
            .map(|(c, _, _)| *c)
    }

    /// The protobuf enum number.
    pub fn number(self) -> i32 {
        CATEGORIES
            .iter()
            .find(|(c, _, _)| *c == self)
            .map_or(1_000_000, |(_, _, n)| *n)
    }
}

impl std::fmt::Display for EventCategory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event property's value, with its type as sent.
#[derive(Debug, Clone, PartialEq)]
pub enum PropertyValue {
    /// A string.
    Str(String),
    /// A double.
    Double(f64),
    /// A 64-bit integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

/// One decoded event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event type, not empty.
    pub event_type: String,
    /// The category.
    pub category: EventCategory,
    /// Dimensions, keys and values not empty, keys distinct.
    pub dimensions: Vec<(String, String)>,
    /// Properties, keys not empty.
    pub properties: Vec<(String, PropertyValue)>,
    /// Milliseconds since the Unix epoch; `None` means the server's time.
    pub timestamp_ms: Option<i64>,
}

/// An event refused by the decoder, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct BadEvent {
    /// Its position in the body, from 0.
    pub index: usize,
    /// Its event type, when it has one.
    pub event_type: Option<String>,
    /// What is wrong, quoting the input.
    pub reason: String,
}

/// A decoded body: the events kept and those refused.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventBody {
    /// The good events, in body order.
    pub events: Vec<Event>,
    /// The refused events, in body order.
    pub refused: Vec<BadEvent>,
}

/// The most events one body may hold (the client sends one per request).
pub const MAX_EVENTS: usize = 100_000;

/// Decodes an `EventUploadMessage`.
pub fn decode_protobuf(bytes: &[u8]) -> Result<EventBody> {
    // Counted before decoding: each event decoded costs about a hundred bytes whatever its
    // size in the body.
    let count = crate::fast::count_points(bytes);
    if count > MAX_EVENTS {
        return Err(Error::Protobuf {
            message: "EventUploadMessage",
            reason: format!(
                "the body holds {count} events; at most {MAX_EVENTS} are read from one request"
            ),
        });
    }
    let message: proto::EventUploadMessage =
        prost::Message::decode(bytes).map_err(|e| Error::Protobuf {
            message: "EventUploadMessage",
            reason: e.to_string(),
        })?;
    let mut body = EventBody::default();
    for (index, event) in message.events.into_iter().enumerate() {
        let event_type = event.event_type.clone().filter(|t| !t.is_empty());
        match from_proto(event) {
            Ok(event) => body.events.push(event),
            Err(reason) => body.refused.push(BadEvent {
                index,
                event_type,
                reason,
            }),
        }
    }
    Ok(body)
}

fn from_proto(event: proto::Event) -> Result<Event, String> {
    let event_type = event
        .event_type
        .filter(|t| !t.is_empty())
        .ok_or("the event has no eventType")?;
    let category = match event.category {
        None => EventCategory::UserDefined,
        Some(n) => EventCategory::from_number(n).ok_or(format!("unknown event category {n}"))?,
    };
    let dimensions: Vec<(String, String)> = event
        .dimensions
        .into_iter()
        .map(|d| (d.key.unwrap_or_default(), d.value.unwrap_or_default()))
        .collect();
    check_dimensions(&dimensions)?;
    let mut properties = Vec::with_capacity(event.properties.len());
    for property in event.properties {
        let key = property
            .key
            .filter(|k| !k.is_empty())
            .ok_or("a property has no key")?;
        let value = match property.value.unwrap_or_default() {
            proto::PropertyValue {
                str_value: Some(s),
                double_value: None,
                int_value: None,
                bool_value: None,
            } => PropertyValue::Str(s),
            proto::PropertyValue {
                str_value: None,
                double_value: Some(d),
                int_value: None,
                bool_value: None,
            } => PropertyValue::Double(d),
            proto::PropertyValue {
                str_value: None,
                double_value: None,
                int_value: Some(i),
                bool_value: None,
            } => PropertyValue::Int(i),
            proto::PropertyValue {
                str_value: None,
                double_value: None,
                int_value: None,
                bool_value: Some(b),
            } => PropertyValue::Bool(b),
            _ => {
                return Err(format!(
                    "property `{key}` must set exactly one of strValue, doubleValue, intValue and boolValue"
                ));
            }
        };
        check_property(&properties, &key)?;
        properties.push((key, value));
    }
    Ok(Event {
        event_type,
        category,
        dimensions,
        properties,
        timestamp_ms: event.timestamp,
    })
}

fn check_property(properties: &[(String, PropertyValue)], key: &str) -> Result<(), String> {
    if properties.iter().any(|(k, _)| k == key) {
        return Err(format!("property `{key}` is given twice"));
    }
    Ok(())
}

/// Decodes the JSON body of the fallback client: an array of event objects.
pub fn decode_json(bytes: &[u8]) -> Result<EventBody> {
    let document = json::parse(bytes).map_err(Error::Json)?;
    let events = match document {
        Json::Array(events) => events,
        // A single object is taken as an array of one.
        object @ Json::Object(_) => vec![object],
        other => {
            return Err(Error::Json(format!(
                "expected an array of events, not {}",
                other.kind()
            )));
        }
    };
    let mut body = EventBody::default();
    for (index, event) in events.into_iter().enumerate() {
        let event_type = match event.get("eventType") {
            Some(Json::Str(t)) if !t.is_empty() => Some(t.clone()),
            _ => None,
        };
        match from_json(&event) {
            Ok(event) => body.events.push(event),
            Err(reason) => body.refused.push(BadEvent {
                index,
                event_type,
                reason,
            }),
        }
    }
    Ok(body)
}

fn from_json(event: &Json) -> Result<Event, String> {
    if !matches!(event, Json::Object(_)) {
        return Err(format!("an event must be an object, not {}", event.kind()));
    }
    let event_type = match event.get("eventType") {
        Some(Json::Str(t)) if !t.is_empty() => t.clone(),
        None | Some(Json::Null) => return Err("the event has no eventType".into()),
        Some(other) => {
            return Err(format!(
                "`eventType` must be a non-empty string, not {}",
                other.kind()
            ));
        }
    };
    let category = match event.get("category") {
        None | Some(Json::Null) => EventCategory::UserDefined,
        Some(Json::Str(name)) => {
            EventCategory::parse(name).ok_or(format!("unknown event category {name:?}"))?
        }
        Some(Json::Int(n)) => EventCategory::from_number(i32::try_from(*n).unwrap_or(0))
            .ok_or(format!("unknown event category {n}"))?,
        Some(other) => return Err(format!("`category` must be a string, not {}", other.kind())),
    };
    let mut dimensions = Vec::new();
    match event.get("dimensions") {
        None | Some(Json::Null) => {}
        Some(Json::Object(dims)) => {
            for (k, v) in dims {
                match v {
                    Json::Str(v) => dimensions.push((k.clone(), v.clone())),
                    other => {
                        return Err(format!(
                            "dimension `{k}` must be a string, not {}",
                            other.kind()
                        ));
                    }
                }
            }
        }
        Some(other) => {
            return Err(format!(
                "`dimensions` must be an object of strings, not {}",
                other.kind()
            ));
        }
    }
    check_dimensions(&dimensions)?;
    let mut properties = Vec::new();
    match event.get("properties") {
        None | Some(Json::Null) => {}
        Some(Json::Object(props)) => {
            for (k, v) in props {
                if k.is_empty() {
                    return Err("a property has an empty key".into());
                }
                let value = match v {
                    Json::Str(s) => PropertyValue::Str(s.clone()),
                    Json::Bool(b) => PropertyValue::Bool(*b),
                    Json::Int(i) => PropertyValue::Int(*i),
                    Json::Float(f) => PropertyValue::Double(*f),
                    Json::BigInt(digits) => {
                        return Err(format!(
                            "property `{k}`: integer {digits} is out of range: integers are stored in 64 bits"
                        ));
                    }
                    other => {
                        return Err(format!(
                            "property `{k}` must be a string, number or boolean, not {}",
                            other.kind()
                        ));
                    }
                };
                check_property(&properties, k)?;
                properties.push((k.clone(), value));
            }
        }
        Some(other) => {
            return Err(format!(
                "`properties` must be an object, not {}",
                other.kind()
            ));
        }
    }
    let timestamp_ms = match event.get("timestamp") {
        None | Some(Json::Null) => None,
        Some(Json::Int(t)) => Some(*t),
        Some(other) => {
            return Err(format!(
                "`timestamp` must be an integer of milliseconds, not {}",
                other.kind()
            ));
        }
    };
    Ok(Event {
        event_type,
        category,
        dimensions,
        properties,
        timestamp_ms,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_body_of_more_events_than_the_limit_is_refused_whole() {
        let body = [0x0a, 0x00].repeat(MAX_EVENTS + 1);
        let err = decode_protobuf(&body).unwrap_err().to_string();
        assert!(err.contains("holds 100001 events; at most 100000"), "{err}");
        let body = [0x0a, 0x00].repeat(MAX_EVENTS);
        assert_eq!(decode_protobuf(&body).unwrap().refused.len(), MAX_EVENTS);
    }

    #[test]
    fn protobuf_events_keep_presence_and_property_types() {
        let prop = |k: &str, v: proto::PropertyValue| proto::Property {
            key: Some(k.into()),
            value: Some(v),
        };
        let message = proto::EventUploadMessage {
            events: vec![
                proto::Event {
                    event_type: Some("deploy".into()),
                    dimensions: vec![proto::Dimension {
                        key: Some("host".into()),
                        value: Some("h1".into()),
                    }],
                    properties: vec![
                        prop(
                            "s",
                            proto::PropertyValue {
                                str_value: Some("v".into()),
                                ..Default::default()
                            },
                        ),
                        prop(
                            "d",
                            proto::PropertyValue {
                                double_value: Some(1.5),
                                ..Default::default()
                            },
                        ),
                        prop(
                            "i",
                            proto::PropertyValue {
                                int_value: Some(-3),
                                ..Default::default()
                            },
                        ),
                        prop(
                            "b",
                            proto::PropertyValue {
                                bool_value: Some(false),
                                ..Default::default()
                            },
                        ),
                    ],
                    category: None,
                    timestamp: None,
                },
                proto::Event {
                    event_type: None,
                    ..Default::default()
                },
                proto::Event {
                    event_type: Some("a".into()),
                    category: Some(100_000),
                    timestamp: Some(7),
                    ..Default::default()
                },
            ],
        };
        let body = decode_protobuf(&prost::Message::encode_to_vec(&message)).unwrap();
        assert_eq!(
            body.events[0],
            Event {
                event_type: "deploy".into(),
                category: EventCategory::UserDefined,
                dimensions: vec![("host".into(), "h1".into())],
                properties: vec![
                    ("s".into(), PropertyValue::Str("v".into())),
                    ("d".into(), PropertyValue::Double(1.5)),
                    ("i".into(), PropertyValue::Int(-3)),
                    ("b".into(), PropertyValue::Bool(false)),
                ],
                timestamp_ms: None,
            }
        );
        assert_eq!(body.events[1].category, EventCategory::Alert);
        assert_eq!(body.events[1].timestamp_ms, Some(7));
        assert_eq!(
            body.refused,
            [BadEvent {
                index: 1,
                event_type: None,
                reason: "the event has no eventType".into()
            }]
        );
    }

    #[test]
    fn json_events_as_the_fallback_client_sends_them() {
        let body = br#"[{"eventType": "deploy", "category": null, "dimensions": {"host": "h"},
                          "properties": {"b": true, "i": 1, "d": 2.5, "s": "x"}, "timestamp": null},
                         {"eventType": "e", "category": "JOB", "timestamp": 12},
                         {"eventType": "e", "properties": {"i": 18446744073709551616}},
                         {"eventType": "e", "category": "NOPE"}]"#;
        let body = decode_json(body).unwrap();
        assert_eq!(body.events.len(), 2);
        assert_eq!(body.events[0].category, EventCategory::UserDefined);
        assert_eq!(
            body.events[0].properties,
            [
                ("b".into(), PropertyValue::Bool(true)),
                ("i".into(), PropertyValue::Int(1)),
                ("d".into(), PropertyValue::Double(2.5)),
                ("s".into(), PropertyValue::Str("x".into())),
            ]
        );
        assert_eq!(body.events[1].category, EventCategory::Job);
        assert_eq!(body.events[1].timestamp_ms, Some(12));
        let reasons: Vec<_> = body.refused.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "property `i`: integer 18446744073709551616 is out of range: integers are stored in 64 bits",
                "unknown event category \"NOPE\"",
            ]
        );
    }

    #[test]
    fn categories_name_and_number_round_trip() {
        for (category, name, number) in CATEGORIES {
            assert_eq!(category.as_str(), name);
            assert_eq!(EventCategory::parse(name), Some(category));
            assert_eq!(EventCategory::from_number(number), Some(category));
            assert_eq!(category.number(), number);
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
