use serde_json::{Value, json};

use crate::helpers::*;

fn first_store() -> Value {
    json!({
        "stats": [
            {"name": "NumGames", "value": 3},
            {"name": "FeetTraveled", "value": 6000.5},
            {"name": "AverageSpeed", "count": 300, "session_seconds": 60}
        ],
        "unlock": ["ACH_WIN_ONE_GAME"],
        "progress": [{"name": "ACH_WIN_100_GAMES", "current": 3, "max": 100}]
    })
}

#[tokio::test]
async fn a_user_never_written_reads_as_defaults() {
    let app = spawn().await;
    let t = app.token(480, A).await;
    let r = app.progress(480, A, &t).await;
    assert_eq!(r.code(), (200, 1));
    assert_eq!(r.json["version"], 0);
    insta::assert_json_snapshot!(r.json);
}

#[tokio::test]
async fn a_store_applies_and_answers_the_new_progress() {
    let app = spawn().await;
    let t = app.token(480, A).await;
    let r = app.store(480, A, &t, "k1", &first_store()).await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    assert_eq!(r.json["replayed"], false);
    assert_eq!(
        r.json["newly_unlocked"],
        json!(["ACH_WIN_ONE_GAME", "ACH_TRAVEL_FAR_ACCUM"])
    );
    insta::assert_json_snapshot!(redacted(r.json.clone()));
    // The read answers the same progress (served from the snapshot cache).
    let read = app.progress(480, A, &t).await;
    assert_eq!(read.json, r.json["progress"]);
    assert_eq!(stat(&read.json, "AverageSpeed"), Some(5.0));
}

#[tokio::test]
async fn the_same_idempotency_key_replays_the_first_answer() {
    let app = spawn().await;
    let t = app.token(480, A).await;
    let first = app.store(480, A, &t, "once", &first_store()).await;
    assert_eq!(first.status, 200);
    let again = app.store(480, A, &t, "once", &first_store()).await;
    assert_eq!(again.code(), (200, 1), "{}", again.json);
    assert_eq!(again.json["replayed"], true);
    assert_eq!(again.json["progress"], first.json["progress"]);
    assert_eq!(again.json["newly_unlocked"], first.json["newly_unlocked"]);
    assert_eq!(app.progress(480, A, &t).await.json["version"], 1);
    // The same key with another body is a conflict, and changes nothing.
    let before = app.snapshot(480, A).await;
    let r = app
        .store(
            480,
            A,
            &t,
            "once",
            &json!({"unlock": ["ACH_WIN_100_GAMES"]}),
        )
        .await;
    assert_eq!(r.code(), (409, 29), "{}", r.json);
    assert_eq!(app.snapshot(480, A).await, before);
}

#[tokio::test]
async fn a_user_token_cannot_write_another_user() {
    let app = spawn().await;
    let (ta, tb) = (app.token(480, A).await, app.token(480, B).await);
    assert_eq!(
        app.store(480, B, &tb, "b", &first_store()).await.status,
        200
    );
    let before = app.snapshot(480, B).await;
    let r = app
        .store(
            480,
            B,
            &ta,
            "a",
            &json!({"stats": [{"name": "NumGames", "value": 50}]}),
        )
        .await;
    assert_eq!(r.code(), (403, 15), "{}", r.json);
    let r = app
        .post(
            &format!("/api/v1/apps/480/users/{B}/reset"),
            Some(&ta),
            &json!({"achievements": true}),
        )
        .await;
    assert_eq!(r.code(), (403, 15), "{}", r.json);
    assert_eq!(app.snapshot(480, B).await, before);
}

#[tokio::test]
async fn reading_other_users_follows_public_progress() {
    let app = spawn().await;
    let (ta, tb) = (app.token(480, A).await, app.token(480, B).await);
    // The demo app has public_progress on.
    let r = app.progress(480, B, &ta).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["steam_id"], B);

    assert_eq!(app.put_schema(481, PRIVATE_SCHEMA).await.status, 200);
    let key = app.create_key(481).await;
    let (pa, pb) = (
        app.session(481, A, &key).await,
        app.session(481, B, &key).await,
    );
    assert_eq!(app.progress(481, A, &pa).await.status, 200);
    assert_eq!(app.progress(481, B, &pa).await.code(), (403, 15));
    assert_eq!(app.progress(481, A, &pb).await.code(), (403, 15));
    // A server key reads anyone of its app, and nobody of another app.
    assert_eq!(app.progress(481, B, &key).await.status, 200);
    assert_eq!(app.progress(480, B, &key).await.code(), (403, 15));
    let _ = (ta, tb);
}

