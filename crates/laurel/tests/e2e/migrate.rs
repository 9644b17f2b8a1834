//! `laurel migrate`: a SQLite database with several apps and hundreds of
//! users is copied into PostgreSQL and back into a fresh SQLite file, and
//! every user is compared; refusals leave the target as it was.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use laurel_core::leaderboard::{
    BoardName, BoardPeriod, BoardWrites, DisplayType, LeaderboardDef, SortMethod, UploadMethod,
};
use laurel_core::{
    AppId, BatchEntry, ResetScope, Schema, SchemaDoc, StatValue, SteamId, StoreBatch, UserProgress,
    WriteAuthority,
};
use laurel_store::{
    Board, GlobalStatsQuery, StatTotal, Store, StoreReply, StoreRequest, StoredEntry, UploadRequest,
};
use laurel_store_postgres::{PostgresOptions, PostgresStore};
use laurel_store_sqlite::{SqliteOptions, SqliteStore};
use laurel_testkit::postgres::PostgresServer;

use crate::bin;

const NOW: i64 = 1_700_000_000;

/// Every stat kind (aggregated ones with defaults that are not zero), a
/// server-only stat, achievements that may be cleared, one bound to a stat.
const GAME_SCHEMA: &str = r#"{
  "app": { "name": "Game", "allow_achievement_clear": true },
  "stats": [
    { "name": "Kills", "type": "int", "default": 10, "min": 0, "increment_only": true, "aggregated": true },
    { "name": "Score", "type": "int", "min": -1000000, "max": 1000000, "aggregated": true },
    { "name": "Distance", "type": "float", "default": 0.5, "aggregated": true },
    { "name": "Ratio", "type": "float" },
    { "name": "Speed", "type": "avgrate", "window": 3600, "aggregated": true },
    { "name": "Rank", "type": "int", "set_by": "server" }
  ],
  "achievements": [
    { "name": "ACH_WIN", "display_name": { "english": "Win" }, "description": { "english": "" } },
    { "name": "ACH_LOSE", "display_name": { "english": "Lose" }, "description": { "english": "" } },
    { "name": "ACH_FAR", "display_name": { "english": "Far" }, "description": { "english": "" },
      "progress": { "stat": "Distance", "max": 1000 } },
    { "name": "ACH_COLLECT", "display_name": { "english": "Collect" }, "description": { "english": "" } }
  ],
  "leaderboards": [
    { "name": "Feet Traveled", "sort": "descending" },
    { "name": "Daily Dash", "sort": "ascending", "display": "milliseconds", "period": "daily" }
  ]
}"#;

const SIDE_SCHEMA: &str = r#"{
  "app": { "name": "Side" },
  "stats": [ { "name": "Level", "type": "int", "min": 0, "aggregated": true } ],
  "achievements": [
    { "name": "A", "display_name": { "english": "A" }, "description": { "english": "" } },
    { "name": "B", "display_name": { "english": "B" }, "description": { "english": "" } }
  ]
}"#;

const KEYS_ONLY_SCHEMA: &str = r#"{
  "app": { "name": "Keys only" },
  "stats": [],
  "achievements": [
    { "name": "A", "display_name": { "english": "A" }, "description": { "english": "" } }
  ]
}"#;

const GAME: u32 = 480;
const SIDE: u32 = 481;
const KEYS_ONLY: u32 = 482;

fn app(id: u32) -> AppId {
    AppId::new(id).expect("app id")
}

fn schema(json: &str) -> Schema {
    Schema::from_doc(&SchemaDoc::from_json(json).expect("parses")).expect("valid")
}

