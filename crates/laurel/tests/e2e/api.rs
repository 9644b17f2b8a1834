//! The client API over a real socket: SPEC §1 rules end to end, and bad input
//! that must get a precise error and change nothing.

use laurel_testkit::{ADMIN_TOKEN, achievement, stat};
use serde_json::{Value, json};

use crate::{start, steam_id};

fn unchanged_after<F: FnOnce()>(env: &crate::Env, user: &str, token: &str, f: F) {
    let (_, before) = env.http.progress(480, user, token).expect("read before");
    f();
    let (_, after) = env.http.progress(480, user, token).expect("read after");
    assert_eq!(before, after, "stored data changed");
}

#[test]
fn store_rules_and_events_of_spec_1() {
    let env = start();
    let a = steam_id(1);
    let t = env.http.dev_token(480, &a).expect("token");

    // A never-written user reads as defaults, version 0.
    let (status, p) = env.http.progress(480, &a, &t).expect("read");
    assert_eq!((status, p["version"].as_u64()), (200, Some(0)));
    assert_eq!(stat(&p, "NumGames"), Some(0.0));

    // An accepted batch: stats, an unlock, and a stat-bound achievement that unlocks by itself.
    let (status, r) = env
        .http
        .store(480, &a, &t, "k1", &json!({
            "stats": [{"name": "NumGames", "value": 1}, {"name": "FeetTraveled", "value": 6000.5},
                      {"name": "AverageSpeed", "count": 300, "session_seconds": 60}],
            "unlock": ["ACH_WIN_ONE_GAME"]
        }))
        .expect("store");
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        r["newly_unlocked"],
        json!(["ACH_WIN_ONE_GAME", "ACH_TRAVEL_FAR_ACCUM"])
    );
    assert_eq!(r["progress"]["version"], json!(1));
    assert_eq!(stat(&r["progress"], "AverageSpeed"), Some(5.0));
    let first_unlock =
        achievement(&r["progress"], "ACH_WIN_ONE_GAME").expect("ach")["unlock_time"].clone();
    assert!(first_unlock.is_i64());

    // Unlocking again is idempotent: the first unlock time stays.
    let (_, r) = env
        .http
        .store(480, &a, &t, "k2", &json!({"unlock": ["ACH_WIN_ONE_GAME"]}))
        .expect("store");
    assert_eq!(
        achievement(&r["progress"], "ACH_WIN_ONE_GAME").expect("ach")["unlock_time"],
        first_unlock
    );
    assert_eq!(r["newly_unlocked"], json!([]));

    // A replay of the same key returns the first answer and changes nothing.
    let (status, r) = env.http.store(480, &a, &t, "k1", &json!({
        "stats": [{"name": "NumGames", "value": 1}, {"name": "FeetTraveled", "value": 6000.5},
                  {"name": "AverageSpeed", "count": 300, "session_seconds": 60}],
        "unlock": ["ACH_WIN_ONE_GAME"]
    })).expect("replay");
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["replayed"], json!(true));
    assert_eq!(
        r["newly_unlocked"],
        json!(["ACH_WIN_ONE_GAME", "ACH_TRAVEL_FAR_ACCUM"])
    );
    assert_eq!(r["progress"]["version"], json!(2));
    // The same key with another body is a conflict, not a silent replay.
    let (status, r) = env
        .http
        .store(480, &a, &t, "k1", &json!({"unlock": ["ACH_WIN_100_GAMES"]}))
        .expect("conflict");
    assert_eq!((status, r["result"].as_i64()), (409, Some(29)), "{r}");

    // A batch that breaks a rule is refused whole with 8, every fault listed, nothing applied.
    unchanged_after(&env, &a, &t, || {
        let (status, r) = env
            .http
            .store(
                480,
                &a,
                &t,
                "k3",
                &json!({
                    "stats": [{"name": "NumWins", "value": 5}, {"name": "NumGames", "value": 0}],
                    "unlock": ["ACH_WIN_100_GAMES", "NO_SUCH"]
                }),
            )
            .expect("store");
        assert_eq!((status, r["result"].as_i64()), (400, Some(8)), "{r}");
        let rules: Vec<&str> = r["details"]
            .as_array()
            .expect("details")
            .iter()
            .map(|d| d["rule"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(rules, ["decrease_of_increment_only", "unknown_achievement"]);
        assert_eq!(r["details"][0]["location"], "stats[1]");
    });

    // Resets: stats only, then achievements too.
    let (status, p) = env
        .http
        .post(
            &format!("/api/v1/apps/480/users/{a}/reset"),
            Some(&t),
            &json!({}),
        )
        .expect("reset");
    assert_eq!(status, 200, "{p}");
    assert_eq!(stat(&p, "NumGames"), Some(0.0));
    assert_eq!(
        achievement(&p, "ACH_WIN_ONE_GAME").expect("ach")["unlocked"],
        json!(true)
    );
    let (_, p) = env
        .http
        .post(
            &format!("/api/v1/apps/480/users/{a}/reset"),
            Some(&t),
            &json!({"achievements": true}),
        )
        .expect("reset");
    assert_eq!(
        achievement(&p, "ACH_WIN_ONE_GAME").expect("ach")["unlocked"],
        json!(false)
    );
}

#[test]
fn two_users_read_each_other_and_cannot_write_each_other() {
    let env = start();
    let (a, b) = (steam_id(10), steam_id(11));
    let (ta, tb) = (
        env.http.dev_token(480, &a).expect("token a"),
        env.http.dev_token(480, &b).expect("token b"),
    );
    let (status, _) = env
        .http
        .store(480, &a, &ta, "a1", &json!({"unlock": ["ACH_WIN_ONE_GAME"]}))
        .expect("store");
    assert_eq!(status, 200);
    // B reads A's progress (the demo app has public_progress on).
    let (status, p) = env.http.progress(480, &a, &tb).expect("read");
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["steam_id"], json!(a));
    assert_eq!(
        achievement(&p, "ACH_WIN_ONE_GAME").expect("ach")["unlocked"],
        json!(true)
    );
    // B's token may not write A's progress: 403 + AccessDenied, nothing written.
    unchanged_after(&env, &a, &ta, || {
        let (status, r) = env
            .http
            .store(
                480,
                &a,
                &tb,
                "b1",
                &json!({"unlock": ["ACH_WIN_100_GAMES"]}),
            )
            .expect("store");
        assert_eq!((status, r["result"].as_i64()), (403, Some(15)), "{r}");
        let (status, r) = env
            .http
            .post(
                &format!("/api/v1/apps/480/users/{a}/reset"),
                Some(&tb),
                &json!({"achievements": true}),
            )
            .expect("reset");
        assert_eq!((status, r["result"].as_i64()), (403, Some(15)), "{r}");
    });
    // Global percentages count both users.
    let (status, g) = env
        .http
        .get("/api/v1/apps/480/global/achievements", Some(&tb))
        .expect("global");
    assert_eq!(status, 200, "{g}");
    let one = g["achievements"]
        .as_array()
        .expect("list")
        .iter()
        .find(|x| x["name"] == "ACH_WIN_ONE_GAME")
        .cloned()
        .expect("listed");
    assert_eq!(one["unlocked"], json!(1));
    assert_eq!(g["users"], json!(1));
    assert_eq!(one["percent"], json!(100.0));
}

