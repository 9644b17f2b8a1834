//! The worker's leaderboard calls: finds and downloads (tried until their
//! deadline, like progress requests) and journaled uploads (tried until the
//! server answers, in order, like stores).

use std::time::Instant;

use laurel_core::{EResult, SteamId};
use laurel_wire::leaderboards::{BoardCreateRequest, EntriesResponse};

use super::{FIRST_RETRY_BACKOFF, MAX_FETCH_RETRY_BACKOFF, MAX_STORE_RETRY_BACKOFF, Worker, lock};
use crate::event::Event;
use crate::leaderboard::{
    BoardRef, BoardRequest, EntriesRequest, JournaledScore, LeaderboardEntry, LeaderboardHandle,
    LeaderboardInfo, Scope, ScoreJob,
};
use crate::transport::{Failure, Reply};

/// A find or download being tried.
pub(super) struct BoardFetch {
    pub request: BoardRequest,
    pub deadline: Instant,
    pub next_try: Instant,
    pub backoff: std::time::Duration,
    pub last: EResult,
}

/// The event that ends a find or download with `result` (an error).
fn failed(request: &BoardRequest, result: EResult, board: Option<LeaderboardHandle>) -> Event {
    match request {
        BoardRequest::Find { call, name, .. } => Event::LeaderboardFindResult {
            call: *call,
            is_error: true,
            result_code: result,
            name: name.clone(),
            board: None,
        },
        BoardRequest::Download { call, .. } => Event::LeaderboardScoresDownloaded {
            call: *call,
            is_error: true,
            result_code: result,
            board,
            entries: Vec::new(),
            entry_count: 0,
        },
    }
}

/// The query of a download, as route 5 takes it.
fn entries_query(scope: &Scope) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    match scope {
        Scope::Request(EntriesRequest::Global { start, end }) => {
            q.append_pair("scope", "global")
                .append_pair("start", &start.to_string())
                .append_pair("end", &end.to_string());
        }
        Scope::Request(EntriesRequest::GlobalAroundUser { start, end }) => {
            q.append_pair("scope", "around_user")
                .append_pair("start", &start.to_string())
                .append_pair("end", &end.to_string());
        }
        Scope::Request(EntriesRequest::Friends) => {
            q.append_pair("scope", "friends");
        }
        Scope::Users(users) => {
            let ids: Vec<String> = users.iter().map(ToString::to_string).collect();
            q.append_pair("scope", "users")
                .append_pair("steam_ids", &ids.join(","));
        }
    }
    q.finish()
}

fn entries_of(resp: &EntriesResponse) -> Vec<LeaderboardEntry> {
    resp.entries
        .iter()
        .filter_map(|e| match e.steam_id.parse::<SteamId>() {
            Ok(steam_id) => Some(LeaderboardEntry {
                steam_id,
                global_rank: e.rank,
                score: e.score,
                details: e.details.clone(),
            }),
            Err(_) => {
                tracing::warn!(
                    steam_id = e.steam_id,
                    "entry with an invalid Steam id skipped"
                );
                None
            }
        })
        .collect()
}

impl Worker {
    /// The handle of the board `board` names: `Ok(None)` when no board has
    /// that name (final), `Err` when the server could not say.
    fn resolve_board(
        &mut self,
        token: &str,
        board: &BoardRef,
        timeout: std::time::Duration,
    ) -> Result<Option<LeaderboardHandle>, Failure> {
        let name = match board {
            BoardRef::Handle(id) => return Ok(LeaderboardHandle::new(*id)),
            BoardRef::Name(name) => name,
        };
        if let Some(handle) = lock(&self.shared.boards).by_name(name) {
            return Ok(Some(handle));
        }
        match self.transport.find_board(token, name, timeout) {
            Ok(resp) => {
                let info = LeaderboardInfo::from_wire(&resp.leaderboard);
                if let Some(info) = &info {
                    lock(&self.shared.boards).install(info);
                }
                Ok(info.map(|i| i.handle))
            }
            Err(Failure::Refused {
                result: EResult::FileNotFound,
                ..
            }) => Ok(None),
            Err(failure) => Err(failure),
        }
    }

