//! Ranks a node computes over a store ([`crate::ranks::Leaderboards`]):
//! they depend on the store's change log being complete and in order, so
//! every backend runs them.

use laurel_core::leaderboard::UploadMethod;

use super::leaderboards::*;
use super::*;
use crate::ranks::{Leaderboards, RankedEntry, Scope};

fn ranks(entries: &[RankedEntry]) -> Vec<(u64, u64, i32)> {
    entries
        .iter()
        .map(|e| (e.rank, e.user.get(), e.score))
        .collect()
}

fn global(start: i64, end: i64) -> Scope {
    Scope::Global { start, end }
}

fn around(id: u64, before: i64, after: i64) -> Scope {
    Scope::AroundUser {
        user: user(id),
        before,
        after,
    }
}

/// Ties rank by who achieved the score first; global pages, pages around a
/// user at the board's edges and for-users downloads; an upload's rank and
/// previous rank.
pub async fn ranks_follow_scores_and_ties(store: &dyn Store) {
    let app = boards_app(store, 50).await;
    let feet = board(store, app, "Feet Traveled").await;
    let node = Leaderboards::new();
    // Users 1..=10 score 10 × id; user 11 ties with user 5, later.
    for id in 1..=10u64 {
        let request = upload_request(&feet, user(id), UploadMethod::KeepBest, id as i32 * 10, NOW);
        let ranked = node.upload(store, &feet, request).await.expect("upload");
        assert_eq!(
            (ranked.rank, ranked.previous_rank),
            (1, 0),
            "{id} leads on arrival"
        );
        assert_eq!(ranked.entry_count, id);
    }
    let request = upload_request(&feet, user(11), UploadMethod::KeepBest, 50, NOW);
    let tie = node.upload(store, &feet, request).await.expect("upload");
    assert_eq!(
        (tie.rank, tie.entry_count),
        (7, 11),
        "a tie ranks after who had it first"
    );
    let request = upload_request(&feet, user(12), UploadMethod::KeepBest, 50, NOW - 100);
    let earlier = node.upload(store, &feet, request).await.expect("upload");
    assert_eq!(earlier.rank, 6, "achieved earlier ranks first");

    let page = |scope: Scope| {
        let node = &node;
        let feet = &feet;
        async move {
            let got = node
                .download(store, feet, 0, &scope)
                .await
                .expect("download");
            assert_eq!(got.entry_count, 12);
            ranks(&got.entries)
        }
    };
    assert_eq!(
        page(global(1, 3)).await,
        [(1, 10, 100), (2, 9, 90), (3, 8, 80)]
    );
    assert_eq!(
        page(global(5, 8)).await,
        [(5, 6, 60), (6, 12, 50), (7, 5, 50), (8, 11, 50)]
    );
    assert_eq!(
        page(global(-5, 1)).await,
        [(1, 10, 100)],
        "start below 1 is 1"
    );
    assert_eq!(
        page(global(12, 99)).await,
        [(12, 1, 10)],
        "nothing beyond the end"
    );
    assert_eq!(page(global(13, 20)).await, []);
    assert_eq!(
        page(global(3, 1)).await,
        [(3, 8, 80)],
        "end below start is start"
    );
    let top = page(around(10, -2, 2)).await;
    assert_eq!(
        top.iter().map(|r| r.0).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5],
        "shifted at the top"
    );
    let bottom = page(around(1, -2, 2)).await;
    assert_eq!(
        bottom.iter().map(|r| r.0).collect::<Vec<_>>(),
        [8, 9, 10, 11, 12]
    );
    assert_eq!(
        page(around(5, -1, 1)).await,
        [(6, 12, 50), (7, 5, 50), (8, 11, 50)]
    );
    assert_eq!(page(around(99, -2, 2)).await, [], "no entry, no page");
    let users = Scope::Users(vec![user(1), user(99), user(10), user(5)]);
    assert_eq!(page(users).await, [(1, 10, 100), (7, 5, 50), (12, 1, 10)]);

    // User 1 (last, rank 12) climbs to the top: previous rank 12.
    let request = upload_request(&feet, user(1), UploadMethod::KeepBest, 1000, NOW + 1);
    let climb = node.upload(store, &feet, request).await.expect("upload");
    assert!(climb.reply.changed);
    assert_eq!(
        (climb.rank, climb.previous_rank, climb.entry_count),
        (1, 12, 12)
    );
    let request = upload_request(&feet, user(1), UploadMethod::KeepBest, 5, NOW + 2);
    let same = node.upload(store, &feet, request).await.expect("upload");
    assert!(!same.reply.changed);
    assert_eq!((same.rank, same.previous_rank), (1, 1));
    // User 9 (rank 3) falls to the bottom with ForceUpdate.
    let request = upload_request(&feet, user(9), UploadMethod::ForceUpdate, -1, NOW + 3);
    let fall = node.upload(store, &feet, request).await.expect("upload");
    assert_eq!((fall.rank, fall.previous_rank), (12, 3));
}

