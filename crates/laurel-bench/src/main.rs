//! Laurel's foundation benchmark. In one run it measures:
//!
//! 1. a baseline: the store transaction straight on SQLite (WAL, `synchronous=FULL`,
//!    one commit per transaction, one thread);
//! 2. Laurel stores over HTTP (the release `laurel` binary as a child process);
//! 3. the HTTP ceiling: an axum JSON hello-world in a separate process;
//! 4. Laurel progress reads (50 achievements, 20 stats);
//! 5. the server's memory afterwards;
//!
//! then prints `stores / baseline` and `reads / hello` against their targets.
//! Figures are printed, never asserted; errors make the run invalid (exit 1).
//!
//! `laurel-bench postgres` is the PostgreSQL benchmark instead ([`pg`]):
//! pgbench running Laurel's store transaction, then Laurel with 1 and 2 nodes.
// Unsafe code is allowed here only: process groups and CPU times of the processes it measures (libc).
#![allow(unsafe_code)]

mod baseline;
mod child;
mod hello;
mod load;
mod pg;
mod stats;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, Subcommand};
use hyper::Method;

use crate::child::ChildGuard;
use crate::load::{MakeRequest, Phase, PhaseResult, expect_ok, request};
use crate::stats::{Latencies, Us};

const STORES_TARGET: f64 = 2.0;
const READS_TARGET: f64 = 0.5;
const WARMUP: Duration = Duration::from_secs(1);
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
const ADMIN_TOKEN: &str = "laurel-bench-admin-token-0123456789";
const FIRST_STEAM_ID: u64 = 76_561_198_000_000_000;
const DEMO_APP: u32 = 480;
const READ_APP: u32 = 4242;
const READ_STATS: usize = 20;
const READ_ACHIEVEMENTS: usize = 50;
const READ_UNLOCKED: usize = 25;

