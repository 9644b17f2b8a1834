//! The PostgreSQL store: the [`Store`] of a Laurel deployment where several
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
//! figures), `idempotency` (first answers, by app, user and key), and `keys`.
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
//! Every store is one READ COMMITTED transaction of two round trips, each
//! one message (`script.rs`: a multi-statement simple query of `EXECUTE`s of
//! statements every connection prepared when it opened): BEGIN and the
//! reads, then the writes and COMMIT. The database runs a message's
//! statements in order and stops at the first that fails, so a failed write
//! is never followed by the COMMIT behind it; a store that does not commit
//! ends with ROLLBACK. The order:
//!
//! ```text
//! BEGIN
//!   pg_advisory_xact_lock_shared(app)         -- no schema change of the app meanwhile
//!   schema_version of the app                 -- the schema this batch is validated against
//!   INSERT users … version 1 ON CONFLICT DO UPDATE SET version = version + 1 RETURNING version
//!                                             -- the user's row lock: stores of one user queue here
//!   idempotency key + the user's rows         -- read after the lock: every earlier store is in them
//! (round trip)
//!   apply_batch                               -- laurel_core's rules, in memory
//!   stats, achievements, key                  -- the user's own rows
//!   app_users → achievement_unlocks → stat_totals → stat_history   -- counters: this order, by key
//! COMMIT                                      -- durable (synchronous_commit on) before the answer
//! (round trip)
//! ```
//!
//! - **The user's row lock** serializes the stores and resets of one user
//!   across every node: the upsert of the user's row takes its lock (the
//!   second store waits there until the first commits) and moves the version
//!   on; READ COMMITTED then evaluates it, and every later statement, on
//!   what the first wrote. So no update is lost, increment-only stats never
//!   go down, an unlock keeps its first time, and a key sent twice at once
//!   is applied once. A store that writes nothing (a replay, a refusal) rolls
//!   back, taking the new version, or a new user's row, with it. Resets lock
//!   with `SELECT … FOR UPDATE` and write the version themselves.
//! - **Deterministic counter order**: the global counters are shared by all
//!   users of an app, so they are written last, table by table in one fixed
//!   order and each table's rows sorted by key; two transactions therefore
//!   never wait for each other in a cycle.
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

mod audit;
mod connection;
mod figures;
mod migrations;
mod rows;
mod script;
pub mod tls;
mod writes;

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use deadpool_postgres::{
    ClientWrapper, Hook, HookError, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime,
};
use laurel_core::{AppId, ResetScope, Schema, SteamId, UnixTime, UserProgress};
use laurel_store::figures::{
    KeptSums, check_history_range, daily_history, queried_stats, stat_total,
};
use laurel_store::{
    AppSummary, GlobalAchievements, GlobalStat, GlobalStatsQuery, IDEMPOTENCY_RETENTION_SECONDS,
    KeyRecord, MAX_USERS_PAGE, Store, StoreError, StoreReply, StoreRequest, StoredKey,
    StoredSchema, stored_id_ranges_after, users_page,
};
use laurel_store::{
    AuditDraft, AuditQuery, AuditRecord, SigningSecrets, TokenRevocation, TokenRevocations,
};
use tokio::time::error::Elapsed;
use tokio_postgres::IsolationLevel;
use tokio_postgres::config::Host;

use self::connection::{
    Context, Failure, FailureKind, Lease, MAX_ATTEMPTS, Reuse, backoff, classify, execute,
    join_pipelined, join3_pipelined, pool_error, query, query_opt,
};
use self::rows::{
    SchemaCache, app_from_sql, app_sql, count, current_schema, existing_schema, kind_code, visible,
};

/// The database layout version this build writes (rows of `laurel_migrations`).
pub const LAYOUT_VERSION: u32 = migrations::MIGRATIONS.len() as u32;

/// Most connections one store opens.
pub const MAX_CONNECTIONS: usize = 1_024;
/// Shortest of every timeout of [`PostgresOptions`]: shorter ones are raised to it.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(1);
pub use laurel_store::PURGE_BATCH_ROWS;
use laurel_store::SIGNING_SECRET_BYTES;

