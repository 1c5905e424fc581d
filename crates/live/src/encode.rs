//! Messages encoded once: bytes ready for any transport, and the points of a commit encoded
//! once for every subscriber that sends them.
//!
//! Subscribers following the live feed send the same commits at about the same time. The
//! points of one series in one commit (`"timestamps":[…],"values":[…]` in JSON, fields 2 and
//! 3 of a `SeriesPoints` in protobuf) are encoded by the first subscription that needs them
//! and kept in a [`Fragments`] cache shared by all, keyed by the commit's sequence number and
//! the series' place in it; the others copy the bytes. A `points` message is then the
//! fragments of its series, each behind its stream-local id.

use std::collections::{HashMap, VecDeque};
use std::io::Write as _;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use prost::Message as _;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};
use serde::Serialize;
use sextant_api::live::proto;
use sextant_api::live::{LiveValue, Message};
use sextant_model::{Point, Value};

/// How a transport frames each message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Framing {
    /// The JSON alone (a WebSocket text message).
    #[default]
    Json,
    /// A whole Server-Sent Events record: `event:` the type, `id:` the cursor when there is
    /// one, `data:` the JSON (which holds no line break), and a blank line.
    Sse,
    /// A `sextant.live.v1.SubscribeResponse` in protobuf, in gRPC's length-prefixed frame
    /// (a zero byte, for uncompressed, and the length as four big-endian bytes), ready to be
    /// a gRPC response body's data as it is.
    Grpc,
}

impl Framing {
    fn is_text(self) -> bool {
        self != Framing::Grpc
    }
}

/// The bytes of gRPC's frame before a message.
const GRPC_HEADER: usize = 5;

/// A gRPC frame's header for a message of `len` bytes.
fn grpc_header(len: usize, out: &mut Vec<u8>) {
    out.push(0);
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
}

/// A message ready for the wire, framed for its transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// Its `type`, e.g. `points`.
    pub kind: &'static str,
    /// The resume point it carries, if any.
    pub cursor: Option<u64>,
    /// Its bytes, framed: UTF-8 text for the JSON framings.
    pub bytes: Vec<u8>,
    /// Where the JSON (or the protobuf) starts in `bytes`.
    json_at: usize,
    framing: Framing,
}

