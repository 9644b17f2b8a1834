//! The rare writes that run alone, each in its own transaction: schemas,
//! keys, the signing secret, the audit log, display names, revocations.

use laurel_core::{AppId, SteamId, UnixTime};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::rows::{Context, app_sql, schema_version, user_sql};
use laurel_store::audit::fresh_signing_secret;
use laurel_store::audit::{self, AuditDraft, TokenRevocation};
use laurel_store::{KeyRecord, StoreError, StoredKey};

pub(super) fn in_transaction<T>(
    conn: &mut Connection,
    what: &str,
    work: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .context(what)?;
    let value = work(&tx)?;
    tx.commit().context(what)?;
    Ok(value)
}

pub(super) fn put_schema(
    conn: &Connection,
    app: AppId,
    name: &str,
    json: &str,
) -> Result<u64, StoreError> {
    let version: i64 = conn
        .prepare_cached(
            "INSERT INTO apps (app_id, name, schema_json, schema_version, users) \
             VALUES (?1, ?2, ?3, 1, 0) \
             ON CONFLICT (app_id) DO UPDATE SET name = excluded.name, \
             schema_json = excluded.schema_json, schema_version = apps.schema_version + 1 \
             RETURNING schema_version",
        )
        .and_then(|mut s| s.query_row((app_sql(app), name, json), |r| r.get(0)))
        .context("writing a schema")?;
    u64::try_from(version)
        .map_err(|_| StoreError::Backend(format!("schema version {version} is negative")))
}

pub(super) fn create_key(
    conn: &Connection,
    app: AppId,
    label: &str,
    secret_hash: &str,
    now: UnixTime,
) -> Result<KeyRecord, StoreError> {
    schema_version(conn, app)?.ok_or(StoreError::UnknownApp(app))?;
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO keys (app_id, label, secret_hash, created, revoked) \
             VALUES (?1, ?2, ?3, ?4, 0) RETURNING id",
        )
        .and_then(|mut s| s.query_row((app_sql(app), label, secret_hash, now), |r| r.get(0)))
        .context("writing a key")?;
    Ok(KeyRecord {
        id,
        app,
        label: label.to_owned(),
        created: now,
        revoked: false,
    })
}

/// Records a key as given; it keeps its id if that is free.
pub(super) fn import_key(conn: &Connection, key: &StoredKey) -> Result<KeyRecord, StoreError> {
    let record = &key.record;
    let app = record.app;
    schema_version(conn, app)?.ok_or(StoreError::UnknownApp(app))?;
    let taken = |sql: &str, what: &str, value: &dyn rusqlite::ToSql| {
        conn.prepare_cached(sql)
            .and_then(|mut s| s.query_row([value], |_| Ok(())).optional())
            .context(what)
            .map(|row| row.is_some())
    };
    if taken(
        "SELECT 1 FROM keys WHERE secret_hash = ?1",
        "looking for a key's hash",
        &key.secret_hash,
    )? {
        return Err(StoreError::AlreadyExists(format!(
            "a key with the secret hash of key {} of app {app}",
            record.id
        )));
    }
    let id_free = record.id > 0
        && !taken(
            "SELECT 1 FROM keys WHERE id = ?1",
            "looking for a key's id",
            &record.id,
        )?;
    let values = (
        app_sql(app),
        record.label.as_str(),
        key.secret_hash.as_str(),
        record.created,
        record.revoked,
    );
    // AUTOINCREMENT keeps later ids above an id given explicitly.
    let id: i64 = if id_free {
        conn.prepare_cached(
            "INSERT INTO keys (id, app_id, label, secret_hash, created, revoked) \
             VALUES (?6, ?1, ?2, ?3, ?4, ?5) RETURNING id",
        )
        .and_then(|mut s| {
            s.query_row(
                (values.0, values.1, values.2, values.3, values.4, record.id),
                |r| r.get(0),
            )
        })
    } else {
        conn.prepare_cached(
            "INSERT INTO keys (app_id, label, secret_hash, created, revoked) \
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        )
        .and_then(|mut s| s.query_row(values, |r| r.get(0)))
    }
    .context("writing an imported key")?;
    Ok(KeyRecord {
        id,
        ..record.clone()
    })
}

/// Sets the signing secret if there is none; whether it is now `secret`.
pub(super) fn import_signing_secret(conn: &Connection, secret: &[u8]) -> Result<bool, StoreError> {
    Ok(offer_signing_secret(conn, || Ok(secret.to_vec()))? == secret)
}

/// The signing secret, made from `candidate` first when there is none (the
/// candidate is only made then): creating it and importing one differ only
/// in where the candidate comes from.
fn offer_signing_secret(
    conn: &Connection,
    candidate: impl FnOnce() -> Result<Vec<u8>, StoreError>,
) -> Result<Vec<u8>, StoreError> {
    let existing: Option<Vec<u8>> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'signing_secret'",
            [],
            |r| r.get(0),
        )
        .optional()
        .context("reading the signing secret")?;
    if let Some(secret) = existing {
        return Ok(secret);
    }
    let secret = candidate()?;
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('signing_secret', ?1)",
        [&secret],
    )
    .context("writing the signing secret")?;
    Ok(secret)
}