    /// One attempt at every find and download that is due; each ends in
    /// one event: its answer, a refusal, or `NoConnection` at its deadline.
    pub(super) fn board_round(&mut self) {
        let mut i = 0;
        while i < self.board_fetches.len() {
            if self.stopping() {
                return;
            }
            if self.board_fetches[i].next_try > Instant::now() {
                i += 1;
                continue;
            }
            let request = self.board_fetches[i].request.clone();
            let deadline = self.board_fetches[i].deadline;
            let outcome = self.board_once(&request, deadline);
            let now = Instant::now();
            let f = &mut self.board_fetches[i];
            let finished = match outcome {
                Ok(event) => Some(event),
                Err(result) => {
                    f.last = result;
                    if now >= f.deadline {
                        Some(failed(&request, f.last, None))
                    } else {
                        f.next_try = (now + f.backoff).min(f.deadline);
                        f.backoff = (f.backoff * 2).min(MAX_FETCH_RETRY_BACKOFF);
                        None
                    }
                }
            };
            if let Some(event) = finished {
                self.board_fetches.remove(i);
                self.shared
                    .boards_queued
                    .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
                self.shared.push_events(vec![event]);
            } else {
                i += 1;
            }
        }
    }

    /// `Ok(event)` when the request is finished; `Err(result)` when it
    /// should be tried again.
    fn board_once(&mut self, request: &BoardRequest, deadline: Instant) -> Result<Event, EResult> {
        let timeout = self.attempt_timeout(Some(deadline));
        let token = match self.ensure_token(timeout) {
            Ok(t) => t,
            Err(failure) => {
                return self
                    .global_failure(failure)
                    .map(|r| failed(request, r, None));
            }
        };
        match request {
            BoardRequest::Find { call, name, create } => {
                let answer = match create {
                    None => self.transport.find_board(&token, name, timeout),
                    Some((sort, display)) => self.transport.find_or_create_board(
                        &token,
                        &BoardCreateRequest {
                            name: name.clone(),
                            sort: sort.as_str().into(),
                            display: display.as_str().into(),
                            create: true,
                            writes: None,
                        },
                        timeout,
                    ),
                };
                match answer {
                    Ok(resp) => {
                        let Some(info) = LeaderboardInfo::from_wire(&resp.leaderboard) else {
                            tracing::warn!("the server's board is unreadable");
                            return Ok(failed(request, EResult::Fail, None));
                        };
                        lock(&self.shared.boards).install(&info);
                        Ok(Event::LeaderboardFindResult {
                            call: *call,
                            is_error: false,
                            result_code: EResult::Ok,
                            name: name.clone(),
                            board: Some(info),
                        })
                    }
                    Err(failure) => self
                        .global_failure(failure)
                        .map(|r| failed(request, r, None)),
                }
            }
            BoardRequest::Download { call, board, scope } => {
                let handle = match self.resolve_board(&token, board, timeout) {
                    Ok(Some(handle)) => handle,
                    Ok(None) => return Ok(failed(request, EResult::FileNotFound, None)),
                    Err(failure) => {
                        return self
                            .global_failure(failure)
                            .map(|r| failed(request, r, None));
                    }
                };
                match self.transport.board_entries(
                    &token,
                    handle.get(),
                    &entries_query(scope),
                    timeout,
                ) {
                    Ok(resp) => {
                        lock(&self.shared.boards).set_entry_count(handle, resp.entry_count);
                        let entries = entries_of(&resp);
                        lock(&self.shared.state).note_listed(entries.iter().map(|e| e.steam_id));
                        Ok(Event::LeaderboardScoresDownloaded {
                            call: *call,
                            is_error: false,
                            result_code: EResult::Ok,
                            board: Some(handle),
                            entries,
                            entry_count: resp.entry_count,
                        })
                    }
                    Err(failure) => {
                        if let Failure::Refused {
                            result: EResult::FileNotFound,
                            ..
                        } = &failure
                        {
                            lock(&self.shared.boards).forget(handle);
                        }
                        self.global_failure(failure)
                            .map(|r| failed(request, r, Some(handle)))
                    }
                }
            }
        }
    }

