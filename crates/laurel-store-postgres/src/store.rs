//! The [`Store`] calls of [`PostgresStore`]: each one call of
//! [`with_client!`] (a transaction, or one statement) on a pooled connection.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Object};
use laurel_core::leaderboard::{BoardName, LeaderboardDef};
use laurel_core::{AppId, ResetScope, Schema, SteamId, UnixTime, UserProgress};
use laurel_store::audit::{check_imported_secret, fresh_signing_secret};
use laurel_store::boards::{
    Board, BoardChanges, BoardId, BoardSummary, PeriodStart, StoredEntry, UploadReply,
    UploadRequest,
};
use laurel_store::figures::{
    KeptSums, check_history_range, daily_history, global_achievements, queried_stats, stat_total,
};
use laurel_store::{
    AppSummary, AuditDraft, AuditQuery, AuditRecord, GlobalAchievements, GlobalStat,
    GlobalStatsQuery, KeyRecord, MAX_USERS_PAGE, SigningSecrets, Store, StoreError, StoreReply,
    StoreRequest, StoredKey, StoredSchema, TokenRevocation, TokenRevocations,
    stored_id_ranges_after, users_page,
};
use tokio_postgres::IsolationLevel;

use crate::connection::{
    Context, Failure, execute, join_pipelined, join3_pipelined, query, query_opt,
};
use crate::purge::purge_if_due;
use crate::rows::{
    app_from_sql, app_sql, count, current_schema, existing_schema, kind_code, visible,
};
use crate::{PostgresStore, audit, boards, rows, writes};

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
}

fn read_only(client: &mut Object) -> deadpool_postgres::TransactionBuilder<'_> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
}

