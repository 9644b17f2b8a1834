//! Idempotency records: an append-only log with a lookup index built in
//! batches, like PostgreSQL's GIN "pending list".
//!
//! Every store records its key, and a key must be found again for
//! [`IDEMPOTENCY_RETENTION_SECONDS`](crate::IDEMPOTENCY_RETENTION_SECONDS).
//! A B-tree keyed by (app, user, key) takes each insert at a random place, so
//! each store of a group dirtied a page of its own, and COMMIT's cost follows
//! the pages it writes: those pages were most of a group's WAL. So:
//!
//! - `idempotency` is a log in arrival order (`seq`): a group's records land
//!   on the same one or two pages;
//! - `idempotency_keys` maps (app, user, key) to `seq` for every record up to
//!   `meta.idempotency_indexed_seq`;
//! - the writer keeps the keys of the records after that point (the pending
//!   tail) in memory, and moves them into `idempotency_keys` in one sorted
//!   insert, in a transaction of its own, once enough are pending
//!   ([`SqliteOptions::idempotency_index_batch`](super::SqliteOptions)).
//!
//! The tail is always on disk: the memory copy is only its index. It is
//! read back whenever the writer cannot vouch for it: at start, after another
//! process wrote the file (`PRAGMA data_version`), after a failed group.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use laurel_core::{AppId, SteamId};
use rusqlite::{Connection, OptionalExtension};

use crate::rows::{Context, app_from_sql, app_sql, corrupt, user_sql};
use laurel_store::rows::{NewKeyRecord, idempotency_record};
use laurel_store::{IdempotencyRecord, StoreError};

/// Least time between a failed flush and the next attempt.
const FLUSH_RETRY: Duration = Duration::from_secs(1);

const INDEXED_SEQ: &str = "idempotency_indexed_seq";

/// Keys recorded by the current group: they join the pending tail only once
/// the group has committed.
#[derive(Default)]
pub(crate) struct StagedKeys(Vec<(AppId, SteamId, Box<str>, i64)>);

/// The writer's index of the pending tail of the log.
#[derive(Default)]
pub(crate) struct PendingKeys {
    /// `None` until read, and again whenever the memory copy may be stale.
    indexed_seq: Option<i64>,
    keys: HashMap<(AppId, SteamId), HashMap<Box<str>, i64>>,
    len: usize,
    /// After a failed flush, the next one waits until then.
    retry_at: Option<Instant>,
}

impl PendingKeys {
    /// Forgets the memory copy; the next group reads the tail again.
    pub(crate) fn invalidate(&mut self) {
        self.indexed_seq = None;
        self.keys.clear();
        self.len = 0;
    }

    /// Reads the pending tail when the memory copy was invalidated. Called
    /// inside the group's write transaction, where nobody else can append.
    pub(crate) fn ensure_loaded(&mut self, conn: &Connection) -> Result<(), StoreError> {
        if self.indexed_seq.is_some() {
            return Ok(());
        }
        let indexed = indexed_seq(conn)?;
        self.keys.clear();
        self.len = 0;
        let mut stmt = conn
            .prepare_cached(
                "SELECT app_id, steam_id, idem_key, seq FROM idempotency WHERE seq > ?1",
            )
            .context("reading pending idempotency keys")?;
        let mut rows = stmt
            .query([indexed])
            .context("reading pending idempotency keys")?;
        while let Some(row) = rows.next().context("reading pending idempotency keys")? {
            let app: i64 = row.get(0).context("reading pending idempotency keys")?;
            let user: i64 = row.get(1).context("reading pending idempotency keys")?;
            let key: String = row.get(2).context("reading pending idempotency keys")?;
            let seq: i64 = row.get(3).context("reading pending idempotency keys")?;
            let app = app_from_sql(app)?;
            let user = SteamId::new(user as u64)
                .map_err(|e| corrupt(format_args!("idempotency record {seq}: {e}")))?;
            self.insert(app, user, key.into(), seq);
        }
        self.indexed_seq = Some(indexed);
        Ok(())
    }

    fn insert(&mut self, app: AppId, user: SteamId, key: Box<str>, seq: i64) {
        if self
            .keys
            .entry((app, user))
            .or_default()
            .insert(key, seq)
            .is_none()
        {
            self.len += 1;
        }
    }

    /// Adds a committed group's keys.
    pub(crate) fn commit(&mut self, staged: StagedKeys) {
        for (app, user, key, seq) in staged.0 {
            self.insert(app, user, key, seq);
        }
    }

    /// At least `batch` keys are pending: time to move them into the index.
    /// Larger batches share more index pages per key; the move holds the
    /// writer for a few milliseconds per thousand keys.
    pub(crate) fn due(&self, batch: usize) -> bool {
        self.indexed_seq.is_some()
            && self.len >= batch
            && self.retry_at.is_none_or(|t| Instant::now() >= t)
    }

    /// A flush failed: its transaction rolled back, so the tail is as it was;
    /// read it again, and do not try before [`FLUSH_RETRY`] has passed.
    pub(crate) fn flush_failed(&mut self) {
        self.invalidate();
        self.retry_at = Some(Instant::now() + FLUSH_RETRY);
    }

