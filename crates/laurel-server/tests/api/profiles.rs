//! User profiles: a display name per app and user, set by the game's backend
//! (server key, or with the session), by the user where the app allows it,
//! and read like progress.

use serde_json::{Value, json};

use crate::helpers::*;

fn profile_path(app: u32, user: &str) -> String {
    format!("/api/v1/apps/{app}/users/{user}/profile")
}

async fn put_name(app: &TestApp, id: u32, user: &str, auth: &str, body: &Value) -> Reply {
    app.send(
        "PUT",
        &profile_path(id, user),
        Some(auth),
        &[],
        body.to_string(),
    )
    .await
}

#[tokio::test]
async fn a_user_without_a_name_shows_the_default_and_a_server_key_names_anyone() {
    let app = spawn_with(|c| c.dev = false).await;
    assert_eq!(app.put_schema(480, PRIVATE_SCHEMA).await.status, 200);
    let key = app.create_key(480).await;
    let token = app.session(480, A, &key).await;

    let r = app.get(&profile_path(480, A), Some(&token)).await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    assert_eq!(
        r.json,
        json!({"result": 1, "app_id": 480, "steam_id": A, "display_name": A, "named": false})
    );

    let r = put_name(&app, 480, A, &key, &json!({"display_name": "Gordon"})).await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    assert_eq!(r.json["display_name"], "Gordon");
    let r = app.get(&profile_path(480, A), Some(&token)).await;
    assert_eq!(
        (r.json["display_name"].clone(), r.json["named"].clone()),
        (json!("Gordon"), json!(true))
    );

    // The user may not name themselves here (allow_user_display_name is off)...
    let r = put_name(&app, 480, A, &token, &json!({"display_name": "Cheater"})).await;
    assert_eq!(r.code(), (403, 15), "{}", r.json);
    // ... nor read another user's profile (public_progress is off).
    let other = app.session(480, B, &key).await;
    assert_eq!(
        app.get(&profile_path(480, A), Some(&other)).await.code(),
        (403, 15)
    );
    // Nothing changed.
    let r = app.get(&profile_path(480, A), Some(&key)).await;
    assert_eq!(r.json["display_name"], "Gordon");

    // A session can carry the name; `null` removes it.
    let r = app
        .post(
            "/api/v1/sessions",
            Some(&key),
            &json!({"app_id": 480, "steam_id": B, "display_name": "Alyx"}),
        )
        .await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    assert_eq!(
        app.get(&profile_path(480, B), Some(&key)).await.json["display_name"],
        "Alyx"
    );
    let r = put_name(&app, 480, B, &key, &json!({"display_name": null})).await;
    assert_eq!(
        r.json,
        json!({"result": 1, "app_id": 480, "steam_id": B, "display_name": B, "named": false})
    );
}

#[tokio::test]
async fn a_user_names_themselves_where_the_app_allows_it_and_reads_others_where_public() {
    let app = spawn().await;
    let schema = r#"{
      "app": { "name": "Named", "public_progress": true, "allow_user_display_name": true },
      "stats": [], "achievements": []
    }"#;
    assert_eq!(app.put_schema(4100, schema).await.status, 200);
    let a = app.token(4100, A).await;
    let b = app.token(4100, B).await;
    let r = put_name(&app, 4100, A, &a, &json!({"display_name": "名前 🎮"})).await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    // Only their own name.
    assert_eq!(
        put_name(&app, 4100, A, &b, &json!({"display_name": "x"}))
            .await
            .code(),
        (403, 15)
    );
    let r = app.get(&profile_path(4100, A), Some(&b)).await;
    assert_eq!(r.json["display_name"], "名前 🎮");
    // Another app's token reads nothing here.
    let demo = app.token(480, A).await;
    assert_eq!(
        app.get(&profile_path(4100, A), Some(&demo)).await.code(),
        (403, 15)
    );
}

#[tokio::test]
async fn bad_names_and_bodies_are_refused_and_change_nothing() {
    let app = spawn().await;
    let token = app.token(480, A).await;
    let key = app.create_key(480).await;
    assert_eq!(
        put_name(&app, 480, A, &key, &json!({"display_name": "Kept"}))
            .await
            .status,
        200
    );
    let long = "n".repeat(65);
    for body in [
        json!({"display_name": ""}),
        json!({"display_name": "   "}),
        json!({"display_name": "two\nlines"}),
        json!({"display_name": "nul\u{0}"}),
        json!({"display_name": "bidi\u{202e}"}),
        json!({"display_name": "\u{fffe}"}),
        json!({"display_name": long}),
        json!({"display_name": 5}),
        json!({"display_name": ["a"]}),
        json!({"name": "x"}),
        json!({"display_name": "ok", "extra": 1}),
        json!([]),
    ] {
        let r = put_name(&app, 480, A, &key, &body).await;
        assert_eq!(r.code(), (400, 8), "{body}: {}", r.json);
        assert!(!r.error().is_empty());
    }
    // Oversized body.
    let huge = json!({"display_name": "x".repeat(4096)});
    let r = put_name(&app, 480, A, &key, &huge).await;
    assert_eq!(r.status, 413, "{}", r.json);
    // A session with a bad name mints no token and sets nothing.
    let r = app
        .post(
            "/api/v1/sessions",
            None,
            &json!({"app_id": 480, "steam_id": A, "display_name": "bad\u{7}"}),
        )
        .await;
    assert_eq!(r.code(), (400, 8), "{}", r.json);
    // Without credentials.
    assert_eq!(app.get(&profile_path(480, A), None).await.code(), (401, 21));
    assert_eq!(
        app.send(
            "PUT",
            &profile_path(480, A),
            None,
            &[],
            json!({"display_name": "x"}).to_string()
        )
        .await
        .code(),
        (401, 21)
    );
    // Bad ids in the path, an unknown app.
    assert_eq!(
        app.get(&profile_path(480, "abc"), Some(&token))
            .await
            .code(),
        (400, 8)
    );
    assert_eq!(
        app.get(&profile_path(9999, A), Some(&key)).await.status,
        403
    );
    let r = app.get(&profile_path(480, A), Some(&token)).await;
    assert_eq!(r.json["display_name"], "Kept", "nothing changed");
}
