//! The ingest request in TruEra's shape, decoded in one pass over the body without building a
//! JSON tree: each event's data becomes a list of (key, value) pairs whose text borrows from
//! the body where it holds no escapes. A body that is not this shape is refused whole with
//! the place named (`events[3].data`); more than [`MAX_EVENTS`] events stop the decoding.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The most events one request may hold.
pub const MAX_EVENTS: usize = 1_000;
/// The longest `project_id` and `model_id`, in bytes.
pub const MAX_NAME_LEN: usize = 1_024;

/// A value of an event's data: a JSON scalar, or a list of them (tags), or the mark of an
/// object (which no column takes).
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer that fits an i64.
    Int(i64),
    /// An integer above i64's range.
    UInt(u64),
    /// A number with a fraction or exponent.
    Float(f64),
    /// Text.
    Str(Cow<'a, str>),
    /// A list.
    List(Vec<Scalar<'a>>),
    /// An object (its content is skipped).
    Object,
}

impl Scalar<'_> {
    /// What kind of value this is, as messages say it.
    pub fn kind(&self) -> &'static str {
        match self {
            Scalar::Null => "null",
            Scalar::Bool(_) => "a bool",
            Scalar::Int(_) | Scalar::UInt(_) | Scalar::Float(_) => "a number",
            Scalar::Str(_) => "text",
            Scalar::List(_) => "a list",
            Scalar::Object => "an object",
        }
    }
}

impl fmt::Display for Scalar<'_> {
    /// As JSON (an object as `{...}`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Null => f.write_str("null"),
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::UInt(u) => write!(f, "{u}"),
            Scalar::Float(x) => match serde_json::Number::from_f64(*x) {
                Some(n) => write!(f, "{n}"),
                None => write!(f, "{x}"),
            },
            Scalar::Str(s) => match serde_json::to_string(s.as_ref()) {
                Ok(quoted) => f.write_str(&quoted),
                Err(_) => write!(f, "{s:?}"),
            },
            Scalar::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Scalar::Object => f.write_str("{...}"),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Null)
    }

    fn visit_none<E>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Scalar<'de>, E> {
        Ok(i64::try_from(v).map_or(Scalar::UInt(v), Scalar::Int))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Float(v))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Scalar::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Object)
    }
}

/// A key of an object, borrowed from the body when it holds no escapes (serde's own `Cow<str>`
/// always copies).
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// One event's data: its keys and values in the order written.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventData<'a> {
    /// The pairs; a key written twice appears twice (the later one counts).
    pub fields: Vec<(Cow<'a, str>, Scalar<'a>)>,
}

impl<'a> EventData<'a> {
    /// The value of `key`, the last one if written twice.
    pub fn get(&self, key: &str) -> Option<&Scalar<'a>> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Whether `key` is present with a value other than `null`.
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| *v != Scalar::Null)
    }
}

/// A decoded request: which collection, which project, and each event's data.
#[derive(Debug, Clone, PartialEq)]
pub struct Request<'a> {
    /// The project the events are sent for (empty when the request names none).
    pub project_id: String,
    /// The collection.
    pub model_id: String,
    /// Each event's `data`.
    pub events: Vec<EventData<'a>>,
}

#[derive(Deserialize)]
struct RawRequest<'a> {
    #[serde(default, borrow)]
    project_id: Option<Scalar<'a>>,
    #[serde(default, borrow)]
    model_id: Option<Scalar<'a>>,
    #[serde(default, borrow)]
    events: Option<Events<'a>>,
}

/// The events, the first [`MAX_EVENTS`] of them decoded, and how many there were.
struct Events<'a>(Vec<EventData<'a>>, usize);

impl<'de: 'a, 'a> Deserialize<'de> for Events<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EventsVisitor;
        impl<'de> Visitor<'de> for EventsVisitor {
            type Value = Events<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of events, each {\"data\": {...}}")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Events<'de>, A::Error> {
                let mut events = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_EVENTS));
                while events.len() < MAX_EVENTS {
                    match seq.next_element_seed(EventSeed(events.len()))? {
                        Some(event) => events.push(event),
                        None => {
                            let n = events.len();
                            return Ok(Events(events, n));
                        }
                    }
                }
                // Past the limit the request is refused whole: the rest is only counted.
                let mut total = events.len();
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    total += 1;
                }
                Ok(Events(events, total))
            }
        }
        deserializer.deserialize_seq(EventsVisitor)
    }
}

/// The event at an index: `{"data": {...}}`, other keys ignored.
struct EventSeed(usize);

