//! The requests the phases send: sessions for the bench's users, the store
//! requests (also sent by the PostgreSQL bench), and the read phase's app
//! and requests.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Result, anyhow, bail};
use hyper::Method;

use crate::load::{MakeRequest, expect_ok, request};
use crate::settings::{ADMIN_TOKEN, DEMO_APP, FIRST_STEAM_ID};

const READ_APP: u32 = 4242;

const READ_STATS: usize = 20;

const READ_ACHIEVEMENTS: usize = 50;

const READ_UNLOCKED: usize = 25;

/// A token per user: `POST /api/v1/sessions`, for free in dev mode's demo
/// app, paid for with a new server key in any other app.
pub(crate) async fn sessions(addr: SocketAddr, app: u32, users: &[u64]) -> Result<Vec<String>> {
    let key = if app == DEMO_APP {
        None
    } else {
        let v = expect_ok(
            addr,
            request(
                addr,
                Method::POST,
                &format!("/api/v1/admin/apps/{app}/keys"),
                Some(ADMIN_TOKEN),
                &[],
                Some(serde_json::json!({"label": "bench"}).to_string()),
            ),
            &format!("POST a server key of app {app}"),
        )
        .await?;
        Some(
            v["key"]
                .as_str()
                .ok_or_else(|| anyhow!("key response without a \"key\" string: {v}"))?
                .to_owned(),
        )
    };
    let mut tokens = Vec::with_capacity(users.len());
    for user in users {
        let body = serde_json::json!({ "app_id": app, "steam_id": user.to_string() }).to_string();
        let v = expect_ok(
            addr,
            request(
                addr,
                Method::POST,
                "/api/v1/sessions",
                key.as_deref(),
                &[],
                Some(body),
            ),
            &format!("POST /api/v1/sessions (app {app}, user {user})"),
        )
        .await?;
        let token = v["token"]
            .as_str()
            .ok_or_else(|| anyhow!("session response without a \"token\" string: {v}"))?;
        tokens.push(token.to_owned());
    }
    Ok(tokens)
}

pub(crate) fn run_nonce() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}-{}", std::process::id(), t.as_millis())
}

pub(crate) fn progress_path(app: u32, user: u64) -> String {
    format!("/api/v1/apps/{app}/users/{user}/progress")
}

/// The store requests of the store phase, for `clients` clients spread over
/// the servers `addrs` (client `i` on `addrs[i % addrs.len()]`, as
/// [`load::run_phase_on`] connects them): a token per user from the first
/// server, then one probe store with a spare user (on the first server), so
/// a wrong API fails clearly and at once. Request `seq` of client `i` stores
/// for user `FIRST_STEAM_ID + i`: 5 stats (`NumGames`, `NumWins` = seq + 1,
/// `FeetTraveled`, `MaxFeetTraveled` = seq + 1.5, `AverageSpeed` 10 in 5 s)
/// and the unlock of `ACH_WIN_ONE_GAME`, with a unique idempotency key.
pub(crate) async fn store_requests(addrs: &[SocketAddr], clients: usize) -> Result<MakeRequest> {
    let first = *addrs
        .first()
        .ok_or_else(|| anyhow!("no server to send stores to"))?;
    // One more user than clients: the probe store below uses it.
    let users: Vec<u64> = (0..=clients as u64).map(|i| FIRST_STEAM_ID + i).collect();
    let tokens = sessions(first, DEMO_APP, &users).await?;
    let nonce = run_nonce();
    let targets: Arc<Vec<(SocketAddr, String, String)>> = Arc::new(
        users
            .iter()
            .zip(tokens)
            .enumerate()
            .map(|(i, (u, t))| {
                let addr = if i < clients {
                    addrs[i % addrs.len()]
                } else {
                    first
                };
                (addr, progress_path(DEMO_APP, *u), t)
            })
            .collect(),
    );
    let make: MakeRequest = Arc::new(move |client, seq| {
        let (addr, path, token) = &targets[client];
        let n = seq + 1;
        let body = format!(
            r#"{{"stats":[{{"name":"NumGames","value":{n}}},{{"name":"NumWins","value":{n}}},{{"name":"FeetTraveled","value":{n}.5}},{{"name":"MaxFeetTraveled","value":{n}.5}},{{"name":"AverageSpeed","count":10,"session_seconds":5}}],"unlock":["ACH_WIN_ONE_GAME"]}}"#
        );
        let key = format!("bench-{nonce}-{client}-{seq}");
        request(
            *addr,
            Method::POST,
            path,
            Some(token),
            &[("idempotency-key", &key)],
            Some(body),
        )
    });
    let probe = make(clients, 0);
    expect_ok(first, probe, "probe store (POST progress)").await?;
    Ok(make)
}

