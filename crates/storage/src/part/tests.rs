//! Unit tests of the part format: round trips of every data type, names, and damage reported
//! as errors naming the file and offset.

use std::path::{Path, PathBuf};

use sextant_model::{DataType, OrgId, Point, SeriesKey, Value};

use super::format::{self, FOOTER_LEN};
use super::*;
use crate::Error;
use crate::codec::Column;

fn key(name: &str) -> SeriesKey {
    SeriesKey::new(name, [("asset", "NostromoLV426")]).unwrap()
}

/// Ten values of `t`, varied enough to exercise the summaries.
fn column(t: DataType) -> Column {
    let n = 0..10i32;
    match t {
        DataType::Double => Column::Double(n.map(|i| f64::from(i) * 1.5 - 3.0).collect()),
        DataType::Float => Column::Float(n.map(|i| i as f32 / 4.0).collect()),
        DataType::Int32 => Column::Int32(n.map(|i| 7 - i * i).collect()),
        DataType::Int64 => Column::Int64(n.map(|i| i64::from(i) << 40).collect()),
        DataType::Uint32 => Column::Uint32(n.map(|i| i as u32 * 3).collect()),
        DataType::Uint64 => Column::Uint64(n.map(|i| u64::MAX - i as u64).collect()),
        DataType::Bool => Column::Bool(n.map(|i| i % 3 == 0).collect()),
        DataType::Enum => Column::Enum(n.map(|i| (i / 4) as u32).collect()),
        DataType::BitField => Column::BitField(n.map(|i| 1u64 << i).collect()),
        DataType::String => Column::String(n.map(|i| format!("state {}", i % 3)).collect()),
        DataType::Bytes => Column::Bytes(n.map(|i| vec![i as u8; i as usize]).collect()),
    }
}

fn points(timestamps: &[i64], column: &Column) -> Vec<Point> {
    let mut out = Vec::new();
    format::push_points(timestamps, column.clone(), None, &mut out);
    out
}

/// Writes a part with one series per data type (blocks of four points, summarized from
/// `summary_min_points`) and returns its path and the points written per series.
fn write_sample(dir: &Path) -> (PathBuf, Vec<(SeriesKey, DataType, Vec<Point>)>) {
    write_sample_summarized(dir, 3)
}

fn write_sample_summarized(
    dir: &Path,
    summary_min_points: u32,
) -> (PathBuf, Vec<(SeriesKey, DataType, Vec<Point>)>) {
    let files = LocalParts::open(dir).unwrap();
    let (writer, written) = sample_writer(&files, summary_min_points);
    let at = writer.finish().unwrap();
    (files.describe(&at), written)
}

/// A writer of part 1 of partition 0 (`0..1_000`) in `files`.
fn part_one_writer(files: &LocalParts, wal_seq: u64, summary_min_points: u32) -> PartWriter {
    let at = PartLocation {
        partition: 0,
        name: PartName::single(1),
    };
    PartWriter::create(files, at, 0..1_000, wal_seq, summary_min_points).unwrap()
}

/// A writer of part 1 in `files` with the sample's series written but not finished.
fn sample_writer(
    files: &LocalParts,
    summary_min_points: u32,
) -> (PartWriter, Vec<(SeriesKey, DataType, Vec<Point>)>) {
    let mut writer = part_one_writer(files, 42, summary_min_points);
    let mut written = Vec::new();
    for (i, t) in DataType::ALL.into_iter().enumerate() {
        let k = key(&format!("series.{}", t.as_str()));
        let values = column(t);
        let timestamps: Vec<i64> = (0..10).map(|j| j * 10 + i as i64).collect();
        writer.begin_series(OrgId(i as u64 % 3), &k, t).unwrap();
        for start in (0..10).step_by(4) {
            let end = (start + 4).min(10);
            let block = slice(&values, start..end);
            writer.add_block(&timestamps[start..end], &block).unwrap();
        }
        written.push((k, t, points(&timestamps, &values)));
    }
    (writer, written)
}

