use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn admin_routes_need_the_admin_token() {
    let app = spawn().await;
    let t = app.token(480, A).await;
    let key = app.create_key(480).await;
    let routes = [
        ("GET", "/api/v1/admin/apps"),
        ("PUT", "/api/v1/admin/apps/480/schema"),
        ("GET", "/api/v1/admin/apps/480/keys"),
        ("POST", "/api/v1/admin/apps/480/keys"),
        ("DELETE", "/api/v1/admin/apps/480/keys/1"),
        (
            "POST",
            "/api/v1/admin/apps/480/users/76561197960287930/reset",
        ),
    ];
    for (method, path) in routes {
        assert_eq!(
            app.send(method, path, None, &[], "{}").await.code(),
            (401, 21),
            "{method} {path}"
        );
        for wrong in ["wrong", t.as_str(), key.as_str()] {
            assert_eq!(
                app.send(method, path, Some(wrong), &[], "{}").await.code(),
                (401, 21),
                "{method} {path}"
            );
        }
    }
    let disabled = spawn_with(|c| c.admin_token = None).await;
    for (method, path) in routes {
        let r = disabled.send(method, path, Some(ADMIN), &[], "{}").await;
        assert_eq!(r.code(), (403, 15), "{method} {path}");
        assert_eq!(r.error(), "admin API is disabled: set LAUREL_ADMIN_TOKEN");
    }
}

#[tokio::test]
async fn apps_and_schemas() {
    let app = spawn().await;
    let r = app.put_schema(481, PRIVATE_SCHEMA).await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    insta::assert_json_snapshot!(r.json);
    let r = app.put_schema(481, PRIVATE_SCHEMA).await;
    assert_eq!(r.json["version"], 2);
    let r = app.get("/api/v1/admin/apps", Some(ADMIN)).await;
    insta::assert_json_snapshot!(r.json);
    let key = app.create_key(481).await;
    let r = app.get("/api/v1/apps/481/schema", Some(&key)).await;
    assert_eq!(r.json["schema"]["stats"][1]["set_by"], "server");
}