fn laurel(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().expect("run laurel")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime")
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// Distinct Steam ids: ordinary ones, small ones, and ids on both sides of
/// `i64::MAX` (stored negative by both stores).
fn steam_id(i: u64) -> u64 {
    match i % 5 {
        0 => 76_561_197_960_265_728 + i,
        1 => (1 << 63) + i,
        2 => u64::MAX - i,
        3 => i + 1,
        _ => i64::MAX as u64 - i,
    }
}

/// A small deterministic generator, so that every user differs.
fn mix(i: u64) -> u64 {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5851_F42D_4C95_7F2D;
    x ^= x >> 29;
    x.wrapping_mul(0xBF58_476D_1CE4_E5B9) >> 16
}

fn set(name: &str, value: f64) -> BatchEntry {
    BatchEntry::SetStat {
        name: name.into(),
        value,
    }
}

fn unlock(name: &str) -> BatchEntry {
    BatchEntry::UnlockAchievement { name: name.into() }
}

fn request(
    app: AppId,
    user: SteamId,
    key: &str,
    entries: Vec<BatchEntry>,
    now: i64,
) -> StoreRequest {
    StoreRequest {
        app,
        user,
        batch: StoreBatch { entries },
        authority: WriteAuthority::User,
        idempotency_key: laurel_core::IdempotencyKey::from_stored(key.to_owned()),
        fingerprint: laurel_core::Fingerprint::from_stored(format!("fingerprint of {key}")),
        now,
    }
}

async fn applied(store: &dyn Store, request: StoreRequest) {
    let key = request.idempotency_key.clone();
    match store.store(request).await {
        Ok(StoreReply::Applied { .. }) => {}
        other => panic!("store {key}: {other:?}"),
    }
}

/// The writes of the `i`th user of the game: stats of every kind (`-0.0`
/// included), unlocks with their times, progress, clears, a server-only
/// stat, resets.
async fn play_game(store: Arc<dyn Store>, i: u64) {
    let (game, user) = (app(GAME), SteamId::new(steam_id(i)).expect("id"));
    let r = mix(i);
    let now = NOW + i as i64;
    let distance = if i.is_multiple_of(7) {
        -0.0
    } else {
        (r % 10_000) as f64 / 8.0
    };
    let ratio = if i.is_multiple_of(11) {
        -0.0
    } else {
        (i as f64) * 0.1 - 7.3
    };
    let mut first = vec![
        set("Kills", 10.0 + (r % 50) as f64),
        set("Distance", distance),
        set("Ratio", ratio),
        BatchEntry::UpdateAvgRate {
            name: "Speed".into(),
            count: (r % 100) as f64 * 0.37,
            session_seconds: 1.0 + (r % 600) as f64,
        },
    ];
    if i.is_multiple_of(2) {
        first.push(unlock("ACH_WIN"));
    }
    if i.is_multiple_of(3) {
        first.push(BatchEntry::IndicateProgress {
            name: "ACH_COLLECT".into(),
            current: (i % 9) as u32,
            max: 10,
        });
    }
    applied(&*store, request(game, user, "first", first, now)).await;
    if i.is_multiple_of(4) {
        let more = vec![
            set("Kills", 70.0 + (r % 9) as f64),
            set("Score", -(i as f64)),
            unlock("ACH_LOSE"),
        ];
        applied(&*store, request(game, user, "second", more, now + 100)).await;
    }
    if i.is_multiple_of(10) {
        let mut rank = request(game, user, "rank", vec![set("Rank", i as f64)], now + 200);
        rank.authority = WriteAuthority::Server;
        applied(&*store, rank).await;
    }
    if i.is_multiple_of(8) {
        let clear = vec![BatchEntry::ClearAchievement {
            name: "ACH_WIN".into(),
        }];
        applied(&*store, request(game, user, "clear", clear, now + 300)).await;
    }
    for (every, achievements) in [(13, false), (17, true)] {
        if i.is_multiple_of(every) {
            store
                .reset(
                    game,
                    user,
                    ResetScope::full(achievements),
                    now + 400,
                    laurel_store::AuditDraft::new(
                        "test",
                        "local",
                        laurel_store::audit::action::RESET,
                    ),
                )
                .await
                .expect("reset");
        }
    }
}

async fn play_side(store: Arc<dyn Store>, i: u64) {
    let (side, user) = (app(SIDE), SteamId::new(steam_id(i * 3)).expect("id"));
    let mut entries = vec![set("Level", (mix(i) % 40) as f64)];
    if i % 2 == 1 {
        entries.push(unlock("A"));
    }
    applied(&*store, request(side, user, "side", entries, NOW - 86_400)).await;
}

async fn board_of(store: &dyn Store, name: &str) -> Board {
    store
        .leaderboard(app(GAME), &BoardName::parse(name).expect("name"))
        .await
        .expect("find")
        .expect("the board")
}

async fn upload(store: &dyn Store, board: &Board, i: u64, score: i32, now: i64) {
    store
        .upload_score(UploadRequest {
            app: board.app,
            board: board.id,
            period: board.def.period.start(now).unwrap_or(0),
            user: SteamId::new(steam_id(i)).expect("id"),
            method: UploadMethod::ForceUpdate,
            score,
            details: (0..(i % 4) as i32).map(|d| d - 2).collect(),
            now,
            idempotency: None,
        })
        .await
        .expect("upload");
}

/// The game's leaderboards: its schema's two (Daily Dash in two periods)
/// and one a client made; a deleted entry (a tombstone, not copied); two
/// friends lists.
async fn play_boards(store: &dyn Store, game_users: u64) {
    let custom = LeaderboardDef {
        name: BoardName::parse("Custom Board").expect("name"),
        sort: SortMethod::Descending,
        display: DisplayType::Seconds,
        display_name: Some("Made by a client".into()),
        writes: BoardWrites::Trusted,
        period: BoardPeriod::None,
    };
    let (custom, _) = store
        .create_leaderboard(app(GAME), &custom)
        .await
        .expect("create");
    let (feet, dash) = (
        board_of(store, "Feet Traveled").await,
        board_of(store, "daily dash").await,
    );
    for i in 0..game_users {
        let score = (mix(i) % 1_000) as i32 - 100;
        upload(store, &feet, i, score, NOW + i as i64).await;
        if i % 3 == 0 {
            upload(store, &dash, i, score, NOW).await;
        }
        if i % 5 == 0 {
            upload(store, &dash, i, -score, NOW - 86_400).await;
        }
        if i < 4 {
            upload(store, &custom, i, i as i32, NOW).await;
        }
    }
    if game_users > 0 {
        let gone = SteamId::new(steam_id(0)).expect("id");
        let draft = laurel_store::AuditDraft::new("test", "local", "leaderboard.entry.delete");
        assert!(
            store
                .delete_leaderboard_entry(app(GAME), feet.id, 0, gone, draft)
                .await
                .expect("delete")
        );
    }
    let id = |i: u64| SteamId::new(steam_id(i)).expect("id");
    store
        .set_friends(app(GAME), id(1), &[id(2), id(3), id(7)])
        .await
        .expect("friends");
    store
        .set_friends(app(GAME), id(2), &[id(1)])
        .await
        .expect("friends");
}

/// The entries `play_boards` leaves for `game_users` users.
fn game_entries(game_users: u64) -> u64 {
    let feet = game_users.saturating_sub(1);
    let dash = (0..game_users).filter(|i| i % 3 == 0).count() as u64
        + (0..game_users).filter(|i| i % 5 == 0).count() as u64;
    feet + dash + game_users.min(4)
}

/// The summary line of the game app.
fn game_line(game_users: u64) -> String {
    format!(
        "app 480: {game_users} users, 2 keys copied, 3 leaderboards ({} entries), \
         2 friends lists, verified",
        game_entries(game_users)
    )
}

/// A SQLite database with three apps (`game_users` users in one, a few in
/// another, none in the third), keys (one revoked), leaderboards with
/// entries and friends lists in the first, and a signing secret.
fn build_source(path: &Path, game_users: u64, side_users: u64) {
    runtime().block_on(async {
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(path, SqliteOptions::default()).expect("open source"));
        store
            .put_schema(app(GAME), schema(GAME_SCHEMA))
            .await
            .expect("put");
        store
            .put_schema(app(SIDE), schema(SIDE_SCHEMA))
            .await
            .expect("put");
        store
            .put_schema(app(KEYS_ONLY), schema(KEYS_ONLY_SCHEMA))
            .await
            .expect("put");
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..game_users {
            tasks.spawn(play_game(Arc::clone(&store), i));
        }
        for i in 0..side_users {
            tasks.spawn(play_side(Arc::clone(&store), i));
        }
        while let Some(done) = tasks.join_next().await {
            done.expect("a user's writes");
        }
        play_boards(&*store, game_users).await;
        let tag = path.display().to_string();
        for (id, label) in [
            (GAME, "backend"),
            (GAME, "old"),
            (SIDE, "ci"),
            (KEYS_ONLY, "only"),
        ] {
            let hash = format!("hash of {label} {id} {tag}");
            store
                .create_key(app(id), label, &hash, NOW - 3_600)
                .await
                .expect("key");
        }
        let old = store.keys(app(GAME)).await.expect("keys")[1].id;
        assert!(store.revoke_key(app(GAME), old).await.expect("revoke"));
        store.signing_secret().await.expect("secret");
    });
}

