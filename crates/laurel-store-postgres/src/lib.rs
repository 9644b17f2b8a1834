//! The PostgreSQL store: the [`Store`](laurel_store::Store) of a Laurel deployment where several
//! stateless server nodes share one database.
//!
//! ```no_run
//! # async fn example() -> Result<(), laurel_store::StoreError> {
//! use laurel_store::Store;
//! use laurel_store_postgres::{PostgresOptions, PostgresStore};
//!
//! let store = PostgresStore::open(PostgresOptions::new("postgres://laurel@db.internal/laurel")).await?;
//! store.health().await?;
//! # Ok(()) }
//! ```
//!
//! # Tables
//!
//! The layout is the SQLite store's, in PostgreSQL types (see
//! `migrations.rs`): `meta` (the token-signing secret), `apps` (schema JSON,
//! `schema_version`), `users` (`version` per user), `stats`, `achievements`
//! (only rows that differ from the schema defaults), `app_users`,
//! `achievement_unlocks`, `stat_totals`, `stat_history` (the global
//! figures), `idempotency` (first answers, by app, user and key), and `keys`;
//! for leaderboards, `boards` (with its `epoch`), `board_entries` (one row
//! per board, period and user; a NULL score is a deleted entry's
//! tombstone; each row with its sequence number from the one `board_seq`,
//! the epoch it was written in, and the id of the transaction that wrote it,
//! indexed for the nodes' catch-ups), `board_count_shards` (live entries
//! per board, period and epoch in 64 shard rows, so listings count no rows
//! and uploads of different users seldom share one),
//! `board_idempotency` (uploads' first answers, purged with the
//! stores') and `friends`. `boards.rs` has an upload's statements and why
//! a catch-up from a transaction id misses no change: an upload locks only
//! the user's entry row, never the board's.
//! One difference: each global counter is split into 16 shard rows, a user's
//! changes going to the shard of their Steam id, and reads add the shards
//! up. A store holds the locks of the counter rows it moves until its commit
//! has flushed, so with one row per counter every store of an app that moves
//! an aggregated stat would wait for the previous one's flush; with shards,
//! sixteen proceed at once.
//! Steam ids are u64 and stored bit-cast into BIGINT (ids above `i64::MAX`
//! are negative; SQL compares them for equality, and the listing of users
//! reads two ranges to get u64 order, see `laurel_store::stored_id_ranges_after`). f32 stat values are
//! REAL, which the binary protocol carries bit for bit (`-0.0` included).
//! The layout is versioned by numbered migrations recorded in
//! `laurel_migrations`, applied at [`PostgresStore::open`] under an advisory
//! lock so that nodes starting together do not race; a database from a newer
//! build is refused.
//!
//! # Several nodes, one database
//!
//! Stores are applied in groups per node (`store_groups.rs`): up to 64
//! stores, of any users of any apps, in one READ COMMITTED transaction of
//! two round trips, each one message (`script.rs`: a multi-statement simple
//! query of `EXECUTE`s of statements every connection prepared when it
//! opened): BEGIN and the reads, then the writes and COMMIT. The database
//! runs a message's statements in order and stops at the first that fails,
//! so a failed write is never followed by the COMMIT behind it; a group
//! that does not commit ends with ROLLBACK, and its stores are applied
//! again one at a time. The order:
//!
//! ```text
//! BEGIN
//!   pg_advisory_xact_lock_shared(app)         -- each app, by key: no schema change of it meanwhile
//!   schema_version of each app                -- the schema each batch is validated against
//!   INSERT users … version 0 ON CONFLICT DO UPDATE … WHERE false
//!                                             -- the users' row locks, by (app, user): stores of one user queue here
//!   versions, keys, the users' rows           -- read after the locks: every earlier store is in them
//! (round trip)
//!   apply_batch, store after store            -- laurel_core's rules, in memory
//!   stats, achievements, versions, keys       -- the users' own rows
//!   app_users → achievement_unlocks → stat_totals → stat_history   -- counters per (app, shard): this order, by key
//! COMMIT                                      -- durable (synchronous_commit on) before the answers
//! (round trip)
//! ```
//!
//! - **The user's row lock** serializes the stores and resets of one user
//!   across every node: the upsert of the user's row takes its lock (a
//!   second transaction waits there until the first commits); READ
//!   COMMITTED then evaluates every later statement on what the first
//!   wrote. So no update is lost, increment-only stats never go down, an
//!   unlock keeps its first time, and a key sent twice at once is applied
//!   once. A user never written is inserted at version 0 to be locked, and
//!   deleted again before the commit if none of their stores was applied,
//!   so no other transaction sees version 0. Resets lock with
//!   `SELECT … FOR UPDATE` and write the version themselves.
//! - **Deterministic counter order**: the global counters are shared by all
//!   users of an app, so they are written last, table by table in one fixed
//!   order and each table's rows sorted by key; a group writes them per
//!   (app, shard) in that order. Two transactions therefore never wait for
//!   each other in a cycle.
//! - **Schema changes** take the app's advisory lock exclusively, stores and
//!   resets take it shared: a batch is validated and counted against the
//!   schema current at its commit, and a stat that becomes aggregated is
//!   recounted with no store in flight.
//! - **Reruns**: should PostgreSQL still report a serialization failure
//!   (40001) or a deadlock (40P01), the whole transaction runs again (five
//!   attempts in all), after a jittered exponential backoff (from 2 ms).
//!
//! Why row locks rather than SERIALIZABLE: under SERIALIZABLE every two
//! stores of one user conflict, so under load most would fail and be rerun,
//! each rerun paying the round trips again; predicate locks on the shared
//! counter rows would add false conflicts between different users. A row
//! lock makes the second store wait for the first instead of failing, which
//! is the order we need anyway, and touches no other user.
//!
//! Reads (progress, global figures) run in one REPEATABLE READ READ ONLY
//! transaction each, so the schema version, the user's version and their
//! rows are one snapshot. A user's progress is one message, BEGIN to
//! COMMIT, in one round trip (`rows::read_progress`); the global figures'
//! statements are pipelined.
//!
//! # Failure
//!
//! Every call is bounded: waiting for a pooled connection
//! ([`PostgresOptions::wait_timeout`]), connecting
//! ([`PostgresOptions::connect_timeout`]), each statement on the server
//! ([`PostgresOptions::statement_timeout`]) and each attempt on the client
//! ([`PostgresOptions::operation_timeout`]). A database that is down,
//! restarting, or too slow answers [`StoreError::Unavailable`]; once it is
//! back, the next call succeeds on a fresh connection: a connection that
//! failed at the connection level, or whose call was interrupted, is never
//! given back to the pool. An acknowledged store has committed; a store
//! answered `Unavailable` may or may not have, and its retry with the same
//! idempotency key gets the first answer if it had.
//!
//! # TLS
//!
//! The connection is encrypted as the URL's `sslmode` asks, with libpq's
//! meaning of `disable`, `prefer` (the default), `require`, `verify-ca` and
//! `verify-full`, and `sslrootcert` naming the CA certificates (a PEM file,
//! or `system`). [`tls`] has the table of what each mode checks.

