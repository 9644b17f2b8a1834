//! `laurel-bench leaderboards`: ranks at scale and durable uploads.
//!
//! 1. **Ranks at scale**, on SQLite and on PostgreSQL (one node): a board of
//!    `--entries` entries (1,000,000 by default, written with the store's
//!    import), then, one request at a time, `--samples` of each: the top
//!    page (ranks 1–25), a 25-row page around the user at the median, a
//!    for-users request of 100 random users, and an upload (ForceUpdate of a
//!    random score by a random user, durable) with the rank it returns. Each
//!    goes through `laurel_store::ranks::Leaderboards` over the store — what
//!    a server node does for the routes, without HTTP. The baseline, in the
//!    same run: the SQL that counts the entries ahead of the median user
//!    (what a rank costs without the index).
//! 2. **Uploads** on SQLite: the one-commit-per-transaction baseline (the
//!    upload's statements on one connection, WAL, `synchronous=FULL`, one
//!    thread) against the store's uploads from `--clients` concurrent tasks
//!    on one hot board (group commit).
//! 3. **Uploads on one hot board: PostgreSQL** (one node): the store's
//!    uploads from `--clients` tasks on one board against `pgbench` running
//!    the same upload transaction, statement for statement
//!    ([`pg_upload_script`]), on the same cluster, with the same users,
//!    each of whom has an entry beforehand on both sides; `--rounds`
//!    alternating rounds, pooled.
//!
//! Figures are printed, never asserted.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use laurel_core::leaderboard::{BoardName, Entry, UploadMethod};
use laurel_core::{AppId, Schema, SchemaDoc, SteamId, UnixTime};
use laurel_store::{Board, Leaderboards, Scope, Store, StoredEntry, UploadRequest};
use laurel_store_postgres::{PostgresOptions, PostgresStore};
use laurel_store_sqlite::{SqliteOptions, SqliteStore};
use laurel_testkit::postgres::{PostgresServer, SUPERUSER, find_bin_dir};

use crate::cli::{BoardFlags, Cli};
use crate::host::{loadavg, machine};
use crate::stats::Latencies;

const APP: u32 = 480;
const FIRST_USER: u64 = 76_561_197_960_265_728;
const NOW: UnixTime = 1_760_000_000;
const BOARD: &str = "Bench Board";
const HOT: &str = "Hot Board";

const SCHEMA: &str = r#"{
  "app": { "name": "Leaderboard bench" },
  "stats": [],
  "achievements": [],
  "leaderboards": [
    { "name": "Bench Board", "sort": "descending" },
    { "name": "Hot Board", "sort": "descending" }
  ]
}"#;

/// splitmix64: deterministic, so every run builds the same board.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn user(i: u64) -> Result<SteamId> {
    SteamId::new(FIRST_USER + i).map_err(|e| anyhow!("{e}"))
}

fn app() -> Result<AppId> {
    AppId::new(APP).map_err(|e| anyhow!("{e}"))
}

fn schema() -> Result<Schema> {
    let doc = SchemaDoc::from_json(SCHEMA).map_err(|e| anyhow!("bench schema: {e:?}"))?;
    Schema::from_doc(&doc).map_err(|e| anyhow!("bench schema: {e:?}"))
}

async fn board(store: &dyn Store, name: &str) -> Result<Board> {
    let name = BoardName::parse(name).map_err(|e| anyhow!("{e}"))?;
    store
        .leaderboard(app()?, &name)
        .await?
        .ok_or_else(|| anyhow!("the schema's board {name} is missing"))
}

