//! The audit log (a reset's record and its undo), token revocations and
//! secret rotation.

use super::*;

/// The app's newest `limit` audit records.
async fn newest(store: &dyn Store, app: AppId, limit: usize) -> Vec<crate::AuditRecord> {
    store
        .audit_log(crate::AuditQuery {
            app: Some(app),
            before: None,
            limit,
        })
        .await
        .expect("audit")
}

/// Issue 12's audit log: a reset is recorded with the stored progress
/// before it, in the same transaction; its undo puts back exactly that
/// progress (as a new version) and the global figures it moved, once; an
/// undo that would lose later progress is refused and changes nothing.
pub async fn a_reset_is_recorded_and_its_undo_restores_exactly(store: &dyn Store) {
    let app = app(77);
    store
        .put_schema(app, aggregated_schema())
        .await
        .expect("put");
    let (p, q) = (user(1), user(2));
    for (who, kills, speed) in [(p, 40.0, 7.0), (q, 5.0, 1.0)] {
        store
            .store(request(
                app,
                who,
                "first",
                vec![
                    set("Kills", kills),
                    set("Distance", 0.1),
                    avg("Speed", speed, 3.0),
                    set("Plain", 3.0),
                    unlock("A"),
                ],
                NOW,
            ))
            .await
            .expect("store");
    }
    let before_totals = totals(store, app).await;
    let before_unlocks = unlocks(store, app).await;
    let before = store.progress(app, p).await.expect("read");
    let after = store
        .reset(app, p, ResetScope::full(true), NOW, test_audit())
        .await
        .expect("reset");
    assert_eq!(after.version, before.version + 1);
    assert_ne!(totals(store, app).await, before_totals);
    assert_eq!(unlocks(store, app).await.1.get("A"), Some(&1));

    let log = newest(store, app, 10).await;
    assert_eq!(log.len(), 1, "{log:?}");
    let record = &log[0];
    assert_eq!(
        (
            record.action.as_str(),
            record.app,
            record.user,
            record.actor.as_str()
        ),
        (crate::audit::action::RESET, Some(app), Some(p), "test")
    );
    let (recorded, after_version) = crate::audit::reset_before(&record.detail).expect("detail");
    assert_eq!(after_version, after.version);
    assert_eq!(recorded.version, before.version);

    let undone = store
        .undo_reset(
            record.id,
            NOW,
            AuditDraft::new("admin", "127.0.0.1", action::UNDO_RESET),
        )
        .await
        .expect("undo");
    assert_eq!((undone.app, undone.user), (app, p));
    let restored = undone.progress;
    assert_eq!(restored.version, after.version + 1);
    assert_eq!(restored.achievements, before.achievements);
    for (name, value) in &before.stats {
        let back = restored.stats[name];
        match (value, back) {
            (StatValue::Float(a), StatValue::Float(b)) => assert_eq!(a.to_bits(), b.to_bits()),
            (
                StatValue::AvgRate {
                    count: c,
                    seconds: s,
                },
                StatValue::AvgRate { count, seconds },
            ) => {
                assert_eq!(
                    (c.to_bits(), s.to_bits()),
                    (count.to_bits(), seconds.to_bits())
                )
            }
            (a, b) => assert_eq!(*a, b, "{name}"),
        }
    }
    assert_eq!(store.progress(app, p).await.expect("read"), restored);
    assert_eq!(totals(store, app).await, before_totals, "figures put back");
    assert_eq!(unlocks(store, app).await, before_unlocks);

    // Once only.
    match store.undo_reset(record.id, NOW, test_audit()).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("already undone"), "{m}"),
        other => panic!("a second undo: {other:?}"),
    }
    let log = newest(store, app, 10).await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].action, action::UNDO_RESET);
    assert_eq!(log[1].undone_by, Some(log[0].id));
    // Paging: before the newest, the reset alone.
    let page = store
        .audit_log(crate::AuditQuery {
            app: None,
            before: Some(log[0].id),
            limit: 1,
        })
        .await
        .expect("page");
    assert_eq!(
        page.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![log[1].id]
    );

    // A reset that removes nothing (the user was just reset) and a reset of
    // a user never written are not recorded: resetting again and again
    // cannot grow the log.
    for who in [p, p, user(99)] {
        store
            .reset(app, who, ResetScope::full(true), NOW, test_audit())
            .await
            .expect("reset");
    }
    assert_eq!(
        newest(store, app, 10).await.len(),
        3,
        "only the first of the three resets removed something"
    );
    store
        .store(request(app, p, "again", vec![set("Kills", 41.0)], NOW))
        .await
        .expect("store");

    // A reset followed by play cannot be undone: that play would be lost.
    store
        .reset(app, q, ResetScope::full(false), NOW, test_audit())
        .await
        .expect("reset");
    store
        .store(request(app, q, "later", vec![set("Kills", 12.0)], NOW))
        .await
        .expect("store");
    let q_now = store.progress(app, q).await.expect("read");
    let figures_now = totals(store, app).await;
    let reset_q = newest(store, app, 1).await[0].id;
    match store.undo_reset(reset_q, NOW, test_audit()).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("written after"), "{m}"),
        other => panic!("undo after play: {other:?}"),
    }
    assert_eq!(store.progress(app, q).await.expect("read"), q_now);
    assert_eq!(totals(store, app).await, figures_now);
    match store.undo_reset(9_999_999, NOW, test_audit()).await {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("undo of nothing: {other:?}"),
    }
    let not_a_reset = store
        .record_audit(AuditDraft::new("admin", "local", action::KEY_CREATE).about(app, None))
        .await
        .expect("record");
    match store.undo_reset(not_a_reset, NOW, test_audit()).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("not a reset"), "{m}"),
        other => panic!("undo of a key creation: {other:?}"),
    }
}

