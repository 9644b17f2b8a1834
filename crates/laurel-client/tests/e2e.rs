//! The SDK against a real `laurel-server` (dev mode, SQLite in a temp dir)
//! over loopback. Every wait is bounded: events are pumped with a deadline.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use laurel_client::journal::Journal;
use laurel_client::{
    AppId, Client, ClientConfig, ClientError, Credentials, EResult, Event, SaveDetail, StatKind,
    SteamId, UserInfo,
};
use laurel_server::{Application, ServerConfig};
use laurel_store_sqlite::{SqliteOptions, SqliteStore};
use laurel_testkit::Http;
use serde_json::{Value, json};
use tempfile::TempDir;

const WAIT: Duration = Duration::from_secs(20);

fn app() -> AppId {
    AppId::new(480).unwrap()
}
fn user_a() -> SteamId {
    SteamId::new(76561197960287930).unwrap()
}
fn user_b() -> SteamId {
    SteamId::new(76561197960287931).unwrap()
}

/// A dev-mode server on `127.0.0.1:0` with its own tokio runtime on a thread.
struct TestServer {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    fn start(db: &Path) -> TestServer {
        TestServer::start_with(db, |_| {})
    }

    /// As [`TestServer::start`], with the configuration changed by `tweak`.
    fn start_with(db: &Path, tweak: impl FnOnce(&mut ServerConfig) + Send + 'static) -> TestServer {
        let db = db.to_owned();
        let (addr_tx, addr_rx) = mpsc::channel::<SocketAddr>();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(async move {
                let store = SqliteStore::open(&db, SqliteOptions::default()).expect("store");
                let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap());
                config.dev = true;
                tweak(&mut config);
                let app = Application::build(config, Arc::new(store))
                    .await
                    .expect("server");
                addr_tx.send(app.local_addr()).unwrap();
                app.run_until_stopped(async {
                    let _ = stopped.await;
                })
                .await
                .expect("server run");
            });
        });
        let addr = addr_rx.recv_timeout(WAIT).expect("the server starts");
        TestServer {
            url: format!("http://{addr}"),
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Stops serving (graceful, bounded) and waits for the thread.
    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let deadline = Instant::now() + WAIT;
            while !thread.is_finished() {
                assert!(Instant::now() < deadline, "the server did not stop");
                std::thread::sleep(Duration::from_millis(10));
            }
            thread.join().expect("server thread");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

struct Env {
    dir: TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: TempDir::new().unwrap(),
        }
    }
    fn db(&self) -> PathBuf {
        self.dir.path().join("laurel.sqlite3")
    }
    fn journal(&self, user: SteamId) -> PathBuf {
        self.dir.path().join(format!("journal-{user}.sqlite3"))
    }
    fn client(&self, url: &str, user: SteamId) -> Client {
        Client::init(
            ClientConfig::new(url, app(), Credentials::DevUser(user))
                .with_journal_path(self.journal(user))
                .with_request_timeout(Duration::from_secs(1)),
        )
        .expect("client init")
    }
    fn journaled(&self, user: SteamId) -> usize {
        Journal::open(&self.journal(user), app(), user)
            .unwrap()
            .entries()
            .unwrap()
            .len()
    }
}

/// Pumps `run_callbacks` until `done` holds for the events seen, or panics at the deadline.
fn pump_until(client: &Client, mut done: impl FnMut(&[Event]) -> bool) -> Vec<Event> {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        client.run_callbacks(|e| seen.push(e));
        if done(&seen) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "timed out; events so far: {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn has_update(events: &[Event]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, Event::UserProgressUpdate { .. }))
}

fn update(user: SteamId, result: EResult) -> Event {
    Event::UserProgressUpdate {
        is_error: result != EResult::Ok,
        result_code: result,
        user_steam_id: user,
    }
}

fn save(user: SteamId, result: EResult) -> Event {
    Event::UserProgressSave {
        is_error: result != EResult::Ok,
        result_code: result,
        user_steam_id: user,
        details: Vec::new(),
    }
}

