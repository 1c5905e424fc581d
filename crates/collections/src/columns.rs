//! A collection's events in memory, column by column: inferences (ids, times, tags, project,
//! one typed column per row slot), labels (ids and one typed column per label slot), an index
//! from id to inference and to label, and for each inference the label it joins with.
//!
//! Text is stored once: ids in one arena each for inferences and labels, with hash tables of
//! row numbers for lookups; text columns, tags and projects as codes into dictionaries, since
//! they repeat (categories, regions, tag sets). An inference costs some 60 bytes plus its id
//! and 8 to 16 bytes per value.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::HashTable;
use sextant_api::collections::{Cell, ColumnType};

use crate::event::{Entry, Inference, Label, Value};
use crate::schema::Schema;

/// No value, in a code column; no label, in `row_label`.
const NONE: u32 = u32::MAX;

/// Distinct values, each once, by code.
#[derive(Debug, Default)]
struct Dict {
    codes: HashMap<Arc<str>, u32, foldhash::fast::RandomState>,
    values: Vec<Arc<str>>,
}

impl Dict {
    fn code(&mut self, text: &str) -> u32 {
        if let Some(&code) = self.codes.get(text) {
            return code;
        }
        let code = self.values.len() as u32;
        let text: Arc<str> = Arc::from(text);
        self.values.push(text.clone());
        self.codes.insert(text, code);
        code
    }

    fn get(&self, code: u32) -> Option<&str> {
        self.values.get(code as usize).map(|s| &**s)
    }
}

/// Ids in one arena, and a table from id to position. Each id's hash is kept, so that growing
/// the table does not hash every id again.
#[derive(Debug, Default)]
struct Ids {
    text: String,
    ends: Vec<usize>,
    hashes: Vec<u64>,
    table: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

impl Ids {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, at: usize) -> &str {
        let start = if at == 0 { 0 } else { self.ends[at - 1] };
        &self.text[start..self.ends[at]]
    }

    fn find(&self, id: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(id);
        self.table
            .find(hash, |&at| {
                self.hashes[at as usize] == hash && self.get(at as usize) == id
            })
            .map(|&at| at as usize)
    }

    /// The position of `id`, added if it is not held yet; whether it was added.
    fn find_or_push(&mut self, id: &str) -> (usize, bool) {
        let hash = self.hasher.hash_one(id);
        let (text, ends, hashes) = (&mut self.text, &mut self.ends, &mut self.hashes);
        let get = |text: &str, ends: &[usize], at: usize| -> bool {
            let start = if at == 0 { 0 } else { ends[at - 1] };
            &text[start..ends[at]] == id
        };
        match self.table.entry(
            hash,
            |&at| hashes[at as usize] == hash && get(text, ends, at as usize),
            |&at| hashes[at as usize],
        ) {
            hashbrown::hash_table::Entry::Occupied(entry) => (*entry.get() as usize, false),
            hashbrown::hash_table::Entry::Vacant(entry) => {
                let at = ends.len();
                text.push_str(id);
                ends.push(text.len());
                hashes.push(hash);
                entry.insert(at as u32);
                (at, true)
            }
        }
    }
}

/// One typed column: a value per row, or none.
#[derive(Debug)]
enum ColumnData {
    Float(Vec<Option<f64>>),
    Int(Vec<Option<i64>>),
    Str(Vec<u32>, Dict),
    Bool(Vec<Option<bool>>),
}

impl ColumnData {
    fn new(column_type: ColumnType, rows: usize) -> ColumnData {
        match column_type {
            ColumnType::Float => ColumnData::Float(vec![None; rows]),
            ColumnType::Int => ColumnData::Int(vec![None; rows]),
            ColumnType::String => ColumnData::Str(vec![NONE; rows], Dict::default()),
            ColumnType::Bool => ColumnData::Bool(vec![None; rows]),
        }
    }

    fn push(&mut self, value: Option<Value>) {
        match self {
            ColumnData::Float(v) => v.push(None),
            ColumnData::Int(v) => v.push(None),
            ColumnData::Str(v, _) => v.push(NONE),
            ColumnData::Bool(v) => v.push(None),
        }
        let row = self.len() - 1;
        self.set(row, value);
    }

    fn len(&self) -> usize {
        match self {
            ColumnData::Float(v) => v.len(),
            ColumnData::Int(v) => v.len(),
            ColumnData::Str(v, _) => v.len(),
            ColumnData::Bool(v) => v.len(),
        }
    }

    /// Sets row `row` to `value` (empty if absent or, which checks prevent, of another type).
    fn set(&mut self, row: usize, value: Option<Value>) {
        match (self, value) {
            (ColumnData::Float(v), Some(Value::Float(x))) => v[row] = Some(x),
            (ColumnData::Int(v), Some(Value::Int(x))) => v[row] = Some(x),
            (ColumnData::Str(v, dict), Some(Value::Str(x))) => v[row] = dict.code(&x),
            (ColumnData::Bool(v), Some(Value::Bool(x))) => v[row] = Some(x),
            (ColumnData::Float(v), _) => v[row] = None,
            (ColumnData::Int(v), _) => v[row] = None,
            (ColumnData::Str(v, _), _) => v[row] = NONE,
            (ColumnData::Bool(v), _) => v[row] = None,
        }
    }

