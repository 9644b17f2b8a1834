//! Leaderboards as every backend stores them (the invariants of
//! [`crate::boards`] and the trait's board methods): boards from schemas
//! and clients, uploads and the change log. Moderation, periods, idempotency, friends lists, imports
//! and durability are in `leaderboard_log.rs`, the ranks a node computes
//! over a store in `leaderboard_ranks.rs`.

use laurel_core::leaderboard::{
    BoardName, BoardPeriod, BoardWrites, DisplayType, Entry, LeaderboardDef, SortMethod,
    UploadMethod,
};
use laurel_core::limits::{MAX_LEADERBOARD_DETAILS, MAX_LEADERBOARDS_PER_APP};
use laurel_core::schema_doc::LeaderboardDoc;

use super::*;
use crate::AuditQuery;
use crate::boards::{Board, BoardChanges, PeriodStart, UploadReply, UploadRequest};

/// The boards of the checks: two of Spacewar's and a daily one.
pub const BOARDS_SCHEMA_JSON: &str = r#"{
  "app": { "name": "Boards", "allow_client_leaderboard_create": true },
  "leaderboards": [
    { "name": "Feet Traveled", "sort": "descending", "display": "numeric" },
    { "name": "Quickest Win", "sort": "ascending", "display": "seconds" },
    { "name": "Daily Dash", "sort": "descending", "period": "daily" }
  ]
}"#;

/// The audit actions the checks record board moderation with (the server
/// names its own; a store records whatever draft it is given, about the
/// board's app, and about the user for a deleted entry). Every backend's
/// record names the board in its detail: `{"board": <id>, "name": <name>, …}`.
pub const BOARD_RESET_ACTION: &str = "leaderboard.reset";
pub const BOARD_DELETE_ACTION: &str = "leaderboard.delete";
pub const ENTRY_DELETE_ACTION: &str = "leaderboard.entry.delete";

pub fn board_audit(action: &'static str) -> AuditDraft {
    AuditDraft::new("test", "local", action)
}

/// Puts [`BOARDS_SCHEMA_JSON`] as app `id`.
pub async fn boards_app(store: &dyn Store, id: u32) -> AppId {
    let app = app(id);
    store
        .put_schema(app, schema_from(BOARDS_SCHEMA_JSON))
        .await
        .expect("put_schema");
    app
}

pub fn board_name(name: &str) -> BoardName {
    BoardName::parse(name).expect("board names in checks are valid")
}

pub fn board_def(name: &str, sort: SortMethod) -> LeaderboardDef {
    LeaderboardDef {
        name: board_name(name),
        sort,
        display: DisplayType::Numeric,
        display_name: None,
        writes: BoardWrites::Client,
        period: BoardPeriod::None,
    }
}

/// The board of this name, which must exist.
pub async fn board(store: &dyn Store, app: AppId, name: &str) -> Board {
    store
        .leaderboard(app, &board_name(name))
        .await
        .expect("leaderboard")
        .unwrap_or_else(|| panic!("app {app} has no board {name:?}"))
}

/// The period an upload at `now` counts in.
pub fn period_at(board: &Board, now: UnixTime) -> PeriodStart {
    board.def.period.start(now).unwrap_or(0)
}

/// An upload without details or idempotency key.
pub fn upload_request(
    board: &Board,
    user: SteamId,
    method: UploadMethod,
    score: i32,
    now: UnixTime,
) -> UploadRequest {
    UploadRequest {
        app: board.app,
        board: board.id,
        period: period_at(board, now),
        user,
        method,
        score,
        details: Vec::new(),
        now,
        idempotency: None,
    }
}

pub async fn upload(
    store: &dyn Store,
    board: &Board,
    user: SteamId,
    method: UploadMethod,
    score: i32,
    now: UnixTime,
) -> UploadReply {
    store
        .upload_score(upload_request(board, user, method, score, now))
        .await
        .unwrap_or_else(|e| panic!("upload of {score} by {user}: {e}"))
}

pub async fn changes(
    store: &dyn Store,
    board: &Board,
    period: PeriodStart,
    cursor: u64,
) -> BoardChanges {
    store
        .board_changes(board.app, board.id, period, cursor)
        .await
        .expect("board_changes")
}

/// The latest audit record of an app.
pub(super) async fn last_audit(store: &dyn Store, app: AppId) -> crate::AuditRecord {
    let query = AuditQuery {
        app: Some(app),
        before: None,
        limit: 1,
    };
    let mut records = store.audit_log(query).await.expect("audit log");
    records.pop().expect("an audit record")
}

