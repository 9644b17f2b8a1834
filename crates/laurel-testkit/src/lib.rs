//! Test harness: run the real `laurel` binary on a free loopback port with a
//! fresh data dir, or the server inside the test process (`in_process`,
//! feature `in-process`), and talk to it over HTTP or HTTPS; start a
//! throwaway PostgreSQL ([`postgres`]); make certificates ([`tls`]). Every
//! wait here is bounded.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test, with its place"
)]
// Unsafe code is allowed here only: process groups, signals and rlimits of
// the processes it starts (libc).
#![allow(unsafe_code)]

#[cfg(feature = "in-process")]
pub mod in_process;
pub mod postgres;
pub mod tls;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// The admin token every test server is started with.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

/// How long a server may take to start before a test fails.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A `laurel serve` child process. Killed (SIGKILL) when dropped.
pub struct ServerProcess {
    child: Option<Child>,
    bin: PathBuf,
    data_dir: PathBuf,
    /// `http://127.0.0.1:PORT` (`https://…` when it serves TLS)
    pub url: String,
    pub addr: String,
    extra_args: Vec<String>,
}

impl ServerProcess {
    /// Starts `laurel serve --dev` on `127.0.0.1:0` with `data_dir`, and waits until it listens.
    pub fn start(bin: &Path, data_dir: &Path) -> Result<ServerProcess> {
        Self::start_with(bin, data_dir, "127.0.0.1:0", &["--dev"])
    }

    pub fn start_with(
        bin: &Path,
        data_dir: &Path,
        listen: &str,
        args: &[&str],
    ) -> Result<ServerProcess> {
        Self::start_limited(bin, data_dir, listen, args, None)
    }

