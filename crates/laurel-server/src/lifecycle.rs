//! Credentials' lifecycle and the audit log over the admin API: token
//! revocation, the audit log's pages, undoing a reset; who did an audited
//! action and from where; and the loop that keeps every node's secrets and
//! revocations fresh.

use axum::extract::{FromRequestParts, RawQuery, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use laurel_core::{AppId, EResult, SteamId};
use laurel_store::audit::{AuditDraft, AuditQuery, AuditRecord, Undone, action};
use laurel_store::{MAX_AUDIT_PAGE, TokenRevocation, unix_now_ms};
use laurel_wire::{AuditListResponse, AuditRecordBody, TokenRevokeRequest, TokenRevokeResponse};

use crate::auth::Caller;
use crate::error::{ApiError, json_bytes, json_raw};
use crate::extract::{Admin, AppPath, RawBody};
use crate::handlers::progress_snapshot;
use crate::rate_limit::Admitted;
use crate::state::AppState;

/// The client address of a request, as audit records name it.
pub struct Origin(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Origin, ApiError> {
        Ok(Origin(parts.extensions.get::<Admitted>().map_or_else(
            || "unknown".to_owned(),
            |a| a.client.to_string(),
        )))
    }
}

/// How an audit record names a caller.
pub fn actor(caller: Option<&Caller>) -> String {
    match caller {
        None => "admin".to_owned(),
        Some(Caller::Server(key)) => format!("key:{}", key.id),
        Some(Caller::User(claims)) => format!("user:{}", claims.user),
        Some(Caller::Anonymous) => "anonymous".to_owned(),
    }
}

/// `{audit_id}` of a path: a positive integer.
pub struct AuditPath(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for AuditPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<AuditPath, ApiError> {
        let params = axum::extract::RawPathParams::from_request_parts(parts, &())
            .await
            .map_err(|e| ApiError::invalid(format!("bad path: {}", e.body_text())))?;
        let text = params
            .iter()
            .find(|(k, _)| *k == "audit_id")
            .map(|(_, v)| v)
            .unwrap_or_default();
        text.parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(AuditPath)
            .ok_or_else(|| {
                let shown: String = text.chars().take(40).collect();
                ApiError::invalid(format!(
                    "bad audit record id in path: {shown:?} is not a positive integer"
                ))
            })
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
    crate::handlers::existing_schema(state, app).await?;
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
    let schema = crate::handlers::existing_schema(&state, app).await?;
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

/// Reloads secrets and revocations every [`crate::tokens::REFRESH_INTERVAL`]
/// until the process ends; a failed reload keeps what the node has.
pub async fn refresh_tokens(state: AppState) {
    let mut tick = tokio::time::interval(crate::tokens::REFRESH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = state.tokens().refresh(state.store()).await
            && crate::log_limit::refusals().is_some()
        {
            tracing::warn!(error = %e, "could not reload token secrets and revocations");
        }
    }
}
