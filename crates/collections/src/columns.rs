//! A collection's events, column by column: the events since the last seal in memory (the
//! head), older ones in sealed parts ([`crate::part`]), and over both an index from id to
//! inference and to label, and for each inference the label it joins with.
//!
//! Inferences are numbered in arrival order across parts and head (a row), and so are label
//! records (a later label for a sealed id is a new record; one for an id of the head replaces
//! its record in place). The index keeps each row's keyed 64-bit id hash and a hash table of
//! rows; a lookup compares the id text, in the head's arena or in place in the part's mapped
//! ids, so a hit costs no read beyond the page. Per inference this costs some 17 bytes in
//! memory (hash, table slot, joined label); everything else of a sealed event is on disk.
//!
//! Text in the head is stored once: ids in arenas, text columns, tags and projects as codes
//! into dictionaries, since they repeat (categories, regions, tag sets).

use std::collections::HashMap;
use std::hash::Hasher;
use std::sync::Arc;

use hashbrown::HashTable;
use sextant_api::collections::{Cell, ColumnType};
use siphasher::sip::SipHasher13;

use crate::event::{Entry, Inference, Label, Value};
use crate::part::Part;
use crate::schema::Schema;

/// No value, in a code column; no label, in `row_label`.
pub(crate) const NONE: u32 = u32::MAX;

/// Distinct values, each once, by code.
#[derive(Debug, Default)]
pub(crate) struct Dict {
    codes: HashMap<Arc<str>, u32, foldhash::fast::RandomState>,
    values: Vec<Arc<str>>,
    /// The length of all values.
    bytes: usize,
}

impl Dict {
    pub(crate) fn code(&mut self, text: &str) -> u32 {
        if let Some(&code) = self.codes.get(text) {
            return code;
        }
        let code = self.values.len() as u32;
        let text: Arc<str> = Arc::from(text);
        self.bytes += text.len();
        self.values.push(text.clone());
        self.codes.insert(text, code);
        code
    }

    pub(crate) fn get(&self, code: u32) -> Option<&str> {
        self.values.get(code as usize).map(|s| &**s)
    }

    /// The length of all values.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn lookup(&self, text: &str) -> Option<u32> {
        self.codes.get(text).copied()
    }

    pub(crate) fn values(&self) -> &[Arc<str>] {
        &self.values
    }
}

/// Texts in one arena, by position.
#[derive(Debug, Default)]
pub(crate) struct Arena {
    pub(crate) text: String,
    pub(crate) ends: Vec<usize>,
}

impl Arena {
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(crate) fn get(&self, at: usize) -> &str {
        let start = if at == 0 { 0 } else { self.ends[at - 1] };
        &self.text[start..self.ends[at]]
    }

    pub(crate) fn push(&mut self, text: &str) {
        self.text.push_str(text);
        self.ends.push(self.text.len());
    }

    /// Room for `more` texts of `bytes` in all.
    fn reserve(&mut self, more: usize, bytes: usize) {
        self.ends.reserve(more);
        self.text.reserve(bytes);
    }
}

/// The key of a collection's id and content hashes, stored in each of its parts.
pub(crate) type Key = [u64; 2];

/// A new random key.
pub(crate) fn random_key() -> Key {
    use std::hash::{BuildHasher, RandomState};
    let state = RandomState::new();
    [state.hash_one(1u8), state.hash_one(2u8)]
}

/// The keyed hash of an id.
pub(crate) fn id_hash(key: Key, id: &[u8]) -> u64 {
    let mut h = SipHasher13::new_with_keys(key[0], key[1]);
    h.write(id);
    h.finish()
}

/// A value, borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ValueRef<'a> {
    Float(f64),
    Int(i64),
    Str(&'a str),
    Bool(bool),
}

impl<'a> From<&'a Value<'_>> for ValueRef<'a> {
    fn from(value: &'a Value<'_>) -> Self {
        match value {
            Value::Float(x) => ValueRef::Float(*x),
            Value::Int(x) => ValueRef::Int(*x),
            Value::Str(x) => ValueRef::Str(x),
            Value::Bool(x) => ValueRef::Bool(*x),
        }
    }
}