// First: `with_client!`, which the modules after it use.
#[macro_use]
mod attempt;
mod audit;
mod boards;
#[cfg(test)]
mod boards_checks;
mod connection;
mod figures;
mod group_queue;
mod inner;
mod migrations;
mod options;
mod purge;
mod rows;
mod script;
mod store;
mod store_groups;
#[cfg(test)]
mod store_groups_checks;
pub mod tls;
mod upload_groups;
mod writes;

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{
    ClientWrapper, Hook, HookError, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime,
};
use laurel_core::UnixTime;
use laurel_store::{IDEMPOTENCY_RETENTION_SECONDS, StoreError};
use tokio_postgres::config::Host;

use self::inner::{Inner, PurgeState};
use self::rows::SchemaCache;

/// The database layout version this build writes (rows of `laurel_migrations`).
pub const LAYOUT_VERSION: u32 = migrations::MIGRATIONS.len() as u32;

/// Most connections one store opens.
pub const MAX_CONNECTIONS: usize = 1_024;
/// Shortest of every timeout of [`PostgresOptions`]: shorter ones are raised to it.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(1);
pub use laurel_store::PURGE_BATCH_ROWS;

pub use self::options::{PostgresOptions, redacted_url};

/// The PostgreSQL implementation of [`Store`](laurel_store::Store). Cheap to share behind an
/// `Arc`; several stores (in one process or many) may use one database.
pub struct PostgresStore {
    inner: Arc<Inner>,
}

