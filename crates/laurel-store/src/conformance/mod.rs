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
//!
//! One file per area; this one has the fixtures and helpers they share.

mod audit;
mod durability;
mod fold;
mod global;
mod idempotency;
mod keys;
mod leaderboard_log;
mod leaderboard_ranks;
mod leaderboards;
mod migrate;
mod profiles;
mod progress;
mod reset;

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
        leaderboards: Vec::new(),
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

fn schema_from(json: &str) -> Schema {
    let doc = SchemaDoc::from_json(json).expect("schema parses");
    Schema::from_doc(&doc).expect("schema is valid")
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

async fn unlocks(store: &dyn Store, app: AppId) -> (u64, BTreeMap<String, u64>) {
    let g = store.global_achievements(app).await.expect("global");
    (g.users, g.unlocked)
}

pub use audit::*;
pub use durability::*;
pub use fold::*;
pub use global::*;
pub use idempotency::*;
pub use keys::*;
pub use leaderboard_log::*;
pub use leaderboard_ranks::*;
pub use leaderboards::*;
pub use migrate::*;
pub use profiles::*;
pub use progress::*;
pub use reset::*;

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
            schema_boards_exist_with_their_settings,
            board_limit_is_enforced,
            uploads_keep_best_or_force_update,
            upload_details_are_kept_exactly,
            deleted_entries_leave_tombstones,
            board_reset_and_delete,
            periods_keep_their_own_entries,
            upload_replays_answer_the_first_answer,
            friends_lists_are_replaced_and_sorted,
            board_entries_round_trip_through_import,
            ranks_follow_scores_and_ties,
            rank_indexes_of_two_nodes_agree,
            rank_indexes_stay_within_their_budget,
        );

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_uploads_of_one_entry_and_one_key_apply_once() {
            let (_guard, store) = $fresh().await;
            $crate::conformance::concurrent_uploads_of_one_entry_and_one_key_apply_once(::std::sync::Arc::from(store)).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn shared_catch_ups_miss_no_acknowledged_upload() {
            let (_guard, store) = $fresh().await;
            $crate::conformance::shared_catch_ups_miss_no_acknowledged_upload(::std::sync::Arc::from(store)).await;
        }

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

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn leaderboard_entries_survive_reopen() {
            let (guard, store) = $fresh().await;
            $crate::conformance::leaderboard_entries_survive_reopen(store, || $reopen(&guard))
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
