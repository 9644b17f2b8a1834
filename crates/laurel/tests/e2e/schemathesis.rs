//! API fuzzing from the OpenAPI document: schemathesis (PyPI, pinned, installed
//! into `target/pyenv` by `cargo xtask deps`) reads `/api/v1/openapi.json` from
//! the real binary, generates requests from it (valid and invalid), and runs
//! all of its checks on the answers: no 5xx, only documented statuses, bodies
//! and headers that match their schemas, valid data accepted, invalid data
//! refused, credentials not ignored. Three runs against one dev-mode server
//! (rate limits off: fuzzing sends far more than a player): without
//! credentials, with a user token of the demo app, and with the admin token
//! on the admin routes. A fixed seed, a bounded number of examples, no example
//! database: the same requests every time.
//!
//! Everything schemathesis and Hypothesis write goes into a temp dir, and it
//! talks to 127.0.0.1 only (proxy variables are cleared).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use laurel_testkit::{ADMIN_TOKEN, Http, ServerProcess};

/// Test cases per operation and phase; with one worker the three runs take
/// about 30 s on two cores.
const MAX_EXAMPLES: &str = "25";
const SEED: &str = "1";
/// Bound on one schemathesis run; far above what a run takes.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// The user the token run acts as: the `SteamId` example of the OpenAPI
/// document, so that the examples phase reaches that user's own progress.
const USER: &str = "76561197960287930";

/// `schemathesis.toml` of the runs. The crash cache is off (it would replay
/// earlier failures). `positive_data_acceptance` also accepts 400 on the
/// operations whose valid inputs depend on what no static document can list:
/// the names a store or a global-stats query may use are the stats and
/// achievements of the app's schema, a schema upload has rules across
/// fields (unique names, `min` ≤ `default` ≤ `max`, progress bindings naming
/// a stat of the same document), and a leaderboard download's parameters
/// depend on its scope (`steam_ids` only with `scope=users`, which needs
/// them; `period=previous` only on a periodic board). Every other check
/// keeps its defaults there.
const CONFIG: &str = r#"
[cache]
enabled = false

[[operations]]
include-operation-id = ["globalStats", "storeProgress", "adminPutSchema", "downloadLeaderboardEntries"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
"#;

/// The executable `cargo xtask deps` installs (PYTHON_PACKAGES in xtask).
fn schemathesis() -> PathBuf {
    crate::pyenv_bin("schemathesis")
}

/// One `schemathesis run` with `args` after the common ones; panics with its
/// output unless it exits 0.
fn run(exe: &Path, work: &Path, url: &str, name: &str, args: &[&str]) {
    let dir = work.join(name);
    std::fs::create_dir_all(&dir).expect("run dir");
    let log = dir.join("output.txt");
    let out = File::create(&log).expect("log file");
    let err = out.try_clone().expect("log file");
    let schema = format!("{url}/api/v1/openapi.json");
    let mut command = Command::new(exe);
    command
        .arg("--config-file")
        .arg(work.join("schemathesis.toml"))
        .args(["run", &schema, "--url", url])
        .args(["--checks", "all"])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", SEED])
        .args(["--generation-database", "none"])
        // More workers break CPython 3.11's `ast.parse` across threads
        // ("AST constructor recursion depth mismatch").
        .args(["--workers", "1"])
        .args(["--request-timeout", "10", "--no-color"])
        .args(args)
        .current_dir(&dir)
        .env("HYPOTHESIS_STORAGE_DIRECTORY", dir.join(".hypothesis"))
        .env("NO_PROXY", "*")
        .env("no_proxy", "*")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        command.env_remove(var);
    }
    let started = Instant::now();
    let mut child = command.spawn().expect("start schemathesis");
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for schemathesis") {
            break status;
        }
        if started.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "schemathesis ({name}) ran longer than {RUN_TIMEOUT:?}:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        status.success(),
        "schemathesis ({name}) found problems ({status}); reproduce with the `curl` lines \
         below against `laurel serve --dev --no-rate-limits`:\n{output}"
    );
    // On success, the summary is enough (nextest shows it with --no-capture).
    let summary = output
        .lines()
        .rev()
        .find(|l| l.contains("generated"))
        .unwrap_or("");
    println!(
        "schemathesis ({name}): {} in {:.1?}",
        summary.trim(),
        started.elapsed()
    );
}

#[test]
fn schemathesis_finds_no_failure_against_the_openapi_document() {
    let exe = schemathesis();
    assert!(
        exe.is_file(),
        "{} is missing: run `cargo xtask deps` (it installs the pinned PyPI `schemathesis` \
         into target/pyenv)",
        exe.display()
    );
    let work = tempfile::tempdir().expect("temp dir");
    std::fs::write(work.path().join("schemathesis.toml"), CONFIG).expect("config");
    let data = work.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    let server = ServerProcess::start_with(
        crate::bin(),
        &data,
        "127.0.0.1:0",
        &["--dev", "--no-rate-limits"],
    )
    .expect("server starts");
    assert!(
        server.url.starts_with("http://127.0.0.1:"),
        "{}",
        server.url
    );
    let token = Http::new(&server.url)
        .dev_token(480, USER)
        .expect("dev token");

    run(&exe, work.path(), &server.url, "anonymous", &[]);
    run(
        &exe,
        work.path(),
        &server.url,
        "user-token",
        &[
            "--header",
            &format!("Authorization: Bearer {token}"),
            "--exclude-path-regex",
            "^/(api/v1/admin/|metrics$)",
        ],
    );
    // Last: it may replace the demo app's schema.
    run(
        &exe,
        work.path(),
        &server.url,
        "admin-token",
        &[
            "--header",
            &format!("Authorization: Bearer {ADMIN_TOKEN}"),
            "--include-path-regex",
            "^/(api/v1/admin/|metrics$)",
        ],
    );
}