/// Names `user` through the session route (dev mode takes no key), as a
/// game's backend names its players when it signs them in.
fn name_user(url: &str, user: SteamId, name: &str) {
    let (status, body) = Http::new(url)
        .post(
            "/api/v1/sessions",
            None,
            &json!({"app_id": 480, "steam_id": user.to_string(), "display_name": name}),
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
}

/// A URL where nothing listens.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

fn unlocked(name: &str) -> Event {
    Event::AchievementInfoUpdate {
        achievement_name: name.into(),
        current_progress: None,
        max_progress: None,
    }
}

/// A client whose start-up progress has arrived.
fn ready(env: &Env, url: &str, user: SteamId) -> Client {
    let client = env.client(url, user);
    let events = pump_until(&client, has_update);
    assert_eq!(events, [update(user, EResult::Ok)]);
    client
}

/// Direct HTTP, for what the SDK does not do (or to act as another device).
/// A dev token for `user` in app 480.
fn token(url: &str, user: SteamId) -> String {
    Http::new(url)
        .dev_token(480, &user.to_string())
        .expect("session")
}

/// A store sent straight over HTTP (another device), under `key`.
fn store_directly(url: &str, user: SteamId, key: &str, body: &Value) -> (u16, Value) {
    let user = user.to_string();
    let token = Http::new(url).dev_token(480, &user).expect("session");
    Http::new(url)
        .store(480, &user, &token, key, body)
        .expect("server answers")
}

fn server_progress(url: &str, user: SteamId) -> Value {
    let (status, body) = Http::new(url)
        .progress(480, &user.to_string(), &token(url, user))
        .expect("server answers");
    assert_eq!(status, 200, "{body}");
    body
}

fn stat_of(progress: &Value, name: &str) -> Value {
    progress["stats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()["value"]
        .clone()
}

fn unlocked_on_server(progress: &Value, name: &str) -> bool {
    progress["achievements"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["name"] == name && a["unlocked"] == true)
}

#[test]
fn start_up_brings_the_current_users_progress() {
    let env = Env::new();
    let server = TestServer::start(&env.db());
    let client = ready(&env, &server.url, user_a());
    assert_eq!(client.user_steam_id(), Some(user_a()));
    assert_eq!(client.achievement_names().len(), 4);
    assert_eq!(client.stat_i32("NumGames", None), Some(0));
    assert_eq!(client.stat_kind("AverageSpeed"), Some(StatKind::AvgRate));
    let info = client.achievement("ACH_WIN_ONE_GAME", None).unwrap();
    assert_eq!(
        (info.unlocked, info.display_name.as_str()),
        (false, "Winner")
    );
}

#[test]
fn a_store_gives_achievement_info_then_save_then_update() {
    let env = Env::new();
    let server = TestServer::start(&env.db());
    let client = ready(&env, &server.url, user_a());

    assert!(client.set_achievement("ACH_WIN_ONE_GAME"));
    assert!(client.indicate_achievement_progress("ACH_WIN_100_GAMES", 1, 100));
    assert!(client.set_stat_i32("NumGames", 1));
    assert!(client.set_stat_f32("FeetTraveled", 12.5));
    assert!(client.update_avg_rate_stat("AverageSpeed", 100.0, 10.0));
    // The cache changed at once; nothing is delivered inside the calls.
    assert!(
        client
            .achievement("ACH_WIN_ONE_GAME", None)
            .unwrap()
            .unlocked
    );
    assert!(client.store_stats());

    let events = pump_until(&client, has_update);
    assert_eq!(
        events,
        [
            unlocked("ACH_WIN_ONE_GAME"),
            Event::AchievementInfoUpdate {
                achievement_name: "ACH_WIN_100_GAMES".into(),
                current_progress: Some(1),
                max_progress: Some(100),
            },
            save(user_a(), EResult::Ok),
            update(user_a(), EResult::Ok),
        ]
    );
    assert_eq!(client.stat_i32("NumGames", None), Some(1));
    assert_eq!(client.stat_f32("FeetTraveled", None), Some(12.5));
    assert_eq!(client.stat_avg_rate("AverageSpeed", None), Some(10.0));
    assert_eq!(
        client
            .achievement("ACH_WIN_100_GAMES", None)
            .unwrap()
            .progress,
        Some((1, 100))
    );
    let on_server = server_progress(&server.url, user_a());
    assert!(unlocked_on_server(&on_server, "ACH_WIN_ONE_GAME"));
    assert_eq!(stat_of(&on_server, "NumGames"), json!(1));
    assert_eq!(on_server["version"], 1);
    assert_eq!(env.journaled(user_a()), 0);

    // Unlocking again is true and stores nothing new; the empty store still answers.
    assert!(client.set_achievement("ACH_WIN_ONE_GAME"));
    assert!(client.store_stats());
    let events = pump_until(&client, has_update);
    assert_eq!(
        events,
        [save(user_a(), EResult::Ok), update(user_a(), EResult::Ok)]
    );
    assert_eq!(server_progress(&server.url, user_a())["version"], 1);
}

#[test]
fn a_refused_store_reports_the_servers_result_and_reverts_the_cache() {
    let env = Env::new();
    let server = TestServer::start(&env.db());
    let client = ready(&env, &server.url, user_a());

    // Another device raises the increment-only NumGames to 5 behind the client's back.
    let (status, body) = store_directly(
        &server.url,
        user_a(),
        "other-device-1",
        &json!({"stats": [{"name": "NumGames", "value": 5}]}),
    );
    assert_eq!(status, 200, "{body}");

    // The client still believes 0, so 3 passes its local check; the server refuses it.
    assert!(client.set_stat_i32("NumGames", 3));
    assert!(client.set_achievement("ACH_WIN_ONE_GAME"));
    assert!(client.store_stats());
    let events = pump_until(&client, has_update);
    assert_eq!(
        events,
        [
            Event::UserProgressSave {
                is_error: true,
                result_code: EResult::InvalidParam,
                user_steam_id: user_a(),
                details: vec![SaveDetail {
                    name: "NumGames".into(),
                    rule: "decrease_of_increment_only".into(),
                    message: "stat is increment-only; 5 -> 3 decreases it".into(),
                }],
            },
            update(user_a(), EResult::Ok)
        ]
    );
    // Reverted, then refreshed with the server's values.
    assert_eq!(client.stat_i32("NumGames", None), Some(5));
    assert!(
        !client
            .achievement("ACH_WIN_ONE_GAME", None)
            .unwrap()
            .unlocked
    );
    assert_eq!(env.journaled(user_a()), 0);
    assert!(!unlocked_on_server(
        &server_progress(&server.url, user_a()),
        "ACH_WIN_ONE_GAME"
    ));
}

/// Steam's semantics: a value of the right type that breaks the schema's
/// constraints is taken by the client and refused by the server, whose
/// reasons come with the save event; the cache goes back to the server's
/// values, then the progress is fetched again.
#[test]
fn a_write_that_breaks_constraints_is_taken_and_the_server_says_why_it_refused() {
    let env = Env::new();
    let server = TestServer::start(&env.db());
    let client = ready(&env, &server.url, user_a());
    assert!(client.set_stat_i32("NumGames", 2));
    assert!(client.store_stats());
    pump_until(&client, has_update);

    assert!(client.set_stat_i32("NumGames", -5), "taken, as on Steam");
    assert_eq!(client.stat_i32("NumGames", None), Some(-5));
    assert!(client.store_stats());
    let events = pump_until(&client, has_update);
    let [
        Event::UserProgressSave {
            is_error: true,
            result_code: EResult::InvalidParam,
            details,
            ..
        },
        Event::UserProgressUpdate {
            is_error: false, ..
        },
    ] = events.as_slice()
    else {
        panic!("{events:?}");
    };
    let rules: Vec<(&str, &str)> = details
        .iter()
        .map(|d| (d.name.as_str(), d.rule.as_str()))
        .collect();
    assert!(rules.contains(&("NumGames", "below_min")), "{details:?}");
    assert_eq!(client.stat_i32("NumGames", None), Some(2));
    assert_eq!(
        stat_of(&server_progress(&server.url, user_a()), "NumGames"),
        json!(2)
    );
    // Wrong types and unknown names are still refused at once.
    assert!(!client.set_stat_f32("NumGames", 1.0));
    assert!(!client.set_stat_i32("NoSuchStat", 1));
    assert!(!client.set_achievement("NO_SUCH_ACHIEVEMENT"));
}

/// Writes in the first frame, before the server answered anything, are
/// taken and stored.
#[test]
fn writes_in_the_first_frame_reach_the_server() {
    let env = Env::new();
    let server = TestServer::start(&env.db());
    let client = env.client(&server.url, user_b());
    assert!(client.set_achievement("ACH_WIN_ONE_GAME"));
    assert!(client.set_stat_i32("NumGames", 2));
    assert!(client.set_stat_f32("FeetTraveled", 12.5));
    assert!(client.store_stats());
    let events = pump_until(&client, |e| {
        e.contains(&save(user_b(), EResult::Ok))
            && e.iter()
                .filter(|e| matches!(e, Event::UserProgressUpdate { .. }))
                .count()
                >= 2
    });
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::UserProgressSave { is_error: true, .. })),
        "{events:?}"
    );
    assert_eq!(env.journaled(user_b()), 0);
    let on_server = server_progress(&server.url, user_b());
    assert_eq!(on_server["version"], 1, "{on_server}");
    assert!(unlocked_on_server(&on_server, "ACH_WIN_ONE_GAME"));
    assert_eq!(stat_of(&on_server, "NumGames"), json!(2));
    assert_eq!(stat_of(&on_server, "FeetTraveled"), json!(12.5));
    assert_eq!(client.stat_i32("NumGames", None), Some(2));
}

