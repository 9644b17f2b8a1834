//! The [`Store`] calls of [`SqliteStore`]: reads on the read-only pool,
//! writes sent to the writer thread.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use laurel_core::leaderboard::{BoardName, LeaderboardDef};
use laurel_core::{AppId, ResetScope, Schema, SteamId, UnixTime, UserProgress};
use laurel_store::boards::{
    Board, BoardChanges, BoardId, BoardSummary, PeriodStart, StoredEntry, UploadReply,
    UploadRequest,
};
use rusqlite::OptionalExtension;

use crate::rows::{
    Context, app_from_sql, app_sql, app_user_count, count, key_from_row, key_record,
    load_global_stats, load_progress, load_schema, revoked_user, visible,
};
use crate::writer::{Command, GroupItem, SingleCommand};
use laurel_store::audit::check_imported_secret;
use laurel_store::figures::global_achievements;
use laurel_store::rows::AuditRow;
use laurel_store::{
    AppSummary, GlobalAchievements, GlobalStat, GlobalStatsQuery, KeyRecord, MAX_USERS_PAGE, Store,
    StoreError, StoreReply, StoreRequest, StoredKey, StoredSchema, stored_id_ranges_after,
    users_page,
};
use laurel_store::{
    AuditDraft, AuditQuery, AuditRecord, MAX_AUDIT_PAGE, SigningSecrets, TokenRevocation,
    TokenRevocations, Undone,
};

use crate::{SqliteStore, rows};

#[async_trait]
impl Store for SqliteStore {
    async fn put_schema(&self, app: AppId, schema: Schema) -> Result<u64, StoreError> {
        // Serialized here, on the caller's task: the writer thread is the one
        // resource every write shares.
        let json = laurel_store::rows::schema_json(&schema)?;
        let schema = Arc::new(schema);
        self.write(|reply| {
            Command::Single(SingleCommand::PutSchema {
                app,
                schema,
                json,
                reply,
            })
        })
        .await
    }

    async fn schema(&self, app: AppId) -> Result<Option<StoredSchema>, StoreError> {
        self.check_open()?;
        if let Some(cached) = self.schemas.get(app) {
            return Ok(Some(cached));
        }
        let loaded = self.reads.run(move |c| load_schema(c, app)).await?;
        Ok(loaded.map(|stored| {
            self.schemas.offer(stored.clone());
            // The cache may already hold a newer version than this read saw.
            self.schemas.get(app).unwrap_or(stored)
        }))
    }

