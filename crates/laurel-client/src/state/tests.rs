use laurel_core::schema_doc::DEMO_SCHEMA_JSON;
use laurel_core::{SchemaDoc, StoreBatch, UserProgress, WriteAuthority, apply_batch};
use laurel_wire::{ProgressBody, StoreResponse};

use super::*;

const NOW: UnixTime = 1_700_000_000;

fn app() -> AppId {
    AppId::new(480).unwrap()
}
fn me() -> SteamId {
    SteamId::new(76561197960287930).unwrap()
}
fn friend() -> SteamId {
    SteamId::new(76561197960287931).unwrap()
}
fn demo() -> Schema {
    Schema::from_doc(&SchemaDoc::from_json(DEMO_SCHEMA_JSON).unwrap()).unwrap()
}

fn body(user: SteamId, progress: &UserProgress) -> ProgressBody {
    ProgressBody::build(app(), user, 1, &demo(), progress)
}

/// A state whose schema and current-user progress (defaults) have arrived.
fn loaded(language: &str) -> State {
    let mut s = State::new(app(), me(), language.into());
    s.install_schema(1, demo(), NOW);
    let events = s.install_progress(me(), &body(me(), &UserProgress::default()), NOW);
    assert_eq!(events, [Event::update(me(), EResult::Ok)]);
    s
}

/// What the server would answer to `batch` on top of `server`.
fn server_answer(server: &UserProgress, batch: &StoreBatch) -> (UserProgress, StoreResponse) {
    let outcome = apply_batch(&demo(), server, batch, WriteAuthority::User, NOW).unwrap();
    let response = StoreResponse {
        result: 1,
        replayed: false,
        newly_unlocked: outcome
            .newly_unlocked
            .iter()
            .map(|n| n.to_string())
            .collect(),
        progress: body(me(), &outcome.progress),
    };
    (outcome.progress, response)
}

fn pending_batch(s: &State) -> StoreBatch {
    s.pending_body().to_batch().unwrap()
}

fn info(name: &str, current: Option<u32>, max: Option<u32>) -> Event {
    Event::AchievementInfoUpdate {
        achievement_name: name.into(),
        current_progress: current,
        max_progress: max,
    }
}

#[test]
fn reads_are_empty_until_progress_arrives() {
    let mut s = State::new(app(), me(), "english".into());
    assert!(s.achievement_names().is_empty());
    assert_eq!(s.stat_i32("NumGames", None), None);
    s.install_schema(1, demo(), NOW);
    assert_eq!(
        s.achievement_names(),
        [
            "ACH_WIN_ONE_GAME",
            "ACH_WIN_100_GAMES",
            "ACH_TRAVEL_FAR_ACCUM",
            "ACH_TRAVEL_FAR_SINGLE"
        ]
    );
    assert_eq!(s.achievement("ACH_WIN_ONE_GAME", None), None);
    assert_eq!(s.stat_i32("NumGames", None), None);
    // A write before the progress arrives is taken (checked against the
    // schema) and shows once the progress is there.
    assert!(s.write(
        BatchEntry::UnlockAchievement {
            name: "ACH_WIN_ONE_GAME".into()
        },
        NOW
    ));
    assert!(!s.write(
        BatchEntry::UnlockAchievement {
            name: "NOPE".into()
        },
        NOW
    ));
    assert_eq!(s.achievement("ACH_WIN_ONE_GAME", None), None);

    s.install_progress(me(), &body(me(), &UserProgress::default()), NOW);
    assert!(s.achievement("ACH_WIN_ONE_GAME", None).unwrap().unlocked);
    assert_eq!(s.stat_i32("NumGames", None), Some(0));
    assert_eq!(s.stat_i32("NumGames", Some(me())), Some(0));
    assert_eq!(s.stat_i32("NumGames", Some(friend())), None);
}

#[test]
fn reads_check_the_stat_type() {
    let s = loaded("english");
    assert_eq!(s.stat_i32("NumGames", None), Some(0));
    assert_eq!(s.stat_f32("NumGames", None), None);
    assert_eq!(s.stat_avg_rate("NumGames", None), None);
    assert_eq!(s.stat_f32("FeetTraveled", None), Some(0.0));
    assert_eq!(s.stat_i32("FeetTraveled", None), None);
    assert_eq!(s.stat_avg_rate("AverageSpeed", None), Some(0.0));
    assert_eq!(s.stat_f32("AverageSpeed", None), None);
    assert_eq!(s.stat_i32("NoSuchStat", None), None);
    assert_eq!(s.stat_kind("AverageSpeed"), Some(StatKind::AvgRate));
    assert_eq!(s.stat_kind("ACH_WIN_ONE_GAME"), None);
}