async fn open_sqlite(path: &Path) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(path, SqliteOptions::default()).expect("open"))
}

async fn open_postgres(url: &str) -> Arc<dyn Store> {
    Arc::new(
        PostgresStore::open(PostgresOptions::new(url))
            .await
            .expect("open PostgreSQL"),
    )
}

fn same_value(a: &StatValue, b: &StatValue) -> bool {
    match (a, b) {
        (StatValue::Int(a), StatValue::Int(b)) => a == b,
        (StatValue::Float(a), StatValue::Float(b)) => a.to_bits() == b.to_bits(),
        (
            StatValue::AvgRate { count, seconds },
            StatValue::AvgRate {
                count: c,
                seconds: s,
            },
        ) => count.to_bits() == c.to_bits() && seconds.to_bits() == s.to_bits(),
        _ => false,
    }
}

/// Equal, stat values bit for bit.
fn assert_same_progress(got: &UserProgress, want: &UserProgress, context: &str) {
    assert_eq!(got, want, "{context}");
    for (name, value) in &want.stats {
        assert!(
            got.stats.get(name).is_some_and(|g| same_value(g, value)),
            "{context}: stat {name} is {:?}, want {value:?} bit for bit",
            got.stats.get(name)
        );
    }
}

/// Every user of every app, their progress, the keys, the secret and the
/// global figures are the same in both stores; key ids too when `same_ids`.
async fn assert_same_stores(a: &dyn Store, b: &dyn Store, same_ids: bool) -> u64 {
    let apps = a.apps().await.expect("apps");
    assert_eq!(b.apps().await.expect("apps"), apps);
    let mut compared = 0;
    for summary in &apps {
        let id = summary.app;
        let users = a.users(id, None, 100_000).await.expect("users");
        assert_eq!(b.users(id, None, 100_000).await.expect("users"), users);
        assert_eq!(users.len() as u64, summary.users);
        for &user in &users {
            let want = a.progress(id, user).await.expect("progress");
            let got = b.progress(id, user).await.expect("progress");
            assert_same_progress(&got, &want, &format!("app {id} user {user}"));
            compared += 1;
        }
        let (keys_a, keys_b) = (
            a.stored_keys(id).await.expect("keys"),
            b.stored_keys(id).await.expect("keys"),
        );
        assert_eq!(keys_a.len(), keys_b.len());
        for (ka, kb) in keys_a.iter().zip(&keys_b) {
            assert_eq!(ka.secret_hash, kb.secret_hash);
            let mut kb = kb.record.clone();
            if !same_ids {
                kb.id = ka.record.id;
            }
            assert_eq!(kb, ka.record);
        }
        assert_eq!(
            b.global_achievements(id).await.expect("global"),
            a.global_achievements(id).await.expect("global")
        );
        let totals = |s: Vec<laurel_store::GlobalStat>| -> BTreeMap<String, StatTotal> {
            s.into_iter().map(|g| (g.name, g.total)).collect()
        };
        let ta = totals(
            a.global_stats(id, GlobalStatsQuery::default())
                .await
                .expect("stats"),
        );
        let tb = totals(
            b.global_stats(id, GlobalStatsQuery::default())
                .await
                .expect("stats"),
        );
        assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
        for (name, total) in &ta {
            match (total, &tb[name]) {
                (StatTotal::Int(x), StatTotal::Int(y)) => assert_eq!(x, y, "{name}"),
                (StatTotal::Float(x), StatTotal::Float(y)) => {
                    assert!(
                        (x - y).abs() <= 1e-9 * x.abs().max(1.0),
                        "{name}: {x} vs {y}"
                    )
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }
    assert_eq!(
        b.signing_secret().await.expect("secret"),
        a.signing_secret().await.expect("secret")
    );
    compared
}

/// Every board of every app (by name, with its settings), its entries in
/// every period exactly, and the friends lists are the same in both
/// stores; answers the entries compared.
async fn assert_same_boards(a: &dyn Store, b: &dyn Store) -> u64 {
    let sorted = |mut e: Vec<StoredEntry>| {
        e.sort_by_key(|e| (e.period, e.user.get()));
        e
    };
    let mut compared = 0;
    for summary in a.apps().await.expect("apps") {
        let id = summary.app;
        let boards_a = a.leaderboards(id, NOW).await.expect("boards");
        let boards_b = b.leaderboards(id, NOW).await.expect("boards");
        assert_eq!(boards_a.len(), boards_b.len(), "app {id}");
        for (x, y) in boards_a.iter().zip(&boards_b) {
            assert_eq!(x.board.def, y.board.def, "app {id}");
            assert_eq!(x.board.def.name.as_str(), y.board.def.name.as_str());
            assert_eq!(x.entries, y.entries, "{}", x.board.def.name);
            let entries = sorted(a.stored_entries(id, x.board.id).await.expect("entries"));
            assert_eq!(
                sorted(b.stored_entries(id, y.board.id).await.expect("entries")),
                entries,
                "{}",
                x.board.def.name
            );
            compared += entries.len() as u64;
        }
        assert_eq!(
            b.friend_lists(id).await.expect("friends"),
            a.friend_lists(id).await.expect("friends")
        );
    }
    compared
}

fn assert_migrated(out: &Output, lines: &[&str]) {
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().collect::<Vec<_>>(), lines, "{stdout}");
}

#[test]
fn sqlite_to_postgres_and_back_keeps_every_user() {
    let dir = tempfile::tempdir().expect("tmp");
    let source = dir.path().join("source.sqlite3");
    build_source(&source, 420, 80);
    let postgres = PostgresServer::shared().database();

    let started = Instant::now();
    let out = laurel(&["migrate", "--from", &sqlite_url(&source), "--to", &postgres]);
    let to_postgres = started.elapsed();
    assert_migrated(
        &out,
        &[
            game_line(420).as_str(),
            "app 481: 80 users, 1 keys copied, verified",
            "app 482: 0 users, 1 keys copied, verified",
        ],
    );
    assert!(
        text(&out.stderr).contains("app 480: 420 of 420 users copied"),
        "{}",
        text(&out.stderr)
    );

    // `laurel user show` says the same from both databases (ids above
    // i64::MAX among them).
    for i in (0..420).step_by(19).chain([1, 2, 4]) {
        let user = steam_id(i).to_string();
        let show = |database: &str| {
            let out = laurel(&["user", "show", "480", &user, "--database", database]);
            assert!(out.status.success(), "{}", text(&out.stderr));
            text(&out.stdout)
        };
        assert_eq!(show(&sqlite_url(&source)), show(&postgres), "user {user}");
    }

    let back = dir.path().join("back").join("laurel.sqlite3");
    let started = Instant::now();
    let out = laurel(&["migrate", "--from", &postgres, "--to", &sqlite_url(&back)]);
    let to_sqlite = started.elapsed();
    assert_migrated(
        &out,
        &[
            game_line(420).as_str(),
            "app 481: 80 users, 1 keys copied, verified",
            "app 482: 0 users, 1 keys copied, verified",
        ],
    );
    eprintln!("SQLite → PostgreSQL {to_postgres:?}, PostgreSQL → SQLite {to_sqlite:?}");

    runtime().block_on(async {
        let (original, middle, round_trip) = (
            open_sqlite(&source).await,
            open_postgres(&postgres).await,
            open_sqlite(&back).await,
        );
        // Fresh targets keep key ids too.
        let compared = assert_same_stores(&*original, &*middle, true).await;
        assert_eq!(compared, 500);
        assert_eq!(
            assert_same_stores(&*original, &*round_trip, true).await,
            500
        );
        let entries = game_entries(420);
        assert_eq!(assert_same_boards(&*original, &*middle).await, entries);
        assert_eq!(assert_same_boards(&*original, &*round_trip).await, entries);
        // The copy carries on where the source stopped: the next change of
        // a board sorts after every copied one.
        let feet = board_of(&*middle, "Feet Traveled").await;
        let newest = middle
            .stored_entries(app(GAME), feet.id)
            .await
            .expect("entries")
            .iter()
            .map(|e| e.entry.seq)
            .max()
            .expect("entries");
        upload(&*middle, &feet, 0, 5, NOW).await;
        let changes = middle
            .board_changes(app(GAME), feet.id, 0, 0)
            .await
            .expect("changes");
        let later = changes.changes.iter().filter(|c| c.seq > newest).count();
        assert_eq!(later, 1);
        // The history of aggregated stats starts again on the target.
        let history = GlobalStatsQuery {
            names: Vec::new(),
            history: Some((NOW / 86_400 - 1, NOW / 86_400 + 1)),
        };
        let moved = |stats: Vec<laurel_store::GlobalStat>| {
            stats
                .iter()
                .any(|s| s.history.iter().any(|d| d.change.as_f64() != 0.0))
        };
        assert!(moved(
            original
                .global_stats(app(GAME), history.clone())
                .await
                .expect("history")
        ));
        assert!(!moved(
            round_trip
                .global_stats(app(GAME), history)
                .await
                .expect("history")
        ));
    });
}

/// What a refused migration must not change.
async fn snapshot(store: &dyn Store) -> (Vec<laurel_store::AppSummary>, Vec<String>, Vec<u8>) {
    let apps = store.apps().await.expect("apps");
    let mut keys = Vec::new();
    for a in &apps {
        for k in store.stored_keys(a.app).await.expect("keys") {
            keys.push(format!("{} {:?} {}", k.record.id, k.record, k.secret_hash));
        }
    }
    (apps, keys, store.signing_secret().await.expect("secret"))
}

#[test]
fn a_target_with_users_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().expect("tmp");
    let (first, second) = (dir.path().join("first.db"), dir.path().join("second.db"));
    build_source(&first, 12, 3);
    build_source(&second, 5, 0);
    let postgres = PostgresServer::shared().database();
    let out = laurel(&["migrate", "--from", &sqlite_url(&first), "--to", &postgres]);
    assert_migrated(
        &out,
        &[
            game_line(12).as_str(),
            "app 481: 3 users, 1 keys copied, verified",
            "app 482: 0 users, 1 keys copied, verified",
        ],
    );
    let before = runtime().block_on(async { snapshot(&*open_postgres(&postgres).await).await });

    // Apps 480 and 481 have users in the target: refused, dry run or not,
    // before anything is written (not even the other apps, nor the secret).
    let second_url = sqlite_url(&second);
    for dry_run in [false, true] {
        let mut args = vec!["migrate", "--from", &second_url, "--to", &postgres];
        if dry_run {
            args.push("--dry-run");
        }
        let out = laurel(&args);
        assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
        let err = text(&out.stderr);
        assert!(
            err.contains("app 480 (12 users), app 481 (3 users);")
                && err.contains("nothing was written"),
            "{err}"
        );
        assert!(text(&out.stdout).is_empty());
    }
    let out = laurel(&[
        "migrate",
        "--from",
        &sqlite_url(&second),
        "--to",
        &postgres,
        "--app",
        "481",
        "--app",
        "480",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let after = runtime().block_on(async { snapshot(&*open_postgres(&postgres).await).await });
    assert_eq!(after, before);

    // An app without users may be migrated again (a rerun): its keys are
    // there already, the schema moves on a version.
    let out = laurel(&[
        "migrate",
        "--from",
        &sqlite_url(&first),
        "--to",
        &postgres,
        "--app",
        "482",
    ]);
    assert_migrated(
        &out,
        &["app 482: 0 users, 0 keys copied (1 were there already), verified"],
    );
    // Another source's key in it is a difference: exit 1, listed.
    let out = laurel(&[
        "migrate",
        "--from",
        &sqlite_url(&second),
        "--to",
        &postgres,
        "--app",
        "482",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("app 482: the copy differs from the source")
            && err.contains("which the source does not"),
        "{err}"
    );
    // The second source's secret was refused: the target kept the first's.
    assert!(
        err.contains("already has a token-signing secret of its own"),
        "{err}"
    );
    let secret = runtime().block_on(async {
        open_postgres(&postgres)
            .await
            .signing_secret()
            .await
            .expect("secret")
    });
    assert_eq!(secret, before.2);
}

#[test]
fn migrate_failures_exit_with_their_codes() {
    let dir = tempfile::tempdir().expect("tmp");
    let source = dir.path().join("source.db");
    build_source(&source, 3, 1);
    let from = sqlite_url(&source);
    let new_target = dir.path().join("target.db");
    let to = sqlite_url(&new_target);

    let out = Command::new(bin())
        .args(["migrate", "--help"])
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("Usage:") && text(&out.stdout).contains("Exit codes"));

    // PostgreSQL that does not answer (nothing listens on port 1): exit 1
    // at once, without the password.
    let started = Instant::now();
    let out = laurel(&[
        "migrate",
        "--from",
        &from,
        "--to",
        "postgres://laurel:hunter2secret@127.0.0.1:1/laurel",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("opening the database"), "{err}");
    assert!(!err.contains("hunter2secret"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));

    for (args, code, says) in [
        (
            vec!["--from", &from, "--to", "mysql://u:pw@h/db"],
            2,
            "--to: must be sqlite://PATH",
        ),
        (
            vec!["--from", "sqlite://", "--to", &to],
            2,
            "--from: must be sqlite://PATH",
        ),
        (vec!["--from", &from], 2, "--to"),
        (vec!["--from", &from, "--to", &from], 2, "the same database"),
        (
            vec!["--from", "sqlite://nowhere/laurel.db", "--to", &to],
            4,
            "no database at",
        ),
        (
            vec!["--from", &from, "--to", &to, "--app", "999"],
            4,
            "app 999 is not in the source",
        ),
        (vec!["--from", &from, "--to", &to, "--app", "abc"], 3, "APP"),
    ] {
        let mut full = vec!["migrate"];
        full.extend(args.iter().copied());
        let out = laurel(&full);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let err = text(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains(":pw@"), "{err}");
    }
    assert!(!new_target.exists(), "refusals create no target");

    // A dry run says what it would copy and creates nothing.
    let out = laurel(&[
        "migrate",
        "--from",
        &from,
        "--to",
        &to,
        "--dry-run",
        "--app",
        "480",
    ]);
    assert_migrated(
        &out,
        &["app 480: 3 users, 2 keys to copy (dry run: nothing written)"],
    );
    assert!(!new_target.exists());
}
