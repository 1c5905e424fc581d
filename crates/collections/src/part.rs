//! A sealed part of a collection (`parts/<sequence>.part`): the events the head held when it
//! was sealed, column by column and compressed with the storage crate's codecs, and what the
//! id index and the label join need to load without reading the events again.
//! `docs/format/collections.md` draws it.
//!
//! A part is written once (to a temporary name, synced, renamed, its directory synced) and
//! mapped read-only. Opening checks the footer, the bounds of every section and the CRCs of
//! the sections read in place or at load (ids, hashes, joins); a column's CRC is checked when
//! a read decodes it. Every failure names the file and the byte offset.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use serde::{Deserialize, Serialize};
use sextant_api::collections::ColumnType;
use sextant_model::DataType;
use sextant_storage::codec::{self, Column};

use crate::columns::{Arena, ColumnData, Dict, Key, Labels, NONE, Needs, Rows, SealInput};
use crate::schema::Schema;
use crate::{Error, Result};

const MAGIC: [u8; 8] = *b"SEXTPRT\0";
const VERSION: u32 = 1;
const HEADER_LEN: usize = 16;
/// Footer: the metadata's length and CRC.
const TRAILER_LEN: usize = 8;
/// The most inferences, or label records, one part holds: what one codec column may.
pub const MAX_PART_EVENTS: usize = codec::MAX_POINTS;

/// A byte range of the file and its CRC-32.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Section {
    offset: u64,
    len: u64,
    crc: u32,
}

/// Ids as they are: each one's end (u32 LE, from the start of `text`), and the text.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Text {
    ends: Section,
    text: Section,
}

/// One typed column: which rows have a value (absent when all do), and the values of those;
/// for text, the values are codes into the column's distinct values (`dict`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Col {
    column_type: u8,
    present: Option<Section>,
    values: Section,
    dict: Option<Section>,
}

/// The footer: where everything is.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    key: Key,
    first_row: u64,
    rows: u64,
    first_label: u64,
    labels: u64,
    /// The log records the part holds the events of: those up to this cursor.
    cursor: u64,
    /// Labels whose inference had not come when it was sealed.
    waiting: u64,
    min_ts: i64,
    max_ts: i64,
    ts: Section,
    ids: Text,
    /// Each row's id hash (u64 LE).
    hashes: Section,
    /// Each row's content hash (u64 LE).
    content: Section,
    tag_names: Section,
    /// postcard: each tag set as tag name codes.
    tag_sets: Section,
    tags: Section,
    /// Each row's project, a code (u32 column) into `project_names` (string column).
    projects: Section,
    project_names: Section,
    /// Each row's label record when sealed (u32 codec column, u32::MAX for none).
    row_label: Section,
    columns: Vec<Col>,
    label_ids: Text,
    label_hashes: Section,
    /// Each label record's row when sealed (u32::MAX for none).
    label_row: Section,
    label_columns: Vec<Col>,
}

/// A sealed part, mapped.
#[derive(Debug)]
pub(crate) struct Part {
    path: PathBuf,
    map: Mmap,
    meta: Meta,
}

fn type_code(t: ColumnType) -> u8 {
    match t {
        ColumnType::Float => 0,
        ColumnType::Int => 1,
        ColumnType::String => 2,
        ColumnType::Bool => 3,
    }
}

fn data_type(code: u8) -> Option<(ColumnType, DataType)> {
    Some(match code {
        0 => (ColumnType::Float, DataType::Double),
        1 => (ColumnType::Int, DataType::Int64),
        2 => (ColumnType::String, DataType::String),
        3 => (ColumnType::Bool, DataType::Bool),
        _ => return None,
    })
}

struct Writer {
    out: Vec<u8>,
}

