//! Storing and reading progress: schemas, every kind of value, refused
//! batches, stat-bound achievements, schema changes.

use super::*;

pub async fn schema_put_get_version(store: &dyn Store) {
    let app = app(7);
    assert!(store.schema(app).await.expect("schema").is_none());
    assert_eq!(store.put_schema(app, test_schema()).await.expect("put"), 1);
    let stored = store.schema(app).await.expect("schema").expect("stored");
    assert_eq!((stored.app, stored.version), (app, 1));
    assert_eq!(*stored.schema, test_schema());

    let mut doc = test_schema().to_doc();
    doc.app.name = "Renamed".into();
    doc.stats.retain(|s| s.name != "Cheat");
    let renamed = Schema::from_doc(&doc).expect("valid");
    assert_eq!(
        store.put_schema(app, renamed.clone()).await.expect("put"),
        2
    );
    let stored = store.schema(app).await.expect("schema").expect("stored");
    assert_eq!(stored.version, 2);
    assert_eq!(*stored.schema, renamed, "the cache follows put_schema");

    store
        .put_schema(crate::conformance::app(3), many_achievements_schema(2))
        .await
        .expect("put");
    let apps = store.apps().await.expect("apps");
    let listed: Vec<(u32, &str, u64, u64)> = apps
        .iter()
        .map(|a| (a.app.get(), a.name.as_str(), a.schema_version, a.users))
        .collect();
    assert_eq!(
        listed,
        vec![(3, "2 achievements", 1, 0), (7, "Renamed", 2, 0)]
    );
}

pub async fn unknown_app_is_refused(store: &dyn Store) {
    let (app, user) = (app(404), user(1));
    let unknown = |what: &str, e: StoreError| {
        assert!(
            matches!(e, StoreError::UnknownApp(a) if a == app),
            "{what}: {e:?}"
        )
    };
    assert!(store.schema(app).await.expect("schema").is_none());
    unknown("progress", store.progress(app, user).await.unwrap_err());
    unknown(
        "store",
        store
            .store(request(app, user, "k", vec![unlock("A")], NOW))
            .await
            .unwrap_err(),
    );
    let scope = ResetScope::full(true);
    unknown(
        "reset",
        store
            .reset(app, user, scope, NOW, test_audit())
            .await
            .unwrap_err(),
    );
    unknown("global", store.global_achievements(app).await.unwrap_err());
    unknown(
        "global stats",
        store
            .global_stats(app, GlobalStatsQuery::default())
            .await
            .unwrap_err(),
    );
    unknown("keys", store.keys(app).await.unwrap_err());
    unknown(
        "create_key",
        store.create_key(app, "k", "hash", NOW).await.unwrap_err(),
    );
    assert!(!store.revoke_key(app, 1).await.expect("revoke"));
    assert!(store.apps().await.expect("apps").is_empty());
}

pub async fn never_written_user_has_version_zero(store: &dyn Store) {
    let app = setup(store).await;
    for id in [1, 76561197960287930, u64::MAX] {
        let progress = store.progress(app, user(id)).await.expect("progress");
        assert_eq!(progress, UserProgress::default(), "user {id}");
    }
    let global = store.global_achievements(app).await.expect("global");
    assert_eq!(global.users, 0);
    assert!(global.unlocked.values().all(|&n| n == 0), "{global:?}");
}