    fn value(&self, row: usize) -> Option<Value> {
        match self {
            ColumnData::Float(v) => v[row].map(Value::Float),
            ColumnData::Int(v) => v[row].map(Value::Int),
            ColumnData::Str(v, dict) => dict.get(v[row]).map(|s| Value::Str(s.to_owned())),
            ColumnData::Bool(v) => v[row].map(Value::Bool),
        }
    }

    fn number(&self, row: usize) -> Option<f64> {
        match self {
            ColumnData::Float(v) => v[row],
            ColumnData::Int(v) => v[row].map(|i| i as f64),
            _ => None,
        }
    }

    fn cell(&self, row: usize) -> Cell {
        match self {
            ColumnData::Float(v) => v[row].map(Cell::Float),
            ColumnData::Int(v) => v[row].map(Cell::Int),
            ColumnData::Str(v, dict) => dict.get(v[row]).map(|s| Cell::String(s.to_owned())),
            ColumnData::Bool(v) => v[row].map(Cell::Bool),
        }
        .unwrap_or(Cell::Null)
    }

    fn equals(&self, row: usize, value: Option<&Value>) -> bool {
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

/// Which side of the join a column is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// An input, prediction or extra, by row slot.
    Row,
    /// A label, by label slot.
    Label,
}

/// A collection's inferences and labels.
#[derive(Debug, Default)]
pub(crate) struct Data {
    ids: Ids,
    ts: Vec<i64>,
    /// Per inference, its tag set's code.
    tags: Vec<u32>,
    tag_sets: HashMap<Box<[u32]>, u32, foldhash::fast::RandomState>,
    tag_set_values: Vec<Box<[u32]>>,
    tag_names: Dict,
    projects: Vec<u32>,
    project_names: Dict,
    columns: Vec<ColumnData>,
    label_ids: Ids,
    label_columns: Vec<ColumnData>,
    /// Per inference, the label it joins with.
    row_label: Vec<u32>,
    /// Room to build a tag set before looking it up.
    scratch: Vec<u32>,
    /// Labels whose inference has not come yet: while there are none (labels usually come
    /// after), a new inference need not look for its label.
    waiting_labels: usize,
}

impl Data {
    /// No events, with the columns of `schema`.
    pub(crate) fn new(schema: &Schema) -> Data {
        let mut data = Data::default();
        data.widen(schema);
        data
    }

    /// Adds empty columns for the slots of `schema` not held yet.
    pub(crate) fn widen(&mut self, schema: &Schema) {
        let rows = self.ts.len();
        for column in &schema.row_columns[self.columns.len()..] {
            self.columns.push(ColumnData::new(column.column_type, rows));
        }
        let labels = self.label_ids.len();
        for column in &schema.label_columns[self.label_columns.len()..] {
            self.label_columns
                .push(ColumnData::new(column.column_type, labels));
        }
    }

    /// How many inferences.
    pub(crate) fn inferences(&self) -> usize {
        self.ts.len()
    }

    /// How many ids have a label.
    pub(crate) fn labels(&self) -> usize {
        self.label_ids.len()
    }

    /// Applies an accepted entry.
    pub(crate) fn apply(&mut self, entry: Entry) {
        match entry {
            Entry::Inference(inference) => self.apply_inference(inference),
            Entry::Label(label) => self.apply_label(label),
        }
    }

    fn apply_inference(&mut self, inference: Inference) {
        let (row, added) = self.ids.find_or_push(&inference.id);
        if !added {
            // Checked before logging; a log written without that check reads as the first
            // inference winning.
            return;
        }
        debug_assert_eq!(row, self.ts.len());
        let label = match self.waiting_labels {
            0 => None,
            _ => self.label_ids.find(&inference.id),
        };
        if label.is_some() {
            self.waiting_labels -= 1;
        }
        self.row_label.push(label.map_or(NONE, |at| at as u32));
        self.ts.push(inference.ts);
        self.scratch.clear();
        for tag in &inference.tags {
            let code = self.tag_names.code(tag);
            self.scratch.push(code);
        }
        let code = match self.tag_sets.get(self.scratch.as_slice()) {
            Some(&code) => code,
            None => {
                let code = self.tag_set_values.len() as u32;
                let set: Box<[u32]> = self.scratch.as_slice().into();
                self.tag_set_values.push(set.clone());
                self.tag_sets.insert(set, code);
                code
            }
        };
        self.tags.push(code);
        self.projects
            .push(self.project_names.code(&inference.project));
        let mut values = inference.values.into_iter();
        for column in &mut self.columns {
            column.push(values.next().flatten());
        }
    }

