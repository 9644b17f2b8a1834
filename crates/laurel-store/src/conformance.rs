//! What every [`Store`] implementation must do, as checks that take a store
//! and panic on the first difference. They only use the trait, so the SQLite
//! store and a PostgreSQL store run the same ones.
//!
//! [`conformance_suite!`](crate::conformance_suite) turns every check into a
//! `#[tokio::test]`, given two async functions of the backend's test file:
//! `fresh() -> (Guard, Box<dyn Store>)` opens an empty store (the guard keeps
//! its temporary database alive) and `reopen(&Guard) -> Box<dyn Store>` opens
//! the same database again. [`arb_batches`] and
//! [`batches_match_in_memory_fold`] are for a property test of the backend's own.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use laurel_core::schema_doc::{AchievementDoc, AppDoc};
use laurel_core::{
    ApiName, AppId, BatchEntry, EResult, Fingerprint, IdempotencyKey, ResetScope, Schema,
    SchemaDoc, StatValue, SteamId, StoreBatch, UnixTime, UserProgress, WriteAuthority, apply_batch,
};
use proptest::prelude::*;

use crate::TokenRevocation;
use crate::audit::{AuditDraft, action};

/// The audit entry of a test's reset.
pub fn test_audit() -> AuditDraft {
    AuditDraft::new("test", "local", action::RESET)
}

use crate::{
    DailyChange, GlobalAchievements, GlobalStat, GlobalStatsQuery, StatTotal, Store, StoreError,
    StoreReply, StoreRequest, StoredKey, utc_day,
};

/// The clock of every check: stores pass it in, the store never reads one.
pub const NOW: UnixTime = 1_700_000_000;

/// A schema with every stat kind and rule the checks need.
pub const TEST_SCHEMA_JSON: &str = r#"{
  "app": { "name": "Conformance", "allow_achievement_clear": true },
  "stats": [
    { "name": "Kills", "type": "int", "min": 0, "max": 1000000, "increment_only": true },
    { "name": "Score", "type": "int", "min": -1000, "max": 1000 },
    { "name": "Ratio", "type": "float" },
    { "name": "Feet", "type": "float", "min": 0 },
    { "name": "Speed", "type": "avgrate", "window": 3600 },
    { "name": "Cheat", "type": "int", "set_by": "server" }
  ],
  "achievements": [
    { "name": "A", "display_name": { "english": "A" }, "description": { "english": "" } },
    { "name": "B", "display_name": { "english": "B" }, "description": { "english": "" } },
    { "name": "C", "display_name": { "english": "C" }, "description": { "english": "" } },
    { "name": "Far", "display_name": { "english": "Far" }, "description": { "english": "" },
      "progress": { "stat": "Feet", "max": 100 } },
    { "name": "Collector", "display_name": { "english": "Collector" }, "description": { "english": "" } }
  ]
}"#;

pub fn test_schema() -> Schema {
    let doc = SchemaDoc::from_json(TEST_SCHEMA_JSON).expect("test schema parses");
    Schema::from_doc(&doc).expect("test schema is valid")
}

/// A schema with `n` plain achievements named `ACH_0`, `ACH_1`, ….
pub fn many_achievements_schema(n: usize) -> Schema {
    let english = |text: String| BTreeMap::from([("english".to_owned(), text)]);
    let doc = SchemaDoc {
        app: AppDoc {
            name: format!("{n} achievements"),
            ..AppDoc::default()
        },
        stats: Vec::new(),
        achievements: (0..n)
            .map(|i| AchievementDoc {
                name: format!("ACH_{i}"),
                display_name: english(format!("Achievement {i}")),
                description: english(String::new()),
                hidden: false,
                icon: None,
                icon_gray: None,
                progress: None,
            })
            .collect(),
    };
    Schema::from_doc(&doc).expect("generated schema is valid")
}

pub fn app(id: u32) -> AppId {
    AppId::new(id).expect("app ids in checks are not 0")
}

pub fn user(id: u64) -> SteamId {
    SteamId::new(id).expect("user ids in checks are not 0")
}

pub fn set(name: &str, value: f64) -> BatchEntry {
    BatchEntry::SetStat {
        name: name.into(),
        value,
    }
}

pub fn avg(name: &str, count: f64, session_seconds: f64) -> BatchEntry {
    BatchEntry::UpdateAvgRate {
        name: name.into(),
        count,
        session_seconds,
    }
}

pub fn unlock(name: &str) -> BatchEntry {
    BatchEntry::UnlockAchievement { name: name.into() }
}

pub fn clear(name: &str) -> BatchEntry {
    BatchEntry::ClearAchievement { name: name.into() }
}

pub fn indicate(name: &str, current: u32, max: u32) -> BatchEntry {
    BatchEntry::IndicateProgress {
        name: name.into(),
        current,
        max,
    }
}

/// A store with user authority whose fingerprint is derived from its key:
/// reusing a key with the same entries is a replay.
pub fn request(
    app: AppId,
    user: SteamId,
    key: &str,
    entries: Vec<BatchEntry>,
    now: UnixTime,
) -> StoreRequest {
    StoreRequest {
        app,
        user,
        batch: StoreBatch { entries },
        authority: WriteAuthority::User,
        idempotency_key: IdempotencyKey::from_stored(key.to_owned()),
        fingerprint: Fingerprint::from_stored(format!("fingerprint of {key}")),
        now,
    }
}

/// Puts [`test_schema`] as app 7.
async fn setup(store: &dyn Store) -> AppId {
    let app = app(7);
    store
        .put_schema(app, test_schema())
        .await
        .expect("put_schema");
    app
}

/// Stores a request that must be applied for the first time.
async fn applied(store: &dyn Store, request: StoreRequest) -> (UserProgress, Vec<String>) {
    let key = request.idempotency_key.clone();
    match store.store(request).await {
        Ok(StoreReply::Applied {
            progress,
            newly_unlocked,
            replayed: false,
        }) => (progress, names(&newly_unlocked)),
        other => panic!("store {key:?}: expected a first application, got {other:?}"),
    }
}

fn names(list: &[ApiName]) -> Vec<String> {
    list.iter().map(ApiName::to_string).collect()
}

/// Equality, and for float values equality of the bits (`-0.0 != 0.0`).
#[track_caller]
pub fn assert_same_progress(got: &UserProgress, want: &UserProgress, context: &str) {
    assert_eq!(got, want, "{context}");
    for (name, value) in &got.stats {
        let same_bits = match (value, want.stats.get(name)) {
            (StatValue::Float(a), Some(StatValue::Float(b))) => a.to_bits() == b.to_bits(),
            (
                StatValue::AvgRate { count, seconds },
                Some(StatValue::AvgRate {
                    count: c,
                    seconds: s,
                }),
            ) => count.to_bits() == c.to_bits() && seconds.to_bits() == s.to_bits(),
            _ => true,
        };
        assert!(
            same_bits,
            "{context}: stat {name} is {value:?}, want {:?} bit for bit",
            want.stats.get(name)
        );
    }
}