/// The keyed hash of everything of an inference but its id, to tell an identical resend of a
/// sealed inference from a different one without reading it back. Empty values at the end
/// are left out, so that columns added since do not change it.
pub(crate) fn content_hash<'a>(
    key: Key,
    ts: i64,
    project: &str,
    tags: impl Iterator<Item = &'a str>,
    values: impl Iterator<Item = Option<ValueRef<'a>>>,
) -> u64 {
    let mut h = SipHasher13::new_with_keys(key[1], key[0]);
    h.write_i64(ts);
    h.write_usize(project.len());
    h.write(project.as_bytes());
    for tag in tags {
        h.write_u8(1);
        h.write_usize(tag.len());
        h.write(tag.as_bytes());
    }
    h.write_u8(0);
    let mut empties = 0u64;
    for value in values {
        let Some(value) = value else {
            empties += 1;
            continue;
        };
        for _ in 0..std::mem::take(&mut empties) {
            h.write_u8(0);
        }
        match value {
            // 0.0 and -0.0 compare equal, so they hash alike.
            ValueRef::Float(x) => {
                h.write_u8(1);
                h.write_u64(if x == 0.0 { 0 } else { x.to_bits() });
            }
            ValueRef::Int(x) => {
                h.write_u8(2);
                h.write_i64(x);
            }
            ValueRef::Str(x) => {
                h.write_u8(3);
                h.write_usize(x.len());
                h.write(x.as_bytes());
            }
            ValueRef::Bool(x) => {
                h.write_u8(4);
                h.write_u8(u8::from(x));
            }
        }
    }
    h.finish()
}

/// Ids by hash: each position's hash, and a table of positions.
#[derive(Debug, Default)]
pub(crate) struct Index {
    hashes: Vec<u64>,
    table: HashTable<u32>,
}

impl Index {
    /// How many positions.
    pub(crate) fn len(&self) -> usize {
        self.hashes.len()
    }

    /// How many positions the table finds.
    pub(crate) fn entries(&self) -> usize {
        self.table.len()
    }

    /// The hashes of positions `from..`.
    pub(crate) fn hashes(&self, from: usize) -> &[u64] {
        &self.hashes[from..]
    }

    /// The position with `hash` whose id `eq` accepts.
    fn find(&self, hash: u64, eq: impl Fn(usize) -> bool) -> Option<usize> {
        self.table
            .find(hash, |&at| {
                self.hashes[at as usize] == hash && eq(at as usize)
            })
            .map(|&at| at as usize)
    }

    /// The position with `hash` whose id `eq` accepts, or a new one with `hash`; whether it
    /// is new. One probe of the table either way.
    fn find_or_insert(&mut self, hash: u64, eq: impl Fn(usize) -> bool) -> (usize, bool) {
        let Index { hashes, table } = self;
        match table.entry(
            hash,
            |&at| hashes[at as usize] == hash && eq(at as usize),
            |&at| hashes[at as usize],
        ) {
            hashbrown::hash_table::Entry::Occupied(entry) => (*entry.get() as usize, false),
            hashbrown::hash_table::Entry::Vacant(entry) => {
                let at = hashes.len();
                hashes.push(hash);
                entry.insert(at as u32);
                (at, true)
            }
        }
    }

    /// A new position with `hash`, found by the table.
    fn insert(&mut self, hash: u64) -> usize {
        let at = self.hashes.len();
        self.hashes.push(hash);
        let hashes = &self.hashes;
        self.table
            .insert_unique(hash, at as u32, |&p| hashes[p as usize]);
        at
    }

    /// A new position with `hash` that replaces `old` in the table.
    fn replace(&mut self, hash: u64, old: usize) -> usize {
        let at = self.hashes.len();
        self.hashes.push(hash);
        if let Ok(mut entry) = self.table.find_entry(hash, |&p| p as usize == old) {
            *entry.get_mut() = at as u32;
        }
        at
    }
}

/// One typed column: a value per row, or none.
#[derive(Debug)]
pub(crate) enum ColumnData {
    Float(Vec<Option<f64>>),
    Int(Vec<Option<i64>>),
    Str(Vec<u32>, Dict),
    Bool(Vec<Option<bool>>),
    /// Not read, or added to the schema after these rows were sealed: empty everywhere.
    Absent,
}

impl ColumnData {
    pub(crate) fn new(column_type: ColumnType, rows: usize) -> ColumnData {
        match column_type {
            ColumnType::Float => ColumnData::Float(vec![None; rows]),
            ColumnType::Int => ColumnData::Int(vec![None; rows]),
            ColumnType::String => ColumnData::Str(vec![NONE; rows], Dict::default()),
            ColumnType::Bool => ColumnData::Bool(vec![None; rows]),
        }
    }

    fn push(&mut self, value: Option<Value<'_>>) {
        match self {
            ColumnData::Float(v) => v.push(None),
            ColumnData::Int(v) => v.push(None),
            ColumnData::Str(v, _) => v.push(NONE),
            ColumnData::Bool(v) => v.push(None),
            ColumnData::Absent => return,
        }
        let row = self.len() - 1;
        self.set(row, value);
    }

    /// Room for `more` values without moving the column.
    fn reserve(&mut self, more: usize) {
        match self {
            ColumnData::Float(v) => v.reserve(more),
            ColumnData::Int(v) => v.reserve(more),
            ColumnData::Str(v, _) => v.reserve(more),
            ColumnData::Bool(v) => v.reserve(more),
            ColumnData::Absent => {}
        }
    }

    fn len(&self) -> usize {
        match self {
            ColumnData::Float(v) => v.len(),
            ColumnData::Int(v) => v.len(),
            ColumnData::Str(v, _) => v.len(),
            ColumnData::Bool(v) => v.len(),
            ColumnData::Absent => 0,
        }
    }

