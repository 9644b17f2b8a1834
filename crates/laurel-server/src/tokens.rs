//! User tokens: minted by a server key (or dev mode), checked without the
//! database against what every node keeps in memory: the signing secrets
//! (the current one, and during a rotation's grace period the previous
//! one), the revocations ("not before" times per app and per user) and the
//! revoked keys. [`TokenAuthority::refresh`] reloads those from the store
//! every [`REFRESH_INTERVAL`]; a node applies its own changes at once, so a
//! revocation reaches every node within that interval.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;
use std::time::Duration;

use hmac::{Hmac, Mac};
use laurel_core::{AppId, SteamId};
use laurel_store::{SigningSecrets, Store, StoreError, TokenRevocation, TokenRevocations};
use laurel_wire::TokenClaims;
use sha2::Sha256;

use crate::error::ApiError;

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

/// How often a node reloads secrets and revocations from the store.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(5);

/// Why a token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    #[error("malformed user token")]
    Malformed,
    #[error("user token was not signed by this server")]
    Forged,
    #[error("user token has expired; start a new session")]
    Expired,
    #[error("user token was revoked; start a new session")]
    Revoked,
    #[error("user token was minted by a server key that has been revoked; start a new session")]
    KeyRevoked,
}

impl TokenRefusal {
    /// Whether this server signed the token (it expired or was revoked),
    /// rather than it being no token of ours at all.
    pub fn was_signed_here(self) -> bool {
        !matches!(self, TokenRefusal::Malformed | TokenRefusal::Forged)
    }
}

impl From<TokenRefusal> for ApiError {
    fn from(refusal: TokenRefusal) -> ApiError {
        ApiError::not_logged_on(refusal.to_string())
    }
}

struct Signers {
    current: TokenSigner,
    /// The secret a rotation replaced, with the Unix second it stops verifying.
    previous: Option<(TokenSigner, i64)>,
}

impl Signers {
    fn new(secrets: &SigningSecrets) -> Signers {
        Signers {
            current: TokenSigner::new(&secrets.current),
            previous: secrets
                .previous
                .as_ref()
                .map(|(secret, until)| (TokenSigner::new(secret), *until)),
        }
    }
}

#[derive(Default)]
struct Revoked {
    apps: HashMap<AppId, i64>,
    users: HashMap<(AppId, SteamId), i64>,
    keys: HashSet<i64>,
}

impl Revoked {
    fn note(&mut self, r: TokenRevocation) {
        let slot = match r.user {
            Some(user) => self.users.entry((r.app, user)).or_insert(i64::MIN),
            None => self.apps.entry(r.app).or_insert(i64::MIN),
        };
        *slot = (*slot).max(r.not_before_ms);
    }

    fn not_before(&self, app: AppId, user: SteamId) -> i64 {
        let by_app = self.apps.get(&app).copied().unwrap_or(i64::MIN);
        let by_user = self.users.get(&(app, user)).copied().unwrap_or(i64::MIN);
        by_app.max(by_user)
    }
}

/// Mints and verifies user tokens.
pub struct TokenAuthority {
    signers: RwLock<Signers>,
    revoked: RwLock<Revoked>,
}

impl TokenAuthority {
    pub fn new(secrets: &SigningSecrets, revocations: TokenRevocations) -> TokenAuthority {
        let authority = TokenAuthority {
            signers: RwLock::new(Signers::new(secrets)),
            revoked: RwLock::new(Revoked::default()),
        };
        authority.replace_revocations(revocations);
        authority
    }

    /// Reloads the secrets and revocations from the store. Revocations are
    /// read first: whatever was committed before a revocation this read
    /// sees (a rotation, say) is then seen by the secrets' read too.
    pub async fn refresh(&self, store: &dyn Store) -> Result<(), StoreError> {
        let revocations = store.token_revocations().await?;
        let secrets = store.signing_secrets().await?;
        *self.signers.write().unwrap_or_else(|e| e.into_inner()) = Signers::new(&secrets);
        self.replace_revocations(revocations);
        Ok(())
    }

