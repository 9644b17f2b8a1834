//! What a run prints: each phase's figures, the rounds pooled into one
//! figure per phase, and the summary against the targets.

use crate::load::PhaseResult;
use crate::stats::{Latencies, Us};
use crate::{baseline, child};

/// A phase's outcome: its figures, or why it could not be measured.
pub(crate) type Outcome<T> = std::result::Result<T, String>;

const STORES_TARGET: f64 = 2.0;

const READS_TARGET: f64 = 0.5;

pub(crate) struct Report {
    pub(crate) baseline: Outcome<baseline::BaselineResult>,
    pub(crate) hello: Outcome<PhaseResult>,
    pub(crate) stores: Outcome<PhaseResult>,
    pub(crate) reads: Outcome<PhaseResult>,
    pub(crate) memory: Outcome<(u64, u64)>,
}

pub(crate) fn print_phase(title: &str, unit: &str, r: &Outcome<PhaseResult>) {
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
pub(crate) fn cpu_line(cpu: Option<child::CpuUse>) -> String {
    if cpu.is_none() {
        return "not measured".into();
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{} cores of {cores}", cpu_parts(cpu))
}

/// Cores used by the server, by laurel-bench and by everything else.
pub(crate) fn cpu_parts(cpu: Option<child::CpuUse>) -> String {
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
pub(crate) fn summary(r: &Report) -> bool {
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
    valid &= verdict(&busy, &problems);
    valid
}

/// Prints the run's warnings (other work on the machine) and, when a
/// problem makes the run invalid, says so loudly. True when it is valid.
pub(crate) fn verdict(busy: &[String], problems: &[String]) -> bool {
    if !busy.is_empty() {
        println!();
        println!("WARNING: the machine was not quiet; these figures are skewed by other work:");
        for b in busy {
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
    for p in problems {
        println!("##  {p}");
    }
    false
}

/// The rounds of one server phase as one: every measured window pooled, CPU
/// averaged. Any failed round fails the phase.
pub(crate) fn merge_phases(rounds: Vec<Outcome<PhaseResult>>) -> Outcome<PhaseResult> {
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

pub(crate) fn merge_baselines(
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
pub(crate) fn mean_cpu(rounds: Vec<Option<child::CpuUse>>) -> Option<child::CpuUse> {
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

pub(crate) fn print_baseline(title: &str, b: &Outcome<baseline::BaselineResult>) {
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
