//! Leaderboards' change log beyond uploads: deletions, resets, periods,
//! idempotent uploads, friends lists, imports and durability.

use laurel_core::leaderboard::{SortMethod, UploadMethod};

use super::leaderboards::*;
use super::*;
use crate::boards::{BoardChanges, StoredEntry, UploadRequest};

/// A deleted entry leaves a tombstone with the next sequence number; the
/// deletion is audited; a user without an entry answers `false`.
pub async fn deleted_entries_leave_tombstones(store: &dyn Store) {
    let app = boards_app(store, 36).await;
    let feet = board(store, app, "Feet Traveled").await;
    let (u1, u2) = (user(1), user(2));
    upload(store, &feet, u1, UploadMethod::KeepBest, 5, NOW).await;
    let last = upload(store, &feet, u2, UploadMethod::KeepBest, 6, NOW)
        .await
        .entry
        .seq;
    let cursor = changes(store, &feet, 0, 0).await.cursor;
    let audit = || board_audit(ENTRY_DELETE_ACTION);
    let deleted = store
        .delete_leaderboard_entry(app, feet.id, 0, u1, audit())
        .await
        .expect("delete");
    assert!(deleted);
    let record = last_audit(store, app).await;
    assert_eq!(record.action, ENTRY_DELETE_ACTION);
    assert_eq!((record.app, record.user), (Some(app), Some(u1)));
    assert_eq!(
        record.detail["board"],
        serde_json::json!(feet.id),
        "{record:?}"
    );

    let after: Vec<_> = changes(store, &feet, 0, cursor)
        .await
        .changes
        .into_iter()
        .filter(|c| c.seq > last)
        .collect();
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!((after[0].user, &after[0].entry), (u1, &None));
    assert!(after[0].seq > last);
    let all = changes(store, &feet, 0, 0).await.changes;
    assert_eq!(all.len(), 2, "the live entry and the tombstone: {all:?}");
    let listed = store.leaderboards(app, NOW).await.expect("list");
    let entries = listed
        .iter()
        .find(|s| s.board.id == feet.id)
        .map(|s| s.entries);
    assert_eq!(entries, Some(1), "a tombstone is no entry");

    for nobody in [u1, user(9)] {
        let again = store
            .delete_leaderboard_entry(app, feet.id, 0, nobody, audit())
            .await
            .expect("delete");
        assert!(!again, "{nobody} has no entry");
    }
    assert_not_found(
        store
            .delete_leaderboard_entry(app, feet.id + 1_000_000, 0, u1, audit())
            .await,
        "delete on no board",
    );
    let back = upload(store, &feet, u1, UploadMethod::KeepBest, 1, NOW).await;
    assert_eq!(
        back.previous, None,
        "after a deletion the user starts again"
    );
    assert!(back.changed && back.entry.seq > after[0].seq);
}

