//! The blob store: files attached to runs, annotations and annotation logs, one file each at
//! `ROOT/ORG/ID`, where the catalog's `remote_files` table describes them.
//!
//! A blob is written to `ROOT/tmp/` while it arrives, hashed (SHA-256) as it goes, then
//! fsynced, renamed into place and its directory fsynced; only then does the caller record it in
//! the catalog, so a catalog row always names a whole, durable file. A crash between the two
//! leaves a file no row names, which [`BlobStore::sweep`] removes at the next start, as it
//! removes what `tmp/` holds. Deletes go the other way: the row first, then the file.
//!
//! Reads hash what they return and fail at the end when the bytes are not those written
//! ([`BlobError::Corrupt`]), so a download that completes is the file that was uploaded.
//! Writers and readers hold one chunk at a time: a file of any size streams through.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Why a blob could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The file system failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done, e.g. `"cannot write"`.
        action: &'static str,
        /// The file.
        path: String,
        /// The cause.
        source: io::Error,
    },
    /// The blob grew past the limit it was created with.
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The bytes read are not those written.
    #[error("file {path} is corrupt: its SHA-256 is {found}, {expected} was written")]
    Corrupt {
        /// The file.
        path: String,
        /// The checksum recorded when it was written, in hex.
        expected: String,
        /// The checksum of what was read, in hex.
        found: String,
    },
    /// An organization or blob id that cannot name a file.
    #[error("{what} {value:?} cannot name a stored file: use letters, digits, '-' and '_'")]
    BadName {
        /// `"organization"` or `"file id"`.
        what: &'static str,
        /// The value.
        value: String,
    },
}

fn io_error<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> BlobError + 'a {
    move |source| BlobError::Io {
        action,
        path: path.display().to_string(),
        source,
    }
}

/// A stored blob's size and checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blob {
    /// Its length in bytes.
    pub size: u64,
    /// The SHA-256 of its bytes.
    pub sha256: [u8; 32],
}

/// What [`BlobStore::sweep`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Files no catalog row named, and unfinished uploads.
    pub removed: usize,
    /// Their bytes.
    pub bytes: u64,
}

/// The directory of blobs.
#[derive(Debug)]
pub struct BlobStore {
    root: PathBuf,
}

const TMP: &str = "tmp";

fn check_name(what: &'static str, value: &str) -> Result<(), BlobError> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok && value != TMP {
        Ok(())
    } else {
        Err(BlobError::BadName {
            what,
            value: value.to_owned(),
        })
    }
}

/// Makes a rename or a new file in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), BlobError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("cannot sync directory", dir))
}

