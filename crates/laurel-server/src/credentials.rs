//! Who is calling: the bearer credential of a request resolved against this
//! node's token authority and server-key cache (the store on a cache miss).

use std::time::Instant;

use axum::http::HeaderMap;
use laurel_store::KeyRecord;
use laurel_wire::{SERVER_KEY_PREFIX, TOKEN_PREFIX};

use crate::auth::{Caller, bearer, hash_server_key};
use crate::clock::unix_now;
use crate::error::ApiError;
use crate::state::AppState;

/// Identifies the caller: a user token by its MAC alone, a server key through the key cache.
pub async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let Some(credential) = bearer(headers)? else {
        return Ok(Caller::Anonymous);
    };
    if credential.starts_with(SERVER_KEY_PREFIX) {
        return server_key(state, credential).await.map(Caller::Server);
    }
    if credential.starts_with(TOKEN_PREFIX) {
        return state
            .tokens()
            .verify(credential, unix_now())
            .map(Caller::User)
            .map_err(ApiError::from);
    }
    Err(ApiError::not_logged_on(
        "credential is neither a user token nor a server key",
    ))
}

pub(crate) async fn server_key(state: &AppState, secret: &str) -> Result<KeyRecord, ApiError> {
    let hash = hash_server_key(secret);
    let now = Instant::now();
    if let Some(record) = state.key_cache().get(&hash, now) {
        return Ok(record);
    }
    if state.key_cache().known_unknown(&hash, now) {
        return Err(ApiError::not_logged_on("unknown or revoked server key"));
    }
    match state.store().find_key(&hash).await? {
        Some(record) if !record.revoked => {
            state.key_cache().put(hash, record.clone(), now);
            Ok(record)
        }
        _ => {
            state.key_cache().put_unknown(hash, now);
            Err(ApiError::not_logged_on("unknown or revoked server key"))
        }
    }
}
