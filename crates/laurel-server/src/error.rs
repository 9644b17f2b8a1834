//! The one place where failures become HTTP answers. Every refusal is an
//! [`ErrorBody`] whose `result` is Steam's EResult; the HTTP status follows
//! from the EResult by [`status_for`], so a client can branch on either and
//! get the same story.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use laurel_core::{AppId, EResult, IdError, SteamId};
use laurel_store::StoreError;
use laurel_wire::{ErrorBody, ErrorDetail};

use crate::request_id::RequestId;

/// The HTTP status that goes with an EResult.
pub fn status_for(result: EResult) -> StatusCode {
    match result {
        EResult::Ok => StatusCode::OK,
        EResult::InvalidParam => StatusCode::BAD_REQUEST,
        EResult::FileNotFound => StatusCode::NOT_FOUND,
        EResult::AccessDenied => StatusCode::FORBIDDEN,
        EResult::NotLoggedOn => StatusCode::UNAUTHORIZED,
        EResult::LimitExceeded => StatusCode::PAYLOAD_TOO_LARGE,
        EResult::DuplicateRequest => StatusCode::CONFLICT,
        EResult::RateLimitExceeded => StatusCode::TOO_MANY_REQUESTS,
        EResult::ServiceUnavailable | EResult::NoConnection | EResult::Busy => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        EResult::Timeout => StatusCode::GATEWAY_TIMEOUT,
        EResult::InvalidState => StatusCode::CONFLICT,
        EResult::Fail => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A refused request: the wire body, its status, and whom it was about
/// (for the log line; the middleware falls back to the path's ids).
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
    subject: Option<(AppId, Option<SteamId>)>,
    /// What went wrong inside, for the log only: the client is told the
    /// request id instead (internal text can name hosts, files, SQL).
    internal: Option<String>,
}

/// Attached to every error response so that the logging middleware can say
/// why a request was refused without parsing the body again.
#[derive(Debug, Clone)]
pub struct RefusalNote {
    pub result: i32,
    /// The message the client got, or for an internal failure its cause.
    pub reason: String,
    pub subject: Option<(AppId, Option<SteamId>)>,
}

impl ApiError {
    pub fn new(result: EResult, message: impl Into<String>) -> ApiError {
        ApiError::from_body(ErrorBody::new(result, message))
    }

    /// A failure inside the server: the client gets `summary` and the
    /// request id; `detail` goes to the log line about the request.
    pub fn internal(result: EResult, summary: &str, detail: impl Into<String>) -> ApiError {
        let message = match RequestId::current() {
            Some(id) => format!("{summary} (request {id}; the server's log has the details)"),
            None => summary.to_owned(),
        };
        let mut error = ApiError::new(result, message);
        error.internal = Some(detail.into());
        error
    }

    /// A ready-made wire body (refusals with details); the status follows its
    /// result, and at most [`laurel_wire::MAX_ERROR_DETAILS`] details are kept.
    pub fn from_body(body: ErrorBody) -> ApiError {
        let body = body.capped();
        ApiError {
            internal: None,
            status: status_for(EResult::from_code(body.result)),
            body,
            subject: None,
        }
    }

    /// A refusal whose HTTP status is not the one [`status_for`] gives its
    /// result (a board limit is a 409 with `LimitExceeded`).
    pub fn with_status(
        status: StatusCode,
        result: EResult,
        message: impl Into<String>,
    ) -> ApiError {
        let mut error = ApiError::new(result, message);
        error.status = status;
        error
    }

    pub fn with_details(mut self, details: Vec<ErrorDetail>) -> ApiError {
        self.body.details = details;
        self.body = std::mem::replace(&mut self.body, ErrorBody::new(EResult::Fail, "")).capped();
        self
    }

    /// Names the app and user for the log when the path does not carry them.
    pub fn about(mut self, app: AppId, user: Option<SteamId>) -> ApiError {
        self.subject = Some((app, user));
        self
    }

    pub fn result(&self) -> EResult {
        EResult::from_code(self.body.result)
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn body(&self) -> &ErrorBody {
        &self.body
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(EResult::InvalidParam, message)
    }

    pub fn not_logged_on(message: impl Into<String>) -> ApiError {
        ApiError::new(EResult::NotLoggedOn, message)
    }

    pub fn access_denied(message: impl Into<String>) -> ApiError {
        ApiError::new(EResult::AccessDenied, message)
    }

    pub fn unknown_app(app: AppId) -> ApiError {
        ApiError::new(
            EResult::FileNotFound,
            format!("no app {app} on this server"),
        )
    }

    pub fn bad_id(what: &str, err: &IdError) -> ApiError {
        ApiError::invalid(format!("bad {what} in path: {err}"))
    }

    pub fn timeout() -> ApiError {
        ApiError::new(
            EResult::Timeout,
            "the request took longer than the server's request timeout",
        )
    }

    pub fn unknown_route() -> ApiError {
        ApiError::new(EResult::FileNotFound, "no such route")
    }

    /// 415: the body is not in a format the route reads.
    pub fn unsupported_media_type(message: impl Into<String>) -> ApiError {
        ApiError {
            internal: None,
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            body: ErrorBody::new(EResult::InvalidParam, message),
            subject: None,
        }
    }

    pub fn method_not_allowed() -> ApiError {
        ApiError {
            internal: None,
            status: StatusCode::METHOD_NOT_ALLOWED,
            body: ErrorBody::new(
                EResult::InvalidParam,
                "this route does not answer that method",
            ),
            subject: None,
        }
    }

    /// A body `serde_json` could not read; line and column go to `details`.
    pub fn malformed_json(err: &serde_json::Error) -> ApiError {
        ApiError::invalid(format!(
            "request body is not valid JSON for this route: {err}"
        ))
        .with_details(vec![ErrorDetail {
            location: format!("line {}, column {}", err.line(), err.column()),
            name: None,
            rule: Some(json_rule(err).to_owned()),
            message: err.to_string(),
        }])
    }

    pub fn body_too_large(limit: Option<usize>) -> ApiError {
        let message = match limit {
            Some(n) => format!("request body is larger than this route's limit of {n} bytes"),
            None => "request body is larger than this route's limit".to_owned(),
        };
        ApiError::new(EResult::LimitExceeded, message)
    }
}

fn json_rule(err: &serde_json::Error) -> &'static str {
    match err.classify() {
        serde_json::error::Category::Syntax => "json_syntax",
        serde_json::error::Category::Eof => "json_eof",
        serde_json::error::Category::Data => "json_data",
        serde_json::error::Category::Io => "json_io",
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        match err {
            StoreError::UnknownApp(app) => ApiError::unknown_app(app),
            StoreError::IdempotencyConflict { .. } => {
                ApiError::new(EResult::DuplicateRequest, err.to_string())
            }
            StoreError::Unavailable(_) => ApiError::internal(
                EResult::ServiceUnavailable,
                "storage is unavailable; try again later",
                err.to_string(),
            ),
            StoreError::NotFound(m) => ApiError::new(EResult::FileNotFound, m),
            StoreError::Conflict(m) => ApiError::new(EResult::InvalidState, m),
            // Only `laurel migrate` imports; no route reaches the last two.
            StoreError::Backend(_)
            | StoreError::AlreadyExists(_)
            | StoreError::InvalidImport(_) => {
                ApiError::internal(EResult::Fail, "storage failed", err.to_string())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let note = RefusalNote {
            result: self.body.result,
            reason: self.internal.unwrap_or_else(|| self.body.error.clone()),
            subject: self.subject,
        };
        let mut response = json_bytes(self.status, &self.body);
        response.extensions_mut().insert(note);
        response
    }
}

/// A JSON answer. Serializing our own wire types cannot fail in practice;
/// if it ever did, the client gets a 500 rather than a panic.
pub fn json_bytes<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => json_raw(status, Bytes::from(bytes)),
        Err(err) => {
            let fallback = format!(
                r#"{{"result":{},"error":"could not serialize the answer"}}"#,
                EResult::Fail.code()
            );
            let mut response = json_raw(StatusCode::INTERNAL_SERVER_ERROR, Bytes::from(fallback));
            response.extensions_mut().insert(RefusalNote {
                result: EResult::Fail.code(),
                reason: format!("could not serialize the answer: {err}"),
                subject: None,
            });
            response
        }
    }
}

/// A response from JSON that is already serialized (the snapshot cache's bytes).
pub fn json_raw(status: StatusCode, body: Bytes) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_brief() {
        for (result, status) in [
            (EResult::InvalidParam, 400),
            (EResult::FileNotFound, 404),
            (EResult::AccessDenied, 403),
            (EResult::NotLoggedOn, 401),
            (EResult::LimitExceeded, 413),
            (EResult::DuplicateRequest, 409),
            (EResult::RateLimitExceeded, 429),
            (EResult::ServiceUnavailable, 503),
            (EResult::Timeout, 504),
            (EResult::Fail, 500),
        ] {
            assert_eq!(status_for(result).as_u16(), status, "{result}");
        }
    }
}
