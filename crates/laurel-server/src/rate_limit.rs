//! Rate limits per user token, per server key and per client address, and a
//! backoff for failed authentication (issue 12: one user token applied
//! ~14,400 stores/s, and admin-token guesses ran at ~13,700/s).
//!
//! Each request is charged to one bucket (GCRA, `governor`): its user token's
//! (with the app's own quota when its schema sets one), its server key's, or
//! else its client address's. The admin token is not limited. A request over
//! its budget is answered 429 with EResult 84 and `Retry-After`, before any
//! handler or store work. Every answer 401 charges the client address's
//! failure budget; an address that spends it is refused (429) for every
//! request that carries a credential until the budget refills, which bounds
//! the guesses an attacker can make at keys and at the admin token.
//!
//! The client address is the peer's, or, when the peer is in a
//! `--trusted-proxy` network, the last address of `X-Forwarded-For` that is
//! not (a proxy appends the address it saw). IPv6 addresses count by their
//! /64, which one host usually holds whole.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use governor::clock::{Clock, DefaultClock};
use governor::{Quota, RateLimiter};
use ipnet::IpNet;
use laurel_core::{AppId, SteamId};

/// A sustained rate and the burst allowed after an idle period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

impl Rate {
    pub const fn new(per_second: u32, burst: u32) -> Rate {
        Rate { per_second, burst }
    }

    fn quota(self) -> Quota {
        let nz = |n: u32| NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
        Quota::per_second(nz(self.per_second)).allow_burst(nz(self.burst))
    }
}

/// Default for one user token: a game stores when a level or match ends and
/// reads its progress at start, well under one request a second; 10 a second
/// with a burst of 300 leaves room for a journal replayed after a long
/// offline session (300 at once, then 10 a second) and bounds what one
/// player can write: 864,000 stores a day, each at most one idempotency
/// record (docs/security.md has the disk arithmetic).
pub const DEFAULT_USER_RATE: Rate = Rate::new(10, 300);
/// Default for one server key: a game's backend acting for many players.
pub const DEFAULT_SERVER_KEY_RATE: Rate = Rate::new(1_000, 5_000);
/// Default for one client address without a credential (health checks,
/// the OpenAPI document, dev sessions, Steam's keyless global methods).
pub const DEFAULT_ADDRESS_RATE: Rate = Rate::new(50, 200);
/// Default budget of failed authentications per client address, per minute,
/// and the burst: 20 typos are free, then one try every 6 seconds.
pub const DEFAULT_AUTH_FAILURES_PER_MINUTE: u32 = 10;
pub const DEFAULT_AUTH_FAILURE_BURST: u32 = 20;

/// Most client addresses remembered as blocked at once; past it the oldest
/// blocks are forgotten first (they are the closest to ending anyway).
const MAX_BLOCKED_ADDRESSES: usize = 100_000;
/// Buckets are pruned of idle keys every this many checks.
const PRUNE_EVERY_CHECKS: u64 = 16_384;

/// What [`RateGate`] enforces.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimits {
    /// Off: nothing is limited (benchmarks of the server itself).
    pub enabled: bool,
    pub user: Rate,
    pub server_key: Rate,
    pub address: Rate,
    pub auth_failures_per_minute: u32,
    pub auth_failure_burst: u32,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
}

impl Default for RateLimits {
    fn default() -> RateLimits {
        RateLimits {
            enabled: true,
            user: DEFAULT_USER_RATE,
            server_key: DEFAULT_SERVER_KEY_RATE,
            address: DEFAULT_ADDRESS_RATE,
            auth_failures_per_minute: DEFAULT_AUTH_FAILURES_PER_MINUTE,
            auth_failure_burst: DEFAULT_AUTH_FAILURE_BURST,
            trusted_proxies: Vec::new(),
        }
    }
}

type Keyed<K> = RateLimiter<
    K,
    governor::state::keyed::DefaultKeyedStateStore<K>,
    DefaultClock,
    governor::middleware::NoOpMiddleware<<DefaultClock as Clock>::Instant>,
>;

/// The buckets of user tokens under one quota, by (app, user).
type UserBuckets = Keyed<(AppId, SteamId)>;

/// The client address a limit is kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressKey(IpAddr);

impl AddressKey {
    pub fn of(ip: IpAddr) -> AddressKey {
        match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => AddressKey(IpAddr::V4(v4)),
                None => {
                    let bits = u128::from(v6) & !((1u128 << 64) - 1);
                    AddressKey(IpAddr::V6(Ipv6Addr::from(bits)))
                }
            },
            v4 => AddressKey(v4),
        }
    }
}

