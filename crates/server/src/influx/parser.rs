//! The InfluxDB line protocol, parsed by hand without copying: bytes in, borrowed lines out, no
//! I/O.
//!
//! ```text
//! measurement[,tag_key=tag_value...] field_key=field_value[,field_key=field_value...] [timestamp]
//! ```
//!
//! - Measurements escape `,` and space with a backslash; tag keys, tag values and field keys
//!   escape `,`, `=` and space. A backslash before any other character is kept as is.
//! - Field values: floats (`1`, `-1.5`, `1e3`), integers (`1i`), unsigned integers (`1u`),
//!   strings (`"…"`, with `\"` and `\\` escaped) and booleans (`t`, `T`, `true`, `True`,
//!   `TRUE`, and the same for false).
//! - The timestamp is an integer in the request's precision; without one, the server's time.
//! - Blank lines and lines starting with `#` are skipped.
//!
//! Each line parses on its own: a bad line yields an error naming its number and what is wrong,
//! and the other lines are unaffected.

use std::borrow::Cow;
use std::fmt;

/// The most fields one line may have: each becomes a series, and a line of more is far more
/// likely a client's mistake than a measurement.
pub const MAX_FIELDS_PER_LINE: usize = 10_000;

/// A tag's key and value, unescaped.
pub type Tag<'a> = (Cow<'a, str>, Cow<'a, str>);

/// One parsed line.
#[derive(Debug, Clone, PartialEq)]
pub struct Line<'a> {
    /// The measurement, unescaped.
    pub measurement: Cow<'a, str>,
    /// The tags, unescaped, in the order written.
    pub tags: Vec<Tag<'a>>,
    /// The fields, in the order written.
    pub fields: Vec<(Cow<'a, str>, FieldValue<'a>)>,
    /// The timestamp as written (in the request's precision), if any.
    pub timestamp: Option<i64>,
    /// The measurement and tags as written: the line from its first character up to the space
    /// before the fields.
    pub series: &'a [u8],
    /// Whether the tags were not parsed because the caller already knew `series` (see
    /// [`Lines::next_line`]); `tags` is then empty and [`Line::series_tags`] gives them.
    pub tags_skipped: bool,
}

impl<'a> Line<'a> {
    fn empty() -> Line<'a> {
        Line {
            measurement: Cow::Borrowed(""),
            tags: Vec::new(),
            fields: Vec::new(),
            timestamp: None,
            series: &[],
            tags_skipped: false,
        }
    }

    /// The tags of the line: `tags` as parsed, or when they were skipped, parsed now from
    /// `series`.
    pub fn series_tags(&self) -> Result<Vec<Tag<'a>>, LineError> {
        if !self.tags_skipped {
            return Ok(self.tags.clone());
        }
        let mut line = Line::empty();
        parse_into(self.series, 0, &mut line, &mut |_| false, Part::Series)?;
        Ok(line.tags)
    }
}

/// A field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    /// A float.
    Float(f64),
    /// A signed integer (`i` suffix).
    Integer(i64),
    /// An unsigned integer (`u` suffix).
    Unsigned(u64),
    /// A string, unescaped.
    String(Cow<'a, str>),
    /// A boolean.
    Boolean(bool),
}

/// Why a line did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// The line's number, from 1.
    pub line: usize,
    /// The byte column where the problem is, from 1.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for LineError {}

/// Parses every line of `body`, calling `on_line` with each line's number (from 1) and result,
/// in order. Lines that are blank or comments are skipped. A body that is not UTF-8 fails line
/// by line where the bad bytes are. The line passed is reused for the next one (its vectors
/// keep their capacity), so a body costs no allocation per line.
pub fn parse_lines<'a>(
    body: &'a [u8],
    mut on_line: impl FnMut(usize, Result<&Line<'a>, LineError>),
) {
    let mut lines = Lines::new(body);
    while let Some((number, result)) = lines.next_line(|_| false) {
        on_line(number, result);
    }
}

/// The lines of a body, parsed one at a time; blank lines and comments are skipped.
#[derive(Debug)]
pub struct Lines<'a> {
    body: &'a [u8],
    /// Where the next line starts.
    start: usize,
    number: usize,
    line: Line<'a>,
}