#[test]
fn achievement_texts_are_localized_with_english_fallback() {
    let s = loaded("french");
    let a = s.achievement("ACH_WIN_ONE_GAME", None).unwrap();
    assert_eq!(
        a,
        AchievementInfo {
            unlocked: false,
            unlock_time: None,
            display_name: "Vainqueur".into(),
            description: "Gagnez une partie.".into(),
            hidden: false,
            progress: None,
        }
    );
    let b = s.achievement("ACH_WIN_100_GAMES", None).unwrap();
    assert_eq!(b.display_name, "Champion");
    assert!(s.achievement("ACH_TRAVEL_FAR_SINGLE", None).unwrap().hidden);
    assert_eq!(
        s.achievement("ACH_TRAVEL_FAR_ACCUM", None)
            .unwrap()
            .progress,
        Some((0, 5280))
    );
    assert_eq!(s.achievement("NOPE", None), None);
}

#[test]
fn writes_the_schema_refuses_return_false_and_change_nothing() {
    let mut s = loaded("english");
    for entry in [
        BatchEntry::SetStat {
            name: "NoSuchStat".into(),
            value: 1.0,
        },
        BatchEntry::SetStat {
            name: "FeetTraveled".into(),
            value: f64::NAN,
        },
        BatchEntry::SetStat {
            name: "NumGames".into(),
            value: 1.5,
        },
        BatchEntry::UnlockAchievement {
            name: "NOPE".into(),
        },
        BatchEntry::UpdateAvgRate {
            name: "AverageSpeed".into(),
            count: 1.0,
            session_seconds: 0.0,
        },
        BatchEntry::IndicateProgress {
            name: "ACH_WIN_100_GAMES".into(),
            current: 1,
            max: 0,
        },
    ] {
        assert!(!s.write(entry.clone(), NOW), "{entry:?}");
    }
    assert!(!s.has_pending());
    assert_eq!(s.stat_i32("NumGames", None), Some(0));
}

#[test]
fn writes_that_break_constraints_are_taken_and_left_to_the_server() {
    let mut s = loaded("english");
    assert!(s.write(
        BatchEntry::SetStat {
            name: "NumGames".into(),
            value: 5.0
        },
        NOW
    ));
    // Increment-only, and min 0: the server judges both, as on Steam.
    assert!(s.write(
        BatchEntry::SetStat {
            name: "NumGames".into(),
            value: 3.0
        },
        NOW
    ));
    assert_eq!(s.stat_i32("NumGames", None), Some(3));
    assert!(s.write(
        BatchEntry::SetStat {
            name: "NumGames".into(),
            value: -5.0
        },
        NOW
    ));
    assert_eq!(s.stat_i32("NumGames", None), Some(-5));
    assert!(s.write(
        BatchEntry::SetStat {
            name: "NumGames".into(),
            value: 6.0
        },
        NOW
    ));
    // One entry per name: the last write.
    assert_eq!(
        pending_batch(&s).entries,
        [BatchEntry::SetStat {
            name: "NumGames".into(),
            value: 6.0
        }]
    );
}

#[test]
fn check_stats_judges_as_the_server_without_writing() {
    let fresh = State::new(app(), me(), "english".into());
    let early = fresh.check_stats(&[("NumGames", 1.0)], NOW).unwrap_err();
    assert_eq!(early[0].rule, "no_schema");
    let mut s2 = loaded("english");
    assert!(s2.write(
        BatchEntry::SetStat {
            name: "NumGames".into(),
            value: 5.0
        },
        NOW
    ));
    assert_eq!(
        s2.check_stats(&[("NumGames", 6.0), ("FeetTraveled", 1.5)], NOW),
        Ok(())
    );
    let refused = s2
        .check_stats(
            &[("NumGames", 4.0), ("FeetTraveled", -1.0), ("Nope", 1.0)],
            NOW,
        )
        .unwrap_err();
    let rules: Vec<(&str, &str)> = refused
        .iter()
        .map(|d| (d.name.as_str(), d.rule.as_str()))
        .collect();
    assert_eq!(
        rules,
        [
            ("NumGames", "decrease_of_increment_only"),
            ("FeetTraveled", "below_min"),
            ("Nope", "unknown_stat")
        ]
    );
    assert_eq!(s2.stat_i32("NumGames", None), Some(5), "nothing written");
    assert_eq!(pending_batch(&s2).entries.len(), 1);
}