    /// Sets row `row` to `value` (empty if absent or, which checks prevent, of another type).
    fn set(&mut self, row: usize, value: Option<Value<'_>>) {
        match (self, value) {
            (ColumnData::Float(v), Some(Value::Float(x))) => v[row] = Some(x),
            (ColumnData::Int(v), Some(Value::Int(x))) => v[row] = Some(x),
            (ColumnData::Str(v, dict), Some(Value::Str(x))) => v[row] = dict.code(&x),
            (ColumnData::Bool(v), Some(Value::Bool(x))) => v[row] = Some(x),
            (ColumnData::Float(v), _) => v[row] = None,
            (ColumnData::Int(v), _) => v[row] = None,
            (ColumnData::Str(v, _), _) => v[row] = NONE,
            (ColumnData::Bool(v), _) => v[row] = None,
            (ColumnData::Absent, _) => {}
        }
    }

    pub(crate) fn value(&self, row: usize) -> Option<Value<'_>> {
        match self {
            ColumnData::Float(v) => v.get(row)?.map(Value::Float),
            ColumnData::Int(v) => v.get(row)?.map(Value::Int),
            ColumnData::Str(v, dict) => dict.get(*v.get(row)?).map(|s| Value::Str(s.into())),
            ColumnData::Bool(v) => v.get(row)?.map(Value::Bool),
            ColumnData::Absent => None,
        }
    }

    pub(crate) fn value_ref(&self, row: usize) -> Option<ValueRef<'_>> {
        match self {
            ColumnData::Float(v) => v.get(row)?.map(ValueRef::Float),
            ColumnData::Int(v) => v.get(row)?.map(ValueRef::Int),
            ColumnData::Str(v, dict) => dict.get(*v.get(row)?).map(ValueRef::Str),
            ColumnData::Bool(v) => v.get(row)?.map(ValueRef::Bool),
            ColumnData::Absent => None,
        }
    }

    pub(crate) fn number(&self, row: usize) -> Option<f64> {
        match self {
            ColumnData::Float(v) => *v.get(row)?,
            ColumnData::Int(v) => v.get(row)?.map(|i| i as f64),
            _ => None,
        }
    }

    fn cell(&self, row: usize) -> Cell {
        match self {
            ColumnData::Float(v) => v.get(row).copied().flatten().map(Cell::Float),
            ColumnData::Int(v) => v.get(row).copied().flatten().map(Cell::Int),
            ColumnData::Str(v, dict) => v
                .get(row)
                .and_then(|&c| dict.get(c))
                .map(|s| Cell::String(s.to_owned())),
            ColumnData::Bool(v) => v.get(row).copied().flatten().map(Cell::Bool),
            ColumnData::Absent => None,
        }
        .unwrap_or(Cell::Null)
    }

    fn equals(&self, row: usize, value: Option<&Value<'_>>) -> bool {
        match (self, value) {
            (ColumnData::Float(v), Some(Value::Float(x))) => v[row] == Some(*x),
            (ColumnData::Int(v), Some(Value::Int(x))) => v[row] == Some(*x),
            (ColumnData::Str(v, dict), Some(Value::Str(x))) => dict.get(v[row]) == Some(x),
            (ColumnData::Bool(v), Some(Value::Bool(x))) => v[row] == Some(*x),
            (_, None) => self.value(row).is_none(),
            _ => false,
        }
    }
}

/// Inferences, column by column: the head's, or a sealed part's read back.
#[derive(Debug, Default)]
pub(crate) struct Rows {
    pub(crate) ids: Arena,
    pub(crate) ts: Vec<i64>,
    /// Per inference, its tag set's code.
    pub(crate) tags: Vec<u32>,
    pub(crate) tag_sets: Vec<Box<[u32]>>,
    pub(crate) tag_set_codes: HashMap<Box<[u32]>, u32, foldhash::fast::RandomState>,
    pub(crate) tag_names: Dict,
    pub(crate) projects: Vec<u32>,
    pub(crate) project_names: Dict,
    /// By row slot.
    pub(crate) columns: Vec<ColumnData>,
}

impl Rows {
    fn push(&mut self, inference: Inference<'_>, scratch: &mut Vec<u32>) {
        self.ids.push(&inference.id);
        self.ts.push(inference.ts);
        scratch.clear();
        for tag in &inference.tags {
            let code = self.tag_names.code(tag);
            scratch.push(code);
        }
        let code = self.tag_set(scratch);
        self.tags.push(code);
        self.projects
            .push(self.project_names.code(&inference.project));
        let mut values = inference.values.into_iter();
        for column in &mut self.columns {
            column.push(values.next().flatten());
        }
    }

