use proptest::prelude::*;

use super::*;
use crate::schema_doc::demo_schema;
use crate::{ResetScope, reset};

const NOW: UnixTime = 1_700_000_000;

fn set(name: &str, value: f64) -> BatchEntry {
    BatchEntry::SetStat {
        name: name.into(),
        value,
    }
}
fn unlock_e(name: &str) -> BatchEntry {
    BatchEntry::UnlockAchievement { name: name.into() }
}

fn schema_with_limits() -> Schema {
    let doc = crate::SchemaDoc::from_json(
        r#"{
      "app": {"name": "T"},
      "stats": [
        {"name": "Kills", "type": "int", "min": 0, "max": 1000, "max_change": 100, "increment_only": true},
        {"name": "Ratio", "type": "float", "min": -1, "max": 1},
        {"name": "Cheat", "type": "int", "set_by": "server"},
        {"name": "Speed", "type": "avgrate", "window": 100, "max": 50},
        {"name": "Pace", "type": "avgrate", "window": 3600, "aggregated": true}
      ],
      "achievements": [
        {"name": "A", "display_name": {"english": "A"}, "description": {"english": ""}},
        {"name": "K100", "display_name": {"english": "K"}, "description": {"english": ""},
         "progress": {"stat": "Kills", "max": 100}}
      ]}"#,
    )
    .unwrap();
    Schema::from_doc(&doc).unwrap()
}

/// Applies `entries` as a user would and renders the outcome as one line.
fn check(current: &UserProgress, entries: Vec<BatchEntry>, expect: &str) {
    let schema = schema_with_limits();
    let got = match apply_batch(
        &schema,
        current,
        &StoreBatch { entries },
        WriteAuthority::User,
        NOW,
    ) {
        Ok(o) => format!(
            "ok v{} stats={:?} unlocked={:?}",
            o.progress.version,
            o.progress
                .stats
                .iter()
                .map(|(n, v)| format!("{n}={}", v.read(schema.stat(n.as_str()).unwrap())))
                .collect::<Vec<_>>(),
            o.newly_unlocked
                .iter()
                .map(ApiName::as_str)
                .collect::<Vec<_>>()
        ),
        Err(r) => r.to_string(),
    };
    assert_eq!(got, expect);
}

fn empty() -> UserProgress {
    UserProgress::default()
}

#[test]
fn accepted_batches() {
    check(
        &empty(),
        vec![set("Kills", 5.0), set("Ratio", 0.5), unlock_e("A")],
        r#"ok v1 stats=["Kills=5", "Ratio=0.5"] unlocked=["A"]"#,
    );
    check(&empty(), vec![], "ok v1 stats=[] unlocked=[]");
}

