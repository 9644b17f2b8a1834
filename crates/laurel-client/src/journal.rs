//! The offline journal: every store, reset and leaderboard upload is written here, durably,
//! before it is sent, and removed only after the server has answered it
//! (accepted, replayed or refused). A crash of the game loses nothing that
//! [`crate::Client::store_stats`] acknowledged with `true`.
//!
//! The same file keeps the last answers the SDK needs to start offline
//! ([`Cached`]): the app's schema and the user's last progress as the server
//! sent them. They are a cache: losing them costs a slower start, never a
//! write.
//!
//! The file is SQLite in WAL mode with `synchronous=FULL`: an append returns
//! after the WAL is fsynced. One file may hold entries of several apps and
//! users; a client sees only its own (app, user).

use std::path::Path;
use std::time::Duration;

use laurel_core::{AppId, SteamId};
use rusqlite::{Connection, OptionalExtension, params};

/// Most entries one journal file holds. Beyond it, writes are refused (the
/// game is told `false`) until the server has taken some.
pub const MAX_JOURNAL_ENTRIES: usize = 10_000;

/// How long a journal operation waits for another process holding the file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// What an entry asks the server for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// `POST …/progress` with a `StoreRequestBody`.
    Store,
    /// `POST …/reset` with a `ResetRequest`.
    Reset,
    /// A leaderboard upload: `POST …/leaderboards/{board}/users/{id}/score`
    /// (the body names the board and holds the `ScoreUploadRequest`).
    Score,
}

impl EntryKind {
    fn as_str(self) -> &'static str {
        match self {
            EntryKind::Store => "store",
            EntryKind::Reset => "reset",
            EntryKind::Score => "score",
        }
    }
    fn parse(s: &str) -> Option<EntryKind> {
        match s {
            "store" => Some(EntryKind::Store),
            "reset" => Some(EntryKind::Reset),
            "score" => Some(EntryKind::Score),
            _ => None,
        }
    }
}

/// A server answer kept in the journal's file for an offline start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cached {
    /// The app's schema (`SchemaResponse`).
    Schema,
    /// The user's progress as the server last sent it (`ProgressBody`).
    Progress,
    /// The user's profile as the server last sent it (`ProfileBody`).
    Profile,
}