fn unlocked_count(global: &GlobalAchievements, name: &str) -> u64 {
    *global
        .unlocked
        .get(name)
        .unwrap_or_else(|| panic!("global figures lack {name}: {global:?}"))
}

async fn users_of(store: &dyn Store, app: AppId) -> u64 {
    let apps = store.apps().await.expect("apps");
    apps.iter()
        .find(|a| a.app == app)
        .unwrap_or_else(|| panic!("app {app} is not listed: {apps:?}"))
        .users
}

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

/// The global figures equal a recount over every user after a mix of
/// unlocks, clears, auto-unlocks, refusals and resets.
pub async fn global_counters_match_a_recount(store: &dyn Store) {
    let app = setup(store).await;
    let server = |mut r: StoreRequest| {
        r.authority = WriteAuthority::Server;
        r
    };
    let steps: Vec<StoreRequest> = vec![
        request(app, user(1), "1a", vec![unlock("A"), unlock("B")], NOW),
        request(
            app,
            user(2),
            "2a",
            vec![unlock("A"), set("Feet", 100.0)],
            NOW,
        ),
        request(app, user(3), "3a", vec![unlock("B"), unlock("C")], NOW),
        request(app, user(3), "3b", vec![clear("B")], NOW + 1),
        request(app, user(3), "3c", vec![clear("B")], NOW + 2),
        server(request(
            app,
            user(4),
            "4a",
            vec![set("Cheat", 3.0), unlock("C")],
            NOW,
        )),
        request(
            app,
            user(5),
            "5a",
            vec![set("Cheat", 3.0), unlock("A")],
            NOW,
        ),
        request(
            app,
            user(1),
            "1b",
            vec![clear("A"), unlock("Collector")],
            NOW + 3,
        ),
        request(
            app,
            user(2),
            "2b",
            vec![clear("Far"), set("Feet", 120.0)],
            NOW + 4,
        ),
    ];
    for step in steps {
        store.store(step).await.expect("store");
    }
    let scope = ResetScope::full(true);
    store
        .reset(app, user(4), scope, NOW, test_audit())
        .await
        .expect("reset");
    store
        .reset(app, user(6), scope, NOW, test_audit())
        .await
        .expect("reset");

    let schema = test_schema();
    let mut users = 0;
    let mut recount: BTreeMap<String, u64> = schema
        .achievements()
        .iter()
        .map(|a| (a.name.to_string(), 0))
        .collect();
    for id in 1..=6 {
        let progress = store.progress(app, user(id)).await.expect("progress");
        if progress.version > 0 {
            users += 1;
        }
        for (name, state) in &progress.achievements {
            if state.unlocked {
                *recount.entry(name.to_string()).or_default() += 1;
            }
        }
    }
    let global = store.global_achievements(app).await.expect("global");
    assert_eq!(users, 4, "user 5 was refused and user 6 only reset");
    assert_eq!(
        global,
        GlobalAchievements {
            users,
            unlocked: recount
        }
    );
    let by_name: Vec<(&str, u64)> = global
        .unlocked
        .iter()
        .map(|(n, c)| (n.as_str(), *c))
        .collect();
    assert_eq!(
        by_name,
        [("A", 1), ("B", 1), ("C", 1), ("Collector", 1), ("Far", 1)]
    );
    assert_eq!(users_of(store, app).await, 4);
}

pub async fn keys_create_find_revoke(store: &dyn Store) {
    let app7 = setup(store).await;
    let app3 = app(3);
    store
        .put_schema(app3, many_achievements_schema(1))
        .await
        .expect("put");
    let first = store
        .create_key(app7, "ci", "hash-1", NOW)
        .await
        .expect("create");
    let second = store
        .create_key(app7, "server", "hash-2", NOW + 1)
        .await
        .expect("create");
    let other = store
        .create_key(app3, "other", "hash-3", NOW + 2)
        .await
        .expect("create");
    assert_eq!(
        (
            first.app,
            first.label.as_str(),
            first.created,
            first.revoked
        ),
        (app7, "ci", NOW, false)
    );
    assert!(first.id != second.id && second.id != other.id);

    assert_eq!(
        store.keys(app7).await.expect("keys"),
        [first.clone(), second.clone()]
    );
    assert_eq!(store.keys(app3).await.expect("keys"), [other]);
    assert_eq!(
        store.find_key("hash-2").await.expect("find"),
        Some(second.clone())
    );
    assert_eq!(store.find_key("nope").await.expect("find"), None);

    assert!(
        !store.revoke_key(app3, second.id).await.expect("revoke"),
        "another app's key"
    );
    assert!(!store.revoke_key(app7, i64::MAX).await.expect("revoke"));
    assert!(store.revoke_key(app7, second.id).await.expect("revoke"));
    assert_eq!(store.find_key("hash-2").await.expect("find"), None);
    assert_eq!(
        store.find_key("hash-1").await.expect("find"),
        Some(first.clone())
    );
    let listed = store.keys(app7).await.expect("keys");
    assert_eq!(listed.len(), 2, "revoked keys stay listed");
    assert!(listed[1].revoked && !listed[0].revoked);
}

pub async fn signing_secret_is_stable(store: &dyn Store) {
    let secret = store.signing_secret().await.expect("secret");
    assert_eq!(secret.len(), 32);
    assert!(secret.iter().any(|&b| b != 0), "random, not zeroed");
    assert_eq!(store.signing_secret().await.expect("secret"), secret);
}

