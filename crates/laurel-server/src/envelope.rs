//! What every answer carries, whatever route made it: a request id (also in
//! the log lines about the request, and in place of internal error text),
//! `X-Content-Type-Options: nosniff` and `Cache-Control: no-store`
//! (answers hold one user's progress or a credential and must not be kept by
//! a shared cache).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, HttpBody};
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use crate::error::{ApiError, RefusalNote};
use crate::request_id::{REQUEST_ID_HEADER, RequestId};
use crate::state::AppState;

/// A request body that notes when it was read to its end.
struct Tracked {
    inner: Body,
    ended: Arc<AtomicBool>,
}

impl HttpBody for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let frame = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(frame, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.ended.store(true, Ordering::Relaxed);
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Wraps a body that has something left to read, so that the answer can
/// tell whether it was read; `None` when there is nothing to read.
fn track(request: Request) -> (Request, Option<Arc<AtomicBool>>) {
    if request.body().is_end_stream() {
        return (request, None);
    }
    let ended = Arc::new(AtomicBool::new(false));
    let (parts, inner) = request.into_parts();
    let body = Body::new(Tracked {
        inner,
        ended: Arc::clone(&ended),
    });
    (Request::from_parts(parts, body), Some(ended))
}

/// The layer every route (and the fallback) runs in: it numbers the
/// request, runs it with its id in scope through the rate gate
/// (`admission::admit`) and the request timeout, logs a refusal,
/// counts the answer in the metrics, and adds the common headers.
///
/// One hand-written service rather than `from_fn` layers: each of those
/// boxes a clone of the service under it on every request, and the read
/// path's cost is mostly these per-request layers (docs/benchmarks.md).
#[derive(Clone)]
pub struct EnvelopeLayer {
    state: AppState,
}

impl EnvelopeLayer {
    pub fn new(state: AppState) -> EnvelopeLayer {
        EnvelopeLayer { state }
    }
}

impl<S> Layer<S> for EnvelopeLayer {
    type Service = Envelope<S>;

    fn layer(&self, inner: S) -> Envelope<S> {
        Envelope {
            inner,
            state: self.state.clone(),
        }
    }
}

/// See [`EnvelopeLayer`].
#[derive(Clone)]
pub struct Envelope<S> {
    inner: S,
    state: AppState,
}

impl<S> Service<Request> for Envelope<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The service made ready is the one that is called; its clone waits
        // for the next request.
        let ready = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, ready);
        Box::pin(answer(self.state.clone(), inner, request))
    }
}

async fn answer<S>(state: AppState, mut inner: S, request: Request) -> Result<Response, Infallible>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let (mut request, body_ended) = track(request);
    let id = RequestId::next();
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let template = route.as_ref().map(MatchedPath::as_str);
    let method = request.method().clone();
    let uri = request.uri().clone();
    let mut response = id
        .scope(async {
            let client = match crate::admission::admit(&state, &mut request).await {
                Ok(client) => client,
                Err(refused) => return refused,
            };
            let response =
                match tokio::time::timeout(state.request_timeout(), inner.call(request)).await {
                    Ok(Ok(response)) => response,
                    Ok(Err(never)) => match never {},
                    Err(_) => ApiError::timeout().into_response(),
                };
            if let Some(client) = client {
                crate::admission::answered(&state, client, &response);
            }
            let status = response.status();
            if status.is_client_error() || status.is_server_error() {
                log_refusal(
                    id,
                    &method,
                    template.unwrap_or(""),
                    uri.path(),
                    status,
                    client,
                    response.extensions().get::<RefusalNote>(),
                );
            }
            response
        })
        .await;
    crate::metrics::request(
        template,
        &method,
        response.status().as_u16(),
        started.elapsed(),
    );
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_bytes(&id.hex()) {
        headers.insert(REQUEST_ID_HEADER.clone(), value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    // A body that was not read to its end (refused for its size, or before
    // it was needed: a bad credential, a spent quota) leaves the connection
    // unable to carry another request: hyper closes it once the answer is
    // written, and the client must be told not to send one more on it.
    if body_ended.is_some_and(|ended| !ended.load(Ordering::Relaxed)) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    Ok(response)
}

/// The value of `{name}` in `path`, matched segment by segment against `template`.
fn path_value<'a>(template: &str, path: &'a str, name: &str) -> Option<&'a str> {
    template
        .split('/')
        .zip(path.split('/'))
        .find(|(t, _)| t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) == Some(name))
        .map(|(_, v)| v)
}

/// Hostile text is cut short and escaped before it reaches a log line.
fn shown(text: Option<&str>) -> String {
    text.map_or_else(|| "-".to_owned(), |t| laurel_core::shown(t, 40))
}

/// One log line per refused or failed request (as many as the refusal
/// log's rate allows), naming the request, the client and the reason.
fn log_refusal(
    request: RequestId,
    method: &Method,
    template: &str,
    path: &str,
    status: StatusCode,
    client: Option<std::net::IpAddr>,
    note: Option<&RefusalNote>,
) {
    let Some(suppressed) = crate::log_limit::refusals() else {
        return;
    };
    let client = client.map_or_else(|| "-".to_owned(), |c| c.to_string());
    let (app, user) = match note.and_then(|n| n.subject) {
        Some((app, user)) => (
            app.to_string(),
            user.map_or("-".to_owned(), |u| u.to_string()),
        ),
        None => (
            shown(path_value(template, path, "app_id")),
            shown(path_value(template, path, "steam_id")),
        ),
    };
    let result = note.map_or(0, |n| n.result);
    let reason = note.map_or("", |n| n.reason.as_str());
    if status.is_server_error() {
        tracing::error!(%client, %request, %method, route = template, %app, %user, status = status.as_u16(), result, reason, suppressed, "request failed");
    } else {
        tracing::warn!(%client, %request, %method, route = template, %app, %user, status = status.as_u16(), result, reason, suppressed, "request refused");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_values_follow_the_template() {
        let t = "/api/v1/apps/{app_id}/users/{steam_id}/progress";
        let p = "/api/v1/apps/480/users/abc/progress";
        assert_eq!(path_value(t, p, "app_id"), Some("480"));
        assert_eq!(path_value(t, p, "steam_id"), Some("abc"));
        assert_eq!(path_value(t, p, "key_id"), None);
    }
}
