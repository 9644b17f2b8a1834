//! Client tests that need no server: configuration, the offline path against
//! a closed port, shutdown. End-to-end tests are in `tests/e2e.rs`.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use super::*;

fn me() -> SteamId {
    SteamId::new(76561197960287930).unwrap()
}

fn app() -> AppId {
    AppId::new(480).unwrap()
}

/// A loopback URL where nothing listens.
fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

fn offline_config(dir: &tempfile::TempDir) -> ClientConfig {
    ClientConfig::new(closed_port_url(), app(), Credentials::DevUser(me()))
        .with_journal_path(dir.path().join("journal.sqlite3"))
        .with_request_timeout(Duration::from_millis(400))
}

/// Pumps events until `done` says so or `limit` passes.
fn pump_until(
    client: &Client,
    limit: Duration,
    mut done: impl FnMut(&[Event]) -> bool,
) -> Vec<Event> {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        client.run_callbacks(|e| seen.push(e));
        if done(&seen) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    seen
}

#[test]
fn client_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Client>();
}

#[test]
fn init_refuses_bad_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let base = || offline_config(&dir);
    let mac = "0".repeat(64);
    let cases: Vec<(ClientConfig, &str)> = vec![
        (
            ClientConfig {
                server_url: "localhost:8080".into(),
                ..base()
            },
            "scheme",
        ),
        (
            ClientConfig {
                credentials: Credentials::Token("nope".into()),
                ..base()
            },
            "not a Laurel user token",
        ),
        (
            ClientConfig {
                credentials: Credentials::Token(format!("lt2.481.5.1.1800000000.0.{mac}")),
                ..base()
            },
            "app 481, not app 480",
        ),
        (
            ClientConfig {
                request_timeout: Duration::ZERO,
                ..base()
            },
            "request_timeout",
        ),
        (
            ClientConfig {
                language: String::new(),
                ..base()
            },
            "language",
        ),
        (
            ClientConfig {
                journal_path: Some(dir.path().join("no/such/dir/j.sqlite3")),
                ..base()
            },
            "journal",
        ),
    ];
    for (config, want) in cases {
        match Client::init(config) {
            Ok(_) => panic!("accepted; wanted an error with {want:?}"),
            Err(e) => assert!(e.to_string().contains(want), "{e} (wanted {want:?})"),
        }
    }
}

#[test]
fn a_token_gives_the_user_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let token = format!("lt2.480.{}.1.4000000000.0.{}", me(), "a".repeat(64));
    let client = Client::init(ClientConfig {
        credentials: Credentials::Token(token),
        ..offline_config(&dir)
    })
    .unwrap();
    assert_eq!(client.user_steam_id(), Some(me()));
    assert_eq!(client.app_id(), app());
    assert!(client.is_logged_on());
}

#[test]
fn without_a_server_progress_requests_fail_with_no_connection_after_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let client = Client::init(offline_config(&dir)).unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "init waited"
    );
    let friend = SteamId::new(42).unwrap();
    assert!(client.request_user_progress(Some(friend)));

    // Nothing is read before progress arrives (writes are taken: see the
    // offline-start tests).
    assert_eq!(client.stat_i32("NumGames", None), None);
    assert!(client.achievement_names().is_empty());

    let events = pump_until(&client, Duration::from_secs(10), |e| e.len() >= 2);
    let failed = |user| Event::UserProgressUpdate {
        is_error: true,
        result_code: EResult::NoConnection,
        user_steam_id: user,
    };
    assert_eq!(events, [failed(me()), failed(friend)]);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300),
        "reported before the timeout: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(events[0].name(), "userProgressUpdate");
    // Still logged on: offline is not logged off.
    assert!(client.is_logged_on());
}

#[test]
fn callbacks_may_call_the_client_and_events_come_once() {
    let dir = tempfile::tempdir().unwrap();
    let client = Client::init(offline_config(&dir)).unwrap();
    let mut asked = false;
    let events = pump_until(&client, Duration::from_secs(10), |seen| {
        if seen.len() == 1 && !asked {
            // No lock is held while a callback runs.
            asked = client.request_user_progress(None);
        }
        seen.len() >= 2
    });
    assert!(asked);
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(client.take_events().is_empty());
}

#[test]
fn progress_requests_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let client =
        Client::init(offline_config(&dir).with_request_timeout(Duration::from_secs(60))).unwrap();
    // The start-up request is one of them.
    for i in 1..MAX_QUEUED_REQUESTS {
        assert!(
            client.request_user_progress(Some(SteamId::new(i as u64).unwrap())),
            "{i}"
        );
    }
    assert!(!client.request_user_progress(None));
}

#[test]
fn dropping_the_client_stops_the_worker_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let client =
        Client::init(offline_config(&dir).with_request_timeout(Duration::from_secs(60))).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    drop(client);
    assert!(started.elapsed() < SHUTDOWN_WAIT, "{:?}", started.elapsed());
}

#[test]
fn idempotency_keys_are_128_bit_hex_and_fresh() {
    let a = new_idempotency_key().unwrap();
    let b = new_idempotency_key().unwrap();
    assert_eq!(a.len(), 32);
    assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, b);
}
