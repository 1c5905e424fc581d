//! Messages encoded once: JSON text ready for any transport, and the points of a commit
//! encoded once for every subscriber that sends them.
//!
//! Subscribers following the live feed send the same commits at about the same time. The
//! points of one series in one commit (`"timestamps":[…],"values":[…]`) are encoded by the
//! first subscription that needs them and kept in a [`Fragments`] cache shared by all, keyed
//! by the commit's sequence number and the series' place in it; the others copy the text.
//! A `points` message is then the fragments of its series, each behind its stream-local id.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use serde::Serialize;
use sextant_api::live::{LiveValue, Message};
use sextant_model::{Point, Value};

/// How a transport frames each message's JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Framing {
    /// The JSON alone (a WebSocket text message).
    #[default]
    Json,
    /// A whole Server-Sent Events record: `event:` the type, `id:` the cursor when there is
    /// one, `data:` the JSON (which holds no line break), and a blank line.
    Sse,
}

/// A message ready for the wire, framed for its transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// Its `type`, e.g. `points`.
    pub kind: &'static str,
    /// The resume point it carries, if any.
    pub cursor: Option<u64>,
    /// Its text: the JSON, framed.
    pub text: String,
    /// Where the JSON starts in `text`.
    json_at: usize,
}

impl Encoded {
    /// `message`, framed.
    pub fn of(message: &Message, framing: Framing) -> Encoded {
        // The wire types have string keys only: serializing cannot fail.
        let json = serde_json::to_string(message).unwrap_or_else(|e| {
            format!(r#"{{"type":"error","message":"cannot encode a message: {e}"}}"#)
        });
        let mut out = Encoded::start(message.kind(), message.cursor(), framing, json.len());
        out.text.push_str(&json);
        out.finish(framing)
    }

    /// A `points` message of `series` (stream-local id and fragment each), as
    /// [`Message::Points`] serializes, framed.
    pub fn points(cursor: Option<u64>, series: &[(u32, Arc<str>)], framing: Framing) -> Encoded {
        let bytes: usize = series.iter().map(|(_, f)| f.len() + 16).sum();
        let mut out = Encoded::start("points", cursor, framing, bytes + 48);
        let json = &mut out.text;
        json.push_str(r#"{"type":"points","cursor":"#);
        match cursor {
            Some(c) => {
                let _ = write!(json, "{c}");
            }
            None => json.push_str("null"),
        }
        json.push_str(r#","series":["#);
        for (i, (id, fragment)) in series.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            let _ = write!(json, r#"{{"id":{id},"#);
            json.push_str(fragment);
            json.push('}');
        }
        json.push_str("]}");
        out.finish(framing)
    }

    /// The JSON of the message, without its framing.
    pub fn json(&self) -> &str {
        self.text[self.json_at..].trim_end_matches('\n')
    }

    fn start(kind: &'static str, cursor: Option<u64>, framing: Framing, json: usize) -> Encoded {
        let mut text = String::with_capacity(json + 64);
        if framing == Framing::Sse {
            let _ = writeln!(text, "event: {kind}");
            if let Some(c) = cursor {
                let _ = writeln!(text, "id: {c}");
            }
            text.push_str("data: ");
        }
        Encoded {
            kind,
            cursor,
            json_at: text.len(),
            text,
        }
    }

    fn finish(mut self, framing: Framing) -> Encoded {
        if framing == Framing::Sse {
            self.text.push_str("\n\n");
        }
        self
    }
}

/// A committed value as subscriptions send it.
pub fn live_value(value: &Value) -> LiveValue {
    let float = |v: f64| {
        if v.is_finite() {
            LiveValue::Float(v)
        } else {
            // JSON has no NaN or infinity.
            LiveValue::Text(format!("{v}"))
        }
    };
    match value {
        Value::Double(v) => float(*v),
        Value::Float(v) => float(f64::from(*v)),
        Value::String(s) => LiveValue::Text(s.clone()),
        Value::Bool(b) => LiveValue::Bool(*b),
        Value::Int32(v) => LiveValue::Int(i64::from(*v)),
        Value::Int64(v) => LiveValue::Int(*v),
        Value::Uint32(v) | Value::Enum(v) => LiveValue::Int(i64::from(*v)),
        Value::Uint64(v) | Value::BitField(v) => match i64::try_from(*v) {
            Ok(i) => LiveValue::Int(i),
            Err(_) => LiveValue::Uint(*v),
        },
        Value::Bytes(_) => LiveValue::Text(value.to_string()),
    }
}

/// The text of `points` inside a series entry: `"timestamps":[…],"values":[…]`.
pub fn fragment(points: &[Point]) -> Arc<str> {
    #[derive(Serialize)]
    struct Body {
        timestamps: Vec<i64>,
        values: Vec<LiveValue>,
    }
    let body = Body {
        timestamps: points.iter().map(|p| p.timestamp).collect(),
        values: points.iter().map(|p| live_value(&p.value)).collect(),
    };
    let text = serde_json::to_string(&body).unwrap_or_default();
    // Without the braces: the entry adds its id before.
    Arc::from(text.get(1..text.len().saturating_sub(1)).unwrap_or(""))
}

/// Fragments of recent commits, shared by every subscription of a server.
#[derive(Debug)]
pub struct Fragments {
    state: Mutex<State>,
    budget: usize,
}

/// The fragments of one commit, one slot per series, each encoded once by whoever needs it
/// first.
#[derive(Debug)]
pub struct Commit {
    slots: Vec<OnceLock<Arc<str>>>,
}

impl Commit {
    /// The fragment of the commit's series number `index`, whose points are `points`.
    pub fn get(&self, index: usize, points: &[Point]) -> Arc<str> {
        match self.slots.get(index) {
            Some(slot) => Arc::clone(slot.get_or_init(|| fragment(points))),
            None => fragment(points),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    commits: HashMap<u64, (Arc<Commit>, usize)>,
    order: VecDeque<u64>,
    bytes: usize,
}

impl Default for Fragments {
    fn default() -> Self {
        Fragments::new(64 << 20)
    }
}

impl Fragments {
    /// A cache of the fragments of at most about `budget` bytes of points (counted as
    /// 32 bytes each): the oldest commits go first.
    pub fn new(budget: usize) -> Fragments {
        Fragments {
            state: Mutex::default(),
            budget,
        }
    }

    /// The fragments of commit `seq`, which has `series` series and `points` points in all.
    pub fn commit(&self, seq: u64, series: usize, points: usize) -> Arc<Commit> {
        let mut state = self.state.lock();
        if let Some((commit, _)) = state.commits.get(&seq) {
            return Arc::clone(commit);
        }
        let commit = Arc::new(Commit {
            slots: (0..series).map(|_| OnceLock::new()).collect(),
        });
        let bytes = points.saturating_mul(32).saturating_add(64);
        state.commits.insert(seq, (Arc::clone(&commit), bytes));
        state.order.push_back(seq);
        state.bytes += bytes;
        while state.bytes > self.budget && state.order.len() > 1 {
            let Some(old) = state.order.pop_front() else {
                break;
            };
            if let Some((_, gone)) = state.commits.remove(&old) {
                state.bytes -= gone;
            }
        }
        commit
    }
}

#[cfg(test)]
mod tests {
    use sextant_api::live::SeriesPoints;

    use super::*;

    #[test]
    fn points_encode_as_the_message_type_serializes() {
        let points = vec![
            Point::new(1, Value::Double(1.5)),
            Point::new(2, Value::Double(f64::NAN)),
            Point::new(3, Value::String("a\"b".into())),
            Point::new(4, Value::Uint64(u64::MAX)),
            Point::new(5, Value::Bytes(vec![0x0a, 0xff])),
        ];
        let cache = Fragments::new(1 << 20);
        let first = cache.commit(7, 1, 5).get(0, &points);
        let again = cache.commit(7, 1, 5).get(0, &[]);
        assert!(Arc::ptr_eq(&first, &again), "the second is the cached text");
        let series = [(3, first), (4, fragment(&points[..1]))];
        let encoded = Encoded::points(Some(7), &series, Framing::Json);
        let message = Message::Points {
            cursor: Some(7),
            series: vec![
                SeriesPoints {
                    id: 3,
                    timestamps: vec![1, 2, 3, 4, 5],
                    values: points.iter().map(|p| live_value(&p.value)).collect(),
                },
                SeriesPoints {
                    id: 4,
                    timestamps: vec![1],
                    values: vec![LiveValue::Float(1.5)],
                },
            ],
        };
        assert_eq!(encoded, Encoded::of(&message, Framing::Json));
        let back: Message = serde_json::from_str(encoded.json()).unwrap();
        assert_eq!(back, message);
        let sse = Encoded::points(Some(7), &series, Framing::Sse);
        assert_eq!(sse, Encoded::of(&message, Framing::Sse));
        assert_eq!(
            sse.text,
            format!("event: points\nid: 7\ndata: {}\n\n", encoded.text)
        );
        assert_eq!(sse.json(), encoded.text);
        assert_eq!(
            Encoded::points(None, &[], Framing::Sse).text,
            "event: points\ndata: {\"type\":\"points\",\"cursor\":null,\"series\":[]}\n\n"
        );
    }

    #[test]
    fn the_cache_keeps_to_its_budget_dropping_the_oldest() {
        let cache = Fragments::new(1_000);
        for seq in 0..20 {
            cache.commit(seq, 1, 10);
        }
        let state = cache.state.lock();
        assert!(state.bytes <= 1_000 && !state.commits.is_empty());
        assert!(state.commits.contains_key(&19) && !state.commits.contains_key(&0));
    }
}
