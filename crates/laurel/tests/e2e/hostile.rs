//! Hostile clients (issue 12): each attack a player with a valid token could
//! make, replayed against the real binary while other users keep working.
//! Every test decides on what was answered and what is stored, never on how
//! fast the machine is.

use std::thread;
use std::time::{Duration, Instant};

use laurel_testkit::{ADMIN_TOKEN, Http, stat};
use serde_json::{Value, json};

use crate::{start, steam_id};

/// A dev-mode server of its own on a fresh data dir, started with `args`.
fn serve_with(args: &[&str]) -> (tempfile::TempDir, laurel_testkit::ServerProcess) {
    let dir = tempfile::tempdir().expect("temp dir");
    let server =
        laurel_testkit::ServerProcess::start_with(crate::bin(), dir.path(), "127.0.0.1:0", args)
            .expect("server starts");
    (dir, server)
}

/// An HTTP client that shows every status and the headers (the testkit's
/// `Http` returns only the JSON body).
fn plain_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// The demo schema with its average rate aggregated, so that a rate also
/// moves a global total (what turned one user's `inf` into other users' 500s).
fn demo_with_aggregated_rate(http: &Http) {
    let schema = laurel_core::schema_doc::demo_schema().to_doc();
    let mut doc = serde_json::to_value(&schema).expect("schema as JSON");
    for stat in doc["stats"].as_array_mut().expect("stats") {
        if stat["name"] == "AverageSpeed" {
            stat["aggregated"] = json!(true);
        }
    }
    http.put_schema(480, &doc, ADMIN_TOKEN).expect("put schema");
}

/// Finding 1: a count of 1e30 over 1e-10 s made a rate of 1e40 (`inf` as
/// f32) and a NaN total, and 59-72 % of other users' stores answered 500
/// while that user kept sending. Now the attack is refused as not finite, and
/// every other user's store is applied.
#[test]
fn a_non_finite_rate_is_refused_and_never_fails_other_users_stores() {
    const USERS: u64 = 8;
    const STORES_EACH: usize = 40;
    const ATTACKS: usize = 200;
    let env = start();
    demo_with_aggregated_rate(&env.http);
    let attacker = steam_id(999);
    let attacker_token = env.http.dev_token(480, &attacker).expect("token");

    let (attacks, others) = thread::scope(|s| {
        let url = &env.server.url;
        let attack = s.spawn(|| {
            let http = Http::new(url);
            (0..ATTACKS)
                .map(|i| {
                    http.store(
                        480,
                        &attacker,
                        &attacker_token,
                        &format!("attack-{i}"),
                        &json!({"stats": [{"name": "AverageSpeed", "count": 1e30, "session_seconds": 1e-10}]}),
                    )
                    .expect("attack answered")
                })
                .collect::<Vec<(u16, Value)>>()
        });
        let users: Vec<_> = (1..=USERS)
            .map(|u| {
                s.spawn(move || {
                    let http = Http::new(url);
                    let user = steam_id(u);
                    let token = http.dev_token(480, &user).expect("token");
                    (1..=STORES_EACH)
                        .map(|n| {
                            http.store(
                                480,
                                &user,
                                &token,
                                &format!("store-{n}"),
                                &json!({"stats": [
                                    {"name": "NumGames", "value": n},
                                    {"name": "AverageSpeed", "count": 10, "session_seconds": 5}
                                ]}),
                            )
                            .expect("store answered")
                        })
                        .collect::<Vec<(u16, Value)>>()
                })
            })
            .collect();
        let attacks = attack.join().expect("attacker");
        let others: Vec<Vec<(u16, Value)>> =
            users.into_iter().map(|h| h.join().expect("user")).collect();
        (attacks, others)
    });

    for (status, body) in &attacks {
        assert_eq!((*status, body["result"].as_i64()), (400, Some(8)), "{body}");
        assert_eq!(body["details"][0]["rule"], json!("not_finite"), "{body}");
    }
    for answers in &others {
        for (status, body) in answers {
            assert_eq!(*status, 200, "another user's store failed: {body}");
        }
    }
    // The attacker stored nothing; the total is the 8 users' rates, exactly.
    let (_, progress) = env
        .http
        .progress(480, &attacker, &attacker_token)
        .expect("read");
    assert_eq!(progress["version"], json!(0), "{progress}");
    let (status, global) = env
        .http
        .get(
            "/api/v1/apps/480/global/stats?name=AverageSpeed",
            Some(&attacker_token),
        )
        .expect("global stats");
    assert_eq!(status, 200, "{global}");
    let total = global["stats"][0]["total"].as_f64();
    assert_eq!(total, Some(2.0 * USERS as f64), "{global}");
    let user = steam_id(1);
    let token = env.http.dev_token(480, &user).expect("token");
    let (_, progress) = env.http.progress(480, &user, &token).expect("read");
    assert_eq!(stat(&progress, "NumGames"), Some(STORES_EACH as f64));
}