/// A first launch with no network takes writes; a relaunch online stores
/// them once; a relaunch offline reads the values at once from what the
/// SDK kept, and still reads them after the progress request fails.
#[test]
fn a_cold_offline_start_then_relaunches_online_and_offline() {
    let env = Env::new();
    let dead = dead_url();
    let client = env.client(&dead, user_a());
    assert!(client.is_logged_on());
    assert!(client.set_achievement("ACH_WIN_ONE_GAME"));
    assert!(client.set_stat_i32("NumGames", 3));
    assert!(client.store_stats());
    pump_until(&client, |e| {
        e.contains(&save(user_a(), EResult::NoConnection))
    });
    assert_eq!(env.journaled(user_a()), 1);
    drop(client);

    let server = TestServer::start(&env.db());
    name_user(&server.url, user_a(), "Gordon");
    let client = env.client(&server.url, user_a());
    // The replayed store's answer, then the start-up request's (with the profile).
    pump_until(&client, |e| {
        e.contains(&save(user_a(), EResult::Ok))
            && e.iter()
                .filter(|e| **e == update(user_a(), EResult::Ok))
                .count()
                >= 2
    });
    assert_eq!(client.user_info(None).unwrap().name, "Gordon");
    assert_eq!(env.journaled(user_a()), 0);
    let on_server = server_progress(&server.url, user_a());
    assert_eq!(on_server["version"], 1, "{on_server}");
    assert_eq!(stat_of(&on_server, "NumGames"), json!(3));
    drop(client);

    let client = env.client(&dead, user_a());
    // Before any event: the kept schema and progress answer.
    assert!(client.is_logged_on());
    assert_eq!(client.stat_i32("NumGames", None), Some(3));
    assert!(
        client
            .achievement("ACH_WIN_ONE_GAME", None)
            .unwrap()
            .unlocked
    );
    assert_eq!(client.achievement_names().len(), 4);
    assert_eq!(
        client.user_info(None).unwrap().name,
        "Gordon",
        "the kept name"
    );
    assert_eq!(
        pump_until(&client, has_update),
        [update(user_a(), EResult::NoConnection)]
    );
    assert_eq!(client.stat_i32("NumGames", None), Some(3));
}