impl<'a> Lines<'a> {
    /// The lines of `body`.
    pub fn new(body: &'a [u8]) -> Lines<'a> {
        Lines {
            body,
            start: 0,
            number: 0,
            line: Line::empty(),
        }
    }

    /// The next line with its number (from 1), or `None` at the end of the body. When `known`
    /// says yes to a line's measurement and tags as written (its [`Line::series`]), their
    /// tags are not parsed again: a series seen earlier in the body, with the same bytes, was
    /// checked then.
    pub fn next_line(
        &mut self,
        mut known: impl FnMut(&[u8]) -> bool,
    ) -> Option<(usize, Result<&Line<'a>, LineError>)> {
        while self.start <= self.body.len() {
            let rest = &self.body[self.start..];
            let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
            self.start += end + 1;
            self.number += 1;
            let raw = &rest[..end];
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let first = raw.iter().position(|b| *b != b' ' && *b != b'\t');
            let Some(first) = first else { continue };
            if raw[first] == b'#' {
                continue;
            }
            let result = parse_into(raw, self.number, &mut self.line, &mut known, Part::Line);
            return Some((self.number, result.map(|()| &self.line)));
        }
        None
    }
}

/// Every line of `body` as text (its number, then its measurement, tags, fields and timestamp,
/// or its error), with the tags of series seen in earlier lines that parsed skipped or not:
/// the two must agree. Used by the tests and the `influx_lines` fuzz target.
#[doc(hidden)]
pub fn line_outcomes(body: &[u8], skip_known: bool) -> Vec<String> {
    let mut known: std::collections::HashSet<Vec<u8>> = std::collections::HashSet::new();
    let mut lines = Lines::new(body);
    let mut out = Vec::new();
    while let Some((number, result)) =
        lines.next_line(|series| skip_known && known.contains(series))
    {
        out.push(match result {
            Ok(line) => {
                known.insert(line.series.to_vec());
                format!(
                    "{number} {} {:?} {:?} {:?}",
                    line.measurement,
                    line.series_tags(),
                    line.fields,
                    line.timestamp
                )
            }
            Err(e) => format!("{number} {e}"),
        });
    }
    out
}

/// Parses one line (without its newline); `number` is used in errors.
pub fn parse_line(raw: &[u8], number: usize) -> Result<Line<'_>, LineError> {
    let mut line = Line::empty();
    parse_into(raw, number, &mut line, &mut |_| false, Part::Line)?;
    Ok(line)
}

/// How much of the text to parse.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    /// A whole line.
    Line,
    /// Only a measurement and its tags (a [`Line::series`]).
    Series,
}

fn parse_into<'a>(
    raw: &'a [u8],
    number: usize,
    line: &mut Line<'a>,
    known: &mut dyn FnMut(&[u8]) -> bool,
    part: Part,
) -> Result<(), LineError> {
    let text = match std::str::from_utf8(raw) {
        Ok(text) => text,
        Err(e) => {
            return Err(LineError {
                line: number,
                column: e.valid_up_to() + 1,
                message: "the line is not valid UTF-8".to_owned(),
            });
        }
    };
    Parser {
        text,
        bytes: raw,
        at: 0,
        line: number,
    }
    .line(line, known, part)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    line: usize,
}

/// What ends a token, besides the end of the line.
#[derive(Clone, Copy)]
enum Stop {
    /// A measurement: `,` or space.
    Measurement,
    /// A tag key or field key: `=`, or `,` or space (the caller reports the missing `=`).
    Key,
    /// A tag value: `,` or space.
    TagValue,
}