/// Every kind of value comes back as it was stored, bit for bit, for the
/// largest Steam id (stored bit-cast in SQLite).
pub async fn store_round_trips_every_value(store: &dyn Store) {
    let app = setup(store).await;
    let schema = test_schema();
    let (player, other) = (user(u64::MAX), user(u64::MAX - 1));
    let first = vec![
        set("Kills", 5.0),
        set("Score", -7.0),
        set("Ratio", 0.1),
        avg("Speed", 10.0, 30.0),
        unlock("A"),
        indicate("Collector", 3, 10),
    ];
    let (reply, unlocked) = applied(store, request(app, player, "r1", first, NOW)).await;
    assert_eq!(unlocked, ["A"]);
    assert_eq!(reply.version, 1);
    assert_eq!(reply.stats["Kills"], StatValue::Int(5));
    assert_eq!(reply.stats["Score"], StatValue::Int(-7));
    assert_eq!(reply.stats["Ratio"], StatValue::Float(0.1f64 as f32));
    assert_eq!(
        reply.stats["Speed"],
        StatValue::AvgRate {
            count: 10.0,
            seconds: 30.0
        }
    );
    let a = &reply.achievements["A"];
    assert_eq!((a.unlocked, a.unlock_time), (true, Some(NOW)));
    let collector = &reply.achievements["Collector"];
    assert_eq!(
        (collector.unlocked, collector.progress),
        (false, Some((3, 10)))
    );
    let read = store.progress(app, player).await.expect("progress");
    assert_same_progress(&read, &reply, "read back after the first store");

    let second = vec![
        avg("Speed", 5.0, 60.0),
        unlock("A"),
        indicate("Collector", 10, 10),
    ];
    let want = apply_batch(
        &schema,
        &read,
        &StoreBatch {
            entries: second.clone(),
        },
        WriteAuthority::User,
        NOW + 10,
    )
    .expect("valid");
    let (reply, unlocked) = applied(store, request(app, player, "r2", second, NOW + 10)).await;
    assert_eq!(unlocked, ["Collector"], "A was unlocked already");
    assert_same_progress(&reply, &want.progress, "second reply");
    assert_eq!(
        reply.achievements["A"].unlock_time,
        Some(NOW),
        "first unlock time stays"
    );
    assert_eq!(reply.achievements["Collector"].unlock_time, Some(NOW + 10));
    let read = store.progress(app, player).await.expect("progress");
    assert_same_progress(&read, &want.progress, "read back after the second store");

    let floats = [
        -0.0f32,
        f32::from_bits(1),
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::MIN,
        1.0 / 3.0,
        -123.456,
        16_777_215.0,
    ];
    for (i, value) in floats.into_iter().enumerate() {
        let key = format!("float-{i}");
        let entries = vec![set("Ratio", f64::from(value))];
        let (reply, _) = applied(store, request(app, player, &key, entries, NOW + 20)).await;
        let read = store.progress(app, player).await.expect("progress");
        assert_same_progress(&read, &reply, &key);
        let StatValue::Float(got) = read.stats["Ratio"] else {
            panic!("Ratio is {:?}", read.stats["Ratio"]);
        };
        assert_eq!(got.to_bits(), value.to_bits(), "{value:e} round-trips");
    }

    let untouched = store.progress(app, other).await.expect("progress");
    assert_eq!(
        untouched,
        UserProgress::default(),
        "neighbouring id untouched"
    );
}

/// A refused batch changes neither the user, nor the global figures, nor
/// does it use up its idempotency key.
pub async fn refused_batch_writes_nothing(store: &dyn Store) {
    let app = setup(store).await;
    let (player, newcomer) = (user(1), user(2));
    applied(
        store,
        request(
            app,
            player,
            "ok",
            vec![set("Kills", 10.0), unlock("A")],
            NOW,
        ),
    )
    .await;
    let progress_before = store.progress(app, player).await.expect("progress");
    let global_before = store.global_achievements(app).await.expect("global");
    let apps_before = store.apps().await.expect("apps");

    // (entries, result, what, refused for a newcomer too)
    let cases = [
        (
            vec![set("Kills", 5.0), unlock("B")],
            EResult::InvalidParam,
            "decrease of an increment-only stat",
            false,
        ),
        (
            vec![unlock("B"), set("Cheat", 1.0)],
            EResult::AccessDenied,
            "a user writing a server stat",
            true,
        ),
        (
            vec![set("Feet", 500.0), set("Nope", 1.0)],
            EResult::InvalidParam,
            "an unknown stat next to an auto-unlock",
            true,
        ),
        (
            vec![unlock("B"), unlock("B")],
            EResult::InvalidParam,
            "a duplicate entry",
            true,
        ),
    ];
    for (i, (entries, result, what, newcomer_too)) in cases.into_iter().enumerate() {
        let who: &[SteamId] = if newcomer_too {
            &[player, newcomer]
        } else {
            &[player]
        };
        for &who in who {
            let key = format!("refused-{i}");
            let reply = store
                .store(request(app, who, &key, entries.clone(), NOW + 1))
                .await
                .expect("store");
            let StoreReply::Refused(refusal) = reply else {
                panic!("{what}: expected a refusal, got {reply:?}");
            };
            assert_eq!(refusal.result, result, "{what}");
        }
        let progress = store.progress(app, player).await.expect("progress");
        assert_same_progress(&progress, &progress_before, what);
        let fresh = store.progress(app, newcomer).await.expect("progress");
        assert_eq!(fresh, UserProgress::default(), "{what}: newcomer untouched");
        assert_eq!(
            store.global_achievements(app).await.expect("global"),
            global_before,
            "{what}"
        );
        assert_eq!(store.apps().await.expect("apps"), apps_before, "{what}");
    }

    // The refusal did not record the key: the same key may carry another batch.
    let mut retry = request(app, player, "refused-0", vec![set("Kills", 11.0)], NOW + 2);
    retry.fingerprint = Fingerprint::from_stored("a corrected batch".into());
    let (progress, _) = applied(store, retry).await;
    assert_eq!(progress.version, progress_before.version + 1);
}