    /// Moves every pending record into `idempotency_keys`, sorted so that each
    /// index page is written once. The caller commits `conn`'s transaction,
    /// then calls [`PendingKeys::flushed`].
    pub(crate) fn flush(&self, conn: &Connection) -> Result<i64, StoreError> {
        let from = indexed_seq(conn)?;
        // OR IGNORE: a key is recorded only when no tier knows it, so a
        // duplicate cannot arise; if one ever did, the first record stays,
        // as a lookup would have answered.
        conn.prepare_cached(
            "INSERT OR IGNORE INTO idempotency_keys (app_id, steam_id, idem_key, seq) \
             SELECT app_id, steam_id, idem_key, seq FROM idempotency WHERE seq > ?1 \
             ORDER BY app_id, steam_id, idem_key",
        )
        .and_then(|mut s| s.execute([from]))
        .context("indexing idempotency keys")?;
        let to: i64 = conn
            .query_row(
                "SELECT coalesce(max(seq), ?1) FROM idempotency",
                [from],
                |r| r.get(0),
            )
            .context("indexing idempotency keys")?;
        conn.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute((INDEXED_SEQ, to)))
            .context("indexing idempotency keys")?;
        Ok(to)
    }

    /// After the flush's transaction committed: nothing is pending up to `to`.
    pub(crate) fn flushed(&mut self, to: i64) {
        self.retry_at = None;
        self.keys.clear();
        self.len = 0;
        self.indexed_seq = Some(to);
    }

    /// The first record of `key`, if any: this group's, the pending tail's,
    /// or the index's.
    pub(crate) fn find(
        &self,
        conn: &Connection,
        staged: &StagedKeys,
        app: AppId,
        user: SteamId,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let pending = staged
            .0
            .iter()
            .find(|(a, u, k, _)| *a == app && *u == user && &**k == key)
            .map(|(.., seq)| *seq)
            .or_else(|| self.keys.get(&(app, user))?.get(key).copied());
        let row = match pending {
            Some(seq) => conn
                .prepare_cached(
                    "SELECT fingerprint, newly_unlocked FROM idempotency WHERE seq = ?1",
                )
                .and_then(|mut s| {
                    s.query_row([seq], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()
                }),
            None => conn
                .prepare_cached(
                    "SELECT i.fingerprint, i.newly_unlocked FROM idempotency_keys k \
                     JOIN idempotency i ON i.seq = k.seq \
                     WHERE k.app_id = ?1 AND k.steam_id = ?2 AND k.idem_key = ?3",
                )
                .and_then(|mut s| {
                    s.query_row((app_sql(app), user_sql(user), key), |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()
                }),
        }
        .context("reading an idempotency key")?;
        let Some((fingerprint, json)) = row else {
            return Ok(None);
        };
        let json: String = json;
        idempotency_record(fingerprint, &json).map(Some)
    }
}

/// Appends a record to the log and stages its key for the group.
pub(crate) fn record(
    conn: &Connection,
    staged: &mut StagedKeys,
    new: &NewKeyRecord<'_>,
) -> Result<(), StoreError> {
    let json = new.unlocked_json()?;
    let version = new.version_sql()?;
    conn.prepare_cached(
        "INSERT INTO idempotency (app_id, steam_id, idem_key, fingerprint, version, newly_unlocked, created) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute((
            app_sql(new.app),
            user_sql(new.user),
            new.key,
            new.fingerprint,
            version,
            json,
            new.created,
        ))
    })
    .context("recording an idempotency key")?;
    staged
        .0
        .push((new.app, new.user, new.key.into(), conn.last_insert_rowid()));
    Ok(())
}

/// Deletes up to `limit` of the oldest records created before `cutoff`, and
/// their index entries. Only the oldest `limit` records are looked at, so a
/// purge never scans the log; a record older than one before it (the clock
/// went back) waits for that one. Run inside a transaction.
pub(crate) fn purge(conn: &Connection, cutoff: i64, limit: i64) -> Result<usize, StoreError> {
    const EXPIRED: &str = "SELECT seq FROM \
         (SELECT seq, created FROM idempotency ORDER BY seq LIMIT ?2) WHERE created < ?1";
    conn.prepare_cached(&format!(
        "DELETE FROM idempotency_keys WHERE (app_id, steam_id, idem_key) IN \
         (SELECT app_id, steam_id, idem_key FROM idempotency WHERE seq IN ({EXPIRED}))"
    ))
    .and_then(|mut s| s.execute((cutoff, limit)))
    .context("purging idempotency keys")?;
    conn.prepare_cached(&format!("DELETE FROM idempotency WHERE seq IN ({EXPIRED})"))
        .and_then(|mut s| s.execute((cutoff, limit)))
        .context("purging idempotency records")
}

fn indexed_seq(conn: &Connection) -> Result<i64, StoreError> {
    let value: Option<i64> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")
        .and_then(|mut s| s.query_row([INDEXED_SEQ], |r| r.get(0)).optional())
        .context("reading the idempotency index position")?;
    Ok(value.unwrap_or(0))
}
