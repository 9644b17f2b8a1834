//! The handlers of [`crate::routes::ROUTES`], by audience: the service's
//! own routes (health, metrics, the OpenAPI document), the game's client
//! API, and the operator's admin API. Each one: credentials, path ids, body,
//! then the store; every failure is an [`ApiError`].

pub(crate) mod admin;
pub(crate) mod client;
pub(crate) mod leaderboards;
pub(crate) mod service;

use axum::http::StatusCode;
use axum::response::Response;
use laurel_core::{AppId, ResetScope, SteamId};
use laurel_store::audit::AuditDraft;
use laurel_wire::ResetRequest;
use serde::Serialize;

use crate::auth::Caller;
use crate::error::{ApiError, json_bytes, json_raw};
use crate::extract::RawBody;
use crate::progress::{existing_schema, progress_snapshot};
use crate::state::AppState;

type ApiResult = Result<Response, ApiError>;

fn ok_json<T: Serialize>(value: &T) -> ApiResult {
    Ok(json_bytes(StatusCode::OK, value))
}

/// How an audit record names a caller.
fn actor(caller: Option<&Caller>) -> String {
    match caller {
        None => "admin".to_owned(),
        Some(Caller::Server(key)) => format!("key:{}", key.id),
        Some(Caller::User(claims)) => format!("user:{}", claims.user),
        Some(Caller::Anonymous) => "anonymous".to_owned(),
    }
}

/// Who asks for a reset, which decides what it may clear.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResetAuthority {
    /// The user's own token: only where the app allows it, never the
    /// server-set stats, achievements only with `allow_achievement_clear`.
    User,
    /// A server key of the app, or the admin: everything.
    Full,
}

/// A reset, for both audiences that may ask for one (a user or server key
/// on the client API, the admin): what `authority` may clear, the store's
/// reset, and the new progress as the answer.
async fn reset_and_answer(
    state: &AppState,
    app: AppId,
    user: SteamId,
    raw: &RawBody,
    authority: ResetAuthority,
    audit: AuditDraft,
) -> ApiResult {
    let request: ResetRequest = raw.json_or_else(ResetRequest::default)?;
    let schema = existing_schema(state, app).await?;
    let scope = match authority {
        ResetAuthority::Full => ResetScope::full(request.achievements),
        ResetAuthority::User => {
            let settings = schema.schema.settings();
            if !settings.allow_user_reset {
                return Err(ApiError::access_denied(format!(
                    "app {app} does not let users reset their progress \
                     (its schema's app.allow_user_reset is off); ask the game's backend"
                )));
            }
            if request.achievements && !settings.allow_achievement_clear {
                return Err(ApiError::access_denied(format!(
                    "app {app} does not let users clear achievements \
                     (its schema's app.allow_achievement_clear is off)"
                )));
            }
            ResetScope::own(request.achievements)
        }
    };
    let progress = state
        .store()
        .reset(app, user, scope, crate::clock::unix_now(), audit)
        .await?;
    let json = progress_snapshot(state, app, user, &schema, &progress)?;
    Ok(json_raw(StatusCode::OK, json))
}
