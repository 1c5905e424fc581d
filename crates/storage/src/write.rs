//! What a write reports: the policy a caller picks for series the store refuses, and the
//! outcome that names every refused series with its reason.
//!
//! A store checks every series of a batch in one pass before the WAL append: a series whose
//! type differs from the one it has for life, one with a point older than the out-of-order
//! window, or a new one beyond the organization's series limit is *refused*. Refusals belong
//! to series, not to the batch; what happens to the rest is the caller's [`WritePolicy`].
//! Failures of the batch as a whole (the WAL refuses writes, the record would be too large)
//! are errors, not refusals, and store nothing.

use std::fmt;

use sextant_model::{ErrorKind, SeriesKey};

use crate::{Error, WriteReceipt};

/// What a write does with the series that are not refused when some are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritePolicy {
    /// Any refused series refuses the whole batch: nothing is stored, no series is created,
    /// and every refusal is reported. For protocols whose writes are transactions: Sift
    /// ingest streams, event collections.
    AllOrNothing,
    /// Refused series are left out and the others are stored, in one WAL record; every
    /// refusal is reported. For protocols that answer a partial write: line protocol,
    /// KairosDB, SignalFx.
    StoreTheRest,
}

/// One series of a batch that a write refused, and why.
#[derive(Debug)]
pub struct Refusal {
    /// The series' index in [`ValidatedBatch::series`](sextant_model::ValidatedBatch::series)
    /// of the batch as written.
    pub index: usize,
    /// The series.
    pub key: SeriesKey,
    /// Why it was refused: [`Error::SeriesTypeConflict`], [`Error::TooOld`] or
    /// [`Error::SeriesLimit`], each naming the series.
    pub error: Error,
}

impl Refusal {
    /// The kind of the reason, for mapping to transport statuses.
    pub fn kind(&self) -> ErrorKind {
        self.error.kind()
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The reason names the series already.
        self.error.fmt(f)
    }
}

/// What a write under a [`WritePolicy`] did.
#[derive(Debug)]
pub struct WriteOutcome {
    /// The receipt of the WAL record holding the stored series, durable and readable; `None`
    /// when nothing was stored, which happens only when some series was refused.
    pub receipt: Option<WriteReceipt>,
    /// Every refused series, in the batch's order; empty when the whole batch was stored.
    pub refused: Vec<Refusal>,
}

