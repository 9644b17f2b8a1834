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
//! `laurel-bench soak` is no benchmark but a durability check ([`soak`]):
//! SIGKILLs of the server under concurrent stores, then every acknowledged
//! store checked present exactly once (asserted).
// Unsafe code is allowed here only: process groups and CPU times of the processes it measures (libc).
#![allow(unsafe_code)]

mod baseline;
mod boards;
mod child;
mod cli;
mod hello;
mod host;
mod load;
mod pg;
mod report;
mod requests;
mod servers;
mod settings;
mod soak;
mod stats;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;

use crate::cli::{Cli, Sub, laurel_bin};
use crate::host::{fs_kind, loadavg, machine, work_dir};
use crate::load::PhaseResult;
use crate::report::{
    Outcome, Report, merge_baselines, merge_phases, print_baseline, print_phase, summary,
};
use crate::servers::Servers;
use crate::settings::WARMUP;

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
        Some(Sub::Leaderboards(flags)) => boards::run(&cli, flags),
        Some(Sub::Soak(flags)) => soak::run(&cli, flags),
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

/// The server phases, by phase number 1..=3 (0 is the baseline).
const PHASES: [(&str, &str); 3] = [
    ("[2] Laurel stores (POST progress)", "stores/s"),
    ("[3] axum hello-world (separate process)", "req/s"),
    ("[4] Laurel reads (GET own progress)", "reads/s"),
];