#[tokio::test]
async fn server_only_stats_need_a_server_key() {
    let app = spawn().await;
    assert_eq!(app.put_schema(481, PRIVATE_SCHEMA).await.status, 200);
    let key = app.create_key(481).await;
    let t = app.session(481, A, &key).await;
    let rank = json!({"stats": [{"name": "Rank", "value": 7}]});
    let before = app.snapshot(481, A).await;
    let r = app.store(481, A, &t, "u1", &rank).await;
    assert_eq!(r.code(), (403, 15), "{}", r.json);
    assert_eq!(r.json["details"][0]["rule"], "server_only_stat");
    assert_eq!(app.snapshot(481, A).await, before);
    let r = app.store(481, A, &key, "s1", &rank).await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    assert_eq!(stat(&r.json["progress"], "Rank"), Some(7.0));
}

#[tokio::test]
async fn resets_own_progress() {
    let app = spawn().await;
    let t = app.token(480, A).await;
    assert_eq!(app.store(480, A, &t, "k", &first_store()).await.status, 200);
    let reset = format!("/api/v1/apps/480/users/{A}/reset");
    // No body at all means `{}`: stats only.
    let r = app.send("POST", &reset, Some(&t), &[], "").await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    assert_eq!(stat(&r.json, "NumGames"), Some(0.0));
    assert_eq!(
        achievement(&r.json, "ACH_WIN_ONE_GAME").unwrap()["unlocked"],
        true
    );
    assert_eq!(app.progress(480, A, &t).await.json, r.json);
    let r = app
        .post(&reset, Some(&t), &json!({"achievements": true}))
        .await;
    assert_eq!(
        achievement(&r.json, "ACH_WIN_ONE_GAME").unwrap()["unlocked"],
        false
    );
    assert_eq!(r.json["version"], 3);
    assert_eq!(app.progress(480, A, &t).await.json, r.json);
}

#[tokio::test]
async fn global_achievements_count_users() {
    let app = spawn().await;
    let path = "/api/v1/apps/480/global/achievements";
    let r = app.get(path, None).await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    assert_eq!(r.json["users"], 0);
    assert!(
        r.json["achievements"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["percent"] == 0.0)
    );
    let (ta, tb) = (app.token(480, A).await, app.token(480, B).await);
    assert_eq!(
        app.store(480, A, &ta, "a", &first_store()).await.status,
        200
    );
    assert_eq!(
        app.store(
            480,
            B,
            &tb,
            "b",
            &json!({"stats": [{"name": "NumGames", "value": 1}]})
        )
        .await
        .status,
        200
    );
    let r = app.get(path, Some(&ta)).await;
    insta::assert_json_snapshot!(r.json);
}

#[tokio::test]
async fn the_schema_reads_back_as_a_document() {
    let app = spawn().await;
    let r = app.get("/api/v1/apps/480/schema", None).await;
    assert_eq!(r.code(), (200, 1));
    insta::assert_json_snapshot!(r.json);
}

#[tokio::test]
async fn a_schema_change_invalidates_cached_progress() {
    let app = spawn().await;
    let t = app.token(480, A).await;
    assert_eq!(app.store(480, A, &t, "k", &first_store()).await.status, 200);
    let cached = app.progress(480, A, &t).await.json;
    assert_eq!(cached["schema_version"], 1);
    // The demo schema plus one stat.
    let mut doc: Value = app.get("/api/v1/apps/480/schema", None).await.json["schema"].clone();
    doc["stats"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "Deaths", "type": "int", "default": 4}));
    let r = app.put_schema(480, &doc.to_string()).await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    let fresh = app.progress(480, A, &t).await.json;
    assert_eq!(fresh["schema_version"], 2);
    assert_eq!(stat(&fresh, "Deaths"), Some(4.0));
    assert_eq!(stat(&fresh, "NumGames"), Some(3.0));
}

