//! The global figures: unlock counts, totals and daily history of
//! aggregated stats, and the repair of non-finite totals.

use super::*;

/// The global figures equal a recount over every user after a mix of
/// unlocks, clears, auto-unlocks, refusals and resets.
pub async fn global_counters_match_a_recount(store: &dyn Store) {
    let app = setup(store).await;
    let server = |mut r: StoreRequest| {
        r.authority = WriteAuthority::Server;
        r
    };
    let steps: Vec<StoreRequest> = vec![
        request(app, user(1), "1a", vec![unlock("A"), unlock("B")], NOW),
        request(
            app,
            user(2),
            "2a",
            vec![unlock("A"), set("Feet", 100.0)],
            NOW,
        ),
        request(app, user(3), "3a", vec![unlock("B"), unlock("C")], NOW),
        request(app, user(3), "3b", vec![clear("B")], NOW + 1),
        request(app, user(3), "3c", vec![clear("B")], NOW + 2),
        server(request(
            app,
            user(4),
            "4a",
            vec![set("Cheat", 3.0), unlock("C")],
            NOW,
        )),
        request(
            app,
            user(5),
            "5a",
            vec![set("Cheat", 3.0), unlock("A")],
            NOW,
        ),
        request(
            app,
            user(1),
            "1b",
            vec![clear("A"), unlock("Collector")],
            NOW + 3,
        ),
        request(
            app,
            user(2),
            "2b",
            vec![clear("Far"), set("Feet", 120.0)],
            NOW + 4,
        ),
    ];
    for step in steps {
        store.store(step).await.expect("store");
    }
    let scope = ResetScope::full(true);
    store
        .reset(app, user(4), scope, NOW, test_audit())
        .await
        .expect("reset");
    store
        .reset(app, user(6), scope, NOW, test_audit())
        .await
        .expect("reset");

    let schema = test_schema();
    let mut users = 0;
    let mut recount: BTreeMap<String, u64> = schema
        .achievements()
        .iter()
        .map(|a| (a.name.to_string(), 0))
        .collect();
    for id in 1..=6 {
        let progress = store.progress(app, user(id)).await.expect("progress");
        if progress.version > 0 {
            users += 1;
        }
        for (name, state) in &progress.achievements {
            if state.unlocked {
                *recount.entry(name.to_string()).or_default() += 1;
            }
        }
    }
    let global = store.global_achievements(app).await.expect("global");
    assert_eq!(users, 4, "user 5 was refused and user 6 only reset");
    assert_eq!(
        global,
        GlobalAchievements {
            users,
            unlocked: recount
        }
    );
    let by_name: Vec<(&str, u64)> = global
        .unlocked
        .iter()
        .map(|(n, c)| (n.as_str(), *c))
        .collect();
    assert_eq!(
        by_name,
        [("A", 1), ("B", 1), ("C", 1), ("Collector", 1), ("Far", 1)]
    );
    assert_eq!(users_of(store, app).await, 4);
}

// ---- aggregated stats (issue 5) ----

/// A schema whose stats are aggregated, with defaults that are not zero (so
/// that users who never wrote a stat count with their default).
pub const AGGREGATED_SCHEMA_JSON: &str = r#"{
  "app": { "name": "Aggregates" },
  "stats": [
    { "name": "Kills", "type": "int", "default": 10, "min": 0, "aggregated": true },
    { "name": "Distance", "type": "float", "default": 0.5, "aggregated": true },
    { "name": "Speed", "type": "avgrate", "window": 3600, "aggregated": true },
    { "name": "Plain", "type": "int" }
  ],
  "achievements": [
    { "name": "A", "display_name": { "english": "A" }, "description": { "english": "" } }
  ]
}"#;

pub fn aggregated_schema() -> Schema {
    schema_from(AGGREGATED_SCHEMA_JSON)
}

/// The same schema with `Kills` not aggregated.
fn kills_not_aggregated() -> Schema {
    schema_from(&AGGREGATED_SCHEMA_JSON.replacen(
        r#""min": 0, "aggregated": true"#,
        r#""min": 0"#,
        1,
    ))
}

fn history_sum(stats: &[GlobalStat], name: &str) -> f64 {
    stats
        .iter()
        .find(|g| g.name == name)
        .unwrap_or_else(|| panic!("{name} missing from {stats:?}"))
        .history
        .iter()
        .map(|d| d.change.as_f64())
        .sum()
}

