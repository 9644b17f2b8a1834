//! The SQLite store: the shared conformance suite, then what is SQLite's own
//! (files, migrations, shutdown, checkpoints, key expiry).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test, with its place"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use laurel_store::MAX_GROUP_COMMIT;
use laurel_store::conformance::{self, NOW, app, request, set, unlock, user};
use laurel_store::{IDEMPOTENCY_RETENTION_SECONDS, Store, StoreError, StoreReply};
use laurel_store_sqlite::{LAYOUT_VERSION, MAX_READ_CONNECTIONS, SqliteOptions, SqliteStore};
use proptest::prelude::*;
use tempfile::TempDir;

fn db_path(dir: &TempDir) -> PathBuf {
    dir.path().join("laurel.db")
}

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path, SqliteOptions::default()).expect("open")
}

async fn fresh() -> (TempDir, Box<dyn Store>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&db_path(&dir));
    (dir, Box::new(store))
}

async fn reopen(dir: &TempDir) -> Box<dyn Store> {
    Box::new(open(&db_path(dir)))
}

laurel_store::conformance_suite!(fresh: fresh, reopen: reopen);

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_in_memory_fold(batches in conformance::arb_batches()) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let (_dir, store) = fresh().await;
            conformance::batches_match_in_memory_fold(&*store, &batches).await;
        });
    }
}

async fn put_test_schema(store: &SqliteStore) -> laurel_core::AppId {
    let app = app(7);
    store
        .put_schema(app, conformance::test_schema())
        .await
        .expect("put");
    app
}

#[tokio::test]
async fn creates_parent_directories_and_uses_wal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("a").join("b").join("laurel.db");
    let store = open(&path);
    store.health().await.expect("health");
    store.close().await.expect("close");

    let raw = rusqlite::Connection::open(&path).expect("raw open");
    let mode: String = raw
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("journal mode");
    let version: u32 = raw
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("user version");
    assert_eq!((mode.as_str(), version), ("wal", LAYOUT_VERSION));
}

#[tokio::test]
async fn reopening_an_existing_database_keeps_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(&dir);
    let store = open(&path);
    let app = put_test_schema(&store).await;
    store.close().await.expect("close");
    for _ in 0..2 {
        let store = open(&path);
        let stored = store.schema(app).await.expect("schema").expect("kept");
        assert_eq!(stored.version, 1);
    }
}

#[tokio::test]
async fn a_database_from_a_newer_build_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(&dir);
    open(&path).close().await.expect("close");
    let raw = rusqlite::Connection::open(&path).expect("raw open");
    raw.pragma_update(None, "user_version", LAYOUT_VERSION + 1)
        .expect("bump");
    drop(raw);
    match SqliteStore::open(&path, SqliteOptions::default()) {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("newer than this build"), "{message}");
        }
        Err(other) => panic!("wrong error: {other:?}"),
        Ok(_) => panic!("a newer database was opened"),
    }
}

#[tokio::test]
async fn out_of_range_options_are_clamped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = SqliteOptions {
        read_connections: 0,
        max_group_commit: 0,
        write_queue: 0,
        checkpoint_idle_commits: 0,
        checkpoint_max_commits: 0,
        idempotency_index_batch: 0,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open(&db_path(&dir), options).expect("open");
    let app = put_test_schema(&store).await;
    let reply = store
        .store(request(app, user(1), "k", vec![unlock("A")], NOW))
        .await
        .expect("store");
    assert!(matches!(reply, StoreReply::Applied { .. }));
    store.progress(app, user(1)).await.expect("progress");
    store.close().await.expect("close");

    let huge = SqliteOptions {
        read_connections: usize::MAX,
        max_group_commit: usize::MAX,
        write_queue: usize::MAX,
        idempotency_index_batch: usize::MAX,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open(&db_path(&dir), huge).expect("open");
    let reads: Vec<_> = (0..MAX_READ_CONNECTIONS + 4)
        .map(|_| store.progress(app, user(1)))
        .collect();
    for read in reads {
        assert_eq!(read.await.expect("progress").version, 1);
    }
}

/// Concurrent stores share commits, and no commit holds more than the
/// configured group size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_stores_share_commits_up_to_the_limit() {
    for (max_group, limit) in [(4, 4), (usize::MAX, MAX_GROUP_COMMIT as u64)] {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = SqliteOptions {
            max_group_commit: max_group,
            ..SqliteOptions::default()
        };
        let store = Arc::new(SqliteStore::open(&db_path(&dir), options).expect("open"));
        store
            .put_schema(app(2), conformance::many_achievements_schema(200))
            .await
            .expect("put");
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..200 {
            let store = Arc::clone(&store);
            tasks.spawn(async move {
                let name = format!("ACH_{i}");
                let r = request(app(2), user(1), &name, vec![unlock(&name)], NOW);
                store.store(r).await
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.expect("task").expect("store");
        }
        let stats = store.writer_stats();
        assert_eq!(stats.grouped_requests, 200, "{stats:?}");
        assert!(stats.largest_group <= limit, "{stats:?}");
        assert!(
            stats.largest_group > 1,
            "requests queued behind a commit share the next: {stats:?}"
        );
        assert!(stats.groups >= 200 / limit, "{stats:?}");
    }
}

#[tokio::test]
async fn requests_after_close_are_unavailable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&db_path(&dir));
    let app = put_test_schema(&store).await;
    store.close().await.expect("close");
    store.close().await.expect("closing twice is fine");
    let unavailable = |what: &str, e: StoreError| {
        assert!(matches!(e, StoreError::Unavailable(_)), "{what}: {e:?}");
    };
    unavailable(
        "store",
        store
            .store(request(app, user(1), "k", vec![unlock("A")], NOW))
            .await
            .unwrap_err(),
    );
    unavailable("progress", store.progress(app, user(1)).await.unwrap_err());
    unavailable("schema", store.schema(app).await.unwrap_err());
    unavailable("health", store.health().await.unwrap_err());
    unavailable("secret", store.signing_secret().await.unwrap_err());
}