impl<'a> Parser<'a> {
    fn error(&self, message: impl Into<String>) -> LineError {
        LineError {
            line: self.line,
            column: self.at + 1,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn line(
        mut self,
        out: &mut Line<'a>,
        known: &mut dyn FnMut(&[u8]) -> bool,
        part: Part,
    ) -> Result<(), LineError> {
        out.tags.clear();
        out.fields.clear();
        out.tags_skipped = false;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
        let series_start = self.at;
        let measurement = self.token(Stop::Measurement)?;
        if measurement.is_empty() {
            return Err(self.error("the line has no measurement"));
        }
        if self.peek() == Some(b',')
            && let Some(end) = self.series_end()
            && known(&self.bytes[series_start..end])
        {
            self.at = end;
            out.tags_skipped = true;
        }
        let tags = &mut out.tags;
        while self.peek() == Some(b',') {
            self.at += 1;
            let key = self.token(Stop::Key)?;
            if key.is_empty() {
                return Err(self.error("a tag has an empty key"));
            }
            if self.peek() != Some(b'=') {
                return Err(self.error(format!("tag `{key}` has no `=value`")));
            }
            self.at += 1;
            let value = self.token(Stop::TagValue)?;
            if value.is_empty() {
                return Err(self.error(format!("tag `{key}` has an empty value")));
            }
            tags.push((key, value));
        }
        out.series = &self.bytes[series_start..self.at];
        if part == Part::Series {
            out.measurement = measurement;
            return match self.peek() {
                None => Ok(()),
                Some(_) => Err(self.error("a series has more after its tags")),
            };
        }
        if self.peek() != Some(b' ') {
            return Err(self.error(format!(
                "measurement `{measurement}` is not followed by fields"
            )));
        }
        while self.peek() == Some(b' ') {
            self.at += 1;
        }
        let fields = &mut out.fields;
        loop {
            let key = self.token(Stop::Key)?;
            if key.is_empty() {
                return Err(self.error("a field has an empty key"));
            }
            if self.peek() != Some(b'=') {
                return Err(self.error(format!("field `{key}` has no `=value`")));
            }
            self.at += 1;
            let value = self.field_value(&key)?;
            fields.push((key, value));
            if fields.len() > MAX_FIELDS_PER_LINE {
                return Err(self.error(format!(
                    "the line has more than {MAX_FIELDS_PER_LINE} fields, the most a line may \
                     have; split them over several lines"
                )));
            }
            match self.peek() {
                Some(b',') => self.at += 1,
                _ => break,
            }
        }
        let timestamp = match self.peek() {
            None => None,
            Some(b' ') => {
                while self.peek() == Some(b' ') {
                    self.at += 1;
                }
                if self.peek().is_none() {
                    None
                } else {
                    Some(self.timestamp()?)
                }
            }
            Some(_) => {
                return Err(self.error(format!(
                    "unexpected `{}` after the fields",
                    self.text[self.at..].chars().next().unwrap_or(' ')
                )));
            }
        };
        out.measurement = measurement;
        out.timestamp = timestamp;
        Ok(())
    }

    /// Where the measurement and tags starting here end: the first space not escaped, if any.
    fn series_end(&self) -> Option<usize> {
        let mut at = self.at;
        loop {
            at += self.bytes[at..]
                .iter()
                .position(|&b| CLASSES[b as usize] & SERIES_END != 0)?;
            if self.bytes[at] == b' ' {
                return Some(at);
            }
            at += 2;
            if at >= self.bytes.len() {
                return None;
            }
        }
    }

    /// A name or tag value up to its stop character, unescaped; borrowed when it has no escapes.
    fn token(&mut self, stop: Stop) -> Result<Cow<'a, str>, LineError> {
        let start = self.at;
        let mut escaped = false;
        let class = match stop {
            Stop::Measurement => MEASUREMENT_END,
            Stop::Key | Stop::TagValue => NAME_END,
        };
        loop {
            // Up to the next byte of interest: a stop character or a backslash.
            self.at += self.bytes[self.at..]
                .iter()
                .position(|&b| CLASSES[b as usize] & class != 0)
                .unwrap_or(self.bytes.len() - self.at);
            if self.peek() == Some(b'\\') {
                // An escape takes the next byte with it; a backslash that ends the line is kept.
                escaped |= self.at + 1 < self.bytes.len();
                self.at = (self.at + 2).min(self.bytes.len());
                continue;
            }
            break;
        }
        let raw = &self.text[start..self.at];
        if !escaped {
            return Ok(Cow::Borrowed(raw));
        }
        let specials: &[char] = match stop {
            Stop::Measurement => &[',', ' '],
            Stop::Key | Stop::TagValue => &[',', ' ', '='],
        };
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\\'
                && let Some(&next) = chars.peek()
                && specials.contains(&next)
            {
                out.push(next);
                chars.next();
                continue;
            }
            out.push(c);
        }
        Ok(Cow::Owned(out))
    }

