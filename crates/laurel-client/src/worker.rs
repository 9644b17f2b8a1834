//! The background worker: one thread that does every network call, one at a
//! time, and turns the answers into cache changes and queued events.
//!
//! Order of work in each round: the head of the journal first (so that, at
//! start-up, stores journaled by an earlier run are replayed before the
//! current user's progress is fetched), then the progress requests that are
//! due. A request that fails for lack of a connection is retried with a
//! doubling backoff; a progress request gives up at its deadline
//! (`request_timeout`), a journaled store never gives up.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use laurel_core::{EResult, Schema, SteamId};
use laurel_wire::TokenClaims;

use crate::clock::now;
use crate::config::Credentials;
use crate::event::{Event, EventQueue, SaveDetail};
use crate::global::{GlobalCache, GlobalRequest};
use crate::journal::{Cached, EntryKind, Journal};
use crate::leaderboard::{BoardCache, BoardRequest, ScoreJob};
use crate::state::{HeadAnswer, Op, State};
use crate::transport::{Failure, Reply, Transport};

/// First wait before retrying a failed call; it doubles on each failure.
pub const FIRST_RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between two attempts to send a journaled store.
pub const MAX_STORE_RETRY_BACKOFF: Duration = Duration::from_secs(4);
/// Longest wait between two attempts of a progress request.
pub const MAX_FETCH_RETRY_BACKOFF: Duration = Duration::from_secs(2);
/// Longest a single HTTP attempt may take (also bounded by `request_timeout`).
pub const MAX_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Shortest time given to an attempt, however close its deadline.
const MIN_ATTEMPT_TIMEOUT: Duration = Duration::from_millis(50);
/// Most progress requests waiting at once; beyond it, requests return `false`.
pub const MAX_QUEUED_REQUESTS: usize = 1_024;

#[path = "worker_boards.rs"]
mod boards;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the game's thread tells the worker.
#[derive(Default)]
pub(crate) struct Inbox {
    pub fetches: VecDeque<(SteamId, Instant)>,
    /// Requests for global figures, with when they were made.
    pub globals: VecDeque<(GlobalRequest, Instant)>,
    /// Leaderboard finds and downloads, with when they were made.
    pub boards: VecDeque<(BoardRequest, Instant)>,
    /// Leaderboard uploads just journaled (or left by an earlier run), oldest first.
    pub scores: VecDeque<ScoreJob>,
    /// A journal entry was added.
    pub journal_changed: bool,
    /// The worker has returned.
    pub finished: bool,
    /// A token the game set (`Client::set_token`), for the worker to take.
    pub new_token: Option<String>,
    /// The client mints its own tokens (dev mode) and takes none.
    pub dev_user: bool,
}

/// Everything the game's thread and the worker share.
pub(crate) struct Shared {
    pub user: SteamId,
    pub request_timeout: Duration,
    pub state: Mutex<State>,
    pub events: Mutex<EventQueue>,
    pub journal: Mutex<Journal>,
    pub inbox: Mutex<Inbox>,
    pub wake: Condvar,
    pub shutdown: AtomicBool,
    /// Entries in the journal file (for the bound check on writes).
    pub journaled: Arc<AtomicUsize>,
    /// Progress requests queued and not yet answered.
    pub fetches_queued: AtomicUsize,
    /// Global-figure requests queued and not yet answered.
    pub globals_queued: AtomicUsize,
    /// Unlock percentages and aggregated stat totals, as last fetched.
    pub globals: Mutex<GlobalCache>,
    /// Leaderboard finds and downloads queued and not yet answered.
    pub boards_queued: AtomicUsize,
    /// Leaderboard uploads journaled and not yet answered.
    pub scores_unsent: AtomicUsize,
    /// Boards found.
    pub boards: Mutex<BoardCache>,
}

impl Shared {
    pub(crate) fn notify(&self) {
        self.wake.notify_all();
    }