/// The values at positions `r` of `c`.
fn slice(c: &Column, r: std::ops::Range<usize>) -> Column {
    let ts: Vec<i64> = (0..c.len() as i64).collect();
    let mut pts = Vec::new();
    format::push_points(
        &ts,
        c.clone(),
        Some(&(r.start as i64..r.end as i64)),
        &mut pts,
    );
    let mut out = Column::new(c.data_type());
    for p in pts {
        match (&mut out, p.value) {
            (Column::Double(v), Value::Double(x)) => v.push(x),
            (Column::Float(v), Value::Float(x)) => v.push(x),
            (Column::Int32(v), Value::Int32(x)) => v.push(x),
            (Column::Int64(v), Value::Int64(x)) => v.push(x),
            (Column::Uint32(v), Value::Uint32(x)) => v.push(x),
            (Column::Uint64(v), Value::Uint64(x)) => v.push(x),
            (Column::Bool(v), Value::Bool(x)) => v.push(x),
            (Column::Enum(v), Value::Enum(x)) => v.push(x),
            (Column::BitField(v), Value::BitField(x)) => v.push(x),
            (Column::String(v), Value::String(x)) => v.push(x),
            (Column::Bytes(v), Value::Bytes(x)) => v.push(x),
            _ => unreachable!("one type per column"),
        }
    }
    out
}

#[test]
fn every_data_type_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let (path, written) = write_sample(dir.path());
    assert_eq!(
        path.file_name().unwrap(),
        PartName::single(1).file_name().as_str()
    );
    let part = Part::open(&path, PartName::single(1)).unwrap();
    assert_eq!(part.partition(), 0..1_000);
    assert_eq!(part.wal_seq(), 42);
    assert_eq!(part.points(), 10 * DataType::ALL.len() as u64);
    assert_eq!(part.series().count(), DataType::ALL.len());
    for (i, (k, t, want)) in written.iter().enumerate() {
        let org = OrgId(i as u64 % 3);
        let series = part.get(org, k).unwrap();
        assert_eq!(series.data_type, *t);
        assert_eq!(series.blocks.len(), 3);
        // Blocks of 4, 4 and 2 points: the last is below the sample's 3 and has no summary of
        // its values.
        let first = &series.blocks[0].summary;
        let values = first.values.as_ref().unwrap();
        assert_eq!((first.count, &values.first), (4, &want[0].value));
        assert_eq!(values.last, want[3].value);
        assert_eq!(values.numeric.is_some(), t.is_numeric());
        let tail = &series.blocks[2].summary;
        assert_eq!(
            (tail.count, tail.min_ts, &tail.values),
            (2, want[8].timestamp, &None)
        );
        let mut got = Vec::new();
        assert!(
            part.read_into(org, k, &(i64::MIN..i64::MAX), &mut got)
                .unwrap()
        );
        assert_eq!(&got, want, "{t}");
        // A sub-range crossing a block boundary.
        got.clear();
        part.read_into(org, k, &(want[2].timestamp..want[6].timestamp), &mut got)
            .unwrap();
        assert_eq!(got, want[2..6], "{t}");
        // Another organization does not see the series.
        assert!(!part.read_into(OrgId(9), k, &(0..1_000), &mut got).unwrap());
    }
}

#[test]
fn numeric_summaries_hold_min_max_and_sum() {
    let c = Column::Double(vec![2.0, f64::NAN, -1.0, 5.0]);
    let s = format::summarize(&[1, 2, 3, 4], &c).values.unwrap();
    let n = s.numeric.unwrap();
    assert_eq!((n.min, n.max), (Value::Double(-1.0), Value::Double(5.0)));
    assert!(n.sum.is_nan());
    let s = format::summarize(&[1, 2], &Column::Uint64(vec![u64::MAX, 3]))
        .values
        .unwrap();
    let n = s.numeric.unwrap();
    assert_eq!((n.min, n.max), (Value::Uint64(3), Value::Uint64(u64::MAX)));
    assert_eq!(
        (s.first, s.last),
        (Value::Uint64(u64::MAX), Value::Uint64(3))
    );
}