pub(crate) fn run(cli: &Cli, flags: &BoardFlags) -> Result<bool> {
    let duration = Duration::from_secs(if cli.quick { 2 } else { cli.duration.max(1) });
    let samples = if cli.quick { 200 } else { flags.samples.max(1) };
    let entries = flags.entries.max(100);
    let rounds = if cli.quick { 1 } else { cli.rounds.max(1) };
    let parent = cli.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let work = crate::host::work_dir(&parent, "laurel-bench-boards-")?;
    println!("laurel-bench leaderboards — {}", machine());
    println!(
        "{entries} entries; {samples} samples per request kind; uploads {} s with {} clients; load average {}",
        duration.as_secs(),
        cli.clients,
        loadavg()
    );
    if cfg!(debug_assertions) {
        println!("WARNING: this is a debug build of laurel-bench; run it with --release");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let sqlite: Arc<dyn Store> = Arc::new(SqliteStore::open(
            &work.path().join("ranks.sqlite3"),
            SqliteOptions::default(),
        )?);
        if !flags.uploads_only {
            println!("\n## Ranks at scale: SQLite");
            ranks_at_scale(&*sqlite, entries, samples, |median| {
                sqlite_count_ahead(&work.path().join("ranks.sqlite3"), median)
            })
            .await?;
        }
        drop(sqlite);

        if !flags.no_postgres {
            let server = PostgresServer::try_start().context("starting PostgreSQL")?;
            let url = server.url(&server.create_database()?);
            let pg: Arc<dyn Store> =
                Arc::new(PostgresStore::open(PostgresOptions::new(url.clone())).await?);
            if !flags.uploads_only {
                println!("\n## Ranks at scale: PostgreSQL (one node)");
                let psql_server = &server;
                ranks_at_scale(&*pg, entries, samples, |median| {
                    pg_count_ahead(psql_server, &url, median)
                })
                .await?;
            }
            drop(pg);
            pg_hot_board(&server, work.path(), cli.clients, duration, rounds).await?;
        }

        println!("\n## Uploads on one hot board: SQLite");
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(
            &work.path().join("uploads.sqlite3"),
            SqliteOptions::default(),
        )?);
        let ratio = alternating_rounds(
            rounds,
            "baseline (1 commit/tx, 1 thread)",
            |round| {
                let path = work.path().join(format!("baseline-{round}.sqlite3"));
                std::future::ready(sqlite_upload_baseline(&path, duration))
            },
            || uploads(Arc::clone(&store), cli.clients, duration),
        )
        .await?;
        println!(
            "ratio Laurel / baseline, {rounds} rounds pooled, {} clients: {ratio:.2} (the plan: at least 2)",
            cli.clients
        );
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(true)
}

/// The median user's place, for the baseline's count.
struct Median {
    board: i64,
    score: i32,
    seq: u64,
}

