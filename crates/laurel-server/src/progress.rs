//! The paths both front ends share around the store: the schema a request
//! is judged against, and what follows an applied write (the snapshot cache
//! of the user's progress, the current players). The client API and the
//! Steam Web API call these instead of each other.

use std::time::Instant;

use bytes::Bytes;
use laurel_core::{AppId, EResult, SteamId, UserProgress};
use laurel_store::StoredSchema;
use laurel_wire::ProgressBody;

use crate::cache::Snapshot;
use crate::error::ApiError;
use crate::state::AppState;

/// The stored schema of `app`; an app without one is refused as unknown.
pub(crate) async fn existing_schema(
    state: &AppState,
    app: AppId,
) -> Result<StoredSchema, ApiError> {
    state
        .schema(app)
        .await?
        .ok_or_else(|| ApiError::unknown_app(app))
}

/// Serializes a user's progress and remembers it for the next read.
pub(crate) fn progress_snapshot(
    state: &AppState,
    app: AppId,
    user: SteamId,
    schema: &StoredSchema,
    progress: &UserProgress,
) -> Result<Bytes, ApiError> {
    let body = ProgressBody::build(app, user, schema.version, &schema.schema, progress);
    let json =
        Bytes::from(serde_json::to_vec(&body).map_err(|e| {
            ApiError::new(EResult::Fail, format!("could not serialize progress: {e}"))
        })?);
    // A user never written reads as the schema's defaults: keeping their
    // answer would let anyone who may read others fill the cache with ids
    // (issue 12), so it is built again on each read instead.
    if let Some(cache) = state.progress_cache()
        && progress.version > 0
    {
        cache.put(
            app,
            user,
            Snapshot {
                version: progress.version,
                schema_version: schema.version,
                json: json.clone(),
            },
        );
    }
    Ok(json)
}

/// What follows a write the store applied: the user counts as playing, and
/// the snapshot of their progress is the one just written. Answers that
/// snapshot's JSON.
pub(crate) fn after_store(
    state: &AppState,
    app: AppId,
    user: SteamId,
    schema: &StoredSchema,
    progress: &UserProgress,
) -> Result<Bytes, ApiError> {
    state.players().touch(app, user, Instant::now());
    progress_snapshot(state, app, user, schema, progress)
}