/// The app's user count: the sum of its `app_users` rows (0 without any).
/// One statement, so that it pipelines with the other reads of a figure.
async fn app_user_count<C: GenericClient>(client: &C, app: AppId) -> Result<i64, Failure> {
    let what = "reading the app's user count";
    let row = query_opt(
        client,
        what,
        "SELECT coalesce(sum(users), 0)::bigint FROM app_users WHERE app_id = $1",
        &[&app_sql(app)],
    )
    .await?;
    match row {
        Some(row) => row.try_get(0).context(what),
        None => Ok(0),
    }
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

/// The rows of every key of `app` (`id, app_id, label, created, revoked,
/// secret_hash`), by id, for `keys` and `stored_keys`. One statement: no row
/// at all means no app; the one row without a key of an app without keys is
/// dropped.
async fn app_key_rows(
    client: &deadpool_postgres::Client,
    app: AppId,
) -> Result<Vec<tokio_postgres::Row>, Failure> {
    let rows = query(
        client,
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
    let mut keys = Vec::with_capacity(rows.len());
    for row in rows {
        let id: Option<i64> = row.try_get("id").context("listing keys")?;
        if id.is_some() {
            keys.push(row);
        }
    }
    Ok(keys)
}

#[async_trait]
impl Store for PostgresStore {
    async fn put_schema(&self, app: AppId, schema: Schema) -> Result<u64, StoreError> {
        let json = laurel_store::rows::schema_json(&schema)?;
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
        let now = request.now;
        let reply = crate::store_groups::store(&self.inner, request).await?;
        self.inner.purge.clock.fetch_max(now, Ordering::Relaxed);
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
                app_user_count(&tx, app),
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
            let mut by_name = std::collections::HashMap::new();
            for row in &counts {
                let name: String = row.try_get(0).context("reading unlock counts")?;
                let n: i64 = row.try_get(1).context("reading unlock counts")?;
                by_name.insert(name, n);
            }
            Ok(global_achievements(&schema.schema, users, |name| {
                by_name.get(name).copied()
            })?)
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
                app_user_count(&tx, app),
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
            app_key_rows(&*client, app)
                .await?
                .iter()
                .map(key_record)
                .collect()
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
        // Every node offers its own; the first insert wins and all read it.
        let current = self.offer_signing_secret(&fresh_signing_secret()?).await?;
        Ok(SigningSecrets {
            current,
            previous: None,
        })
    }

    async fn rotate_signing_secret(&self, grace_until: i64) -> Result<(), StoreError> {
        let inner = &*self.inner;
        let fresh = fresh_signing_secret()?;
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
            let rows = app_key_rows(&*client, app).await?;
            rows.iter()
                .map(|row| {
                    Ok(StoredKey {
                        record: key_record(row)?,
                        secret_hash: row.try_get("secret_hash").context("listing keys")?,
                    })
                })
                .collect()
        })
    }

    async fn import_key(&self, key: &StoredKey) -> Result<KeyRecord, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            writes::import_key(client, key).await
        })
    }

    async fn import_signing_secret(&self, secret: &[u8]) -> Result<bool, StoreError> {
        check_imported_secret(secret)?;
        Ok(self.offer_signing_secret(secret).await? == secret)
    }

    async fn leaderboards(
        &self,
        app: AppId,
        now: UnixTime,
    ) -> Result<Vec<BoardSummary>, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            boards::list(&*client, app, now).await
        })
    }

    async fn leaderboard(&self, app: AppId, name: &BoardName) -> Result<Option<Board>, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            boards::find(&*client, app, name).await
        })
    }

    async fn create_leaderboard(
        &self,
        app: AppId,
        def: &LeaderboardDef,
    ) -> Result<(Board, bool), StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            boards::create(client, app, def).await
        })
    }

    async fn delete_leaderboard(
        &self,
        app: AppId,
        board: BoardId,
        draft: AuditDraft,
    ) -> Result<bool, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            boards::delete_board(client, app, board, &draft).await
        })
    }

    async fn reset_leaderboard(
        &self,
        app: AppId,
        board: BoardId,
        draft: AuditDraft,
    ) -> Result<u64, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            boards::reset_board(client, app, board, &draft).await
        })
    }

    async fn delete_leaderboard_entry(
        &self,
        app: AppId,
        board: BoardId,
        period: PeriodStart,
        user: SteamId,
        draft: AuditDraft,
    ) -> Result<bool, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            boards::delete_entry(client, (app, board), period, user, &draft).await
        })
    }

    async fn upload_score(&self, request: UploadRequest) -> Result<UploadReply, StoreError> {
        let inner = &*self.inner;
        let keyed = request.idempotency.is_some();
        let now = request.now;
        let reply = crate::upload_groups::upload(&self.inner, request).await?;
        if keyed {
            inner.purge.clock.fetch_max(now, Ordering::Relaxed);
            purge_if_due(&self.inner);
        }
        Ok(reply)
    }

    async fn board_changes(
        &self,
        app: AppId,
        board: BoardId,
        period: PeriodStart,
        cursor: u64,
    ) -> Result<BoardChanges, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            boards::changes(&*client, app, board, period, cursor).await
        })
    }

    async fn set_friends(
        &self,
        app: AppId,
        user: SteamId,
        friends: &[SteamId],
    ) -> Result<(), StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            boards::set_friends(client, app, user, friends).await
        })
    }

    async fn friends(&self, app: AppId, user: SteamId) -> Result<Vec<SteamId>, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            boards::friends(&*client, app, user).await
        })
    }

    async fn friend_lists(&self, app: AppId) -> Result<Vec<(SteamId, Vec<SteamId>)>, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.operation_timeout, |client| {
            boards::friend_lists(&*client, app).await
        })
    }

    async fn stored_entries(
        &self,
        app: AppId,
        board: BoardId,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.schema_timeout, |client| {
            boards::stored_entries(&*client, app, board).await
        })
    }

    async fn import_entries(
        &self,
        app: AppId,
        board: BoardId,
        entries: &[StoredEntry],
    ) -> Result<(), StoreError> {
        let inner = &*self.inner;
        with_client!(inner, inner.schema_timeout, |client| {
            boards::import_entries(client, app, board, entries).await
        })
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