#[track_caller]
pub(super) fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    assert!(
        matches!(result, Err(StoreError::NotFound(_))),
        "{what}: want NotFound, got {result:?}"
    );
}

#[track_caller]
pub(super) fn assert_unknown_app<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    assert!(
        matches!(result, Err(StoreError::UnknownApp(_))),
        "{what}: want UnknownApp, got {result:?}"
    );
}

/// The boards a schema defines exist after `put_schema`, with its settings;
/// a changed setting is updated; boards dropped from the schema, and boards
/// clients made, stay. Names compare without case; ids are unique across
/// apps. Every call about an app without a schema is `UnknownApp`.
pub async fn schema_boards_exist_with_their_settings(store: &dyn Store) {
    let app = boards_app(store, 31).await;
    let schema = schema_from(BOARDS_SCHEMA_JSON);
    let listed = store.leaderboards(app, NOW).await.expect("leaderboards");
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(
        listed.windows(2).all(|w| w[0].board.id < w[1].board.id),
        "by id"
    );
    for summary in &listed {
        let want = schema
            .leaderboard(summary.board.def.name.as_str())
            .expect("a schema board");
        assert_eq!(&summary.board.def, want);
        assert_eq!(
            summary.board.def.name.as_str(),
            want.name.as_str(),
            "spelling kept"
        );
        assert_eq!((summary.board.app, summary.entries), (app, 0));
    }
    let feet = board(store, app, "FEET traveled").await;
    assert_eq!(feet.def.name.as_str(), "Feet Traveled");
    let (found, created) = store
        .create_leaderboard(app, &board_def("feet traveled", SortMethod::Ascending))
        .await
        .expect("find or create");
    assert!(!created, "an existing board is found, not created");
    assert_eq!(found, feet, "found with its own settings");
    assert_eq!(
        store
            .leaderboard(app, &board_name("Nope"))
            .await
            .expect("find"),
        None
    );

    let custom_def = LeaderboardDef {
        display: DisplayType::Milliseconds,
        display_name: Some("Custom board".into()),
        writes: BoardWrites::Trusted,
        period: BoardPeriod::Weekly,
        ..board_def("Custom", SortMethod::Ascending)
    };
    let (custom, created) = store
        .create_leaderboard(app, &custom_def)
        .await
        .expect("create");
    assert!(created);
    assert_eq!((custom.app, &custom.def), (app, &custom_def));
    assert_eq!(board(store, app, "custom").await, custom);

    // Schema 2: Feet Traveled turned around and named, Quickest Win dropped.
    let changed = BOARDS_SCHEMA_JSON
        .replace(
            r#""sort": "descending", "display": "numeric" }"#,
            r#""sort": "ascending", "display": "numeric", "display_name": "Feet" }"#,
        )
        .replace(
            r#"{ "name": "Quickest Win", "sort": "ascending", "display": "seconds" },"#,
            "",
        );
    store
        .put_schema(app, schema_from(&changed))
        .await
        .expect("put_schema 2");
    let feet2 = board(store, app, "Feet Traveled").await;
    assert_eq!(feet2.id, feet.id, "the same board");
    assert_eq!(
        (feet2.def.sort, feet2.def.display_name.as_deref()),
        (SortMethod::Ascending, Some("Feet"))
    );
    board(store, app, "Quickest Win").await;
    assert_eq!(board(store, app, "Custom").await, custom);
    assert_eq!(store.leaderboards(app, NOW).await.expect("list").len(), 4);

    let other = boards_app(store, 32).await;
    let other_feet = board(store, other, "Feet Traveled").await;
    assert_ne!(other_feet.id, feet.id, "ids are unique across apps");
    assert_not_found(
        store.board_changes(other, feet.id, 0, 0).await,
        "another app's board",
    );

    let nobody = super::app(39);
    let name = board_name("Feet Traveled");
    assert_unknown_app(store.leaderboards(nobody, NOW).await, "leaderboards");
    assert_unknown_app(store.leaderboard(nobody, &name).await, "leaderboard");
    let def = board_def("X", SortMethod::Descending);
    assert_unknown_app(store.create_leaderboard(nobody, &def).await, "create");
    let mut request = upload_request(&feet, user(1), UploadMethod::KeepBest, 1, NOW);
    request.app = nobody;
    assert_unknown_app(store.upload_score(request).await, "upload");
    assert_unknown_app(store.board_changes(nobody, feet.id, 0, 0).await, "changes");
    assert_unknown_app(store.friends(nobody, user(1)).await, "friends");
    assert_unknown_app(store.set_friends(nobody, user(1), &[]).await, "set_friends");
}