/// Two nodes over one store: each sees what the other wrote; an index built
/// before a reset loads again; a deleted entry disappears from both.
pub async fn rank_indexes_of_two_nodes_agree(store: &dyn Store) {
    let app = boards_app(store, 51).await;
    let quick = board(store, app, "Quickest Win").await;
    let (a, b) = (Leaderboards::new(), Leaderboards::new());
    let scope = global(1, 10);
    for id in 1..=3u64 {
        let request = upload_request(&quick, user(id), UploadMethod::KeepBest, id as i32, NOW);
        a.upload(store, &quick, request).await.expect("upload");
    }
    let seen = b
        .download(store, &quick, 0, &scope)
        .await
        .expect("download");
    assert_eq!(ranks(&seen.entries), [(1, 1, 1), (2, 2, 2), (3, 3, 3)]);

    let request = upload_request(&quick, user(4), UploadMethod::KeepBest, 0, NOW);
    let through_b = b.upload(store, &quick, request).await.expect("upload");
    assert_eq!((through_b.rank, through_b.entry_count), (1, 4));
    let seen = a
        .download(store, &quick, 0, &scope)
        .await
        .expect("download");
    assert_eq!(
        ranks(&seen.entries)[0],
        (1, 4, 0),
        "node a sees node b's upload"
    );
    let request = upload_request(&quick, user(3), UploadMethod::KeepBest, -5, NOW);
    a.upload(store, &quick, request).await.expect("upload");
    let seen = b
        .download(store, &quick, 0, &scope)
        .await
        .expect("download");
    assert_eq!(
        ranks(&seen.entries),
        [(1, 3, -5), (2, 4, 0), (3, 1, 1), (4, 2, 2)],
        "a moved entry is moved, not doubled"
    );

    store
        .delete_leaderboard_entry(app, quick.id, 0, user(4), board_audit(ENTRY_DELETE_ACTION))
        .await
        .expect("delete");
    for node in [&a, &b] {
        let seen = node
            .download(store, &quick, 0, &scope)
            .await
            .expect("download");
        assert_eq!(ranks(&seen.entries), [(1, 3, -5), (2, 1, 1), (3, 2, 2)]);
        assert_eq!(seen.entry_count, 3);
    }

    store
        .reset_leaderboard(app, quick.id, board_audit(BOARD_RESET_ACTION))
        .await
        .expect("reset");
    // Both indexes were built before the reset, from the board as it was.
    let seen = b
        .download(store, &quick, 0, &scope)
        .await
        .expect("download");
    assert_eq!((seen.entry_count, seen.entries.len()), (0, 0), "{seen:?}");
    let request = upload_request(&quick, user(2), UploadMethod::KeepBest, 9, NOW);
    let first = b.upload(store, &quick, request).await.expect("upload");
    assert_eq!(
        (first.rank, first.previous_rank, first.entry_count),
        (1, 0, 1)
    );
    let seen = a
        .download(store, &quick, 0, &scope)
        .await
        .expect("download");
    assert_eq!(
        ranks(&seen.entries),
        [(1, 2, 9)],
        "node a loads the board again"
    );
    assert_eq!(a.entry_count(store, &quick, 0).await.expect("count"), 1);
}

/// A node's indexes stay within their entry budget: the least recently
/// used board is dropped when another loads, and answers the same when it
/// is asked for again (it loads again).
pub async fn rank_indexes_stay_within_their_budget(store: &dyn Store) {
    let app = boards_app(store, 52).await;
    let feet = board(store, app, "Feet Traveled").await;
    let quick = board(store, app, "Quickest Win").await;
    let writer = Leaderboards::new();
    for id in 1..=4u64 {
        for b in [&feet, &quick] {
            let request = upload_request(b, user(id), UploadMethod::KeepBest, id as i32, NOW);
            writer.upload(store, b, request).await.expect("upload");
        }
    }
    assert_eq!(writer.boards_held(), 2, "8 entries fit the default budget");
    let node = Leaderboards::with_budget(5);
    let first = node
        .download(store, &feet, 0, &global(1, 10))
        .await
        .expect("download");
    assert_eq!(node.boards_held(), 1);
    node.download(store, &quick, 0, &global(1, 10))
        .await
        .expect("download");
    assert_eq!(
        node.boards_held(),
        1,
        "loading a second board of 4 drops the first (4 + 4 > 5)"
    );
    let again = node
        .download(store, &feet, 0, &global(1, 10))
        .await
        .expect("download");
    assert_eq!(ranks(&again.entries), ranks(&first.entries));
    assert_eq!(again.entry_count, 4);
}