#[test]
fn names_parse_back_and_order() {
    let n = PartName { first: 3, last: 17 };
    assert_eq!(PartName::parse(&n.file_name()), Some(n));
    for bad in [
        "1-2.part",
        "00000000000000000002-00000000000000000001.part",
        "x.part",
    ] {
        assert_eq!(PartName::parse(bad), None, "{bad}");
    }
    assert!(n.supersedes(&PartName::single(3)));
    assert!(!n.supersedes(&n));
    assert_eq!(partition_of(-1, 10), -10..0);
    assert_eq!(partition_of(i64::MAX, 10).end, i64::MAX);
}

fn expect_corrupt(err: Error, path: &Path, offset: Option<u64>) {
    match &err {
        Error::PartCorrupt {
            path: p, offset: o, ..
        } => {
            assert_eq!(p, path);
            if let Some(offset) = offset {
                assert_eq!(*o, offset, "{err}");
            }
            let msg = err.to_string();
            assert!(msg.contains(&path.display().to_string()), "{msg}");
        }
        other => panic!("expected a corrupt-part error, got {other}"),
    }
}

#[test]
fn a_damaged_block_is_an_error_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let (path, written) = write_sample(dir.path());
    let part = Part::open(&path, PartName::single(1)).unwrap();
    let (k, _, _) = &written[0];
    let block = part.get(OrgId(0), k).unwrap().blocks[1].clone();
    drop(part);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[block.offset as usize + 6] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    // The index is intact, so the part opens; reading the block fails.
    let part = Part::open(&path, PartName::single(1)).unwrap();
    let mut out = Vec::new();
    let err = part
        .read_into(OrgId(0), k, &(i64::MIN..i64::MAX), &mut out)
        .unwrap_err();
    expect_corrupt(err, &path, Some(block.offset));
}

#[test]
fn damaged_index_footer_or_length_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_sample(dir.path());
    let good = std::fs::read(&path).unwrap();
    let footer_at = (good.len() - FOOTER_LEN) as u64;

    let mut bytes = good.clone();
    bytes[footer_at as usize - 3] ^= 1; // the last index byte
    std::fs::write(&path, &bytes).unwrap();
    let err = Part::open(&path, PartName::single(1)).unwrap_err();
    assert!(err.to_string().contains("index CRC mismatch"), "{err}");
    expect_corrupt(err, &path, None);

    let mut bytes = good.clone();
    bytes[footer_at as usize + 20] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let err = Part::open(&path, PartName::single(1)).unwrap_err();
    expect_corrupt(err, &path, Some(footer_at + 72));

    std::fs::write(&path, &good[..good.len() - 5]).unwrap();
    let err = Part::open(&path, PartName::single(1)).unwrap_err();
    assert!(err.to_string().contains("cut short"), "{err}");
    expect_corrupt(err, &path, None);

    let mut bytes = good.clone();
    bytes[8] = 9;
    std::fs::write(&path, &bytes).unwrap();
    let err = Part::open(&path, PartName::single(1)).unwrap_err();
    assert!(matches!(err, Error::PartVersion { found: 9, .. }), "{err}");
}

#[test]
fn no_single_byte_damage_panics() {
    let dir = tempfile::tempdir().unwrap();
    let (path, written) = write_sample(dir.path());
    let good = std::fs::read(&path).unwrap();
    let mut detected = 0;
    for at in 0..good.len() {
        let mut bytes = good.clone();
        bytes[at] ^= 0x81;
        std::fs::write(&path, &bytes).unwrap();
        let Ok(part) = Part::open(&path, PartName::single(1)) else {
            detected += 1;
            continue;
        };
        for (i, (k, _, want)) in written.iter().enumerate() {
            let mut got = Vec::new();
            match part.read_into(OrgId(i as u64 % 3), k, &(i64::MIN..i64::MAX), &mut got) {
                Err(_) => detected += 1,
                // Every byte is covered by a CRC, so damage never reads back as other data.
                Ok(_) => assert_eq!(&got, want, "byte {at} flipped"),
            }
        }
    }
    assert!(
        detected >= good.len(),
        "{detected} of {} flips detected",
        good.len()
    );
}

#[test]
fn every_truncation_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_sample(dir.path());
    let good = std::fs::read(&path).unwrap();
    for len in 0..good.len() {
        std::fs::write(&path, &good[..len]).unwrap();
        let err = Part::open(&path, PartName::single(1)).unwrap_err();
        expect_corrupt(err, &path, None);
    }
}

