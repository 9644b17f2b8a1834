//! The PostgreSQL side: pgbench running Laurel's store transaction,
//! statement for statement.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use laurel_testkit::postgres::SUPERUSER;

use super::cluster::{Cluster, per_tx};
use super::figures::Figures;
use super::nodes::start_node;
use crate::child::{Counted, GroupMeter};
use crate::load::expect_ok;
use crate::requests::store_requests;
use crate::settings::{DEMO_APP, FIRST_STEAM_ID, WARMUP};
use crate::stats::Latencies;

// What `laurel-store-postgres` uses (rows.rs, figures.rs): the class of the
// per-app advisory locks ("Laur") and the number of counter shards.
const APP_LOCK_CLASS: i32 = 0x4c61_7572;
const COUNTER_SHARDS: u64 = 16;

/// Laurel's store transaction for the foundation bench's request, as
/// `laurel-store-postgres` sends it for a group of one store of a user who
/// has stored before (`store_groups.rs`; statements from `rows.rs` and
/// `figures.rs`), with the same round trips: BEGIN and the reads (the app's
/// lock, the schema version, the user's row locked, the user's version,
/// the key, the stats, the achievements), then the writes (stats, version,
/// key, counters) and COMMIT. A Laurel node puts the
/// stores of many clients in one such transaction (up to 64, each
/// statement taking arrays of rows); pgbench runs one transaction per
/// store, as each node did before it grouped them. Laurel sends each round trip as one message
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
/// user's first store, done by Laurel before pgbench runs. Afterwards a
/// store leaves its row alone (a group writes only rows that end it
/// changed), and its unlock counter no longer moves; this script does the
/// same. The script writes all 5 stats, 3 of them aggregated (`NumGames`,
/// `NumWins`, `FeetTraveled`: their totals and today's history move in one
/// counter shard); Laurel writes those whose value changed (4.3 per store
/// in the bench: the average-rate stat often keeps its value). The per-transaction row and
/// transaction counts printed for every phase show that both sides do the
/// same work.
fn pgbench_script(schema_version: i64, day: i64) -> String {
    let app = DEMO_APP;
    let class = APP_LOCK_CLASS;
    let fingerprint = "5f".repeat(32); // a SHA-256 in hex, as Laurel keeps it
    format!(
        r#"-- Laurel's store transaction (see crates/laurel-bench/src/pg/pgbench.rs).
\set user {FIRST_STEAM_ID} + :client_id
\set shard :user % {COUNTER_SHARDS}
\set n random(1, 1000000000)
\set key random(1, 9000000000000000000)
\set feet :n + 0.5
\startpipeline
BEGIN;
SELECT pg_advisory_xact_lock_shared({class}, {app});
SELECT schema_version, CASE WHEN schema_version = {schema_version} THEN NULL ELSE schema_json END FROM apps WHERE app_id = {app};
INSERT INTO users (app_id, steam_id, version) SELECT t.app_id, t.steam_id, 0 FROM unnest(ARRAY[{app}]::bigint[], ARRAY[:user]::bigint[]) WITH ORDINALITY AS t(app_id, steam_id, n) ORDER BY t.n ON CONFLICT (app_id, steam_id) DO UPDATE SET version = users.version WHERE false;
SELECT u.app_id, u.steam_id, u.version FROM unnest(ARRAY[{app}]::bigint[], ARRAY[:user]::bigint[]) AS t(app_id, steam_id) JOIN users u ON u.app_id = t.app_id AND u.steam_id = t.steam_id;
SELECT i.fingerprint, array_to_json(i.newly_unlocked)::text, i.app_id, i.steam_id, i.idem_key FROM unnest(ARRAY[{app}]::bigint[], ARRAY[:user]::bigint[], ARRAY['pgbench-' || :key]::text[]) AS t(app_id, steam_id, idem_key) JOIN idempotency i ON i.app_id = t.app_id AND i.steam_id = t.steam_id AND i.idem_key = t.idem_key;
SELECT s.name, s.kind, s.int_value, s.float_value, s.avg_count, s.avg_seconds, s.app_id, s.steam_id FROM unnest(ARRAY[{app}]::bigint[], ARRAY[:user]::bigint[]) AS t(app_id, steam_id) JOIN stats s ON s.app_id = t.app_id AND s.steam_id = t.steam_id;
SELECT a.name, a.unlocked, a.unlock_time, a.progress_current, a.progress_max, a.app_id, a.steam_id FROM unnest(ARRAY[{app}]::bigint[], ARRAY[:user]::bigint[]) AS t(app_id, steam_id) JOIN achievements a ON a.app_id = t.app_id AND a.steam_id = t.steam_id;
\endpipeline
\startpipeline
INSERT INTO stats (app_id, steam_id, name, kind, int_value, float_value, avg_count, avg_seconds) SELECT t.app_id, t.steam_id, t.name, t.kind, t.int_value, t.float_value, t.avg_count, t.avg_seconds FROM unnest(ARRAY[{app}, {app}, {app}, {app}, {app}]::bigint[], ARRAY[:user, :user, :user, :user, :user]::bigint[], '{{NumGames,NumWins,FeetTraveled,MaxFeetTraveled,AverageSpeed}}'::text[], '{{0,0,1,1,2}}'::smallint[], ARRAY[:n, :n, NULL, NULL, NULL]::bigint[], ARRAY[NULL, NULL, :feet, :feet, NULL]::real[], ARRAY[NULL, NULL, NULL, NULL, 10]::float8[], ARRAY[NULL, NULL, NULL, NULL, 5]::float8[]) AS t(app_id, steam_id, name, kind, int_value, float_value, avg_count, avg_seconds) ON CONFLICT (app_id, steam_id, name) DO UPDATE SET kind = excluded.kind, int_value = excluded.int_value, float_value = excluded.float_value, avg_count = excluded.avg_count, avg_seconds = excluded.avg_seconds;
UPDATE users SET version = t.version FROM unnest(ARRAY[{app}]::bigint[], ARRAY[:user]::bigint[], ARRAY[:n]::bigint[]) AS t(app_id, steam_id, version) WHERE users.app_id = t.app_id AND users.steam_id = t.steam_id;
INSERT INTO idempotency (app_id, steam_id, idem_key, fingerprint, version, newly_unlocked, created) SELECT t.app_id, t.steam_id, t.idem_key, t.fingerprint, t.version, ARRAY(SELECT json_array_elements_text(t.names::json)), t.created FROM unnest(ARRAY[{app}]::bigint[], ARRAY[:user]::bigint[], ARRAY['pgbench-' || :key]::text[], ARRAY['{fingerprint}']::text[], ARRAY[:n]::bigint[], ARRAY['[]']::text[], ARRAY[extract(epoch FROM now())::bigint]) AS t(app_id, steam_id, idem_key, fingerprint, version, names, created);
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

pub(super) async fn pgbench_phase(
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
    std::fs::write(&script, pgbench_script(schema_version, now / 86_400))?;
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