impl Writer {
    fn section(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> Section {
        let offset = self.out.len();
        write(&mut self.out);
        Section {
            offset: offset as u64,
            len: (self.out.len() - offset) as u64,
            crc: crc32fast::hash(&self.out[offset..]),
        }
    }

    /// A section written by a codec, whose failure refuses the seal.
    fn coded(
        &mut self,
        write: impl FnOnce(&mut Vec<u8>) -> std::result::Result<(), codec::Error>,
    ) -> Result<Section> {
        let mut failed = None;
        let section = self.section(|out| failed = write(out).err());
        match failed {
            Some(e) => Err(Error::Invalid(format!(
                "cannot seal the events into a part: {e}"
            ))),
            None => Ok(section),
        }
    }

    fn encoded(&mut self, column: &Column) -> Result<Section> {
        // Events are independent records: no predictor is fitted to their sequence.
        self.coded(|out| codec::encode_ordered(column, codec::Order::None, out))
    }

    fn text(&mut self, arena: &Arena) -> Result<Text> {
        if u32::try_from(arena.text.len()).is_err() {
            return Err(Error::Invalid(
                "cannot seal the events into a part: their ids take more than 4 GiB".into(),
            ));
        }
        let ends = self.section(|out| {
            for &end in &arena.ends {
                out.extend_from_slice(&(end as u32).to_le_bytes());
            }
        });
        let text = self.section(|out| out.extend_from_slice(arena.text.as_bytes()));
        Ok(Text { ends, text })
    }

    fn u64s(&mut self, values: impl Iterator<Item = u64>) -> Section {
        self.section(|out| {
            for v in values {
                out.extend_from_slice(&v.to_le_bytes());
            }
        })
    }

    fn column(&mut self, column_type: ColumnType, data: &ColumnData, rows: usize) -> Result<Col> {
        let mut present = Vec::with_capacity(rows);
        let mut dict = None;
        let values = match data {
            ColumnData::Float(v) => {
                present.extend(v.iter().map(Option::is_some));
                Column::Double(v.iter().flatten().copied().collect())
            }
            ColumnData::Int(v) => {
                present.extend(v.iter().map(Option::is_some));
                Column::Int64(v.iter().flatten().copied().collect())
            }
            ColumnData::Bool(v) => {
                present.extend(v.iter().map(Option::is_some));
                Column::Bool(v.iter().flatten().copied().collect())
            }
            ColumnData::Str(codes, values) => {
                present.extend(codes.iter().map(|&c| c != NONE));
                dict = Some(self.strings(values)?);
                Column::Uint32(codes.iter().copied().filter(|&c| c != NONE).collect())
            }
            ColumnData::Absent => {
                present.resize(rows, false);
                match column_type {
                    ColumnType::String => {
                        dict = Some(self.strings(&Dict::default())?);
                        Column::Uint32(Vec::new())
                    }
                    _ => Column::new(data_type(type_code(column_type)).expect("a known type").1),
                }
            }
        };
        let present = match present.iter().all(|&p| p) && present.len() == rows {
            true => None,
            false => Some(self.encoded(&Column::Bool(present))?),
        };
        Ok(Col {
            column_type: type_code(column_type),
            present,
            values: self.encoded(&values)?,
            dict,
        })
    }

    /// The distinct values of a dictionary, by code.
    fn strings(&mut self, dict: &Dict) -> Result<Section> {
        self.encoded(&Column::String(
            dict.values().iter().map(|s| s.to_string()).collect(),
        ))
    }
}

/// Writes the head described by `input` as part `sequence` in `dir`, holding the log records up
/// to `cursor`; returns it opened.
pub(crate) fn write(
    dir: &Path,
    sequence: u64,
    input: &SealInput<'_>,
    schema: &Schema,
    cursor: u64,
) -> Result<Part> {
    let rows = input.rows;
    let labels = input.labels;
    if rows.len() > MAX_PART_EVENTS || labels.len() > MAX_PART_EVENTS {
        return Err(Error::Invalid(format!(
            "cannot seal {} inferences and {} labels into one part; the limit is {MAX_PART_EVENTS} each",
            rows.len(),
            labels.len()
        )));
    }
    let mut w = Writer {
        out: Vec::with_capacity(HEADER_LEN + rows.len() * 64),
    };
    w.out.extend_from_slice(&MAGIC);
    w.out.extend_from_slice(&VERSION.to_le_bytes());
    w.out.extend_from_slice(&[0; 4]);
    let ts = w.coded(|out| codec::encode_timestamps(&rows.ts, out))?;
    let ids = w.text(&rows.ids)?;
    let hashes = w.u64s(input.hashes.iter().copied());
    let content = w.u64s((0..rows.len()).map(|row| rows.content_hash(input.key, row)));
    let tag_names = w.strings(&rows.tag_names)?;
    let sets: Vec<&[u32]> = rows.tag_sets.iter().map(|s| &s[..]).collect();
    let sets = postcard::to_allocvec(&sets).expect("tag sets serialize");
    let tag_sets = w.section(|out| out.extend_from_slice(&sets));
    let tags = w.encoded(&Column::Uint32(rows.tags.clone()))?;
    let projects = w.encoded(&Column::Uint32(rows.projects.clone()))?;
    let project_names = w.strings(&rows.project_names)?;
    let row_label = w.encoded(&Column::Uint32(input.row_label.to_vec()))?;
    let mut columns = Vec::new();
    for (slot, column) in schema.row_columns.iter().enumerate() {
        let data = rows.columns.get(slot).unwrap_or(&ColumnData::Absent);
        columns.push(w.column(column.column_type, data, rows.len())?);
    }
    let label_ids = w.text(&labels.ids)?;
    let label_hashes = w.u64s(input.label_hashes.iter().copied());
    let label_row = w.encoded(&Column::Uint32(input.label_row.clone()))?;
    let mut label_columns = Vec::new();
    for (slot, column) in schema.label_columns.iter().enumerate() {
        let data = labels.columns.get(slot).unwrap_or(&ColumnData::Absent);
        label_columns.push(w.column(column.column_type, data, labels.len())?);
    }
    let meta = Meta {
        key: input.key,
        first_row: input.first_row as u64,
        rows: rows.len() as u64,
        first_label: input.first_label as u64,
        labels: labels.len() as u64,
        cursor,
        waiting: input.waiting as u64,
        min_ts: rows.ts.iter().copied().min().unwrap_or(i64::MAX),
        max_ts: rows.ts.iter().copied().max().unwrap_or(i64::MIN),
        ts,
        ids,
        hashes,
        content,
        tag_names,
        tag_sets,
        tags,
        projects,
        project_names,
        row_label,
        columns,
        label_ids,
        label_hashes,
        label_row,
        label_columns,
    };
    let meta = postcard::to_allocvec(&meta).expect("part metadata serializes");
    w.out.extend_from_slice(&meta);
    w.out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    w.out
        .extend_from_slice(&crc32fast::hash(&meta).to_le_bytes());

    let path = dir.join(format!("{sequence:020}.part"));
    let tmp = dir.join(format!("{sequence:020}.part.tmp"));
    {
        let mut f = fs::File::create(&tmp).map_err(Error::io("create", &tmp))?;
        f.write_all(&w.out).map_err(Error::io("write", &tmp))?;
        f.sync_all().map_err(Error::io("sync", &tmp))?;
    }
    fs::rename(&tmp, &path).map_err(Error::io("rename", &tmp))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io("sync", dir))?;
    Part::open(&path)
}