    fn replace_revocations(&self, revocations: TokenRevocations) {
        let mut fresh = Revoked::default();
        for r in revocations.revocations {
            fresh.note(r);
        }
        fresh.keys = revocations.revoked_keys.into_iter().collect();
        let mut revoked = self.revoked.write().unwrap_or_else(|e| e.into_inner());
        // What this node noted since the store was read stays (a later
        // "not before" wins, and a key revoked is revoked for good).
        for (app, at) in &revoked.apps {
            fresh.note(TokenRevocation {
                app: *app,
                user: None,
                not_before_ms: *at,
            });
        }
        for ((app, user), at) in &revoked.users {
            fresh.note(TokenRevocation {
                app: *app,
                user: Some(*user),
                not_before_ms: *at,
            });
        }
        fresh.keys.extend(revoked.keys.iter().copied());
        *revoked = fresh;
    }

    /// Applies a revocation this node made, before the next refresh.
    pub fn note_revocation(&self, revocation: TokenRevocation) {
        self.revoked
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .note(revocation);
    }

    /// Applies a key revocation this node made, before the next refresh.
    pub fn note_key_revoked(&self, key_id: i64) {
        self.revoked
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .keys
            .insert(key_id);
    }

    /// A token for `user` of `app`, minted by key `key_id` (0: dev mode),
    /// valid for `ttl_seconds`. Its issue time is after every revocation
    /// this node knows of, so a session started right after a revocation works.
    pub fn mint(
        &self,
        app: AppId,
        user: SteamId,
        key_id: i64,
        ttl_seconds: i64,
        now_ms: i64,
    ) -> (String, TokenClaims) {
        let not_before = self
            .revoked
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .not_before(app, user);
        let issued_ms = now_ms.max(not_before.saturating_add(1)).max(1);
        let claims = TokenClaims {
            app,
            user,
            issued_ms,
            expires_at: (now_ms / 1000).saturating_add(ttl_seconds),
            key_id,
        };
        let signers = self.signers.read().unwrap_or_else(|e| e.into_inner());
        (signers.current.sign(&claims), claims)
    }