impl PostgresStore {
    /// Connects to the database and brings its layout up to date.
    ///
    /// A database that cannot be reached answers [`StoreError::Unavailable`]
    /// within about [`PostgresOptions::connect_timeout`]; a URL that does not
    /// parse, [`StoreError::Backend`] (its text is not repeated: it may
    /// hold a password).
    pub async fn open(options: PostgresOptions) -> Result<PostgresStore, StoreError> {
        let timeout = |d: Duration| d.max(MIN_TIMEOUT);
        let (url, tls) = tls::split_tls_params(&options.url)
            .map_err(|e| StoreError::Backend(format!("the database URL: {e}")))?;
        let mut config = tokio_postgres::Config::from_str(&url)
            .map_err(|e| StoreError::Backend(format!("the database URL does not parse: {e}")))?;
        let sockets_only = config
            .get_hosts()
            .iter()
            .all(|host| !matches!(host, Host::Tcp(_)))
            && config.get_hostaddrs().is_empty();
        // libpq: sslmode does not apply to a Unix-domain socket.
        config.ssl_mode(if sockets_only {
            tokio_postgres::config::SslMode::Disable
        } else {
            tls.mode.driver_mode()
        });
        let connector = tls::connector(&tls)
            .map_err(|e| StoreError::Backend(format!("the database URL: {e}")))?;
        config.connect_timeout(timeout(options.connect_timeout));
        config.keepalives_idle(Duration::from_secs(30));
        if config.get_application_name().is_none() {
            config.application_name("laurel");
        }
        // Appended to whatever the URL asks for: the server enforces these
        // per session, whatever the client does.
        let mut session = config.get_options().unwrap_or_default().to_owned();
        // extra_float_digits > 0: floats come back as text (a store's reads,
        // see `script.rs`) in their shortest exact form.
        session.push_str(&format!(
            " -c extra_float_digits=3 -c statement_timeout={} -c idle_in_transaction_session_timeout={}",
            timeout(options.statement_timeout).as_millis(),
            timeout(options.idle_in_transaction_timeout).as_millis(),
        ));
        config.options(session.trim_start());

        let manager = Manager::from_config(
            config,
            connector,
            ManagerConfig {
                // A closed connection is found without a round trip; one
                // that failed otherwise never comes back (see `Lease`).
                recycling_method: RecyclingMethod::Fast,
            },
        );
        // Set once the layout is current: from then on, every connection the
        // pool opens prepares the statements run by name (they name tables
        // a migration may still have to create).
        let layout_ready = Arc::new(AtomicBool::new(false));
        let ready = Arc::clone(&layout_ready);
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.clamp(1, MAX_CONNECTIONS))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(timeout(options.wait_timeout)))
            .create_timeout(Some(timeout(options.connect_timeout)))
            .recycle_timeout(Some(timeout(options.connect_timeout)))
            .post_create(Hook::async_fn(move |client, _| {
                let ready = ready.load(Ordering::Acquire);
                Box::pin(async move {
                    require_durable_commits(client).await?;
                    if ready {
                        prepare_statements(client).await?;
                    }
                    Ok(())
                })
            }))
            .build()
            .map_err(|e| StoreError::Backend(format!("building the connection pool: {e}")))?;
        let inner = Inner {
            pool,
            schemas: SchemaCache::default(),
            operation_timeout: timeout(options.operation_timeout),
            schema_timeout: timeout(options.schema_timeout),
            purge: PurgeState {
                interval: options.idempotency_purge_interval,
                clock: AtomicI64::new(i64::MIN),
                last: Mutex::new(None),
                backlog: AtomicBool::new(false),
                running: AtomicBool::new(false),
            },
            uploads: Default::default(),
            stores: Default::default(),
            // A random start (the standard library's per-process hash
            // keys): nodes starting together begin on different shards.
            group_shards: AtomicU64::new({
                use std::hash::{BuildHasher, Hasher};
                std::collections::hash_map::RandomState::new()
                    .build_hasher()
                    .finish()
            }),
        };
        with_client!(&inner, inner.schema_timeout, |client| {
            migrations::migrate(client).await
        })?;
        layout_ready.store(true, Ordering::Release);
        // The connection that migrated has not prepared them: it goes.
        inner.pool.retain(|_, _| false);
        Ok(PostgresStore {
            inner: Arc::new(inner),
        })
    }

    /// Opens every connection the pool may hold (`max_connections`) and
    /// leaves them idle in it; answers how many are open. A node serving
    /// requests calls this before it listens: otherwise its first burst of
    /// requests waits for connections opened one by one under load (each
    /// one authenticates and prepares the store's statements on a cold
    /// backend), which measured as a p99 of 0.5 s and a max of 1.6 s in
    /// the first 15 s of progress reads on a fresh node, against 4 ms and
    /// 5 ms once its pool was full (docs/benchmarks.md). An `Err` is the
    /// first connection that could not be opened; the others stay.
    pub async fn warm(&self) -> Result<usize, StoreError> {
        let pool = &self.inner.pool;
        let mut opening = tokio::task::JoinSet::new();
        for _ in 0..pool.status().max_size {
            let pool = pool.clone();
            opening.spawn(async move { pool.get().await });
        }
        let mut open = Vec::new();
        let mut failed = None;
        while let Some(joined) = opening.join_next().await {
            match joined {
                Ok(Ok(connection)) => open.push(connection),
                Ok(Err(e)) => {
                    failed.get_or_insert(connection::pool_error(e));
                }
                Err(e) => {
                    failed.get_or_insert(StoreError::Backend(format!(
                        "opening a connection stopped: {e}"
                    )));
                }
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(open.len()),
        }
    }

    /// Stops taking calls (later ones get [`StoreError::Unavailable`]) and
    /// closes idle connections; calls in flight finish.
    pub fn close(&self) {
        self.inner.pool.close();
    }

    /// Deletes up to [`PURGE_BATCH_ROWS`] idempotency records older than the
    /// retention at `now`; returns how many. Stores call this in the
    /// background on their own (every
    /// [`PostgresOptions::idempotency_purge_interval`]); this is for tools
    /// and tests.
    pub async fn purge_expired_idempotency(&self, now: UnixTime) -> Result<u64, StoreError> {
        purge::purge_before(
            &self.inner,
            now.saturating_sub(IDEMPOTENCY_RETENTION_SECONDS),
        )
        .await
    }
}

/// Acknowledged means durable: a session whose server default is
/// `synchronous_commit = off` is switched back on (any other value —
/// `local`, `on`, `remote_write`, `remote_apply` — waits for at least the
/// local WAL flush, and is left as the operator chose).
async fn require_durable_commits(client: &mut ClientWrapper) -> Result<(), HookError> {
    client
        .simple_query(
            "SELECT set_config('synchronous_commit', 'on', false) \
             WHERE current_setting('synchronous_commit') = 'off'",
        )
        .await
        .map(drop)
        .map_err(HookError::Backend)
}

/// Prepares the statements run by name (`writes::PREPARED`,
/// `boards::PREPARED`), in one round trip.
async fn prepare_statements(client: &mut ClientWrapper) -> Result<(), HookError> {
    client
        .batch_execute(&format!(
            "{}{}",
            script::prepare_sql(&writes::PREPARED),
            script::prepare_sql(&boards::PREPARED)
        ))
        .await
        .map_err(HookError::Backend)
}
