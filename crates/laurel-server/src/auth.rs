//! Credentials: user tokens (HMAC, checked without the database), server keys
//! (looked up by the hash of the secret, cached briefly) and the admin token.
//! No secret is ever logged or put in an error message.

use axum::http::{HeaderMap, header};
use laurel_core::{AppId, SteamId};
use laurel_store::KeyRecord;
use laurel_wire::{SERVER_KEY_PREFIX, TokenClaims};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// SHA-256 hex of a server key: what the store keeps instead of the secret.
pub fn hash_server_key(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A fresh server key: `lk_` and 64 hex digits of OS randomness.
pub fn generate_server_key() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{SERVER_KEY_PREFIX}{}", hex::encode(bytes)))
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Caller {
    Anonymous,
    User(TokenClaims),
    Server(KeyRecord),
}

/// The bearer credential of a request, if any. Anything present but unusable is a 401.
pub fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::not_logged_on("Authorization header is not ASCII"))?;
    let (scheme, credential) = text.split_once(' ').unwrap_or((text, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::not_logged_on(
            "Authorization header must be `Bearer <token or key>`",
        ));
    }
    let credential = credential.trim();
    if credential.is_empty() {
        return Err(ApiError::not_logged_on(
            "Authorization header has no credential",
        ));
    }
    Ok(Some(credential))
}

impl Caller {
    /// Any credential of `app` (and, when `anonymous_ok`, none at all).
    pub fn require_app(&self, app: AppId, anonymous_ok: bool) -> Result<(), ApiError> {
        match self {
            Caller::Anonymous if anonymous_ok => Ok(()),
            Caller::Anonymous => Err(ApiError::not_logged_on(
                "this route needs `Authorization: Bearer <user token or server key>`",
            )),
            Caller::User(c) if c.app == app => Ok(()),
            Caller::Server(k) if k.app == app => Ok(()),
            Caller::User(c) => Err(ApiError::access_denied(format!(
                "user token is for app {}, not app {app}",
                c.app
            ))),
            Caller::Server(k) => Err(ApiError::access_denied(format!(
                "server key is for app {}, not app {app}",
                k.app
            ))),
        }
    }

    /// A user token of `user` in `app`, or a server key of `app`.
    pub fn require_owner_or_server(&self, app: AppId, user: SteamId) -> Result<(), ApiError> {
        self.require_app(app, false)?;
        match self {
            Caller::User(c) if c.user != user => Err(ApiError::access_denied(format!(
                "a user token may only act on its own user ({}), not {user}",
                c.user
            ))),
            _ => Ok(()),
        }
    }
}

/// The admin token, kept as its SHA-256 digest: comparing digests in constant
/// time does not leak the token's length or prefix.
#[derive(Clone)]
pub struct AdminGate {
    digest: Option<[u8; 32]>,
}

impl AdminGate {
    pub fn new(token: Option<&str>) -> AdminGate {
        AdminGate {
            digest: token
                .filter(|t| !t.is_empty())
                .map(|t| Sha256::digest(t.as_bytes()).into()),
        }
    }

    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(expected) = &self.digest else {
            return Err(ApiError::access_denied(
                "admin API is disabled: set LAUREL_ADMIN_TOKEN",
            ));
        };
        let Some(given) = bearer(headers)? else {
            return Err(ApiError::not_logged_on(
                "admin routes need `Authorization: Bearer <admin token>`",
            ));
        };
        let given: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        if bool::from(given.ct_eq(expected)) {
            Ok(())
        } else {
            Err(ApiError::not_logged_on("wrong admin token"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_look_like_keys() {
        let k = generate_server_key().unwrap();
        assert!(k.starts_with("lk_") && k.len() == 67, "{k}");
        assert_eq!(hash_server_key(&k).len(), 64);
        assert_ne!(generate_server_key().unwrap(), k);
    }

    #[test]
    fn admin_gate() {
        let mut h = HeaderMap::new();
        assert_eq!(
            AdminGate::new(None).check(&h).unwrap_err().result().code(),
            15
        );
        let gate = AdminGate::new(Some("hunter2"));
        assert_eq!(gate.check(&h).unwrap_err().result().code(), 21);
        h.insert(header::AUTHORIZATION, "Bearer hunter3".parse().unwrap());
        assert_eq!(gate.check(&h).unwrap_err().result().code(), 21);
        h.insert(header::AUTHORIZATION, "Bearer hunter2".parse().unwrap());
        assert!(gate.check(&h).is_ok());
    }
}