/// How to reach the database, and the bounds of every call. Out-of-range
/// values are clamped (connections to 1..=[`MAX_CONNECTIONS`], timeouts to at
/// least [`MIN_TIMEOUT`]), so any value opens a working store. `Debug` shows
/// the URL without its password (see [`redacted_url`]).
#[derive(Clone, PartialEq)]
pub struct PostgresOptions {
    /// A libpq-style URL or key=value string, e.g.
    /// `postgres://user:password@host:5432/laurel`.
    pub url: String,
    /// Connections in the pool: at most this many calls run at once.
    pub max_connections: usize,
    /// Longest a new connection may take to open.
    pub connect_timeout: Duration,
    /// Longest a call waits for a free pooled connection.
    pub wait_timeout: Duration,
    /// Longest one statement may run on the server (`statement_timeout`);
    /// it includes waiting for a user's row lock behind other stores.
    pub statement_timeout: Duration,
    /// Longest one attempt of a call may take on the client, whatever the
    /// server does (a frozen server or a dropped network never hangs a call).
    pub operation_timeout: Duration,
    /// Longest a schema change may take (statement and attempt): it may
    /// recount an aggregated stat over every user, and it waits for the
    /// stores of its app in flight.
    pub schema_timeout: Duration,
    /// The server closes a session left idle inside a transaction this long
    /// (`idle_in_transaction_session_timeout`), so a node that froze in the
    /// middle of a store cannot hold a user's row lock for ever.
    pub idle_in_transaction_timeout: Duration,
    /// Least time between two purges of expired idempotency keys by this node.
    pub idempotency_purge_interval: Duration,
}

impl PostgresOptions {
    /// The defaults, for the database at `url`.
    pub fn new(url: impl Into<String>) -> PostgresOptions {
        PostgresOptions {
            url: url.into(),
            max_connections: 16,
            connect_timeout: Duration::from_secs(2),
            wait_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(10),
            schema_timeout: Duration::from_secs(60),
            idle_in_transaction_timeout: Duration::from_secs(30),
            idempotency_purge_interval: Duration::from_secs(60),
        }
    }
}

impl std::fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("url", &redacted_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("wait_timeout", &self.wait_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .field("schema_timeout", &self.schema_timeout)
            .field(
                "idle_in_transaction_timeout",
                &self.idle_in_transaction_timeout,
            )
            .field(
                "idempotency_purge_interval",
                &self.idempotency_purge_interval,
            )
            .finish()
    }
}

/// The database URL with every password replaced by `***`, fit for logs: the
/// one of the user-info part (`postgres://user:secret@host`) and any
/// `password=` parameter (`?password=secret`, or the key=value form
/// `host=db password=secret`, quoted or not).
pub fn redacted_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    if let Some(scheme_end) = url.find("://") {
        let (scheme, after) = url.split_at(scheme_end + 3);
        let authority_end = after.find(['/', '?']).unwrap_or(after.len());
        let (authority, tail) = after.split_at(authority_end);
        out.push_str(scheme);
        match authority.rfind('@') {
            Some(at) => {
                let (userinfo, host) = authority.split_at(at);
                match userinfo.split_once(':') {
                    Some((user, _password)) => {
                        out.push_str(user);
                        out.push_str(":***");
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(host);
            }
            None => out.push_str(authority),
        }
        rest = tail;
    }
    const KEY: &str = "password=";
    while let Some(found) = rest.find(KEY) {
        let (before, after) = rest.split_at(found + KEY.len());
        out.push_str(before);
        out.push_str("***");
        let value_end = if let Some(quoted) = after.strip_prefix('\'') {
            // Up to the closing quote (a backslash escapes one).
            let mut escaped = false;
            quoted
                .char_indices()
                .find(|&(_, c)| {
                    let end = c == '\'' && !escaped;
                    escaped = c == '\\' && !escaped;
                    end
                })
                .map_or(after.len(), |(i, _)| i + 2)
        } else {
            after.find(['&', ' ', '\t', '\n']).unwrap_or(after.len())
        };
        rest = &after[value_end..];
    }
    out.push_str(rest);
    out
}

/// The PostgreSQL implementation of [`Store`]. Cheap to share behind an
/// `Arc`; several stores (in one process or many) may use one database.
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    schemas: SchemaCache,
    operation_timeout: Duration,
    schema_timeout: Duration,
    purge: PurgeState,
}

