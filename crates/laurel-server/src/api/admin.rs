//! The operator's admin API: apps and schemas, server keys, resets,
//! token revocations, the audit log and undo.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use laurel_core::{AppId, EResult, SchemaProblem, SteamId};
use laurel_schema_formats::{Format, ImportOptions, SourceFile, import};
use laurel_store::KeyRecord;
use laurel_wire::{
    AppBody, AppListResponse, ErrorBody, KeyBody, KeyCreateRequest, KeyCreateResponse,
    KeyListResponse, KeyRevokeResponse, SchemaPutResponse,
};

use super::{ApiResult, ResetAuthority, actor, ok_json, reset_and_answer};
use crate::auth::{generate_server_key, hash_server_key};
use crate::clock::unix_now;
use crate::error::{ApiError, json_bytes, json_raw};
use crate::extract::{Admin, AppPath, AuditPath, KeyPath, Origin, RawBody, UserPath};
use crate::progress::{existing_schema, progress_snapshot};
use crate::state::AppState;
use laurel_store::audit::{AuditDraft, action};

use axum::extract::RawQuery;
use laurel_store::audit::{AuditQuery, AuditRecord, Undone};
use laurel_store::{MAX_AUDIT_PAGE, TokenRevocation, unix_now_ms};
use laurel_wire::{AuditListResponse, AuditRecordBody, TokenRevokeRequest, TokenRevokeResponse};

/// Longest label of a server key, in bytes.
pub const MAX_KEY_LABEL_BYTES: usize = 256;

pub async fn admin_list_apps(_: Admin, State(state): State<AppState>) -> ApiResult {
    let apps = state.store().apps().await?;
    ok_json(&AppListResponse {
        result: EResult::Ok.code(),
        apps: apps
            .into_iter()
            .map(|a| AppBody {
                app_id: a.app.get(),
                name: a.name,
                schema_version: a.schema_version,
                users: a.users,
            })
            .collect(),
    })
}

/// `PUT /api/v1/admin/apps/{app_id}/schema[?format=F&language=L]`: the body is
/// one schema file in format `F` (`json` by default; any single-file format of
/// `laurel_schema_formats`, e.g. `steam-json` or `vdf`). It is validated as a
/// whole and every problem is listed; nothing changes unless all of it is valid.
pub async fn admin_put_schema(
    _: Admin,
    State(state): State<AppState>,
    Origin(address): Origin,
    AppPath(app): AppPath,
    query: axum::extract::RawQuery,
    raw: RawBody,
) -> ApiResult {
    let mut format = Format::LaurelJson;
    let mut options = ImportOptions::default();
    for (k, v) in form_urlencoded::parse(query.0.as_deref().unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "format" => {
                format = v
                    .parse()
                    .map_err(|e: laurel_schema_formats::UnknownFormat| {
                        ApiError::invalid(format!("format: {e}"))
                    })?
            }
            "language" => options.language = v.chars().take(64).collect(),
            other => {
                let shown: String = other.chars().take(40).collect();
                return Err(ApiError::invalid(format!(
                    "unknown query parameter {shown:?} (use format=… and language=…)"
                )));
            }
        }
    }
    let text = std::str::from_utf8(&raw.0)
        .map_err(|e| ApiError::invalid(format!("schema is not UTF-8 text: {e}")))?;
    let source = SourceFile {
        name: "body",
        format,
        text,
    };
    let schema = import(&[source], &options).map_err(|problems| {
        let as_schema: Vec<SchemaProblem> = problems
            .into_iter()
            .map(|p| SchemaProblem {
                location: p.location,
                message: p.message,
            })
            .collect();
        ApiError::from_body(ErrorBody::from_schema_problems(&as_schema))
    })?;
    let version = state.put_schema(app, schema).await?;
    tracing::info!(app = app.get(), version, %format, "schema replaced");
    record(
        &state,
        AuditDraft::new(actor(None), address, action::SCHEMA_PUT)
            .about(app, None)
            .with_detail(serde_json::json!({"version": version, "format": format.to_string()})),
    )
    .await;
    ok_json(&SchemaPutResponse {
        result: EResult::Ok.code(),
        app_id: app.get(),
        version,
    })
}

