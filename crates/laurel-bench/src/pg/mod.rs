//! `laurel-bench postgres`: Laurel's durable stores on PostgreSQL,
//! in one run, on one PostgreSQL cluster started by the test harness
//! (`laurel_testkit::postgres`):
//!
//! 1. **pgbench**: Laurel's store transaction, statement for statement (the
//!    SQL of `laurel-store-postgres`, on Laurel's own tables, which a Laurel
//!    node created), one pgbench connection per client, each its own user;
//! 2. **Laurel, 1 node**: `laurel serve --database postgres://…`, the store
//!    requests of the foundation bench's store phase over HTTP;
//! 3. **Laurel, 2 nodes**: two `laurel serve` on one database, the clients
//!    split between them;
//! 4. **Laurel, 1 node, progress reads**: every client reads its own
//!    user's progress (20 stats, 25 of 50 achievements unlocked) as fast as
//!    it is answered: the read tail of issue 16 (its p99 and max);
//! 5. **Laurel, 1 node, one hot user**: every client stores to one user
//!    (two float stats per store).
//!
//! With `--baseline-bin PATH` (a `laurel` of an older build), phases 2–5
//! run again on that binary, in the same rounds, and the summary prints
//! the new build's ratios against it, PostgreSQL's CPU per store included.
//!
//! Every phase gets a fresh database (dropped after it) and a `CHECKPOINT` first. With
//! `--rounds N` the phases run N times, each round in an order rotated by
//! one, and the summary pools the rounds. The ratios (`1 node / pgbench`,
//! target ≥ 0.8; `2 nodes / 1 node`; against the baseline) are printed,
//! never asserted; the exit code is 1 only when a phase could not run or a
//! request (or a pgbench transaction) failed.
//!
//! Here: the run and its summary; [`cluster`] the PostgreSQL cluster and
//! its counters, [`figures`] what a phase measures, [`pgbench`] the pgbench
//! side, [`nodes`] the Laurel side.

mod cluster;
mod figures;
mod nodes;
mod pgbench;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::child::GroupCpu;
use crate::cli::{Cli, PgFlags, laurel_bin};
use crate::host::{fs_kind, loadavg, machine};
use crate::servers::check_laurel_bin;
use crate::settings::WARMUP;
use crate::stats::{Latencies, Us};
use cluster::Cluster;
use figures::Figures;
use nodes::{Shape, Workload, laurel_phase};
use pgbench::pgbench_phase;

/// The bar for one node on PostgreSQL: `1 node / pgbench` at or above this,
/// i.e. at least 80 % of what pgbench gets from the same transaction.
const PGBENCH_TARGET: f64 = 0.8;

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
    let work = crate::host::work_dir(&work_parent, "laurel-bench-pg-")?;
    let exe = std::env::current_exe().context("locating this binary")?;
    let laurel_bin = laurel_bin(cli, &exe);
    check_laurel_bin(&laurel_bin)?;

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

    // Each round runs every phase, in an order rotated by one per round,
    // so that a drift of the machine's speed during the run (or the
    // position of a phase) weighs on all of them alike.
    let rounds = flags.rounds.max(1);
    let jobs = flags.pgbench_jobs.max(1);
    let pool = |nodes: usize| {
        flags
            .db_pool_size
            .unwrap_or_else(|| u16::try_from(clients.div_ceil(nodes)).unwrap_or(256))
            .clamp(1, 256)
    };
    let mut phases = vec![PhaseSpec {
        name: "pgbench, same transaction".into(),
        title: format!("pgbench, Laurel's store transaction (-M prepared, -c {clients} -j {jobs})"),
        unit: "tx/s",
        run: Run::Pgbench,
    }];
    let mut builds = vec![("Laurel", laurel_bin.clone())];
    if let Some(old) = &flags.baseline_bin {
        check_laurel_bin(old)?;
        builds.push(("baseline", old.clone()));
    }
    for (build, bin) in &builds {
        for (what, unit, nodes, workload) in [
            ("1 node", "stores/s", 1, Workload::Stores),
            ("2 nodes", "stores/s", 2, Workload::Stores),
            ("1 node, progress reads", "reads/s", 1, Workload::Reads),
            ("1 node, one hot user", "stores/s", 1, Workload::HotUser),
        ] {
            let shape = Shape {
                nodes,
                pool: pool(nodes),
                workload,
            };
            phases.push(PhaseSpec {
                name: format!("{build}, {what}"),
                title: format!(
                    "{build}, {what} (--db-pool-size {} per node), over HTTP",
                    shape.pool
                ),
                unit,
                run: Run::Laurel(bin.clone(), shape),
            });
        }
    }
    if let Some(old) = &flags.baseline_bin {
        println!("baseline: {}", old.display());
    }
    let count = phases.len();
    let mut outcomes: Vec<Vec<Outcome>> = (0..count).map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for k in 0..count {
            let index = (round + k) % count;
            let phase = &phases[index];
            let outcome = match &phase.run {
                Run::Pgbench => runtime.block_on(pgbench_phase(
                    &cluster,
                    &laurel_bin,
                    work.path(),
                    clients,
                    jobs,
                    duration,
                )),
                Run::Laurel(bin, shape) => runtime.block_on(laurel_phase(
                    &cluster,
                    bin,
                    work.path(),
                    *shape,
                    clients,
                    duration,
                )),
            }
            .map_err(|e| format!("{e:#}"));
            print_phase(
                &format!(
                    "[round {}/{rounds}, {}] {}",
                    round + 1,
                    index + 1,
                    phase.title
                ),
                phase.unit,
                &outcome,
            );
            outcomes[index].push(outcome);
        }
    }
    println!("load average at end: {}", loadavg());
    let merged: Vec<Outcome> = outcomes.into_iter().map(|o| merge(o, duration)).collect();
    if rounds > 1 {
        println!("all {rounds} rounds together (every measured window of a phase pooled):");
    }
    Ok(summary(&phases, &merged))
}

