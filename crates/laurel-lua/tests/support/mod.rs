//! Harness shared by the Lua tests and the Lua benchmark: the freshly built
//! module installed as `plugin/steamworks.so` in a temp dir, a dev-mode
//! server in-process (stoppable and restartable on the same address), and
//! real `luajit` / `lua5.1` processes run with a deadline and a small
//! line protocol on stdout/stdin:
//!
//! - `@@STEP <name>`: the script waits for one line on stdin; the harness
//!   acts (stop the server, write through HTTP, kill the script…) and answers.
//! - `@@MARK <name>`: the harness notes when the line arrived.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use laurel_server::{Application, ServerConfig};
use laurel_store_sqlite::{SqliteOptions, SqliteStore};
use laurel_testkit::Http;
use serde_json::Value;
use tempfile::TempDir;

/// The interpreters every script runs under.
pub const INTERPRETERS: [&str; 2] = ["luajit", "lua5.1"];

const SERVER_WAIT: Duration = Duration::from_secs(20);

/// The cdylib cargo built for this profile. Building the tests (or an
/// example) rebuilds the library into `target/<profile>/deps/` (it is only
/// copied up to `target/<profile>/` by `cargo build`), so that copy wins.
pub fn built_module() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the executable lives in target/<profile>/deps or examples");
    let candidates = [
        profile_dir.join("deps/liblaurel_lua.so"),
        profile_dir.join("liblaurel_lua.so"),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "the Lua module is missing (looked for {} and {}): build it with \
                 `cargo build -p laurel-lua` (`cargo test -p laurel-lua` builds it before its tests)",
                candidates[0].display(),
                candidates[1].display()
            )
        })
}

/// A directory with `plugin/steamworks.so` in it: `LUA_CPATH=<dir>/?.so;;`.
pub struct ModuleDir {
    pub dir: TempDir,
}

impl ModuleDir {
    pub fn install() -> ModuleDir {
        let dir = TempDir::new().expect("temp dir");
        std::fs::create_dir(dir.path().join("plugin")).expect("plugin dir");
        let target = dir.path().join("plugin/steamworks.so");
        // A symlink: the debug build is large, and dlopen follows links.
        if std::os::unix::fs::symlink(built_module(), &target).is_err() {
            std::fs::copy(built_module(), &target).expect("copy the module");
        }
        ModuleDir { dir }
    }

    pub fn cpath(&self) -> String {
        format!("{}/?.so;;", self.dir.path().display())
    }
}

/// The path of an interpreter, or a failure that says how to install it.
pub fn interpreter(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "the Lua interpreter `{name}` is not installed; run `cargo xtask deps` \
         (Debian packages luajit and lua5.1)"
    );
}

/// A dev-mode server on loopback with its own tokio runtime on a thread.
pub struct TestServer {
    pub addr: SocketAddr,
    pub url: String,
    db: PathBuf,
    admin_token: Option<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts on `127.0.0.1:0`; `admin_token` enables the admin API.
    pub fn start(db: &Path, admin_token: Option<&str>) -> TestServer {
        let mut server = TestServer {
            addr: "127.0.0.1:0".parse().unwrap(),
            url: String::new(),
            db: db.to_owned(),
            admin_token: admin_token.map(str::to_owned),
            stop: None,
            thread: None,
        };
        server.run();
        server
    }

    fn run(&mut self) {
        let db = self.db.clone();
        let mut config = ServerConfig::new(self.addr);
        config.dev = true;
        config.admin_token = self.admin_token.clone();
        let (addr_tx, addr_rx) = mpsc::channel::<Result<SocketAddr, String>>();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(async move {
                let store = SqliteStore::open(&db, SqliteOptions::default()).expect("store");
                let app = match Application::build(config, Arc::new(store)).await {
                    Ok(app) => app,
                    Err(e) => {
                        let _ = addr_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                addr_tx.send(Ok(app.local_addr())).unwrap();
                app.run_until_stopped(async {
                    let _ = stopped.await;
                })
                .await
                .expect("server run");
            });
        });
        let addr = addr_rx
            .recv_timeout(SERVER_WAIT)
            .expect("the server starts")
            .unwrap_or_else(|e| panic!("the server did not start: {e}"));
        self.addr = addr;
        self.url = format!("http://{addr}");
        self.stop = Some(stop);
        self.thread = Some(thread);
    }

