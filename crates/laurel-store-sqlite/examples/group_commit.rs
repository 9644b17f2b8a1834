//! How group commit behaves with closed-loop writers (each waits for its answer,
//! "thinks" briefly, stores again), with and without the commit delay.
//!
//! `cargo run --release -p laurel-store-sqlite --example group_commit [WRITERS] [SECONDS] [DIR] [SETTING]`
//! prints stores/s and the mean group size for each setting. Group sizes are
//! the robust figure here: they do not depend on what else the machine runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use laurel_core::schema_doc::demo_schema;
use laurel_core::{AppId, BatchEntry, SteamId, StoreBatch, WriteAuthority};
use laurel_store::{Store, StoreRequest};
use laurel_store_sqlite::{SqliteOptions, SqliteStore};

/// CPU seconds (user + system) the store's writer thread has used so far.
fn writer_cpu_seconds() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let mut total = 0.0;
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !comm.starts_with("laurel-sqlite-w") {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // Fields after the `(comm)`: state is 3rd; utime and stime are the 14th and 15th overall.
        let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 = [11, 12]
            .iter()
            .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
            .sum();
        total += ticks / 100.0;
    }
    total
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let writers: u64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(32);
    let seconds: u64 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(3);
    let base = args
        .get(3)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let runtime = tokio::runtime::Runtime::new()?;
    // A fourth argument picks one setting (0, 1 or 2), e.g. to count one
    // setting's instructions under callgrind.
    let settings = [(0u64, true), (500, true), (500, false)];
    let only: Option<usize> = args.get(4).map(|s| s.parse()).transpose()?;
    for (i, &(delay_us, global)) in settings.iter().enumerate() {
        if only.is_some_and(|o| o != i) {
            continue;
        }
        let dir = tempfile::tempdir_in(&base)?;
        let options = SqliteOptions {
            commit_delay: Duration::from_micros(delay_us),
            ..SqliteOptions::default()
        };
        let store = Arc::new(SqliteStore::open(
            &dir.path().join("bench.sqlite3"),
            options,
        )?);
        let app = AppId::new(480)?;
        runtime.block_on(store.put_schema(app, demo_schema()))?;
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let threads: Vec<_> = (0..writers)
            .map(|w| {
                let (store, handle) = (store.clone(), runtime.handle().clone());
                std::thread::spawn(move || -> Result<u64, String> {
                    let user = SteamId::new(76561197960265728 + w).map_err(|e| e.to_string())?;
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        n += 1;
                        let entries = vec![
                            BatchEntry::SetStat {
                                name: "NumGames".into(),
                                value: n as f64,
                            },
                            BatchEntry::SetStat {
                                name: "NumWins".into(),
                                value: n as f64,
                            },
                            BatchEntry::SetStat {
                                name: "FeetTraveled".into(),
                                value: n as f64 + 0.5,
                            },
                            BatchEntry::SetStat {
                                name: "MaxFeetTraveled".into(),
                                value: n as f64 + 0.5,
                            },
                            BatchEntry::UpdateAvgRate {
                                name: "AverageSpeed".into(),
                                count: 10.0,
                                session_seconds: 5.0,
                            },
                            BatchEntry::UnlockAchievement {
                                name: "ACH_WIN_ONE_GAME".into(),
                            },
                        ];
                        let request = StoreRequest {
                            app,
                            user,
                            batch: StoreBatch { entries },
                            authority: WriteAuthority::User,
                            idempotency_key: laurel_core::IdempotencyKey::from_stored(format!(
                                "k{n}"
                            )),
                            fingerprint: laurel_core::Fingerprint::from_stored(format!("f{n}")),
                            now: 1_700_000_000,
                        };
                        handle
                            .block_on(store.store(request))
                            .map_err(|e| e.to_string())?;
                        // The client's turnaround: answer parsed, next request sent.
                        std::thread::sleep(Duration::from_micros(100));
                    }
                    Ok(n)
                })
            })
            .collect();
        let mut total = 0;
        for t in threads {
            total += t.join().map_err(|_| "writer thread panicked")??;
        }
        let stats = store.writer_stats();
        let cpu = writer_cpu_seconds();
        println!(
            "commit_delay {delay_us:>4} µs, global figures {global:>5}: {:>6.0} stores/s, writer CPU {:>5.1} µs/store, {} groups, mean group {:.1}, largest {}",
            total as f64 / seconds as f64,
            cpu * 1e6 / total.max(1) as f64,
            stats.groups,
            stats.grouped_requests as f64 / stats.groups.max(1) as f64,
            stats.largest_group
        );
    }
    Ok(())
}
