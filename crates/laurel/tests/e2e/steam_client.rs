//! A third-party Steam Web API client from PyPI (ValvePython's `steam`,
//! installed by `cargo xtask deps` into `target/pyenv`), unmodified, against
//! the real `laurel` binary: its discovery call (`GetSupportedAPIList`) and
//! the user-stats methods, used the way its documentation shows
//! (`steam_client.py`). Plus the Steam surface over a real socket.

use std::path::PathBuf;
use std::process::Command;

use laurel_testkit::ADMIN_TOKEN;
use serde_json::{Value, json};

use crate::{start, steam_id};

/// The interpreter of the virtualenv `cargo xtask deps` creates
/// (`LAUREL_PYTHON` overrides it).
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("LAUREL_PYTHON") {
        return PathBuf::from(p);
    }
    crate::pyenv_bin("python")
}

fn server_key(env: &crate::Env) -> String {
    env.http.server_key(480, ADMIN_TOKEN).expect("create key")
}

#[test]
fn valvepython_steam_webapi_works_unmodified() {
    let python = python();
    assert!(
        python.exists(),
        "{} is missing: run `cargo xtask deps` (it installs the pinned PyPI `steam` \
         package into target/pyenv), or set LAUREL_PYTHON",
        python.display()
    );
    let env = start();
    let key = server_key(&env);
    let a = steam_id(1);
    // A's game stored some progress through the client API first.
    let t = env.http.dev_token(480, &a).expect("token");
    let (status, r) = env
        .http
        .store(
            480,
            &a,
            &t,
            "first",
            &json!({"stats": [{"name": "NumGames", "value": 3}], "unlock": ["ACH_WIN_ONE_GAME"]}),
        )
        .expect("store");
    assert_eq!(status, 200, "{r}");

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/steam_client.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(&env.server.addr)
        .arg(&key)
        .arg(&a)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut calls = std::collections::BTreeMap::new();
    for line in stdout.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        calls.insert(v["call"].as_str().expect("call").to_owned(), v);
    }
    let result = |name: &str| -> &Value {
        let v = calls
            .get(name)
            .unwrap_or_else(|| panic!("no {name} in {stdout}"));
        assert!(v.get("error").is_none(), "{name} failed: {v}");
        &v["result"]
    };

    assert_eq!(
        result("interfaces"),
        &json!([
            "ISteamLeaderboards",
            "ISteamUser",
            "ISteamUserStats",
            "ISteamWebAPIUtil"
        ])
    );
    let summaries = &result("GetPlayerSummaries")["response"]["players"];
    assert_eq!(summaries[0]["steamid"], json!(a), "{summaries}");
    assert_eq!(summaries[0]["personaname"], json!(a), "no name set: the id");
    assert_eq!(result("doc"), &json!(true));
    let schema = result("GetSchemaForGame");
    assert_eq!(schema["game"]["gameName"], "Spacewar");
    assert_eq!(
        schema["game"]["availableGameStats"]["achievements"][0]["name"],
        "ACH_WIN_ONE_GAME"
    );
    let pa = &result("GetPlayerAchievements")["playerstats"];
    assert_eq!(
        (pa["steamID"].clone(), pa["success"].clone()),
        (json!(a), json!(true))
    );
    assert_eq!(pa["achievements"][0]["apiname"], "ACH_WIN_ONE_GAME");
    assert_eq!(pa["achievements"][0]["achieved"], 1);
    let fr = &result("GetPlayerAchievements_l")["playerstats"]["achievements"][0];
    assert_eq!(fr["name"], "Vainqueur");
    let us = &result("GetUserStatsForGame")["playerstats"];
    assert_eq!(us["stats"], json!([{"name": "NumGames", "value": 3}]));
    let us1 = &result("GetUserStatsForGame_v1")["playerstats"];
    assert_eq!(us1["stats"], json!({"NumGames": {"value": 3}}));
    let pct =
        &result("GetGlobalAchievementPercentagesForApp")["achievementpercentages"]["achievements"];
    assert_eq!(pct[0]["name"], "ACH_WIN_ONE_GAME");
    assert_eq!(pct[0]["percent"].as_f64(), Some(100.0), "a JSON number");
    let players = &result("GetNumberOfCurrentPlayers")["response"];
    assert_eq!(players["result"], 1);
    assert_eq!(
        players["player_count"], 1,
        "A's client stored progress just now"
    );
    assert_eq!(
        result("SetUserStatsForGame"),
        &json!({"result": {"result": 1}})
    );
    let after = &result("GetUserStatsForGame_after")["playerstats"];
    assert_eq!(
        after["stats"],
        json!([{"name": "NumGames", "value": 42}, {"name": "FeetTraveled", "value": 1234.5}])
    );
    assert_eq!(
        after["achievements"],
        json!([{"name": "ACH_WIN_ONE_GAME", "achieved": 1}, {"name": "ACH_WIN_100_GAMES", "achieved": 1}])
    );
    assert_eq!(
        result("GetGlobalStatsForGame"),
        &json!({"response": {"globalstats": {"NumGames": {"total": "42"}, "FeetTraveled": {"total": "1234.5"}}, "result": 1}})
    );
    // The vdf format, parsed by the library's own VDF reader.
    let vdf = &result("GetPlayerAchievements_vdf")["playerstats"];
    assert_eq!(vdf["steamID"], json!(a));
    assert_eq!(vdf["achievements"]["0"]["apiname"], "ACH_WIN_ONE_GAME");
    assert!(result("GetServerInfo")["servertime"].is_i64());
    // ISteamLeaderboards, with Steam's mixed-case fields.
    let boards = result("GetLeaderboardsForGame")["response"]["leaderboards"]
        .as_array()
        .expect("leaderboards")
        .clone();
    assert!(
        boards.iter().any(|b| b["name"] == "Feet Traveled"
            && b["sortmethod"] == "Descending"
            && b["onlytrustedwrites"] == false),
        "{boards:?}"
    );
    let made = &result("FindOrCreateLeaderboard")["result"];
    assert_eq!(made["result"], 1);
    let board = &made["leaderboard"];
    assert_eq!(
        (
            board["leaderboardName"].clone(),
            board["leaderBoardSortMethod"].clone(),
            board["onlytrustedwrites"].clone(),
            board["leaderBoardEntries"].clone()
        ),
        (json!("Python Board"), json!("Descending"), json!(true), json!(0))
    );
    assert_eq!(
        result("SetLeaderboardScore"),
        &json!({"result": {"result": 1, "leaderboard_entry_count": 1, "score_changed": true,
                           "global_rank_previous": 0, "global_rank_new": 1}})
    );
    assert_eq!(
        result("SetLeaderboardScore_worse")["result"]["score_changed"],
        false
    );
    let info = &result("GetLeaderboardEntries")["leaderboardEntryInformation"];
    assert_eq!(info["appID"], 480);
    assert_eq!(info["leaderboardID"], board["leaderBoardID"]);
    assert_eq!(info["totalLeaderBoardEntryCount"], 1);
    assert_eq!(info["leaderboardEntries"][0]["steamID"], json!(a));
    assert_eq!(info["leaderboardEntries"][0]["score"], 77);
    assert_eq!(info["leaderboardEntries"][0]["rank"], 1);
    for call in ["DeleteLeaderboardScore", "ResetLeaderboard", "DeleteLeaderboard"] {
        assert_eq!(result(call), &json!({"result": {"result": 1}}), "{call}");
    }
    // A refusal reaches the library as the HTTP error Steam would give.
    let nobody = &calls["GetPlayerAchievements_nobody"];
    assert_eq!(nobody["status"], 400, "{nobody}");

    // What the library wrote went through the store like any other write.
    let (_, p) = env.http.progress(480, &a, &t).expect("progress");
    assert_eq!(laurel_testkit::stat(&p, "NumGames"), Some(42.0));
}