/// A game's own schema (app 481) with a server-set stat, an increment-only
/// stat and one achievement, and the two reset settings as given.
fn put_reset_schema(http: &Http, allow_user_reset: bool, allow_achievement_clear: bool) {
    let schema = json!({
        "app": {"name": "Resets", "allow_user_reset": allow_user_reset,
                "allow_achievement_clear": allow_achievement_clear},
        "stats": [
            {"name": "Kills", "type": "int", "increment_only": true},
            {"name": "Rank", "type": "int", "set_by": "server"}
        ],
        "achievements": [
            {"name": "A", "display_name": {"english": "A"}, "description": {"english": "A"}}
        ]
    });
    http.put_schema(481, &schema, ADMIN_TOKEN)
        .expect("put schema");
}

/// Kills 5 (by the user), Rank 3 (by the server), A unlocked.
fn played(http: &Http, user: &str, token: &str, key: &str, n: usize) {
    let (status, body) = http
        .store(
            481,
            user,
            token,
            &format!("play-{n}"),
            &json!({
                "stats": [{"name": "Kills", "value": 5}], "unlock": ["A"]
            }),
        )
        .expect("store");
    assert_eq!(status, 200, "{body}");
    let (status, body) = http
        .store(
            481,
            user,
            key,
            &format!("rank-{n}"),
            &json!({
                "stats": [{"name": "Rank", "value": 3}]
            }),
        )
        .expect("store");
    assert_eq!(status, 200, "{body}");
}

fn reset(http: &Http, user: &str, credential: &str, body: &Value) -> (u16, Value) {
    http.send(
        "POST",
        &format!("/api/v1/apps/481/users/{user}/reset"),
        Some(credential),
        &[],
        &body.to_string(),
    )
    .expect("reset answered")
}

fn admin_reset(http: &Http, user: &str, body: &Value) -> (u16, Value) {
    http.send(
        "POST",
        &format!("/api/v1/admin/apps/481/users/{user}/reset"),
        Some(ADMIN_TOKEN),
        &[],
        &body.to_string(),
    )
    .expect("reset answered")
}

fn unlocked(progress: &Value, name: &str) -> bool {
    laurel_testkit::achievement(progress, name).is_some_and(|a| a["unlocked"] == json!(true))
}

/// Finding 5: a user's token reset achievements on an app that forbids
/// clearing them, and reset server-set and increment-only stats. Now a user
/// may reset only where the app allows it, never the server's stats, and
/// achievements only with `allow_achievement_clear`; server keys and the
/// admin reset everything.
#[test]
fn a_users_reset_follows_the_apps_rules() {
    let env = start();
    let http = &env.http;
    put_reset_schema(http, false, false);
    let key = http.server_key(481, ADMIN_TOKEN).expect("key");
    let user = steam_id(7);
    let token = http.session(481, &user, &key).expect("token");
    played(http, &user, &token, &key, 1);
    let (_, before) = http.progress(481, &user, &token).expect("read");

    // Off by default: refused whole, nothing changes.
    for body in [json!({}), json!({"achievements": true})] {
        let (status, answer) = reset(http, &user, &token, &body);
        assert_eq!(
            (status, answer["result"].as_i64()),
            (403, Some(15)),
            "{answer}"
        );
        assert_eq!(http.progress(481, &user, &token).expect("read").1, before);
    }

    // Allowed, but achievements may not be cleared: stats only, and the
    // server's stat stays.
    put_reset_schema(http, true, false);
    let (status, answer) = reset(http, &user, &token, &json!({"achievements": true}));
    assert_eq!(
        (status, answer["result"].as_i64()),
        (403, Some(15)),
        "{answer}"
    );
    let (status, after) = reset(http, &user, &token, &json!({}));
    assert_eq!(status, 200, "{after}");
    assert_eq!(stat(&after, "Kills"), Some(0.0), "{after}");
    assert_eq!(stat(&after, "Rank"), Some(3.0), "{after}");
    assert!(unlocked(&after, "A"), "{after}");

    // Both allowed: achievements too, the server's stat still stays.
    put_reset_schema(http, true, true);
    played(http, &user, &token, &key, 2);
    let (status, after) = reset(http, &user, &token, &json!({"achievements": true}));
    assert_eq!(status, 200, "{after}");
    assert_eq!(stat(&after, "Kills"), Some(0.0), "{after}");
    assert_eq!(stat(&after, "Rank"), Some(3.0), "{after}");
    assert!(!unlocked(&after, "A"), "{after}");

    // A user's token cannot reset another user.
    let other = steam_id(8);
    let (status, answer) = reset(http, &other, &token, &json!({}));
    assert_eq!(
        (status, answer["result"].as_i64()),
        (403, Some(15)),
        "{answer}"
    );

    // With everything forbidden to users, the server key and the admin still
    // reset everything, the server's stat included.
    put_reset_schema(http, false, false);
    played(http, &user, &token, &key, 3);
    let (status, after) = reset(http, &user, &key, &json!({"achievements": true}));
    assert_eq!(status, 200, "{after}");
    assert_eq!(stat(&after, "Rank"), Some(0.0), "{after}");
    assert!(!unlocked(&after, "A"), "{after}");
    played(http, &user, &token, &key, 4);
    let (status, after) = admin_reset(http, &user, &json!({"achievements": true}));
    assert_eq!(status, 200, "{after}");
    assert_eq!(stat(&after, "Kills"), Some(0.0), "{after}");
    assert_eq!(stat(&after, "Rank"), Some(0.0), "{after}");
    assert!(!unlocked(&after, "A"), "{after}");
}