impl Part {
    /// Opens the part at `path`, checking what is read in place or at load.
    pub(crate) fn open(path: &Path) -> Result<Part> {
        let file = fs::File::open(path).map_err(Error::io("open", path))?;
        // The one exception to the workspace's `unsafe_code = "deny"`: id lookups on ingest
        // compare text in place, which a read per lookup would make fallible and slow.
        // SAFETY: parts are never written after their rename, and only Sextant writes the
        // data directory; a file changed under the map is outside what it can guard against
        // (as with Prometheus's and VictoriaMetrics' mapped files).
        #[allow(unsafe_code)]
        let map = unsafe { Mmap::map(&file) }.map_err(Error::io("map", path))?;
        Part::from_map(path, map)
    }

    fn from_map(path: &Path, map: Mmap) -> Result<Part> {
        let corrupt = |offset: usize, detail: String| Error::Corrupt {
            path: path.to_owned(),
            offset: offset as u64,
            detail,
        };
        if map.len() < HEADER_LEN + TRAILER_LEN {
            return Err(corrupt(
                0,
                format!("{} bytes is too short for a part", map.len()),
            ));
        }
        if map[..8] != MAGIC {
            return Err(corrupt(0, format!("not a part: magic {:02x?}", &map[..8])));
        }
        let version = u32::from_le_bytes(map[8..12].try_into().expect("4 bytes"));
        if version != VERSION {
            return Err(corrupt(
                8,
                format!("part version {version}; this Sextant reads {VERSION}"),
            ));
        }
        let trailer = map.len() - TRAILER_LEN;
        let meta_len =
            u32::from_le_bytes(map[trailer..trailer + 4].try_into().expect("4")) as usize;
        let meta_crc = u32::from_le_bytes(map[trailer + 4..].try_into().expect("4"));
        let Some(meta_at) = trailer.checked_sub(meta_len).filter(|&at| at >= HEADER_LEN) else {
            return Err(corrupt(
                trailer,
                format!("a footer of {meta_len} bytes does not fit"),
            ));
        };
        let meta_bytes = &map[meta_at..trailer];
        if crc32fast::hash(meta_bytes) != meta_crc {
            return Err(corrupt(meta_at, "the footer's CRC does not match".into()));
        }
        let meta: Meta = postcard::from_bytes(meta_bytes)
            .map_err(|e| corrupt(meta_at, format!("the footer does not decode: {e}")))?;
        let part = Part {
            path: path.to_owned(),
            map,
            meta,
        };
        part.check(meta_at)?;
        Ok(part)
    }