/// A reset removes every entry (all periods, tombstones too), moves the
/// epoch and is audited; a deleted board is gone with its entries.
pub async fn board_reset_and_delete(store: &dyn Store) {
    let app = boards_app(store, 37).await;
    let dash = board(store, app, "Daily Dash").await;
    let tomorrow = NOW + DAY;
    for (u, now) in [(1, NOW), (2, NOW), (3, NOW), (1, tomorrow)] {
        upload(store, &dash, user(u), UploadMethod::KeepBest, 10, now).await;
    }
    store
        .delete_leaderboard_entry(
            app,
            dash.id,
            period_at(&dash, NOW),
            user(3),
            board_audit(ENTRY_DELETE_ACTION),
        )
        .await
        .expect("delete");
    let removed = store
        .reset_leaderboard(app, dash.id, board_audit(BOARD_RESET_ACTION))
        .await
        .expect("reset");
    assert_eq!(removed, 3, "live entries of both periods");
    let record = last_audit(store, app).await;
    assert_eq!(
        (record.action.as_str(), record.app),
        (BOARD_RESET_ACTION, Some(app))
    );
    assert_eq!(
        record.detail["board"],
        serde_json::json!(dash.id),
        "{record:?}"
    );
    let after = board(store, app, "Daily Dash").await;
    assert_ne!(after.epoch, dash.epoch, "a reset moves the epoch");
    for now in [NOW, tomorrow] {
        let left = changes(store, &dash, period_at(&dash, now), 0).await;
        assert_eq!(left.epoch, after.epoch);
        assert!(left.changes.is_empty(), "{left:?}");
    }
    let fresh = upload(store, &dash, user(1), UploadMethod::KeepBest, 3, NOW).await;
    assert_eq!((fresh.previous, fresh.epoch), (None, after.epoch));
    let nothing = store
        .reset_leaderboard(app, dash.id, board_audit(BOARD_RESET_ACTION))
        .await
        .expect("reset");
    assert_eq!(nothing, 1);

    let feet = board(store, app, "Feet Traveled").await;
    upload(store, &feet, user(1), UploadMethod::KeepBest, 10, NOW).await;
    let deleted = store
        .delete_leaderboard(app, feet.id, board_audit(BOARD_DELETE_ACTION))
        .await
        .expect("delete board");
    assert!(deleted);
    let record = last_audit(store, app).await;
    assert_eq!(
        (record.action.as_str(), record.app),
        (BOARD_DELETE_ACTION, Some(app))
    );
    assert_eq!(
        record.detail["board"],
        serde_json::json!(feet.id),
        "{record:?}"
    );
    assert_eq!(
        store.leaderboard(app, &feet.def.name).await.expect("find"),
        None
    );
    assert_not_found(store.board_changes(app, feet.id, 0, 0).await, "changes");
    assert_not_found(
        store
            .upload_score(upload_request(
                &feet,
                user(1),
                UploadMethod::KeepBest,
                1,
                NOW,
            ))
            .await,
        "upload",
    );
    assert_not_found(
        store
            .reset_leaderboard(app, feet.id, board_audit(BOARD_RESET_ACTION))
            .await,
        "reset",
    );
    assert_not_found(store.stored_entries(app, feet.id).await, "stored entries");
    let again = store
        .delete_leaderboard(app, feet.id, board_audit(BOARD_DELETE_ACTION))
        .await
        .expect("delete again");
    assert!(!again);
    assert_eq!(store.leaderboards(app, NOW).await.expect("list").len(), 2);
    let (made, created) = store
        .create_leaderboard(app, &feet.def)
        .await
        .expect("made again");
    assert!(created && made.id != feet.id, "ids are never reused");
    assert!(changes(store, &made, 0, 0).await.changes.is_empty());
}

/// Each period of a periodic board has its own entries; the listing counts
/// the period at `now`.
pub async fn periods_keep_their_own_entries(store: &dyn Store) {
    let app = boards_app(store, 38).await;
    let dash = board(store, app, "Daily Dash").await;
    let tomorrow = NOW + DAY;
    let (today, next) = (period_at(&dash, NOW), period_at(&dash, tomorrow));
    assert_ne!(today, next);
    upload(store, &dash, user(1), UploadMethod::KeepBest, 50, NOW).await;
    upload(store, &dash, user(2), UploadMethod::KeepBest, 60, NOW).await;
    let new_day = upload(store, &dash, user(1), UploadMethod::KeepBest, 5, tomorrow).await;
    assert!(new_day.changed, "a new period starts empty");
    assert_eq!(new_day.previous, None);
    let users = |c: BoardChanges| c.changes.into_iter().map(|c| c.user).collect::<Vec<_>>();
    assert_eq!(
        users(changes(store, &dash, today, 0).await),
        [user(1), user(2)]
    );
    assert_eq!(users(changes(store, &dash, next, 0).await), [user(1)]);
    let old = changes(store, &dash, today, 0).await.changes;
    assert_eq!(
        old[0].entry.as_ref().map(|e| e.score),
        Some(50),
        "the old period's standings stay"
    );
    let count_at = |now| async move {
        let listed = store.leaderboards(app, now).await.expect("list");
        listed
            .iter()
            .find(|s| s.board.id == dash.id)
            .map(|s| s.entries)
    };
    assert_eq!(count_at(NOW).await, Some(2));
    assert_eq!(count_at(tomorrow).await, Some(1));
    assert_eq!(count_at(tomorrow + DAY).await, Some(0));
}

fn keyed(mut request: UploadRequest, key: &str, fingerprint: &str) -> UploadRequest {
    request.idempotency = Some((
        IdempotencyKey::from_stored(key.to_owned()),
        Fingerprint::from_stored(fingerprint.to_owned()),
    ));
    request
}

