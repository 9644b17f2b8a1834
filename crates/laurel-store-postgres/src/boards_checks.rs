//! Checks of `crate::boards` that need a store and its pooled connections
//! (a module of its own: `boards` itself does not depend on the crate root).

use laurel_core::leaderboard::{BoardName, Entry};
use laurel_core::limits::MAX_LEADERBOARD_DETAILS;
use laurel_core::{AppId, Schema, SchemaDoc, SteamId, UnixTime};
use laurel_store::boards::{StoredEntry, UploadRequest};
use laurel_store::{Store, StoreError};
use tokio_postgres::{NoTls, SimpleQueryMessage};

use crate::boards::{PREPARED, changes_script, upload_group};
use crate::script::prepare_sql;
use crate::{PostgresOptions, PostgresStore};

/// A catch-up reads the rows from the transaction-id index, never
/// through the primary key (which filters the whole board), even where
/// the planner rates the key cheaper: a board of 20,000 entries written
/// since the table was last analyzed, and the xid index spread out as
/// a hot board's updates leave it. (Without the script's `SET LOCAL`
/// this plan takes the primary key.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_reads_the_xid_index_where_the_key_looks_cheaper() {
    let url = laurel_testkit::postgres::PostgresServer::shared().database();
    let store = PostgresStore::open(PostgresOptions::new(url.clone()))
        .await
        .expect("open");
    let app = AppId::new(480).expect("app");
    let doc = SchemaDoc::from_json(
        r#"{ "app": { "name": "Plan" }, "leaderboards": [ { "name": "Hot", "sort": "descending" } ] }"#,
    )
    .expect("parses");
    store
        .put_schema(app, Schema::from_doc(&doc).expect("valid"))
        .await
        .expect("schema");
    let name = BoardName::parse("Hot").expect("name");
    let board = store
        .leaderboard(app, &name)
        .await
        .expect("lookup")
        .expect("board");
    let entries: Vec<StoredEntry> = (0..20_000u64)
        .map(|i| StoredEntry {
            period: 0,
            user: SteamId::new(76_561_197_960_265_728 + i).expect("user"),
            entry: Entry {
                score: i as i32,
                details: Vec::new(),
                set_at: 1,
                seq: i + 1,
            },
        })
        .collect();
    store
        .import_entries(app, board.id, &entries)
        .await
        .expect("import");

    let (client, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
        .batch_execute(&prepare_sql(&PREPARED))
        .await
        .expect("prepare");
    // The xid index made to look dearer than the primary key, as one
    // bloated by a hot board's updates does.
    client
        .batch_execute(
            "ALTER INDEX board_entries_by_xid SET (fillfactor = 10); \
             REINDEX INDEX board_entries_by_xid",
        )
        .await
        .expect("bloat");
    let xmin = client
        .query_one(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
            &[],
        )
        .await
        .expect("xmin");
    let cursor = u64::try_from(xmin.get::<_, i64>(0)).expect("positive");
    let (script, _) = changes_script(board.id, app, 0, cursor).expect("script");
    let explain = script.sql().replace(
        "EXECUTE laurel_lb_changes",
        "EXPLAIN (FORMAT JSON) EXECUTE laurel_lb_changes",
    );
    assert_ne!(explain, script.sql(), "the script executes the catch-up");
    let plan: String = client
        .simple_query(&explain)
        .await
        .expect("explain")
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
            _ => None,
        })
        .collect();
    assert!(plan.contains("board_entries_by_xid"), "{plan}");
    assert!(!plan.contains("board_entries_pkey"), "{plan}");
}

fn keyed(mut request: UploadRequest, key: &str, fingerprint: &str) -> UploadRequest {
    request.idempotency = Some((
        laurel_core::IdempotencyKey::from_stored(key.to_owned()),
        laurel_core::Fingerprint::from_stored(fingerprint.to_owned()),
    ));
    request
}