/// When this node last purged expired idempotency keys, and by which clock.
struct PurgeState {
    interval: Duration,
    /// The latest `now` of any store (`i64::MIN` before the first): keys
    /// expire by the clock their `created` times come from.
    clock: AtomicI64,
    last: Mutex<Option<Instant>>,
    backlog: AtomicBool,
    running: AtomicBool,
}

/// What follows one attempt of a call: its answer, or a rerun.
enum AfterAttempt<T> {
    Answer(Result<T, StoreError>),
    Rerun,
}

/// Runs `$body` (an expression of type `Result<T, Failure>` that may
/// `.await`, with `$client: &mut Object`, a pooled connection) on a pooled connection,
/// bounded by `$timeout`, rerunning it when the database asks for a rerun;
/// evaluates to `Result<T, StoreError>`. A macro rather than a function
/// taking a closure: the body borrows the connection and the caller's data
/// for the length of one attempt, which closures returning futures cannot
/// express without boxing and cloning.
macro_rules! with_client {
    ($inner:expr, $timeout:expr, |$client:ident| $body:expr) => {{
        let inner: &Inner = $inner;
        let timeout: Duration = $timeout;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let mut lease = inner.lease().await?;
            let outcome = tokio::time::timeout(timeout, async {
                let $client: &mut Object = lease.client();
                $body
            })
            .await;
            match after_attempt(&mut lease, outcome, attempt, timeout) {
                AfterAttempt::Answer(result) => break result,
                AfterAttempt::Rerun => {
                    drop(lease);
                    tokio::time::sleep(backoff(attempt)).await;
                }
            }
        }
    }};
}

/// Turns one attempt's outcome into the answer (or a rerun), and decides
/// whether its connection goes back to the pool.
fn after_attempt<T>(
    lease: &mut Lease,
    outcome: Result<Result<T, Failure>, Elapsed>,
    attempt: u32,
    timeout: Duration,
) -> AfterAttempt<T> {
    let failure = match outcome {
        // The lease is left as interrupted: its connection is discarded.
        Err(_) => {
            return AfterAttempt::Answer(Err(StoreError::Unavailable(format!(
                "the database did not answer within {} ms",
                timeout.as_millis()
            ))));
        }
        Ok(Ok(value)) => {
            lease.keep();
            return AfterAttempt::Answer(Ok(value));
        }
        Ok(Err(failure)) => failure,
    };
    let (what, source) = match failure {
        Failure::Store(e) => {
            lease.keep();
            return AfterAttempt::Answer(Err(e));
        }
        Failure::Db { what, source } => (what, source),
    };
    let (kind, reuse) = classify(&source);
    if reuse == Reuse::Keep {
        lease.keep();
    }
    let message = Failure::Db { what, source }.to_string();
    match kind {
        FailureKind::Retry if attempt < MAX_ATTEMPTS => {
            tracing::debug!(attempt, error = %message, "rerunning a transaction");
            AfterAttempt::Rerun
        }
        FailureKind::Retry => AfterAttempt::Answer(Err(StoreError::Unavailable(format!(
            "{message} (still failing after {MAX_ATTEMPTS} attempts)"
        )))),
        FailureKind::Unavailable => AfterAttempt::Answer(Err(StoreError::Unavailable(message))),
        FailureKind::Backend => AfterAttempt::Answer(Err(StoreError::Backend(message))),
    }
}

impl Inner {
    async fn lease(&self) -> Result<Lease, StoreError> {
        self.pool.get().await.map(Lease::new).map_err(pool_error)
    }

    /// Deletes up to [`PURGE_BATCH_ROWS`] idempotency records created before
    /// `cutoff`; returns how many.
    async fn purge_before(&self, cutoff: UnixTime) -> Result<u64, StoreError> {
        with_client!(self, self.operation_timeout, |client| {
            execute(
                &*client,
                "purging idempotency keys",
                "DELETE FROM idempotency WHERE (app_id, steam_id, idem_key) IN \
                 (SELECT app_id, steam_id, idem_key FROM idempotency WHERE created < $1 LIMIT $2)",
                &[&cutoff, &PURGE_BATCH_ROWS],
            )
            .await
        })
    }
}

