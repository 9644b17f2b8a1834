//! Laurel's Rust SDK: Steam's `ISteamUserStats` programming model over a
//! Laurel server.
//!
//! ```no_run
//! use laurel_client::{AppId, Client, ClientConfig, Credentials, Event};
//!
//! let user = "76561197960287930".parse().unwrap();
//! let config = ClientConfig::new("http://127.0.0.1:8080", AppId::new(480).unwrap(), Credentials::DevUser(user));
//! let client = Client::init(config).unwrap();
//! // Each frame:
//! client.run_callbacks(|event| {
//!     if let Event::UserProgressUpdate { is_error: false, .. } = event {
//!         client.set_achievement("ACH_WIN_ONE_GAME");
//!         client.store_stats();
//!     }
//! });
//! ```
//!
//! # Model
//! - [`Client::init`] never waits for the network. It opens the journal,
//!   starts one background worker thread and asks for the current user's
//!   progress; a [`Event::UserProgressUpdate`] for that user follows.
//! - Reads ([`Client::achievement`], [`Client::stat_i32`], …) come from a
//!   local cache: no network, one short lock. The cache starts from what an
//!   earlier run kept in the journal's file (the app's schema and the user's
//!   last progress from the server, with the journaled stores applied over
//!   it), so a relaunch reads the player's progress at once, also offline.
//!   With nothing kept (a first launch), reads return `None` until the
//!   user's progress has arrived.
//! - Writes of the current user are taken from the first frame, as on Steam,
//!   whose stats are there before the game's first frame: before the first
//!   answer, and with the server unreachable. They change the cache at once
//!   and accumulate (one entry per name, last write wins; average-rate
//!   sessions add up) until [`Client::store_stats`] journals them and sends
//!   them as one store. What is refused at once (`false`, nothing changes):
//!   an unknown name, a wrong type, a value that is not finite, a stat only
//!   the server sets, a clear the app does not allow, a full journal. The
//!   schema's value constraints (`min`, `max`, `max_change`,
//!   `increment_only`) are the server's to judge, as Steam's are: a value
//!   that breaks one is taken, and the store is refused with
//!   `InvalidParam` and the server's reasons ([`Event::UserProgressSave`]'s
//!   `details`). With no schema known yet (a first launch with no network),
//!   a well-formed write is taken unchecked: the schema's checks run when it
//!   arrives, and the server judges what was stored before.
//! - Answers arrive as [`Event`]s, delivered only by [`Client::run_callbacks`]
//!   (or [`Client::take_events`]) on the caller's thread, in order. Nothing is
//!   delivered from inside the call that caused it, nor from another thread.
//!
//! # Event order
//! - Stored: [`Event::AchievementInfoUpdate`] for each unlock and progress
//!   indication in the store (and each achievement it unlocked through a
//!   bound stat), then [`Event::UserProgressSave`] ok, then
//!   [`Event::UserProgressUpdate`] ok; the cache already holds the server's
//!   state when the first of them is delivered.
//! - Refused (400/8, 403/15, …): `UserProgressSave` with the server's
//!   result and its reason for each refused entry (`details`); the store's effect is taken out of the cache at once (back to
//!   the last server snapshot; later writes not yet stored stay), and the
//!   progress is re-fetched, because a refusal usually means the server holds
//!   values the cache does not know: its answer is the `UserProgressUpdate`
//!   that follows (an error one if the server cannot be reached by then).
//! - A `store_stats` with nothing pending still answers, in order:
//!   `UserProgressSave` ok then `UserProgressUpdate` ok.
//!
//! # Offline
//! Before a store is sent it is written to the journal (SQLite,
//! `synchronous=FULL`; [`journal`]), so a crash of the game loses nothing
//! `store_stats` returned `true` for. If the server cannot be reached, the
//! store is reported **at the first failed attempt** (a game should not wait
//! a minute to learn it is offline) with `UserProgressSave { is_error: true,
//! result_code: NoConnection }`; every later store made while offline is
//! reported the same way at once. The worker keeps retrying the oldest entry
//! with the same idempotency key (backoff from 100 ms, doubling, capped at
//! [`MAX_STORE_RETRY_BACKOFF`]); when the server answers, the outcome comes
//! as another `UserProgressSave` (+ `UserProgressUpdate`). An entry is
//! removed only once the server answered it (stored, replayed or refused).
//! At start-up, entries left by an earlier run are sent first, in order;
//! only their outcome is reported.
//!
//! Progress requests retry until `request_timeout` (60 s by default) and
//! then report `UserProgressUpdate { is_error: true, result_code: NoConnection }`.
//!
//! # Leaderboards
//! Steam's calls ([`Client::find_leaderboard`],
//! [`Client::find_or_create_leaderboard`],
//! [`Client::upload_leaderboard_score`],
//! [`Client::download_leaderboard_entries`],
//! [`Client::download_leaderboard_entries_for_users`]) return a
//! [`LeaderboardCall`], and the event that answers carries it
//! ([`Event::LeaderboardFindResult`], [`Event::LeaderboardScoreUploaded`],
//! [`Event::LeaderboardScoresDownloaded`]). An upload is journaled like a
//! store (kind `score`) and sent with its idempotency key until the server
//! answers, also by a later run; its event comes only then (none while
//! offline). Finds and downloads are not cached: without a server they end
//! in an error event at `request_timeout`. docs/leaderboards.md.
//!
//! The journal file defaults to `laurel-journal-<app>-<user>.sqlite3` in the
//! current directory ([`ClientConfig::default_journal_path`]). Besides the
//! unsent stores, it keeps the last schema, progress and profile the server
//! sent ([`journal::Cached`]); they are a cache, replaced by every answer.

