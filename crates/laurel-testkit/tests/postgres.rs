//! The throwaway PostgreSQL of `laurel_testkit::postgres`: it starts (also
//! as root), serves fresh databases on loopback, stops and starts again,
//! and leaves nothing behind.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test, with its place"
)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use laurel_testkit::postgres::{PostgresServer, find_bin_dir};

/// Runs `sql` with psql against `url`; its output, trimmed.
fn psql(url: &str, sql: &str) -> Result<String, String> {
    let bin = find_bin_dir().expect("PostgreSQL's programs");
    let out = Command::new(bin.join("psql"))
        .args([
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .output()
        .expect("running psql");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

fn cluster_folders() -> Vec<PathBuf> {
    let base = std::env::temp_dir().join("laurel-testkit-postgres");
    let mine = format!("cluster-{}-", std::process::id());
    std::fs::read_dir(base)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&mine))
        .map(|e| e.path())
        .collect()
}

#[test]
fn a_cluster_serves_fresh_databases_restarts_and_is_removed() {
    let started = Instant::now();
    let server = PostgresServer::start();
    eprintln!(
        "cluster started in {:?} (measured inside: {:?})",
        started.elapsed(),
        server.startup_time()
    );
    let created = Instant::now();
    let (a, b) = (server.database(), server.database());
    eprintln!("two databases created in {:?}", created.elapsed());
    assert_ne!(a, b);
    assert!(a.starts_with("postgres://laurel@127.0.0.1:"), "{a}");

    psql(&a, "CREATE TABLE t (v int); INSERT INTO t VALUES (7)").expect("write");
    assert_eq!(psql(&a, "SELECT v FROM t").expect("read"), "7");
    assert!(
        psql(&b, "SELECT v FROM t").is_err(),
        "databases are separate"
    );
    assert_eq!(psql(&a, "SHOW fsync").expect("show"), "on");
    assert_eq!(
        psql(&a, "SHOW listen_addresses").expect("show"),
        "127.0.0.1"
    );

    server.stop();
    assert!(psql(&a, "SELECT 1").is_err(), "stopped");
    server.start_again();
    assert_eq!(
        psql(&a, "SELECT v FROM t").expect("read after the restart"),
        "7",
        "the data survives a restart"
    );

    assert_eq!(cluster_folders().len(), 1);
    drop(server);
    assert!(cluster_folders().is_empty(), "dropping removes the cluster");
    assert!(psql(&a, "SELECT 1").is_err(), "dropping stops the server");
}