#[test]
fn avgrate_sessions_add_up_in_one_entry() {
    let mut s = loaded("english");
    let upd = |c, sec| BatchEntry::UpdateAvgRate {
        name: "AverageSpeed".into(),
        count: c,
        session_seconds: sec,
    };
    assert!(s.write(upd(100.0, 10.0), NOW));
    assert!(s.write(upd(300.0, 10.0), NOW));
    assert_eq!(pending_batch(&s).entries, [upd(400.0, 20.0)]);
    assert_eq!(s.stat_avg_rate("AverageSpeed", None), Some(20.0));
}

#[test]
fn unlocking_twice_is_true_and_adds_nothing() {
    let mut s = loaded("english");
    assert!(s.set_achievement("ACH_WIN_ONE_GAME", NOW));
    assert!(s.set_achievement("ACH_WIN_ONE_GAME", NOW));
    assert_eq!(pending_batch(&s).entries.len(), 1);
    let a = s.achievement("ACH_WIN_ONE_GAME", None).unwrap();
    assert!(a.unlocked);
    assert_eq!(a.unlock_time, Some(NOW));
    // Progress of an unlocked achievement is refused, as on Steam.
    assert!(!s.indicate_progress("ACH_WIN_ONE_GAME", 1, 2, NOW));
    assert!(!s.set_achievement("NOPE", NOW));
}

#[test]
fn a_stored_write_gives_info_then_save_then_update() {
    let mut s = loaded("english");
    assert!(s.set_achievement("ACH_WIN_ONE_GAME", NOW));
    assert!(s.indicate_progress("ACH_WIN_100_GAMES", 3, 100, NOW));
    assert!(s.write(
        BatchEntry::SetStat {
            name: "NumGames".into(),
            value: 1.0
        },
        NOW
    ));
    // Crossing the bound stat's max unlocks ACH_TRAVEL_FAR_ACCUM on the server.
    assert!(s.write(
        BatchEntry::SetStat {
            name: "FeetTraveled".into(),
            value: 6000.0
        },
        NOW
    ));
    let batch = pending_batch(&s);
    s.commit_pending(1, "k".into(), "{}".into());
    assert!(!s.has_pending());
    // The cache shows the writes while the store is in flight.
    assert_eq!(s.stat_i32("NumGames", None), Some(1));
    assert!(
        s.achievement("ACH_TRAVEL_FAR_ACCUM", None)
            .unwrap()
            .unlocked
    );

    let (_, response) = server_answer(&UserProgress::default(), &batch);
    let events = s.answer_head(HeadAnswer::Stored(response), NOW);
    assert_eq!(
        events,
        [
            info("ACH_WIN_ONE_GAME", None, None),
            info("ACH_WIN_100_GAMES", Some(3), Some(100)),
            info("ACH_TRAVEL_FAR_ACCUM", None, None),
            Event::save(me(), EResult::Ok),
            Event::update(me(), EResult::Ok),
        ]
    );
    assert!(s.in_flight.is_empty());
    assert_eq!(s.stat_i32("NumGames", None), Some(1));
    assert_eq!(
        s.achievement("ACH_WIN_100_GAMES", None).unwrap().progress,
        Some((3, 100))
    );
    assert_eq!(
        s.achievement("ACH_WIN_ONE_GAME", None).unwrap().unlock_time,
        Some(NOW)
    );
}

#[test]
fn a_refused_store_reverts_the_cache_to_the_server_state() {
    let mut s = loaded("english");
    assert!(s.write(
        BatchEntry::SetStat {
            name: "NumGames".into(),
            value: 5.0
        },
        NOW
    ));
    assert!(s.set_achievement("ACH_WIN_ONE_GAME", NOW));
    s.commit_pending(1, "k1".into(), "{}".into());
    // A later write, not yet stored, survives the refusal.
    assert!(s.write(
        BatchEntry::SetStat {
            name: "FeetTraveled".into(),
            value: 10.0
        },
        NOW
    ));

    let events = s.answer_head(HeadAnswer::Refused(EResult::InvalidParam, Vec::new()), NOW);
    assert_eq!(events, [Event::save(me(), EResult::InvalidParam)]);
    assert_eq!(s.stat_i32("NumGames", None), Some(0));
    assert!(!s.achievement("ACH_WIN_ONE_GAME", None).unwrap().unlocked);
    assert_eq!(s.stat_f32("FeetTraveled", None), Some(10.0));
    assert!(s.has_pending());
}

