//! The SDK's leaderboard calls against a real `laurel-server` (dev mode,
//! SQLite in a temp dir) over loopback: finds, uploads, downloads, and the
//! offline journal of uploads. Every wait is bounded.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test, with its place"
)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use laurel_client::journal::{EntryKind, Journal};
use laurel_client::{
    AppId, Client, ClientConfig, Credentials, DisplayType, EResult, EntriesRequest, Event,
    LeaderboardCall, LeaderboardHandle, LeaderboardInfo, SortMethod, SteamId, UploadMethod,
};
use laurel_testkit::Http;
use laurel_testkit::in_process::InProcessServer;
use serde_json::{Value, json};
use tempfile::TempDir;

const WAIT: Duration = Duration::from_secs(20);
const ADMIN: &str = "sdk-leaderboards-admin-token-0123456789";

/// App 481: clients may create boards; one board only server keys write.
const BOARDS_SCHEMA: &str = r#"{
  "app": {"name": "Boards", "allow_client_leaderboard_create": true},
  "leaderboards": [
    {"name": "Server Only", "sort": "descending", "writes": "trusted"}
  ]
}"#;

fn app() -> AppId {
    AppId::new(480).unwrap()
}
fn user(n: u64) -> SteamId {
    SteamId::new(76561197960287930 + n).unwrap()
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
    fn server(&self) -> InProcessServer {
        InProcessServer::start_with(&self.db(), |config| {
            config.admin_token = Some(ADMIN.into());
        })
        .unwrap()
    }
    fn client_with(
        &self,
        url: &str,
        app: AppId,
        user: SteamId,
        credentials: Credentials,
    ) -> Client {
        Client::init(
            ClientConfig::new(url, app, credentials)
                .with_journal_path(self.journal(user))
                .with_request_timeout(Duration::from_secs(1)),
        )
        .expect("client init")
    }
    fn client(&self, url: &str, user: SteamId) -> Client {
        self.client_with(url, app(), user, Credentials::DevUser(user))
    }
    /// Journal entries of kind `score` for `user`.
    fn journaled_scores(&self, user: SteamId) -> Vec<laurel_client::journal::JournalEntry> {
        Journal::open(&self.journal(user), app(), user)
            .unwrap()
            .entries()
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == EntryKind::Score)
            .collect()
    }
}

/// Pumps `run_callbacks` until an event answers `call`; every event seen is returned.
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

fn call_of(e: &Event) -> Option<LeaderboardCall> {
    match e {
        Event::LeaderboardFindResult { call, .. }
        | Event::LeaderboardScoresDownloaded { call, .. } => Some(*call),
        Event::LeaderboardScoreUploaded { call, .. } => *call,
        _ => None,
    }
}

/// The event answering `call` (other events are skipped).
fn answer(client: &Client, call: LeaderboardCall) -> Event {
    let events = pump_until(client, |e| e.iter().any(|e| call_of(e) == Some(call)));
    events
        .into_iter()
        .find(|e| call_of(e) == Some(call))
        .unwrap()
}

fn find(client: &Client, name: &str) -> LeaderboardInfo {
    let call = client.find_leaderboard(name).unwrap();
    match answer(client, call) {
        Event::LeaderboardFindResult {
            is_error: false,
            board: Some(info),
            ..
        } => info,
        other => panic!("{name} not found: {other:?}"),
    }
}

struct Uploaded {
    result: EResult,
    board: Option<LeaderboardHandle>,
    changed: bool,
    rank: u64,
    previous: u64,
    count: u64,
}

fn uploaded(event: Event) -> Uploaded {
    match event {
        Event::LeaderboardScoreUploaded {
            is_error,
            result_code,
            board,
            score_changed,
            global_rank_new,
            global_rank_previous,
            entry_count,
            ..
        } => {
            assert_eq!(is_error, result_code != EResult::Ok);
            Uploaded {
                result: result_code,
                board,
                changed: score_changed,
                rank: global_rank_new,
                previous: global_rank_previous,
                count: entry_count,
            }
        }
        other => panic!("not an upload answer: {other:?}"),
    }
}

fn upload(client: &Client, board: LeaderboardHandle, method: UploadMethod, score: i32) -> Uploaded {
    let call = client
        .upload_leaderboard_score(board, method, score, &[])
        .unwrap();
    uploaded(answer(client, call))
}

