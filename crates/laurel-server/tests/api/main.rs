//! The HTTP API, in-process (`tower::ServiceExt::oneshot`) on a real SQLite
//! store, plus one end-to-end run over a loopback socket.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test, with its place"
)]

mod admin;
mod e2e;
mod errors;
mod helpers;
mod leaderboards;
mod openapi;
mod openapi_schemas;
mod profiles;
mod progress;
mod sessions;
mod steam;
