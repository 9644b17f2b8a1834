//! The service's own routes: health, metrics, the OpenAPI document, and the
//! answers to paths and methods no route has.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use laurel_core::EResult;
use serde::Serialize;

use crate::error::{ApiError, json_bytes, json_raw};
use crate::extract::Admin;
use crate::state::AppState;

#[derive(Serialize)]
struct Health<'a> {
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub async fn health(State(state): State<AppState>) -> Response {
    match state.store().health().await {
        Ok(()) => json_bytes(
            StatusCode::OK,
            &Health {
                status: "ok",
                error: None,
            },
        ),
        // Anyone may ask /healthz: the cause (hosts, files) goes to the log.
        Err(e) => {
            if let Some(suppressed) = crate::log_limit::refusals() {
                tracing::error!(error = %e, suppressed, "health check: the store is unavailable");
            }
            json_bytes(
                StatusCode::SERVICE_UNAVAILABLE,
                &Health {
                    status: "unavailable",
                    error: Some("the store is unavailable; the server's log has the cause".into()),
                },
            )
        }
    }
}

/// `GET /metrics`: Prometheus' text format, for the admin token only (the
/// figures say how busy the game is). Gauges are read now.
pub async fn metrics(_: Admin, State(state): State<AppState>) -> Response {
    let Some(handle) = crate::metrics::handle() else {
        return ApiError::new(
            EResult::ServiceUnavailable,
            "metrics are off in this process (another recorder is installed)",
        )
        .into_response();
    };
    let cache_bytes = state.progress_cache().map_or(0, |c| c.bytes());
    ::metrics::gauge!("laurel_progress_cache_bytes").set(cache_bytes as f64);
    ::metrics::gauge!("laurel_open_connections").set(state.connections().open() as f64);
    if let Some(pool) = state.store().pool_status() {
        ::metrics::gauge!("laurel_db_pool_connections", "state" => "in_use")
            .set(pool.in_use as f64);
        ::metrics::gauge!("laurel_db_pool_connections", "state" => "idle").set(pool.idle as f64);
        ::metrics::gauge!("laurel_db_pool_connections", "state" => "max").set(pool.max as f64);
    }
    let mut response = handle.render().into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// The OpenAPI 3.1 description of [`crate::routes::ROUTES`].
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

pub async fn openapi() -> Response {
    json_raw(StatusCode::OK, Bytes::from_static(OPENAPI_JSON.as_bytes()))
}

pub async fn unknown_route(request: axum::extract::Request) -> Response {
    let path: String = request.uri().path().chars().take(80).collect();
    if let Some(steam_404) = crate::steam::not_found(request.uri().path()) {
        if let Some(suppressed) = crate::log_limit::refusals() {
            tracing::warn!(method = %request.method(), path = ?path, status = 404, suppressed, "request refused: no such Steam method");
        }
        return steam_404.into_response();
    }
    if let Some(suppressed) = crate::log_limit::refusals() {
        tracing::warn!(method = %request.method(), path = ?path, status = 404, result = EResult::FileNotFound.code(), suppressed, "request refused: no such route");
    }
    ApiError::unknown_route().into_response()
}

pub async fn method_not_allowed() -> Response {
    ApiError::method_not_allowed().into_response()
}

// ---- client API ----