#[tokio::test]
async fn everything_works_with_the_cache_off() {
    let app = spawn_with(|c| c.progress_cache = false).await;
    assert!(app.state.progress_cache().is_none());
    let t = app.token(480, A).await;
    assert_eq!(app.progress(480, A, &t).await.json["version"], 0);
    let r = app.store(480, A, &t, "k", &first_store()).await;
    assert_eq!(r.status, 200);
    assert_eq!(app.progress(480, A, &t).await.json, r.json["progress"]);
    let mut doc: Value = app.get("/api/v1/apps/480/schema", None).await.json["schema"].clone();
    doc["app"]["public_progress"] = json!(false);
    assert_eq!(app.put_schema(480, &doc.to_string()).await.status, 200);
    let tb = app.token(480, B).await;
    assert_eq!(app.progress(480, A, &tb).await.code(), (403, 15));
}

#[tokio::test]
async fn hot_reads_come_from_the_cache() {
    let app = spawn().await;
    let t = app.token(480, A).await;
    let first = app.progress(480, A, &t).await;
    let cache = app.state.progress_cache().expect("cache on by default");
    // A user never written costs the cache nothing (issue 12): anyone who
    // may read others could otherwise fill it with made-up ids.
    assert_eq!(cache.len(), 0);
    assert_eq!(app.progress(480, A, &t).await.json, first.json);
    assert_eq!(app.store(480, A, &t, "k", &first_store()).await.status, 200);
    assert_eq!(cache.len(), 1);
    assert!(cache.bytes() > 0);
    assert_eq!(app.progress(480, A, &t).await.json["version"], 1);
}

#[tokio::test]
async fn global_stats_total_aggregated_stats_with_history() {
    let app = spawn().await;
    let t = app.token(480, A).await;
    assert_eq!(
        app.store(480, A, &t, "k1", &first_store()).await.status,
        200
    );
    let tb = app.token(480, B).await;
    let r = app
        .store(
            480,
            B,
            &tb,
            "k1",
            &json!({"stats": [{"name": "NumGames", "value": 4}]}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = app.get("/api/v1/apps/480/global/stats", Some(&t)).await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    insta::assert_json_snapshot!(r.json);
    let r = app
        .get(
            "/api/v1/apps/480/global/stats?name=NumGames&days=2",
            Some(&t),
        )
        .await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    let stats = r.json["stats"].as_array().expect("stats");
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0]["total"], 7);
    let history = stats[0]["history"].as_array().expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["change"], 0);
    assert_eq!(history[1]["change"], 7);
    assert_eq!(
        history[1]["date"].as_i64().unwrap() - history[0]["date"].as_i64().unwrap(),
        86_400
    );
    // Precise refusals.
    for (query, needle) in [
        (
            "?name=MaxFeetTraveled&name=Nope",
            "2 name(s) are not aggregated stats",
        ),
        ("?days=61", "days must be 0..=60"),
        ("?days=-1", "days must be"),
        ("?day=1", "unknown or repeated query parameter"),
        ("?days=1&days=2", "unknown or repeated query parameter"),
    ] {
        let r = app
            .get(&format!("/api/v1/apps/480/global/stats{query}"), Some(&t))
            .await;
        assert_eq!(r.code(), (400, 8), "{query}: {}", r.json);
        assert!(r.error().contains(needle), "{query}: {}", r.json);
    }
    let r = app
        .get(
            "/api/v1/apps/480/global/stats?name=MaxFeetTraveled",
            Some(&t),
        )
        .await;
    assert_eq!(r.json["details"][0]["location"], "name[0]");
    // Another app's credential may not read them.
    app.put_schema(7, PRIVATE_SCHEMA).await;
    let t7 = app.token(7, A).await;
    let r = app.get("/api/v1/apps/480/global/stats", Some(&t7)).await;
    assert_eq!(r.code(), (403, 15));
}