impl BlobStore {
    /// Opens (creating) the store at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, BlobError> {
        let root = root.into();
        let tmp = root.join(TMP);
        fs::create_dir_all(&tmp).map_err(io_error("cannot create", &tmp))?;
        Ok(BlobStore { root })
    }

    /// The directory the store lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, org: &str, id: &str) -> Result<PathBuf, BlobError> {
        check_name("organization", org)?;
        check_name("file id", id)?;
        Ok(self.root.join(org).join(id))
    }

    /// Starts writing the blob `id` of `org`, refusing to grow past `limit` bytes. Nothing is
    /// visible under its name until [`BlobWriter::finish`]; a writer dropped unfinished
    /// removes what it wrote.
    pub fn create(&self, org: &str, id: &str, limit: u64) -> Result<BlobWriter, BlobError> {
        let dest = self.path(org, id)?;
        let tmp = self.root.join(TMP).join(format!("{org}.{id}"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io_error("cannot create", &tmp))?;
        Ok(BlobWriter {
            file: Some(file),
            tmp,
            dest,
            hasher: Sha256::new(),
            size: 0,
            limit,
        })
    }

    /// Opens the blob `id` of `org` for reading; `expected` is what [`BlobWriter::finish`]
    /// returned for it.
    pub fn open_blob(&self, org: &str, id: &str, expected: Blob) -> Result<BlobReader, BlobError> {
        let path = self.path(org, id)?;
        let file = File::open(&path).map_err(io_error("cannot open", &path))?;
        Ok(BlobReader {
            file,
            path,
            expected,
            hasher: Sha256::new(),
            read: 0,
        })
    }

    /// Removes the blob `id` of `org`; one already gone is not an error.
    pub fn remove(&self, org: &str, id: &str) -> Result<(), BlobError> {
        let path = self.path(org, id)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("cannot remove", &path)(e)),
        }
    }

    /// Removes unfinished uploads and every blob `keep(org, id)` does not keep. Run at start,
    /// before uploads are accepted, with `keep` asking the catalog.
    pub fn sweep(&self, keep: impl Fn(&str, &str) -> bool) -> Result<SweepReport, BlobError> {
        let mut report = SweepReport::default();
        let mut remove = |path: &Path| -> Result<(), BlobError> {
            let len = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            fs::remove_file(path).map_err(io_error("cannot remove", path))?;
            report.removed += 1;
            report.bytes += len;
            Ok(())
        };
        let entries = |dir: &Path| -> Result<Vec<PathBuf>, BlobError> {
            let mut paths = Vec::new();
            for entry in fs::read_dir(dir).map_err(io_error("cannot list", dir))? {
                paths.push(entry.map_err(io_error("cannot list", dir))?.path());
            }
            Ok(paths)
        };
        for path in entries(&self.root.join(TMP))? {
            remove(&path)?;
        }
        for org_dir in entries(&self.root)? {
            let Some(org) = org_dir.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if org == TMP || !org_dir.is_dir() {
                continue;
            }
            for path in entries(&org_dir)? {
                let id = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if !keep(org, id) {
                    remove(&path)?;
                }
            }
        }
        Ok(report)
    }
}

/// A blob being written ([`BlobStore::create`]).
#[derive(Debug)]
pub struct BlobWriter {
    file: Option<File>,
    tmp: PathBuf,
    dest: PathBuf,
    hasher: Sha256,
    size: u64,
    limit: u64,
}