mod clock;
mod config;
mod event;
mod global;
pub mod journal;
mod leaderboard;
mod state;
mod transport;
mod worker;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use laurel_core::{BatchEntry, ResetScope};
use laurel_wire::{ResetRequest, TokenClaims};

pub use config::{
    ClientConfig, ClientError, Credentials, DEFAULT_LANGUAGE, DEFAULT_REQUEST_TIMEOUT,
};
pub use event::{Event, MAX_QUEUED_EVENTS, SaveDetail};
pub use journal::MAX_JOURNAL_ENTRIES;
pub use laurel_core::leaderboard::{DisplayType, SortMethod, UploadMethod};
pub use laurel_core::{AppId, EResult, StatKind, SteamId};
pub use leaderboard::{
    EntriesRequest, LeaderboardCall, LeaderboardEntry, LeaderboardHandle, LeaderboardInfo,
};
pub use state::{AchievementIcons, AchievementInfo, MAX_CACHED_USERS, MAX_LISTED_USERS, UserInfo};
pub use transport::MAX_RESPONSE_BYTES;
pub use worker::{
    FIRST_RETRY_BACKOFF, MAX_ATTEMPT_TIMEOUT, MAX_FETCH_RETRY_BACKOFF, MAX_QUEUED_REQUESTS,
    MAX_STORE_RETRY_BACKOFF,
};

use clock::now;
use journal::{EntryKind, Journal};
use state::{InFlight, State};
use worker::{Inbox, Shared, Worker, lock};

/// How long dropping a [`Client`] waits for its worker to stop. A worker
/// still inside a network call after that is detached; it ends after that call.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(2);

/// A connection to a Laurel server for one app and one user. `Send + Sync`;
/// every method returns without waiting for the network.
/// The claims of a token for `app`, read without the key (the server
/// decides whether it is valid).
fn token_claims(token: &str, app: AppId) -> Result<TokenClaims, ClientError> {
    let Some((claims, _)) = TokenClaims::parse_unverified(token) else {
        return Err(ClientError::InvalidToken {
            reason:
                "not a Laurel user token (lt2.<app>.<steamid>.<issued_ms>.<expires>.<key>.<mac>)"
                    .into(),
        });
    };
    if claims.app != app {
        return Err(ClientError::InvalidToken {
            reason: format!("the token is for app {}, not app {app}", claims.app),
        });
    }
    if claims.expires_at <= now() {
        // The server decides; a wrong clock here must not lock the game out.
        tracing::warn!(
            expires_at = claims.expires_at,
            "the token looks expired; the server will probably reject it"
        );
    }
    Ok(claims)
}

pub struct Client {
    shared: Arc<Shared>,
    app: AppId,
    user: SteamId,
    /// Journal entries in the file, kept here so writes can check the bound cheaply.
    journaled: Arc<AtomicUsize>,
    /// The last leaderboard call id given out.
    calls: AtomicU64,
    worker: Option<JoinHandle<()>>,
}