/// Starts a purge of expired idempotency keys in the background when one is
/// due (the interval has passed, or the last one left a backlog) and none is
/// running. Every node purges on its own; two purges that pick the same rows
/// queue on their row locks (the second deletes what is left), and should
/// they deadlock, the loser is rerun.
fn purge_if_due(inner: &Arc<Inner>) {
    let state = &inner.purge;
    let clock = state.clock.load(Ordering::Relaxed);
    if clock == i64::MIN {
        return;
    }
    {
        let mut last = state
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let recent = last.is_some_and(|t| t.elapsed() < state.interval);
        if recent && !state.backlog.load(Ordering::Relaxed) {
            return;
        }
        if state.running.swap(true, Ordering::AcqRel) {
            return;
        }
        *last = Some(Instant::now());
    }
    let inner = Arc::clone(inner);
    tokio::spawn(async move {
        let cutoff = clock.saturating_sub(IDEMPOTENCY_RETENTION_SECONDS);
        match inner.purge_before(cutoff).await {
            Ok(deleted) => {
                let full = i64::try_from(deleted).unwrap_or(i64::MAX) >= PURGE_BATCH_ROWS;
                inner.purge.backlog.store(full, Ordering::Relaxed);
                if deleted > 0 {
                    tracing::debug!(deleted, "purged expired idempotency keys");
                }
            }
            Err(e) => {
                inner.purge.backlog.store(false, Ordering::Relaxed);
                tracing::warn!(error = %e, "purging idempotency keys");
            }
        }
        inner.purge.running.store(false, Ordering::Release);
    });
}

impl PostgresStore {
    /// Stores `candidate` as the token-signing secret unless the database
    /// already has one, and returns the one it has.
    async fn offer_signing_secret(&self, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            execute(
                &*client,
                "writing the signing secret",
                "INSERT INTO meta (key, value) VALUES ('signing_secret', $1) \
                 ON CONFLICT (key) DO NOTHING",
                &[&candidate],
            )
            .await?;
            let row = query_opt(
                &*client,
                "reading the signing secret",
                "SELECT value FROM meta WHERE key = 'signing_secret'",
                &[],
            )
            .await?;
            match row {
                Some(row) => row
                    .try_get::<_, Vec<u8>>(0)
                    .context("reading the signing secret"),
                None => Err(rows::corrupt("the signing secret vanished")),
            }
        })
    }

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
        self.inner
            .purge_before(now.saturating_sub(IDEMPOTENCY_RETENTION_SECONDS))
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

/// Prepares the statements run by name (`writes::PREPARED`), in one round trip.
async fn prepare_statements(client: &mut ClientWrapper) -> Result<(), HookError> {
    client
        .batch_execute(&script::prepare_sql(&writes::PREPARED))
        .await
        .map_err(HookError::Backend)
}

fn read_only(client: &mut Object) -> deadpool_postgres::TransactionBuilder<'_> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
}

fn key_record(row: &tokio_postgres::Row) -> Result<KeyRecord, Failure> {
    let what = "reading a key";
    Ok(KeyRecord {
        id: row.try_get("id").context(what)?,
        app: app_from_sql(row.try_get("app_id").context(what)?)?,
        label: row.try_get("label").context(what)?,
        created: row.try_get("created").context(what)?,
        revoked: row.try_get("revoked").context(what)?,
    })
}

#[async_trait]
impl Store for PostgresStore {
    async fn put_schema(&self, app: AppId, schema: Schema) -> Result<u64, StoreError> {
        let json = serde_json::to_string(&schema.to_doc())
            .map_err(|e| StoreError::Backend(format!("encoding the schema: {e}")))?;
        let schema = Arc::new(schema);
        let inner = &*self.inner;
        let version = with_client!(inner, inner.schema_timeout, |client| {
            writes::put_schema(
                client,
                &inner.schemas,
                app,
                &schema,
                &json,
                inner.schema_timeout,
            )
            .await
        })?;
        inner.schemas.offer(StoredSchema {
            app,
            version,
            schema,
        });
        Ok(version)
    }

