//! In-memory caches in front of the store.
//!
//! The progress snapshot cache is what lets reads of hot users approach the
//! HTTP ceiling: the answer is kept already serialized, so a hit costs a hash
//! lookup and a reference-count increment; SQLite and serde are not touched.
//!
//! The snapshot cache only knows about progress written through this process:
//! a second server node, or the CLI resetting a user in the same database
//! while the server runs, would leave it stale, which is why
//! [`crate::config::ServerConfig::progress_cache`] can turn it off. (A schema written
//! elsewhere is noticed within [`crate::state::SCHEMA_CACHE_TTL`], and its
//! new version retires every snapshot of the app.)

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use laurel_core::{AppId, SteamId};
use laurel_store::KeyRecord;

/// Default bytes of progress snapshots kept in memory (`--cache-bytes`):
/// about 30,000 users of a typical schema (1–2 KB each), or 250 users of a
/// 3,000-achievement one. A count of entries was no bound (issue 12: 27,074
/// reads of a large schema's users took 7 GB).
pub const DEFAULT_CACHE_BYTES: usize = 64 * 1024 * 1024;
/// What one entry costs besides its JSON: the key, the snapshot's fields,
/// the map's slot and the allocation's header, rounded up.
pub const ENTRY_OVERHEAD_BYTES: usize = 128;
/// Independent locks, so that concurrent requests for different users rarely wait on each other.
const SHARDS: usize = 16;

/// How long a positive server-key lookup is trusted without asking the store.
/// A key revoked through another process (CLI, other node) keeps working for
/// at most this long; a revocation through this server's admin API is immediate.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(5);
/// Most server keys remembered at once; the cache starts over when full.
pub const KEY_CACHE_CAPACITY: usize = 10_000;

/// A user's progress as the server last answered it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub version: u64,
    pub schema_version: u64,
    /// The serialized `ProgressBody`.
    pub json: Bytes,
}

impl Snapshot {
    fn dominates(&self, other: &Snapshot) -> bool {
        self.version >= other.version && self.schema_version >= other.schema_version
    }
}

impl Snapshot {
    /// What keeping it costs, in bytes.
    fn cost(&self) -> usize {
        self.json.len() + ENTRY_OVERHEAD_BYTES
    }
}

#[derive(Default)]
struct ShardMap {
    entries: HashMap<(AppId, SteamId), Snapshot>,
    bytes: usize,
}

impl ShardMap {
    fn remove(&mut self, key: &(AppId, SteamId)) {
        if let Some(old) = self.entries.remove(key) {
            self.bytes -= old.cost();
        }
    }

    /// Inserts `snapshot` in place of any entry of `key`, evicting others
    /// until the shard is within `budget`; a snapshot larger than the whole
    /// budget is not kept.
    fn insert(&mut self, key: (AppId, SteamId), snapshot: Snapshot, budget: usize) {
        self.remove(&key);
        let cost = snapshot.cost();
        if cost > budget {
            return;
        }
        while self.bytes + cost > budget {
            // Evict whichever entry the map yields first: arbitrary, O(1)
            // amortized, and good enough for a cache whose misses cost one
            // indexed read.
            let Some(victim) = self.entries.keys().next().copied() else {
                break;
            };
            self.remove(&victim);
        }
        self.bytes += cost;
        self.entries.insert(key, snapshot);
    }
}

/// Locks a mutex even if a panic elsewhere poisoned it: every map here is
/// consistent after each single operation, so the data is still good.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Progress snapshots by (app, user), bounded in bytes.
pub struct ProgressCache {
    shards: Box<[Mutex<ShardMap>]>,
    /// Bytes each shard may hold.
    per_shard: usize,
    hasher: RandomState,
}

impl ProgressCache {
    /// A cache of at most `bytes` bytes (counted as [`Snapshot`] JSON plus
    /// [`ENTRY_OVERHEAD_BYTES`] per entry).
    pub fn new(bytes: usize) -> ProgressCache {
        let per_shard = bytes / SHARDS;
        ProgressCache {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(ShardMap::default()))
                .collect(),
            per_shard,
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, key: &(AppId, SteamId)) -> &Mutex<ShardMap> {
        &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS]
    }

    /// The snapshot, if it was made with `schema_version` (older ones are stale).
    pub fn get(&self, app: AppId, user: SteamId, schema_version: u64) -> Option<Bytes> {
        let key = (app, user);
        let shard = lock(self.shard(&key));
        shard
            .entries
            .get(&key)
            .filter(|s| s.schema_version == schema_version)
            .map(|s| s.json.clone())
    }

    /// Keeps the newer of two snapshots. A read that raced a store may arrive
    /// with an older version and must not overwrite the store's answer; when
    /// neither is newer on both counts, neither is trusted and the entry goes.
    pub fn put(&self, app: AppId, user: SteamId, snapshot: Snapshot) {
        let key = (app, user);
        let mut shard = lock(self.shard(&key));
        match shard.entries.get(&key) {
            Some(old) if old.dominates(&snapshot) && !snapshot.dominates(old) => {}
            Some(old) if !snapshot.dominates(old) => {
                shard.remove(&key);
            }
            _ => shard.insert(key, snapshot, self.per_shard),
        }
    }

    /// Drops every snapshot of an app (its schema changed).
    pub fn invalidate_app(&self, app: AppId) {
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            let gone: Vec<_> = shard
                .entries
                .keys()
                .filter(|(a, _)| *a == app)
                .copied()
                .collect();
            for key in gone {
                shard.remove(&key);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).entries.len()).sum()
    }

    /// Bytes held now (at most the budget given to [`ProgressCache::new`]).
    pub fn bytes(&self) -> usize {
        self.shards.iter().map(|s| lock(s).bytes).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Server-key lookups by secret hash, trusted for [`KEY_CACHE_TTL`]: the
/// keys found, and the hashes that matched no key (so that guessing keys
/// costs the store nothing within that time; the failed-authentication
/// backoff bounds the guesses themselves).
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, (KeyRecord, Instant)>>,
    unknown: Mutex<HashMap<String, Instant>>,
}