pub async fn health_answers(store: &dyn Store) {
    store.health().await.expect("health");
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

/// One store of a generated sequence: entries and whose credentials carry them.
pub type GeneratedBatch = (Vec<BatchEntry>, WriteAuthority);

/// Sequences of batches over [`test_schema`], valid and invalid.
pub fn arb_batches() -> impl Strategy<Value = Vec<GeneratedBatch>> {
    let stat = prop::sample::select(vec![
        "Kills", "Score", "Ratio", "Feet", "Speed", "Cheat", "Nope",
    ]);
    let achievement = prop::sample::select(vec!["A", "B", "C", "Far", "Collector", "Nope"]);
    let entry = prop_oneof![
        (stat.clone(), -20i32..200).prop_map(|(n, v)| set(n, f64::from(v))),
        (stat.clone(), -50.0f64..150.0).prop_map(|(n, v)| set(n, v)),
        (stat, 0.0f64..100.0, prop_oneof![Just(0.0), 1.0f64..5000.0])
            .prop_map(|(n, c, s)| avg(n, c, s)),
        achievement.clone().prop_map(unlock),
        achievement.clone().prop_map(clear),
        (achievement, 0u32..12, 0u32..12).prop_map(|(n, c, m)| indicate(n, c, m)),
    ];
    let authority = prop_oneof![Just(WriteAuthority::User), Just(WriteAuthority::Server)];
    prop::collection::vec((prop::collection::vec(entry, 0..5), authority), 1..12)
}

/// Applying `batches` through the store gives what folding
/// [`apply_batch`] in memory gives, answer by answer; replaying every
/// accepted batch with its key then changes nothing. (Refused batches record
/// no key, so they are not replays: sent again, they are validated again.)
pub async fn batches_match_in_memory_fold(store: &dyn Store, batches: &[GeneratedBatch]) {
    let app = setup(store).await;
    let player = user(42);
    let schema = test_schema();
    let mut memory = UserProgress::default();
    let mut accepted = Vec::new();
    for (i, (entries, authority)) in batches.iter().enumerate() {
        let now = NOW + i as i64;
        let mut sent = request(app, player, &format!("fold-{i}"), entries.clone(), now);
        sent.authority = *authority;
        let reply = store.store(sent.clone()).await.expect("store");
        match apply_batch(&schema, &memory, &sent.batch, *authority, now) {
            Ok(outcome) => {
                let StoreReply::Applied {
                    progress,
                    newly_unlocked,
                    replayed: false,
                } = reply
                else {
                    panic!("batch {i} {entries:?}: expected it applied, got {reply:?}");
                };
                assert_same_progress(&progress, &outcome.progress, &format!("batch {i}"));
                assert_eq!(newly_unlocked, outcome.newly_unlocked, "batch {i}");
                memory = outcome.progress;
                accepted.push((sent, newly_unlocked));
            }
            Err(refusal) => assert_eq!(reply, StoreReply::Refused(refusal), "batch {i}"),
        }
    }
    let stored = store.progress(app, player).await.expect("progress");
    assert_same_progress(&stored, &memory, "after the sequence");
    let global = store.global_achievements(app).await.expect("global");
    assert_eq!(global.users, u64::from(memory.version > 0));
    for def in schema.achievements() {
        let want = u64::from(memory.is_unlocked(def.name.as_str()));
        assert_eq!(
            unlocked_count(&global, def.name.as_str()),
            want,
            "{}",
            def.name
        );
    }

    for (mut sent, first) in accepted {
        sent.now += 1_000;
        let key = sent.idempotency_key.clone();
        match store.store(sent).await.expect("replay") {
            StoreReply::Applied {
                progress,
                newly_unlocked,
                replayed: true,
            } => {
                assert_same_progress(&progress, &memory, key.as_str());
                assert_eq!(newly_unlocked, first, "{key}");
            }
            other => panic!("{key}: expected a replay, got {other:?}"),
        }
    }
    let stored = store.progress(app, player).await.expect("progress");
    assert_same_progress(&stored, &memory, "after the replays");
    assert_eq!(
        store.global_achievements(app).await.expect("global"),
        global
    );
}

// ---- aggregated stats (issue 5) ----

/// A schema whose stats are aggregated, with defaults that are not zero (so
/// that users who never wrote a stat count with their default).
pub const AGGREGATED_SCHEMA_JSON: &str = r#"{
  "app": { "name": "Aggregates" },
  "stats": [
    { "name": "Kills", "type": "int", "default": 10, "min": 0, "aggregated": true },
    { "name": "Distance", "type": "float", "default": 0.5, "aggregated": true },
    { "name": "Speed", "type": "avgrate", "window": 3600, "aggregated": true },
    { "name": "Plain", "type": "int" }
  ],
  "achievements": [
    { "name": "A", "display_name": { "english": "A" }, "description": { "english": "" } }
  ]
}"#;

fn schema_from(json: &str) -> Schema {
    let doc = SchemaDoc::from_json(json).expect("schema parses");
    Schema::from_doc(&doc).expect("schema is valid")
}

pub fn aggregated_schema() -> Schema {
    schema_from(AGGREGATED_SCHEMA_JSON)
}

/// The same schema with `Kills` not aggregated.
fn kills_not_aggregated() -> Schema {
    schema_from(&AGGREGATED_SCHEMA_JSON.replacen(
        r#""min": 0, "aggregated": true"#,
        r#""min": 0"#,
        1,
    ))
}

async fn totals(store: &dyn Store, app: AppId) -> BTreeMap<String, StatTotal> {
    store
        .global_stats(app, GlobalStatsQuery::default())
        .await
        .expect("global stats")
        .into_iter()
        .map(|g| (g.name, g.total))
        .collect()
}

/// The totals recounted the slow way: every user's current value (default if unwritten).
async fn recount_totals(
    store: &dyn Store,
    app: AppId,
    schema: &Schema,
    users: &[u64],
) -> BTreeMap<String, StatTotal> {
    let mut out = BTreeMap::new();
    for def in schema.stats().iter().filter(|d| d.aggregated) {
        let mut int = 0i64;
        let mut float = 0.0f64;
        for &id in users {
            let progress = store.progress(app, user(id)).await.expect("progress");
            if progress.version == 0 {
                continue;
            }
            let v = progress.stat(def).read(def);
            int += v as i64;
            float += v;
        }
        let total = match def.kind {
            laurel_core::StatKind::Int => StatTotal::Int(int),
            _ => StatTotal::Float(float),
        };
        out.insert(def.name.to_string(), total);
    }
    out
}

fn history_sum(stats: &[GlobalStat], name: &str) -> f64 {
    stats
        .iter()
        .find(|g| g.name == name)
        .unwrap_or_else(|| panic!("{name} missing from {stats:?}"))
        .history
        .iter()
        .map(|d| d.change.as_f64())
        .sum()
}

