//! `laurel serve` nodes that the soak kills with SIGKILL and starts again
//! on the same loopback address and the same data. Every node is started
//! and killed from the main thread: the children die with the bench
//! (`PR_SET_PDEATHSIG`, which follows the thread that spawned them).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::child::ChildGuard;
use crate::servers::LOAD_RATE_ARGS;
use crate::settings::{ADMIN_TOKEN, STARTUP_TIMEOUT};

/// Attempts at starting a killed node again before the soak gives up (the
/// port may still be held for a moment by the dead process's sockets).
const RESTART_ATTEMPTS: usize = 50;
/// Pause between two such attempts.
const RESTART_PAUSE: Duration = Duration::from_millis(50);

/// Where a node keeps its state.
pub(super) enum Storage<'a> {
    /// The embedded SQLite database in the node's data dir.
    Sqlite,
    /// A PostgreSQL database (URL) shared with the other nodes, and the
    /// node's pool size.
    Postgres { url: &'a str, pool: u16 },
}

pub(super) struct Node {
    label: String,
    bin: PathBuf,
    /// Every argument of `laurel serve` but `--listen`.
    args: Vec<OsString>,
    stderr: PathBuf,
    addr: SocketAddr,
    child: Option<ChildGuard>,
}

impl Node {
    /// Starts `laurel serve` on a free loopback port with a data dir of its
    /// own under `work`.
    pub(super) fn start(bin: &Path, work: &Path, label: &str, storage: Storage) -> Result<Node> {
        let data_dir = work.join(format!("{label}-data"));
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        let mut args: Vec<OsString> = vec!["--data-dir".into(), data_dir.into()];
        if let Storage::Postgres { url, pool } = storage {
            args.extend(["--database".into(), url.into()]);
            args.extend(["--db-pool-size".into(), pool.to_string().into()]);
        }
        args.extend(LOAD_RATE_ARGS.iter().map(OsString::from));
        let mut node = Node {
            label: label.to_owned(),
            bin: bin.to_owned(),
            args,
            stderr: work.join(format!("{label}.stderr")),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            child: None,
        };
        let (child, addr) = node.spawn()?;
        node.child = Some(child);
        node.addr = addr;
        Ok(node)
    }

    fn spawn(&self) -> Result<(ChildGuard, SocketAddr)> {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("serve")
            .args(["--listen", &self.addr.to_string()])
            .args(&self.args)
            .env("LAUREL_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "warn")
            // Only the flags above say where the state is.
            .env_remove("LAUREL_DATABASE")
            .env_remove("LAUREL_DATA_DIR")
            .env_remove("LAUREL_DB_POOL_SIZE");
        ChildGuard::spawn(
            &self.label,
            cmd,
            "laurel listening on http://",
            &self.stderr,
            STARTUP_TIMEOUT,
        )
    }

    pub(super) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(super) fn label(&self) -> &str {
        &self.label
    }

    /// SIGKILL, and waits for the process to be gone.
    pub(super) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill();
        }
    }

    /// Starts the killed node again on its address; returns how long it
    /// took to listen.
    pub(super) fn restart(&mut self) -> Result<Duration> {
        self.kill();
        let started = Instant::now();
        let mut last = None;
        for _ in 0..RESTART_ATTEMPTS {
            match self.spawn() {
                Ok((child, addr)) => {
                    if addr != self.addr {
                        bail!("{} came back on {addr}, not {}", self.label, self.addr);
                    }
                    self.child = Some(child);
                    return Ok(started.elapsed());
                }
                Err(e) => last = Some(e),
            }
            std::thread::sleep(RESTART_PAUSE);
        }
        let why = last.map_or_else(String::new, |e| format!("{e:#}"));
        bail!(
            "{} did not start again in {RESTART_ATTEMPTS} attempts: {why}",
            self.label
        )
    }

    /// Fails when the node's process has exited by itself.
    pub(super) fn check_alive(&mut self) -> Result<()> {
        match self.child.as_mut() {
            Some(child) => child.check_alive(),
            None => bail!("{} is not running", self.label),
        }
    }
}
