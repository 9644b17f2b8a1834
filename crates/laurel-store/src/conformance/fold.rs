//! The property check: a store agrees with folding `apply_batch` in memory.

use super::*;

/// One store of a generated sequence: entries and whose credentials carry them.
pub type GeneratedBatch = (Vec<BatchEntry>, WriteAuthority);

/// Sequences of batches over [`test_schema`], valid and invalid.
pub fn arb_batches() -> impl Strategy<Value = Vec<GeneratedBatch>> {
    let stat = prop::sample::select(vec![
        "Kills", "Score", "Ratio", "Feet", "Speed", "Cheat", "Nope",
    ]);
    let achievement = prop::sample::select(vec!["A", "B", "C", "Far", "Collector", "Nope"]);
    let entry = prop_oneof![
        (stat.clone(), -20i32..200).prop_map(|(n, v)| set(n, f64::from(v))),
        (stat.clone(), -50.0f64..150.0).prop_map(|(n, v)| set(n, v)),
        (stat, 0.0f64..100.0, prop_oneof![Just(0.0), 1.0f64..5000.0])
            .prop_map(|(n, c, s)| avg(n, c, s)),
        achievement.clone().prop_map(unlock),
        achievement.clone().prop_map(clear),
        (achievement, 0u32..12, 0u32..12).prop_map(|(n, c, m)| indicate(n, c, m)),
    ];
    let authority = prop_oneof![Just(WriteAuthority::User), Just(WriteAuthority::Server)];
    prop::collection::vec((prop::collection::vec(entry, 0..5), authority), 1..12)
}

/// Applying `batches` through the store gives what folding
/// [`apply_batch`] in memory gives, answer by answer; replaying every
/// accepted batch with its key then changes nothing. (Refused batches record
/// no key, so they are not replays: sent again, they are validated again.)
pub async fn batches_match_in_memory_fold(store: &dyn Store, batches: &[GeneratedBatch]) {
    let app = setup(store).await;
    let player = user(42);
    let schema = test_schema();
    let mut memory = UserProgress::default();
    let mut accepted = Vec::new();
    for (i, (entries, authority)) in batches.iter().enumerate() {
        let now = NOW + i as i64;
        let mut sent = request(app, player, &format!("fold-{i}"), entries.clone(), now);
        sent.authority = *authority;
        let reply = store.store(sent.clone()).await.expect("store");
        match apply_batch(&schema, &memory, &sent.batch, *authority, now) {
            Ok(outcome) => {
                let StoreReply::Applied {
                    progress,
                    newly_unlocked,
                    replayed: false,
                } = reply
                else {
                    panic!("batch {i} {entries:?}: expected it applied, got {reply:?}");
                };
                assert_same_progress(&progress, &outcome.progress, &format!("batch {i}"));
                assert_eq!(newly_unlocked, outcome.newly_unlocked, "batch {i}");
                memory = outcome.progress;
                accepted.push((sent, newly_unlocked));
            }
            Err(refusal) => assert_eq!(reply, StoreReply::Refused(refusal), "batch {i}"),
        }
    }
    let stored = store.progress(app, player).await.expect("progress");
    assert_same_progress(&stored, &memory, "after the sequence");
    let global = store.global_achievements(app).await.expect("global");
    assert_eq!(global.users, u64::from(memory.version > 0));
    for def in schema.achievements() {
        let want = u64::from(memory.is_unlocked(def.name.as_str()));
        assert_eq!(
            unlocked_count(&global, def.name.as_str()),
            want,
            "{}",
            def.name
        );
    }

    for (mut sent, first) in accepted {
        sent.now += 1_000;
        let key = sent.idempotency_key.clone();
        match store.store(sent).await.expect("replay") {
            StoreReply::Applied {
                progress,
                newly_unlocked,
                replayed: true,
            } => {
                assert_same_progress(&progress, &memory, key.as_str());
                assert_eq!(newly_unlocked, first, "{key}");
            }
            other => panic!("{key}: expected a replay, got {other:?}"),
        }
    }
    let stored = store.progress(app, player).await.expect("progress");
    assert_same_progress(&stored, &memory, "after the replays");
    assert_eq!(
        store.global_achievements(app).await.expect("global"),
        global
    );
}