/// Finding 6: `--dev` minted tokens and allowed anonymous reads for every app
/// in the database. Now only the demo app has them; every other app needs
/// its server key.
#[test]
fn dev_mode_serves_only_the_demo_app() {
    let env = start();
    let http = &env.http;
    put_reset_schema(http, false, false);
    let user = steam_id(9);
    let (status, body) = http
        .post(
            "/api/v1/sessions",
            None,
            &json!({"app_id": 481, "steam_id": user}),
        )
        .expect("session");
    assert_eq!((status, body["result"].as_i64()), (401, Some(21)), "{body}");
    for path in [
        "/api/v1/apps/481/schema",
        "/api/v1/apps/481/global/achievements",
        "/api/v1/apps/481/global/stats",
    ] {
        let (status, body) = http.get(path, None).expect("read");
        assert_eq!(
            (status, body["result"].as_i64()),
            (401, Some(21)),
            "{path}: {body}"
        );
    }
    // The demo app keeps dev mode's shortcuts.
    assert!(http.dev_token(480, &user).is_ok());
    let (status, body) = http.get("/api/v1/apps/480/schema", None).expect("read");
    assert_eq!(status, 200, "{body}");
}

/// Finding 6: `--dev` started silently on any address, and the admin token
/// `a` was accepted. Both are refused at start (exit 2) with the reason.
#[test]
fn unsafe_serve_settings_are_refused_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = |listen: &str, extra: &[&str], admin: &str| {
        std::process::Command::new(crate::bin())
            .args(["serve", "--listen", listen, "--data-dir"])
            .arg(dir.path().join("data"))
            .args(extra)
            .env("LAUREL_ADMIN_TOKEN", admin)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run")
    };
    let out = run("0.0.0.0:0", &["--dev"], ADMIN_TOKEN);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--dev-allow-remote"), "{stderr}");
    let out = run("127.0.0.1:0", &[], "a");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("at least 32"), "{stderr}");
    // Nothing was created by a refused start.
    assert!(!dir.path().join("data").exists());
}

/// A GET written by hand on a fresh connection from `source` (a loopback
/// address), with an optional bearer, answered or not within `within`: the
/// status line's code.
fn get_from(
    source: &str,
    server: &str,
    path: &str,
    bearer: Option<&str>,
    within: Duration,
) -> Option<u16> {
    use std::io::{Read, Write};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().ok()?;
        socket.bind(format!("{source}:0").parse().ok()?).ok()?;
        let addr = server.parse().ok()?;
        tokio::time::timeout(within, socket.connect(addr))
            .await
            .ok()?
            .ok()
    })?;
    let mut stream = stream.into_std().ok()?;
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(within)).ok()?;
    let auth = bearer.map_or_else(String::new, |b| format!("Authorization: Bearer {b}\r\n"));
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: laurel\r\n{auth}Connection: close\r\n\r\n")
                .as_bytes(),
        )
        .ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

fn healthz_from(source: &str, server: &str, within: Duration) -> Option<u16> {
    get_from(source, server, "/healthz", None, within)
}

/// Raises this test process's own open-file limit to its hard limit, so
/// that it can hold the connections it opens.
fn raise_own_open_file_limit() -> u64 {
    let (_, hard) = rlimit::Resource::NOFILE.get().expect("getrlimit");
    rlimit::Resource::NOFILE.set(hard, hard).expect("setrlimit");
    hard
}

