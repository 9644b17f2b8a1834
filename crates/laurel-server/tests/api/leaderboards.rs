//! Leaderboards in the client API: every route's answer, Steam's upload
//! and download rules (ties, KeepBest/ForceUpdate, ranges, around-user
//! windows, friends, for-users), periods, moderation with its audit
//! records, idempotent uploads, find-or-create rules, and bad input with
//! its exact status and EResult.

use serde_json::{Value, json};

use crate::helpers::*;

/// App 481: clients may create boards; a daily board and a trusted one.
const BOARDS_SCHEMA: &str = r#"{
  "app": {"name": "Boards", "allow_client_leaderboard_create": true},
  "leaderboards": [
    {"name": "Daily Dash", "sort": "descending", "period": "daily"},
    {"name": "Server Only", "sort": "descending", "writes": "trusted"}
  ]
}"#;

fn lb(app: u32) -> String {
    format!("/api/v1/apps/{app}/leaderboards")
}

/// The id of the board `name` of `app`.
async fn board_id(app: &TestApp, app_id: u32, name: &str, auth: &str) -> u64 {
    let q: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
    let r = app
        .get(&format!("{}/find?name={q}", lb(app_id)), Some(auth))
        .await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    r.json["leaderboard"]["id"].as_u64().unwrap()
}

async fn upload(
    app: &TestApp,
    app_id: u32,
    board: u64,
    user: &str,
    auth: &str,
    body: Value,
) -> Reply {
    app.post(
        &format!("{}/{board}/users/{user}/score", lb(app_id)),
        Some(auth),
        &body,
    )
    .await
}

async fn entries(app: &TestApp, app_id: u32, board: u64, query: &str, auth: &str) -> Reply {
    app.get(
        &format!("{}/{board}/entries?{query}", lb(app_id)),
        Some(auth),
    )
    .await
}