pub struct RateGate {
    limits: RateLimits,
    clock: DefaultClock,
    /// User-token buckets under the default quota, and one limiter per
    /// other quota an app sets (looked up only for those apps).
    users: UserBuckets,
    app_users: Mutex<HashMap<Rate, Arc<UserBuckets>>>,
    /// The apps whose schemas set their own user quota, as the server last
    /// read their schemas ([`RateGate::note_app_rate`]): a map lookup per
    /// request instead of a schema lookup.
    app_rates: std::sync::RwLock<HashMap<AppId, Rate>>,
    keys: Keyed<i64>,
    addresses: Keyed<AddressKey>,
    auth_failures: Keyed<AddressKey>,
    /// Addresses that spent their failure budget, until when.
    blocked: Mutex<HashMap<AddressKey, Instant>>,
    checks: AtomicU64,
}

/// What one check decided: go on, or wait this long.
type Verdict = Result<(), Duration>;

impl RateGate {
    pub fn new(limits: RateLimits) -> RateGate {
        let per_minute =
            NonZeroU32::new(limits.auth_failures_per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limits.auth_failure_burst.max(1)).unwrap_or(NonZeroU32::MIN);
        RateGate {
            clock: DefaultClock::default(),
            users: RateLimiter::keyed(limits.user.quota()),
            app_users: Mutex::new(HashMap::new()),
            app_rates: std::sync::RwLock::new(HashMap::new()),
            keys: RateLimiter::keyed(limits.server_key.quota()),
            addresses: RateLimiter::keyed(limits.address.quota()),
            auth_failures: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
            blocked: Mutex::new(HashMap::new()),
            checks: AtomicU64::new(0),
            limits,
        }
    }

    pub fn limits(&self) -> &RateLimits {
        &self.limits
    }

    fn verdict<K: Clone + Eq + std::hash::Hash>(&self, limiter: &Keyed<K>, key: &K) -> Verdict {
        self.prune_now_and_then();
        limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Records the user quota `app`'s schema sets (each part `None`: the
    /// server's default), whenever the server reads or replaces that schema.
    pub fn note_app_rate(&self, app: AppId, per_second: Option<u32>, burst: Option<u32>) {
        let default = self.limits.user;
        let rate = Rate {
            per_second: per_second.unwrap_or(default.per_second),
            burst: burst.unwrap_or(default.burst),
        };
        let mut rates = self
            .app_rates
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if rate == default {
            rates.remove(&app);
        } else {
            rates.insert(app, rate);
        }
    }

    /// The user quota of `app` as last noted (the default for other apps).
    pub fn noted_app_rate(&self, app: AppId) -> Rate {
        self.app_rates
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&app)
            .copied()
            .unwrap_or(self.limits.user)
    }

    /// Charges one request to a user token; `rate` is the app's own or the default.
    pub fn check_user(&self, rate: Rate, app: AppId, user: SteamId) -> Verdict {
        let verdict = if rate == self.limits.user {
            self.verdict(&self.users, &(app, user))
        } else {
            let limiter = {
                let mut users = self
                    .app_users
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                Arc::clone(
                    users
                        .entry(rate)
                        .or_insert_with(|| Arc::new(RateLimiter::keyed(rate.quota()))),
                )
            };
            self.verdict(&limiter, &(app, user))
        };
        if verdict.is_err() {
            crate::metrics::rate_limited("user");
        }
        verdict
    }

    pub fn check_server_key(&self, id: i64) -> Verdict {
        let verdict = self.verdict(&self.keys, &id);
        if verdict.is_err() {
            crate::metrics::rate_limited("server_key");
        }
        verdict
    }

    pub fn check_address(&self, ip: IpAddr) -> Verdict {
        let verdict = self.verdict(&self.addresses, &AddressKey::of(ip));
        if verdict.is_err() {
            crate::metrics::rate_limited("address");
        }
        verdict
    }

    /// How long `ip` is still refused for failed authentication, if at all.
    pub fn blocked_for(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let blocked = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
        blocked
            .get(&AddressKey::of(ip))
            .and_then(|until| until.checked_duration_since(now))
            .filter(|d| !d.is_zero())
    }

    /// Records a failed authentication from `ip`; once its budget is spent,
    /// the address is blocked until the budget has room again.
    pub fn authentication_failed(&self, ip: IpAddr, now: Instant) {
        let key = AddressKey::of(ip);
        if let Err(wait) = self.verdict(&self.auth_failures, &key) {
            let mut blocked = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
            if blocked.len() >= MAX_BLOCKED_ADDRESSES {
                blocked.retain(|_, until| *until > now);
                if blocked.len() >= MAX_BLOCKED_ADDRESSES
                    && let Some(first) = blocked
                        .iter()
                        .min_by_key(|(_, until)| **until)
                        .map(|(k, _)| *k)
                {
                    blocked.remove(&first);
                }
            }
            blocked.insert(key, now + wait);
        }
    }