/// A key seen before with the same fingerprint answers the first answer's
/// `changed` with the entry as it is now and writes nothing; another
/// fingerprint is refused. Keys belong to one user of one app.
pub async fn upload_replays_answer_the_first_answer(store: &dyn Store) {
    let app = boards_app(store, 40).await;
    let feet = board(store, app, "Feet Traveled").await;
    let (u1, u2) = (user(1), user(2));
    let first = keyed(
        upload_request(&feet, u1, UploadMethod::KeepBest, 100, NOW),
        "k",
        "f1",
    );
    let answer = store.upload_score(first.clone()).await.expect("upload");
    assert!(answer.changed && !answer.replayed);
    let cursor = changes(store, &feet, 0, 0).await.cursor;
    let replay = store.upload_score(first.clone()).await.expect("replay");
    assert!(replay.replayed && replay.changed, "{replay:?}");
    assert_eq!((replay.previous, &replay.entry), (None, &answer.entry));
    assert!(
        changes(store, &feet, 0, cursor)
            .await
            .changes
            .iter()
            .all(|c| c.seq <= answer.entry.seq),
        "nothing written"
    );

    let later = upload(store, &feet, u1, UploadMethod::ForceUpdate, 7, NOW + 1).await;
    let replay = store.upload_score(first.clone()).await.expect("replay");
    assert!(replay.replayed && replay.changed);
    assert_eq!(replay.entry, later.entry, "the entry as it is now");

    let mut other = first.clone();
    other.idempotency = Some((
        IdempotencyKey::from_stored("k".into()),
        Fingerprint::from_stored("f2".into()),
    ));
    let refused = store.upload_score(other).await;
    assert!(
        matches!(refused, Err(StoreError::IdempotencyConflict { .. })),
        "{refused:?}"
    );

    let unchanged = keyed(
        upload_request(&feet, u1, UploadMethod::KeepBest, 1, NOW),
        "k2",
        "f3",
    );
    assert!(
        !store
            .upload_score(unchanged.clone())
            .await
            .expect("upload")
            .changed
    );
    let replay = store.upload_score(unchanged).await.expect("replay");
    assert!(
        replay.replayed && !replay.changed,
        "the first answer's changed: {replay:?}"
    );

    let theirs = keyed(
        upload_request(&feet, u2, UploadMethod::KeepBest, 100, NOW),
        "k",
        "f1",
    );
    let fresh = store
        .upload_score(theirs)
        .await
        .expect("another user's key");
    assert!(fresh.changed && !fresh.replayed);
    let elsewhere = boards_app(store, 41).await;
    let their_feet = board(store, elsewhere, "Feet Traveled").await;
    let request = keyed(
        upload_request(&their_feet, u1, UploadMethod::KeepBest, 100, NOW),
        "k",
        "f1",
    );
    let fresh = store
        .upload_score(request)
        .await
        .expect("another app's key");
    assert!(fresh.changed && !fresh.replayed);
}

/// Friends lists: empty until set, replaced as a whole, ascending by id
/// (as u64), one per user per app.
pub async fn friends_lists_are_replaced_and_sorted(store: &dyn Store) {
    let app = boards_app(store, 42).await;
    let other = boards_app(store, 43).await;
    let me = user(1);
    assert_eq!(store.friends(app, me).await.expect("friends"), []);
    let list = [user(5), user(u64::MAX), user(3), user(1 << 63)];
    store.set_friends(app, me, &list).await.expect("set");
    assert_eq!(
        store.friends(app, me).await.expect("friends"),
        [user(3), user(5), user(1 << 63), user(u64::MAX)]
    );
    assert_eq!(
        store.friends(other, me).await.expect("friends"),
        [],
        "per app"
    );
    assert_eq!(
        store.friends(app, user(2)).await.expect("friends"),
        [],
        "per user"
    );
    store
        .set_friends(app, me, &[user(7)])
        .await
        .expect("replace");
    assert_eq!(store.friends(app, me).await.expect("friends"), [user(7)]);
    // Every list of an app at once (for `laurel migrate`), by user as u64.
    store
        .set_friends(app, user(u64::MAX), &[user(2), me])
        .await
        .expect("set");
    store.set_friends(app, user(9), &[]).await.expect("empty");
    assert_eq!(
        store.friend_lists(app).await.expect("lists"),
        [(me, vec![user(7)]), (user(u64::MAX), vec![me, user(2)])]
    );
    assert_eq!(store.friend_lists(other).await.expect("lists"), []);
    store.set_friends(app, me, &[]).await.expect("clear");
    assert_eq!(store.friends(app, me).await.expect("friends"), []);
    assert_eq!(
        store.friend_lists(app).await.expect("lists"),
        [(user(u64::MAX), vec![me, user(2)])]
    );
}