    /// The code of a tag set (of tag name codes), added if new.
    pub(crate) fn tag_set(&mut self, set: &[u32]) -> u32 {
        if let Some(&code) = self.tag_set_codes.get(set) {
            return code;
        }
        let code = self.tag_sets.len() as u32;
        let set: Box<[u32]> = set.into();
        self.tag_sets.push(set.clone());
        self.tag_set_codes.insert(set, code);
        code
    }

    /// How many inferences.
    pub(crate) fn len(&self) -> usize {
        self.ts.len()
    }

    /// The id of inference `row`.
    pub(crate) fn id(&self, row: usize) -> &str {
        self.ids.get(row)
    }

    /// The tags of inference `row`.
    pub(crate) fn tags(&self, row: usize) -> impl Iterator<Item = &str> {
        self.tag_sets[self.tags[row] as usize]
            .iter()
            .filter_map(|&code| self.tag_names.get(code))
    }

    /// The project of inference `row`.
    pub(crate) fn project(&self, row: usize) -> &str {
        self.project_names.get(self.projects[row]).unwrap_or("")
    }

    fn column(&self, slot: usize) -> &ColumnData {
        self.columns.get(slot).unwrap_or(&ColumnData::Absent)
    }

    /// The value of row column `slot` at `row`.
    pub(crate) fn cell(&self, slot: usize, row: usize) -> Cell {
        self.column(slot).cell(row)
    }

    /// The value of row column `slot` at `row`.
    pub(crate) fn value(&self, slot: usize, row: usize) -> Option<Value<'_>> {
        self.column(slot).value(row)
    }

    /// The value of a float or int row column at `row`, as a double.
    pub(crate) fn number(&self, slot: usize, row: usize) -> Option<f64> {
        self.column(slot).number(row)
    }

    /// The value of row column `slot` at `row`, borrowed.
    pub(crate) fn value_ref(&self, slot: usize, row: usize) -> Option<ValueRef<'_>> {
        self.column(slot).value_ref(row)
    }

    /// The rows with a time in `[start, end)` and, if given, the tag.
    pub(crate) fn select(&self, start: i64, end: i64, tag: Option<&str>) -> Vec<usize> {
        let tag = match tag {
            Some(tag) => match self.tag_names.lookup(tag) {
                Some(code) => Some(code),
                None => return Vec::new(),
            },
            None => None,
        };
        (0..self.ts.len())
            .filter(|&row| {
                let ts = self.ts[row];
                ts >= start
                    && ts < end
                    && tag.is_none_or(|tag| self.tag_sets[self.tags[row] as usize].contains(&tag))
            })
            .collect()
    }

    /// The content hash of inference `row` ([`content_hash`]).
    pub(crate) fn content_hash(&self, key: Key, row: usize) -> u64 {
        content_hash(
            key,
            self.ts[row],
            self.project(row),
            self.tags(row),
            self.columns.iter().map(|c| c.value_ref(row)),
        )
    }
}

/// Label records, column by column: the head's, or a sealed part's read back.
#[derive(Debug, Default)]
pub(crate) struct Labels {
    pub(crate) ids: Arena,
    /// By label slot.
    pub(crate) columns: Vec<ColumnData>,
}

impl Labels {
    /// How many label records.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    fn column(&self, slot: usize) -> &ColumnData {
        self.columns.get(slot).unwrap_or(&ColumnData::Absent)
    }

    /// The value of a float or int label column at `at`, as a double.
    pub(crate) fn number(&self, slot: usize, at: usize) -> Option<f64> {
        self.column(slot).number(at)
    }

    /// The value of label column `slot` at `at`, borrowed.
    pub(crate) fn value_ref(&self, slot: usize, at: usize) -> Option<ValueRef<'_>> {
        self.column(slot).value_ref(at)
    }

    fn set(&mut self, at: usize, values: Vec<Option<Value<'_>>>) {
        let mut values = values.into_iter();
        for column in &mut self.columns {
            column.set(at, values.next().flatten());
        }
    }
}

/// The label records of every part and of the head, read for a query, by label number.
pub(crate) struct LabelReader<'a> {
    /// Each part's first label number, count and labels.
    parts: Vec<(usize, usize, Labels)>,
    head_first: usize,
    head: &'a Labels,
}

impl LabelReader<'_> {
    /// The records holding label `label` and its place there, trying the part `hint` names
    /// first (labels are mostly read in order) and leaving there the part found.
    pub(crate) fn locate(&self, label: usize, hint: &mut usize) -> (&Labels, usize) {
        if let Some((first, count, labels)) = self.parts.get(*hint)
            && (*first..*first + *count).contains(&label)
        {
            return (labels, label - first);
        }
        if label >= self.head_first {
            *hint = usize::MAX;
            return (self.head, label - self.head_first);
        }
        *hint = self.parts.partition_point(|(first, _, _)| *first <= label) - 1;
        let (first, _, labels) = &self.parts[*hint];
        (labels, label - first)
    }

    fn find(&self, label: usize) -> (&Labels, usize) {
        let mut no_hint = usize::MAX;
        self.locate(label, &mut no_hint)
    }

    pub(crate) fn cell(&self, slot: usize, label: usize) -> Cell {
        let (labels, at) = self.find(label);
        labels.column(slot).cell(at)
    }

    pub(crate) fn value(&self, slot: usize, label: usize) -> Option<Value<'_>> {
        let (labels, at) = self.find(label);
        labels.column(slot).value(at)
    }
}