#[test]
fn every_rule_refuses_the_whole_batch() {
    let e = empty();
    check(
        &e,
        vec![set("Nope", 1.0)],
        r#"store refused (InvalidParam (8)): entry 0 "Nope": no stat of that name in the schema"#,
    );
    check(
        &e,
        vec![unlock_e("Nope")],
        r#"store refused (InvalidParam (8)): entry 0 "Nope": no achievement of that name in the schema"#,
    );
    check(
        &e,
        vec![set("Kills", 1.5)],
        r#"store refused (InvalidParam (8)): entry 0 "Kills": value is not an integer, and the stat is int"#,
    );
    check(
        &e,
        vec![set("Kills", f64::NAN)],
        r#"store refused (InvalidParam (8)): entry 0 "Kills": value is not a finite number"#,
    );
    check(
        &e,
        vec![set("Ratio", f64::INFINITY)],
        r#"store refused (InvalidParam (8)): entry 0 "Ratio": value is not a finite number"#,
    );
    check(
        &e,
        vec![set("Kills", -1.0)],
        r#"store refused (InvalidParam (8)): entry 0 "Kills": value -1 is below min 0"#,
    );
    check(
        &e,
        vec![set("Ratio", 2.0)],
        r#"store refused (InvalidParam (8)): entry 0 "Ratio": value 2 is above max 1"#,
    );
    check(
        &e,
        vec![set("Kills", 101.0)],
        r#"store refused (InvalidParam (8)): entry 0 "Kills": change of 101 is above max_change 100"#,
    );
    check(
        &e,
        vec![set("Speed", 1.0)],
        r#"store refused (InvalidParam (8)): entry 0 "Speed": the stat is avgrate; this entry does not fit it"#,
    );
    check(
        &e,
        vec![set("Kills", 3e9)],
        r#"store refused (InvalidParam (8)): entry 0 "Kills": value does not fit a int stat"#,
    );
    check(
        &e,
        vec![BatchEntry::UpdateAvgRate {
            name: "Speed".into(),
            count: 1.0,
            session_seconds: 0.0,
        }],
        r#"store refused (InvalidParam (8)): entry 0 "Speed": session_seconds must be a finite number above 0"#,
    );
    check(
        &e,
        vec![BatchEntry::UpdateAvgRate {
            name: "Speed".into(),
            count: 6000.0,
            session_seconds: 100.0,
        }],
        r#"store refused (InvalidParam (8)): entry 0 "Speed": value 60 is above max 50"#,
    );
    check(
        &e,
        vec![BatchEntry::IndicateProgress {
            name: "A".into(),
            current: 1,
            max: 0,
        }],
        r#"store refused (InvalidParam (8)): entry 0 "A": progress max must be at least 1"#,
    );
    check(
        &e,
        vec![set("Kills", 1.0), set("Kills", 2.0)],
        r#"store refused (InvalidParam (8)): entry 1 "Kills": the batch names this stat or achievement twice"#,
    );
    // Several faults are all reported, and a good entry beside them is not applied.
    check(
        &e,
        vec![set("Ratio", 0.5), set("Kills", -3.0), unlock_e("Nope")],
        r#"store refused (InvalidParam (8)): entry 1 "Kills": value -3 is below min 0; entry 2 "Nope": no achievement of that name in the schema"#,
    );
}

#[test]
fn access_rules_answer_access_denied() {
    check(
        &empty(),
        vec![set("Cheat", 1.0), set("Kills", -1.0)],
        r#"store refused (AccessDenied (15)): entry 0 "Cheat": stat is set_by server; a user token may not write it; entry 1 "Kills": value -1 is below min 0"#,
    );
    check(
        &empty(),
        vec![BatchEntry::ClearAchievement { name: "A".into() }],
        r#"store refused (AccessDenied (15)): entry 0 "A": this app does not let user tokens clear achievements"#,
    );
    let schema = schema_with_limits();
    let ok = apply_batch(
        &schema,
        &empty(),
        &StoreBatch {
            entries: vec![set("Cheat", 1.0)],
        },
        WriteAuthority::Server,
        NOW,
    );
    assert!(ok.is_ok());
}

#[test]
fn increment_only_refuses_decrease() {
    let schema = schema_with_limits();
    let p = apply_batch(
        &schema,
        &empty(),
        &StoreBatch {
            entries: vec![set("Kills", 50.0)],
        },
        WriteAuthority::User,
        NOW,
    )
    .unwrap()
    .progress;
    check(
        &p,
        vec![set("Kills", 49.0)],
        r#"store refused (InvalidParam (8)): entry 0 "Kills": stat is increment-only; 50 -> 49 decreases it"#,
    );
    check(
        &p,
        vec![set("Kills", 50.0)],
        r#"ok v2 stats=["Kills=50"] unlocked=[]"#,
    );
}