    fn push_events(&self, events: Vec<Event>) {
        if !events.is_empty() {
            lock(&self.events).extend(events);
        }
    }
}

/// A request for global figures being tried: like [`Fetch`], it retries until its deadline.
struct GlobalFetch {
    request: GlobalRequest,
    deadline: Instant,
    next_try: Instant,
    backoff: Duration,
    last: EResult,
}

struct Fetch {
    user: SteamId,
    deadline: Instant,
    next_try: Instant,
    backoff: Duration,
    /// What to report if the deadline passes.
    last: EResult,
}

pub(crate) struct Worker {
    shared: Arc<Shared>,
    transport: Transport,
    dev_user: bool,
    token: Option<String>,
    fetches: Vec<Fetch>,
    global_fetches: Vec<GlobalFetch>,
    board_fetches: Vec<boards::BoardFetch>,
    /// Journaled uploads, oldest first.
    scores: VecDeque<ScoreJob>,
    score_next_try: Instant,
    score_backoff: Duration,
    store_next_try: Instant,
    store_backoff: Duration,
    /// No call goes out before this (the server's `Retry-After`).
    not_before: Instant,
    /// `Some(result)` while the head of the journal cannot be sent.
    offline: Option<EResult>,
    /// The credentials were rejected: stores wait in the journal for a later run.
    paused: bool,
}

impl Worker {
    pub(crate) fn new(
        shared: Arc<Shared>,
        transport: Transport,
        credentials: Credentials,
    ) -> Worker {
        let (dev_user, token) = match credentials {
            Credentials::Token(t) => (false, Some(t)),
            Credentials::DevUser(_) => (true, None),
        };
        Worker {
            shared,
            transport,
            dev_user,
            token,
            fetches: Vec::new(),
            global_fetches: Vec::new(),
            board_fetches: Vec::new(),
            scores: VecDeque::new(),
            score_next_try: Instant::now(),
            score_backoff: FIRST_RETRY_BACKOFF,
            store_next_try: Instant::now(),
            store_backoff: FIRST_RETRY_BACKOFF,
            not_before: Instant::now(),
            offline: None,
            paused: false,
        }
    }

    fn stopping(&self) -> bool {
        self.shared.shutdown.load(Ordering::Acquire)
    }

    /// The server asked for nothing before `after` from now (429 or 503
    /// with `Retry-After`): no call of any kind goes out until then. Stores
    /// stay journaled meanwhile.
    fn respect_retry_after(&mut self, after: Option<Duration>) {
        if let Some(after) = after {
            let until = Instant::now() + after;
            self.not_before = self.not_before.max(until);
            self.store_next_try = self.store_next_try.max(until);
            self.score_next_try = self.score_next_try.max(until);
        }
    }

    pub(crate) fn run(mut self) {
        while !self.stopping() {
            self.take_inbox();
            let now = Instant::now();
            if now < self.not_before {
                self.sleep();
                continue;
            }
            if !self.paused && now >= self.store_next_try && self.store_step() {
                // Drain the journal before anything else.
                continue;
            }
            if !self.paused && Instant::now() >= self.score_next_try && self.score_step() {
                continue;
            }
            if let Some(result) = self.offline {
                let events = lock(&self.shared.state).report_offline(result);
                self.shared.push_events(events);
            }
            self.fetch_round();
            self.global_round();
            self.board_round();
            self.sleep();
        }
        lock(&self.shared.inbox).finished = true;
        self.shared.notify();
    }

