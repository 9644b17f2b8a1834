//! Concurrent stores all apply; acknowledged writes survive a reopen.

use super::*;

/// Achievements used by [`concurrent_stores_all_apply`].
pub const CONCURRENT_STORES: usize = 200;

/// Many stores to one user at once: every one is acknowledged and applied
/// (none lost to a concurrent one), and a key sent many times at once is
/// applied exactly once.
pub async fn concurrent_stores_all_apply(store: Arc<dyn Store>) {
    let app = app(2);
    store
        .put_schema(app, many_achievements_schema(CONCURRENT_STORES))
        .await
        .expect("put");
    let player = user(u64::MAX);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..CONCURRENT_STORES {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let name = format!("ACH_{i}");
            let r = request(app, player, &format!("k{i}"), vec![unlock(&name)], NOW);
            (name, store.store(r).await)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let (name, reply) = joined.expect("task");
        match reply {
            Ok(StoreReply::Applied {
                newly_unlocked,
                replayed: false,
                ..
            }) => assert_eq!(names(&newly_unlocked), [name]),
            other => panic!("{name}: {other:?}"),
        }
    }
    let progress = store.progress(app, player).await.expect("progress");
    assert_eq!(progress.version, CONCURRENT_STORES as u64);
    assert_eq!(progress.achievements.len(), CONCURRENT_STORES);
    assert!(progress.achievements.values().all(|a| a.unlocked));
    let global = store.global_achievements(app).await.expect("global");
    assert_eq!(global.users, 1);
    assert!(global.unlocked.values().all(|&n| n == 1), "{global:?}");

    let twin = user(5);
    let same = request(app, twin, "same", vec![unlock("ACH_0")], NOW);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (store, same) = (Arc::clone(&store), same.clone());
        tasks.spawn(async move { store.store(same).await });
    }
    let mut first = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("task") {
            Ok(StoreReply::Applied {
                replayed,
                newly_unlocked,
                ..
            }) => {
                first += usize::from(!replayed);
                assert_eq!(names(&newly_unlocked), ["ACH_0"]);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(first, 1, "one application, the rest replays");
    let progress = store.progress(app, twin).await.expect("progress");
    assert_eq!(progress.version, 1);
    let global = store.global_achievements(app).await.expect("global");
    assert_eq!((global.users, global.unlocked["ACH_0"]), (2, 2));
}

/// Everything acknowledged is there after the store is dropped and the
/// database opened again.
pub async fn acknowledged_writes_survive_reopen<F, Fut>(store: Box<dyn Store>, reopen: F)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Box<dyn Store>>,
{
    let app = setup(&*store).await;
    let (player, other) = (user(u64::MAX), user(1));
    let entries = vec![
        set("Kills", 3.0),
        set("Ratio", -0.0),
        avg("Speed", 1.0, 7.0),
        unlock("A"),
    ];
    applied(&*store, request(app, player, "k1", entries, NOW)).await;
    applied(&*store, request(app, other, "k1", vec![unlock("B")], NOW)).await;
    store
        .reset(app, other, ResetScope::full(true), NOW, test_audit())
        .await
        .expect("reset");
    let key = store
        .create_key(app, "label", "hash", NOW)
        .await
        .expect("create");
    let secret = store.signing_secret().await.expect("secret");
    let progress = store.progress(app, player).await.expect("progress");
    let other_progress = store.progress(app, other).await.expect("progress");
    let global = store.global_achievements(app).await.expect("global");
    let apps = store.apps().await.expect("apps");
    drop(store);

    let store = reopen().await;
    let schema = store.schema(app).await.expect("schema").expect("stored");
    assert_eq!((schema.version, &*schema.schema), (1, &test_schema()));
    let reopened = store.progress(app, player).await.expect("progress");
    assert_same_progress(&reopened, &progress, "after reopen");
    assert_eq!(
        store.progress(app, other).await.expect("progress"),
        other_progress
    );
    assert_eq!(
        store.global_achievements(app).await.expect("global"),
        global
    );
    assert_eq!(store.apps().await.expect("apps"), apps);
    assert_eq!(store.keys(app).await.expect("keys"), [key]);
    assert_eq!(store.signing_secret().await.expect("secret"), secret);
    // Idempotency records are durable too: the same request is a replay.
    let replay = request(app, player, "k1", vec![], NOW + 1);
    match store.store(replay).await {
        Ok(StoreReply::Applied {
            replayed: true,
            newly_unlocked,
            progress: replayed,
        }) => {
            assert_eq!(names(&newly_unlocked), ["A"]);
            assert_same_progress(&replayed, &progress, "replay after reopen");
        }
        other => panic!("the key should have survived: {other:?}"),
    }
}