async fn ranks_at_scale(
    store: &dyn Store,
    entries: u64,
    samples: usize,
    count_ahead: impl Fn(&Median) -> Result<Duration>,
) -> Result<()> {
    let app = app()?;
    store.put_schema(app, schema()?).await?;
    let board = board(store, BOARD).await?;
    let mut rng = Rng(15);
    let mut rows = Vec::with_capacity(usize::try_from(entries)?);
    for i in 0..entries {
        rows.push(StoredEntry {
            period: 0,
            user: user(i)?,
            entry: Entry {
                score: i32::try_from(rng.below(10_000_000))?,
                details: Vec::new(),
                set_at: NOW,
                seq: i + 1,
            },
        });
    }
    let mut order: Vec<(i32, u64, u64)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (-r.entry.score, r.entry.seq, i as u64))
        .collect();
    order.sort_unstable();
    let (neg_score, median_seq, median_i) = order[order.len() / 2];
    let median_user = user(median_i)?;
    let t = Instant::now();
    store.import_entries(app, board.id, &rows).await?;
    println!(
        "imported {entries} entries in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    drop(rows);

    let boards = Leaderboards::new();
    let t = Instant::now();
    let first = boards
        .download(store, &board, 0, &Scope::Global { start: 1, end: 25 })
        .await?;
    println!(
        "first answer (loads the index): {:.2} s, {} entries",
        t.elapsed().as_secs_f64(),
        first.entry_count
    );

    let mut kinds: Vec<(&str, Latencies)> = Vec::new();
    let mut time = |f: Vec<u32>, name: &'static str| kinds.push((name, Latencies::new(f)));

    let mut lat = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        let d = boards
            .download(store, &board, 0, &Scope::Global { start: 1, end: 25 })
            .await?;
        lat.push(micros(t));
        if d.entries.len() != 25 {
            return Err(anyhow!("top page had {} rows", d.entries.len()));
        }
    }
    time(lat, "top page (ranks 1-25)");

    let mut lat = Vec::with_capacity(samples);
    let mut median_rank = 0;
    for _ in 0..samples {
        let t = Instant::now();
        let d = boards
            .download(
                store,
                &board,
                0,
                &Scope::AroundUser {
                    user: median_user,
                    before: -12,
                    after: 12,
                },
            )
            .await?;
        lat.push(micros(t));
        median_rank = d.entries.get(12).map_or(0, |e| e.rank);
        if d.entries.len() != 25 {
            return Err(anyhow!("around-user page had {} rows", d.entries.len()));
        }
    }
    time(lat, "25 around the median user");

    let mut lat = Vec::with_capacity(samples);
    for _ in 0..samples {
        let users = (0..100)
            .map(|_| user(rng.below(entries)))
            .collect::<Result<Vec<_>>>()?;
        let t = Instant::now();
        boards
            .download(store, &board, 0, &Scope::Users(users))
            .await?;
        lat.push(micros(t));
    }
    time(lat, "for-users, 100 users");

    let mut lat = Vec::with_capacity(samples);
    for _ in 0..samples {
        let request = force_update(&board, user(rng.below(entries))?, rng.below(10_000_000))?;
        let t = Instant::now();
        let up = boards.upload(store, &board, request).await?;
        lat.push(micros(t));
        if up.rank == 0 {
            return Err(anyhow!("an upload answered rank 0"));
        }
    }
    time(lat, "upload (durable) with its rank");

    // The same uploads without the rank: what the durable write costs alone.
    let mut lat = Vec::with_capacity(samples);
    for _ in 0..samples {
        let request = force_update(&board, user(rng.below(entries))?, rng.below(10_000_000))?;
        let t = Instant::now();
        store.upload_score(request).await?;
        lat.push(micros(t));
    }
    time(lat, "upload (durable), the store's write alone");

    let mut base = Vec::new();
    let median = Median {
        board: board.id,
        score: -neg_score,
        seq: median_seq,
    };
    for _ in 0..samples.min(50) {
        base.push(u32::try_from(count_ahead(&median)?.as_micros()).unwrap_or(u32::MAX));
    }
    let base = Latencies::new(base);
    println!("median user's rank: {median_rank}");
    println!("| request | p50 µs | p99 µs | max µs |");
    println!("|---|---|---|---|");
    for (name, l) in &kinds {
        println!("| {name} | {} | {} | {} |", l.p50(), l.p99(), l.max());
    }
    println!(
        "| baseline: SQL count of the entries ahead of the median user | {} | {} | {} |",
        base.p50(),
        base.p99(),
        base.max()
    );
    if let Some((_, around)) = kinds.get(1) {
        println!(
            "ratio: baseline count p50 / around-user page p50 = {:.1}",
            f64::from(base.p50()) / f64::from(around.p50().max(1))
        );
    }
    Ok(())
}

/// A durable `ForceUpdate` of `score` by `user`, in the board's only period.
fn force_update(board: &Board, user: SteamId, score: u64) -> Result<UploadRequest> {
    Ok(UploadRequest {
        app: board.app,
        board: board.id,
        period: 0,
        user,
        method: UploadMethod::ForceUpdate,
        score: i32::try_from(score)?,
        details: Vec::new(),
        now: NOW,
        idempotency: None,
    })
}

fn micros(t: Instant) -> u32 {
    u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX)
}

/// The SQL a rank costs without the index: entries ahead of the median.
fn sqlite_count_ahead(path: &Path, m: &Median) -> Result<Duration> {
    let db = rusqlite::Connection::open(path)?;
    db.busy_timeout(Duration::from_secs(30))?;
    // The best a count can do: an index in rank order (the store has none).
    db.execute_batch(RANK_INDEX_SQLITE)?;
    let t = Instant::now();
    let n: i64 = db.query_row(
        COUNT_AHEAD_SQLITE,
        rusqlite::params![m.board, m.score, m.seq as i64],
        |r| r.get(0),
    )?;
    let took = t.elapsed();
    if n <= 0 {
        return Err(anyhow!("count ahead of the median was {n}"));
    }
    Ok(took)
}

