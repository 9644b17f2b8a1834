//! One fresh SQLite database per test, the router driven in-process with
//! `oneshot`. Set `TEST_LOG=1` to see the server's log lines.

use std::sync::{Arc, Once};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use laurel_core::UserProgress;
use laurel_core::{AppId, ResetScope, Schema, SteamId};
use laurel_server::{AppState, ServerConfig, router};
use laurel_store::{
    AppSummary, AuditDraft, AuditQuery, AuditRecord, GlobalAchievements, GlobalStat,
    GlobalStatsQuery, KeyRecord, SigningSecrets, Store, StoreError, StoreReply, StoreRequest,
    StoredKey, StoredSchema, TokenRevocation, TokenRevocations,
};
use laurel_store_sqlite::{SqliteOptions, SqliteStore};
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt;

pub const ADMIN: &str = "test-admin-token";
pub const A: &str = "76561197960287930";
pub const B: &str = "76561197960287931";

fn init_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            tracing_subscriber::fmt()
                .with_env_filter("debug")
                .with_test_writer()
                .init();
        }
    });
}

pub fn open_store(dir: &TempDir) -> Arc<dyn Store> {
    Arc::new(
        SqliteStore::open(&dir.path().join("laurel.sqlite3"), SqliteOptions::default())
            .expect("open the test database"),
    )
}

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    _dir: TempDir,
}