/// Which columns a read needs from sealed parts.
#[derive(Debug, Clone, Default)]
pub(crate) struct Needs {
    /// Ids, tags and projects, besides times.
    pub(crate) text: bool,
    /// Tags, besides times.
    pub(crate) tags: bool,
    /// Row slots to read; the others are [`ColumnData::Absent`].
    pub(crate) slots: Vec<usize>,
}

/// Where a read finds inferences.
pub(crate) enum Source<'a> {
    /// A sealed part.
    Part(&'a Part),
    /// The head.
    Head,
}

/// Inferences of one part or of the head, as a read sees them.
pub(crate) enum Chunk<'a> {
    /// Read back from a part.
    Part(Box<Rows>),
    /// The head's, in place.
    Head(&'a Rows),
}

impl std::ops::Deref for Chunk<'_> {
    type Target = Rows;
    fn deref(&self) -> &Rows {
        match self {
            Chunk::Part(rows) => rows,
            Chunk::Head(rows) => rows,
        }
    }
}

/// A collection's inferences and labels.
#[derive(Debug)]
pub(crate) struct Data {
    key: Key,
    parts: Vec<Arc<Part>>,
    sealed_rows: usize,
    sealed_labels: usize,
    /// Rows by id.
    index: Index,
    /// Label records by id: the table finds each id's latest.
    label_index: Index,
    /// Per row, the label record it joins with.
    row_label: Vec<u32>,
    head: Rows,
    head_labels: Labels,
    /// Room to build a tag set before looking it up.
    scratch: Vec<u32>,
    /// Labels whose inference has not come yet: while there are none (labels usually come
    /// after), a new inference need not look for its label.
    waiting_labels: usize,
}

impl Data {
    /// No events, with the columns of `schema`.
    pub(crate) fn new(schema: &Schema, key: Key) -> Data {
        let mut data = Data {
            key,
            parts: Vec::new(),
            sealed_rows: 0,
            sealed_labels: 0,
            index: Index::default(),
            label_index: Index::default(),
            row_label: Vec::new(),
            head: Rows::default(),
            head_labels: Labels::default(),
            scratch: Vec::new(),
            waiting_labels: 0,
        };
        data.widen(schema);
        data
    }

    /// The events of `parts` (in order, each starting where the one before ends), with the
    /// columns of `schema`, as the head of nothing yet.
    pub(crate) fn from_parts(
        schema: &Schema,
        key: Key,
        parts: Vec<Arc<Part>>,
    ) -> crate::Result<Data> {
        let mut data = Data::new(schema, key);
        for part in parts {
            data.add_part(part)?;
        }
        Ok(data)
    }

    fn add_part(&mut self, part: Arc<Part>) -> crate::Result<()> {
        for hash in part.hashes() {
            self.index.insert(hash);
        }
        self.row_label.extend_from_slice(&part.row_label()?);
        let label_row = part.label_row()?;
        let first = self.sealed_labels;
        for (l, hash) in part.label_hashes().into_iter().enumerate() {
            let label = first + l;
            let id = part.label_id(l);
            let earlier = self
                .label_index
                .find(hash, |at| at < first && self.sealed_label_id(at) == id);
            match earlier {
                Some(old) => self.label_index.replace(hash, old),
                None => self.label_index.insert(hash),
            };
            if let Some(slot) = self.row_label.get_mut(label_row[l] as usize) {
                *slot = label as u32;
            }
        }
        self.sealed_rows += part.rows();
        self.sealed_labels += part.labels();
        self.waiting_labels = part.waiting();
        self.parts.push(part);
        Ok(())
    }

    /// The part holding sealed row `row`, and the row's place in it.
    fn part_of_row(&self, row: usize) -> (&Part, usize) {
        part_of_row(&self.parts, row)
    }

    fn part_of_label(&self, label: usize) -> (&Part, usize) {
        let i = self.parts.partition_point(|p| p.first_label() <= label) - 1;
        let part = &self.parts[i];
        (part, label - part.first_label())
    }

    fn sealed_label_id(&self, label: usize) -> &[u8] {
        let (part, at) = self.part_of_label(label);
        part.label_id(at)
    }

    fn row_id_is(&self, row: usize, id: &str) -> bool {
        row_id_is(&self.parts, &self.head, self.sealed_rows, row, id)
    }

    fn label_id_is(&self, label: usize, id: &str) -> bool {
        if label < self.sealed_labels {
            self.sealed_label_id(label) == id.as_bytes()
        } else {
            self.head_labels.ids.get(label - self.sealed_labels) == id
        }
    }