    fn take_inbox(&mut self) {
        let mut inbox = lock(&self.shared.inbox);
        let timeout = self.shared.request_timeout;
        for (user, at) in inbox.fetches.drain(..) {
            self.fetches.push(Fetch {
                user,
                deadline: at + timeout,
                next_try: at,
                backoff: FIRST_RETRY_BACKOFF,
                last: EResult::NoConnection,
            });
        }
        for (request, at) in inbox.globals.drain(..) {
            self.global_fetches.push(GlobalFetch {
                request,
                deadline: at + timeout,
                next_try: at,
                backoff: FIRST_RETRY_BACKOFF,
                last: EResult::NoConnection,
            });
        }
        for (request, at) in inbox.boards.drain(..) {
            self.board_fetches.push(boards::BoardFetch {
                request,
                deadline: at + timeout,
                next_try: at,
                backoff: FIRST_RETRY_BACKOFF,
                last: EResult::NoConnection,
            });
        }
        self.scores.extend(inbox.scores.drain(..));
        inbox.journal_changed = false;
        let new_token = inbox.new_token.take();
        // The state's lock is never taken under the inbox's.
        drop(inbox);
        if let Some(token) = new_token {
            // A refused token paused the stores; a new one sends them again.
            self.token = Some(token);
            self.paused = false;
            self.store_next_try = Instant::now();
            self.store_backoff = FIRST_RETRY_BACKOFF;
            self.score_next_try = Instant::now();
            self.score_backoff = FIRST_RETRY_BACKOFF;
            lock(&self.shared.state).logged_on = true;
        }
    }

    /// Sleeps until the next attempt is due or the game's thread has news.
    fn sleep(&self) {
        let mut next: Option<Instant> = self
            .fetches
            .iter()
            .map(|f| f.next_try)
            .chain(self.global_fetches.iter().map(|f| f.next_try))
            .chain(self.board_fetches.iter().map(|f| f.next_try))
            .min();
        let has_head = !lock(&self.shared.state).in_flight.is_empty();
        if has_head && !self.paused {
            next = Some(next.map_or(self.store_next_try, |n| n.min(self.store_next_try)));
        }
        if !self.scores.is_empty() && !self.paused {
            next = Some(next.map_or(self.score_next_try, |n| n.min(self.score_next_try)));
        }
        let inbox = lock(&self.shared.inbox);
        if self.stopping()
            || !inbox.fetches.is_empty()
            || !inbox.globals.is_empty()
            || !inbox.boards.is_empty()
            || !inbox.scores.is_empty()
            || inbox.journal_changed
        {
            return;
        }
        let next = next.map(|at| at.max(self.not_before));
        let wait = match next {
            Some(at) => at.saturating_duration_since(Instant::now()),
            // Nothing to do: sleep until woken (bounded, to re-check shutdown).
            None => Duration::from_secs(1),
        };
        if wait.is_zero() {
            return;
        }
        let _unused = self
            .shared
            .wake
            .wait_timeout(inbox, wait)
            .unwrap_or_else(PoisonError::into_inner);
    }

    fn attempt_timeout(&self, deadline: Option<Instant>) -> Duration {
        let mut t = self.shared.request_timeout.min(MAX_ATTEMPT_TIMEOUT);
        if let Some(d) = deadline {
            t = t.min(d.saturating_duration_since(Instant::now()));
        }
        t.max(MIN_ATTEMPT_TIMEOUT)
    }

    /// A token, asking the server for one first in dev mode.
    fn ensure_token(&mut self, timeout: Duration) -> Result<String, Failure> {
        if let Some(t) = &self.token {
            return Ok(t.clone());
        }
        let token = self.transport.session(self.shared.user, timeout)?;
        match TokenClaims::parse_unverified(&token) {
            Some((claims, _))
                if claims.user == self.shared.user
                    && claims.app == lock(&self.shared.state).app() =>
            {
                self.token = Some(token.clone());
                Ok(token)
            }
            _ => Err(Failure::Refused {
                details: Vec::new(),
                result: EResult::Fail,
                reason: "the server issued a token for another app or user".into(),
            }),
        }
    }

