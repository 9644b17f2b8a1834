//! `import(export(x)) == x` for every schema a format can express, and for the
//! lossy formats `import(export(x)) == what the format keeps of x`, which is
//! exactly the documented loss.

use std::collections::BTreeMap;

use laurel_core::leaderboard::{BoardPeriod, BoardWrites, DisplayType, SortMethod};
use laurel_core::schema_doc::{
    AchievementDoc, AppDoc, LeaderboardDoc, ProgressDoc, SetByDoc, StatDoc, StatKindDoc,
    demo_schema,
};
use laurel_core::{Schema, SchemaDoc};
use laurel_schema_formats::{
    DEFAULT_AVGRATE_WINDOW_SECONDS, ExportOptions, Format, ImportOptions, SourceFile, export,
    import,
};
use proptest::prelude::*;

fn round_trip(schema: &Schema, formats: &[Format]) -> Schema {
    let options = ExportOptions::new(480);
    let texts: Vec<(Format, String)> = formats
        .iter()
        .map(|f| (*f, export(schema, *f, &options).unwrap().text))
        .collect();
    let files: Vec<SourceFile<'_>> = texts
        .iter()
        .map(|(format, text)| SourceFile {
            name: format.usual_file_name(),
            format: *format,
            text,
        })
        .collect();
    match import(&files, &ImportOptions::default()) {
        Ok(s) => s,
        Err(problems) => panic!("{formats:?} did not read back: {problems:#?}\n{texts:#?}"),
    }
}

fn valid(doc: SchemaDoc) -> Schema {
    Schema::from_doc(&doc).unwrap_or_else(|p| panic!("projection is invalid: {p:?}"))
}

/// What Steam's schema JSON keeps (in English).
fn steam_keeps(s: &Schema) -> Schema {
    let mut doc = s.to_doc();
    doc.leaderboards.clear();
    doc.app = AppDoc {
        name: doc.app.name,
        ..AppDoc::default()
    };
    for st in &mut doc.stats {
        *st = StatDoc {
            name: std::mem::take(&mut st.name),
            kind: if st.kind == StatKindDoc::Int {
                StatKindDoc::Int
            } else {
                StatKindDoc::Float
            },
            display_name: st.display_name.take().filter(|d| !d.is_empty()),
            default: st.default,
            min: None,
            max: None,
            max_change: None,
            increment_only: false,
            set_by: SetByDoc::Client,
            aggregated: false,
            window: None,
        };
    }
    for a in &mut doc.achievements {
        for map in [&mut a.display_name, &mut a.description] {
            let english = map["english"].clone();
            *map = BTreeMap::from([("english".to_owned(), english)]);
        }
        a.progress = None;
    }
    valid(doc)
}

/// What the emulator pair keeps.
fn emulator_keeps(s: &Schema) -> Schema {
    let mut doc = emulator_with_boards_keeps(s).to_doc();
    doc.leaderboards.clear();
    valid(doc)
}

/// What the emulator's files keep with `leaderboards.txt`: its boards'
/// names, sort and display.
fn emulator_with_boards_keeps(s: &Schema) -> Schema {
    let mut doc = s.to_doc();
    doc.app = AppDoc::default();
    for b in &mut doc.leaderboards {
        b.display_name = None;
        b.writes = BoardWrites::Client;
        b.period = BoardPeriod::None;
    }
    for st in &mut doc.stats {
        *st = StatDoc {
            name: std::mem::take(&mut st.name),
            kind: st.kind,
            display_name: None,
            default: st.default,
            min: None,
            max: None,
            max_change: None,
            increment_only: false,
            set_by: SetByDoc::Client,
            aggregated: false,
            window: (st.kind == StatKindDoc::Avgrate).then_some(DEFAULT_AVGRATE_WINDOW_SECONDS),
        };
    }
    valid(doc)
}

/// What KeyValues keeps: everything but the app settings and the leaderboards.
fn key_values_keeps(s: &Schema) -> Schema {
    let mut doc = s.to_doc();
    doc.leaderboards.clear();
    doc.app = AppDoc {
        name: doc.app.name,
        ..AppDoc::default()
    };
    valid(doc)
}