/// Uploads and downloads at once through one node, whose catch-ups are
/// shared: every answer includes every upload acknowledged before its
/// request began (each upload is a new user's, so the entry count is at
/// least those plus the upload itself), and the answer to an upload ranks
/// it.
pub async fn shared_catch_ups_miss_no_acknowledged_upload(store: std::sync::Arc<dyn Store>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    const TASKS: u64 = 8;
    const EACH: u64 = 25;
    let app = boards_app(&*store, 52).await;
    let feet = Arc::new(board(&*store, app, "Feet Traveled").await);
    let node = Arc::new(Leaderboards::new());
    let acknowledged = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (store, feet, node, acknowledged) = (
            Arc::clone(&store),
            Arc::clone(&feet),
            Arc::clone(&node),
            Arc::clone(&acknowledged),
        );
        tasks.push(tokio::spawn(async move {
            for i in 0..EACH {
                let who = user(1_000 + t * 100 + i);
                let before = acknowledged.load(Ordering::SeqCst);
                if i % 5 == 4 {
                    let seen = node
                        .download(&*store, &feet, 0, &global(1, 3))
                        .await
                        .expect("download");
                    assert!(
                        seen.entry_count >= before,
                        "{} < {before}",
                        seen.entry_count
                    );
                    continue;
                }
                let score = ((t * 7 + i * 13) % 50) as i32;
                let request = upload_request(&feet, who, UploadMethod::KeepBest, score, NOW);
                let ranked = node.upload(&*store, &feet, request).await.expect("upload");
                acknowledged.fetch_add(1, Ordering::SeqCst);
                assert!(ranked.rank >= 1, "the upload is ranked: {ranked:?}");
                assert!(
                    ranked.entry_count > before,
                    "{} entries, {before} acknowledged before",
                    ranked.entry_count
                );
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let uploads = acknowledged.load(Ordering::SeqCst);
    assert_eq!(uploads, TASKS * (EACH - EACH / 5));
    let all = node
        .download(&*store, &feet, 0, &global(1, 1_000))
        .await
        .expect("download");
    assert_eq!(all.entry_count, uploads);
    let ranks: Vec<u64> = all.entries.iter().map(|e| e.rank).collect();
    assert_eq!(ranks, (1..=uploads).collect::<Vec<u64>>());
    let fresh = Leaderboards::new()
        .download(&*store, &feet, 0, &global(1, 1_000))
        .await
        .expect("download");
    assert_eq!(fresh, all, "a node loading the board now agrees");
}

/// Uploads sent at once (which a backend may apply in groups): several of
/// one entry each count (KeepBest keeps the best of them), and one key
/// sent many times at once is applied once, the others replaying it.
pub async fn concurrent_uploads_of_one_entry_and_one_key_apply_once(
    store: std::sync::Arc<dyn Store>,
) {
    use std::sync::Arc;

    use laurel_core::{Fingerprint, IdempotencyKey};

    let app = boards_app(&*store, 53).await;
    let feet = Arc::new(board(&*store, app, "Feet Traveled").await);
    let mut tasks = Vec::new();
    for i in 0..48u64 {
        let (store, feet) = (Arc::clone(&store), Arc::clone(&feet));
        tasks.push(tokio::spawn(async move {
            let request = upload_request(
                &feet,
                user(i % 3 + 1),
                UploadMethod::KeepBest,
                i as i32,
                NOW,
            );
            store.upload_score(request).await.expect("upload")
        }));
    }
    for _ in 0..8 {
        let (store, feet) = (Arc::clone(&store), Arc::clone(&feet));
        tasks.push(tokio::spawn(async move {
            let mut request = upload_request(&feet, user(9), UploadMethod::ForceUpdate, 77, NOW);
            request.idempotency = Some((
                IdempotencyKey::from_stored("once".to_owned()),
                Fingerprint::from_stored("same".to_owned()),
            ));
            store.upload_score(request).await.expect("upload")
        }));
    }
    let mut replays = 0;
    for task in tasks {
        let reply = task.await.expect("task");
        if reply.replayed {
            replays += 1;
            assert_eq!(reply.entry.score, 77);
        }
    }
    assert_eq!(replays, 7, "one of the eight applied the key");
    let changes = store
        .board_changes(app, feet.id, 0, 0)
        .await
        .expect("changes");
    let mut best: Vec<(u64, Option<i32>)> = changes
        .changes
        .iter()
        .map(|c| (c.user.get(), c.entry.as_ref().map(|e| e.score)))
        .collect();
    best.sort_unstable();
    assert_eq!(
        best,
        [
            (user(1).get(), Some(45)),
            (user(2).get(), Some(46)),
            (user(3).get(), Some(47)),
            (user(9).get(), Some(77)),
        ]
    );
}
