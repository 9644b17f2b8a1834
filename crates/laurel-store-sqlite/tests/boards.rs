//! The SQLite store's own side of leaderboards (the conformance suite in
//! `sqlite.rs` checks what every backend does): uploads share group
//! commits, upload keys expire with the stores' keys, an older layout gains
//! the board tables.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test, with its place"
)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use laurel_core::leaderboard::UploadMethod;
use laurel_core::{Fingerprint, IdempotencyKey};
use laurel_store::conformance::{self, NOW, user};
use laurel_store::{IDEMPOTENCY_RETENTION_SECONDS, Store};
use laurel_store_sqlite::{LAYOUT_VERSION, SqliteOptions, SqliteStore};
use tempfile::TempDir;

fn db_path(dir: &TempDir) -> PathBuf {
    dir.path().join("laurel.db")
}

fn open(path: &Path, options: SqliteOptions) -> SqliteStore {
    SqliteStore::open(path, options).expect("open")
}

/// Uploads sent at once are committed in groups (one fsync for many), and
/// every one is applied with its own sequence number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_share_group_commits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(open(&db_path(&dir), SqliteOptions::default()));
    let app = conformance::boards_app(&*store, 1).await;
    let feet = conformance::board(&*store, app, "Feet Traveled").await;
    let groups_before = store.writer_stats().groups;
    let mut tasks = tokio::task::JoinSet::new();
    const UPLOADS: u64 = 128;
    for id in 1..=UPLOADS {
        let (store, feet) = (Arc::clone(&store), feet.clone());
        tasks.spawn(async move {
            let request = conformance::upload_request(
                &feet,
                user(id),
                UploadMethod::KeepBest,
                id as i32,
                NOW,
            );
            store.upload_score(request).await
        });
    }
    let mut seqs = HashSet::new();
    while let Some(joined) = tasks.join_next().await {
        let reply = joined.expect("task").expect("upload");
        assert!(reply.changed);
        assert!(seqs.insert(reply.entry.seq), "sequence numbers are unique");
    }
    assert_eq!(seqs.len() as u64, UPLOADS);
    let stats = store.writer_stats();
    assert!(
        stats.largest_group > 1,
        "no two uploads shared a commit: {stats:?}"
    );
    assert!(stats.groups - groups_before < UPLOADS, "{stats:?}");
    let listed = store.leaderboards(app, NOW).await.expect("list");
    let count = listed
        .iter()
        .find(|s| s.board.id == feet.id)
        .map(|s| s.entries);
    assert_eq!(count, Some(UPLOADS));
}

/// An upload's idempotency key is forgotten after the retention, like a
/// store's: the same upload is then applied afresh.
#[tokio::test]
async fn expired_upload_keys_are_forgotten() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = SqliteOptions {
        idempotency_purge_interval: Duration::ZERO,
        ..SqliteOptions::default()
    };
    let store = open(&db_path(&dir), options);
    let app = conformance::boards_app(&store, 1).await;
    let feet = conformance::board(&store, app, "Feet Traveled").await;
    let keyed = |key: &str, now| {
        let mut request =
            conformance::upload_request(&feet, user(1), UploadMethod::ForceUpdate, 5, now);
        request.idempotency = Some((
            IdempotencyKey::from_stored(key.into()),
            Fingerprint::from_stored(format!("fingerprint of {key}")),
        ));
        request
    };
    store.upload_score(keyed("old", NOW)).await.expect("upload");
    let within = NOW + IDEMPOTENCY_RETENTION_SECONDS;
    store
        .upload_score(keyed("tick", within))
        .await
        .expect("upload");
    let replay = store.upload_score(keyed("old", NOW)).await.expect("replay");
    assert!(replay.replayed, "kept for the whole retention");

    let past = within + 10;
    store
        .upload_score(keyed("tick2", past))
        .await
        .expect("upload");
    let again = store.upload_score(keyed("old", NOW)).await.expect("upload");
    assert!(
        !again.replayed && again.changed,
        "forgotten after the retention: {again:?}"
    );
    store.close().await.expect("close");
}

/// A database of layout 7 (before leaderboards) is migrated: the board
/// tables appear, and a schema put afterwards brings its boards.
#[tokio::test]
async fn a_layout_7_database_gains_the_board_tables() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(&dir);
    let store = open(&path, SqliteOptions::default());
    let app = conformance::boards_app(&store, 1).await;
    store.close().await.expect("close");
    drop(store);

    let raw = rusqlite::Connection::open(&path).expect("raw open");
    raw.execute_batch(
        "DROP TABLE boards; DROP TABLE board_entries; DROP TABLE board_counts;
         DROP TABLE upload_idempotency; DROP TABLE friends; PRAGMA user_version = 7;",
    )
    .expect("downgrade");
    drop(raw);

    let store = open(&path, SqliteOptions::default());
    assert!(store.leaderboards(app, NOW).await.expect("list").is_empty());
    let app = conformance::boards_app(&store, 1).await;
    let feet = conformance::board(&store, app, "Feet Traveled").await;
    let reply = conformance::upload(&store, &feet, user(1), UploadMethod::KeepBest, 3, NOW).await;
    assert!(reply.changed);
    store.close().await.expect("close");
    let raw = rusqlite::Connection::open(&path).expect("raw open");
    let version: u32 = raw
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(version, LAYOUT_VERSION);
}
