//! `/metrics` in Prometheus' text format, through the `metrics` facade and
//! its Prometheus exporter (no listener of its own: the route is ours, behind
//! the admin token, since the figures say how busy the game is).
//!
//! What is counted: requests by route, method and status, and their
//! latency; store group sizes and commit latency (recorded by the stores);
//! rate-limit refusals; and, read when scraped, the snapshot cache's bytes,
//! open connections and the database pool's use.

use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use axum::http::Method;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets (seconds): from a cached read to a slow commit.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Group-commit sizes (stores per commit).
const GROUP_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
static UPKEEP: std::sync::Once = std::sync::Once::new();

/// How often recorded histogram samples are folded into their buckets. The
/// exporter keeps every sample until then: without this, memory would grow
/// with every request answered.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The process's recorder, installed on first use (with a thread that folds
/// its samples every [`UPKEEP_INTERVAL`]). One per process: every server of
/// a process (tests run several) shares it. `None` when another recorder
/// was installed first.
pub fn handle() -> Option<&'static PrometheusHandle> {
    let handle = installed()?;
    UPKEEP.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_INTERVAL);
                    handle.run_upkeep();
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "metrics: could not start the upkeep thread");
        }
    });
    Some(handle)
}

fn installed() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("_seconds".into()),
                    LATENCY_BUCKETS,
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("laurel_store_group_size".into()),
                        GROUP_BUCKETS,
                    )
                });
            let builder = match builder {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics: bad bucket configuration");
                    return None;
                }
            };
            match builder.install_recorder() {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics: another recorder is installed; /metrics is off");
                    None
                }
            }
        })
        .as_ref()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "laurel_http_requests_total",
        "HTTP requests answered, by route template, method and status"
    );
    describe_histogram!(
        "laurel_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by route template and method"
    );
    describe_counter!(
        "laurel_rate_limited_total",
        "Requests refused with 429, by what was over its budget"
    );
    describe_gauge!(
        "laurel_progress_cache_bytes",
        Unit::Bytes,
        "Bytes of progress snapshots held in memory"
    );
    describe_gauge!("laurel_open_connections", "Client connections open now");
    describe_gauge!(
        "laurel_db_pool_connections",
        "Database connections of this node's pool, by state (in_use, idle, max)"
    );
    describe_histogram!(
        "laurel_store_group_size",
        "Stores, resets and imports committed together in one transaction"
    );
    describe_histogram!(
        "laurel_store_commit_seconds",
        Unit::Seconds,
        "Time from a group's first statement to its durable commit"
    );
}

/// The handles of one route's request metrics, by (method, status), so that
/// an answered request costs two map lookups and two atomic updates rather
/// than building and hashing its labels (the read path serves tens of
/// thousands of requests a second).
type RouteHandles = HashMap<(Method, u16), (metrics::Counter, metrics::Histogram)>;

static REQUEST_HANDLES: LazyLock<RwLock<HashMap<String, RouteHandles>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

/// Most (route, method, status) series kept as handles; more are still
/// recorded, the slower way.
const MAX_REQUEST_SERIES: usize = 4_096;

/// Records one answered request. `route` is the route template (`None`:
/// no route matched), written as a label with `:name` for `{name}` (some
/// Prometheus text parsers stumble on braces inside label values).
pub fn request(route: Option<&str>, method: &Method, status: u16, took: Duration) {
    if handle().is_none() {
        return;
    }
    let key = route.unwrap_or("unmatched");
    let seconds = took.as_secs_f64();
    {
        let handles = REQUEST_HANDLES
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((counter, histogram)) = handles
            .get(key)
            .and_then(|by| by.get(&(method.clone(), status)))
        {
            counter.increment(1);
            histogram.record(seconds);
            return;
        }
    }
    let label = key.replace('{', ":").replace('}', "");
    let counter = metrics::counter!(
        "laurel_http_requests_total",
        "route" => label.clone(),
        "method" => method.as_str().to_owned(),
        "status" => status.to_string()
    );
    let histogram = metrics::histogram!(
        "laurel_http_request_duration_seconds",
        "route" => label,
        "method" => method.as_str().to_owned()
    );
    counter.increment(1);
    histogram.record(seconds);
    let mut handles = REQUEST_HANDLES
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    if handles.values().map(HashMap::len).sum::<usize>() < MAX_REQUEST_SERIES {
        handles
            .entry(key.to_owned())
            .or_default()
            .insert((method.clone(), status), (counter, histogram));
    }
}

/// Records one request refused by a rate limit.
pub fn rate_limited(kind: &'static str) {
    if handle().is_some() {
        metrics::counter!("laurel_rate_limited_total", "kind" => kind).increment(1);
    }
}