fn error_of(resp: (u16, Value)) -> (u16, i64, String) {
    let (status, body) = resp;
    (
        status,
        body["result"].as_i64().unwrap_or(-1),
        body["error"].as_str().unwrap_or("").to_owned(),
    )
}

#[test]
fn bad_input_gets_a_precise_error_and_changes_nothing() {
    let env = start();
    let a = steam_id(20);
    let t = env.http.dev_token(480, &a).expect("token");
    let path = format!("/api/v1/apps/480/users/{a}/progress");
    let store_raw = |body: &str| {
        env.http
            .send("POST", &path, Some(&t), &[("Idempotency-Key", "bad")], body)
            .expect("send")
    };
    unchanged_after(&env, &a, &t, || {
        let cases: Vec<(String, u16, i64)> = vec![
            ("{".into(), 400, 8),
            ("[]".into(), 400, 8),
            (
                r#"{"stats":[{"name":"NumGames","value":"3"}]}"#.into(),
                400,
                8,
            ),
            (
                r#"{"stats":[{"name":"NumGames","value":1e400}]}"#.into(),
                400,
                8,
            ),
            (r#"{"unlocks":["ACH_WIN_ONE_GAME"]}"#.into(), 400, 8),
            (
                format!(r#"{{"unlock":["{}"]}}"#, "A".repeat(10_000)),
                400,
                8,
            ),
            (
                r#"{"stats":[{"name":"NoSuchStat","value":1}]}"#.into(),
                400,
                8,
            ),
            (
                r#"{"stats":[{"name":"NumGames","value":1.5}]}"#.into(),
                400,
                8,
            ),
            (
                format!(
                    r#"{{"unlock":[{}]}}"#,
                    vec!["\"ACH_WIN_ONE_GAME\""; 3000].join(",")
                ),
                413,
                25,
            ),
            (
                format!(r#"{{"unlock":["{}"]}}"#, "A".repeat(200_000)),
                413,
                25,
            ),
        ];
        for (body, status, result) in cases {
            let (s, r, msg) = error_of(store_raw(&body));
            assert_eq!((s, r), (status, result), "body {:.80}: {msg}", body);
            assert!(!msg.is_empty());
        }
        // No idempotency key.
        let (s, r, _) = error_of(
            env.http
                .send("POST", &path, Some(&t), &[], "{}")
                .expect("send"),
        );
        assert_eq!((s, r), (400, 8));
    });
    // Ids in the path.
    for bad in [
        "abc",
        "0",
        "-1",
        "123456789012345678901234567890",
        "7656119796026572%2E8",
    ] {
        let (s, r, msg) = error_of(
            env.http
                .get(&format!("/api/v1/apps/480/users/{bad}/progress"), Some(&t))
                .expect("get"),
        );
        assert_eq!((s, r), (400, 8), "{bad}: {msg}");
        assert!(msg.contains("steam id"), "{bad}: {msg}");
    }
    let (s, r, _) = error_of(
        env.http
            .get(&format!("/api/v1/apps/999/users/{a}/progress"), Some(&t))
            .expect("get"),
    );
    assert!(s == 403 || s == 404, "token of app 480 on app 999: {s}");
    assert!(r == 15 || r == 9);
    let (s, r, _) = error_of(
        env.http
            .get(
                &format!("/api/v1/apps/999/users/{a}/progress"),
                Some(ADMIN_TOKEN),
            )
            .expect("get"),
    );
    assert!(s == 401 || s == 403 || s == 404, "{s} {r}");
    // Forged and missing tokens.
    let forged = format!("lt2.480.{a}.1.9999999999.0.{}", "0".repeat(64));
    let (s, r, _) = error_of(env.http.progress(480, &a, &forged).expect("get"));
    assert_eq!((s, r), (401, 21));
    let (s, r, _) = error_of(env.http.get(&path, None).expect("get"));
    assert_eq!((s, r), (401, 21));
}

#[test]
fn health_openapi_and_graceful_shutdown() {
    let mut env = start();
    let (status, h) = env.http.get("/healthz", None).expect("healthz");
    assert_eq!(status, 200, "{h}");
    let (status, doc) = env.http.get("/api/v1/openapi.json", None).expect("openapi");
    assert_eq!(status, 200);
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{doc}"
    );
    assert!(doc["paths"]["/api/v1/apps/{app_id}/users/{steam_id}/progress"].is_object());
    // SIGTERM: a clean exit with code 0.
    assert_eq!(env.server.terminate().expect("terminate"), Some(0));
}