/// One group of uploads that each end differently: each is answered as
/// it would be alone, the writes of the others commit, and no
/// placeholder row (a lock on an entry nobody wrote) is committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_answers_each_upload_alone_and_commits_no_placeholder() {
    use laurel_core::leaderboard::UploadMethod::{ForceUpdate, KeepBest};
    use laurel_store::conformance::{
        BOARD_RESET_ACTION, board, board_audit, boards_app, upload_request, user,
    };
    const NOW: UnixTime = 1_760_000_000;

    let url = laurel_testkit::postgres::PostgresServer::shared().database();
    let store = PostgresStore::open(PostgresOptions::new(url.clone()))
        .await
        .expect("open");
    let app = boards_app(&store, 60).await;
    let feet = board(&store, app, "Feet Traveled").await;
    // User 2's keyed upload, then a reset: its entry is gone, its key stays.
    let gone = keyed(upload_request(&feet, user(2), KeepBest, 5, NOW), "k2", "f2");
    store.upload_score(gone.clone()).await.expect("upload");
    store
        .reset_leaderboard(app, feet.id, board_audit(BOARD_RESET_ACTION))
        .await
        .expect("reset");
    let feet = board(&store, app, "Feet Traveled").await;
    let first = keyed(upload_request(&feet, user(5), KeepBest, 7, NOW), "k5", "f5");
    store.upload_score(first).await.expect("upload");

    let mut too_many = upload_request(&feet, user(4), ForceUpdate, 1, NOW);
    too_many.details = vec![0; MAX_LEADERBOARD_DETAILS + 1];
    let mut elsewhere = upload_request(&feet, user(7), ForceUpdate, 1, NOW);
    elsewhere.board = feet.id + 1_000;
    let group = vec![
        upload_request(&feet, user(3), KeepBest, 10, NOW),
        gone,
        too_many,
        keyed(
            upload_request(&feet, user(5), KeepBest, 9, NOW),
            "k5",
            "other",
        ),
        elsewhere,
        keyed(
            upload_request(&feet, user(6), KeepBest, 12, NOW),
            "k6",
            "f6",
        ),
    ];
    let mut lease = store.inner.lease().await.expect("lease");
    let replies = upload_group(lease.client(), &group)
        .await
        .expect("the group");
    drop(lease);

    assert_eq!(replies.len(), group.len());
    let wrote = |i: usize| {
        let reply = replies[i].as_ref().expect("applied");
        (reply.changed, reply.replayed, reply.entry.score)
    };
    assert_eq!(wrote(0), (true, false, 10));
    assert_eq!(
        wrote(1),
        (true, true, 5),
        "a replay answers its first answer"
    );
    assert!(
        matches!(replies[2], Err(StoreError::Conflict(_))),
        "{:?}",
        replies[2]
    );
    assert!(
        matches!(replies[3], Err(StoreError::IdempotencyConflict { .. })),
        "{:?}",
        replies[3]
    );
    assert!(
        matches!(replies[4], Err(StoreError::NotFound(_))),
        "{:?}",
        replies[4]
    );
    assert_eq!(wrote(5), (true, false, 12));

    let changes = store
        .board_changes(app, feet.id, 0, 0)
        .await
        .expect("changes");
    let scores: Vec<(u64, Option<i32>)> = changes
        .changes
        .iter()
        .map(|c| (c.user.get(), c.entry.as_ref().map(|e| e.score)))
        .collect();
    assert_eq!(
        scores,
        [
            (user(5).get(), Some(7)),
            (user(3).get(), Some(10)),
            (user(6).get(), Some(12))
        ]
    );
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    let placeholders: i64 = client
        .query_one("SELECT count(*) FROM board_entries WHERE seq = 0", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(placeholders, 0);
    let listed = store.leaderboards(app, NOW).await.expect("list");
    let count = listed
        .iter()
        .find(|b| b.board.id == feet.id)
        .map(|b| b.entries);
    assert_eq!(count, Some(3));
}