impl Client {
    /// Opens the journal, starts the worker and asks for the current user's
    /// progress. Fails only for a bad configuration or an unusable journal.
    pub fn init(config: ClientConfig) -> Result<Client, ClientError> {
        let base = config::normalize_server_url(&config.server_url)?;
        if config.request_timeout.is_zero() {
            return Err(ClientError::InvalidConfig {
                reason: "request_timeout must be above zero".into(),
            });
        }
        if config.language.is_empty()
            || config.language.len() > laurel_core::limits::MAX_LANGUAGE_BYTES
        {
            return Err(ClientError::InvalidConfig {
                reason: format!("language {:?} is not a language code", config.language),
            });
        }
        let app = config.app_id;
        let user = match &config.credentials {
            Credentials::Token(token) => token_claims(token, app)?.user,
            Credentials::DevUser(user) => *user,
        };

        let path = config
            .journal_path
            .clone()
            .unwrap_or_else(|| ClientConfig::default_journal_path(app, user));
        let journal_error = |source| ClientError::Journal {
            path: path.clone(),
            source,
        };
        let journal = Journal::open(&path, app, user).map_err(journal_error)?;
        let entries = journal.entries().map_err(journal_error)?;
        let journaled = Arc::new(AtomicUsize::new(journal.len().map_err(journal_error)?));
        let mut state = State::new(app, user, config.language.clone());
        if !entries.is_empty() {
            tracing::info!(
                count = entries.len(),
                path = %path.display(),
                "journal holds stores of an earlier run; they are sent first"
            );
        }
        let (scores, stores): (Vec<_>, Vec<_>) = entries
            .into_iter()
            .partition(|e| e.kind == EntryKind::Score);
        state
            .in_flight
            .extend(stores.into_iter().map(InFlight::from_journal));
        restore_cached(&journal, &mut state);

        let mut inbox = Inbox {
            dev_user: matches!(config.credentials, Credentials::DevUser(_)),
            ..Inbox::default()
        };
        inbox.fetches.push_back((user, Instant::now()));
        let scores_unsent = scores.len();
        inbox
            .scores
            .extend(scores.into_iter().map(|e| leaderboard::ScoreJob {
                seq: e.seq,
                key: e.idempotency_key,
                body: e.body,
                call: None,
            }));
        let shared = Arc::new(Shared {
            user,
            request_timeout: config.request_timeout,
            state: Mutex::new(state),
            events: Mutex::new(Default::default()),
            journal: Mutex::new(journal),
            inbox: Mutex::new(inbox),
            wake: Condvar::new(),
            shutdown: Default::default(),
            journaled: journaled.clone(),
            // The start-up request.
            fetches_queued: AtomicUsize::new(1),
            globals_queued: AtomicUsize::new(0),
            globals: Mutex::new(Default::default()),
            boards_queued: AtomicUsize::new(0),
            scores_unsent: AtomicUsize::new(scores_unsent),
            boards: Mutex::new(Default::default()),
        });
        let worker = Worker::new(
            shared.clone(),
            transport::Transport::new(base, app),
            config.credentials,
        );
        let handle = std::thread::Builder::new()
            .name(format!("laurel-client-{app}"))
            .spawn(move || worker.run())
            .map_err(ClientError::Spawn)?;
        Ok(Client {
            shared,
            app,
            user,
            journaled,
            calls: AtomicU64::new(0),
            worker: Some(handle),
        })
    }

    pub fn app_id(&self) -> AppId {
        self.app
    }

    /// The current user; `None` once the server has rejected the credentials.
    pub fn user_steam_id(&self) -> Option<SteamId> {
        self.is_logged_on().then_some(self.user)
    }

    /// `true` from init on, `false` once the server rejected the credentials
    /// (401). Being offline is not being logged off.
    pub fn is_logged_on(&self) -> bool {
        lock(&self.shared.state).logged_on
    }