    async fn apps(&self) -> Result<Vec<AppSummary>, StoreError> {
        self.check_open()?;
        self.reads
            .run(|c| {
                let rows = c
                    .prepare_cached(
                        "SELECT app_id, name, schema_version, users FROM apps ORDER BY app_id",
                    )
                    .and_then(|mut s| {
                        s.query_map([], |r| {
                            Ok((
                                r.get::<_, i64>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, i64>(2)?,
                                r.get::<_, i64>(3)?,
                            ))
                        })?
                        .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .context("listing apps")?;
                rows.into_iter()
                    .map(|(app, name, version, users)| {
                        Ok(AppSummary {
                            app: app_from_sql(app)?,
                            name,
                            schema_version: count(version, "schema version")?,
                            users: count(users, "user count")?,
                        })
                    })
                    .collect()
            })
            .await
    }

    async fn progress(&self, app: AppId, user: SteamId) -> Result<UserProgress, StoreError> {
        let schema = self.existing_schema(app).await?;
        let stored = self
            .reads
            .run(move |c| {
                // One read transaction: the version and the rows are one snapshot.
                let tx = c.transaction().context("beginning a read")?;
                load_progress(&tx, app, user)
            })
            .await?;
        Ok(visible(stored, &schema.schema))
    }

    async fn store(&self, request: StoreRequest) -> Result<StoreReply, StoreError> {
        let request = Box::new(request);
        self.write(|reply| Command::Group(GroupItem::Store { request, reply }))
            .await
    }

    async fn reset(
        &self,
        app: AppId,
        user: SteamId,
        scope: ResetScope,
        now: UnixTime,
        audit: AuditDraft,
    ) -> Result<UserProgress, StoreError> {
        self.write(|reply| {
            Command::Group(GroupItem::Reset {
                app,
                user,
                scope,
                now,
                audit: Box::new(audit),
                reply,
            })
        })
        .await
    }

    async fn global_achievements(&self, app: AppId) -> Result<GlobalAchievements, StoreError> {
        let schema = self.existing_schema(app).await?;
        let (users, counts) = self
            .reads
            .run(move |c| {
                let tx = c.transaction().context("beginning a read")?;
                let users = app_user_count(&tx, app)?;
                let counts = tx
                    .prepare_cached("SELECT name, users FROM achievement_unlocks WHERE app_id = ?1")
                    .and_then(|mut s| {
                        s.query_map([app_sql(app)], |r| {
                            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                        })?
                        .collect::<rusqlite::Result<BTreeMap<_, _>>>()
                    })
                    .context("reading unlock counts")?;
                Ok((users, counts))
            })
            .await?;
        global_achievements(&schema.schema, users, |name| counts.get(name).copied())
    }

    async fn global_stats(
        &self,
        app: AppId,
        query: GlobalStatsQuery,
    ) -> Result<Vec<GlobalStat>, StoreError> {
        let schema = self.existing_schema(app).await?;
        self.reads
            .run(move |c| {
                // One read transaction: the user count and the sums are one snapshot.
                let tx = c.transaction().context("beginning a read")?;
                let users = app_user_count(&tx, app)?;
                load_global_stats(&tx, app, &schema.schema, users, &query)
            })
            .await
    }

    async fn create_key(
        &self,
        app: AppId,
        label: &str,
        secret_hash: &str,
        now: UnixTime,
    ) -> Result<KeyRecord, StoreError> {
        let (label, secret_hash) = (label.to_owned(), secret_hash.to_owned());
        self.write(|reply| {
            Command::Single(SingleCommand::CreateKey {
                app,
                label,
                secret_hash,
                now,
                reply,
            })
        })
        .await
    }

    async fn keys(&self, app: AppId) -> Result<Vec<KeyRecord>, StoreError> {
        self.existing_schema(app).await?;
        self.reads
            .run(move |c| {
                let rows = c
                    .prepare_cached(
                        "SELECT id, app_id, label, created, revoked FROM keys \
                         WHERE app_id = ?1 ORDER BY id",
                    )
                    .and_then(|mut s| {
                        s.query_map([app_sql(app)], key_from_row)?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .context("listing keys")?;
                rows.into_iter().map(key_record).collect()
            })
            .await
    }

    async fn revoke_key(&self, app: AppId, id: i64) -> Result<bool, StoreError> {
        self.write(|reply| Command::Single(SingleCommand::RevokeKey { app, id, reply }))
            .await
    }

    async fn find_key(&self, secret_hash: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.check_open()?;
        let secret_hash = secret_hash.to_owned();
        self.reads
            .run(move |c| {
                let row = c
                    .prepare_cached(
                        "SELECT id, app_id, label, created, revoked FROM keys \
                         WHERE secret_hash = ?1 AND revoked = 0",
                    )
                    .and_then(|mut s| s.query_row([&secret_hash], key_from_row).optional())
                    .context("finding a key")?;
                row.map(key_record).transpose()
            })
            .await
    }

    async fn signing_secrets(&self) -> Result<SigningSecrets, StoreError> {
        self.check_open()?;
        let found = self
            .reads
            .run(|c| {
                let secrets = c
                    .prepare_cached(
                        "SELECT key, value FROM meta WHERE key IN ('signing_secret', \
                         'previous_signing_secret', 'previous_signing_secret_until')",
                    )
                    .and_then(|mut s| {
                        s.query_map([], |r| {
                            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
                        })?
                        .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .context("reading the signing secrets")?;
                Ok(SigningSecrets::from_meta(secrets))
            })
            .await?;
        if let Some(secrets) = found {
            return Ok(secrets);
        }
        // The writer creates it unless another caller got there first.
        let current = self
            .write(|reply| Command::Single(SingleCommand::SigningSecret { reply }))
            .await?;
        Ok(SigningSecrets {
            current,
            previous: None,
        })
    }

    async fn rotate_signing_secret(&self, grace_until: i64) -> Result<(), StoreError> {
        self.write(|reply| {
            Command::Single(SingleCommand::RotateSigningSecret { grace_until, reply })
        })
        .await
    }

    async fn revoke_tokens(
        &self,
        revocation: TokenRevocation,
        audit: AuditDraft,
    ) -> Result<(), StoreError> {
        self.write(|reply| {
            Command::Single(SingleCommand::RevokeTokens {
                revocation,
                audit: Box::new(audit),
                reply,
            })
        })
        .await
    }

    async fn token_revocations(&self) -> Result<TokenRevocations, StoreError> {
        self.check_open()?;
        self.reads
            .run(|c| {
                let rows = c
                    .prepare_cached("SELECT app_id, steam_id, not_before_ms FROM token_revocations")
                    .and_then(|mut s| {
                        s.query_map([], |r| {
                            Ok((
                                r.get::<_, i64>(0)?,
                                r.get::<_, i64>(1)?,
                                r.get::<_, i64>(2)?,
                            ))
                        })?
                        .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .context("reading token revocations")?;
                let revoked_keys = c
                    .prepare_cached("SELECT id FROM keys WHERE revoked = 1")
                    .and_then(|mut s| {
                        s.query_map([], |r| r.get::<_, i64>(0))?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .context("reading revoked keys")?;
                let revocations = rows
                    .into_iter()
                    .map(|(app, user, not_before_ms)| {
                        Ok(TokenRevocation {
                            app: app_from_sql(app)?,
                            user: revoked_user(user)?,
                            not_before_ms,
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                Ok(TokenRevocations {
                    revocations,
                    revoked_keys,
                })
            })
            .await
    }

    async fn set_display_name(
        &self,
        app: AppId,
        user: SteamId,
        name: Option<String>,
    ) -> Result<(), StoreError> {
        self.write(|reply| {
            Command::Single(SingleCommand::SetDisplayName {
                app,
                user,
                name,
                reply,
            })
        })
        .await
    }

    async fn display_name(&self, app: AppId, user: SteamId) -> Result<Option<String>, StoreError> {
        self.check_open()?;
        self.reads
            .run(move |c| {
                c.prepare_cached(
                    "SELECT display_name FROM user_profiles WHERE app_id = ?1 AND steam_id = ?2",
                )
                .and_then(|mut s| {
                    s.query_row((rows::app_sql(app), rows::user_sql(user)), |r| r.get(0))
                        .optional()
                })
                .context("reading a display name")
            })
            .await
    }

    async fn record_audit(&self, draft: AuditDraft) -> Result<i64, StoreError> {
        self.write(|reply| {
            Command::Single(SingleCommand::RecordAudit {
                draft: Box::new(draft),
                reply,
            })
        })
        .await
    }

    async fn audit_log(&self, query: AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        self.check_open()?;
        let limit = query.limit.min(MAX_AUDIT_PAGE) as i64;
        let before = query.before.unwrap_or(i64::MAX);
        let app = query.app.map(app_sql);
        self.reads
            .run(move |c| {
                let rows = c
                    .prepare_cached(&format!(
                        "{} WHERE id < ?1 AND (?2 IS NULL OR app_id = ?2) \
                         ORDER BY id DESC LIMIT ?3",
                        rows::AUDIT_SELECT
                    ))
                    .and_then(|mut s| {
                        s.query_map((before, app, limit), rows::audit_row)?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .context("listing the audit log")?;
                rows.into_iter().map(AuditRow::into_record).collect()
            })
            .await
    }

    async fn undo_reset(
        &self,
        id: i64,
        now: UnixTime,
        audit: AuditDraft,
    ) -> Result<Undone, StoreError> {
        self.write(|reply| {
            Command::Group(GroupItem::UndoReset {
                id,
                now,
                audit: Box::new(audit),
                reply,
            })
        })
        .await
    }

    async fn users(
        &self,
        app: AppId,
        after: Option<SteamId>,
        limit: usize,
    ) -> Result<Vec<SteamId>, StoreError> {
        self.existing_schema(app).await?;
        let limit = limit.min(MAX_USERS_PAGE);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let [(low_a, high_a), (low_b, high_b)] = stored_id_ranges_after(after);
        let stored = self
            .reads
            .run(move |c| {
                // Two index range scans, each in stored order, at most `limit` each.
                c.prepare_cached(
                    "SELECT steam_id FROM (SELECT steam_id FROM users \
                     WHERE app_id = ?1 AND steam_id BETWEEN ?2 AND ?3 AND version > 0 \
                     ORDER BY steam_id LIMIT ?6) \
                     UNION ALL \
                     SELECT steam_id FROM (SELECT steam_id FROM users \
                     WHERE app_id = ?1 AND steam_id BETWEEN ?4 AND ?5 AND version > 0 \
                     ORDER BY steam_id LIMIT ?6)",
                )
                .and_then(|mut s| {
                    s.query_map(
                        (app_sql(app), low_a, high_a, low_b, high_b, limit as i64),
                        |r| r.get::<_, i64>(0),
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .context("listing users")
            })
            .await?;
        users_page(stored, limit)
    }

    async fn import_user(
        &self,
        app: AppId,
        user: SteamId,
        progress: &UserProgress,
    ) -> Result<(), StoreError> {
        let progress = Box::new(progress.clone());
        self.write(|reply| {
            Command::Group(GroupItem::Import {
                app,
                user,
                progress,
                reply,
            })
        })
        .await
    }

    async fn stored_keys(&self, app: AppId) -> Result<Vec<StoredKey>, StoreError> {
        self.existing_schema(app).await?;
        self.reads
            .run(move |c| {
                let rows = c
                    .prepare_cached(
                        "SELECT id, app_id, label, created, revoked, secret_hash FROM keys \
                         WHERE app_id = ?1 ORDER BY id",
                    )
                    .and_then(|mut s| {
                        s.query_map([app_sql(app)], |r| {
                            Ok((key_from_row(r)?, r.get::<_, String>(5)?))
                        })?
                        .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .context("listing keys")?;
                rows.into_iter()
                    .map(|(row, secret_hash)| {
                        Ok(StoredKey {
                            record: key_record(row)?,
                            secret_hash,
                        })
                    })
                    .collect()
            })
            .await
    }

    async fn import_key(&self, key: &StoredKey) -> Result<KeyRecord, StoreError> {
        let key = Box::new(key.clone());
        self.write(|reply| Command::Single(SingleCommand::ImportKey { key, reply }))
            .await
    }

    async fn import_signing_secret(&self, secret: &[u8]) -> Result<bool, StoreError> {
        check_imported_secret(secret)?;
        let secret = secret.to_vec();
        self.write(|reply| Command::Single(SingleCommand::ImportSigningSecret { secret, reply }))
            .await
    }

    async fn leaderboards(
        &self,
        app: AppId,
        now: UnixTime,
    ) -> Result<Vec<BoardSummary>, StoreError> {
        self.list_boards(app, now).await
    }

    async fn leaderboard(&self, app: AppId, name: &BoardName) -> Result<Option<Board>, StoreError> {
        self.find_board(app, name).await
    }

    async fn create_leaderboard(
        &self,
        app: AppId,
        def: &LeaderboardDef,
    ) -> Result<(Board, bool), StoreError> {
        self.create_board(app, def).await
    }

    async fn delete_leaderboard(
        &self,
        app: AppId,
        board: BoardId,
        audit: AuditDraft,
    ) -> Result<bool, StoreError> {
        self.delete_board(app, board, audit).await
    }

    async fn reset_leaderboard(
        &self,
        app: AppId,
        board: BoardId,
        audit: AuditDraft,
    ) -> Result<u64, StoreError> {
        self.reset_board(app, board, audit).await
    }

    async fn delete_leaderboard_entry(
        &self,
        app: AppId,
        board: BoardId,
        period: PeriodStart,
        user: SteamId,
        audit: AuditDraft,
    ) -> Result<bool, StoreError> {
        self.delete_entry((app, board, period, user), audit).await
    }

    async fn upload_score(&self, request: UploadRequest) -> Result<UploadReply, StoreError> {
        self.upload(request).await
    }

    async fn board_changes(
        &self,
        app: AppId,
        board: BoardId,
        period: PeriodStart,
        cursor: u64,
    ) -> Result<BoardChanges, StoreError> {
        self.changes(app, board, period, cursor).await
    }

    async fn set_friends(
        &self,
        app: AppId,
        user: SteamId,
        friends: &[SteamId],
    ) -> Result<(), StoreError> {
        self.put_friends(app, user, friends).await
    }

    async fn friends(&self, app: AppId, user: SteamId) -> Result<Vec<SteamId>, StoreError> {
        self.read_friends(app, user).await
    }

    async fn friend_lists(&self, app: AppId) -> Result<Vec<(SteamId, Vec<SteamId>)>, StoreError> {
        self.read_friend_lists(app).await
    }

    async fn stored_entries(
        &self,
        app: AppId,
        board: BoardId,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        self.entries_of(app, board).await
    }

    async fn import_entries(
        &self,
        app: AppId,
        board: BoardId,
        entries: &[StoredEntry],
    ) -> Result<(), StoreError> {
        self.import_board_entries(app, board, entries).await
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.check_open()?;
        if self.commands.as_ref().is_none_or(|c| c.is_closed()) {
            return Err(StoreError::Unavailable(
                "the writer thread has stopped".into(),
            ));
        }
        self.reads
            .run(|c| {
                c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                    .context("health check")
                    .map(drop)
            })
            .await
    }
}