/// Appends a record to the audit log; its id.
pub(super) fn insert_audit(conn: &Connection, draft: &AuditDraft) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO audit_log (at_ms, actor, address, action, app_id, steam_id, detail) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute((
            laurel_store::unix_now_ms(),
            &draft.actor,
            &draft.address,
            draft.action,
            draft.app.map(app_sql),
            draft.user.map(user_sql),
            draft.detail.to_string(),
        ))
    })
    .context("recording an audit entry")?;
    Ok(conn.last_insert_rowid())
}

pub(super) fn read_audit(conn: &Connection, id: i64) -> Result<audit::AuditRecord, StoreError> {
    let row = conn
        .prepare_cached(&format!("{} WHERE id = ?1", crate::rows::AUDIT_SELECT))
        .and_then(|mut s| s.query_row([id], crate::rows::audit_row).optional())
        .context("reading an audit record")?
        .ok_or_else(|| StoreError::NotFound(format!("no audit record {id}")))?;
    row.into_record()
}

pub(super) fn set_display_name(
    conn: &Connection,
    app: AppId,
    user: SteamId,
    name: Option<&str>,
) -> Result<(), StoreError> {
    match name {
        Some(name) => conn
            .prepare_cached(
                "INSERT INTO user_profiles (app_id, steam_id, display_name, updated_ms) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (app_id, steam_id) \
                 DO UPDATE SET display_name = excluded.display_name, updated_ms = excluded.updated_ms",
            )
            .and_then(|mut s| s.execute((app_sql(app), user_sql(user), name, laurel_store::unix_now_ms()))),
        None => conn
            .prepare_cached("DELETE FROM user_profiles WHERE app_id = ?1 AND steam_id = ?2")
            .and_then(|mut s| s.execute((app_sql(app), user_sql(user)))),
    }
    .context("setting a display name")?;
    Ok(())
}

pub(super) fn revoke_tokens(conn: &Connection, r: TokenRevocation) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO token_revocations (app_id, steam_id, not_before_ms) VALUES (?1, ?2, ?3) \
         ON CONFLICT (app_id, steam_id) \
         DO UPDATE SET not_before_ms = max(not_before_ms, excluded.not_before_ms)",
    )
    .and_then(|mut s| s.execute((app_sql(r.app), r.user.map_or(0, user_sql), r.not_before_ms)))
    .context("revoking tokens")?;
    Ok(())
}

pub(super) fn rotate_signing_secret(
    conn: &Transaction<'_>,
    grace_until: i64,
) -> Result<(), StoreError> {
    let current = signing_secret(conn)?;
    let fresh = fresh_signing_secret()?;
    let mut put = conn
        .prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")
        .context("rotating the signing secret")?;
    for (key, value) in [
        ("previous_signing_secret", current),
        (
            "previous_signing_secret_until",
            grace_until.to_be_bytes().to_vec(),
        ),
        ("signing_secret", fresh),
    ] {
        put.execute((key, value))
            .context("rotating the signing secret")?;
    }
    Ok(())
}

pub(super) fn signing_secret(conn: &Transaction<'_>) -> Result<Vec<u8>, StoreError> {
    offer_signing_secret(conn, fresh_signing_secret)
}