fn pg_count_ahead(server: &PostgresServer, url: &str, m: &Median) -> Result<Duration> {
    let db = url.rsplit('/').next().unwrap_or_default();
    let sql = COUNT_AHEAD_PG
        .replace("$1", &m.board.to_string())
        .replace("$2", &m.score.to_string())
        .replace("$3", &m.seq.to_string());
    // The best a count can do: an index in rank order (the store has none).
    server.psql(db, RANK_INDEX_PG)?;
    // Time measured by the server (EXPLAIN ANALYZE), so that psql's start
    // is not counted.
    let out = server.psql(db, &format!("EXPLAIN (ANALYZE, TIMING OFF) {sql}"))?;
    let ms: f64 = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Execution Time:"))
        .and_then(|v| v.trim().trim_end_matches("ms").trim().parse().ok())
        .ok_or_else(|| anyhow!("no execution time in {out}"))?;
    Ok(Duration::from_secs_f64(ms / 1000.0))
}

/// Users per upload client: client `c` uploads for `FIRST_USER + c × 1,000,000 + 0..USERS_PER_CLIENT`.
const USERS_PER_CLIENT: u64 = 1000;

/// Gives every user an upload client will use an entry on the hot board.
async fn prefill_hot_board(store: &dyn Store, clients: usize) -> Result<Board> {
    let app = app()?;
    store.put_schema(app, schema()?).await?;
    let hot = board(store, HOT).await?;
    let mut entries = Vec::new();
    for c in 0..clients as u64 {
        for i in 0..USERS_PER_CLIENT {
            entries.push(StoredEntry {
                period: 0,
                user: user(c * 1_000_000 + i)?,
                entry: Entry {
                    score: 0,
                    details: Vec::new(),
                    set_at: NOW,
                    seq: entries.len() as u64 + 1,
                },
            });
        }
    }
    store.import_entries(app, hot.id, &entries).await?;
    Ok(hot)
}

/// The store's uploads on one hot board against pgbench running the same
/// transaction, each on its own database of one cluster, in `rounds`
/// alternating rounds (the first side changes every round) whose rates are
/// pooled, so that a drift of the machine weighs on both sides alike.
async fn pg_hot_board(
    server: &PostgresServer,
    work: &Path,
    clients: usize,
    duration: Duration,
    rounds: usize,
) -> Result<()> {
    println!("\n## Uploads on one hot board: PostgreSQL (one node)");
    let connect = |url: String| {
        let mut options = PostgresOptions::new(url);
        options.max_connections = clients.max(1) + 2;
        options
    };
    let laurel_db = server.create_database()?;
    let store: Arc<dyn Store> =
        Arc::new(PostgresStore::open(connect(server.url(&laurel_db))).await?);
    prefill_hot_board(&*store, clients).await?;

    let bench_db = server.create_database()?;
    let hot = {
        let store = PostgresStore::open(connect(server.url(&bench_db))).await?;
        prefill_hot_board(&store, clients).await?
    };
    let script = work.join("laurel-upload.pgbench.sql");
    std::fs::write(&script, pg_upload_script(hot.id))?;
    println!("pgbench script: {}", script.display());
    let ratio = alternating_rounds(
        rounds,
        "pgbench, the same transaction",
        |_| std::future::ready(pgbench(server, &bench_db, &script, clients, duration)),
        || uploads(Arc::clone(&store), clients, duration),
    )
    .await?;
    println!(
        "ratio Laurel / pgbench, {} rounds pooled, {clients} clients: {ratio:.2} (the plan: at least 0.7)",
        rounds.max(1)
    );
    Ok(())
}

