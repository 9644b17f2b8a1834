//! Group commit of leaderboard uploads on one node (`crate::group_queue`
//! runs the groups): a group holds uploads of distinct entries and distinct
//! idempotency keys (a second upload of one entry waits for the next
//! group), applied in one transaction ([`crate::boards::upload_group`]):
//! two round trips and one `COMMIT` for the group. Entries are locked in
//! one order on every node, so groups never wait for each other in a cycle.

use std::collections::HashSet;
use std::sync::Arc;

use laurel_core::{AppId, SteamId};
use laurel_store::StoreError;
use laurel_store::boards::{BoardId, PeriodStart, UploadReply, UploadRequest};

use crate::boards::{self, Uploaded};
use crate::group_queue::{Answer, Grouping, Queue, Stage, submit};
use crate::inner::Inner;

/// Leaderboard uploads, as [`Grouping`] makes groups of them.
pub(crate) struct Uploads;

/// What a group of uploads holds: entries (board, period, user) and keys
/// (app, user, key).
#[derive(Default)]
pub(crate) struct UploadClaims {
    entries: HashSet<(BoardId, PeriodStart, SteamId)>,
    keys: HashSet<(AppId, SteamId, String)>,
}

impl Grouping for Uploads {
    type Node = Inner;
    type Request = UploadRequest;
    type Reply = UploadReply;
    type Claims = UploadClaims;
    const GROUPS: usize = 2;
    const GROUP_SIZE: usize = 64;

    fn queue(inner: &Inner) -> &Queue<UploadRequest, UploadReply> {
        &inner.uploads
    }

    fn claim(claims: &mut UploadClaims, r: &UploadRequest) -> bool {
        let entry = (r.board, r.period, r.user);
        let key = r
            .idempotency
            .as_ref()
            .map(|(key, _)| (r.app, r.user, key.as_str().to_owned()));
        if claims.entries.contains(&entry) || key.as_ref().is_some_and(|k| claims.keys.contains(k))
        {
            return false;
        }
        claims.entries.insert(entry);
        if let Some(key) = key {
            claims.keys.insert(key);
        }
        true
    }

    async fn apply(
        inner: &Inner,
        requests: &[UploadRequest],
        stage: &mut Stage,
    ) -> Result<Vec<Answer<UploadReply>>, StoreError> {
        // Upload groups overlap from the start (two in flight).
        stage.done();
        with_client!(inner, inner.operation_timeout, |client| {
            boards::upload_group(client, requests).await
        })
    }
}

/// Applies `request` in the next group; its answer.
pub(crate) async fn upload(inner: &Arc<Inner>, request: UploadRequest) -> Uploaded {
    submit::<Uploads>(inner, request).await
}