    /// Stops serving (graceful, bounded) and waits for the thread.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let deadline = Instant::now() + SERVER_WAIT;
            while !thread.is_finished() {
                assert!(Instant::now() < deadline, "the server did not stop");
                std::thread::sleep(Duration::from_millis(10));
            }
            thread.join().expect("server thread");
        }
    }

    /// Starts again on the same address (retrying while the port is busy).
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + SERVER_WAIT;
        loop {
            let probe = std::net::TcpListener::bind(self.addr);
            match probe {
                Ok(l) => {
                    drop(l);
                    break;
                }
                Err(e) => {
                    assert!(Instant::now() < deadline, "{} stays busy: {e}", self.addr);
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
        self.run();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A dev-mode user token.
pub fn token(url: &str, app: u32, user: &str) -> String {
    Http::new(url).dev_token(app, user).expect("session")
}

/// A user's progress as the server holds it.
pub fn server_progress(url: &str, app: u32, user: &str) -> Value {
    let (status, body) = Http::new(url)
        .progress(app, user, &token(url, app, user))
        .expect("the server answers");
    assert_eq!(status, 200, "{body}");
    body
}

pub fn unlocked_on_server(progress: &Value, name: &str) -> bool {
    progress["progress"]["achievements"]
        .as_array()
        .or_else(|| progress["achievements"].as_array())
        .expect("achievements")
        .iter()
        .any(|a| a["name"] == name && a["unlocked"] == true)
}

/// What a step handler tells the harness to do.
pub enum StepReply {
    /// Write this line to the script's stdin.
    Line(String),
    /// SIGKILL the script (a crash).
    Kill,
}

/// One run of a Lua script.
pub struct Run {
    pub interpreter: String,
    pub script: PathBuf,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
    pub timeout: Duration,
}

pub struct Outcome {
    pub status: Option<ExitStatus>,
    pub killed_by_harness: bool,
    pub stdout: Vec<(Instant, String)>,
    pub stderr: String,
    pub started: Instant,
}

impl Outcome {
    pub fn mark(&self, name: &str) -> Option<Instant> {
        let line = format!("@@MARK {name}");
        self.stdout
            .iter()
            .find(|(_, l)| *l == line)
            .map(|(t, _)| *t)
    }

    pub fn stdout_text(&self) -> String {
        self.stdout
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn report(&self, run: &Run) -> String {
        format!(
            "{} {} (cwd {}): status {:?}\n--- stdout\n{}\n--- stderr\n{}",
            run.interpreter,
            run.script.display(),
            run.cwd.display(),
            self.status,
            self.stdout_text(),
            self.stderr
        )
    }
}

/// Kills the child unless it was waited for.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Runs a script to its end (or its deadline: then it is killed and the
/// outcome has no status), answering its steps with `on_step`.
pub fn run(run: &Run, mut on_step: impl FnMut(&str) -> StepReply) -> Outcome {
    let mut command = Command::new(interpreter(&run.interpreter));
    command
        .arg(&run.script)
        .args(&run.args)
        .current_dir(&run.cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("LAUREL_") || k.to_string_lossy().starts_with("LUA_") {
            command.env_remove(k);
        }
    }
    for (k, v) in &run.env {
        command.env(k, v);
    }
    let started = Instant::now();
    let mut child = Reaper(command.spawn().expect("spawn the interpreter"));
    let mut stdin = child.0.stdin.take().expect("stdin");
    let stdout = child.0.stdout.take().expect("stdout");
    let stderr = child.0.stderr.take().expect("stderr");
    let (line_tx, line_rx) = mpsc::channel::<(Instant, String)>();
    let out_thread = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line_tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    let err_text = Arc::new(Mutex::new(String::new()));
    let err_sink = err_text.clone();
    let err_thread = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let mut text = err_sink.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });

    let deadline = started + run.timeout;
    let mut lines = Vec::new();
    let mut killed_by_harness = false;
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            timed_out = true;
            break;
        }
        match line_rx.recv_timeout(left) {
            Ok((at, line)) => {
                let step = line.strip_prefix("@@STEP ").map(str::to_owned);
                lines.push((at, line));
                if let Some(step) = step {
                    match on_step(&step) {
                        StepReply::Line(reply) => {
                            let _ = writeln!(stdin, "{reply}");
                            let _ = stdin.flush();
                        }
                        StepReply::Kill => {
                            let _ = child.0.kill();
                            killed_by_harness = true;
                        }
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                break;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    drop(stdin);
    let status = if timed_out {
        let _ = child.0.kill();
        let _ = child.0.wait();
        None
    } else {
        // stdout is closed: the process is ending; bounded wait for it.
        let mut status = None;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = child.0.try_wait() {
                status = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if status.is_none() {
            let _ = child.0.kill();
            let _ = child.0.wait();
        }
        status
    };
    let _ = out_thread.join();
    let _ = err_thread.join();
    let stderr = err_text.lock().unwrap().clone();
    Outcome {
        status,
        killed_by_harness,
        stdout: lines,
        stderr,
        started,
    }
}

/// The line a test script prints when all its checks passed.
pub fn summary_line(script: &str) -> String {
    format!("LUA-TEST-OK {script}")
}

/// Asserts that a run exited 0 and printed its summary line.
pub fn assert_passed(run: &Run, outcome: &Outcome) {
    let name = run
        .script
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let passed = outcome.status.is_some_and(|s| s.success())
        && outcome
            .stdout
            .iter()
            .any(|(_, l)| l.starts_with(&summary_line(&name)));
    assert!(passed, "{}", outcome.report(run));
    if std::env::var_os("LUA_TEST_SHOW").is_some() {
        eprintln!("{}", outcome.report(run));
    }
}