fn check_all(s: &Schema) {
    assert_eq!(&round_trip(s, &[Format::LaurelJson]), s);
    assert_eq!(&round_trip(s, &[Format::LaurelToml]), s);
    assert_eq!(
        round_trip(s, &[Format::ValveKeyValues]),
        key_values_keeps(s)
    );
    assert_eq!(round_trip(s, &[Format::SteamSchemaJson]), steam_keeps(s));
    for stats in [Format::EmulatorStatsTxt, Format::EmulatorStatsJson] {
        assert_eq!(
            round_trip(s, &[Format::EmulatorAchievementsJson, stats]),
            emulator_keeps(s)
        );
        assert_eq!(
            round_trip(
                s,
                &[
                    Format::EmulatorAchievementsJson,
                    stats,
                    Format::EmulatorLeaderboardsTxt
                ]
            ),
            emulator_with_boards_keeps(s)
        );
    }
}

#[test]
fn demo_schema_round_trips_through_every_format() {
    check_all(&demo_schema());
}

#[test]
fn lossless_where_the_format_carries_everything() {
    // The part of the demo schema each format can express reads back unchanged.
    let demo = demo_schema();
    for (format, keeps) in [
        (Format::ValveKeyValues, key_values_keeps(&demo)),
        (Format::SteamSchemaJson, steam_keeps(&demo)),
    ] {
        assert_eq!(round_trip(&keeps, &[format]), keeps, "{format}");
    }
    let keeps = emulator_keeps(&demo);
    assert_eq!(
        round_trip(
            &keeps,
            &[Format::EmulatorAchievementsJson, Format::EmulatorStatsTxt]
        ),
        keeps
    );
}

#[test]
fn export_refuses_what_stats_txt_cannot_hold() {
    let doc = SchemaDoc {
        leaderboards: Vec::new(),
        stats: vec![StatDoc {
            name: "Kills=Total".into(),
            kind: StatKindDoc::Int,
            display_name: None,
            default: 0.0,
            min: None,
            max: None,
            max_change: None,
            increment_only: false,
            set_by: SetByDoc::Client,
            aggregated: false,
            window: None,
        }],
        ..SchemaDoc::default()
    };
    let err = export(
        &valid(doc),
        Format::EmulatorStatsTxt,
        &ExportOptions::new(1),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "stats[0].name: \"Kills=Total\" cannot be written to stats.txt: a name there holds no `=` and does not start with U+FEFF"
    );
}

// ---- generated schemas ----

/// API names: printable, with spaces and punctuation (never `=`, which stats.txt cannot hold).
fn api_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_ .:#/\"\\\\{}()'é😀-]{1,24}"
}

/// Texts: anything but `=`-free is not needed here; control characters and quotes included.
fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[ -~]{0,30}", "[\\PC\n\t\"\\\\{}]{0,30}",]
}

fn localized() -> impl Strategy<Value = BTreeMap<String, String>> {
    (
        text(),
        proptest::option::of(text()),
        proptest::option::of(text()),
    )
        .prop_map(|(en, fr, zh)| {
            let mut m = BTreeMap::from([("english".to_owned(), en)]);
            if let Some(fr) = fr {
                m.insert("french".to_owned(), fr);
            }
            if let Some(zh) = zh {
                m.insert("schinese".to_owned(), zh);
            }
            m
        })
}

fn number(kind: StatKindDoc) -> BoxedStrategy<f64> {
    match kind {
        StatKindDoc::Int => any::<i32>().prop_map(f64::from).boxed(),
        _ => prop_oneof![
            any::<i16>().prop_map(f64::from),
            any::<f32>()
                .prop_filter("finite", |v| v.is_finite())
                .prop_map(f64::from),
        ]
        .boxed(),
    }
}

fn stat(name: String) -> impl Strategy<Value = StatDoc> {
    prop_oneof![
        Just(StatKindDoc::Int),
        Just(StatKindDoc::Float),
        Just(StatKindDoc::Avgrate)
    ]
    .prop_flat_map(move |kind| {
        let name = name.clone();
        (
            number(kind),
            number(kind),
            number(kind),
            proptest::option::of(number(kind)),
            proptest::option::of(text()),
            any::<(bool, bool, bool, bool, bool)>(),
            1..=laurel_core::limits::MAX_AVGRATE_WINDOW_SECONDS,
        )
            .prop_map(
                move |(
                    a,
                    b,
                    c,
                    change,
                    display_name,
                    (has_min, has_max, inc, server, agg),
                    window,
                )| {
                    let mut v = [a, b, c];
                    v.sort_by(f64::total_cmp);
                    StatDoc {
                        name: name.clone(),
                        kind,
                        display_name,
                        default: v[1],
                        min: has_min.then_some(v[0]),
                        max: has_max.then_some(v[2]),
                        max_change: change.map(f64::abs).filter(|c| *c > 0.0),
                        increment_only: inc,
                        set_by: if server {
                            SetByDoc::Server
                        } else {
                            SetByDoc::Client
                        },
                        aggregated: agg,
                        window: (kind == StatKindDoc::Avgrate).then_some(window),
                    }
                },
            )
    })
}

