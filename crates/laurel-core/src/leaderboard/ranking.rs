//! An order-statistic set of a board's entries, for ranks at scale.
//!
//! Counting the entries ahead of a score in SQL costs time proportional to
//! the rank; this set answers a rank, the entry at a rank and a page of
//! ranks in O(√n)-ish time without touching the database. It is a sorted
//! vector cut into chunks of at most [`CHUNK_MAX`] keys: finding a chunk
//! walks the chunks' lengths (a few thousand additions at a million
//! entries), an insert or removal moves at most one chunk's keys.

use crate::SteamId;

use super::RankKey;

/// Most keys in one chunk before it is split in two.
pub const CHUNK_MAX: usize = 1024;

/// A board's entries in rank order: each key once, with its user.
#[derive(Debug, Clone, Default)]
pub struct RankedSet {
    chunks: Vec<Vec<(RankKey, SteamId)>>,
    len: usize,
}

impl RankedSet {
    pub fn new() -> RankedSet {
        RankedSet::default()
    }

    /// From entries in any order; a key given twice is kept once.
    pub fn from_entries(mut entries: Vec<(RankKey, SteamId)>) -> RankedSet {
        entries.sort_unstable_by_key(|(key, _)| *key);
        entries.dedup_by_key(|(key, _)| *key);
        let len = entries.len();
        let chunks = entries
            .chunks(CHUNK_MAX / 2)
            .map(<[(RankKey, SteamId)]>::to_vec)
            .collect();
        RankedSet { chunks, len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunk a key belongs in: the first whose last key is not below it
    /// (the last chunk for a key above every other).
    fn chunk_for(&self, key: &RankKey) -> usize {
        let found = self
            .chunks
            .partition_point(|chunk| chunk.last().is_some_and(|(last, _)| last < key));
        found.min(self.chunks.len().saturating_sub(1))
    }

    /// Adds `key` for `user`; `false` (and nothing changes) when the key is there.
    pub fn insert(&mut self, key: RankKey, user: SteamId) -> bool {
        if self.chunks.is_empty() {
            self.chunks.push(Vec::new());
        }
        let c = self.chunk_for(&key);
        let chunk = &mut self.chunks[c];
        match chunk.binary_search_by_key(&key, |(k, _)| *k) {
            Ok(_) => false,
            Err(at) => {
                chunk.insert(at, (key, user));
                self.len += 1;
                if chunk.len() > CHUNK_MAX {
                    let upper = chunk.split_off(chunk.len() / 2);
                    self.chunks.insert(c + 1, upper);
                }
                true
            }
        }
    }

    /// Removes `key`; `false` when it was not there.
    pub fn remove(&mut self, key: &RankKey) -> bool {
        if self.chunks.is_empty() {
            return false;
        }
        let c = self.chunk_for(key);
        let chunk = &mut self.chunks[c];
        match chunk.binary_search_by_key(key, |(k, _)| *k) {
            Ok(at) => {
                chunk.remove(at);
                self.len -= 1;
                if chunk.is_empty() {
                    self.chunks.remove(c);
                }
                true
            }
            Err(_) => false,
        }
    }

    /// How many keys rank ahead of `key` (whether or not it is in the set).
    pub fn count_before(&self, key: &RankKey) -> u64 {
        let c = self
            .chunks
            .partition_point(|chunk| chunk.last().is_some_and(|(last, _)| last < key));
        let before: usize = self.chunks[..c].iter().map(Vec::len).sum();
        let within = self
            .chunks
            .get(c)
            .map_or(0, |chunk| chunk.partition_point(|(k, _)| k < key));
        (before + within) as u64
    }

    /// The 1-based rank of `key`, if it is in the set.
    pub fn rank_of(&self, key: &RankKey) -> Option<u64> {
        let c = self.chunk_for(key);
        let chunk = self.chunks.get(c)?;
        chunk.binary_search_by_key(key, |(k, _)| *k).ok()?;
        Some(self.count_before(key) + 1)
    }

    /// The entries ranked `first..=last` (1-based), with their ranks;
    /// ranks past the end are left out.
    pub fn page(&self, first: u64, last: u64) -> Vec<(u64, RankKey, SteamId)> {
        let mut out = Vec::new();
        if first == 0 || last < first {
            return out;
        }
        let mut skip = usize::try_from(first - 1).unwrap_or(usize::MAX);
        let want = usize::try_from(last - first + 1).unwrap_or(usize::MAX);
        let mut rank = first;
        for chunk in &self.chunks {
            if skip >= chunk.len() {
                skip -= chunk.len();
                continue;
            }
            for (key, user) in &chunk[skip..] {
                if out.len() == want {
                    return out;
                }
                out.push((rank, *key, *user));
                rank += 1;
            }
            skip = 0;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    fn key(order: i64, seq: u64) -> RankKey {
        RankKey {
            order,
            set_at: 0,
            seq,
        }
    }

    fn user(n: u64) -> SteamId {
        SteamId::new(76_561_197_960_265_728 + n).unwrap()
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(i64, u64),
        Remove(i64, u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (-50i64..50, 0u64..40).prop_map(|(o, s)| Op::Insert(o, s)),
            1 => (-50i64..50, 0u64..40).prop_map(|(o, s)| Op::Remove(o, s)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Against a `BTreeMap`: membership, ranks, counts and pages agree
        /// after any mix of inserts and removals, across chunk splits.
        #[test]
        fn agrees_with_a_sorted_map(ops in prop::collection::vec(op(), 0..3000)) {
            let mut set = RankedSet::new();
            let mut model = BTreeMap::new();
            for (i, op) in ops.iter().enumerate() {
                match *op {
                    Op::Insert(o, s) => {
                        let fresh = !model.contains_key(&key(o, s));
                        prop_assert_eq!(set.insert(key(o, s), user(i as u64)), fresh);
                        model.entry(key(o, s)).or_insert(user(i as u64));
                    }
                    Op::Remove(o, s) => {
                        prop_assert_eq!(set.remove(&key(o, s)), model.remove(&key(o, s)).is_some());
                    }
                }
            }
            prop_assert_eq!(set.len(), model.len());
            let all: Vec<_> = model.iter().enumerate().map(|(i, (k, u))| (i as u64 + 1, *k, *u)).collect();
            prop_assert_eq!(set.page(1, u64::MAX), all.clone());
            for (rank, k, _) in &all {
                prop_assert_eq!(set.rank_of(k), Some(*rank));
                prop_assert_eq!(set.count_before(k), rank - 1);
            }
            prop_assert_eq!(set.rank_of(&key(1000, 0)), None);
            prop_assert_eq!(set.count_before(&key(1000, 0)), model.len() as u64);
            if all.len() > 3 {
                prop_assert_eq!(set.page(2, 3), all[1..3].to_vec());
            }
            let rebuilt = RankedSet::from_entries(model.iter().map(|(k, u)| (*k, *u)).collect());
            prop_assert_eq!(rebuilt.page(1, u64::MAX), all);
        }
    }

    #[test]
    fn pages_past_the_end_and_empty_ranges_are_empty() {
        let mut set = RankedSet::new();
        assert!(set.page(1, 10).is_empty());
        assert!(set.insert(key(1, 1), user(1)));
        assert!(!set.insert(key(1, 1), user(2)), "a key is kept once");
        assert_eq!(set.page(2, 10), vec![]);
        assert_eq!(set.page(0, 10), vec![]);
        assert_eq!(set.page(1, 0), vec![]);
        assert_eq!(set.page(1, 1), vec![(1, key(1, 1), user(1))]);
        assert!(set.remove(&key(1, 1)));
        assert!(!set.remove(&key(1, 1)));
        assert!(set.is_empty());
    }
}
