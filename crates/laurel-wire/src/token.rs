//! The shape of a user token: `lt1.<app_id>.<steam_id>.<expires_at>.<mac>`,
//! where `mac` is lowercase hex HMAC-SHA256 (computed by the server over
//! everything before the last dot). The SDK reads the claims without the key
//! (the user id is needed at once, without a network round trip); only the
//! server can verify them.

use laurel_core::{AppId, SteamId};

pub const TOKEN_PREFIX: &str = "lt1";
/// Prefix of server/publisher keys (`lk_` + 64 hex digits).
pub const SERVER_KEY_PREFIX: &str = "lk_";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenClaims {
    pub app: AppId,
    pub user: SteamId,
    /// UTC Unix seconds.
    pub expires_at: i64,
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
            "{TOKEN_PREFIX}.{}.{}.{}",
            self.app, self.user, self.expires_at
        )
    }

    /// Splits a token into its claims and its MAC text, checking only the shape.
    pub fn parse_unverified(token: &str) -> Option<(TokenClaims, &str)> {
        if token.len() > 256 {
            return None;
        }
        let mut parts = token.split('.');
        let (prefix, app, user, expires, mac) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        if prefix != TOKEN_PREFIX || parts.next().is_some() {
            return None;
        }
        let claims = TokenClaims {
            app: app.parse().ok()?,
            user: user.parse().ok()?,
            expires_at: expires.parse().ok().filter(|e: &i64| *e > 0)?,
        };
        if mac.len() != 64 || !mac.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        // Only the canonical spelling is a token (no `+5`, no leading zeros), so that one
        // set of claims has exactly one text. Checked on the text, without
        // formatting the claims again: this runs on every request.
        if ![app, user, expires]
            .iter()
            .all(|part| canonical_decimal(part))
        {
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
        let t = format!("lt1.480.76561197960287930.1800000000.{mac}");
        let (c, m) = TokenClaims::parse_unverified(&t).unwrap();
        assert_eq!(c.payload(), "lt1.480.76561197960287930.1800000000");
        assert_eq!(m, mac);
        for bad in [
            "".to_string(),
            format!("lt2.480.1.1.{mac}"),
            format!("lt1.480.1.1.{mac}.x"),
            format!("lt1.0.1.1.{mac}"),
            format!("lt1.480.-1.1.{mac}"),
            "lt1.480.1.1.zz".to_string(),
            format!("lt1.480.1.1.{}", "x".repeat(300)),
            format!("lt1.480.1.+5.{mac}"),
            format!("lt1.0480.1.5.{mac}"),
            format!("lt1.480.01.5.{mac}"),
        ] {
            assert!(TokenClaims::parse_unverified(&bad).is_none(), "{bad}");
        }
    }
}
