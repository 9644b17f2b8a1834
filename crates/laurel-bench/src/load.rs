//! The load generator: one keep-alive HTTP/1.1 connection per client task, on
//! the caller's (current-thread) tokio runtime, so it takes at most one core.
//! The same code drives the hello-world ceiling, Laurel's stores and reads.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::stats::Latencies;

pub type Body = Full<Bytes>;

/// Builds request number `seq` of client `client`.
pub type MakeRequest = Arc<dyn Fn(usize, u64) -> Request<Body> + Send + Sync>;

/// Longest a single request (or connect) may take before it counts as an error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens one keep-alive connection; the connection's driver runs as a task.
pub async fn connect(addr: SocketAddr) -> Result<SendRequest<Body>> {
    let stream = tokio::time::timeout(REQUEST_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| anyhow!("connect to {addr} timed out"))?
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Sends one request and reads the whole answer.
pub async fn send(
    sender: &mut SendRequest<Body>,
    req: Request<Body>,
) -> Result<(StatusCode, Bytes)> {
    let work = async {
        sender.ready().await?;
        let resp = sender.send_request(req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok::<_, anyhow::Error>((status, body))
    };
    tokio::time::timeout(REQUEST_TIMEOUT, work)
        .await
        .map_err(|_| anyhow!("request timed out after {REQUEST_TIMEOUT:?}"))?
}

/// A request with the usual headers; `body` is JSON when given.
#[allow(
    clippy::expect_used,
    reason = "the method, URI and headers are the bench's own constants"
)]
pub fn request(
    addr: SocketAddr,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    extra: &[(&str, &str)],
    body: Option<String>,
) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, addr.to_string());
    if let Some(token) = bearer {
        b = b.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    let body = match body {
        Some(text) => {
            b = b.header(CONTENT_TYPE, "application/json");
            Full::new(Bytes::from(text))
        }
        None => Full::new(Bytes::new()),
    };
    b.body(body).expect("valid request")
}

/// One request on a fresh connection (set-up calls, not measured).
pub async fn one_shot(addr: SocketAddr, req: Request<Body>) -> Result<(StatusCode, Bytes)> {
    let mut sender = connect(addr).await?;
    send(&mut sender, req).await
}

/// Like [`one_shot`], but anything other than 200 is an error; returns the JSON body.
pub async fn expect_ok(
    addr: SocketAddr,
    req: Request<Body>,
    what: &str,
) -> Result<serde_json::Value> {
    let (status, body) = one_shot(addr, req).await.with_context(|| what.to_owned())?;
    if status != StatusCode::OK {
        return Err(anyhow!("{what}: HTTP {status}: {}", snippet(&body)));
    }
    serde_json::from_slice(&body)
        .with_context(|| format!("{what}: response is not JSON: {}", snippet(&body)))
}

pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        s.push('…');
    }
    s
}

#[derive(Debug, Clone, Copy)]
pub struct Phase {
    pub addr: SocketAddr,
    /// The server's pid, for its CPU use.
    pub server_pid: u32,
    pub clients: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

/// What one measured phase produced.
#[derive(Debug)]
pub struct PhaseResult {
    /// Latencies of the 200 answers that completed inside the measured window.
    pub latencies: Latencies,
    /// Answers other than 200, failed connections and timeouts, warm-up included.
    pub errors: u64,
    /// A few error messages, for the report.
    pub error_samples: Vec<String>,
    /// All answers (warm-up included) that were 200.
    pub ok_total: u64,
    /// Body size of the last 200 answer.
    pub last_body_len: usize,
    pub measured: Duration,
    /// CPU used by the server and by the load generator, warm-up included.
    pub cpu: Option<crate::child::CpuUse>,
}

impl PhaseResult {
    pub fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.measured.as_secs_f64()
    }
}

struct ClientResult {
    latencies_us: Vec<u32>,
    errors: u64,
    error_samples: Vec<String>,
    ok_total: u64,
    last_body_len: usize,
}

/// Runs `clients` closed-loop clients for warm-up + duration. A request counts
/// in the figures when it completes inside the measured window.
pub async fn run_phase(phase: Phase, make: MakeRequest) -> PhaseResult {
    run_phase_on(phase, &[phase.addr], make).await
}

/// Like [`run_phase`], with the clients spread over several servers: client
/// `i` connects to `addrs[i % addrs.len()]` (`phase.addr` when `addrs` is empty).
pub async fn run_phase_on(phase: Phase, addrs: &[SocketAddr], make: MakeRequest) -> PhaseResult {
    let meter = crate::child::CpuMeter::start(Some(phase.server_pid));
    let start = Instant::now();
    let measure_start = start + phase.warmup;
    let end = measure_start + phase.duration;
    let mut tasks = Vec::with_capacity(phase.clients);
    for client in 0..phase.clients {
        let make = make.clone();
        let addr = match addrs.len() {
            0 => phase.addr,
            n => addrs[client % n],
        };
        tasks.push(tokio::spawn(client_loop(
            addr,
            client,
            make,
            measure_start,
            end,
        )));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    let mut error_samples = Vec::new();
    let mut ok_total = 0;
    let mut last_body_len = 0;
    for t in tasks {
        match t.await {
            Ok(r) => {
                all.extend_from_slice(&r.latencies_us);
                errors += r.errors;
                ok_total += r.ok_total;
                if r.last_body_len > 0 {
                    last_body_len = r.last_body_len;
                }
                for s in r.error_samples {
                    if error_samples.len() < 5 {
                        error_samples.push(s);
                    }
                }
            }
            Err(e) => {
                errors += 1;
                error_samples.push(format!("client task failed: {e}"));
            }
        }
    }
    let cpu = meter.stop();
    PhaseResult {
        latencies: Latencies::new(all),
        errors,
        error_samples,
        ok_total,
        last_body_len,
        measured: phase.duration,
        cpu,
    }
}

async fn client_loop(
    addr: SocketAddr,
    client: usize,
    make: MakeRequest,
    measure_start: Instant,
    end: Instant,
) -> ClientResult {
    let mut r = ClientResult {
        latencies_us: Vec::with_capacity(16 * 1024),
        errors: 0,
        error_samples: Vec::new(),
        ok_total: 0,
        last_body_len: 0,
    };
    let mut sender: Option<SendRequest<Body>> = None;
    let mut seq = 0u64;
    let note = |r: &mut ClientResult, msg: String| {
        r.errors += 1;
        if r.error_samples.len() < 2 {
            r.error_samples.push(format!("client {client}: {msg}"));
        }
    };
    while Instant::now() < end {
        if sender.is_none() {
            match connect(addr).await {
                Ok(s) => sender = Some(s),
                Err(e) => {
                    note(&mut r, format!("{e:#}"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            }
        }
        let Some(s) = sender.as_mut() else { continue };
        let req = make(client, seq);
        seq += 1;
        let t0 = Instant::now();
        let outcome = send(s, req).await;
        let t1 = Instant::now();
        match outcome {
            Ok((status, body)) if status == StatusCode::OK => {
                r.ok_total += 1;
                r.last_body_len = body.len();
                if t1 >= measure_start && t1 <= end {
                    let us = t1.duration_since(t0).as_micros().min(u32::MAX as u128) as u32;
                    r.latencies_us.push(us);
                }
            }
            Ok((status, body)) => note(&mut r, format!("HTTP {status}: {}", snippet(&body))),
            Err(e) => {
                note(&mut r, format!("{e:#}"));
                sender = None;
            }
        }
    }
    r
}