    /// Loads the schema if none is loaded or `want` names another version.
    fn ensure_schema(
        &mut self,
        token: &str,
        timeout: Duration,
        want: Option<u64>,
    ) -> Result<(), Failure> {
        let have = lock(&self.shared.state).schema_version();
        if have.is_some() && (want.is_none() || want == have) {
            return Ok(());
        }
        let resp = self.transport.schema(token, timeout)?;
        match Schema::from_doc(&resp.schema) {
            Ok(schema) => {
                lock(&self.shared.state).install_schema(resp.version, schema, now());
                self.keep(Cached::Schema, &resp);
                Ok(())
            }
            Err(problems) => Err(Failure::Refused {
                details: Vec::new(),
                result: EResult::Fail,
                reason: format!(
                    "the server's schema is invalid: {}",
                    problems
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            }),
        }
    }

    /// Keeps a server answer in the journal's file for an offline start. A
    /// failure costs only that start, so it is logged and nothing more.
    fn keep(&self, kind: Cached, answer: &impl serde::Serialize) {
        let kept = serde_json::to_string(answer)
            .map_err(|e| e.to_string())
            .and_then(|text| {
                lock(&self.shared.journal)
                    .keep(kind, &text)
                    .map_err(|e| e.to_string())
            });
        if let Err(error) = kept {
            tracing::warn!(
                ?kind,
                error,
                "could not keep the server's answer for an offline start"
            );
        }
    }

    /// Token and schema, as every call needs them.
    fn prepare(&mut self, timeout: Duration) -> Result<String, Failure> {
        let token = self.ensure_token(timeout)?;
        self.ensure_schema(&token, timeout, None)?;
        Ok(token)
    }

    /// The credentials were rejected. In dev mode a new token is asked for;
    /// with a fixed token the user is no longer logged on.
    fn unauthorized(&mut self, reason: &str) -> bool {
        tracing::warn!(reason, "the server rejected the credentials");
        self.token = None;
        if self.dev_user {
            return true;
        }
        lock(&self.shared.state).logged_on = false;
        false
    }

    /// One attempt at the head of the journal. `true` if it was answered.
    fn store_step(&mut self) -> bool {
        let head = lock(&self.shared.state).in_flight.front().cloned();
        let Some(head) = head else { return false };
        if matches!(head.op, Op::Nothing) {
            let events = lock(&self.shared.state).answer_head(HeadAnswer::Empty, now());
            self.shared.push_events(events);
            return true;
        }
        let timeout = self.attempt_timeout(None);
        let token = match self.prepare(timeout) {
            Ok(token) => token,
            // Without a token or schema nothing was sent: the entry stays.
            Err(failure) => {
                self.store_not_sent(&head.key, failure);
                return false;
            }
        };
        let user = self.shared.user;
        let sent = match head.kind {
            EntryKind::Store => self
                .transport
                .store(&token, user, &head.key, &head.body, timeout)
                .map(|r| match r {
                    Reply::Ok(resp) => HeadAnswer::Stored(resp),
                    Reply::Unreadable(reason) => {
                        tracing::warn!(reason, "store accepted, answer unreadable");
                        HeadAnswer::AcceptedUnread
                    }
                }),
            EntryKind::Reset => self
                .transport
                .reset(&token, user, &head.key, &head.body, timeout)
                .map(|r| match r {
                    Reply::Ok(body) => HeadAnswer::Reset(body),
                    Reply::Unreadable(reason) => {
                        tracing::warn!(reason, "reset accepted, answer unreadable");
                        HeadAnswer::AcceptedUnread
                    }
                }),
            // Uploads have their own queue (`score_step`); never here.
            EntryKind::Score => Err(Failure::Refused {
                result: EResult::Fail,
                reason: "a leaderboard upload among the stores".into(),
                details: Vec::new(),
            }),
        };
        let answer = match sent {
            Ok(answer) => answer,
            Err(Failure::Refused {
                result,
                reason,
                details,
            }) => {
                tracing::warn!(key = head.key, %result, reason, "store refused by the server; removed from the journal");
                HeadAnswer::Refused(result, details.iter().map(SaveDetail::from_wire).collect())
            }
            Err(failure) => {
                self.store_not_sent(&head.key, failure);
                return false;
            }
        };
        if let Some(seq) = head.seq {
            match lock(&self.shared.journal).remove(seq) {
                Ok(()) => {
                    let _ = self.shared.journaled.fetch_update(
                        Ordering::AcqRel,
                        Ordering::Acquire,
                        |n| Some(n.saturating_sub(1)),
                    );
                }
                // A replay of it will be answered from the idempotency record.
                Err(e) => tracing::error!(
                    seq,
                    error = %e,
                    "answered store could not be removed from the journal"
                ),
            }
        }
        let answered_version = match &answer {
            HeadAnswer::Stored(r) => Some(r.progress.schema_version),
            HeadAnswer::Reset(b) => Some(b.schema_version),
            _ => None,
        };
        if answered_version.is_some()
            && answered_version != lock(&self.shared.state).schema_version()
            && let Err(e) = self.ensure_schema(&token, timeout, answered_version)
        {
            tracing::warn!(error = ?e, "could not load the new schema version");
        }
        match &answer {
            HeadAnswer::Stored(r) => self.keep(Cached::Progress, &r.progress),
            HeadAnswer::Reset(b) => self.keep(Cached::Progress, b),
            _ => {}
        }
        if matches!(answer, HeadAnswer::Refused(..)) {
            // The refusal may come from a state the cache does not know yet.
            self.shared.fetches_queued.fetch_add(1, Ordering::AcqRel);
            let now = Instant::now();
            self.fetches.push(Fetch {
                user: self.shared.user,
                deadline: now + self.shared.request_timeout,
                next_try: now,
                backoff: FIRST_RETRY_BACKOFF,
                last: EResult::NoConnection,
            });
        }
        let events = {
            let mut state = lock(&self.shared.state);
            if state.in_flight.front().map(|f| f.seq) != Some(head.seq) {
                tracing::error!("journal head changed under the worker");
                return true;
            }
            state.answer_head(answer, now())
        };
        self.shared.push_events(events);
        self.offline = None;
        self.store_backoff = FIRST_RETRY_BACKOFF;
        true
    }

    /// The head could not be sent (or its answer was lost): it stays
    /// journaled and is retried with the same idempotency key.
    fn store_not_sent(&mut self, key: &str, failure: Failure) {
        let result = match failure {
            Failure::Retry {
                result,
                reason,
                after,
            } => {
                tracing::info!(key, reason, "store not sent; will retry");
                self.respect_retry_after(after);
                result
            }
            Failure::Refused { result, reason, .. } => {
                tracing::info!(key, reason, "store not sent; will retry");
                result
            }
            Failure::Unauthorized { reason } => {
                if self.unauthorized(&reason) {
                    // Dev mode: a new token is asked for on the next attempt.
                    EResult::NoConnection
                } else {
                    // Kept for a later run with valid credentials; every
                    // store (also later ones) is told `NotLoggedOn`.
                    self.paused = true;
                    EResult::NotLoggedOn
                }
            }
        };
        self.offline = Some(result);
        self.store_next_try = Instant::now() + self.store_backoff;
        self.store_backoff = (self.store_backoff * 2).min(MAX_STORE_RETRY_BACKOFF);
    }

    /// One attempt at every progress request that is due.
    fn fetch_round(&mut self) {
        let mut i = 0;
        while i < self.fetches.len() {
            if self.stopping() {
                return;
            }
            if self.fetches[i].next_try > Instant::now() {
                i += 1;
                continue;
            }
            let (user, deadline) = (self.fetches[i].user, self.fetches[i].deadline);
            let outcome = self.fetch_once(user, deadline);
            let now = Instant::now();
            let f = &mut self.fetches[i];
            let finished = match outcome {
                Ok(events) => Some(events),
                Err(result) => {
                    f.last = result;
                    if now >= f.deadline {
                        Some(vec![Event::update(user, f.last)])
                    } else {
                        // One last attempt exactly at the deadline.
                        f.next_try = (now + f.backoff).min(f.deadline);
                        f.backoff = (f.backoff * 2).min(MAX_FETCH_RETRY_BACKOFF);
                        None
                    }
                }
            };
            if let Some(events) = finished {
                self.fetches.remove(i);
                self.shared.fetches_queued.fetch_sub(1, Ordering::AcqRel);
                self.shared.push_events(events);
            } else {
                i += 1;
            }
        }
    }

    /// One attempt at every global-figure request that is due; each ends in
    /// one event: its answer, a refusal, or `NoConnection` at its deadline.
    fn global_round(&mut self) {
        let mut i = 0;
        while i < self.global_fetches.len() {
            if self.stopping() {
                return;
            }
            if self.global_fetches[i].next_try > Instant::now() {
                i += 1;
                continue;
            }
            let request = self.global_fetches[i].request.clone();
            let deadline = self.global_fetches[i].deadline;
            let outcome = self.global_once(&request, deadline);
            let now = Instant::now();
            let f = &mut self.global_fetches[i];
            let finished = match outcome {
                Ok(answer) => Some(answer),
                Err(result) => {
                    f.last = result;
                    if now >= f.deadline {
                        Some((f.last, 0))
                    } else {
                        f.next_try = (now + f.backoff).min(f.deadline);
                        f.backoff = (f.backoff * 2).min(MAX_FETCH_RETRY_BACKOFF);
                        None
                    }
                }
            };
            if let Some((result, count)) = finished {
                let is_error = result != EResult::Ok;
                let event = match request {
                    GlobalRequest::Percentages => Event::GlobalAchievementPercentagesReady {
                        is_error,
                        result_code: result,
                    },
                    GlobalRequest::Stats { .. } => Event::GlobalStatsReceived {
                        is_error,
                        result_code: result,
                    },
                    GlobalRequest::PlayerCount => Event::ActivePlayerCount {
                        is_error,
                        result_code: result,
                        count,
                    },
                    // As Steam: only an arrived profile is announced.
                    GlobalRequest::Profile(user) => Event::UserInfoUpdate {
                        user_steam_id: user,
                    },
                };
                self.global_fetches.remove(i);
                self.shared.globals_queued.fetch_sub(1, Ordering::AcqRel);
                if let GlobalRequest::Profile(user) = request {
                    lock(&self.shared.state).profile_asked(user);
                }
                let announce = !matches!(request, GlobalRequest::Profile(_)) || !is_error;
                if announce {
                    self.shared.push_events(vec![event]);
                }
            } else {
                i += 1;
            }
        }
    }

    /// `Ok(result)` when the request is finished (the cache is updated on
    /// success); `Err(result)` when it should be tried again.
    fn global_once(
        &mut self,
        request: &GlobalRequest,
        deadline: Instant,
    ) -> Result<(EResult, u32), EResult> {
        let timeout = self.attempt_timeout(Some(deadline));
        let token = match self.ensure_token(timeout) {
            Ok(t) => t,
            Err(failure) => return self.global_failure(failure).map(|r| (r, 0)),
        };
        if *request == GlobalRequest::PlayerCount {
            return match self.transport.current_players(&token, timeout) {
                Ok(count) => Ok((EResult::Ok, count)),
                Err(failure) => self.global_failure(failure).map(|r| (r, 0)),
            };
        }
        if let GlobalRequest::Profile(user) = request {
            return match self.transport.profile(&token, *user, timeout) {
                Ok(body) => {
                    let events = lock(&self.shared.state).install_profile(&body);
                    Ok((
                        if events.is_empty() {
                            EResult::Fail
                        } else {
                            EResult::Ok
                        },
                        0,
                    ))
                }
                Err(failure) => self.global_failure(failure).map(|r| (r, 0)),
            };
        }
        let answered = match request {
            GlobalRequest::Percentages => self
                .transport
                .global_achievements(&token, timeout)
                .map(|r| lock(&self.shared.globals).install_percentages(&r)),
            GlobalRequest::Stats { names, days } => self
                .transport
                .global_stats(&token, names, *days, timeout)
                .map(|r| lock(&self.shared.globals).install_stats(&r)),
            GlobalRequest::PlayerCount | GlobalRequest::Profile(_) => Ok(()),
        };
        match answered {
            Ok(()) => Ok((EResult::Ok, 0)),
            Err(failure) => self.global_failure(failure).map(|r| (r, 0)),
        }
    }

    fn global_failure(&mut self, failure: Failure) -> Result<EResult, EResult> {
        match failure {
            Failure::Retry {
                result,
                reason,
                after,
            } => {
                tracing::debug!(reason, "global figures request failed; will retry");
                self.respect_retry_after(after);
                Err(result)
            }
            Failure::Unauthorized { reason } => {
                if self.unauthorized(&reason) {
                    Err(EResult::NotLoggedOn)
                } else {
                    Ok(EResult::NotLoggedOn)
                }
            }
            Failure::Refused { result, reason, .. } => {
                tracing::warn!(%result, reason, "global figures request refused");
                Ok(result)
            }
        }
    }

    /// The current user's profile, with their progress, in one attempt: a
    /// failure keeps the last name (or the default), and is only logged.
    fn fetch_profile(&mut self, user: SteamId, deadline: Instant) -> Vec<Event> {
        let timeout = self.attempt_timeout(Some(deadline));
        let answer = self
            .ensure_token(timeout)
            .and_then(|token| self.transport.profile(&token, user, timeout));
        match answer {
            Ok(body) => {
                if user == self.shared.user {
                    self.keep(Cached::Profile, &body);
                }
                lock(&self.shared.state).install_profile(&body)
            }
            Err(failure) => {
                tracing::debug!(%user, ?failure, "profile not fetched");
                Vec::new()
            }
        }
    }

    /// `Ok(events)` when the request is finished (answered or refused);
    /// `Err(result)` when it should be tried again.
    fn fetch_once(&mut self, user: SteamId, deadline: Instant) -> Result<Vec<Event>, EResult> {
        let timeout = self.attempt_timeout(Some(deadline));
        let body = self.prepare(timeout).and_then(|token| {
            let body = self.transport.progress(&token, user, timeout)?;
            if lock(&self.shared.state).schema_version() != Some(body.schema_version)
                && let Err(e) = self.ensure_schema(&token, timeout, Some(body.schema_version))
            {
                tracing::warn!(error = ?e, "could not load the new schema version");
            }
            Ok(body)
        });
        match body {
            Ok(body) => {
                if user == self.shared.user {
                    self.keep(Cached::Progress, &body);
                }
                let mut events = lock(&self.shared.state).install_progress(user, &body, now());
                if user == self.shared.user {
                    events.extend(self.fetch_profile(user, deadline));
                }
                Ok(events)
            }
            Err(Failure::Retry {
                result,
                reason,
                after,
            }) => {
                tracing::debug!(%user, reason, "progress request failed; will retry");
                self.respect_retry_after(after);
                Err(result)
            }
            Err(Failure::Unauthorized { reason }) => {
                if self.unauthorized(&reason) {
                    Err(EResult::NotLoggedOn)
                } else {
                    Ok(vec![Event::update(user, EResult::NotLoggedOn)])
                }
            }
            Err(Failure::Refused { result, reason, .. }) => {
                tracing::warn!(%user, %result, reason, "progress request refused");
                Ok(vec![Event::update(user, result)])
            }
        }
    }
}
