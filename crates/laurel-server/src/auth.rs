//! Credentials: user tokens (HMAC, checked without the database), server keys
//! (looked up by the hash of the secret, cached briefly) and the admin token.
//! No secret is ever logged or put in an error message.

use std::time::Instant;

use axum::http::{HeaderMap, header};
use hmac::{Hmac, Mac};
use laurel_core::{AppId, SteamId};
use laurel_store::KeyRecord;
use laurel_wire::{SERVER_KEY_PREFIX, TOKEN_PREFIX, TokenClaims};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::AppState;
use crate::tokens::TokenRefusal;

type HmacSha256 = Hmac<Sha256>;

/// Signs and verifies user tokens. The keyed state is prepared once, so each
/// verification hashes only the token's few dozen bytes.
#[derive(Clone)]
pub struct TokenSigner {
    mac: HmacSha256,
}

impl TokenSigner {
    pub fn new(secret: &[u8]) -> TokenSigner {
        // HMAC accepts keys of any length; the error case cannot occur.
        let mac = <HmacSha256 as Mac>::new_from_slice(secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        TokenSigner { mac }
    }

    pub fn sign(&self, claims: &TokenClaims) -> String {
        let payload = claims.payload();
        let mut mac = self.mac.clone();
        mac.update(payload.as_bytes());
        let tag = hex::encode(mac.finalize().into_bytes());
        format!("{payload}.{tag}")
    }

    /// The claims of a token this signer signed (whether it is still valid
    /// is [`crate::tokens::TokenAuthority::verify`]'s to say).
    pub fn verify(&self, token: &str) -> Result<TokenClaims, TokenRefusal> {
        let Some((claims, tag_hex)) = TokenClaims::parse_unverified(token) else {
            return Err(TokenRefusal::Malformed);
        };
        // The MAC covers the exact text before it (what `sign` produced).
        let payload = &token[..token.len() - tag_hex.len() - 1];
        let mut tag = [0u8; 32];
        if hex::decode_to_slice(tag_hex, &mut tag).is_err() {
            return Err(TokenRefusal::Malformed);
        }
        let mut mac = self.mac.clone();
        mac.update(payload.as_bytes());
        // `verify_slice` compares in constant time.
        if mac.verify_slice(&tag).is_err() {
            return Err(TokenRefusal::Forged);
        }
        Ok(claims)
    }
}

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
            .verify(credential, crate::unix_now())
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

    fn claims(expires_at: i64) -> TokenClaims {
        TokenClaims {
            app: AppId::new(480).unwrap(),
            user: SteamId::new(76561197960287930).unwrap(),
            issued_ms: 1_000,
            expires_at,
            key_id: 2,
        }
    }

    #[test]
    fn tokens_round_trip_and_forgeries_are_refused() {
        let s = TokenSigner::new(b"secret");
        let t = s.sign(&claims(2_000));
        assert_eq!(s.verify(&t).unwrap(), claims(2_000));
        let other = TokenSigner::new(b"other");
        assert_eq!(other.verify(&t), Err(TokenRefusal::Forged));
        // Changing the claims breaks the MAC.
        let t = s.sign(&claims(2_000)).replace(".2000.", ".9999.");
        assert_eq!(s.verify(&t), Err(TokenRefusal::Forged));
        assert_eq!(s.verify("lt2.garbage"), Err(TokenRefusal::Malformed));
    }

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
