//! One integration-test binary: real-world-shaped files for every format,
//! malformed and hostile inputs, round trips and export snapshots.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test, with its place"
)]

mod detect;
mod emulator;
mod hostile;
mod laurel;
mod roundtrip;
mod snapshots;
mod steam;
mod support;
mod vdf;
