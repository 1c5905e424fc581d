//! Series identity: which organization owns a series, what the series is called, and the number
//! storage gives it.
//!
//! A series is a name plus a set of labels, such as a Sift channel of one asset in one run, a
//! SignalFx metric with its dimensions or a KairosDB metric with its tags. [`SeriesKey`] keeps the
//! labels sorted by name, so two keys built from the same labels in any order are equal, hash
//! alike and print alike. Its canonical text form is
//!
//! ```text
//! mainmotor.velocity{asset="NostromoLV426",run="R1"}
//! ```
//!
//! - The name comes first. A key without labels prints as the bare name.
//! - Labels follow in braces, sorted by label name, separated by `,` with no spaces, each as
//!   `name="value"`.
//! - In the series name and in label names, the characters `\ { } , = "` are escaped with a
//!   backslash, and a newline is written `\n`.
//! - In label values, `\` and `"` are escaped with a backslash and a newline is written `\n`.
//!
//! [`SeriesKey::from_str`](std::str::FromStr) parses exactly this form (and `name{}` for a key
//! without labels), so `key.to_string().parse() == Ok(key)` for every key.

use std::fmt;
use std::hash::BuildHasher;
use std::str::FromStr;
use std::sync::{Arc, LazyLock};

use crate::ErrorKind;

/// An organization: the unit of tenancy. One organization never sees another's series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgId(pub u64);

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "org {}", self.0)
    }
}

/// The number storage gives a series of one organization. It is unique across organizations
/// and never reused while the store is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesId(pub u64);

impl fmt::Display for SeriesId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "series #{}", self.0)
    }
}

/// One label of a series: a non-empty name and a non-empty value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    /// The label's name, e.g. `asset`.
    pub name: String,
    /// The label's value, e.g. `NostromoLV426`.
    pub value: String,
}

/// A series' identity within an organization: a name and labels sorted by label name.
///
/// Invariants, checked by every constructor: the name is not empty, no label name or value is
/// empty, and no label name appears twice.
///
/// A key is shared, not copied: cloning one is a reference-count increment, so the write path
/// can hand the same key to the batch, the WAL and the index without allocating.
///
/// A key carries a hash of its name and labels, computed once when it is built: maps keyed by
/// series hash those eight bytes rather than the whole text. The hash is seeded per process,
/// so it is never stored or sent anywhere.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey(Arc<KeyParts>);

#[derive(Debug, Eq, PartialOrd, Ord)]
struct KeyParts {
    name: String,
    labels: Vec<Label>,
    /// `SEED.hash_one((&name, &labels))`. Last, so that ordering is by name, then labels.
    hash: u64,
}

/// The seed of every key's hash: random per process, so that crafted keys cannot be made to
/// collide.
static SEED: LazyLock<foldhash::fast::RandomState> = LazyLock::new(Default::default);

impl PartialEq for KeyParts {
    fn eq(&self, other: &Self) -> bool {
        // The hash first: most keys that differ differ there.
        self.hash == other.hash && self.name == other.name && self.labels == other.labels
    }
}

impl std::hash::Hash for KeyParts {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl fmt::Debug for SeriesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeriesKey")
            .field("name", &self.0.name)
            .field("labels", &self.0.labels)
            .finish()
    }
}

/// Why a [`SeriesKey`] could not be built or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeriesKeyError {
    /// The series name is empty.
    #[error("series name is empty")]
    EmptyName,
    /// A label name is empty.
    #[error("series {series:?} has a label with an empty name")]
    EmptyLabelName {
        /// The series name.
        series: String,
    },
    /// A label value is empty. A label with an empty value is no label: leave it out.
    #[error("label {label:?} of series {series:?} has an empty value; leave the label out instead")]
    EmptyLabelValue {
        /// The series name.
        series: String,
        /// The label's name.
        label: String,
    },
    /// A label name appears twice.
    #[error("label {label:?} appears twice in series {series:?}")]
    DuplicateLabel {
        /// The series name.
        series: String,
        /// The repeated label name.
        label: String,
    },
    /// The text is not a series key in canonical form.
    #[error("cannot parse series key {input:?} at byte {offset}: {reason}")]
    Syntax {
        /// The text given.
        input: String,
        /// The byte offset where parsing failed.
        offset: usize,
        /// What was expected there.
        reason: &'static str,
    },
}

impl SeriesKeyError {
    /// Every series key error is invalid input.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}

impl SeriesKey {
    /// A key from a name and labels in any order.
    pub fn new<N, V>(
        name: impl Into<String>,
        labels: impl IntoIterator<Item = (N, V)>,
    ) -> Result<Self, SeriesKeyError>
    where
        N: Into<String>,
        V: Into<String>,
    {
        let name = name.into();
        let labels = labels
            .into_iter()
            .map(|(n, v)| Label {
                name: n.into(),
                value: v.into(),
            })
            .collect();
        Self::from_parts(name, labels)
    }

