//! Steam Web API compatibility: `ISteamUserStats/*` and `ISteamWebAPIUtil/*`
//! with Steam's paths, parameter names, versions, JSON shapes and errors, so
//! that existing tools and game backends work by changing the base URL.
//! `docs/steam-web-api.md` has every shape with the sources it was checked
//! against.
//!
//! - Routing: each Steam method of [`crate::routes::ROUTES`] is served at
//!   `/Interface/Method/{version}` and `/Interface/Method/{version}/`, where
//!   the version is `v1`, `v0001`, `v2`, `v0002`, … ([`params::parse_version`]).
//! - Credentials: `key=` (or `Authorization: Bearer`) is a server key of the
//!   app or a user token of the app ([`Credential`]). Missing required
//!   parameters (the `key` included) are Steam's HTML 400, an unknown,
//!   revoked or wrong-app key its HTML 403, an expired user token its 401.
//! - Formats: `format=json` (default), `xml`, `vdf` ([`format`]).

pub mod format;
mod handlers;
pub mod methods;
pub mod params;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use laurel_core::{AppId, EResult};
use laurel_store::{KeyRecord, StoreError};
use laurel_wire::{SERVER_KEY_PREFIX, TOKEN_PREFIX, TokenClaims};

pub use self::format::{Format, HtmlError, Node};
pub use self::methods::{SteamMethodDoc, SteamParam};
use self::params::{Params, parse_version};
use crate::auth;
use crate::error::RefusalNote;
use crate::routes::{Endpoint, ROUTES, RouteSpec};
use crate::state::AppState;

