//! The writers: threads that store as fast as they are answered while the
//! nodes are killed under them. Each writer is the only writer of its
//! users, so it knows exactly what each of them must hold: a user's n-th
//! store sets `Stores` to n and must be answered with version n.
//!
//! A store is sent with its own `Idempotency-Key` and sent again, with the
//! same key and body, until a node answers it `200`: on a transport error
//! (the node died, or is not listening yet) to the next node, on a `5xx`
//! after a pause. So every store ends acknowledged exactly once, unless
//! the soak is abandoned or the hard deadline passes with it in flight
//! (then it is *unresolved*: applied or not, nobody knows).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use laurel_testkit::Http;
use serde_json::Value;

use super::app::{APP, STORES, Snapshot, newly_unlocked, steam_id, store_body};
use super::rng::Rng;

/// Pause before sending a store again after a transport error when there
/// is no other node to try (the node is being started again).
const RETRY_PAUSE: Duration = Duration::from_millis(5);
/// Pause before sending a store again after a `5xx` answer.
const ERROR_PAUSE: Duration = Duration::from_millis(20);
/// Unexpected HTTP answers kept as samples for the report.
const SAMPLES: usize = 5;
/// Characters of an answer quoted in the report.
const QUOTED: usize = 300;

/// A user of the soak and its token.
pub(super) struct User {
    pub(super) index: usize,
    pub(super) token: String,
}

/// Shared by the writers and the thread that kills the nodes.
pub(super) struct Load {
    /// No new store: finish the one in flight, then return.
    pub(super) stop: AtomicBool,
    /// Return now, whatever is in flight (the soak failed or was interrupted).
    pub(super) abandon: AtomicBool,
    /// Stores acknowledged so far, by every writer.
    pub(super) acked: AtomicU64,
    /// No attempt is made after this: a store still unanswered is unresolved.
    pub(super) give_up: Instant,
}

impl Load {
    pub(super) fn new(give_up: Instant) -> Load {
        Load {
            stop: AtomicBool::new(false),
            abandon: AtomicBool::new(false),
            acked: AtomicU64::new(0),
            give_up,
        }
    }
}

/// What one writer did and saw.
#[derive(Debug, Default)]
pub(super) struct WriterReport {
    /// Per user (index): stores acknowledged.
    pub(super) acked: Vec<(usize, u64)>,
    /// Stores sent but never answered: (user, its number n); at most
    /// one per writer.
    pub(super) unresolved: Vec<(usize, u64)>,
    /// Stores answered only on a later attempt.
    pub(super) retried: u64,
    /// …of which the answer was a replay: the store had committed before
    /// the node died, and its first answer was lost with it.
    pub(super) replayed: u64,
    /// Attempts without an HTTP answer.
    pub(super) transport_errors: u64,
    /// HTTP answers other than 200 (each sent again if 5xx).
    pub(super) http_errors: u64,
    pub(super) samples: Vec<String>,
    /// Answers that break what the writer knows (a version or a stat other
    /// than the store's number, a fresh key answered as a replay, a 4xx):
    /// the writer stops at the first.
    pub(super) anomalies: Vec<String>,
}

/// One writer: stores to a random one of its `users` until told to stop.
pub(super) fn write(
    writer: usize,
    users: &[User],
    urls: &[String],
    load: &Load,
    seed: u64,
) -> WriterReport {
    let nodes: Vec<Http> = urls.iter().map(|u| Http::new(u)).collect();
    let mut rng = Rng::new(seed ^ (writer as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut node = writer % nodes.len();
    let mut report = WriterReport {
        acked: users.iter().map(|u| (u.index, 0)).collect(),
        ..WriterReport::default()
    };
    'stores: while !load.stop.load(Ordering::Relaxed) && Instant::now() < load.give_up {
        let slot = rng.below(users.len() as u64) as usize;
        let user = &users[slot];
        let n = report.acked[slot].1 + 1;
        let key = format!("soak-{seed:x}-u{}-n{n}", user.index);
        let body = store_body(n);
        let id = steam_id(user.index);
        let mut attempts = 0u64;
        let answer = loop {
            if load.abandon.load(Ordering::Relaxed) || Instant::now() >= load.give_up {
                report.unresolved.push((user.index, n));
                break 'stores;
            }
            attempts += 1;
            match nodes[node].store(APP, &id, &user.token, &key, &body) {
                Ok((200, answer)) => break answer,
                Ok((status, answer)) => {
                    report.http_errors += 1;
                    if report.samples.len() < SAMPLES {
                        report.samples.push(format!(
                            "{} {status}: {}",
                            urls[node],
                            shorten(&answer)
                        ));
                    }
                    if status < 500 {
                        report.anomalies.push(format!(
                            "user {} store {n} (key {key}): answered {status}: {}",
                            user.index,
                            shorten(&answer)
                        ));
                        report.unresolved.push((user.index, n));
                        break 'stores;
                    }
                    std::thread::sleep(ERROR_PAUSE);
                }
                Err(_) => {
                    report.transport_errors += 1;
                    node = (node + 1) % nodes.len();
                    if nodes.len() == 1 {
                        std::thread::sleep(RETRY_PAUSE);
                    }
                }
            }
        };
        let replayed = answer["replayed"] == true;
        if attempts > 1 {
            report.retried += 1;
            report.replayed += u64::from(replayed);
        }
        report.acked[slot].1 = n;
        load.acked.fetch_add(1, Ordering::Relaxed);
        if let Some(problem) = check_answer(n, attempts, &answer) {
            report.anomalies.push(format!(
                "user {} store {n} (key {key}, attempt {attempts}): {problem}: {}",
                user.index,
                shorten(&answer)
            ));
            break;
        }
    }
    report
}

/// What is wrong with the answer to a user's n-th store, if anything.
fn check_answer(n: u64, attempts: u64, answer: &Value) -> Option<String> {
    let replayed = answer["replayed"] == true;
    if replayed && attempts == 1 {
        return Some("a key sent for the first time was answered as a replay".into());
    }
    let snapshot = match Snapshot::of(&answer["progress"]) {
        Ok(s) => s,
        Err(e) => return Some(format!("unreadable progress: {e:#}")),
    };
    // The writer is the user's only writer: after its n-th store the user
    // is at version n, whether this answer is the first or a replay.
    if snapshot.version != n {
        return Some(format!("version {} after store {n}", snapshot.version));
    }
    if snapshot.stat(STORES) != n as i64 {
        return Some(format!(
            "{STORES} = {} after store {n}",
            snapshot.stat(STORES)
        ));
    }
    let newly: std::collections::BTreeSet<String> = answer["newly_unlocked"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    if newly != newly_unlocked(n) {
        return Some(format!(
            "newly unlocked {newly:?}, expected {:?}",
            newly_unlocked(n)
        ));
    }
    None
}

/// The start of an answer, for the report.
fn shorten(answer: &Value) -> String {
    let text = answer.to_string();
    match text.char_indices().nth(QUOTED) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}
