//! Extractors whose rejections are ours: every way a request can be malformed
//! ends in an [`ApiError`] (and so in an `ErrorBody`), never in axum's plain text.

use axum::extract::{FromRequest, FromRequestParts, MatchedPath, RawPathParams, Request};
use axum::http::request::Parts;
use bytes::Bytes;
use laurel_core::limits::MAX_IDEMPOTENCY_KEY_BYTES;
use laurel_core::{AppId, SteamId};
use laurel_wire::{ErrorDetail, IDEMPOTENCY_HEADER};
use serde::de::DeserializeOwned;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::rate_limit::Admitted;
use crate::routes::body_limit_of;
use crate::state::AppState;

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        // The rate gate verified this request's bearer user token already.
        if let Some(claims) = parts.extensions.get::<Admitted>().and_then(|a| a.token) {
            return Ok(Caller::User(claims));
        }
        crate::credentials::caller(state, &parts.headers).await
    }
}

/// Proof that the request carries the admin token.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Admin, ApiError> {
        state.admin().check(&parts.headers).map(|()| Admin)
    }
}

async fn path_params(parts: &mut Parts) -> Result<RawPathParams, ApiError> {
    RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|e| ApiError::invalid(format!("bad path: {}", e.body_text())))
}

fn param<'a>(params: &'a RawPathParams, name: &str) -> Result<&'a str, ApiError> {
    params
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .ok_or_else(|| {
            ApiError::new(
                laurel_core::EResult::Fail,
                format!("route lacks {{{name}}}"),
            )
        })
}

fn parse_app(params: &RawPathParams) -> Result<AppId, ApiError> {
    param(params, "app_id")?
        .parse()
        .map_err(|e| ApiError::bad_id("app id", &e))
}

/// `{app_id}` of the path.
pub struct AppPath(pub AppId);

impl<S: Send + Sync> FromRequestParts<S> for AppPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<AppPath, ApiError> {
        let params = path_params(parts).await?;
        parse_app(&params).map(AppPath)
    }
}

/// `{app_id}` and `{steam_id}` of the path.
pub struct UserPath(pub AppId, pub SteamId);

impl<S: Send + Sync> FromRequestParts<S> for UserPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<UserPath, ApiError> {
        let params = path_params(parts).await?;
        let app = parse_app(&params)?;
        let user = param(&params, "steam_id")?
            .parse()
            .map_err(|e| ApiError::bad_id("steam id", &e))?;
        Ok(UserPath(app, user))
    }
}

/// `{app_id}` and `{key_id}` of the path.
pub struct KeyPath(pub AppId, pub i64);

impl<S: Send + Sync> FromRequestParts<S> for KeyPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<KeyPath, ApiError> {
        let params = path_params(parts).await?;
        let app = parse_app(&params)?;
        let text = param(&params, "key_id")?;
        let id = text
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| {
                let shown: String = text.chars().take(40).collect();
                ApiError::invalid(format!(
                    "bad key id in path: {shown:?} is not a positive integer"
                ))
            })?;
        Ok(KeyPath(app, id))
    }
}

fn parse_board(params: &RawPathParams) -> Result<laurel_store::BoardId, ApiError> {
    let text = param(params, "board_id")?;
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0 && text.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            let shown: String = text.chars().take(40).collect();
            ApiError::invalid(format!(
                "bad leaderboard id in path: {shown:?} is not a positive integer"
            ))
        })
}

/// `{app_id}` and `{board_id}` of the path.
pub struct BoardPath(pub AppId, pub laurel_store::BoardId);

impl<S: Send + Sync> FromRequestParts<S> for BoardPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<BoardPath, ApiError> {
        let params = path_params(parts).await?;
        let app = parse_app(&params)?;
        Ok(BoardPath(app, parse_board(&params)?))
    }
}

/// `{app_id}`, `{board_id}` and `{steam_id}` of the path.
pub struct BoardUserPath(pub AppId, pub laurel_store::BoardId, pub SteamId);

impl<S: Send + Sync> FromRequestParts<S> for BoardUserPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<BoardUserPath, ApiError> {
        let params = path_params(parts).await?;
        let app = parse_app(&params)?;
        let board = parse_board(&params)?;
        let user = param(&params, "steam_id")?
            .parse()
            .map_err(|e| ApiError::bad_id("steam id", &e))?;
        Ok(BoardUserPath(app, board, user))
    }
}