/// `rounds` rounds of a baseline's rate against Laurel's uploads, the side
/// that goes first alternating, so that a drift of the machine weighs on
/// both alike; prints a row per round and answers the pooled ratio.
async fn alternating_rounds<B, BF, L, LF>(
    rounds: usize,
    baseline: &str,
    mut base: B,
    mut laurel: L,
) -> Result<f64>
where
    B: FnMut(usize) -> BF,
    BF: std::future::Future<Output = Result<f64>>,
    L: FnMut() -> LF,
    LF: std::future::Future<Output = Result<(f64, Latencies)>>,
{
    println!(
        "| round | {baseline} uploads/s | Laurel (store + rank) uploads/s | p50 µs | p99 µs | ratio |"
    );
    println!("|---|---|---|---|---|---|");
    let (mut base_total, mut laurel_total) = (0.0, 0.0);
    for round in 0..rounds.max(1) {
        let mut base_rate = 0.0;
        let mut ours = None;
        for side in 0..2 {
            if (side + round) % 2 == 0 {
                base_rate = base(round).await?;
            } else {
                ours = Some(laurel().await?);
            }
        }
        let (rate, lat) = ours.ok_or_else(|| anyhow!("no Laurel side ran"))?;
        println!(
            "| {} | {base_rate:.0} | {rate:.0} | {} | {} | {:.2} |",
            round + 1,
            lat.p50(),
            lat.p99(),
            rate / base_rate
        );
        base_total += base_rate;
        laurel_total += rate;
    }
    Ok(laurel_total / base_total)
}

