//! Idempotency keys: a replay gets the first answer; a key reused for
//! another request is refused.

use super::*;

/// A replay answers with the first answer's unlocks and the current progress,
/// and writes nothing. Keys belong to one user.
pub async fn replay_returns_first_answer(store: &dyn Store) {
    let app = setup(store).await;
    let (player, other) = (user(1), user(2));
    let first = request(app, player, "k1", vec![unlock("A"), set("Kills", 3.0)], NOW);
    let (_, unlocked) = applied(store, first.clone()).await;
    assert_eq!(unlocked, ["A"]);
    let (after_second, _) = applied(
        store,
        request(app, player, "k2", vec![set("Kills", 4.0)], NOW + 1),
    )
    .await;
    assert_eq!(after_second.version, 2);
    let global_before = store.global_achievements(app).await.expect("global");

    let mut replay = first.clone();
    replay.now = NOW + 100;
    for attempt in 0..2 {
        match store.store(replay.clone()).await.expect("replay") {
            StoreReply::Applied {
                progress,
                newly_unlocked,
                replayed: true,
            } => {
                assert_eq!(names(&newly_unlocked), ["A"], "attempt {attempt}");
                assert_same_progress(&progress, &after_second, "replay answers current progress");
            }
            other => panic!("attempt {attempt}: expected a replay, got {other:?}"),
        }
    }
    let progress = store.progress(app, player).await.expect("progress");
    assert_same_progress(&progress, &after_second, "a replay writes nothing");
    assert_eq!(
        store.global_achievements(app).await.expect("global"),
        global_before
    );

    // Another user's `k1` is another key, even with another fingerprint.
    let mut theirs = request(app, other, "k1", vec![unlock("B")], NOW);
    theirs.fingerprint = Fingerprint::from_stored("something else".into());
    let (progress, unlocked) = applied(store, theirs).await;
    assert_eq!((progress.version, unlocked), (1, vec!["B".to_owned()]));
}

pub async fn reused_key_with_other_fingerprint_conflicts(store: &dyn Store) {
    let app = setup(store).await;
    let player = user(1);
    applied(store, request(app, player, "k1", vec![unlock("A")], NOW)).await;
    let before = store.progress(app, player).await.expect("progress");
    let mut reused = request(app, player, "k1", vec![unlock("B")], NOW + 1);
    reused.fingerprint = Fingerprint::from_stored("a different request".into());
    match store.store(reused).await {
        Err(StoreError::IdempotencyConflict { key }) => assert_eq!(key, "k1"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let after = store.progress(app, player).await.expect("progress");
    assert_same_progress(&after, &before, "a conflict writes nothing");
}
