//! Benchmark of `plugin.steamworks` from Lua (a benchmark, not a test):
//!
//! ```text
//! cargo run --release -p laurel-lua --example lua_bench [-- READS UNLOCKS]
//! ```
//!
//! Starts a dev-mode server in-process (SQLite in a temp dir, durable answers),
//! installs the freshly built module as `plugin/steamworks.so`, and runs
//! `bench/bench.lua` under LuaJIT, then Lua 5.1 for reference. It prints the
//! cost per call of the cache reads against a plain Lua table lookup of the
//! same data, and the time from `setAchievementUnlocked` to its
//! `userProgressSave` event on loopback (timed here, as the script's lines
//! arrive), with the time the unlock call itself takes (it journals the store
//! durably before returning).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark: a failure ends the run, with its place"
)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use support::{ModuleDir, Run, StepReply};
use tempfile::TempDir;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let reads = args.first().cloned().unwrap_or_else(|| "200000".into());
    let unlocks = args.get(1).cloned().unwrap_or_else(|| "200".into());
    let module = ModuleDir::install();
    let data = TempDir::new().unwrap();
    let server = support::start_server(&data.path().join("laurel.sqlite3"), None);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/bench.lua");
    println!(
        "plugin.steamworks benchmark: {reads} reads per figure, {unlocks} unlocks, server on {}",
        server.url
    );
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!(
            "load average at start: {} ({} cores)",
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
    }
    for (n, interpreter) in support::INTERPRETERS.iter().enumerate() {
        let work = TempDir::new().unwrap();
        let user = format!("7656119796028{:04}", 7000 + n);
        let run = Run {
            interpreter: (*interpreter).into(),
            script: script.clone(),
            cwd: work.path().to_owned(),
            env: vec![
                ("LUA_CPATH".into(), module.cpath()),
                ("LAUREL_URL".into(), server.url.clone()),
                ("LAUREL_APP_ID".into(), "480".into()),
                ("LAUREL_USER_ID".into(), user),
            ],
            args: vec![reads.clone(), unlocks.clone()],
            timeout: Duration::from_secs(600),
        };
        let outcome = support::run(&run, |step| StepReply::Line(step.to_owned()));
        let done = outcome
            .stdout
            .iter()
            .any(|(_, l)| l.starts_with("BENCH-DONE"));
        if !done {
            eprintln!("{}", outcome.report(&run));
            std::process::exit(1);
        }
        println!("\n{interpreter}:");
        println!(
            "  {:<46} {:>12} {:>14} {:>8}",
            "cache read", "module µs", "plain table µs", "ratio"
        );
        for (_, line) in &outcome.stdout {
            let Some(rest) = line.strip_prefix("READ ") else {
                continue;
            };
            let mut parts: Vec<&str> = rest.rsplitn(3, ' ').collect();
            parts.reverse();
            let (name, module_us, plain_us) = (parts[0], parts[1], parts[2]);
            let m: f64 = module_us.parse().unwrap();
            let p: f64 = plain_us.parse().unwrap();
            println!("  {name:<46} {m:>12.3} {p:>14.4} {:>7.0}x", m / p.max(1e-9));
        }
        let mut at: HashMap<(String, u32), Instant> = HashMap::new();
        for (t, line) in &outcome.stdout {
            if let Some(rest) = line.strip_prefix("@@T ") {
                let (what, i) = rest.split_once(' ').unwrap();
                at.insert((what.to_owned(), i.parse().unwrap()), *t);
            }
        }
        let mut to_save = Vec::new();
        let mut call = Vec::new();
        for i in 1.. {
            let (Some(u), Some(c), Some(s)) = (
                at.get(&("unlock".into(), i)),
                at.get(&("called".into(), i)),
                at.get(&("saved".into(), i)),
            ) else {
                break;
            };
            to_save.push(*s - *u);
            call.push(*c - *u);
        }
        to_save.sort();
        call.sort();
        println!(
            "  setAchievementUnlocked → userProgressSave ({} unlocks): p50 {}, p99 {}, max {}",
            to_save.len(),
            ms(percentile(&to_save, 0.5)),
            ms(percentile(&to_save, 0.99)),
            ms(*to_save.last().unwrap())
        );
        println!(
            "  of which the setAchievementUnlocked call (journal fsync): p50 {}, p99 {}",
            ms(percentile(&call, 0.5)),
            ms(percentile(&call, 0.99))
        );
    }
}
