//! HTTP calls to `/api/v1`, used only from the worker thread. Every answer is
//! classified once here: try again later, credentials rejected, or final.

use std::time::Duration;

use laurel_core::{AppId, EResult, SteamId};
use laurel_wire::leaderboards::{
    BoardCreateRequest, BoardResponse, EntriesResponse, ScoreUploadRequest, ScoreUploadResponse,
};
use laurel_wire::{
    ErrorBody, GlobalAchievementsResponse, GlobalStatsResponse, IDEMPOTENCY_HEADER, ProgressBody,
    SchemaResponse, SessionRequest, SessionResponse, StoreResponse,
};
use serde::de::DeserializeOwned;
use ureq::http::Response;
use ureq::{Agent, Body};

/// Largest response body read (a schema with many languages can be big).
pub const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// Longest `Retry-After` honoured: a server (or a proxy) asking for more
/// is asked again after this long.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// How long an idle connection is kept for the next call.
const MAX_IDLE_AGE: Duration = Duration::from_secs(5);

/// `GetNumberOfCurrentPlayers`' answer: `{"response":{"player_count":N,"result":1}}`.
#[derive(serde::Deserialize)]
struct CurrentPlayers {
    response: CurrentPlayersResponse,
}

#[derive(serde::Deserialize)]
struct CurrentPlayersResponse {
    player_count: u32,
}

/// Why a call did not give an answer to use.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Failure {
    /// No connection, a timeout, a 5xx or 429: try again later. `result` is
    /// what to report if it never works (`NoConnection`, `RateLimitExceeded`);
    /// `after` is the server's `Retry-After`, when it sent one.
    Retry {
        result: EResult,
        reason: String,
        after: Option<Duration>,
    },
    /// 401: the token was not accepted.
    Unauthorized { reason: String },
    /// The server answered with a final error.
    Refused {
        result: EResult,
        reason: String,
        /// The server's per-entry reasons, when it gave them.
        details: Vec<laurel_wire::ErrorDetail>,
    },
}

impl Failure {
    fn retry(reason: impl Into<String>) -> Failure {
        Failure::Retry {
            result: EResult::NoConnection,
            reason: reason.into(),
            after: None,
        }
    }
}

pub(crate) struct Transport {
    agent: Agent,
    base: String,
    app: AppId,
}

/// A reply with a 2xx status whose body could not be read as `T`.
pub(crate) enum Reply<T> {
    Ok(T),
    Unreadable(String),
}