/// The totals of aggregated stats equal a recount over every user after new
/// users, changes, refusals, replays and resets; the daily history adds up to
/// the totals.
pub async fn aggregated_totals_match_a_recount(store: &dyn Store) {
    let app = app(9);
    store
        .put_schema(app, aggregated_schema())
        .await
        .expect("put");
    let schema = aggregated_schema();
    let steps = vec![
        request(
            app,
            user(1),
            "1a",
            vec![set("Kills", 5.0), set("Distance", 1.5)],
            NOW,
        ),
        request(app, user(2), "2a", vec![set("Plain", 3.0)], NOW),
        request(app, user(1), "1b", vec![set("Kills", 7.0)], NOW + 60),
        // Refused whole: user 3 never counts.
        request(
            app,
            user(3),
            "3a",
            vec![set("Kills", 4.0), set("Kills2", 1.0)],
            NOW,
        ),
        // A replay changes nothing.
        request(
            app,
            user(1),
            "1a",
            vec![set("Kills", 5.0), set("Distance", 1.5)],
            NOW + 120,
        ),
        request(
            app,
            user(2),
            "2b",
            vec![avg("Speed", 60.0, 30.0)],
            NOW + 180,
        ),
        request(app, user(4), "4a", vec![set("Distance", 2.25)], NOW + 240),
    ];
    for step in steps {
        store.store(step).await.expect("store");
    }
    let users = [1, 2, 3, 4];
    assert_eq!(
        totals(store, app).await,
        recount_totals(store, app, &schema, &users).await,
        "after stores"
    );
    assert_eq!(
        totals(store, app).await,
        BTreeMap::from([
            ("Distance".to_owned(), StatTotal::Float(1.5 + 0.5 + 2.25)),
            ("Kills".to_owned(), StatTotal::Int(7 + 10 + 10)),
            ("Speed".to_owned(), StatTotal::Float(2.0)),
        ])
    );

    let scope = ResetScope::full(false);
    store
        .reset(app, user(1), scope, NOW, test_audit())
        .await
        .expect("reset");
    store
        .reset(app, user(4), scope, NOW, test_audit())
        .await
        .expect("reset");
    store
        .reset(app, user(5), scope, NOW, test_audit())
        .await
        .expect("reset of nobody");
    let after = totals(store, app).await;
    assert_eq!(
        after,
        recount_totals(store, app, &schema, &[1, 2, 3, 4, 5]).await,
        "after resets"
    );
    assert_eq!(after["Kills"], StatTotal::Int(30));

    // Stores are dated by their `now`; resets by the store's clock. Together
    // the days' changes add up to the totals (which started at zero).
    let stored_days = (utc_day(NOW) - 1, utc_day(NOW) + 1);
    let by_store = store
        .global_stats(
            app,
            GlobalStatsQuery {
                names: Vec::new(),
                history: Some(stored_days),
            },
        )
        .await
        .expect("history");
    let today = utc_day(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    );
    let by_reset = store
        .global_stats(
            app,
            GlobalStatsQuery {
                names: Vec::new(),
                history: Some((today - 1, today + 1)),
            },
        )
        .await
        .expect("history");
    for name in ["Kills", "Distance", "Speed"] {
        let sum = history_sum(&by_store, name) + history_sum(&by_reset, name);
        assert_eq!(sum, after[name].as_f64(), "history of {name}");
    }
}

/// History is dense, per UTC day, ascending; only aggregated stats are answered.
pub async fn stat_history_is_per_utc_day(store: &dyn Store) {
    let app = app(9);
    store
        .put_schema(app, aggregated_schema())
        .await
        .expect("put");
    let day = utc_day(NOW);
    let tomorrow = (day + 1) * crate::SECONDS_PER_DAY;
    for step in [
        request(app, user(1), "a", vec![set("Kills", 5.0)], NOW),
        request(app, user(1), "b", vec![set("Kills", 8.0)], tomorrow),
        request(app, user(2), "c", vec![set("Plain", 1.0)], tomorrow + 5),
    ] {
        store.store(step).await.expect("store");
    }
    let stats = store
        .global_stats(
            app,
            GlobalStatsQuery {
                names: vec!["Kills".into(), "Plain".into(), "Nope".into()],
                history: Some((day - 1, day + 2)),
            },
        )
        .await
        .expect("global stats");
    let int = |v: i64| StatTotal::Int(v);
    assert_eq!(
        stats,
        vec![GlobalStat {
            name: "Kills".into(),
            kind: laurel_core::StatKind::Int,
            total: int(18),
            history: vec![
                DailyChange {
                    day: day - 1,
                    change: int(0)
                },
                DailyChange {
                    day,
                    change: int(5)
                },
                DailyChange {
                    day: day + 1,
                    change: int(3 + 10)
                },
                DailyChange {
                    day: day + 2,
                    change: int(0)
                },
            ],
        }],
        "Plain is not aggregated and Nope does not exist"
    );
    let all = store
        .global_stats(app, GlobalStatsQuery::default())
        .await
        .expect("global stats");
    let names: Vec<&str> = all.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["Kills", "Distance", "Speed"], "schema order");
    assert!(all.iter().all(|g| g.history.is_empty()));
    assert_eq!(all[1].total, StatTotal::Float(1.0));
}

/// A stat that becomes aggregated is counted from what users already stored,
/// and a stat that stops being aggregated and comes back is counted again.
pub async fn newly_aggregated_stat_is_counted(store: &dyn Store) {
    let app = app(9);
    store
        .put_schema(app, kills_not_aggregated())
        .await
        .expect("put");
    for step in [
        request(app, user(1), "a", vec![set("Kills", 5.0)], NOW),
        request(app, user(2), "b", vec![set("Kills", 7.0)], NOW),
        request(app, user(3), "c", vec![set("Plain", 1.0)], NOW),
    ] {
        store.store(step).await.expect("store");
    }
    assert!(!totals(store, app).await.contains_key("Kills"));
    store
        .put_schema(app, aggregated_schema())
        .await
        .expect("put");
    assert_eq!(
        totals(store, app).await["Kills"],
        StatTotal::Int(5 + 7 + 10)
    );
    store
        .store(request(app, user(1), "d", vec![set("Kills", 6.0)], NOW))
        .await
        .expect("store");
    assert_eq!(totals(store, app).await["Kills"], StatTotal::Int(23));
    // Not aggregated for a while: changes are not counted...
    store
        .put_schema(app, kills_not_aggregated())
        .await
        .expect("put");
    store
        .store(request(app, user(2), "e", vec![set("Kills", 9.0)], NOW))
        .await
        .expect("store");
    // ...and counted again from the rows when it comes back.
    store
        .put_schema(app, aggregated_schema())
        .await
        .expect("put");
    assert_eq!(
        totals(store, app).await["Kills"],
        StatTotal::Int(6 + 9 + 10)
    );
    assert_eq!(
        totals(store, app).await,
        recount_totals(store, app, &aggregated_schema(), &[1, 2, 3]).await
    );
}

// ---- listing users and imports (`laurel migrate`) ----

/// Steam ids on both sides of the sign bit of their stored (bit-cast) form,
/// in u64 order.
pub const ORDERED_IDS: [u64; 8] = [
    1,
    2,
    76_561_197_960_265_728,
    i64::MAX as u64,
    1 << 63,
    (1 << 63) + 5,
    u64::MAX - 1,
    u64::MAX,
];

/// Every page of `limit` users of `app`, followed by cursor.
async fn all_users(store: &dyn Store, app: AppId, limit: usize) -> Vec<SteamId> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = store.users(app, after, limit).await.expect("users");
        assert!(page.len() <= limit, "{page:?}");
        all.extend(&page);
        match page.last() {
            Some(&last) if page.len() == limit => after = Some(last),
            _ => return all,
        }
    }
}

