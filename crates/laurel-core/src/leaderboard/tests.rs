use proptest::prelude::*;

use super::*;
use crate::limits::MAX_LEADERBOARD_DETAILS;

fn entry(score: i32, set_at: UnixTime, seq: u64) -> Entry {
    Entry {
        score,
        details: Vec::new(),
        set_at,
        seq,
    }
}

fn sort_method() -> impl Strategy<Value = SortMethod> {
    prop_oneof![Just(SortMethod::Ascending), Just(SortMethod::Descending)]
}

fn upload_method() -> impl Strategy<Value = UploadMethod> {
    prop_oneof![
        Just(UploadMethod::KeepBest),
        Just(UploadMethod::ForceUpdate)
    ]
}

#[test]
fn board_names_compare_without_case_and_keep_their_spelling() {
    let a = BoardName::parse("Feet Traveled").unwrap();
    let b = BoardName::parse("FEET traveled").unwrap();
    assert_eq!(a, b);
    assert_eq!(a.as_str(), "Feet Traveled");
    assert_eq!(
        BoardName::parse("Ärger").unwrap(),
        BoardName::parse("ärger").unwrap()
    );
    assert_ne!(a, BoardName::parse("Quickest Win").unwrap());
    assert!(matches!(BoardName::parse(""), Err(NameError::Empty)));
    assert!(BoardName::parse(&"n".repeat(128)).is_ok());
    assert!(matches!(
        BoardName::parse(&"n".repeat(129)),
        Err(NameError::TooLong { len: 129 })
    ));
    assert!(matches!(
        BoardName::parse("a\nb"),
        Err(NameError::ControlCharacter { at: 1 })
    ));
}

#[test]
fn setting_words_read_in_any_ascii_case_and_nothing_else() {
    assert_eq!(
        SortMethod::parse("Descending"),
        Some(SortMethod::Descending)
    );
    assert_eq!(
        DisplayType::parse("MILLISECONDS"),
        Some(DisplayType::Milliseconds)
    );
    assert_eq!(
        UploadMethod::parse("keepbest"),
        Some(UploadMethod::KeepBest)
    );
    assert_eq!(BoardWrites::parse("trusted"), Some(BoardWrites::Trusted));
    assert_eq!(BoardPeriod::parse("weekly"), Some(BoardPeriod::Weekly));
    for bad in ["", "asc", "descending ", "numéric", "0"] {
        assert_eq!(SortMethod::parse(bad), None, "{bad:?}");
        assert_eq!(DisplayType::parse(bad), None, "{bad:?}");
    }
    for s in SortMethod::ALL {
        assert_eq!(SortMethod::parse(s.as_str()), Some(*s));
    }
}

#[test]
fn periods_start_on_utc_boundaries() {
    // 2026-12-05 (a Saturday) 13:14:15 UTC.
    let now = 1_796_476_455;
    assert_eq!(BoardPeriod::None.start(now), None);
    assert_eq!(BoardPeriod::Daily.start(now), Some(1_796_428_800)); // 2026-12-05 00:00
    assert_eq!(BoardPeriod::Weekly.start(now), Some(1_795_996_800)); // Monday 2026-11-30
    assert_eq!(BoardPeriod::Monthly.start(now), Some(1_796_083_200)); // 2026-12-01
    // The first second of a period is its own start.
    assert_eq!(BoardPeriod::Daily.start(1_796_428_800), Some(1_796_428_800));
    assert_eq!(
        BoardPeriod::Monthly.start(1_796_083_200),
        Some(1_796_083_200)
    );
    // Before 1970, and across a leap day.
    assert_eq!(BoardPeriod::Daily.start(-1), Some(-86_400));
    assert_eq!(BoardPeriod::Monthly.start(951_782_400), Some(949_363_200)); // 2000-02-29 → 2000-02-01
}

#[test]
fn keep_best_changes_only_on_a_strict_improvement() {
    let old = entry(100, 10, 1);
    let up =
        |sort, score| upload(sort, UploadMethod::KeepBest, Some(&old), score, &[7], 20, 2).unwrap();
    assert!(up(SortMethod::Descending, 101).changed);
    assert!(!up(SortMethod::Descending, 100).changed);
    assert!(!up(SortMethod::Descending, 99).changed);
    assert!(up(SortMethod::Ascending, 99).changed);
    assert!(!up(SortMethod::Ascending, 100).changed);
    // An unchanged entry keeps when it was achieved, so it keeps its place.
    assert_eq!(up(SortMethod::Ascending, 100).entry, old);
    let forced = upload(
        SortMethod::Descending,
        UploadMethod::ForceUpdate,
        Some(&old),
        5,
        &[],
        30,
        3,
    )
    .unwrap();
    assert!(forced.changed);
    assert_eq!(forced.entry, entry(5, 30, 3));
}