#[test]
fn a_user_reads_another_users_progress() {
    let env = Env::new();
    let server = TestServer::start(&env.db());
    let a = ready(&env, &server.url, user_a());
    assert!(a.set_achievement("ACH_WIN_ONE_GAME"));
    assert!(a.set_stat_i32("NumWins", 3));
    assert!(a.store_stats());
    pump_until(&a, has_update);

    let b = ready(&env, &server.url, user_b());
    assert_eq!(b.achievement("ACH_WIN_ONE_GAME", Some(user_a())), None);
    assert_eq!(b.user_info(Some(user_a())), None);
    // The current user's info answers at once, with the default name.
    assert_eq!(
        b.user_info(None),
        Some(UserInfo {
            name: user_b().to_string(),
            named: false
        })
    );
    // A's game backend names A (here dev mode's session route).
    name_user(&server.url, user_a(), "Alyx");
    assert!(b.request_user_progress(Some(user_a())));
    let events = pump_until(&b, has_update);
    assert_eq!(events, [update(user_a(), EResult::Ok)]);
    // As on Steam, another user's info is asked for on its own.
    assert_eq!(b.user_info(Some(user_a())), None);
    assert!(b.request_user_info(user_a()));
    assert!(b.request_user_info(user_a()), "asking twice is one request");
    let events = pump_until(&b, |e| !e.is_empty());
    assert_eq!(
        events,
        [Event::UserInfoUpdate {
            user_steam_id: user_a()
        }]
    );
    assert_eq!(
        b.user_info(Some(user_a())),
        Some(UserInfo {
            name: "Alyx".into(),
            named: true
        })
    );
    assert!(
        b.achievement("ACH_WIN_ONE_GAME", Some(user_a()))
            .unwrap()
            .unlocked
    );
    assert_eq!(b.stat_i32("NumWins", Some(user_a())), Some(3));
    // B's own progress is untouched.
    assert!(!b.achievement("ACH_WIN_ONE_GAME", None).unwrap().unlocked);
    assert_eq!(b.stat_i32("NumWins", None), Some(0));
}