#[test]
fn stat_bound_achievement_unlocks_at_max() {
    let schema = schema_with_limits();
    let p = apply_batch(
        &schema,
        &empty(),
        &StoreBatch {
            entries: vec![set("Kills", 99.0)],
        },
        WriteAuthority::User,
        NOW,
    )
    .unwrap()
    .progress;
    assert!(!p.is_unlocked("K100"));
    check(
        &p,
        vec![set("Kills", 100.0)],
        r#"ok v2 stats=["Kills=100"] unlocked=["K100"]"#,
    );
}

#[test]
fn progress_indication_unlocks_when_reached() {
    check(
        &empty(),
        vec![BatchEntry::IndicateProgress {
            name: "A".into(),
            current: 3,
            max: 3,
        }],
        r#"ok v1 stats=[] unlocked=["A"]"#,
    );
    check(
        &empty(),
        vec![BatchEntry::IndicateProgress {
            name: "A".into(),
            current: 2,
            max: 3,
        }],
        r#"ok v1 stats=[] unlocked=[]"#,
    );
}

#[test]
fn too_many_entries_is_limit_exceeded() {
    let entries = (0..=MAX_BATCH_ENTRIES).map(|_| unlock_e("A")).collect();
    check(
        &empty(),
        entries,
        &format!(
            "store refused (LimitExceeded (25)): entry {MAX_BATCH_ENTRIES} \"\": batch has {} entries; the limit is {MAX_BATCH_ENTRIES}",
            MAX_BATCH_ENTRIES + 1
        ),
    );
}

#[test]
fn reset_clears_stats_and_optionally_achievements() {
    let schema = demo_schema();
    let p = apply_batch(
        &schema,
        &empty(),
        &StoreBatch {
            entries: vec![set("NumGames", 3.0), unlock_e("ACH_WIN_ONE_GAME")],
        },
        WriteAuthority::User,
        NOW,
    )
    .unwrap()
    .progress;
    let (r, relocked) = reset(&p, ResetScope::full(false), &schema);
    assert!(r.stats.is_empty() && r.is_unlocked("ACH_WIN_ONE_GAME") && relocked.is_empty());
    assert_eq!(r.version, 2);
    let (r, relocked) = reset(&p, ResetScope::full(true), &schema);
    assert!(r.achievements.is_empty());
    assert_eq!(relocked.len(), 1);
}

/// A user's own reset keeps what only the game's backend may write.
#[test]
fn a_reset_without_server_stats_keeps_them() {
    let schema = schema_with_limits();
    let p = apply_batch(
        &schema,
        &empty(),
        &StoreBatch {
            entries: vec![set("Kills", 5.0), set("Cheat", 7.0)],
        },
        WriteAuthority::Server,
        NOW,
    )
    .unwrap()
    .progress;
    let users_reset = ResetScope::own(false);
    let (r, _) = reset(&p, users_reset, &schema);
    let cheat = schema.stat("Cheat").unwrap();
    assert_eq!(r.stats.len(), 1, "{r:?}");
    assert_eq!(r.stat(cheat).read(cheat), 7.0);
    let (r, _) = reset(&p, ResetScope::full(false), &schema);
    assert!(r.stats.is_empty());
}

/// Issue 12's attack: a huge count over a tiny session on an average rate
/// with no `max` made a rate of 1e40, read back as `inf` (and summed into an
/// aggregated total as NaN). The rate itself must be a finite f32.
#[test]
fn an_average_rate_beyond_f32_is_refused_as_not_finite() {
    let attack = BatchEntry::UpdateAvgRate {
        name: "Pace".into(),
        count: 1e30,
        session_seconds: 1e-10,
    };
    check(
        &empty(),
        vec![attack],
        r#"store refused (InvalidParam (8)): entry 0 "Pace": value is not a finite number"#,
    );
    // The largest count over a long session is a fine rate.
    let fine = BatchEntry::UpdateAvgRate {
        name: "Pace".into(),
        count: f32::MAX as f64,
        session_seconds: 3600.0,
    };
    let schema = schema_with_limits();
    let o = apply_batch(
        &schema,
        &empty(),
        &StoreBatch {
            entries: vec![fine],
        },
        WriteAuthority::User,
        NOW,
    )
    .unwrap();
    let pace = schema.stat("Pace").unwrap();
    assert!(o.progress.stat(pace).read(pace).is_finite());
}