impl<'de> DeserializeSeed<'de> for EventSeed {
    type Value = EventData<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EventSeed {
    type Value = EventData<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "events[{}] as an object {{\"data\": {{...}}}}", self.0)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EventData<'de>, A::Error> {
        let mut data = None;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if key == "data" {
                data = Some(map.next_value_seed(DataSeed(self.0))?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        data.ok_or_else(|| de::Error::custom(format!("events[{}] has no `data` object", self.0)))
    }
}

/// The `data` of the event at an index: an object of column values.
struct DataSeed(usize);

impl<'de> DeserializeSeed<'de> for DataSeed {
    type Value = EventData<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DataSeed {
    type Value = EventData<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "events[{}].data as an object of column values", self.0)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EventData<'de>, A::Error> {
        let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(16));
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let value: Scalar<'de> = map.next_value()?;
            fields.push((key, value));
        }
        Ok(EventData { fields })
    }
}

/// Decodes a request body. The error names what is wrong and where (`events[3].data`).
pub fn decode_request(body: &[u8]) -> Result<Request<'_>, String> {
    let shape = "{\"project_id\", \"model_id\", \"events\": [{\"data\": {...}}]}";
    // serde would also read the fields from a list; a request is an object.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(format!(
            "the body is not an ingest request {shape}: not a JSON object"
        ));
    }
    let raw: RawRequest<'_> = serde_json::from_slice(body)
        .map_err(|e| format!("the body is not an ingest request {shape}: {e}"))?;
    let text = |value: Option<Scalar<'_>>, field: &str, required: bool| match value {
        Some(Scalar::Str(s)) => Ok(s.into_owned()),
        None | Some(Scalar::Null) if !required => Ok(String::new()),
        None | Some(Scalar::Null) => Err(format!("`{field}` is missing: it names the collection")),
        Some(other) => Err(format!("`{field}` must be text, found {other}")),
    };
    let model_id = text(raw.model_id, "model_id", true)?;
    let project_id = text(raw.project_id, "project_id", false)?;
    for (field, value) in [("model_id", &model_id), ("project_id", &project_id)] {
        if value.len() > MAX_NAME_LEN {
            return Err(format!(
                "`{field}` is {} bytes long; the limit is {MAX_NAME_LEN}",
                value.len()
            ));
        }
    }
    let Events(events, total) = raw
        .events
        .ok_or("`events` is missing: it lists the events to ingest")?;
    if total > MAX_EVENTS {
        return Err(format!(
            "{total} events in one request; the limit is {MAX_EVENTS}: split them into several requests"
        ));
    }
    Ok(Request {
        project_id,
        model_id,
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_borrow_their_text_and_keep_their_order() {
        let body = br#"{"model_id": "m", "events": [{"data": {"id": "a\u0062", "x": 1.5, "n": 2, "t": ["p", "q"], "o": {"k": [1]}, "z": null}}]}"#;
        let request = decode_request(body).unwrap();
        assert_eq!(request.project_id, "");
        let data = &request.events[0];
        let keys: Vec<&str> = data.fields.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["id", "x", "n", "t", "o", "z"]);
        assert!(
            data.fields
                .iter()
                .all(|(k, _)| matches!(k, Cow::Borrowed(_)))
        );
        assert_eq!(data.get("id"), Some(&Scalar::Str("ab".into())));
        assert!(matches!(data.get("x"), Some(Scalar::Float(x)) if *x == 1.5));
        assert_eq!(
            data.get("o").map(ToString::to_string).as_deref(),
            Some("{...}")
        );
        assert_eq!(
            data.get("t").map(ToString::to_string).as_deref(),
            Some(r#"["p","q"]"#)
        );
        assert!(!data.has("z"));
    }

    #[test]
    fn malformed_requests_are_refused_whole_naming_where() {
        let err = |body: &str| decode_request(body.as_bytes()).unwrap_err();
        assert!(err("[]").contains("not an ingest request"), "{}", err("[]"));
        assert!(err(r#"{"events": []}"#).contains("`model_id` is missing"));
        let long = format!(
            r#"{{"model_id": "m", "project_id": "{}", "events": []}}"#,
            "p".repeat(1025)
        );
        assert_eq!(
            err(&long),
            "`project_id` is 1025 bytes long; the limit is 1024"
        );
        let e = err(r#"{"model_id": "m", "events": [{"data": {}}, {"data": 3}]}"#);
        assert!(
            e.contains("events[1].data as an object of column values"),
            "{e}"
        );
        let e = err(r#"{"model_id": "m", "events": [{"data": {}}, 7]}"#);
        assert!(e.contains("events[1] as an object"), "{e}");
        let e = err(r#"{"model_id": "m", "events": [{"data": {}}, {"date": {}}]}"#);
        assert!(e.contains("events[1] has no `data` object"), "{e}");
        let many = format!(
            r#"{{"model_id": "m", "events": [{}]}}"#,
            vec![r#"{"data": {}}"#; 1001].join(",")
        );
        let e = err(&many);
        assert_eq!(
            e,
            "1001 events in one request; the limit is 1000: split them into several requests"
        );
    }
}
