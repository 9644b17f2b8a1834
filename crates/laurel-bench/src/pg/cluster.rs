//! The harness's PostgreSQL cluster, restarted with the bench's settings:
//! fresh databases, checkpoints, and what the database did per transaction.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result, bail};
use laurel_testkit::postgres::{PostgresServer, SUPERUSER, find_bin_dir};

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

/// The harness's cluster, restarted with the bench's settings.
pub(super) struct Cluster {
    pub(super) server: PostgresServer,
    pub(super) bin: PathBuf,
    pub(super) data: PathBuf,
}

impl Cluster {
    pub(super) fn start(settings: &[(&str, &str)]) -> Result<Cluster> {
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

    pub(super) fn port(&self) -> String {
        self.server.port().to_string()
    }

    /// Runs SQL with `psql` on database `db`; returns the unaligned rows.
    pub(super) fn psql(&self, db: &str, sql: &str) -> Result<String> {
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

    pub(super) fn settings(&self) -> Result<Vec<(String, String)>> {
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
    pub(super) fn database(&self) -> Result<(String, String)> {
        let url = self.server.try_database()?;
        let name = url.rsplit('/').next().unwrap_or_default().to_owned();
        Ok((name, url))
    }

    /// Drops a phase's database once it is measured, so that no later
    /// phase shares the machine with its autovacuum.
    pub(super) fn drop_database(&self, db: &str) -> Result<()> {
        self.psql("postgres", &format!("DROP DATABASE {db} WITH (FORCE)"))
            .map(drop)
    }

    pub(super) fn checkpoint(&self) -> Result<()> {
        self.psql("postgres", "CHECKPOINT").map(drop)
    }

    pub(super) fn postmaster(&self) -> Option<u32> {
        laurel_testkit::postgres::postmaster_pid(&self.data).and_then(|pid| u32::try_from(pid).ok())
    }

    pub(super) fn snapshot(&self, db: &str) -> Result<DbCounters> {
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
pub(super) struct DbCounters {
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
pub(super) fn per_tx(before: &DbCounters, after: &DbCounters, transactions: u64) -> String {
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
}
