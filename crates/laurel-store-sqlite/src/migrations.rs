//! The database layout, versioned by `PRAGMA user_version`.

use rusqlite::{Connection, TransactionBehavior};

use crate::rows::Context;
use laurel_store::StoreError;

/// Applied in order: entry `i` takes a database from version `i` to `i + 1`.
/// An entry that has shipped is never edited; a change is a new entry.
pub(crate) const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7, V8];

// Float columns are declared without a type on purpose: a REAL column stores
// integral values as integers and turns -0.0 into 0.0, and f32 stat values
// must come back bit-exact. Values are bound as REAL and the CHECKs keep them so.
const V1: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE apps (
    app_id         INTEGER PRIMARY KEY,
    name           TEXT NOT NULL,
    schema_json    TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    users          INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE users (
    app_id   INTEGER NOT NULL,
    steam_id INTEGER NOT NULL,
    version  INTEGER NOT NULL,
    PRIMARY KEY (app_id, steam_id)
) WITHOUT ROWID;

CREATE TABLE stats (
    app_id      INTEGER NOT NULL,
    steam_id    INTEGER NOT NULL,
    name        TEXT NOT NULL,
    kind        INTEGER NOT NULL CHECK (kind IN (0, 1, 2)),
    int_value   INTEGER,
    float_value CHECK (typeof(float_value) IN ('real', 'null')),
    avg_count   CHECK (typeof(avg_count) IN ('real', 'null')),
    avg_seconds CHECK (typeof(avg_seconds) IN ('real', 'null')),
    PRIMARY KEY (app_id, steam_id, name)
) WITHOUT ROWID;

CREATE TABLE achievements (
    app_id           INTEGER NOT NULL,
    steam_id         INTEGER NOT NULL,
    name             TEXT NOT NULL,
    unlocked         INTEGER NOT NULL,
    unlock_time      INTEGER,
    progress_current INTEGER,
    progress_max     INTEGER,
    PRIMARY KEY (app_id, steam_id, name)
) WITHOUT ROWID;

CREATE TABLE achievement_unlocks (
    app_id INTEGER NOT NULL,
    name   TEXT NOT NULL,
    users  INTEGER NOT NULL,
    PRIMARY KEY (app_id, name)
) WITHOUT ROWID;

CREATE TABLE idempotency (
    app_id         INTEGER NOT NULL,
    steam_id       INTEGER NOT NULL,
    idem_key       TEXT NOT NULL,
    fingerprint    TEXT NOT NULL,
    version        INTEGER NOT NULL,
    newly_unlocked TEXT NOT NULL,
    created        INTEGER NOT NULL,
    PRIMARY KEY (app_id, steam_id, idem_key)
) WITHOUT ROWID;
CREATE INDEX idempotency_by_created ON idempotency (created);

CREATE TABLE keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id      INTEGER NOT NULL,
    label       TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created     INTEGER NOT NULL,
    revoked     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX keys_by_app ON keys (app_id);
"#;

// Totals and daily history of aggregated stats (issue 5). Keyed by the stat's
// kind as well as its name, so that rows of a kind the schema no longer has
// never mix with the current ones. `value_rows` counts the users with a stored
// row of the stat: the total is `int_sum`/`float_sum` plus the default for the
// app's other users. `day` is the UTC day number (Unix seconds / 86400).
const V2: &str = r#"
CREATE TABLE stat_totals (
    app_id     INTEGER NOT NULL,
    name       TEXT NOT NULL,
    kind       INTEGER NOT NULL CHECK (kind IN (0, 1, 2)),
    value_rows INTEGER NOT NULL,
    int_sum    INTEGER NOT NULL,
    float_sum  REAL NOT NULL,
    PRIMARY KEY (app_id, name, kind)
) WITHOUT ROWID;

CREATE TABLE stat_history (
    app_id       INTEGER NOT NULL,
    name         TEXT NOT NULL,
    kind         INTEGER NOT NULL CHECK (kind IN (0, 1, 2)),
    day          INTEGER NOT NULL,
    int_change   INTEGER NOT NULL,
    float_change REAL NOT NULL,
    PRIMARY KEY (app_id, name, kind, day)
) WITHOUT ROWID;
"#;

// SQLite compiles a CHECK of the form `x IN (a, b, c)` (three or more
// constants) into an ephemeral table built on every row written: a temp
// B-tree opened, filled and torn down per upsert, which was a third of the
// writer thread's instructions per store. `BETWEEN` means the same here and
// compiles to two comparisons. SQLite cannot alter a CHECK, so each table is
// rebuilt (same columns, same rows).
const V3: &str = r#"
CREATE TABLE stats_v3 (
    app_id      INTEGER NOT NULL,
    steam_id    INTEGER NOT NULL,
    name        TEXT NOT NULL,
    kind        INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 2),
    int_value   INTEGER,
    float_value CHECK (typeof(float_value) IN ('real', 'null')),
    avg_count   CHECK (typeof(avg_count) IN ('real', 'null')),
    avg_seconds CHECK (typeof(avg_seconds) IN ('real', 'null')),
    PRIMARY KEY (app_id, steam_id, name)
) WITHOUT ROWID;
INSERT INTO stats_v3 SELECT * FROM stats;
DROP TABLE stats;
ALTER TABLE stats_v3 RENAME TO stats;

