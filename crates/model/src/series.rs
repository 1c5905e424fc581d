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
/// A key holds its name and labels as one text with the positions where each piece ends, in
/// two allocations for a name and up to two labels and three for more. A key of a name and one
/// label, such as `op.value{id="s0000123"}`, took five as separate strings, about 150 bytes in
/// the server's allocator's size classes; it takes about 90.
///
/// A key carries a hash of its name and labels, computed once when it is built: maps keyed by
/// series hash those eight bytes rather than the whole text. The hash is seeded per process,
/// so it is never stored or sent anywhere.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SeriesKey(Arc<KeyParts>);

#[derive(Eq)]
struct KeyParts {
    /// The name, then each label's name and value, back to back.
    text: Box<str>,
    /// Where each piece ends in `text`: the name at `ends[0]`, label `i`'s name at
    /// `ends[1 + 2i]` and its value at `ends[2 + 2i]`.
    ends: Ends,
    /// `SEED.hash_one((text, ends))`.
    hash: u64,
}

/// The most piece ends a key holds without an allocation of their own: a name and two labels.
const INLINE_ENDS: usize = 5;

/// A key's piece ends: beside the text's pointer when they are few (the key's shared allocation
/// keeps its size class), else in an allocation of their own.
enum Ends {
    Inline(u8, [u32; INLINE_ENDS]),
    Heap(Box<[u32]>),
}

impl Ends {
    fn new(ends: &[u32]) -> Ends {
        if ends.len() <= INLINE_ENDS {
            let mut inline = [0; INLINE_ENDS];
            inline[..ends.len()].copy_from_slice(ends);
            Ends::Inline(ends.len() as u8, inline)
        } else {
            Ends::Heap(ends.into())
        }
    }

    /// Bytes held outside the key's own allocation.
    fn heap_bytes(&self) -> usize {
        match self {
            Ends::Inline(..) => 0,
            Ends::Heap(ends) => std::mem::size_of_val(&**ends),
        }
    }
}

impl std::ops::Deref for Ends {
    type Target = [u32];

    fn deref(&self) -> &[u32] {
        match self {
            Ends::Inline(n, ends) => &ends[..usize::from(*n)],
            Ends::Heap(ends) => ends,
        }
    }
}

impl PartialEq for Ends {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Ends {}

/// The seed of every key's hash: random per process, so that crafted keys cannot be made to
/// collide.
static SEED: LazyLock<foldhash::fast::RandomState> = LazyLock::new(Default::default);

impl PartialEq for KeyParts {
    fn eq(&self, other: &Self) -> bool {
        // The hash first: most keys that differ differ there.
        self.hash == other.hash && self.text == other.text && self.ends == other.ends
    }
}

impl std::hash::Hash for KeyParts {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl Ord for SeriesKey {
    /// By name, then labels in order, each by name then value: the order of the key's text
    /// pieces, which parts and listings rely on.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            return std::cmp::Ordering::Equal;
        }
        self.name()
            .cmp(other.name())
            .then_with(|| self.labels().iter().cmp(other.labels().iter()))
    }
}

impl PartialOrd for SeriesKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for SeriesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeriesKey")
            .field("name", &self.name())
            .field("labels", &self.labels().iter().collect::<Vec<_>>())
            .finish()
    }
}

/// One label of a [`SeriesKey`], borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LabelRef<'a> {
    /// The label's name, e.g. `asset`.
    pub name: &'a str,
    /// The label's value, e.g. `NostromoLV426`.
    pub value: &'a str,
}

impl LabelRef<'_> {
    /// An owned copy.
    pub fn to_owned(&self) -> Label {
        Label {
            name: self.name.to_owned(),
            value: self.value.to_owned(),
        }
    }
}

/// Label `i` (name, value) of a key's `text` cut where `ends` says (see [`KeyParts`]).
fn label_at<'a>(text: &'a str, ends: &[u32], i: usize) -> Option<(&'a str, &'a str)> {
    let start = *ends.get(2 * i)? as usize;
    let name_end = *ends.get(2 * i + 1)? as usize;
    let value_end = *ends.get(2 * i + 2)? as usize;
    Some((&text[start..name_end], &text[name_end..value_end]))
}

