//! Checks of `crate::store_groups` that need a store and its pooled
//! connections (a module of its own: `store_groups` does not depend on the
//! crate root).

use laurel_core::{AppId, Fingerprint, UserProgress};
use laurel_store::conformance::{
    NOW, aggregated_schema, app, clear, request, set, test_schema, unlock, user,
};
use laurel_store::{GlobalStatsQuery, Store, StoreReply, StoreRequest, utc_day};
use tokio_postgres::NoTls;

use crate::group_queue::{Stage, apply};
use crate::store_groups::{Stores, store_group};
use crate::{PostgresOptions, PostgresStore};

/// The stores of the group check, for an app of [`test_schema`] (`a`) and
/// one of [`aggregated_schema`] (`b`): several stores of one user (each on
/// what the one before left), refusals (one of them the only store of a new
/// user), a replay and a conflicting reuse of a key stored before, a clear
/// after an unlock, an unknown app.
fn steps(a: AppId, b: AppId) -> Vec<StoreRequest> {
    let mut conflicting = request(a, user(1), "before", vec![set("Kills", 50.0)], NOW);
    conflicting.fingerprint = Fingerprint::from_stored("another request".into());
    vec![
        request(a, user(1), "1a", vec![unlock("A"), set("Kills", 5.0)], NOW),
        request(a, user(1), "1b", vec![set("Kills", 3.0)], NOW + 1),
        request(
            a,
            user(1),
            "1c",
            vec![set("Kills", 9.0), unlock("B"), set("Feet", 100.0)],
            NOW + 2,
        ),
        request(a, user(1), "before", vec![set("Kills", 1.0)], NOW + 3),
        request(
            b,
            user(1),
            "b1",
            vec![set("Kills", 20.0), set("Distance", 1.5)],
            NOW,
        ),
        request(b, user(3), "b3", vec![set("Kills", -1.0)], NOW),
        request(app(999), user(1), "x", vec![set("Kills", 1.0)], NOW),
        request(a, user(2), "2a", vec![unlock("C")], NOW),
        request(b, user(2), "b2", vec![set("Kills", 7.0)], NOW + 86_400),
        request(a, user(2), "2b", vec![clear("C"), unlock("A")], NOW + 4),
        conflicting,
        request(a, user(1), "1d", vec![set("Kills", 10.0)], NOW + 5),
    ]
}

/// What an app holds afterwards, to compare two apps by.
async fn figures(store: &dyn Store, a: AppId, b: AppId) -> String {
    let mut out = String::new();
    for (app, users) in [(a, [1u64, 2, 3]), (b, [1, 2, 3])] {
        for id in users {
            let progress: UserProgress = store.progress(app, user(id)).await.expect("progress");
            out.push_str(&format!("{id}: {progress:?}\n"));
        }
        let global = store.global_achievements(app).await.expect("global");
        let stats = store
            .global_stats(
                app,
                GlobalStatsQuery {
                    names: Vec::new(),
                    history: Some((utc_day(NOW) - 1, utc_day(NOW) + 2)),
                },
            )
            .await
            .expect("global stats");
        out.push_str(&format!("{global:?}\n{stats:?}\n"));
    }
    out
}