impl BlobWriter {
    /// Appends `bytes`; past the limit the blob is refused ([`BlobError::TooLarge`]).
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), BlobError> {
        let size = self.size + bytes.len() as u64;
        if size > self.limit {
            return Err(BlobError::TooLarge { limit: self.limit });
        }
        let Some(file) = self.file.as_mut() else {
            return Err(io_error("cannot write", &self.tmp)(io::Error::other(
                "the writer was finished",
            )));
        };
        file.write_all(bytes)
            .map_err(io_error("cannot write", &self.tmp))?;
        self.hasher.update(bytes);
        self.size = size;
        Ok(())
    }

    /// The bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Makes the blob durable under its name: fsync, rename, fsync of the directory.
    pub fn finish(mut self) -> Result<Blob, BlobError> {
        let Some(file) = self.file.take() else {
            return Err(io_error("cannot finish", &self.tmp)(io::Error::other(
                "the writer was finished",
            )));
        };
        file.sync_all()
            .map_err(io_error("cannot sync", &self.tmp))?;
        drop(file);
        let dir = self.dest.parent().unwrap_or(Path::new("."));
        if !dir.exists() {
            fs::create_dir_all(dir).map_err(io_error("cannot create", dir))?;
            if let Some(root) = dir.parent() {
                sync_dir(root)?;
            }
        }
        fs::rename(&self.tmp, &self.dest).map_err(io_error("cannot rename", &self.tmp))?;
        sync_dir(dir)?;
        Ok(Blob {
            size: self.size,
            sha256: std::mem::take(&mut self.hasher).finalize().into(),
        })
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            // Unfinished: what was written is not a blob. A failure here leaves the file to
            // the next sweep.
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// A blob being read ([`BlobStore::open_blob`]).
#[derive(Debug)]
pub struct BlobReader {
    file: File,
    path: PathBuf,
    expected: Blob,
    hasher: Sha256,
    read: u64,
}

impl BlobReader {
    /// Reads the next bytes into `buf`; `Ok(0)` at the end, once the bytes read are known to
    /// be those written.
    pub fn read_chunk(&mut self, buf: &mut [u8]) -> Result<usize, BlobError> {
        let n = loop {
            match self.file.read(buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error("cannot read", &self.path)(e)),
            }
        };
        self.read += n as u64;
        if n > 0 && self.read <= self.expected.size {
            self.hasher.update(&buf[..n]);
            return Ok(n);
        }
        let found: [u8; 32] = std::mem::take(&mut self.hasher).finalize().into();
        if self.read != self.expected.size || found != self.expected.sha256 {
            return Err(BlobError::Corrupt {
                path: self.path.display().to_string(),
                expected: hex(&self.expected.sha256),
                found: if self.read != self.expected.size {
                    format!(
                        "unknown ({} bytes found, {} written)",
                        self.read, self.expected.size
                    )
                } else {
                    hex(&found)
                },
            });
        }
        Ok(0)
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(reader: &mut BlobReader) -> Result<Vec<u8>, BlobError> {
        let mut out = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            let n = reader.read_chunk(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn written_blob_reads_back_and_is_verified() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let mut w = store.create("org-1", "f1", 100).unwrap();
        w.write(b"hello ").unwrap();
        w.write(b"world").unwrap();
        let blob = w.finish().unwrap();
        assert_eq!(blob.size, 11);
        assert_eq!(
            hex(&blob.sha256),
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        let mut r = store.open_blob("org-1", "f1", blob).unwrap();
        assert_eq!(read_all(&mut r).unwrap(), b"hello world");

        // A flipped byte is found at the end of the read.
        let path = dir.path().join("org-1").join("f1");
        fs::write(&path, b"hello worle").unwrap();
        let mut r = store.open_blob("org-1", "f1", blob).unwrap();
        let err = read_all(&mut r).unwrap_err();
        assert!(matches!(err, BlobError::Corrupt { .. }), "{err}");
        // So is a file that grew or shrank.
        fs::write(&path, b"hello").unwrap();
        let mut r = store.open_blob("org-1", "f1", blob).unwrap();
        let err = read_all(&mut r).unwrap_err().to_string();
        assert!(err.contains("5 bytes found, 11 written"), "{err}");
    }

    #[test]
    fn limit_refuses_and_unfinished_writer_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let mut w = store.create("o", "big", 4).unwrap();
        w.write(b"abcd").unwrap();
        let err = w.write(b"e").unwrap_err();
        assert!(matches!(err, BlobError::TooLarge { limit: 4 }), "{err}");
        drop(w);
        assert_eq!(fs::read_dir(dir.path().join(TMP)).unwrap().count(), 0);
        assert!(!dir.path().join("o").join("big").exists());
    }

    #[test]
    fn names_that_could_escape_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        for (org, id) in [
            ("..", "x"),
            ("o", "../x"),
            ("o", ""),
            ("tmp", "x"),
            ("o/p", "x"),
        ] {
            let err = store.create(org, id, 10).unwrap_err();
            assert!(
                matches!(err, BlobError::BadName { .. }),
                "{org} {id}: {err}"
            );
        }
    }

    #[test]
    fn sweep_removes_orphans_and_unfinished_uploads() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        for id in ["kept", "orphan"] {
            let mut w = store.create("o", id, 100).unwrap();
            w.write(id.as_bytes()).unwrap();
            w.finish().unwrap();
        }
        // An upload interrupted by a crash: its writer never ran `drop`.
        let mut w = store.create("o", "crashed", 100).unwrap();
        w.write(b"partial").unwrap();
        std::mem::forget(w);
        let report = store.sweep(|org, id| org == "o" && id == "kept").unwrap();
        assert_eq!(
            report,
            SweepReport {
                removed: 2,
                bytes: 6 + 7
            }
        );
        assert!(dir.path().join("o").join("kept").exists());
        assert!(!dir.path().join("o").join("orphan").exists());
        store.remove("o", "kept").unwrap();
        store.remove("o", "kept").unwrap();
        assert!(!dir.path().join("o").join("kept").exists());
    }
}