    /// A key with no labels.
    pub fn bare(name: impl Into<String>) -> Result<Self, SeriesKeyError> {
        Self::from_parts(name.into(), Vec::new())
    }

    fn from_parts(name: String, mut labels: Vec<Label>) -> Result<Self, SeriesKeyError> {
        if name.is_empty() {
            return Err(SeriesKeyError::EmptyName);
        }
        labels.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        for (i, label) in labels.iter().enumerate() {
            if label.name.is_empty() {
                return Err(SeriesKeyError::EmptyLabelName { series: name });
            }
            if label.value.is_empty() {
                return Err(SeriesKeyError::EmptyLabelValue {
                    series: name,
                    label: label.name.clone(),
                });
            }
            if i > 0 && labels[i - 1].name == label.name {
                return Err(SeriesKeyError::DuplicateLabel {
                    series: name,
                    label: label.name.clone(),
                });
            }
        }
        let hash = SEED.hash_one((&name, &labels));
        Ok(SeriesKey(Arc::new(KeyParts { name, labels, hash })))
    }

    /// The series name, e.g. `mainmotor.velocity`.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The labels, sorted by name.
    pub fn labels(&self) -> &[Label] {
        &self.0.labels
    }

    /// The value of the label called `name`, if the key has one.
    pub fn label(&self, name: &str) -> Option<&str> {
        let labels = &self.0.labels;
        labels
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| labels[i].value.as_str())
    }

    /// Whether `self` and `other` are the same key in memory (clones of one key), not only
    /// equal keys.
    pub fn shares_memory_with(&self, other: &SeriesKey) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// An estimate of the heap bytes this key holds (shared by its clones).
    pub fn heap_size(&self) -> usize {
        let KeyParts { name, labels, .. } = &*self.0;
        std::mem::size_of::<KeyParts>()
            + 16
            + name.capacity()
            + labels.capacity() * std::mem::size_of::<Label>()
            + labels
                .iter()
                .map(|l| l.name.capacity() + l.value.capacity())
                .sum::<usize>()
    }
}

fn write_escaped_ident(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    for c in s.chars() {
        match c {
            '\\' | '{' | '}' | ',' | '=' | '"' => write!(f, "\\{c}")?,
            '\n' => f.write_str("\\n")?,
            c => fmt::Write::write_char(f, c)?,
        }
    }
    Ok(())
}

fn write_escaped_value(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    for c in s.chars() {
        match c {
            '\\' | '"' => write!(f, "\\{c}")?,
            '\n' => f.write_str("\\n")?,
            c => fmt::Write::write_char(f, c)?,
        }
    }
    Ok(())
}

impl fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped_ident(f, &self.0.name)?;
        if self.0.labels.is_empty() {
            return Ok(());
        }
        f.write_str("{")?;
        for (i, label) in self.0.labels.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write_escaped_ident(f, &label.name)?;
            f.write_str("=\"")?;
            write_escaped_value(f, &label.value)?;
            f.write_str("\"")?;
        }
        f.write_str("}")
    }
}

/// A cursor over the text of a series key.
struct Parser<'a> {
    input: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, reason: &'static str) -> SeriesKeyError {
        SeriesKeyError::Syntax {
            input: self.input.to_owned(),
            offset: self.pos,
            reason,
        }
    }

    fn peek(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn expect(&mut self, want: char, reason: &'static str) -> Result<(), SeriesKeyError> {
        if self.peek() == Some(want) {
            self.pos += want.len_utf8();
            Ok(())
        } else {
            Err(self.error(reason))
        }
    }

    fn escape(&mut self, allowed: &[char]) -> Result<char, SeriesKeyError> {
        match self.bump() {
            Some('n') => Ok('\n'),
            Some(c) if allowed.contains(&c) => Ok(c),
            _ => {
                self.pos -= 1;
                Err(self.error("unknown escape sequence after `\\`"))
            }
        }
    }

    /// A series name or label name: up to an unescaped `{`, `}`, `,`, `=` or `"`, or the end.
    fn ident(&mut self) -> Result<String, SeriesKeyError> {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            match c {
                '{' | '}' | ',' | '=' | '"' => break,
                '\\' => {
                    self.pos += 1;
                    out.push(self.escape(&['\\', '{', '}', ',', '=', '"'])?);
                }
                c => {
                    self.pos += c.len_utf8();
                    out.push(c);
                }
            }
        }
        Ok(out)
    }

    /// A double-quoted label value.
    fn quoted(&mut self) -> Result<String, SeriesKeyError> {
        self.expect('"', "expected `\"` to open the label value")?;
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error("unterminated label value")),
                Some('"') => return Ok(out),
                Some('\\') => out.push(self.escape(&['\\', '"'])?),
                Some(c) => out.push(c),
            }
        }
    }
}

