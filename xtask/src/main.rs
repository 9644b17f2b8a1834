//! Project automation. `cargo xtask ci` is the one test command (README, `.ci/run`).
//!
//! - `ci`: installs what the tests need outside the Rust toolchain (when missing),
//!   then format check, clippy, and the whole test suite.
//! - `deps`: only the installation step.
//! - `structure`: no module import cycles; ARCHITECTURE.md's crate arrows
//!   match `cargo metadata` (also run by `ci`).
//! - `bench`: builds in release mode and runs the foundation benchmark (`--postgres`:
//!   the PostgreSQL one).
//! - `soak`: builds in release mode and runs `laurel-bench soak` (issue 16): at
//!   least a thousand SIGKILLs of the server under concurrent stores, on SQLite
//!   and on two PostgreSQL nodes, then every acknowledged store checked. Minutes
//!   long, so not part of `ci`.

mod structure;

use std::process::Command;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    // Every step runs from the workspace root, wherever `cargo xtask` was called.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask has no parent folder")?;
    std::env::set_current_dir(root).context("entering the workspace root")?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("deps") => deps(),
        Some("bench") => bench(&args[1..]),
        Some("soak") => soak(&args[1..]),
        Some("fuzz") => fuzz(),
        Some("structure") => structure::check(),
        _ => {
            eprintln!(
                "usage: cargo xtask ci | deps | fuzz | structure | bench [ARGS…] | soak [ARGS…]"
            );
            std::process::exit(2);
        }
    }
}