#[tokio::test]
async fn a_schema_with_many_faults_lists_them_all() {
    let app = spawn().await;
    let bad = json!({
        "app": {"name": "Broken"},
        "stats": [
            {"name": "", "type": "int"},
            {"name": "X", "type": "int", "min": 10, "max": 1},
            {"name": "X", "type": "float", "default": 1e38, "max": 1},
            {"name": "Rate", "type": "avgrate"}
        ],
        "achievements": [
            {"name": "A", "display_name": {"french": "Un"}},
            {"name": "B", "display_name": {"english": "B"}, "progress": {"stat": "Nope", "max": 5}}
        ]
    });
    let r = app.put_schema(482, &bad.to_string()).await;
    assert_eq!(r.code(), (400, 8));
    assert!(
        r.json["details"].as_array().unwrap().len() >= 5,
        "{}",
        r.json
    );
    insta::assert_json_snapshot!(r.json);
    // Nothing was created.
    let apps = app.get("/api/v1/admin/apps", Some(ADMIN)).await;
    assert!(
        apps.json["apps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["app_id"] != 482)
    );
}

#[tokio::test]
async fn schema_syntax_errors_name_line_and_column() {
    let app = spawn().await;
    let r = app
        .put_schema(
            482,
            "{\n  \"stats\": [\n    {\"name\": \"X\" \"type\": \"int\"}\n  ]\n}",
        )
        .await;
    assert_eq!(r.code(), (400, 8));
    let location = r.json["details"][0]["location"].as_str().unwrap();
    assert!(location.starts_with("line 3, column "), "{location}");
    let r = app.put_schema(482, r#"{"stats": [], "colour": 1}"#).await;
    assert_eq!(r.code(), (400, 8));
    assert!(
        r.json["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field")
    );
}

#[tokio::test]
async fn schemas_may_be_larger_than_client_bodies() {
    let app = spawn().await;
    let stats: Vec<Value> = (0..600)
        .map(
            |i| json!({"name": format!("Stat{i}"), "type": "int", "display_name": "d".repeat(200)}),
        )
        .collect();
    let doc = json!({"app": {"name": "Big"}, "stats": stats}).to_string();
    assert!(doc.len() > laurel_server::MAX_BODY_BYTES);
    let r = app.put_schema(483, &doc).await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    let huge = format!(
        r#"{{"app":{{"name":"{}"}}}}"#,
        "x".repeat(laurel_server::MAX_SCHEMA_BODY_BYTES)
    );
    let r = app.put_schema(483, &huge).await;
    assert_eq!(r.code(), (413, 25), "{}", r.json);
}

#[tokio::test]
async fn keys_are_created_listed_and_revoked() {
    let app = spawn_with(|c| c.dev = false).await;
    assert_eq!(app.put_schema(481, PRIVATE_SCHEMA).await.status, 200);
    let r = app
        .post(
            "/api/v1/admin/apps/481/keys",
            Some(ADMIN),
            &json!({"label": "backend"}),
        )
        .await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    let secret = r.json["key"].as_str().unwrap().to_owned();
    assert!(
        secret.starts_with("lk_")
            && secret.len() == 67
            && secret[3..].bytes().all(|b| b.is_ascii_hexdigit())
    );
    insta::assert_json_snapshot!(redacted(r.json.clone()));
    let id = r.json["record"]["id"].as_i64().unwrap();

    // An empty body is a key without a label.
    let r = app
        .send("POST", "/api/v1/admin/apps/481/keys", Some(ADMIN), &[], "")
        .await;
    assert_eq!(r.json["record"]["label"], "");
    let r = app
        .post(
            "/api/v1/admin/apps/481/keys",
            Some(ADMIN),
            &json!({"label": "x".repeat(300)}),
        )
        .await;
    assert_eq!(r.code(), (400, 8));

    let r = app.get("/api/v1/admin/apps/481/keys", Some(ADMIN)).await;
    assert_eq!(r.json["keys"].as_array().unwrap().len(), 2);
    assert!(
        !r.json.to_string().contains(&secret[3..]),
        "secrets are never listed"
    );

    assert!(!app.session(481, A, &secret).await.is_empty());
    let r = app
        .send(
            "DELETE",
            &format!("/api/v1/admin/apps/481/keys/{id}"),
            Some(ADMIN),
            &[],
            "",
        )
        .await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    insta::assert_json_snapshot!(r.json, @r#"
    {
      "app_id": 481,
      "id": 1,
      "result": 1,
      "revoked": true
    }
    "#);
    // Revocation through this server takes effect at once, despite the key cache.
    let r = app
        .post(
            "/api/v1/sessions",
            Some(&secret),
            &json!({"app_id": 481, "steam_id": A}),
        )
        .await;
    assert_eq!(r.code(), (401, 21));
    let r = app
        .send(
            "DELETE",
            "/api/v1/admin/apps/481/keys/999",
            Some(ADMIN),
            &[],
            "",
        )
        .await;
    assert_eq!(r.code(), (404, 9));
    let r = app
        .send(
            "DELETE",
            "/api/v1/admin/apps/481/keys/abc",
            Some(ADMIN),
            &[],
            "",
        )
        .await;
    assert_eq!(r.code(), (400, 8));
}

#[tokio::test]
async fn admin_resets_any_user() {
    let app = spawn().await;
    let t = app.token(480, A).await;
    let r = app
        .store(
            480,
            A,
            &t,
            "k",
            &json!({"stats": [{"name": "NumGames", "value": 9}], "unlock": ["ACH_WIN_ONE_GAME"]}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .post(
            &format!("/api/v1/admin/apps/480/users/{A}/reset"),
            Some(ADMIN),
            &json!({"achievements": true}),
        )
        .await;
    assert_eq!(r.code(), (200, 1), "{}", r.json);
    assert_eq!(stat(&r.json, "NumGames"), Some(0.0));
    assert_eq!(
        achievement(&r.json, "ACH_WIN_ONE_GAME").unwrap()["unlocked"],
        false
    );
    assert_eq!(app.progress(480, A, &t).await.json, r.json);
    let r = app
        .post(
            &format!("/api/v1/admin/apps/999/users/{A}/reset"),
            Some(ADMIN),
            &json!({}),
        )
        .await;
    assert_eq!(r.code(), (404, 9));
}

/// The admin API takes any single-file schema format by `?format=`: here a
/// saved GetSchemaForGame response and KeyValues text.
#[tokio::test]
async fn foreign_schema_formats_by_query() {
    let app = spawn().await;
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../laurel-schema-formats/tests/fixtures");
    for (format, file) in [
        ("steam-json", "steam/GetSchemaForGame_480.json"),
        ("vdf", "vdf/UserGameStatsSchema_480.vdf"),
    ] {
        let text = std::fs::read_to_string(fixtures.join(file)).expect("fixture");
        let r = app
            .send(
                "PUT",
                &format!("/api/v1/admin/apps/490/schema?format={format}"),
                Some(ADMIN),
                &[],
                text,
            )
            .await;
        assert_eq!(r.code(), (200, 1), "{format}: {}", r.json);
    }
    let key = app.create_key(490).await;
    let r = app.get("/api/v1/apps/490/schema", Some(&key)).await;
    assert!(
        r.json["schema"]["achievements"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "{}",
        r.json
    );
    // Unknown formats and parameters, and a truncated file: 400, every problem listed, nothing changed.
    let r = app
        .send(
            "PUT",
            "/api/v1/admin/apps/490/schema?format=yaml",
            Some(ADMIN),
            &[],
            "{}",
        )
        .await;
    assert_eq!(r.code(), (400, 8));
    assert!(r.error().contains("format"), "{}", r.error());
    let r = app
        .send(
            "PUT",
            "/api/v1/admin/apps/490/schema?colour=red",
            Some(ADMIN),
            &[],
            "{}",
        )
        .await;
    assert_eq!(r.code(), (400, 8));
    let truncated =
        std::fs::read_to_string(fixtures.join("malformed/GetSchemaForGame_truncated.json"))
            .expect("fixture");
    let r = app
        .send(
            "PUT",
            "/api/v1/admin/apps/490/schema?format=steam-json",
            Some(ADMIN),
            &[],
            truncated,
        )
        .await;
    assert_eq!(r.code(), (400, 8));
    assert!(
        r.json["details"].as_array().is_some_and(|a| !a.is_empty()),
        "{}",
        r.json
    );
    let r = app.get("/api/v1/apps/490/schema", Some(&key)).await;
    assert_eq!(r.json["version"], 2, "{}", r.json);
}
