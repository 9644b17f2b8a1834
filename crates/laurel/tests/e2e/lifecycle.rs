//! Credentials' lifecycle and the audit log (issue 12, finding 9 and the
//! audit log), over the real binary: revocation per user and per app (admin
//! API and CLI), tokens tied to the key that minted them, secret rotation
//! with a grace period, resets recorded and undone exactly.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use laurel_testkit::{ADMIN_TOKEN, Http, ServerProcess};
use serde_json::{Value, json};

use crate::cli::laurel;
use crate::{bin, steam_id};

/// How long a change made by another process may take to reach a running
/// server: its refresh interval (5 s), with room for a slow machine.
const PROPAGATION: Duration = Duration::from_secs(30);

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{:?}: {stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn serve(dir: &Path) -> ServerProcess {
    ServerProcess::start_with(bin(), dir, "127.0.0.1:0", &["--dev"]).expect("server starts")
}

/// The status of a read of `user`'s progress with `token`, and its error text.
fn read(http: &Http, app: u32, user: &str, token: &str) -> (u16, String) {
    let (status, body) = http.progress(app, user, token).expect("answered");
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Waits until a read with `token` is answered `status`; false at the deadline.
fn until_read_is(http: &Http, app: u32, user: &str, token: &str, status: u16) -> bool {
    let deadline = Instant::now() + PROPAGATION;
    while Instant::now() < deadline {
        if read(http, app, user, token).0 == status {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn private_app(http: &Http, app: u32) {
    let schema = laurel_core::schema_doc::demo_schema().to_doc();
    let mut schema = serde_json::to_value(&schema).expect("schema json");
    schema["app"]["name"] = json!(format!("Private {app}"));
    http.put_schema(app, &schema, ADMIN_TOKEN).expect("schema");
}

fn audit(http: &Http, query: &str) -> Vec<Value> {
    let (status, body) = http
        .get(&format!("/api/v1/admin/audit{query}"), Some(ADMIN_TOKEN))
        .expect("audit");
    assert_eq!(status, 200, "{body}");
    body["records"].as_array().cloned().unwrap_or_default()
}

/// Finding 9: a user's tokens, an app's tokens and a key's tokens can each be
/// revoked, at once on the node, and a session started afterwards works.
#[test]
fn revoked_users_apps_and_keys_lose_their_tokens_and_new_sessions_work() {
    let dir = tempfile::tempdir().expect("dir");
    let server = serve(dir.path());
    let http = Http::new(&server.url);
    private_app(&http, 700);
    let (k1, k2) = (
        http.server_key(700, ADMIN_TOKEN).expect("key"),
        http.server_key(700, ADMIN_TOKEN).expect("key"),
    );
    let (a, b, c) = (steam_id(41), steam_id(42), steam_id(43));
    let ta = http.session(700, &a, &k1).expect("session");
    let tb = http.session(700, &b, &k1).expect("session");
    let tc = http.session(700, &c, &k2).expect("session");
    for (user, token) in [(&a, &ta), (&b, &tb), (&c, &tc)] {
        assert_eq!(read(&http, 700, user, token).0, 200);
    }

    // One user.
    let (status, body) = http
        .post(
            "/api/v1/admin/apps/700/revocations",
            Some(ADMIN_TOKEN),
            &json!({"steam_id": a}),
        )
        .expect("revoke");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["steam_id"], json!(a));
    let (status, error) = read(&http, 700, &a, &ta);
    assert_eq!(status, 401);
    assert!(error.contains("revoked"), "{error}");
    assert_eq!(
        read(&http, 700, &b, &tb).0,
        200,
        "another user's token stands"
    );
    let ta2 = http.session(700, &a, &k1).expect("a new session");
    assert_eq!(read(&http, 700, &a, &ta2).0, 200);

    // One key: what it minted goes with it.
    let k1_id = http.key_ids(700, ADMIN_TOKEN).expect("keys")[0];
    assert_eq!(
        http.revoke_key(700, k1_id, ADMIN_TOKEN)
            .expect("revoke key"),
        200
    );
    for (user, token) in [(&a, &ta2), (&b, &tb)] {
        let (status, error) = read(&http, 700, user, token);
        assert_eq!(status, 401, "{error}");
        assert!(
            error.contains("server key that has been revoked"),
            "{error}"
        );
    }
    assert_eq!(
        read(&http, 700, &c, &tc).0,
        200,
        "the other key's tokens stand"
    );

    // The whole app.
    let (status, body) = http
        .post(
            "/api/v1/admin/apps/700/revocations",
            Some(ADMIN_TOKEN),
            &json!({}),
        )
        .expect("revoke app");
    assert_eq!((status, &body["steam_id"]), (200, &Value::Null), "{body}");
    assert_eq!(read(&http, 700, &c, &tc).0, 401);
    let tc2 = http.session(700, &c, &k2).expect("a new session");
    assert_eq!(read(&http, 700, &c, &tc2).0, 200);

    // Hostile input: refused with a clear error, nothing recorded.
    for (body, want) in [
        (json!({"steam_id": "0"}), 400),
        (json!({"steam_id": "x"}), 400),
        (json!({"steam_id": a, "extra": 1}), 400),
    ] {
        let (status, answer) = http
            .post(
                "/api/v1/admin/apps/700/revocations",
                Some(ADMIN_TOKEN),
                &body,
            )
            .expect("answered");
        assert_eq!(status, want, "{body}: {answer}");
    }
    let (status, _) = http
        .post(
            "/api/v1/admin/apps/701/revocations",
            Some(ADMIN_TOKEN),
            &json!({}),
        )
        .expect("answered");
    assert_eq!(status, 404);
    let (status, _) = http
        .post("/api/v1/admin/apps/700/revocations", Some(&tc2), &json!({}))
        .expect("answered");
    assert_eq!(status, 401, "a user token is no admin");

    // Every action above is in the audit log, from this address.
    let records = audit(&http, "?app_id=700");
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        actions,
        [
            "tokens.revoke",
            "key.revoke",
            "tokens.revoke",
            "key.create",
            "key.create",
            "schema.put"
        ],
        "{records:?}"
    );
    assert!(
        records
            .iter()
            .all(|r| r["actor"] == json!("admin") && r["address"] == json!("127.0.0.1")),
        "{records:?}"
    );
    assert_eq!(records[2]["steam_id"], json!(a));
    assert_eq!(records[0]["steam_id"], Value::Null);
    for bad in [
        "?limit=0",
        "?limit=1001",
        "?before=-1",
        "?app_id=0",
        "?what=1",
    ] {
        let (status, body) = http
            .get(&format!("/api/v1/admin/audit{bad}"), Some(ADMIN_TOKEN))
            .expect("answered");
        assert_eq!(status, 400, "{bad}: {body}");
    }
}

/// Finding 9 from the command line, against a running server (another
/// process on the same database): a revocation reaches the server within its
/// refresh interval; a rotated secret keeps verifying old tokens for its
/// grace period, and no longer once a rotation without grace follows.
#[test]
fn the_cli_revokes_and_rotates_while_the_server_runs() {
    let dir = tempfile::tempdir().expect("dir");
    let server = serve(dir.path());
    let http = Http::new(&server.url);
    let (a, marker) = (steam_id(51), steam_id(52));
    let old = http.dev_token(480, &a).expect("token");
    let marked = http.dev_token(480, &marker).expect("token");

    ok(&laurel(
        dir.path(),
        &["secret", "rotate", "--grace", "3600"],
    ));
    // A revocation written after the rotation: once the server refuses it,
    // it has read the rotation too (it reads revocations first).
    ok(&laurel(dir.path(), &["tokens", "revoke", "480", &marker]));
    assert!(
        until_read_is(&http, 480, &marker, &marked, 401),
        "the CLI's revocation never arrived"
    );
    assert_eq!(
        read(&http, 480, &a, &old).0,
        200,
        "the old secret verifies in its grace period"
    );
    let fresh = http.dev_token(480, &a).expect("token");
    assert_ne!(fresh, old);
    assert_eq!(read(&http, 480, &a, &fresh).0, 200);

    ok(&laurel(dir.path(), &["secret", "rotate", "--grace", "0"]));
    assert!(
        until_read_is(&http, 480, &a, &fresh, 401),
        "the grace period never ended"
    );
    let (status, error) = read(&http, 480, &a, &old);
    assert_eq!(status, 401);
    assert!(error.contains("not signed by this server"), "{error}");
    let newest = http.dev_token(480, &a).expect("token");
    assert_eq!(read(&http, 480, &a, &newest).0, 200);

    // The whole app, from the command line.
    ok(&laurel(dir.path(), &["tokens", "revoke", "480"]));
    assert!(until_read_is(&http, 480, &a, &newest, 401));

    // Bad arguments: a clear message and exit code, nothing revoked.
    for (args, code) in [
        (vec!["tokens", "revoke", "0"], 3),
        (vec!["tokens", "revoke", "480", "nope"], 3),
        (vec!["tokens", "revoke", "999"], 4),
        (vec!["secret", "rotate", "--grace", "-5"], 2),
    ] {
        let out = laurel(dir.path(), &args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {out:?}");
    }
    let lines = ok(&laurel(dir.path(), &["audit", "--app", "480"]));
    let actions: Vec<String> = lines
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("a JSON line");
            assert_eq!(
                (v["actor"].as_str(), v["address"].as_str()),
                (Some("cli"), Some("local"))
            );
            v["action"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(actions, ["tokens.revoke", "tokens.revoke"], "{lines}");
    let all = ok(&laurel(dir.path(), &["audit", "--limit", "1000"]));
    assert_eq!(all.matches("secret.rotate").count(), 2, "{all}");
}

/// The audit log: a player's own reset is recorded with what it removed, and
/// the admin undoes it exactly (progress and global figures), once; an undo
/// after later play is refused; the command line undoes a reset too.
#[test]
fn a_reset_is_audited_and_undone_exactly() {
    let dir = tempfile::tempdir().expect("dir");
    let mut server = serve(dir.path());
    let http = Http::new(&server.url);
    let (a, b) = (steam_id(61), steam_id(62));
    let (ta, tb) = (
        http.dev_token(480, &a).expect("token"),
        http.dev_token(480, &b).expect("token"),
    );
    let played = json!({
        "stats": [{"name": "NumGames", "value": 7}, {"name": "FeetTraveled", "value": 123.25}],
        "unlock": ["ACH_WIN_ONE_GAME"],
    });
    for (user, token) in [(&a, &ta), (&b, &tb)] {
        let (status, body) = http
            .store(480, user, token, "played", &played)
            .expect("store");
        assert_eq!(status, 200, "{body}");
    }
    let global = |http: &Http| {
        http.get("/api/v1/apps/480/global/achievements", Some(&tb))
            .expect("global")
            .1
    };
    let before = http.progress(480, &a, &ta).expect("read").1;
    let global_before = global(&http);

    let (status, body) = http
        .post(
            &format!("/api/v1/apps/480/users/{a}/reset"),
            Some(&ta),
            &json!({"achievements": true}),
        )
        .expect("reset");
    assert_eq!(status, 200, "{body}");
    assert_ne!(global(&http), global_before);
    let record = audit(&http, "?app_id=480&limit=1").remove(0);
    assert_eq!(record["action"], json!("reset"));
    assert_eq!(record["actor"], json!(format!("user:{a}")));
    assert_eq!(record["address"], json!("127.0.0.1"));
    assert_eq!(record["steam_id"], json!(a));
    assert_eq!(
        record["detail"]["before"]["stats"]["NumGames"]["int"],
        json!(7)
    );
    let id = record["id"].as_i64().expect("id");

    let (status, body) = http
        .post(
            &format!("/api/v1/admin/audit/{id}/undo"),
            Some(ADMIN_TOKEN),
            &json!(null),
        )
        .expect("undo");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["undone"], json!(id));
    let mut restored = http.progress(480, &a, &ta).expect("read").1;
    assert_eq!(
        restored["version"],
        json!(before["version"].as_u64().unwrap_or(0) + 2)
    );
    restored["version"] = before["version"].clone();
    assert_eq!(restored, before, "the progress is back, bit for bit");
    assert_eq!(body["progress"]["stats"], before["stats"]);
    assert_eq!(global(&http), global_before, "the global figures are back");

    let (status, body) = http
        .post(
            &format!("/api/v1/admin/audit/{id}/undo"),
            Some(ADMIN_TOKEN),
            &json!(null),
        )
        .expect("undo again");
    assert_eq!((status, body["result"].as_i64()), (409, Some(11)), "{body}");
    for (path, want) in [
        ("/api/v1/admin/audit/99999/undo", 404),
        ("/api/v1/admin/audit/0/undo", 400),
        ("/api/v1/admin/audit/x/undo", 400),
    ] {
        let (status, body) = http
            .post(path, Some(ADMIN_TOKEN), &json!(null))
            .expect("answered");
        assert_eq!(status, want, "{path}: {body}");
    }
    let (status, _) = http
        .post(
            &format!("/api/v1/admin/audit/{id}/undo"),
            Some(&ta),
            &json!(null),
        )
        .expect("answered");
    assert_eq!(status, 401, "a player cannot undo");

    // Reset, then play: the undo would lose the play, so it is refused.
    let (status, _) = http
        .post(
            &format!("/api/v1/apps/480/users/{b}/reset"),
            Some(&tb),
            &json!({}),
        )
        .expect("reset");
    assert_eq!(status, 200);
    let reset_b = audit(&http, "?app_id=480&limit=1")[0]["id"]
        .as_i64()
        .expect("id");
    let (status, _) = http
        .store(
            480,
            &b,
            &tb,
            "after",
            &json!({"stats": [{"name": "NumGames", "value": 1}]}),
        )
        .expect("store");
    assert_eq!(status, 200);
    let (status, body) = http
        .post(
            &format!("/api/v1/admin/audit/{reset_b}/undo"),
            Some(ADMIN_TOKEN),
            &json!(null),
        )
        .expect("undo");
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("written after"),
        "{body}"
    );

    // The command line, on the stopped server's database.
    let global_before_admin_reset = global(&http);
    let (status, _) = http
        .post(
            &format!("/api/v1/admin/apps/480/users/{a}/reset"),
            Some(ADMIN_TOKEN),
            &json!({"achievements": true}),
        )
        .expect("admin reset");
    assert_eq!(status, 200);
    let record = audit(&http, "?app_id=480&limit=1").remove(0);
    assert_eq!(record["actor"], json!("admin"));
    let id = record["id"].as_i64().expect("id").to_string();
    server.terminate().expect("stop");
    let out = laurel(dir.path(), &["audit", "undo", &id]);
    ok(&out);
    assert_eq!(
        laurel(dir.path(), &["audit", "undo", &id]).status.code(),
        Some(3)
    );
    assert_eq!(
        laurel(dir.path(), &["audit", "undo", "99999"])
            .status
            .code(),
        Some(4)
    );
    server.restart().expect("restart");
    let http = Http::new(&server.url);
    let mut restored = http.progress(480, &a, &ta).expect("read").1;
    restored["version"] = before["version"].clone();
    assert_eq!(restored, before);
    assert_eq!(
        global(&http),
        global_before_admin_reset,
        "the figures are back"
    );
}