fn achievement(name: String) -> impl Strategy<Value = AchievementDoc> {
    (
        localized(),
        localized(),
        any::<bool>(),
        proptest::option::of("[ -~]{0,40}"),
        proptest::option::of("[ -~]{0,40}"),
        proptest::option::of((any::<prop::sample::Index>(), -1000i32..1000, 1i32..100_000)),
    )
        .prop_map(
            move |(display_name, description, hidden, icon, icon_gray, progress)| AchievementDoc {
                name: name.clone(),
                display_name,
                description,
                hidden,
                icon: icon.filter(|i| !i.is_empty()),
                icon_gray: icon_gray.filter(|i| !i.is_empty()),
                // Bound to a stat below, once the stats are known.
                progress: progress.map(|(i, min, span)| ProgressDoc {
                    stat: format!("#{}", i.index(usize::MAX)),
                    min: f64::from(min),
                    max: f64::from(min) + f64::from(span),
                }),
            },
        )
}

fn leaderboards() -> impl Strategy<Value = Vec<LeaderboardDoc>> {
    // Lower-case names: distinct in the set, so distinct without case too.
    proptest::collection::btree_set("[a-z][a-z ]{0,12}", 0..4).prop_flat_map(|names| {
        names
            .into_iter()
            .map(|name| {
                (
                    prop::sample::select(SortMethod::ALL),
                    prop::sample::select(DisplayType::ALL),
                    proptest::option::of("[ -~]{1,20}"),
                    prop::sample::select(BoardWrites::ALL),
                    prop::sample::select(BoardPeriod::ALL),
                )
                    .prop_map(
                        move |(sort, display, display_name, writes, period)| LeaderboardDoc {
                            name: name.clone(),
                            sort,
                            display,
                            display_name,
                            writes,
                            period,
                        },
                    )
            })
            .collect::<Vec<_>>()
    })
}

fn schema() -> impl Strategy<Value = Schema> {
    (
        proptest::collection::btree_set(api_name(), 0..12),
        "[ -~]{0,20}",
        any::<(bool, bool)>(),
        0usize..12,
        leaderboards(),
    )
        .prop_flat_map(|(names, game, (public, clear), split, leaderboards)| {
            let names: Vec<String> = names.into_iter().collect();
            let split = split.min(names.len());
            let stats: Vec<_> = names[..split].iter().cloned().map(stat).collect();
            let achievements: Vec<_> = names[split..].iter().cloned().map(achievement).collect();
            let leaderboards = leaderboards.clone();
            (stats, achievements).prop_map(move |(stats, mut achievements)| {
                let bindable: Vec<&StatDoc> = stats
                    .iter()
                    .filter(|s| s.kind != StatKindDoc::Avgrate)
                    .collect();
                for a in &mut achievements {
                    a.progress = match (a.progress.take(), bindable.is_empty()) {
                        (Some(mut p), false) => {
                            let i: usize = p.stat[1..].parse::<usize>().unwrap() % bindable.len();
                            p.stat = bindable[i].name.clone();
                            Some(p)
                        }
                        _ => None,
                    };
                }
                let doc = SchemaDoc {
                    app: AppDoc {
                        name: game.clone(),
                        public_progress: public,
                        allow_achievement_clear: clear,
                        allow_user_reset: clear,
                        allow_user_display_name: public,
                        public_globals: public,
                        user_requests_per_second: None,
                        user_request_burst: None,
                        allow_client_leaderboard_create: clear,
                    },
                    stats,
                    achievements,
                    leaderboards: leaderboards.clone(),
                };
                Schema::from_doc(&doc)
                    .unwrap_or_else(|p| panic!("generated an invalid schema: {p:?}\n{doc:#?}"))
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_format_reads_back_what_it_keeps(s in schema()) {
        check_all(&s);
    }
}

/// Regression: serde_json's default float parser can read a number back one
/// ulp off (found by the property above); the crate turns on `float_roundtrip`.
#[test]
fn json_floats_read_back_exactly() {
    let text = r#"{"stats":[{"name":"A","type":"float","default":9.799122090711393e-24}]}"#;
    let files = [SourceFile {
        name: "a.json",
        format: Format::LaurelJson,
        text,
    }];
    let s = import(&files, &ImportOptions::default()).unwrap();
    assert_eq!(s.stat("A").unwrap().default, 9.799122090711393e-24);
}