CREATE TABLE stat_totals_v3 (
    app_id     INTEGER NOT NULL,
    name       TEXT NOT NULL,
    kind       INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 2),
    value_rows INTEGER NOT NULL,
    int_sum    INTEGER NOT NULL,
    float_sum  REAL NOT NULL,
    PRIMARY KEY (app_id, name, kind)
) WITHOUT ROWID;
INSERT INTO stat_totals_v3 SELECT * FROM stat_totals;
DROP TABLE stat_totals;
ALTER TABLE stat_totals_v3 RENAME TO stat_totals;

CREATE TABLE stat_history_v3 (
    app_id       INTEGER NOT NULL,
    name         TEXT NOT NULL,
    kind         INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 2),
    day          INTEGER NOT NULL,
    int_change   INTEGER NOT NULL,
    float_change REAL NOT NULL,
    PRIMARY KEY (app_id, name, kind, day)
) WITHOUT ROWID;
INSERT INTO stat_history_v3 SELECT * FROM stat_history;
DROP TABLE stat_history;
ALTER TABLE stat_history_v3 RENAME TO stat_history;

"#;

// Idempotency records were a WITHOUT ROWID table keyed by (app, user, key)
// plus an index on `created`: two B-trees taking an insert at a random place
// per store, so each store of a group dirtied pages of its own: ~80 of the
// ~90 pages a group of 32 stores wrote. The records become a log in arrival
// order, indexed in batches (see `idempotency.rs`).
const V4: &str = r#"
CREATE TABLE idempotency_v4 (
    seq            INTEGER PRIMARY KEY,
    app_id         INTEGER NOT NULL,
    steam_id       INTEGER NOT NULL,
    idem_key       TEXT NOT NULL,
    fingerprint    TEXT NOT NULL,
    version        INTEGER NOT NULL,
    newly_unlocked TEXT NOT NULL,
    created        INTEGER NOT NULL
);
INSERT INTO idempotency_v4 (app_id, steam_id, idem_key, fingerprint, version, newly_unlocked, created)
    SELECT app_id, steam_id, idem_key, fingerprint, version, newly_unlocked, created
    FROM idempotency ORDER BY created;
DROP TABLE idempotency;
ALTER TABLE idempotency_v4 RENAME TO idempotency;

CREATE TABLE idempotency_keys (
    app_id   INTEGER NOT NULL,
    steam_id INTEGER NOT NULL,
    idem_key TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    PRIMARY KEY (app_id, steam_id, idem_key)
) WITHOUT ROWID;
INSERT INTO idempotency_keys (app_id, steam_id, idem_key, seq)
    SELECT app_id, steam_id, idem_key, seq FROM idempotency ORDER BY app_id, steam_id, idem_key;
INSERT OR REPLACE INTO meta (key, value)
    VALUES ('idempotency_indexed_seq', (SELECT coalesce(max(seq), 0) FROM idempotency));
"#;

// Issue 12: older builds accepted an average rate whose quotient is beyond
// f32 (a count of 1e30 over 1e-10 s reads back as `inf`), and added it to the
// aggregated totals, which then stayed infinite (SQLite cannot store the NaN
// a later change made, so every group counting that stat failed). The
// repair: such values go back to the stat's default (their rows are
// deleted), the totals that are not finite are counted again from the users'
// rows (an average rate without play time counts as 0 there; the core never
// writes one), and a day of history that is not finite is set to no change,
// since history cannot be recounted. The bound is the smallest f64 that
// rounds to an infinite f32. SQLite reads 1.7976931348623157e308 as the
// largest finite f64, so `BETWEEN` it and its negation means "finite".
const V5: &str = r#"
DELETE FROM stats WHERE
    (kind = 2 AND (
        NOT (avg_count BETWEEN -1.7976931348623157e308 AND 1.7976931348623157e308)
        OR NOT (avg_seconds BETWEEN 0.0 AND 1.7976931348623157e308)
        OR (avg_seconds > 0 AND abs(avg_count / avg_seconds) >= 3.4028235677973366e38)))
    OR (kind = 1 AND NOT (float_value BETWEEN -3.4028234663852886e38 AND 3.4028234663852886e38));

UPDATE stat_totals SET
    value_rows = (SELECT count(*) FROM stats s
        WHERE s.app_id = stat_totals.app_id AND s.name = stat_totals.name AND s.kind = stat_totals.kind),
    float_sum = (SELECT coalesce(sum(CASE
            WHEN s.kind = 1 THEN s.float_value
            WHEN s.avg_seconds > 0 THEN s.avg_count / s.avg_seconds
            ELSE 0.0 END), 0.0) FROM stats s
        WHERE s.app_id = stat_totals.app_id AND s.name = stat_totals.name AND s.kind = stat_totals.kind)
