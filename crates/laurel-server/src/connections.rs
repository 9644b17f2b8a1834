//! The accept loop: hyper's HTTP/1 with a header-read timeout and caps on
//! open connections, in total and per client address.
//!
//! `axum::serve` sets no timer, so hyper's header-read timeout never fired,
//! nothing closed idle connections and nothing capped them: about 1,100
//! half-sent requests used up the process's file descriptors and took the
//! server offline (issue 12). Here:
//!
//! - a connection must send each request's head within
//!   [`ConnectionLimits::header_timeout`], counted from when it opened or
//!   from its previous answer, so the same timeout closes idle keep-alive
//!   connections (hyper starts it whenever a connection waits for a head);
//! - at most [`ConnectionLimits::max_connections`] connections are open, and
//!   at most [`ConnectionLimits::max_per_address`] from one client address; a
//!   connection over a cap is closed as soon as it is accepted, so one
//!   address cannot take the connections every other player needs;
//! - running out of file descriptors pauses accepting briefly instead of
//!   spinning, and is logged at most once a second;
//! - with TLS ([`crate::tls`]), the handshake runs after the caps admitted
//!   the connection, on the connection's own task, and must finish within
//!   the header timeout: a client that starts a handshake and never ends it
//!   holds its place no longer than one that never sends a request head.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::log_limit::LogLimit;
use crate::tls::{RELOAD_CHECK_INTERVAL, ServerTls};

/// Default [`ConnectionLimits::header_timeout`].
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`ConnectionLimits::max_connections`] (lowered at start to what
/// the process's file-descriptor limit allows, by the CLI).
pub const DEFAULT_MAX_CONNECTIONS: usize = 8_192;
/// Default [`ConnectionLimits::max_per_address`]: players behind one NAT
/// (a LAN party, a carrier's shared address) each hold one or two
/// connections; 256 leaves room for that and still stops one host from
/// holding every connection.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 256;
/// How long accepting pauses when the process is out of file descriptors.
const FD_EXHAUSTED_PAUSE: Duration = Duration::from_millis(50);

/// Bounds on the connections one server holds open.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionLimits {
    /// Longest a connection may take to send a request's head, from when it
    /// opened or its previous answer was sent (so also the idle timeout).
    pub header_timeout: Duration,
    pub max_connections: usize,
    pub max_per_address: usize,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
        }
    }
}

/// Open connections, counted in total and by address.
#[derive(Debug)]
pub struct ConnectionGate {
    limits: ConnectionLimits,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

impl ConnectionGate {
    pub fn new(limits: ConnectionLimits) -> ConnectionGate {
        ConnectionGate {
            limits,
            open: Mutex::new(Open::default()),
        }
    }

    /// A place for one more connection from `ip`, held until the returned
    /// admission is dropped; `None` when a cap is reached.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Admission> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let from_ip = open.by_address.get(&ip).copied().unwrap_or(0);
        if open.total >= self.limits.max_connections.max(1)
            || from_ip >= self.limits.max_per_address.max(1)
        {
            return None;
        }
        open.total += 1;
        open.by_address.insert(ip, from_ip + 1);
        Some(Admission {
            gate: Arc::clone(self),
            ip,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }
}

/// One admitted connection; gives its place back when dropped.
#[derive(Debug)]
pub struct Admission {
    gate: Arc<ConnectionGate>,
    ip: IpAddr,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut open = self
            .gate
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_address.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.by_address.remove(&self.ip);
            }
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops
/// accepting, closes idle connections and waits for the requests in flight
/// (each bounded by the request timeout). Every request carries the peer's
/// address as `ConnectInfo<SocketAddr>`. With `tls`, every connection is a
/// TLS one, and the certificate files are watched for a change.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    gate: Arc<ConnectionGate>,
    tls: Option<Arc<ServerTls>>,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(gate.limits.header_timeout)
        .keep_alive(true);
    let http = Arc::new(http);
    let handshake_timeout = gate.limits.header_timeout;
    let acceptor = tls.as_ref().map(|tls| tls.acceptor());
    let reloader = tls.map(|tls| tokio::spawn(tls.watch(RELOAD_CHECK_INTERVAL)));
    let graceful = GracefulShutdown::new();
    let refused_log = LogLimit::per_second();
    let accept_log = LogLimit::per_second();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    if let Some(suppressed) = accept_log.allow() {
                        tracing::warn!(error = %e, suppressed, "accepting a connection failed (out of file descriptors?); pausing");
                    }
                    tokio::time::sleep(FD_EXHAUSTED_PAUSE).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(admission) = gate.admit(peer.ip()) else {
            if let Some(suppressed) = refused_log.allow() {
                tracing::warn!(
                    client = %peer.ip(),
                    open = gate.open(),
                    suppressed,
                    "connection refused: too many open connections"
                );
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let router = router.clone();
            async move { router.oneshot(request).await }
        });
        let Some(acceptor) = &acceptor else {
            let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
            tokio::spawn(async move {
                let _admission = admission;
                if let Err(e) = connection.await {
                    tracing::debug!(client = %peer.ip(), error = %e, "connection ended with an error");
                }
            });
            continue;
        };
        let handshake = acceptor.accept(stream);
        // Held from here: a shutdown waits for handshakes under way too
        // (each bounded by the timeout) and then ends their connections.
        let watcher = graceful.watcher();
        let http = Arc::clone(&http);
        tokio::spawn(async move {
            let _admission = admission;
            let stream = match tokio::time::timeout(handshake_timeout, handshake).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!(client = %peer.ip(), error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(client = %peer.ip(), "TLS handshake not finished within the header timeout");
                    return;
                }
            };
            let connection = watcher.watch(http.serve_connection(TokioIo::new(stream), service));
            if let Err(e) = connection.await {
                tracing::debug!(client = %peer.ip(), error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if let Some(reloader) = reloader {
        reloader.abort();
    }
    graceful.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_hold_in_total_and_per_address_and_places_come_back() {
        let gate = Arc::new(ConnectionGate::new(ConnectionLimits {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            max_connections: 3,
            max_per_address: 2,
        }));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let a1 = gate.admit(a).expect("first from a");
        let a2 = gate.admit(a).expect("second from a");
        assert!(gate.admit(a).is_none(), "a is at its cap");
        let b1 = gate.admit(b).expect("b has its own cap");
        assert!(gate.admit(b).is_none(), "the total is at its cap");
        assert_eq!(gate.open(), 3);
        drop(a1);
        let b2 = gate.admit(b).expect("a place came back");
        drop((a2, b1, b2));
        assert_eq!(gate.open(), 0);
        assert!(gate.open.lock().unwrap().by_address.is_empty());
    }
}
