//! The real thing over loopback: `Application::build` on port 0, a plain
//! blocking HTTP client, and a graceful shutdown with a request in flight.

use std::sync::Arc;
use std::time::Duration;

use laurel_server::{Application, ServerConfig};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;

use crate::helpers::*;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// One blocking request: `(status, JSON body)`.
fn call(
    base: &str,
    method: &str,
    path: &str,
    auth: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> (u16, Value) {
    let agent = agent();
    let url = format!("{base}{path}");
    let mut request = ureq::http::Request::builder().method(method).uri(&url);
    if let Some(auth) = auth {
        request = request.header("Authorization", format!("Bearer {auth}"));
    }
    if body.is_some() {
        request = request.header("Content-Type", "application/json");
    }
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let text = body.map(Value::to_string).unwrap_or_default();
    let mut response = agent
        .run(request.body(text).expect("request"))
        .expect("the server answers");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().expect("body");
    (status, serde_json::from_str(&text).expect("JSON answer"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_over_loopback_and_shuts_down_gracefully() {
    let dir = TempDir::new().unwrap();
    // Reads take a moment, so that one can be in flight when shutdown starts.
    let store = Arc::new(FaultyStore {
        inner: open_store(&dir),
        progress_delay: Duration::from_millis(400),
        healthy: true,
        audit_fails: false,
    });
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    config.dev = true;
    let app = Application::build(config, store).await.expect("build");
    let addr = app.local_addr();
    assert_ne!(addr.port(), 0);
    let base = format!("http://{addr}");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));

    let b = base.clone();
    let (token, stored) = tokio::task::spawn_blocking(move || {
        let (status, health) = call(&b, "GET", "/healthz", None, &[], None);
        assert_eq!((status, health), (200, json!({"status": "ok"})));
        let (status, session) = call(&b, "POST", "/api/v1/sessions", None, &[], Some(&json!({"app_id": 480, "steam_id": A})));
        assert_eq!(status, 200, "{session}");
        let token = session["token"].as_str().unwrap().to_owned();
        let (status, stored) = call(
            &b,
            "POST",
            &format!("/api/v1/apps/480/users/{A}/progress"),
            Some(&token),
            &[("Idempotency-Key", "e2e-1")],
            Some(&json!({"stats": [{"name": "NumGames", "value": 1}], "unlock": ["ACH_WIN_ONE_GAME"]})),
        );
        assert_eq!(status, 200, "{stored}");
        let (status, missing) = call(&b, "GET", "/no/such/route", None, &[], None);
        assert_eq!((status, missing["result"].as_i64()), (404, Some(9)));
        (token, stored)
    })
    .await
    .unwrap();
    assert_eq!(stored["progress"]["version"], 1);

    // A read of a user not yet cached goes to the (slow) store; stop the server meanwhile.
    let b = base.clone();
    let in_flight = tokio::task::spawn_blocking(move || {
        call(
            &b,
            "GET",
            &format!("/api/v1/apps/480/users/{B}/progress"),
            Some(&token),
            &[],
            None,
        )
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    stop.send(()).unwrap();
    let (status, progress) = in_flight.await.unwrap();
    assert_eq!(status, 200, "the request in flight finished: {progress}");
    assert_eq!(progress["steam_id"], B);
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stops")
        .unwrap()
        .expect("clean stop");
    // Nothing listens any more.
    let refused =
        tokio::task::spawn_blocking(move || agent().get(format!("{base}/healthz")).call().is_err())
            .await
            .unwrap();
    assert!(refused);
}