#[derive(Parser, Debug)]
#[command(
    name = "laurel-bench",
    about = "Laurel's foundation benchmark (prints figures; never asserts them)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    /// Seconds per measured phase (each phase also has a 1 s warm-up).
    #[arg(long, global = true, default_value_t = 10)]
    duration: u64,
    /// Concurrent clients (keep-alive connections), each its own user.
    #[arg(long, global = true, default_value_t = 32)]
    clients: usize,
    /// The `laurel` server binary (default: `laurel` next to this binary, i.e. target/release/laurel).
    #[arg(long, global = true)]
    laurel_bin: Option<PathBuf>,
    /// Smoke run: 2 s phases, one round.
    #[arg(long, global = true)]
    quick: bool,
    /// Rounds of the four phases, each round in an order rotated by one; the
    /// ratios pool every round, so a drift of the machine's speed during the
    /// run weighs on both sides of each ratio alike.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Directory under which the temporary databases are created (default: the system temp dir).
    /// Must be on a real disk: fsync on tmpfs costs nothing.
    #[arg(long, global = true)]
    work_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Sub {
    /// Stores on PostgreSQL: pgbench running the same transaction, then
    /// Laurel with 1 node and with 2 nodes, on one cluster (issue 6).
    Postgres(pg::PgFlags),
    /// Internal: the hello-world server of phase 3.
    #[command(hide = true)]
    HelloServer {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Some(Sub::HelloServer { listen }) => {
            return match hello::serve(*listen) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("hello-server: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(Sub::Postgres(flags)) => pg::run(&cli, flags),
        None => run(&cli),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("laurel-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A phase's outcome: its figures, or why it could not be measured.
type Outcome<T> = std::result::Result<T, String>;

struct Report {
    baseline: Outcome<baseline::BaselineResult>,
    hello: Outcome<PhaseResult>,
    stores: Outcome<PhaseResult>,
    reads: Outcome<PhaseResult>,
    memory: Outcome<(u64, u64)>,
}

/// A temporary directory for one run, under `parent`.
fn work_dir(parent: &Path, prefix: &str) -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(parent)
        .with_context(|| format!("creating a temp dir in {}", parent.display()))
}

/// The `laurel` server binary: `--laurel-bin`, else `laurel` next to this binary.
fn laurel_bin(cli: &Cli, exe: &Path) -> PathBuf {
    cli.laurel_bin.clone().unwrap_or_else(|| {
        exe.parent()
            .map(|d| d.join("laurel"))
            .unwrap_or_else(|| "laurel".into())
    })
}

fn check_laurel_bin(bin: &Path) -> Result<()> {
    if !bin.is_file() {
        bail!(
            "no laurel binary at {} (build it: cargo build --release -p laurel, or pass --laurel-bin)",
            bin.display()
        );
    }
    Ok(())
}

fn run(cli: &Cli) -> Result<bool> {
    let duration = Duration::from_secs(if cli.quick { 2 } else { cli.duration.max(1) });
    let clients = cli.clients.max(1);
    let work_parent = cli.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let work = work_dir(&work_parent, "laurel-bench-")?;
    let exe = std::env::current_exe().context("locating this binary")?;
    let laurel_bin = laurel_bin(cli, &exe);

    println!("laurel-bench — {}", machine());
    println!(
        "phases: {} s measured after {} s warm-up; {clients} clients; work dir {} ({})",
        duration.as_secs(),
        WARMUP.as_secs(),
        work.path().display(),
        fs_kind(work.path())
    );
    println!("load average at start: {}", loadavg());
    if cfg!(debug_assertions) {
        println!("WARNING: this is a debug build of laurel-bench; run it with --release");
    }
    println!();

    let rounds = if cli.quick { 1 } else { cli.rounds.max(1) };
    println!("{rounds} round(s) of the four phases, each round in an order rotated by one");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut servers =
        match runtime.block_on(Servers::start(&exe, &laurel_bin, work.path(), clients)) {
            Ok(s) => s,
            Err(e) => {
                let why = format!("{e:#}");
                println!("servers NOT STARTED: {why}");
                let report = Report {
                    baseline: Err(why.clone()),
                    hello: Err(why.clone()),
                    stores: Err(why.clone()),
                    reads: Err(why.clone()),
                    memory: Err(why),
                };
                return Ok(summary(&report));
            }
        };
    let mut base_rounds = Vec::new();
    let mut phase_rounds: [Vec<Outcome<PhaseResult>>; 3] = Default::default();
    for round in 0..rounds {
        for k in 0..4 {
            let phase = (round + k) % 4;
            let label = format!("[round {}/{rounds}]", round + 1);
            if phase == 0 {
                let b = baseline::run(work.path(), clients as u64, WARMUP, duration)
                    .map_err(|e| format!("{e:#}"));
                print_baseline(&format!("{label} [1] SQLite baseline"), &b);
                base_rounds.push(b);
                continue;
            }
            let (title, unit) = PHASES[phase - 1];
            let outcome = runtime
                .block_on(servers.run(phase, round, clients, duration))
                .map_err(|e| format!("{e:#}"));
            print_phase(&format!("{label} {title}"), unit, &outcome);
            phase_rounds[phase - 1].push(outcome);
        }
        if rounds > 1 {
            let rate = |o: Option<&Outcome<PhaseResult>>| {
                o.and_then(|o| o.as_ref().ok()).map(PhaseResult::per_second)
            };
            let base = base_rounds
                .last()
                .and_then(|b| b.as_ref().ok())
                .map(|b| b.per_second());
            let [stores, hello, reads] = [0, 1, 2].map(|i| rate(phase_rounds[i].last()));
            if let (Some(b), Some(s), Some(h), Some(r)) = (base, stores, hello, reads) {
                println!(
                    "round {}: stores / baseline = {:.3}, reads / hello = {:.3}\n",
                    round + 1,
                    s / b.max(1e-9),
                    r / h.max(1e-9)
                );
            }
        }
    }
    let memory = servers.finish();
    let [stores, hello, reads] = phase_rounds.map(merge_phases);
    let base = merge_baselines(base_rounds);
    println!();
    if rounds > 1 {
        println!("all {rounds} rounds together (every measured window of a phase pooled):");
    }
    print_baseline("[1] SQLite baseline", &base);
    print_phase(PHASES[1].0, PHASES[1].1, &hello);
    print_phase(PHASES[0].0, PHASES[0].1, &stores);
    print_phase(PHASES[2].0, PHASES[2].1, &reads);
    match &memory {
        Ok((rss, hwm)) => println!(
            "[5] laurel memory after the run: VmRSS {} KiB ({:.1} MiB), VmHWM {} KiB ({:.1} MiB)",
            rss,
            *rss as f64 / 1024.0,
            hwm,
            *hwm as f64 / 1024.0
        ),
        Err(e) => println!("[5] laurel memory NOT MEASURED: {e}"),
    }

    println!("load average at end: {}", loadavg());

    let report = Report {
        baseline: base,
        hello,
        stores,
        reads,
        memory,
    };
    Ok(summary(&report))
}

fn print_phase(title: &str, unit: &str, r: &Outcome<PhaseResult>) {
    match r {
        Ok(p) => {
            println!(
                "{title}: {:.0} {unit}  p50 {}  p99 {}  max {}  (n={}, body {} B, errors {})",
                p.per_second(),
                Us(p.latencies.p50()),
                Us(p.latencies.p99()),
                Us(p.latencies.max()),
                p.latencies.len(),
                p.last_body_len,
                p.errors
            );
            println!("    CPU: {}", cpu_line(p.cpu));
            for s in &p.error_samples {
                println!("    error: {s}");
            }
        }
        Err(e) => println!("{title}: NOT MEASURED: {e}"),
    }
}

/// Where the machine's cores went during a phase.
fn cpu_line(cpu: Option<child::CpuUse>) -> String {
    if cpu.is_none() {
        return "not measured".into();
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{} cores of {cores}", cpu_parts(cpu))
}

/// Cores used by the server, by laurel-bench and by everything else.
fn cpu_parts(cpu: Option<child::CpuUse>) -> String {
    let Some(c) = cpu else { return "?".into() };
    let mut parts = Vec::new();
    if let Some(s) = c.server {
        parts.push(format!("server {s:.2}"));
    }
    parts.push(format!("laurel-bench {:.2}", c.own));
    if let Some(o) = c.others {
        parts.push(format!("others {o:.2}"));
    }
    parts.join(", ")
}

/// Prints the table and ratios; returns whether the run is valid.
fn summary(r: &Report) -> bool {
    println!();
    println!("| measurement | throughput | p50 | p99 | max | errors | CPU (cores) |");
    println!("|---|---|---|---|---|---|---|");
    let busy = std::cell::RefCell::new(Vec::new());
    let row = |name: &str,
               unit: &str,
               rate: f64,
               l: &Latencies,
               errors: u64,
               cpu: Option<child::CpuUse>| {
        println!(
            "| {name} | {rate:.0} {unit} | {} | {} | {} | {errors} | {} |",
            Us(l.p50()),
            Us(l.p99()),
            Us(l.max()),
            cpu_parts(cpu)
        );
        if let Some(o) = cpu.and_then(|c| c.others).filter(|o| *o > 0.25) {
            busy.borrow_mut()
                .push(format!("{name}: other processes used {o:.2} cores"));
        }
    };
    let mut valid = true;
    let mut problems = Vec::new();
    match &r.baseline {
        Ok(b) => row(
            "SQLite baseline, 1 commit/tx",
            "tx/s",
            b.per_second(),
            &b.latencies,
            0,
            b.cpu,
        ),
        Err(e) => {
            println!("| SQLite baseline | not measured | | | | | |");
            problems.push(format!("baseline not measured: {e}"));
        }
    }
    for (name, unit, o) in [
        ("Laurel stores", "stores/s", &r.stores),
        ("axum hello-world", "req/s", &r.hello),
        ("Laurel reads", "reads/s", &r.reads),
    ] {
        match o {
            Ok(p) => {
                row(name, unit, p.per_second(), &p.latencies, p.errors, p.cpu);
                if p.errors > 0 {
                    problems.push(format!(
                        "{name}: {} errors (of {} requests)",
                        p.errors,
                        p.errors + p.ok_total
                    ));
                }
                if p.latencies.len() == 0 {
                    problems.push(format!(
                        "{name}: no request completed in the measured window"
                    ));
                }
            }
            Err(e) => {
                println!("| {name} | not measured | | | | | |");
                problems.push(format!("{name} not measured: {e}"));
            }
        }
    }
    if let Ok(p) = &r.reads {
        println!("\nread response size: {} bytes", p.last_body_len);
    }
    if let Ok((rss, hwm)) = &r.memory {
        println!(
            "laurel memory: VmRSS {:.1} MiB, VmHWM {:.1} MiB",
            *rss as f64 / 1024.0,
            *hwm as f64 / 1024.0
        );
    }
    println!();
    let ratio = |name: &str, num: Option<f64>, den: Option<f64>, target: f64| match (num, den) {
        (Some(n), Some(d)) if d > 0.0 => {
            let x = n / d;
            let verdict = if x >= target { "PASS" } else { "BELOW TARGET" };
            println!("{name} = {n:.0} / {d:.0} = {x:.3} (target ≥ {target:.1}): {verdict}");
        }
        _ => println!("{name}: not available (a phase was not measured)"),
    };
    let rate = |o: &Outcome<PhaseResult>| {
        o.as_ref()
            .ok()
            .filter(|p| p.latencies.len() > 0)
            .map(PhaseResult::per_second)
    };
    ratio(
        "stores / baseline",
        rate(&r.stores),
        r.baseline.as_ref().ok().map(|b| b.per_second()),
        STORES_TARGET,
    );
    ratio(
        "reads / hello",
        rate(&r.reads),
        rate(&r.hello),
        READS_TARGET,
    );

    let busy = busy.into_inner();
    if !busy.is_empty() {
        println!();
        println!("WARNING: the machine was not quiet; these figures are skewed by other work:");
        for b in &busy {
            println!("  - {b}");
        }
    }
    if !problems.is_empty() {
        valid = false;
        println!();
        println!("################################################################");
        println!("##  THIS BENCHMARK RUN IS INVALID                              ##");
        println!("################################################################");
        for p in &problems {
            println!("##  {p}");
        }
    }
    valid
}

/// The server phases, by phase number 1..=3 (0 is the baseline).
const PHASES: [(&str, &str); 3] = [
    ("[2] Laurel stores (POST progress)", "stores/s"),
    ("[3] axum hello-world (separate process)", "req/s"),
    ("[4] Laurel reads (GET own progress)", "reads/s"),
];

/// Each round's store keys and values start this far beyond the last
/// round's, so no store of a round replays one of an earlier round (and the
/// increment-only stats keep rising), while values stay within an int stat.
const ROUND_SEQ_STRIDE: u64 = 10_000_000;

/// The hello-world server and Laurel, both started once for every round, with
/// the requests of the store and read phases set up.
struct Servers {
    hello: ChildGuard,
    hello_addr: SocketAddr,
    hello_requests: MakeRequest,
    laurel: ChildGuard,
    laurel_addr: SocketAddr,
    stores: MakeRequest,
    reads: MakeRequest,
}

impl Servers {
    async fn start(exe: &Path, laurel_bin: &Path, work: &Path, clients: usize) -> Result<Servers> {
        check_laurel_bin(laurel_bin)?;
        let mut cmd = Command::new(exe);
        cmd.args(["hello-server", "--listen", "127.0.0.1:0"]);
        let (hello, hello_addr) = ChildGuard::spawn(
            "hello-server",
            cmd,
            hello::READY_PREFIX,
            &work.join("hello.stderr"),
            STARTUP_TIMEOUT,
        )?;
        let mut cmd = Command::new(laurel_bin);
        cmd.arg("serve")
            .arg("--dev")
            .args(["--listen", "127.0.0.1:0"])
            .args(LOAD_RATE_ARGS)
            .arg("--data-dir")
            .arg(work.join("laurel-data"))
            .env("LAUREL_ADMIN_TOKEN", ADMIN_TOKEN);
        let (laurel, laurel_addr) = ChildGuard::spawn(
            "laurel",
            cmd,
            "laurel listening on http://",
            &work.join("laurel.stderr"),
            STARTUP_TIMEOUT,
        )?;
        println!(
            "laurel: {} (pid {}) listening on {laurel_addr}",
            laurel_bin.display(),
            laurel.pid()
        );
        let stores = store_requests(&[laurel_addr], clients).await?;
        let reads = read_requests(laurel_addr, clients).await?;
        let hello_requests: MakeRequest =
            Arc::new(move |_, _| request(hello_addr, Method::GET, "/", None, &[], None));
        Ok(Servers {
            hello,
            hello_addr,
            hello_requests,
            laurel,
            laurel_addr,
            stores,
            reads,
        })
    }

    /// Runs server phase `phase` (1..=3) of round `round`.
    async fn run(
        &mut self,
        phase: usize,
        round: usize,
        clients: usize,
        duration: Duration,
    ) -> Result<PhaseResult> {
        let (addr, make, guard) = match phase {
            1 => {
                let stores = Arc::clone(&self.stores);
                let offset = round as u64 * ROUND_SEQ_STRIDE;
                let make: MakeRequest = Arc::new(move |client, seq| stores(client, seq + offset));
                (self.laurel_addr, make, &mut self.laurel)
            }
            2 => (
                self.hello_addr,
                Arc::clone(&self.hello_requests),
                &mut self.hello,
            ),
            _ => (self.laurel_addr, Arc::clone(&self.reads), &mut self.laurel),
        };
        let phase = Phase {
            addr,
            server_pid: guard.pid(),
            clients,
            warmup: WARMUP,
            duration,
        };
        let result = load::run_phase(phase, make).await;
        guard.check_alive()?;
        Ok(result)
    }

    /// Laurel's memory after every phase, then both servers stopped.
    fn finish(mut self) -> Outcome<(u64, u64)> {
        let memory = match self.laurel.check_alive() {
            Ok(()) => child::memory_kib(self.laurel.pid()).map_err(|e| format!("{e:#}")),
            Err(e) => Err(format!("{e:#}")),
        };
        self.laurel.stop();
        self.hello.stop();
        memory
    }
}

/// The rounds of one server phase as one: every measured window pooled, CPU
/// averaged. Any failed round fails the phase.
fn merge_phases(rounds: Vec<Outcome<PhaseResult>>) -> Outcome<PhaseResult> {
    let n = rounds.len();
    let mut done = Vec::with_capacity(n);
    for r in rounds {
        done.push(r?);
    }
    let last_body_len = done.last().map_or(0, |p| p.last_body_len);
    let cpu = mean_cpu(done.iter().map(|p| p.cpu).collect());
    Ok(PhaseResult {
        errors: done.iter().map(|p| p.errors).sum(),
        error_samples: done.iter().flat_map(|p| p.error_samples.clone()).collect(),
        ok_total: done.iter().map(|p| p.ok_total).sum(),
        last_body_len,
        measured: done.iter().map(|p| p.measured).sum(),
        cpu,
        latencies: Latencies::merge(done.into_iter().map(|p| p.latencies).collect()),
    })
}

fn merge_baselines(
    rounds: Vec<Outcome<baseline::BaselineResult>>,
) -> Outcome<baseline::BaselineResult> {
    let mut done = Vec::with_capacity(rounds.len());
    for r in rounds {
        done.push(r?);
    }
    let first = done.first().ok_or_else(|| "not run".to_owned())?;
    let (journal_mode, synchronous) = (first.journal_mode.clone(), first.synchronous);
    let cpu = mean_cpu(done.iter().map(|b| b.cpu).collect());
    Ok(baseline::BaselineResult {
        measured: done.iter().map(|b| b.measured).sum(),
        journal_mode,
        synchronous,
        cpu,
        latencies: Latencies::merge(done.into_iter().map(|b| b.latencies).collect()),
    })
}

/// The mean of each CPU figure over the rounds that measured it.
fn mean_cpu(rounds: Vec<Option<child::CpuUse>>) -> Option<child::CpuUse> {
    let measured: Vec<child::CpuUse> = rounds.into_iter().flatten().collect();
    if measured.is_empty() {
        return None;
    }
    let mean = |values: Vec<f64>| {
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    Some(child::CpuUse {
        server: mean(measured.iter().filter_map(|c| c.server).collect()),
        own: mean(measured.iter().map(|c| c.own).collect()).unwrap_or(0.0),
        others: mean(measured.iter().filter_map(|c| c.others).collect()),
    })
}

fn print_baseline(title: &str, b: &Outcome<baseline::BaselineResult>) {
    match b {
        Ok(b) => {
            println!(
                "{title} (journal_mode={}, synchronous={} (2=FULL), 1 commit/tx, 1 thread): {:.0} tx/s  p50 {}  p99 {}  max {}  (n={})",
                b.journal_mode,
                b.synchronous,
                b.per_second(),
                Us(b.latencies.p50()),
                Us(b.latencies.p99()),
                Us(b.latencies.max()),
                b.latencies.len()
            );
            println!("    CPU: {}", cpu_line(b.cpu));
        }
        Err(e) => println!("{title} FAILED: {e}"),
    }
}

/// Rate limits far above the bench's load, so that the limiter runs on
/// every request (its cost is measured) but refuses none: each bench client
/// sends far more than a player would.
pub const LOAD_RATE_ARGS: &[&str] = &[
    "--user-rate",
    "10000000",
    "--user-burst",
    "10000000",
    "--key-rate",
    "10000000",
    "--key-burst",
    "10000000",
    "--address-rate",
    "10000000",
    "--address-burst",
    "10000000",
];

/// A token per user: `POST /api/v1/sessions`, for free in dev mode's demo
/// app, paid for with a new server key in any other app.
async fn sessions(addr: SocketAddr, app: u32, users: &[u64]) -> Result<Vec<String>> {
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

fn run_nonce() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}-{}", std::process::id(), t.as_millis())
}

fn progress_path(app: u32, user: u64) -> String {
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
async fn store_requests(addrs: &[SocketAddr], clients: usize) -> Result<MakeRequest> {
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

/// Laurel's schema JSON for the read phase: 20 int stats, 50 achievements.
fn read_schema() -> String {
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
async fn read_requests(addr: SocketAddr, clients: usize) -> Result<MakeRequest> {
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

/// `/proc/loadavg`'s 1/5/15-minute figures: other work on the machine skews the run.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// `nproc` and the CPU model.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus} CPUs ({model})")
}

/// The file system type of `path`, with a warning for tmpfs.
fn fs_kind(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return "unknown fs".into();
    };
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid C string and `st` a properly sized out-parameter.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return "unknown fs".into();
    }
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    const EXT4_MAGIC: i64 = 0xEF53;
    const XFS_MAGIC: i64 = 0x5846_5342;
    const BTRFS_MAGIC: i64 = 0x9123_683E;
    match st.f_type as i64 {
        TMPFS_MAGIC => "tmpfs — WARNING: fsync is free here, durable-write figures are meaningless; use --work-dir".into(),
        EXT4_MAGIC => "ext4".into(),
        XFS_MAGIC => "xfs".into(),
        BTRFS_MAGIC => "btrfs".into(),
        other => format!("fs type {other:#x}"),
    }
}