#[test]
fn reset_all_stats_resets_on_the_server() {
    let env = Env::new();
    let server = TestServer::start(&env.db());
    let client = ready(&env, &server.url, user_a());
    assert!(client.set_achievement("ACH_WIN_ONE_GAME"));
    assert!(client.set_stat_i32("NumGames", 2));
    assert!(client.store_stats());
    pump_until(&client, has_update);

    assert!(client.reset_all_stats(true));
    assert_eq!(client.stat_i32("NumGames", None), Some(0));
    let events = pump_until(&client, has_update);
    assert_eq!(
        events,
        [save(user_a(), EResult::Ok), update(user_a(), EResult::Ok)]
    );
    let on_server = server_progress(&server.url, user_a());
    assert_eq!(stat_of(&on_server, "NumGames"), json!(0));
    assert!(!unlocked_on_server(&on_server, "ACH_WIN_ONE_GAME"));
}

#[test]
fn without_a_server_a_progress_request_fails_with_no_connection() {
    let env = Env::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let started = Instant::now();
    let client = env.client(&url, user_a());
    let events = pump_until(&client, has_update);
    assert_eq!(events, [update(user_a(), EResult::NoConnection)]);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

/// Offline store → journaled → crash → server back → replayed, applied once.
#[test]
fn an_offline_store_survives_a_crash_and_is_applied_exactly_once() {
    let env = Env::new();
    let mut server = TestServer::start(&env.db());
    let client = ready(&env, &server.url, user_a());
    server.stop();

    // Offline: requests time out with NoConnection.
    assert!(client.request_user_progress(None));
    assert_eq!(
        pump_until(&client, has_update),
        [update(user_a(), EResult::NoConnection)]
    );
    // A store is reported at the first failed attempt and stays journaled.
    let started = Instant::now();
    assert!(client.set_achievement("ACH_WIN_ONE_GAME"));
    assert!(client.set_stat_i32("NumGames", 1));
    assert!(client.store_stats());
    let events = pump_until(&client, |e| !e.is_empty());
    assert_eq!(events, [save(user_a(), EResult::NoConnection)]);
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    // The cache keeps the write meanwhile.
    assert!(
        client
            .achievement("ACH_WIN_ONE_GAME", None)
            .unwrap()
            .unlocked
    );
    // A second store while offline is reported too.
    assert!(client.set_stat_i32("NumWins", 1));
    assert!(client.store_stats());
    assert_eq!(
        pump_until(&client, |e| !e.is_empty()),
        [save(user_a(), EResult::NoConnection)]
    );
    assert_eq!(client.unsent_stores(), 2);
    assert_eq!(env.journaled(user_a()), 2);

    // Crash: the client goes away without any chance to send.
    drop(client);
    assert_eq!(env.journaled(user_a()), 2);

    let server = TestServer::start(&env.db());
    let client = env.client(&server.url, user_a());
    let events = pump_until(&client, |e| {
        e.iter()
            .filter(|e| matches!(e, Event::UserProgressUpdate { .. }))
            .count()
            >= 3
    });
    assert_eq!(
        events,
        [
            unlocked("ACH_WIN_ONE_GAME"),
            save(user_a(), EResult::Ok),
            update(user_a(), EResult::Ok),
            save(user_a(), EResult::Ok),
            update(user_a(), EResult::Ok),
            // The start-up request, answered after the replay.
            update(user_a(), EResult::Ok),
        ]
    );
    assert_eq!(env.journaled(user_a()), 0);
    let on_server = server_progress(&server.url, user_a());
    assert_eq!(
        on_server["version"], 2,
        "two stores, each applied once: {on_server}"
    );
    assert!(unlocked_on_server(&on_server, "ACH_WIN_ONE_GAME"));
    assert_eq!(stat_of(&on_server, "NumWins"), json!(1));
    assert_eq!(client.stat_i32("NumGames", None), Some(1));
}

/// The first attempt reached the server but the answer was lost (crash):
/// the replay with the same idempotency key changes nothing.
#[test]
fn a_replay_of_a_store_the_server_already_applied_changes_nothing() {
    let env = Env::new();
    let mut server = TestServer::start(&env.db());
    let client = ready(&env, &server.url, user_a());
    server.stop();
    assert!(client.set_stat_i32("NumGames", 1));
    assert!(client.store_stats());
    pump_until(&client, |e| !e.is_empty());
    drop(client);

    let server = TestServer::start(&env.db());
    let entries = Journal::open(&env.journal(user_a()), app(), user_a())
        .unwrap()
        .entries()
        .unwrap();
    assert_eq!(entries.len(), 1);
    let body: Value = serde_json::from_str(&entries[0].body).unwrap();
    let (status, answer) =
        store_directly(&server.url, user_a(), &entries[0].idempotency_key, &body);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["progress"]["version"], 1);

    let client = env.client(&server.url, user_a());
    let events = pump_until(&client, |e| {
        e.iter()
            .filter(|e| matches!(e, Event::UserProgressUpdate { .. }))
            .count()
            >= 2
    });
    assert_eq!(
        events,
        [
            save(user_a(), EResult::Ok),
            update(user_a(), EResult::Ok),
            update(user_a(), EResult::Ok)
        ]
    );
    assert_eq!(env.journaled(user_a()), 0);
    assert_eq!(server_progress(&server.url, user_a())["version"], 1);
    assert_eq!(client.stat_i32("NumGames", None), Some(1));
}