/// Finding 3: with no timer, no cap and no idle timeout, about 1,100
/// half-sent requests took the server offline. Now, with 1,000 such
/// connections from one address and the server's open-file limit at 256,
/// another address is still served, the slow connections are closed by the
/// header timeout, and the attacker's own address is served again once they go.
#[test]
fn a_thousand_half_sent_requests_do_not_take_the_server_offline() {
    use std::io::{Read, Write};
    const SLOW: usize = 1_000;
    assert!(raise_own_open_file_limit() > SLOW as u64 + 64);
    let dir = tempfile::tempdir().expect("temp dir");
    let server = laurel_testkit::ServerProcess::start_limited(
        crate::bin(),
        dir.path(),
        "127.0.0.1:0",
        &[
            "--dev",
            "--header-timeout",
            "2",
            "--max-connections-per-address",
            "64",
        ],
        Some(256),
    )
    .expect("server starts");

    // 1,000 connections from 127.0.0.1, each with half a request head.
    let mut slow = Vec::with_capacity(SLOW);
    for _ in 0..SLOW {
        match std::net::TcpStream::connect(&server.addr) {
            Ok(mut s) => {
                let _ = s.write_all(b"POST /api/v1/sessions HTTP/1.1\r\nHost: laurel\r\n");
                slow.push(s);
            }
            // The kernel's accept queue is full: that is the attack working
            // as hard as it can, not a failure of the test.
            Err(_) => continue,
        }
    }
    assert!(
        slow.len() >= SLOW / 2,
        "only {} connections opened",
        slow.len()
    );

    // Another client address is served while they are open.
    let within = Duration::from_secs(5);
    assert_eq!(
        healthz_from("127.0.0.2", &server.addr, within),
        Some(200),
        "another address was not served while {} slow connections were open",
        slow.len()
    );

    // The server closes the slow connections it took (header timeout): each
    // of the first ones reads the end of the stream (or a reset), and no
    // request head ever gets an answer.
    for s in slow.iter_mut().take(8) {
        s.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Ok(0) | Err(_) => {}
            Ok(n) => panic!(
                "a half-sent request got an answer: {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
        }
    }
    drop(slow);

    // The attacker's address is served again once its connections are gone.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if healthz_from("127.0.0.1", &server.addr, within) == Some(200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "127.0.0.1 was never served again"
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// Finding 2: the snapshot cache was bounded by entries (100,000, about
/// 257 KB each for a 3,000-achievement schema) and kept never-written users:
/// one token of a `public_progress` app read 27,074 unknown ids and took the
/// server from 52 MB to 7.0 GB. Now the cache is bounded in bytes
/// (`--cache-bytes`, 16 MiB here), a never-written user costs it nothing,
/// and the server stays under that budget plus a fixed allowance of 96 MiB
/// over what it held before the reads (the allocator's free lists and the
/// answers in flight), while 2,500 never-written users (about 640 MB of
/// answers, all of which the old cache kept) and 400 written ones are read.
#[test]
fn reading_many_users_of_a_large_schema_stays_within_the_cache_budget() {
    const CACHE_BYTES: u64 = 16 * 1024 * 1024;
    const ALLOWANCE: u64 = 96 * 1024 * 1024;
    const NEVER_WRITTEN: u64 = 2_500;
    const WRITTEN: u64 = 400;
    let (_dir, server) = serve_with(
        // One reader token reads thousands of users here: far past what a
        // player's rate limit allows, which is not what this test is about.
        &[
            "--dev",
            "--cache-bytes",
            &CACHE_BYTES.to_string(),
            "--user-rate",
            "1000000",
            "--user-burst",
            "1000000",
        ],
    );
    let http = Http::new(&server.url);
    let achievements: Vec<Value> = (0..3_000)
        .map(|i| {
            json!({"name": format!("ACH_{i:04}"),
                   "display_name": {"english": format!("Achievement number {i}")},
                   "description": {"english": format!("Do the thing number {i} of this game.")}})
        })
        .collect();
    let schema = json!({"app": {"name": "Big", "public_progress": true},
                        "stats": [], "achievements": achievements});
    http.put_schema(481, &schema, ADMIN_TOKEN)
        .expect("put schema");
    let key = http.server_key(481, ADMIN_TOKEN).expect("key");
    let reader = steam_id(1);
    let token = http.session(481, &reader, &key).expect("token");
    // Warm up: the schema is loaded, the worker threads and buffers exist.
    for n in 0..20 {
        let (status, body) = http
            .progress(481, &steam_id(100 + n), &token)
            .expect("read");
        assert_eq!(status, 200, "{body}");
    }
    let before = server.rss_bytes().expect("rss");

    let threads = 4;
    thread::scope(|s| {
        for t in 0..threads {
            let (url, token, key) = (&server.url, &token, &key);
            s.spawn(move || {
                let http = Http::new(url);
                for n in (t..NEVER_WRITTEN).step_by(threads as usize) {
                    let (status, body) = http
                        .progress(481, &steam_id(10_000 + n), token)
                        .expect("read");
                    assert_eq!(status, 200, "{body}");
                    assert_eq!(body["version"], json!(0));
                }
                for n in (t..WRITTEN).step_by(threads as usize) {
                    let user = steam_id(100_000 + n);
                    let (status, body) = http
                        .store(481, &user, key, "w", &json!({"unlock": ["ACH_0001"]}))
                        .expect("store");
                    assert_eq!(status, 200, "{body}");
                    let (status, body) = http.progress(481, &user, token).expect("read");
                    assert_eq!(status, 200, "{body}");
                }
            });
        }
    });
    let after = server.rss_bytes().expect("rss");
    assert!(
        after <= before + CACHE_BYTES + ALLOWANCE,
        "resident memory went from {} MiB to {} MiB; the budget is {} MiB + {} MiB",
        before >> 20,
        after >> 20,
        CACHE_BYTES >> 20,
        ALLOWANCE >> 20
    );
    eprintln!(
        "resident memory {} MiB before, {} MiB after {NEVER_WRITTEN} never-written and \
         {WRITTEN} written users were read",
        before >> 20,
        after >> 20
    );
}

/// Finding 10: answers say they are not to be sniffed or cached and carry a
/// request id; JSON bodies must be declared as JSON (415 otherwise, nothing
/// stored); an error lists at most 100 details however many a request
/// earned (a 17 KB store drew 256 KB of them).
#[test]
fn answers_are_marked_bodies_declared_and_errors_bounded() {
    let env = start();
    let user = steam_id(11);
    let token = env.http.dev_token(480, &user).expect("token");
    let agent = plain_agent();
    let path = format!("{}/api/v1/apps/480/users/{user}/progress", env.server.url);
    for response in [
        agent.get(format!("{}/healthz", env.server.url)).call(),
        agent.get(format!("{}/nope", env.server.url)).call(),
        agent
            .get(&path)
            .header("Authorization", format!("Bearer {token}"))
            .call(),
    ] {
        let response = response.expect("answered");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
        assert_eq!(header("cache-control").as_deref(), Some("no-store"));
        let id = header("x-request-id").expect("a request id");
        assert!(
            id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
    }

    // A store sent as a form or as text is refused with 415 and stores nothing.
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let (status, body) = env
            .http
            .send(
                "POST",
                &format!("/api/v1/apps/480/users/{user}/progress"),
                Some(&token),
                &[
                    ("Idempotency-Key", content_type),
                    ("Content-Type", content_type),
                ],
                r#"{"unlock":["ACH_WIN_ONE_GAME"]}"#,
            )
            .expect("answered");
        assert_eq!((status, body["result"].as_i64()), (415, Some(8)), "{body}");
    }
    let (_, progress) = env.http.progress(480, &user, &token).expect("read");
    assert_eq!(progress["version"], json!(0), "{progress}");

    // 500 unknown stats: refused whole, the first 100 listed, the count said.
    let stats: Vec<Value> = (0..500)
        .map(|i| json!({"name": format!("Nope{i}"), "value": 1}))
        .collect();
    let (status, body) = env
        .http
        .store(480, &user, &token, "many", &json!({"stats": stats}))
        .expect("answered");
    assert_eq!((status, body["result"].as_i64()), (400, Some(8)));
    assert_eq!(
        body["details"].as_array().map(Vec::len),
        Some(100),
        "{body}"
    );
    let error = body["error"].as_str().expect("error text");
    assert!(
        error.contains("500 entries") && error.contains("first 100"),
        "{error}"
    );
}

/// Finding 4: one user token applied ~14,400 stores/s, and the admin token
/// could be guessed ~13,700 times a second. Now a token past its budget is
/// answered 429 with EResult 84 and `Retry-After`, and nothing of what was
/// refused is stored, while other users are served; an address that fails
/// to authenticate past its budget is refused even with the right admin
/// token, and other addresses are not.
#[test]
fn rate_limits_answer_429_and_failed_authentication_backs_off() {
    const SENT: usize = 100;
    let (_dir, server) = serve_with(&[
        "--dev",
        "--user-rate",
        "5",
        "--user-burst",
        "20",
        "--auth-failures-per-minute",
        "1",
        "--auth-failure-burst",
        "5",
    ]);
    let http = Http::new(&server.url);
    let (a, b) = (steam_id(21), steam_id(22));
    let (ta, tb) = (
        http.dev_token(480, &a).expect("token"),
        http.dev_token(480, &b).expect("token"),
    );
    let answers: Vec<(u16, Value)> = (0..SENT)
        .map(|n| {
            http.store(
                480,
                &a,
                &ta,
                &format!("flood-{n}"),
                &json!({"stats": [{"name": "NumGames", "value": n}]}),
            )
            .expect("answered")
        })
        .collect();
    let applied = answers.iter().filter(|(s, _)| *s == 200).count();
    let limited = answers
        .iter()
        .filter(|(s, body)| *s == 429 && body["result"] == json!(84))
        .count();
    assert_eq!(applied + limited, SENT, "{answers:?}");
    assert!(applied >= 20, "the burst is served: {applied}");
    assert!(limited > 0, "{SENT} stores at once were all served");
    // Only what was answered 200 was applied.
    let (_, progress) = http.progress(480, &b, &tb).expect("read");
    assert_eq!(progress["version"], json!(0));
    let (status, progress) = http.progress(480, &a, &tb).expect("read a as b");
    assert_eq!(status, 200, "{progress}");
    assert_eq!(progress["version"], json!(applied), "{progress}");
    // Another user is not limited by A's flood.
    for n in 0..5 {
        let (status, body) = http
            .store(
                480,
                &b,
                &tb,
                &format!("b-{n}"),
                &json!({"unlock": ["ACH_WIN_ONE_GAME"]}),
            )
            .expect("answered");
        assert_eq!(status, 200, "{body}");
    }
    // The refusal says when to come back.
    let agent = plain_agent();
    let mut retry_after = None;
    for _ in 0..SENT {
        let response = agent
            .get(format!("{}/api/v1/apps/480/users/{a}/progress", server.url))
            .header("Authorization", format!("Bearer {ta}"))
            .call()
            .expect("answered");
        if response.status() == 429 {
            retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            break;
        }
    }
    assert!(retry_after.is_some_and(|s| s >= 1), "{retry_after:?}");

    // Admin-token guesses: the burst of 5 failures and the one that finds
    // the budget spent are answered 401, then the address is refused, even
    // with the right token; another address is not.
    let within = Duration::from_secs(5);
    let guesses: Vec<Option<u16>> = (0..8)
        .map(|n| {
            get_from(
                "127.0.0.3",
                &server.addr,
                "/api/v1/admin/apps",
                Some(&format!("wrong-admin-token-{n:032}")),
                within,
            )
        })
        .collect();
    assert_eq!(&guesses[..6], &[Some(401); 6], "{guesses:?}");
    assert_eq!(&guesses[6..], &[Some(429); 2], "{guesses:?}");
    assert_eq!(
        get_from(
            "127.0.0.3",
            &server.addr,
            "/api/v1/admin/apps",
            Some(ADMIN_TOKEN),
            within
        ),
        Some(429)
    );
    assert_eq!(
        get_from(
            "127.0.0.4",
            &server.addr,
            "/api/v1/admin/apps",
            Some(ADMIN_TOKEN),
            within
        ),
        Some(200)
    );
    // Server-key guesses through Steam's routes (`key=`, answered 403 as on
    // Steam) spend the same budget.
    let guesses: Vec<Option<u16>> = (0..8)
        .map(|n| {
            get_from(
                "127.0.0.5",
                &server.addr,
                &format!("/ISteamUserStats/GetSchemaForGame/v2/?appid=480&key=lk_{n:064}"),
                None,
                within,
            )
        })
        .collect();
    assert_eq!(&guesses[..6], &[Some(403); 6], "{guesses:?}");
    assert_eq!(&guesses[6..], &[Some(429); 2], "{guesses:?}");
}

/// Finding 10: Steam's global methods answered anyone about any app. Now an
/// app's schema says whether they do (`public_globals`, as Steam's do for
/// every game; on for the demo app); off, they need a key of the app.
#[test]
fn steams_global_methods_answer_without_a_key_only_where_the_app_says() {
    let env = start();
    let http = &env.http;
    put_reset_schema(http, false, false);
    let key = http.server_key(481, ADMIN_TOKEN).expect("key");
    let agent = plain_agent();
    let status = |path: String| {
        agent
            .get(format!("{}{path}", env.server.url))
            .call()
            .expect("answered")
            .status()
            .as_u16()
    };
    for (app, public) in [(481, false), (480, true)] {
        for method in [
            format!("/ISteamUserStats/GetGlobalAchievementPercentagesForApp/v2/?gameid={app}"),
            format!("/ISteamUserStats/GetNumberOfCurrentPlayers/v1/?appid={app}"),
        ] {
            let anonymous = status(method.clone());
            let with_key = status(format!("{method}&key={key}"));
            if public {
                assert_eq!(anonymous, 200, "{method}");
            } else {
                assert_eq!(anonymous, 400, "{method}: Steam's 'key is missing'");
                assert_eq!(with_key, 200, "{method}");
            }
        }
    }
}

/// `/metrics`: Prometheus' text format, behind the admin token; what it
/// counts matches what was done: requests by route and status, stores
/// committed, 429s by kind, the cache's bytes and the open connections.
#[test]
fn metrics_count_what_happened_in_prometheus_text() {
    const STORES: u64 = 7;
    let (_dir, server) = serve_with(&["--dev", "--user-burst", "12", "--user-rate", "1"]);
    let http = Http::new(&server.url);
    let user = steam_id(31);
    let token = http.dev_token(480, &user).expect("token");
    for n in 0..STORES {
        let (status, body) = http
            .store(
                480,
                &user,
                &token,
                &format!("m-{n}"),
                &json!({"stats": [{"name": "NumGames", "value": n + 1}]}),
            )
            .expect("answered");
        assert_eq!(status, 200, "{body}");
    }
    // Past the burst of 12 (7 stores + these reads): some are refused.
    let limited = (0..20)
        .filter(|_| http.progress(480, &user, &token).expect("answered").0 == 429)
        .count() as f64;
    assert!(limited > 0.0);

    let (status, _) = http.get("/metrics", None).expect("answered");
    assert_eq!(status, 401, "metrics need the admin token");
    let agent = plain_agent();
    let mut response = agent
        .get(format!("{}/metrics", server.url))
        .header("Authorization", format!("Bearer {ADMIN_TOKEN}"))
        .call()
        .expect("scraped");
    assert_eq!(response.status(), 200);
    let text = response.body_mut().read_to_string().expect("text");
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .unwrap_or_else(|e| panic!("not Prometheus text ({e}): {text}"));
    let value = |name: &str, labels: &[(&str, &str)]| -> Option<f64> {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match &s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => *v,
                prometheus_parse::Value::Histogram(h) => h.last().map_or(0.0, |b| b.count),
                prometheus_parse::Value::Summary(_) => f64::NAN,
            })
    };
    let stores = value(
        "laurel_http_requests_total",
        &[
            ("route", "/api/v1/apps/:app_id/users/:steam_id/progress"),
            ("method", "POST"),
            ("status", "200"),
        ],
    );
    assert_eq!(stores, Some(STORES as f64), "{text}");
    assert_eq!(
        value("laurel_rate_limited_total", &[("kind", "user")]),
        Some(limited),
        "{text}"
    );
    assert_eq!(
        value("laurel_store_group_size_sum", &[]),
        Some(STORES as f64),
        "every applied store was in one committed group: {text}"
    );
    assert!(
        value("laurel_progress_cache_bytes", &[]).is_some_and(|b| b > 0.0),
        "{text}"
    );
    assert!(
        value("laurel_open_connections", &[]).is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        text.contains("laurel_http_request_duration_seconds_bucket"),
        "{text}"
    );
}