/// Every label (name, value) of a key's `text` cut where `ends` says.
fn labels_of<'a>(text: &'a str, ends: &'a [u32]) -> impl Iterator<Item = (&'a str, &'a str)> {
    (0..ends.len() / 2).filter_map(move |i| label_at(text, ends, i))
}

/// The labels of a [`SeriesKey`], sorted by name.
#[derive(Clone, Copy)]
pub struct Labels<'a>(&'a KeyParts);

impl<'a> Labels<'a> {
    /// How many labels there are.
    pub fn len(&self) -> usize {
        self.0.ends.len() / 2
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th label by name order.
    pub fn get(&self, i: usize) -> Option<LabelRef<'a>> {
        let (name, value) = label_at(&self.0.text, &self.0.ends, i)?;
        Some(LabelRef { name, value })
    }

    /// The labels in name order.
    pub fn iter(&self) -> LabelIter<'a> {
        LabelIter {
            labels: *self,
            next: 0,
            end: self.len(),
        }
    }
}

impl fmt::Debug for Labels<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for Labels<'a> {
    type Item = LabelRef<'a>;
    type IntoIter = LabelIter<'a>;

    fn into_iter(self) -> LabelIter<'a> {
        self.iter()
    }
}

/// An iterator over a key's labels.
#[derive(Debug, Clone)]
pub struct LabelIter<'a> {
    labels: Labels<'a>,
    next: usize,
    end: usize,
}

impl<'a> Iterator for LabelIter<'a> {
    type Item = LabelRef<'a>;

    fn next(&mut self) -> Option<LabelRef<'a>> {
        if self.next == self.end {
            return None;
        }
        self.next += 1;
        self.labels.get(self.next - 1)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end - self.next;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for LabelIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.next == self.end {
            return None;
        }
        self.end -= 1;
        self.labels.get(self.end)
    }
}