/// Users are listed by the u64 value of their Steam id (ids above
/// `i64::MAX` last), page by page; only users with stored progress, only
/// of the app asked about.
pub async fn users_are_listed_in_steam_id_order(store: &dyn Store) {
    let app7 = setup(store).await;
    let app3 = app(3);
    store
        .put_schema(app3, many_achievements_schema(1))
        .await
        .expect("put");
    assert!(store.users(app3, None, 10).await.expect("users").is_empty());
    // Stored out of order.
    for (i, &id) in ORDERED_IDS.iter().rev().enumerate() {
        let now = NOW + i as i64;
        applied(store, request(app7, user(id), "k", vec![unlock("A")], now)).await;
    }
    applied(
        store,
        request(app3, user(3), "k", vec![unlock("ACH_0")], NOW),
    )
    .await;
    // Reset after a store: still a user. Reset of nobody, refused first store: none.
    let scope = ResetScope::full(true);
    store
        .reset(app7, user(2), scope, NOW, test_audit())
        .await
        .expect("reset");
    store
        .reset(app7, user(9), scope, NOW, test_audit())
        .await
        .expect("reset");
    let refused = request(app7, user(10), "k", vec![set("Nope", 1.0)], NOW);
    assert!(matches!(
        store.store(refused).await.expect("store"),
        StoreReply::Refused(_)
    ));

    let want: Vec<SteamId> = ORDERED_IDS.iter().map(|&id| user(id)).collect();
    assert_eq!(store.users(app7, None, 100).await.expect("users"), want);
    assert_eq!(
        store.users(app7, None, usize::MAX).await.expect("users"),
        want
    );
    for limit in [1, 2, 3, 7, 8] {
        assert_eq!(
            all_users(store, app7, limit).await,
            want,
            "pages of {limit}"
        );
    }
    let after = |id: u64| Some(user(id));
    assert_eq!(
        store
            .users(app7, after(i64::MAX as u64), 2)
            .await
            .expect("users"),
        [user(1 << 63), user((1 << 63) + 5)]
    );
    assert_eq!(
        store.users(app7, after(5), 3).await.expect("users"),
        [
            user(76_561_197_960_265_728),
            user(i64::MAX as u64),
            user(1 << 63)
        ]
    );
    assert_eq!(
        store.users(app7, after(1 << 63), 100).await.expect("users"),
        want[5..]
    );
    assert!(
        store
            .users(app7, after(u64::MAX), 9)
            .await
            .expect("users")
            .is_empty()
    );
    assert!(store.users(app7, None, 0).await.expect("users").is_empty());
    assert_eq!(store.users(app3, None, 10).await.expect("users"), [user(3)]);
    let unknown = store.users(app(404), None, 10).await.unwrap_err();
    assert!(
        matches!(unknown, StoreError::UnknownApp(a) if a == app(404)),
        "{unknown:?}"
    );
}

/// A schema with every stat kind aggregated (defaults not zero), a stat
/// bound to an achievement's progress, and achievements that may be cleared.
pub const IMPORT_SCHEMA_JSON: &str = r#"{
  "app": { "name": "Imports", "allow_achievement_clear": true },
  "stats": [
    { "name": "Kills", "type": "int", "default": 10, "min": 0, "increment_only": true, "aggregated": true },
    { "name": "Distance", "type": "float", "default": 0.5, "aggregated": true },
    { "name": "Speed", "type": "avgrate", "window": 3600, "aggregated": true },
    { "name": "Feet", "type": "float", "min": 0 },
    { "name": "Plain", "type": "int" }
  ],
  "achievements": [
    { "name": "A", "display_name": { "english": "A" }, "description": { "english": "" } },
    { "name": "B", "display_name": { "english": "B" }, "description": { "english": "" } },
    { "name": "Far", "display_name": { "english": "Far" }, "description": { "english": "" },
      "progress": { "stat": "Feet", "max": 100 } },
    { "name": "Collector", "display_name": { "english": "Collector" }, "description": { "english": "" } }
  ]
}"#;

pub fn import_schema() -> Schema {
    schema_from(IMPORT_SCHEMA_JSON)
}

fn assert_no_history(stats: &[GlobalStat], context: &str) {
    for stat in stats {
        assert!(
            stat.history
                .iter()
                .all(|d| d.change == StatTotal::zero(stat.kind)),
            "{context}: {stat:?}"
        );
    }
}

