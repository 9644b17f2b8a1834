//! What `ISteamWebAPIUtil/GetSupportedAPIList` says about each Steam method:
//! Steam's interface, method and version, and its parameters with Steam's
//! names, types, optional flags and descriptions (as Steam's own
//! `GetSupportedAPIList` lists them; see docs/steam-web-api.md). The route
//! table ([`crate::routes::ROUTES`]) points at these, so the list is the
//! router's, and [`super::required_params`] enforces exactly the flags listed.

/// One parameter of a Steam method. `name[0]` marks an array (`name[0]`,
/// `name[1]`, …), as Steam writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SteamParam {
    pub name: &'static str,
    /// Steam's type name: `string`, `uint32`, `uint64`.
    pub kind: &'static str,
    pub optional: bool,
    pub description: &'static str,
}

/// A Steam method at one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SteamMethodDoc {
    pub interface: &'static str,
    pub name: &'static str,
    pub version: u32,
    pub params: &'static [SteamParam],
}

impl SteamMethodDoc {
    /// The path Steam's own clients build: `/Interface/Method/v1/`.
    pub fn canonical_path(&self) -> String {
        format!("/{}/{}/v{}/", self.interface, self.name, self.version)
    }
}

const fn param(
    name: &'static str,
    kind: &'static str,
    optional: bool,
    description: &'static str,
) -> SteamParam {
    SteamParam {
        name,
        kind,
        optional,
        description,
    }
}

pub const USER_STATS: &str = "ISteamUserStats";
pub const WEB_API_UTIL: &str = "ISteamWebAPIUtil";
pub const USER: &str = "ISteamUser";

const KEY: SteamParam = param("key", "string", false, "access key");
const STEAMID: SteamParam = param("steamid", "uint64", false, "SteamID of user");
const APPID_OF_GAME: SteamParam = param("appid", "uint32", false, "appid of game");

const GLOBAL_PERCENTAGES_PARAMS: &[SteamParam] = &[param(
    "gameid",
    "uint64",
    false,
    "GameID to retrieve the achievement percentages for",
)];

const USER_STATS_PARAMS: &[SteamParam] = &[KEY, STEAMID, APPID_OF_GAME];

pub const GET_GLOBAL_ACHIEVEMENT_PERCENTAGES_V1: SteamMethodDoc = SteamMethodDoc {
    interface: USER_STATS,
    name: "GetGlobalAchievementPercentagesForApp",
    version: 1,
    params: GLOBAL_PERCENTAGES_PARAMS,
};

pub const GET_GLOBAL_ACHIEVEMENT_PERCENTAGES_V2: SteamMethodDoc = SteamMethodDoc {
    version: 2,
    ..GET_GLOBAL_ACHIEVEMENT_PERCENTAGES_V1
};

pub const GET_GLOBAL_STATS_FOR_GAME_V1: SteamMethodDoc = SteamMethodDoc {
    interface: USER_STATS,
    name: "GetGlobalStatsForGame",
    version: 1,
    params: &[
        param(
            "appid",
            "uint32",
            false,
            "AppID that we're getting global stats for",
        ),
        param("count", "uint32", false, "Number of stats get data for"),
        param("name[0]", "string", false, "Names of stat to get data for"),
        param(
            "startdate",
            "uint32",
            true,
            "Start date for daily totals (unix epoch timestamp)",
        ),
        param(
            "enddate",
            "uint32",
            true,
            "End date for daily totals (unix epoch timestamp)",
        ),
    ],
};

pub const GET_NUMBER_OF_CURRENT_PLAYERS_V1: SteamMethodDoc = SteamMethodDoc {
    interface: USER_STATS,
    name: "GetNumberOfCurrentPlayers",
    version: 1,
    params: &[param(
        "appid",
        "uint32",
        false,
        "AppID that we're getting user count for",
    )],
};

pub const GET_PLAYER_SUMMARIES_V2: SteamMethodDoc = SteamMethodDoc {
    interface: USER,
    name: "GetPlayerSummaries",
    version: 2,
    params: &[
        KEY,
        param(
            "steamids",
            "string",
            false,
            "Comma-delimited list of SteamIDs (max: 100)",
        ),
    ],
};

pub const GET_PLAYER_ACHIEVEMENTS_V1: SteamMethodDoc = SteamMethodDoc {
    interface: USER_STATS,
    name: "GetPlayerAchievements",
    version: 1,
    params: &[
        KEY,
        STEAMID,
        param("appid", "uint32", false, "AppID to get achievements for"),
        param("l", "string", true, "Language to return strings for"),
    ],
};

pub const GET_SCHEMA_FOR_GAME_V2: SteamMethodDoc = SteamMethodDoc {
    interface: USER_STATS,
    name: "GetSchemaForGame",
    version: 2,
    params: &[
        KEY,
        APPID_OF_GAME,
        param(
            "l",
            "string",
            true,
            "localized language to return (english, french, etc.)",
        ),
    ],
};

pub const GET_USER_STATS_FOR_GAME_V1: SteamMethodDoc = SteamMethodDoc {
    interface: USER_STATS,
    name: "GetUserStatsForGame",
    version: 1,
    params: USER_STATS_PARAMS,
};

pub const GET_USER_STATS_FOR_GAME_V2: SteamMethodDoc = SteamMethodDoc {
    version: 2,
    ..GET_USER_STATS_FOR_GAME_V1
};

pub const SET_USER_STATS_FOR_GAME_V1: SteamMethodDoc = SteamMethodDoc {
    interface: USER_STATS,
    name: "SetUserStatsForGame",
    version: 1,
    params: &[
        KEY,
        STEAMID,
        APPID_OF_GAME,
        param(
            "count",
            "uint32",
            false,
            "Number of stats and achievements to set a value for (name/value param pairs)",
        ),
        param(
            "name[0]",
            "string",
            false,
            "Name of stat or achievement to set",
        ),
        param("value[0]", "uint32", false, "Value to set"),
    ],
};

pub const GET_SERVER_INFO_V1: SteamMethodDoc = SteamMethodDoc {
    interface: WEB_API_UTIL,
    name: "GetServerInfo",
    version: 1,
    params: &[],
};

pub const GET_SUPPORTED_API_LIST_V1: SteamMethodDoc = SteamMethodDoc {
    interface: WEB_API_UTIL,
    name: "GetSupportedAPIList",
    version: 1,
    params: &[param("key", "string", true, "access key")],
};