    /// One attempt at the oldest journaled upload. `true` if it was answered.
    pub(super) fn score_step(&mut self) -> bool {
        let Some(job) = self.scores.front().cloned() else {
            return false;
        };
        let timeout = self.attempt_timeout(None);
        let token = match self.ensure_token(timeout) {
            Ok(t) => t,
            Err(failure) => {
                self.score_not_sent(&job, failure);
                return false;
            }
        };
        let Ok(body) = serde_json::from_str::<JournaledScore>(&job.body) else {
            tracing::error!(key = job.key, "journaled upload unreadable; removed");
            self.score_answered(&job, uploaded_error(&job, EResult::Fail, None, 0));
            return true;
        };
        let score = body.upload.score;
        let handle = match self.resolve_board(&token, &body.board, timeout) {
            Ok(Some(handle)) => handle,
            Ok(None) => {
                tracing::warn!(
                    key = job.key,
                    "upload to a board that does not exist; removed"
                );
                self.score_answered(
                    &job,
                    uploaded_error(&job, EResult::FileNotFound, None, score),
                );
                return true;
            }
            Err(Failure::Refused { result, reason, .. }) => {
                tracing::warn!(key = job.key, %result, reason, "upload refused; removed");
                self.score_answered(&job, uploaded_error(&job, result, None, score));
                return true;
            }
            Err(failure) => {
                self.score_not_sent(&job, failure);
                return false;
            }
        };
        let user = self.shared.user;
        let event = match self.transport.upload_score(
            &token,
            handle.get(),
            user,
            &job.key,
            &body.upload,
            timeout,
        ) {
            Ok(Reply::Ok(resp)) => {
                lock(&self.shared.boards).set_entry_count(handle, resp.entry_count);
                Event::LeaderboardScoreUploaded {
                    call: job.call,
                    is_error: false,
                    result_code: EResult::Ok,
                    board: Some(handle),
                    score: resp.score,
                    score_changed: resp.score_changed,
                    global_rank_new: resp.global_rank_new,
                    global_rank_previous: resp.global_rank_previous,
                    entry_count: resp.entry_count,
                }
            }
            Ok(Reply::Unreadable(reason)) => {
                tracing::warn!(reason, "upload accepted, answer unreadable");
                Event::LeaderboardScoreUploaded {
                    call: job.call,
                    is_error: false,
                    result_code: EResult::Ok,
                    board: Some(handle),
                    score,
                    score_changed: false,
                    global_rank_new: 0,
                    global_rank_previous: 0,
                    entry_count: 0,
                }
            }
            Err(Failure::Refused { result, reason, .. }) => {
                tracing::warn!(key = job.key, %result, reason, "upload refused by the server; removed from the journal");
                if result == EResult::FileNotFound {
                    lock(&self.shared.boards).forget(handle);
                }
                uploaded_error(&job, result, Some(handle), score)
            }
            Err(failure) => {
                self.score_not_sent(&job, failure);
                return false;
            }
        };
        self.score_answered(&job, event);
        true
    }

    /// The server answered the oldest upload: out of the journal, its event queued.
    fn score_answered(&mut self, job: &ScoreJob, event: Event) {
        match lock(&self.shared.journal).remove(job.seq) {
            Ok(()) => {
                let _ = self.shared.journaled.fetch_update(
                    std::sync::atomic::Ordering::AcqRel,
                    std::sync::atomic::Ordering::Acquire,
                    |n| Some(n.saturating_sub(1)),
                );
            }
            // A replay of it will be answered from the idempotency record.
            Err(e) => tracing::error!(
                seq = job.seq,
                error = %e,
                "answered upload could not be removed from the journal"
            ),
        }
        self.scores.pop_front();
        self.shared
            .scores_unsent
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        self.shared.push_events(vec![event]);
        self.score_backoff = FIRST_RETRY_BACKOFF;
    }

    /// The oldest upload could not be sent (or its answer was lost): it
    /// stays journaled and is retried with the same idempotency key. No
    /// event: the game hears of it when the server answers.
    fn score_not_sent(&mut self, job: &ScoreJob, failure: Failure) {
        match failure {
            Failure::Retry { reason, after, .. } => {
                tracing::info!(key = job.key, reason, "upload not sent; will retry");
                self.respect_retry_after(after);
            }
            Failure::Refused { reason, .. } => {
                tracing::info!(key = job.key, reason, "upload not sent; will retry");
            }
            Failure::Unauthorized { reason } => {
                if !self.unauthorized(&reason) {
                    // Kept for a token that works (`set_token`) or a later run.
                    self.paused = true;
                }
            }
        }
        self.score_next_try = Instant::now() + self.score_backoff;
        self.score_backoff = (self.score_backoff * 2).min(MAX_STORE_RETRY_BACKOFF);
    }
}

fn uploaded_error(
    job: &ScoreJob,
    result: EResult,
    board: Option<LeaderboardHandle>,
    score: i32,
) -> Event {
    Event::LeaderboardScoreUploaded {
        call: job.call,
        is_error: true,
        result_code: result,
        board,
        score,
        score_changed: false,
        global_rank_new: 0,
        global_rank_previous: 0,
        entry_count: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_queries_name_the_scope_and_range() {
        let q = |s| entries_query(&s);
        assert_eq!(
            q(Scope::Request(EntriesRequest::Global { start: 1, end: 25 })),
            "scope=global&start=1&end=25"
        );
        assert_eq!(
            q(Scope::Request(EntriesRequest::GlobalAroundUser {
                start: -12,
                end: 12
            })),
            "scope=around_user&start=-12&end=12"
        );
        assert_eq!(q(Scope::Request(EntriesRequest::Friends)), "scope=friends");
        let users = vec![SteamId::new(5).unwrap(), SteamId::new(6).unwrap()];
        assert_eq!(q(Scope::Users(users)), "scope=users&steam_ids=5%2C6");
    }
}
