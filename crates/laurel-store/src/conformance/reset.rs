//! Resets of a user's progress.

use super::*;

pub async fn reset_clears_stats_and_keeps_counters(store: &dyn Store) {
    let app = setup(store).await;
    let (player, bystander) = (user(1), user(2));
    let entries = vec![
        set("Kills", 5.0),
        unlock("A"),
        unlock("B"),
        indicate("C", 1, 4),
    ];
    applied(store, request(app, player, "p1", entries, NOW)).await;
    applied(store, request(app, bystander, "b1", vec![unlock("A")], NOW)).await;

    let stats_only = ResetScope::full(false);
    let after = store
        .reset(app, player, stats_only, NOW, test_audit())
        .await
        .expect("reset");
    assert_eq!(after.version, 2);
    assert!(after.stats.is_empty());
    assert!(after.is_unlocked("A") && after.is_unlocked("B"));
    assert_eq!(after.achievements["C"].progress, Some((1, 4)));
    let read = store.progress(app, player).await.expect("progress");
    assert_same_progress(&read, &after, "read back after a stats reset");
    let global = store.global_achievements(app).await.expect("global");
    assert_eq!(
        (
            global.users,
            unlocked_count(&global, "A"),
            unlocked_count(&global, "B")
        ),
        (2, 2, 1)
    );

    let everything = ResetScope::full(true);
    let after = store
        .reset(app, player, everything, NOW, test_audit())
        .await
        .expect("reset");
    assert_eq!(after.version, 3);
    assert!(after.stats.is_empty() && after.achievements.is_empty());
    let read = store.progress(app, player).await.expect("progress");
    assert_same_progress(&read, &after, "read back after a full reset");
    let global = store.global_achievements(app).await.expect("global");
    assert_eq!(
        (
            global.users,
            unlocked_count(&global, "A"),
            unlocked_count(&global, "B")
        ),
        (2, 1, 0),
        "a reset user is still a user; their unlocks are gone"
    );

    // Increment-only starts again from the default, and unlocks get a new time.
    let (progress, unlocked) = applied(
        store,
        request(
            app,
            player,
            "p2",
            vec![set("Kills", 1.0), unlock("A")],
            NOW + 50,
        ),
    )
    .await;
    assert_eq!(unlocked, ["A"]);
    assert_eq!(progress.achievements["A"].unlock_time, Some(NOW + 50));
    assert_eq!(progress.version, 4);
    let global = store.global_achievements(app).await.expect("global");
    assert_eq!(unlocked_count(&global, "A"), 2);
    let untouched = store.progress(app, bystander).await.expect("progress");
    assert_eq!(untouched.version, 1);
}

/// Resetting a user never written writes nothing and answers version 0: it
/// creates no user and counts none.
pub async fn reset_of_never_written_user_writes_nothing(store: &dyn Store) {
    let app = setup(store).await;
    let player = user(9);
    for achievements in [false, true] {
        let after = store
            .reset(
                app,
                player,
                ResetScope::full(achievements),
                NOW,
                test_audit(),
            )
            .await
            .expect("reset");
        assert_eq!(after, UserProgress::default());
    }
    assert_eq!(users_of(store, app).await, 0);
    let (progress, _) = applied(store, request(app, player, "k", vec![unlock("A")], NOW)).await;
    assert_eq!(progress.version, 1);
    assert_eq!(users_of(store, app).await, 1);
}
