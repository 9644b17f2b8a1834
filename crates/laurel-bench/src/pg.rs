//! `laurel-bench postgres` (issue 6): Laurel's durable stores on PostgreSQL,
//! in one run, on one PostgreSQL cluster started by the test harness
//! (`laurel_testkit::postgres`):
//!
//! 1. **pgbench**: Laurel's store transaction, statement for statement (the
//!    SQL of `laurel-store-postgres`, on Laurel's own tables, which a Laurel
//!    node created), one pgbench connection per client, each its own user;
//! 2. **Laurel, 1 node**: `laurel serve --database postgres://…`, the store
//!    requests of the foundation bench's store phase over HTTP;
//! 3. **Laurel, 2 nodes**: two `laurel serve` on one database, the clients
//!    split between them.
//!
//! Every phase gets a fresh database (dropped after it) and a `CHECKPOINT` first. With
//! `--rounds N` the three phases run N times, each round in an order
//! rotated by one, and the summary pools the rounds. The ratios
//! `1 node / pgbench` (target ≥ 0.7) and `2 nodes / 1 node` are printed,
//! never asserted; the exit code is 1 only when a phase could not run or a
//! request (or a pgbench transaction) failed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use laurel_testkit::postgres::{PostgresServer, SUPERUSER, find_bin_dir};

use crate::child::{ChildGuard, Counted, GroupCpu, GroupMeter};
use crate::load::{self, Phase};
use crate::stats::{Latencies, Us};
use crate::{
    ADMIN_TOKEN, Cli, DEMO_APP, FIRST_STEAM_ID, STARTUP_TIMEOUT, WARMUP, expect_ok, fs_kind,
    loadavg, machine, store_requests,
};

/// `1 node / pgbench` at or above this meets issue 6's target.
const PGBENCH_TARGET: f64 = 0.7;

/// PostgreSQL settings printed at the start of the run.
const SHOWN_SETTINGS: &[&str] = &[
    "server_version",
    "fsync",
    "synchronous_commit",
    "wal_sync_method",
    "full_page_writes",
    "commit_delay",
    "shared_buffers",
    "wal_buffers",
    "wal_segment_size",
    "max_wal_size",
    "min_wal_size",
    "checkpoint_timeout",
    "max_connections",
];

// What `laurel-store-postgres` uses (rows.rs, figures.rs): the class of the
// per-app advisory locks ("Laur") and the number of counter shards.
const APP_LOCK_CLASS: i32 = 0x4c61_7572;
const COUNTER_SHARDS: u64 = 16;