/// Closing while stores are in flight: each is either acknowledged (and then
/// on disk) or refused as unavailable, never lost after an acknowledgement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_finishes_queued_writes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(&dir);
    let store = Arc::new(open(&path));
    store
        .put_schema(app(2), conformance::many_achievements_schema(100))
        .await
        .expect("put");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..100 {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let name = format!("ACH_{i}");
            let r = request(app(2), user(1), &name, vec![unlock(&name)], NOW);
            store.store(r).await
        });
    }
    tokio::task::yield_now().await;
    store.close().await.expect("close");
    let mut acknowledged = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("task") {
            Ok(StoreReply::Applied { .. }) => acknowledged += 1,
            Err(StoreError::Unavailable(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    drop(store);
    let store = open(&path);
    let progress = store.progress(app(2), user(1)).await.expect("progress");
    assert_eq!(progress.version, acknowledged);
    assert_eq!(progress.achievements.len() as u64, acknowledged);
}

/// Dropping the store without `close` also lets queued writes finish, and
/// acknowledged writes are visible to another connection at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_are_visible_to_another_store_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(&dir);
    let writer = open(&path);
    let app = put_test_schema(&writer).await;
    writer
        .store(request(app, user(1), "k", vec![set("Kills", 9.0)], NOW))
        .await
        .expect("store");
    let reader = open(&path);
    let progress = reader.progress(app, user(1)).await.expect("progress");
    assert_eq!(progress.version, 1);
    drop(writer);
    drop(reader);
}

/// The writer keeps each recent user's progress in memory; a write by
/// another process (here: a second store on the same file) must still be
/// the base of the next store, or an increment-only stat could go down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_by_another_process_is_the_base_of_the_next_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(&dir);
    let ours = open(&path);
    let app = put_test_schema(&ours).await;
    let store = |key: &str, kills: f64| request(app, user(1), key, vec![set("Kills", kills)], NOW);
    ours.store(store("a", 5.0)).await.expect("first store");
    let theirs = open(&path);
    theirs.store(store("b", 50.0)).await.expect("their store");
    drop(theirs);
    match ours.store(store("c", 10.0)).await.expect("store") {
        StoreReply::Refused(_) => {}
        other => panic!("50 → 10 of an increment-only stat must be refused, got {other:?}"),
    }
    match ours.store(store("d", 60.0)).await.expect("store") {
        StoreReply::Applied { progress, .. } => assert_eq!(progress.version, 3),
        other => panic!("50 → 60 must apply on top of their write, got {other:?}"),
    }
}

fn replayed(reply: &StoreReply) -> bool {
    matches!(reply, StoreReply::Applied { replayed: true, .. })
}

/// Rows of the idempotency index, read straight from the file.
fn indexed_keys(path: &Path) -> i64 {
    rusqlite::Connection::open(path)
        .expect("raw open")
        .query_row("SELECT count(*) FROM idempotency_keys", [], |r| r.get(0))
        .expect("count")
}

