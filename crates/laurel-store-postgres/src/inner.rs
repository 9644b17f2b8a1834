//! What a store's calls share: the pool, the schema cache, the timeouts and
//! the purge's state. Data only; the calls live in the modules above it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64};
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use laurel_store::boards::{UploadReply, UploadRequest};
use laurel_store::{StoreReply, StoreRequest};

use crate::group_queue::Queue;
use crate::rows::SchemaCache;

/// What every call shares: the pool, the parsed schemas, the bounds, and
/// the purge of expired idempotency keys.
pub(crate) struct Inner {
    pub(crate) pool: Pool,
    pub(crate) schemas: SchemaCache,
    pub(crate) operation_timeout: Duration,
    pub(crate) schema_timeout: Duration,
    pub(crate) purge: PurgeState,
    /// Uploads waiting for their group (`crate::upload_groups`).
    pub(crate) uploads: Queue<UploadRequest, UploadReply>,
    /// Stores waiting for their group (`crate::store_groups`).
    pub(crate) stores: Queue<StoreRequest, StoreReply>,
    /// The counter shard of the next group of stores (modulo the shards).
    pub(crate) group_shards: AtomicU64,
}

/// When this node last purged expired idempotency keys, and by which clock.
pub(crate) struct PurgeState {
    pub(crate) interval: Duration,
    /// The latest `now` of any store (`i64::MIN` before the first): keys
    /// expire by the clock their `created` times come from.
    pub(crate) clock: AtomicI64,
    pub(crate) last: Mutex<Option<Instant>>,
    pub(crate) backlog: AtomicBool,
    pub(crate) running: AtomicBool,
}