impl WriteOutcome {
    /// How many points were stored.
    pub fn points(&self) -> usize {
        self.receipt.map_or(0, |r| r.points)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::Duration;

    use sextant_model::{DataType, OrgId, Point, SeriesKey, Value, WriteBatch};

    use super::*;
    use crate::head::{HeadConfig, SeriesMatcher};
    use crate::{Db, DbConfig, PartsConfig};

    const HOUR: i64 = 3_600_000_000_000;
    const ORG: OrgId = OrgId(1);

    fn key(name: &str) -> SeriesKey {
        SeriesKey::new(name, [("asset", "NostromoLV426")]).unwrap()
    }

    /// A store with a one-hour out-of-order window and room for three series, holding two:
    /// `old` (double, newest point at 10 h) and `kept` (double).
    fn store(dir: &std::path::Path) -> Db {
        let db = Db::open(dir, config()).unwrap();
        let mut b = WriteBatch::new(ORG);
        b.push(key("old"), DataType::Double, doubles(&[10 * HOUR]));
        b.push(key("kept"), DataType::Double, doubles(&[0]));
        db.write(b.validate().unwrap()).unwrap();
        db
    }

    fn config() -> DbConfig {
        DbConfig {
            head: HeadConfig {
                out_of_order_window: Duration::from_secs(3600),
                max_series_per_org: 3,
            },
            parts: PartsConfig {
                flush_head_bytes: usize::MAX,
                flush_interval: None,
                flush_idle: None,
                ..PartsConfig::default()
            },
            ..DbConfig::default()
        }
    }

    fn doubles(ts: &[i64]) -> Vec<Point> {
        ts.iter()
            .map(|&t| Point::new(t, Value::Double(t as f64)))
            .collect()
    }

    /// A batch from `(name, type, timestamps)`; `i` is int64, anything else double.
    fn batch(series: &[(&str, char, &[i64])]) -> ValidatedBatch {
        let mut b = WriteBatch::new(ORG);
        for &(name, t, ts) in series {
            match t {
                'i' => b.push(
                    key(name),
                    DataType::Int64,
                    ts.iter().map(|&t| Point::new(t, Value::Int64(t))).collect(),
                ),
                _ => b.push(key(name), DataType::Double, doubles(ts)),
            };
        }
        b.validate().unwrap()
    }

    fn registered(db: &Db) -> Vec<String> {
        db.series(ORG, &SeriesMatcher::all())
            .into_iter()
            .map(|s| s.key.name().to_owned())
            .collect()
    }

    fn everything(db: &Db) -> BTreeMap<String, Vec<Point>> {
        registered(db)
            .into_iter()
            .map(|name| {
                let points = db.read(ORG, &key(&name), i64::MIN..i64::MAX).unwrap();
                (name, points)
            })
            .collect()
    }

    use WritePolicy::{AllOrNothing, StoreTheRest};
    use sextant_model::ErrorKind::{InvalidInput, LimitExceeded};
    use sextant_model::ValidatedBatch;

    /// One write against [`store`]: the refusals (index, kind, words of the reason) and the
    /// series whose points are stored.
    struct Case {
        name: &'static str,
        policy: WritePolicy,
        batch: &'static [(&'static str, char, &'static [i64])],
        refused: &'static [(usize, ErrorKind, &'static str)],
        stored: &'static [&'static str],
    }

    const TYPE: &str = "has type double for life; cannot write int64";
    const OLD: &str = "out-of-order window";
    const LIMIT: &str =
        "the organization's series limit is 3; it has 2 and this write brings 2 new ones";

    const CASES: &[Case] = &[
        Case {
            name: "everything accepted",
            policy: AllOrNothing,
            batch: &[("old", 'd', &[10 * HOUR + 1]), ("new1", 'd', &[1])],
            refused: &[],
            stored: &["old", "new1"],
        },
        Case {
            name: "type conflict, store the rest",
            policy: StoreTheRest,
            batch: &[("old", 'i', &[1]), ("kept", 'd', &[5]), ("new1", 'd', &[1])],
            refused: &[(0, InvalidInput, TYPE)],
            stored: &["kept", "new1"],
        },
        Case {
            name: "type conflict, all or nothing",
            policy: AllOrNothing,
            batch: &[("old", 'i', &[1]), ("kept", 'd', &[5]), ("new1", 'd', &[1])],
            refused: &[(0, InvalidInput, TYPE)],
            stored: &[],
        },
        Case {
            name: "older than the window behind the stored points",
            policy: StoreTheRest,
            batch: &[("old", 'd', &[8 * HOUR]), ("kept", 'd', &[5])],
            refused: &[(0, InvalidInput, OLD)],
            stored: &["kept"],
        },
        Case {
            name: "older than the window behind the batch's own points, new series",
            policy: StoreTheRest,
            batch: &[("new1", 'd', &[0, 2 * HOUR]), ("kept", 'd', &[5])],
            refused: &[(0, InvalidInput, OLD)],
            stored: &["kept"],
        },
        Case {
            name: "series limit, store the rest: the first new series fits",
            policy: StoreTheRest,
            batch: &[
                ("new1", 'd', &[1]),
                ("kept", 'd', &[6]),
                ("new2", 'd', &[1]),
            ],
            refused: &[(2, LimitExceeded, LIMIT)],
            stored: &["new1", "kept"],
        },
        Case {
            name: "series limit, all or nothing",
            policy: AllOrNothing,
            batch: &[
                ("new1", 'd', &[1]),
                ("kept", 'd', &[6]),
                ("new2", 'd', &[1]),
            ],
            refused: &[(2, LimitExceeded, LIMIT)],
            stored: &[],
        },
        Case {
            name: "every reason at once; a refused new series takes no room",
            policy: StoreTheRest,
            batch: &[
                ("old", 'i', &[1]),
                ("new1", 'd', &[0, 2 * HOUR]),
                ("kept", 'd', &[7]),
                ("new2", 'd', &[1]),
                ("new3", 'd', &[1]),
            ],
            refused: &[
                (0, InvalidInput, TYPE),
                (1, InvalidInput, OLD),
                (4, LimitExceeded, LIMIT),
            ],
            stored: &["kept", "new2"],
        },
        Case {
            name: "every series refused",
            policy: StoreTheRest,
            batch: &[("old", 'i', &[1]), ("kept", 'i', &[1])],
            refused: &[(0, InvalidInput, TYPE), (1, InvalidInput, TYPE)],
            stored: &[],
        },
    ];

    #[test]
    fn writes_report_every_refused_series_and_store_per_policy() {
        for case in CASES {
            let name = case.name;
            let dir = tempfile::tempdir().unwrap();
            let db = store(dir.path());
            let before = everything(&db);
            let seq = db.wal().durable_seq();
            let written = batch(case.batch);

            let outcome = db.write_with(written.clone(), case.policy).unwrap();

            let refused: Vec<_> = outcome
                .refused
                .iter()
                .map(|r| (r.index, r.kind()))
                .collect();
            let want: Vec<_> = case.refused.iter().map(|&(i, k, _)| (i, k)).collect();
            assert_eq!(refused, want, "{name}");
            for (r, &(i, _, words)) in outcome.refused.iter().zip(case.refused) {
                assert_eq!(r.key, written.series()[i].key, "{name}");
                let reason = r.to_string();
                assert!(reason.contains(&r.key.to_string()), "{name}: {reason}");
                assert!(reason.contains(words), "{name}: {reason}");
            }

            // Exactly the stored series are in one new WAL record, with all their points.
            let stored_points: usize = written
                .series()
                .iter()
                .filter(|s| case.stored.contains(&s.key.name()))
                .map(|s| s.points.len())
                .sum();
            match outcome.receipt {
                Some(receipt) => {
                    assert_eq!(receipt.seq, seq + 1, "{name}");
                    assert_eq!(receipt.points, stored_points, "{name}");
                }
                None => assert!(case.stored.is_empty(), "{name}: nothing stored"),
            }
            assert_eq!(outcome.points(), stored_points, "{name}");
            let after = everything(&db);
            for sp in written.series() {
                let series = sp.key.name();
                let had = before.get(series).cloned().unwrap_or_default();
                let has = after.get(series);
                if case.stored.contains(&series) {
                    let has = has.unwrap();
                    assert!(
                        sp.points.iter().all(|p| has.contains(p)),
                        "{name}: {series}"
                    );
                } else {
                    // Refused or refused with the batch: unchanged, and not created.
                    assert_eq!(
                        has.cloned(),
                        before.get(series).cloned(),
                        "{name}: {series}"
                    );
                    assert_eq!(had, has.cloned().unwrap_or_default(), "{name}: {series}");
                }
            }

            // Replay gives back what was acknowledged.
            drop(db);
            let db = Db::open(dir.path(), config()).unwrap();
            assert_eq!(everything(&db), after, "{name}: after reopen");
        }
    }

    #[test]
    fn db_write_fails_whole_with_the_first_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let db = store(dir.path());
        let err = db
            .write(batch(&[
                ("new1", 'd', &[1]),
                ("old", 'd', &[0]),
                ("kept", 'i', &[1]),
            ]))
            .unwrap_err();
        assert!(matches!(err, Error::TooOld { .. }), "{err}");
        assert_eq!(registered(&db), ["kept", "old"]);
        assert_eq!(db.wal().durable_seq(), 1);
    }

    /// Writers race to create one series with different types, each with a series of its
    /// own: one type wins, the others' writes refuse that series and store the rest, and
    /// replay gives back the same.
    #[test]
    fn concurrent_writers_creating_one_series_agree_on_its_type() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Db::open(dir.path(), config_with_room()).unwrap());
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let db = Arc::clone(&db);
                std::thread::spawn(move || {
                    let mut refused = 0;
                    for round in 0..20 {
                        let shared = format!("shared{round}");
                        let own = format!("own{w}");
                        let t = if w % 2 == 0 { 'i' } else { 'd' };
                        let outcome = db
                            .write_with(
                                batch(&[(&shared, t, &[w]), (&own, 'd', &[round])]),
                                StoreTheRest,
                            )
                            .unwrap();
                        assert!(outcome.receipt.is_some());
                        for r in &outcome.refused {
                            assert_eq!(r.index, 0);
                            assert!(matches!(r.error, Error::SeriesTypeConflict { .. }));
                            refused += 1;
                        }
                    }
                    refused
                })
            })
            .collect();
        let refused: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
        // Of each round's four writers, the two whose type lost are refused.
        assert_eq!(refused, 20 * 2);
        let before = everything(&db);
        assert_eq!(before.len(), 20 + 4);
        drop(db);
        let db = Db::open(dir.path(), config_with_room()).unwrap();
        assert_eq!(everything(&db), before);
    }

    fn config_with_room() -> DbConfig {
        let mut config = config();
        config.head.max_series_per_org = 1_000;
        config.head.out_of_order_window = Duration::MAX;
        config
    }
}