/// A key is found wherever it is: recorded earlier in the same group, in the
/// writer's pending tail, moved into the index, and, after a restart, in the
/// tail read back from the file. Each replay answers the first answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_are_found_in_every_tier() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(&dir);
    let options = SqliteOptions {
        idempotency_index_batch: 4,
        ..SqliteOptions::default()
    };
    let store = Arc::new(SqliteStore::open(&path, options).expect("open"));
    let app = put_test_schema(&store).await;

    // The same key 32 times at once: most share a group with the first.
    let mut same = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let store = Arc::clone(&store);
        same.spawn(async move {
            let r = request(app, user(1), "dup", vec![unlock("A")], NOW);
            store.store(r).await
        });
    }
    let mut applied = 0;
    while let Some(joined) = same.join_next().await {
        match joined.expect("task").expect("store") {
            StoreReply::Applied {
                replayed,
                newly_unlocked,
                ..
            } => {
                applied += u32::from(!replayed);
                assert_eq!(
                    newly_unlocked.len(),
                    1,
                    "every replay answers the first answer"
                );
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(applied, 1);
    assert!(
        store.writer_stats().largest_group > 1,
        "no two stores shared a group"
    );

    // 10 more keys: with a batch of 4, at least 8 of the 11 are indexed and
    // the rest are pending in memory.
    for i in 0..10 {
        let reply = store
            .store(request(
                app,
                user(1),
                &format!("k{i}"),
                vec![set("Kills", f64::from(i))],
                NOW,
            ))
            .await
            .expect("store");
        assert!(!replayed(&reply), "k{i} is new");
    }
    let indexed = indexed_keys(&path);
    assert!((8..=11).contains(&indexed), "{indexed} keys indexed");
    for key in ["dup", "k0", "k5", "k9"] {
        let reply = store
            .store(request(app, user(1), key, vec![set("Kills", 99.0)], NOW))
            .await
            .expect("replay");
        assert!(replayed(&reply), "{key} must be a replay: {reply:?}");
    }
    let version = store
        .progress(app, user(1))
        .await
        .expect("progress")
        .version;
    assert_eq!(version, 11);
    drop(store);

    // A new writer reads the pending tail back from the file.
    let store = SqliteStore::open(&path, SqliteOptions::default()).expect("reopen");
    for i in 0..10 {
        let reply = store
            .store(request(
                app,
                user(1),
                &format!("k{i}"),
                vec![set("Kills", 99.0)],
                NOW,
            ))
            .await
            .expect("replay");
        assert!(replayed(&reply), "k{i} after a restart: {reply:?}");
    }
    assert_eq!(
        store
            .progress(app, user(1))
            .await
            .expect("progress")
            .version,
        11
    );
}

/// Two writers on one file (a second process): a key the first recorded, and
/// holds in its memory only, is still a replay for the second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_recorded_by_another_process_is_a_replay() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(&dir);
    let ours = open(&path);
    let app = put_test_schema(&ours).await;
    let theirs = open(&path);
    // Both writers have read the (empty) pending tail.
    for (store, key) in [(&ours, "a"), (&theirs, "b")] {
        store
            .store(request(app, user(1), key, vec![set("Kills", 1.0)], NOW))
            .await
            .expect("store");
    }
    theirs
        .store(request(app, user(2), "x", vec![set("Kills", 5.0)], NOW))
        .await
        .expect("their store");
    assert_eq!(indexed_keys(&path), 0, "their key is pending, not indexed");
    let reply = ours
        .store(request(app, user(2), "x", vec![set("Kills", 7.0)], NOW))
        .await
        .expect("our replay");
    assert!(replayed(&reply), "{reply:?}");
    let progress = ours.progress(app, user(2)).await.expect("progress");
    assert_eq!(progress.version, 1);
}

#[tokio::test]
async fn expired_idempotency_keys_are_forgotten() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = SqliteOptions {
        idempotency_purge_interval: Duration::ZERO,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open(&db_path(&dir), options).expect("open");
    let app = put_test_schema(&store).await;
    let old = request(app, user(1), "old", vec![set("Kills", 1.0)], NOW);
    store.store(old.clone()).await.expect("store");

    let within = NOW + IDEMPOTENCY_RETENTION_SECONDS;
    store
        .store(request(app, user(2), "tick", vec![], within))
        .await
        .expect("store");
    let reply = store.store(old.clone()).await.expect("replay");
    assert!(
        matches!(reply, StoreReply::Applied { replayed: true, .. }),
        "kept for the whole retention: {reply:?}"
    );

    let past = NOW + IDEMPOTENCY_RETENTION_SECONDS + 10;
    store
        .store(request(app, user(2), "tick2", vec![], past))
        .await
        .expect("store");
    let reply = store.store(old).await.expect("store");
    assert!(
        matches!(
            reply,
            StoreReply::Applied {
                replayed: false,
                ..
            }
        ),
        "forgotten after the retention: {reply:?}"
    );
}

/// An expired key leaves the index as well as the log: the index never
/// points at a record that is gone, and it does not grow without bound.
#[tokio::test]
async fn expired_keys_leave_the_index() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(&dir);
    let options = SqliteOptions {
        idempotency_purge_interval: Duration::ZERO,
        idempotency_index_batch: 1,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open(&path, options).expect("open");
    let app = put_test_schema(&store).await;
    for key in ["old1", "old2"] {
        store
            .store(request(app, user(1), key, vec![set("Kills", 1.0)], NOW))
            .await
            .expect("store");
    }
    // The move into the index runs after the answer: wait for it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while indexed_keys(&path) < 2 {
        assert!(Instant::now() < deadline, "keys never indexed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let past = NOW + IDEMPOTENCY_RETENTION_SECONDS + 10;
    for key in ["new1", "new2"] {
        store
            .store(request(app, user(1), key, vec![set("Kills", 2.0)], past))
            .await
            .expect("store");
    }
    store.close().await.expect("close");
    let raw = rusqlite::Connection::open(&path).expect("raw open");
    let keys: Vec<String> = raw
        .prepare("SELECT idem_key FROM idempotency_keys ORDER BY idem_key")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("keys");
    let records: i64 = raw
        .query_row("SELECT count(*) FROM idempotency", [], |r| r.get(0))
        .expect("records");
    assert_eq!(
        (keys, records),
        (vec!["new1".to_owned(), "new2".to_owned()], 2)
    );
}

/// With automatic checkpoints off, the writer's own idle checkpoint empties
/// the WAL (TRUNCATE once it is above the threshold).
#[tokio::test]
async fn idle_checkpoint_truncates_a_large_wal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(&dir);
    let options = SqliteOptions {
        checkpoint_idle_commits: 1,
        wal_truncate_bytes: 0,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open(&path, options).expect("open");
    let app = put_test_schema(&store).await;
    store
        .store(request(app, user(1), "k", vec![unlock("A")], NOW))
        .await
        .expect("store");
    let wal = dir.path().join("laurel.db-wal");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let size = std::fs::metadata(&wal).map_or(0, |m| m.len());
        if size == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "WAL still {size} bytes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let progress = store.progress(app, user(1)).await.expect("progress");
    assert_eq!(progress.version, 1);
    assert!(store.writer_stats().truncations >= 1);
}

/// Regression: `CHECK (kind IN (0, 1, 2))` made SQLite build an ephemeral
/// table on every row written (a third of the writer's instructions per
/// store). No write in the layout may compile to `OpenEphemeral`.
#[tokio::test]
async fn writes_compile_without_ephemeral_tables() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = db_path(&dir);
    let store = open(&path);
    store.close().await.expect("close");
    let raw = rusqlite::Connection::open(&path).expect("raw open");
    let writes = [
        "INSERT INTO stats (app_id, steam_id, name, kind, int_value, float_value, avg_count, avg_seconds) \
         VALUES (1, 2, 'a', 0, 1, NULL, NULL, NULL) ON CONFLICT (app_id, steam_id, name) DO UPDATE SET \
         kind = excluded.kind, int_value = excluded.int_value, float_value = excluded.float_value, \
         avg_count = excluded.avg_count, avg_seconds = excluded.avg_seconds",
        "INSERT INTO stat_totals (app_id, name, kind, value_rows, int_sum, float_sum) VALUES (1, 'a', 0, 1, 1, 0.0) \
         ON CONFLICT (app_id, name, kind) DO UPDATE SET value_rows = value_rows + excluded.value_rows",
        "INSERT INTO stat_history (app_id, name, kind, day, int_change, float_change) VALUES (1, 'a', 0, 1, 1, 0.0)",
    ];
    for sql in writes {
        let mut explain = raw.prepare(&format!("EXPLAIN {sql}")).expect("explain");
        let opcodes: Vec<String> = explain
            .query_map([], |row| row.get::<_, String>(1))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("opcodes");
        assert!(
            !opcodes.iter().any(|op| op == "OpenEphemeral"),
            "{sql}\ncompiles to an ephemeral table: {opcodes:?}"
        );
    }
}

/// A database of layout 3 kept its idempotency records in a table keyed by
/// (app, user, key); after the migration to layout 4 each key is still a
/// replay, answered as the first time.
#[tokio::test]
async fn idempotency_records_survive_the_layout_4_migration() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(&dir);
    let store = open(&path);
    let app = put_test_schema(&store).await;
    for (key, name) in [("k1", "A"), ("k2", "B"), ("k3", "C")] {
        store
            .store(request(app, user(1), key, vec![unlock(name)], NOW))
            .await
            .expect("store");
    }
    store.close().await.expect("close");

    // Back to layout 3's shape, rows and all.
    let raw = rusqlite::Connection::open(&path).expect("raw open");
    raw.execute_batch(
        "CREATE TABLE idempotency_v3 (
             app_id INTEGER NOT NULL, steam_id INTEGER NOT NULL, idem_key TEXT NOT NULL,
             fingerprint TEXT NOT NULL, version INTEGER NOT NULL,
             newly_unlocked TEXT NOT NULL, created INTEGER NOT NULL,
             PRIMARY KEY (app_id, steam_id, idem_key)) WITHOUT ROWID;
         INSERT INTO idempotency_v3 SELECT app_id, steam_id, idem_key, fingerprint, version,
             newly_unlocked, created FROM idempotency;
         DROP TABLE idempotency;
         DROP TABLE idempotency_keys;
         DELETE FROM meta WHERE key = 'idempotency_indexed_seq';
         ALTER TABLE idempotency_v3 RENAME TO idempotency;
         CREATE INDEX idempotency_by_created ON idempotency (created);
         PRAGMA user_version = 3;",
    )
    .expect("downgrade");
    drop(raw);

    let store = open(&path);
    for (key, name) in [("k1", "A"), ("k2", "B"), ("k3", "C")] {
        match store
            .store(request(app, user(1), key, vec![unlock(name)], NOW))
            .await
            .expect("replay")
        {
            StoreReply::Applied {
                replayed: true,
                newly_unlocked,
                ..
            } => assert_eq!(newly_unlocked.len(), 1, "{key}"),
            other => panic!("{key} must be a replay: {other:?}"),
        }
    }
    store.close().await.expect("close");
    assert_eq!(indexed_keys(&path), 3);
}