/// An `Idempotency-Key` header where a route takes one but does not need it.
pub struct OptionalIdempotencyKey(pub Option<laurel_core::IdempotencyKey>);

impl<S: Send + Sync> FromRequestParts<S> for OptionalIdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &S,
    ) -> Result<OptionalIdempotencyKey, ApiError> {
        let Some(value) = parts.headers.get(IDEMPOTENCY_HEADER) else {
            return Ok(OptionalIdempotencyKey(None));
        };
        laurel_core::IdempotencyKey::parse(value.as_bytes())
            .map(|k| OptionalIdempotencyKey(Some(k)))
            .map_err(|e| ApiError::invalid(format!("{IDEMPOTENCY_HEADER}: {e}")))
    }
}

/// The `Idempotency-Key` header, checked by [`laurel_core::IdempotencyKey::parse`].
pub struct IdempotencyKey(pub laurel_core::IdempotencyKey);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<IdempotencyKey, ApiError> {
        let Some(value) = parts.headers.get(IDEMPOTENCY_HEADER) else {
            return Err(ApiError::invalid(format!(
                "a store needs an {IDEMPOTENCY_HEADER} header (1–{MAX_IDEMPOTENCY_KEY_BYTES} printable ASCII characters)"
            )));
        };
        laurel_core::IdempotencyKey::parse(value.as_bytes())
            .map(IdempotencyKey)
            .map_err(|e| ApiError::invalid(format!("{IDEMPOTENCY_HEADER}: {e}")))
    }
}

/// The raw body, bounded by the route's `DefaultBodyLimit`. The content type
/// is not checked: games send odd headers, and the bytes must be JSON anyway.
pub struct RawBody(pub Bytes, JsonDeclared);

/// Whether the request said its body is JSON (`Content-Type:
/// application/json` or `application/…+json`, parameters allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonDeclared(bool);

impl JsonDeclared {
    fn of(headers: &axum::http::HeaderMap) -> JsonDeclared {
        let declared = headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::trim)
            .is_some_and(|mime| {
                let lower = |range: Option<&str>, text: &str| {
                    range.is_some_and(|r| r.eq_ignore_ascii_case(text))
                };
                mime.eq_ignore_ascii_case("application/json")
                    || (lower(mime.get(..12), "application/")
                        && lower(mime.get(mime.len().saturating_sub(5)..), "+json"))
            });
        JsonDeclared(declared)
    }
}

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<RawBody, ApiError> {
        let limit = req
            .extensions()
            .get::<MatchedPath>()
            .and_then(|p| body_limit_of(req.method().as_str(), p.as_str()));
        let json = JsonDeclared::of(req.headers());
        Bytes::from_request(req, state)
            .await
            .map(|bytes| RawBody(bytes, json))
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::body_too_large(limit)
                } else {
                    ApiError::invalid(format!(
                        "could not read the request body: {}",
                        rejection.body_text()
                    ))
                }
            })
    }
}

impl RawBody {
    /// The body as `T`, which must be a JSON object: serde would also read a
    /// struct from an array (`[]` as an empty store), which no client means.
    ///
    /// The request must say it is JSON: a browser page of another site can
    /// send `text/plain` or form bodies without asking first (CORS), but not
    /// `application/json`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        if !self.1.0 {
            return Err(ApiError::unsupported_media_type(
                "this route reads a JSON body: send `Content-Type: application/json`",
            ));
        }
        let value = serde_json::from_slice(&self.0).map_err(|e| ApiError::malformed_json(&e))?;
        match self.0.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => Ok(value),
            _ => Err(ApiError::invalid(
                "request body is not valid JSON for this route: expected a JSON object",
            )
            .with_details(vec![ErrorDetail {
                location: "body".into(),
                name: None,
                rule: Some("json_data".into()),
                message: "expected a JSON object".into(),
            }])),
        }
    }

    /// For bodies whose every field is optional: no body at all means `{}`.
    pub fn json_or_else<T: DeserializeOwned>(
        &self,
        empty: impl FnOnce() -> T,
    ) -> Result<T, ApiError> {
        if self.0.iter().all(u8::is_ascii_whitespace) {
            return Ok(empty());
        }
        self.json()
    }
}

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
