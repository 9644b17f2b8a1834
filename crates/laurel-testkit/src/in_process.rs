//! A real laurel server inside the test process (`laurel-server` over a
//! SQLite store), for tests that need a server but not the binary: the SDK's
//! and the Lua module's end-to-end tests. Dev mode, so demo app 480 and its
//! schema exist and dev tokens are minted without a key. It runs on a thread
//! of its own with its own tokio runtime, so a synchronous test can drive it;
//! it can be stopped and started again on the same address, as a server that
//! goes away while a game plays. Every wait is bounded.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use laurel_server::{Application, ServerConfig};
use laurel_store_sqlite::{SqliteOptions, SqliteStore};

/// How long the server may take to start or to stop.
const WAIT: Duration = Duration::from_secs(20);

/// What a test changes in the server's configuration, applied at every start.
type Tweak = Arc<dyn Fn(&mut ServerConfig) + Send + Sync>;

/// A dev-mode server on loopback. Told to stop when dropped (without
/// waiting for it: a test that failed should not hang on its server).
pub struct InProcessServer {
    /// The bound address; kept across [`InProcessServer::restart`].
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    db: PathBuf,
    tweak: Tweak,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl InProcessServer {
    /// Starts on `127.0.0.1:0` with the SQLite database `db` (created if absent).
    pub fn start(db: &Path) -> Result<InProcessServer> {
        InProcessServer::start_with(db, |_| {})
    }

    /// As [`InProcessServer::start`], with the configuration changed by
    /// `tweak` (after dev mode is set) at this start and every restart.
    pub fn start_with(
        db: &Path,
        tweak: impl Fn(&mut ServerConfig) + Send + Sync + 'static,
    ) -> Result<InProcessServer> {
        let mut server = InProcessServer {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            url: String::new(),
            db: db.to_owned(),
            tweak: Arc::new(tweak),
            stop: None,
            thread: None,
        };
        server.run()?;
        Ok(server)
    }

    fn run(&mut self) -> Result<()> {
        let db = self.db.clone();
        let mut config = ServerConfig::new(self.addr);
        config.dev = true;
        (self.tweak)(&mut config);
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(SocketAddr, String), String>>();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || -> Result<(), String> {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| format!("tokio runtime: {e}"))?;
            rt.block_on(async move {
                let built = match SqliteStore::open(&db, SqliteOptions::default()) {
                    Ok(store) => Application::build(config, Arc::new(store))
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(format!("store: {e}")),
                };
                let app = match built {
                    Ok(app) => app,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.clone()));
                        return Err(e);
                    }
                };
                let _ = ready_tx.send(Ok((app.local_addr(), app.url())));
                app.run_until_stopped(async {
                    let _ = stopped.await;
                })
                .await
                .map_err(|e| format!("server run: {e}"))
            })
        });
        let (addr, url) = match ready_rx.recv_timeout(WAIT) {
            Ok(Ok(bound)) => bound,
            Ok(Err(e)) => bail!("the server did not start: {e}"),
            Err(_) => bail!("the server did not start within {WAIT:?}"),
        };
        self.addr = addr;
        self.url = url;
        self.stop = Some(stop);
        self.thread = Some(thread);
        Ok(())
    }

    /// Stops serving (graceful, bounded) and waits for the thread; an error
    /// if the server failed while it ran.
    pub fn stop(&mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        let deadline = Instant::now() + WAIT;
        while !thread.is_finished() {
            if Instant::now() >= deadline {
                bail!("the server did not stop within {WAIT:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        thread
            .join()
            .map_err(|_| anyhow!("the server thread panicked"))?
            .map_err(|e| anyhow!(e))
    }

    /// Starts again on the same address, waiting (bounded) while the port is busy.
    pub fn restart(&mut self) -> Result<()> {
        self.stop()?;
        let deadline = Instant::now() + WAIT;
        loop {
            match std::net::TcpListener::bind(self.addr) {
                Ok(probe) => {
                    drop(probe);
                    break;
                }
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => return Err(e).with_context(|| format!("{} stays busy", self.addr)),
            }
        }
        self.run()
    }
}

impl Drop for InProcessServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
