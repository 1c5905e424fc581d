//! Where part files are kept: the seam between the part format and the medium that holds it.
//!
//! The part code reads a part by positioned reads of an immutable byte string, writes one as a
//! stream that becomes visible whole or not at all, lists the parts there are and removes the
//! ones a merge replaced. [`PartFiles`] is that contract; [`LocalParts`] keeps parts as files
//! in a directory, one sub-directory per time partition. An object store (S3 and its peers,
//! through the `object_store` crate for instance) maps onto it as ranged GETs, a (multipart)
//! PUT that publishes on completion, LIST and DELETE; `docs/scale-out.md` describes that use.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sextant_model::Timestamp;

use super::{PartName, TMP_SUFFIX};
use crate::{Error, Result};

/// Where one part is filed: the start of the time partition it was written for, and its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartLocation {
    /// The start of the partition (ns), the group the part merges within.
    pub partition: Timestamp,
    /// The part's name.
    pub name: PartName,
}

/// A part's bytes, read by position from many threads at once.
pub trait PartFile: Send + Sync + fmt::Debug {
    /// The length in bytes.
    fn len(&self) -> u64;

    /// Whether there are no bytes at all.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fills `buf` with the bytes from `offset`; fails if the file ends before.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

/// A part being written: bytes streamed in order, then published whole.
pub trait PartSink: Write + Send {
    /// Publishes the bytes written as the part, durably: once this returns the part is
    /// complete under its name (and survives a crash); before, it is absent.
    fn commit(self: Box<Self>) -> Result<()>;

    /// Gives the part up; nothing is published.
    fn abandon(self: Box<Self>) -> Result<()>;
}

/// Where a store keeps its part files.
pub trait PartFiles: Send + Sync + fmt::Debug {
    /// Every published part, in no particular order, after clearing away what interrupted
    /// writes left behind.
    fn list(&self) -> Result<Vec<PartLocation>>;

    /// Opens a published part.
    fn open(&self, at: &PartLocation) -> Result<Arc<dyn PartFile>>;

    /// Starts writing a part, to be published by [`PartSink::commit`].
    fn create(&self, at: &PartLocation) -> Result<Box<dyn PartSink>>;

    /// Removes published parts, durably. Readers that opened one keep reading it.
    fn remove(&self, parts: &[PartLocation]) -> Result<()>;

    /// Names a part in messages and errors: a path, an object key.
    fn describe(&self, at: &PartLocation) -> PathBuf;
}

/// Part files in a local directory: `<dir>/<partition start>/<first id>-<last id>.part`,
/// written under a temporary name, fsynced, renamed into place and the directory fsynced.
#[derive(Debug)]
pub struct LocalParts {
    dir: PathBuf,
}

impl LocalParts {
    /// The parts under `dir`, created if missing.
    pub fn open(dir: impl Into<PathBuf>) -> Result<LocalParts> {
        let dir = dir.into();
        create_dir(&dir)?;
        Ok(LocalParts { dir })
    }

    fn partition_dir(&self, partition: Timestamp) -> PathBuf {
        self.dir.join(partition.to_string())
    }
}

impl PartFiles for LocalParts {
    fn list(&self) -> Result<Vec<PartLocation>> {
        let mut found = Vec::new();
        let entries =
            fs::read_dir(&self.dir).map_err(Error::io("list parts directory", &self.dir))?;
        for entry in entries {
            let entry = entry.map_err(Error::io("list parts directory", &self.dir))?;
            let dir = entry.path();
            let Some(partition) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<Timestamp>().ok())
                .filter(|_| dir.is_dir())
            else {
                continue;
            };
            let mut removed = false;
            for file in fs::read_dir(&dir).map_err(Error::io("list partition directory", &dir))? {
                let file = file.map_err(Error::io("list partition directory", &dir))?;
                let file_name = file.file_name();
                let Some(file_name) = file_name.to_str() else {
                    continue;
                };
                if file_name.ends_with(TMP_SUFFIX) {
                    tracing::warn!(path = %file.path().display(), "removing part file left unfinished by a crash");
                    fs::remove_file(file.path())
                        .map_err(Error::io("remove unfinished part file", file.path()))?;
                    removed = true;
                } else if let Some(name) = PartName::parse(file_name) {
                    found.push(PartLocation { partition, name });
                }
            }
            if removed {
                sync_dir(&dir)?;
            }
        }
        Ok(found)
    }

