//! The store: the WAL and the head of one data directory, tied into one write path.
//!
//! ```text
//! ValidatedBatch ──► Head::prepare ──► Wal::append (group commit, fsync) ──► Head::apply ──► ack
//!                    (types, window,    one sync covers concurrent writers   (in WAL order)
//!                     series limit)
//! ```
//!
//! # Contract
//!
//! - [`Db::write`] returns only when the batch is durable in the WAL (per
//!   [`SyncMode`](crate::wal::SyncMode)) and visible to [`Db::read`]. A batch is accepted or
//!   rejected whole.
//! - Batches reach the head in WAL sequence order, so the head after a restart (replaying the
//!   WAL) equals the head before it, duplicates included.
//! - [`Db::open`] replays the WAL into the head before returning.
//! - Everything takes `&self` and may be called from many threads; share the `Db` in an `Arc`.
//!   Calls block: from async code, call them on a blocking thread (`spawn_blocking` in tokio).
//!
//! Layout of the data directory: `wal/` holds the WAL segments. Parts will sit beside it.

use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};

use sextant_model::{OrgId, Point, SeriesKey, Timestamp, ValidatedBatch};

use crate::head::{Head, HeadConfig, SeriesInfo, SeriesMatcher};
use crate::wal::{Wal, WalConfig};
use crate::{Error, Result};

/// The configuration of a store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbConfig {
    /// How the WAL is written.
    pub wal: WalConfig,
    /// How the head admits data.
    pub head: HeadConfig,
}

/// What an acknowledged write reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteReceipt {
    /// The WAL sequence number of the batch.
    pub seq: u64,
    /// How many points it held.
    pub points: usize,
}

/// A store over one data directory. See the module docs for its contract.
#[derive(Debug)]
pub struct Db {
    dir: PathBuf,
    head: Head,
    wal: Wal,
}

impl Db {
    /// Opens the store in `dir`, creating it if missing, and replays its WAL into the head.
    pub fn open(dir: impl AsRef<Path>, config: DbConfig) -> Result<Db> {
        let dir = dir.as_ref();
        fs::create_dir_all(dir).map_err(Error::io("create data directory", dir))?;
        let head = Head::new(config.head);
        let wal = Wal::open(&dir.join("wal"), config.wal, |_, batch| {
            head.apply_replayed(&batch)
        })?;
        Ok(Db {
            dir: dir.to_owned(),
            head,
            wal,
        })
    }

    /// Writes `batch` and returns once it is durable and readable.
    ///
    /// Fails without writing anything if the batch conflicts with a series' type, has a point
    /// outside the out-of-order window, would exceed the organization's series limit or is too
    /// large for one WAL record.
    pub fn write(&self, batch: ValidatedBatch) -> Result<WriteReceipt> {
        let prepared = self.head.prepare(&batch)?;
        let (seq, ()) = self
            .wal
            .append_with(&batch, |_| self.head.apply(&batch, &prepared))?;
        Ok(WriteReceipt {
            seq,
            points: batch.point_count(),
        })
    }

    /// The points of series `key` of `org` with timestamps in `range`, sorted by time.
    pub fn read(&self, org: OrgId, key: &SeriesKey, range: Range<Timestamp>) -> Result<Vec<Point>> {
        self.head.read(org, key, range)
    }

    /// The series of `org` that `matcher` selects, sorted by key.
    pub fn series(&self, org: OrgId, matcher: &SeriesMatcher) -> Vec<SeriesInfo> {
        self.head.series(org, matcher)
    }

    /// The head, for reads beyond [`Db::read`] and for its statistics.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// The WAL, for its statistics and for removing segments once data is in parts.
    pub fn wal(&self) -> &Wal {
        &self.wal
    }

    /// Closes the store: syncs anything the WAL holds unsynced (relaxed mode) and reports a
    /// failure, which dropping the store can only log.
    pub fn close(self) -> Result<()> {
        self.wal.sync()
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use sextant_model::{DataType, ErrorKind, Value, WriteBatch};

    use super::*;

    fn key(run: &str) -> SeriesKey {
        SeriesKey::new(
            "mainmotor.velocity",
            [("asset", "NostromoLV426"), ("run", run)],
        )
        .unwrap()
    }

    fn batch(org: u64, run: &str, ts: &[i64]) -> ValidatedBatch {
        let mut b = WriteBatch::new(OrgId(org));
        let points = ts
            .iter()
            .map(|&t| Point::new(t, Value::Double(t as f64)))
            .collect();
        b.push(key(run), DataType::Double, points);
        b.validate().unwrap()
    }

    #[test]
    fn writes_are_readable_at_once_and_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), DbConfig::default()).unwrap();
        let r = db.write(batch(1, "R1", &[30, 10, 20])).unwrap();
        assert_eq!(r, WriteReceipt { seq: 1, points: 3 });
        db.write(batch(1, "R1", &[20])).unwrap();
        let want = db.read(OrgId(1), &key("R1"), 0..100).unwrap();
        assert_eq!(
            want.iter().map(|p| p.timestamp).collect::<Vec<_>>(),
            [10, 20, 30]
        );
        drop(db);

        let db = Db::open(dir.path(), DbConfig::default()).unwrap();
        assert_eq!(db.read(OrgId(1), &key("R1"), 0..100).unwrap(), want);
        assert_eq!(db.write(batch(1, "R1", &[40])).unwrap().seq, 3);
    }

    #[test]
    fn rejected_writes_leave_no_trace() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), DbConfig::default()).unwrap();
        db.write(batch(1, "R1", &[10])).unwrap();
        let mut b = WriteBatch::new(OrgId(1));
        b.push(
            key("R1"),
            DataType::Int64,
            vec![Point::new(11, Value::Int64(1))],
        );
        let err = db.write(b.validate().unwrap()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(db.wal().durable_seq(), 1);
        drop(db);
        let db = Db::open(dir.path(), DbConfig::default()).unwrap();
        assert_eq!(db.read(OrgId(1), &key("R1"), 0..100).unwrap().len(), 1);
    }

    #[test]
    fn concurrent_duplicates_resolve_the_same_before_and_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let db = std::sync::Arc::new(Db::open(dir.path(), DbConfig::default()).unwrap());
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let db = std::sync::Arc::clone(&db);
                std::thread::spawn(move || {
                    for i in 0..25 {
                        let mut b = WriteBatch::new(OrgId(1));
                        let points = (0..8)
                            .map(|t| Point::new(t, Value::Double((w * 100 + i) as f64)))
                            .collect();
                        b.push(key("R1"), DataType::Double, points);
                        db.write(b.validate().unwrap()).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let before = db.read(OrgId(1), &key("R1"), 0..100).unwrap();
        assert_eq!(before.len(), 8);
        drop(db);
        let db = Db::open(dir.path(), DbConfig::default()).unwrap();
        assert_eq!(db.read(OrgId(1), &key("R1"), 0..100).unwrap(), before);
    }

    #[test]
    fn organizations_do_not_see_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), DbConfig::default()).unwrap();
        db.write(batch(1, "R1", &[10])).unwrap();
        let err = db.read(OrgId(2), &key("R1"), 0..100).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(db.series(OrgId(2), &SeriesMatcher::all()).is_empty());
        assert_eq!(db.series(OrgId(1), &SeriesMatcher::all()).len(), 1);
    }
}