/// What a phase runs.
enum Run {
    Pgbench,
    /// `laurel` nodes of this binary.
    Laurel(PathBuf, Shape),
}

/// One phase of every round.
struct PhaseSpec {
    /// Its name in the summary, which the ratios look phases up by.
    name: String,
    title: String,
    unit: &'static str,
    run: Run,
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

/// PostgreSQL's CPU per completed request, in core-milliseconds.
fn postgres_ms_per_request(f: &Figures) -> Option<f64> {
    let cores = f.cpu.groups.iter().find(|(g, _)| g == "postgres")?.1?;
    (f.rate > 0.0).then(|| cores * 1000.0 / f.rate)
}

/// Prints the table and the ratios; returns whether the run is valid.
fn summary(phases: &[PhaseSpec], outcomes: &[Outcome]) -> bool {
    println!(
        "| phase | throughput | p50 | p99 | max | errors | CPU (cores) | PostgreSQL CPU per request |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut problems = Vec::new();
    let mut busy = Vec::new();
    for (phase, o) in phases.iter().zip(outcomes) {
        let (name, unit) = (&phase.name, phase.unit);
        match o {
            Ok(f) => {
                let cpu = cpu_text(&f.cpu);
                let cpu = cpu.split(" (cores").next().unwrap_or_default();
                let per = postgres_ms_per_request(f)
                    .map_or_else(|| "?".to_owned(), |ms| format!("{ms:.3} ms"));
                println!(
                    "| {name} | {:.0} {unit} | {} | {} | {} | {} | {cpu} | {per} |",
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
                println!("| {name} | not measured | | | | | | |");
                problems.push(format!("{name} not measured: {e}"));
            }
        }
    }
    println!();
    let find = |name: &str| {
        phases
            .iter()
            .position(|p| p.name == name)
            .and_then(|i| outcomes[i].as_ref().ok())
            .filter(|f| f.latencies.len() > 0)
    };
    let ratio = |label: &str, num: &str, den: &str, target: Option<(&str, f64)>| match (
        find(num),
        find(den),
    ) {
        (Some(n), Some(d)) if d.rate > 0.0 => {
            let x = n.rate / d.rate;
            let verdict = match target {
                Some((_, t)) if x >= t => ": PASS",
                Some(_) => ": BELOW TARGET",
                None => "",
            };
            let bar = target.map_or(String::new(), |(text, _)| format!(" (target {text})"));
            println!(
                "{label} = {:.0} / {:.0} = {x:.3}{bar}{verdict}",
                n.rate, d.rate
            );
        }
        _ => println!("{label}: not available (a phase was not measured)"),
    };
    ratio(
        "1 node / pgbench",
        "Laurel, 1 node",
        "pgbench, same transaction",
        Some(("≥ 0.8", PGBENCH_TARGET)),
    );
    ratio(
        "2 nodes / 1 node",
        "Laurel, 2 nodes",
        "Laurel, 1 node",
        Some(("≥ 1.8", 1.8)),
    );
    if phases.iter().any(|p| p.name.starts_with("baseline")) {
        for what in [
            "1 node",
            "2 nodes",
            "1 node, one hot user",
            "1 node, progress reads",
        ] {
            let target = match what {
                "1 node" | "1 node, one hot user" => Some(("≥ 1.5", 1.5)),
                _ => None,
            };
            ratio(
                &format!("{what}: Laurel / baseline"),
                &format!("Laurel, {what}"),
                &format!("baseline, {what}"),
                target,
            );
        }
        for what in ["1 node", "1 node, one hot user"] {
            let per =
                |build: &str| find(&format!("{build}, {what}")).and_then(postgres_ms_per_request);
            match (per("Laurel"), per("baseline")) {
                (Some(n), Some(d)) if d > 0.0 => println!(
                    "{what}: PostgreSQL CPU per store, Laurel / baseline = {n:.3} / {d:.3} ms = {:.3} (target ≤ 0.6)",
                    n / d
                ),
                _ => println!("{what}: PostgreSQL CPU per store: not available"),
            }
        }
    }
    if let Some(f) = find("Laurel, 1 node, progress reads") {
        println!(
            "progress reads: p99 {} (target ≤ 10 ms), max {} (target ≤ 100 ms)",
            Us(f.latencies.p99()),
            Us(f.latencies.max())
        );
    }
    if let Some(f) = find("Laurel, 1 node, one hot user") {
        println!(
            "one hot user: p99 {} (target < 50 ms)",
            Us(f.latencies.p99())
        );
    }
    crate::report::verdict(&busy, &problems)
}