    fn corrupt(&self, offset: u64, detail: String) -> Error {
        Error::Corrupt {
            path: self.path.clone(),
            offset,
            detail,
        }
    }

    /// Checks counts, that every section lies before the footer, and the CRCs of the sections
    /// used in place (ids, hashes).
    fn check(&self, end: usize) -> Result<()> {
        let m = &self.meta;
        if m.rows as usize > MAX_PART_EVENTS || m.labels as usize > MAX_PART_EVENTS {
            return Err(self.corrupt(0, format!("{} rows and {} labels", m.rows, m.labels)));
        }
        let mut sections = vec![
            m.ts,
            m.ids.ends,
            m.ids.text,
            m.hashes,
            m.content,
            m.tag_names,
            m.tag_sets,
            m.tags,
            m.projects,
            m.project_names,
            m.row_label,
            m.label_ids.ends,
            m.label_ids.text,
            m.label_hashes,
            m.label_row,
        ];
        for c in m.columns.iter().chain(&m.label_columns) {
            if data_type(c.column_type).is_none() {
                return Err(self.corrupt(0, format!("unknown column type {}", c.column_type)));
            }
            sections.push(c.values);
            sections.extend(c.present);
            sections.extend(c.dict);
            if (c.column_type == 2) != c.dict.is_some() {
                return Err(self.corrupt(
                    c.values.offset,
                    "a text column needs its distinct values, and only text has them".into(),
                ));
            }
        }
        for s in &sections {
            let fits = s.offset >= HEADER_LEN as u64
                && s.offset.checked_add(s.len).is_some_and(|e| e <= end as u64);
            if !fits {
                return Err(self.corrupt(
                    s.offset,
                    format!(
                        "a section of {} bytes at {} is outside the part",
                        s.len, s.offset
                    ),
                ));
            }
        }
        for (s, each, count, what) in [
            (m.hashes, 8, m.rows, "id hashes"),
            (m.content, 8, m.rows, "content hashes"),
            (m.label_hashes, 8, m.labels, "label id hashes"),
        ] {
            self.checked(s)?;
            if s.len != each * count {
                return Err(
                    self.corrupt(s.offset, format!("{} bytes of {what} for {count}", s.len))
                );
            }
        }
        self.check_text(m.ids, m.rows)?;
        self.check_text(m.label_ids, m.labels)?;
        Ok(())
    }