    /// Asks for a user's progress (`None`: the current user). `true` if
    /// queued; the answer comes as [`Event::UserProgressUpdate`].
    pub fn request_user_progress(&self, user: Option<SteamId>) -> bool {
        if !self.is_logged_on() {
            return false;
        }
        let user = user.unwrap_or(self.user);
        let queued = &self.shared.fetches_queued;
        if queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_QUEUED_REQUESTS).then_some(n + 1)
            })
            .is_err()
        {
            tracing::warn!("request_user_progress: {MAX_QUEUED_REQUESTS} requests already queued");
            return false;
        }
        let mut inbox = lock(&self.shared.inbox);
        inbox.fetches.push_back((user, Instant::now()));
        self.shared.notify();
        true
    }

    fn queue_global(&self, request: global::GlobalRequest) -> bool {
        if !self.is_logged_on() {
            return false;
        }
        if self
            .shared
            .globals_queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_QUEUED_REQUESTS).then_some(n + 1)
            })
            .is_err()
        {
            tracing::warn!("global figures: {MAX_QUEUED_REQUESTS} requests already queued");
            return false;
        }
        lock(&self.shared.inbox)
            .globals
            .push_back((request, Instant::now()));
        self.shared.notify();
        true
    }

    /// Asks for every achievement's global unlock percentage (Steam:
    /// `RequestGlobalAchievementPercentages`). `true` if queued; the answer
    /// is an [`Event::GlobalAchievementPercentagesReady`], after which
    /// [`Client::global_achievement_percent`] reads the figures.
    pub fn request_global_achievement_percentages(&self) -> bool {
        self.queue_global(global::GlobalRequest::Percentages)
    }

    /// Asks for the global totals of aggregated stats (`names`; empty means
    /// all of them) with `days` days of daily history, today included
    /// (Steam: `RequestGlobalStats(nHistoryDays)`, 0..=60). `true` if queued;
    /// the answer is an [`Event::GlobalStatsReceived`]. `false` for more than
    /// [`laurel_wire::MAX_GLOBAL_STAT_HISTORY_DAYS`] days or an empty name.
    pub fn request_global_stats(&self, names: &[&str], days: u32) -> bool {
        if days > laurel_wire::MAX_GLOBAL_STAT_HISTORY_DAYS {
            tracing::warn!(
                days,
                "request_global_stats: at most {} days of history",
                laurel_wire::MAX_GLOBAL_STAT_HISTORY_DAYS
            );
            return false;
        }
        if names.iter().any(|n| n.is_empty())
            || names.len() > laurel_core::limits::MAX_STATS_PER_APP
        {
            tracing::warn!("request_global_stats: invalid stat names");
            return false;
        }
        self.queue_global(global::GlobalRequest::Stats {
            names: names.iter().map(|n| (*n).to_owned()).collect(),
            days,
        })
    }

    /// Asks how many users other than this one play the app now (Steam:
    /// `GetNumberOfCurrentPlayers`), from the server's current-players
    /// figure. `true` if queued; the answer is an [`Event::ActivePlayerCount`].
    pub fn request_active_player_count(&self) -> bool {
        self.queue_global(global::GlobalRequest::PlayerCount)
    }

    /// Percent (0–100) of the app's users who unlocked an achievement, as
    /// last fetched by [`Client::request_global_achievement_percentages`].
    pub fn global_achievement_percent(&self, name: &str) -> Option<f32> {
        lock(&self.shared.globals).percent(name)
    }

    /// The global total of an aggregated `int` stat, as last fetched by
    /// [`Client::request_global_stats`]; `None` for another type or a stat not fetched.
    pub fn global_stat_i64(&self, name: &str) -> Option<i64> {
        lock(&self.shared.globals).total_i64(name)
    }

    /// The global total of an aggregated `float` or `avgrate` stat.
    pub fn global_stat_f64(&self, name: &str) -> Option<f64> {
        lock(&self.shared.globals).total_f64(name)
    }

    /// Daily changes of an `int` stat's total, index 0 being today (UTC),
    /// as Steam's `GetGlobalStatHistory`; as many days as were asked for.
    pub fn global_stat_history_i64(&self, name: &str) -> Option<Vec<i64>> {
        lock(&self.shared.globals).history_i64(name)
    }

    /// Daily changes of a `float` or `avgrate` stat's total, today first.
    pub fn global_stat_history_f64(&self, name: &str) -> Option<Vec<f64>> {
        lock(&self.shared.globals).history_f64(name)
    }

    // ----- reads -----

    /// API names of the app's achievements, in schema order (empty until the
    /// schema has arrived with the first progress).
    pub fn achievement_names(&self) -> Vec<String> {
        lock(&self.shared.state).achievement_names()
    }

    /// An achievement of `user` (`None`: the current user).
    pub fn achievement(&self, name: &str, user: Option<SteamId>) -> Option<AchievementInfo> {
        lock(&self.shared.state).achievement(name, user)
    }

    /// The icons the schema gives for an achievement.
    pub fn achievement_icons(&self, name: &str) -> Option<AchievementIcons> {
        lock(&self.shared.state).achievement_icons(name)
    }

    /// An `int` stat; `None` for another type, an unknown name, or before the progress arrived.
    pub fn stat_i32(&self, name: &str, user: Option<SteamId>) -> Option<i32> {
        lock(&self.shared.state).stat_i32(name, user)
    }

    /// A `float` stat; `None` for another type, an unknown name, or before the progress arrived.
    pub fn stat_f32(&self, name: &str, user: Option<SteamId>) -> Option<f32> {
        lock(&self.shared.state).stat_f32(name, user)
    }

    /// An `avgrate` stat's rate; `None` for another type, an unknown name, or
    /// before the progress arrived.
    pub fn stat_avg_rate(&self, name: &str, user: Option<SteamId>) -> Option<f32> {
        lock(&self.shared.state).stat_avg_rate(name, user)
    }

    /// Whether the app's schema is known: kept from an earlier run, or
    /// arrived from the server. Before it, writes are taken unchecked.
    pub fn has_schema(&self) -> bool {
        lock(&self.shared.state).schema_version().is_some()
    }

    /// What the game shows of a user (`None`: the current user). The current
    /// user's answers at once: the name kept from an earlier run or fetched
    /// with the progress, else the default (the Steam id in decimal).
    /// Another user's is `None` until [`Client::request_user_info`] brought
    /// it (Steam's `GetFriendPersonaName` after `RequestUserInformation`),
    /// except for users listed in a leaderboard download: for them the
    /// default answers at once, and the first read asks for their profile
    /// ([`Event::UserInfoUpdate`] announces it).
    pub fn user_info(&self, user: Option<SteamId>) -> Option<UserInfo> {
        let mut state = lock(&self.shared.state);
        let info = state.user_info(user);
        let ask = user.filter(|u| state.ask_listed(*u));
        drop(state);
        if let Some(other) = ask {
            self.request_user_info(other);
        }
        info
    }

    /// Asks for another user's profile. `true` if queued (or already
    /// known); its arrival is announced by [`Event::UserInfoUpdate`]. As on
    /// Steam, a profile that cannot be had (the app does not let users read
    /// each other, no connection) is not announced.
    pub fn request_user_info(&self, user: SteamId) -> bool {
        if user == self.user || !lock(&self.shared.state).want_profile(user) {
            return true;
        }
        let queued = self.queue_global(global::GlobalRequest::Profile(user));
        if !queued {
            lock(&self.shared.state).profile_asked(user);
        }
        queued
    }

    /// The type of a stat, once the schema has arrived.
    pub fn stat_kind(&self, name: &str) -> Option<StatKind> {
        lock(&self.shared.state).stat_kind(name)
    }

    /// Stores journaled and not yet answered by the server (including those
    /// of an earlier run).
    pub fn unsent_stores(&self) -> usize {
        lock(&self.shared.state)
            .in_flight
            .iter()
            .filter(|f| f.seq.is_some())
            .count()
    }

    // ----- writes of the current user -----

    fn journal_full(&self) -> bool {
        let full = self.journaled.load(Ordering::Acquire) >= MAX_JOURNAL_ENTRIES;
        if full {
            tracing::warn!(
                "write refused: the journal holds {MAX_JOURNAL_ENTRIES} unsent stores, its limit"
            );
        }
        full
    }

    /// A stat write, when `name` is of `kind` (or no schema is known yet).
    fn write_stat(&self, name: &str, kind: StatKind, entry: BatchEntry) -> bool {
        if self.journal_full() {
            return false;
        }
        let mut state = lock(&self.shared.state);
        state.may_write_as(name, kind) && state.write(entry, now())
    }

    /// Judges stat values (`(name, value)`, as `set_stat_*` would send them)
    /// as the server will, every constraint included, against what the game
    /// reads now; writes nothing. For games that want to know before they
    /// store: the writes themselves take values that break `min`, `max`,
    /// `max_change` or `increment_only`, as Steam's do, and leave them to
    /// the server. The errors carry the server's rule codes.
    pub fn check_stats(&self, stats: &[(&str, f64)]) -> Result<(), Vec<SaveDetail>> {
        lock(&self.shared.state).check_stats(stats, now())
    }

    /// Unlocks an achievement. `true` also if it is already unlocked (then nothing changes).
    pub fn set_achievement(&self, name: &str) -> bool {
        !self.journal_full() && lock(&self.shared.state).set_achievement(name, now())
    }

    /// Locks an achievement again (only where the app allows user clears).
    pub fn clear_achievement(&self, name: &str) -> bool {
        !self.journal_full()
            && lock(&self.shared.state).write(
                BatchEntry::ClearAchievement {
                    name: name.to_owned(),
                },
                now(),
            )
    }

    /// Shows progress of an achievement; it unlocks when `current >= max`.
    /// `false` if it is already unlocked (as on Steam) or `max` is 0.
    pub fn indicate_achievement_progress(&self, name: &str, current: u32, max: u32) -> bool {
        !self.journal_full()
            && lock(&self.shared.state).indicate_progress(name, current, max, now())
    }

    /// Sets an `int` stat (`false` for a stat of another type).
    pub fn set_stat_i32(&self, name: &str, value: i32) -> bool {
        self.write_stat(
            name,
            StatKind::Int,
            BatchEntry::SetStat {
                name: name.to_owned(),
                value: f64::from(value),
            },
        )
    }

    /// Sets a `float` stat (`false` for a stat of another type or a non-finite value).
    pub fn set_stat_f32(&self, name: &str, value: f32) -> bool {
        self.write_stat(
            name,
            StatKind::Float,
            BatchEntry::SetStat {
                name: name.to_owned(),
                value: f64::from(value),
            },
        )
    }

    /// Adds a session to an `avgrate` stat: `count` over `session_seconds` (> 0).
    pub fn update_avg_rate_stat(&self, name: &str, count: f32, session_seconds: f64) -> bool {
        self.write_stat(
            name,
            StatKind::AvgRate,
            BatchEntry::UpdateAvgRate {
                name: name.to_owned(),
                count: f64::from(count),
                session_seconds,
            },
        )
    }

    /// Sends every pending write as one store (journaled durably first), also
    /// before the first answer of the server and while it cannot be reached.
    /// `false` once the credentials were refused, or if the journal cannot
    /// take it (full or failing; the writes stay pending).
    pub fn store_stats(&self) -> bool {
        if !self.is_logged_on() {
            return false;
        }
        let mut state = lock(&self.shared.state);
        if !state.has_pending() {
            state.commit_nothing();
        } else {
            let Some((seq, key, body)) =
                self.journal_append(EntryKind::Store, &state.pending_body())
            else {
                return false;
            };
            state.commit_pending(seq, key, body);
        }
        drop(state);
        self.wake_worker();
        true
    }

    /// Resets the current user's stats (and achievements, if asked) on the
    /// server, journaled and in order with the stores; pending stat writes
    /// (and achievement writes, if those are reset too) are dropped. Answered with `UserProgressSave` +
    /// `UserProgressUpdate`.
    pub fn reset_all_stats(&self, achievements_too: bool) -> bool {
        if !self.is_logged_on() {
            return false;
        }
        let mut state = lock(&self.shared.state);
        let request = ResetRequest {
            achievements: achievements_too,
        };
        let Some((seq, key, body)) = self.journal_append(EntryKind::Reset, &request) else {
            return false;
        };
        state.commit_reset(ResetScope::own(achievements_too), seq, key, body, now());
        drop(state);
        self.wake_worker();
        true
    }

    fn journal_append(
        &self,
        kind: EntryKind,
        body: &impl serde::Serialize,
    ) -> Option<(i64, String, String)> {
        let text = serde_json::to_string(body)
            .map_err(|e| tracing::error!(error = %e, "store body cannot be encoded"))
            .ok()?;
        let key = new_idempotency_key()
            .map_err(|e| tracing::error!(error = %e, "no randomness for an idempotency key"))
            .ok()?;
        let seq = lock(&self.shared.journal)
            .append(kind, &key, &text, now())
            .map_err(|e| tracing::warn!(error = %e, "store refused: the journal cannot take it"))
            .ok()?;
        self.journaled.fetch_add(1, Ordering::AcqRel);
        Some((seq, key, text))
    }

    /// Replaces the user token, e.g. with one the game's backend minted
    /// when the old one expired or was revoked: the worker uses it from its
    /// next call on, and stores paused by a refused token are sent again.
    /// The token must be for this client's app and user; a dev-mode client
    /// mints its own and takes none.
    pub fn set_token(&self, token: &str) -> Result<(), ClientError> {
        let claims = token_claims(token, self.app)?;
        if claims.user != self.user {
            return Err(ClientError::InvalidToken {
                reason: format!(
                    "the token is for user {}, not this client's user {}",
                    claims.user, self.user
                ),
            });
        }
        let mut inbox = lock(&self.shared.inbox);
        if inbox.dev_user {
            return Err(ClientError::InvalidToken {
                reason: "a dev-mode client (Credentials::DevUser) mints its own tokens".into(),
            });
        }
        inbox.new_token = Some(token.to_owned());
        drop(inbox);
        self.shared.notify();
        Ok(())
    }

    fn wake_worker(&self) {
        lock(&self.shared.inbox).journal_changed = true;
        self.shared.notify();
    }

    // ----- leaderboards -----

    fn next_call(&self) -> LeaderboardCall {
        LeaderboardCall(self.calls.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn queue_board(&self, function: &str, request: leaderboard::BoardRequest) -> bool {
        if !self.is_logged_on() {
            return false;
        }
        if self
            .shared
            .boards_queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_QUEUED_REQUESTS).then_some(n + 1)
            })
            .is_err()
        {
            tracing::warn!("{function}: {MAX_QUEUED_REQUESTS} leaderboard requests already queued");
            return false;
        }
        lock(&self.shared.inbox)
            .boards
            .push_back((request, Instant::now()));
        self.shared.notify();
        true
    }

    /// Finds a board by name, compared case-insensitively (Steam:
    /// `FindLeaderboard`); never creates one. The answer is an
    /// [`Event::LeaderboardFindResult`] with the returned call; `None` when
    /// not queued (an invalid name, logged off, too many requests).
    pub fn find_leaderboard(&self, name: &str) -> Option<LeaderboardCall> {
        self.find(name, None)
    }

    /// Finds a board, creating it with these settings when none has the
    /// name (Steam: `FindOrCreateLeaderboard`); an existing board keeps its
    /// own settings. The server creates only where the app allows clients
    /// to (`allow_client_leaderboard_create`), else the answer is an error
    /// with `AccessDenied`.
    pub fn find_or_create_leaderboard(
        &self,
        name: &str,
        sort: SortMethod,
        display: DisplayType,
    ) -> Option<LeaderboardCall> {
        self.find(name, Some((sort, display)))
    }

    fn find(
        &self,
        name: &str,
        create: Option<(SortMethod, DisplayType)>,
    ) -> Option<LeaderboardCall> {
        if let Err(e) = laurel_core::leaderboard::BoardName::parse(name) {
            tracing::warn!(error = %e, "find_leaderboard: not a board name");
            return None;
        }
        let call = self.next_call();
        let request = leaderboard::BoardRequest::Find {
            call,
            name: name.to_owned(),
            create,
        };
        self.queue_board("find_leaderboard", request)
            .then_some(call)
    }

    /// What the last find, upload or download said of a board (Steam:
    /// `GetLeaderboardName`, `GetLeaderboardEntryCount`,
    /// `GetLeaderboardSortMethod`, `GetLeaderboardDisplayType`).
    pub fn leaderboard_info(&self, board: LeaderboardHandle) -> Option<LeaderboardInfo> {
        lock(&self.shared.boards).get(board).cloned()
    }

    /// Uploads the current user's score (Steam: `UploadLeaderboardScore`),
    /// with up to [`laurel_core::limits::MAX_LEADERBOARD_DETAILS`] details.
    /// The upload is journaled first (so it is not lost offline, nor by a
    /// crash) and sent with its idempotency key until the server answers;
    /// the answer is an [`Event::LeaderboardScoreUploaded`] with the
    /// returned call. `None`: too many details, logged off, or the journal
    /// cannot take it.
    pub fn upload_leaderboard_score(
        &self,
        board: LeaderboardHandle,
        method: UploadMethod,
        score: i32,
        details: &[i32],
    ) -> Option<LeaderboardCall> {
        self.upload(
            leaderboard::BoardRef::Handle(board.get()),
            method,
            score,
            details,
        )
    }

    /// [`Client::upload_leaderboard_score`] to the board with this name
    /// (Laurel's, for Solar2D's `requestSetHighScore`): the name is looked up
    /// when the upload is sent, so it too can be made offline. No board of
    /// that name: an error event with `FileNotFound`.
    pub fn upload_leaderboard_score_by_name(
        &self,
        board: &str,
        method: UploadMethod,
        score: i32,
        details: &[i32],
    ) -> Option<LeaderboardCall> {
        if let Err(e) = laurel_core::leaderboard::BoardName::parse(board) {
            tracing::warn!(error = %e, "upload_leaderboard_score: not a board name");
            return None;
        }
        self.upload(
            leaderboard::BoardRef::Name(board.to_owned()),
            method,
            score,
            details,
        )
    }

    fn upload(
        &self,
        board: leaderboard::BoardRef,
        method: UploadMethod,
        score: i32,
        details: &[i32],
    ) -> Option<LeaderboardCall> {
        if !self.is_logged_on() {
            return None;
        }
        if details.len() > laurel_core::limits::MAX_LEADERBOARD_DETAILS {
            tracing::warn!(
                details = details.len(),
                "upload_leaderboard_score: at most {} details",
                laurel_core::limits::MAX_LEADERBOARD_DETAILS
            );
            return None;
        }
        if self.journal_full() {
            return None;
        }
        let body = leaderboard::JournaledScore {
            board,
            upload: laurel_wire::leaderboards::ScoreUploadRequest {
                score,
                details: details.to_vec(),
                method: Some(method.as_str().to_owned()),
            },
        };
        let call = self.next_call();
        // The inbox lock is held over the append, so uploads reach the
        // worker in journal order.
        let mut inbox = lock(&self.shared.inbox);
        let (seq, key, body) = self.journal_append(EntryKind::Score, &body)?;
        self.shared.scores_unsent.fetch_add(1, Ordering::AcqRel);
        inbox.scores.push_back(leaderboard::ScoreJob {
            seq,
            key,
            body,
            call: Some(call),
        });
        drop(inbox);
        self.shared.notify();
        Some(call)
    }

    /// Leaderboard uploads journaled and not yet answered by the server
    /// (including those of an earlier run).
    pub fn unsent_leaderboard_scores(&self) -> usize {
        self.shared.scores_unsent.load(Ordering::Acquire)
    }

    /// Downloads entries of a board (Steam: `DownloadLeaderboardEntries`);
    /// the answer is an [`Event::LeaderboardScoresDownloaded`] with the
    /// returned call. Offline, that event is an error (`NoConnection`) at
    /// the request timeout: downloads are not cached.
    pub fn download_leaderboard_entries(
        &self,
        board: LeaderboardHandle,
        request: EntriesRequest,
    ) -> Option<LeaderboardCall> {
        self.download(
            leaderboard::BoardRef::Handle(board.get()),
            leaderboard::Scope::Request(request),
        )
    }

    /// [`Client::download_leaderboard_entries`] of the board with this name
    /// (Laurel's, for Solar2D's `requestLeaderboardEntries`). No board of
    /// that name: an error event with `FileNotFound`.
    pub fn download_leaderboard_entries_by_name(
        &self,
        board: &str,
        request: EntriesRequest,
    ) -> Option<LeaderboardCall> {
        if let Err(e) = laurel_core::leaderboard::BoardName::parse(board) {
            tracing::warn!(error = %e, "download_leaderboard_entries: not a board name");
            return None;
        }
        self.download(
            leaderboard::BoardRef::Name(board.to_owned()),
            leaderboard::Scope::Request(request),
        )
    }

    /// The entries of these users, at most
    /// [`laurel_core::limits::MAX_LEADERBOARD_USERS`] (Steam:
    /// `DownloadLeaderboardEntriesForUsers`); users without an entry are
    /// left out. `None` for no users or too many.
    pub fn download_leaderboard_entries_for_users(
        &self,
        board: LeaderboardHandle,
        users: &[SteamId],
    ) -> Option<LeaderboardCall> {
        if users.is_empty() || users.len() > laurel_core::limits::MAX_LEADERBOARD_USERS {
            tracing::warn!(
                users = users.len(),
                "download_leaderboard_entries_for_users: 1 to {} users",
                laurel_core::limits::MAX_LEADERBOARD_USERS
            );
            return None;
        }
        self.download(
            leaderboard::BoardRef::Handle(board.get()),
            leaderboard::Scope::Users(users.to_vec()),
        )
    }

    fn download(
        &self,
        board: leaderboard::BoardRef,
        scope: leaderboard::Scope,
    ) -> Option<LeaderboardCall> {
        let call = self.next_call();
        let request = leaderboard::BoardRequest::Download { call, board, scope };
        self.queue_board("download_leaderboard_entries", request)
            .then_some(call)
    }

    // ----- events -----

    /// Calls `f` with every queued event, in order, on this thread. `f` may
    /// call the client (events it causes come in a later call).
    pub fn run_callbacks(&self, mut f: impl FnMut(Event)) {
        let events = lock(&self.shared.events).take();
        for e in events {
            f(e);
        }
    }

    /// Every queued event, in order.
    pub fn take_events(&self) -> Vec<Event> {
        lock(&self.shared.events).take().into()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let deadline = Instant::now() + SHUTDOWN_WAIT;
        let mut inbox = lock(&self.shared.inbox);
        // Set under the inbox lock, so the worker cannot miss the wake-up.
        self.shared.shutdown.store(true, Ordering::Release);
        self.shared.notify();
        while !inbox.finished {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            inbox = self
                .shared
                .wake
                .wait_timeout(inbox, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        let finished = inbox.finished;
        drop(inbox);
        if let Some(handle) = self.worker.take() {
            if finished {
                let _ = handle.join();
            } else {
                tracing::warn!("laurel-client worker is still in a network call; detached");
            }
        }
    }
}

/// Installs the schema and the user's progress that an earlier run kept in
/// the journal's file, so that reads answer from the first frame, also
/// offline; the journaled stores are applied over them as the server will.
/// Anything unreadable is skipped (the server's answers replace it).
fn restore_cached(journal: &Journal, state: &mut State) {
    let read = |kind| match journal.cached(kind) {
        Ok(text) => text,
        Err(e) => {
            tracing::warn!(?kind, error = %e, "the kept server answer cannot be read");
            None
        }
    };
    let Some(text) = read(journal::Cached::Schema) else {
        return;
    };
    let schema = serde_json::from_str::<laurel_wire::SchemaResponse>(&text)
        .ok()
        .and_then(|r| Some((r.version, laurel_core::Schema::from_doc(&r.schema).ok()?)));
    let Some((version, schema)) = schema else {
        tracing::warn!("the kept schema is unreadable; waiting for the server's");
        return;
    };
    state.install_schema(version, schema, now());
    if let Some(body) = read(journal::Cached::Progress)
        .and_then(|text| serde_json::from_str::<laurel_wire::ProgressBody>(&text).ok())
    {
        let user = state.user();
        state.install_progress(user, &body, now());
    }
    if let Some(body) = read(journal::Cached::Profile)
        .and_then(|text| serde_json::from_str::<laurel_wire::ProfileBody>(&text).ok())
    {
        state.install_profile(&body);
    }
}

/// A fresh idempotency key: 128 random bits in hex.
fn new_idempotency_key() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
mod tests;
