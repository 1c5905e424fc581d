//! The order series take in a part: by organization, then key, as `(OrgId, &SeriesKey)`
//! compares them.
//!
//! Sorting a million series by comparing their keys read each key some twenty times from
//! wherever it lies in memory, and took a sixth of a flush. [`sorted_order`] sorts instead by
//! sixteen bytes of each key at a time, read once per round into an array sorted in place (a
//! most-significant-digit radix sort in spirit): keys that share those bytes go to a next round
//! with the next sixteen, and runs of a few keys, or keys alike for more rounds than keys are
//! usually long, fall back to comparisons.
//!
//! The bytes are the key's pieces (its name, then each label's name and value) one after the
//! other, each ended by a zero byte, with the bytes 0 and 1 inside a piece written as 1 1 and 1 2.
//! Compared as unsigned bytes, these encodings order keys as the keys' own comparison does,
//! piece by piece (a piece that is a prefix of another ends with the smaller byte), so sorting
//! by them and breaking ties by comparing the keys gives exactly that order.

use sextant_model::{OrgId, SeriesKey};

/// Bytes of a key's encoding each round sorts by.
const ROUND_BYTES: usize = 16;

/// Runs shorter than this are sorted by comparing keys.
const SMALL_RUN: usize = 16;

/// Rounds before the keys still alike are sorted by comparing them: 256 bytes of encoding.
const MAX_ROUNDS: usize = 16;

/// The positions of `keys` in ascending order of organization, then key; equal keys in the
/// order given.
pub(crate) fn sorted_order(keys: &[(OrgId, &SeriesKey)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    let mut scratch = Vec::new();
    sort_run(keys, &mut order, 0, &mut scratch);
    order
}

/// Sorts `run` (positions in `keys` whose encodings agree before `round`'s bytes).
fn sort_run(
    keys: &[(OrgId, &SeriesKey)],
    run: &mut [usize],
    round: usize,
    scratch: &mut Vec<(OrgId, u128, usize)>,
) {
    if run.len() < SMALL_RUN || round == MAX_ROUNDS {
        run.sort_unstable_by(|&a, &b| keys[a].cmp(&keys[b]).then(a.cmp(&b)));
        return;
    }
    scratch.clear();
    scratch.extend(
        run.iter()
            .map(|&i| (keys[i].0, encoded_bytes(keys[i].1, round * ROUND_BYTES), i)),
    );
    scratch.sort_unstable();
    for (slot, &(.., i)) in run.iter_mut().zip(scratch.iter()) {
        *slot = i;
    }
    // Runs of equal bytes, found before the scratch is reused by the next round.
    let mut alike = Vec::new();
    let mut start = 0;
    while start < scratch.len() {
        let (org, bytes, _) = scratch[start];
        let end = start
            + scratch[start..]
                .iter()
                .take_while(|&&(o, b, _)| o == org && b == bytes)
                .count();
        if end - start > 1 {
            alike.push(start..end);
        }
        start = end;
    }
    for r in alike {
        sort_run(keys, &mut run[r], round + 1, scratch);
    }
}

/// The [`ROUND_BYTES`] of `key`'s encoding from byte `skip` on, as a big-endian number, zeros
/// past its end.
fn encoded_bytes(key: &SeriesKey, skip: usize) -> u128 {
    let mut window = Window {
        bytes: [0; ROUND_BYTES],
        at: 0,
        skip,
    };
    let labels = key.labels();
    let pieces = std::iter::once(key.name()).chain(labels.iter().flat_map(|l| [l.name, l.value]));
    'pieces: for piece in pieces {
        let bytes = piece.as_bytes();
        // Pieces wholly before the window are stepped over by their encoded length.
        let encoded = bytes.len() + bytes.iter().filter(|&&b| b < 2).count() + 1;
        if window.at + encoded <= skip {
            window.at += encoded;
            continue;
        }
        for &b in bytes {
            let written = match b {
                0 | 1 => window.put(1) && window.put(b + 1),
                _ => window.put(b),
            };
            if !written {
                break 'pieces;
            }
        }
        if !window.put(0) {
            break;
        }
    }
    u128::from_be_bytes(window.bytes)
}