/// Importing users gives back their progress exactly (every value bit for
/// bit, unlock times, progress, versions) and the global figures the same
/// progress has where it was stored, without history; a user already there,
/// an unknown app or a progress that does not fit is refused and writes
/// nothing; later stores continue from the imported values.
pub async fn import_user_copies_progress_exactly(store: &dyn Store) {
    let (source, target) = (app(7), app(8));
    for app in [source, target] {
        store.put_schema(app, import_schema()).await.expect("put");
    }
    let (one, top, half, steam) = (
        user(1),
        user(u64::MAX),
        user(1 << 63),
        user(76_561_197_960_265_728),
    );
    let steps = vec![
        request(
            source,
            one,
            "1a",
            vec![
                set("Kills", 15.0),
                set("Distance", -0.0),
                avg("Speed", 10.0, 30.0),
                unlock("A"),
                indicate("Collector", 3, 10),
            ],
            NOW,
        ),
        request(
            source,
            one,
            "1b",
            vec![set("Kills", 17.0), unlock("B")],
            NOW + 5,
        ),
        request(
            source,
            top,
            "ta",
            vec![set("Feet", 150.0), set("Distance", 2.25)],
            NOW + 1,
        ),
        request(
            source,
            half,
            "ha",
            vec![unlock("A"), set("Kills", 12.0)],
            NOW,
        ),
        request(
            source,
            steam,
            "sa",
            vec![set("Plain", 3.0), unlock("B")],
            NOW,
        ),
        request(source, steam, "sb", vec![clear("B")], NOW + 9),
    ];
    for step in steps {
        applied(store, step).await;
    }
    let scope = ResetScope::full(false);
    store
        .reset(source, half, scope, NOW, test_audit())
        .await
        .expect("reset");

    let users = store.users(source, None, 100).await.expect("users");
    assert_eq!(users, [one, steam, half, top]);
    for &id in &users {
        let progress = store.progress(source, id).await.expect("progress");
        store
            .import_user(target, id, &progress)
            .await
            .expect("import");
        let copied = store.progress(target, id).await.expect("progress");
        assert_same_progress(&copied, &progress, &format!("user {id}"));
    }
    let copied = store.progress(target, one).await.expect("progress");
    assert_eq!(copied.version, 2);
    assert_eq!(copied.achievements["B"].unlock_time, Some(NOW + 5));
    assert_eq!(copied.achievements["Collector"].progress, Some((3, 10)));
    assert_eq!(
        store
            .progress(target, top)
            .await
            .expect("progress")
            .achievements["Far"]
            .unlock_time,
        Some(NOW + 1)
    );
    assert_eq!(store.users(target, None, 100).await.expect("users"), users);
    let global = store.global_achievements(source).await.expect("global");
    assert_eq!(
        store.global_achievements(target).await.expect("global"),
        global
    );
    assert_eq!(global.users, 4);
    assert_eq!(users_of(store, target).await, 4);
    assert_eq!(totals(store, target).await, totals(store, source).await);
    assert_eq!(
        totals(store, target).await,
        recount_totals(store, target, &import_schema(), &ORDERED_IDS).await
    );
    let days = (utc_day(NOW) - 1, utc_day(NOW) + 1);
    let history = |app| {
        store.global_stats(
            app,
            GlobalStatsQuery {
                names: Vec::new(),
                history: Some(days),
            },
        )
    };
    assert_no_history(&history(target).await.expect("history"), "imported");
    assert!(
        history(source).await.expect("history").iter().any(|s| s
            .history
            .iter()
            .any(|d| d.change != StatTotal::zero(s.kind))),
        "the source has history"
    );

    // Refusals write nothing.
    let before = (
        store.global_achievements(target).await.expect("global"),
        totals(store, target).await,
    );
    let first = store.progress(source, one).await.expect("progress");
    match store.import_user(target, one, &first).await {
        Err(StoreError::AlreadyExists(what)) => assert!(what.contains("user 1 "), "{what}"),
        other => panic!("a second import of one user: {other:?}"),
    }
    let unknown = store.import_user(app(404), one, &first).await.unwrap_err();
    assert!(matches!(unknown, StoreError::UnknownApp(_)), "{unknown:?}");
    let newcomer = user(77);
    let mut misfits = Vec::new();
    misfits.push(UserProgress::default());
    let mut wrong_kind = first.clone();
    wrong_kind.stats.insert(
        ApiName::parse("Kills").expect("name"),
        StatValue::Float(1.0),
    );
    misfits.push(wrong_kind);
    let mut unknown_stat = first.clone();
    unknown_stat
        .stats
        .insert(ApiName::parse("Nope").expect("name"), StatValue::Int(1));
    misfits.push(unknown_stat);
    let mut unknown_achievement = first.clone();
    unknown_achievement.achievements.insert(
        ApiName::parse("Nope").expect("name"),
        first.achievements["A"].clone(),
    );
    misfits.push(unknown_achievement);
    for misfit in &misfits {
        match store.import_user(target, newcomer, misfit).await {
            Err(StoreError::InvalidImport(_)) => {}
            other => panic!("{misfit:?}: {other:?}"),
        }
    }
    assert_eq!(
        store.progress(target, newcomer).await.expect("progress"),
        UserProgress::default()
    );
    assert_eq!(
        (
            store.global_achievements(target).await.expect("global"),
            totals(store, target).await
        ),
        before
    );

    // Stores go on from the imported progress (increment-only included), and
    // the source's idempotency keys were not copied.
    let refused = request(target, one, "1a", vec![set("Kills", 16.0)], NOW + 20);
    assert!(matches!(
        store.store(refused).await.expect("store"),
        StoreReply::Refused(_)
    ));
    let (progress, _) = applied(
        store,
        request(target, one, "1b", vec![set("Kills", 18.0)], NOW + 21),
    )
    .await;
    assert_eq!(progress.version, 3);
    assert_eq!(progress.stats["Distance"], StatValue::Float(-0.0));
    let kills = |t: &BTreeMap<String, StatTotal>| t["Kills"];
    assert_eq!(
        kills(&totals(store, target).await),
        StatTotal::Int(18 + 10 + 10 + 10)
    );
}

/// Imported keys keep their hash, label, creation time and state, and their
/// id when it is free; a hash already there is refused; keys created later
/// get ids of their own.
pub async fn import_key_keeps_what_it_holds(store: &dyn Store) {
    let app7 = setup(store).await;
    let app3 = app(3);
    store
        .put_schema(app3, many_achievements_schema(1))
        .await
        .expect("put");
    let made = store
        .create_key(app7, "made here", "hash-made", NOW)
        .await
        .expect("create");
    assert_eq!(
        store.stored_keys(app7).await.expect("keys"),
        [StoredKey {
            record: made.clone(),
            secret_hash: "hash-made".into()
        }]
    );
    let old = StoredKey {
        record: crate::KeyRecord {
            id: 40,
            app: app3,
            label: "old".into(),
            created: NOW - 1_000,
            revoked: true,
        },
        secret_hash: "hash-old".into(),
    };
    assert_eq!(store.import_key(&old).await.expect("import"), old.record);
    let mut older = StoredKey {
        record: crate::KeyRecord {
            id: 40,
            label: "older, same id".into(),
            created: NOW - 2_000,
            revoked: false,
            ..old.record.clone()
        },
        secret_hash: "hash-older".into(),
    };
    let renumbered = store.import_key(&older).await.expect("import");
    assert!(
        ![40, made.id].contains(&renumbered.id),
        "a taken id is not reused: {renumbered:?}"
    );
    older.record.id = renumbered.id;
    assert_eq!(renumbered, older.record);

    let mut stored = store.stored_keys(app3).await.expect("keys");
    stored.sort_by_key(|k| k.record.id);
    let mut want = vec![old.clone(), older.clone()];
    want.sort_by_key(|k| k.record.id);
    assert_eq!(stored, want);
    let listed = store.keys(app3).await.expect("keys");
    assert_eq!(
        listed,
        want.iter().map(|k| k.record.clone()).collect::<Vec<_>>()
    );
    assert_eq!(store.find_key("hash-old").await.expect("find"), None);
    assert_eq!(
        store.find_key("hash-older").await.expect("find"),
        Some(older.record.clone())
    );

    let again = StoredKey {
        record: crate::KeyRecord {
            id: 99,
            app: app7,
            ..old.record.clone()
        },
        secret_hash: "hash-made".into(),
    };
    match store.import_key(&again).await {
        Err(StoreError::AlreadyExists(_)) => {}
        other => panic!("a hash already there: {other:?}"),
    }
    let mut nowhere = old.clone();
    nowhere.record.app = app(404);
    nowhere.secret_hash = "hash-nowhere".into();
    let unknown = store.import_key(&nowhere).await.unwrap_err();
    assert!(matches!(unknown, StoreError::UnknownApp(_)), "{unknown:?}");
    let unknown = store.stored_keys(app(404)).await.unwrap_err();
    assert!(matches!(unknown, StoreError::UnknownApp(_)), "{unknown:?}");

    let later = store
        .create_key(app7, "later", "hash-later", NOW + 1)
        .await
        .expect("a key created after imports gets a free id");
    assert!(![made.id, old.record.id, older.record.id].contains(&later.id));
    assert_eq!(store.stored_keys(app7).await.expect("keys").len(), 2);
}