#[test]
fn a_rejected_token_logs_the_user_off() {
    let env = Env::new();
    let server = TestServer::start(&env.db());
    // Well-formed, but not signed by this server.
    let forged = format!("lt2.480.{}.1.4000000000.0.{}", user_a(), "0".repeat(64));
    let client = Client::init(
        ClientConfig::new(&server.url, app(), Credentials::Token(forged))
            .with_journal_path(env.journal(user_a())),
    )
    .unwrap();
    assert!(client.is_logged_on());
    let events = pump_until(&client, has_update);
    assert_eq!(events, [update(user_a(), EResult::NotLoggedOn)]);
    assert!(!client.is_logged_on());
    assert_eq!(client.user_steam_id(), None);
    assert!(!client.request_user_progress(None));
}

fn globals_done(events: &[Event]) -> bool {
    events.iter().any(|e| {
        matches!(
            e,
            Event::GlobalAchievementPercentagesReady { .. } | Event::GlobalStatsReceived { .. }
        )
    })
}

/// Steam's `RequestGlobalAchievementPercentages` / `RequestGlobalStats`: an
/// event each, then the cache reads the server's global figures.
#[test]
fn global_percentages_and_stats_arrive_as_events() {
    let env = Env::new();
    let server = TestServer::start(&env.db());
    let a = ready(&env, &server.url, user_a());
    assert!(a.set_stat_i32("NumGames", 3));
    assert!(a.set_achievement("ACH_WIN_ONE_GAME"));
    assert!(a.store_stats());
    pump_until(&a, |e| {
        e.iter()
            .filter(|e| matches!(e, Event::UserProgressUpdate { .. }))
            .count()
            == 1
    });
    let b = ready(&env, &server.url, user_b());
    assert!(b.set_stat_i32("NumGames", 4));
    assert!(b.store_stats());
    pump_until(&b, |e| {
        e.iter()
            .any(|e| matches!(e, Event::UserProgressUpdate { .. }))
    });

    assert_eq!(
        a.global_achievement_percent("ACH_WIN_ONE_GAME"),
        None,
        "not fetched yet"
    );
    assert!(a.request_global_achievement_percentages());
    let events = pump_until(&a, globals_done);
    assert_eq!(
        events,
        [Event::GlobalAchievementPercentagesReady {
            is_error: false,
            result_code: EResult::Ok
        }]
    );
    assert_eq!(a.global_achievement_percent("ACH_WIN_ONE_GAME"), Some(50.0));
    assert_eq!(a.global_achievement_percent("ACH_WIN_100_GAMES"), Some(0.0));
    assert_eq!(a.global_achievement_percent("Nope"), None);

    assert!(a.request_global_stats(&["NumGames", "FeetTraveled"], 3));
    let events = pump_until(&a, globals_done);
    assert_eq!(
        events,
        [Event::GlobalStatsReceived {
            is_error: false,
            result_code: EResult::Ok
        }]
    );
    assert_eq!(a.global_stat_i64("NumGames"), Some(7));
    assert_eq!(
        a.global_stat_history_i64("NumGames"),
        Some(vec![7, 0, 0]),
        "today first"
    );
    assert_eq!(a.global_stat_f64("FeetTraveled"), Some(0.0));
    assert_eq!(a.global_stat_f64("NumGames"), None, "wrong type");
    assert_eq!(a.global_stat_i64("NumWins"), None, "not asked for");

    // A stat that is not aggregated: the server refuses, the event says so.
    assert!(a.request_global_stats(&["MaxFeetTraveled"], 0));
    let events = pump_until(&a, globals_done);
    assert_eq!(
        events,
        [Event::GlobalStatsReceived {
            is_error: true,
            result_code: EResult::InvalidParam
        }]
    );
    assert!(
        !a.request_global_stats(&["NumGames"], 61),
        "at most 60 days"
    );
    assert!(!a.request_global_stats(&[""], 1));
}