#[derive(clap::Args, Debug)]
pub struct PgFlags {
    /// `shared_buffers` of the cluster. The test harness starts clusters with
    /// 16MB; the bench restarts its cluster with this (PostgreSQL's default).
    #[arg(long, default_value = "128MB")]
    shared_buffers: String,
    /// `max_wal_size`. The harness's clusters have 1 MB WAL segments, so
    /// initdb set 64MB (64 segments); PostgreSQL's default with 16 MB
    /// segments is 1GB. Small values bring checkpoints into the phases.
    #[arg(long, default_value = "1GB")]
    max_wal_size: String,
    /// `min_wal_size` (harness: 5MB, i.e. 5 segments; PostgreSQL's default: 80MB).
    #[arg(long, default_value = "80MB")]
    min_wal_size: String,
    /// Connections per Laurel node (`laurel serve --db-pool-size`). Default:
    /// the node's share of the clients, so that every client can have a
    /// transaction in flight, as every pgbench connection can.
    #[arg(long)]
    db_pool_size: Option<u16>,
    /// pgbench threads (`-j`).
    #[arg(long, default_value_t = 2)]
    pgbench_jobs: usize,
    /// Rounds of the three phases (each round in an order rotated by one);
    /// the summary pools every round's measured windows. The speed of a
    /// shared VM drifts by tens of percent within a minute: one round per
    /// phase would compare phases run at different speeds.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

/// The figures of one phase.
struct Figures {
    /// Transactions (pgbench) or stores (Laurel) per second.
    rate: f64,
    latencies: Latencies,
    errors: u64,
    error_samples: Vec<String>,
    cpu: GroupCpu,
    /// What the database did per transaction, from its statistics views.
    per_tx: Option<String>,
    notes: Vec<String>,
}

type Outcome = std::result::Result<Figures, String>;

pub fn run(cli: &Cli, flags: &PgFlags) -> Result<bool> {
    let duration = Duration::from_secs(if cli.quick { 2 } else { cli.duration.max(1) });
    let clients = cli.clients.max(1);
    if let Some(dir) = &cli.work_dir {
        // The harness puts its clusters under the temporary directory.
        // SAFETY: nothing else runs yet (no thread has been started), so
        // nothing reads the environment while it changes.
        unsafe {
            std::env::set_var("TMPDIR", dir);
        }
    }
    let work_parent = std::env::temp_dir();
    let work = crate::work_dir(&work_parent, "laurel-bench-pg-")?;
    let exe = std::env::current_exe().context("locating this binary")?;
    let laurel_bin = crate::laurel_bin(cli, &exe);
    crate::check_laurel_bin(&laurel_bin)?;

    println!("laurel-bench postgres — {}", machine());
    println!(
        "phases: {} s measured after {} s warm-up; {clients} clients; work dir {}",
        duration.as_secs(),
        WARMUP.as_secs(),
        work.path().display(),
    );
    println!("load average at start: {}", loadavg());
    if cfg!(debug_assertions) {
        println!("WARNING: this is a debug build of laurel-bench; run it with --release");
    }

    let started = Instant::now();
    let cluster = Cluster::start(&[
        ("shared_buffers", &flags.shared_buffers),
        ("max_wal_size", &flags.max_wal_size),
        ("min_wal_size", &flags.min_wal_size),
    ])?;
    println!(
        "PostgreSQL: port {}, data {} ({}), started in {:.1} s, postmaster pid {}",
        cluster.server.port(),
        cluster.data.display(),
        fs_kind(&cluster.data),
        started.elapsed().as_secs_f64(),
        cluster.postmaster().unwrap_or(0),
    );
    let segments = cluster.psql("postgres", "SELECT count(*) FROM pg_ls_waldir()")?;
    println!(
        "WAL segments in pg_wal after pre-allocation: {}",
        segments.trim()
    );
    let settings = cluster.settings()?;
    println!(
        "settings: {}",
        settings
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let setting = |name: &str| settings.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    for (name, want) in [("fsync", "on"), ("synchronous_commit", "on")] {
        if setting(name).map(String::as_str) != Some(want) {
            bail!(
                "the cluster runs with {name} = {:?}, not {want}",
                setting(name)
            );
        }
    }
    println!();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;

    // Each round runs the three phases, in an order rotated by one per
    // round, so that a drift of the machine's speed during the run (or the
    // position of a phase) weighs on all three alike.
    let rounds = flags.rounds.max(1);
    let jobs = flags.pgbench_jobs.max(1);
    let pool = |nodes: usize| {
        flags
            .db_pool_size
            .unwrap_or_else(|| u16::try_from(clients.div_ceil(nodes)).unwrap_or(256))
            .clamp(1, 256)
    };
    let titles = [
        format!("pgbench, Laurel's store transaction (-M prepared, -c {clients} -j {jobs})"),
        format!(
            "Laurel, 1 node (--db-pool-size {}), stores over HTTP",
            pool(1)
        ),
        format!(
            "Laurel, 2 nodes (--db-pool-size {} each), stores over HTTP",
            pool(2)
        ),
    ];
    let mut outcomes: [Vec<Outcome>; 3] = Default::default();
    for round in 0..rounds {
        for k in 0..3 {
            let phase = (round + k) % 3;
            let outcome = match phase {
                0 => runtime.block_on(pgbench_phase(
                    &cluster,
                    &laurel_bin,
                    work.path(),
                    clients,
                    jobs,
                    duration,
                )),
                n => runtime.block_on(laurel_phase(
                    &cluster,
                    &laurel_bin,
                    work.path(),
                    n,
                    pool(n),
                    clients,
                    duration,
                )),
            }
            .map_err(|e| format!("{e:#}"));
            let unit = if phase == 0 { "tx/s" } else { "stores/s" };
            print_phase(
                &format!(
                    "[round {}/{rounds}, {}] {}",
                    round + 1,
                    phase + 1,
                    titles[phase]
                ),
                unit,
                &outcome,
            );
            outcomes[phase].push(outcome);
        }
        if rounds > 1 {
            let rate = |o: Option<&Outcome>| o.and_then(|o| o.as_ref().ok()).map(|f| f.rate);
            let last = |i: usize| rate(outcomes[i].last());
            if let (Some(p), Some(one), Some(two)) = (last(0), last(1), last(2)) {
                println!(
                    "round {}: 1 node / pgbench = {:.3}, 2 nodes / 1 node = {:.3}\n",
                    round + 1,
                    one / p.max(1e-9),
                    two / one.max(1e-9)
                );
            }
        }
    }
    println!("load average at end: {}", loadavg());
    let [pgbench, one, two] = outcomes.map(|o| merge(o, duration));
    if rounds > 1 {
        println!("all {rounds} rounds together (every measured window of a phase pooled):");
    }
    Ok(summary(&pgbench, &one, &two))
}

/// The rounds of one phase as one: completions over all measured windows,
/// latencies pooled, CPU averaged. Any failed round fails the phase.
fn merge(rounds: Vec<Outcome>, duration: Duration) -> Outcome {
    let n = rounds.len();
    if n == 1 {
        return rounds
            .into_iter()
            .next()
            .unwrap_or_else(|| Err("not run".into()));
    }
    let mut done = Vec::with_capacity(n);
    for r in rounds {
        done.push(r?);
    }
    let window = duration.as_secs_f64() * n as f64;
    let mut cpu = GroupCpu::default();
    for f in &done {
        for (name, _) in &f.cpu.groups {
            if !cpu.groups.iter().any(|(g, _)| g == name) {
                let values: Vec<f64> = done
                    .iter()
                    .filter_map(|f| f.cpu.groups.iter().find(|(g, _)| g == name)?.1)
                    .collect();
                let mean =
                    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64);
                cpu.groups.push((name.clone(), mean));
            }
        }
    }
    cpu.own = done.iter().map(|f| f.cpu.own).sum::<f64>() / n as f64;
    let others: Vec<f64> = done.iter().filter_map(|f| f.cpu.others).collect();
    cpu.others = (others.len() == n).then(|| others.iter().sum::<f64>() / n as f64);
    let completed: usize = done.iter().map(|f| f.latencies.len()).sum();
    Ok(Figures {
        rate: completed as f64 / window,
        errors: done.iter().map(|f| f.errors).sum(),
        error_samples: done.iter().flat_map(|f| f.error_samples.clone()).collect(),
        cpu,
        per_tx: None,
        notes: Vec::new(),
        latencies: Latencies::merge(done.into_iter().map(|f| f.latencies).collect()),
    })
}

fn print_phase(title: &str, unit: &str, r: &Outcome) {
    match r {
        Ok(f) => {
            println!(
                "{title}: {:.0} {unit}  p50 {}  p99 {}  max {}  (n={}, errors {})",
                f.rate,
                Us(f.latencies.p50()),
                Us(f.latencies.p99()),
                Us(f.latencies.max()),
                f.latencies.len(),
                f.errors
            );
            println!("    CPU: {}", cpu_text(&f.cpu));
            if let Some(p) = &f.per_tx {
                println!("    per transaction: {p}");
            }
            for n in &f.notes {
                println!("    {n}");
            }
            for s in &f.error_samples {
                println!("    error: {s}");
            }
        }
        Err(e) => println!("{title}: NOT MEASURED: {e}"),
    }
    println!();
}

/// `laurel 0.81, postgres 0.93, laurel-bench 0.16, others 0.01 (cores of 2)`
fn cpu_text(c: &GroupCpu) -> String {
    let mut parts: Vec<String> = c
        .groups
        .iter()
        .map(|(name, used)| match used {
            Some(u) => format!("{name} {u:.2}"),
            None => format!("{name} ?"),
        })
        .collect();
    parts.push(format!("laurel-bench {:.2}", c.own));
    if let Some(o) = c.others {
        parts.push(format!("others {o:.2}"));
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{} (cores of {cores})", parts.join(", "))
}

/// Prints the table and the ratios; returns whether the run is valid.
fn summary(pgbench: &Outcome, one: &Outcome, two: &Outcome) -> bool {
    println!("| phase | throughput | p50 | p99 | max | errors | CPU (cores) |");
    println!("|---|---|---|---|---|---|---|");
    let mut problems = Vec::new();
    let mut busy = Vec::new();
    for (name, unit, o) in [
        ("pgbench, same transaction", "tx/s", pgbench),
        ("Laurel, 1 node", "stores/s", one),
        ("Laurel, 2 nodes", "stores/s", two),
    ] {
        match o {
            Ok(f) => {
                let cpu = cpu_text(&f.cpu);
                let cpu = cpu.split(" (cores").next().unwrap_or_default();
                println!(
                    "| {name} | {:.0} {unit} | {} | {} | {} | {} | {cpu} |",
                    f.rate,
                    Us(f.latencies.p50()),
                    Us(f.latencies.p99()),
                    Us(f.latencies.max()),
                    f.errors
                );
                if f.errors > 0 {
                    problems.push(format!("{name}: {} errors", f.errors));
                }
                if f.latencies.len() == 0 {
                    problems.push(format!("{name}: nothing completed in the measured window"));
                }
                if let Some(o) = f.cpu.others.filter(|o| *o > 0.25) {
                    busy.push(format!("{name}: other processes used {o:.2} cores"));
                }
            }
            Err(e) => {
                println!("| {name} | not measured | | | | | |");
                problems.push(format!("{name} not measured: {e}"));
            }
        }
    }
    println!();
    let rate = |o: &Outcome| {
        o.as_ref()
            .ok()
            .filter(|f| f.latencies.len() > 0)
            .map(|f| f.rate)
    };
    match (rate(one), rate(pgbench)) {
        (Some(n), Some(d)) if d > 0.0 => {
            let x = n / d;
            let verdict = if x >= PGBENCH_TARGET {
                "PASS"
            } else {
                "BELOW TARGET"
            };
            println!(
                "1 node / pgbench = {n:.0} / {d:.0} = {x:.3} (target ≥ {PGBENCH_TARGET:.1}): {verdict}"
            );
        }
        _ => println!("1 node / pgbench: not available (a phase was not measured)"),
    }
    match (rate(two), rate(one)) {
        (Some(n), Some(d)) if d > 0.0 => {
            println!("2 nodes / 1 node = {n:.0} / {d:.0} = {:.3}", n / d);
        }
        _ => println!("2 nodes / 1 node: not available (a phase was not measured)"),
    }
    if !busy.is_empty() {
        println!();
        println!("WARNING: the machine was not quiet; these figures are skewed by other work:");
        for b in &busy {
            println!("  - {b}");
        }
    }
    if problems.is_empty() {
        return true;
    }
    println!();
    println!("################################################################");
    println!("##  THIS BENCHMARK RUN IS INVALID                              ##");
    println!("################################################################");
    for p in &problems {
        println!("##  {p}");
    }
    false
}

/// The harness's cluster, restarted with the bench's settings.
struct Cluster {
    server: PostgresServer,
    bin: PathBuf,
    data: PathBuf,
}

impl Cluster {
    fn start(settings: &[(&str, &str)]) -> Result<Cluster> {
        let server = PostgresServer::try_start().context("starting PostgreSQL (test harness)")?;
        let bin = find_bin_dir()?;
        let mut cluster = Cluster {
            server,
            bin,
            data: PathBuf::new(),
        };
        cluster.data = PathBuf::from(cluster.psql("postgres", "SHOW data_directory")?.trim());
        let mut differ = false;
        for (name, value) in settings {
            let current = cluster.psql("postgres", &format!("SHOW {name}"))?;
            differ |= current.trim() != *value;
        }
        if differ {
            cluster.restart_with(settings).with_context(|| {
                format!(
                    "restarting PostgreSQL with {settings:?}:\n{}",
                    cluster.server.log_tail()
                )
            })?;
        }
        cluster
            .preallocate_wal()
            .context("pre-allocating WAL segments")?;
        Ok(cluster)
    }

    /// A fresh cluster has no WAL segments to recycle: whichever phase ran
    /// first would create (zero-fill and fsync) a new segment every 1 MB of
    /// WAL, the later ones would reuse those a checkpoint recycled. About
    /// 100 MB of WAL (more than `min_wal_size`) and two checkpoints leave
    /// every phase recycled segments.
    fn preallocate_wal(&self) -> Result<()> {
        self.psql(
            "postgres",
            "CREATE TABLE laurel_bench_wal AS \
             SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 100000) g",
        )?;
        self.psql("postgres", "DROP TABLE laurel_bench_wal")?;
        self.checkpoint()?;
        self.checkpoint()
    }

    /// `pg_ctl restart` with the harness's own command line
    /// (`postmaster.opts`), `settings` replacing or added to its `-c NAME=VALUE`.
    /// The harness still owns the cluster: dropping it stops and deletes it.
    fn restart_with(&self, settings: &[(&str, &str)]) -> Result<()> {
        let opts = std::fs::read_to_string(self.data.join("postmaster.opts"))
            .context("reading postmaster.opts")?;
        let mut args = split_opts(&opts).into_iter().skip(1); // the program
        let mut kept: Vec<String> = Vec::new();
        let ours = |v: &str| {
            settings
                .iter()
                .any(|(name, _)| v.split_once('=').is_some_and(|(n, _)| n == *name))
        };
        while let Some(a) = args.next() {
            match a.as_str() {
                "-D" => {
                    args.next();
                }
                "-c" => {
                    let Some(v) = args.next() else { break };
                    if !ours(&v) {
                        kept.push(a);
                        kept.push(v);
                    }
                }
                _ => kept.push(a),
            }
        }
        for (name, value) in settings {
            kept.push("-c".into());
            kept.push(format!("{name}={value}"));
        }
        let options: Vec<String> = kept.iter().map(|a| shell_quote(a)).collect();
        let root = self.data.parent().unwrap_or(&self.data);
        let log = root.join("postgres.log");
        let mut cmd = Command::new(self.bin.join("pg_ctl"));
        cmd.arg("-D")
            .arg(&self.data)
            .args(["-w", "-s", "-t", "60", "-m", "fast", "-l"])
            .arg(&log)
            .args(["-o", &options.join(" "), "restart"])
            .current_dir(root)
            .stdin(Stdio::null());
        as_owner_of(&mut cmd, &self.data)?;
        let out = cmd.output().context("running pg_ctl restart")?;
        check(&out, "pg_ctl restart")
    }

    fn port(&self) -> String {
        self.server.port().to_string()
    }

    /// Runs SQL with `psql` on database `db`; returns the unaligned rows.
    fn psql(&self, db: &str, sql: &str) -> Result<String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1"])
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port(),
                "-U",
                SUPERUSER,
                "-d",
                db,
            ])
            .args(["-c", sql])
            .stdin(Stdio::null())
            .output()
            .context("running psql")?;
        check(&out, &format!("psql: {sql}"))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn settings(&self) -> Result<Vec<(String, String)>> {
        let names: Vec<String> = SHOWN_SETTINGS.iter().map(|s| format!("'{s}'")).collect();
        let rows = self.psql(
            "postgres",
            &format!(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name IN ({}) ORDER BY name",
                names.join(", ")
            ),
        )?;
        let found: BTreeMap<String, String> = rows
            .lines()
            .filter_map(|l| l.split_once('|'))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Ok(SHOWN_SETTINGS
            .iter()
            .filter_map(|k| found.get(*k).map(|v| ((*k).to_owned(), v.clone())))
            .collect())
    }