    fn check_text(&self, t: Text, count: u64) -> Result<()> {
        let ends = self.checked(t.ends)?;
        self.checked(t.text)?;
        if t.ends.len != 4 * count {
            return Err(self.corrupt(
                t.ends.offset,
                format!("{} bytes of id ends for {count} ids", t.ends.len),
            ));
        }
        let mut last = 0u32;
        for (i, end) in ends.chunks_exact(4).enumerate() {
            let end = u32::from_le_bytes(end.try_into().expect("4 bytes"));
            if end < last || u64::from(end) > t.text.len {
                return Err(self.corrupt(
                    t.ends.offset + 4 * i as u64,
                    format!(
                        "id {i} ends at {end}, before {last} or past the {} bytes of ids",
                        t.text.len
                    ),
                ));
            }
            last = end;
        }
        Ok(())
    }

    /// The bytes of `s` (within the map, checked at open), after checking their CRC.
    fn checked(&self, s: Section) -> Result<&[u8]> {
        let bytes = self.raw(s);
        if crc32fast::hash(bytes) != s.crc {
            return Err(self.corrupt(
                s.offset,
                format!("the CRC of {} bytes does not match", s.len),
            ));
        }
        Ok(bytes)
    }

    fn raw(&self, s: Section) -> &[u8] {
        &self.map[s.offset as usize..(s.offset + s.len) as usize]
    }

    fn decode(&self, s: Section, data_type: DataType, count: u64) -> Result<Column> {
        let column = codec::decode(data_type, self.checked(s)?)
            .map_err(|e| self.corrupt(s.offset, e.to_string()))?;
        if column.len() as u64 != count {
            return Err(self.corrupt(
                s.offset,
                format!("{} values where {count} belong", column.len()),
            ));
        }
        Ok(column)
    }

    /// Distinct values (a string column), as a dictionary whose codes are their places.
    fn dict(&self, s: Section) -> Result<Dict> {
        let column = codec::decode(DataType::String, self.checked(s)?)
            .map_err(|e| self.corrupt(s.offset, e.to_string()))?;
        let Column::String(values) = column else {
            unreachable!("decoded as string")
        };
        let mut dict = Dict::default();
        for (i, value) in values.iter().enumerate() {
            if dict.code(value) as usize != i {
                return Err(self.corrupt(
                    s.offset,
                    format!("{value:?} is twice among distinct values"),
                ));
            }
        }
        Ok(dict)
    }

    fn u32s(&self, s: Section, count: u64) -> Result<Vec<u32>> {
        match self.decode(s, DataType::Uint32, count)? {
            Column::Uint32(v) => Ok(v),
            _ => unreachable!("decoded as uint32"),
        }
    }

    fn text_at(&self, t: Text, at: usize) -> &[u8] {
        let end_of = |i: usize| {
            let o = t.ends.offset as usize + 4 * i;
            u32::from_le_bytes(self.map[o..o + 4].try_into().expect("4 bytes")) as usize
        };
        let start = if at == 0 { 0 } else { end_of(at - 1) };
        let base = t.text.offset as usize;
        &self.map[base + start..base + end_of(at)]
    }

    fn arena(&self, t: Text, count: u64) -> Result<Arena> {
        let text = std::str::from_utf8(self.raw(t.text))
            .map_err(|e| self.corrupt(t.text.offset, format!("ids are not UTF-8: {e}")))?;
        let mut arena = Arena::default();
        arena.text.push_str(text);
        for i in 0..count as usize {
            let o = t.ends.offset as usize + 4 * i;
            let end = u32::from_le_bytes(self.map[o..o + 4].try_into().expect("4 bytes")) as usize;
            if !arena.text.is_char_boundary(end) {
                return Err(self.corrupt(o as u64, format!("id {i} ends inside a character")));
            }
            arena.ends.push(end);
        }
        Ok(arena)
    }

    /// Its first row.
    pub(crate) fn first_row(&self) -> usize {
        self.meta.first_row as usize
    }

    /// How many inferences.
    pub(crate) fn rows(&self) -> usize {
        self.meta.rows as usize
    }

    /// Its first label number.
    pub(crate) fn first_label(&self) -> usize {
        self.meta.first_label as usize
    }

