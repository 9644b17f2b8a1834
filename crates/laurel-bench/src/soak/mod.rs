//! `laurel-bench soak` (`cargo xtask soak`): durability at scale (issue
//! 16). Not in CI: it runs for minutes.
//!
//! For each backend: `laurel serve` nodes on loopback (SQLite: one node
//! on its data dir; PostgreSQL: two nodes on one database of a private
//! cluster, `laurel_testkit::postgres`), an app with aggregated stats and
//! achievements created through the admin API, and writer threads storing
//! as fast as they are answered ([`writers`]). Meanwhile the main thread
//! SIGKILLs a node (on PostgreSQL one of the two, at random) after a random
//! pause, starts it again on the same address and data, and does it again,
//! up to `--kills` times or `--max-minutes`, whichever comes first. Writers
//! send an unanswered store again with the same key, to the other node if
//! there is one, so every store ends acknowledged exactly once.
//!
//! Then the writers finish what they have in flight, every node is killed
//! and started once more (so that the read-back comes from processes that
//! have only what the kills left), and [`check`] holds what the nodes
//! answer to the writers' own record and to a recount. Figures are
//! asserted here, unlike the benchmarks': exit 1 on any store lost or
//! doubled, any figure unlike its recount, or a run cut short.
//!
//! Here: the run and the kills; [`app`] the app and what n stores make,
//! [`nodes`] the processes, [`writers`] the load, [`check`] the verdict,
//! [`rng`] the seeded choices.

mod app;
mod check;
mod nodes;
mod rng;
mod writers;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use laurel_testkit::Http;
use laurel_testkit::postgres::PostgresServer;

use crate::cli::{Cli, SoakBackend, SoakFlags, laurel_bin};
use crate::host::{fs_kind, loadavg, machine, work_dir};
use crate::servers::check_laurel_bin;
use crate::settings::ADMIN_TOKEN;
use app::{APP, schema, steam_id};
use check::{Record, Verdict, verify};
use nodes::{Node, Storage};
use rng::Rng;
use writers::{Load, User, WriterReport, write};

/// Connections in each PostgreSQL node's pool: the writers' share of a
/// node with some to spare, and few enough that a node restarts quickly
/// (it opens its whole pool before it listens).
const PG_POOL: u16 = 8;
/// How long the writers may go on finishing what they have in flight after
/// the kills' time bound, before a store still unanswered is unresolved.
const GRACE: Duration = Duration::from_secs(60);
/// A progress line every this many kills.
const PROGRESS_EVERY: usize = 100;

/// Set by SIGINT or SIGTERM: the run stops killing, abandons the load and
/// cleans up (the nodes, the PostgreSQL cluster, the temp dirs).
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(signal: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
    // SAFETY: signal(2) is async-signal-safe; a second signal ends the process.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
    }
}

fn catch_interrupts() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: installs a handler that only stores to an atomic and calls signal(2).
        unsafe {
            libc::signal(signal, on_signal as *const () as libc::sighandler_t);
        }
    }
}

fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The knobs of one backend's soak.
struct Plan<'a> {
    bin: &'a Path,
    work_parent: &'a Path,
    flags: &'a SoakFlags,
    seed: u64,
}

/// What one backend's soak did and found.
struct Soaked {
    backend: &'static str,
    kills: usize,
    /// The kills stopped at `--max-minutes` before `--kills`.
    cut_short: bool,
    /// The kills and the load, then everything (setup and checks too).
    load_time: Duration,
    total_time: Duration,
    writers: WriterReport,
    verdict: Verdict,
}

impl Soaked {
    fn passed(&self) -> bool {
        self.verdict.passed() && self.writers.anomalies.is_empty() && !self.cut_short
    }

    fn summary(&self) -> String {
        let v = &self.verdict;
        format!(
            "{}: {} kills{}, {} stores acknowledged, lost: {}, doubled: {}, figures: {}, \
             users: {}, unresolved: {}, anomalies: {}, {:.1} min ({:.1} min of kills)",
            self.backend,
            self.kills,
            if self.cut_short {
                " (cut short by --max-minutes)"
            } else {
                ""
            },
            v.acknowledged,
            v.lost,
            v.doubled,
            if v.wrong_figures.is_empty() {
                "ok"
            } else {
                "MISMATCH"
            },
            v.users,
            v.unresolved,
            self.writers.anomalies.len(),
            self.total_time.as_secs_f64() / 60.0,
            self.load_time.as_secs_f64() / 60.0,
        )
    }
}