/// `(steam_id, rank, score)` of each entry.
fn rows(r: &Reply) -> Vec<(String, u64, i64)> {
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    r.json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["steam_id"].as_str().unwrap().to_owned(),
                e["rank"].as_u64().unwrap(),
                e["score"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn user(n: u64) -> String {
    (76_561_197_960_300_000u64 + n).to_string()
}

#[tokio::test]
async fn list_find_and_the_demo_boards() {
    let app = spawn().await;
    let t = app.token(480, A).await;
    let r = app.get(&lb(480), Some(&t)).await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    let names: Vec<&str> = r.json["leaderboards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Feet Traveled") && names.contains(&"Quickest Win"),
        "{names:?}"
    );
    // Names compare without case; the board keeps its spelling.
    let r = app
        .get(&format!("{}/find?name=quickest%20WIN", lb(480)), Some(&t))
        .await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    let board = &r.json["leaderboard"];
    assert_eq!(r.json["created"], false);
    assert_eq!(board["name"], "Quickest Win");
    assert_eq!(board["sort"], "ascending");
    assert_eq!(board["display"], "seconds");
    assert_eq!(board["writes"], "client");
    assert_eq!(board["period"], "none");
    assert_eq!(board["entry_count"], 0);
    assert!(board["id"].as_u64().unwrap() > 0);
    // Unknown name: 404 FileNotFound; no credential: 401.
    let r = app
        .get(&format!("{}/find?name=Nope", lb(480)), Some(&t))
        .await;
    assert_eq!(r.code(), (404, 9), "{}", r.json);
    let r = app.get(&lb(480), None).await;
    assert_eq!(r.code(), (401, 21), "{}", r.json);
    // A token of another app.
    app.put_schema(481, BOARDS_SCHEMA).await;
    let t481 = app.token(481, A).await;
    let r = app.get(&lb(480), Some(&t481)).await;
    assert_eq!(r.code(), (403, 15), "{}", r.json);
}

#[tokio::test]
async fn uploads_rank_ties_first_come_and_keep_best() {
    let app = spawn().await;
    let key = app.create_key(480).await;
    let board = board_id(&app, 480, "Feet Traveled", &key).await;
    let ta = app.token(480, A).await;
    let tb = app.token(480, B).await;
    // A first entry: previous rank 0.
    let r = upload(
        &app,
        480,
        board,
        A,
        &ta,
        json!({"score": 100, "details": [1, 2]}),
    )
    .await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    assert_eq!(
        r.json,
        json!({"result": 1, "leaderboard_id": board, "score": 100, "score_changed": true,
               "global_rank_new": 1, "global_rank_previous": 0, "entry_count": 1, "replayed": false})
    );
    // B ties A later: A, who got there first, stays first.
    let r = upload(&app, 480, board, B, &tb, json!({"score": 100})).await;
    assert_eq!(
        (
            r.json["global_rank_new"].as_u64(),
            r.json["entry_count"].as_u64()
        ),
        (Some(2), Some(2))
    );
    // KeepBest: an equal score is not a change; a worse one neither.
    let r = upload(&app, 480, board, A, &ta, json!({"score": 100})).await;
    assert_eq!(
        (
            r.json["score_changed"].as_bool(),
            r.json["global_rank_new"].as_u64(),
            r.json["global_rank_previous"].as_u64()
        ),
        (Some(false), Some(1), Some(1))
    );
    let r = upload(
        &app,
        480,
        board,
        B,
        &tb,
        json!({"score": 50, "method": "KeepBest"}),
    )
    .await;
    assert_eq!(
        (
            r.json["score_changed"].as_bool(),
            r.json["global_rank_new"].as_u64()
        ),
        (Some(false), Some(2))
    );
    // A strict improvement moves B up; its previous rank is where its old entry stands.
    let r = upload(&app, 480, board, B, &tb, json!({"score": 150})).await;
    assert_eq!(
        (
            r.json["score_changed"].as_bool(),
            r.json["global_rank_new"].as_u64(),
            r.json["global_rank_previous"].as_u64()
        ),
        (Some(true), Some(1), Some(2))
    );
    // ForceUpdate replaces even with a worse score (any case of the word).
    let r = upload(
        &app,
        480,
        board,
        B,
        &tb,
        json!({"score": 10, "method": "forceupdate"}),
    )
    .await;
    assert_eq!(
        (
            r.json["score_changed"].as_bool(),
            r.json["global_rank_new"].as_u64(),
            r.json["global_rank_previous"].as_u64()
        ),
        (Some(true), Some(2), Some(1))
    );
    // The download: details and times with each entry.
    let r = entries(&app, 480, board, "", &ta).await;
    assert_eq!(
        rows(&r),
        vec![(A.to_owned(), 1, 100), (B.to_owned(), 2, 10)]
    );
    assert_eq!(r.json["entries"][0]["details"], json!([1, 2]));
    assert!(r.json["entries"][0]["set_at"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(
        (
            r.json["entry_count"].as_u64(),
            r.json["period_start"].as_i64()
        ),
        (Some(2), Some(0))
    );
    // Ascending board: the lowest is the top.
    let quick = board_id(&app, 480, "Quickest Win", &key).await;
    upload(&app, 480, quick, A, &ta, json!({"score": 90})).await;
    upload(&app, 480, quick, B, &tb, json!({"score": 80})).await;
    let r = upload(&app, 480, quick, A, &ta, json!({"score": 95})).await;
    assert_eq!(r.json["score_changed"], false);
    let r = entries(&app, 480, quick, "scope=global", &key).await;
    assert_eq!(rows(&r), vec![(B.to_owned(), 1, 80), (A.to_owned(), 2, 90)]);
    // The board list counts the entries.
    let r = app.get(&lb(480), Some(&key)).await;
    let fee = r.json["leaderboards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == board)
        .unwrap()
        .clone();
    assert_eq!(fee["entry_count"], 2);
}

/// A board of 10 users, scores 100 (rank 1) down to 10 (rank 10).
async fn ten(app: &TestApp) -> (u64, String) {
    let key = app.create_key(480).await;
    let board = board_id(app, 480, "Feet Traveled", &key).await;
    for i in 1..=10u64 {
        let r = upload(
            app,
            480,
            board,
            &user(i),
            &key,
            json!({"score": 110 - 10 * i as i64}),
        )
        .await;
        assert_eq!(r.code(), (200, 1), "{}", r.json);
    }
    (board, key)
}

fn ranks(r: &Reply) -> Vec<u64> {
    rows(r).into_iter().map(|(_, rank, _)| rank).collect()
}

#[tokio::test]
async fn ranges_are_clamped_and_around_user_shifts_at_the_edges() {
    let app = spawn().await;
    let (board, key) = ten(&app).await;
    for (query, want) in [
        ("", (1..=10).collect::<Vec<u64>>()),
        ("start=0&end=3", vec![1, 2, 3]),
        ("start=-5&end=2", vec![1, 2]),
        ("start=4&end=2", vec![4]),
        ("start=9&end=20", vec![9, 10]),
        ("start=11&end=20", vec![]),
        ("start=1&end=9223372036854775807", (1..=10).collect()),
        ("scope=global&start=2&end=2", vec![2]),
    ] {
        let r = entries(&app, 480, board, query, &key).await;
        assert_eq!(ranks(&r), want, "{query}");
        assert_eq!(r.json["entry_count"], 10);
    }
    // Around user 1 (rank 1) and user 10 (rank 10), -2..2: five entries, shifted.
    let around = |u: u64| format!("scope=around_user&steam_id={}&start=-2&end=2", user(u));
    let r = entries(&app, 480, board, &around(1), &key).await;
    assert_eq!(ranks(&r), vec![1, 2, 3, 4, 5]);
    let r = entries(&app, 480, board, &around(10), &key).await;
    assert_eq!(ranks(&r), vec![6, 7, 8, 9, 10]);
    let r = entries(&app, 480, board, &around(5), &key).await;
    assert_eq!(ranks(&r), vec![3, 4, 5, 6, 7]);
    // A user token reads around itself by default (-12..12: the whole board here).
    let t = app.token(480, &user(4)).await;
    let r = entries(&app, 480, board, "scope=around_user", &t).await;
    assert_eq!(ranks(&r), (1..=10).collect::<Vec<u64>>());
    // No entry: empty.
    let t = app.token(480, A).await;
    let r = entries(&app, 480, board, "scope=around_user", &t).await;
    assert_eq!(ranks(&r), Vec::<u64>::new());
    // A user token may not read around another user; a server key must name one.
    let r = entries(&app, 480, board, &around(5), &t).await;
    assert_eq!(r.code(), (403, 15), "{}", r.json);
    let r = entries(&app, 480, board, "scope=around_user", &key).await;
    assert_eq!(r.code(), (400, 8), "{}", r.json);
}

#[tokio::test]
async fn friends_and_users_scopes() {
    let app = spawn().await;
    let (board, key) = ten(&app).await;
    let me = user(5);
    let friends_path = format!("/api/v1/apps/480/users/{me}/friends");
    // Set by the server key (duplicates and the user itself dropped).
    let body = json!({"steam_ids": [user(2), user(9), user(2), me.clone(), A]});
    let r = app
        .send("PUT", &friends_path, Some(&key), &[], body.to_string())
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json, json!({"steam_ids": [A, user(2), user(9)]}));
    // Read by the key and by the user's own token, not by another user.
    let t = app.token(480, &me).await;
    assert_eq!(app.get(&friends_path, Some(&key)).await.json, r.json);
    assert_eq!(app.get(&friends_path, Some(&t)).await.json, r.json);
    let other = app.token(480, B).await;
    assert_eq!(app.get(&friends_path, Some(&other)).await.code(), (403, 15));
    // A user token cannot set a friends list.
    let r = app
        .send("PUT", &friends_path, Some(&t), &[], body.to_string())
        .await;
    assert_eq!(r.code(), (403, 15), "{}", r.json);
    let r = app
        .send(
            "PUT",
            &friends_path,
            Some(&key),
            &[],
            json!({"steam_ids": ["x"]}).to_string(),
        )
        .await;
    assert_eq!(r.code(), (400, 8), "{}", r.json);
    // Friends: the list and the user, by global rank; A has no entry.
    let r = entries(&app, 480, board, "scope=friends", &t).await;
    assert_eq!(
        rows(&r),
        vec![(user(2), 2, 90), (user(5), 5, 60), (user(9), 9, 20)]
    );
    let r = entries(
        &app,
        480,
        board,
        &format!("scope=friends&steam_id={me}"),
        &key,
    )
    .await;
    assert_eq!(ranks(&r), vec![2, 5, 9]);
    // Users: missing ones left out, by rank.
    let q = format!("scope=users&steam_ids={},{},{A}", user(7), user(1));
    let r = entries(&app, 480, board, &q, &t).await;
    assert_eq!(ranks(&r), vec![1, 7]);
    // 100 ids are fine, 101 are not.
    let hundred: Vec<String> = (1..=100).map(user).collect();
    let r = entries(
        &app,
        480,
        board,
        &format!("scope=users&steam_ids={}", hundred.join(",")),
        &t,
    )
    .await;
    assert_eq!(ranks(&r).len(), 10);
    let r = entries(
        &app,
        480,
        board,
        &format!("scope=users&steam_ids={},{A}", hundred.join(",")),
        &t,
    )
    .await;
    assert_eq!(r.code(), (400, 8), "{}", r.json);
    for bad in [
        "scope=users",
        "scope=users&steam_ids=",
        "scope=users&steam_ids=1,x",
        "scope=users&steam_ids=0",
        "scope=global&steam_ids=1",
    ] {
        let r = entries(&app, 480, board, bad, &t).await;
        assert_eq!(r.code(), (400, 8), "{bad}: {}", r.json);
    }
}

#[tokio::test]
async fn periodic_boards_read_the_current_and_the_previous_period() {
    let app = spawn().await;
    assert_eq!(app.put_schema(481, BOARDS_SCHEMA).await.status, 200);
    let key = app.create_key(481).await;
    let daily = board_id(&app, 481, "Daily Dash", &key).await;
    let r = app
        .get(&format!("{}/find?name=daily%20dash", lb(481)), Some(&key))
        .await;
    assert_eq!(r.json["leaderboard"]["period"], "daily");
    let r = upload(&app, 481, daily, A, &key, json!({"score": 7})).await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    let r = entries(&app, 481, daily, "period=current", &key).await;
    assert_eq!(ranks(&r), vec![1]);
    let start = r.json["period_start"].as_i64().unwrap();
    assert_eq!(start % 86_400, 0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(start <= now && now - start < 86_400 + 5);
    // Yesterday: empty, and its start is a day before.
    let r = entries(&app, 481, daily, "period=previous", &key).await;
    assert_eq!(ranks(&r), Vec::<u64>::new());
    assert_eq!(r.json["period_start"].as_i64().unwrap(), start - 86_400);
    // A board without periods has no previous one.
    let feet = board_id(&app, 480, "Feet Traveled", &app.create_key(480).await).await;
    let t = app.token(480, A).await;
    let r = entries(&app, 480, feet, "period=previous", &t).await;
    assert_eq!(r.code(), (400, 8), "{}", r.json);
    let r = entries(&app, 480, feet, "period=last", &t).await;
    assert_eq!(r.code(), (400, 8), "{}", r.json);
}

#[tokio::test]
async fn moderation_is_for_server_keys_and_the_admin_and_is_audited() {
    let app = spawn().await;
    let (board, key) = ten(&app).await;
    let t = app.token(480, &user(3)).await;
    let base = format!("{}/{board}", lb(480));
    let entry = format!("{base}/users/{}/score", user(3));
    // User tokens: 403; nothing: 401; another app's key: 403.
    assert_eq!(
        app.send("DELETE", &entry, Some(&t), &[], "").await.code(),
        (403, 15)
    );
    assert_eq!(
        app.send("DELETE", &entry, None, &[], "").await.code(),
        (401, 21)
    );
    assert_eq!(
        app.post(&format!("{base}/reset"), Some(&t), &json!({}))
            .await
            .code(),
        (403, 15)
    );
    assert_eq!(
        app.send("DELETE", &base, Some(&t), &[], "").await.code(),
        (403, 15)
    );
    app.put_schema(481, BOARDS_SCHEMA).await;
    let other = app.create_key(481).await;
    assert_eq!(
        app.send("DELETE", &entry, Some(&other), &[], "")
            .await
            .code(),
        (403, 15)
    );
    // One entry, by the key: the ranks below close up.
    let r = app.send("DELETE", &entry, Some(&key), &[], "").await;
    assert_eq!(r.json, json!({"result": 1, "removed": 1}));
    let r = app.send("DELETE", &entry, Some(&key), &[], "").await;
    assert_eq!(r.json, json!({"result": 1, "removed": 0}));
    let r = entries(&app, 480, board, "start=3&end=3", &key).await;
    assert_eq!(rows(&r), vec![(user(4), 3, 70)]);
    assert_eq!(r.json["entry_count"], 9);
    // The reset, by the admin.
    let r = app
        .send("POST", &format!("{base}/reset"), Some(ADMIN), &[], "")
        .await;
    assert_eq!(r.json, json!({"result": 1, "removed": 9}));
    assert_eq!(
        entries(&app, 480, board, "", &key).await.json["entry_count"],
        0
    );
    // Uploads after a reset start again from nothing.
    let r = upload(&app, 480, board, A, &key, json!({"score": 1})).await;
    assert_eq!(
        (
            r.json["global_rank_new"].as_u64(),
            r.json["entry_count"].as_u64()
        ),
        (Some(1), Some(1))
    );
    // The board, by the key: gone for everyone.
    let r = app.send("DELETE", &base, Some(&key), &[], "").await;
    assert_eq!(r.json, json!({"result": 1, "removed": 1}));
    assert_eq!(
        app.send("DELETE", &base, Some(&key), &[], "").await.code(),
        (404, 9)
    );
    assert_eq!(entries(&app, 480, board, "", &key).await.code(), (404, 9));
    assert_eq!(
        upload(&app, 480, board, A, &key, json!({"score": 1}))
            .await
            .code(),
        (404, 9)
    );
    // Each one recorded.
    let r = app.get("/api/v1/admin/audit?app_id=480", Some(ADMIN)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let actions: Vec<&str> = r.json["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["action"].as_str().unwrap())
        .collect();
    for a in [
        "leaderboard.entry.delete",
        "leaderboard.reset",
        "leaderboard.delete",
    ] {
        assert!(actions.contains(&a), "{a} not in {actions:?}");
    }
}

#[tokio::test]
async fn an_upload_with_an_idempotency_key_is_replayed() {
    let app = spawn().await;
    let key = app.create_key(480).await;
    let board = board_id(&app, 480, "Feet Traveled", &key).await;
    let t = app.token(480, A).await;
    let path = format!("{}/{board}/users/{A}/score", lb(480));
    let send = |body: Value, k: &'static str| {
        let t = t.clone();
        let path = path.clone();
        let app = &app;
        async move {
            app.send(
                "POST",
                &path,
                Some(&t),
                &[("idempotency-key", k)],
                body.to_string(),
            )
            .await
        }
    };
    let first = send(json!({"score": 5}), "k1").await;
    assert_eq!(
        (
            first.json["score_changed"].as_bool(),
            first.json["replayed"].as_bool()
        ),
        (Some(true), Some(false))
    );
    upload(&app, 480, board, A, &t, json!({"score": 9})).await;
    let again = send(json!({"score": 5}), "k1").await;
    assert_eq!(again.code(), (200, 1), "{}", again.json);
    assert_eq!(
        (
            again.json["score_changed"].as_bool(),
            again.json["replayed"].as_bool()
        ),
        (Some(true), Some(true))
    );
    // The entry is as it is now: the replay wrote nothing.
    assert_eq!(
        rows(&entries(&app, 480, board, "", &t).await),
        vec![(A.to_owned(), 1, 9)]
    );
    // The same key for another upload: 409 DuplicateRequest.
    let r = send(json!({"score": 6}), "k1").await;
    assert_eq!(r.code(), (409, 29), "{}", r.json);
    let r = send(json!({"score": 6}), "").await;
    assert_eq!(r.code(), (400, 8), "{}", r.json);
}

#[tokio::test]
async fn find_or_create_follows_the_apps_rules() {
    let app = spawn().await;
    let t = app.token(480, A).await;
    let key = app.create_key(480).await;
    let create = |name: &str| json!({"name": name, "sort": "descending", "display": "numeric"});
    // The demo app does not let clients create; finding is fine.
    let r = app.post(&lb(480), Some(&t), &create("New Board")).await;
    assert_eq!(r.code(), (403, 15), "{}", r.json);
    let r = app.post(&lb(480), Some(&t), &create("feet traveled")).await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    assert_eq!(
        (
            r.json["created"].as_bool(),
            r.json["leaderboard"]["name"].as_str()
        ),
        (Some(false), Some("Feet Traveled"))
    );
    // create:false only finds.
    let r = app
        .post(
            &lb(480),
            Some(&key),
            &json!({"name": "Nope", "sort": "ascending", "display": "seconds", "create": false}),
        )
        .await;
    assert_eq!(r.code(), (404, 9), "{}", r.json);
    // A server key creates, trusted too; the second call finds it.
    let r = app.post(&lb(480), Some(&key), &json!({"name": "Vault", "sort": "Ascending", "display": "MILLISECONDS", "writes": "trusted"})).await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    assert_eq!(r.json["created"], true);
    assert_eq!(r.json["leaderboard"]["writes"], "trusted");
    assert_eq!(r.json["leaderboard"]["display"], "milliseconds");
    let vault = r.json["leaderboard"]["id"].as_u64().unwrap();
    let r = app.post(&lb(480), Some(&key), &create("VAULT")).await;
    assert_eq!(
        (
            r.json["created"].as_bool(),
            r.json["leaderboard"]["sort"].as_str()
        ),
        (Some(false), Some("ascending"))
    );
    // Trusted boards: users may not write them, a server key may.
    let r = upload(&app, 480, vault, A, &t, json!({"score": 1})).await;
    assert_eq!(r.code(), (403, 15), "{}", r.json);
    let r = upload(&app, 480, vault, A, &key, json!({"score": 1})).await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    // An app that lets clients create: a user token creates client boards only.
    app.put_schema(481, BOARDS_SCHEMA).await;
    let t481 = app.token(481, A).await;
    let r = app.post(&lb(481), Some(&t481), &create("Made By A")).await;
    assert_eq!(
        (r.code(), r.json["created"].as_bool()),
        ((200, 1), Some(true)),
        "{}",
        r.json
    );
    let r = app.post(&lb(481), Some(&t481), &json!({"name": "Mine", "sort": "descending", "display": "numeric", "writes": "trusted"})).await;
    assert_eq!(r.code(), (403, 15), "{}", r.json);
    let server_only = board_id(&app, 481, "Server Only", &t481).await;
    let r = upload(&app, 481, server_only, A, &t481, json!({"score": 1})).await;
    assert_eq!(r.code(), (403, 15), "{}", r.json);
}

#[tokio::test]
async fn bad_input_is_refused_precisely() {
    let app = spawn().await;
    let key = app.create_key(480).await;
    let t = app.token(480, A).await;
    let board = board_id(&app, 480, "Feet Traveled", &key).await;
    let b = format!("{}/{board}", lb(480));
    // Names.
    let long = "x".repeat(129);
    for name in ["", long.as_str(), "a\u{1}b", "tab\there"] {
        let q: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
        let r = app
            .get(&format!("{}/find?name={q}", lb(480)), Some(&t))
            .await;
        assert_eq!(r.code(), (400, 8), "{name:?}: {}", r.json);
        let r = app
            .post(
                &lb(480),
                Some(&key),
                &json!({"name": name, "sort": "ascending", "display": "numeric"}),
            )
            .await;
        assert_eq!(r.code(), (400, 8), "{name:?}: {}", r.json);
    }
    let ok = "y".repeat(128);
    let r = app
        .post(
            &lb(480),
            Some(&key),
            &json!({"name": ok, "sort": "ascending", "display": "numeric"}),
        )
        .await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    for query in ["", "?nom=x", "?name=a&name=b"] {
        let r = app.get(&format!("{}/find{query}", lb(480)), Some(&t)).await;
        assert_eq!(r.code(), (400, 8), "{query}: {}", r.json);
    }
    for body in [
        json!({"name": "Z", "sort": "sideways", "display": "numeric"}),
        json!({"name": "Z", "sort": "ascending", "display": "hours"}),
        json!({"name": "Z", "sort": "ascending", "display": "numeric", "writes": "anyone"}),
        json!({"name": "Z", "sort": "ascending"}),
        json!({"name": "Z", "sort": "ascending", "display": "numeric", "colour": 1}),
    ] {
        let r = app.post(&lb(480), Some(&key), &body).await;
        assert_eq!(r.code(), (400, 8), "{body}: {}", r.json);
    }
    // Scores: int32 only; 64 details at most; known methods only.
    let score = format!("{b}/users/{A}/score");
    for body in [
        r#"{"score": 2147483648}"#,
        r#"{"score": -2147483649}"#,
        r#"{"score": 1.5}"#,
        r#"{"score": "7"}"#,
        r#"{}"#,
        r#"{"score": 1, "details": [2147483648]}"#,
        r#"{"score": 1, "method": "KeepWorst"}"#,
        r#"{"score": 1, "extra": true}"#,
        r#"[1]"#,
        r#"{"score": "#,
    ] {
        let r = app
            .send("POST", &score, Some(&t), &[], body.to_owned())
            .await;
        assert_eq!(r.code(), (400, 8), "{body}: {}", r.json);
    }
    let details: Vec<i32> = (0..65).collect();
    let r = upload(
        &app,
        480,
        board,
        A,
        &t,
        json!({"score": 1, "details": details}),
    )
    .await;
    assert_eq!(r.code(), (400, 8), "{}", r.json);
    let r = upload(
        &app,
        480,
        board,
        A,
        &t,
        json!({"score": 2147483647, "details": &details[..64]}),
    )
    .await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    let r = upload(&app, 480, board, B, &t, json!({"score": -2147483648})).await;
    assert_eq!(r.code(), (403, 15), "another user's score: {}", r.json);
    // Board ids: 0, non-numeric, unknown.
    for id in ["0", "-1", "abc", "1.0", "99999999999999999999"] {
        let r = app
            .post(
                &format!("{}/{id}/users/{A}/score", lb(480)),
                Some(&t),
                &json!({"score": 1}),
            )
            .await;
        assert_eq!(r.code(), (400, 8), "{id}: {}", r.json);
        let r = app
            .get(&format!("{}/{id}/entries", lb(480)), Some(&t))
            .await;
        assert_eq!(r.code(), (400, 8), "{id}: {}", r.json);
    }
    let r = upload(&app, 480, 987_654, A, &t, json!({"score": 1})).await;
    assert_eq!(r.code(), (404, 9), "{}", r.json);
    let r = entries(&app, 480, 987_654, "", &t).await;
    assert_eq!(r.code(), (404, 9), "{}", r.json);
    let r = app
        .post(
            &format!("{b}/users/0/score"),
            Some(&key),
            &json!({"score": 1}),
        )
        .await;
    assert_eq!(r.code(), (400, 8), "{}", r.json);
    // Ranges and the rest of the query.
    for query in [
        "start=x",
        "end=1.5",
        "start=",
        "start=99999999999999999999",
        "end=-99999999999999999999",
        "scope=everyone",
        "scope=global&scope=global",
        "steam_id=abc&scope=around_user",
        "limit=3",
    ] {
        let r = entries(&app, 480, board, query, &key).await;
        assert_eq!(r.code(), (400, 8), "{query}: {}", r.json);
    }
    // A board of another app is unknown here.
    app.put_schema(481, BOARDS_SCHEMA).await;
    let k481 = app.create_key(481).await;
    let daily = board_id(&app, 481, "Daily Dash", &k481).await;
    let r = entries(&app, 480, daily, "", &key).await;
    assert_eq!(r.code(), (404, 9), "{}", r.json);
}
