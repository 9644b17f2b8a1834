//! What the global figures cost, in one run: the latency of Steam's global
//! achievement percentages at scale, and the stores' throughput with the
//! figures kept current and without:
//!
//! 1. **Seed** a SQLite store with `--users` users (default 1,000,000) of an
//!    app with `--achievements` achievements (default 100) and five stats
//!    (three aggregated). The layout is created through the store
//!    (`SqliteStore::open` + `Store::put_schema`); the rows are then written
//!    straight into the same file with rusqlite in large transactions
//!    (`synchronous=OFF`, rows in primary-key order), together with the
//!    global counters they imply (`apps.users`, `achievement_unlocks`,
//!    `stat_totals`) — what a million `Store::store` calls would have left,
//!    minus the hours. The store is then reopened normally.
//! 2. **Latency**: the real server (`laurel_server::Application`) on a
//!    loopback port; `GET /ISteamUserStats/GetGlobalAchievementPercentagesForApp/v2/`
//!    `--requests` times from one keep-alive client, then from four at once; p50/p99/max.
//! 3. **Store throughput** with global-figure maintenance on and off
//!    (`SqliteOptions::maintain_global_figures`), alternating rounds of
//!    `--store-seconds` each, `--writers` concurrent writers, through
//!    `Store::store`: each store sets five stats (three aggregated) and
//!    unlocks one achievement of a random existing user, durable on answer.
//!
//! `cargo run --release -p laurel-bench-global -- [--users N] [--achievements N]
//! [--requests N] [--store-seconds S] [--rounds R] [--writers W] [--dir DIR]`

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use laurel_core::{AppId, BatchEntry, Schema, SchemaDoc, SteamId, StoreBatch, WriteAuthority};
use laurel_server::{Application, ServerConfig};
use laurel_store::{Store, StoreReply, StoreRequest};
use laurel_store_sqlite::{SqliteOptions, SqliteStore};

const APP: u32 = 480;
const FIRST_STEAM_ID: u64 = 76_561_197_960_265_728;
/// Rows written per seeding transaction.
const SEED_BATCH_USERS: u64 = 100_000;

struct Args {
    users: u64,
    achievements: usize,
    requests: usize,
    store_seconds: u64,
    rounds: usize,
    writers: usize,
    dir: Option<PathBuf>,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        users: 1_000_000,
        achievements: 100,
        requests: 5_000,
        store_seconds: 10,
        rounds: 2,
        writers: 64,
        dir: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--users" => a.users = value()?.parse()?,
            "--achievements" => a.achievements = value()?.parse()?,
            "--requests" => a.requests = value()?.parse()?,
            "--store-seconds" => a.store_seconds = value()?.parse()?,
            "--rounds" => a.rounds = value()?.parse()?,
            "--writers" => a.writers = value()?.parse()?,
            "--dir" => a.dir = Some(PathBuf::from(value()?)),
            other => bail!("unknown flag {other}"),
        }
    }
    if a.users == 0 || a.achievements == 0 || a.requests == 0 || a.writers == 0 {
        bail!("--users, --achievements, --requests and --writers must be above 0");
    }
    Ok(a)
}

/// splitmix64: a fixed, dependency-free pseudo-random sequence.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The bench app: `public_globals`, so that the global methods answer
/// without a key, as Steam's do for a public app.
fn schema(achievements: usize) -> Result<Schema> {
    let achs: Vec<String> = (0..achievements)
        .map(|i| {
            format!(
                r#"{{"name":"ACH_{i}","display_name":{{"english":"Achievement {i}"}},"description":{{"english":""}}}}"#
            )
        })
        .collect();
    let json = format!(
        r#"{{"app":{{"name":"Bench","public_globals":true}},"stats":[
            {{"name":"Games","type":"int","min":0,"aggregated":true}},
            {{"name":"Wins","type":"int","min":0,"aggregated":true}},
            {{"name":"Feet","type":"float","min":0,"aggregated":true}},
            {{"name":"MaxFeet","type":"float","min":0}},
            {{"name":"Score","type":"int"}}],
            "achievements":[{}]}}"#,
        achs.join(",")
    );
    let doc = SchemaDoc::from_json(&json).map_err(|p| anyhow::anyhow!("{p}"))?;
    Schema::from_doc(&doc).map_err(|p| anyhow::anyhow!("{p:?}"))
}

/// Chance (per mille) that a user has achievement `i`: a long tail, like real games.
fn unlock_per_mille(i: usize) -> u64 {
    (600 / (i as u64 + 1)).max(2)
}

