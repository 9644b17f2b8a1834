use laurel_core::{AppId, SteamId};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn dev_mode_issues_tokens_without_credentials() {
    let app = spawn().await;
    let r = app
        .post(
            "/api/v1/sessions",
            None,
            &json!({"app_id": 480, "steam_id": A}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let token = r.json["token"].as_str().unwrap();
    assert!(token.starts_with(&format!("lt2.480.{A}.")), "{token}");
    insta::assert_json_snapshot!(redacted(r.json));
}

#[tokio::test]
async fn without_dev_mode_a_session_needs_the_apps_server_key() {
    let app = spawn_with(|c| c.dev = false).await;
    let body = json!({"app_id": 480, "steam_id": A});
    let apps = app.get("/api/v1/admin/apps", Some(ADMIN)).await;
    assert_eq!(apps.json["apps"], json!([]), "no demo app outside dev mode");
    assert_eq!(app.put_schema(480, PRIVATE_SCHEMA).await.status, 200);
    assert_eq!(app.put_schema(481, PRIVATE_SCHEMA).await.status, 200);

    assert_eq!(
        app.post("/api/v1/sessions", None, &body).await.code(),
        (401, 21)
    );
    let unknown = format!("lk_{}", "0".repeat(64));
    assert_eq!(
        app.post("/api/v1/sessions", Some(&unknown), &body)
            .await
            .code(),
        (401, 21)
    );
    let other_app_key = app.create_key(481).await;
    assert_eq!(
        app.post("/api/v1/sessions", Some(&other_app_key), &body)
            .await
            .code(),
        (403, 15)
    );

    let key = app.create_key(480).await;
    let r = app.post("/api/v1/sessions", Some(&key), &body).await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    let token = r.json["token"].as_str().unwrap().to_owned();
    // A user token cannot mint more tokens.
    assert_eq!(
        app.post("/api/v1/sessions", Some(&token), &body)
            .await
            .code(),
        (403, 15)
    );
    // ... but it reads its own progress.
    assert_eq!(app.progress(480, A, &token).await.status, 200);
    // Without dev mode the schema needs a credential.
    assert_eq!(
        app.get("/api/v1/apps/480/schema", None).await.code(),
        (401, 21)
    );
    assert_eq!(
        app.get("/api/v1/apps/480/schema", Some(&token))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn session_bodies_are_checked() {
    let app = spawn().await;
    for (body, want) in [
        (json!({"app_id": 480, "steam_id": "abc"}), (400, 8)),
        (json!({"app_id": 480, "steam_id": "0"}), (400, 8)),
        (json!({"app_id": 0, "steam_id": A}), (400, 8)),
        (
            json!({"app_id": 480, "steam_id": 76561197960287930u64}),
            (400, 8),
        ),
        (json!({"app_id": 480, "steam_id": A, "extra": 1}), (400, 8)),
        // Dev mode mints tokens for the demo app only.
        (json!({"app_id": 999, "steam_id": A}), (401, 21)),
    ] {
        let r = app.post("/api/v1/sessions", None, &body).await;
        assert_eq!(r.code(), want, "{body}: {}", r.json);
    }
}

#[tokio::test]
async fn expired_forged_and_foreign_tokens_are_refused() {
    let app = spawn().await;
    let now_ms = laurel_store::unix_now_ms();
    let a: SteamId = A.parse().unwrap();
    let (expired, _) = app
        .state
        .tokens()
        .mint(AppId::new(480).unwrap(), a, 0, -100, now_ms);
    let r = app.progress(480, A, &expired).await;
    assert_eq!(r.code(), (401, 21));
    assert!(r.error().contains("expired"), "{}", r.error());

    let forged = format!("lt2.480.{A}.1.9999999999.0.{}", "0".repeat(64));
    assert_eq!(app.progress(480, A, &forged).await.code(), (401, 21));
    // A valid token with its claims edited.
    let good = app.token(480, A).await;
    let edited = good.replacen(&format!(".{A}."), &format!(".{B}."), 1);
    assert_eq!(app.progress(480, B, &edited).await.code(), (401, 21));
    assert_eq!(app.progress(480, A, "garbage").await.code(), (401, 21));
    let r = app
        .send(
            "GET",
            &format!("/api/v1/apps/480/users/{A}/progress"),
            None,
            &[("authorization", "Basic abc")],
            "",
        )
        .await;
    assert_eq!(r.code(), (401, 21));

    // A token of another app.
    assert_eq!(app.put_schema(481, PRIVATE_SCHEMA).await.status, 200);
    assert_eq!(app.progress(481, A, &good).await.code(), (403, 15));
    // A token of an app that does not exist: signed, but the app is unknown.
    let (ghost, _) = app
        .state
        .tokens()
        .mint(AppId::new(999).unwrap(), a, 0, 3600, now_ms);
    assert_eq!(app.progress(999, A, &ghost).await.code(), (404, 9));
}
