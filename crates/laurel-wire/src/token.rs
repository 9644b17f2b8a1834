//! The shape of a user token:
//! `lt2.<app_id>.<steam_id>.<issued_ms>.<expires_at>.<key_id>.<mac>`, where
//! `issued_ms` is when it was minted (Unix milliseconds, compared with the
//! "not before" times of revocations), `expires_at` is Unix seconds,
//! `key_id` is the server key that minted it (0: a dev-mode session of the
//! demo app, minted without a key), and `mac` is lowercase hex HMAC-SHA256
//! computed by the server over everything before the last dot. The SDK reads
//! the claims without the key (the user id is needed at once, without a
//! network round trip); only the server can verify them.
//!
//! `lt1` tokens (no issue time, no key) are no longer accepted: they could
//! be neither revoked nor tied to a key.

use laurel_core::{AppId, SteamId};

pub const TOKEN_PREFIX: &str = "lt2";
/// Prefix of server/publisher keys (`lk_` + 64 hex digits).
pub const SERVER_KEY_PREFIX: &str = "lk_";
/// The longest text that can be a token (longer ones are refused unread).
pub const MAX_TOKEN_CHARS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenClaims {
    pub app: AppId,
    pub user: SteamId,
    /// UTC Unix milliseconds.
    pub issued_ms: i64,
    /// UTC Unix seconds.
    pub expires_at: i64,
    /// The server key that minted it; 0 for a dev-mode session.
    pub key_id: i64,
}

/// Digits only, and no leading zero: the one way `u64`'s `Display` writes a number.
fn canonical_decimal(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text.len() == 1 || !text.starts_with('0'))
}

impl TokenClaims {
    /// The signed part of a token: what the MAC covers.
    pub fn payload(&self) -> String {
        format!(
            "{TOKEN_PREFIX}.{}.{}.{}.{}.{}",
            self.app, self.user, self.issued_ms, self.expires_at, self.key_id
        )
    }

    /// Splits a token into its claims and its MAC text, checking only the shape.
    pub fn parse_unverified(token: &str) -> Option<(TokenClaims, &str)> {
        if token.len() > MAX_TOKEN_CHARS {
            return None;
        }
        let mut parts = token.split('.');
        let (prefix, app, user, issued, expires, key, mac) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        if prefix != TOKEN_PREFIX || parts.next().is_some() {
            return None;
        }
        // Only the canonical spelling is a token (no `+5`, no leading zeros), so that one
        // set of claims has exactly one text. Checked on the text, without
        // formatting the claims again: this runs on every request.
        if ![app, user, issued, expires, key]
            .iter()
            .all(|part| canonical_decimal(part))
        {
            return None;
        }
        let claims = TokenClaims {
            app: app.parse().ok()?,
            user: user.parse().ok()?,
            issued_ms: issued.parse().ok().filter(|e: &i64| *e > 0)?,
            expires_at: expires.parse().ok().filter(|e: &i64| *e > 0)?,
            key_id: key.parse().ok()?,
        };
        if mac.len() != 64 || !mac.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some((claims, mac))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_well_formed_tokens() {
        let mac = "a".repeat(64);
        let t = format!("lt2.480.76561197960287930.1799999999000.1800000000.7.{mac}");
        let (c, m) = TokenClaims::parse_unverified(&t).unwrap();
        assert_eq!(
            c.payload(),
            "lt2.480.76561197960287930.1799999999000.1800000000.7"
        );
        assert_eq!(
            (c.issued_ms, c.expires_at, c.key_id),
            (1_799_999_999_000, 1_800_000_000, 7)
        );
        assert_eq!(m, mac);
        for bad in [
            "".to_string(),
            format!("lt1.480.1.1.{mac}"),
            format!("lt2.480.1.1.1.{mac}"),
            format!("lt2.480.1.1.1.0.{mac}.x"),
            format!("lt2.0.1.1.1.0.{mac}"),
            format!("lt2.480.-1.1.1.0.{mac}"),
            format!("lt2.480.1.0.1.0.{mac}"),
            format!("lt2.480.1.1.1.-1.{mac}"),
            "lt2.480.1.1.1.0.zz".to_string(),
            format!("lt2.480.1.1.1.0.{}", "x".repeat(300)),
            format!("lt2.480.1.1.+5.0.{mac}"),
            format!("lt2.0480.1.1.5.0.{mac}"),
            format!("lt2.480.01.1.5.0.{mac}"),
            format!("lt2.480.1.1.5.00.{mac}"),
        ] {
            assert!(TokenClaims::parse_unverified(&bad).is_none(), "{bad}");
        }
    }
}