fn key_body(k: KeyRecord) -> KeyBody {
    KeyBody {
        id: k.id,
        app_id: k.app.get(),
        label: k.label,
        created: k.created,
        revoked: k.revoked,
    }
}

pub async fn admin_list_keys(
    _: Admin,
    State(state): State<AppState>,
    AppPath(app): AppPath,
) -> ApiResult {
    existing_schema(&state, app).await?;
    let keys = state.store().keys(app).await?;
    ok_json(&KeyListResponse {
        result: EResult::Ok.code(),
        keys: keys.into_iter().map(key_body).collect(),
    })
}

pub async fn admin_create_key(
    _: Admin,
    State(state): State<AppState>,
    Origin(address): Origin,
    AppPath(app): AppPath,
    raw: RawBody,
) -> ApiResult {
    let request: KeyCreateRequest = raw.json_or_else(|| KeyCreateRequest {
        label: String::new(),
    })?;
    if request.label.len() > MAX_KEY_LABEL_BYTES {
        return Err(ApiError::invalid(format!(
            "label is {} bytes; the limit is {MAX_KEY_LABEL_BYTES}",
            request.label.len()
        )));
    }
    if request.label.chars().any(char::is_control) {
        return Err(ApiError::invalid("label contains a control character"));
    }
    existing_schema(&state, app).await?;
    let secret = generate_server_key()
        .map_err(|e| ApiError::new(EResult::Fail, format!("no randomness for a new key: {e}")))?;
    let record = state
        .store()
        .create_key(app, &request.label, &hash_server_key(&secret), unix_now())
        .await?;
    tracing::info!(app = app.get(), key_id = record.id, "server key created");
    self::record(
        &state,
        AuditDraft::new(actor(None), address, action::KEY_CREATE)
            .about(app, None)
            .with_detail(serde_json::json!({"key_id": record.id, "label": record.label})),
    )
    .await;
    ok_json(&KeyCreateResponse {
        result: EResult::Ok.code(),
        key: secret,
        record: key_body(record),
    })
}

pub async fn admin_revoke_key(
    _: Admin,
    State(state): State<AppState>,
    Origin(address): Origin,
    KeyPath(app, id): KeyPath,
) -> ApiResult {
    if !state.store().revoke_key(app, id).await? {
        return Err(ApiError::new(
            EResult::FileNotFound,
            format!("app {app} has no key {id}"),
        ));
    }
    state.key_cache().forget(app, id);
    // The tokens it minted are refused from now on.
    state.tokens().note_key_revoked(id);
    tracing::info!(app = app.get(), key_id = id, "server key revoked");
    record(
        &state,
        AuditDraft::new(actor(None), address, action::KEY_REVOKE)
            .about(app, None)
            .with_detail(serde_json::json!({"key_id": id})),
    )
    .await;
    ok_json(&KeyRevokeResponse {
        result: EResult::Ok.code(),
        app_id: app.get(),
        id,
        revoked: true,
    })
}

pub async fn admin_reset_progress(
    _: Admin,
    State(state): State<AppState>,
    Origin(address): Origin,
    UserPath(app, user): UserPath,
    raw: RawBody,
) -> ApiResult {
    let audit = AuditDraft::new(actor(None), address, action::RESET);
    reset_and_answer(&state, app, user, &raw, ResetAuthority::Full, audit).await
}

/// Records an admin action that has been carried out. Unlike a reset's or
/// a revocation's, the record is written after the action, in its own
/// transaction: a crash between the two loses the record, not the action.
/// A record that cannot be written is logged, and the answer still says
/// what was done (a new key's secret, shown once, must not be lost to it).
async fn record(state: &AppState, draft: AuditDraft) {
    let action = draft.action;
    if let Err(e) = state.store().record_audit(draft).await {
        tracing::error!(action, error = %e, "the audit record of a completed action was not written");
    }
}

/// `POST /api/v1/admin/apps/{app_id}/revocations`.
pub async fn admin_revoke_tokens(
    _: Admin,
    State(state): State<AppState>,
    Origin(address): Origin,
    AppPath(app): AppPath,
    raw: RawBody,
) -> Result<Response, ApiError> {
    let request: TokenRevokeRequest = raw.json_or_else(TokenRevokeRequest::default)?;
    let user = request
        .steam_id
        .as_deref()
        .map(str::parse::<SteamId>)
        .transpose()
        .map_err(|e| ApiError::invalid(format!("bad steam_id: {e}")))?;
    let revocation = revoke(&state, app, user, "admin", &address).await?;
    Ok(json_bytes(
        StatusCode::OK,
        &TokenRevokeResponse {
            result: EResult::Ok.code(),
            app_id: app.get(),
            steam_id: user.map(|u| u.to_string()),
            not_before_ms: revocation.not_before_ms,
        },
    ))
}

