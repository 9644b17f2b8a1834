//! The local cache and the bookkeeping of writes, with no I/O: the worker
//! feeds it the server's answers and gets back the events to queue, so the
//! whole model is testable without a server.
//!
//! The current user's view is layered:
//! `server` (last snapshot the server sent) + `in_flight` (journaled stores
//! not yet answered, in order) = `base`; `base` + `pending` (writes not yet
//! stored) = `local`, which is what reads return. When a new snapshot
//! arrives, or an in-flight store is answered, the layers are re-applied
//! (rebased) with [`laurel_core::apply_batch`], exactly as the server applies
//! them. Stat writes carry absolute values and unlocks are idempotent, so
//! re-applying a store the server already has changes nothing (an average-rate
//! update is the exception: its local value is an estimate until the server
//! answers).

mod wire;

use std::collections::{HashMap, VecDeque};

use laurel_core::{
    AppId, BatchEntry, Constraints, EResult, ResetScope, Schema, StatKind, StatValue, SteamId,
    StoreBatch, UnixTime, UserProgress, WriteAuthority, apply_batch_with, reset,
};
use laurel_wire::{ProgressBody, StoreRequestBody, StoreResponse};

use crate::event::{Event, SaveDetail};
use crate::journal::EntryKind;
use wire::{body_of, bound_progress, progress_from_body};

/// Most other users whose progress is kept. Fetching one more drops the one
/// fetched longest ago, with a [`Event::UserProgressUnload`].
pub const MAX_CACHED_USERS: usize = 256;

/// Most users remembered from leaderboard downloads without their profile.
pub const MAX_LISTED_USERS: usize = 10_000;

/// What a game reads about one achievement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AchievementInfo {
    pub unlocked: bool,
    /// UTC Unix seconds of the first unlock; `Some` exactly when unlocked.
    pub unlock_time: Option<i64>,
    /// In the configured language, falling back to English.
    pub display_name: String,
    pub description: String,
    pub hidden: bool,
    /// (current, max): the last indicated progress, or for an achievement
    /// bound to a stat, the stat's value (clamped to `0..=max`) and max.
    pub progress: Option<(u32, u32)>,
}

/// What a game shows of a user (Steam's persona; Solar2D's `UserInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// The display name set for the user in the app, or the default: the
    /// Steam id in decimal.
    pub name: String,
    /// Whether a name was set (`false`: `name` is the default).
    pub named: bool,
}

impl UserInfo {
    fn default_for(user: SteamId) -> UserInfo {
        UserInfo {
            name: user.to_string(),
            named: false,
        }
    }
}

/// Icon URLs or paths of an achievement, as the schema gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AchievementIcons {
    pub icon: Option<String>,
    pub icon_gray: Option<String>,
}

#[derive(Debug)]
pub(crate) struct LoadedSchema {
    pub version: u64,
    pub schema: Schema,
}

/// The local model of a journaled request.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Store(StoreBatch),
    Reset(ResetScope),
    /// `store_stats` with nothing pending: answered locally, in order.
    Nothing,
    /// A journaled body that no longer parses: sent as stored, not modeled.
    Opaque,
}

/// A store or reset between `store_stats` and the server's answer.
#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    /// The journal row; `None` for [`Op::Nothing`].
    pub seq: Option<i64>,
    pub kind: EntryKind,
    pub key: String,
    pub body: String,
    pub op: Op,
    /// Whether a `UserProgressSave` with `NoConnection` was already sent for it.
    pub reported_offline: bool,
}

impl InFlight {
    /// Models a journal entry read back at start-up.
    pub(crate) fn from_journal(entry: crate::journal::JournalEntry) -> InFlight {
        let op = match entry.kind {
            EntryKind::Store => serde_json::from_str::<StoreRequestBody>(&entry.body)
                .ok()
                .and_then(|b| b.to_batch().ok())
                .map_or(Op::Opaque, Op::Store),
            EntryKind::Reset => serde_json::from_str::<laurel_wire::ResetRequest>(&entry.body)
                .map_or(Op::Opaque, |r| Op::Reset(ResetScope::own(r.achievements))),
            // Uploads are not stores; `Client::init` queues them apart.
            EntryKind::Score => Op::Opaque,
        };
        InFlight {
            seq: Some(entry.seq),
            kind: entry.kind,
            key: entry.idempotency_key,
            body: entry.body,
            op,
            // Sent by an earlier run, which reported it; only its outcome is news.
            reported_offline: true,
        }
    }
}

