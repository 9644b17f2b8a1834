//! Events: the answers to asynchronous requests, queued by the background
//! worker and handed to the game by [`crate::Client::run_callbacks`].

use std::collections::VecDeque;

use laurel_core::{EResult, SteamId};

use crate::leaderboard::{LeaderboardCall, LeaderboardEntry, LeaderboardHandle, LeaderboardInfo};

/// Most undelivered events kept. A game that never pumps loses the oldest
/// ones (logged) rather than growing without bound.
pub const MAX_QUEUED_EVENTS: usize = 10_000;

/// Why the server refused one entry of a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveDetail {
    /// The stat or achievement (empty when the server named none).
    pub name: String,
    /// The rule it broke: `below_min`, `above_max`, `change_too_large`,
    /// `decrease_of_increment_only`, `unknown_stat`, … (the server's codes).
    pub rule: String,
    /// The server's sentence.
    pub message: String,
}

impl SaveDetail {
    pub(crate) fn from_wire(detail: &laurel_wire::ErrorDetail) -> SaveDetail {
        SaveDetail {
            name: detail.name.clone().unwrap_or_default(),
            rule: detail.rule.clone().unwrap_or_default(),
            message: detail.message.clone(),
        }
    }
}

/// One event, named like Solar2D's (`event.name` is [`Event::name`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A user's progress was fetched (or could not be). After a success,
    /// the reads return that user's data.
    UserProgressUpdate {
        is_error: bool,
        result_code: EResult,
        user_steam_id: SteamId,
    },
    /// A store (or reset) of the current user was answered, or could not be
    /// sent (`NoConnection`; it stays journaled and is retried, and its
    /// outcome comes as another `UserProgressSave`).
    UserProgressSave {
        is_error: bool,
        result_code: EResult,
        user_steam_id: SteamId,
        /// For a store the server refused, its reason for each entry it
        /// refused (Laurel's addition: Steam reports only the result); empty
        /// otherwise.
        details: Vec<SaveDetail>,
    },
    /// An achievement unlock or progress indication was stored. The progress
    /// fields are set only for a progress indication.
    AchievementInfoUpdate {
        achievement_name: String,
        current_progress: Option<u32>,
        max_progress: Option<u32>,
    },
    /// Another user's progress was dropped from the cache (see
    /// [`crate::MAX_CACHED_USERS`]); reads for that user return `None` again.
    UserProgressUnload { user_steam_id: SteamId },
    /// Answer to [`crate::Client::request_global_achievement_percentages`]
    /// (Steam: `GlobalAchievementPercentagesReady_t`). After a success,
    /// [`crate::Client::global_achievement_percent`] reads the new figures.
    GlobalAchievementPercentagesReady {
        is_error: bool,
        result_code: EResult,
    },
    /// Answer to [`crate::Client::request_global_stats`] (Steam:
    /// `GlobalStatsReceived_t`). After a success, [`crate::Client::global_stat_i64`]
    /// and friends read the new totals and history.
    GlobalStatsReceived {
        is_error: bool,
        result_code: EResult,
    },
    /// Another user's profile arrived (after their progress, Steam's
    /// `PersonaStateChange_t`): [`crate::Client::user_info`] now answers for them.
    UserInfoUpdate { user_steam_id: SteamId },
    /// Answer to [`crate::Client::request_active_player_count`] (Steam:
    /// `NumberOfCurrentPlayers_t`): how many users other than this one
    /// played the app in the server's current-players window; 0 on error.
    ActivePlayerCount {
        is_error: bool,
        result_code: EResult,
        count: u32,
    },
    /// Answer to [`crate::Client::find_leaderboard`] and
    /// [`crate::Client::find_or_create_leaderboard`] (Steam:
    /// `LeaderboardFindResult_t`; found = `board.is_some()`). Not found:
    /// `is_error`, `FileNotFound`.
    LeaderboardFindResult {
        call: LeaderboardCall,
        is_error: bool,
        result_code: EResult,
        /// The name asked for.
        name: String,
        board: Option<LeaderboardInfo>,
    },
    /// Answer to an upload (Steam: `LeaderboardScoreUploaded_t`), when the
    /// server answered it: an upload made offline is journaled and its
    /// event comes when it is finally answered, also in a later run (then
    /// `call` is `None`). Refusals (a trusted board, an unknown board, 65
    /// details) are final: `is_error` with the server's result.
    LeaderboardScoreUploaded {
        call: Option<LeaderboardCall>,
        is_error: bool,
        result_code: EResult,
        /// `None` when the board named was not found.
        board: Option<LeaderboardHandle>,
        /// The score uploaded.
        score: i32,
        score_changed: bool,
        /// The user's rank now (0 on error).
        global_rank_new: u64,
        /// The user's rank before this upload; 0 when they had no entry.
        global_rank_previous: u64,
        /// Entries on the board after the upload.
        entry_count: u64,
    },
    /// Answer to a download (Steam: `LeaderboardScoresDownloaded_t`).
    /// Offline, an error (`NoConnection`) at `request_timeout`: downloads
    /// are not cached.
    LeaderboardScoresDownloaded {
        call: LeaderboardCall,
        is_error: bool,
        result_code: EResult,
        /// `None` when the board named was not found.
        board: Option<LeaderboardHandle>,
        entries: Vec<LeaderboardEntry>,
        /// Entries on the whole board (its current period).
        entry_count: u64,
    },
}

