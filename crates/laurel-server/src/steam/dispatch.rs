//! Serves a Steam method: picks the version, checks the HTTP method, reads
//! the parameters and the credential, checks the required parameters, and
//! calls the registered handler.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use laurel_core::EResult;
use laurel_wire::{SERVER_KEY_PREFIX, TOKEN_PREFIX};

use super::format::{Format, HtmlError};
use super::method::{Credential, SteamCall, SteamMethod};
use super::params::{Params, parse_version};
use super::registry::{MethodVersions, REGISTRY};
use crate::auth::bearer;
use crate::clock::unix_now;
use crate::credentials::server_key;
use crate::error::RefusalNote;
use crate::rate_limit::AuthenticationFailed;
use crate::state::AppState;

/// Resolves the credential: `key=` first, else the bearer header. Anything
/// given must be valid, even for methods that need none (as on Steam).
async fn credential(
    state: &AppState,
    params: &Params,
    headers: &HeaderMap,
) -> Result<Credential, HtmlError> {
    let text = match params.get("key").filter(|k| !k.is_empty()) {
        Some(key) => key.to_owned(),
        None => match bearer(headers) {
            Ok(Some(bearer)) => bearer.to_owned(),
            Ok(None) => return Ok(Credential::None),
            Err(_) => return Err(HtmlError::Forbidden),
        },
    };
    if text.starts_with(SERVER_KEY_PREFIX) {
        return match server_key(state, &text).await {
            Ok(record) => Ok(Credential::Server(record)),
            Err(e) if e.result() == EResult::NotLoggedOn => Err(HtmlError::Forbidden),
            Err(e) if e.result() == EResult::ServiceUnavailable => Err(HtmlError::Unavailable),
            Err(_) => Err(HtmlError::Internal),
        };
    }
    if text.starts_with(TOKEN_PREFIX) {
        let now = unix_now();
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
fn required_params(method: &SteamMethod, call: &SteamCall) -> Result<(), HtmlError> {
    for p in method.params.iter().filter(|p| !p.optional) {
        if p.name == "key" {
            if matches!(call.credential, Credential::None) {
                return Err(HtmlError::key_missing());
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
    let first = versions.first().ok_or(HtmlError::Internal)?;
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
    let method = versions
        .iter()
        .copied()
        .find(|m| m.version == version)
        .ok_or_else(not_found)?;
    let wanted = if method.http == "POST" {
        Method::POST
    } else {
        Method::GET
    };
    if request.method() != wanted {
        return Err(HtmlError::WrongHttpMethod(method.http));
    }
    let (parts, body) = request.into_parts();
    let query = parts.uri.query().unwrap_or("").as_bytes().to_vec();
    let body = read_body(body, method.body_limit).await?;
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
            response.extensions_mut().insert(AuthenticationFailed);
            response.extensions_mut().insert(RefusalNote {
                result: 0,
                reason,
                subject: None,
            });
            return Ok(response);
        }
        Err(e) => return Err(e),
    };
    let address = parts
        .extensions
        .get::<crate::rate_limit::Admitted>()
        .map_or_else(|| "unknown".to_owned(), |a| a.client.to_string());
    let call = SteamCall {
        address,
        params,
        format,
        headers: parts.headers,
        credential,
        version: method.version,
        registry: REGISTRY,
    };
    required_params(method, &call)?;
    (method.handler)(state, &call).await
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