fn arb_entry() -> impl Strategy<Value = BatchEntry> {
    let names = prop::sample::select(vec!["Kills", "Ratio", "Cheat", "Speed", "Pace", "Nope"]);
    let achs = prop::sample::select(vec!["A", "K100", "Nope"]);
    let value = prop_oneof![
        -5.0..1200.0f64,
        (-5i32..1200).prop_map(f64::from),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(1e30),
        Just(-1e30),
        Just(f32::MAX as f64),
        Just(f64::MAX)
    ];
    let seconds = prop_oneof![
        0.0..200.0f64,
        Just(1e-10),
        Just(f64::MIN_POSITIVE),
        Just(1e-300)
    ];
    prop_oneof![
        (names.clone(), value.clone()).prop_map(|(n, v)| set(n, v)),
        (names, value, seconds).prop_map(|(n, c, s)| BatchEntry::UpdateAvgRate {
            name: n.into(),
            count: c,
            session_seconds: s
        }),
        achs.clone().prop_map(unlock_e),
        achs.clone()
            .prop_map(|n| BatchEntry::ClearAchievement { name: n.into() }),
        (achs, 0u32..5, 0u32..5).prop_map(|(n, c, m)| BatchEntry::IndicateProgress {
            name: n.into(),
            current: c,
            max: m
        }),
    ]
}

fn arb_batches() -> impl Strategy<Value = Vec<Vec<BatchEntry>>> {
    prop::collection::vec(prop::collection::vec(arb_entry(), 0..5), 1..30)
}