#[test]
fn without_a_server_global_requests_fail_with_no_connection() {
    let env = Env::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = env.client(&url, user_a());
    assert!(client.request_global_achievement_percentages());
    let events = pump_until(&client, globals_done);
    assert!(
        events.contains(&Event::GlobalAchievementPercentagesReady {
            is_error: true,
            result_code: EResult::NoConnection
        }),
        "{events:?}"
    );
}

/// Issue 12: a server's 429 (EResult 84) with `Retry-After` is honoured: the
/// stores stay journaled, the game hears `RateLimitExceeded`, and every store
/// is applied once the budget has room again, in order, none lost or doubled.
#[test]
fn rate_limited_stores_wait_for_retry_after_and_are_all_applied() {
    const STORES: i32 = 5;
    let env = Env::new();
    // One request a second for a user token, no burst beyond one.
    let server = TestServer::start_with(&env.db(), |config| {
        config.rate_limits.user = laurel_server::Rate::new(1, 1);
    });
    let client = ready(&env, &server.url, user_a());
    for n in 1..=STORES {
        assert!(client.set_stat_i32("NumGames", n));
        assert!(client.store_stats());
    }
    let ok = save(user_a(), EResult::Ok);
    let events = pump_until(&client, |seen| {
        seen.iter().filter(|e| **e == ok).count() == STORES as usize
    });
    assert!(
        events.contains(&save(user_a(), EResult::RateLimitExceeded)),
        "the server never limited this client: {events:?}"
    );
    assert_eq!(env.journaled(user_a()), 0);
    assert_eq!(client.stat_i32("NumGames", None), Some(STORES));
}