/// One `pgbench` run of `script` on `db`; its transactions per second.
fn pgbench(
    server: &PostgresServer,
    db: &str,
    script: &Path,
    clients: usize,
    duration: Duration,
) -> Result<f64> {
    let pgbench = find_bin_dir()
        .map(|dir| dir.join("pgbench"))
        .ok()
        .filter(|p| p.is_file())
        .unwrap_or_else(|| "pgbench".into());
    let mut cmd = Command::new(&pgbench);
    cmd.args(["-n", "-M", "prepared"])
        .args(["-c", &clients.max(1).to_string(), "-j", "1"])
        .args(["-T", &(duration.as_secs().max(1) + 1).to_string()])
        .arg("-f")
        .arg(script)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &server.port().to_string(),
            "-U",
            SUPERUSER,
        ])
        .arg(db)
        .stdin(Stdio::null());
    let out = cmd
        .output()
        .with_context(|| format!("running {}", pgbench.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(anyhow!(
            "pgbench failed: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("tps = "))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow!("no tps in pgbench's output:\n{stdout}"))
}

/// The upload transaction `laurel-store-postgres` sends for a user who has
/// an entry (boards.rs: `LOCK_ENTRY` and `SELECT_BOARD`, then `WRITE_ENTRY`
/// and COMMIT), in the store's two round trips as two pipelines of prepared
/// statements (`-M prepared`). pgbench cannot use a result inside a
/// pipeline, so what the store decides from its reads is fixed: the entry
/// changes (`ForceUpdate`), in epoch 0, and is not new (every user has one
/// beforehand, so the count is not moved on either side). Client `c` is
/// the store bench's client `c`, with its users.
fn pg_upload_script(board: i64) -> String {
    format!(
        r#"-- Laurel's PostgreSQL upload (see crates/laurel-bench/src/boards.rs).
\set user {FIRST_USER} + :client_id * 1000000 + random(0, {last})
\set score random(0, 999999)
\set shard :user % 64
\startpipeline
BEGIN;
INSERT INTO board_entries (board_id, period_start, steam_id, score, details, set_at, seq, epoch) SELECT {board}, 0, :user, NULL, '{{}}', 0, 0, -1 WHERE EXISTS (SELECT 1 FROM boards WHERE id = {board} AND app_id = {APP}) ON CONFLICT (board_id, period_start, steam_id) DO UPDATE SET seq = board_entries.seq RETURNING score, array_to_json(details)::text, set_at, seq, epoch;
SELECT sort, epoch FROM boards WHERE id = {board} AND app_id = {APP};
\endpipeline
\startpipeline
WITH c AS (INSERT INTO board_count_shards (board_id, period_start, epoch, shard, entries) SELECT {board}, 0, 0, :shard, 1 WHERE false ON CONFLICT (board_id, period_start, epoch, shard) DO UPDATE SET entries = board_count_shards.entries + 1) INSERT INTO board_entries (board_id, period_start, steam_id, score, details, set_at, seq, epoch) VALUES ({board}, 0, :user, :score, '{{}}', {NOW}, nextval('board_seq'), 0) ON CONFLICT (board_id, period_start, steam_id) DO UPDATE SET score = excluded.score, details = excluded.details, set_at = excluded.set_at, seq = excluded.seq, epoch = excluded.epoch, xid = pg_current_xact_id() RETURNING seq;
COMMIT;
\endpipeline
"#,
        last = USERS_PER_CLIENT - 1
    )
}

/// Uploads from `clients` tasks on one hot board for `duration`.
async fn uploads(
    store: Arc<dyn Store>,
    clients: usize,
    duration: Duration,
) -> Result<(f64, Latencies)> {
    let app = app()?;
    store.put_schema(app, schema()?).await?;
    let board = Arc::new(board(&*store, HOT).await?);
    let boards = Arc::new(Leaderboards::new());
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (store, board, boards, stop, done) = (
            Arc::clone(&store),
            Arc::clone(&board),
            Arc::clone(&boards),
            Arc::clone(&stop),
            Arc::clone(&done),
        );
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(c as u64 + 1);
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let user = user(c as u64 * 1_000_000 + rng.below(USERS_PER_CLIENT))?;
                let request = force_update(&board, user, rng.below(1_000_000))?;
                let t = Instant::now();
                boards.upload(&*store, &board, request).await?;
                lat.push(micros(t));
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<Vec<u32>, anyhow::Error>(lat)
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = done.load(Ordering::Relaxed);
    let t = Instant::now();
    tokio::time::sleep(duration).await;
    let after = done.load(Ordering::Relaxed);
    let took = t.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for task in tasks {
        all.push(Latencies::new(task.await??));
    }
    Ok((
        (after - before) as f64 / took.as_secs_f64(),
        Latencies::merge(all),
    ))
}

/// The upload's statements on one connection, one commit per upload.
fn sqlite_upload_baseline(path: &Path, duration: Duration) -> Result<f64> {
    let db = rusqlite::Connection::open(path)?;
    db.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
         CREATE TABLE boards (id INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL);
         INSERT INTO boards VALUES (1, 0);
         CREATE TABLE entries (board_id INTEGER NOT NULL, period_start INTEGER NOT NULL,
           user_id INTEGER NOT NULL, score INTEGER, details BLOB NOT NULL, set_at INTEGER NOT NULL,
           seq INTEGER NOT NULL, PRIMARY KEY (board_id, period_start, user_id)) WITHOUT ROWID;
         CREATE INDEX entries_seq ON entries (board_id, period_start, seq);",
    )?;
    let mut rng = Rng(7);
    let deadline = Instant::now() + duration;
    let mut n = 0u64;
    let t = Instant::now();
    while Instant::now() < deadline {
        let user = i64::try_from(FIRST_USER + rng.below(32_000))?;
        let score = i64::try_from(rng.below(1_000_000))?;
        let tx = db.unchecked_transaction()?;
        let _old: Option<i64> = tx
            .query_row(
                "SELECT score FROM entries WHERE board_id = 1 AND period_start = 0 AND user_id = ?1",
                [user],
                |r| r.get(0),
            )
            .ok();
        let seq: i64 = tx.query_row(
            "UPDATE boards SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq",
            [],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO entries VALUES (1, 0, ?1, ?2, x'', ?3, ?4)
             ON CONFLICT (board_id, period_start, user_id) DO UPDATE SET
               score = excluded.score, details = excluded.details, set_at = excluded.set_at, seq = excluded.seq",
            rusqlite::params![user, score, NOW, seq],
        )?;
        tx.commit()?;
        n += 1;
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

/// Filled from the stores' layouts (see each backend's migrations).
const RANK_INDEX_SQLITE: &str = "CREATE INDEX IF NOT EXISTS bench_rank_order \
     ON board_entries (board_id, period_start, score, seq)";
const COUNT_AHEAD_SQLITE: &str = "SELECT count(*) FROM board_entries \
     WHERE board_id = ?1 AND period_start = 0 AND score IS NOT NULL \
     AND (score > ?2 OR (score = ?2 AND seq < ?3))";
const RANK_INDEX_PG: &str = "CREATE INDEX IF NOT EXISTS bench_rank_order \
     ON board_entries (board_id, period_start, score, seq); ANALYZE board_entries";
const COUNT_AHEAD_PG: &str = "SELECT count(*) FROM board_entries \
     WHERE board_id = $1 AND period_start = 0 AND score IS NOT NULL \
     AND (score > $2 OR (score = $2 AND seq < $3))";