/// An app holds at most `MAX_LEADERBOARDS_PER_APP` boards: a new one
/// beyond is a `Conflict`; finding an existing one still works.
pub async fn board_limit_is_enforced(store: &dyn Store) {
    let app = app(33);
    let doc = SchemaDoc {
        app: laurel_core::schema_doc::AppDoc {
            name: "Many boards".into(),
            ..Default::default()
        },
        stats: Vec::new(),
        achievements: Vec::new(),
        leaderboards: (0..MAX_LEADERBOARDS_PER_APP)
            .map(|i| LeaderboardDoc {
                name: format!("Board {i}"),
                sort: SortMethod::Descending,
                display: DisplayType::Numeric,
                display_name: None,
                writes: BoardWrites::Client,
                period: BoardPeriod::None,
            })
            .collect(),
    };
    let schema = Schema::from_doc(&doc).expect("schema at the limit");
    store.put_schema(app, schema).await.expect("put_schema");
    let listed = store.leaderboards(app, NOW).await.expect("leaderboards");
    assert_eq!(listed.len(), MAX_LEADERBOARDS_PER_APP);
    let one_more = board_def("One more", SortMethod::Ascending);
    let refused = store.create_leaderboard(app, &one_more).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "board {} of an app: {refused:?}",
        MAX_LEADERBOARDS_PER_APP + 1
    );
    let (found, created) = store
        .create_leaderboard(app, &board_def("board 9999", SortMethod::Ascending))
        .await
        .expect("an existing board is found at the limit");
    assert!(!created);
    assert_eq!(found.def.name.as_str(), "Board 9999");
    assert!(
        store
            .delete_leaderboard(app, found.id, board_audit(BOARD_DELETE_ACTION))
            .await
            .expect("delete")
    );
    let (_, created) = store
        .create_leaderboard(app, &one_more)
        .await
        .expect("room for one again");
    assert!(created);
}