pub fn run(cli: &Cli, flags: &SoakFlags) -> Result<bool> {
    if let Some(dir) = &cli.work_dir {
        // The harness puts its PostgreSQL clusters under the temporary directory.
        // SAFETY: nothing else runs yet (no thread has been started), so
        // nothing reads the environment while it changes.
        unsafe {
            std::env::set_var("TMPDIR", dir);
        }
    }
    catch_interrupts();
    let work_parent = std::env::temp_dir();
    let exe = std::env::current_exe().context("locating this binary")?;
    let bin = laurel_bin(cli, &exe);
    check_laurel_bin(&bin)?;
    let seed = flags.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    println!("laurel-bench soak — {}", machine());
    println!(
        "{} kills per backend (at most {} min of kills each), {} writers × {} users, \
         kills {}–{} ms after a restart; seed {seed} (--seed {seed} replays the choices)",
        flags.kills,
        flags.max_minutes,
        flags.writers.max(1),
        flags.users_per_writer.max(1),
        0,
        flags.max_delay_ms,
    );
    println!(
        "laurel: {}; work dir under {} ({})",
        bin.display(),
        work_parent.display(),
        fs_kind(&work_parent)
    );
    println!("load average at start: {}", loadavg());
    if cfg!(debug_assertions) {
        println!("WARNING: this is a debug build of laurel-bench; run it with --release");
    }
    let backends: &[(&'static str, bool)] = match flags.backend {
        SoakBackend::Sqlite => &[("sqlite", false)],
        SoakBackend::Postgres => &[("postgres", true)],
        SoakBackend::Both => &[("sqlite", false), ("postgres", true)],
    };
    let plan = Plan {
        bin: &bin,
        work_parent: &work_parent,
        flags,
        seed,
    };
    let mut summaries = Vec::new();
    let mut passed = true;
    for &(name, postgres) in backends {
        println!();
        println!("== {name} ==");
        match soak(&plan, name, postgres) {
            Ok(soaked) => {
                soaked.verdict.print_problems();
                for a in soaked.writers.anomalies.iter().take(20) {
                    println!("  ANOMALY: {a}");
                }
                passed &= soaked.passed();
                summaries.push(soaked.summary());
            }
            Err(e) => {
                passed = false;
                summaries.push(format!("{name}: DID NOT RUN TO THE END: {e:#}"));
            }
        }
        println!("{}", summaries.last().map_or("", String::as_str));
        if interrupted() {
            break;
        }
    }
    println!();
    println!("load average at end: {}", loadavg());
    println!("soak (seed {seed}):");
    for s in &summaries {
        println!("  {s}");
    }
    println!("verdict: {}", if passed { "PASSED" } else { "FAILED" });
    Ok(passed)
}

fn soak(plan: &Plan, backend: &'static str, postgres: bool) -> Result<Soaked> {
    let started = Instant::now();
    let flags = plan.flags;
    let work = work_dir(plan.work_parent, &format!("laurel-bench-soak-{backend}-"))?;
    // Declared before the nodes, so dropped after them.
    let cluster;
    let mut nodes = if postgres {
        cluster = PostgresServer::try_start().context("starting PostgreSQL (test harness)")?;
        let url = cluster.try_database()?;
        println!("PostgreSQL: port {}, database {url}", cluster.port());
        // One after the other: the first creates the tables.
        let storage = || Storage::Postgres {
            url: &url,
            pool: PG_POOL,
        };
        let a = Node::start(plan.bin, work.path(), "node-a", storage())?;
        let b = Node::start(plan.bin, work.path(), "node-b", storage())?;
        vec![a, b]
    } else {
        vec![Node::start(
            plan.bin,
            work.path(),
            "sqlite",
            Storage::Sqlite,
        )?]
    };
    let urls: Vec<String> = nodes.iter().map(Node::url).collect();
    for node in &nodes {
        println!("{}: {}", node.label(), node.url());
    }
    let users = set_up(&urls, flags)?;

    let load_started = Instant::now();
    let deadline = load_started + Duration::from_secs(flags.max_minutes.max(1) * 60);
    let load = Load::new(deadline + GRACE);
    let mut rng = Rng::new(plan.seed ^ u64::from(postgres));
    let mut kills = 0;
    let mut cut_short = false;
    let mut restarts = Vec::new();
    let per_writer = flags.users_per_writer.max(1);
    let (reports, killed) = thread::scope(|s| {
        let handles: Vec<_> = users
            .chunks(per_writer)
            .enumerate()
            .map(|(w, mine)| {
                let (urls, load) = (&urls, &load);
                s.spawn(move || write(w, mine, urls, load, plan.seed))
            })
            .collect();
        let killed = (|| -> Result<()> {
            while kills < flags.kills {
                if interrupted() {
                    bail!("interrupted");
                }
                if Instant::now() >= deadline {
                    cut_short = true;
                    break;
                }
                if handles.iter().all(|h| h.is_finished()) {
                    // Each stopped at an anomaly: the verdict lists them.
                    println!("every writer stopped: no more kills");
                    break;
                }
                let pause = rng.below(flags.max_delay_ms + 1);
                thread::sleep(Duration::from_millis(pause));
                let node = &mut nodes[rng.below(urls.len() as u64) as usize];
                // It must not have died by itself since its last start.
                node.check_alive()?;
                node.kill();
                kills += 1;
                restarts.push(node.restart()?);
                if kills % PROGRESS_EVERY == 0 {
                    println!(
                        "  {kills}/{} kills, {} stores acknowledged, {:.0} s",
                        flags.kills,
                        load.acked.load(Ordering::Relaxed),
                        load_started.elapsed().as_secs_f64()
                    );
                }
            }
            Ok(())
        })();
        if killed.is_err() {
            load.abandon.store(true, Ordering::Relaxed);
        }
        load.stop.store(true, Ordering::Relaxed);
        let reports: Vec<Result<WriterReport>> = handles
            .into_iter()
            .map(|h| h.join().map_err(|_| anyhow!("a writer panicked")))
            .collect();
        (reports, killed)
    });
    killed?;
    let reports = reports.into_iter().collect::<Result<Vec<_>>>()?;
    let load_time = load_started.elapsed();
    let writers = merge(reports);
    let mut records: BTreeMap<usize, Record> = BTreeMap::new();
    for &(user, acked) in &writers.acked {
        records.insert(
            user,
            Record {
                acked,
                unresolved: false,
            },
        );
    }
    if !writers.unresolved.is_empty() {
        println!(
            "unresolved stores (sent, never answered; user, store): {:?}",
            writers.unresolved
        );
    }
    for sample in &writers.samples {
        println!("  an HTTP error answer: {sample}");
    }
    println!(
        "kills done: {kills} in {:.1} s; restarts took {}; stores: {} retried after a kill \
         ({} of them had committed: answered as replays), {} attempts without an answer, \
         {} HTTP errors",
        load_time.as_secs_f64(),
        spread(&restarts),
        writers.retried,
        writers.replayed,
        writers.transport_errors,
        writers.http_errors,
    );

    // The read-back comes from processes that have only what the kills left.
    for node in &mut nodes {
        node.check_alive()?;
        node.kill();
        node.restart()?;
    }
    for &(user, _) in &writers.unresolved {
        records.entry(user).or_default().unresolved = true;
    }
    let verdict = verify(&urls, &users, &records)?;
    Ok(Soaked {
        backend,
        kills,
        cut_short,
        load_time,
        total_time: started.elapsed(),
        writers,
        verdict,
    })
}

/// The app, a server key, and a token for every user.
fn set_up(urls: &[String], flags: &SoakFlags) -> Result<Vec<User>> {
    let first = Http::new(&urls[0]);
    first.put_schema(APP, &schema(), ADMIN_TOKEN)?;
    let key = first.server_key(APP, ADMIN_TOKEN)?;
    // Tokens from the last node: on PostgreSQL the signing secret is shared.
    let last = Http::new(urls.last().context("no nodes")?);
    let count = flags.writers.max(1) * flags.users_per_writer.max(1);
    (0..count)
        .map(|index| {
            let token = last.session(APP, &steam_id(index), &key)?;
            Ok(User { index, token })
        })
        .collect()
}

/// Every writer's report in one (its lists concatenated).
fn merge(reports: Vec<WriterReport>) -> WriterReport {
    let mut all = WriterReport::default();
    for r in reports {
        all.acked.extend(r.acked);
        all.unresolved.extend(r.unresolved);
        all.retried += r.retried;
        all.replayed += r.replayed;
        all.transport_errors += r.transport_errors;
        all.http_errors += r.http_errors;
        all.samples.extend(r.samples);
        all.anomalies.extend(r.anomalies);
    }
    all
}

/// `min / mean / max` of some durations, in milliseconds.
fn spread(times: &[Duration]) -> String {
    if times.is_empty() {
        return "nothing".into();
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let min = times.iter().copied().min().unwrap_or_default();
    let max = times.iter().copied().max().unwrap_or_default();
    let mean = times.iter().map(|&d| ms(d)).sum::<f64>() / times.len() as f64;
    format!(
        "{:.0} / {mean:.0} / {:.0} ms (min / mean / max)",
        ms(min),
        ms(max)
    )
}