/// Finding 4: an app's schema may set its own user quota
/// (`user_requests_per_second`, `user_request_burst`), which wins over the
/// server's; other apps keep the server's.
#[test]
fn an_apps_own_user_quota_wins_over_the_servers() {
    let env = start();
    let http = &env.http;
    let schema = json!({
        "app": {"name": "Strict", "user_requests_per_second": 1, "user_request_burst": 3},
        "stats": [{"name": "Kills", "type": "int"}],
        "achievements": []
    });
    http.put_schema(481, &schema, ADMIN_TOKEN)
        .expect("put schema");
    let key = http.server_key(481, ADMIN_TOKEN).expect("key");
    let user = steam_id(41);
    let strict = http.session(481, &user, &key).expect("token");
    let relaxed = http.dev_token(480, &user).expect("token");
    let statuses = |app: u32, token: &str| -> Vec<u16> {
        (0..10)
            .map(|_| http.progress(app, &user, token).expect("answered").0)
            .collect()
    };
    let on_481 = statuses(481, &strict);
    assert_eq!(&on_481[..3], &[200; 3], "{on_481:?}");
    assert!(on_481[3..].contains(&429), "{on_481:?}");
    assert_eq!(
        statuses(480, &relaxed),
        [200; 10],
        "the server's default (burst 300)"
    );
}

