//! End-to-end tests: the real `laurel` binary on a free loopback port with a
//! fresh SQLite file, driven over HTTP, through the CLI, and through the SDK;
//! and `laurel migrate` between SQLite and PostgreSQL; and several nodes on
//! one PostgreSQL database (`cluster`); and TLS, to clients and to
//! PostgreSQL (`tls`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test, with its place"
)]

mod api;
mod cli;
mod cluster;
mod durability;
mod hostile;
mod lifecycle;
mod migrate;
mod schemathesis;
mod sdk;
mod steam_client;
mod tls;

use std::path::Path;

use laurel_testkit::{Http, ServerProcess};

pub fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_laurel"))
}

/// A dev-mode server on a fresh data dir, with an HTTP client for it.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub server: ServerProcess,
    pub http: Http,
}

pub fn start() -> Env {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ServerProcess::start(bin(), dir.path()).expect("server starts");
    let http = Http::new(&server.url);
    Env { dir, server, http }
}

/// A program of the Python virtualenv `cargo xtask deps` creates under the
/// workspace's `target/pyenv` (the Steam Web API client, schemathesis).
pub fn pyenv_bin(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/pyenv/bin")
        .join(name)
}

/// Distinct, valid Steam ids for tests.
pub fn steam_id(n: u64) -> String {
    (76561197960265728u64 + n).to_string()
}
