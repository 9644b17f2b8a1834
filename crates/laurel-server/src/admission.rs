//! The rate gate's two moments around every request, run by the envelope
//! ([`crate::envelope`]): before it, find the client address and the
//! credential and charge the request to the right budget; after it, charge a
//! failed authentication to the address.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use laurel_core::EResult;
use laurel_wire::{SERVER_KEY_PREFIX, TOKEN_PREFIX};

use crate::auth::hash_server_key;
use crate::clock::unix_now;
use crate::error::ApiError;
use crate::metrics;
use crate::rate_limit::{Admitted, AuthenticationFailed};
use crate::state::AppState;

/// The credential text of a request, and whether it came from the
/// `Authorization` header: its bearer (borrowed), else a Steam-style `key=`.
fn credential_text(request: &Request) -> Option<(std::borrow::Cow<'_, str>, bool)> {
    if let Some(bearer) = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, credential)| credential.trim())
        .filter(|c| !c.is_empty())
    {
        return Some((std::borrow::Cow::Borrowed(bearer), true));
    }
    let query = request.uri().query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, v)| k == "key" && !v.is_empty())
        .map(|(_, v)| (v, false))
}

fn too_many(wait: Duration, why: &str) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let mut response = ApiError::new(
        EResult::RateLimitExceeded,
        format!("{why}; try again in {seconds} s"),
    )
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The gate, run by the envelope ([`crate::envelope`]) before the request:
/// finds the client address and the credential, and charges the request.
/// `Ok(Some(client))` lets it through with [`Admitted`] in its extensions;
/// `Ok(None)` for in-process calls (tests through `oneshot`), which have no
/// peer; `Err` is the answer that refuses it.
pub async fn admit(state: &AppState, request: &mut Request) -> Result<Option<IpAddr>, Response> {
    let gate = state.rate_gate();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let Some(peer) = peer else {
        return Ok(None);
    };
    let client = gate.client_address(peer, request.headers().get("x-forwarded-for"));
    if !gate.limits().enabled {
        request.extensions_mut().insert(Admitted {
            client,
            token: None,
        });
        return Ok(Some(client));
    }
    let now = Instant::now();
    let credential = credential_text(request);
    if credential.is_some()
        && let Some(wait) = gate.blocked_for(client, now)
    {
        metrics::rate_limited("failed_authentication");
        return Err(too_many(
            wait,
            "too many failed authentications from this address",
        ));
    }
    let from_header = credential.as_ref().is_some_and(|(_, h)| *h);
    let mut token = None;
    let verdict = match credential.as_ref().map(|(c, _)| c.as_ref()) {
        Some(c) if c.starts_with(TOKEN_PREFIX) => match state.tokens().verify(c, unix_now()) {
            Ok(claims) => {
                if from_header {
                    token = Some(claims);
                }
                let rate = state.user_rate(claims.app).await;
                gate.check_user(rate, claims.app, claims.user)
                    .map_err(|w| (w, "this user token sent too many requests"))
            }
            Err(_) => gate
                .check_address(client)
                .map_err(|w| (w, "this address sent too many requests")),
        },
        Some(c) if c.starts_with(SERVER_KEY_PREFIX) => {
            match state.key_cache().get(&hash_server_key(c), now) {
                Some(record) => gate
                    .check_server_key(record.id)
                    .map_err(|w| (w, "this server key sent too many requests")),
                // Not looked up yet (or unknown): the address pays until it is.
                None => gate
                    .check_address(client)
                    .map_err(|w| (w, "this address sent too many requests")),
            }
        }
        Some(_) if state.admin().check(request.headers()).is_ok() => Ok(()),
        _ => gate
            .check_address(client)
            .map_err(|w| (w, "this address sent too many requests")),
    };
    drop(credential);
    if let Err((wait, why)) = verdict {
        return Err(too_many(wait, why));
    }
    request.extensions_mut().insert(Admitted { client, token });
    Ok(Some(client))
}

/// The gate's part after the answer: a failed authentication is charged
/// against the client address's failure budget.
pub fn answered(state: &AppState, client: IpAddr, response: &Response) {
    if response.status() == StatusCode::UNAUTHORIZED
        || response
            .extensions()
            .get::<AuthenticationFailed>()
            .is_some()
    {
        state
            .rate_gate()
            .authentication_failed(client, Instant::now());
    }
}