/// The Steam surface over a real socket: paths with and without padding and
/// slash, Steam's HTML refusals, and a form POST, through the real binary.
#[test]
fn steam_paths_and_refusals_over_a_socket() {
    let env = start();
    let key = server_key(&env);
    let a = steam_id(2);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let get = |path: &str| {
        let mut r = agent
            .get(format!("{}{path}", env.server.url))
            .call()
            .expect("GET");
        let status = r.status().as_u16();
        (status, r.body_mut().read_to_string().expect("body"))
    };
    let mut r = agent
        .post(format!(
            "{}/ISteamUserStats/SetUserStatsForGame/v0001",
            env.server.url
        ))
        .content_type("application/x-www-form-urlencoded")
        .send(format!(
            "key={key}&steamid={a}&appid=480&count=2&name%5B0%5D=NumWins&value%5B0%5D=2&name%5B1%5D=ACH_WIN_ONE_GAME&value%5B1%5D=1"
        ))
        .expect("POST");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.body_mut().read_to_string().unwrap(),
        r#"{"result":{"result":1}}"#
    );
    for version in ["v1/", "v0001/", "v1", "v0001"] {
        let (status, body) = get(&format!(
            "/ISteamUserStats/GetPlayerAchievements/{version}?key={key}&steamid={a}&appid=480"
        ));
        assert_eq!(status, 200, "{version}: {body}");
        assert!(
            body.starts_with(&format!(r#"{{"playerstats":{{"steamID":"{a}""#)),
            "{body}"
        );
    }
    let (status, body) = get(&format!(
        "/ISteamUserStats/GetPlayerAchievements/v1/?key=lk_{}&steamid={a}&appid=480",
        "f".repeat(64)
    ));
    assert_eq!(
        (status, body.as_str()),
        (
            403,
            "<html><head><title>Forbidden</title></head><body><h1>Forbidden</h1>Access is denied. Retrying will not help. Please verify your <pre>key=</pre> parameter.</body></html>"
        )
    );
    let (status, body) = get(&format!(
        "/ISteamUserStats/GetPlayerAchievements/v1/?steamid={a}&appid=480"
    ));
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("<pre>Parameter 'key' is missing</pre>"),
        "{body}"
    );
    let (status, body) = get(&format!(
        "/ISteamUserStats/GetGlobalStatsForGame/v1/?appid=480&count=1&name%5B0%5D=NumWins&startdate=0&enddate={}",
        86_400 * 3
    ));
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["response"]["globalstats"]["NumWins"]["total"], "2");
    assert_eq!(
        v["response"]["globalstats"]["NumWins"]["history"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}