proptest! {
    /// Refused batches leave progress as it was; accepted ones move the version by one.
    #[test]
    fn refused_batch_changes_nothing(batches in arb_batches()) {
        let schema = schema_with_limits();
        let mut p = empty();
        for (t, entries) in batches.into_iter().enumerate() {
            let before = p.clone();
            match apply_batch(&schema, &p, &StoreBatch { entries: entries.clone() }, WriteAuthority::User, NOW + t as i64) {
                Ok(o) => {
                    prop_assert_eq!(o.progress.version, before.version + 1);
                    p = o.progress;
                }
                Err(r) => {
                    prop_assert!(!r.problems.is_empty());
                    prop_assert_eq!(&p, &before);
                    // Whole-or-nothing: each entry alone is accepted iff it is not in the problem list.
                    for prob in &r.problems {
                        prop_assert!(prob.index < entries.len());
                    }
                }
            }
        }
    }

    /// An increment-only stat never decreases, and a first unlock time never changes.
    #[test]
    fn increment_only_and_unlock_time_are_monotonic(batches in arb_batches()) {
        let schema = schema_with_limits();
        let kills = schema.stat("Kills").unwrap().clone();
        let mut p = empty();
        for (t, entries) in batches.into_iter().enumerate() {
            // Only a clear may lock an achievement again; leave clears out here.
            let entries: Vec<_> = entries.into_iter().filter(|e| !matches!(e, BatchEntry::ClearAchievement { .. })).collect();
            if let Ok(o) = apply_batch(&schema, &p, &StoreBatch { entries }, WriteAuthority::Server, NOW + t as i64) {
                prop_assert!(o.progress.stat(&kills).read(&kills) >= p.stat(&kills).read(&kills));
                for (name, a) in &p.achievements {
                    if a.unlocked {
                        prop_assert_eq!(o.progress.achievement(name.as_str()).unlock_time, a.unlock_time);
                    }
                }
                for a in o.progress.achievements.values() {
                    prop_assert_eq!(a.unlocked, a.unlock_time.is_some());
                }
                p = o.progress;
            }
        }
    }

    /// A batch is accepted only if every entry obeys min/max of its stat.
    #[test]
    fn accepted_values_are_within_bounds(batches in arb_batches()) {
        let schema = schema_with_limits();
        let mut p = empty();
        for entries in batches {
            if let Ok(o) = apply_batch(&schema, &p, &StoreBatch { entries }, WriteAuthority::Server, NOW) {
                for def in schema.stats() {
                    let v = o.progress.stat(def).read(def);
                    prop_assert!(v.is_finite());
                    prop_assert!(o.progress.stat(def).is_finite_within_type(def), "{} {:?}", def.name, o.progress.stat(def));
                    prop_assert!(def.min.is_none_or(|m| v >= m), "{} {}", def.name, v);
                    prop_assert!(def.max.is_none_or(|m| v <= m), "{} {}", def.name, v);
                }
                p = o.progress;
            }
        }
    }

    /// Deferring the constraints changes only which batches pass: one the
    /// server accepts has the same outcome either way, and one refused with
    /// constraints deferred is refused enforced too, for the same entries
    /// (the SDK refuses at once exactly what the server would refuse for
    /// another reason than a constraint).
    #[test]
    fn deferred_constraints_only_widen_what_passes(batches in arb_batches()) {
        let schema = schema_with_limits();
        let mut p = empty();
        for entries in batches {
            let batch = StoreBatch { entries };
            let enforced = apply_batch(&schema, &p, &batch, WriteAuthority::User, NOW);
            let deferred = apply_batch_with(&schema, &p, &batch, WriteAuthority::User, NOW, Constraints::Deferred);
            match (&enforced, &deferred) {
                (Ok(e), Ok(d)) => prop_assert_eq!(e, d),
                (Err(e), Ok(_)) => prop_assert!(e.problems.iter().all(|x| x.problem.is_constraint()), "{e}"),
                (Err(e), Err(d)) => {
                    let other: Vec<_> = e.problems.iter().filter(|x| !x.problem.is_constraint()).collect();
                    prop_assert_eq!(other, d.problems.iter().collect::<Vec<_>>());
                }
                (Ok(_), Err(d)) => prop_assert!(false, "deferred refused what enforced took: {d}"),
            }
            if let Ok(o) = enforced {
                p = o.progress;
            }
        }
    }
}

#[test]
fn deferred_constraints_take_a_value_the_server_refuses() {
    let schema = schema_with_limits();
    let start = apply_batch(
        &schema,
        &empty(),
        &StoreBatch {
            entries: vec![set("Kills", 50.0)],
        },
        WriteAuthority::User,
        NOW,
    )
    .unwrap()
    .progress;
    let breaking = StoreBatch {
        entries: vec![set("Kills", -5.0)],
    };
    let refusal = apply_batch(&schema, &start, &breaking, WriteAuthority::User, NOW).unwrap_err();
    assert_eq!(refusal.result, EResult::InvalidParam);
    assert!(
        refusal.problems.iter().all(|p| p.problem.is_constraint()),
        "{refusal}"
    );
    let taken = apply_batch_with(
        &schema,
        &start,
        &breaking,
        WriteAuthority::User,
        NOW,
        Constraints::Deferred,
    )
    .expect("deferred");
    let kills = schema.stat("Kills").unwrap();
    assert_eq!(taken.progress.stat(kills).read(kills), -5.0);
    // A wrong type, an unknown name and a server-only stat are still refused.
    for entry in [
        set("Nope", 1.0),
        set("Kills", 1.5),
        set("Cheat", 1.0),
        set("Ratio", f64::NAN),
    ] {
        let batch = StoreBatch {
            entries: vec![entry],
        };
        assert!(
            apply_batch_with(
                &schema,
                &start,
                &batch,
                WriteAuthority::User,
                NOW,
                Constraints::Deferred
            )
            .is_err()
        );
    }
}
