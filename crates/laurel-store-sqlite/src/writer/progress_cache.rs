//! The progress the writer last wrote, so that a store reads no rows back.

use std::collections::HashMap;

use laurel_core::{AppId, SteamId, UserProgress};
use rusqlite::Connection;

use crate::rows::Context;
use laurel_store::StoreError;

/// Most users whose progress the writer keeps in memory, and most bytes
/// their progress may take (estimated); when either is reached, it starts
/// over (a miss costs one read, and a bound on memory matters more than hits).
pub(super) const PROGRESS_CACHE_USERS: usize = 4096;
pub(super) const PROGRESS_CACHE_BYTES: usize = 32 * 1024 * 1024;

/// About what a progress takes in the cache: its map nodes, names and values.
pub(super) fn progress_bytes(progress: &UserProgress) -> usize {
    const PER_ENTRY: usize = 96;
    let stats: usize = progress
        .stats
        .keys()
        .map(|n| n.as_str().len() + PER_ENTRY)
        .sum();
    let achievements: usize = progress
        .achievements
        .keys()
        .map(|n| n.as_str().len() + PER_ENTRY)
        .sum();
    PER_ENTRY + stats + achievements
}

/// The progress the writer last wrote for each recent user, as the current
/// schema shows it, so that a user's next store validates without reading
/// its rows back.
///
/// It is right only while this connection is the database's one writer.
/// Another process (the CLI on the same file) may commit too, and
/// `PRAGMA data_version` changes when one did: each group checks it inside
/// its write transaction, where nobody else can commit, and starts over when
/// it moved. A new schema changes what is visible, so it starts over too,
/// and so does a group that failed (its writes were rolled back).
#[derive(Default)]
pub(super) struct ProgressCache {
    pub(super) users: HashMap<(AppId, SteamId), UserProgress>,
    /// [`progress_bytes`] of the entries, counted when they were put (an
    /// entry removed is counted until the next start over: it errs high).
    pub(super) bytes: usize,
    data_version: Option<i64>,
}

impl ProgressCache {
    /// Starts over if another connection committed since the last check;
    /// says whether it did (or whether this is the first check).
    pub(super) fn check(&mut self, conn: &Connection) -> Result<bool, StoreError> {
        let now: i64 = conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .context("reading the data version")?;
        if self.data_version == Some(now) {
            return Ok(false);
        }
        self.clear();
        self.data_version = Some(now);
        Ok(true)
    }

    pub(super) fn put(&mut self, app: AppId, user: SteamId, progress: UserProgress) {
        let bytes = progress_bytes(&progress);
        if self.bytes + bytes > PROGRESS_CACHE_BYTES
            || (self.users.len() >= PROGRESS_CACHE_USERS && !self.users.contains_key(&(app, user)))
        {
            self.clear();
        }
        self.bytes += bytes;
        self.users.insert((app, user), progress);
    }

    pub(super) fn clear(&mut self) {
        self.users.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use laurel_core::{ApiName, StatValue};

    #[test]
    fn the_writers_progress_cache_stays_within_its_byte_budget() {
        let app = AppId::new(480).unwrap();
        // A user with 3,000 long stat names: ~0.4 MB by the estimate.
        let mut big = UserProgress::default();
        for i in 0..3000 {
            let name = ApiName::parse(&format!("{}{i}", "S".repeat(40))).unwrap();
            big.stats.insert(name, StatValue::Int(1));
        }
        let each = progress_bytes(&big);
        assert!(each > 3000 * 96, "{each}");
        let mut cache = ProgressCache::default();
        for n in 1..=500u64 {
            cache.put(app, SteamId::new(n).unwrap(), big.clone());
            assert!(
                cache.bytes <= PROGRESS_CACHE_BYTES,
                "{} after {n}",
                cache.bytes
            );
            assert_eq!(cache.bytes, cache.users.len() * each);
        }
        assert!(cache.users.len() < 500 && !cache.users.is_empty());
    }
}