/// Writes `requests` (raw HTTP/1.1) on one fresh connection and reads
/// until the server closes it or `within` passes: everything answered
/// (lower-cased) and whether the server closed the connection.
fn exchange(server: &str, requests: &[String], within: Duration) -> (String, bool) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(server).expect("connect");
    stream.set_read_timeout(Some(within)).expect("timeout");
    for request in requests {
        stream.write_all(request.as_bytes()).expect("sent");
    }
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    let closed = loop {
        match stream.read(&mut chunk) {
            Ok(0) => break true,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(_) => break false,
        }
    };
    (
        String::from_utf8_lossy(&answer).to_ascii_lowercase(),
        closed,
    )
}

/// A store's head, and its body when `with_body`; `close` asks the server to
/// close the connection after answering it.
fn store_request(token: &str, key: &str, with_body: bool, close: bool) -> String {
    let body = r#"{"stats":[{"name":"NumGames","value":1}]}"#;
    let user = steam_id(31);
    let connection = if close { "Connection: close\r\n" } else { "" };
    format!(
        "POST /api/v1/apps/480/users/{user}/progress HTTP/1.1\r\nHost: laurel\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Idempotency-Key: {key}\r\n{connection}Content-Length: {}\r\n\r\n{}",
        body.len(),
        if with_body { body } else { "" }
    )
}