/// What the server answered to the head of the in-flight queue.
#[derive(Debug)]
pub(crate) enum HeadAnswer {
    Stored(StoreResponse),
    Reset(ProgressBody),
    /// A 2xx whose body could not be read: applied, state unknown.
    AcceptedUnread,
    /// An [`Op::Nothing`] reached the head: nothing to send, success.
    Empty,
    /// Refused with this result (400/8, 403/15, 409/29, …) and the server's
    /// per-entry reasons: nothing applied.
    Refused(EResult, Vec<SaveDetail>),
}

#[derive(Debug)]
struct OtherUser {
    progress: UserProgress,
    fetched: u64,
}

pub(crate) struct State {
    app: AppId,
    user: SteamId,
    language: String,
    schema: Option<LoadedSchema>,
    server: Option<UserProgress>,
    base: UserProgress,
    local: UserProgress,
    pending: StoreBatch,
    pub(crate) in_flight: VecDeque<InFlight>,
    others: HashMap<SteamId, OtherUser>,
    /// Profiles as the server last sent them: the current user's, and
    /// those of other users the game asked for (at most `MAX_CACHED_USERS`).
    profiles: HashMap<SteamId, UserInfo>,
    /// Other users whose profile is asked for and not answered yet (a game
    /// may call `getUserInfo` every frame until it arrives).
    profiles_wanted: std::collections::HashSet<SteamId>,
    /// Users listed in leaderboard downloads whose profile has not arrived:
    /// `user_info` answers the default for them at once, and asks for the
    /// profile once (`true`: asked). At most [`MAX_LISTED_USERS`].
    listed: HashMap<SteamId, bool>,
    fetches: u64,
    /// `false` once the server rejected the credentials (401).
    pub(crate) logged_on: bool,
}

fn is_stat(e: &BatchEntry) -> bool {
    matches!(
        e,
        BatchEntry::SetStat { .. } | BatchEntry::UpdateAvgRate { .. }
    )
}

/// `pending` with `entry` added: one entry per name, the last write wins,
/// except that average-rate sessions add up.
fn with_entry(pending: &StoreBatch, entry: BatchEntry) -> StoreBatch {
    let mut next = pending.clone();
    let slot = next
        .entries
        .iter_mut()
        .find(|e| is_stat(e) == is_stat(&entry) && e.name() == entry.name());
    match (slot, entry) {
        (
            Some(BatchEntry::UpdateAvgRate {
                count,
                session_seconds,
                ..
            }),
            BatchEntry::UpdateAvgRate {
                count: c,
                session_seconds: s,
                ..
            },
        ) => {
            *count += c;
            *session_seconds += s;
        }
        (Some(slot), entry) => *slot = entry,
        (None, entry) => next.entries.push(entry),
    }
    next
}

impl State {
    pub(crate) fn new(app: AppId, user: SteamId, language: String) -> State {
        State {
            app,
            user,
            language,
            schema: None,
            server: None,
            base: UserProgress::default(),
            local: UserProgress::default(),
            pending: StoreBatch::default(),
            in_flight: VecDeque::new(),
            others: HashMap::new(),
            profiles: HashMap::new(),
            profiles_wanted: Default::default(),
            listed: HashMap::new(),
            fetches: 0,
            logged_on: true,
        }
    }

    pub(crate) fn app(&self) -> AppId {
        self.app
    }

    pub(crate) fn user(&self) -> SteamId {
        self.user
    }

    pub(crate) fn schema_version(&self) -> Option<u64> {
        self.schema.as_ref().map(|s| s.version)
    }

