use std::sync::Arc;
use std::time::Duration;

use laurel_core::limits::{MAX_BATCH_ENTRIES, MAX_IDEMPOTENCY_KEY_BYTES};
use laurel_server::MAX_BODY_BYTES;
use serde_json::json;
use tempfile::TempDir;

use crate::helpers::*;

/// `(body, HTTP status, EResult, a word the message must contain)`.
fn bad_store_bodies() -> Vec<(String, u16, i64, &'static str)> {
    let many = vec!["\"ACH_WIN_ONE_GAME\""; MAX_BATCH_ENTRIES + 1].join(",");
    vec![
        ("{".into(), 400, 8, "JSON"),
        ("".into(), 400, 8, "JSON"),
        ("[]".into(), 400, 8, "JSON"),
        ("not json".into(), 400, 8, "JSON"),
        (
            r#"{"stats":[{"name":"NumGames","value":"3"}]}"#.into(),
            400,
            8,
            "invalid type",
        ),
        (
            r#"{"stats":[{"name":"NumGames","value":1e400}]}"#.into(),
            400,
            8,
            "out of range",
        ),
        (
            r#"{"unlocks":["ACH_WIN_ONE_GAME"]}"#.into(),
            400,
            8,
            "unknown field",
        ),
        (
            r#"{"stats":[{"name":"NumGames"}]}"#.into(),
            400,
            8,
            "malformed stat",
        ),
        (
            r#"{"progress":[{"name":"ACH_WIN_100_GAMES","current":-1,"max":3}]}"#.into(),
            400,
            8,
            "invalid value",
        ),
        (
            format!(r#"{{"unlock":["{}"]}}"#, "A".repeat(10_000)),
            400,
            8,
            "refused",
        ),
        (
            r#"{"stats":[{"name":"NoSuchStat","value":1}]}"#.into(),
            400,
            8,
            "refused",
        ),
        (
            r#"{"stats":[{"name":"NumGames","value":1.5}]}"#.into(),
            400,
            8,
            "refused",
        ),
        (
            r#"{"stats":[{"name":"NumGames","value":-1}]}"#.into(),
            400,
            8,
            "refused",
        ),
        (format!(r#"{{"unlock":[{many}]}}"#), 413, 25, "refused"),
        (
            format!(r#"{{"unlock":["{}"]}}"#, "A".repeat(MAX_BODY_BYTES)),
            413,
            25,
            "limit",
        ),
    ]
}

#[tokio::test]
async fn bad_stores_get_precise_errors_and_change_nothing() {
    let app = spawn().await;
    let t = app.token(480, A).await;
    assert_eq!(
        app.store(
            480,
            A,
            &t,
            "seed",
            &json!({"stats": [{"name": "NumGames", "value": 2}]})
        )
        .await
        .status,
        200
    );
    let before = app.snapshot(480, A).await;
    for (i, (body, status, result, word)) in bad_store_bodies().into_iter().enumerate() {
        let r = app
            .store_raw(480, A, &t, &format!("bad{i}"), body.clone())
            .await;
        assert_eq!(r.code(), (status, result), "body {body:.80}: {}", r.json);
        assert!(r.error().contains(word), "body {body:.80}: {}", r.json);
    }
    assert_eq!(app.snapshot(480, A).await, before);
}

#[tokio::test]
async fn malformed_json_is_located_by_line_and_column() {
    let app = spawn().await;
    let t = app.token(480, A).await;
    let r = app
        .store_raw(
            480,
            A,
            &t,
            "k",
            "{\n  \"stats\": [\n    {\"name\": \"NumGames\", \"value\": 1,}\n  ]\n}".into(),
        )
        .await;
    assert_eq!(r.code(), (400, 8));
    insta::assert_json_snapshot!(r.json);
    let r = app
        .store_raw(
            480,
            A,
            &t,
            "k",
            r#"{"stats":[{"name":"NumGames","value":1,"colour":"red"}]}"#.into(),
        )
        .await;
    assert_eq!(r.json["details"][0]["rule"], "json_data");
    assert!(
        r.json["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `colour`")
    );
}

#[tokio::test]
async fn refusals_list_every_broken_entry() {
    let app = spawn().await;
    let t = app.token(480, A).await;
    let r = app
        .store(480, A, &t, "k", &json!({
            "stats": [{"name": "NumGames", "value": -1}, {"name": "NoSuchStat", "value": 1}, {"name": "FeetTraveled", "value": 1}],
            "unlock": ["ACH_NOPE"]
        }))
        .await;
    assert_eq!(r.code(), (400, 8));
    insta::assert_json_snapshot!(r.json);
    let r = app
        .store(
            480,
            A,
            &t,
            "k2",
            &json!({"unlock": vec!["ACH_WIN_ONE_GAME"; MAX_BATCH_ENTRIES + 1]}),
        )
        .await;
    assert_eq!(r.code(), (413, 25));
    assert_eq!(r.json["details"][0]["rule"], "too_many_entries");
    // Exactly at the limit is not refused for its size (duplicates are refused as such).
    let r = app
        .store(
            480,
            A,
            &t,
            "k3",
            &json!({"unlock": vec!["ACH_WIN_ONE_GAME"; MAX_BATCH_ENTRIES]}),
        )
        .await;
    assert_eq!(r.code(), (400, 8));
    assert_eq!(r.json["details"][0]["rule"], "duplicate_entry");
}

#[tokio::test]
async fn the_idempotency_key_is_required_and_bounded() {
    let app = spawn().await;
    let t = app.token(480, A).await;
    let path = format!("/api/v1/apps/480/users/{A}/progress");
    let body = json!({"unlock": ["ACH_WIN_ONE_GAME"]}).to_string();
    let r = app.send("POST", &path, Some(&t), &[], body.clone()).await;
    assert_eq!(r.code(), (400, 8));
    assert!(r.error().contains("Idempotency-Key"), "{}", r.error());
    let long = "k".repeat(MAX_IDEMPOTENCY_KEY_BYTES + 1);
    for key in ["", long.as_str(), "tab\there"] {
        let r = app
            .send(
                "POST",
                &path,
                Some(&t),
                &[("idempotency-key", key)],
                body.clone(),
            )
            .await;
        assert_eq!(r.code(), (400, 8), "{key:?}");
    }
    let longest = "k".repeat(MAX_IDEMPOTENCY_KEY_BYTES);
    let r = app
        .store(
            480,
            A,
            &t,
            &longest,
            &json!({"unlock": ["ACH_WIN_ONE_GAME"]}),
        )
        .await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    assert_eq!(
        app.store(480, A, &t, "with spaces ~!", &json!({}))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn json_bodies_must_say_they_are_json() {
    let app = spawn().await;
    let t = app.token(480, A).await;
    let store = |content_type: &'static str, key: &'static str| {
        let (app, t) = (&app, &t);
        async move {
            app.send(
                "POST",
                &format!("/api/v1/apps/480/users/{A}/progress"),
                Some(t),
                &[("idempotency-key", key), ("content-type", content_type)],
                r#"{"unlock":["ACH_WIN_ONE_GAME"]}"#,
            )
            .await
        }
    };
    // What a page of another site could send without asking (no CORS
    // preflight): refused with 415, nothing stored.
    for (content_type, key) in [
        ("text/plain; charset=latin1", "k1"),
        ("application/x-www-form-urlencoded", "k2"),
        ("multipart/form-data; boundary=x", "k3"),
        ("", "k4"),
    ] {
        let r = store(content_type, key).await;
        assert_eq!(r.code(), (415, 8), "{content_type:?}: {}", r.json);
        assert!(r.error().contains("application/json"), "{}", r.json);
    }
    assert_eq!(app.progress(480, A, &t).await.json["version"], 0);
    for (content_type, key) in [
        ("application/json", "k5"),
        ("Application/JSON; charset=utf-8", "k6"),
        ("application/vnd.laurel+json", "k7"),
    ] {
        let r = store(content_type, key).await;
        assert_eq!(r.code(), (200, 1), "{content_type:?}: {}", r.json);
    }
}

#[tokio::test]
async fn bad_ids_in_the_path() {
    let app = spawn().await;
    let t = app.token(480, A).await;
    for bad in [
        "abc",
        "0",
        "-1",
        "123456789012345678901234567890",
        "1e5",
        "7656119796026572%2E8",
        "%FF",
    ] {
        let r = app
            .get(&format!("/api/v1/apps/480/users/{bad}/progress"), Some(&t))
            .await;
        assert_eq!(r.code(), (400, 8), "{bad}: {}", r.json);
        if bad != "%FF" {
            assert!(r.error().contains("steam id"), "{bad}: {}", r.error());
        }
        let r = app.get(&format!("/api/v1/apps/{bad}/schema"), None).await;
        assert_eq!(r.code(), (400, 8), "{bad}: {}", r.json);
    }
    let r = app
        .get(
            &format!("/api/v1/apps/4294967296/users/{A}/progress"),
            Some(&t),
        )
        .await;
    assert!(r.error().contains("app id"), "{}", r.error());
    let r = app.get("/api/v1/apps/abc/schema", None).await;
    insta::assert_json_snapshot!(r.json);
}

#[tokio::test]
async fn unknown_apps_routes_and_methods() {
    let app = spawn().await;
    let key = app.create_key(480).await;
    // Dev mode's anonymous reads are for the demo app only: nothing about
    // another app, not even whether it exists, is told without a credential.
    let r = app.get("/api/v1/apps/999/schema", None).await;
    assert_eq!(r.code(), (401, 21));
    assert_eq!(
        app.get("/api/v1/admin/apps/999/keys", Some(ADMIN))
            .await
            .code(),
        (404, 9)
    );
    assert_eq!(
        app.progress(999, A, &key).await.code(),
        (403, 15),
        "key of app 480"
    );
    let r = app.get("/api/v1/nope", None).await;
    assert_eq!(r.code(), (404, 9));
    insta::assert_json_snapshot!(r.json);
    let r = app
        .send("DELETE", "/api/v1/apps/480/schema", None, &[], "")
        .await;
    assert_eq!(r.code(), (405, 8));
}

#[tokio::test]
async fn slow_requests_time_out_with_504() {
    let dir = TempDir::new().unwrap();
    let store = Arc::new(FaultyStore {
        inner: open_store(&dir),
        progress_delay: Duration::from_millis(500),
        healthy: true,
        audit_fails: false,
    });
    let app = spawn_on(dir, store, |c| {
        c.request_timeout = Duration::from_millis(50)
    })
    .await;
    let t = app.token(480, A).await;
    let r = app.progress(480, A, &t).await;
    assert_eq!(r.code(), (504, 16), "{}", r.json);
}

#[tokio::test]
async fn health_reports_the_store() {
    let app = spawn().await;
    let r = app.get("/healthz", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json, json!({"status": "ok"}));

    let dir = TempDir::new().unwrap();
    let store = Arc::new(FaultyStore {
        inner: open_store(&dir),
        progress_delay: Duration::ZERO,
        healthy: false,
        audit_fails: false,
    });
    let app = spawn_on(dir, store, |_| {}).await;
    let r = app.get("/healthz", None).await;
    assert_eq!(r.status, 503);
    insta::assert_json_snapshot!(r.json);
}

/// An admin action whose audit record cannot be written still answers what
/// it did: a new key's secret is shown once and must not be lost to the log.
#[tokio::test]
async fn a_failing_audit_record_does_not_lose_a_new_keys_secret() {
    let dir = TempDir::new().unwrap();
    let store = Arc::new(FaultyStore {
        inner: open_store(&dir),
        progress_delay: Duration::ZERO,
        healthy: true,
        audit_fails: true,
    });
    let app = spawn_on(dir, store, |_| {}).await;
    let key = app.create_key(480).await;
    assert!(key.starts_with("lk_"), "{key}");
    let r = app.get("/api/v1/admin/apps/480/keys", Some(ADMIN)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        r.json["keys"].as_array().map(Vec::len),
        Some(1),
        "{}",
        r.json
    );
}