pub async fn stat_bound_achievement_unlocks(store: &dyn Store) {
    let app = setup(store).await;
    let player = user(1);
    let (progress, unlocked) = applied(
        store,
        request(app, player, "f1", vec![set("Feet", 50.0)], NOW),
    )
    .await;
    assert!(unlocked.is_empty());
    assert!(!progress.is_unlocked("Far"));
    let (_, unlocked) = applied(
        store,
        request(app, player, "f2", vec![set("Feet", 150.0)], NOW + 5),
    )
    .await;
    assert_eq!(unlocked, ["Far"]);
    let read = store.progress(app, player).await.expect("progress");
    let far = &read.achievements["Far"];
    assert_eq!((far.unlocked, far.unlock_time), (true, Some(NOW + 5)));
    let global = store.global_achievements(app).await.expect("global");
    assert_eq!(unlocked_count(&global, "Far"), 1);
    let (_, unlocked) = applied(
        store,
        request(app, player, "f3", vec![set("Feet", 200.0)], NOW + 9),
    )
    .await;
    assert!(unlocked.is_empty(), "unlocks once");
    let global = store.global_achievements(app).await.expect("global");
    assert_eq!(unlocked_count(&global, "Far"), 1);
}

/// Values the current schema does not define read as absent; they come back
/// when a schema defines them again. Global figures follow the schema.
pub async fn schema_change_hides_what_it_no_longer_defines(store: &dyn Store) {
    let app = setup(store).await;
    let player = user(1);
    let entries = vec![
        set("Score", 5.0),
        set("Ratio", 1.5),
        unlock("A"),
        unlock("B"),
    ];
    let (before, _) = applied(store, request(app, player, "k1", entries, NOW)).await;

    let mut doc = test_schema().to_doc();
    doc.achievements.retain(|a| a.name != "A");
    doc.stats.retain(|s| s.name != "Ratio");
    for stat in &mut doc.stats {
        if stat.name == "Score" {
            stat.kind = laurel_core::schema_doc::StatKindDoc::Float;
        }
    }
    let changed = Schema::from_doc(&doc).expect("valid");
    store.put_schema(app, changed).await.expect("put");
    let progress = store.progress(app, player).await.expect("progress");
    assert!(progress.stats.is_empty(), "{progress:?}");
    assert_eq!(
        progress
            .achievements
            .keys()
            .map(ApiName::as_str)
            .collect::<Vec<_>>(),
        ["B"]
    );
    let global = store.global_achievements(app).await.expect("global");
    assert!(!global.unlocked.contains_key("A"));
    assert_eq!(unlocked_count(&global, "B"), 1);

    // Score is a float now: a store validates against the default, not the old int.
    let (progress, _) = applied(
        store,
        request(app, player, "k2", vec![set("Score", 2.5)], NOW + 1),
    )
    .await;
    assert_eq!(progress.stats["Score"], StatValue::Float(2.5));

    store.put_schema(app, test_schema()).await.expect("put");
    let back = store.progress(app, player).await.expect("progress");
    assert!(back.is_unlocked("A"), "A comes back");
    assert_eq!(back.stats.get("Ratio"), before.stats.get("Ratio"));
    assert!(
        !back.stats.contains_key("Score"),
        "Score was rewritten as a float; the int schema reads it as absent"
    );
    let global = store.global_achievements(app).await.expect("global");
    assert_eq!(unlocked_count(&global, "A"), 1);
}