/// One group of stores answers each store as the same stores applied one
/// after the other do, and leaves the same progress and global figures; a
/// user none of whose stores applied leaves no row behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_answers_each_store_as_in_sequence() {
    let url = laurel_testkit::postgres::PostgresServer::shared().database();
    let store = PostgresStore::open(PostgresOptions::new(url.clone()))
        .await
        .expect("open");
    let (seq_a, seq_b, group_a, group_b) = (app(11), app(12), app(21), app(22));
    for (a, b) in [(seq_a, seq_b), (group_a, group_b)] {
        store.put_schema(a, test_schema()).await.expect("schema");
        store
            .put_schema(b, aggregated_schema())
            .await
            .expect("schema");
        let before = request(a, user(1), "before", vec![set("Kills", 1.0)], NOW - 10);
        store.store(before).await.expect("before");
    }

    let mut one_by_one = Vec::new();
    for step in steps(seq_a, seq_b) {
        one_by_one.push(format!("{:?}", store.store(step).await));
    }
    let group = steps(group_a, group_b);
    let mut lease = store.inner.lease().await.expect("lease");
    let together = store_group(
        lease.client(),
        &store.inner.schemas,
        &group,
        5,
        &mut Stage::free(),
    )
    .await
    .expect("the group");
    drop(lease);
    let together: Vec<String> = together.iter().map(|r| format!("{r:?}")).collect();
    assert_eq!(together, one_by_one);
    assert!(
        matches!(&together[..], [_, refused, ..] if refused.contains("Refused")),
        "{together:?}"
    );
    assert!(together[3].contains("replayed: true"), "{}", together[3]);
    assert!(together[6].contains("UnknownApp"), "{}", together[6]);
    assert!(
        together[10].contains("IdempotencyConflict"),
        "{}",
        together[10]
    );
    assert_eq!(
        figures(&store, seq_a, seq_b).await,
        figures(&store, group_a, group_b).await
    );

    let (client, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    let placeholders: i64 = client
        .query_one("SELECT count(*) FROM users WHERE version = 0", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(placeholders, 0);
    let kept = client
        .query_one(
            "SELECT count(*) FROM users WHERE app_id = $1 AND steam_id = $2",
            &[&22i64, &(user(3).get() as i64)],
        )
        .await
        .expect("count")
        .get::<_, i64>(0);
    assert_eq!(kept, 0, "a user whose only store was refused has no row");
}

/// A group whose writes fail as a whole (here a version that overflows
/// BIGINT, which the database refuses) is applied again one store at a
/// time: the other stores of the group are applied, and only the store
/// that cannot be written fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_group_is_applied_one_store_at_a_time() {
    let url = laurel_testkit::postgres::PostgresServer::shared().database();
    let store = PostgresStore::open(PostgresOptions::new(url.clone()))
        .await
        .expect("open");
    let a = app(31);
    store.put_schema(a, test_schema()).await.expect("schema");
    store
        .store(request(a, user(1), "k0", vec![set("Kills", 1.0)], NOW))
        .await
        .expect("first store");
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
        .execute(
            "UPDATE users SET version = 9223372036854775807 WHERE app_id = 31 AND steam_id = $1",
            &[&(user(1).get() as i64)],
        )
        .await
        .expect("push the version to the end");

    let group: Vec<StoreRequest> = (1..=6u64)
        .map(|id| request(a, user(id), &format!("k{id}"), vec![set("Kills", 2.0)], NOW))
        .collect();
    let answers = apply::<Stores>(&store.inner, &group, &mut Stage::free()).await;
    assert!(answers[0].is_err(), "{:?}", answers[0]);
    for (i, answer) in answers.iter().enumerate().skip(1) {
        assert!(
            matches!(
                answer,
                Ok(StoreReply::Applied {
                    replayed: false,
                    ..
                })
            ),
            "store {i}: {answer:?}"
        );
    }
    for id in 2..=6u64 {
        let progress = store.progress(a, user(id)).await.expect("progress");
        assert_eq!(progress.version, 1, "user {id}");
    }
}

/// Stores of one user sent at once, each key three times, through the
/// node's queue (so most land in groups, several of the user's at a time,
/// and a key's copies meet in one group's queue): each key is applied
/// exactly once, and the user's version counts the keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_user_s_stores_sent_at_once_apply_once_per_key() {
    const KEYS: u64 = 40;
    let url = laurel_testkit::postgres::PostgresServer::shared().database();
    let store = std::sync::Arc::new(
        PostgresStore::open(PostgresOptions::new(url))
            .await
            .expect("open"),
    );
    let a = app(41);
    store.put_schema(a, test_schema()).await.expect("schema");
    let mut tasks = Vec::new();
    for copy in 0..3 {
        for k in 0..KEYS {
            let store = std::sync::Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                let value = (k * 10) as f64;
                let r = request(
                    a,
                    user(1),
                    &format!("hot-{k}"),
                    vec![set("Score", value)],
                    NOW,
                );
                (k, copy, store.store(r).await)
            }));
        }
    }
    let mut firsts = vec![0; KEYS as usize];
    for task in tasks {
        let (k, copy, answer) = task.await.expect("task");
        match answer {
            Ok(StoreReply::Applied { replayed, .. }) => {
                if !replayed {
                    firsts[k as usize] += 1;
                }
            }
            other => panic!("key {k}, copy {copy}: {other:?}"),
        }
    }
    assert!(firsts.iter().all(|&n| n == 1), "{firsts:?}");
    let progress = store.progress(a, user(1)).await.expect("progress");
    assert_eq!(progress.version, KEYS);
}