/// `stored_entries` and `import_entries` copy a board's entries exactly;
/// an import never writes over entries, and the board's sequence moves past
/// the imported numbers.
pub async fn board_entries_round_trip_through_import(store: &dyn Store) {
    let from = boards_app(store, 44).await;
    let dash = board(store, from, "Daily Dash").await;
    let tomorrow = NOW + DAY;
    for (u, score, now) in [
        (1, 10, NOW),
        (2, -4, NOW + 1),
        (1, 3, tomorrow),
        (9, 3, tomorrow),
    ] {
        let mut request = upload_request(&dash, user(u), UploadMethod::KeepBest, score, now);
        request.details = vec![score, i32::MAX];
        store.upload_score(request).await.expect("upload");
    }
    store
        .delete_leaderboard_entry(
            from,
            dash.id,
            period_at(&dash, tomorrow),
            user(9),
            board_audit(ENTRY_DELETE_ACTION),
        )
        .await
        .expect("delete");
    let sorted = |mut v: Vec<StoredEntry>| {
        v.sort_by_key(|e| (e.period, e.user.get()));
        v
    };
    let stored = sorted(store.stored_entries(from, dash.id).await.expect("stored"));
    assert_eq!(stored.len(), 3, "live entries only: {stored:?}");

    let to = boards_app(store, 45).await;
    let target = board(store, to, "Daily Dash").await;
    let mut shifted = stored.clone();
    for e in &mut shifted {
        e.entry.seq += 1000;
    }
    store
        .import_entries(to, target.id, &shifted)
        .await
        .expect("import");
    assert_eq!(
        sorted(store.stored_entries(to, target.id).await.expect("stored")),
        shifted
    );
    let today = changes(store, &target, period_at(&target, NOW), 0)
        .await
        .changes;
    assert_eq!(today.len(), 2);
    assert!(
        today
            .iter()
            .all(|c| c.entry.as_ref().map(|e| e.seq) == Some(c.seq))
    );
    for (now, want) in [(NOW, 2), (tomorrow, 1)] {
        let listed = store.leaderboards(to, now).await.expect("list");
        let count = listed
            .iter()
            .find(|s| s.board.id == target.id)
            .map(|s| s.entries);
        assert_eq!(count, Some(want), "imported entries are counted");
    }
    let again = store.import_entries(to, target.id, &shifted[..1]).await;
    assert!(
        matches!(again, Err(StoreError::AlreadyExists(_))),
        "{again:?}"
    );
    let max = shifted.iter().map(|e| e.entry.seq).max().unwrap_or(0);
    let next = upload(store, &target, user(77), UploadMethod::KeepBest, 1, NOW).await;
    assert!(
        next.entry.seq > max,
        "{} after imported {max}",
        next.entry.seq
    );
    assert_not_found(
        store
            .import_entries(to, target.id + 1_000_000, &shifted)
            .await,
        "import into no board",
    );
}

/// Acknowledged uploads, deletions and friends lists survive a reopen.
pub async fn leaderboard_entries_survive_reopen<F, Fut>(store: Box<dyn Store>, reopen: F)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Box<dyn Store>>,
{
    let app = boards_app(&*store, 46).await;
    let feet = board(&*store, app, "Feet Traveled").await;
    let custom = store
        .create_leaderboard(app, &board_def("Made by a client", SortMethod::Ascending))
        .await
        .expect("create")
        .0;
    for u in 1..=5 {
        let mut request = upload_request(&feet, user(u), UploadMethod::KeepBest, u as i32, NOW);
        request.details = vec![u as i32; u as usize];
        store.upload_score(request).await.expect("upload");
    }
    upload(&*store, &custom, user(1), UploadMethod::KeepBest, 9, NOW).await;
    store
        .delete_leaderboard_entry(app, feet.id, 0, user(2), board_audit(ENTRY_DELETE_ACTION))
        .await
        .expect("delete");
    store
        .set_friends(app, user(1), &[user(3)])
        .await
        .expect("friends");
    let before = changes(&*store, &feet, 0, 0).await;
    let listed = store.leaderboards(app, NOW).await.expect("list");
    drop(store);

    let store = reopen().await;
    assert_eq!(changes(&*store, &feet, 0, 0).await, before);
    assert_eq!(store.leaderboards(app, NOW).await.expect("list"), listed);
    assert_eq!(board(&*store, app, "made BY a client").await, custom);
    assert_eq!(
        store.friends(app, user(1)).await.expect("friends"),
        [user(3)]
    );
    let next = upload(&*store, &feet, user(6), UploadMethod::KeepBest, 6, NOW).await;
    let last = before.changes.iter().map(|c| c.seq).max().unwrap_or(0);
    assert!(
        next.entry.seq > last,
        "the sequence continues after a reopen"
    );
}