impl FromStr for SeriesKey {
    type Err = SeriesKeyError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let mut p = Parser { input, pos: 0 };
        let name = p.ident()?;
        if name.is_empty() {
            return Err(p.error("expected a series name"));
        }
        let mut labels = Vec::new();
        if p.peek() == Some('{') {
            p.pos += 1;
            if p.peek() != Some('}') {
                loop {
                    let label_name = p.ident()?;
                    if label_name.is_empty() {
                        return Err(p.error("expected a label name"));
                    }
                    p.expect('=', "expected `=` after the label name")?;
                    let value = p.quoted()?;
                    labels.push(Label {
                        name: label_name,
                        value,
                    });
                    if p.peek() == Some(',') {
                        p.pos += 1;
                    } else {
                        break;
                    }
                }
            }
            p.expect('}', "expected `,` or `}` after a label")?;
        }
        if p.pos != input.len() {
            return Err(p.error("unexpected text after the series key"));
        }
        let sorted = labels.windows(2).all(|w| w[0].name < w[1].name);
        let key = SeriesKey::from_parts(name, labels)?;
        if !sorted {
            // Accepting unsorted labels would give one key two texts; the canonical form is one.
            return Err(SeriesKeyError::Syntax {
                input: input.to_owned(),
                offset: 0,
                reason: "labels must be sorted by name",
            });
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, labels: &[(&str, &str)]) -> SeriesKey {
        SeriesKey::new(name, labels.iter().copied()).unwrap()
    }

    #[test]
    fn labels_are_sorted_and_looked_up() {
        let k = key(
            "mainmotor.velocity",
            &[("run", "R1"), ("asset", "NostromoLV426")],
        );
        assert_eq!(k.labels()[0].name, "asset");
        assert_eq!(k.label("run"), Some("R1"));
        assert_eq!(k.label("nope"), None);
        assert_eq!(
            k,
            key(
                "mainmotor.velocity",
                &[("asset", "NostromoLV426"), ("run", "R1")]
            )
        );
    }

    #[test]
    fn canonical_text_round_trips() {
        let cases = [
            (key("cpu", &[]), "cpu"),
            (
                key(
                    "mainmotor.velocity",
                    &[("run", "R1"), ("asset", "NostromoLV426")],
                ),
                r#"mainmotor.velocity{asset="NostromoLV426",run="R1"}"#,
            ),
            (
                key("a{b}=c,\"d\\", &[("l=", "v\"q\\\nx")]),
                r#"a\{b\}\=c\,\"d\\{l\=="v\"q\\\nx"}"#,
            ),
            (
                key("spaces ok", &[("k k", "v v")]),
                r#"spaces ok{k k="v v"}"#,
            ),
            (
                key("ünï", &[("ключ", "значение")]),
                r#"ünï{ключ="значение"}"#,
            ),
        ];
        for (k, text) in cases {
            assert_eq!(k.to_string(), text);
            assert_eq!(text.parse::<SeriesKey>(), Ok(k), "{text}");
        }
        assert_eq!("cpu{}".parse::<SeriesKey>(), Ok(key("cpu", &[])));
    }

    #[test]
    fn bad_keys_are_rejected_with_the_input_quoted() {
        let cases = [
            ("", "expected a series name"),
            ("{a=\"b\"}", "expected a series name"),
            ("cpu{a=\"b\"", "expected `,` or `}`"),
            ("cpu{a=b}", "expected `\"`"),
            ("cpu{=\"b\"}", "expected a label name"),
            ("cpu{a=\"b}", "unterminated"),
            ("cpu{a=\"b\"}x", "unexpected text"),
            ("cpu\\q", "unknown escape"),
            ("cpu{b=\"1\",a=\"2\"}", "sorted"),
            ("cpu{a=\"1\",a=\"2\"}", "appears twice"),
            ("cpu{a=\"\"}", "empty value"),
            ("cpu{a=\"1\", b=\"2\"}", "sorted"),
        ];
        for (text, want) in cases {
            let err = text.parse::<SeriesKey>().unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(want), "{text:?}: {msg}");
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
        }
        assert_eq!(SeriesKey::bare(""), Err(SeriesKeyError::EmptyName));
    }
}