impl Cached {
    fn as_str(self) -> &'static str {
        match self {
            Cached::Schema => "schema",
            Cached::Progress => "progress",
            Cached::Profile => "profile",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// Increases with every append: the order in which entries are sent.
    pub seq: i64,
    pub kind: EntryKind,
    /// Sent as `Idempotency-Key` on every attempt, so a retry is never applied twice.
    pub idempotency_key: String,
    /// The request body, sent byte for byte as stored.
    pub body: String,
    /// UTC Unix seconds of the append.
    pub created: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("the journal holds {MAX_JOURNAL_ENTRIES} entries, its limit")]
    Full,
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// The journal of one (app, user) in one file.
pub struct Journal {
    conn: Connection,
    app: AppId,
    user: SteamId,
}

impl Journal {
    pub fn open(path: &Path, app: AppId, user: SteamId) -> Result<Journal, rusqlite::Error> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS journal (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                app_id INTEGER NOT NULL,
                steam_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                idempotency_key TEXT NOT NULL,
                body TEXT NOT NULL,
                created INTEGER NOT NULL
            );
            CREATE INDEX IF NOT EXISTS journal_by_user ON journal (app_id, steam_id, seq);
            CREATE TABLE IF NOT EXISTS cache (
                app_id INTEGER NOT NULL,
                steam_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                body TEXT NOT NULL,
                PRIMARY KEY (app_id, steam_id, kind)
            );",
        )?;
        Ok(Journal { conn, app, user })
    }

    /// Appends an entry durably (the WAL is fsynced before this returns).
    pub fn append(
        &mut self,
        kind: EntryKind,
        idempotency_key: &str,
        body: &str,
        created: i64,
    ) -> Result<i64, JournalError> {
        let tx = self.conn.transaction()?;
        let count: i64 = tx.query_row("SELECT COUNT(*) FROM journal", [], |r| r.get(0))?;
        if count >= MAX_JOURNAL_ENTRIES as i64 {
            return Err(JournalError::Full);
        }
        tx.execute(
            "INSERT INTO journal (app_id, steam_id, kind, idempotency_key, body, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                self.app.get(),
                self.user.to_string(),
                kind.as_str(),
                idempotency_key,
                body,
                created
            ],
        )?;
        let seq = tx.last_insert_rowid();
        tx.commit()?;
        Ok(seq)
    }

    /// This (app, user)'s entries, oldest first. Rows of an unknown kind
    /// (written by a newer version) are skipped.
    pub fn entries(&self) -> Result<Vec<JournalEntry>, rusqlite::Error> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, kind, idempotency_key, body, created FROM journal
             WHERE app_id = ?1 AND steam_id = ?2 ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![self.app.get(), self.user.to_string()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, kind, idempotency_key, body, created) = row?;
            match EntryKind::parse(&kind) {
                Some(kind) => out.push(JournalEntry {
                    seq,
                    kind,
                    idempotency_key,
                    body,
                    created,
                }),
                None => tracing::warn!(seq, kind, "journal entry of unknown kind skipped"),
            }
        }
        Ok(out)
    }

    /// Removes an entry the server has answered.
    pub fn remove(&mut self, seq: i64) -> Result<(), rusqlite::Error> {
        self.conn
            .execute("DELETE FROM journal WHERE seq = ?1", params![seq])?;
        Ok(())
    }

    /// Entries in the whole file (every app and user): what the bound counts.
    pub fn len(&self) -> Result<usize, rusqlite::Error> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM journal", [], |r| r.get(0))?;
        Ok(n.max(0) as usize)
    }

    pub fn is_empty(&self) -> Result<bool, rusqlite::Error> {
        Ok(self.len()? == 0)
    }

    /// The entry with this idempotency key, if still journaled.
    pub fn find(&self, idempotency_key: &str) -> Result<Option<i64>, rusqlite::Error> {
        self.conn
            .query_row(
                "SELECT seq FROM journal WHERE idempotency_key = ?1",
                params![idempotency_key],
                |r| r.get(0),
            )
            .optional()
    }

    /// The last answer of `kind` kept for this (app, user), if any.
    pub fn cached(&self, kind: Cached) -> Result<Option<String>, rusqlite::Error> {
        self.conn
            .query_row(
                "SELECT body FROM cache WHERE app_id = ?1 AND steam_id = ?2 AND kind = ?3",
                params![self.app.get(), self.user.to_string(), kind.as_str()],
                |r| r.get(0),
            )
            .optional()
    }

    /// Keeps `body` as the last answer of `kind`, in place of the one before.
    pub fn keep(&mut self, kind: Cached, body: &str) -> Result<(), rusqlite::Error> {
        self.conn.execute(
            "INSERT INTO cache (app_id, steam_id, kind, body) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (app_id, steam_id, kind) DO UPDATE SET body = excluded.body",
            params![self.app.get(), self.user.to_string(), kind.as_str(), body],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (AppId, SteamId) {
        (AppId::new(480).unwrap(), SteamId::new(7).unwrap())
    }

    #[test]
    fn entries_survive_reopen_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite3");
        let (app, user) = ids();
        {
            let mut j = Journal::open(&path, app, user).unwrap();
            j.append(EntryKind::Store, "k1", r#"{"unlock":["A"]}"#, 10)
                .unwrap();
            j.append(EntryKind::Reset, "k2", r#"{"achievements":false}"#, 11)
                .unwrap();
            j.append(EntryKind::Store, "k3", "{}", 12).unwrap();
            // Dropped without any shutdown step, as in a crash.
        }
        let mut j = Journal::open(&path, app, user).unwrap();
        let e = j.entries().unwrap();
        let keys: Vec<_> = e.iter().map(|e| e.idempotency_key.as_str()).collect();
        assert_eq!(keys, ["k1", "k2", "k3"]);
        assert_eq!(e[1].kind, EntryKind::Reset);
        assert_eq!(e[0].body, r#"{"unlock":["A"]}"#);
        assert_eq!(e[2].created, 12);

        j.remove(e[0].seq).unwrap();
        drop(j);
        let j = Journal::open(&path, app, user).unwrap();
        assert_eq!(j.len().unwrap(), 2);
        assert_eq!(j.find("k1").unwrap(), None);
        assert_eq!(j.find("k2").unwrap(), Some(e[1].seq));
    }

    #[test]
    fn other_users_entries_are_not_seen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite3");
        let (app, user) = ids();
        let mut a = Journal::open(&path, app, user).unwrap();
        a.append(EntryKind::Store, "a", "{}", 1).unwrap();
        let b = Journal::open(&path, app, SteamId::new(8).unwrap()).unwrap();
        assert!(b.entries().unwrap().is_empty());
        assert_eq!(b.len().unwrap(), 1);
    }

    #[test]
    fn bound_is_enforced_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite3");
        let (app, user) = ids();
        let mut j = Journal::open(&path, app, user).unwrap();
        // Fill to one below the limit in one transaction (fsync per row would be slow).
        {
            let tx = j.conn.transaction().unwrap();
            for i in 0..MAX_JOURNAL_ENTRIES - 1 {
                tx.execute(
                    "INSERT INTO journal (app_id, steam_id, kind, idempotency_key, body, created)
                     VALUES (480, '7', 'store', ?1, '{}', 0)",
                    params![format!("fill{i}")],
                )
                .unwrap();
            }
            tx.commit().unwrap();
        }
        j.append(EntryKind::Store, "last", "{}", 0).unwrap();
        assert_eq!(j.len().unwrap(), MAX_JOURNAL_ENTRIES);
        assert!(matches!(
            j.append(EntryKind::Store, "over", "{}", 0),
            Err(JournalError::Full)
        ));
        let first = j.entries().unwrap()[0].seq;
        j.remove(first).unwrap();
        j.append(EntryKind::Store, "again", "{}", 0).unwrap();
    }
}