#[test]
fn details_are_bounded() {
    let ok = vec![1; MAX_LEADERBOARD_DETAILS];
    assert!(
        upload(
            SortMethod::Ascending,
            UploadMethod::KeepBest,
            None,
            1,
            &ok,
            0,
            0
        )
        .is_ok()
    );
    let too_many = vec![1; MAX_LEADERBOARD_DETAILS + 1];
    assert_eq!(
        upload(
            SortMethod::Ascending,
            UploadMethod::KeepBest,
            None,
            1,
            &too_many,
            0,
            0
        ),
        Err(TooManyDetails { count: 65 })
    );
}

#[test]
fn global_ranges_are_read_as_steam_reads_them() {
    assert_eq!(global_range(1, 25, 100), Some((1, 25)));
    assert_eq!(global_range(-5, 3, 100), Some((1, 3)));
    assert_eq!(global_range(10, 2, 100), Some((10, 10)));
    assert_eq!(global_range(90, 200, 100), Some((90, 100)));
    assert_eq!(global_range(101, 200, 100), None);
    assert_eq!(global_range(1, i64::MAX, 3), Some((1, 3)));
    assert_eq!(global_range(i64::MIN, i64::MIN, 3), Some((1, 1)));
    assert_eq!(global_range(1, 25, 0), None);
}

#[test]
fn around_user_windows_shift_at_the_ends() {
    // The middle: exactly the window.
    assert_eq!(around_user(Some(50), -12, 12, 100), Some((38, 62)));
    // Near the top: shifted down, still 25 entries.
    assert_eq!(around_user(Some(2), -12, 12, 100), Some((1, 25)));
    // Near the bottom: shifted up.
    assert_eq!(around_user(Some(99), -12, 12, 100), Some((76, 100)));
    // A board smaller than the window: all of it.
    assert_eq!(around_user(Some(3), -12, 12, 5), Some((1, 5)));
    // Reversed bounds read as the same window; no entry, no window.
    assert_eq!(around_user(Some(50), 12, -12, 100), Some((38, 62)));
    assert_eq!(around_user(None, -12, 12, 100), None);
    // Only after the user.
    assert_eq!(around_user(Some(10), 0, 4, 100), Some((10, 14)));
    assert_eq!(around_user(Some(1), i64::MIN, i64::MAX, 7), Some((1, 7)));
}

proptest! {
    #[test]
    fn keep_best_never_makes_an_entry_worse(
        sort in sort_method(),
        old in any::<i32>(),
        new in any::<i32>(),
    ) {
        let previous = entry(old, 1, 1);
        let after = upload(sort, UploadMethod::KeepBest, Some(&previous), new, &[], 2, 2).unwrap();
        prop_assert!(!improves(sort, old, after.entry.score));
        prop_assert_eq!(after.changed, improves(sort, new, old));
        let forced = upload(sort, UploadMethod::ForceUpdate, Some(&previous), new, &[], 2, 2).unwrap();
        prop_assert_eq!(forced.entry.score, new);
    }

    #[test]
    fn ranks_are_a_permutation_that_follows_the_sort_and_the_first_achiever(
        sort in sort_method(),
        uploads in proptest::collection::vec((0u8..6, -3i32..3, upload_method()), 1..60),
    ) {
        // Users 0..6 upload small scores (many ties) in order; each upload
        // arrives one second after the last.
        let mut board: std::collections::BTreeMap<u8, Entry> = Default::default();
        for (i, (user, score, method)) in uploads.into_iter().enumerate() {
            let i = i as u64;
            let done = upload(sort, method, board.get(&user), score, &[], i as i64, i).unwrap();
            board.insert(user, done.entry);
        }
        let mut ranked: Vec<&Entry> = board.values().collect();
        ranked.sort_by(|a, b| compare(sort, a, b));
        let keys: std::collections::BTreeSet<RankKey> =
            ranked.iter().map(|e| RankKey::of(sort, e)).collect();
        prop_assert_eq!(keys.len(), ranked.len(), "every entry its own rank");
        for pair in ranked.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            prop_assert!(!improves(sort, b.score, a.score), "sorted by score");
            if a.score == b.score {
                prop_assert!(a.set_at <= b.set_at, "a tie goes to who got there first");
            }
        }
    }

    #[test]
    fn around_user_windows_have_the_requested_size_where_the_board_allows(
        count in 1u64..500,
        rank_seed in any::<u64>(),
        before in -40i64..=0,
        after in 0i64..40,
    ) {
        let rank = rank_seed % count + 1;
        let (first, last) = around_user(Some(rank), before, after, count).unwrap();
        let wanted = (after - before + 1) as u64;
        prop_assert_eq!(last - first + 1, wanted.min(count));
        prop_assert!(first >= 1 && last <= count);
        prop_assert!(first <= rank && rank <= last, "the user is in the window");
    }

    #[test]
    fn global_ranges_stay_on_the_board(start in any::<i64>(), end in any::<i64>(), count in 0u64..1000) {
        if let Some((first, last)) = global_range(start, end, count) {
            prop_assert!(1 <= first && first <= last && last <= count);
        }
    }
}