impl ExactSizeIterator for LabelIter<'_> {}

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
    /// The name and labels together are longer than a key may be.
    #[error(
        "series {series:?} has {bytes} bytes of name and labels, more than the 4 GiB a key may hold"
    )]
    TooLong {
        /// The series name.
        series: String,
        /// The bytes of the name and labels together.
        bytes: usize,
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
        name: impl AsRef<str>,
        labels: impl IntoIterator<Item = (N, V)>,
    ) -> Result<Self, SeriesKeyError>
    where
        N: AsRef<str>,
        V: AsRef<str>,
    {
        let name = name.as_ref();
        let labels = labels.into_iter();
        let guess = labels.size_hint().0;
        let mut text = String::with_capacity(name.len() + 16 * guess);
        let mut ends: Vec<u32> = Vec::with_capacity(1 + 2 * guess);
        // Positions are checked to fit a u32 once the text is complete.
        text.push_str(name);
        ends.push(text.len() as u32);
        let mut sorted = true;
        for (label, value) in labels {
            let label = label.as_ref();
            if sorted && ends.len() > 1 {
                let n = ends.len();
                sorted = &text[ends[n - 3] as usize..ends[n - 2] as usize] < label;
            }
            text.push_str(label);
            ends.push(text.len() as u32);
            text.push_str(value.as_ref());
            ends.push(text.len() as u32);
        }
        Self::finish(text, ends, sorted)
    }

    /// A key with no labels.
    pub fn bare(name: impl AsRef<str>) -> Result<Self, SeriesKeyError> {
        Self::new(name, std::iter::empty::<(&str, &str)>())
    }

    /// Checks and completes a key whose `text` and `ends` hold its pieces, with the labels
    /// sorted by name if `sorted`, else in any order.
    fn finish(text: String, ends: Vec<u32>, sorted: bool) -> Result<Self, SeriesKeyError> {
        let name_end = ends[0] as usize;
        if u32::try_from(text.len()).is_err() {
            return Err(SeriesKeyError::TooLong {
                series: text.chars().take(64).collect(),
                bytes: text.len(),
            });
        }
        if name_end == 0 {
            return Err(SeriesKeyError::EmptyName);
        }
        let (text, ends) = if sorted {
            (text, ends)
        } else {
            let mut labels: Vec<(&str, &str)> = labels_of(&text, &ends).collect();
            labels.sort_unstable_by(|a, b| a.0.cmp(b.0));
            let mut sorted_text = String::with_capacity(text.len());
            let mut sorted_ends = Vec::with_capacity(ends.len());
            sorted_text.push_str(&text[..name_end]);
            sorted_ends.push(name_end as u32);
            for (label, value) in labels {
                sorted_text.push_str(label);
                sorted_ends.push(sorted_text.len() as u32);
                sorted_text.push_str(value);
                sorted_ends.push(sorted_text.len() as u32);
            }
            (sorted_text, sorted_ends)
        };
        let series = || text[..name_end].to_owned();
        let mut before = "";
        for (label, value) in labels_of(&text, &ends) {
            if label.is_empty() {
                return Err(SeriesKeyError::EmptyLabelName { series: series() });
            }
            if value.is_empty() {
                return Err(SeriesKeyError::EmptyLabelValue {
                    series: series(),
                    label: label.to_owned(),
                });
            }
            if label == before {
                return Err(SeriesKeyError::DuplicateLabel {
                    series: series(),
                    label: label.to_owned(),
                });
            }
            before = label;
        }
        let text = text.into_boxed_str();
        let hash = SEED.hash_one((&text, &ends));
        let ends = Ends::new(&ends);
        Ok(SeriesKey(Arc::new(KeyParts { text, ends, hash })))
    }

    /// The series name, e.g. `mainmotor.velocity`.
    pub fn name(&self) -> &str {
        &self.0.text[..self.0.ends[0] as usize]
    }

    /// The labels, sorted by name.
    pub fn labels(&self) -> Labels<'_> {
        Labels(&self.0)
    }

    /// The value of the label called `name`, if the key has one.
    pub fn label(&self, name: &str) -> Option<&str> {
        let labels = self.labels();
        let (mut lo, mut hi) = (0, labels.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            let label = labels.get(mid)?;
            match label.name.cmp(name) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(label.value),
            }
        }
        None
    }

    /// Whether `self` and `other` have the same labels (whatever their names): one comparison
    /// of the labels' text and of where each piece ends, rather than one per label.
    pub fn same_labels(&self, other: &SeriesKey) -> bool {
        let (a, b) = (&*self.0, &*other.0);
        let (start_a, start_b) = (a.ends[0], b.ends[0]);
        a.ends.len() == b.ends.len()
            && a.text[start_a as usize..] == b.text[start_b as usize..]
            && (a.ends[1..].iter().zip(&b.ends[1..])).all(|(x, y)| x - start_a == y - start_b)
    }

    /// Whether `self` and `other` are the same key in memory (clones of one key), not only
    /// equal keys.
    pub fn shares_memory_with(&self, other: &SeriesKey) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// An estimate of the heap bytes this key holds (shared by its clones).
    pub fn heap_size(&self) -> usize {
        let KeyParts { text, ends, .. } = &*self.0;
        std::mem::size_of::<KeyParts>() + 16 + text.len() + ends.heap_bytes()
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
        write_escaped_ident(f, self.name())?;
        let labels = self.labels();
        if labels.is_empty() {
            return Ok(());
        }
        f.write_str("{")?;
        for (i, label) in labels.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write_escaped_ident(f, label.name)?;
            f.write_str("=\"")?;
            write_escaped_value(f, label.value)?;
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
        let key = SeriesKey::new(name, labels.iter().map(|l| (&l.name, &l.value)))?;
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

    #[test]
    fn a_key_of_a_name_and_two_labels_takes_two_allocations() {
        // The key's shared allocation stays in the 64-byte size class with its counts.
        assert!(std::mem::size_of::<KeyParts>() <= 48);
        let short = SeriesKey::new("op.value", [("group", "g01"), ("id", "s0000123")]).unwrap();
        let long = SeriesKey::new("m", [("a", "1"), ("b", "2"), ("c", "3")]).unwrap();
        assert!(matches!(short.0.ends, Ends::Inline(5, _)));
        assert!(matches!(long.0.ends, Ends::Heap(ref e) if e.len() == 7));
        for key in [&short, &long] {
            let again = SeriesKey::new(key.name(), key.labels().iter().map(|l| (l.name, l.value)));
            assert_eq!(again.as_ref(), Ok(key));
            assert!(!again.unwrap().shares_memory_with(key));
        }
        assert_eq!(short.label("id"), Some("s0000123"));
        assert_eq!(long.label("c"), Some("3"));
        // The text, and for the long key its seven ends apart.
        let own = std::mem::size_of::<KeyParts>() + 16;
        assert_eq!(short.heap_size(), own + "op.valuegroupg01ids0000123".len());
        assert_eq!(long.heap_size(), own + "ma1b2c3".len() + 7 * 4);
    }

    fn key(name: &str, labels: &[(&str, &str)]) -> SeriesKey {
        SeriesKey::new(name, labels.iter().copied()).unwrap()
    }

    #[test]
    fn labels_are_sorted_and_looked_up() {
        let k = key(
            "mainmotor.velocity",
            &[("run", "R1"), ("asset", "NostromoLV426")],
        );
        assert_eq!(k.labels().get(0).unwrap().name, "asset");
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
    fn keys_order_by_name_then_labels_in_order() {
        // As (name, [(label, value), ...]) tuples order, which parts and listings rely on.
        let keys = [
            key("a", &[]),
            key("a", &[("host", "h1")]),
            key("a", &[("host", "h1"), ("rack", "1")]),
            key("a", &[("host", "h10")]),
            key("a", &[("host", "h2")]),
            key("a", &[("hosts", "a")]),
            key("a", &[("rack", "0")]),
            key("ab", &[]),
            key("b", &[("a", "z")]),
        ];
        for (i, x) in keys.iter().enumerate() {
            for (j, y) in keys.iter().enumerate() {
                let tuple = |k: &SeriesKey| {
                    (
                        k.name().to_owned(),
                        k.labels()
                            .iter()
                            .map(|l| (l.name.to_owned(), l.value.to_owned()))
                            .collect::<Vec<_>>(),
                    )
                };
                assert_eq!(x.cmp(y), i.cmp(&j), "{x} against {y}");
                assert_eq!(x.cmp(y), tuple(x).cmp(&tuple(y)));
                assert_eq!(x == y, i == j);
            }
        }
        // The pieces are kept apart: moving a byte from a label's name to its value makes
        // another key.
        assert_ne!(key("a", &[("ab", "c")]), key("a", &[("a", "bc")]));
        assert_ne!(key("ab", &[("c", "d")]), key("a", &[("bc", "d")]));
    }

    #[test]
    fn labels_are_read_by_position_and_in_both_directions() {
        let k = key("m", &[("c", "3"), ("a", "1"), ("b", "2")]);
        let labels = k.labels();
        assert_eq!(labels.len(), 3);
        assert_eq!(
            labels.get(1),
            Some(LabelRef {
                name: "b",
                value: "2"
            })
        );
        assert_eq!(labels.get(3), None);
        let names: Vec<&str> = labels.iter().rev().map(|l| l.name).collect();
        assert_eq!(names, ["c", "b", "a"]);
        assert_eq!(labels.iter().len(), 3);
        assert_eq!(k.label("c"), Some("3"));
        assert_eq!(k.label("d"), None);
        assert!(key("m", &[]).labels().is_empty());
        assert!(k.same_labels(&key("other", &[("a", "1"), ("b", "2"), ("c", "3")])));
        assert!(!k.same_labels(&key("m", &[("a", "1"), ("b", "2")])));
        assert!(!k.same_labels(&key("m", &[("a", "1"), ("b", "2"), ("c", "4")])));
        // The same text cut in other places is other labels.
        assert!(!key("m", &[("ab", "c")]).same_labels(&key("m", &[("a", "bc")])));
        assert!(key("m", &[]).same_labels(&key("n", &[])));
        let given = [("d", "4"), ("b", "2"), ("c", "3"), ("a", "1")];
        let mut sorted = given;
        sorted.sort();
        assert_eq!(key("m", &given), key("m", &sorted));
        assert_eq!(
            key("m", &given).to_string(),
            r#"m{a="1",b="2",c="3",d="4"}"#
        );
        for (labels, want) in [
            (&[("b", "1"), ("a", "2"), ("b", "3")][..], "appears twice"),
            (&[("b", "1"), ("", "2")][..], "empty name"),
            (&[("b", "1"), ("a", "")][..], "empty value"),
        ] {
            let err = SeriesKey::new("m", labels.iter().copied()).unwrap_err();
            assert!(err.to_string().contains(want), "{labels:?}: {err}");
        }
        // One allocation for the text and one for the positions besides the key itself.
        let small = key("op.value", &[("id", "s0000123")]);
        assert!(small.heap_size() <= 100, "{}", small.heap_size());
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