#[test]
fn pending_writes_stay_over_a_newer_snapshot_for_the_server_to_judge() {
    let mut s = loaded("english");
    assert!(s.write(
        BatchEntry::SetStat {
            name: "NumGames".into(),
            value: 3.0
        },
        NOW
    ));
    assert!(s.set_achievement("ACH_WIN_ONE_GAME", NOW));
    // Another device raised NumGames to 10 meanwhile.
    let (server, _) = server_answer(
        &UserProgress::default(),
        &StoreBatch {
            entries: vec![BatchEntry::SetStat {
                name: "NumGames".into(),
                value: 10.0,
            }],
        },
    );
    s.install_progress(me(), &body(me(), &server), NOW);
    // The game's own write still shows; the store that carries it is refused.
    assert_eq!(s.stat_i32("NumGames", None), Some(3));
    assert_eq!(pending_batch(&s).entries.len(), 2);
}

#[test]
fn stores_in_flight_stay_applied_over_a_newer_snapshot() {
    let mut s = loaded("english");
    assert!(s.write(
        BatchEntry::SetStat {
            name: "NumWins".into(),
            value: 2.0
        },
        NOW
    ));
    s.commit_pending(1, "k1".into(), "{}".into());
    // A fetch answered before the store reached the server.
    s.install_progress(me(), &body(me(), &UserProgress::default()), NOW);
    assert_eq!(s.stat_i32("NumWins", None), Some(2));
}

#[test]
fn offline_is_reported_once_per_store() {
    let mut s = loaded("english");
    assert!(s.set_achievement("ACH_WIN_ONE_GAME", NOW));
    s.commit_pending(1, "k1".into(), "{}".into());
    s.commit_nothing();
    let offline = Event::save(me(), EResult::NoConnection);
    assert_eq!(
        s.report_offline(EResult::NoConnection),
        [offline.clone(), offline.clone()]
    );
    assert_eq!(s.report_offline(EResult::NoConnection), []);
    assert!(s.write(
        BatchEntry::SetStat {
            name: "NumGames".into(),
            value: 1.0
        },
        NOW
    ));
    s.commit_pending(2, "k2".into(), "{}".into());
    assert_eq!(s.report_offline(EResult::NoConnection), [offline]);
}

#[test]
fn replayed_entries_report_only_their_outcome() {
    let entry = crate::journal::JournalEntry {
        seq: 4,
        kind: EntryKind::Store,
        idempotency_key: "k".into(),
        body: r#"{"unlock":["ACH_WIN_ONE_GAME"]}"#.into(),
        created: 0,
    };
    let mut s = State::new(app(), me(), "english".into());
    s.in_flight.push_back(InFlight::from_journal(entry));
    assert_eq!(s.report_offline(EResult::NoConnection), []);
    // The schema and the answer arrive; no snapshot was fetched before.
    s.install_schema(1, demo(), NOW);
    let (_, response) = server_answer(
        &UserProgress::default(),
        &StoreBatch {
            entries: vec![BatchEntry::UnlockAchievement {
                name: "ACH_WIN_ONE_GAME".into(),
            }],
        },
    );
    assert_eq!(
        s.answer_head(HeadAnswer::Stored(response), NOW),
        [
            info("ACH_WIN_ONE_GAME", None, None),
            Event::save(me(), EResult::Ok),
            Event::update(me(), EResult::Ok)
        ]
    );
    assert!(s.achievement("ACH_WIN_ONE_GAME", None).unwrap().unlocked);
}

#[test]
fn an_empty_store_answers_in_order() {
    let mut s = loaded("english");
    s.commit_nothing();
    assert_eq!(
        s.answer_head(HeadAnswer::Empty, NOW),
        [
            Event::save(me(), EResult::Ok),
            Event::update(me(), EResult::Ok)
        ]
    );
}