/// The signing secret is imported into a store that has none, and only there.
pub async fn import_signing_secret_sets_only_a_missing_one(store: &dyn Store) {
    match store.import_signing_secret(&[]).await {
        Err(StoreError::InvalidImport(_)) => {}
        other => panic!("an empty secret: {other:?}"),
    }
    let secret = [7u8; 32];
    assert!(store.import_signing_secret(&secret).await.expect("import"));
    assert_eq!(store.signing_secret().await.expect("secret"), secret);
    assert!(store.import_signing_secret(&secret).await.expect("import"));
    assert!(
        !store
            .import_signing_secret(&[8u8; 32])
            .await
            .expect("import")
    );
    assert_eq!(store.signing_secret().await.expect("secret"), secret);
}

/// Generates one `#[tokio::test]` per conformance check for a backend.
///
/// `fresh` is an `async fn() -> (G, Box<dyn Store>)` opening an empty store
/// (`G` keeps its database alive); `reopen` an `async fn(&G) -> Box<dyn Store>`
/// opening the same database again. A check added to this module and listed
/// here runs on every backend.
#[macro_export]
macro_rules! conformance_suite {
    (fresh: $fresh:path, reopen: $reopen:path $(,)?) => {
        $crate::conformance_suite!(@each $fresh;
            schema_put_get_version,
            unknown_app_is_refused,
            never_written_user_has_version_zero,
            store_round_trips_every_value,
            refused_batch_writes_nothing,
            replay_returns_first_answer,
            reused_key_with_other_fingerprint_conflicts,
            stat_bound_achievement_unlocks,
            reset_clears_stats_and_keeps_counters,
            reset_of_never_written_user_writes_nothing,
            global_counters_match_a_recount,
            keys_create_find_revoke,
            signing_secret_is_stable,
            health_answers,
            schema_change_hides_what_it_no_longer_defines,
            aggregated_totals_match_a_recount,
            stat_history_is_per_utc_day,
            newly_aggregated_stat_is_counted,
            users_are_listed_in_steam_id_order,
            import_user_copies_progress_exactly,
            import_key_keeps_what_it_holds,
            import_signing_secret_sets_only_a_missing_one,
            a_reset_is_recorded_and_its_undo_restores_exactly,
            revocations_and_secret_rotation_are_shared,
            display_names_are_per_app_and_user,
        );

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_stores_all_apply() {
            let (_guard, store) = $fresh().await;
            $crate::conformance::concurrent_stores_all_apply(::std::sync::Arc::from(store)).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn acknowledged_writes_survive_reopen() {
            let (guard, store) = $fresh().await;
            $crate::conformance::acknowledged_writes_survive_reopen(store, || $reopen(&guard))
                .await;
        }
    };
    (@each $fresh:path; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let (_guard, store) = $fresh().await;
                $crate::conformance::$check(&*store).await;
            }
        )*
    };
}

/// The app's newest `limit` audit records.
async fn newest(store: &dyn Store, app: AppId, limit: usize) -> Vec<crate::AuditRecord> {
    store
        .audit_log(crate::AuditQuery {
            app: Some(app),
            before: None,
            limit,
        })
        .await
        .expect("audit")
}

async fn unlocks(store: &dyn Store, app: AppId) -> (u64, BTreeMap<String, u64>) {
    let g = store.global_achievements(app).await.expect("global");
    (g.users, g.unlocked)
}

/// Issue 12's audit log: a reset is recorded with the stored progress
/// before it, in the same transaction; its undo puts back exactly that
/// progress (as a new version) and the global figures it moved, once; an
/// undo that would lose later progress is refused and changes nothing.
pub async fn a_reset_is_recorded_and_its_undo_restores_exactly(store: &dyn Store) {
    let app = app(77);
    store
        .put_schema(app, aggregated_schema())
        .await
        .expect("put");
    let (p, q) = (user(1), user(2));
    for (who, kills, speed) in [(p, 40.0, 7.0), (q, 5.0, 1.0)] {
        store
            .store(request(
                app,
                who,
                "first",
                vec![
                    set("Kills", kills),
                    set("Distance", 0.1),
                    avg("Speed", speed, 3.0),
                    set("Plain", 3.0),
                    unlock("A"),
                ],
                NOW,
            ))
            .await
            .expect("store");
    }
    let before_totals = totals(store, app).await;
    let before_unlocks = unlocks(store, app).await;
    let before = store.progress(app, p).await.expect("read");
    let after = store
        .reset(app, p, ResetScope::full(true), NOW, test_audit())
        .await
        .expect("reset");
    assert_eq!(after.version, before.version + 1);
    assert_ne!(totals(store, app).await, before_totals);
    assert_eq!(unlocks(store, app).await.1.get("A"), Some(&1));

    let log = newest(store, app, 10).await;
    assert_eq!(log.len(), 1, "{log:?}");
    let record = &log[0];
    assert_eq!(
        (
            record.action.as_str(),
            record.app,
            record.user,
            record.actor.as_str()
        ),
        (crate::audit::action::RESET, Some(app), Some(p), "test")
    );
    let (recorded, after_version) = crate::audit::reset_before(&record.detail).expect("detail");
    assert_eq!(after_version, after.version);
    assert_eq!(recorded.version, before.version);

    let undone = store
        .undo_reset(
            record.id,
            NOW,
            AuditDraft::new("admin", "127.0.0.1", action::UNDO_RESET),
        )
        .await
        .expect("undo");
    assert_eq!((undone.app, undone.user), (app, p));
    let restored = undone.progress;
    assert_eq!(restored.version, after.version + 1);
    assert_eq!(restored.achievements, before.achievements);
    for (name, value) in &before.stats {
        let back = restored.stats[name];
        match (value, back) {
            (StatValue::Float(a), StatValue::Float(b)) => assert_eq!(a.to_bits(), b.to_bits()),
            (
                StatValue::AvgRate {
                    count: c,
                    seconds: s,
                },
                StatValue::AvgRate { count, seconds },
            ) => {
                assert_eq!(
                    (c.to_bits(), s.to_bits()),
                    (count.to_bits(), seconds.to_bits())
                )
            }
            (a, b) => assert_eq!(*a, b, "{name}"),
        }
    }
    assert_eq!(store.progress(app, p).await.expect("read"), restored);
    assert_eq!(totals(store, app).await, before_totals, "figures put back");
    assert_eq!(unlocks(store, app).await, before_unlocks);

    // Once only.
    match store.undo_reset(record.id, NOW, test_audit()).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("already undone"), "{m}"),
        other => panic!("a second undo: {other:?}"),
    }
    let log = newest(store, app, 10).await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].action, action::UNDO_RESET);
    assert_eq!(log[1].undone_by, Some(log[0].id));
    // Paging: before the newest, the reset alone.
    let page = store
        .audit_log(crate::AuditQuery {
            app: None,
            before: Some(log[0].id),
            limit: 1,
        })
        .await
        .expect("page");
    assert_eq!(
        page.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![log[1].id]
    );

    // A reset that removes nothing (the user was just reset) and a reset of
    // a user never written are not recorded: resetting again and again
    // cannot grow the log.
    for who in [p, p, user(99)] {
        store
            .reset(app, who, ResetScope::full(true), NOW, test_audit())
            .await
            .expect("reset");
    }
    assert_eq!(
        newest(store, app, 10).await.len(),
        3,
        "only the first of the three resets removed something"
    );
    store
        .store(request(app, p, "again", vec![set("Kills", 41.0)], NOW))
        .await
        .expect("store");

    // A reset followed by play cannot be undone: that play would be lost.
    store
        .reset(app, q, ResetScope::full(false), NOW, test_audit())
        .await
        .expect("reset");
    store
        .store(request(app, q, "later", vec![set("Kills", 12.0)], NOW))
        .await
        .expect("store");
    let q_now = store.progress(app, q).await.expect("read");
    let figures_now = totals(store, app).await;
    let reset_q = newest(store, app, 1).await[0].id;
    match store.undo_reset(reset_q, NOW, test_audit()).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("written after"), "{m}"),
        other => panic!("undo after play: {other:?}"),
    }
    assert_eq!(store.progress(app, q).await.expect("read"), q_now);
    assert_eq!(totals(store, app).await, figures_now);
    match store.undo_reset(9_999_999, NOW, test_audit()).await {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("undo of nothing: {other:?}"),
    }
    let not_a_reset = store
        .record_audit(AuditDraft::new("admin", "local", action::KEY_CREATE).about(app, None))
        .await
        .expect("record");
    match store.undo_reset(not_a_reset, NOW, test_audit()).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("not a reset"), "{m}"),
        other => panic!("undo of a key creation: {other:?}"),
    }
}