/// Revocations keep the latest "not before" per app and user, revoked keys
/// are listed, and a rotation keeps the old secret as the previous one.
pub async fn revocations_and_secret_rotation_are_shared(store: &dyn Store) {
    let app = app(78);
    store.put_schema(app, test_schema()).await.expect("put");
    let revoke = |user, at| TokenRevocation {
        app,
        user,
        not_before_ms: at,
    };
    for r in [
        revoke(Some(user(1)), 2_000),
        revoke(Some(user(1)), 1_000),
        revoke(None, 500),
    ] {
        store
            .revoke_tokens(r, AuditDraft::new("admin", "local", action::TOKENS_REVOKE))
            .await
            .expect("revoke");
    }
    let mut listed = store.token_revocations().await.expect("list");
    listed.revocations.sort_by_key(|r| r.not_before_ms);
    assert_eq!(
        listed.revocations,
        vec![revoke(None, 500), revoke(Some(user(1)), 2_000)]
    );
    let key = store
        .create_key(app, "k", &"c".repeat(64), NOW)
        .await
        .expect("key");
    assert!(
        !store
            .token_revocations()
            .await
            .expect("list")
            .revoked_keys
            .contains(&key.id)
    );
    assert!(store.revoke_key(app, key.id).await.expect("revoke"));
    assert!(
        store
            .token_revocations()
            .await
            .expect("list")
            .revoked_keys
            .contains(&key.id)
    );

    let first = store.signing_secrets().await.expect("secrets");
    store.rotate_signing_secret(NOW + 60).await.expect("rotate");
    let rotated = store.signing_secrets().await.expect("secrets");
    assert_ne!(rotated.current, first.current);
    assert_eq!(rotated.previous, Some((first.current.clone(), NOW + 60)));
    assert_eq!(
        store.signing_secret().await.expect("secret"),
        rotated.current
    );
    let audited = newest(store, app, 10).await;
    assert_eq!(audited.len(), 3, "each revocation is recorded");
}