    /// The claims of a token this server signed, unexpired, unrevoked, and
    /// minted by a key that is not revoked. `now` is Unix seconds.
    pub fn verify(&self, token: &str, now: i64) -> Result<TokenClaims, TokenRefusal> {
        let claims = {
            let signers = self.signers.read().unwrap_or_else(|e| e.into_inner());
            match signers.current.verify(token) {
                Err(TokenRefusal::Forged) => match &signers.previous {
                    Some((previous, until)) if now < *until => previous.verify(token)?,
                    _ => return Err(TokenRefusal::Forged),
                },
                other => other?,
            }
        };
        if claims.expires_at <= now {
            return Err(TokenRefusal::Expired);
        }
        let revoked = self.revoked.read().unwrap_or_else(|e| e.into_inner());
        if claims.key_id != 0 && revoked.keys.contains(&claims.key_id) {
            return Err(TokenRefusal::KeyRevoked);
        }
        if claims.issued_ms <= revoked.not_before(claims.app, claims.user) {
            return Err(TokenRefusal::Revoked);
        }
        Ok(claims)
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

    fn secrets(current: &[u8], previous: Option<(&[u8], i64)>) -> SigningSecrets {
        SigningSecrets {
            current: current.to_vec(),
            previous: previous.map(|(s, until)| (s.to_vec(), until)),
        }
    }

    fn app() -> AppId {
        AppId::new(480).unwrap()
    }

    fn user(n: u64) -> SteamId {
        SteamId::new(76561197960287930 + n).unwrap()
    }

    const NOW_MS: i64 = 1_800_000_000_000;
    const NOW: i64 = NOW_MS / 1000;

    #[test]
    fn revocations_refuse_tokens_issued_before_them_only() {
        let a = TokenAuthority::new(&secrets(b"s", None), TokenRevocations::default());
        let (t1, _) = a.mint(app(), user(1), 3, 3600, NOW_MS);
        let (t2, _) = a.mint(app(), user(2), 3, 3600, NOW_MS);
        assert!(a.verify(&t1, NOW).is_ok());
        a.note_revocation(TokenRevocation {
            app: app(),
            user: Some(user(1)),
            not_before_ms: NOW_MS,
        });
        assert_eq!(a.verify(&t1, NOW), Err(TokenRefusal::Revoked));
        assert!(a.verify(&t2, NOW).is_ok(), "another user's token stands");
        // A session started in the same millisecond, after the revocation, works.
        let (t3, claims) = a.mint(app(), user(1), 3, 3600, NOW_MS);
        assert!(claims.issued_ms > NOW_MS);
        assert!(a.verify(&t3, NOW).is_ok());
        a.note_revocation(TokenRevocation {
            app: app(),
            user: None,
            not_before_ms: NOW_MS + 5,
        });
        assert_eq!(a.verify(&t2, NOW), Err(TokenRefusal::Revoked));
        assert_eq!(a.verify(&t3, NOW), Err(TokenRefusal::Revoked));
    }

    #[test]
    fn tokens_of_a_revoked_key_are_refused() {
        let a = TokenAuthority::new(
            &secrets(b"s", None),
            TokenRevocations {
                revocations: Vec::new(),
                revoked_keys: vec![9],
            },
        );
        let (by_nine, _) = a.mint(app(), user(1), 9, 3600, NOW_MS);
        let (by_four, _) = a.mint(app(), user(1), 4, 3600, NOW_MS);
        let (dev, _) = a.mint(app(), user(1), 0, 3600, NOW_MS);
        assert_eq!(a.verify(&by_nine, NOW), Err(TokenRefusal::KeyRevoked));
        assert!(a.verify(&by_four, NOW).is_ok());
        assert!(a.verify(&dev, NOW).is_ok());
        a.note_key_revoked(4);
        assert_eq!(a.verify(&by_four, NOW), Err(TokenRefusal::KeyRevoked));
        // A refresh from a store that has not seen it yet keeps it.
        a.replace_revocations(TokenRevocations::default());
        assert_eq!(a.verify(&by_four, NOW), Err(TokenRefusal::KeyRevoked));
    }

    #[test]
    fn a_rotated_secret_verifies_until_its_grace_ends() {
        let old = TokenAuthority::new(&secrets(b"old", None), TokenRevocations::default());
        let (token, _) = old.mint(app(), user(1), 1, 3600, NOW_MS);
        let rotated = TokenAuthority::new(
            &secrets(b"new", Some((b"old", NOW + 60))),
            TokenRevocations::default(),
        );
        assert!(rotated.verify(&token, NOW).is_ok());
        assert!(rotated.verify(&token, NOW + 59).is_ok());
        assert_eq!(rotated.verify(&token, NOW + 60), Err(TokenRefusal::Forged));
        let (fresh, _) = rotated.mint(app(), user(1), 1, 3600, NOW_MS);
        assert_eq!(old.verify(&fresh, NOW), Err(TokenRefusal::Forged));
        let other = TokenAuthority::new(&secrets(b"other", None), TokenRevocations::default());
        assert_eq!(other.verify(&token, NOW), Err(TokenRefusal::Forged));
    }

    #[test]
    fn expiry_and_shape() {
        let a = TokenAuthority::new(&secrets(b"s", None), TokenRevocations::default());
        let (t, _) = a.mint(app(), user(1), 1, 10, NOW_MS);
        assert!(a.verify(&t, NOW + 9).is_ok());
        assert_eq!(a.verify(&t, NOW + 10), Err(TokenRefusal::Expired));
        assert!(TokenRefusal::Expired.was_signed_here());
        assert_eq!(a.verify("lt2.garbage", NOW), Err(TokenRefusal::Malformed));
        let tampered = t.replacen(".480.", ".481.", 1);
        assert_eq!(a.verify(&tampered, NOW), Err(TokenRefusal::Forged));
    }
}