/// The bytes of an encoding from `skip` on, as they are written.
struct Window {
    bytes: [u8; ROUND_BYTES],
    /// Bytes of the encoding written so far, those before the window included.
    at: usize,
    skip: usize,
}

impl Window {
    /// Writes the encoding's next byte; false once the window is full.
    fn put(&mut self, b: u8) -> bool {
        if self.at >= self.skip {
            match self.bytes.get_mut(self.at - self.skip) {
                Some(slot) => *slot = b,
                None => return false,
            }
        }
        self.at += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn key(name: &str, labels: &[(&str, &str)]) -> SeriesKey {
        SeriesKey::new(name, labels.iter().copied()).unwrap()
    }

    fn check(keys: &[(OrgId, SeriesKey)]) {
        let refs: Vec<(OrgId, &SeriesKey)> = keys.iter().map(|(o, k)| (*o, k)).collect();
        let got: Vec<_> = sorted_order(&refs).into_iter().map(|i| refs[i]).collect();
        let mut want = refs.clone();
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn keys_alike_but_for_their_end_sort_as_keys_compare() {
        // Keys that agree for more than one round, as a fleet's do.
        let keys: Vec<(OrgId, SeriesKey)> = (0..20_000u64)
            .rev()
            .map(|i| {
                let id = format!("s{:07}", (i * 7_919) % 20_000);
                let group = format!("g{:02}", i % 100);
                (
                    OrgId(i % 3),
                    key(
                        "op",
                        &[("group", &group), ("id", &id), ("region", "eu-west")],
                    ),
                )
            })
            .collect();
        check(&keys);
    }

    #[test]
    fn pieces_that_are_prefixes_or_hold_low_bytes_sort_as_keys_compare() {
        let names = [
            "", "a", "a\u{0}", "a\u{1}", "a\u{1}b", "ab", "a\u{0}b", "b", "\u{1}",
        ];
        let mut keys = Vec::new();
        for n in names {
            for l in names.iter().filter(|l| !l.is_empty()) {
                for v in names {
                    let name = if n.is_empty() { "m" } else { n };
                    if let Ok(k) = SeriesKey::new(name, [(*l, v)]) {
                        keys.push((OrgId(1), k));
                    }
                }
            }
        }
        // Repeated, so that runs are long enough for the rounds, not only comparisons.
        let many: Vec<_> = keys.iter().chain(&keys).chain(&keys).cloned().collect();
        check(&many);
    }

    #[test]
    fn keys_alike_for_longer_than_the_rounds_sort_as_keys_compare() {
        // 300 bytes in common, then the id: past the rounds, comparisons finish the sort.
        let name = "m".repeat(300);
        let keys: Vec<(OrgId, SeriesKey)> = (0..500u32)
            .rev()
            .map(|i| {
                (
                    OrgId(0),
                    key(&name, &[("id", &format!("{}", i * 37 % 500))]),
                )
            })
            .collect();
        check(&keys);
        let name = format!("{}\u{1}", "m".repeat(40));
        let keys: Vec<(OrgId, SeriesKey)> = (0..500u32)
            .map(|i| {
                (
                    OrgId(0),
                    key(&name, &[("id\u{0}", &format!("\u{1}{}", i * 37 % 500))]),
                )
            })
            .collect();
        check(&keys);
    }

    proptest! {
        #[test]
        fn any_keys_sort_as_keys_compare(
            specs in prop::collection::vec(
                ("[ab\u{0}\u{1}]{1,20}", prop::collection::btree_map("[a-c\u{1}]{1,3}", "[ab\u{0}\u{1}]{0,24}", 0..4)),
                0..200,
            ),
        ) {
            let keys: Vec<(OrgId, SeriesKey)> = specs
                .iter()
                .filter_map(|(name, labels)| {
                    SeriesKey::new(name, labels).ok().map(|k| (OrgId(name.len() as u64 % 2), k))
                })
                .collect();
            check(&keys);
        }
    }
}
