//! Listing users, and the imports `laurel migrate` uses.

use super::*;

/// Steam ids on both sides of the sign bit of their stored (bit-cast) form,
/// in u64 order.
pub const ORDERED_IDS: [u64; 8] = [
    1,
    2,
    76_561_197_960_265_728,
    i64::MAX as u64,
    1 << 63,
    (1 << 63) + 5,
    u64::MAX - 1,
    u64::MAX,
];

/// Every page of `limit` users of `app`, followed by cursor.
async fn all_users(store: &dyn Store, app: AppId, limit: usize) -> Vec<SteamId> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = store.users(app, after, limit).await.expect("users");
        assert!(page.len() <= limit, "{page:?}");
        all.extend(&page);
        match page.last() {
            Some(&last) if page.len() == limit => after = Some(last),
            _ => return all,
        }
    }
}

/// Users are listed by the u64 value of their Steam id (ids above
/// `i64::MAX` last), page by page; only users with stored progress, only
/// of the app asked about.
pub async fn users_are_listed_in_steam_id_order(store: &dyn Store) {
    let app7 = setup(store).await;
    let app3 = app(3);
    store
        .put_schema(app3, many_achievements_schema(1))
        .await
        .expect("put");
    assert!(store.users(app3, None, 10).await.expect("users").is_empty());
    // Stored out of order.
    for (i, &id) in ORDERED_IDS.iter().rev().enumerate() {
        let now = NOW + i as i64;
        applied(store, request(app7, user(id), "k", vec![unlock("A")], now)).await;
    }
    applied(
        store,
        request(app3, user(3), "k", vec![unlock("ACH_0")], NOW),
    )
    .await;
    // Reset after a store: still a user. Reset of nobody, refused first store: none.
    let scope = ResetScope::full(true);
    store
        .reset(app7, user(2), scope, NOW, test_audit())
        .await
        .expect("reset");
    store
        .reset(app7, user(9), scope, NOW, test_audit())
        .await
        .expect("reset");
    let refused = request(app7, user(10), "k", vec![set("Nope", 1.0)], NOW);
    assert!(matches!(
        store.store(refused).await.expect("store"),
        StoreReply::Refused(_)
    ));

    let want: Vec<SteamId> = ORDERED_IDS.iter().map(|&id| user(id)).collect();
    assert_eq!(store.users(app7, None, 100).await.expect("users"), want);
    assert_eq!(
        store.users(app7, None, usize::MAX).await.expect("users"),
        want
    );
    for limit in [1, 2, 3, 7, 8] {
        assert_eq!(
            all_users(store, app7, limit).await,
            want,
            "pages of {limit}"
        );
    }
    let after = |id: u64| Some(user(id));
    assert_eq!(
        store
            .users(app7, after(i64::MAX as u64), 2)
            .await
            .expect("users"),
        [user(1 << 63), user((1 << 63) + 5)]
    );
    assert_eq!(
        store.users(app7, after(5), 3).await.expect("users"),
        [
            user(76_561_197_960_265_728),
            user(i64::MAX as u64),
            user(1 << 63)
        ]
    );
    assert_eq!(
        store.users(app7, after(1 << 63), 100).await.expect("users"),
        want[5..]
    );
    assert!(
        store
            .users(app7, after(u64::MAX), 9)
            .await
            .expect("users")
            .is_empty()
    );
    assert!(store.users(app7, None, 0).await.expect("users").is_empty());
    assert_eq!(store.users(app3, None, 10).await.expect("users"), [user(3)]);
    let unknown = store.users(app(404), None, 10).await.unwrap_err();
    assert!(
        matches!(unknown, StoreError::UnknownApp(a) if a == app(404)),
        "{unknown:?}"
    );
}

/// A schema with every stat kind aggregated (defaults not zero), a stat
/// bound to an achievement's progress, and achievements that may be cleared.
pub const IMPORT_SCHEMA_JSON: &str = r#"{
  "app": { "name": "Imports", "allow_achievement_clear": true },
  "stats": [
    { "name": "Kills", "type": "int", "default": 10, "min": 0, "increment_only": true, "aggregated": true },
    { "name": "Distance", "type": "float", "default": 0.5, "aggregated": true },
    { "name": "Speed", "type": "avgrate", "window": 3600, "aggregated": true },
    { "name": "Feet", "type": "float", "min": 0 },
    { "name": "Plain", "type": "int" }
  ],
  "achievements": [
    { "name": "A", "display_name": { "english": "A" }, "description": { "english": "" } },
    { "name": "B", "display_name": { "english": "B" }, "description": { "english": "" } },
    { "name": "Far", "display_name": { "english": "Far" }, "description": { "english": "" },
      "progress": { "stat": "Feet", "max": 100 } },
    { "name": "Collector", "display_name": { "english": "Collector" }, "description": { "english": "" } }
  ]
}"#;

pub fn import_schema() -> Schema {
    schema_from(IMPORT_SCHEMA_JSON)
}

fn assert_no_history(stats: &[GlobalStat], context: &str) {
    for stat in stats {
        assert!(
            stat.history
                .iter()
                .all(|d| d.change == StatTotal::zero(stat.kind)),
            "{context}: {stat:?}"
        );
    }
}