    pub(crate) fn install_schema(&mut self, version: u64, schema: Schema, now: UnixTime) {
        self.schema = Some(LoadedSchema { version, schema });
        // Names the new schema lacks are dropped from every layer.
        if let Some(s) = &self.schema {
            if let Some(server) = &mut self.server {
                server.retain_known(&s.schema);
            }
            for o in self.others.values_mut() {
                o.progress.retain_known(&s.schema);
            }
        }
        self.rebase(now);
    }

    fn is_current(&self, user: Option<SteamId>) -> bool {
        user.is_none_or(|u| u == self.user)
    }

    /// The progress reads see for `user`, if it has arrived.
    fn view(&self, user: Option<SteamId>) -> Option<&UserProgress> {
        if self.is_current(user) {
            self.server.as_ref().map(|_| &self.local)
        } else {
            user.and_then(|u| self.others.get(&u)).map(|o| &o.progress)
        }
    }

    pub(crate) fn current_loaded(&self) -> bool {
        self.schema.is_some() && self.server.is_some()
    }

    // ----- reads -----

    pub(crate) fn achievement_names(&self) -> Vec<String> {
        self.schema.as_ref().map_or_else(Vec::new, |s| {
            s.schema
                .achievements()
                .iter()
                .map(|a| a.name.to_string())
                .collect()
        })
    }

    pub(crate) fn achievement(&self, name: &str, user: Option<SteamId>) -> Option<AchievementInfo> {
        let schema = &self.schema.as_ref()?.schema;
        let def = schema.achievement(name)?;
        let progress = self.view(user)?;
        let state = progress.achievements.get(name);
        Some(AchievementInfo {
            unlocked: state.is_some_and(|s| s.unlocked),
            unlock_time: state.and_then(|s| s.unlock_time),
            display_name: def.display_name.get(&self.language).to_owned(),
            description: def.description.get(&self.language).to_owned(),
            hidden: def.hidden,
            progress: state
                .and_then(|s| s.progress)
                .or_else(|| bound_progress(schema, def, progress)),
        })
    }

    pub(crate) fn achievement_icons(&self, name: &str) -> Option<AchievementIcons> {
        let def = self.schema.as_ref()?.schema.achievement(name)?;
        Some(AchievementIcons {
            icon: def.icon.clone(),
            icon_gray: def.icon_gray.clone(),
        })
    }

    fn stat(&self, name: &str, user: Option<SteamId>, kind: StatKind) -> Option<(StatValue, f64)> {
        let def = self.schema.as_ref()?.schema.stat(name)?;
        if def.kind != kind {
            return None;
        }
        let v = self.view(user)?.stat(def);
        Some((v, v.read(def)))
    }

    pub(crate) fn stat_i32(&self, name: &str, user: Option<SteamId>) -> Option<i32> {
        match self.stat(name, user, StatKind::Int)? {
            (StatValue::Int(v), _) => Some(v),
            _ => None,
        }
    }

    pub(crate) fn stat_f32(&self, name: &str, user: Option<SteamId>) -> Option<f32> {
        match self.stat(name, user, StatKind::Float)? {
            (StatValue::Float(v), _) => Some(v),
            _ => None,
        }
    }

    pub(crate) fn stat_avg_rate(&self, name: &str, user: Option<SteamId>) -> Option<f32> {
        self.stat(name, user, StatKind::AvgRate)
            .map(|(_, rate)| rate as f32)
    }

    /// The current user's profile at once (the default name until the
    /// server's arrived); another user's once it arrived after
    /// [`State::want_profile`].
    pub(crate) fn user_info(&self, user: Option<SteamId>) -> Option<UserInfo> {
        let user = user.unwrap_or(self.user);
        match self.profiles.get(&user) {
            Some(info) => Some(info.clone()),
            None if user == self.user || self.listed.contains_key(&user) => {
                Some(UserInfo::default_for(user))
            }
            None => None,
        }
    }