WHERE NOT (float_sum BETWEEN -1.7976931348623157e308 AND 1.7976931348623157e308);

UPDATE stat_history SET float_change = 0.0
WHERE NOT (float_change BETWEEN -1.7976931348623157e308 AND 1.7976931348623157e308);
"#;

// Token revocations (steam_id 0: every user of the app) and the audit log
// (`IF NOT EXISTS`: tests replay migrations on a database rolled back by hand).
// The previous signing secret of a rotation lives in `meta` beside the
// current one (`previous_signing_secret`, `previous_signing_secret_until`).
const V6: &str = r#"
CREATE TABLE IF NOT EXISTS token_revocations (
    app_id        INTEGER NOT NULL,
    steam_id      INTEGER NOT NULL,
    not_before_ms INTEGER NOT NULL,
    PRIMARY KEY (app_id, steam_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms     INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    address   TEXT NOT NULL,
    action    TEXT NOT NULL,
    app_id    INTEGER,
    steam_id  INTEGER,
    detail    TEXT NOT NULL,
    undone_by INTEGER
);
CREATE INDEX IF NOT EXISTS audit_log_by_app ON audit_log (app_id, id);
"#;

// User profiles: a display name per app and user (issue 13).
const V7: &str = r#"
CREATE TABLE IF NOT EXISTS user_profiles (
    app_id       INTEGER NOT NULL,
    steam_id     INTEGER NOT NULL,
    display_name TEXT NOT NULL,
    updated_ms   INTEGER NOT NULL,
    PRIMARY KEY (app_id, steam_id)
) WITHOUT ROWID;
"#;

// Leaderboards (issue 15). A board's `id` is never reused (AUTOINCREMENT);
// `name_key` is its name in lower case, unique in its app. `last_seq` is the
// board's own sequence: every change to an entry takes the next value.
// An entry with a NULL `score` is a tombstone (a deleted entry, kept so that
// a rank index catching up sees the deletion); `details` are little-endian
// i32s. `board_counts` keeps the live entries of each board and period, in
// the transaction that changes them, so a listing counts no rows. Upload idempotency records are kept as long as the stores' ones.
const V8: &str = r#"
CREATE TABLE IF NOT EXISTS boards (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id       INTEGER NOT NULL,
    name         TEXT NOT NULL,
    name_key     TEXT NOT NULL,
    sort         TEXT NOT NULL,
    display      TEXT NOT NULL,
    display_name TEXT,
    writes       TEXT NOT NULL,
    period       TEXT NOT NULL,
    epoch        INTEGER NOT NULL DEFAULT 0,
    last_seq     INTEGER NOT NULL DEFAULT 0,
    created_ms   INTEGER NOT NULL,
    UNIQUE (app_id, name_key)
);

CREATE TABLE IF NOT EXISTS board_entries (
    board_id     INTEGER NOT NULL,
    period_start INTEGER NOT NULL,
    steam_id     INTEGER NOT NULL,
    score        INTEGER,
    details      BLOB NOT NULL,
    set_at       INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    PRIMARY KEY (board_id, period_start, steam_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS board_entries_by_seq ON board_entries (board_id, period_start, seq);

CREATE TABLE IF NOT EXISTS board_counts (
    board_id     INTEGER NOT NULL,
    period_start INTEGER NOT NULL,
    entries      INTEGER NOT NULL,
    PRIMARY KEY (board_id, period_start)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS upload_idempotency (
    app_id      INTEGER NOT NULL,
    steam_id    INTEGER NOT NULL,
    idem_key    TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    changed     INTEGER NOT NULL,
    created     INTEGER NOT NULL,
    PRIMARY KEY (app_id, steam_id, idem_key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS upload_idempotency_by_created ON upload_idempotency (created);

CREATE TABLE IF NOT EXISTS friends (
    app_id    INTEGER NOT NULL,
    steam_id  INTEGER NOT NULL,
    friend_id INTEGER NOT NULL,
    PRIMARY KEY (app_id, steam_id, friend_id)
) WITHOUT ROWID;
"#;

/// Brings the database to the newest layout in one transaction, so a failed
/// migration leaves the previous layout intact. Refuses a database written by
/// a newer build rather than guess at a layout it does not know.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .context("starting the migration")?;
    let found: i64 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .context("reading the database version")?;
    let known = MIGRATIONS.len();
    let found = laurel_store::applied_migrations(found, known)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found) {
        tx.execute_batch(sql)
            .context(&format!("applying migration {}", i + 1))?;
    }
    if found < known {
        tx.pragma_update(None, "user_version", known as i64)
            .context("writing the database version")?;
    }
    tx.commit().context("committing the migration")
}