/// Stores of every client to one user (the user after the clients' and
/// the probe's), on the first server: each sets two float stats
/// (`FeetTraveled`, `MaxFeetTraveled`), which no rule orders, so every
/// store is applied whichever order the user's stores run in.
pub(crate) async fn hot_user_requests(addr: SocketAddr, clients: usize) -> Result<MakeRequest> {
    let user = FIRST_STEAM_ID + clients as u64 + 1;
    let token = sessions(addr, DEMO_APP, &[user])
        .await?
        .pop()
        .ok_or_else(|| anyhow!("no session for the hot user"))?;
    let nonce = run_nonce();
    let path = progress_path(DEMO_APP, user);
    let make: MakeRequest = Arc::new(move |client, seq| {
        let value = (client as u64) * 1_000_000 + seq;
        let body = format!(
            r#"{{"stats":[{{"name":"FeetTraveled","value":{value}.5}},{{"name":"MaxFeetTraveled","value":{value}.25}}]}}"#
        );
        let key = format!("bench-hot-{nonce}-{client}-{seq}");
        request(
            addr,
            Method::POST,
            &path,
            Some(&token),
            &[("idempotency-key", &key)],
            Some(body),
        )
    });
    let probe = make(clients, 0);
    expect_ok(addr, probe, "probe store of the hot user (POST progress)").await?;
    Ok(make)
}

/// Laurel's schema JSON for the read phase: 20 int stats, 50 achievements.
pub(crate) fn read_schema() -> String {
    let stats: Vec<_> = (0..READ_STATS)
        .map(|i| serde_json::json!({ "name": format!("S{i}"), "type": "int", "display_name": format!("Stat {i}"), "min": 0 }))
        .collect();
    let achievements: Vec<_> = (0..READ_ACHIEVEMENTS)
        .map(|i| {
            serde_json::json!({
                "name": format!("A{i}"),
                "display_name": { "english": format!("Achievement {i}") },
                "description": { "english": format!("Do the thing number {i}.") },
            })
        })
        .collect();
    serde_json::json!({
        "app": { "name": "Bench", "public_progress": true },
        "stats": stats,
        "achievements": achievements,
    })
    .to_string()
}

/// Sets up the read phase (app 4242, each user's 20 stats and 25 of 50
/// unlocks), checks one read, and returns the read requests.
pub(crate) async fn read_requests(addr: SocketAddr, clients: usize) -> Result<MakeRequest> {
    expect_ok(
        addr,
        request(
            addr,
            Method::PUT,
            &format!("/api/v1/admin/apps/{READ_APP}/schema"),
            Some(ADMIN_TOKEN),
            &[],
            Some(read_schema()),
        ),
        "PUT admin schema",
    )
    .await?;
    let users: Vec<u64> = (0..clients as u64).map(|i| FIRST_STEAM_ID + i).collect();
    let tokens = sessions(addr, READ_APP, &users).await?;
    let nonce = run_nonce();
    for (i, (user, token)) in users.iter().zip(&tokens).enumerate() {
        let stats: Vec<_> = (0..READ_STATS)
            .map(|k| serde_json::json!({ "name": format!("S{k}"), "value": (i * 100 + k) as i64 }))
            .collect();
        let unlock: Vec<String> = (0..READ_UNLOCKED).map(|k| format!("A{k}")).collect();
        let body = serde_json::json!({ "stats": stats, "unlock": unlock }).to_string();
        let key = format!("bench-setup-{nonce}-{i}");
        expect_ok(
            addr,
            request(
                addr,
                Method::POST,
                &progress_path(READ_APP, *user),
                Some(token),
                &[("idempotency-key", &key)],
                Some(body),
            ),
            "set-up store (app 4242)",
        )
        .await?;
    }
    // Check what a read returns before measuring it.
    let v = expect_ok(
        addr,
        request(
            addr,
            Method::GET,
            &progress_path(READ_APP, users[0]),
            Some(&tokens[0]),
            &[],
            None,
        ),
        "probe read (GET progress)",
    )
    .await?;
    let n_stats = v["stats"].as_array().map_or(0, Vec::len);
    let achievements = v["achievements"].as_array();
    let n_ach = achievements.map_or(0, Vec::len);
    let n_unlocked = achievements.map_or(0, |a| a.iter().filter(|x| x["unlocked"] == true).count());
    if (n_stats, n_ach, n_unlocked) != (READ_STATS, READ_ACHIEVEMENTS, READ_UNLOCKED) {
        bail!(
            "a read returned {n_stats} stats, {n_ach} achievements, {n_unlocked} unlocked; expected {READ_STATS}, {READ_ACHIEVEMENTS}, {READ_UNLOCKED}"
        );
    }
    let targets: Arc<Vec<(String, String)>> = Arc::new(
        users
            .iter()
            .zip(tokens)
            .map(|(u, t)| (progress_path(READ_APP, *u), t))
            .collect(),
    );
    Ok(Arc::new(move |client, _| {
        let (path, token) = &targets[client];
        request(addr, Method::GET, path, Some(token), &[], None)
    }))
}