/// `good` with its index section replaced by `section` of `encoding`, written as `version`.
fn with_index(good: &[u8], section: &[u8], encoding: u32, version: u32) -> Vec<u8> {
    let footer_at = good.len() - FOOTER_LEN;
    let mut footer =
        format::Footer::decode(good[footer_at..].try_into().unwrap()).unwrap_or_else(|_| {
            panic!("the sample's footer decodes");
        });
    let mut bytes = good[..footer.index_offset as usize].to_vec();
    bytes[8..12].copy_from_slice(&version.to_le_bytes());
    bytes.extend_from_slice(section);
    footer.index_len = section.len() as u64;
    footer.index_crc = crc32fast::hash(section);
    footer.index_encoding = encoding;
    footer.version = version;
    bytes.extend_from_slice(&footer.encode());
    bytes
}

/// The raw index of `part` as `version` writes it, every block with its whole summary (made
/// from its points, as versions before 3 always had one).
fn index_as(part: &Part, version: u32) -> Vec<u8> {
    let mut index = Vec::new();
    for (org, key, series) in part.series() {
        format::put_series(&mut index, org, key, series.data_type, series.blocks.len());
        for block in series.blocks {
            let (timestamps, values) = part.read_block(block, series.data_type).unwrap();
            let whole = BlockMeta {
                summary: format::summarize(&timestamps, &values),
                ..block.clone()
            };
            assert!(format::put_block(&mut index, &whole, version));
        }
    }
    index
}

fn read_back(path: &Path, written: &[(SeriesKey, DataType, Vec<Point>)]) -> Part {
    let part = Part::open(path, PartName::single(1)).unwrap();
    for (i, (k, _, want)) in written.iter().enumerate() {
        let mut got = Vec::new();
        part.read_into(OrgId(i as u64 % 3), k, &(i64::MIN..i64::MAX), &mut got)
            .unwrap();
        assert_eq!(&got, want);
    }
    part
}

#[test]
fn versions_2_and_1_still_open_with_every_block_summarized() {
    let dir = tempfile::tempdir().unwrap();
    let (path, written) = write_sample(dir.path());
    let good = std::fs::read(&path).unwrap();
    let part = Part::open(&path, PartName::single(1)).unwrap();
    let v2_index = index_as(&part, 2);
    // A block without a summary cannot be written as version 2.
    let short = &part.get(OrgId(0), &written[0].0).unwrap().blocks[2];
    assert!(!format::put_block(&mut Vec::new(), short, 2));
    drop(part);

    let (section, encoding) = format::encode_index(v2_index.clone());
    assert_eq!(encoding, format::INDEX_ZSTD);
    std::fs::write(&path, with_index(&good, &section, encoding, 2)).unwrap();
    let part = read_back(&path, &written);
    for (_, _, series) in part.series() {
        assert!(series.blocks.iter().all(|b| b.summary.values.is_some()));
    }
    std::fs::write(&path, with_index(&good, &v2_index, format::INDEX_RAW, 1)).unwrap();
    read_back(&path, &written);

    // Version 3 reads a summary flag other than 0 and 1 as damage.
    let mut v3_index = index_as(&Part::open(&path, PartName::single(1)).unwrap(), 3);
    // After the first series' org, key (length, text), type and block count, and its first
    // block's offset, length, count and timestamps.
    let key_len = u32::from_le_bytes(v3_index[8..12].try_into().unwrap()) as usize;
    let first_flag = 8 + 4 + key_len + 1 + 4 + 8 + 4 + 4 + 8 + 8;
    assert_eq!(v3_index[first_flag], 1);
    v3_index[first_flag] = 2;
    std::fs::write(&path, with_index(&good, &v3_index, format::INDEX_RAW, 3)).unwrap();
    let err = Part::open(&path, PartName::single(1)).unwrap_err();
    assert!(err.to_string().contains("summary flag 0x02"), "{err}");
}