    /// Forgets idle buckets so that memory follows the active keys, not
    /// every key ever seen.
    fn prune_now_and_then(&self) {
        let n = self.checks.fetch_add(1, Ordering::Relaxed);
        if n % PRUNE_EVERY_CHECKS != PRUNE_EVERY_CHECKS - 1 {
            return;
        }
        self.keys.retain_recent();
        self.addresses.retain_recent();
        self.auth_failures.retain_recent();
        self.users.retain_recent();
        let users: Vec<_> = self
            .app_users
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        for limiter in users {
            limiter.retain_recent();
        }
        let now = Instant::now();
        self.blocked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, until| *until > now);
    }

    /// The address a request is charged to (see the module documentation).
    pub fn client_address(&self, peer: IpAddr, forwarded: Option<&HeaderValue>) -> IpAddr {
        if !self
            .limits
            .trusted_proxies
            .iter()
            .any(|n| n.contains(&peer))
        {
            return peer;
        }
        let Some(list) = forwarded.and_then(|v| v.to_str().ok()) else {
            return peer;
        };
        let mut client = peer;
        for hop in list.rsplit(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !self.limits.trusted_proxies.iter().any(|n| n.contains(&ip)) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        client
    }
}

/// Marks an answer to a credential that is not one where the status alone
/// does not say so (Steam's routes answer a bad key with 403, as Steam does):
/// it charges the address's failure budget like a 401.
#[derive(Debug, Clone, Copy)]
pub struct AuthenticationFailed;

/// What the gate learned of a request it let through, in the request's
/// extensions for the handlers and the log lines (one entry: each insert
/// allocates).
#[derive(Debug, Clone, Copy)]
pub struct Admitted {
    /// The client address, as [`RateGate::client_address`] found it.
    pub client: IpAddr,
    /// The claims of the user token in the `Authorization` header, which
    /// the gate verified (signature, expiry, revocation), so that the
    /// handler's credential check does not verify it twice. Never set for a
    /// token that came as a `key=` parameter (only Steam's routes take those).
    pub token: Option<laurel_wire::TokenClaims>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(trusted: &[&str]) -> RateGate {
        RateGate::new(RateLimits {
            user: Rate::new(1, 3),
            auth_failures_per_minute: 1,
            auth_failure_burst: 2,
            trusted_proxies: trusted.iter().map(|n| n.parse().unwrap()).collect(),
            ..RateLimits::default()
        })
    }

    #[test]
    fn a_bucket_allows_its_burst_then_says_how_long_to_wait() {
        let g = gate(&[]);
        let (app, user) = (AppId::new(480).unwrap(), SteamId::new(7).unwrap());
        let rate = g.limits().user;
        for _ in 0..3 {
            assert!(g.check_user(rate, app, user).is_ok());
        }
        let wait = g.check_user(rate, app, user).expect_err("over the burst");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        // Another user, and the same user under another app's quota, have their own.
        assert!(g.check_user(rate, app, SteamId::new(8).unwrap()).is_ok());
        assert!(g.check_user(Rate::new(5, 5), app, user).is_ok());
    }

    #[test]
    fn failed_authentications_block_an_address_once_its_budget_is_spent() {
        let g = gate(&[]);
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        let now = Instant::now();
        g.authentication_failed(ip, now);
        g.authentication_failed(ip, now);
        assert_eq!(g.blocked_for(ip, now), None, "the burst is free");
        g.authentication_failed(ip, now);
        let wait = g.blocked_for(ip, now).expect("blocked");
        assert!(wait <= Duration::from_secs(60), "{wait:?}");
        assert_eq!(g.blocked_for("192.0.2.10".parse().unwrap(), now), None);
        assert_eq!(g.blocked_for(ip, now + Duration::from_secs(61)), None);
    }

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_v4_as_v4() {
        let a = AddressKey::of("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = AddressKey::of("2001:db8:1:2:bbbb::2".parse().unwrap());
        let c = AddressKey::of("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            AddressKey::of("::ffff:192.0.2.1".parse().unwrap()),
            AddressKey::of("192.0.2.1".parse().unwrap())
        );
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let g = gate(&["10.0.0.0/8"]);
        let xff = HeaderValue::from_static("198.51.100.7, 203.0.113.5, 10.1.1.1");
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let stranger: IpAddr = "192.0.2.1".parse().unwrap();
        // The last hop that is not a trusted proxy; earlier entries are the client's own word.
        assert_eq!(
            g.client_address(proxy, Some(&xff)),
            "203.0.113.5".parse::<IpAddr>().unwrap()
        );
        assert_eq!(g.client_address(stranger, Some(&xff)), stranger);
        assert_eq!(g.client_address(proxy, None), proxy);
        let junk = HeaderValue::from_static("not an address");
        assert_eq!(g.client_address(proxy, Some(&junk)), proxy);
    }
}