/// Revokes and records; the node applies it at once, the others within
/// [`crate::tokens::REFRESH_INTERVAL`].
async fn revoke(
    state: &AppState,
    app: AppId,
    user: Option<SteamId>,
    actor: &str,
    address: &str,
) -> Result<TokenRevocation, ApiError> {
    existing_schema(state, app).await?;
    let revocation = TokenRevocation {
        app,
        user,
        not_before_ms: unix_now_ms(),
    };
    let draft = AuditDraft::new(actor, address, action::TOKENS_REVOKE).about(app, user);
    state.store().revoke_tokens(revocation, draft).await?;
    state.tokens().note_revocation(revocation);
    tracing::info!(app = app.get(), user = ?user.map(|u| u.to_string()), "user tokens revoked");
    Ok(revocation)
}

fn record_body(r: AuditRecord) -> AuditRecordBody {
    AuditRecordBody {
        id: r.id,
        at_ms: r.at_ms,
        actor: r.actor,
        address: r.address,
        action: r.action,
        app_id: r.app.map(AppId::get),
        steam_id: r.user.map(|u| u.to_string()),
        detail: r.detail,
        undone_by: r.undone_by,
    }
}

/// `GET /api/v1/admin/audit?app_id=A&before=ID&limit=N`: newest first.
pub async fn admin_audit_log(
    _: Admin,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut q = AuditQuery {
        app: None,
        before: None,
        limit: 100,
    };
    for (k, v) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        let bad = |what: &str| {
            let shown: String = v.chars().take(40).collect();
            ApiError::invalid(format!("{what}: {shown:?} {}", "is not a valid value"))
        };
        match k.as_ref() {
            "app_id" => {
                q.app = Some(
                    v.parse::<u32>()
                        .ok()
                        .and_then(|a| AppId::new(a).ok())
                        .ok_or_else(|| bad("app_id"))?,
                );
            }
            "before" => {
                q.before = Some(
                    v.parse::<i64>()
                        .ok()
                        .filter(|b| *b > 0)
                        .ok_or_else(|| bad("before"))?,
                );
            }
            "limit" => {
                q.limit = v
                    .parse::<usize>()
                    .ok()
                    .filter(|l| (1..=MAX_AUDIT_PAGE).contains(l))
                    .ok_or_else(|| bad("limit (1 to 1000)"))?;
            }
            other => {
                let shown: String = other.chars().take(40).collect();
                return Err(ApiError::invalid(format!(
                    "unknown query parameter {shown:?} (use app_id, before and limit)"
                )));
            }
        }
    }
    let records = state.store().audit_log(q).await?;
    Ok(json_bytes(
        StatusCode::OK,
        &AuditListResponse {
            result: EResult::Ok.code(),
            records: records.into_iter().map(record_body).collect(),
        },
    ))
}

/// `POST /api/v1/admin/audit/{audit_id}/undo`: puts back what a reset removed.
pub async fn admin_undo(
    _: Admin,
    State(state): State<AppState>,
    Origin(address): Origin,
    AuditPath(id): AuditPath,
) -> Result<Response, ApiError> {
    let draft = AuditDraft::new("admin", address, action::UNDO_RESET);
    let Undone {
        app,
        user,
        progress,
    } = state
        .store()
        .undo_reset(id, crate::clock::unix_now(), draft)
        .await?;
    let schema = existing_schema(&state, app).await?;
    let json = progress_snapshot(&state, app, user, &schema, &progress)?;
    let mut out = format!(
        r#"{{"result":{},"undone":{id},"progress":"#,
        EResult::Ok.code()
    )
    .into_bytes();
    out.extend_from_slice(&json);
    out.push(b'}');
    tracing::info!(app = app.get(), audit_id = id, "reset undone");
    Ok(json_raw(StatusCode::OK, out.into()))
}
