use laurel_core::schema_doc::demo_schema;
use laurel_core::{WriteAuthority, apply_batch};

use super::*;

fn demo_progress() -> (Schema, UserProgress) {
    let schema = demo_schema();
    let body: StoreRequestBody = serde_json::from_str(
        r#"{"stats":[{"name":"NumGames","value":3},{"name":"FeetTraveled","value":1234.5},
            {"name":"AverageSpeed","count":600,"session_seconds":60}],
            "unlock":["ACH_WIN_ONE_GAME"],
            "progress":[{"name":"ACH_WIN_100_GAMES","current":3,"max":100}]}"#,
    )
    .unwrap();
    let outcome = apply_batch(
        &schema,
        &UserProgress::default(),
        &body.to_batch().unwrap(),
        WriteAuthority::User,
        1_700_000_000,
    )
    .unwrap();
    (schema, outcome.progress)
}

#[test]
fn progress_body_shape() {
    let (schema, progress) = demo_progress();
    let body = ProgressBody::build(
        AppId::new(480).unwrap(),
        "76561197960287930".parse().unwrap(),
        1,
        &schema,
        &progress,
    );
    insta::assert_json_snapshot!(body);
    let text = serde_json::to_string(&body).unwrap();
    assert_eq!(serde_json::from_str::<ProgressBody>(&text).unwrap(), body);
}

#[test]
fn refusal_shape_locates_entries_in_the_body() {
    let schema = demo_schema();
    let body: StoreRequestBody = serde_json::from_str(
        r#"{"stats":[{"name":"NumGames","value":-1},{"name":"FeetTraveled","value":1}],
            "unlock":["ACH_NOPE"]}"#,
    )
    .unwrap();
    let refusal = apply_batch(
        &schema,
        &UserProgress::default(),
        &body.to_batch().unwrap(),
        WriteAuthority::User,
        0,
    )
    .unwrap_err();
    insta::assert_json_snapshot!(ErrorBody::from_refusal(&refusal, &body));
}

#[test]
fn malformed_stat_writes_are_located() {
    let body: StoreRequestBody = serde_json::from_str(
        r#"{"stats":[{"name":"A"},{"name":"B","value":1,"count":2},{"name":"C","count":1}]}"#,
    )
    .unwrap();
    let err = body.to_batch().unwrap_err();
    let locations: Vec<_> = err.details.iter().map(|d| d.location.as_str()).collect();
    assert_eq!(locations, ["stats[0]", "stats[1]", "stats[2]"]);
}