    /// The sealed parts.
    #[cfg(test)]
    pub(crate) fn parts(&self) -> &[Arc<Part>] {
        &self.parts
    }

    /// The hash key of this collection's ids.
    #[cfg(test)]
    pub(crate) fn key(&self) -> Key {
        self.key
    }

    /// Adds empty columns for the slots of `schema` not held yet.
    pub(crate) fn widen(&mut self, schema: &Schema) {
        let rows = self.head.len();
        for column in &schema.row_columns[self.head.columns.len()..] {
            self.head
                .columns
                .push(ColumnData::new(column.column_type, rows));
        }
        let labels = self.head_labels.len();
        for column in &schema.label_columns[self.head_labels.columns.len()..] {
            self.head_labels
                .columns
                .push(ColumnData::new(column.column_type, labels));
        }
    }

    /// How many inferences.
    pub(crate) fn inferences(&self) -> usize {
        self.index.len()
    }

    /// How many ids have a label.
    pub(crate) fn labels(&self) -> usize {
        self.label_index.entries()
    }

    /// How many events the head holds (inferences and label records).
    pub(crate) fn head_events(&self) -> usize {
        self.head.len() + self.head_labels.len()
    }

    /// The largest distinct text of one of the head's dictionaries (a text column's values,
    /// the tags or the projects), which a part stores as one column.
    pub(crate) fn head_text_bytes(&self) -> usize {
        let columns = self.head.columns.iter().chain(&self.head_labels.columns);
        columns
            .filter_map(|c| match c {
                ColumnData::Str(_, dict) => Some(dict.bytes()),
                _ => None,
            })
            .chain([self.head.tag_names.bytes(), self.head.project_names.bytes()])
            .max()
            .unwrap_or(0)
    }

    /// Applies an accepted entry.
    pub(crate) fn apply(&mut self, entry: Entry<'_>) {
        match entry {
            Entry::Inference(inference) => self.apply_inference(inference),
            Entry::Label(label) => self.apply_label(label),
        }
    }

    fn apply_inference(&mut self, inference: Inference<'_>) {
        let hash = id_hash(self.key, inference.id.as_bytes());
        let (parts, head, sealed) = (&self.parts, &self.head, self.sealed_rows);
        let (row, added) = self.index.find_or_insert(hash, |row| {
            row_id_is(parts, head, sealed, row, &inference.id)
        });
        if !added {
            // Checked before logging; a log written without that check reads as the first
            // inference winning.
            return;
        }
        debug_assert_eq!(row, self.sealed_rows + self.head.len());
        let label = match self.waiting_labels {
            0 => None,
            _ => self
                .label_index
                .find(hash, |l| self.label_id_is(l, &inference.id)),
        };
        if label.is_some() {
            self.waiting_labels -= 1;
        }
        self.row_label.push(label.map_or(NONE, |at| at as u32));
        self.head.push(inference, &mut self.scratch);
    }

    fn apply_label(&mut self, label: Label<'_>) {
        let hash = id_hash(self.key, label.id.as_bytes());
        let earlier = self
            .label_index
            .find(hash, |l| self.label_id_is(l, &label.id));
        // A later label for the same id replaces the earlier one: in place in the head, as a
        // new record for a sealed one.
        if let Some(at) = earlier
            && at >= self.sealed_labels
        {
            self.head_labels.set(at - self.sealed_labels, label.values);
            return;
        }
        let at = match earlier {
            Some(old) => self.label_index.replace(hash, old),
            None => self.label_index.insert(hash),
        };
        debug_assert_eq!(at, self.sealed_labels + self.head_labels.len());
        self.head_labels.ids.push(&label.id);
        for column in &mut self.head_labels.columns {
            column.push(None);
        }
        self.head_labels.set(at - self.sealed_labels, label.values);
        match self.index.find(hash, |row| self.row_id_is(row, &label.id)) {
            Some(row) => self.row_label[row] = at as u32,
            None if earlier.is_none() => self.waiting_labels += 1,
            None => {}
        }
    }

    /// The inference with this id.
    pub(crate) fn find(&self, id: &str) -> Option<usize> {
        let hash = id_hash(self.key, id.as_bytes());
        self.index.find(hash, |row| self.row_id_is(row, id))
    }

    /// Whether the stored inference at `row` is `inference`.
    pub(crate) fn same(&self, row: usize, inference: &Inference<'_>) -> bool {
        if row < self.sealed_rows {
            let (part, at) = self.part_of_row(row);
            let hash = content_hash(
                self.key,
                inference.ts,
                &inference.project,
                inference.tags.iter().map(|t| &**t),
                inference
                    .values
                    .iter()
                    .map(|v| v.as_ref().map(ValueRef::from)),
            );
            return part.content(at) == hash;
        }
        let (head, row) = (&self.head, row - self.sealed_rows);
        head.ts[row] == inference.ts
            && head.project(row) == inference.project
            && head.tags(row).eq(inference.tags.iter().map(|t| &**t))
            && head.columns.iter().enumerate().all(|(slot, column)| {
                column.equals(row, inference.values.get(slot).and_then(|v| v.as_ref()))
            })
    }