    /// Notes the users a leaderboard download listed (as Steam, which
    /// makes their personas known with the entries).
    pub(crate) fn note_listed(&mut self, users: impl IntoIterator<Item = SteamId>) {
        for user in users {
            if user == self.user || self.profiles.contains_key(&user) {
                continue;
            }
            if self.listed.len() >= MAX_LISTED_USERS && !self.listed.contains_key(&user) {
                // Forget those already asked for; they were answered or refused.
                self.listed.retain(|_, asked| !*asked);
                if self.listed.len() >= MAX_LISTED_USERS {
                    continue;
                }
            }
            self.listed.entry(user).or_insert(false);
        }
    }

    /// `true` once for a listed user whose profile has not been asked for.
    pub(crate) fn ask_listed(&mut self, user: SteamId) -> bool {
        match self.listed.get_mut(&user) {
            Some(asked) if !*asked && !self.profiles.contains_key(&user) => {
                *asked = true;
                true
            }
            _ => false,
        }
    }

    /// Notes that `user`'s profile is asked for; `false` if it already was.
    pub(crate) fn want_profile(&mut self, user: SteamId) -> bool {
        self.profiles_wanted.insert(user)
    }

    /// The request for `user`'s profile ended (answered or not).
    pub(crate) fn profile_asked(&mut self, user: SteamId) {
        self.profiles_wanted.remove(&user);
    }

    /// A profile from the server. An event for another user (the current
    /// user's is read at once, with no event). At most [`MAX_CACHED_USERS`]
    /// other users' profiles are kept; one more drops one of them.
    pub(crate) fn install_profile(&mut self, body: &laurel_wire::ProfileBody) -> Vec<Event> {
        let Ok(user) = body.steam_id.parse::<SteamId>() else {
            return Vec::new();
        };
        if self.profiles.len() > MAX_CACHED_USERS && !self.profiles.contains_key(&user) {
            let me = self.user;
            if let Some(drop) = self.profiles.keys().copied().find(|u| *u != me) {
                self.profiles.remove(&drop);
            }
        }
        let info = UserInfo {
            name: body.display_name.clone(),
            named: body.named,
        };
        self.profiles.insert(user, info);
        self.listed.remove(&user);
        if user == self.user {
            Vec::new()
        } else {
            vec![Event::UserInfoUpdate {
                user_steam_id: user,
            }]
        }
    }

    pub(crate) fn stat_kind(&self, name: &str) -> Option<StatKind> {
        Some(self.schema.as_ref()?.schema.stat(name)?.kind)
    }

    /// Whether a write of `kind` may go to stat `name`: its type in the
    /// schema, or any type while no schema is known (checked when it comes).
    pub(crate) fn may_write_as(&self, name: &str, kind: StatKind) -> bool {
        self.schema.is_none() || self.stat_kind(name) == Some(kind)
    }

    // ----- writes of the current user -----

    /// Takes a write of the current user, as Steam's client does: the
    /// schema's value constraints (`min`, `max`, `max_change`,
    /// `increment_only`) are left to the server, which refuses the whole
    /// store ([`Constraints::Deferred`]); an unknown name, a wrong type, a
    /// value that is not finite, a server-only stat or a clear the app does
    /// not allow is refused here at once. The entry is checked alone against
    /// the local view and with everything pending (last write wins) against
    /// the base; the local view changes only if both pass.
    ///
    /// With no schema known yet (a first launch with no network), a
    /// well-formed write is taken unchecked; the schema's checks run when it
    /// arrives (a pending write that fails them is dropped), and the server
    /// judges what was stored before that.
    pub(crate) fn write(&mut self, entry: BatchEntry, now: UnixTime) -> bool {
        let Some(loaded) = &self.schema else {
            if let Err(why) = well_formed(&entry) {
                tracing::debug!(name = entry.name(), why, "write refused");
                return false;
            }
            self.pending = with_entry(&self.pending, entry);
            return true;
        };
        let schema = &loaded.schema;
        let alone = StoreBatch {
            entries: vec![entry.clone()],
        };
        if let Err(refusal) = apply_deferred(schema, &self.local, &alone, now) {
            tracing::debug!(%refusal, "write refused by the schema");
            return false;
        }
        let candidate = with_entry(&self.pending, entry);
        match apply_deferred(schema, &self.base, &candidate, now) {
            Ok(outcome) => {
                self.pending = candidate;
                if self.server.is_some() {
                    self.local = outcome.progress;
                }
                true
            }
            Err(refusal) => {
                tracing::debug!(%refusal, "write refused by the schema");
                false
            }
        }
    }