    async fn schema(&self, app: AppId) -> Result<Option<StoredSchema>, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            current_schema(&*client, &inner.schemas, app).await
        })
    }

    async fn apps(&self) -> Result<Vec<AppSummary>, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            let rows = query(
                &*client,
                "listing apps",
                "SELECT a.app_id, a.name, a.schema_version, \
                 (SELECT coalesce(sum(u.users), 0)::bigint FROM app_users u WHERE u.app_id = a.app_id) \
                 FROM apps a ORDER BY a.app_id",
                &[],
            )
            .await?;
            rows.iter()
                .map(|row| {
                    let what = "listing apps";
                    Ok(AppSummary {
                        app: app_from_sql(row.try_get(0).context(what)?)?,
                        name: row.try_get(1).context(what)?,
                        schema_version: count(row.try_get(2).context(what)?, "schema version")?,
                        users: count(row.try_get(3).context(what)?, "user count")?,
                    })
                })
                .collect()
        })
    }

    async fn progress(&self, app: AppId, user: SteamId) -> Result<UserProgress, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            match rows::read_progress(client, &inner.schemas, app, user).await? {
                None => Err(Failure::Store(StoreError::UnknownApp(app))),
                Some((schema, stored)) => Ok(visible(stored, &schema.schema)),
            }
        })
    }

    async fn store(&self, request: StoreRequest) -> Result<StoreReply, StoreError> {
        let inner = &*self.inner;
        let reply = with_client!(inner, inner.operation_timeout, |client| {
            writes::store(client, &inner.schemas, &request).await
        })?;
        inner.purge.clock.fetch_max(request.now, Ordering::Relaxed);
        purge_if_due(&self.inner);
        Ok(reply)
    }

    async fn reset(
        &self,
        app: AppId,
        user: SteamId,
        scope: ResetScope,
        now: UnixTime,
        draft: AuditDraft,
    ) -> Result<UserProgress, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            audit::reset_user(client, &inner.schemas, (app, user), (scope, now), &draft).await
        })
    }

    async fn global_achievements(&self, app: AppId) -> Result<GlobalAchievements, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            let tx = read_only(client)
                .start()
                .await
                .context("beginning a read")?;
            let (schema, users, counts) = join3_pipelined(
                existing_schema(&tx, &inner.schemas, app),
                query_opt(
                    &tx,
                    "reading the app's user count",
                    "SELECT coalesce(sum(users), 0)::bigint FROM app_users WHERE app_id = $1",
                    &[&app_sql(app)],
                ),
                query(
                    &tx,
                    "reading unlock counts",
                    "SELECT name, sum(users)::bigint FROM achievement_unlocks \
                     WHERE app_id = $1 GROUP BY name",
                    &[&app_sql(app)],
                ),
            )
            .await?;
            tx.commit().await.context("ending a read")?;
            let users: i64 = match users {
                Some(row) => row.try_get(0).context("reading the app's user count")?,
                None => 0,
            };
            let mut by_name = std::collections::HashMap::new();
            for row in &counts {
                let name: String = row.try_get(0).context("reading unlock counts")?;
                let n: i64 = row.try_get(1).context("reading unlock counts")?;
                by_name.insert(name, n);
            }
            // Every achievement the schema has, none it lost: the same view as `progress`.
            let mut unlocked = std::collections::BTreeMap::new();
            for def in schema.schema.achievements() {
                let n = by_name.get(def.name.as_str()).copied().unwrap_or(0);
                unlocked.insert(def.name.to_string(), count(n, "unlock count")?);
            }
            Ok(GlobalAchievements {
                users: count(users, "user count")?,
                unlocked,
            })
        })
    }

    async fn global_stats(
        &self,
        app: AppId,
        wanted: GlobalStatsQuery,
    ) -> Result<Vec<GlobalStat>, StoreError> {
        let inner = &*self.inner;
        let range_ok = check_history_range(&wanted).is_ok();
        // An invalid range reads no history; it is refused once the app is known.
        let (first_day, last_day) = match wanted.history {
            Some(range) if range_ok => range,
            _ => (1, 0),
        };
        let names: Vec<&str> = wanted.names.iter().map(String::as_str).collect();
        let stats = with_client!(inner, inner.operation_timeout, |client| {
            let tx = read_only(client)
                .start()
                .await
                .context("beginning a read")?;
            let (schema, users, (totals, history)) = join3_pipelined(
                existing_schema(&tx, &inner.schemas, app),
                query_opt(
                    &tx,
                    "reading the app's user count",
                    "SELECT coalesce(sum(users), 0)::bigint FROM app_users WHERE app_id = $1",
                    &[&app_sql(app)],
                ),
                join_pipelined(
                    query(
                        &tx,
                        "reading stat totals",
                        "SELECT name, kind, sum(value_rows)::bigint, sum(int_sum)::bigint, \
                         sum(float_sum) FROM stat_totals \
                         WHERE app_id = $1 AND (cardinality($2::text[]) = 0 OR name = ANY($2)) \
                         GROUP BY name, kind",
                        &[&app_sql(app), &names],
                    ),
                    query(
                        &tx,
                        "reading stat history",
                        "SELECT name, kind, day, sum(int_change)::bigint, sum(float_change) \
                         FROM stat_history \
                         WHERE app_id = $1 AND (cardinality($2::text[]) = 0 OR name = ANY($2)) \
                         AND day BETWEEN $3 AND $4 GROUP BY name, kind, day ORDER BY day",
                        &[&app_sql(app), &names, &first_day, &last_day],
                    ),
                ),
            )
            .await?;
            tx.commit().await.context("ending a read")?;
            let users: i64 = match users {
                Some(row) => row.try_get(0).context("reading the app's user count")?,
                None => 0,
            };
            Ok((schema, users, totals, history))
        });
        let (schema, users, totals, history) = stats?;
        check_history_range(&wanted)?;
        global_stats_from_rows(&schema.schema, users, &wanted, &totals, &history).map_err(|f| {
            match f {
                Failure::Store(e) => e,
                other => StoreError::Backend(other.to_string()),
            }
        })
    }

    async fn create_key(
        &self,
        app: AppId,
        label: &str,
        secret_hash: &str,
        now: UnixTime,
    ) -> Result<KeyRecord, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            let row = query_opt(
                &*client,
                "writing a key",
                "INSERT INTO keys (app_id, label, secret_hash, created, revoked) \
                 SELECT $1, $2, $3, $4, false WHERE EXISTS (SELECT 1 FROM apps WHERE app_id = $1) \
                 RETURNING id",
                &[&app_sql(app), &label, &secret_hash, &now],
            )
            .await?;
            let Some(row) = row else {
                return Err(Failure::Store(StoreError::UnknownApp(app)));
            };
            Ok(KeyRecord {
                id: row.try_get(0).context("writing a key")?,
                app,
                label: label.to_owned(),
                created: now,
                revoked: false,
            })
        })
    }

    async fn keys(&self, app: AppId) -> Result<Vec<KeyRecord>, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            // One statement: no row at all means no app; a row without a key
            // means an app without keys.
            let rows = query(
                &*client,
                "listing keys",
                "SELECT k.id, a.app_id, k.label, k.created, k.revoked \
                 FROM apps a LEFT JOIN keys k ON k.app_id = a.app_id \
                 WHERE a.app_id = $1 ORDER BY k.id",
                &[&app_sql(app)],
            )
            .await?;
            if rows.is_empty() {
                return Err(Failure::Store(StoreError::UnknownApp(app)));
            }
            let mut keys = Vec::new();
            for row in &rows {
                let id: Option<i64> = row.try_get("id").context("listing keys")?;
                if id.is_some() {
                    keys.push(key_record(row)?);
                }
            }
            Ok(keys)
        })
    }

    async fn revoke_key(&self, app: AppId, id: i64) -> Result<bool, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            execute(
                &*client,
                "revoking a key",
                "UPDATE keys SET revoked = true WHERE app_id = $1 AND id = $2",
                &[&app_sql(app), &id],
            )
            .await
            .map(|changed| changed > 0)
        })
    }

    async fn find_key(&self, secret_hash: &str) -> Result<Option<KeyRecord>, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            let row = query_opt(
                &*client,
                "finding a key",
                "SELECT id, app_id, label, created, revoked FROM keys \
                 WHERE secret_hash = $1 AND NOT revoked",
                &[&secret_hash],
            )
            .await?;
            row.as_ref().map(key_record).transpose()
        })
    }

    async fn signing_secrets(&self) -> Result<SigningSecrets, StoreError> {
        let inner = &*self.inner;
        let found = with_client!(inner, inner.operation_timeout, |client| {
            audit::secrets(&*client).await
        })?;
        if let Some(secrets) = found {
            return Ok(secrets);
        }
        let mut candidate = vec![0u8; SIGNING_SECRET_BYTES];
        getrandom::fill(&mut candidate).map_err(|e| {
            StoreError::Backend(format!("no randomness for the signing secret: {e}"))
        })?;
        // Every node offers its own; the first insert wins and all read it.
        let current = self.offer_signing_secret(&candidate).await?;
        Ok(SigningSecrets {
            current,
            previous: None,
        })
    }

    async fn rotate_signing_secret(&self, grace_until: i64) -> Result<(), StoreError> {
        let inner = &*self.inner;
        let mut fresh = vec![0u8; SIGNING_SECRET_BYTES];
        getrandom::fill(&mut fresh).map_err(|e| {
            StoreError::Backend(format!("no randomness for the signing secret: {e}"))
        })?;
        with_client!(inner, inner.operation_timeout, |client| {
            audit::rotate(client, &fresh, grace_until).await
        })
    }

    async fn revoke_tokens(
        &self,
        revocation: TokenRevocation,
        draft: AuditDraft,
    ) -> Result<(), StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            audit::revoke_tokens(client, revocation, &draft).await
        })
    }

    async fn set_display_name(
        &self,
        app: AppId,
        user: SteamId,
        name: Option<String>,
    ) -> Result<(), StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            audit::set_display_name(&*client, app, user, name.as_deref()).await
        })
    }

    async fn display_name(&self, app: AppId, user: SteamId) -> Result<Option<String>, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            audit::display_name(&*client, app, user).await
        })
    }

    async fn token_revocations(&self) -> Result<TokenRevocations, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            audit::revocations(&*client).await
        })
    }

    async fn record_audit(&self, draft: AuditDraft) -> Result<i64, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            audit::insert(&*client, &draft).await
        })
    }

    async fn audit_log(&self, query: AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            audit::list(&*client, query).await
        })
    }

    async fn undo_reset(
        &self,
        id: i64,
        now: UnixTime,
        draft: AuditDraft,
    ) -> Result<laurel_store::Undone, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            audit::undo_reset(client, &inner.schemas, id, now, &draft).await
        })
    }

    async fn users(
        &self,
        app: AppId,
        after: Option<SteamId>,
        limit: usize,
    ) -> Result<Vec<SteamId>, StoreError> {
        let inner = &*self.inner;
        let limit = limit.min(MAX_USERS_PAGE);
        let [(low_a, high_a), (low_b, high_b)] = stored_id_ranges_after(after);
        // At most MAX_USERS_PAGE: the conversion is exact.
        let limit_sql = limit as i64;
        let stored = with_client!(inner, inner.operation_timeout, |client| {
            // Two index range scans, each in stored order, at most `limit` each;
            // the schema read says whether the app exists (one round trip).
            let (_, rows) = join_pipelined(
                existing_schema(&*client, &inner.schemas, app),
                query(
                    &*client,
                    "listing users",
                    "(SELECT steam_id FROM users \
                      WHERE app_id = $1 AND steam_id BETWEEN $2 AND $3 AND version > 0 \
                      ORDER BY steam_id LIMIT $6) \
                     UNION ALL \
                     (SELECT steam_id FROM users \
                      WHERE app_id = $1 AND steam_id BETWEEN $4 AND $5 AND version > 0 \
                      ORDER BY steam_id LIMIT $6)",
                    &[&app_sql(app), &low_a, &high_a, &low_b, &high_b, &limit_sql],
                ),
            )
            .await?;
            rows.iter()
                .map(|row| row.try_get::<_, i64>(0).context("listing users"))
                .collect::<Result<Vec<i64>, Failure>>()
        })?;
        users_page(stored, limit)
    }

    async fn import_user(
        &self,
        app: AppId,
        user: SteamId,
        progress: &UserProgress,
    ) -> Result<(), StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            writes::import_user(client, &inner.schemas, app, user, progress).await
        })
    }

    async fn stored_keys(&self, app: AppId) -> Result<Vec<StoredKey>, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            // As in `keys`: no row at all means no app.
            let rows = query(
                &*client,
                "listing keys",
                "SELECT k.id, a.app_id, k.label, k.created, k.revoked, k.secret_hash \
                 FROM apps a LEFT JOIN keys k ON k.app_id = a.app_id \
                 WHERE a.app_id = $1 ORDER BY k.id",
                &[&app_sql(app)],
            )
            .await?;
            if rows.is_empty() {
                return Err(Failure::Store(StoreError::UnknownApp(app)));
            }
            let mut keys = Vec::new();
            for row in &rows {
                let id: Option<i64> = row.try_get("id").context("listing keys")?;
                if id.is_some() {
                    keys.push(StoredKey {
                        record: key_record(row)?,
                        secret_hash: row.try_get("secret_hash").context("listing keys")?,
                    });
                }
            }
            Ok(keys)
        })
    }

    async fn import_key(&self, key: &StoredKey) -> Result<KeyRecord, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            writes::import_key(client, key).await
        })
    }

    async fn import_signing_secret(&self, secret: &[u8]) -> Result<bool, StoreError> {
        if secret.is_empty() {
            return Err(StoreError::InvalidImport(
                "the signing secret is empty".into(),
            ));
        }
        Ok(self.offer_signing_secret(secret).await? == secret)
    }

    async fn health(&self) -> Result<(), StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            client
                .simple_query("SELECT 1")
                .await
                .map(drop)
                .context("health check")
        })
    }

    /// Other nodes write the same database: what this process last saw of a
    /// user may be stale.
    fn shared_database(&self) -> bool {
        true
    }

    fn pool_status(&self) -> Option<laurel_store::PoolStatus> {
        let status = self.inner.pool.status();
        Some(laurel_store::PoolStatus {
            in_use: status.size.saturating_sub(status.available),
            idle: status.available,
            max: status.max_size,
        })
    }
}

