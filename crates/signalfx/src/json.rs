//! A small JSON reader for the bodies of SignalFx's JSON fallback client.
//!
//! `serde_json` refuses Python's `NaN`, `Infinity` and `-Infinity` tokens (which the client
//! writes for non-finite floats, and which pyformance gauges send by default) and turns an
//! integer beyond 64 bits into a rounded float. Both must reach the decoder as written: the
//! non-finite floats to be stored, the big integers to be refused point by point. This reader
//! keeps them: integers are [`Json::Int`] when they fit an `i64` and [`Json::BigInt`] (the
//! digits as written) when they do not.
//!
//! Nesting is limited to [`MAX_DEPTH`] so a hostile body cannot exhaust the stack.

/// How deep arrays and objects may nest.
pub const MAX_DEPTH: usize = 64;

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer (no fraction, no exponent) that fits an `i64`.
    Int(i64),
    /// An integer that does not fit an `i64`, as written.
    BigInt(String),
    /// Any other number, `NaN`, `Infinity` and `-Infinity` included.
    Float(f64),
    /// A string.
    Str(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, its members in the order written (a repeated key keeps its last value when
    /// looked up with [`Json::get`]).
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The value of member `key` of an object (the last one, when repeated).
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// What kind of value this is, as errors say it.
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Int(_) | Json::BigInt(_) => "an integer",
            Json::Float(_) => "a number",
            Json::Str(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

/// Parses one JSON document (surrounding whitespace allowed). The error names the byte
/// offset and what was expected.
pub fn parse(bytes: &[u8]) -> Result<Json, String> {
    let mut reader = Reader { bytes, at: 0 };
    reader.skip_space();
    let value = reader.value(0)?;
    reader.skip_space();
    if reader.at != bytes.len() {
        return Err(reader.error("unexpected text after the JSON value"));
    }
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn error(&self, message: &str) -> String {
        format!("at byte {}: {message}", self.at)
    }

    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn literal(&mut self, word: &str, value: Json) -> Result<Json, String> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a JSON value"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > MAX_DEPTH {
            return Err(self.error(&format!("arrays and objects nest deeper than {MAX_DEPTH}")));
        }
        match self.bytes.get(self.at) {
            None => Err(self.error("the body ends where a value was expected")),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'N') => self.literal("NaN", Json::Float(f64::NAN)),
            Some(b'I') => self.literal("Infinity", Json::Float(f64::INFINITY)),
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b'[') => {
                self.at += 1;
                let mut items = Vec::new();
                self.skip_space();
                if self.bytes.get(self.at) == Some(&b']') {
                    self.at += 1;
                    return Ok(Json::Array(items));
                }
                loop {
                    self.skip_space();
                    items.push(self.value(depth + 1)?);
                    self.skip_space();
                    match self.bytes.get(self.at) {
                        Some(b',') => self.at += 1,
                        Some(b']') => {
                            self.at += 1;
                            return Ok(Json::Array(items));
                        }
                        _ => return Err(self.error("expected `,` or `]` in an array")),
                    }
                }
            }
            Some(b'{') => {
                self.at += 1;
                let mut members = Vec::new();
                self.skip_space();
                if self.bytes.get(self.at) == Some(&b'}') {
                    self.at += 1;
                    return Ok(Json::Object(members));
                }
                loop {
                    self.skip_space();
                    if self.bytes.get(self.at) != Some(&b'"') {
                        return Err(self.error("expected a member name in quotes"));
                    }
                    let key = self.string()?;
                    self.skip_space();
                    if self.bytes.get(self.at) != Some(&b':') {
                        return Err(self.error("expected `:` after a member name"));
                    }
                    self.at += 1;
                    self.skip_space();
                    let value = self.value(depth + 1)?;
                    members.push((key, value));
                    self.skip_space();
                    match self.bytes.get(self.at) {
                        Some(b',') => self.at += 1,
                        Some(b'}') => {
                            self.at += 1;
                            return Ok(Json::Object(members));
                        }
                        _ => return Err(self.error("expected `,` or `}` in an object")),
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("expected a JSON value")),
        }
    }

    fn number(&mut self) -> Result<Json, String> {
        let start = self.at;
        if self.bytes.get(self.at) == Some(&b'-') {
            self.at += 1;
            if self.bytes[self.at..].starts_with(b"Infinity") {
                self.at += "Infinity".len();
                return Ok(Json::Float(f64::NEG_INFINITY));
            }
        }
        let digits = |r: &mut Self| {
            let from = r.at;
            while let Some(b'0'..=b'9') = r.bytes.get(r.at) {
                r.at += 1;
            }
            r.at - from
        };
        if digits(self) == 0 {
            return Err(self.error("expected digits in a number"));
        }
        let mut integer = true;
        if self.bytes.get(self.at) == Some(&b'.') {
            integer = false;
            self.at += 1;
            if digits(self) == 0 {
                return Err(self.error("expected digits after `.` in a number"));
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.at) {
            integer = false;
            self.at += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.at) {
                self.at += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("expected digits in a number's exponent"));
            }
        }
        // Only ASCII digits, signs, `.` and `e` were consumed.
        let text = std::str::from_utf8(&self.bytes[start..self.at]).unwrap_or_default();
        if integer {
            return Ok(match text.parse::<i64>() {
                Ok(v) => Json::Int(v),
                Err(_) => Json::BigInt(text.to_owned()),
            });
        }
        text.parse::<f64>()
            .map(Json::Float)
            .map_err(|_| self.error(&format!("`{text}` is not a number")))
    }

    fn string(&mut self) -> Result<String, String> {
        self.at += 1; // the opening quote
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.bytes.get(self.at) else {
                return Err(self.error("a string is not closed"));
            };
            self.at += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.bytes.get(self.at) else {
                        return Err(self.error("a string is not closed"));
                    };
                    self.at += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut c = self.hex4()?;
                            if (0xd800..0xdc00).contains(&c)
                                && self.bytes[self.at..].starts_with(b"\\u")
                            {
                                self.at += 2;
                                let low = self.hex4()?;
                                if (0xdc00..0xe000).contains(&low) {
                                    c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
                                } else {
                                    return Err(self.error("an unpaired surrogate in a string"));
                                }
                            }
                            let ch = char::from_u32(c)
                                .ok_or_else(|| self.error("an unpaired surrogate in a string"))?;
                            let mut buf = [0; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(self.error("an unknown escape in a string")),
                    }
                }
                0..0x20 => return Err(self.error("a control character in a string")),
                _ => out.push(b),
            }
        }
        String::from_utf8(out).map_err(|_| self.error("a string is not valid UTF-8"))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let hex = self
            .bytes
            .get(self.at..self.at + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.error("expected four hex digits after `\\u`"))?;
        self.at += 4;
        Ok(hex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_as_the_python_client_writes_them() {
        let cases: &[(&str, Json)] = &[
            ("NaN", Json::Float(f64::NAN)),
            ("Infinity", Json::Float(f64::INFINITY)),
            ("-Infinity", Json::Float(f64::NEG_INFINITY)),
            ("9223372036854775807", Json::Int(i64::MAX)),
            ("-9223372036854775808", Json::Int(i64::MIN)),
            (
                "9223372036854775808",
                Json::BigInt("9223372036854775808".into()),
            ),
            ("1.5e3", Json::Float(1500.0)),
            ("-0.25", Json::Float(-0.25)),
            (r#""a\"b\u00e9\ud83d\ude00""#, Json::Str("a\"bé😀".into())),
            (
                r#" {"a": [1, null, true], "b": {}} "#,
                Json::Object(vec![
                    (
                        "a".into(),
                        Json::Array(vec![Json::Int(1), Json::Null, Json::Bool(true)]),
                    ),
                    ("b".into(), Json::Object(vec![])),
                ]),
            ),
        ];
        for (text, want) in cases {
            let got = parse(text.as_bytes()).unwrap();
            match (&got, want) {
                (Json::Float(a), Json::Float(b)) if a.is_nan() => assert!(b.is_nan(), "{text}"),
                _ => assert_eq!(&got, want, "{text}"),
            }
        }
    }

    #[test]
    fn bad_documents_name_the_offset() {
        let cases = [
            ("", "at byte 0: the body ends where a value was expected"),
            ("[1,", "at byte 3: the body ends where a value was expected"),
            ("{\"a\" 1}", "at byte 5: expected `:` after a member name"),
            ("\"abc", "at byte 4: a string is not closed"),
            ("1 2", "at byte 2: unexpected text after the JSON value"),
            ("-", "at byte 1: expected digits in a number"),
            ("Nope", "at byte 0: expected a JSON value"),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text.as_bytes()).unwrap_err(), want, "{text}");
        }
        let deep = "[".repeat(MAX_DEPTH + 2);
        assert!(parse(deep.as_bytes()).unwrap_err().contains("nest deeper"));
    }
}