    /// Judges stat values as the server will (every constraint enforced)
    /// against what the game sees now, without writing anything.
    pub(crate) fn check_stats(
        &self,
        stats: &[(&str, f64)],
        now: UnixTime,
    ) -> Result<(), Vec<SaveDetail>> {
        let Some(loaded) = &self.schema else {
            return Err(vec![SaveDetail {
                name: String::new(),
                rule: "no_schema".into(),
                message: "the app's schema is not known yet (a first launch with no network)"
                    .into(),
            }]);
        };
        let batch = StoreBatch {
            entries: stats
                .iter()
                .map(|(name, value)| BatchEntry::SetStat {
                    name: (*name).to_owned(),
                    value: *value,
                })
                .collect(),
        };
        laurel_core::apply_batch(
            &loaded.schema,
            &self.local,
            &batch,
            WriteAuthority::User,
            now,
        )
        .map(|_| ())
        .map_err(|refusal| {
            refusal
                .problems
                .iter()
                .map(|p| SaveDetail {
                    name: p.name.clone(),
                    rule: p.problem.code().to_owned(),
                    message: p.problem.to_string(),
                })
                .collect()
        })
    }

    pub(crate) fn set_achievement(&mut self, name: &str, now: UnixTime) -> bool {
        if self.current_loaded() && self.local.is_unlocked(name) {
            return true;
        }
        self.write(
            BatchEntry::UnlockAchievement {
                name: name.to_owned(),
            },
            now,
        )
    }