/// Importing users gives back their progress exactly (every value bit for
/// bit, unlock times, progress, versions) and the global figures the same
/// progress has where it was stored, without history; a user already there,
/// an unknown app or a progress that does not fit is refused and writes
/// nothing; later stores continue from the imported values.
pub async fn import_user_copies_progress_exactly(store: &dyn Store) {
    let (source, target) = (app(7), app(8));
    for app in [source, target] {
        store.put_schema(app, import_schema()).await.expect("put");
    }
    let (one, top, half, steam) = (
        user(1),
        user(u64::MAX),
        user(1 << 63),
        user(76_561_197_960_265_728),
    );
    let steps = vec![
        request(
            source,
            one,
            "1a",
            vec![
                set("Kills", 15.0),
                set("Distance", -0.0),
                avg("Speed", 10.0, 30.0),
                unlock("A"),
                indicate("Collector", 3, 10),
            ],
            NOW,
        ),
        request(
            source,
            one,
            "1b",
            vec![set("Kills", 17.0), unlock("B")],
            NOW + 5,
        ),
        request(
            source,
            top,
            "ta",
            vec![set("Feet", 150.0), set("Distance", 2.25)],
            NOW + 1,
        ),
        request(
            source,
            half,
            "ha",
            vec![unlock("A"), set("Kills", 12.0)],
            NOW,
        ),
        request(
            source,
            steam,
            "sa",
            vec![set("Plain", 3.0), unlock("B")],
            NOW,
        ),
        request(source, steam, "sb", vec![clear("B")], NOW + 9),
    ];
    for step in steps {
        applied(store, step).await;
    }
    let scope = ResetScope::full(false);
    store
        .reset(source, half, scope, NOW, test_audit())
        .await
        .expect("reset");

    let users = store.users(source, None, 100).await.expect("users");
    assert_eq!(users, [one, steam, half, top]);
    for &id in &users {
        let progress = store.progress(source, id).await.expect("progress");
        store
            .import_user(target, id, &progress)
            .await
            .expect("import");
        let copied = store.progress(target, id).await.expect("progress");
        assert_same_progress(&copied, &progress, &format!("user {id}"));
    }
    let copied = store.progress(target, one).await.expect("progress");
    assert_eq!(copied.version, 2);
    assert_eq!(copied.achievements["B"].unlock_time, Some(NOW + 5));
    assert_eq!(copied.achievements["Collector"].progress, Some((3, 10)));
    assert_eq!(
        store
            .progress(target, top)
            .await
            .expect("progress")
            .achievements["Far"]
            .unlock_time,
        Some(NOW + 1)
    );
    assert_eq!(store.users(target, None, 100).await.expect("users"), users);
    let global = store.global_achievements(source).await.expect("global");
    assert_eq!(
        store.global_achievements(target).await.expect("global"),
        global
    );
    assert_eq!(global.users, 4);
    assert_eq!(users_of(store, target).await, 4);
    assert_eq!(totals(store, target).await, totals(store, source).await);
    assert_eq!(
        totals(store, target).await,
        recount_totals(store, target, &import_schema(), &ORDERED_IDS).await
    );
    let days = (utc_day(NOW) - 1, utc_day(NOW) + 1);
    let history = |app| {
        store.global_stats(
            app,
            GlobalStatsQuery {
                names: Vec::new(),
                history: Some(days),
            },
        )
    };
    assert_no_history(&history(target).await.expect("history"), "imported");
    assert!(
        history(source).await.expect("history").iter().any(|s| s
            .history
            .iter()
            .any(|d| d.change != StatTotal::zero(s.kind))),
        "the source has history"
    );

    // Refusals write nothing.
    let before = (
        store.global_achievements(target).await.expect("global"),
        totals(store, target).await,
    );
    let first = store.progress(source, one).await.expect("progress");
    match store.import_user(target, one, &first).await {
        Err(StoreError::AlreadyExists(what)) => assert!(what.contains("user 1 "), "{what}"),
        other => panic!("a second import of one user: {other:?}"),
    }
    let unknown = store.import_user(app(404), one, &first).await.unwrap_err();
    assert!(matches!(unknown, StoreError::UnknownApp(_)), "{unknown:?}");
    let newcomer = user(77);
    let mut misfits = Vec::new();
    misfits.push(UserProgress::default());
    let mut wrong_kind = first.clone();
    wrong_kind.stats.insert(
        ApiName::parse("Kills").expect("name"),
        StatValue::Float(1.0),
    );
    misfits.push(wrong_kind);
    let mut unknown_stat = first.clone();
    unknown_stat
        .stats
        .insert(ApiName::parse("Nope").expect("name"), StatValue::Int(1));
    misfits.push(unknown_stat);
    let mut unknown_achievement = first.clone();
    unknown_achievement.achievements.insert(
        ApiName::parse("Nope").expect("name"),
        first.achievements["A"].clone(),
    );
    misfits.push(unknown_achievement);
    for misfit in &misfits {
        match store.import_user(target, newcomer, misfit).await {
            Err(StoreError::InvalidImport(_)) => {}
            other => panic!("{misfit:?}: {other:?}"),
        }
    }
    assert_eq!(
        store.progress(target, newcomer).await.expect("progress"),
        UserProgress::default()
    );
    assert_eq!(
        (
            store.global_achievements(target).await.expect("global"),
            totals(store, target).await
        ),
        before
    );

    // Stores go on from the imported progress (increment-only included), and
    // the source's idempotency keys were not copied.
    let refused = request(target, one, "1a", vec![set("Kills", 16.0)], NOW + 20);
    assert!(matches!(
        store.store(refused).await.expect("store"),
        StoreReply::Refused(_)
    ));
    let (progress, _) = applied(
        store,
        request(target, one, "1b", vec![set("Kills", 18.0)], NOW + 21),
    )
    .await;
    assert_eq!(progress.version, 3);
    assert_eq!(progress.stats["Distance"], StatValue::Float(-0.0));
    let kills = |t: &BTreeMap<String, StatTotal>| t["Kills"];
    assert_eq!(
        kills(&totals(store, target).await),
        StatTotal::Int(18 + 10 + 10 + 10)
    );
}

