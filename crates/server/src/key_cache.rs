//! Series keys by the text a protocol sends them as, so that a series sent again costs a
//! lookup rather than building its key. Line protocol and SignalFx each keep one per kind of
//! text, shared by every request: the mapping is a pure function of the text.
//!
//! A cache is split in [`SHARDS`] tables, each behind its own lock and picked by the text's
//! hash, which is computed once for both: with one lock for all, the lock's cache line moved
//! between cores on every line of a body of new series (a fifth of the lookup's time on W3 of
//! the benchmark, whose every line is a series its body did not have before).

use std::hash::BuildHasher;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use parking_lot::Mutex;
use sextant_model::SeriesKey;

/// Tables of a cache.
const SHARDS: usize = 16;

/// Keys by text, emptied a table at a time when the table holds its share of the bound.
pub(crate) struct KeyCache {
    hasher: foldhash::fast::RandomState,
    shards: [Mutex<Shard>; SHARDS],
    /// The most text and key bytes one table holds before it starts over.
    shard_bytes: usize,
}

#[derive(Default)]
struct Shard {
    keys: HashTable<(Box<[u8]>, SeriesKey)>,
    bytes: usize,
}

impl KeyCache {
    /// A cache holding about `bytes` of texts and keys at most.
    pub(crate) fn new(bytes: usize) -> KeyCache {
        KeyCache {
            hasher: foldhash::fast::RandomState::default(),
            shards: std::array::from_fn(|_| Mutex::default()),
            shard_bytes: bytes / SHARDS,
        }
    }

    /// The hash of `text` and its table.
    fn shard(&self, text: &[u8]) -> (u64, &Mutex<Shard>) {
        let hash = self.hasher.hash_one(text);
        // A table's buckets take the hash's low bits and its tags the top seven: the shard
        // takes bits of neither.
        (hash, &self.shards[(hash >> 32) as usize % SHARDS])
    }

    /// The key cached for `text`.
    pub(crate) fn get(&self, text: &[u8]) -> Option<SeriesKey> {
        let (hash, shard) = self.shard(text);
        let shard = shard.lock();
        shard
            .keys
            .find(hash, |(t, _)| **t == *text)
            .map(|(_, key)| key.clone())
    }

    /// Remembers `key` as the key of `text` (unless a key is already there).
    pub(crate) fn insert(&self, text: &[u8], key: &SeriesKey) {
        let (hash, shard) = self.shard(text);
        self.insert_hashed(hash, shard, text, key);
    }

    /// The key of `text`, from the cache or from `make` (and then cached).
    pub(crate) fn get_or_make<E>(
        &self,
        text: &[u8],
        make: impl FnOnce() -> Result<SeriesKey, E>,
    ) -> Result<SeriesKey, E> {
        let (hash, shard) = self.shard(text);
        if let Some((_, key)) = shard.lock().keys.find(hash, |(t, _)| **t == *text) {
            return Ok(key.clone());
        }
        let key = make()?;
        self.insert_hashed(hash, shard, text, &key);
        Ok(key)
    }

    fn insert_hashed(&self, hash: u64, shard: &Mutex<Shard>, text: &[u8], key: &SeriesKey) {
        let mut shard = shard.lock();
        if shard.bytes + text.len() > self.shard_bytes {
            shard.keys.clear();
            shard.bytes = 0;
        }
        let Shard { keys, bytes } = &mut *shard;
        let entry = keys.entry(
            hash,
            |(t, _)| **t == *text,
            |(t, _)| self.hasher.hash_one(&**t),
        );
        // Another request may have entered the same text meanwhile.
        if let Entry::Vacant(slot) = entry {
            slot.insert((text.into(), key.clone()));
            *bytes += text.len() + key.heap_size();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_gives_the_key_it_was_first_made_with() {
        let cache = KeyCache::new(1 << 20);
        let text = b"hc id 7";
        let key = SeriesKey::new("hc.value", [("id", "7")]).unwrap();
        assert_eq!(
            cache
                .get_or_make(text, || Ok::<_, String>(key.clone()))
                .unwrap(),
            key
        );
        // Cached: `make` is not called again.
        let again = cache.get_or_make::<String>(text, || panic!("the key is cached"));
        assert_eq!(again.unwrap(), key);
        assert_eq!(cache.get(text), Some(key.clone()));
        // A failure to make a key is returned and not cached.
        let other = b"x";
        assert!(
            cache
                .get_or_make(other, || SeriesKey::new("", [("k", "")]))
                .is_err()
        );
        assert_eq!(cache.get(other), None);
        // The first key entered for a text stays.
        let later = SeriesKey::new("hc.other", [("id", "7")]).unwrap();
        cache.insert(text, &later);
        assert_eq!(cache.get(text), Some(key));
    }

    #[test]
    fn a_full_table_starts_over() {
        // One table holds at most 64 bytes: a text of 40 and its key pass it on the second.
        let cache = KeyCache::new(64 * SHARDS);
        let key = SeriesKey::new("m", [("k", "v")]).unwrap();
        let texts: Vec<Vec<u8>> = (0..200u8).map(|i| vec![i; 40]).collect();
        for t in &texts {
            cache.insert(t, &key);
        }
        for shard in &cache.shards {
            let shard = shard.lock();
            assert!(shard.bytes <= 64 + 40 + key.heap_size());
            assert!(shard.keys.len() <= 2);
        }
        let kept = texts.iter().filter(|t| cache.get(t).is_some()).count();
        assert!((1..=2 * SHARDS).contains(&kept), "{kept}");
    }
}