impl KeyCache {
    /// Whether `secret_hash` matched no key less than [`KEY_CACHE_TTL`] ago.
    pub fn known_unknown(&self, secret_hash: &str, now: Instant) -> bool {
        let mut unknown = lock(&self.unknown);
        match unknown.get(secret_hash) {
            Some(at) if now.duration_since(*at) < KEY_CACHE_TTL => true,
            Some(_) => {
                unknown.remove(secret_hash);
                false
            }
            None => false,
        }
    }

    pub fn put_unknown(&self, secret_hash: String, now: Instant) {
        let mut unknown = lock(&self.unknown);
        if unknown.len() >= KEY_CACHE_CAPACITY {
            unknown.clear();
        }
        unknown.insert(secret_hash, now);
    }

    pub fn get(&self, secret_hash: &str, now: Instant) -> Option<KeyRecord> {
        let mut entries = lock(&self.entries);
        match entries.get(secret_hash) {
            Some((record, at)) if now.duration_since(*at) < KEY_CACHE_TTL => Some(record.clone()),
            Some(_) => {
                entries.remove(secret_hash);
                None
            }
            None => None,
        }
    }

    pub fn put(&self, secret_hash: String, record: KeyRecord, now: Instant) {
        let mut entries = lock(&self.entries);
        if entries.len() >= KEY_CACHE_CAPACITY {
            entries.clear();
        }
        entries.insert(secret_hash, (record, now));
    }

    /// Forgets a revoked key at once.
    pub fn forget(&self, app: AppId, id: i64) {
        lock(&self.entries).retain(|_, (r, _)| !(r.app == app && r.id == id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(version: u64, schema_version: u64) -> Snapshot {
        Snapshot {
            version,
            schema_version,
            json: Bytes::from(format!("{version}/{schema_version}")),
        }
    }

    fn ids(user: u64) -> (AppId, SteamId) {
        (AppId::new(480).unwrap(), SteamId::new(user).unwrap())
    }

    #[test]
    fn newer_snapshots_win_and_stale_reads_do_not_overwrite() {
        let c = ProgressCache::new(64 * 1024);
        let (app, user) = ids(1);
        c.put(app, user, snap(2, 1));
        c.put(app, user, snap(1, 1));
        assert_eq!(c.get(app, user, 1).as_deref(), Some(&b"2/1"[..]));
        c.put(app, user, snap(3, 1));
        assert_eq!(c.get(app, user, 1).as_deref(), Some(&b"3/1"[..]));
        assert_eq!(c.get(app, user, 2), None, "other schema version is a miss");
        // Neither newer on both counts: dropped.
        c.put(app, user, snap(1, 2));
        assert!(c.is_empty());
    }

    fn sized(version: u64, bytes: usize) -> Snapshot {
        Snapshot {
            version,
            schema_version: 1,
            json: Bytes::from(vec![b'x'; bytes]),
        }
    }

    #[test]
    fn bytes_are_bounded_whatever_the_entries_weigh() {
        let budget = 1024 * 1024;
        let c = ProgressCache::new(budget);
        for u in 1..=1_000 {
            let (app, user) = ids(u);
            c.put(app, user, sized(1, 10_000));
            assert!(c.bytes() <= budget, "{} after {u}", c.bytes());
        }
        assert!(c.len() >= 50, "the budget is used: {}", c.len());
        // Growing entries in place stays within the budget too.
        for u in 1..=1_000 {
            let (app, user) = ids(u);
            c.put(app, user, sized(2, 30_000));
            assert!(c.bytes() <= budget, "{}", c.bytes());
        }
        // An entry larger than a shard's share is not kept at all.
        let (app, user) = ids(5_000);
        c.put(app, user, sized(1, budget));
        assert_eq!(c.get(app, user, 1), None);
        assert!(c.bytes() <= budget);
        // What is dropped gives its bytes back.
        c.invalidate_app(app);
        assert_eq!((c.len(), c.bytes()), (0, 0));
    }

    #[test]
    fn invalidation_is_per_app() {
        let c = ProgressCache::new(64 * 1024);
        let (app, user) = ids(1);
        let other = AppId::new(481).unwrap();
        c.put(app, user, snap(1, 1));
        c.put(other, user, snap(1, 1));
        c.invalidate_app(app);
        assert_eq!(c.get(app, user, 1), None);
        assert!(c.get(other, user, 1).is_some());
    }

    #[test]
    fn key_cache_expires() {
        let c = KeyCache::default();
        let record = KeyRecord {
            id: 7,
            app: AppId::new(480).unwrap(),
            label: String::new(),
            created: 0,
            revoked: false,
        };
        let t0 = Instant::now();
        c.put("h".into(), record.clone(), t0);
        assert_eq!(c.get("h", t0), Some(record.clone()));
        assert_eq!(c.get("h", t0 + KEY_CACHE_TTL), None);
        c.put("h".into(), record, t0);
        c.forget(AppId::new(480).unwrap(), 7);
        assert_eq!(c.get("h", t0), None);
    }
}