    pub(crate) fn indicate_progress(
        &mut self,
        name: &str,
        current: u32,
        max: u32,
        now: UnixTime,
    ) -> bool {
        if self.current_loaded() && self.local.is_unlocked(name) {
            // As Steam: progress of an unlocked achievement is not shown.
            tracing::debug!(
                name,
                "progress refused: the achievement is already unlocked"
            );
            return false;
        }
        self.write(
            BatchEntry::IndicateProgress {
                name: name.to_owned(),
                current,
                max,
            },
            now,
        )
    }

    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.entries.is_empty()
    }

    /// The pending writes as one store body, without taking them.
    pub(crate) fn pending_body(&self) -> StoreRequestBody {
        body_of(&self.pending)
    }

    /// Moves the pending writes into the in-flight queue (after they were journaled).
    pub(crate) fn commit_pending(&mut self, seq: i64, key: String, body: String) {
        let batch = std::mem::take(&mut self.pending);
        self.in_flight.push_back(InFlight {
            seq: Some(seq),
            kind: EntryKind::Store,
            key,
            body,
            op: Op::Store(batch),
            reported_offline: false,
        });
        self.base = self.local.clone();
    }

    /// A `store_stats` with nothing to store: answered in order with the others.
    pub(crate) fn commit_nothing(&mut self) {
        self.in_flight.push_back(InFlight {
            seq: None,
            kind: EntryKind::Store,
            key: String::new(),
            body: String::new(),
            op: Op::Nothing,
            reported_offline: false,
        });
    }

    /// Records a journaled reset: pending stat writes (and achievement writes,
    /// when those are reset too) are dropped; the rest stays pending.
    pub(crate) fn commit_reset(
        &mut self,
        scope: ResetScope,
        seq: i64,
        key: String,
        body: String,
        now: UnixTime,
    ) {
        self.pending
            .entries
            .retain(|e| !is_stat(e) && !scope.achievements);
        self.in_flight.push_back(InFlight {
            seq: Some(seq),
            kind: EntryKind::Reset,
            key,
            body,
            op: Op::Reset(scope),
            reported_offline: false,
        });
        self.rebase(now);
    }

    // ----- answers from the server -----

    /// A fetched progress. Returns the events to queue.
    pub(crate) fn install_progress(
        &mut self,
        user: SteamId,
        body: &ProgressBody,
        now: UnixTime,
    ) -> Vec<Event> {
        let Some(loaded) = &self.schema else {
            return vec![Event::update(user, EResult::Fail)];
        };
        let progress = progress_from_body(&loaded.schema, body);
        let mut events = Vec::new();
        if user == self.user {
            self.server = Some(progress);
            self.rebase(now);
        } else {
            self.fetches += 1;
            self.others.insert(
                user,
                OtherUser {
                    progress,
                    fetched: self.fetches,
                },
            );
            while self.others.len() > MAX_CACHED_USERS {
                let Some(oldest) = self
                    .others
                    .iter()
                    .min_by_key(|(_, o)| o.fetched)
                    .map(|(u, _)| *u)
                else {
                    break;
                };
                self.others.remove(&oldest);
                self.profiles.remove(&oldest);
                events.push(Event::UserProgressUnload {
                    user_steam_id: oldest,
                });
            }
        }
        events.push(Event::update(user, EResult::Ok));
        events
    }

    /// The head of the in-flight queue could not be sent: every store not yet
    /// told so gets a `UserProgressSave` with `result`.
    pub(crate) fn report_offline(&mut self, result: EResult) -> Vec<Event> {
        let user = self.user;
        self.in_flight
            .iter_mut()
            .filter(|f| !f.reported_offline)
            .map(|f| {
                f.reported_offline = true;
                Event::save(user, result)
            })
            .collect()
    }

    /// The server answered the head of the in-flight queue (or, for
    /// [`Op::Nothing`], there was nothing to send). Pops it and returns the events.
    ///
    /// Accepted: `AchievementInfoUpdate` for each unlock and progress
    /// indication of the store (and each achievement the store unlocked
    /// through a bound stat), then `UserProgressSave` ok, then
    /// `UserProgressUpdate` ok with the server's state installed.
    /// Refused: `UserProgressSave` with the server's result; the store's
    /// effect is taken out of the cache at once (back to the last server
    /// snapshot), and the worker re-fetches the progress (the refusal may
    /// come from a state the cache does not know yet).
    pub(crate) fn answer_head(&mut self, answer: HeadAnswer, now: UnixTime) -> Vec<Event> {
        let Some(head) = self.in_flight.pop_front() else {
            return Vec::new();
        };
        let user = self.user;
        let mut events = Vec::new();
        match answer {
            HeadAnswer::Refused(result, details) => {
                // The worker re-fetches the progress; its answer is the
                // `UserProgressUpdate` that follows.
                events.push(Event::refused(user, result, details));
                self.rebase(now);
            }
            HeadAnswer::Stored(response) => {
                events.extend(achievement_events(&head.op, &response.newly_unlocked));
                events.push(Event::save(user, EResult::Ok));
                if let Some(s) = &self.schema {
                    self.server = Some(progress_from_body(&s.schema, &response.progress));
                }
                self.rebase(now);
                events.push(Event::update(user, EResult::Ok));
            }
            HeadAnswer::Reset(progress) => {
                events.push(Event::save(user, EResult::Ok));
                if let Some(s) = &self.schema {
                    self.server = Some(progress_from_body(&s.schema, &progress));
                }
                self.rebase(now);
                events.push(Event::update(user, EResult::Ok));
            }
            HeadAnswer::AcceptedUnread | HeadAnswer::Empty => {
                // The server took it but its answer was unreadable: keep the
                // store's effect by applying it to the last snapshot.
                events.extend(achievement_events(&head.op, &[]));
                events.push(Event::save(user, EResult::Ok));
                if let (Some(server), Some(s)) = (&self.server, &self.schema) {
                    let next = apply_op(&s.schema, server, &head.op, now);
                    self.server = Some(next);
                }
                self.rebase(now);
                if self.current_loaded() {
                    events.push(Event::update(user, EResult::Ok));
                }
            }
        }
        events
    }

    /// Recomputes `base` and `local` from the server snapshot. Pending writes
    /// that no longer pass validation (the server state moved under them) are
    /// dropped, with a log line.
    fn rebase(&mut self, now: UnixTime) {
        let (Some(loaded), Some(server)) = (&self.schema, &self.server) else {
            return;
        };
        let schema = &loaded.schema;
        let mut base = server.clone();
        for f in &self.in_flight {
            base = apply_op(schema, &base, &f.op, now);
        }
        // Each round removes at least one entry, so this ends.
        loop {
            match apply_deferred(schema, &base, &self.pending, now) {
                Ok(outcome) => {
                    self.local = outcome.progress;
                    break;
                }
                Err(refusal) => {
                    tracing::warn!(%refusal, "pending writes no longer valid against the server's state; dropped");
                    let before = self.pending.entries.len();
                    let bad: Vec<usize> = refusal.problems.iter().map(|p| p.index).collect();
                    let mut i = 0;
                    self.pending.entries.retain(|_| {
                        let keep = !bad.contains(&i);
                        i += 1;
                        keep
                    });
                    if self.pending.entries.len() == before {
                        self.pending.entries.clear();
                    }
                }
            }
        }
        self.base = base;
    }
}