#[test]
fn the_index_is_compressed_and_version_1_parts_still_open() {
    let dir = tempfile::tempdir().unwrap();
    let (path, written) = write_sample(dir.path());
    let good = std::fs::read(&path).unwrap();
    let footer_at = good.len() - FOOTER_LEN;
    let footer = format::Footer::decode(good[footer_at..].try_into().unwrap())
        .unwrap_or_else(|_| panic!("the sample's footer decodes"));
    assert_eq!(footer.version, format::VERSION);
    assert_eq!(footer.index_encoding, format::INDEX_ZSTD);
    let section = good[footer.index_offset as usize..footer_at].to_vec();
    let raw = format::decode_index(section, footer.index_encoding).unwrap();
    assert!(raw.len() as u64 > footer.index_len, "compression pays off");

    // The same part as version 1 wrote it: the index as it is, every block summarized.
    let v1_index = index_as(&Part::open(&path, PartName::single(1)).unwrap(), 1);
    std::fs::write(&path, with_index(&good, &v1_index, format::INDEX_RAW, 1)).unwrap();
    read_back(&path, &written);
    // The index of this version uncompressed is also read.
    std::fs::write(
        &path,
        with_index(&good, &raw, format::INDEX_RAW, format::VERSION),
    )
    .unwrap();
    read_back(&path, &written);

    // Version 1 knows no compressed index.
    let frame = good[footer.index_offset as usize..footer_at].to_vec();
    std::fs::write(&path, with_index(&good, &frame, format::INDEX_ZSTD, 1)).unwrap();
    let err = Part::open(&path, PartName::single(1)).unwrap_err();
    assert!(err.to_string().contains("index encoding 1"), "{err}");

    // A header and footer of different versions.
    let mut mixed = good.clone();
    mixed[8..12].copy_from_slice(&1u32.to_le_bytes());
    std::fs::write(&path, &mixed).unwrap();
    let err = Part::open(&path, PartName::single(1)).unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "footer says format version {}, the header 1",
            format::VERSION
        )),
        "{err}"
    );
}

#[test]
fn an_index_past_the_streaming_threshold_is_compressed_as_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let files = LocalParts::open(dir.path()).unwrap();
    let mut writer = part_one_writer(&files, 7, 32);
    let mut written = Vec::new();
    let mut raw_len = 0;
    let mut i = 0;
    // Series of two points, until their index entries pass the threshold by half again.
    while raw_len < format::STREAM_INDEX_FROM * 3 / 2 {
        let id = format!("s{i:07}");
        let k = SeriesKey::new("fleet.temp", [("id", id.as_str()), ("site", "north")]).unwrap();
        let values = Column::Double(vec![i as f64, 0.5]);
        let timestamps = [i % 500, i % 500 + 1];
        writer.begin_series(OrgId(0), &k, DataType::Double).unwrap();
        writer.add_block(&timestamps, &values).unwrap();
        let mut entry = Vec::new();
        format::put_series(&mut entry, OrgId(0), &k, DataType::Double, 1);
        raw_len += entry.len() + 20;
        written.push((k, points(&timestamps, &values)));
        i += 1;
    }
    let at = writer.finish().unwrap();
    let path = files.describe(&at);
    let bytes = std::fs::read(&path).unwrap();
    let footer_at = bytes.len() - FOOTER_LEN;
    let footer = format::Footer::decode(bytes[footer_at..].try_into().unwrap())
        .unwrap_or_else(|_| panic!("the footer decodes"));
    assert_eq!(footer.index_encoding, format::INDEX_ZSTD);
    let section = bytes[footer.index_offset as usize..footer_at].to_vec();
    let raw = format::decode_index(section, footer.index_encoding).unwrap();
    assert!(raw.len() > format::STREAM_INDEX_FROM, "{} bytes", raw.len());
    let part = Part::open(&path, PartName::single(1)).unwrap();
    for (k, want) in &written {
        let mut got = Vec::new();
        part.read_into(OrgId(0), k, &(i64::MIN..i64::MAX), &mut got)
            .unwrap();
        assert_eq!(&got, want, "{k}");
    }
}