/// The kept figures of the aggregated stats `query` names, for an app with
/// `users` users: one row per stat total, the history rows of the range.
fn global_stats_from_rows(
    schema: &Schema,
    users: i64,
    query: &GlobalStatsQuery,
    totals: &[tokio_postgres::Row],
    history: &[tokio_postgres::Row],
) -> Result<Vec<GlobalStat>, Failure> {
    use std::collections::HashMap;

    /// (stat name, kind code): the key of `stat_totals` and `stat_history` within an app.
    type StatKey = (String, i16);
    let mut sums: HashMap<StatKey, KeptSums> = HashMap::new();
    for row in totals {
        let what = "reading a stat total";
        sums.insert(
            (row.try_get(0).context(what)?, row.try_get(1).context(what)?),
            KeptSums {
                value_rows: row.try_get(2).context(what)?,
                int_sum: row.try_get(3).context(what)?,
                float_sum: row.try_get(4).context(what)?,
            },
        );
    }
    // (`day`, `int_change`, `float_change`) of each history row.
    let mut changes: HashMap<StatKey, Vec<(i64, i64, f64)>> = HashMap::new();
    for row in history {
        let what = "reading a stat's history";
        changes
            .entry((row.try_get(0).context(what)?, row.try_get(1).context(what)?))
            .or_default()
            .push((
                row.try_get(2).context(what)?,
                row.try_get(3).context(what)?,
                row.try_get(4).context(what)?,
            ));
    }
    let mut out = Vec::new();
    for def in queried_stats(schema, query) {
        let key = (def.name.to_string(), kind_code(def.kind));
        let sums = sums.get(&key).copied().unwrap_or_default();
        let history = match query.history {
            // Rows come ordered by day.
            Some(range) => daily_history(
                def.kind,
                range,
                changes.get(&key).into_iter().flatten().copied(),
            ),
            None => Vec::new(),
        };
        out.push(GlobalStat {
            name: def.name.to_string(),
            kind: def.kind,
            total: stat_total(def, users, sums),
            history,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_passwords() {
        let cases = [
            (
                "postgres://laurel@127.0.0.1:5432/db",
                "postgres://laurel@127.0.0.1:5432/db",
            ),
            (
                "postgres://laurel:s3cr:et@db.internal/laurel",
                "postgres://laurel:***@db.internal/laurel",
            ),
            (
                "postgresql://u:p%40ss@h/db?password=other&sslmode=disable",
                "postgresql://u:***@h/db?password=***&sslmode=disable",
            ),
            (
                "host=db user=laurel password=secret dbname=x",
                "host=db user=laurel password=*** dbname=x",
            ),
            (
                "host=db password='se cr\\'et' user=u",
                "host=db password=*** user=u",
            ),
            ("password=", "password=***"),
        ];
        for (url, shown) in cases {
            assert_eq!(redacted_url(url), shown, "{url}");
        }
        let options = PostgresOptions::new("postgres://laurel:hunter2@db/laurel");
        assert!(!format!("{options:?}").contains("hunter2"));
    }
}