impl Encoded {
    /// `message`, framed.
    pub fn of(message: &Message, framing: Framing) -> Encoded {
        if framing == Framing::Grpc {
            let response = proto::SubscribeResponse::from(message);
            let len = response.encoded_len();
            let mut bytes = Vec::with_capacity(GRPC_HEADER + len);
            grpc_header(len, &mut bytes);
            response.encode_raw(&mut bytes);
            return Encoded {
                kind: message.kind(),
                cursor: message.cursor(),
                bytes,
                json_at: GRPC_HEADER,
                framing,
            };
        }
        // The wire types have string keys only: serializing cannot fail.
        let json = serde_json::to_string(message).unwrap_or_else(|e| {
            format!(r#"{{"type":"error","message":"cannot encode a message: {e}"}}"#)
        });
        let mut out = Encoded::start(message.kind(), message.cursor(), framing, json.len());
        out.bytes.extend_from_slice(json.as_bytes());
        out.finish(framing)
    }

    /// A `points` message of `series` (stream-local id and fragment of `framing` each, from
    /// [`fragment`] or [`Commit::get`]), as [`Message::Points`] encodes, framed.
    pub fn points(cursor: Option<u64>, series: &[(u32, Arc<[u8]>)], framing: Framing) -> Encoded {
        if framing == Framing::Grpc {
            return Encoded::points_grpc(cursor, series);
        }
        let bytes: usize = series.iter().map(|(_, f)| f.len() + 16).sum();
        let mut out = Encoded::start("points", cursor, framing, bytes + 48);
        let json = &mut out.bytes;
        json.extend_from_slice(br#"{"type":"points","cursor":"#);
        match cursor {
            Some(c) => {
                let _ = write!(json, "{c}");
            }
            None => json.extend_from_slice(b"null"),
        }
        json.extend_from_slice(br#","series":["#);
        for (i, (id, fragment)) in series.iter().enumerate() {
            if i > 0 {
                json.push(b',');
            }
            let _ = write!(json, r#"{{"id":{id},"#);
            json.extend_from_slice(fragment);
            json.push(b'}');
        }
        json.extend_from_slice(b"]}");
        out.finish(framing)
    }

    /// `SubscribeResponse { points: Points { cursor, series } }` in its gRPC frame, each
    /// series its id field and then its fragment (protobuf messages are the concatenation of
    /// their fields).
    fn points_grpc(cursor: Option<u64>, series: &[(u32, Arc<[u8]>)]) -> Encoded {
        let id_len = |id: u32| {
            if id == 0 {
                0
            } else {
                1 + encoded_len_varint(u64::from(id))
            }
        };
        let entry_len = |(id, fragment): &(u32, Arc<[u8]>)| id_len(*id) + fragment.len();
        let mut points_len = cursor.map_or(0, |c| 1 + encoded_len_varint(c));
        for entry in series {
            let len = entry_len(entry);
            points_len += 1 + encoded_len_varint(len as u64) + len;
        }
        let response_len = 1 + encoded_len_varint(points_len as u64) + points_len;
        let mut buf = Vec::with_capacity(GRPC_HEADER + response_len);
        grpc_header(response_len, &mut buf);
        encode_key(2, WireType::LengthDelimited, &mut buf);
        encode_varint(points_len as u64, &mut buf);
        if let Some(c) = cursor {
            encode_key(1, WireType::Varint, &mut buf);
            encode_varint(c, &mut buf);
        }
        for entry in series {
            encode_key(2, WireType::LengthDelimited, &mut buf);
            encode_varint(entry_len(entry) as u64, &mut buf);
            if entry.0 != 0 {
                encode_key(1, WireType::Varint, &mut buf);
                encode_varint(u64::from(entry.0), &mut buf);
            }
            buf.extend_from_slice(&entry.1);
        }
        Encoded {
            kind: "points",
            cursor,
            bytes: buf,
            json_at: GRPC_HEADER,
            framing: Framing::Grpc,
        }
    }

    /// The protobuf of a gRPC-framed message, without its frame (empty for the others).
    pub fn protobuf(&self) -> &[u8] {
        if self.framing.is_text() {
            return &[];
        }
        &self.bytes[self.json_at..]
    }

    /// The JSON of the message, without its framing (empty for protobuf).
    pub fn json(&self) -> &str {
        if !self.framing.is_text() {
            return "";
        }
        std::str::from_utf8(&self.bytes[self.json_at..])
            .unwrap_or("")
            .trim_end_matches('\n')
    }

    /// The text of a JSON framing; `None` for protobuf.
    pub fn into_text(self) -> Option<String> {
        if !self.framing.is_text() {
            return None;
        }
        String::from_utf8(self.bytes).ok()
    }

    fn start(kind: &'static str, cursor: Option<u64>, framing: Framing, json: usize) -> Encoded {
        let mut bytes = Vec::with_capacity(json + 64);
        if framing == Framing::Sse {
            let _ = writeln!(bytes, "event: {kind}");
            if let Some(c) = cursor {
                let _ = writeln!(bytes, "id: {c}");
            }
            bytes.extend_from_slice(b"data: ");
        }
        Encoded {
            kind,
            cursor,
            json_at: bytes.len(),
            bytes,
            framing,
        }
    }

    fn finish(mut self, framing: Framing) -> Encoded {
        if framing == Framing::Sse {
            self.bytes.extend_from_slice(b"\n\n");
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

/// The points of one series as a series entry holds them after its id, in `framing`:
/// `"timestamps":[…],"values":[…]` for the JSON framings, a `SeriesPoints`' fields 2 and 3
/// for protobuf.
pub fn fragment(points: &[Point], framing: Framing) -> Arc<[u8]> {
    if !framing.is_text() {
        let message = proto::SeriesPoints {
            // Zero is not encoded: the entry adds the id before.
            id: 0,
            timestamps: points.iter().map(|p| p.timestamp).collect(),
            values: points
                .iter()
                .map(|p| proto::Value::from(&live_value(&p.value)))
                .collect(),
        };
        return Arc::from(message.encode_to_vec());
    }
    #[derive(Serialize)]
    struct Body {
        timestamps: Vec<i64>,
        values: Vec<LiveValue>,
    }
    let body = Body {
        timestamps: points.iter().map(|p| p.timestamp).collect(),
        values: points.iter().map(|p| live_value(&p.value)).collect(),
    };
    let text = serde_json::to_vec(&body).unwrap_or_default();
    // Without the braces: the entry adds its id before.
    Arc::from(text.get(1..text.len().saturating_sub(1)).unwrap_or(b""))
}

/// Fragments of recent commits, shared by every subscription of a server.
#[derive(Debug)]
pub struct Fragments {
    state: Mutex<State>,
    budget: usize,
}

/// The fragments of one commit, one slot per series and kind of fragment (JSON, protobuf),
/// each encoded once by whoever needs it first.
#[derive(Debug)]
pub struct Commit {
    json: Vec<OnceLock<Arc<[u8]>>>,
    protobuf: Vec<OnceLock<Arc<[u8]>>>,
}

impl Commit {
    /// The fragment in `framing` of the commit's series number `index`, whose points are
    /// `points`.
    pub fn get(&self, index: usize, points: &[Point], framing: Framing) -> Arc<[u8]> {
        let slots = if framing.is_text() {
            &self.json
        } else {
            &self.protobuf
        };
        match slots.get(index) {
            Some(slot) => Arc::clone(slot.get_or_init(|| fragment(points, framing))),
            None => fragment(points, framing),
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
            json: (0..series).map(|_| OnceLock::new()).collect(),
            protobuf: (0..series).map(|_| OnceLock::new()).collect(),
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
        let message = |cursor: Option<u64>, first: u32| Message::Points {
            cursor,
            series: vec![
                SeriesPoints {
                    id: first,
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
        for framing in [Framing::Json, Framing::Sse, Framing::Grpc] {
            let first = cache.commit(7, 1, 5).get(0, &points, framing);
            let again = cache.commit(7, 1, 5).get(0, &[], framing);
            assert!(Arc::ptr_eq(&first, &again), "the second is the cached one");
            // Stream ids start at 0, which protobuf leaves out; a cursor of 0 is still sent.
            for (cursor, id) in [(Some(7), 3), (None, 0), (Some(0), 300)] {
                let series = [
                    (id, Arc::clone(&first)),
                    (4, fragment(&points[..1], framing)),
                ];
                let encoded = Encoded::points(cursor, &series, framing);
                assert_eq!(
                    encoded,
                    Encoded::of(&message(cursor, id), framing),
                    "{framing:?}"
                );
                let back: Message = if framing == Framing::Grpc {
                    let frame = &encoded.bytes[..5];
                    let length = u32::from_be_bytes([frame[1], frame[2], frame[3], frame[4]]);
                    assert_eq!((frame[0], length as usize), (0, encoded.bytes.len() - 5));
                    let decoded = proto::SubscribeResponse::decode(encoded.protobuf());
                    Message::try_from(decoded.unwrap()).unwrap()
                } else {
                    serde_json::from_str(encoded.json()).unwrap()
                };
                assert_eq!(back, message(cursor, id), "{framing:?}");
            }
        }
        let series = [(3, fragment(&points, Framing::Json))];
        let json = Encoded::points(Some(7), &series, Framing::Json)
            .into_text()
            .unwrap();
        let sse = Encoded::points(Some(7), &series, Framing::Sse);
        assert_eq!(sse.json(), json);
        assert_eq!(
            sse.into_text().unwrap(),
            format!("event: points\nid: 7\ndata: {json}\n\n")
        );
        assert_eq!(
            Encoded::points(None, &[], Framing::Sse)
                .into_text()
                .unwrap(),
            "event: points\ndata: {\"type\":\"points\",\"cursor\":null,\"series\":[]}\n\n"
        );
        let protobuf = Encoded::points(None, &[], Framing::Grpc);
        assert_eq!(protobuf.json(), "");
        assert!(
            Encoded::points(None, &[], Framing::Sse)
                .protobuf()
                .is_empty()
        );
        assert_eq!(protobuf.into_text(), None);
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