/// (entry count, [(user, rank, score, details)]) of a download.
type Page = (u64, Vec<(SteamId, u64, i32, Vec<i32>)>);

fn downloaded(event: Event) -> Result<Page, EResult> {
    match event {
        Event::LeaderboardScoresDownloaded {
            is_error: false,
            entries,
            entry_count,
            ..
        } => Ok((
            entry_count,
            entries
                .into_iter()
                .map(|e| (e.steam_id, e.global_rank, e.score, e.details))
                .collect(),
        )),
        Event::LeaderboardScoresDownloaded {
            is_error: true,
            result_code,
            entries,
            ..
        } => {
            assert!(entries.is_empty());
            Err(result_code)
        }
        other => panic!("not a download answer: {other:?}"),
    }
}

fn download(client: &Client, board: LeaderboardHandle, request: EntriesRequest) -> Page {
    let call = client.download_leaderboard_entries(board, request).unwrap();
    downloaded(answer(client, call)).unwrap()
}

/// The board's entries as the server holds them, read with a dev token.
fn server_entries(url: &str, board: LeaderboardHandle) -> Value {
    let token = Http::new(url)
        .dev_token(480, &user(90).to_string())
        .unwrap();
    let (status, body) = Http::new(url)
        .get(
            &format!("/api/v1/apps/480/leaderboards/{board}/entries?start=1&end=100"),
            Some(&token),
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn find_upload_and_download_as_steam_has_them() {
    let env = Env::new();
    let server = env.server();
    let a = env.client(&server.url, user(0));
    let b = env.client(&server.url, user(1));

    // Names compare case-insensitively; the board keeps its spelling.
    let feet = find(&a, "FEET traveled");
    assert_eq!(feet.name, "Feet Traveled");
    assert_eq!(
        (feet.sort, feet.display, feet.entry_count),
        (SortMethod::Descending, DisplayType::Numeric, 0)
    );
    assert_eq!(a.leaderboard_info(feet.handle), Some(feet.clone()));
    let quickest = find(&a, "Quickest Win");
    assert_eq!(
        (quickest.sort, quickest.display),
        (SortMethod::Ascending, DisplayType::Seconds)
    );

    // An unknown name is not found, and finding never creates.
    let call = a.find_leaderboard("No Such Board").unwrap();
    assert_eq!(
        answer(&a, call),
        Event::LeaderboardFindResult {
            call,
            is_error: true,
            result_code: EResult::FileNotFound,
            name: "No Such Board".into(),
            board: None,
        }
    );
    // App 480 does not let clients create boards; finding one that exists is fine.
    let call = a
        .find_or_create_leaderboard("Made Here", SortMethod::Ascending, DisplayType::Numeric)
        .unwrap();
    assert!(matches!(
        answer(&a, call),
        Event::LeaderboardFindResult {
            is_error: true,
            result_code: EResult::AccessDenied,
            board: None,
            ..
        }
    ));
    let call = a
        .find_or_create_leaderboard("feet traveled", SortMethod::Ascending, DisplayType::Seconds)
        .unwrap();
    match answer(&a, call) {
        Event::LeaderboardFindResult {
            board: Some(info), ..
        } => assert_eq!(info, feet),
        other => panic!("{other:?}"),
    }
    // Bad names never leave the SDK.
    assert!(a.find_leaderboard("").is_none());
    assert!(a.find_leaderboard(&"x".repeat(129)).is_none());

    // KeepBest: a first entry, an equal score (not changed), a better one.
    let up = upload(&a, feet.handle, UploadMethod::KeepBest, 100);
    assert_eq!(
        (
            up.result,
            up.board,
            up.changed,
            up.rank,
            up.previous,
            up.count
        ),
        (EResult::Ok, Some(feet.handle), true, 1, 0, 1)
    );
    let up = upload(&a, feet.handle, UploadMethod::KeepBest, 100);
    assert_eq!((up.changed, up.rank), (false, 1));
    let up = upload(&b, feet.handle, UploadMethod::KeepBest, 100);
    assert_eq!(
        (up.changed, up.rank, up.previous, up.count),
        (true, 2, 0, 2),
        "a tie: the score achieved first ranks first"
    );
    let up = upload(&b, feet.handle, UploadMethod::KeepBest, 250);
    assert_eq!((up.changed, up.rank, up.previous), (true, 1, 2));
    let up = upload(&b, feet.handle, UploadMethod::KeepBest, 10);
    assert_eq!((up.changed, up.rank), (false, 1));
    // ForceUpdate replaces even with a worse score.
    let up = upload(&b, feet.handle, UploadMethod::ForceUpdate, 10);
    assert_eq!((up.changed, up.rank, up.previous), (true, 2, 1));

    // Details come back with the entry.
    let c = env.client(&server.url, user(2));
    let call = c
        .upload_leaderboard_score(feet.handle, UploadMethod::KeepBest, 50, &[7, -8, 9])
        .unwrap();
    assert_eq!(uploaded(answer(&c, call)).rank, 2);
    assert!(
        c.upload_leaderboard_score(feet.handle, UploadMethod::KeepBest, 1, &[0; 65])
            .is_none(),
        "65 details are refused before the journal"
    );

    let (count, page) = download(
        &a,
        feet.handle,
        EntriesRequest::Global { start: 1, end: 10 },
    );
    assert_eq!(count, 3);
    assert_eq!(
        a.leaderboard_info(feet.handle).unwrap().entry_count,
        3,
        "every answer updates the board's count"
    );
    assert_eq!(
        page,
        [
            (user(0), 1, 100, vec![]),
            (user(2), 2, 50, vec![7, -8, 9]),
            (user(1), 3, 10, vec![]),
        ]
    );
    // A start below 1 is 1; an end below the start is the start.
    let (_, page) = download(
        &a,
        feet.handle,
        EntriesRequest::Global { start: -5, end: -9 },
    );
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].0, user(0));
    // Around the user: shifted at the top of the board to give the count asked.
    let (_, page) = download(
        &a,
        feet.handle,
        EntriesRequest::GlobalAroundUser { start: -1, end: 0 },
    );
    let ranks: Vec<u64> = page.iter().map(|e| e.1).collect();
    assert_eq!(ranks, [1, 2]);
    // A user without an entry gets an empty page.
    let d = env.client(&server.url, user(3));
    let (count, page) = download(
        &d,
        feet.handle,
        EntriesRequest::GlobalAroundUser { start: -2, end: 2 },
    );
    assert_eq!((count, page.len()), (3, 0));

    // For users: those without an entry are left out.
    let call = a
        .download_leaderboard_entries_for_users(feet.handle, &[user(1), user(3), user(0)])
        .unwrap();
    let (_, page) = downloaded(answer(&a, call)).unwrap();
    let mut who: Vec<SteamId> = page.iter().map(|e| e.0).collect();
    who.sort();
    assert_eq!(who, [user(0), user(1)]);
    assert!(
        a.download_leaderboard_entries_for_users(feet.handle, &[])
            .is_none()
    );
    let many: Vec<SteamId> = (0..101).map(user).collect();
    assert!(
        a.download_leaderboard_entries_for_users(feet.handle, &many)
            .is_none()
    );

    // Friends: the list the game's backend set, the user included.
    let key = Http::new(&server.url).server_key(480, ADMIN).unwrap();
    let (status, body) = Http::new(&server.url)
        .send(
            "PUT",
            &format!("/api/v1/apps/480/users/{}/friends", user(3)),
            Some(&key),
            &[],
            &json!({"steam_ids": [user(1).to_string()]}).to_string(),
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let (_, page) = download(&d, feet.handle, EntriesRequest::Friends);
    assert_eq!(
        page.iter().map(|e| e.0).collect::<Vec<_>>(),
        [user(1)],
        "user 3 has no entry; their friend user 1 has"
    );

    // Users listed in a download are known to user_info at once; the
    // first read asks for their profile, announced by UserInfoUpdate.
    let info = d.user_info(Some(user(1))).expect("listed users answer");
    assert_eq!(info.name, user(1).to_string());
    pump_until(&d, |e| {
        e.iter().any(
            |e| matches!(e, Event::UserInfoUpdate { user_steam_id } if *user_steam_id == user(1)),
        )
    });
    assert_eq!(d.user_info(Some(user(4))), None, "a user never listed");
}

#[test]
fn a_download_by_name_of_an_unknown_board_is_an_error_and_an_unknown_handle_too() {
    let env = Env::new();
    let server = env.server();
    let a = env.client(&server.url, user(0));
    let call = a
        .download_leaderboard_entries_by_name("nope", EntriesRequest::Global { start: 1, end: 5 })
        .unwrap();
    assert_eq!(downloaded(answer(&a, call)), Err(EResult::FileNotFound));
    let call = a
        .download_leaderboard_entries_by_name(
            "quickest WIN",
            EntriesRequest::Global { start: 1, end: 5 },
        )
        .unwrap();
    assert_eq!(downloaded(answer(&a, call)), Ok((0, vec![])));
    let missing = LeaderboardHandle::new(987_654).unwrap();
    let call = a
        .download_leaderboard_entries(missing, EntriesRequest::Friends)
        .unwrap();
    assert_eq!(downloaded(answer(&a, call)), Err(EResult::FileNotFound));
}

#[test]
fn refused_uploads_are_final_and_leave_the_journal() {
    let env = Env::new();
    let server = env.server();
    Http::new(&server.url)
        .put_schema(481, &serde_json::from_str(BOARDS_SCHEMA).unwrap(), ADMIN)
        .unwrap();
    let app481 = AppId::new(481).unwrap();
    // Dev mode serves only the demo app: a token through a server key.
    let http = Http::new(&server.url);
    let key = http.server_key(481, ADMIN).unwrap();
    let token = http.session(481, &user(0).to_string(), &key).unwrap();
    let a = env.client_with(&server.url, app481, user(0), Credentials::Token(token));

    // Clients may create boards in app 481; a second find-or-create finds it.
    let call = a
        .find_or_create_leaderboard(
            "Made Here",
            SortMethod::Ascending,
            DisplayType::Milliseconds,
        )
        .unwrap();
    let made = match answer(&a, call) {
        Event::LeaderboardFindResult {
            board: Some(info), ..
        } => info,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (made.sort, made.display),
        (SortMethod::Ascending, DisplayType::Milliseconds)
    );
    let call = a
        .find_or_create_leaderboard("MADE HERE", SortMethod::Descending, DisplayType::Numeric)
        .unwrap();
    match answer(&a, call) {
        Event::LeaderboardFindResult {
            board: Some(info), ..
        } => assert_eq!(info, made, "an existing board keeps its settings"),
        other => panic!("{other:?}"),
    }

    // A trusted board refuses user tokens: final, no retry.
    let trusted = find(&a, "Server Only");
    let up = upload(&a, trusted.handle, UploadMethod::KeepBest, 5);
    assert_eq!(
        (up.result, up.board, up.changed),
        (EResult::AccessDenied, Some(trusted.handle), false)
    );
    // By name, a board that does not exist.
    let call = a
        .upload_leaderboard_score_by_name("Nothing Here", UploadMethod::KeepBest, 5, &[])
        .unwrap();
    let up = uploaded(answer(&a, call));
    assert_eq!((up.result, up.board), (EResult::FileNotFound, None));
    assert_eq!(a.unsent_leaderboard_scores(), 0);
    assert!(
        Journal::open(&env.journal(user(0)), app481, user(0))
            .unwrap()
            .entries()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn an_offline_upload_is_journaled_and_sent_once_when_the_server_is_back() {
    let env = Env::new();
    let mut server = env.server();
    let a = env.client(&server.url, user(0));
    let feet = find(&a, "Feet Traveled");
    server.stop().unwrap();

    // Downloads are not cached: offline, an error at the request timeout.
    let call = a
        .download_leaderboard_entries(feet.handle, EntriesRequest::Global { start: 1, end: 5 })
        .unwrap();
    assert_eq!(downloaded(answer(&a, call)), Err(EResult::NoConnection));
    let call = a.find_leaderboard("Quickest Win").unwrap();
    assert!(matches!(
        answer(&a, call),
        Event::LeaderboardFindResult {
            is_error: true,
            result_code: EResult::NoConnection,
            ..
        }
    ));

    // The upload is journaled at once, before any answer.
    let call = a
        .upload_leaderboard_score(feet.handle, UploadMethod::KeepBest, 321, &[1])
        .unwrap();
    assert_eq!(a.unsent_leaderboard_scores(), 1);
    let journaled = env.journaled_scores(user(0));
    assert_eq!(journaled.len(), 1);
    // By name too, though the name was never looked up.
    let by_name = a
        .upload_leaderboard_score_by_name("quickest win", UploadMethod::KeepBest, 42, &[])
        .unwrap();
    assert_eq!(a.unsent_leaderboard_scores(), 2);

    server.restart().unwrap();
    let events = pump_until(&a, |e| {
        e.iter()
            .filter(|e| matches!(e, Event::LeaderboardScoreUploaded { .. }))
            .count()
            >= 2
    });
    let ups: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::LeaderboardScoreUploaded { .. }))
        .collect();
    assert_eq!(call_of(ups[0]), Some(call), "uploads are answered in order");
    assert_eq!(call_of(ups[1]), Some(by_name));
    let first = uploaded(ups[0].clone());
    assert_eq!(
        (first.result, first.changed, first.rank, first.count),
        (EResult::Ok, true, 1, 1)
    );
    let second = uploaded(ups[1].clone());
    assert_eq!((second.result, second.rank), (EResult::Ok, 1));
    assert_eq!(a.unsent_leaderboard_scores(), 0);
    assert!(env.journaled_scores(user(0)).is_empty());

    let on_server = server_entries(&server.url, feet.handle);
    assert_eq!(on_server["entry_count"], 1, "{on_server}");
    assert_eq!(on_server["entries"][0]["score"], 321);
    assert_eq!(on_server["entries"][0]["details"], json!([1]));
}

#[test]
fn an_upload_left_by_a_crash_is_sent_by_the_next_run_and_applied_once() {
    let env = Env::new();
    let mut server = env.server();
    let a = env.client(&server.url, user(0));
    let feet = find(&a, "Feet Traveled");
    server.stop().unwrap();
    a.upload_leaderboard_score(feet.handle, UploadMethod::KeepBest, 77, &[])
        .unwrap();
    a.upload_leaderboard_score_by_name("Quickest Win", UploadMethod::KeepBest, 9, &[])
        .unwrap();
    // Crash: gone before anything was sent.
    drop(a);
    let journaled = env.journaled_scores(user(0));
    assert_eq!(journaled.len(), 2);

    // The first upload reached the server, but its answer was lost: a
    // replay under the same key is answered from the record, not applied again.
    server.restart().unwrap();
    let token = Http::new(&server.url)
        .dev_token(480, &user(0).to_string())
        .unwrap();
    let (status, first) = Http::new(&server.url)
        .send(
            "POST",
            &format!(
                "/api/v1/apps/480/leaderboards/{}/users/{}/score",
                feet.handle,
                user(0)
            ),
            Some(&token),
            &[("Idempotency-Key", journaled[0].idempotency_key.as_str())],
            // The body byte for byte as the SDK sends it.
            r#"{"score":77,"details":[],"method":"KeepBest"}"#,
        )
        .unwrap();
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["replayed"], false);

    let a = env.client(&server.url, user(0));
    assert_eq!(a.unsent_leaderboard_scores(), 2);
    let events = pump_until(&a, |e| {
        e.iter()
            .filter(|e| matches!(e, Event::LeaderboardScoreUploaded { .. }))
            .count()
            >= 2
    });
    let ups: Vec<Uploaded> = events
        .into_iter()
        .filter(|e| matches!(e, Event::LeaderboardScoreUploaded { call: None, .. }))
        .map(uploaded)
        .collect();
    assert_eq!(ups.len(), 2, "an earlier run's uploads have no call");
    assert_eq!(
        (ups[0].result, ups[0].changed, ups[0].rank, ups[0].count),
        (EResult::Ok, true, 1, 1),
        "the replay answers as the first attempt did"
    );
    assert_eq!((ups[1].result, ups[1].rank), (EResult::Ok, 1));
    assert!(env.journaled_scores(user(0)).is_empty());
    let on_server = server_entries(&server.url, feet.handle);
    assert_eq!(on_server["entry_count"], 1, "{on_server}");
    assert_eq!(on_server["entries"][0]["score"], 77);
}
