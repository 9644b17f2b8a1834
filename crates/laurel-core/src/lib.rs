//! Laurel's domain: what an app's schema is, what a user's progress is, and
//! which store batches are allowed to change it.
//!
//! This crate does no I/O and knows no wire format: it cannot fail for I/O
//! reasons, and its errors are data. The store and server crates call
//! [`apply_batch`] inside their transactions; the SDK and the Lua module use
//! the same ids and rules to pre-check what a game asks for.

pub mod avgrate;
pub mod batch;
pub mod civil;
pub mod eresult;
pub mod idempotency;
pub mod ids;
pub mod leaderboard;
pub mod limits;
pub mod name;
pub mod progress;
pub mod schema;
pub mod schema_doc;

pub use batch::{
    BatchEntry, Constraints, EntryProblem, Problem, Refusal, StoreBatch, StoreOutcome,
    WriteAuthority, apply_batch, apply_batch_with,
};
pub use eresult::EResult;
pub use idempotency::{Fingerprint, IdempotencyKey, KeyError};
pub use ids::{AppId, IdError, SteamId};
pub use name::{ApiName, NameError, check_display_name, forbidden_in_text, is_noncharacter, shown};
pub use progress::{AchievementState, ResetScope, StatValue, UserProgress, reset};
pub use schema::{
    AchievementDef, AppSettings, Localized, ProgressBinding, Schema, SchemaProblem, SetBy, StatDef,
    StatKind,
};
pub use schema_doc::SchemaDoc;

/// Seconds since the Unix epoch, UTC. Passed in by the caller: the core never reads a clock.
pub type UnixTime = i64;