#[test]
fn a_series_twice_in_an_index_is_an_error_and_every_series_is_found_once() {
    let dir = tempfile::tempdir().unwrap();
    let (path, written) = write_sample(dir.path());
    let part = read_back(&path, &written);
    assert_eq!(part.series().count(), written.len());
    let (org, key, _) = part.series().nth(3).unwrap();
    let (org, key) = (org, key.clone());
    assert!(part.get(org, &key).is_some());
    assert!(
        part.get(OrgId(99), &key).is_none(),
        "another organization's"
    );
    let raw = index_as(&part, format::VERSION);
    drop(part);
    let good = std::fs::read(&path).unwrap();
    let twice = [raw.clone(), raw].concat();
    std::fs::write(
        &path,
        with_index(&good, &twice, format::INDEX_RAW, format::VERSION),
    )
    .unwrap();
    let err = Part::open(&path, PartName::single(1)).unwrap_err();
    assert!(
        err.to_string().contains("appears twice in the index"),
        "{err}"
    );
}

#[test]
fn a_compressed_index_that_lies_about_its_length_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_sample(dir.path());
    let good = std::fs::read(&path).unwrap();
    let footer_at = good.len() - FOOTER_LEN;
    let footer = format::Footer::decode(good[footer_at..].try_into().unwrap())
        .unwrap_or_else(|_| panic!("the sample's footer decodes"));
    let section = good[footer.index_offset as usize..footer_at].to_vec();
    for (claim, expected) in [
        (1u64 << 40, "more than it can hold"),
        (3, "does not decompress"),
        (section.len() as u64 * 100, "decompresses to"),
    ] {
        let mut lying = section.clone();
        lying[..8].copy_from_slice(&claim.to_le_bytes());
        std::fs::write(&path, with_index(&good, &lying, format::INDEX_ZSTD, 2)).unwrap();
        let err = Part::open(&path, PartName::single(1)).unwrap_err();
        assert!(err.to_string().contains(expected), "{claim}: {err}");
        expect_corrupt(err, &path, None);
    }
}

#[test]
fn an_open_parts_block_entry_stays_small() {
    // An open part holds one per block; parts of many short series hold about one per series.
    assert!(
        std::mem::size_of::<BlockMeta>() <= 48,
        "{}",
        std::mem::size_of::<BlockMeta>()
    );
}

#[test]
fn a_part_opened_as_it_is_written_equals_the_file_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let files = LocalParts::open(dir.path()).unwrap();
    let (mut writer, written) = sample_writer(&files, 3);
    // A hint that overstates one organization and names one with no series changes nothing.
    writer.expect_series([OrgId(0), OrgId(0), OrgId(7), OrgId(0)]);
    let part = writer.finish_and_open(&files).unwrap();
    let read = Part::open(part.path(), part.name()).unwrap();
    assert_eq!(
        (part.location(), part.partition(), part.time_range()),
        (read.location(), read.partition(), read.time_range())
    );
    assert_eq!(
        (part.points(), part.wal_seq(), part.size()),
        (read.points(), read.wal_seq(), read.size())
    );
    assert_eq!(part.series().count(), written.len());
    assert_eq!(read.series().count(), written.len());
    for (org, key, series) in read.series() {
        assert_eq!(part.get(org, key), Some(series), "{key} of {org}");
    }
    assert!(part.get(OrgId(7), &written[0].0).is_none());
    // The part holds the keys it was given, not copies.
    for (i, (k, ..)) in written.iter().enumerate() {
        let (_, held, _) = part
            .series()
            .find(|(org, key, _)| *org == OrgId(i as u64 % 3) && *key == k)
            .unwrap();
        assert!(held.shares_memory_with(k), "{k}");
    }
}

#[test]
fn a_series_written_twice_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let files = LocalParts::open(dir.path()).unwrap();
    let mut writer = part_one_writer(&files, 1, 32);
    let k = key("twice");
    for t in [10, 20] {
        writer.begin_series(OrgId(1), &k, DataType::Int64).unwrap();
        writer.add_block(&[t], &Column::Int64(vec![1])).unwrap();
    }
    let err = writer.finish_and_open(&files).unwrap_err();
    assert!(
        err.to_string().contains("appears twice in the index"),
        "{err}"
    );
    assert!(err.to_string().contains(&k.to_string()), "{err}");
}