/// Runs a command, echoing it, and fails if it fails.
fn run(program: &str, args: &[&str]) -> Result<()> {
    eprintln!("xtask: $ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .status()
        .with_context(|| format!("running {program}"))?;
    if !status.success() {
        bail!("{program} {} failed: {status}", args.join(" "));
    }
    Ok(())
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

/// Debian packages the test suite needs, by the command that proves each is
/// there. PostgreSQL's `initdb` starts the throwaway clusters of the
/// PostgreSQL store's tests (`laurel_testkit::postgres`).
const DEBIAN_PACKAGES: &[(&str, &str)] = &[
    ("luajit", "luajit"),
    ("lua5.1", "lua5.1"),
    ("initdb", "postgresql-15"),
];

/// Where Debian puts PostgreSQL's server programs (`initdb`, `pg_ctl`):
/// one folder per major version, off `PATH`.
const DEBIAN_POSTGRES_BINS: &str = "/usr/lib/postgresql";

/// Whether `program` is on `PATH` or in one of Debian's PostgreSQL folders.
fn installed(program: &str) -> bool {
    if have(program) {
        return true;
    }
    std::fs::read_dir(DEBIAN_POSTGRES_BINS)
        .into_iter()
        .flatten()
        .flatten()
        .any(|version| version.path().join("bin").join(program).is_file())
}

/// Python tools the e2e tests drive, from PyPI, pinned with their
/// dependencies, in a virtualenv under `target/`: the third-party Steam Web
/// API client (`crates/laurel/tests/e2e/steam_client.py`), and schemathesis,
/// which fuzzes the API from its OpenAPI document
/// (`crates/laurel/tests/e2e/schemathesis.rs`).
const PYTHON_VENV: &str = "target/pyenv";
const PYTHON_PACKAGES: &[&str] = &[
    // `steam` and its dependencies.
    "steam==1.4.4",
    "cachetools==8.0.1",
    "certifi==2026.10.18",
    "charset-normalizer==3.5.2",
    "idna==3.20",
    "pycryptodomex==3.24.2",
    "requests==2.34.2",
    "six==1.17.0",
    "urllib3==2.8.0",
    "vdf==3.4",
    // `schemathesis` and its dependencies (those above too: requests, idna, …).
    "schemathesis==4.32.5",
    "anyio==4.16.0",
    "click==8.5.1",
    "graphql-core==3.3.2",
    "harfile==0.6.0",
    "hypothesis==6.170.27",
    "hypothesis-graphql==0.13.5",
    "iniconfig==2.3.1",
    "jsonschema_rs==0.60.3",
    "markdown-it-py==4.3.0",
    "MarkupSafe==3.0.4",
    "mdurl==0.1.2",
    "packaging==26.4",
    "pluggy==1.7.0",
    "Pygments==2.21.0",
    "pyrate-limiter==4.6.0",
    "pytest==9.2.0",
    "PyYAML==6.0.4",
    "rich==15.0.0",
    "sortedcontainers==2.4.0",
    "typing_extensions==4.16.0",
    "Werkzeug==3.1.9",
];

/// Whether the virtualenv has what the tests use: `steam.webapi` imports, and
/// `schemathesis --version` runs and names the pinned version.
fn python_venv_ready() -> bool {
    let imports = Command::new(format!("{PYTHON_VENV}/bin/python"))
        .args(["-c", "import steam.webapi"])
        .status()
        .is_ok_and(|s| s.success());
    let pinned = PYTHON_PACKAGES
        .iter()
        .find_map(|p| p.strip_prefix("schemathesis=="))
        .unwrap_or_default();
    let schemathesis = Command::new(format!("{PYTHON_VENV}/bin/schemathesis"))
        .arg("--version")
        .output()
        .is_ok_and(|o| {
            o.status.success()
                && String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .any(|word| word == pinned)
        });
    imports && schemathesis
}

/// `python3 -m venv target/pyenv && target/pyenv/bin/pip install <pins>`, unless it is there.
fn python_venv() -> Result<()> {
    if python_venv_ready() {
        return Ok(());
    }
    let python = format!("{PYTHON_VENV}/bin/python");
    run("python3", &["-m", "venv", PYTHON_VENV])?;
    let mut args = vec!["-m", "pip", "install", "--quiet"];
    args.extend_from_slice(PYTHON_PACKAGES);
    run(&python, &args)?;
    if !python_venv_ready() {
        bail!("{PYTHON_VENV} is still not ready after installing {PYTHON_PACKAGES:?}");
    }
    Ok(())
}

fn deps() -> Result<()> {
    debian_packages()?;
    python_venv()
}

fn debian_packages() -> Result<()> {
    let missing: Vec<&str> = DEBIAN_PACKAGES
        .iter()
        .filter(|(cmd, _)| !installed(cmd))
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let sudo: &[&str] = if have("id") && is_root() {
        &[]
    } else {
        &["sudo"]
    };
    let apt = |args: &[&str]| -> Result<()> {
        let mut full: Vec<&str> = sudo.to_vec();
        full.push("apt-get");
        full.extend_from_slice(args);
        run(full[0], &full[1..])
    };
    apt(&["update", "-q"])?;
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend(missing.iter().copied());
    apt(&install)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn ci() -> Result<()> {
    deps()?;
    run("cargo", &["fmt", "--all", "--", "--check"])?;
    structure::check()?;
    run(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    // Fuzzing first, so that the run closes on the test runners' summaries.
    fuzz()?;
    if have("cargo-nextest") {
        // Doc tests first: the run then closes on nextest's summary of every test.
        run("cargo", &["test", "--workspace", "--doc"])?;
        run(
            "cargo",
            &["nextest", "run", "--workspace", "--no-fail-fast"],
        )?;
    } else {
        run("cargo", &["test", "--workspace", "--no-fail-fast"])?;
    }
    Ok(())
}

/// Seconds each fuzz target runs in `ci`: long enough to get past shallow
/// inputs, short enough that eight targets fit the CI budget.
const FUZZ_SECONDS: u32 = 20;

/// Runs every fuzz target in `fuzz/` for a bounded time (nightly + cargo-fuzz,
/// which is installed with `cargo install` when missing). A crash fails the run and
/// leaves its input under `fuzz/artifacts/`.
fn fuzz() -> Result<()> {
    let nightly = Command::new("cargo")
        .args(["+nightly", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !nightly {
        bail!(
            "the fuzz step needs the nightly toolchain (`rustup toolchain list`); it cannot be fetched here"
        );
    }
    if !have("cargo-fuzz") {
        run("cargo", &["install", "cargo-fuzz", "--locked"])?;
    }
    let manifest = std::fs::read_to_string("fuzz/Cargo.toml").context("reading fuzz/Cargo.toml")?;
    let targets: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .filter(|name| *name != "laurel-fuzz")
        .collect();
    let time = format!("-max_total_time={FUZZ_SECONDS}");
    std::env::set_current_dir("fuzz").context("entering fuzz/")?;
    for target in targets {
        run(
            "cargo",
            &[
                "+nightly",
                "fuzz",
                "run",
                target,
                "--",
                &time,
                "-max_len=8192",
            ],
        )?;
    }
    std::env::set_current_dir("..").context("leaving fuzz/")?;
    Ok(())
}

/// Builds the server and the bench in release mode, then runs the bench (it launches
/// `target/release/laurel` itself). `--postgres` runs the PostgreSQL bench instead
/// (`laurel-bench postgres`).
fn bench(args: &[String]) -> Result<()> {
    run(
        "cargo",
        &["build", "--release", "-p", "laurel", "-p", "laurel-bench"],
    )?;
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    if let Some(i) = args.iter().position(|a| *a == "--postgres") {
        args.remove(i);
        args.insert(0, "postgres");
    }
    run(&release_bin("laurel-bench"), &args)
}

/// Builds the server and the bench in release mode, then runs the soak
/// (`laurel-bench soak ARGS`, e.g. `--backend sqlite --kills 100`). Fails
/// when a store was lost or applied twice, a global figure is off, or the
/// soak was cut short.
fn soak(args: &[String]) -> Result<()> {
    run(
        "cargo",
        &["build", "--release", "-p", "laurel", "-p", "laurel-bench"],
    )?;
    let mut soak_args = vec!["soak"];
    soak_args.extend(args.iter().map(String::as_str));
    let bench = release_bin("laurel-bench");
    run(&bench, &soak_args)
}

/// `target/release/NAME`, or under `$CARGO_TARGET_DIR` when it is set (the
/// build above put it there; the bench finds `laurel` next to itself).
fn release_bin(name: &str) -> String {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    format!("{target}/release/{name}")
}
