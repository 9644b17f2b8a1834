//! The CLI: schema import/export, user show/reset, keys, help and exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use laurel_testkit::{Http, ServerProcess};
use serde_json::{Value, json};

use crate::{bin, steam_id};

/// `laurel ARGS --data-dir DATA_DIR`, run to its end.
pub(crate) fn laurel(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("run laurel")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/schemas")
        .join(name)
}

#[test]
fn help_on_every_command() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["schema", "import", "--help"],
        vec!["schema", "export", "--help"],
        vec!["user", "show", "--help"],
        vec!["user", "reset", "--help"],
        vec!["key", "create", "--help"],
        vec!["key", "list", "--help"],
        vec!["key", "revoke", "--help"],
        vec!["tokens", "revoke", "--help"],
        vec!["secret", "rotate", "--help"],
        vec!["audit", "--help"],
        vec!["audit", "undo", "--help"],
        vec!["leaderboard", "list", "--help"],
        vec!["leaderboard", "show", "--help"],
        vec!["leaderboard", "reset", "--help"],
        vec!["leaderboard", "delete-entry", "--help"],
    ] {
        let out = Command::new(bin()).args(&args).output().expect("run");
        assert!(out.status.success(), "{args:?}");
        assert!(text(&out.stdout).contains("Usage:"), "{args:?}");
    }
    let out = Command::new(bin()).arg("frobnicate").output().expect("run");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn schema_import_export_round_trips_in_both_formats() {
    let dir = tempfile::tempdir().expect("tmp");
    for (file, app) in [("spacewar.toml", "480"), ("spacewar.json", "481")] {
        let out = laurel(
            dir.path(),
            &[
                "schema",
                "import",
                app,
                example(file).to_str().expect("utf8"),
            ],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("schema version 1 (5 stats, 4 achievements)"),
            "{}",
            text(&out.stdout)
        );
    }
    let json_out = laurel(dir.path(), &["schema", "export", "480", "--format", "json"]);
    let from_toml: Value = serde_json::from_slice(&json_out.stdout).expect("json");
    let json_out = laurel(dir.path(), &["schema", "export", "481"]);
    let from_json: Value = serde_json::from_slice(&json_out.stdout).expect("json");
    assert_eq!(from_toml, from_json);
    let original: Value =
        serde_json::from_str(&std::fs::read_to_string(example("spacewar.json")).expect("read"))
            .expect("json");
    let reparsed: laurel_core::SchemaDoc = serde_json::from_value(original).expect("doc");
    let exported: laurel_core::SchemaDoc = serde_json::from_value(from_json).expect("doc");
    assert_eq!(reparsed, exported);
    // TOML export re-imports to the same schema, and the version moves on.
    let toml_file = dir.path().join("out.toml");
    let out = laurel(
        dir.path(),
        &[
            "schema",
            "export",
            "480",
            "--format",
            "toml",
            "-o",
            toml_file.to_str().expect("utf8"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = laurel(
        dir.path(),
        &["schema", "import", "480", toml_file.to_str().expect("utf8")],
    );
    assert!(
        text(&out.stdout).contains("schema version 2"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_schema_with_many_faults_reports_all_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = laurel(
        dir.path(),
        &[
            "schema",
            "import",
            "480",
            example("spacewar.json").to_str().expect("utf8"),
        ],
    );
    assert!(out.status.success());
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"stats":[{"name":"A","type":"int","min":5,"max":1},{"name":"A","type":"float","default":1e39}],
      "achievements":[{"name":"X","display_name":{"french":"x"},"progress":{"stat":"nope","max":1}}]}"#).expect("write");
    let out = laurel(
        dir.path(),
        &["schema", "import", "480", bad.to_str().expect("utf8")],
    );
    assert_eq!(out.status.code(), Some(3));
    let err = text(&out.stderr);
    for expect in [
        "stats[0].min: min 5 is above max 1",
        "stats[1].name: duplicate name \"A\"",
        "stats[1].default: 1e39 does not fit a 32-bit float",
        "achievements[0].display_name: an `english` text is required",
        "achievements[0].progress.stat: no stat named \"nope\"",
        "bad.json",
    ] {
        assert!(err.contains(expect), "missing {expect:?} in:\n{err}");
    }
    // Syntax errors name line and column; TOML too.
    std::fs::write(&bad, "{\n \"stats\": [\n  {\"name\": }").expect("write");
    let out = laurel(
        dir.path(),
        &["schema", "import", "480", bad.to_str().expect("utf8")],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("line 3, column"),
        "{}",
        text(&out.stderr)
    );
    let bad_toml = dir.path().join("bad.toml");
    std::fs::write(&bad_toml, "[app]\nname = \"x\"\n[[stats]]\nname = 3\n").expect("write");
    let out = laurel(
        dir.path(),
        &["schema", "import", "480", bad_toml.to_str().expect("utf8")],
    );
    assert_eq!(out.status.code(), Some(3));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.toml: stats[0].name: invalid type: integer `3`, expected a string"),
        "{err}"
    );
    // The stored schema is still version 1.
    let out = laurel(
        dir.path(),
        &[
            "schema",
            "import",
            "480",
            example("spacewar.json").to_str().expect("utf8"),
            "--check",
        ],
    );
    assert!(out.status.success());
    let out = laurel(dir.path(), &["schema", "export", "480"]);
    let doc: laurel_core::SchemaDoc = serde_json::from_slice(&out.stdout).expect("doc");
    assert_eq!(doc.stats.len(), 5);
    // Bad ids and unknown apps: exit codes 3 and 4.
    assert_eq!(
        laurel(dir.path(), &["user", "show", "480", "12abc"])
            .status
            .code(),
        Some(3)
    );
    assert_eq!(
        laurel(dir.path(), &["user", "show", "0", &steam_id(1)])
            .status
            .code(),
        Some(3)
    );
    assert_eq!(
        laurel(dir.path(), &["user", "show", "999", &steam_id(1)])
            .status
            .code(),
        Some(4)
    );
    assert_eq!(
        laurel(dir.path(), &["key", "revoke", "480", "77"])
            .status
            .code(),
        Some(4)
    );
}

#[test]
fn keys_mint_tokens_on_a_production_server_and_users_can_be_shown_and_reset() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = laurel(
        dir.path(),
        &[
            "schema",
            "import",
            "480",
            example("spacewar.toml").to_str().expect("utf8"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = laurel(dir.path(), &["key", "create", "480", "--label", "backend"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let key = text(&out.stdout).trim().to_owned();
    assert!(key.starts_with("lk_"), "{key}");
    let listed = text(&laurel(dir.path(), &["key", "list", "480"]).stdout);
    assert!(
        listed.contains("live") && listed.contains("backend") && !listed.contains(&key),
        "{listed}"
    );

    let user = steam_id(7);
    {
        let server =
            ServerProcess::start_with(bin(), dir.path(), "127.0.0.1:0", &[]).expect("server");
        let http = Http::new(&server.url);
        // Without --dev, a session needs the app's key.
        let (status, r) = http
            .post(
                "/api/v1/sessions",
                None,
                &json!({"app_id": 480, "steam_id": user}),
            )
            .expect("session");
        assert_eq!((status, r["result"].as_i64()), (401, Some(21)), "{r}");
        let (status, r) = http
            .post(
                "/api/v1/sessions",
                Some(&key),
                &json!({"app_id": 480, "steam_id": user}),
            )
            .expect("session");
        assert_eq!(status, 200, "{r}");
        let token = r["token"].as_str().expect("token").to_owned();
        let (status, _) = http
            .store(
                480,
                &user,
                &token,
                "x1",
                &json!({"stats":[{"name":"NumGames","value":4}],"unlock":["ACH_WIN_ONE_GAME"]}),
            )
            .expect("store");
        assert_eq!(status, 200);
    }
    let out = laurel(dir.path(), &["user", "show", "480", &user]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let p: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(laurel_testkit::stat(&p, "NumGames"), Some(4.0));
    let out = laurel(
        dir.path(),
        &["user", "reset", "480", &user, "--achievements"],
    );
    let p: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(laurel_testkit::stat(&p, "NumGames"), Some(0.0));
    assert_eq!(
        laurel_testkit::achievement(&p, "ACH_WIN_ONE_GAME").expect("ach")["unlocked"],
        json!(false)
    );

    let id = listed.split('\t').next().expect("id").to_owned();
    assert!(
        laurel(dir.path(), &["key", "revoke", "480", &id])
            .status
            .success()
    );
    assert!(text(&laurel(dir.path(), &["key", "list", "480"]).stdout).contains("revoked"));
}

fn fixture(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../laurel-schema-formats/tests/fixtures")
        .join(rel)
        .to_str()
        .expect("utf8")
        .to_owned()
}

#[test]
fn foreign_schema_formats_import_detected_and_export_back() {
    let dir = tempfile::tempdir().expect("tmp");
    // A saved GetSchemaForGame response, the emulators' files, and KeyValues
    // text, each detected from name and content.
    for (app, files) in [
        ("500", vec![fixture("steam/GetSchemaForGame_480.json")]),
        (
            "501",
            vec![
                fixture("emulator/achievements.json"),
                fixture("emulator/stats.txt"),
                fixture("emulator/leaderboards.txt"),
            ],
        ),
        ("502", vec![fixture("vdf/UserGameStatsSchema_480.vdf")]),
    ] {
        let mut args = vec!["schema", "import", app];
        args.extend(files.iter().map(String::as_str));
        let out = laurel(dir.path(), &args);
        assert!(out.status.success(), "{files:?}: {}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("schema version 1"),
            "{}",
            text(&out.stdout)
        );
    }
    // Export to every format; what a format cannot carry is said on stderr.
    for format in [
        "json",
        "toml",
        "steam-json",
        "emu-achievements",
        "emu-stats-txt",
        "emu-stats-json",
        "vdf",
    ] {
        let out = laurel(dir.path(), &["schema", "export", "502", "--format", format]);
        assert!(out.status.success(), "{format}: {}", text(&out.stderr));
        assert!(!out.stdout.is_empty(), "{format}");
    }
    // The emulator's boards come back as they went in.
    let out = laurel(
        dir.path(),
        &["schema", "export", "501", "--format", "emu-leaderboards"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        std::fs::read_to_string(fixture("emulator/leaderboards.txt")).expect("fixture")
    );
    let out = laurel(
        dir.path(),
        &["schema", "export", "502", "--format", "steam-json"],
    );
    let steam: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        steam["game"]["availableGameStats"]["achievements"].is_array(),
        "{steam}"
    );
    // A truncated file is refused with its place, and nothing changes.
    let out = laurel(
        dir.path(),
        &[
            "schema",
            "import",
            "500",
            &fixture("malformed/GetSchemaForGame_truncated.json"),
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("GetSchemaForGame_truncated.json"),
        "{}",
        text(&out.stderr)
    );
    let out = laurel(dir.path(), &["schema", "export", "500"]);
    let doc: laurel_core::SchemaDoc = serde_json::from_slice(&out.stdout).expect("doc");
    assert!(!doc.achievements.is_empty());
    // Not UTF-8, and an unknown format name.
    let binary = dir.path().join("schema.bin");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x01]).expect("write");
    let out = laurel(
        dir.path(),
        &[
            "schema",
            "import",
            "500",
            binary.to_str().expect("utf8"),
            "--format",
            "vdf",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("not UTF-8"),
        "{}",
        text(&out.stderr)
    );
    let out = laurel(dir.path(), &["schema", "export", "500", "--format", "yaml"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Bad server configuration is refused at start, with the flag named and the
/// documented exit code, before anything is opened or bound.
#[test]
fn bad_serve_configuration_is_refused_with_its_flag() {
    let dir = tempfile::tempdir().expect("tmp");
    for (args, code, says) in [
        (vec!["serve", "--listen", "not-an-address"], 2, "--listen"),
        (
            vec!["serve", "--database", "mysql://x/y"],
            2,
            "sqlite://PATH",
        ),
        (vec!["serve", "--db-pool-size", "0"], 2, "--db-pool-size"),
        (vec!["serve", "--database", "sqlite://"], 2, "sqlite://PATH"),
        (
            vec!["serve", "--request-timeout=abc"],
            2,
            "--request-timeout",
        ),
        (vec!["serve", "--log-format", "yaml"], 2, "--log-format"),
    ] {
        let out = laurel(dir.path(), &args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(says),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // PostgreSQL that does not answer (nothing listens on port 1): a runtime
    // failure, exit 1, at once, and the password never reaches the message.
    let started = std::time::Instant::now();
    let out = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--database"])
        .arg("postgres://laurel:hunter2secret@127.0.0.1:1/laurel")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("opening the database"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !text(&out.stderr).contains("hunter2secret"),
        "{}",
        text(&out.stderr)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // A data dir that cannot be created (a file is in the way): a runtime failure, exit 1.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").expect("write");
    let out = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(blocker.join("data"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("opening the database"),
        "{}",
        text(&out.stderr)
    );
}

/// Uploads `(user, score)` to app 480's board `name` straight through the
/// store of the data dir (no server is running).
fn upload_scores(data_dir: &Path, name: &str, scores: &[(u64, i32)], now: i64) {
    use laurel_core::leaderboard::{BoardName, UploadMethod};
    use laurel_store::{Store, UploadRequest};

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let store = laurel_store_sqlite::SqliteStore::open(
            &data_dir.join("laurel.sqlite3"),
            laurel_store_sqlite::SqliteOptions::default(),
        )
        .expect("open");
        let app = laurel_core::AppId::new(480).expect("app");
        let board = store
            .leaderboard(app, &BoardName::parse(name).expect("name"))
            .await
            .expect("find")
            .expect("the board");
        for &(user, score) in scores {
            let user: laurel_core::SteamId = steam_id(user).parse().expect("id");
            store
                .upload_score(UploadRequest {
                    app,
                    board: board.id,
                    period: board.def.period.start(now).unwrap_or(0),
                    user,
                    method: UploadMethod::KeepBest,
                    score,
                    details: Vec::new(),
                    now,
                    idempotency: None,
                })
                .await
                .expect("upload");
        }
    });
}

#[test]
fn leaderboards_are_listed_shown_reset_and_moderated() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path();
    let out = laurel(
        data,
        &[
            "schema",
            "import",
            "480",
            example("spacewar.toml").to_str().expect("utf8"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    upload_scores(
        data,
        "Feet Traveled",
        &[(1, 10), (2, 50), (3, 30), (4, 50), (5, 20)],
        now,
    );
    upload_scores(data, "Quickest Win", &[(1, 95)], now);

    let out = laurel(data, &["leaderboard", "list", "--app", "480"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    let lines: Vec<Vec<&str>> = listed.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert_eq!(
        lines[0][1..],
        [
            "Feet Traveled",
            "descending",
            "numeric",
            "client",
            "none",
            "5"
        ]
    );
    assert_eq!(
        lines[1][1..],
        [
            "Quickest Win",
            "ascending",
            "seconds",
            "client",
            "none",
            "1"
        ]
    );

    // Ranks: ties go to the score achieved first (user 2 before user 4).
    let out = laurel(
        data,
        &[
            "leaderboard",
            "show",
            "--app",
            "480",
            "--board",
            "FEET TRAVELED",
            "--start",
            "1",
            "--end",
            "3",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown: Vec<Vec<String>> = text(&out.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect();
    let want = [(1, 2, 50), (2, 4, 50), (3, 3, 30)];
    assert_eq!(shown.len(), want.len(), "{shown:?}");
    for (row, (rank, user, score)) in shown.iter().zip(want) {
        assert_eq!(
            row[..3],
            [rank.to_string(), steam_id(user), score.to_string()]
        );
        assert_eq!(row[3], now.to_string());
    }
    assert!(
        text(&out.stderr).contains("5 entries"),
        "{}",
        text(&out.stderr)
    );

    let delete = |user: u64| {
        let id = steam_id(user);
        laurel(
            data,
            &[
                "leaderboard",
                "delete-entry",
                "--app",
                "480",
                "--board",
                "Feet Traveled",
                "--user",
                &id,
            ],
        )
    };
    let out = delete(2);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(delete(2).status.code(), Some(4), "no entry any more");
    let out = laurel(
        data,
        &[
            "leaderboard",
            "show",
            "--app",
            "480",
            "--board",
            "Feet Traveled",
        ],
    );
    let first = text(&out.stdout);
    assert!(
        first
            .lines()
            .next()
            .is_some_and(|l| l.starts_with(&format!("1\t{}\t50", steam_id(4)))),
        "{first}"
    );

    let out = laurel(
        data,
        &[
            "leaderboard",
            "reset",
            "--app",
            "480",
            "--board",
            "feet traveled",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("4 entries removed"),
        "{}",
        text(&out.stdout)
    );
    let out = laurel(
        data,
        &[
            "leaderboard",
            "show",
            "--app",
            "480",
            "--board",
            "Feet Traveled",
        ],
    );
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "{}",
        text(&out.stdout)
    );

    // Both are in the audit log, by the command line.
    let out = laurel(data, &["audit", "--app", "480"]);
    let records: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let actions: Vec<(&str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap_or(""),
                r["actor"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        actions.contains(&("leaderboard.reset", "cli")),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("leaderboard.entry.delete", "cli")),
        "{actions:?}"
    );
    let deletion = records
        .iter()
        .find(|r| r["action"] == "leaderboard.entry.delete")
        .expect("the deletion");
    assert_eq!(deletion["steam_id"], json!(steam_id(2)));
    assert_eq!(deletion["detail"]["name"], "Feet Traveled");
    assert_eq!(deletion["detail"]["score"], 50);

    // Refusals and their exit codes.
    for (args, code) in [
        (vec!["leaderboard", "list", "--app", "999"], 4),
        (
            vec!["leaderboard", "show", "--app", "480", "--board", "Nope"],
            4,
        ),
        (
            vec!["leaderboard", "reset", "--app", "999", "--board", "Nope"],
            4,
        ),
        (
            vec![
                "leaderboard",
                "show",
                "--app",
                "480",
                "--board",
                "Quickest Win",
                "--period",
                "previous",
            ],
            3,
        ),
        (vec!["leaderboard", "list", "--app", "x"], 3),
        (
            vec![
                "leaderboard",
                "delete-entry",
                "--app",
                "480",
                "--board",
                "Quickest Win",
                "--user",
                "0",
            ],
            3,
        ),
    ] {
        let out = laurel(data, &args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}