impl Transport {
    pub(crate) fn new(base: String, app: AppId) -> Transport {
        let agent = Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(concat!("laurel-client/", env!("CARGO_PKG_VERSION")))
            // Below the server's header timeout (10 s by default), which also
            // closes idle connections: reusing one the server is closing
            // would fail a call for nothing.
            .max_idle_age(MAX_IDLE_AGE)
            .build()
            .into();
        Transport { agent, base, app }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    fn user_path(&self, user: SteamId, rest: &str) -> String {
        self.url(&format!("/apps/{}/users/{user}/{rest}", self.app))
    }

    pub(crate) fn session(&self, user: SteamId, timeout: Duration) -> Result<String, Failure> {
        let body = SessionRequest {
            app_id: self.app.get(),
            steam_id: user.to_string(),
            display_name: None,
        };
        let text = serde_json::to_string(&body).map_err(|e| Failure::Refused {
            details: Vec::new(),
            result: EResult::Fail,
            reason: e.to_string(),
        })?;
        let resp = self
            .agent
            .post(self.url("/sessions"))
            .config()
            .timeout_global(Some(timeout))
            .build()
            .content_type("application/json")
            .send(text.as_str());
        match classify::<SessionResponse>(resp)? {
            Reply::Ok(s) => Ok(s.token),
            Reply::Unreadable(reason) => Err(Failure::Refused {
                details: Vec::new(),
                result: EResult::Fail,
                reason,
            }),
        }
    }

    pub(crate) fn schema(&self, token: &str, timeout: Duration) -> Result<SchemaResponse, Failure> {
        self.get_authorized(
            self.url(&format!("/apps/{}/schema", self.app)),
            token,
            timeout,
        )
    }

    pub(crate) fn progress(
        &self,
        token: &str,
        user: SteamId,
        timeout: Duration,
    ) -> Result<ProgressBody, Failure> {
        self.get_authorized(self.user_path(user, "progress"), token, timeout)
    }

    /// The Steam Web API's current-players figure for this app, asked with
    /// the user's token (so the user is not counted).
    pub(crate) fn current_players(&self, token: &str, timeout: Duration) -> Result<u32, Failure> {
        let reply: CurrentPlayers = self.get_authorized(
            format!(
                "{}/ISteamUserStats/GetNumberOfCurrentPlayers/v1/?appid={}",
                self.base, self.app
            ),
            token,
            timeout,
        )?;
        Ok(reply.response.player_count)
    }

    pub(crate) fn profile(
        &self,
        token: &str,
        user: SteamId,
        timeout: Duration,
    ) -> Result<laurel_wire::ProfileBody, Failure> {
        self.get_authorized(
            self.url(&format!("/apps/{}/users/{user}/profile", self.app)),
            token,
            timeout,
        )
    }

    pub(crate) fn global_achievements(
        &self,
        token: &str,
        timeout: Duration,
    ) -> Result<GlobalAchievementsResponse, Failure> {
        self.get_authorized(
            self.url(&format!("/apps/{}/global/achievements", self.app)),
            token,
            timeout,
        )
    }

    pub(crate) fn global_stats(
        &self,
        token: &str,
        names: &[String],
        days: u32,
        timeout: Duration,
    ) -> Result<GlobalStatsResponse, Failure> {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for name in names {
            query.append_pair("name", name);
        }
        query.append_pair("days", &days.to_string());
        let url = self.url(&format!(
            "/apps/{}/global/stats?{}",
            self.app,
            query.finish()
        ));
        self.get_authorized(url, token, timeout)
    }

    pub(crate) fn store(
        &self,
        token: &str,
        user: SteamId,
        key: &str,
        body: &str,
        timeout: Duration,
    ) -> Result<Reply<StoreResponse>, Failure> {
        self.post_journaled(self.user_path(user, "progress"), token, key, body, timeout)
    }

    pub(crate) fn reset(
        &self,
        token: &str,
        user: SteamId,
        key: &str,
        body: &str,
        timeout: Duration,
    ) -> Result<Reply<ProgressBody>, Failure> {
        self.post_journaled(self.user_path(user, "reset"), token, key, body, timeout)
    }

    fn boards_path(&self, rest: &str) -> String {
        self.url(&format!("/apps/{}/leaderboards{rest}", self.app))
    }

    /// `GET …/leaderboards/find?name=`: 404 (`FileNotFound`) when no board has the name.
    pub(crate) fn find_board(
        &self,
        token: &str,
        name: &str,
        timeout: Duration,
    ) -> Result<BoardResponse, Failure> {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("name", name)
            .finish();
        self.get_authorized(self.boards_path(&format!("/find?{query}")), token, timeout)
    }

    /// `POST …/leaderboards`: find or create.
    pub(crate) fn find_or_create_board(
        &self,
        token: &str,
        request: &BoardCreateRequest,
        timeout: Duration,
    ) -> Result<BoardResponse, Failure> {
        let text = serde_json::to_string(request).map_err(|e| Failure::Refused {
            details: Vec::new(),
            result: EResult::Fail,
            reason: e.to_string(),
        })?;
        let resp = self
            .agent
            .post(self.boards_path(""))
            .config()
            .timeout_global(Some(timeout))
            .build()
            .header("Authorization", format!("Bearer {token}"))
            .content_type("application/json")
            .send(text.as_str());
        read_or_fail(classify(resp)?)
    }

    /// `POST …/leaderboards/{board}/users/{user}/score` under the upload's key.
    pub(crate) fn upload_score(
        &self,
        token: &str,
        board: u64,
        user: SteamId,
        key: &str,
        body: &ScoreUploadRequest,
        timeout: Duration,
    ) -> Result<Reply<ScoreUploadResponse>, Failure> {
        let text = serde_json::to_string(body).map_err(|e| Failure::Refused {
            details: Vec::new(),
            result: EResult::Fail,
            reason: e.to_string(),
        })?;
        self.post_journaled(
            self.boards_path(&format!("/{board}/users/{user}/score")),
            token,
            key,
            &text,
            timeout,
        )
    }

    /// `GET …/leaderboards/{board}/entries?scope=…` (`query` built by the caller).
    pub(crate) fn board_entries(
        &self,
        token: &str,
        board: u64,
        query: &str,
        timeout: Duration,
    ) -> Result<EntriesResponse, Failure> {
        self.get_authorized(
            self.boards_path(&format!("/{board}/entries?{query}")),
            token,
            timeout,
        )
    }

    /// GETs `url` with a credential and reads the JSON answer.
    fn get_authorized<T: DeserializeOwned>(
        &self,
        url: String,
        token: &str,
        timeout: Duration,
    ) -> Result<T, Failure> {
        let resp = self
            .agent
            .get(url)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .header("Authorization", format!("Bearer {token}"))
            .call();
        read_or_fail(classify(resp)?)
    }

    /// POSTs a journaled write: its JSON body under its idempotency key.
    fn post_journaled<T: DeserializeOwned>(
        &self,
        url: String,
        token: &str,
        key: &str,
        body: &str,
        timeout: Duration,
    ) -> Result<Reply<T>, Failure> {
        let resp = self
            .agent
            .post(url)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .header("Authorization", format!("Bearer {token}"))
            .header(IDEMPOTENCY_HEADER, key)
            .content_type("application/json")
            .send(body);
        classify(resp)
    }
}

fn read_or_fail<T>(reply: Reply<T>) -> Result<T, Failure> {
    match reply {
        Reply::Ok(v) => Ok(v),
        Reply::Unreadable(reason) => Err(Failure::Refused {
            details: Vec::new(),
            result: EResult::Fail,
            reason,
        }),
    }
}

/// The EResult of an error status when the body does not say.
pub(crate) fn result_of_status(status: u16) -> EResult {
    match status {
        400 | 422 => EResult::InvalidParam,
        401 => EResult::NotLoggedOn,
        403 => EResult::AccessDenied,
        404 => EResult::FileNotFound,
        408 => EResult::Timeout,
        409 => EResult::DuplicateRequest,
        413 => EResult::LimitExceeded,
        429 => EResult::RateLimitExceeded,
        503 => EResult::ServiceUnavailable,
        _ => EResult::Fail,
    }
}

fn classify<T: DeserializeOwned>(
    resp: Result<Response<Body>, ureq::Error>,
) -> Result<Reply<T>, Failure> {
    let mut resp = match resp {
        Ok(r) => r,
        Err(e) => return Err(Failure::retry(e.to_string())),
    };
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s.min(MAX_RETRY_AFTER.as_secs())));
    let text = resp
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE_BYTES)
        .read_to_string();
    let text = match text {
        Ok(t) => t,
        // The connection broke mid-answer: we cannot know what happened.
        Err(e) => return Err(Failure::retry(format!("reading the answer: {e}"))),
    };
    if (200..300).contains(&status) {
        return Ok(match serde_json::from_str::<T>(&text) {
            Ok(v) => Reply::Ok(v),
            Err(e) => Reply::Unreadable(format!("unreadable answer ({status}): {e}")),
        });
    }
    let error: Option<ErrorBody> = serde_json::from_str(&text).ok();
    let reason = match &error {
        Some(b) => format!("{status}: {}", b.error),
        None => format!("{status}: {}", text.chars().take(200).collect::<String>()),
    };
    if status >= 500 {
        return Err(Failure::Retry {
            result: EResult::NoConnection,
            reason,
            after: retry_after,
        });
    }
    if status == 429 {
        return Err(Failure::Retry {
            result: EResult::RateLimitExceeded,
            reason,
            after: retry_after,
        });
    }
    if status == 401 {
        return Err(Failure::Unauthorized { reason });
    }
    let result = match &error {
        Some(b) if b.result != EResult::Ok.code() => EResult::from_code(b.result),
        _ => result_of_status(status),
    };
    let details = error.map(|b| b.details).unwrap_or_default();
    Err(Failure::Refused {
        result,
        reason,
        details,
    })
}