    /// How many label records.
    pub(crate) fn labels(&self) -> usize {
        self.meta.labels as usize
    }

    /// The log records it holds: those up to this cursor.
    pub(crate) fn cursor(&self) -> u64 {
        self.meta.cursor
    }

    /// Labels whose inference had not come when it was sealed.
    pub(crate) fn waiting(&self) -> usize {
        self.meta.waiting as usize
    }

    /// The key of its hashes.
    pub(crate) fn key(&self) -> Key {
        self.meta.key
    }

    /// Its size in bytes.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether any of its inferences may have a time in `[start, end)`.
    pub(crate) fn overlaps(&self, start: i64, end: i64) -> bool {
        self.meta.rows > 0 && self.meta.min_ts < end && self.meta.max_ts >= start
    }

    /// The id of its inference `at`.
    pub(crate) fn id(&self, at: usize) -> &[u8] {
        self.text_at(self.meta.ids, at)
    }

    /// The id of its label record `at`.
    pub(crate) fn label_id(&self, at: usize) -> &[u8] {
        self.text_at(self.meta.label_ids, at)
    }

    /// The content hash of its inference `at`.
    pub(crate) fn content(&self, at: usize) -> u64 {
        let o = self.meta.content.offset as usize + 8 * at;
        u64::from_le_bytes(self.map[o..o + 8].try_into().expect("8 bytes"))
    }

    fn u64s_in(&self, s: Section) -> Vec<u64> {
        self.raw(s)
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect()
    }

    /// Each inference's id hash.
    pub(crate) fn hashes(&self) -> Vec<u64> {
        self.u64s_in(self.meta.hashes)
    }

    /// Each label record's id hash.
    pub(crate) fn label_hashes(&self) -> Vec<u64> {
        self.u64s_in(self.meta.label_hashes)
    }

    /// Each inference's label record when sealed.
    pub(crate) fn row_label(&self) -> Result<Vec<u32>> {
        self.u32s(self.meta.row_label, self.meta.rows)
    }

    /// Each label record's row when sealed.
    pub(crate) fn label_row(&self) -> Result<Vec<u32>> {
        self.u32s(self.meta.label_row, self.meta.labels)
    }

    fn read_column(&self, col: &Col, count: u64) -> Result<ColumnData> {
        let (column_type, dt) = data_type(col.column_type).expect("checked at open");
        let present = match col.present {
            Some(s) => match self.decode(s, DataType::Bool, count)? {
                Column::Bool(v) => Some(v),
                _ => unreachable!("decoded as bool"),
            },
            None => None,
        };
        let dt = if column_type == ColumnType::String {
            DataType::Uint32
        } else {
            dt
        };
        let values = codec::decode(dt, self.checked(col.values)?)
            .map_err(|e| self.corrupt(col.values.offset, e.to_string()))?;
        let expected = present
            .as_ref()
            .map_or(count as usize, |p| p.iter().filter(|&&x| x).count());
        if values.len() != expected {
            return Err(self.corrupt(
                col.values.offset,
                format!("{} values where {expected} rows have one", values.len()),
            ));
        }
        fn spread<T: Copy>(present: &Option<Vec<bool>>, values: Vec<T>) -> Vec<Option<T>> {
            match present {
                None => values.into_iter().map(Some).collect(),
                Some(present) => {
                    let mut values = values.into_iter();
                    present
                        .iter()
                        .map(|&p| if p { values.next() } else { None })
                        .collect()
                }
            }
        }
        Ok(match (column_type, values) {
            (ColumnType::Float, Column::Double(v)) => ColumnData::Float(spread(&present, v)),
            (ColumnType::Int, Column::Int64(v)) => ColumnData::Int(spread(&present, v)),
            (ColumnType::Bool, Column::Bool(v)) => ColumnData::Bool(spread(&present, v)),
            (ColumnType::String, Column::Uint32(codes)) => {
                let dict = self.dict(col.dict.expect("checked at open"))?;
                if let Some(bad) = codes.iter().find(|&&c| c as usize >= dict.values().len()) {
                    return Err(self.corrupt(
                        col.values.offset,
                        format!("code {bad} of {} distinct values", dict.values().len()),
                    ));
                }
                let codes = spread(&present, codes)
                    .into_iter()
                    .map(|c| c.unwrap_or(NONE))
                    .collect();
                ColumnData::Str(codes, dict)
            }
            _ => unreachable!("decoded as its type"),
        })
    }