    fn field_value(&mut self, key: &str) -> Result<FieldValue<'a>, LineError> {
        if self.peek() == Some(b'"') {
            return self.string(key);
        }
        let start = self.at;
        self.at += self.bytes[start..]
            .iter()
            .position(|&b| CLASSES[b as usize] & VALUE_END != 0)
            .unwrap_or(self.bytes.len() - start);
        let raw = &self.text[start..self.at];
        let bad = |this: &Self, what: &str| LineError {
            line: this.line,
            column: start + 1,
            message: format!("field `{key}` has {what} `{raw}`"),
        };
        match raw {
            "" => Err(LineError {
                line: self.line,
                column: start + 1,
                message: format!(
                    "field `{key}` has no value after `=` (a number, a quoted string or a boolean)"
                ),
            }),
            "t" | "T" | "true" | "True" | "TRUE" => Ok(FieldValue::Boolean(true)),
            "f" | "F" | "false" | "False" | "FALSE" => Ok(FieldValue::Boolean(false)),
            _ => {
                if let Some(digits) = raw.strip_suffix('i') {
                    digits
                        .parse::<i64>()
                        .map(FieldValue::Integer)
                        .map_err(|_| bad(self, "an integer out of range or malformed:"))
                } else if let Some(digits) = raw.strip_suffix('u') {
                    digits
                        .parse::<u64>()
                        .map(FieldValue::Unsigned)
                        .map_err(|_| bad(self, "an unsigned integer out of range or malformed:"))
                } else {
                    let first = raw.as_bytes()[0];
                    // Rust also parses `inf`, `NaN` and `infinity`, which the protocol does not
                    // have.
                    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
                        return Err(bad(
                            self,
                            "a value that is not a number, string or boolean:",
                        ));
                    }
                    if let Some(v) = fast_decimal(raw.as_bytes()) {
                        return Ok(FieldValue::Float(v));
                    }
                    match raw.parse::<f64>() {
                        Ok(v) if v.is_finite() => Ok(FieldValue::Float(v)),
                        _ => Err(bad(self, "a malformed number")),
                    }
                }
            }
        }
    }

    fn string(&mut self, key: &str) -> Result<FieldValue<'a>, LineError> {
        let open = self.at;
        self.at += 1;
        let start = self.at;
        let mut escaped = false;
        while let Some(b) = self.peek() {
            match b {
                b'\\' if self.at + 1 < self.bytes.len() => {
                    escaped = true;
                    self.at += 2;
                }
                b'"' => {
                    let raw = &self.text[start..self.at];
                    self.at += 1;
                    if !escaped {
                        return Ok(FieldValue::String(Cow::Borrowed(raw)));
                    }
                    let mut out = String::with_capacity(raw.len());
                    let mut chars = raw.chars().peekable();
                    while let Some(c) = chars.next() {
                        if c == '\\'
                            && let Some(&next) = chars.peek()
                            && (next == '"' || next == '\\')
                        {
                            out.push(next);
                            chars.next();
                            continue;
                        }
                        out.push(c);
                    }
                    return Ok(FieldValue::String(Cow::Owned(out)));
                }
                _ => self.at += 1,
            }
        }
        self.at = open;
        Err(self.error(format!("the string of field `{key}` is never closed")))
    }

    fn timestamp(&mut self) -> Result<i64, LineError> {
        let start = self.at;
        let raw = &self.text[start..];
        let raw = raw.trim_end_matches([' ', '\t']);
        raw.parse::<i64>().map_err(|_| LineError {
            line: self.line,
            column: start + 1,
            message: format!("timestamp `{raw}` is not an integer"),
        })
    }
}