/// A user's batch, with the value constraints left to the server.
fn apply_deferred(
    schema: &Schema,
    progress: &UserProgress,
    batch: &StoreBatch,
    now: UnixTime,
) -> Result<laurel_core::StoreOutcome, laurel_core::Refusal> {
    apply_batch_with(
        schema,
        progress,
        batch,
        WriteAuthority::User,
        now,
        Constraints::Deferred,
    )
}

/// What a write must be to be taken before any schema is known: what the
/// server would refuse whatever its schema says.
fn well_formed(entry: &BatchEntry) -> Result<(), &'static str> {
    let name = entry.name();
    if name.is_empty() || name.len() > laurel_core::limits::MAX_NAME_BYTES {
        return Err("not a stat or achievement name");
    }
    match entry {
        BatchEntry::SetStat { value, .. } if !value.is_finite() => Err("value is not finite"),
        BatchEntry::UpdateAvgRate {
            count,
            session_seconds,
            ..
        } if !count.is_finite() || !session_seconds.is_finite() || *session_seconds <= 0.0 => {
            Err("count or session length is not valid")
        }
        BatchEntry::IndicateProgress { max: 0, .. } => Err("progress max is 0"),
        _ => Ok(()),
    }
}

/// `progress` with an in-flight request applied as the game sees it until
/// the server answers: value constraints are the server's to judge (a
/// refused store is taken out when its refusal arrives); a store the
/// server would refuse for another reason leaves it unchanged.
fn apply_op(schema: &Schema, progress: &UserProgress, op: &Op, now: UnixTime) -> UserProgress {
    match op {
        Op::Store(batch) => apply_deferred(schema, progress, batch, now)
            .map_or_else(|_| progress.clone(), |o| o.progress),
        Op::Reset(scope) => reset(progress, *scope, schema).0,
        Op::Nothing | Op::Opaque => progress.clone(),
    }
}

/// `AchievementInfoUpdate`s for a stored request: its unlocks and progress
/// indications in body order, then achievements unlocked through stats.
fn achievement_events(op: &Op, newly_unlocked: &[String]) -> Vec<Event> {
    let mut events = Vec::new();
    let mut named: Vec<&str> = Vec::new();
    if let Op::Store(batch) = op {
        for e in &batch.entries {
            match e {
                BatchEntry::UnlockAchievement { name } => {
                    named.push(name);
                    events.push(Event::AchievementInfoUpdate {
                        achievement_name: name.clone(),
                        current_progress: None,
                        max_progress: None,
                    });
                }
                BatchEntry::IndicateProgress { name, current, max } => {
                    named.push(name);
                    events.push(Event::AchievementInfoUpdate {
                        achievement_name: name.clone(),
                        current_progress: Some(*current),
                        max_progress: Some(*max),
                    });
                }
                _ => {}
            }
        }
    }
    for name in newly_unlocked {
        if !named.contains(&name.as_str()) {
            events.push(Event::AchievementInfoUpdate {
                achievement_name: name.clone(),
                current_progress: None,
                max_progress: None,
            });
        }
    }
    events
}

#[cfg(test)]
mod tests;