/// Imported keys keep their hash, label, creation time and state, and their
/// id when it is free; a hash already there is refused; keys created later
/// get ids of their own.
pub async fn import_key_keeps_what_it_holds(store: &dyn Store) {
    let app7 = setup(store).await;
    let app3 = app(3);
    store
        .put_schema(app3, many_achievements_schema(1))
        .await
        .expect("put");
    let made = store
        .create_key(app7, "made here", "hash-made", NOW)
        .await
        .expect("create");
    assert_eq!(
        store.stored_keys(app7).await.expect("keys"),
        [StoredKey {
            record: made.clone(),
            secret_hash: "hash-made".into()
        }]
    );
    let old = StoredKey {
        record: crate::KeyRecord {
            id: 40,
            app: app3,
            label: "old".into(),
            created: NOW - 1_000,
            revoked: true,
        },
        secret_hash: "hash-old".into(),
    };
    assert_eq!(store.import_key(&old).await.expect("import"), old.record);
    let mut older = StoredKey {
        record: crate::KeyRecord {
            id: 40,
            label: "older, same id".into(),
            created: NOW - 2_000,
            revoked: false,
            ..old.record.clone()
        },
        secret_hash: "hash-older".into(),
    };
    let renumbered = store.import_key(&older).await.expect("import");
    assert!(
        ![40, made.id].contains(&renumbered.id),
        "a taken id is not reused: {renumbered:?}"
    );
    older.record.id = renumbered.id;
    assert_eq!(renumbered, older.record);

    let mut stored = store.stored_keys(app3).await.expect("keys");
    stored.sort_by_key(|k| k.record.id);
    let mut want = vec![old.clone(), older.clone()];
    want.sort_by_key(|k| k.record.id);
    assert_eq!(stored, want);
    let listed = store.keys(app3).await.expect("keys");
    assert_eq!(
        listed,
        want.iter().map(|k| k.record.clone()).collect::<Vec<_>>()
    );
    assert_eq!(store.find_key("hash-old").await.expect("find"), None);
    assert_eq!(
        store.find_key("hash-older").await.expect("find"),
        Some(older.record.clone())
    );

    let again = StoredKey {
        record: crate::KeyRecord {
            id: 99,
            app: app7,
            ..old.record.clone()
        },
        secret_hash: "hash-made".into(),
    };
    match store.import_key(&again).await {
        Err(StoreError::AlreadyExists(_)) => {}
        other => panic!("a hash already there: {other:?}"),
    }
    let mut nowhere = old.clone();
    nowhere.record.app = app(404);
    nowhere.secret_hash = "hash-nowhere".into();
    let unknown = store.import_key(&nowhere).await.unwrap_err();
    assert!(matches!(unknown, StoreError::UnknownApp(_)), "{unknown:?}");
    let unknown = store.stored_keys(app(404)).await.unwrap_err();
    assert!(matches!(unknown, StoreError::UnknownApp(_)), "{unknown:?}");

    let later = store
        .create_key(app7, "later", "hash-later", NOW + 1)
        .await
        .expect("a key created after imports gets a free id");
    assert!(![made.id, old.record.id, older.record.id].contains(&later.id));
    assert_eq!(store.stored_keys(app7).await.expect("keys").len(), 2);
}

/// The signing secret is imported into a store that has none, and only there.
pub async fn import_signing_secret_sets_only_a_missing_one(store: &dyn Store) {
    match store.import_signing_secret(&[]).await {
        Err(StoreError::InvalidImport(_)) => {}
        other => panic!("an empty secret: {other:?}"),
    }
    let secret = [7u8; 32];
    assert!(store.import_signing_secret(&secret).await.expect("import"));
    assert_eq!(store.signing_secret().await.expect("secret"), secret);
    assert!(store.import_signing_secret(&secret).await.expect("import"));
    assert!(
        !store
            .import_signing_secret(&[8u8; 32])
            .await
            .expect("import")
    );
    assert_eq!(store.signing_secret().await.expect("secret"), secret);
}