    /// As [`ServerProcess::start_with`], with the process's open-file limit
    /// (soft and hard) set to `open_files` when given: `ulimit -n`.
    pub fn start_limited(
        bin: &Path,
        data_dir: &Path,
        listen: &str,
        args: &[&str],
        open_files: Option<u64>,
    ) -> Result<ServerProcess> {
        let mut command = Command::new(bin);
        if let Some(n) = open_files {
            use std::os::unix::process::CommandExt;
            // SAFETY: between fork and exec only setrlimit runs, which is
            // async-signal-safe and touches no memory of the parent.
            unsafe {
                command.pre_exec(move || {
                    let limit = libc::rlimit {
                        rlim_cur: n,
                        rlim_max: n,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = command
            .args(["serve", "--listen", listen, "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env("LAUREL_ADMIN_TOKEN", ADMIN_TOKEN)
            .env(
                "RUST_LOG",
                std::env::var("TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("TEST_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        // The server prints `laurel listening on http(s)://ADDR` once bound; read it off a thread
        // so that the wait is bounded even if the server never prints.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("laurel listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let url = match rx.recv_timeout(START_TIMEOUT) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                bail!("laurel did not start within {START_TIMEOUT:?} (exit: {status:?})");
            }
        };
        let addr = url
            .split_once("://")
            .map_or(url.as_str(), |(_, addr)| addr)
            .to_owned();
        Ok(ServerProcess {
            child: Some(child),
            bin: bin.to_owned(),
            data_dir: data_dir.to_owned(),
            url,
            addr,
            extra_args: args.iter().map(|s| s.to_string()).collect(),
        })
    }

    /// SIGKILL: no graceful anything, as a crash or an OOM kill.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits (bounded) for a clean exit; returns the exit code.
    pub fn terminate(&mut self) -> Result<Option<i32>> {
        let Some(mut c) = self.child.take() else {
            return Ok(None);
        };
        // SAFETY: kill(2) with a pid we own and a valid signal number has no memory effects.
        unsafe {
            libc::kill(c.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = c.try_wait()? {
                return Ok(status.code());
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                bail!("laurel did not exit within 20 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the server again on the same address and data dir (after `kill` or `terminate`).
    pub fn restart(&mut self) -> Result<()> {
        self.kill();
        let args: Vec<&str> = self.extra_args.iter().map(String::as_str).collect();
        // The port was just released; retry a few times in case the kernel still holds it.
        let mut last = None;
        for _ in 0..50 {
            match ServerProcess::start_with(&self.bin, &self.data_dir, &self.addr, &args) {
                Ok(mut fresh) => {
                    self.child = fresh.child.take();
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("restart failed")))
    }

    /// The server's resident memory in bytes (`VmRSS` of `/proc/PID/status`).
    pub fn rss_bytes(&self) -> Result<u64> {
        let pid = self.child.as_ref().context("not running")?.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .context("no VmRSS line")?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()?;
        Ok(kb * 1024)
    }

    /// Sends `signal` (e.g. `libc::SIGHUP`) to the server.
    pub fn signal(&self, signal: libc::c_int) -> Result<()> {
        let pid = self.child.as_ref().context("not running")?.id();
        // SAFETY: kill(2) with a pid we own and a valid signal number has no memory effects.
        if unsafe { libc::kill(pid as i32, signal) } != 0 {
            return Err(std::io::Error::last_os_error()).context("kill");
        }
        Ok(())
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A plain HTTP client for tests: answers are (status, JSON body).
pub struct Http {
    agent: ureq::Agent,
    pub base: String,
}

impl Http {
    pub fn new(base: &str) -> Http {
        Http::with_tls(base, ureq::tls::TlsConfig::default())
    }

    /// A client that trusts only the CA certificate `ca_pem` (PEM) for
    /// `https://` URLs.
    pub fn trusting(base: &str, ca_pem: &str) -> Result<Http> {
        let ca =
            ureq::tls::Certificate::from_pem(ca_pem.as_bytes()).context("the CA certificate")?;
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::new_with_certs(&[ca]))
            .build();
        Ok(Http::with_tls(base, tls))
    }

    fn with_tls(base: &str, tls: ureq::tls::TlsConfig) -> Http {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            // The server closes connections idle for its header timeout (10 s).
            .max_idle_age(Duration::from_secs(5))
            .tls_config(tls)
            .build()
            .into();
        Http {
            agent,
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    fn finish(resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<(u16, Value)> {
        let mut resp = resp?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string()?;
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).with_context(|| format!("not JSON: {text}"))?
        };
        Ok((status, json))
    }

    pub fn get(&self, path: &str, bearer: Option<&str>) -> Result<(u16, Value)> {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        if let Some(b) = bearer {
            req = req.header("Authorization", format!("Bearer {b}"));
        }
        Self::finish(req.call())
    }

    /// POST (or PUT/DELETE via `method`) a raw body with optional bearer and extra headers.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<(u16, Value)> {
        let uri = format!("{}{path}", self.base);
        let mut builder = ureq::http::Request::builder().method(method).uri(uri);
        // JSON unless the caller names another type.
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            builder = builder.header("Content-Type", "application/json");
        }
        if let Some(b) = bearer {
            builder = builder.header("Authorization", format!("Bearer {b}"));
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let req = builder.body(body.to_owned())?;
        Self::finish(self.agent.run(req))
    }

    pub fn post(&self, path: &str, bearer: Option<&str>, body: &Value) -> Result<(u16, Value)> {
        self.send("POST", path, bearer, &[], &body.to_string())
    }

    /// A dev-mode user token for `steam_id` in `app`.
    pub fn dev_token(&self, app: u32, steam_id: &str) -> Result<String> {
        self.new_session(app, steam_id, None)
    }

    /// `POST /api/v1/sessions`, paid for with `key` when given; the token.
    fn new_session(&self, app: u32, steam_id: &str, key: Option<&str>) -> Result<String> {
        let (status, body) = self.post(
            "/api/v1/sessions",
            key,
            &serde_json::json!({"app_id": app, "steam_id": steam_id}),
        )?;
        if status != 200 {
            bail!("session: {status} {body}");
        }
        body["token"]
            .as_str()
            .map(str::to_owned)
            .context("no token in session response")
    }

    /// Makes `schema` (a schema document) `app`'s schema, through the admin API.
    pub fn put_schema(&self, app: u32, schema: &Value, admin: &str) -> Result<()> {
        let (status, body) = self.send(
            "PUT",
            &format!("/api/v1/admin/apps/{app}/schema"),
            Some(admin),
            &[],
            &schema.to_string(),
        )?;
        if status != 200 {
            bail!("schema of app {app}: {status} {body}");
        }
        Ok(())
    }

    /// A new server key of `app`, through the admin API (`admin`: its token).
    pub fn server_key(&self, app: u32, admin: &str) -> Result<String> {
        let (status, body) = self.post(
            &format!("/api/v1/admin/apps/{app}/keys"),
            Some(admin),
            &serde_json::json!({"label": "test backend"}),
        )?;
        if status != 200 {
            bail!("key: {status} {body}");
        }
        body["key"]
            .as_str()
            .map(str::to_owned)
            .context("no key in the answer")
    }

    /// The ids of `app`'s server keys, oldest first, through the admin API.
    pub fn key_ids(&self, app: u32, admin: &str) -> Result<Vec<i64>> {
        let (status, body) = self.get(&format!("/api/v1/admin/apps/{app}/keys"), Some(admin))?;
        if status != 200 {
            bail!("keys: {status} {body}");
        }
        Ok(body["keys"]
            .as_array()
            .map(|keys| keys.iter().filter_map(|k| k["id"].as_i64()).collect())
            .unwrap_or_default())
    }

    /// Revokes server key `id` of `app` through the admin API; the status.
    pub fn revoke_key(&self, app: u32, id: i64, admin: &str) -> Result<u16> {
        let path = format!("/api/v1/admin/apps/{app}/keys/{id}");
        Ok(self.send("DELETE", &path, Some(admin), &[], "")?.0)
    }

    /// A user token for `steam_id` in `app`, minted with a server key of the
    /// app (dev mode mints without one for the demo app only).
    pub fn session(&self, app: u32, steam_id: &str, key: &str) -> Result<String> {
        self.new_session(app, steam_id, Some(key))
    }

    /// One store with an idempotency key; returns (status, body).
    pub fn store(
        &self,
        app: u32,
        steam_id: &str,
        token: &str,
        key: &str,
        body: &Value,
    ) -> Result<(u16, Value)> {
        self.send(
            "POST",
            &format!("/api/v1/apps/{app}/users/{steam_id}/progress"),
            Some(token),
            &[("Idempotency-Key", key)],
            &body.to_string(),
        )
    }

    pub fn progress(&self, app: u32, steam_id: &str, token: &str) -> Result<(u16, Value)> {
        self.get(
            &format!("/api/v1/apps/{app}/users/{steam_id}/progress"),
            Some(token),
        )
    }

    /// `steam_id`'s progress in `app` as the server holds it, read with a
    /// dev-mode token (a dev server only).
    pub fn dev_progress(&self, app: u32, steam_id: &str) -> Result<Value> {
        let token = self.dev_token(app, steam_id)?;
        let (status, body) = self.progress(app, steam_id, &token)?;
        if status != 200 {
            bail!("progress: {status} {body}");
        }
        Ok(body)
    }
}

/// A stat's value in a progress body.
pub fn stat(progress: &Value, name: &str) -> Option<f64> {
    progress["stats"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == name)?["value"]
        .as_f64()
}

/// An achievement's entry in a progress body.
pub fn achievement<'a>(progress: &'a Value, name: &str) -> Option<&'a Value> {
    progress["achievements"]
        .as_array()?
        .iter()
        .find(|a| a["name"] == name)
}

/// Whether a progress body has the achievement unlocked.
pub fn unlocked(progress: &Value, name: &str) -> bool {
    achievement(progress, name).is_some_and(|a| a["unlocked"] == true)
}