/// A refusal made before the body was needed (a bad credential here, a
/// spent quota in the flood above) leaves the body unread, and hyper then
/// closes the connection: the answer says `Connection: close`, so that a
/// client does not send its next request on a connection about to close
/// (what a pooled client saw as "peer disconnected" mid-flood).
#[test]
fn an_answer_given_before_the_body_was_read_closes_the_connection() {
    let (_dir, server) = serve_with(&["--dev"]);
    let within = Duration::from_secs(30);
    let withheld = store_request("lt2.not-a-token", "withheld", false, false);
    let (answer, closed) = exchange(&server.addr, &[withheld], within);
    assert!(answer.starts_with("http/1.1 401"), "{answer}");
    let head = answer.split("\r\n\r\n").next().unwrap_or_default();
    assert!(head.contains("\r\nconnection: close"), "{head}");
    assert!(closed, "the server closes the connection: {answer}");

    // Stores read whole keep their connection: three on one, the last asking
    // for the close, are all answered, and only the last says close.
    let http = Http::new(&server.url);
    let token = http.dev_token(480, &steam_id(31)).expect("token");
    let requests: Vec<String> = (0..3)
        .map(|n| store_request(&token, &format!("kept-{n}"), true, n == 2))
        .collect();
    let (answer, closed) = exchange(&server.addr, &requests, within);
    assert!(closed, "{answer}");
    assert_eq!(answer.matches("http/1.1 200").count(), 3, "{answer}");
    assert_eq!(answer.matches("connection: close").count(), 1, "{answer}");
}