/// A measurement ends at `,` or a space (and a backslash escapes).
const MEASUREMENT_END: u8 = 1;
/// A tag key, tag value or field key ends at `,`, `=` or a space (and a backslash escapes).
const NAME_END: u8 = 2;
/// An unquoted field value ends at `,` or a space.
const VALUE_END: u8 = 4;
/// A line's measurement and tags end at a space (and a backslash escapes).
const SERIES_END: u8 = 8;

/// The bytes that end (or escape within) each kind of token, as bits of the kinds above: one
/// lookup per byte instead of a comparison with each.
static CLASSES: [u8; 256] = {
    let mut classes = [0u8; 256];
    classes[b',' as usize] = MEASUREMENT_END | NAME_END | VALUE_END;
    classes[b' ' as usize] = MEASUREMENT_END | NAME_END | VALUE_END | SERIES_END;
    classes[b'=' as usize] = NAME_END;
    classes[b'\\' as usize] = MEASUREMENT_END | NAME_END | SERIES_END;
    classes
};

/// Powers of ten that a double holds exactly.
const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The value of a plain decimal (`-12.25`, `7`, `.5`) with at most 15 significant digits, or
/// `None` for anything else (exponents, more digits), which the general parser handles. Both
/// the digits as an integer (below 2^53) and the power of ten are exact doubles, and IEEE
/// division rounds correctly, so the result is the correctly rounded value — the same bits
/// the general parser gives.
fn fast_decimal(bytes: &[u8]) -> Option<f64> {
    let (negative, digits) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let mut mantissa: u64 = 0;
    let mut count = 0;
    let mut fraction: Option<usize> = None;
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                count += 1;
                if count > 15 {
                    return None;
                }
                if let Some(f) = fraction.as_mut() {
                    *f += 1;
                }
            }
            b'.' if fraction.is_none() => fraction = Some(0),
            _ => return None,
        }
    }
    if count == 0 {
        return None;
    }
    let value = mantissa as f64 / EXACT_POWERS_OF_TEN[fraction.unwrap_or(0)];
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(src: &str) -> Result<Line<'_>, LineError> {
        parse_line(src.as_bytes(), 1)
    }

    fn show(line: &Line<'_>) -> String {
        let tags: Vec<String> = line.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let fields: Vec<String> = line
            .fields
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        format!(
            "{} [{}] [{}] {:?}",
            line.measurement,
            tags.join(";"),
            fields.join(";"),
            line.timestamp
        )
    }

    #[test]
    fn lines_parse_as_written() {
        let cases = [
            (
                "cpu,host=h7,region=eu usage_user=12.5,usage_system=3i 1700000000000000000",
                "cpu [host=h7;region=eu] [usage_user=Float(12.5);usage_system=Integer(3)] Some(1700000000000000000)",
            ),
            ("cpu value=1", "cpu [] [value=Float(1.0)] None"),
            ("cpu value=1u", "cpu [] [value=Unsigned(1)] None"),
            ("cpu value=-1.5e3", "cpu [] [value=Float(-1500.0)] None"),
            (
                "cpu a=t,b=FALSE,c=True,d=f",
                "cpu [] [a=Boolean(true);b=Boolean(false);c=Boolean(true);d=Boolean(false)] None",
            ),
            (
                r#"log msg="say \"hi\" \\ then, go=now" -5"#,
                r#"log [] [msg=String("say \"hi\" \\ then, go=now")] Some(-5)"#,
            ),
            (
                r"my\ meas\,ure,ta\ g=va\,l\=ue fi\=eld=1i",
                "my meas,ure [ta g=va,l=ue] [fi=eld=Integer(1)] None",
            ),
            (r"cpu,t=a\b v=1", r"cpu [t=a\b] [v=Float(1.0)] None"),
            ("  cpu v=1  123  ", "cpu [] [v=Float(1.0)] Some(123)"),
            ("cpu v=1 ", "cpu [] [v=Float(1.0)] None"),
            (
                "cpu v=9223372036854775807i,w=18446744073709551615u",
                "cpu [] [v=Integer(9223372036854775807);w=Unsigned(18446744073709551615)] None",
            ),
            (r#"cpu s="""#, r#"cpu [] [s=String("")] None"#),
            ("ünï,cöde=✓ v=.5", "ünï [cöde=✓] [v=Float(0.5)] None"),
        ];
        for (src, expected) in cases {
            let line = one(src).unwrap_or_else(|e| panic!("{src}: {e}"));
            assert_eq!(show(&line), expected, "{src}");
        }
    }

    #[test]
    fn a_line_of_more_fields_than_the_limit_is_refused_naming_it() {
        let fields = |n: usize| -> String {
            (0..n)
                .map(|i| format!("f{i}=1"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let at_the_limit = format!("wide {}", fields(MAX_FIELDS_PER_LINE));
        let line = one(&at_the_limit).unwrap();
        assert_eq!(line.fields.len(), MAX_FIELDS_PER_LINE);
        let err = one(&format!("wide {}", fields(MAX_FIELDS_PER_LINE + 1))).unwrap_err();
        assert!(
            err.message.contains("more than 10000 fields"),
            "{}",
            err.message
        );
    }

    #[test]
    fn names_without_escapes_are_borrowed() {
        let line = one("cpu,host=h7 usage=1").unwrap();
        assert!(matches!(line.measurement, Cow::Borrowed(_)));
        assert!(matches!(line.tags[0].1, Cow::Borrowed(_)));
        assert!(matches!(line.fields[0].0, Cow::Borrowed(_)));
    }

    #[test]
    fn errors_name_the_column_and_the_problem() {
        let cases = [
            ("cpu", 4, "measurement `cpu` is not followed by fields"),
            ("cpu ", 5, "a field has an empty key"),
            (",host=a v=1", 1, "the line has no measurement"),
            ("cpu,host v=1", 9, "tag `host` has no `=value`"),
            ("cpu,host= v=1", 10, "tag `host` has an empty value"),
            ("cpu,=a v=1", 5, "a tag has an empty key"),
            ("cpu v", 6, "field `v` has no `=value`"),
            (
                "cpu v=",
                7,
                "field `v` has no value after `=` (a number, a quoted string or a boolean)",
            ),
            (
                "cpu v=abc",
                7,
                "field `v` has a value that is not a number, string or boolean: `abc`",
            ),
            ("cpu v=1.2.3", 7, "field `v` has a malformed number `1.2.3`"),
            (
                "cpu v=inf",
                7,
                "field `v` has a value that is not a number, string or boolean: `inf`",
            ),
            (
                "cpu v=99999999999999999999i",
                7,
                "field `v` has an integer out of range or malformed: `99999999999999999999i`",
            ),
            (
                "cpu v=-1u",
                7,
                "field `v` has an unsigned integer out of range or malformed: `-1u`",
            ),
            ("cpu v=\"open", 7, "the string of field `v` is never closed"),
            ("cpu v=1 12x", 9, "timestamp `12x` is not an integer"),
            ("cpu v=1 1 2", 9, "timestamp `1 2` is not an integer"),
            ("cpu v=1x", 7, "field `v` has a malformed number `1x`"),
            ("cpu v=\"a\"b", 10, "unexpected `b` after the fields"),
        ];
        for (src, column, message) in cases {
            let err = one(src).expect_err(src);
            assert_eq!(
                (err.column, err.message.as_str()),
                (column, message),
                "{src}"
            );
        }
    }

    /// A line whose measurement and tags the caller knows is not parsed for tags again; they
    /// can still be had from the series text, escapes and all, and the rest of the line is
    /// parsed (and its errors placed) as usual.
    #[test]
    fn known_series_skip_their_tags_and_still_give_them() {
        let body = b"cpu,host=a\\ b,x=1 f=1 5\ncpu,host=a\\ b,x=1 f=oops 6\ncpu f=2 7\nm,k=v\\";
        let mut lines = Lines::new(body);
        let mut asked = Vec::new();
        let mut seen = Vec::new();
        while let Some((number, result)) = lines.next_line(|series| {
            asked.push(String::from_utf8_lossy(series).into_owned());
            number_known(series)
        }) {
            seen.push(match result {
                Ok(line) => {
                    let tags = line.series_tags().unwrap();
                    assert!(!line.tags_skipped || line.tags.is_empty());
                    format!(
                        "{number} {} {} {:?} {:?}",
                        String::from_utf8_lossy(line.series),
                        line.tags_skipped,
                        tags,
                        line.fields
                    )
                }
                Err(e) => format!("{number} {e}"),
            });
        }
        fn number_known(series: &[u8]) -> bool {
            series == b"cpu,host=a\\ b,x=1"
        }
        assert_eq!(
            seen,
            [
                r#"1 cpu,host=a\ b,x=1 true [("host", "a b"), ("x", "1")] [("f", Float(1.0))]"#,
                "2 line 2, column 21: field `f` has a value that is not a number, string or boolean: `oops`",
                "3 cpu false [] [(\"f\", Float(2.0))]",
                "4 line 4, column 7: measurement `m` is not followed by fields",
            ]
        );
        // Asked once per line with tags that end before a space; never for a line without
        // tags, nor for one whose tags run to the end.
        assert_eq!(asked, [r"cpu,host=a\ b,x=1", r"cpu,host=a\ b,x=1"]);
        // Parsed whole, the same line has the same tags.
        let whole = parse_line(b"cpu,host=a\\ b,x=1 f=1 5", 1).unwrap();
        assert!(!whole.tags_skipped);
        assert_eq!(whole.series_tags().unwrap(), whole.tags);
    }

    #[test]
    fn bodies_skip_blank_and_comment_lines_and_number_the_rest() {
        let body = b"# header\ncpu v=1 1\n\n  \r\ncpu v=oops 2\r\ncpu v=3 3\n\xff v=1\n";
        let mut seen = Vec::new();
        parse_lines(body, |_, r| {
            seen.push(match r {
                Ok(line) => format!("ok {:?}", line.timestamp),
                Err(e) => format!("err {e}"),
            })
        });
        assert_eq!(
            seen,
            [
                "ok Some(1)",
                "err line 5, column 7: field `v` has a value that is not a number, string or boolean: `oops`",
                "ok Some(3)",
                "err line 7, column 1: the line is not valid UTF-8",
            ]
        );
    }

    proptest::proptest! {
        /// The fast path gives exactly the general parser's bits wherever it answers.
        #[test]
        fn fast_decimals_equal_the_general_parser(
            int in 0u64..1_000_000_000_000_000,
            frac_digits in 0usize..16,
            negative in proptest::prelude::any::<bool>(),
        ) {
            let digits = int.to_string();
            let cut = digits.len().saturating_sub(frac_digits);
            let text = format!(
                "{}{}.{}",
                if negative { "-" } else { "" },
                &digits[..cut],
                &digits[cut..]
            );
            if let Some(fast) = fast_decimal(text.as_bytes()) {
                let general: f64 = text.parse().unwrap();
                proptest::prop_assert_eq!(fast.to_bits(), general.to_bits(), "{}", text);
            }
        }

        #[test]
        fn never_panics(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            parse_lines(&body, |_, _| {});
        }

        /// Skipping the tags of series seen in earlier lines that parsed changes nothing: the
        /// same lines parse, with the same tags, fields and errors.
        #[test]
        fn skipping_known_tags_changes_nothing(
            lines in proptest::collection::vec(
                "[ab]{1,2}(,[ab\\\\ ]{1,2}=[ab\\\\ =]{1,3}){0,3} [ab]=[0-9]{1,2}i?(,[ab]=[0-9a\"]{1,3}){0,2}( [0-9]{1,3})?",
                0..12,
            ),
            repeat in proptest::collection::vec(0usize..12, 0..12),
        ) {
            // Lines and repeats of earlier ones, so that series come back.
            let mut all = lines.clone();
            for r in repeat {
                if let Some(line) = lines.get(r) {
                    all.push(line.clone());
                }
            }
            let body = all.join("\n");
            proptest::prop_assert_eq!(line_outcomes(body.as_bytes(), false), line_outcomes(body.as_bytes(), true));
        }

        #[test]
        fn never_panics_on_near_valid_lines(src in "[a-z\\\\, =\"0-9.itfu-]{0,60}") {
            parse_lines(src.as_bytes(), |_, _| {});
        }
    }
}