/// Issue 12, finding 9 on the game's side: a revoked token pauses the
/// stores (kept in the journal, the user logged off); the token the game's
/// backend mints next is taken with `set_token`, and the paused store is
/// applied. A token of another user or app is refused at once.
#[test]
fn a_new_token_after_a_revocation_resumes_the_journaled_stores() {
    let env = Env::new();
    let server = TestServer::start_with(&env.db(), |config| {
        config.admin_token = Some(laurel_testkit::ADMIN_TOKEN.to_owned());
    });
    let client = Client::init(
        ClientConfig::new(
            &server.url,
            app(),
            Credentials::Token(token(&server.url, user_a())),
        )
        .with_journal_path(env.journal(user_a())),
    )
    .unwrap();
    assert_eq!(
        pump_until(&client, has_update),
        [update(user_a(), EResult::Ok)]
    );

    let (status, body) = Http::new(&server.url)
        .post(
            "/api/v1/admin/apps/480/revocations",
            Some(laurel_testkit::ADMIN_TOKEN),
            &json!({"steam_id": user_a().to_string()}),
        )
        .expect("revoke");
    assert_eq!(status, 200, "{body}");
    assert!(client.set_stat_i32("NumGames", 3));
    assert!(client.store_stats());
    let events = pump_until(&client, |e| {
        e.iter()
            .any(|e| matches!(e, Event::UserProgressSave { .. }))
    });
    assert_eq!(events, [save(user_a(), EResult::NotLoggedOn)]);
    assert!(!client.is_logged_on());
    assert_eq!(env.journaled(user_a()), 1, "the store is kept");
    assert_eq!(server_progress(&server.url, user_a())["version"], 0);

    let other_user = token(&server.url, user_b());
    assert!(matches!(
        client.set_token(&other_user),
        Err(ClientError::InvalidToken { .. })
    ));
    assert!(matches!(
        client.set_token("lt2.garbage"),
        Err(ClientError::InvalidToken { .. })
    ));
    client
        .set_token(&token(&server.url, user_a()))
        .expect("a new token");
    let events = pump_until(&client, has_update);
    assert!(events.contains(&save(user_a(), EResult::Ok)), "{events:?}");
    assert!(client.is_logged_on());
    assert_eq!(env.journaled(user_a()), 0);
    let on_server = server_progress(&server.url, user_a());
    assert_eq!(stat_of(&on_server, "NumGames"), json!(3));
}

fn player_count_answer(events: &[Event]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, Event::ActivePlayerCount { .. }))
}

/// The current-players figure, without the asking user (Steam's
/// `GetNumberOfCurrentPlayers`); `NoConnection` without a server.
#[test]
fn the_active_player_count_leaves_out_the_asking_user() {
    let env = Env::new();
    let server = TestServer::start(&env.db());
    let a = ready(&env, &server.url, user_a());
    assert!(a.request_active_player_count());
    assert_eq!(
        pump_until(&a, player_count_answer),
        [Event::ActivePlayerCount {
            is_error: false,
            result_code: EResult::Ok,
            count: 0
        }]
    );
    let _b = ready(&env, &server.url, user_b());
    assert!(a.request_active_player_count());
    assert_eq!(
        pump_until(&a, player_count_answer),
        [Event::ActivePlayerCount {
            is_error: false,
            result_code: EResult::Ok,
            count: 1
        }]
    );

    let offline = env.client(&dead_url(), SteamId::new(76561197960287940).unwrap());
    pump_until(&offline, has_update);
    assert!(offline.request_active_player_count());
    assert_eq!(
        pump_until(&offline, player_count_answer),
        [Event::ActivePlayerCount {
            is_error: true,
            result_code: EResult::NoConnection,
            count: 0
        }]
    );
}