    /// A fresh database: its name and URL.
    fn database(&self) -> Result<(String, String)> {
        let url = self.server.try_database()?;
        let name = url.rsplit('/').next().unwrap_or_default().to_owned();
        Ok((name, url))
    }

    /// Drops a phase's database once it is measured, so that no later
    /// phase shares the machine with its autovacuum.
    fn drop_database(&self, db: &str) -> Result<()> {
        self.psql("postgres", &format!("DROP DATABASE {db} WITH (FORCE)"))
            .map(drop)
    }

    fn checkpoint(&self) -> Result<()> {
        self.psql("postgres", "CHECKPOINT").map(drop)
    }

    fn postmaster(&self) -> Option<u32> {
        std::fs::read_to_string(self.data.join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    fn snapshot(&self, db: &str) -> Result<DbCounters> {
        let rows = self.psql(
            db,
            "SELECT 't', relname::text, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables \
             UNION ALL SELECT 'x', '', xact_commit, xact_rollback, 0 FROM pg_stat_database \
                 WHERE datname = current_database() \
             UNION ALL SELECT 'w', '', wal_bytes::bigint, wal_fpi, wal_sync FROM pg_stat_wal \
             UNION ALL SELECT 'c', '', checkpoints_timed + checkpoints_req, buffers_backend, 0 \
                 FROM pg_stat_bgwriter",
        )?;
        let mut c = DbCounters::default();
        for line in rows.lines() {
            let f: Vec<&str> = line.split('|').collect();
            if f.len() != 5 {
                continue;
            }
            let n = |i: usize| f[i].trim().parse::<i64>().unwrap_or(0);
            let v = [n(2), n(3), n(4)];
            match f[0] {
                "t" => {
                    c.tables.insert(f[1].to_owned(), v);
                }
                "x" => c.xacts = v,
                "w" => c.wal = v,
                "c" => c.checkpoints = v,
                _ => {}
            }
        }
        Ok(c)
    }
}

/// Cumulative counters of one database (tables, transactions) and of the
/// cluster (WAL, checkpoints).
#[derive(Debug, Default, Clone)]
struct DbCounters {
    /// By table: rows inserted, updated, deleted.
    tables: BTreeMap<String, [i64; 3]>,
    /// Commits, rollbacks.
    xacts: [i64; 3],
    /// WAL bytes, full-page images, fsyncs (`pg_stat_wal.wal_sync`).
    wal: [i64; 3],
    /// Checkpoints, buffers written by backends.
    checkpoints: [i64; 3],
}

/// What the database did per transaction between two snapshots.
fn per_tx(before: &DbCounters, after: &DbCounters, transactions: u64) -> String {
    let tx = transactions.max(1) as f64;
    let mut out = String::new();
    let mut tables = Vec::new();
    for (name, a) in &after.tables {
        let b = before.tables.get(name).copied().unwrap_or_default();
        let d: Vec<f64> = (0..3).map(|i| (a[i] - b[i]) as f64 / tx).collect();
        let mut parts = Vec::new();
        for (label, v) in ["ins", "upd", "del"].iter().zip(&d) {
            if *v >= 0.005 {
                parts.push(format!("{v:.2} {label}"));
            }
        }
        if !parts.is_empty() {
            tables.push(format!("{name} {}", parts.join(" ")));
        }
    }
    let _ = write!(out, "{}", tables.join("; "));
    let d = |a: [i64; 3], b: [i64; 3], i: usize| a[i] - b[i];
    let xacts = d(after.xacts, before.xacts, 0) + d(after.xacts, before.xacts, 1);
    let syncs = d(after.wal, before.wal, 2);
    let _ = write!(
        out,
        " | {:.2} db transactions, WAL {:.0} B ({:.2} full-page images); {} WAL fsyncs = {:.1} tx per fsync; {} checkpoints, {} buffers written by backends (over {transactions} tx)",
        xacts as f64 / tx,
        d(after.wal, before.wal, 0) as f64 / tx,
        d(after.wal, before.wal, 1) as f64 / tx,
        syncs,
        if syncs > 0 { tx / syncs as f64 } else { 0.0 },
        d(after.checkpoints, before.checkpoints, 0),
        d(after.checkpoints, before.checkpoints, 1),
    );
    out
}

/// Splits `postmaster.opts` (`/path/postgres "-D" "/data" "-p" "5432" …`).
fn split_opts(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.trim().chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '"' {
            chars.next();
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                word.push(c);
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        out.push(word);
    }
    out
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// PostgreSQL refuses to run as root: as root, `pg_ctl` runs as the owner
/// of the data directory (the harness gave it to an unprivileged account).
fn as_owner_of(cmd: &mut Command, data: &Path) -> Result<()> {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    let meta = std::fs::metadata(data).with_context(|| format!("reading {}", data.display()))?;
    if meta.uid() != 0 {
        cmd.uid(meta.uid()).gid(meta.gid()).env("HOME", "/");
    }
    Ok(())
}

fn check(out: &Output, what: &str) -> Result<()> {
    if out.status.success() {
        return Ok(());
    }
    bail!(
        "{what} failed ({}): {} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim(),
        String::from_utf8_lossy(&out.stdout).trim()
    )
}

/// Starts `laurel serve --dev` on `url`; waits until it listens.
fn start_node(
    bin: &Path,
    work: &Path,
    label: &str,
    url: &str,
    pool: u16,
) -> Result<(ChildGuard, SocketAddr)> {
    let data_dir = work.join(format!("{label}-data"));
    std::fs::create_dir_all(&data_dir)?;
    let mut cmd = Command::new(bin);
    cmd.arg("serve")
        .arg("--dev")
        .args(["--listen", "127.0.0.1:0"])
        .args(crate::LOAD_RATE_ARGS)
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["--database", url])
        .args(["--db-pool-size", &pool.to_string()])
        .env("LAUREL_ADMIN_TOKEN", ADMIN_TOKEN);
    ChildGuard::spawn(
        label,
        cmd,
        "laurel listening on http://",
        &work.join(format!("{label}.stderr")),
        STARTUP_TIMEOUT,
    )
}

async fn laurel_phase(
    cluster: &Cluster,
    bin: &Path,
    work: &Path,
    nodes: usize,
    pool: u16,
    clients: usize,
    duration: Duration,
) -> Result<Figures> {
    let (db, url) = cluster.database()?;
    // One after the other: the first creates the tables and demo app 480.
    let mut guards = Vec::new();
    let mut addrs = Vec::new();
    for i in 0..nodes {
        let label = format!("laurel-{nodes}n-{}", i + 1);
        let (guard, addr) = start_node(bin, work, &label, &url, pool)?;
        println!(
            "{label}: pid {} listening on {addr}, database {db}",
            guard.pid()
        );
        guards.push(guard);
        addrs.push(addr);
    }
    cluster.checkpoint()?;
    let before = cluster.snapshot(&db)?;
    let make = store_requests(&addrs, clients).await?;
    let mut groups: Vec<(String, Counted)> = guards
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let name = if nodes == 1 {
                "laurel".to_owned()
            } else {
                format!("laurel#{}", i + 1)
            };
            (name, Counted::Process(g.pid()))
        })
        .collect();
    if let Some(pm) = cluster.postmaster() {
        groups.push(("postgres".into(), Counted::Tree(pm)));
    }
    let meter = GroupMeter::start(groups);
    let result = load::run_phase_on(
        Phase {
            addr: addrs[0],
            server_pid: guards[0].pid(),
            clients,
            warmup: WARMUP,
            duration,
        },
        &addrs,
        make,
    )
    .await;
    let cpu = meter.stop();
    for g in &mut guards {
        g.check_alive()?;
    }
    // Stopped before the snapshot: closing their connections makes the
    // backends report their statistics.
    for g in &mut guards {
        g.stop();
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let after = cluster.snapshot(&db)?;
    cluster.drop_database(&db)?;
    let stores = result.ok_total + 1; // + the probe
    Ok(Figures {
        rate: result.per_second(),
        errors: result.errors,
        error_samples: result.error_samples,
        cpu,
        per_tx: Some(per_tx(&before, &after, stores)),
        notes: vec![format!(
            "store response {} B; clients per node: {}",
            result.last_body_len,
            (0..nodes)
                .map(|n| (n..clients).step_by(nodes).count().to_string())
                .collect::<Vec<_>>()
                .join(" + ")
        )],
        latencies: result.latencies,
    })
}

/// Laurel's store transaction for the foundation bench's request, as
/// `laurel-store-postgres` sends it for a user who has stored before
/// (`writes.rs::store`; statements from `rows.rs` and `figures.rs`), with
/// the same round trips: BEGIN and the reads (the app's lock, the schema
/// version, the user's row created or locked and its version moved on, the
/// key, the stats, the achievements), then the writes (stats, achievement,
/// key, counters) and COMMIT. Laurel sends each round trip as one message
/// of `EXECUTE`s (`script.rs`); pgbench sends it as one libpq pipeline of
/// the same statements, prepared (`-M prepared`), with one `Sync`.
/// pgbench client `i` is user `FIRST_STEAM_ID + i`, like HTTP client `i`.
///
/// pgbench cannot use a result inside a pipeline (`\gset`), so where Laurel
/// computes a value from what it read (the new stat values) the script
/// writes random values, and each
/// transaction's key is random (63 bits, so two never meet).
///
/// The achievement of the request (`ACH_WIN_ONE_GAME`) is unlocked by each
/// user's first store, done by Laurel before pgbench runs. Afterwards Laurel
/// still rewrites its row on every store (an achievement named in a batch is
/// written back, changed or not), but its unlock counter no longer moves;
/// this script does the same. The 5 stats all change, 3 of them aggregated
/// (`NumGames`, `NumWins`, `FeetTraveled`: their totals and today's history
/// move in the user's counter shard). The per-transaction row and
/// transaction counts printed for every phase show that both sides do the
/// same work.
fn pgbench_script(schema_version: i64, day: i64, unlocked_at: i64) -> String {
    let app = DEMO_APP;
    let class = APP_LOCK_CLASS;
    let fingerprint = "5f".repeat(32); // a SHA-256 in hex, as Laurel keeps it
    format!(
        r#"-- Laurel's store transaction (see crates/laurel-bench/src/pg.rs).
\set user {FIRST_STEAM_ID} + :client_id
\set shard :user % {COUNTER_SHARDS}
\set n random(1, 1000000000)
\set key random(1, 9000000000000000000)
\set feet :n + 0.5
\startpipeline
BEGIN;
SELECT pg_advisory_xact_lock_shared({class}, {app});
SELECT schema_version, CASE WHEN schema_version = {schema_version} THEN NULL ELSE schema_json END FROM apps WHERE app_id = {app};
INSERT INTO users (app_id, steam_id, version) VALUES ({app}, :user, 1) ON CONFLICT (app_id, steam_id) DO UPDATE SET version = users.version + 1 RETURNING version;
SELECT fingerprint, array_to_json(newly_unlocked)::text FROM idempotency WHERE app_id = {app} AND steam_id = :user AND idem_key = 'pgbench-' || :key;
SELECT name, kind, int_value, float_value, avg_count, avg_seconds FROM stats WHERE app_id = {app} AND steam_id = :user;
SELECT name, unlocked, unlock_time, progress_current, progress_max FROM achievements WHERE app_id = {app} AND steam_id = :user;
\endpipeline
\startpipeline
INSERT INTO stats (app_id, steam_id, name, kind, int_value, float_value, avg_count, avg_seconds) SELECT {app}, :user, t.name, t.kind, t.int_value, t.float_value, t.avg_count, t.avg_seconds FROM unnest('{{NumGames,NumWins,FeetTraveled,MaxFeetTraveled,AverageSpeed}}'::text[], '{{0,0,1,1,2}}'::smallint[], ARRAY[:n, :n, NULL, NULL, NULL]::bigint[], ARRAY[NULL, NULL, :feet, :feet, NULL]::real[], ARRAY[NULL, NULL, NULL, NULL, 10]::float8[], ARRAY[NULL, NULL, NULL, NULL, 5]::float8[]) AS t(name, kind, int_value, float_value, avg_count, avg_seconds) ON CONFLICT (app_id, steam_id, name) DO UPDATE SET kind = excluded.kind, int_value = excluded.int_value, float_value = excluded.float_value, avg_count = excluded.avg_count, avg_seconds = excluded.avg_seconds;
INSERT INTO achievements (app_id, steam_id, name, unlocked, unlock_time, progress_current, progress_max) SELECT {app}, :user, t.name, t.unlocked, t.unlock_time, t.progress_current, t.progress_max FROM unnest('{{ACH_WIN_ONE_GAME}}'::text[], '{{true}}'::boolean[], '{{{unlocked_at}}}'::bigint[], '{{NULL}}'::bigint[], '{{NULL}}'::bigint[]) AS t(name, unlocked, unlock_time, progress_current, progress_max) ON CONFLICT (app_id, steam_id, name) DO UPDATE SET unlocked = excluded.unlocked, unlock_time = excluded.unlock_time, progress_current = excluded.progress_current, progress_max = excluded.progress_max;
INSERT INTO idempotency (app_id, steam_id, idem_key, fingerprint, version, newly_unlocked, created) VALUES ({app}, :user, 'pgbench-' || :key, '{fingerprint}', :n, '{{}}', extract(epoch FROM now())::bigint);
INSERT INTO stat_totals (app_id, name, kind, shard, value_rows, int_sum, float_sum) SELECT {app}, t.name, t.kind, :shard, t.value_rows, t.int_sum, t.float_sum FROM unnest('{{FeetTraveled,NumGames,NumWins}}'::text[], '{{1,0,0}}'::smallint[], '{{0,0,0}}'::bigint[], '{{0,1,1}}'::bigint[], '{{1,0,0}}'::float8[]) AS t(name, kind, value_rows, int_sum, float_sum) ORDER BY t.name COLLATE "C", t.kind ON CONFLICT (app_id, name, kind, shard) DO UPDATE SET value_rows = stat_totals.value_rows + excluded.value_rows, int_sum = stat_totals.int_sum + excluded.int_sum, float_sum = stat_totals.float_sum + excluded.float_sum;
INSERT INTO stat_history (app_id, name, kind, day, shard, int_change, float_change) SELECT {app}, t.name, t.kind, t.day, :shard, t.int_change, t.float_change FROM unnest('{{FeetTraveled,NumGames,NumWins}}'::text[], '{{1,0,0}}'::smallint[], '{{{day},{day},{day}}}'::bigint[], '{{0,1,1}}'::bigint[], '{{1,0,0}}'::float8[]) AS t(name, kind, day, int_change, float_change) ORDER BY t.name COLLATE "C", t.kind, t.day ON CONFLICT (app_id, name, kind, day, shard) DO UPDATE SET int_change = stat_history.int_change + excluded.int_change, float_change = stat_history.float_change + excluded.float_change;
COMMIT;
\endpipeline
"#
    )
}

/// What a pgbench run printed.
#[derive(Debug, Default)]
struct PgbenchSummary {
    transactions: u64,
    failed: u64,
    tps: Option<f64>,
    latency_avg: Option<String>,
    connection_time: Option<String>,
    /// The `-r` section: average latency (ms) and failures per statement.
    per_statement: Vec<String>,
}

fn parse_pgbench(stdout: &str) -> PgbenchSummary {
    let mut s = PgbenchSummary::default();
    let mut in_statements = false;
    for line in stdout.lines() {
        let t = line.trim();
        let number = |prefix: &str| -> Option<u64> {
            t.strip_prefix(prefix)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        };
        if in_statements {
            if line.starts_with(' ') && !t.is_empty() {
                s.per_statement.push(t.to_owned());
                continue;
            }
            in_statements = false;
        }
        if let Some(n) = number("number of transactions actually processed:") {
            s.transactions = n;
        } else if let Some(n) = number("number of failed transactions:") {
            s.failed = n;
        } else if let Some(v) = t.strip_prefix("latency average =") {
            s.latency_avg = Some(v.trim().to_owned());
        } else if let Some(v) = t.strip_prefix("initial connection time =") {
            s.connection_time = Some(v.trim().to_owned());
        } else if let Some(v) = t.strip_prefix("tps =") {
            s.tps = v.split_whitespace().next().and_then(|x| x.parse().ok());
        } else if t.starts_with("statement latencies in milliseconds") {
            in_statements = true;
        }
    }
    s
}

/// The transactions in pgbench's `--log` files.
struct PgbenchLog {
    /// (completion time in µs since the epoch, latency in µs) of each
    /// transaction that completed.
    done: Vec<(u64, u64)>,
    /// Lines whose time is not a number (`failed`, `serialization`, …).
    failed: u64,
}

fn read_pgbench_logs(dir: &Path) -> Result<PgbenchLog> {
    let mut log = PgbenchLog {
        done: Vec::new(),
        failed: 0,
    };
    for entry in std::fs::read_dir(dir)?.flatten() {
        let text = std::fs::read_to_string(entry.path())?;
        for line in text.lines() {
            // client_id transaction_no time script_no time_epoch time_us
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 6 {
                continue;
            }
            let n = |i: usize| f[i].parse::<u64>().ok();
            match (n(2), n(4), n(5)) {
                (Some(latency), Some(sec), Some(us)) => {
                    log.done.push((sec * 1_000_000 + us, latency));
                }
                _ => log.failed += 1,
            }
        }
    }
    Ok(log)
}

fn pgbench_command(
    cluster: &Cluster,
    db: &str,
    script: &Path,
    clients: usize,
    jobs: usize,
    seconds: u64,
) -> Command {
    // The session settings every Laurel connection has (`PostgresOptions`):
    // the server arms the statement timeout for each statement it runs.
    let laurel = laurel_store_postgres::PostgresOptions::new(String::new());
    let session = format!(
        "-c extra_float_digits=3 -c statement_timeout={} -c idle_in_transaction_session_timeout={}",
        laurel.statement_timeout.as_millis(),
        laurel.idle_in_transaction_timeout.as_millis()
    );
    let mut cmd = Command::new(cluster.bin.join("pgbench"));
    cmd.env("PGOPTIONS", session)
        .args(["-n", "-M", "prepared"])
        .args(["-c", &clients.to_string(), "-j", &jobs.to_string()])
        .args(["-T", &seconds.to_string()])
        .arg("-f")
        .arg(script)
        .args(["-h", "127.0.0.1", "-p", &cluster.port(), "-U", SUPERUSER])
        .arg(db)
        .stdin(Stdio::null());
    cmd
}

async fn pgbench_phase(
    cluster: &Cluster,
    bin: &Path,
    work: &Path,
    clients: usize,
    jobs: usize,
    duration: Duration,
) -> Result<Figures> {
    let (db, url) = cluster.database()?;
    // Laurel creates its tables and demo app 480, and every pgbench user
    // stores once, as in the HTTP phases' warm-up: the user rows exist and
    // the achievement is unlocked.
    {
        let (mut guard, addr) = start_node(bin, work, "laurel-setup", &url, 4)?;
        let make = store_requests(&[addr], clients).await?;
        for client in 0..clients {
            expect_ok(addr, make(client, 0), "set-up store").await?;
        }
        guard.check_alive()?;
        guard.stop();
    }
    let schema_version: i64 = cluster
        .psql(
            &db,
            &format!("SELECT schema_version FROM apps WHERE app_id = {DEMO_APP}"),
        )?
        .trim()
        .parse()
        .context("reading app 480's schema version")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let script = work.join("laurel-store.pgbench.sql");
    std::fs::write(&script, pgbench_script(schema_version, now / 86_400, now))?;
    println!(
        "pgbench: {} on database {db}; script {}",
        cluster.bin.join("pgbench").display(),
        script.display()
    );

    cluster.checkpoint()?;
    let before = cluster.snapshot(&db)?;
    // One run, as the HTTP phases: the warm-up on the same connections, then
    // the measured window (from the logs' completion times), then one more
    // second so that the load does not thin out inside the window.
    let logs = work.join(format!("pgbench-logs-{db}"));
    std::fs::create_dir_all(&logs)?;
    let mut groups = vec![("pgbench".to_owned(), Counted::ReapedChildren)];
    if let Some(pm) = cluster.postmaster() {
        groups.push(("postgres".into(), Counted::Tree(pm)));
    }
    let seconds = WARMUP.as_secs() + duration.as_secs() + 1;
    let mut cmd = pgbench_command(cluster, &db, &script, clients, jobs, seconds);
    cmd.args(["-r", "-l", "--log-prefix"])
        .arg(logs.join("tx"))
        .current_dir(&logs);
    println!(
        "pgbench command: {} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let meter = GroupMeter::start(groups);
    let out = cmd.output().context("running pgbench")?;
    let cpu = meter.stop();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    std::fs::write(work.join("pgbench.stdout"), &stdout)?;
    std::fs::write(work.join("pgbench.stderr"), &out.stderr)?;
    if !out.status.success() {
        bail!(
            "pgbench failed ({}): {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            stdout.trim()
        );
    }
    let summary = parse_pgbench(&stdout);
    let log = read_pgbench_logs(&logs)?;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let after = cluster.snapshot(&db)?;
    cluster.drop_database(&db)?;
    let first_start = log
        .done
        .iter()
        .map(|(end, lat)| end.saturating_sub(*lat))
        .min()
        .ok_or_else(|| anyhow!("pgbench logged no transaction:\n{stdout}"))?;
    let window_start = first_start + WARMUP.as_micros() as u64;
    let window_end = window_start + duration.as_micros() as u64;
    let latencies: Vec<u32> = log
        .done
        .iter()
        .filter(|(end, _)| (window_start..=window_end).contains(end))
        .map(|(_, lat)| (*lat).min(u64::from(u32::MAX)) as u32)
        .collect();
    let mut notes = vec![format!(
        "pgbench's own summary over all {seconds} s (warm-up included): {} transactions, tps = {} (without initial connection time), latency average = {}, initial connection time = {}",
        summary.transactions,
        summary.tps.map_or("?".into(), |t| format!("{t:.1}")),
        summary.latency_avg.as_deref().unwrap_or("?"),
        summary.connection_time.as_deref().unwrap_or("?"),
    )];
    if !summary.per_statement.is_empty() {
        notes.push("per statement, whole run (average ms, failures):".into());
        notes.extend(summary.per_statement.iter().map(|l| format!("  {l}")));
    }
    let failed = summary.failed.max(log.failed);
    Ok(Figures {
        rate: latencies.len() as f64 / duration.as_secs_f64(),
        errors: failed,
        error_samples: Vec::new(),
        cpu,
        per_tx: Some(per_tx(
            &before,
            &after,
            summary.transactions.max(log.done.len() as u64),
        )),
        notes,
        latencies: Latencies::new(latencies),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postmaster_opts_split() {
        let opts = r#"bin/postgres "-D" "cluster/data" "-p" "5433" "-c" "shared_buffers=16MB""#;
        assert_eq!(
            split_opts(opts),
            [
                "bin/postgres",
                "-D",
                "cluster/data",
                "-p",
                "5433",
                "-c",
                "shared_buffers=16MB"
            ]
        );
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
    }

    #[test]
    fn pgbench_output_parses() {
        let out = "transaction type: s.sql\nnumber of transactions actually processed: 1234\n\
                   number of failed transactions: 0 (0.000%)\nlatency average = 10.5 ms\n\
                   initial connection time = 12.0 ms\ntps = 3047.5 (without initial connection time)\n\
                   statement latencies in milliseconds and failures:\n         0.002           0  BEGIN;\n";
        let s = parse_pgbench(out);
        assert_eq!(s.transactions, 1234);
        assert_eq!(s.tps, Some(3047.5));
        assert_eq!(s.latency_avg.as_deref(), Some("10.5 ms"));
        assert_eq!(s.per_statement, ["0.002           0  BEGIN;"]);
    }
}
