//! The durable positions of named feed consumers: one small file each under `<data>/feed/`,
//! replaced atomically (write a temporary file, fsync, rename, fsync the directory).
//!
//! A position file is 24 bytes (`docs/format/wal.md` draws it): the magic `SEXTFPOS`, the
//! format version (u32 LE), the position (u64 LE) and a CRC-32 of the 20 bytes before it
//! (u32 LE).

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

const MAGIC: [u8; 8] = *b"SEXTFPOS";
const VERSION: u32 = 1;
const LEN: usize = 24;
const SUFFIX: &str = ".pos";

/// Whether `name` can name a consumer: it becomes a file name.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}{SUFFIX}"))
}

fn encode(seq: u64) -> [u8; LEN] {
    let mut out = [0u8; LEN];
    out[..8].copy_from_slice(&MAGIC);
    out[8..12].copy_from_slice(&VERSION.to_le_bytes());
    out[12..20].copy_from_slice(&seq.to_le_bytes());
    let crc = crc32fast::hash(&out[..20]);
    out[20..].copy_from_slice(&crc.to_le_bytes());
    out
}

fn decode(path: &Path, bytes: &[u8]) -> Result<u64> {
    let corrupt = |offset: u64, detail: &str| Error::FeedPositionCorrupt {
        path: path.to_owned(),
        offset,
        detail: detail.to_owned(),
    };
    if bytes.len() != LEN {
        return Err(corrupt(0, "a position file is 24 bytes long"));
    }
    if bytes[..8] != MAGIC {
        return Err(corrupt(0, "bad magic"));
    }
    let crc = u32::from_le_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
    if crc32fast::hash(&bytes[..20]) != crc {
        return Err(corrupt(20, "CRC mismatch"));
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version != VERSION {
        return Err(corrupt(8, "unknown format version"));
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&bytes[12..20]);
    Ok(u64::from_le_bytes(seq))
}

/// Every consumer's position in `dir` (created if missing). Leftover temporary files of an
/// interrupted write are removed: the rename never happened, so the old position stands.
pub(crate) fn load_all(dir: &Path) -> Result<HashMap<String, u64>> {
    fs::create_dir_all(dir).map_err(Error::io("create feed directory", dir))?;
    let mut out = HashMap::new();
    for entry in fs::read_dir(dir).map_err(Error::io("list feed directory", dir))? {
        let entry = entry.map_err(Error::io("list feed directory", dir))?;
        let file = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if name.ends_with(".tmp") {
            fs::remove_file(&file).map_err(Error::io("remove temporary position file", &file))?;
            continue;
        }
        let Some(consumer) = name.strip_suffix(SUFFIX).filter(|n| valid_name(n)) else {
            continue;
        };
        let bytes = fs::read(&file).map_err(Error::io("read position file", &file))?;
        out.insert(consumer.to_owned(), decode(&file, &bytes)?);
    }
    Ok(out)
}

/// Stores `seq` as the position of `name`, durably.
pub(crate) fn store(dir: &Path, name: &str, seq: u64) -> Result<()> {
    let target = path(dir, name);
    let tmp = dir.join(format!("{name}{SUFFIX}.tmp"));
    let mut file = File::create(&tmp).map_err(Error::io("create position file", &tmp))?;
    file.write_all(&encode(seq))
        .and_then(|()| file.sync_data())
        .map_err(Error::io("write position file", &tmp))?;
    drop(file);
    fs::rename(&tmp, &target).map_err(Error::io("rename position file", &target))?;
    crate::wal::sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_and_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        store(dir.path(), "rules", 42).unwrap();
        store(dir.path(), "rules", 43).unwrap();
        store(dir.path(), "sub-1", 7).unwrap();
        fs::write(dir.path().join("x.pos.tmp"), b"half").unwrap();
        let all = load_all(dir.path()).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all["rules"], 43);
        assert_eq!(all["sub-1"], 7);
        assert!(!dir.path().join("x.pos.tmp").exists());

        let mut bytes = encode(9).to_vec();
        bytes[14] ^= 1;
        fs::write(dir.path().join("rules.pos"), &bytes).unwrap();
        let err = load_all(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("rules.pos") && err.contains("CRC mismatch"),
            "{err}"
        );
    }

    #[test]
    fn names_are_file_safe() {
        for (name, ok) in [
            ("rules", true),
            ("sub_1-a", true),
            ("", false),
            ("../x", false),
            ("a b", false),
        ] {
            assert_eq!(valid_name(name), ok, "{name:?}");
        }
    }
}
