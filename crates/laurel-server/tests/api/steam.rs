//! The Steam Web API, in-process: every method's shape pinned by a snapshot,
//! the route table against `GetSupportedAPIList`, keys, formats, and bad
//! input at every boundary (a precise Steam-shaped refusal, nothing changed).

use axum::body::Body;
use axum::http::Request;
use laurel_server::steam;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::*;

/// A Steam answer: status, content type and body text (JSON, XML, VDF or HTML).
pub struct SteamReply {
    pub status: u16,
    pub content_type: String,
    pub text: String,
}

impl SteamReply {
    pub fn json(&self) -> Value {
        assert!(
            self.content_type.starts_with("application/json"),
            "{} {}: {}",
            self.status,
            self.content_type,
            self.text
        );
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// Steam's HTML error page: asserts status and that the page says `needle`.
    #[track_caller]
    pub fn html(&self, status: u16, needle: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert!(
            self.content_type.starts_with("text/html"),
            "{}: {}",
            self.content_type,
            self.text
        );
        assert!(
            self.text.contains(needle),
            "{needle:?} not in {}",
            self.text
        );
    }
}

impl TestApp {
    pub async fn steam(
        &self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> SteamReply {
        let mut request = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::from(body.to_owned())).expect("request"))
            .await
            .expect("infallible");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("").to_owned())
            .unwrap_or_default();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        SteamReply {
            status,
            content_type,
            text: String::from_utf8(bytes.to_vec()).expect("UTF-8 body"),
        }
    }

    pub async fn steam_get(&self, uri: &str) -> SteamReply {
        self.steam("GET", uri, &[], "").await
    }

    /// A form POST, as Steam clients send it.
    pub async fn steam_post(&self, uri: &str, form: &str) -> SteamReply {
        self.steam(
            "POST",
            uri,
            &[("content-type", "application/x-www-form-urlencoded")],
            form,
        )
        .await
    }
}