/// Finding 3, the header timeout kept by one watchdog per connection: a
/// head sent a byte at a time (each byte well within the timeout) is cut off
/// once the timeout has passed since the connection opened, and a
/// keep-alive connection left idle after an answer is closed too.
#[test]
fn a_trickled_head_and_an_idle_keep_alive_connection_are_closed() {
    use std::io::{Read, Write};
    let (_dir, server) = serve_with(&["--dev", "--header-timeout", "2"]);
    // One byte every 200 ms: 400 bytes would take 80 s.
    let mut slow = std::net::TcpStream::connect(&server.addr).expect("connect");
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: laurel\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(360)
    );
    let started = Instant::now();
    let mut cut_off = false;
    for byte in head.as_bytes() {
        if slow.write_all(&[*byte]).is_err() {
            cut_off = true;
            break;
        }
        thread::sleep(Duration::from_millis(200));
        // A closed connection shows as end of stream on a non-blocking peek.
        slow.set_nonblocking(true).expect("nonblocking");
        let mut buf = [0u8; 1];
        let closed = matches!(slow.peek(&mut buf), Ok(0));
        slow.set_nonblocking(false).expect("blocking");
        if closed {
            cut_off = true;
            break;
        }
    }
    assert!(
        cut_off,
        "a head trickled in for {:?} was never cut off",
        started.elapsed()
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "cut off before the timeout"
    );

    // A whole request is answered, and the idle connection is then closed.
    let mut idle = std::net::TcpStream::connect(&server.addr).expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: laurel\r\n\r\n")
        .expect("sent");
    idle.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut answer = Vec::new();
    let mut chunk = [0u8; 1024];
    let closed = loop {
        match idle.read(&mut chunk) {
            Ok(0) => break true,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(_) => break false,
        }
    };
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(closed, "an idle keep-alive connection stayed open for 30 s");
}