impl Event {
    /// The Solar2D event name: `userProgressUpdate`, `userProgressSave`,
    /// `achievementInfoUpdate`, `userProgressUnload`, … and for the
    /// leaderboard events `leaderboardInfo`, `setHighScore`, `leaderboardEntries`.
    pub fn name(&self) -> &'static str {
        match self {
            Event::UserProgressUpdate { .. } => "userProgressUpdate",
            Event::UserProgressSave { .. } => "userProgressSave",
            Event::AchievementInfoUpdate { .. } => "achievementInfoUpdate",
            Event::UserProgressUnload { .. } => "userProgressUnload",
            Event::GlobalAchievementPercentagesReady { .. } => "globalAchievementPercentagesReady",
            Event::GlobalStatsReceived { .. } => "globalStatsReceived",
            Event::ActivePlayerCount { .. } => "activePlayerCount",
            Event::UserInfoUpdate { .. } => "userInfoUpdate",
            Event::LeaderboardFindResult { .. } => "leaderboardInfo",
            Event::LeaderboardScoreUploaded { .. } => "setHighScore",
            Event::LeaderboardScoresDownloaded { .. } => "leaderboardEntries",
        }
    }

    pub(crate) fn update(user: SteamId, result: EResult) -> Event {
        Event::UserProgressUpdate {
            is_error: result != EResult::Ok,
            result_code: result,
            user_steam_id: user,
        }
    }

    pub(crate) fn save(user: SteamId, result: EResult) -> Event {
        Event::refused(user, result, Vec::new())
    }

    pub(crate) fn refused(user: SteamId, result: EResult, details: Vec<SaveDetail>) -> Event {
        Event::UserProgressSave {
            is_error: result != EResult::Ok,
            result_code: result,
            user_steam_id: user,
            details,
        }
    }
}

/// A bounded FIFO of events.
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    events: VecDeque<Event>,
    dropped: u64,
}

impl EventQueue {
    pub(crate) fn push(&mut self, event: Event) {
        if self.events.len() >= MAX_QUEUED_EVENTS {
            self.events.pop_front();
            self.dropped += 1;
            if self.dropped.is_power_of_two() {
                tracing::warn!(
                    dropped = self.dropped,
                    "event queue full ({MAX_QUEUED_EVENTS}): the game does not call run_callbacks; oldest events dropped"
                );
            }
        }
        self.events.push_back(event);
    }

    pub(crate) fn extend(&mut self, events: impl IntoIterator<Item = Event>) {
        for e in events {
            self.push(e);
        }
    }

    pub(crate) fn take(&mut self) -> VecDeque<Event> {
        std::mem::take(&mut self.events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_is_bounded_and_drops_oldest() {
        let mut q = EventQueue::default();
        let user = SteamId::new(1).unwrap();
        for i in 0..MAX_QUEUED_EVENTS + 5 {
            q.push(Event::AchievementInfoUpdate {
                achievement_name: i.to_string(),
                current_progress: None,
                max_progress: None,
            });
        }
        q.push(Event::save(user, EResult::Ok));
        let all = q.take();
        assert_eq!(all.len(), MAX_QUEUED_EVENTS);
        assert_eq!(
            all.front(),
            Some(&Event::AchievementInfoUpdate {
                achievement_name: "6".into(),
                current_progress: None,
                max_progress: None
            })
        );
        assert_eq!(all.back(), Some(&Event::save(user, EResult::Ok)));
        assert!(q.take().is_empty());
    }
}