    /// The label record each of `len` inferences from `first` joins with ([`NONE`] for none).
    pub(crate) fn row_labels(&self, first: usize, len: usize) -> &[u32] {
        &self.row_label[first..first + len]
    }

    /// The label record inference `row` joins with.
    pub(crate) fn label_of(&self, row: usize) -> Option<usize> {
        match self.row_label[row] {
            NONE => None,
            at => Some(at as usize),
        }
    }

    /// The parts whose times may fall in `[start, end)`, and the head.
    pub(crate) fn sources(&self, start: i64, end: i64) -> Vec<Source<'_>> {
        let mut sources: Vec<Source<'_>> = self
            .parts
            .iter()
            .filter(|p| p.overlaps(start, end))
            .map(|p| Source::Part(p))
            .collect();
        sources.push(Source::Head);
        sources
    }

    /// The inferences of `source` with what `needs` names (the head has everything), and
    /// the first one's row.
    pub(crate) fn read(
        &self,
        source: &Source<'_>,
        needs: &Needs,
    ) -> crate::Result<(usize, Chunk<'_>)> {
        Ok(match source {
            Source::Part(p) => (p.first_row(), Chunk::Part(Box::new(p.read_rows(needs)?))),
            Source::Head => (self.sealed_rows, Chunk::Head(&self.head)),
        })
    }

    /// The parts and the head, each with its first row, for a read needing `needs`. Parts
    /// whose times all fall outside `[start, end)` are skipped.
    pub(crate) fn chunks(
        &self,
        needs: &Needs,
        start: i64,
        end: i64,
    ) -> impl Iterator<Item = crate::Result<(usize, Chunk<'_>)>> {
        self.sources(start, end)
            .into_iter()
            .map(move |source| self.read(&source, needs))
    }

    /// Every label record's columns in `slots` (others empty), for a read.
    pub(crate) fn label_reader(&self, slots: &[usize]) -> crate::Result<LabelReader<'_>> {
        let parts = self
            .parts
            .iter()
            .map(|p| Ok((p.first_label(), p.labels(), p.read_labels(slots)?)))
            .collect::<crate::Result<_>>()?;
        Ok(LabelReader {
            parts,
            head_first: self.sealed_labels,
            head: &self.head_labels,
        })
    }

    /// What a part of the head needs besides its columns: the first row and label, each
    /// row's hashes and label, each label's row, and the labels still waiting.
    pub(crate) fn seal_input(&self) -> SealInput<'_> {
        let label_row = (0..self.head_labels.len())
            .map(|l| {
                let id = self.head_labels.ids.get(l);
                let hash = self.label_index.hashes(self.sealed_labels)[l];
                self.index
                    .find(hash, |row| self.row_id_is(row, id))
                    .map_or(NONE, |row| row as u32)
            })
            .collect();
        SealInput {
            key: self.key,
            first_row: self.sealed_rows,
            first_label: self.sealed_labels,
            rows: &self.head,
            labels: &self.head_labels,
            hashes: self.index.hashes(self.sealed_rows),
            label_hashes: self.label_index.hashes(self.sealed_labels),
            row_label: &self.row_label[self.sealed_rows..],
            label_row,
            waiting: self.waiting_labels,
        }
    }

    /// Replaces the head by `part`, written from [`Data::seal_input`] since.
    pub(crate) fn sealed(&mut self, part: Arc<Part>, schema: &Schema) {
        self.sealed_rows += part.rows();
        self.sealed_labels += part.labels();
        self.parts.push(part);
        // A head that filled a part will likely fill the next: room for as many events up
        // front spares growing its columns by copies (untouched room costs no memory).
        let (rows, labels) = (self.head.len(), self.head_labels.len());
        let (id_bytes, label_id_bytes) =
            (self.head.ids.text.len(), self.head_labels.ids.text.len());
        self.head = Rows::default();
        self.head_labels = Labels::default();
        self.widen(schema);
        let head = &mut self.head;
        head.ids.reserve(rows, id_bytes);
        head.ts.reserve(rows);
        head.tags.reserve(rows);
        head.projects.reserve(rows);
        head.columns.iter_mut().for_each(|c| c.reserve(rows));
        self.head_labels.ids.reserve(labels, label_id_bytes);
        let label_columns = self.head_labels.columns.iter_mut();
        label_columns.for_each(|c| c.reserve(labels));
        self.row_label.reserve(rows);
    }
}