/// Dev mode with an admin token: the demo app exists, tokens are free.
pub async fn spawn() -> TestApp {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(tweak: impl FnOnce(&mut ServerConfig)) -> TestApp {
    let dir = TempDir::new().expect("temp dir");
    let store = open_store(&dir);
    spawn_on(dir, store, tweak).await
}

pub async fn spawn_on(
    dir: TempDir,
    store: Arc<dyn Store>,
    tweak: impl FnOnce(&mut ServerConfig),
) -> TestApp {
    init_logging();
    let mut config = ServerConfig::new("127.0.0.1:0".parse().expect("addr"));
    config.dev = true;
    config.admin_token = Some(ADMIN.to_owned());
    tweak(&mut config);
    let state = AppState::new(&config, store).await.expect("state");
    TestApp {
        router: router(state.clone()),
        state,
        _dir: dir,
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub json: Value,
}

impl Reply {
    /// `(HTTP status, EResult)`.
    pub fn code(&self) -> (u16, i64) {
        (
            self.status.as_u16(),
            self.json["result"].as_i64().unwrap_or(-1),
        )
    }
    pub fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or("")
    }
}

impl TestApp {
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(auth) = auth {
            request = request.header("authorization", format!("Bearer {auth}"));
        }
        // JSON unless the test says otherwise, as every client of the API sends.
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            request = request.header("content-type", "application/json");
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(body.into()).expect("request"))
            .await
            .expect("infallible");
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("").to_owned());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        // Every answer is JSON, but for Prometheus' text at /metrics (read
        // here as a JSON string, so tests can look into it).
        if path == "/metrics" && status == 200 {
            assert!(
                content_type
                    .as_deref()
                    .is_some_and(|t| t.starts_with("text/plain")),
                "{content_type:?}"
            );
            let text = String::from_utf8_lossy(&bytes).into_owned();
            return Reply {
                status,
                json: Value::String(text),
            };
        }
        assert_eq!(
            content_type.as_deref(),
            Some("application/json"),
            "every answer is JSON: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
        Reply { status, json }
    }

    pub async fn get(&self, path: &str, auth: Option<&str>) -> Reply {
        self.send("GET", path, auth, &[], Body::empty()).await
    }

    pub async fn post(&self, path: &str, auth: Option<&str>, body: &Value) -> Reply {
        self.send("POST", path, auth, &[], body.to_string()).await
    }

    /// A user token: from the dev-mode session route for the demo app, and
    /// through a new server key for any other app (dev mode serves only the demo app).
    pub async fn token(&self, app: u32, user: &str) -> String {
        if app != laurel_server::DEMO_APP_ID {
            let key = self.create_key(app).await;
            return self.session(app, user, &key).await;
        }
        let r = self
            .post(
                "/api/v1/sessions",
                None,
                &json!({"app_id": app, "steam_id": user}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        r.json["token"].as_str().expect("token").to_owned()
    }

    /// A user token from the session route, paid for with a server key.
    pub async fn session(&self, app: u32, user: &str, key: &str) -> String {
        let r = self
            .post(
                "/api/v1/sessions",
                Some(key),
                &json!({"app_id": app, "steam_id": user}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        r.json["token"].as_str().expect("token").to_owned()
    }

    pub async fn progress(&self, app: u32, user: &str, auth: &str) -> Reply {
        self.get(
            &format!("/api/v1/apps/{app}/users/{user}/progress"),
            Some(auth),
        )
        .await
    }

    pub async fn store(&self, app: u32, user: &str, auth: &str, key: &str, body: &Value) -> Reply {
        self.store_raw(app, user, auth, key, body.to_string()).await
    }

    pub async fn store_raw(
        &self,
        app: u32,
        user: &str,
        auth: &str,
        key: &str,
        body: String,
    ) -> Reply {
        self.send(
            "POST",
            &format!("/api/v1/apps/{app}/users/{user}/progress"),
            Some(auth),
            &[
                ("idempotency-key", key),
                ("content-type", "application/json"),
            ],
            body,
        )
        .await
    }

    pub async fn put_schema(&self, app: u32, schema: &str) -> Reply {
        self.send(
            "PUT",
            &format!("/api/v1/admin/apps/{app}/schema"),
            Some(ADMIN),
            &[],
            schema.to_owned(),
        )
        .await
    }

    pub async fn create_key(&self, app: u32) -> String {
        let r = self
            .post(
                &format!("/api/v1/admin/apps/{app}/keys"),
                Some(ADMIN),
                &json!({"label": "test"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.json);
        r.json["key"].as_str().expect("key").to_owned()
    }

    /// Reads a user's progress as the server answers it, for before/after comparisons.
    pub async fn snapshot(&self, app: u32, user: &str) -> Value {
        let key = self.create_key(app).await;
        let r = self.progress(app, user, &key).await;
        assert_eq!(r.status, 200, "{}", r.json);
        r.json
    }
}

/// Replaces values that change from run to run (times, secrets) by placeholders.
pub fn redact(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                match k.as_str() {
                    "token" if v.is_string() => *v = json!("[token]"),
                    "key" if v.is_string() => *v = json!("[key]"),
                    "expires_at" | "unlock_time" | "created" if v.is_number() => {
                        *v = json!("[time]")
                    }
                    _ => redact(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

pub fn redacted(mut v: Value) -> Value {
    redact(&mut v);
    v
}

pub fn stat(progress: &Value, name: &str) -> Option<f64> {
    progress["stats"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == name)?["value"]
        .as_f64()
}

pub fn achievement<'a>(progress: &'a Value, name: &str) -> Option<&'a Value> {
    progress["achievements"]
        .as_array()?
        .iter()
        .find(|a| a["name"] == name)
}

/// A schema where users may not read each other, with a server-only stat.
pub const PRIVATE_SCHEMA: &str = r#"{
  "app": { "name": "Private", "public_progress": false },
  "stats": [
    { "name": "Kills", "type": "int", "min": 0, "max": 1000 },
    { "name": "Rank", "type": "int", "set_by": "server" }
  ],
  "achievements": [
    { "name": "ACH_FIRST", "display_name": { "english": "First" }, "description": { "english": "Play once." } }
  ]
}"#;

/// Wraps a real store to slow it down or make it fail, for timeouts and health.
pub struct FaultyStore {
    pub inner: Arc<dyn Store>,
    pub progress_delay: Duration,
    pub healthy: bool,
    /// `record_audit` fails (the audit log's disk is full, say).
    pub audit_fails: bool,
}

#[async_trait]
impl Store for FaultyStore {
    async fn put_schema(&self, app: AppId, schema: Schema) -> Result<u64, StoreError> {
        self.inner.put_schema(app, schema).await
    }
    async fn schema(&self, app: AppId) -> Result<Option<StoredSchema>, StoreError> {
        self.inner.schema(app).await
    }
    async fn apps(&self) -> Result<Vec<AppSummary>, StoreError> {
        self.inner.apps().await
    }
    async fn progress(&self, app: AppId, user: SteamId) -> Result<UserProgress, StoreError> {
        tokio::time::sleep(self.progress_delay).await;
        self.inner.progress(app, user).await
    }
    async fn store(&self, request: StoreRequest) -> Result<StoreReply, StoreError> {
        self.inner.store(request).await
    }
    async fn reset(
        &self,
        app: AppId,
        user: SteamId,
        scope: ResetScope,
        now: laurel_core::UnixTime,
        audit: AuditDraft,
    ) -> Result<UserProgress, StoreError> {
        self.inner.reset(app, user, scope, now, audit).await
    }
    async fn undo_reset(
        &self,
        id: i64,
        now: laurel_core::UnixTime,
        audit: AuditDraft,
    ) -> Result<laurel_store::Undone, StoreError> {
        self.inner.undo_reset(id, now, audit).await
    }
    async fn record_audit(&self, draft: AuditDraft) -> Result<i64, StoreError> {
        if self.audit_fails {
            return Err(StoreError::Unavailable("audit log full".into()));
        }
        self.inner.record_audit(draft).await
    }
    async fn audit_log(&self, query: AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        self.inner.audit_log(query).await
    }
    async fn revoke_tokens(
        &self,
        revocation: TokenRevocation,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        self.inner.revoke_tokens(revocation, audit).await
    }
    async fn token_revocations(&self) -> Result<TokenRevocations, StoreError> {
        self.inner.token_revocations().await
    }
    async fn set_display_name(
        &self,
        app: AppId,
        user: SteamId,
        name: Option<String>,
    ) -> Result<(), StoreError> {
        self.inner.set_display_name(app, user, name).await
    }
    async fn display_name(&self, app: AppId, user: SteamId) -> Result<Option<String>, StoreError> {
        self.inner.display_name(app, user).await
    }
    async fn rotate_signing_secret(&self, grace_until: i64) -> Result<(), StoreError> {
        self.inner.rotate_signing_secret(grace_until).await
    }
    async fn global_achievements(&self, app: AppId) -> Result<GlobalAchievements, StoreError> {
        self.inner.global_achievements(app).await
    }
    async fn global_stats(
        &self,
        app: AppId,
        query: GlobalStatsQuery,
    ) -> Result<Vec<GlobalStat>, StoreError> {
        self.inner.global_stats(app, query).await
    }
    async fn create_key(
        &self,
        app: AppId,
        label: &str,
        secret_hash: &str,
        now: i64,
    ) -> Result<KeyRecord, StoreError> {
        self.inner.create_key(app, label, secret_hash, now).await
    }
    async fn keys(&self, app: AppId) -> Result<Vec<KeyRecord>, StoreError> {
        self.inner.keys(app).await
    }
    async fn revoke_key(&self, app: AppId, id: i64) -> Result<bool, StoreError> {
        self.inner.revoke_key(app, id).await
    }
    async fn find_key(&self, secret_hash: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.inner.find_key(secret_hash).await
    }
    async fn signing_secrets(&self) -> Result<SigningSecrets, StoreError> {
        self.inner.signing_secrets().await
    }
    async fn leaderboards(
        &self,
        app: AppId,
        now: laurel_core::UnixTime,
    ) -> Result<Vec<laurel_store::BoardSummary>, StoreError> {
        self.inner.leaderboards(app, now).await
    }
    async fn leaderboard(
        &self,
        app: AppId,
        name: &laurel_core::leaderboard::BoardName,
    ) -> Result<Option<laurel_store::Board>, StoreError> {
        self.inner.leaderboard(app, name).await
    }
    async fn create_leaderboard(
        &self,
        app: AppId,
        def: &laurel_core::leaderboard::LeaderboardDef,
    ) -> Result<(laurel_store::Board, bool), StoreError> {
        self.inner.create_leaderboard(app, def).await
    }
    async fn delete_leaderboard(
        &self,
        app: AppId,
        board: laurel_store::BoardId,
        audit: AuditDraft,
    ) -> Result<bool, StoreError> {
        self.inner.delete_leaderboard(app, board, audit).await
    }
    async fn reset_leaderboard(
        &self,
        app: AppId,
        board: laurel_store::BoardId,
        audit: AuditDraft,
    ) -> Result<u64, StoreError> {
        self.inner.reset_leaderboard(app, board, audit).await
    }
    async fn delete_leaderboard_entry(
        &self,
        app: AppId,
        board: laurel_store::BoardId,
        period: laurel_store::PeriodStart,
        user: SteamId,
        audit: AuditDraft,
    ) -> Result<bool, StoreError> {
        self.inner
            .delete_leaderboard_entry(app, board, period, user, audit)
            .await
    }
    async fn upload_score(
        &self,
        request: laurel_store::UploadRequest,
    ) -> Result<laurel_store::UploadReply, StoreError> {
        self.inner.upload_score(request).await
    }
    async fn board_changes(
        &self,
        app: AppId,
        board: laurel_store::BoardId,
        period: laurel_store::PeriodStart,
        cursor: u64,
    ) -> Result<laurel_store::BoardChanges, StoreError> {
        self.inner.board_changes(app, board, period, cursor).await
    }
    async fn set_friends(
        &self,
        app: AppId,
        user: SteamId,
        friends: &[SteamId],
    ) -> Result<(), StoreError> {
        self.inner.set_friends(app, user, friends).await
    }
    async fn friends(&self, app: AppId, user: SteamId) -> Result<Vec<SteamId>, StoreError> {
        self.inner.friends(app, user).await
    }
    async fn friend_lists(&self, app: AppId) -> Result<Vec<(SteamId, Vec<SteamId>)>, StoreError> {
        self.inner.friend_lists(app).await
    }
    async fn stored_entries(
        &self,
        app: AppId,
        board: laurel_store::BoardId,
    ) -> Result<Vec<laurel_store::StoredEntry>, StoreError> {
        self.inner.stored_entries(app, board).await
    }
    async fn import_entries(
        &self,
        app: AppId,
        board: laurel_store::BoardId,
        entries: &[laurel_store::StoredEntry],
    ) -> Result<(), StoreError> {
        self.inner.import_entries(app, board, entries).await
    }
    async fn users(
        &self,
        app: AppId,
        after: Option<SteamId>,
        limit: usize,
    ) -> Result<Vec<SteamId>, StoreError> {
        self.inner.users(app, after, limit).await
    }
    async fn import_user(
        &self,
        app: AppId,
        user: SteamId,
        progress: &UserProgress,
    ) -> Result<(), StoreError> {
        self.inner.import_user(app, user, progress).await
    }
    async fn stored_keys(&self, app: AppId) -> Result<Vec<StoredKey>, StoreError> {
        self.inner.stored_keys(app).await
    }
    async fn import_key(&self, key: &StoredKey) -> Result<KeyRecord, StoreError> {
        self.inner.import_key(key).await
    }
    async fn import_signing_secret(&self, secret: &[u8]) -> Result<bool, StoreError> {
        self.inner.import_signing_secret(secret).await
    }
    async fn health(&self) -> Result<(), StoreError> {
        if self.healthy {
            self.inner.health().await
        } else {
            Err(StoreError::Unavailable("disk on fire".into()))
        }
    }
}
