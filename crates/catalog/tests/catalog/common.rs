use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use sextant_catalog::{Catalog, ChannelDef, Clock, SqliteCatalog};
use sextant_model::{DataType, ErrorKind, Timestamp};
use tempfile::TempDir;

/// A clock that ticks one nanosecond per reading, starting at `START`.
#[derive(Debug)]
pub struct TickingClock(AtomicI64);

pub const START: Timestamp = 1_700_000_000_000_000_000;

impl Clock for TickingClock {
    fn now(&self) -> Timestamp {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

/// A catalog in a fresh directory, reopenable at its path.
pub struct Fixture {
    pub dir: TempDir,
    pub catalog: SqliteCatalog,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let catalog = open(&dir.path().join("catalog.db"));
        Fixture { dir, catalog }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("catalog.db")
    }

    /// Closes the catalog and opens the file again.
    pub fn reopen(self) -> Self {
        let Fixture { dir, catalog } = self;
        drop(catalog);
        let catalog = open(&dir.path().join("catalog.db"));
        Fixture { dir, catalog }
    }

    /// A new organization.
    pub fn org(&self, name: &str) -> String {
        self.catalog
            .create_organization(name)
            .expect("create organization")
            .id
    }
}

pub fn open(path: &Path) -> SqliteCatalog {
    SqliteCatalog::open(path)
        .expect("open catalog")
        .with_clock(Arc::new(TickingClock(AtomicI64::new(START))))
}

/// Asserts that `result` failed with `kind` and that its message contains `needle`.
#[track_caller]
pub fn assert_error<T: std::fmt::Debug>(
    result: sextant_catalog::Result<T>,
    kind: ErrorKind,
    needle: &str,
) {
    let err = result.expect_err("expected an error");
    assert_eq!(err.kind(), kind, "{err}");
    assert!(err.to_string().contains(needle), "{err:?} lacks {needle:?}");
}

pub fn channel(name: &str, data_type: DataType) -> ChannelDef {
    ChannelDef::new(name, data_type)
}