/// Issue 12: a database written by a build that let an average rate of 1e40
/// through (read back as `inf`, its aggregated total infinite) is repaired
/// when the layout 5 migration runs: the value goes back to its default, the
/// total is counted again from the users, and stores counting it work again.
#[tokio::test]
async fn the_layout_5_migration_repairs_non_finite_values() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(&dir);
    let store = open(&path);
    let app = app(9);
    conformance::non_finite_repair_setup(&store, app).await;
    store.close().await.expect("close");

    // What the old build wrote for the attack, by hand: the user's sums, the
    // total and the day's history, all beyond f32 or infinite.
    let raw = rusqlite::Connection::open(&path).expect("raw open");
    raw.execute_batch(&format!(
        "INSERT INTO users (app_id, steam_id, version) VALUES (9, 2, 1);
         INSERT INTO stats (app_id, steam_id, name, kind, avg_count, avg_seconds)
             VALUES (9, 2, 'Speed', 2, 1e30, 1e-10);
         UPDATE apps SET users = users + 1 WHERE app_id = 9;
         UPDATE stat_totals SET float_sum = 9e999, value_rows = value_rows + 1
             WHERE app_id = 9 AND name = 'Speed';
         UPDATE stat_history SET float_change = 9e999 WHERE app_id = 9 AND name = 'Speed';
         PRAGMA user_version = {};",
        4
    ))
    .expect("corrupt");
    drop(raw);

    let store = open(&path);
    conformance::non_finite_repair_check(&store, app).await;
    store.close().await.expect("close");
}

/// Issue 12, finding 8: the database holds the token-signing secret, so a
/// new data directory is 0700 and the database and its WAL files are 0600.
#[cfg(unix)]
#[tokio::test]
async fn a_new_database_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let path = data.join("laurel.db");
    let store = open(&path);
    let app = put_test_schema(&store).await;
    store
        .store(request(app, user(1), "k", vec![unlock("A")], NOW))
        .await
        .expect("store");
    let mode = |p: &Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&data), 0o700);
    for file in ["laurel.db", "laurel.db-wal", "laurel.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    store.close().await.expect("close");
}