/// A display name is kept per app and user, replaced by the next one (any
/// Unicode text the caller validated), and removed with `None`.
pub async fn display_names_are_per_app_and_user(store: &dyn Store) {
    let (a, b) = (app(81), app(82));
    assert_eq!(store.display_name(a, user(1)).await.expect("read"), None);
    store
        .set_display_name(a, user(1), Some("Gordon".into()))
        .await
        .expect("set");
    store
        .set_display_name(b, user(1), Some("Ünïcødé 名前 🎮".into()))
        .await
        .expect("set");
    store
        .set_display_name(a, user(1), Some("Alyx".into()))
        .await
        .expect("replace");
    assert_eq!(
        store
            .display_name(a, user(1))
            .await
            .expect("read")
            .as_deref(),
        Some("Alyx")
    );
    assert_eq!(
        store
            .display_name(b, user(1))
            .await
            .expect("read")
            .as_deref(),
        Some("Ünïcødé 名前 🎮")
    );
    assert_eq!(store.display_name(a, user(2)).await.expect("read"), None);
    store
        .set_display_name(a, user(1), None)
        .await
        .expect("remove");
    assert_eq!(store.display_name(a, user(1)).await.expect("read"), None);
    assert!(
        store
            .display_name(b, user(1))
            .await
            .expect("read")
            .is_some()
    );
}

/// Revocations keep the latest "not before" per app and user, revoked keys
/// are listed, and a rotation keeps the old secret as the previous one.
pub async fn revocations_and_secret_rotation_are_shared(store: &dyn Store) {
    let app = app(78);
    store.put_schema(app, test_schema()).await.expect("put");
    let revoke = |user, at| TokenRevocation {
        app,
        user,
        not_before_ms: at,
    };
    for r in [
        revoke(Some(user(1)), 2_000),
        revoke(Some(user(1)), 1_000),
        revoke(None, 500),
    ] {
        store
            .revoke_tokens(r, AuditDraft::new("admin", "local", action::TOKENS_REVOKE))
            .await
            .expect("revoke");
    }
    let mut listed = store.token_revocations().await.expect("list");
    listed.revocations.sort_by_key(|r| r.not_before_ms);
    assert_eq!(
        listed.revocations,
        vec![revoke(None, 500), revoke(Some(user(1)), 2_000)]
    );
    let key = store
        .create_key(app, "k", &"c".repeat(64), NOW)
        .await
        .expect("key");
    assert!(
        !store
            .token_revocations()
            .await
            .expect("list")
            .revoked_keys
            .contains(&key.id)
    );
    assert!(store.revoke_key(app, key.id).await.expect("revoke"));
    assert!(
        store
            .token_revocations()
            .await
            .expect("list")
            .revoked_keys
            .contains(&key.id)
    );

    let first = store.signing_secrets().await.expect("secrets");
    store.rotate_signing_secret(NOW + 60).await.expect("rotate");
    let rotated = store.signing_secrets().await.expect("secrets");
    assert_ne!(rotated.current, first.current);
    assert_eq!(rotated.previous, Some((first.current.clone(), NOW + 60)));
    assert_eq!(
        store.signing_secret().await.expect("secret"),
        rotated.current
    );
    let audited = newest(store, app, 10).await;
    assert_eq!(audited.len(), 3, "each revocation is recorded");
}

/// Issue 12's repair migrations, part 1: app `app` with the aggregated
/// schema, and user 1 with a rate of 3/s on `Speed`. The caller then writes
/// what an older build left (user 2 with a rate of 1e40, totals and history
/// not finite) behind the store's back, and reopens it.
pub async fn non_finite_repair_setup(store: &dyn Store, app: AppId) {
    store
        .put_schema(app, aggregated_schema())
        .await
        .expect("put");
    store
        .store(request(
            app,
            user(1),
            "fine",
            vec![avg("Speed", 30.0, 10.0)],
            NOW,
        ))
        .await
        .expect("store");
}

/// Part 2, on the reopened (migrated) store: user 2's value went back to its
/// default, the total is user 1's rate only, the history is finite, and a
/// store that moves the total works again and counts exactly.
pub async fn non_finite_repair_check(store: &dyn Store, app: AppId) {
    let speed = |stats: Vec<GlobalStat>| {
        stats
            .into_iter()
            .find(|g| g.name == "Speed")
            .expect("Speed is aggregated")
    };
    let day = crate::utc_day(NOW);
    let global = speed(
        store
            .global_stats(
                app,
                GlobalStatsQuery {
                    names: vec![],
                    history: Some((day, day)),
                },
            )
            .await
            .expect("global stats"),
    );
    assert_eq!(global.total, StatTotal::Float(3.0), "user 1's rate only");
    assert!(
        global
            .history
            .iter()
            .all(|d| matches!(d.change, StatTotal::Float(f) if f.is_finite())),
        "{global:?}"
    );
    let progress = store.progress(app, user(2)).await.expect("progress");
    assert!(progress.stats.is_empty(), "{progress:?}");
    store
        .store(request(
            app,
            user(2),
            "after",
            vec![avg("Speed", 10.0, 10.0)],
            NOW,
        ))
        .await
        .expect("store after the repair");
    let global = speed(
        store
            .global_stats(app, GlobalStatsQuery::default())
            .await
            .expect("global stats"),
    );
    assert_eq!(global.total, StatTotal::Float(4.0));
}