/// Whether the id of inference `row` (sealed in `parts` below `sealed`, else in `head`) is
/// `id`.
fn row_id_is(parts: &[Arc<Part>], head: &Rows, sealed: usize, row: usize, id: &str) -> bool {
    if row < sealed {
        let (part, at) = part_of_row(parts, row);
        part.id(at) == id.as_bytes()
    } else {
        head.id(row - sealed) == id
    }
}

/// The part of `parts` holding sealed row `row`, and the row's place in it.
fn part_of_row(parts: &[Arc<Part>], row: usize) -> (&Part, usize) {
    let part = &parts[parts.partition_point(|p| p.first_row() <= row) - 1];
    (part, row - part.first_row())
}

/// The head's events and what a part records with them.
pub(crate) struct SealInput<'a> {
    pub(crate) key: Key,
    pub(crate) first_row: usize,
    pub(crate) first_label: usize,
    pub(crate) rows: &'a Rows,
    pub(crate) labels: &'a Labels,
    pub(crate) hashes: &'a [u64],
    pub(crate) label_hashes: &'a [u64],
    pub(crate) row_label: &'a [u32],
    pub(crate) label_row: Vec<u32>,
    pub(crate) waiting: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_api::collections::{CollectionSchema, ColumnSpec};

    fn schema() -> Schema {
        let col = |name: &str, column_type| ColumnSpec {
            name: name.into(),
            column_type,
        };
        Schema::from_spec(&CollectionSchema {
            input_columns: vec![col("x", ColumnType::Float), col("s", ColumnType::String)],
            label_columns: vec![col("y", ColumnType::Int)],
            ..CollectionSchema::default()
        })
        .unwrap()
    }

    fn inference(id: &str, ts: i64, tags: &[&str]) -> Entry<'static> {
        Entry::Inference(Inference {
            id: id.to_owned().into(),
            ts,
            tags: tags.iter().map(|t| t.to_string().into()).collect(),
            project: "p".into(),
            values: vec![
                Some(Value::Float(ts as f64)),
                Some(Value::Str("cat".into())),
            ],
        })
    }

    fn label(id: &str, y: i64) -> Entry<'static> {
        Entry::Label(Label {
            id: id.to_owned().into(),
            values: vec![Some(Value::Int(y))],
        })
    }

    fn joined(data: &Data, row: usize) -> Option<Cell> {
        let labels = data.label_reader(&[0]).unwrap();
        data.label_of(row).map(|at| labels.cell(0, at))
    }

    #[test]
    fn ids_are_found_and_labels_join_whichever_comes_first() {
        let mut data = Data::new(&schema(), random_key());
        data.apply(label("id7", 1));
        for i in 0..10_000 {
            data.apply(inference(&format!("id{i}"), i, &["a", "b"]));
        }
        data.apply(label("id9", 0));
        data.apply(label("id9", 2));
        assert_eq!(data.inferences(), 10_000);
        assert_eq!(data.labels(), 2);
        for i in [0, 7, 9, 4_321, 9_999] {
            let row = data.find(&format!("id{i}")).unwrap();
            assert_eq!(data.head.id(row), format!("id{i}"));
            assert_eq!(data.head.ts[row], i as i64);
        }
        assert_eq!(data.find("id10000"), None);
        assert_eq!(
            joined(&data, 7),
            Some(Cell::Int(1)),
            "a label before its inference"
        );
        assert_eq!(
            joined(&data, 9),
            Some(Cell::Int(2)),
            "the latest label wins"
        );
        assert_eq!(joined(&data, 8), None);
        assert_eq!(data.head.tags(3).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(data.head.cell(1, 3), Cell::String("cat".into()));
    }

    #[test]
    fn an_inference_equals_itself_only_and_tags_select_rows() {
        let mut data = Data::new(&schema(), random_key());
        data.apply(inference("a", 2, &["x"]));
        data.apply(inference("b", 1, &["y"]));
        data.apply(inference("c", 3, &["x", "y"]));
        let Entry::Inference(a) = inference("a", 2, &["x"]) else {
            unreachable!()
        };
        assert!(data.same(0, &a));
        let Entry::Inference(moved) = inference("a", 5, &["x"]) else {
            unreachable!()
        };
        assert!(!data.same(0, &moved));
        let head = &data.head;
        assert_eq!(head.select(i64::MIN, i64::MAX, None), [0, 1, 2]);
        assert_eq!(head.select(i64::MIN, i64::MAX, Some("x")), [0, 2]);
        assert_eq!(head.select(2, 3, Some("x")), [0]);
        assert!(head.select(i64::MIN, i64::MAX, Some("z")).is_empty());
        // The content hash of a stored row is the hash of the inference it was.
        let key = data.key();
        assert_eq!(
            head.content_hash(key, 0),
            content_hash(
                key,
                a.ts,
                &a.project,
                a.tags.iter().map(|t| &**t),
                a.values.iter().map(|v| v.as_ref().map(ValueRef::from))
            )
        );
        assert_ne!(head.content_hash(key, 0), head.content_hash(key, 2));
    }
}