/// The versions of one Steam method, as the route table lists them.
pub(crate) type MethodVersions = Arc<[&'static RouteSpec]>;

/// The router templates of every Steam method: each with and without a
/// trailing slash, both served by [`dispatch`] over the method's versions.
pub(crate) fn route_templates() -> Vec<(String, MethodVersions)> {
    let mut methods: Vec<(&str, &str, Vec<&'static RouteSpec>)> = Vec::new();
    for spec in ROUTES {
        let Some(doc) = spec.steam else { continue };
        match methods
            .iter_mut()
            .find(|(i, m, _)| *i == doc.interface && *m == doc.name)
        {
            Some((_, _, versions)) => versions.push(spec),
            None => methods.push((doc.interface, doc.name, vec![spec])),
        }
    }
    let mut out = Vec::new();
    for (interface, method, versions) in methods {
        let versions: MethodVersions = versions.into();
        let template = format!("/{interface}/{method}/{{version}}");
        out.push((format!("{template}/"), versions.clone()));
        out.push((template, versions));
    }
    out
}

/// The interfaces this server has.
fn interfaces() -> impl Iterator<Item = &'static str> {
    ROUTES.iter().filter_map(|r| r.steam.map(|d| d.interface))
}

/// Steam's 404 for a path that looks like a Steam call (`/ISomething/…`) but
/// matches no route; `None` for other paths (the client API answers those).
pub(crate) fn not_found(path: &str) -> Option<HtmlError> {
    let mut segments = path.trim_start_matches('/').split('/');
    let interface = segments.next().filter(|s| {
        let mut c = s.chars();
        c.next() == Some('I') && c.next().is_some_and(|c| c.is_ascii_uppercase())
    })?;
    let shown: String = interface.chars().take(64).collect();
    if !interfaces().any(|i| i == interface) {
        return Some(HtmlError::InterfaceNotFound(shown));
    }
    match segments.next().filter(|m| !m.is_empty()) {
        Some(method) => Some(HtmlError::MethodNotFound {
            interface: shown,
            method: method.chars().take(64).collect(),
        }),
        None => Some(HtmlError::NotFound),
    }
}

/// Who is calling, by `key=` or `Authorization: Bearer`.
#[derive(Debug, Clone)]
pub(crate) enum Credential {
    None,
    Server(KeyRecord),
    User(TokenClaims),
}

impl Credential {
    /// The credential must be of `app` (a server key of it or a user token of it).
    pub(crate) fn require_app(&self, app: AppId) -> Result<(), HtmlError> {
        match self {
            Credential::None => Err(key_missing()),
            Credential::Server(k) if k.app == app => Ok(()),
            Credential::User(c) if c.app == app => Ok(()),
            _ => Err(HtmlError::Forbidden),
        }
    }
}

fn key_missing() -> HtmlError {
    HtmlError::BadRequest("Parameter 'key' is missing".into())
}

fn store_failure(e: &StoreError) -> HtmlError {
    match e {
        StoreError::Unavailable(_) => HtmlError::Unavailable,
        _ => HtmlError::Internal,
    }
}

/// One call of a Steam method, with everything the handlers need.
pub(crate) struct SteamCall {
    pub params: Params,
    pub format: Format,
    pub headers: HeaderMap,
    pub credential: Credential,
    pub doc: &'static SteamMethodDoc,
}

/// Resolves the credential: `key=` first, else the bearer header. Anything
/// given must be valid, even for methods that need none (as on Steam).
async fn credential(
    state: &AppState,
    params: &Params,
    headers: &HeaderMap,
) -> Result<Credential, HtmlError> {
    let text = match params.get("key").filter(|k| !k.is_empty()) {
        Some(key) => key.to_owned(),
        None => match auth::bearer(headers) {
            Ok(Some(bearer)) => bearer.to_owned(),
            Ok(None) => return Ok(Credential::None),
            Err(_) => return Err(HtmlError::Forbidden),
        },
    };
    if text.starts_with(SERVER_KEY_PREFIX) {
        return match crate::credentials::server_key(state, &text).await {
            Ok(record) => Ok(Credential::Server(record)),
            Err(e) if e.result() == EResult::NotLoggedOn => Err(HtmlError::Forbidden),
            Err(e) if e.result() == EResult::ServiceUnavailable => Err(HtmlError::Unavailable),
            Err(_) => Err(HtmlError::Internal),
        };
    }
    if text.starts_with(TOKEN_PREFIX) {
        let now = crate::clock::unix_now();
        return match state.tokens().verify(&text, now) {
            Ok(claims) => Ok(Credential::User(claims)),
            // Signed by this server but expired or revoked: Steam's 401.
            Err(refusal) if refusal.was_signed_here() => Err(HtmlError::Unauthorized),
            Err(_) => Err(HtmlError::Forbidden),
        };
    }
    Err(HtmlError::Forbidden)
}

/// Every parameter the method lists as required is present (the `key` may
/// also come as a bearer credential). Checked in the order listed, as Steam does.
fn required_params(call: &SteamCall) -> Result<(), HtmlError> {
    for p in call.doc.params.iter().filter(|p| !p.optional) {
        if p.name == "key" {
            if matches!(call.credential, Credential::None) {
                return Err(key_missing());
            }
            continue;
        }
        call.params.required(p.name)?;
    }
    Ok(())
}

/// Serves every version of one Steam method: picks the version, checks the
/// HTTP method, reads the parameters and the credential, and calls the handler.
pub(crate) async fn dispatch(
    State(state): State<AppState>,
    versions: MethodVersions,
    request: Request,
) -> Response {
    let path = request.uri().path().to_owned();
    let response = match serve(&state, &versions, request).await {
        Ok(response) => response,
        Err(e) => {
            let reason = format!("{e:?}");
            let mut response = e.into_response();
            response.extensions_mut().insert(RefusalNote {
                result: 0,
                reason,
                subject: None,
            });
            response
        }
    };
    if response.status().is_client_error() && response.extensions().get::<RefusalNote>().is_none() {
        let mut response = response;
        response.extensions_mut().insert(RefusalNote {
            result: 0,
            reason: format!(
                "Steam method refused: {}",
                path.chars().take(80).collect::<String>()
            ),
            subject: None,
        });
        return response;
    }
    response
}

async fn serve(
    state: &AppState,
    versions: &MethodVersions,
    request: Request,
) -> Result<Response, HtmlError> {
    let first = versions[0].steam.ok_or(HtmlError::Internal)?;
    let not_found = || HtmlError::MethodNotFound {
        interface: first.interface.to_owned(),
        method: first.name.to_owned(),
    };
    let segment = request
        .uri()
        .path()
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("");
    let version = parse_version(segment).ok_or_else(not_found)?;
    let spec = versions
        .iter()
        .copied()
        .find(|r| r.steam.is_some_and(|d| d.version == version))
        .ok_or_else(not_found)?;
    let doc = spec.steam.ok_or(HtmlError::Internal)?;
    let wanted = if spec.method == "POST" {
        Method::POST
    } else {
        Method::GET
    };
    if request.method() != wanted {
        return Err(HtmlError::WrongHttpMethod(spec.method));
    }
    let (parts, body) = request.into_parts();
    let query = parts.uri.query().unwrap_or("").as_bytes().to_vec();
    let body = read_body(body, spec.body_limit).await?;
    let params = Params::parse(&[&query, &body])?;
    let format = Format::parse(params.get("format")).ok_or_else(|| {
        HtmlError::BadRequest("Parameter 'format' must be json, xml or vdf".into())
    })?;
    let credential = match credential(state, &params, &parts.headers).await {
        Ok(credential) => credential,
        // A key or token that is not one: Steam answers 403 (or 401 for an
        // expired token), and the address's failure budget is charged as
        // for any failed authentication.
        Err(e @ (HtmlError::Forbidden | HtmlError::Unauthorized)) => {
            let reason = format!("{e:?}");
            let mut response = e.into_response();
            response
                .extensions_mut()
                .insert(crate::rate_limit::AuthenticationFailed);
            response.extensions_mut().insert(RefusalNote {
                result: 0,
                reason,
                subject: None,
            });
            return Ok(response);
        }
        Err(e) => return Err(e),
    };
    let call = SteamCall {
        params,
        format,
        headers: parts.headers,
        credential,
        doc,
    };
    required_params(&call)?;
    handlers::handle(state, spec.endpoint, &call).await
}

async fn read_body(body: Body, limit: usize) -> Result<Vec<u8>, HtmlError> {
    if limit == 0 {
        // GET methods read no body; whatever is sent is ignored unread.
        return Ok(Vec::new());
    }
    axum::body::to_bytes(body, limit)
        .await
        .map(|b| b.to_vec())
        .map_err(|_| HtmlError::TooLarge(limit))
}

/// Endpoints served by this module (for the route table's tests).
pub fn is_steam_endpoint(endpoint: Endpoint) -> bool {
    ROUTES
        .iter()
        .any(|r| r.endpoint == endpoint && r.steam.is_some())
}