/// `KeepBest` replaces only on a strict improvement (an equal or worse score
/// changes nothing, not even the entry's sequence number); `ForceUpdate`
/// always replaces. Every change takes a larger sequence number than the
/// ones before it, and `board_changes(cursor)` returns, in sequence order,
/// every change since the answer that gave the cursor (and perhaps some
/// seen before, never an older version of an entry).
pub async fn uploads_keep_best_or_force_update(store: &dyn Store) {
    let app = boards_app(store, 34).await;
    let feet = board(store, app, "Feet Traveled").await;
    let (u1, u2, u3) = (user(1), user(2), user(3));
    let first = upload(store, &feet, u1, UploadMethod::KeepBest, 100, NOW).await;
    assert!(first.changed && !first.replayed);
    assert_eq!(first.previous, None);
    assert_eq!(
        (
            first.entry.score,
            first.entry.set_at,
            first.entry.details.len()
        ),
        (100, NOW, 0)
    );
    assert!(first.entry.seq > 0);
    assert_eq!(first.epoch, feet.epoch);
    for score in [50, 100] {
        let same = upload(store, &feet, u1, UploadMethod::KeepBest, score, NOW + 5).await;
        assert!(!same.changed, "{score} does not beat 100");
        assert_eq!(same.entry, first.entry, "unchanged, sequence number too");
        assert_eq!(same.previous.as_ref(), Some(&first.entry));
    }
    let better = upload(store, &feet, u1, UploadMethod::KeepBest, 150, NOW + 6).await;
    assert!(better.changed);
    assert_eq!((better.entry.score, better.entry.set_at), (150, NOW + 6));
    assert!(better.entry.seq > first.entry.seq);
    assert_eq!(better.previous.as_ref(), Some(&first.entry));
    let forced = upload(store, &feet, u1, UploadMethod::ForceUpdate, 10, NOW + 7).await;
    assert!(forced.changed);
    assert_eq!(forced.entry.score, 10);
    let again = upload(store, &feet, u1, UploadMethod::ForceUpdate, 10, NOW + 8).await;
    assert!(again.changed, "ForceUpdate always replaces");
    assert_eq!(again.entry.set_at, NOW + 8);

    let quick = board(store, app, "Quickest Win").await;
    let t30 = upload(store, &quick, u1, UploadMethod::KeepBest, 30, NOW).await;
    assert!(
        !upload(store, &quick, u1, UploadMethod::KeepBest, 40, NOW)
            .await
            .changed
    );
    let t20 = upload(store, &quick, u1, UploadMethod::KeepBest, 20, NOW).await;
    assert!(t20.changed && t20.entry.seq > t30.entry.seq);

    let mark = again.entry.seq;
    let before = changes(store, &feet, 0, 0).await;
    let e2 = upload(store, &feet, u2, UploadMethod::KeepBest, 7, NOW)
        .await
        .entry;
    let e3 = upload(store, &feet, u3, UploadMethod::KeepBest, 8, NOW)
        .await
        .entry;
    let e2b = upload(store, &feet, u2, UploadMethod::KeepBest, 9, NOW)
        .await
        .entry;
    assert!(
        mark < e2.seq && e2.seq < e3.seq && e3.seq < e2b.seq,
        "increasing sequence numbers"
    );
    let after = changes(store, &feet, 0, before.cursor).await;
    assert_eq!(after.epoch, feet.epoch);
    let cursor = after.cursor;
    let seqs: Vec<u64> = after.changes.iter().map(|c| c.seq).collect();
    assert!(seqs.is_sorted(), "in sequence order: {seqs:?}");
    let got: Vec<(SteamId, Option<Entry>, u64)> = after
        .changes
        .into_iter()
        .filter(|c| c.seq > mark)
        .map(|c| (c.user, c.entry, c.seq))
        .collect();
    assert_eq!(
        got,
        [
            (u3, Some(e3.clone()), e3.seq),
            (u2, Some(e2b.clone()), e2b.seq)
        ],
        "the latest change of each user after the mark, in order"
    );
    let all = changes(store, &feet, 0, 0).await.changes;
    let users: Vec<SteamId> = all.iter().map(|c| c.user).collect();
    assert_eq!(users, [u1, u3, u2], "every live entry, by sequence");
    assert!(
        all.iter()
            .all(|c| c.entry.as_ref().map(|e| e.seq) == Some(c.seq))
    );
    let again = changes(store, &feet, 0, cursor).await;
    assert!(
        again.changes.iter().all(|c| c.seq <= e2b.seq),
        "nothing new: {again:?}"
    );
    let listed = store.leaderboards(app, NOW).await.expect("list");
    let count = |b: &Board| {
        listed
            .iter()
            .find(|s| s.board.id == b.id)
            .map(|s| s.entries)
    };
    assert_eq!((count(&feet), count(&quick)), (Some(3), Some(1)));

    let mut gone = upload_request(&feet, u1, UploadMethod::KeepBest, 1, NOW);
    gone.board = feet.id + 1_000_000;
    assert_not_found(store.upload_score(gone).await, "upload to no board");
    assert_not_found(
        store.board_changes(app, feet.id + 1_000_000, 0, 0).await,
        "changes of no board",
    );
}

/// Up to 64 details are kept exactly; more are refused and write nothing.
pub async fn upload_details_are_kept_exactly(store: &dyn Store) {
    let app = boards_app(store, 35).await;
    let feet = board(store, app, "Feet Traveled").await;
    let mut details: Vec<i32> = (0..MAX_LEADERBOARD_DETAILS as i32 - 2)
        .map(|i| i * -7)
        .collect();
    details.extend([i32::MIN, i32::MAX]);
    let mut request = upload_request(&feet, user(1), UploadMethod::KeepBest, i32::MIN, NOW);
    request.details = details.clone();
    let reply = store.upload_score(request.clone()).await.expect("upload");
    assert_eq!(reply.entry.details, details);
    let stored = changes(store, &feet, 0, 0).await.changes;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].entry.as_ref().map(|e| &e.details), Some(&details));
    assert_eq!(stored[0].entry.as_ref().map(|e| e.score), Some(i32::MIN));

    request.details.push(1);
    request.score = i32::MAX;
    request.method = UploadMethod::ForceUpdate;
    let refused = store.upload_score(request).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    assert_eq!(
        changes(store, &feet, 0, 0).await.changes,
        stored,
        "nothing written"
    );
}

/// A day, in the type of Unix times.
pub const DAY: UnixTime = crate::SECONDS_PER_DAY;
