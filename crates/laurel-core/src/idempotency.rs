//! What makes a store safe to retry: the key a client names it by, and the
//! digest that tells a replay from a different request under the same key.
//! One rule each, for every front end (the client API's header, Steam's
//! `SetUserStatsForGame`).

use std::fmt;

use sha2::{Digest, Sha256};

use crate::ids::{AppId, SteamId};
use crate::limits::MAX_IDEMPOTENCY_KEY_BYTES;

/// An idempotency key as the store keeps it: 1–[`MAX_IDEMPOTENCY_KEY_BYTES`]
/// bytes of printable ASCII, whatever front end it came through.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an idempotency key is 1–{max} printable ASCII characters (got {got} bytes)")]
pub struct KeyError {
    /// The longest key the caller may send (less than the stored maximum
    /// where a front end puts its namespace before it).
    pub max: usize,
    pub got: usize,
}

impl IdempotencyKey {
    /// A key of the client API (the `Idempotency-Key` header).
    pub fn parse(bytes: &[u8]) -> Result<IdempotencyKey, KeyError> {
        IdempotencyKey::namespaced("", bytes)
    }

    /// A key in a front end's namespace (`steam:`), so that two front ends'
    /// keys never meet; the whole, namespace included, fits the limit.
    pub fn namespaced(namespace: &str, bytes: &[u8]) -> Result<IdempotencyKey, KeyError> {
        let max = MAX_IDEMPOTENCY_KEY_BYTES.saturating_sub(namespace.len());
        let printable = |b: &u8| (b' '..=b'~').contains(b);
        if bytes.is_empty()
            || bytes.len() > max
            || !bytes.iter().all(printable)
            || !namespace.as_bytes().iter().all(printable)
        {
            return Err(KeyError {
                max,
                got: bytes.len(),
            });
        }
        let key: String = bytes.iter().map(|&b| char::from(b)).collect();
        Ok(IdempotencyKey(format!("{namespace}{key}")))
    }

    /// A key read back from a store, which only ever holds checked keys.
    pub fn from_stored(key: String) -> IdempotencyKey {
        IdempotencyKey(key)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A digest of a store request (hex SHA-256), so that a key reused for a
/// different request is refused rather than answered with the first one's
/// outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// A client API store: the app, the user and the body's bytes.
    pub fn of_body(app: AppId, user: SteamId, body: &[u8]) -> Fingerprint {
        let mut h = Sha256::new();
        h.update(app.get().to_be_bytes());
        h.update(user.get().to_be_bytes());
        h.update(body);
        Fingerprint(hex::encode(h.finalize()))
    }

    /// A `SetUserStatsForGame` call: the app, the user and its name/value
    /// pairs in order (each part length-prefixed, so no two calls collide).
    pub fn of_steam_set(
        app: AppId,
        user: SteamId,
        names: &[String],
        values: &[String],
    ) -> Fingerprint {
        let mut h = Sha256::new();
        h.update(b"SetUserStatsForGame");
        h.update(app.get().to_be_bytes());
        h.update(user.get().to_be_bytes());
        for (n, v) in names.iter().zip(values) {
            for part in [n, v] {
                h.update((part.len() as u64).to_be_bytes());
                h.update(part.as_bytes());
            }
        }
        Fingerprint(hex::encode(h.finalize()))
    }

    /// A fingerprint read back from a store.
    pub fn from_stored(digest: String) -> Fingerprint {
        Fingerprint(digest)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_printable_ascii_within_the_limit_namespace_included() {
        let max = MAX_IDEMPOTENCY_KEY_BYTES;
        assert!(IdempotencyKey::parse(&vec![b'k'; max]).is_ok());
        for bad in [
            &b""[..],
            &vec![b'k'; max + 1],
            b"tab\there",
            "é".as_bytes(),
            b"\x7f",
        ] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
        // A Steam key at the limit: the namespace counts, so the stored key
        // never passes the store's maximum.
        let ns = "steam:";
        let at = IdempotencyKey::namespaced(ns, &vec![b'k'; max - ns.len()]).expect("at the limit");
        assert_eq!(at.as_str().len(), max);
        assert!(at.as_str().starts_with(ns));
        let over = IdempotencyKey::namespaced(ns, &vec![b'k'; max - ns.len() + 1]).unwrap_err();
        assert_eq!((over.max, over.got), (max - ns.len(), max - ns.len() + 1));
    }

    #[test]
    fn fingerprints_tell_requests_apart() {
        let (app, user) = (AppId::new(480).unwrap(), SteamId::new(7).unwrap());
        let other = SteamId::new(8).unwrap();
        assert_eq!(
            Fingerprint::of_body(app, user, b"{}"),
            Fingerprint::of_body(app, user, b"{}")
        );
        assert_ne!(
            Fingerprint::of_body(app, user, b"{}"),
            Fingerprint::of_body(app, other, b"{}")
        );
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // Length prefixes: ("ab", "c") is not ("a", "bc").
        assert_ne!(
            Fingerprint::of_steam_set(app, user, &names(&["ab"]), &names(&["c"])),
            Fingerprint::of_steam_set(app, user, &names(&["a"]), &names(&["bc"]))
        );
        assert_eq!(Fingerprint::of_body(app, user, b"x").as_str().len(), 64);
    }
}