/// The totals of aggregated stats equal a recount over every user after new
/// users, changes, refusals, replays and resets; the daily history adds up to
/// the totals.
pub async fn aggregated_totals_match_a_recount(store: &dyn Store) {
    let app = app(9);
    store
        .put_schema(app, aggregated_schema())
        .await
        .expect("put");
    let schema = aggregated_schema();
    let steps = vec![
        request(
            app,
            user(1),
            "1a",
            vec![set("Kills", 5.0), set("Distance", 1.5)],
            NOW,
        ),
        request(app, user(2), "2a", vec![set("Plain", 3.0)], NOW),
        request(app, user(1), "1b", vec![set("Kills", 7.0)], NOW + 60),
        // Refused whole: user 3 never counts.
        request(
            app,
            user(3),
            "3a",
            vec![set("Kills", 4.0), set("Kills2", 1.0)],
            NOW,
        ),
        // A replay changes nothing.
        request(
            app,
            user(1),
            "1a",
            vec![set("Kills", 5.0), set("Distance", 1.5)],
            NOW + 120,
        ),
        request(
            app,
            user(2),
            "2b",
            vec![avg("Speed", 60.0, 30.0)],
            NOW + 180,
        ),
        request(app, user(4), "4a", vec![set("Distance", 2.25)], NOW + 240),
    ];
    for step in steps {
        store.store(step).await.expect("store");
    }
    let users = [1, 2, 3, 4];
    assert_eq!(
        totals(store, app).await,
        recount_totals(store, app, &schema, &users).await,
        "after stores"
    );
    assert_eq!(
        totals(store, app).await,
        BTreeMap::from([
            ("Distance".to_owned(), StatTotal::Float(1.5 + 0.5 + 2.25)),
            ("Kills".to_owned(), StatTotal::Int(7 + 10 + 10)),
            ("Speed".to_owned(), StatTotal::Float(2.0)),
        ])
    );

    let scope = ResetScope::full(false);
    store
        .reset(app, user(1), scope, NOW, test_audit())
        .await
        .expect("reset");
    store
        .reset(app, user(4), scope, NOW, test_audit())
        .await
        .expect("reset");
    store
        .reset(app, user(5), scope, NOW, test_audit())
        .await
        .expect("reset of nobody");
    let after = totals(store, app).await;
    assert_eq!(
        after,
        recount_totals(store, app, &schema, &[1, 2, 3, 4, 5]).await,
        "after resets"
    );
    assert_eq!(after["Kills"], StatTotal::Int(30));

    // Stores are dated by their `now`; resets by the store's clock. Together
    // the days' changes add up to the totals (which started at zero).
    let stored_days = (utc_day(NOW) - 1, utc_day(NOW) + 1);
    let by_store = store
        .global_stats(
            app,
            GlobalStatsQuery {
                names: Vec::new(),
                history: Some(stored_days),
            },
        )
        .await
        .expect("history");
    let today = utc_day(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    );
    let by_reset = store
        .global_stats(
            app,
            GlobalStatsQuery {
                names: Vec::new(),
                history: Some((today - 1, today + 1)),
            },
        )
        .await
        .expect("history");
    for name in ["Kills", "Distance", "Speed"] {
        let sum = history_sum(&by_store, name) + history_sum(&by_reset, name);
        assert_eq!(sum, after[name].as_f64(), "history of {name}");
    }
}

/// History is dense, per UTC day, ascending; only aggregated stats are answered.
pub async fn stat_history_is_per_utc_day(store: &dyn Store) {
    let app = app(9);
    store
        .put_schema(app, aggregated_schema())
        .await
        .expect("put");
    let day = utc_day(NOW);
    let tomorrow = (day + 1) * crate::SECONDS_PER_DAY;
    for step in [
        request(app, user(1), "a", vec![set("Kills", 5.0)], NOW),
        request(app, user(1), "b", vec![set("Kills", 8.0)], tomorrow),
        request(app, user(2), "c", vec![set("Plain", 1.0)], tomorrow + 5),
    ] {
        store.store(step).await.expect("store");
    }
    let stats = store
        .global_stats(
            app,
            GlobalStatsQuery {
                names: vec!["Kills".into(), "Plain".into(), "Nope".into()],
                history: Some((day - 1, day + 2)),
            },
        )
        .await
        .expect("global stats");
    let int = |v: i64| StatTotal::Int(v);
    assert_eq!(
        stats,
        vec![GlobalStat {
            name: "Kills".into(),
            kind: laurel_core::StatKind::Int,
            total: int(18),
            history: vec![
                DailyChange {
                    day: day - 1,
                    change: int(0)
                },
                DailyChange {
                    day,
                    change: int(5)
                },
                DailyChange {
                    day: day + 1,
                    change: int(3 + 10)
                },
                DailyChange {
                    day: day + 2,
                    change: int(0)
                },
            ],
        }],
        "Plain is not aggregated and Nope does not exist"
    );
    let all = store
        .global_stats(app, GlobalStatsQuery::default())
        .await
        .expect("global stats");
    let names: Vec<&str> = all.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["Kills", "Distance", "Speed"], "schema order");
    assert!(all.iter().all(|g| g.history.is_empty()));
    assert_eq!(all[1].total, StatTotal::Float(1.0));
}

