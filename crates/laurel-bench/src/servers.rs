//! The servers the HTTP phases measure: Laurel (the release binary as a
//! child process) and the axum hello-world, started once for all rounds.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use hyper::Method;

use crate::child::ChildGuard;
use crate::load::{MakeRequest, Phase, PhaseResult, request};

use crate::report::Outcome;
use crate::requests::{read_requests, store_requests};
use crate::settings::{ADMIN_TOKEN, STARTUP_TIMEOUT, WARMUP};
use crate::{child, hello, load};

pub(crate) fn check_laurel_bin(bin: &Path) -> Result<()> {
    if !bin.is_file() {
        bail!(
            "no laurel binary at {} (build it: cargo build --release -p laurel, or pass --laurel-bin)",
            bin.display()
        );
    }
    Ok(())
}

/// Each round's store keys and values start this far beyond the last
/// round's, so no store of a round replays one of an earlier round (and the
/// increment-only stats keep rising), while values stay within an int stat.
const ROUND_SEQ_STRIDE: u64 = 10_000_000;

/// The hello-world server and Laurel, both started once for every round, with
/// the requests of the store and read phases set up.
pub(crate) struct Servers {
    hello: ChildGuard,
    hello_addr: SocketAddr,
    hello_requests: MakeRequest,
    laurel: ChildGuard,
    laurel_addr: SocketAddr,
    stores: MakeRequest,
    reads: MakeRequest,
}

impl Servers {
    pub(crate) async fn start(
        exe: &Path,
        laurel_bin: &Path,
        work: &Path,
        clients: usize,
    ) -> Result<Servers> {
        check_laurel_bin(laurel_bin)?;
        let mut cmd = Command::new(exe);
        cmd.args(["hello-server", "--listen", "127.0.0.1:0"]);
        let (hello, hello_addr) = ChildGuard::spawn(
            "hello-server",
            cmd,
            hello::READY_PREFIX,
            &work.join("hello.stderr"),
            STARTUP_TIMEOUT,
        )?;
        let mut cmd = Command::new(laurel_bin);
        cmd.arg("serve")
            .arg("--dev")
            .args(["--listen", "127.0.0.1:0"])
            .args(LOAD_RATE_ARGS)
            .arg("--data-dir")
            .arg(work.join("laurel-data"))
            .env("LAUREL_ADMIN_TOKEN", ADMIN_TOKEN);
        let (laurel, laurel_addr) = ChildGuard::spawn(
            "laurel",
            cmd,
            "laurel listening on http://",
            &work.join("laurel.stderr"),
            STARTUP_TIMEOUT,
        )?;
        println!(
            "laurel: {} (pid {}) listening on {laurel_addr}",
            laurel_bin.display(),
            laurel.pid()
        );
        let stores = store_requests(&[laurel_addr], clients).await?;
        let reads = read_requests(laurel_addr, clients).await?;
        let hello_requests: MakeRequest =
            Arc::new(move |_, _| request(hello_addr, Method::GET, "/", None, &[], None));
        Ok(Servers {
            hello,
            hello_addr,
            hello_requests,
            laurel,
            laurel_addr,
            stores,
            reads,
        })
    }

    /// Runs server phase `phase` (1..=3) of round `round`.
    pub(crate) async fn run(
        &mut self,
        phase: usize,
        round: usize,
        clients: usize,
        duration: Duration,
    ) -> Result<PhaseResult> {
        let (addr, make, guard) = match phase {
            1 => {
                let stores = Arc::clone(&self.stores);
                let offset = round as u64 * ROUND_SEQ_STRIDE;
                let make: MakeRequest = Arc::new(move |client, seq| stores(client, seq + offset));
                (self.laurel_addr, make, &mut self.laurel)
            }
            2 => (
                self.hello_addr,
                Arc::clone(&self.hello_requests),
                &mut self.hello,
            ),
            _ => (self.laurel_addr, Arc::clone(&self.reads), &mut self.laurel),
        };
        let phase = Phase {
            addr,
            server_pid: guard.pid(),
            clients,
            warmup: WARMUP,
            duration,
        };
        let result = load::run_phase(phase, make).await;
        guard.check_alive()?;
        Ok(result)
    }

    /// Laurel's memory after every phase, then both servers stopped.
    pub(crate) fn finish(mut self) -> Outcome<(u64, u64)> {
        let memory = match self.laurel.check_alive() {
            Ok(()) => child::memory_kib(self.laurel.pid()).map_err(|e| format!("{e:#}")),
            Err(e) => Err(format!("{e:#}")),
        };
        self.laurel.stop();
        self.hello.stop();
        memory
    }
}

/// Rate limits far above the bench's load, so that the limiter runs on
/// every request (its cost is measured) but refuses none: each bench client
/// sends far more than a player would.
pub const LOAD_RATE_ARGS: &[&str] = &[
    "--user-rate",
    "10000000",
    "--user-burst",
    "10000000",
    "--key-rate",
    "10000000",
    "--key-burst",
    "10000000",
    "--address-rate",
    "10000000",
    "--address-burst",
    "10000000",
];