    /// Its inferences, with the times, the columns `needs` names and, if it asks, ids, tags
    /// and projects.
    pub(crate) fn read_rows(&self, needs: &Needs) -> Result<Rows> {
        let m = &self.meta;
        let mut rows = Rows {
            ts: codec::decode_timestamps(self.checked(m.ts)?)
                .map_err(|e| self.corrupt(m.ts.offset, e.to_string()))?,
            ..Rows::default()
        };
        if rows.ts.len() as u64 != m.rows {
            return Err(self.corrupt(
                m.ts.offset,
                format!("{} times for {} rows", rows.ts.len(), m.rows),
            ));
        }
        if needs.text || needs.tags {
            rows.tag_names = self.dict(m.tag_names)?;
            let names = rows.tag_names.values().len();
            let sets: Vec<Vec<u32>> = postcard::from_bytes(self.checked(m.tag_sets)?)
                .map_err(|e| self.corrupt(m.tag_sets.offset, format!("tag sets: {e}")))?;
            for (i, set) in sets.iter().enumerate() {
                if set.iter().any(|&c| c as usize >= names) {
                    return Err(self.corrupt(m.tag_sets.offset, "a tag set names no tag".into()));
                }
                if rows.tag_set(set) as usize != i {
                    return Err(
                        self.corrupt(m.tag_sets.offset, format!("tag set {i} is stored twice"))
                    );
                }
            }
            rows.tags = self.u32s(m.tags, m.rows)?;
            if rows.tags.iter().any(|&c| c as usize >= rows.tag_sets.len()) {
                return Err(self.corrupt(m.tags.offset, "a row's tag set is not stored".into()));
            }
        }
        if needs.text {
            rows.ids = self.arena(m.ids, m.rows)?;
            rows.project_names = self.dict(m.project_names)?;
            rows.projects = self.u32s(m.projects, m.rows)?;
            let known = rows.project_names.values().len();
            if rows.projects.iter().any(|&c| c as usize >= known) {
                return Err(self.corrupt(m.projects.offset, "a row's project is not stored".into()));
            }
        }
        for (slot, col) in m.columns.iter().enumerate() {
            rows.columns.push(match needs.slots.contains(&slot) {
                true => self.read_column(col, m.rows)?,
                false => ColumnData::Absent,
            });
        }
        Ok(rows)
    }

    /// Its label records' columns in `slots`.
    pub(crate) fn read_labels(&self, slots: &[usize]) -> Result<Labels> {
        let m = &self.meta;
        let mut labels = Labels::default();
        for (slot, col) in m.label_columns.iter().enumerate() {
            labels.columns.push(match slots.contains(&slot) {
                true => self.read_column(col, m.labels)?,
                false => ColumnData::Absent,
            });
        }
        Ok(labels)
    }
}

/// Checks part bytes as opening does and reads everything in them; for the fuzz target.
#[doc(hidden)]
pub fn check_bytes(bytes: &[u8]) -> Result<()> {
    let path = Path::new("part");
    if bytes.is_empty() {
        return Err(Error::Invalid("an empty part".into()));
    }
    let mut map = memmap2::MmapMut::map_anon(bytes.len()).map_err(Error::io("map", path))?;
    map.copy_from_slice(bytes);
    let map = map.make_read_only().map_err(Error::io("map", path))?;
    let part = Part::from_map(path, map)?;
    part.row_label()?;
    part.label_row()?;
    let widest = part.meta.columns.len().max(part.meta.label_columns.len());
    let all: Vec<usize> = (0..widest).collect();
    part.read_rows(&Needs {
        text: true,
        tags: true,
        slots: all.clone(),
    })?;
    part.read_labels(&all)?;
    Ok(())
}