/// A stat that becomes aggregated is counted from what users already stored,
/// and a stat that stops being aggregated and comes back is counted again.
pub async fn newly_aggregated_stat_is_counted(store: &dyn Store) {
    let app = app(9);
    store
        .put_schema(app, kills_not_aggregated())
        .await
        .expect("put");
    for step in [
        request(app, user(1), "a", vec![set("Kills", 5.0)], NOW),
        request(app, user(2), "b", vec![set("Kills", 7.0)], NOW),
        request(app, user(3), "c", vec![set("Plain", 1.0)], NOW),
    ] {
        store.store(step).await.expect("store");
    }
    assert!(!totals(store, app).await.contains_key("Kills"));
    store
        .put_schema(app, aggregated_schema())
        .await
        .expect("put");
    assert_eq!(
        totals(store, app).await["Kills"],
        StatTotal::Int(5 + 7 + 10)
    );
    store
        .store(request(app, user(1), "d", vec![set("Kills", 6.0)], NOW))
        .await
        .expect("store");
    assert_eq!(totals(store, app).await["Kills"], StatTotal::Int(23));
    // Not aggregated for a while: changes are not counted...
    store
        .put_schema(app, kills_not_aggregated())
        .await
        .expect("put");
    store
        .store(request(app, user(2), "e", vec![set("Kills", 9.0)], NOW))
        .await
        .expect("store");
    // ...and counted again from the rows when it comes back.
    store
        .put_schema(app, aggregated_schema())
        .await
        .expect("put");
    assert_eq!(
        totals(store, app).await["Kills"],
        StatTotal::Int(6 + 9 + 10)
    );
    assert_eq!(
        totals(store, app).await,
        recount_totals(store, app, &aggregated_schema(), &[1, 2, 3]).await
    );
}

/// Issue 12's repair migrations, part 1: app `app` with the aggregated
/// schema, and user 1 with a rate of 3/s on `Speed`. The caller then writes
/// what an older build left (user 2 with a rate of 1e40, totals and history
/// not finite) behind the store's back, and reopens it.
pub async fn non_finite_repair_setup(store: &dyn Store, app: AppId) {
    store
        .put_schema(app, aggregated_schema())
        .await
        .expect("put");
    store
        .store(request(
            app,
            user(1),
            "fine",
            vec![avg("Speed", 30.0, 10.0)],
            NOW,
        ))
        .await
        .expect("store");
}

/// Part 2, on the reopened (migrated) store: user 2's value went back to its
/// default, the total is user 1's rate only, the history is finite, and a
/// store that moves the total works again and counts exactly.
pub async fn non_finite_repair_check(store: &dyn Store, app: AppId) {
    let speed = |stats: Vec<GlobalStat>| {
        stats
            .into_iter()
            .find(|g| g.name == "Speed")
            .expect("Speed is aggregated")
    };
    let day = crate::utc_day(NOW);
    let global = speed(
        store
            .global_stats(
                app,
                GlobalStatsQuery {
                    names: vec![],
                    history: Some((day, day)),
                },
            )
            .await
            .expect("global stats"),
    );
    assert_eq!(global.total, StatTotal::Float(3.0), "user 1's rate only");
    assert!(
        global
            .history
            .iter()
            .all(|d| matches!(d.change, StatTotal::Float(f) if f.is_finite())),
        "{global:?}"
    );
    let progress = store.progress(app, user(2)).await.expect("progress");
    assert!(progress.stats.is_empty(), "{progress:?}");
    store
        .store(request(
            app,
            user(2),
            "after",
            vec![avg("Speed", 10.0, 10.0)],
            NOW,
        ))
        .await
        .expect("store after the repair");
    let global = speed(
        store
            .global_stats(app, GlobalStatsQuery::default())
            .await
            .expect("global stats"),
    );
    assert_eq!(global.total, StatTotal::Float(4.0));
}