fn enc(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The demo app with progress for A and a server key: the common starting point.
async fn with_progress() -> (TestApp, String) {
    let app = spawn().await;
    let t = app.token(480, A).await;
    let r = app
        .store(
            480,
            A,
            &t,
            "k1",
            &json!({
                "stats": [{"name": "NumGames", "value": 3}, {"name": "FeetTraveled", "value": 6000.5},
                          {"name": "AverageSpeed", "count": 300, "session_seconds": 60}],
                "unlock": ["ACH_WIN_ONE_GAME"]
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let key = app.create_key(480).await;
    (app, key)
}

/// The exact JSON text of an answer (key order included, which a parsed
/// `Value` would sort), indented for review. Clock-set numbers (non-zero
/// `unlocktime`, `servertime`) become placeholders.
fn wire(text: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    for c in text.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                depth += 1;
                newline(&mut out, depth);
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c => out.push(c),
        }
    }
    let mut redacted = String::new();
    for line in out.lines() {
        let clocked = [
            "\"unlocktime\": ",
            "\"servertime\": ",
            "\"servertimestring\": ",
        ]
        .iter()
        .find(|k| {
            line.trim_start().starts_with(*k)
                && !line.trim_end().trim_end_matches(',').ends_with(": 0")
        });
        match clocked {
            Some(k) => {
                let indent = &line[..line.len() - line.trim_start().len()];
                let comma = if line.ends_with(',') { "," } else { "" };
                redacted.push_str(&format!("{indent}{k}\"[clock]\"{comma}"));
            }
            None => redacted.push_str(line),
        }
        redacted.push('\n');
    }
    redacted
}

// ---- GetSupportedAPIList: the route table, listed ----

#[tokio::test]
async fn supported_api_list_is_the_route_table() {
    let app = spawn().await;
    let r = app
        .steam_get("/ISteamWebAPIUtil/GetSupportedAPIList/v1/?format=json")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let list = r.json();
    insta::assert_snapshot!(wire(&r.text));

    let mut listed = Vec::new();
    for interface in list["apilist"]["interfaces"]
        .as_array()
        .expect("interfaces")
    {
        let iname = interface["name"].as_str().expect("name");
        for m in interface["methods"].as_array().expect("methods") {
            let version = m["version"].as_u64().expect("integer version");
            let http = m["httpmethod"].as_str().expect("httpmethod");
            assert!(http == "GET" || http == "POST", "{m}");
            for p in m["parameters"].as_array().expect("parameters") {
                assert!(p["name"].is_string() && p["type"].is_string(), "{p}");
                assert!(
                    p["optional"].is_boolean() && p["description"].is_string(),
                    "{p}"
                );
            }
            listed.push((
                http.to_owned(),
                iname.to_owned(),
                m["name"].as_str().unwrap().to_owned(),
                version,
            ));
        }
    }
    // Every routed Steam method is listed…
    let routed: Vec<_> = steam::methods()
        .map(|m| {
            (
                m.http.to_owned(),
                m.interface.to_owned(),
                m.name.to_owned(),
                u64::from(m.version),
            )
        })
        .collect();
    let mut a = listed.clone();
    let mut b = routed.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b, "GetSupportedAPIList == the registry");
    // …and every listed method routes, in each spelling real clients use.
    for (http, iname, mname, version) in listed {
        for path in [
            format!("/{iname}/{mname}/v{version}/"),
            format!("/{iname}/{mname}/v{version:04}/"),
            format!("/{iname}/{mname}/v{version}"),
            format!("/{iname}/{mname}/v{version:04}"),
        ] {
            let r = app.steam(&http, &path, &[], "").await;
            assert!(
                !(r.status == 404 || r.status == 405),
                "{http} {path} does not route: {} {}",
                r.status,
                r.text
            );
            // The other HTTP method is refused the Steam way.
            let other = if http == "GET" { "POST" } else { "GET" };
            app.steam(other, &path, &[], "").await.html(
                405,
                &format!("This API must be called with a HTTP {http} request"),
            );
        }
    }
}

/// Every registered method, called with its required parameters (and a
/// server key of the app), answers 200 with the shape its entry documents.
/// A method added without a working handler fails here.
#[tokio::test]
async fn every_registered_method_answers_its_documented_shape() {
    let (app, key) = with_progress().await;
    // ISteamLeaderboards' methods run in registry order: the board they read
    // and write is `Quickest Win`; the last one deletes `Feet Traveled`.
    let r = app
        .get(
            "/api/v1/apps/480/leaderboards/find?name=Quickest%20Win",
            Some(&key),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let board = r.json["leaderboard"]["id"].to_string();
    let mut checked = 0;
    for method in steam::methods() {
        let mut query = vec![format!("key={key}")];
        for p in method
            .params
            .iter()
            .filter(|p| !p.optional && p.name != "key")
        {
            let value = match p.name {
                "steamid" | "steamids" => A.to_owned(),
                "appid" | "gameid" => "480".to_owned(),
                "count" => "1".to_owned(),
                "name[0]" => "NumGames".to_owned(),
                "value[0]" => "4".to_owned(),
                "leaderboardid" => board.clone(),
                "name" => "Feet%20Traveled".to_owned(),
                "rangestart" => "1".to_owned(),
                "rangeend" => "10".to_owned(),
                "datarequest" => "RequestGlobal".to_owned(),
                "score" => "42".to_owned(),
                "scoremethod" => "KeepBest".to_owned(),
                other => panic!("{method:?}: no test value for required parameter {other}"),
            };
            query.push(format!("{}={value}", p.name));
        }
        let query = query.join("&");
        let path = method.canonical_path();
        let r = if method.http == "POST" {
            app.steam_post(&path, &query).await
        } else {
            app.steam_get(&format!("{path}?{query}")).await
        };
        assert_eq!(r.status, 200, "{method:?}: {}", r.text);
        let json = r.json();
        assert!(
            json.pointer(method.answer).is_some(),
            "{method:?} answered without {}: {}",
            method.answer,
            r.text
        );
        checked += 1;
    }
    assert!(checked >= 19, "only {checked} methods registered");
}

#[tokio::test]
async fn unknown_paths_get_steam_404s() {
    let app = spawn().await;
    for (path, needle) in [
        (
            "/ISteamUserStats/NoSuchMethod/v1/",
            "Method 'NoSuchMethod' not found in interface 'ISteamUserStats'",
        ),
        (
            "/ISteamUserStats/GetPlayerAchievements/v3/",
            "Method 'GetPlayerAchievements' not found",
        ),
        (
            "/ISteamUserStats/GetPlayerAchievements/v00001/",
            "Method 'GetPlayerAchievements' not found",
        ),
        (
            "/ISteamUserStats/GetPlayerAchievements/version1/",
            "Method 'GetPlayerAchievements' not found",
        ),
        (
            "/ISteamUserStats/GetSchemaForGame/v1/",
            "Method 'GetSchemaForGame' not found",
        ),
        (
            "/ISteamNope/GetPlayerAchievements/v1/",
            "Interface 'ISteamNope' not found",
        ),
        ("/ISteamUserStats/", "<h1>Not Found</h1>"),
    ] {
        app.steam_get(path).await.html(404, needle);
    }
    // Paths outside the Steam surface keep the client API's JSON 404.
    let r = app.get("/api/v1/nope", None).await;
    assert_eq!(r.code(), (404, 9));
}

// ---- GetPlayerAchievements ----

#[tokio::test]
async fn player_achievements_shape() {
    let (app, key) = with_progress().await;
    let r = app
        .steam_get(&format!(
            "/ISteamUserStats/GetPlayerAchievements/v0001/?key={key}&steamid={A}&appid=480"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let json = r.json();
    assert!(
        json["playerstats"]["steamID"].is_string(),
        "64-bit ids are strings"
    );
    insta::assert_snapshot!("player_achievements", wire(&r.text));
    // `l` adds localized name and description (English as the fallback).
    let r = app
        .steam_get(&format!(
            "/ISteamUserStats/GetPlayerAchievements/v1?key={key}&steamid={A}&appid=480&l=french"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    insta::assert_snapshot!("player_achievements_french", wire(&r.text));
}

#[tokio::test]
async fn player_achievements_refusals() {
    let (app, key) = with_progress().await;
    app.put_schema(7, PRIVATE_SCHEMA).await;
    let other_key = app.create_key(7).await;
    let t_a = app.token(480, A).await;
    let base = "/ISteamUserStats/GetPlayerAchievements/v1/";
    let html = [
        // Missing and garbled parameters: the front end's 400.
        (
            format!("{base}?steamid={A}&appid=480"),
            400,
            "Parameter 'key' is missing",
        ),
        (
            format!("{base}?key={key}&appid=480"),
            400,
            "Parameter 'steamid' is missing",
        ),
        (
            format!("{base}?key={key}&steamid={A}"),
            400,
            "Parameter 'appid' is missing",
        ),
        (
            format!("{base}?key={key}&steamid=abc&appid=480"),
            400,
            "Parameter 'steamid' is invalid",
        ),
        (
            format!("{base}?key={key}&steamid=0&appid=480"),
            400,
            "Parameter 'steamid' is invalid",
        ),
        (
            format!("{base}?key={key}&steamid=18446744073709551616&appid=480"),
            400,
            "Parameter 'steamid' is invalid",
        ),
        (
            format!("{base}?key={key}&steamid=-1&appid=480"),
            400,
            "Parameter 'steamid' is invalid",
        ),
        (
            format!("{base}?key={key}&steamid={A}&appid=4294967296"),
            400,
            "Parameter 'appid' is invalid",
        ),
        (
            format!("{base}?key={key}&steamid={A}&steamid={A}&appid=480"),
            400,
            "given more than once",
        ),
        (
            format!("{base}?key={key}&steamid={A}&appid=480&format=csv"),
            400,
            "Parameter 'format'",
        ),
        // Keys: unknown, garbled, of another app, not a key at all.
        (
            format!("{base}?key=lk_{}&steamid={A}&appid=480", "0".repeat(64)),
            403,
            "Forbidden",
        ),
        (
            format!("{base}?key=lk_nothex&steamid={A}&appid=480"),
            403,
            "Forbidden",
        ),
        (
            format!("{base}?key={other_key}&steamid={A}&appid=480"),
            403,
            "Please verify your <pre>key=</pre> parameter.",
        ),
        (
            format!("{base}?key={key}&steamid={A}&appid=7"),
            403,
            "Forbidden",
        ),
        (
            format!("{base}?key=hunter2&steamid={A}&appid=480"),
            403,
            "Forbidden",
        ),
        (
            format!(
                "{base}?key={}&steamid={A}&appid=480",
                enc(&t_a.replace("lt2.480", "lt2.7"))
            ),
            403,
            "Forbidden",
        ),
    ];
    for (uri, status, needle) in html {
        app.steam_get(&uri).await.html(status, needle);
    }
    // A user who never played: Steam's "no stats".
    let r = app
        .steam_get(&format!("{base}?key={key}&steamid={B}&appid=480"))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"playerstats": {"error": "Requested app has no stats", "success": false}})
    );
    // A user token may read itself; another user only where the app allows it.
    let t7 = app.token(7, A).await;
    let r = app
        .steam_get(&format!("{base}?key={}&steamid={B}&appid=7", enc(&t7)))
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json(),
        json!({"playerstats": {"error": "Profile is not public", "success": false}})
    );
    let r = app
        .steam_get(&format!("{base}?key={}&steamid={A}&appid=480", enc(&t_a)))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The bearer header works like key=.
    let r = app
        .steam(
            "GET",
            &format!("{base}?steamid={A}&appid=480"),
            &[("authorization", &format!("Bearer {key}"))],
            "",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // A revoked key stops working.
    let keys = app
        .get("/api/v1/admin/apps/480/keys", Some(ADMIN))
        .await
        .json;
    let id = keys["keys"][0]["id"].as_i64().expect("key id");
    let r = app
        .send(
            "DELETE",
            &format!("/api/v1/admin/apps/480/keys/{id}"),
            Some(ADMIN),
            &[],
            "",
        )
        .await;
    assert_eq!(r.status, 200);
    app.steam_get(&format!("{base}?key={key}&steamid={A}&appid=480"))
        .await
        .html(403, "Forbidden");
}

#[tokio::test]
async fn an_expired_token_is_steams_401() {
    let app = spawn_with(|c| c.token_ttl = std::time::Duration::from_secs(0)).await;
    let t = app.token(480, A).await;
    app.steam_get(&format!(
        "/ISteamUserStats/GetPlayerAchievements/v1/?key={}&steamid={A}&appid=480",
        enc(&t)
    ))
    .await
    .html(401, "<title>Unauthorized</title>");
}

// ---- GetUserStatsForGame ----

#[tokio::test]
async fn user_stats_for_game_v1_objects_v2_arrays() {
    let (app, key) = with_progress().await;
    let q = format!("?key={key}&steamid={A}&appid=480");
    let v2 = app
        .steam_get(&format!("/ISteamUserStats/GetUserStatsForGame/v0002/{q}"))
        .await;
    assert_eq!(v2.status, 200, "{}", v2.text);
    insta::assert_snapshot!("user_stats_v2", wire(&v2.text));
    let v1 = app
        .steam_get(&format!("/ISteamUserStats/GetUserStatsForGame/v1/{q}"))
        .await;
    assert_eq!(v1.status, 200, "{}", v1.text);
    insta::assert_snapshot!("user_stats_v1", wire(&v1.text));
    let r = app
        .steam_get(&format!(
            "/ISteamUserStats/GetUserStatsForGame/v2/?key={key}&steamid={B}&appid=480"
        ))
        .await;
    assert_eq!(
        (r.status, r.json()["playerstats"]["success"].clone()),
        (400, json!(false))
    );
}

// ---- GetSchemaForGame ----

#[tokio::test]
async fn schema_for_game_shape() {
    let (app, key) = with_progress().await;
    let r = app
        .steam_get(&format!(
            "/ISteamUserStats/GetSchemaForGame/v2/?key={key}&appid=480"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    insta::assert_snapshot!("schema_for_game", wire(&r.text));
    let r = app
        .steam_get(&format!(
            "/ISteamUserStats/GetSchemaForGame/v2/?key={key}&appid=480&l=french"
        ))
        .await;
    let json = r.json();
    let first = &json["game"]["availableGameStats"]["achievements"][0];
    assert_eq!(
        (first["displayName"].clone(), first["description"].clone()),
        (json!("Vainqueur"), json!("Gagnez une partie."))
    );
    // The schema needs a key of the app.
    app.steam_get("/ISteamUserStats/GetSchemaForGame/v2/?appid=480")
        .await
        .html(400, "Parameter 'key' is missing");
    app.steam_get(&format!(
        "/ISteamUserStats/GetSchemaForGame/v2/?key={key}&appid=7"
    ))
    .await
    .html(403, "Forbidden");
}

// ---- global figures ----

#[tokio::test]
async fn global_achievement_percentages_v1_and_v2() {
    let (app, _key) = with_progress().await;
    let t = app.token(480, B).await;
    let r = app
        .store(
            480,
            B,
            &t,
            "b1",
            &json!({"unlock": ["ACH_WIN_ONE_GAME", "ACH_WIN_100_GAMES"]}),
        )
        .await;
    assert_eq!(r.status, 200);
    let v2 = app
        .steam_get("/ISteamUserStats/GetGlobalAchievementPercentagesForApp/v0002/?gameid=480")
        .await;
    assert_eq!(v2.status, 200, "{}", v2.text);
    let json = v2.json();
    assert!(json["achievementpercentages"]["achievements"][0]["percent"].is_number());
    insta::assert_snapshot!("global_percentages_v2", wire(&v2.text));
    let v1 = app
        .steam_get("/ISteamUserStats/GetGlobalAchievementPercentagesForApp/v1/?gameid=480")
        .await;
    insta::assert_snapshot!("global_percentages_v1", wire(&v1.text));
    // Unknown game, and game ids no app has: Steam's 403 with an empty object.
    for gameid in ["404", "0", "18446744073709551615"] {
        let r = app
            .steam_get(&format!(
                "/ISteamUserStats/GetGlobalAchievementPercentagesForApp/v2/?gameid={gameid}"
            ))
            .await;
        assert_eq!((r.status, r.json()), (403, json!({})), "{gameid}");
    }
    app.steam_get("/ISteamUserStats/GetGlobalAchievementPercentagesForApp/v2/?gameid=x")
        .await
        .html(400, "Parameter 'gameid' is invalid");
    app.steam_get("/ISteamUserStats/GetGlobalAchievementPercentagesForApp/v2/")
        .await
        .html(400, "Parameter 'gameid' is missing");
    // Public, as on Steam, but a key that is given must be valid.
    app.steam_get(
        "/ISteamUserStats/GetGlobalAchievementPercentagesForApp/v2/?gameid=480&key=bogus",
    )
    .await
    .html(403, "Forbidden");
}

#[tokio::test]
async fn global_stats_for_game_totals_and_history() {
    let (app, _key) = with_progress().await;
    let t = app.token(480, B).await;
    let r = app
        .store(
            480,
            B,
            &t,
            "b1",
            &json!({"stats": [{"name": "NumGames", "value": 5}, {"name": "NumWins", "value": 2}]}),
        )
        .await;
    assert_eq!(r.status, 200);
    let base = "/ISteamUserStats/GetGlobalStatsForGame/v1/?appid=480";
    let r = app
        .steam_get(&format!(
            "{base}&count=3&name%5B0%5D=NumGames&name%5B1%5D=FeetTraveled&name[2]=NumWins"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    insta::assert_snapshot!("global_stats", wire(&r.text));
    // With a date range: every UTC day of it, with the day's change of the total.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let today = now / 86_400 * 86_400;
    let r = app
        .steam_get(&format!(
            "{base}&count=1&name[0]=NumGames&startdate={}&enddate={now}",
            today - 86_400
        ))
        .await;
    let json = r.json();
    let stat = &json["response"]["globalstats"]["NumGames"];
    assert_eq!(stat["total"], "8", "{json}");
    assert_eq!(
        stat["history"],
        json!([{"date": today - 86_400, "total": "0"}, {"date": today, "total": "8"}])
    );
    // Refusals are `{"response":{"result":…,"error":…}}`.
    for (query, result, needle) in [
        (
            "&count=2&name[0]=NumGames",
            8,
            "name[1] is missing (count is 2)",
        ),
        (
            "&count=1&name[0]=NumGames&name[1]=NumWins",
            8,
            "is not one of name[0]..name[0]",
        ),
        (
            "&count=1&name[0]=NumGames&name[01]=NumWins",
            8,
            "is not one of",
        ),
        (
            "&count=1&name[0]=MaxFeetTraveled",
            8,
            "is not an aggregated stat of app 480",
        ),
        ("&count=1&name[0]=Nope", 8, "is not an aggregated stat"),
        (
            "&count=2&name[0]=NumGames&name[1]=NumGames",
            8,
            "asked for twice",
        ),
        ("&count=0&name[0]=NumGames", 8, "count must be"),
        ("&count=5000&name[0]=NumGames", 8, "count must be"),
        (
            "&count=1&name[0]=NumGames&startdate=200000&enddate=100000",
            8,
            "startdate is after enddate",
        ),
        (
            "&count=1&name[0]=NumGames&startdate=0&enddate=100000000",
            8,
            "the limit is 366",
        ),
    ] {
        let r = app.steam_get(&format!("{base}{query}")).await;
        assert_eq!(r.status, 200, "{query}: {}", r.text);
        let json = r.json();
        assert_eq!(json["response"]["result"], result, "{query}: {json}");
        assert!(
            json["response"]["error"].as_str().unwrap().contains(needle),
            "{query}: {json}"
        );
    }
    let r = app
        .steam_get("/ISteamUserStats/GetGlobalStatsForGame/v1/?appid=404&count=1&name[0]=x")
        .await;
    assert_eq!(r.json()["response"]["result"], 42);
    for (query, needle) in [
        (
            "&count=99999999999&name[0]=NumGames",
            "Parameter 'count' is invalid",
        ),
        ("&count=-1&name[0]=NumGames", "Parameter 'count' is invalid"),
        ("&name[0]=NumGames", "Parameter 'count' is missing"),
        ("&count=1", "Parameter 'name[0]' is missing"),
        (
            "&count=1&name[0]=NumGames&startdate=yesterday",
            "Parameter 'startdate' is invalid",
        ),
    ] {
        app.steam_get(&format!("{base}{query}"))
            .await
            .html(400, needle);
    }
}

#[tokio::test]
async fn number_of_current_players_counts_recent_clients() {
    let (app, _key) = with_progress().await;
    let url = "/ISteamUserStats/GetNumberOfCurrentPlayers/v1/?appid=480";
    let r = app.steam_get(url).await;
    assert_eq!(r.status, 200, "{}", r.text);
    insta::assert_snapshot!("current_players", wire(&r.text));
    // B's client fetches its progress: two players now.
    let t = app.token(480, B).await;
    assert_eq!(app.progress(480, B, &t).await.status, 200);
    assert_eq!(
        app.steam_get(url).await.json()["response"]["player_count"],
        2
    );
    // Reading someone else's progress does not make the reader (or them) play.
    let key = app.create_key(480).await;
    assert_eq!(
        app.progress(480, "76561197960287999", &key).await.status,
        200
    );
    assert_eq!(
        app.steam_get(url).await.json()["response"]["player_count"],
        2
    );
    let r = app
        .steam_get("/ISteamUserStats/GetNumberOfCurrentPlayers/v1/?appid=404")
        .await;
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"response": {"result": 42}}))
    );
    app.steam_get("/ISteamUserStats/GetNumberOfCurrentPlayers/v1/")
        .await
        .html(400, "Parameter 'appid' is missing");
}

#[tokio::test]
async fn player_summaries_give_the_apps_display_names_in_steams_persona_shape() {
    let (app, key) = with_progress().await;
    let r = app
        .post(
            "/api/v1/sessions",
            None,
            &json!({"app_id": 480, "steam_id": A, "display_name": "Gordon"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let url = format!(
        "/ISteamUser/GetPlayerSummaries/v2/?key={}&steamids={A},{B},not-an-id",
        enc(&key)
    );
    let r = app.steam_get(&url).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let players = r.json()["response"]["players"].clone();
    assert_eq!(players.as_array().map(Vec::len), Some(2), "{players}");
    assert_eq!(players[0]["steamid"], A);
    assert_eq!(players[0]["personaname"], "Gordon");
    assert_eq!(players[0]["personastate"], 1, "A stored just now: playing");
    assert_eq!(players[1]["personaname"], B, "no name: the id");
    assert_eq!(players[1]["personastate"], 0);
    assert_eq!(players[1]["avatar"], "");
    // A user token of the app reads itself, and others where progress is public (the demo app).
    let t = app.token(480, B).await;
    let r = app
        .steam_get(&format!(
            "/ISteamUser/GetPlayerSummaries/v2/?key={}&steamids={A}",
            enc(&t)
        ))
        .await;
    assert_eq!(r.json()["response"]["players"][0]["personaname"], "Gordon");
    app.steam_get(&format!("/ISteamUser/GetPlayerSummaries/v2/?steamids={A}"))
        .await
        .html(400, "Parameter 'key' is missing");
    app.steam_get(&format!(
        "/ISteamUser/GetPlayerSummaries/v2/?key={}",
        enc(&key)
    ))
    .await
    .html(400, "Parameter 'steamids' is missing");
    // More than 100 ids: the first 100 are answered.
    let many: Vec<String> = (1..=150u64)
        .map(|i| (76561197960287930 + i).to_string())
        .collect();
    let r = app
        .steam_get(&format!(
            "/ISteamUser/GetPlayerSummaries/v2/?key={}&steamids={}",
            enc(&key),
            many.join(",")
        ))
        .await;
    assert_eq!(
        r.json()["response"]["players"].as_array().map(Vec::len),
        Some(100)
    );
    app.steam_get(&format!(
        "/ISteamUser/GetPlayerSummaries/v2/?key={}&steamids={}",
        enc(&key),
        "1,".repeat(2100)
    ))
    .await
    .html(400, "longer than 4096 bytes");
}

// ---- SetUserStatsForGame ----

const SET: &str = "/ISteamUserStats/SetUserStatsForGame/v1/";

fn form(key: &str, user: &str, app: u32, pairs: &[(&str, &str)]) -> String {
    let mut f = format!(
        "key={}&steamid={user}&appid={app}&count={}",
        enc(key),
        pairs.len()
    );
    for (i, (n, v)) in pairs.iter().enumerate() {
        f.push_str(&format!(
            "&name%5B{i}%5D={}&value%5B{i}%5D={}",
            enc(n),
            enc(v)
        ));
    }
    f
}

#[tokio::test]
async fn set_user_stats_sets_stats_and_unlocks_in_one_store() {
    let (app, key) = with_progress().await;
    let r = app
        .steam_post(
            SET,
            &form(
                &key,
                A,
                480,
                &[
                    ("NumGames", "10"),
                    ("FeetTraveled", "7000.25"),
                    ("ACH_WIN_100_GAMES", "1"),
                    ("ACH_WIN_ONE_GAME", "0"),
                ],
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    insta::assert_snapshot!("set_user_stats", wire(&r.text));
    let p = app.progress(480, A, &key).await.json;
    assert_eq!(stat(&p, "NumGames"), Some(10.0));
    assert_eq!(stat(&p, "FeetTraveled"), Some(7000.25));
    assert_eq!(
        achievement(&p, "ACH_WIN_100_GAMES").unwrap()["unlocked"],
        true
    );
    assert_eq!(
        achievement(&p, "ACH_WIN_ONE_GAME").unwrap()["unlocked"],
        false
    );
    assert_eq!(p["version"], 2, "one store");
    // The same call again applies again (absolute values: same state).
    let again = app
        .steam_post(SET, &form(&key, A, 480, &[("NumGames", "10")]))
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(app.progress(480, A, &key).await.json["version"], 3);
    // With an Idempotency-Key a retry is answered from the first outcome.
    for _ in 0..2 {
        let r = app
            .steam(
                "POST",
                SET,
                &[
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("idempotency-key", "retry-1"),
                ],
                &form(&key, A, 480, &[("NumWins", "1")]),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    assert_eq!(app.progress(480, A, &key).await.json["version"], 4);
    // A key at the limit: with its `steam:` namespace it is exactly as long
    // as the store's longest key; one byte more is refused, and stores nothing.
    let max = laurel_core::limits::MAX_IDEMPOTENCY_KEY_BYTES - "steam:".len();
    for (len, status) in [(max, 200), (max + 1, 400)] {
        let header = "k".repeat(len);
        let r = app
            .steam(
                "POST",
                SET,
                &[
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("idempotency-key", header.as_str()),
                ],
                &form(&key, A, 480, &[("NumWins", "2")]),
            )
            .await;
        assert_eq!(r.status, status, "{len}: {}", r.text);
    }
    assert_eq!(app.progress(480, A, &key).await.json["version"], 5);
    // And the global figures followed: NumGames is aggregated.
    let g = app
        .steam_get("/ISteamUserStats/GetGlobalStatsForGame/v1/?appid=480&count=1&name[0]=NumGames")
        .await;
    assert_eq!(
        g.json()["response"]["globalstats"]["NumGames"]["total"],
        "10"
    );
}

#[tokio::test]
async fn set_user_stats_refusals_change_nothing() {
    let (app, key) = with_progress().await;
    app.put_schema(7, PRIVATE_SCHEMA).await;
    let other_key = app.create_key(7).await;
    let token = app.token(480, A).await;
    let before = app.snapshot(480, A).await;
    // Steam-shaped method refusals: {"result":{"result":N,"error":…}}.
    let method = [
        (
            form(&key, A, 480, &[("NumGames", "NaN")]),
            400,
            8,
            "is not a decimal number",
        ),
        (
            form(&key, A, 480, &[("NumGames", "inf")]),
            400,
            8,
            "is not a decimal number",
        ),
        (
            form(&key, A, 480, &[("NumGames", "1e400")]),
            400,
            8,
            "is not a finite number",
        ),
        (
            form(&key, A, 480, &[("NumGames", "0x10")]),
            400,
            8,
            "is not a decimal number",
        ),
        (
            form(&key, A, 480, &[("NumGames", "2.5")]),
            400,
            8,
            "not an integer",
        ),
        (
            form(&key, A, 480, &[("NumGames", "1")]),
            400,
            8,
            "decreases it",
        ),
        (
            form(&key, A, 480, &[("Nope", "1")]),
            400,
            8,
            "is no stat or achievement of this app",
        ),
        (
            form(&key, A, 480, &[("AverageSpeed", "1")]),
            400,
            8,
            "avgrate",
        ),
        (
            form(&key, A, 480, &[("ACH_WIN_100_GAMES", "2")]),
            400,
            8,
            "must be 1 (unlock) or 0 (lock)",
        ),
        // One bad entry refuses the whole batch; every problem is listed.
        (
            form(
                &key,
                A,
                480,
                &[("NumWins", "5"), ("Nope", "1"), ("NumGames", "-1")],
            ),
            400,
            8,
            "name[1] \"Nope\"",
        ),
        (
            format!("key={key}&steamid={A}&appid=480&count=2&name[0]=NumGames&value[0]=9"),
            400,
            8,
            "name[1] is missing (count is 2)",
        ),
        (
            format!(
                "key={key}&steamid={A}&appid=480&count=1&name[0]=NumGames&value[0]=9&name[1]=NumWins&value[1]=1"
            ),
            400,
            8,
            "is not one of name[0]..name[0]",
        ),
        (
            format!("key={key}&steamid={A}&appid=480&count=0&name[0]=NumGames&value[0]=9"),
            400,
            8,
            "count must be at least 1",
        ),
        (
            format!("key={key}&steamid={A}&appid=480&count=3000&name[0]=NumGames&value[0]=9"),
            400,
            25,
            "the limit is 2048",
        ),
    ];
    for (body, status, result, needle) in method {
        let r = app.steam_post(SET, &body).await;
        assert_eq!(r.status, status, "{body}: {}", r.text);
        let json = r.json();
        assert_eq!(json["result"]["result"], result, "{body}: {json}");
        let error = json["result"]["error"].as_str().unwrap_or("");
        assert!(error.contains(needle), "{body}: {error:?} lacks {needle:?}");
    }
    // The front end's refusals: HTML.
    let html = [
        (form(&token, A, 480, &[("NumGames", "9")]), 403, "Forbidden"),
        (
            form(&other_key, A, 480, &[("NumGames", "9")]),
            403,
            "Forbidden",
        ),
        (form(&key, A, 7, &[("Kills", "9")]), 403, "Forbidden"),
        (
            format!("steamid={A}&appid=480&count=1&name[0]=NumGames&value[0]=9"),
            400,
            "Parameter 'key' is missing",
        ),
        (
            format!("key={key}&appid=480&count=1&name[0]=NumGames&value[0]=9"),
            400,
            "Parameter 'steamid' is missing",
        ),
        (
            format!("key={key}&steamid=x{A}&appid=480&count=1&name[0]=NumGames&value[0]=9"),
            400,
            "Parameter 'steamid' is invalid",
        ),
        (
            format!("key={key}&steamid={A}&appid=480&name[0]=NumGames&value[0]=9"),
            400,
            "Parameter 'count' is missing",
        ),
        (
            format!(
                "key={key}&steamid={A}&appid=480&count=99999999999&name[0]=NumGames&value[0]=9"
            ),
            400,
            "Parameter 'count' is invalid",
        ),
        (
            format!("key={key}&steamid={A}&appid=480&count=1&value[0]=9"),
            400,
            "Parameter 'name[0]' is missing",
        ),
        (
            format!("key={key}&steamid={A}&appid=480&count=1&name[0]=NumGames"),
            400,
            "Parameter 'value[0]' is missing",
        ),
    ];
    for (body, status, needle) in html {
        app.steam_post(SET, &body).await.html(status, needle);
    }
    // GET is not how this method is called.
    app.steam_get(&format!(
        "{SET}?{}",
        form(&key, A, 480, &[("NumGames", "9")])
    ))
    .await
    .html(405, "This API must be called with a HTTP POST request");
    // A body over the limit.
    let huge = format!(
        "{}&pad={}",
        form(&key, A, 480, &[("NumGames", "9")]),
        "x".repeat(600 * 1024)
    );
    let r = app.steam_post(SET, &huge).await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert_eq!(app.snapshot(480, A).await, before, "nothing changed");
}

// ---- formats and the util interface ----

#[tokio::test]
async fn xml_and_vdf_formats() {
    let (app, key) = with_progress().await;
    for format in ["xml", "vdf"] {
        let r = app
            .steam_get(&format!(
                "/ISteamUserStats/GetUserStatsForGame/v2/?key={key}&steamid={A}&appid=480&format={format}"
            ))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        insta::assert_snapshot!(format!("user_stats_v2_{format}"), r.text);
    }
    let r = app
        .steam_get(
            "/ISteamUserStats/GetGlobalAchievementPercentagesForApp/v2/?gameid=480&format=vdf",
        )
        .await;
    assert!(
        r.content_type.starts_with("text/vnd.valve.vdf"),
        "{}",
        r.content_type
    );
    assert!(
        r.text.starts_with("\"achievementpercentages\"\n{"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn server_info_shape() {
    let app = spawn().await;
    let r = app.steam_get("/ISteamWebAPIUtil/GetServerInfo/v0001").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let json = r.json();
    assert!(json["servertime"].is_i64());
    assert_eq!(json["servertimestring"].as_str().unwrap().len(), 24);
    insta::assert_snapshot!("server_info", wire(&r.text));
}