#[test]
fn reset_drops_pending_stats_and_keeps_pending_unlocks() {
    let mut s = loaded("english");
    assert!(s.write(
        BatchEntry::SetStat {
            name: "NumGames".into(),
            value: 4.0
        },
        NOW
    ));
    s.commit_pending(1, "k1".into(), "{}".into());
    assert!(s.write(
        BatchEntry::SetStat {
            name: "NumWins".into(),
            value: 1.0
        },
        NOW
    ));
    assert!(s.set_achievement("ACH_WIN_ONE_GAME", NOW));
    s.commit_reset(ResetScope::own(false), 2, "k2".into(), "{}".into(), NOW);
    assert_eq!(s.stat_i32("NumGames", None), Some(0));
    assert_eq!(s.stat_i32("NumWins", None), Some(0));
    assert!(s.achievement("ACH_WIN_ONE_GAME", None).unwrap().unlocked);
    assert_eq!(
        pending_batch(&s).entries,
        [BatchEntry::UnlockAchievement {
            name: "ACH_WIN_ONE_GAME".into()
        }]
    );
    let (after_store, response) = server_answer(
        &UserProgress::default(),
        &StoreBatch {
            entries: vec![BatchEntry::SetStat {
                name: "NumGames".into(),
                value: 4.0,
            }],
        },
    );
    s.answer_head(HeadAnswer::Stored(response), NOW);
    // Until the reset is answered, the cache shows it applied.
    assert_eq!(s.stat_i32("NumGames", None), Some(0));
    let (reset_progress, _) = laurel_core::reset(
        &after_store,
        ResetScope::own(false),
        &laurel_core::schema_doc::demo_schema(),
    );
    assert_eq!(
        s.answer_head(HeadAnswer::Reset(body(me(), &reset_progress)), NOW),
        [
            Event::save(me(), EResult::Ok),
            Event::update(me(), EResult::Ok)
        ]
    );
    assert_eq!(s.stat_i32("NumGames", None), Some(0));
}

#[test]
fn other_users_are_cached_up_to_the_bound() {
    let mut s = loaded("english");
    let (theirs, _) = server_answer(
        &UserProgress::default(),
        &StoreBatch {
            entries: vec![BatchEntry::UnlockAchievement {
                name: "ACH_WIN_ONE_GAME".into(),
            }],
        },
    );
    assert_eq!(
        s.install_progress(friend(), &body(friend(), &theirs), NOW),
        [Event::update(friend(), EResult::Ok)]
    );
    assert!(
        s.achievement("ACH_WIN_ONE_GAME", Some(friend()))
            .unwrap()
            .unlocked
    );
    assert!(!s.achievement("ACH_WIN_ONE_GAME", None).unwrap().unlocked);
    for i in 0..MAX_CACHED_USERS - 1 {
        let u = SteamId::new(1000 + i as u64).unwrap();
        assert_eq!(s.install_progress(u, &body(u, &theirs), NOW).len(), 1);
    }
    let one_more = SteamId::new(5).unwrap();
    assert_eq!(
        s.install_progress(one_more, &body(one_more, &theirs), NOW),
        [
            Event::UserProgressUnload {
                user_steam_id: friend()
            },
            Event::update(one_more, EResult::Ok)
        ]
    );
    assert_eq!(s.achievement("ACH_WIN_ONE_GAME", Some(friend())), None);
}

#[test]
fn snapshots_round_trip_through_the_wire_shape() {
    let schema = demo();
    let (p, _) = server_answer(
        &UserProgress::default(),
        &StoreBatch {
            entries: vec![
                BatchEntry::SetStat {
                    name: "NumGames".into(),
                    value: 3.0,
                },
                BatchEntry::SetStat {
                    name: "FeetTraveled".into(),
                    value: 1234.5,
                },
                BatchEntry::UnlockAchievement {
                    name: "ACH_WIN_ONE_GAME".into(),
                },
                BatchEntry::IndicateProgress {
                    name: "ACH_WIN_100_GAMES".into(),
                    current: 3,
                    max: 100,
                },
                BatchEntry::IndicateProgress {
                    name: "ACH_TRAVEL_FAR_ACCUM".into(),
                    current: 7,
                    max: 9,
                },
            ],
        },
    );
    let back = progress_from_body(&schema, &body(me(), &p));
    assert_eq!(back.stats.get("NumGames"), Some(&StatValue::Int(3)));
    assert_eq!(
        back.stats.get("FeetTraveled"),
        Some(&StatValue::Float(1234.5))
    );
    assert_eq!(back.achievements, p.achievements);
}