#[test]
fn unknown_fields_are_refused() {
    let err =
        serde_json::from_str::<StoreRequestBody>(r#"{"stats":[],"unlocks":["A"]}"#).unwrap_err();
    assert!(err.to_string().contains("unknown field `unlocks`"), "{err}");
    let err = serde_json::from_str::<SessionRequest>(r#"{"app_id":480,"steam_id":"1","x":1}"#)
        .unwrap_err();
    assert!(err.to_string().contains("unknown field `x`"), "{err}");
}

#[test]
fn locate_walks_fields_in_order() {
    let body = StoreRequestBody {
        stats: vec![StatWrite {
            name: "a".into(),
            value: Some(1.0),
            count: None,
            session_seconds: None,
        }],
        unlock: vec!["b".into(), "c".into()],
        clear: vec![],
        progress: vec![ProgressWrite {
            name: "d".into(),
            current: 1,
            max: 2,
        }],
    };
    assert_eq!(body.locate(0), "stats[0]");
    assert_eq!(body.locate(2), "unlock[1]");
    assert_eq!(body.locate(3), "progress[0]");
    assert_eq!(body.locate(9), "entries[9]");
}

mod hostile_input {
    use laurel_core::schema_doc::demo_schema;
    use laurel_core::{UserProgress, WriteAuthority, apply_batch};
    use proptest::prelude::*;

    use crate::{StoreRequestBody, TokenClaims};

    /// JSON-ish text: fragments of real bodies glued at random, so the parser gets deep.
    fn jsonish() -> impl Strategy<Value = String> {
        let frag = prop::sample::select(vec![
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            "\"stats\"",
            "\"unlock\"",
            "\"clear\"",
            "\"progress\"",
            "\"name\"",
            "\"value\"",
            "\"count\"",
            "\"session_seconds\"",
            "\"current\"",
            "\"max\"",
            "\"NumGames\"",
            "\"ACH_WIN_ONE_GAME\"",
            "\"AverageSpeed\"",
            "1",
            "-1",
            "1e400",
            "0.5",
            "4294967296",
            "null",
            "true",
            "\"\\u0000\"",
        ]);
        prop::collection::vec(frag, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn store_bodies_never_panic(text in jsonish()) {
            if let Ok(body) = serde_json::from_str::<StoreRequestBody>(&text)
                && let Ok(batch) = body.to_batch()
            {
                let schema = demo_schema();
                if let Err(r) = apply_batch(&schema, &UserProgress::default(), &batch, WriteAuthority::User, 0) {
                    prop_assert!(!r.problems.is_empty());
                    for p in &r.problems {
                        prop_assert!(!body.locate(p.index).is_empty());
                    }
                }
            }
        }

        #[test]
        fn tokens_parse_only_canonically(text in "[lt2.0-9a-f+-]{0,160}") {
            if let Some((claims, mac)) = TokenClaims::parse_unverified(&text) {
                prop_assert_eq!(format!("{}.{mac}", claims.payload()), text);
            }
        }
    }
}

#[test]
fn key_revoke_response_shape() {
    let body = KeyRevokeResponse {
        result: 1,
        app_id: 480,
        id: 3,
        revoked: true,
    };
    insta::assert_json_snapshot!(body);
    let text = serde_json::to_string(&body).unwrap();
    assert_eq!(
        serde_json::from_str::<KeyRevokeResponse>(&text).unwrap(),
        body
    );
}

#[test]
fn global_stats_response_shape() {
    let body = GlobalStatsResponse {
        result: 1,
        app_id: 480,
        stats: vec![
            GlobalStatBody {
                name: "NumGames".into(),
                kind: "int".into(),
                total: StatNumber::Int(9_007_199_254_740_993),
                history: vec![
                    GlobalStatDay {
                        date: 1_699_920_000,
                        change: StatNumber::Int(0),
                    },
                    GlobalStatDay {
                        date: 1_700_006_400,
                        change: StatNumber::Int(-3),
                    },
                ],
            },
            GlobalStatBody {
                name: "FeetTraveled".into(),
                kind: "float".into(),
                total: StatNumber::Float(1234.5),
                history: Vec::new(),
            },
        ],
    };
    insta::assert_json_snapshot!(body);
    let text = serde_json::to_string(&body).unwrap();
    // Integer totals above 2^53 survive the trip exactly.
    assert_eq!(
        serde_json::from_str::<GlobalStatsResponse>(&text).unwrap(),
        body
    );
}

mod leaderboard_shapes {
    use crate::leaderboards::*;

    fn board() -> BoardBody {
        BoardBody {
            id: 7,
            name: "Feet Traveled".into(),
            sort: "descending".into(),
            display: "numeric".into(),
            display_name: None,
            writes: "client".into(),
            period: "none".into(),
            entry_count: 2,
        }
    }

    #[test]
    fn board_list_and_find_answers() {
        let mut daily = board();
        daily.id = 8;
        daily.name = "Daily Dash".into();
        daily.display_name = Some("Daily dash".into());
        daily.period = "daily".into();
        daily.writes = "trusted".into();
        insta::assert_json_snapshot!(BoardListResponse {
            result: 1,
            leaderboards: vec![board(), daily],
        });
        insta::assert_json_snapshot!(BoardResponse {
            result: 1,
            created: true,
            leaderboard: board(),
        });
    }

    #[test]
    fn requests_read_with_their_defaults() {
        let create: BoardCreateRequest = serde_json::from_str(
            r#"{"name": "Quickest Win", "sort": "ascending", "display": "seconds"}"#,
        )
        .unwrap();
        insta::assert_json_snapshot!(create);
        let upload: ScoreUploadRequest = serde_json::from_str(r#"{"score": -5}"#).unwrap();
        insta::assert_json_snapshot!(upload);
        for bad in [
            r#"{"score": 2147483648}"#,
            r#"{"score": 1.5}"#,
            r#"{"score": "7"}"#,
            r#"{"score": 1, "detail": []}"#,
        ] {
            assert!(
                serde_json::from_str::<ScoreUploadRequest>(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn upload_download_and_moderation_answers() {
        insta::assert_json_snapshot!(ScoreUploadResponse {
            result: 1,
            leaderboard_id: 7,
            score: 150,
            score_changed: true,
            global_rank_new: 1,
            global_rank_previous: 2,
            entry_count: 2,
            replayed: false,
        });
        insta::assert_json_snapshot!(EntriesResponse {
            result: 1,
            leaderboard_id: 7,
            entry_count: 2,
            period_start: 0,
            entries: vec![
                EntryBody {
                    steam_id: "76561197960287930".into(),
                    rank: 1,
                    score: 150,
                    details: vec![1, 2],
                    set_at: 1_760_000_000,
                },
                EntryBody {
                    steam_id: "76561197960287931".into(),
                    rank: 2,
                    score: 150,
                    details: vec![],
                    set_at: 1_760_000_001,
                },
            ],
        });
        insta::assert_json_snapshot!(FriendsBody {
            steam_ids: vec!["76561197960287931".into()],
        });
        insta::assert_json_snapshot!(ModerationResponse {
            result: 1,
            removed: 9,
        });
    }
}