    fn open(&self, at: &PartLocation) -> Result<Arc<dyn PartFile>> {
        let path = self.describe(at);
        Ok(Arc::new(LocalFile::open(&path)?))
    }

    fn create(&self, at: &PartLocation) -> Result<Box<dyn PartSink>> {
        let dir = self.partition_dir(at.partition);
        let path = dir.join(at.name.file_name());
        let tmp_path = dir.join(format!("{}{TMP_SUFFIX}", at.name.file_name()));
        let create = || {
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp_path)
        };
        create_dir(&dir)?;
        // A removal of the emptied partition directory may come between; make it again.
        let file = match create() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                create_dir(&dir)?;
                create()
            }
            other => other,
        }
        .map_err(Error::io("create part file", &tmp_path))?;
        Ok(Box::new(LocalSink {
            file,
            tmp_path,
            path,
        }))
    }

    fn remove(&self, parts: &[PartLocation]) -> Result<()> {
        let mut dirs: Vec<Timestamp> = parts.iter().map(|p| p.partition).collect();
        dirs.sort_unstable();
        dirs.dedup();
        for at in parts {
            let path = self.describe(at);
            fs::remove_file(&path).map_err(Error::io("remove part file", &path))?;
        }
        let mut emptied = false;
        for partition in dirs {
            let dir = self.partition_dir(partition);
            // An emptied partition directory goes too; one a flush has just written into stays
            // (removing a directory that is not empty fails, harmlessly).
            if fs::remove_dir(&dir).is_ok() {
                emptied = true;
            } else {
                sync_dir(&dir)?;
            }
        }
        if emptied {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    fn describe(&self, at: &PartLocation) -> PathBuf {
        self.partition_dir(at.partition).join(at.name.file_name())
    }
}

/// A part file on the local file system.
#[derive(Debug)]
pub struct LocalFile {
    file: File,
    len: u64,
}

impl LocalFile {
    /// Opens the file at `path`.
    pub fn open(path: &Path) -> Result<LocalFile> {
        let file = File::open(path).map_err(Error::io("open part file", path))?;
        let len = file
            .metadata()
            .map_err(Error::io("inspect part file", path))?
            .len();
        Ok(LocalFile { file, len })
    }
}

impl PartFile for LocalFile {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }
}

/// A part file being written under a temporary name.
struct LocalSink {
    file: File,
    tmp_path: PathBuf,
    path: PathBuf,
}

impl Write for LocalSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl PartSink for LocalSink {
    fn commit(self: Box<Self>) -> Result<()> {
        let LocalSink {
            file,
            tmp_path,
            path,
        } = *self;
        file.sync_all()
            .map_err(Error::io("sync part file", &tmp_path))?;
        drop(file);
        fs::rename(&tmp_path, &path).map_err(Error::io("rename part file into place", &path))?;
        sync_dir(path.parent().unwrap_or(Path::new(".")))
    }

    fn abandon(self: Box<Self>) -> Result<()> {
        let LocalSink { file, tmp_path, .. } = *self;
        drop(file);
        fs::remove_file(&tmp_path).map_err(Error::io("remove unfinished part file", &tmp_path))
    }
}

/// Makes creations, renames and removals of files in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io("sync parts directory", dir))
}

/// Creates `dir` if missing and makes its entry in its parent durable.
pub(crate) fn create_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(Error::io("create parts directory", dir))?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        sync_dir(parent)?;
    }
    Ok(())
}