mod convergence {
    //! Any interleaving of writes, stores, answers (accepted or refused),
    //! fetches, another device's writes and restarts leaves the cache equal
    //! to the server's state once the journal has drained, with every
    //! accepted store applied exactly once.

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Step {
        Write(BatchEntry),
        Store,
        /// The server answers the oldest journaled store.
        Answer,
        Fetch,
        /// The game is killed and started again: pending writes are lost,
        /// the journal and the kept answers are not.
        Restart,
        /// Another device of the same user raises `NumGames` by this much.
        Elsewhere(u8),
    }

    fn entry() -> impl Strategy<Value = BatchEntry> {
        prop_oneof![
            (-3i32..20).prop_map(|v| BatchEntry::SetStat {
                name: "NumGames".into(),
                value: f64::from(v),
            }),
            (-5i32..50).prop_map(|v| BatchEntry::SetStat {
                name: "FeetTraveled".into(),
                value: f64::from(v) / 2.0,
            }),
            prop::sample::select(vec![
                "ACH_WIN_ONE_GAME",
                "ACH_WIN_100_GAMES",
                "ACH_TRAVEL_FAR_ACCUM",
                "NOPE"
            ])
            .prop_map(|n| BatchEntry::UnlockAchievement { name: n.into() }),
            (0u32..120).prop_map(|c| BatchEntry::IndicateProgress {
                name: "ACH_TRAVEL_FAR_SINGLE".into(),
                current: c,
                max: 100,
            }),
        ]
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => entry().prop_map(Step::Write),
            2 => Just(Step::Store),
            2 => Just(Step::Answer),
            1 => Just(Step::Fetch),
            1 => Just(Step::Restart),
            1 => (1u8..4).prop_map(Step::Elsewhere),
        ]
    }

    /// The client's side that outlives a restart: journal rows and the
    /// last progress the server sent.
    struct Disk {
        journal: VecDeque<crate::journal::JournalEntry>,
        kept: ProgressBody,
        next_seq: i64,
    }

    fn started(disk: &Disk) -> State {
        let mut s = State::new(app(), me(), "english".into());
        s.in_flight
            .extend(disk.journal.iter().cloned().map(InFlight::from_journal));
        s.install_schema(1, demo(), NOW);
        s.install_progress(me(), &disk.kept, NOW);
        s
    }

    fn store(s: &mut State, disk: &mut Disk) {
        if !s.has_pending() {
            return;
        }
        let text = serde_json::to_string(&s.pending_body()).unwrap();
        let seq = disk.next_seq;
        disk.next_seq += 1;
        let key = format!("k{seq}");
        disk.journal.push_back(crate::journal::JournalEntry {
            seq,
            kind: EntryKind::Store,
            idempotency_key: key.clone(),
            body: text.clone(),
            created: NOW,
        });
        s.commit_pending(seq, key, text);
    }

    /// The server takes or refuses the oldest journaled store, as its
    /// handler does (constraints enforced), and the client gets the answer.
    fn answer(s: &mut State, disk: &mut Disk, server: &mut UserProgress, accepted: &mut u64) {
        let Some(row) = disk.journal.pop_front() else {
            return;
        };
        let batch = serde_json::from_str::<StoreRequestBody>(&row.body)
            .unwrap()
            .to_batch()
            .unwrap();
        let answer = match apply_batch(&demo(), server, &batch, WriteAuthority::User, NOW) {
            Ok(outcome) => {
                *server = outcome.progress;
                *accepted += 1;
                disk.kept = body(me(), server);
                HeadAnswer::Stored(StoreResponse {
                    result: 1,
                    replayed: false,
                    newly_unlocked: Vec::new(),
                    progress: disk.kept.clone(),
                })
            }
            Err(refusal) => HeadAnswer::Refused(refusal.result, Vec::new()),
        };
        assert_eq!(s.in_flight.front().and_then(|f| f.seq), Some(row.seq));
        s.answer_head(answer, NOW);
    }

    fn fetch(s: &mut State, disk: &mut Disk, server: &UserProgress) {
        disk.kept = body(me(), server);
        s.install_progress(me(), &disk.kept, NOW);
    }

    fn same_view(s: &State, server: &UserProgress) -> Result<(), TestCaseError> {
        let schema = demo();
        for def in schema.stats() {
            if def.kind == StatKind::AvgRate {
                continue;
            }
            let seen = s.view(None).map(|p| p.stat(def).read(def));
            prop_assert_eq!(seen, Some(server.stat(def).read(def)), "{}", def.name);
        }
        for def in schema.achievements() {
            let seen = s.achievement(def.name.as_str(), None).map(|a| a.unlocked);
            prop_assert_eq!(
                seen,
                Some(server.is_unlocked(def.name.as_str())),
                "{}",
                def.name
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn the_cache_ends_equal_to_the_server(steps in prop::collection::vec(step(), 0..60)) {
            let mut server = UserProgress::default();
            let mut disk = Disk { journal: VecDeque::new(), kept: body(me(), &server), next_seq: 1 };
            let mut s = started(&disk);
            let mut accepted = 0u64;
            // Whether the server moved (elsewhere) since the client last saw its state.
            let mut stale = false;
            for step in steps {
                match step {
                    Step::Write(e) => {
                        s.write(e, NOW);
                    }
                    Step::Store => store(&mut s, &mut disk),
                    Step::Answer => {
                        let before = accepted;
                        answer(&mut s, &mut disk, &mut server, &mut accepted);
                        stale &= accepted == before;
                    }
                    Step::Fetch => {
                        fetch(&mut s, &mut disk, &server);
                        stale = false;
                    }
                    Step::Restart => s = started(&disk),
                    Step::Elsewhere(k) => {
                        let def = demo();
                        let now = server.stat(def.stat("NumGames").unwrap()).read(def.stat("NumGames").unwrap());
                        let batch = StoreBatch { entries: vec![BatchEntry::SetStat { name: "NumGames".into(), value: now + f64::from(k) }] };
                        server = apply_batch(&def, &server, &batch, WriteAuthority::Server, NOW).unwrap().progress;
                        accepted += 1;
                        stale = true;
                    }
                }
            }
            // The game stores what it has and the journal drains.
            store(&mut s, &mut disk);
            while !disk.journal.is_empty() {
                let before = accepted;
                answer(&mut s, &mut disk, &mut server, &mut accepted);
                stale &= accepted == before;
            }
            // Without a write elsewhere, the answers alone brought the server's state.
            if !stale {
                same_view(&s, &server)?;
            }
            prop_assert!(s.in_flight.is_empty());
            prop_assert!(!s.has_pending());
            // Each accepted store (and each write elsewhere) moved the version once.
            prop_assert_eq!(server.version, accepted);
            fetch(&mut s, &mut disk, &server);
            same_view(&s, &server)?;
            // A restart reads the same from the kept answer.
            let again = started(&disk);
            same_view(&again, &server)?;
        }
    }
}

#[test]
fn users_listed_in_a_download_answer_at_once_and_are_asked_for_once() {
    let mut s = loaded("english");
    assert_eq!(s.user_info(Some(friend())), None);
    s.note_listed([me(), friend()]);
    assert_eq!(
        s.user_info(Some(friend())),
        Some(UserInfo::default_for(friend()))
    );
    assert!(!s.ask_listed(me()), "the current user is never asked for");
    assert!(s.ask_listed(friend()));
    assert!(!s.ask_listed(friend()), "once");
    let events = s.install_profile(&laurel_wire::ProfileBody::new(
        app(),
        friend(),
        Some("Friend".into()),
    ));
    assert_eq!(
        events,
        [Event::UserInfoUpdate {
            user_steam_id: friend()
        }]
    );
    assert_eq!(s.user_info(Some(friend())).unwrap().name, "Friend");
    // Listed again later: the profile is kept, nothing is asked.
    s.note_listed([friend()]);
    assert!(!s.ask_listed(friend()));
}

#[test]
fn listed_users_are_bounded() {
    let mut s = loaded("english");
    let base = 76561197960400000u64;
    s.note_listed((0..MAX_LISTED_USERS as u64 + 10).map(|i| SteamId::new(base + i).unwrap()));
    assert_eq!(s.listed.len(), MAX_LISTED_USERS);
    // Those asked for make room for new ones.
    assert!(s.ask_listed(SteamId::new(base).unwrap()));
    s.note_listed([SteamId::new(base + 20_000).unwrap()]);
    assert_eq!(s.listed.len(), MAX_LISTED_USERS);
    assert!(
        s.user_info(Some(SteamId::new(base + 20_000).unwrap()))
            .is_some()
    );
}