    fn apply_label(&mut self, label: Label) {
        let (at, added) = self.label_ids.find_or_push(&label.id);
        // A later label for the same id replaces the earlier one.
        if added {
            for column in &mut self.label_columns {
                column.push(None);
            }
            match self.ids.find(&label.id) {
                Some(row) => self.row_label[row] = at as u32,
                None => self.waiting_labels += 1,
            }
        }
        let mut values = label.values.into_iter();
        for column in &mut self.label_columns {
            column.set(at, values.next().flatten());
        }
    }

    /// The inference with this id.
    pub(crate) fn find(&self, id: &str) -> Option<usize> {
        self.ids.find(id)
    }

    /// Whether the stored inference at `row` is `inference`.
    pub(crate) fn same(&self, row: usize, inference: &Inference) -> bool {
        self.ts[row] == inference.ts
            && self.project(row) == inference.project
            && self.tags(row).eq(inference.tags.iter().map(String::as_str))
            && self.columns.iter().enumerate().all(|(slot, column)| {
                column.equals(row, inference.values.get(slot).and_then(|v| v.as_ref()))
            })
    }

    /// The rows with a time in `[start, end)` and, if given, the tag, by time then arrival.
    pub(crate) fn select(&self, start: i64, end: i64, tag: Option<&str>) -> Vec<usize> {
        let tag = match tag {
            Some(tag) => match self.tag_names.codes.get(tag) {
                Some(&code) => Some(code),
                None => return Vec::new(),
            },
            None => None,
        };
        let mut rows: Vec<usize> = (0..self.ts.len())
            .filter(|&row| {
                let ts = self.ts[row];
                ts >= start
                    && ts < end
                    && tag.is_none_or(|tag| {
                        self.tag_set_values[self.tags[row] as usize].contains(&tag)
                    })
            })
            .collect();
        rows.sort_by_key(|&row| self.ts[row]);
        rows
    }

    /// Every inference's time, by row.
    pub(crate) fn times(&self) -> &[i64] {
        &self.ts
    }

    /// The id of inference `row`.
    pub(crate) fn id(&self, row: usize) -> &str {
        self.ids.get(row)
    }

    /// The tags of inference `row`.
    pub(crate) fn tags(&self, row: usize) -> impl Iterator<Item = &str> {
        self.tag_set_values[self.tags[row] as usize]
            .iter()
            .filter_map(|&code| self.tag_names.get(code))
    }

    /// The project of inference `row`.
    pub(crate) fn project(&self, row: usize) -> &str {
        self.project_names.get(self.projects[row]).unwrap_or("")
    }

    /// The label inference `row` joins with.
    pub(crate) fn label_of(&self, row: usize) -> Option<usize> {
        match self.row_label[row] {
            NONE => None,
            at => Some(at as usize),
        }
    }

    fn column(&self, side: Side, slot: usize) -> &ColumnData {
        match side {
            Side::Row => &self.columns[slot],
            Side::Label => &self.label_columns[slot],
        }
    }

    /// The value of a column at `at` (an inference's row, or a label's position).
    pub(crate) fn cell(&self, side: Side, slot: usize, at: usize) -> Cell {
        self.column(side, slot).cell(at)
    }

    /// The value of a column at `at`.
    pub(crate) fn value(&self, side: Side, slot: usize, at: usize) -> Option<Value> {
        self.column(side, slot).value(at)
    }

    /// The value of a float or int column at `at`, as a double.
    pub(crate) fn number(&self, side: Side, slot: usize, at: usize) -> Option<f64> {
        self.column(side, slot).number(at)
    }
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

    fn inference(id: &str, ts: i64, tags: &[&str]) -> Entry {
        Entry::Inference(Inference {
            id: id.into(),
            ts,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            project: "p".into(),
            values: vec![
                Some(Value::Float(ts as f64)),
                Some(Value::Str("cat".into())),
            ],
        })
    }

    fn label(id: &str, y: i64) -> Entry {
        Entry::Label(Label {
            id: id.into(),
            values: vec![Some(Value::Int(y))],
        })
    }

    #[test]
    fn ids_are_found_and_labels_join_whichever_comes_first() {
        let mut data = Data::new(&schema());
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
            assert_eq!(data.id(row), format!("id{i}"));
            assert_eq!(data.times()[row], i as i64);
        }
        assert_eq!(data.find("id10000"), None);
        let joined = |i: usize| data.label_of(i).map(|at| data.cell(Side::Label, 0, at));
        assert_eq!(
            joined(7),
            Some(Cell::Int(1)),
            "a label before its inference"
        );
        assert_eq!(joined(9), Some(Cell::Int(2)), "the latest label wins");
        assert_eq!(joined(8), None);
        assert_eq!(data.tags(3).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(data.cell(Side::Row, 1, 3), Cell::String("cat".into()));
    }

    #[test]
    fn an_inference_equals_itself_only_and_tags_select_rows() {
        let mut data = Data::new(&schema());
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
        assert_eq!(data.select(i64::MIN, i64::MAX, None), [1, 0, 2], "by time");
        assert_eq!(data.select(i64::MIN, i64::MAX, Some("x")), [0, 2]);
        assert_eq!(data.select(2, 3, Some("x")), [0]);
        assert!(data.select(i64::MIN, i64::MAX, Some("z")).is_empty());
    }
}