/// Writes `users` users straight into the store's file (see the module doc).
fn seed(path: &Path, users: u64, achievements: usize) -> Result<(u64, u64)> {
    let mut conn = rusqlite::Connection::open(path)?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    let app = i64::from(APP);
    let names: Vec<String> = (0..achievements).map(|i| format!("ACH_{i}")).collect();
    let mut unlocks = vec![0i64; achievements];
    let mut games_sum: i64 = 0;
    let mut rows: u64 = 0;
    let mut rng = Rng(42);
    let mut first = 0;
    while first < users {
        let last = (first + SEED_BATCH_USERS).min(users);
        let tx = conn.transaction()?;
        {
            let mut user_row =
                tx.prepare("INSERT INTO users (app_id, steam_id, version) VALUES (?1, ?2, 1)")?;
            let mut stat_row = tx.prepare(
                "INSERT INTO stats (app_id, steam_id, name, kind, int_value) VALUES (?1, ?2, 'Games', 0, ?3)",
            )?;
            let mut ach_row = tx.prepare(
                "INSERT INTO achievements (app_id, steam_id, name, unlocked, unlock_time) \
                 VALUES (?1, ?2, ?3, 1, ?4)",
            )?;
            for u in first..last {
                let id = (FIRST_STEAM_ID + u) as i64;
                user_row.execute((app, id))?;
                let games = rng.below(500) as i64;
                stat_row.execute((app, id, games))?;
                games_sum += games;
                rows += 2;
                for (i, name) in names.iter().enumerate() {
                    if rng.below(1000) < unlock_per_mille(i) {
                        ach_row.execute((app, id, name, 1_700_000_000i64))?;
                        unlocks[i] += 1;
                        rows += 1;
                    }
                }
            }
        }
        tx.commit()?;
        first = last;
        eprint!("\rseeded {first}/{users} users ({rows} rows)");
    }
    eprintln!();
    let tx = conn.transaction()?;
    tx.execute(
        "UPDATE apps SET users = ?2 WHERE app_id = ?1",
        (app, users as i64),
    )?;
    for (i, n) in unlocks.iter().enumerate() {
        tx.execute(
            "INSERT OR REPLACE INTO achievement_unlocks (app_id, name, users) VALUES (?1, ?2, ?3)",
            (app, &names[i], n),
        )?;
    }
    tx.execute(
        "INSERT OR REPLACE INTO stat_totals (app_id, name, kind, value_rows, int_sum, float_sum) \
         VALUES (?1, 'Games', 0, ?2, ?3, 0.0)",
        (app, users as i64, games_sum),
    )?;
    tx.commit()?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    Ok((rows, unlocks.iter().sum::<i64>() as u64))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// `requests` GETs spread over `clients` keep-alive clients; every latency, sorted.
fn measure(addr: SocketAddr, requests: usize, clients: usize) -> Result<Vec<Duration>> {
    let url = format!(
        "http://{addr}/ISteamUserStats/GetGlobalAchievementPercentagesForApp/v2/?gameid={APP}"
    );
    let mut handles = Vec::new();
    for _ in 0..clients {
        let url = url.clone();
        let n = requests / clients;
        handles.push(std::thread::spawn(move || -> Result<Vec<Duration>> {
            let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let t = Instant::now();
                let mut r = agent.get(&url).call()?;
                let body = r.body_mut().read_to_string()?;
                out.push(t.elapsed());
                if !body.starts_with("{\"achievementpercentages\"") {
                    bail!("unexpected answer: {body:.200}");
                }
            }
            Ok(out)
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.join().map_err(|_| anyhow::anyhow!("client panicked"))??);
    }
    all.sort();
    Ok(all)
}

fn latency(path: &Path, requests: usize) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let store = SqliteStore::open(path, SqliteOptions::default())?;
    let (app, stop) = rt.block_on(async {
        let mut config = ServerConfig::new("127.0.0.1:0".parse()?);
        // The gate runs on every request, as in production, but this load
        // (one address, thousands of requests a second) stays under it.
        config.rate_limits.address = laurel_server::Rate::new(10_000_000, 10_000_000);
        let app = Application::build(config, Arc::new(store)).await?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        Ok::<_, anyhow::Error>((app, (stop, stopped)))
    })?;
    let addr = app.local_addr();
    let (stop_tx, stopped) = stop;
    let server = rt.spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    // Warm-up: connections, caches, the schema.
    measure(addr, 500, 1)?;
    for clients in [1, 4] {
        let all = measure(addr, requests, clients)?;
        println!(
            "GetGlobalAchievementPercentagesForApp, {clients} client(s), {} requests: p50 {}, p99 {}, max {}",
            all.len(),
            micros(percentile(&all, 0.50)),
            micros(percentile(&all, 0.99)),
            micros(*all.last().unwrap_or(&Duration::ZERO)),
        );
    }
    let _ = stop_tx.send(());
    rt.block_on(server)??;
    Ok(())
}

/// Stores per second through `Store::store` for `seconds`, with `writers` at once.
fn throughput(
    path: &Path,
    maintain: bool,
    seconds: u64,
    writers: usize,
    users: u64,
    achievements: usize,
    round: usize,
) -> Result<f64> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let options = SqliteOptions {
        maintain_global_figures: maintain,
        ..SqliteOptions::default()
    };
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(path, options)?);
    let app = AppId::new(APP)?;
    let applied = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for w in 0..writers {
            let store = Arc::clone(&store);
            let applied = Arc::clone(&applied);
            tasks.push(tokio::spawn(async move {
                let mut rng = Rng(((round * 1000 + w) as u64) << 20 | u64::from(maintain));
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let user = SteamId::new(FIRST_STEAM_ID + rng.below(users))?;
                    let set = |name: &str, value: f64| BatchEntry::SetStat {
                        name: name.into(),
                        value,
                    };
                    let entries = vec![
                        set("Games", (500 + rng.below(1000)) as f64),
                        set("Wins", rng.below(100) as f64),
                        set("Feet", rng.below(100_000) as f64 / 4.0),
                        set("MaxFeet", rng.below(10_000) as f64 / 2.0),
                        set("Score", rng.below(1_000_000) as f64),
                        BatchEntry::UnlockAchievement {
                            name: format!("ACH_{}", rng.below(achievements as u64)),
                        },
                    ];
                    n += 1;
                    let reply = store
                        .store(StoreRequest {
                            app,
                            user,
                            batch: StoreBatch { entries },
                            authority: WriteAuthority::Server,
                            idempotency_key: laurel_core::IdempotencyKey::from_stored(format!(
                                "bench-{round}-{maintain}-{w}-{n}"
                            )),
                            fingerprint: laurel_core::Fingerprint::from_stored(format!("{w}-{n}")),
                            now: 1_800_000_000,
                        })
                        .await?;
                    match reply {
                        StoreReply::Applied { .. } => {
                            applied.fetch_add(1, Ordering::Relaxed);
                        }
                        StoreReply::Refused(r) => bail!("refused: {r}"),
                    }
                }
                Ok::<(), anyhow::Error>(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        Ok::<(), anyhow::Error>(())
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    drop(store);
    Ok(applied.load(Ordering::Relaxed) as f64 / elapsed)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let temp;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_owned()
        }
    };
    let path = dir.join("bench-global.sqlite3");
    if path.exists() {
        bail!("{} exists; give an empty --dir", path.display());
    }
    println!(
        "laurel-bench-global: {} users, {} achievements, {} requests, {} s store rounds × {}, {} writers",
        args.users, args.achievements, args.requests, args.store_seconds, args.rounds, args.writers
    );
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let store = SqliteStore::open(&path, SqliteOptions::default())?;
        rt.block_on(async {
            store
                .put_schema(AppId::new(APP)?, schema(args.achievements)?)
                .await?;
            store.close().await?;
            Ok::<(), anyhow::Error>(())
        })?;
    }
    let t = Instant::now();
    let (rows, unlocks) = seed(&path, args.users, args.achievements)?;
    println!(
        "seeded {rows} rows ({unlocks} unlocks) in {:.1} s; database {:.0} MiB",
        t.elapsed().as_secs_f64(),
        std::fs::metadata(&path)?.len() as f64 / 1048576.0
    );

    latency(&path, args.requests)?;

    let mut on = Vec::new();
    let mut off = Vec::new();
    for round in 0..args.rounds {
        for maintain in [true, false] {
            let rate = throughput(
                &path,
                maintain,
                args.store_seconds,
                args.writers,
                args.users,
                args.achievements,
                round,
            )?;
            println!(
                "round {}: stores/s with global figures {}: {rate:.0}",
                round + 1,
                if maintain { "on " } else { "off" }
            );
            if maintain {
                on.push(rate);
            } else {
                off.push(rate);
            }
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let (on, off) = (mean(&on), mean(&off));
    println!(
        "stores/s, mean of {} rounds: on {on:.0}, off {off:.0}; keeping the global figures costs {:.1}% of throughput",
        args.rounds,
        (off - on) / off * 100.0
    );
    Ok(())
}
