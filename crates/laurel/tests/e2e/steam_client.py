"""A third-party Steam Web API client, unmodified, pointed at Laurel.

Uses ValvePython's `steam` package (PyPI `steam`, pinned in `cargo xtask deps`)
exactly as its documentation shows: `WebAPI(key, ...)` first calls
`ISteamWebAPIUtil/GetSupportedAPIList` and builds its interfaces and methods
from the answer; calls then go through those generated methods (or `call`).
Only the host differs: `apihost=` and `https=False`, both documented
parameters of `WebAPI`.

Usage: steam_client.py HOST:PORT SERVER_KEY STEAMID
Prints one JSON object per call: {"call": name, "result": answer} or
{"call": name, "error": text, "status": http status}.
"""

import json
import sys

from steam.webapi import WebAPI


def show(name, fn):
    try:
        result = fn()
        print(json.dumps({"call": name, "result": result}), flush=True)
        return result
    except Exception as e:  # noqa: BLE001 - any failure is reported to the Rust test
        status = getattr(getattr(e, "response", None), "status_code", None)
        print(json.dumps({"call": name, "error": repr(e), "status": status}), flush=True)
        return None


def main():
    host, key, steamid = sys.argv[1], sys.argv[2], int(sys.argv[3])

    # The discovery call happens here (GetSupportedAPIList).
    api = WebAPI(key, apihost=host, https=False)
    print(json.dumps({"call": "interfaces", "result": sorted(i.name for i in api.interfaces)}), flush=True)
    # The library documents every method from the list; it must not fail.
    print(json.dumps({"call": "doc", "result": "GetPlayerAchievements" in api.doc()}), flush=True)

    show("GetSchemaForGame", lambda: api.ISteamUserStats.GetSchemaForGame(appid=480))
    show("GetPlayerAchievements", lambda: api.ISteamUserStats.GetPlayerAchievements(steamid=steamid, appid=480))
    show(
        "GetPlayerAchievements_l",
        lambda: api.call("ISteamUserStats.GetPlayerAchievements", steamid=steamid, appid=480, l="french"),
    )
    show("GetUserStatsForGame", lambda: api.ISteamUserStats.GetUserStatsForGame(steamid=steamid, appid=480))
    show("GetUserStatsForGame_v1", lambda: api.ISteamUserStats.GetUserStatsForGame_v1(steamid=steamid, appid=480))
    show(
        "GetGlobalAchievementPercentagesForApp",
        lambda: api.ISteamUserStats.GetGlobalAchievementPercentagesForApp(gameid=480),
    )
    show("GetNumberOfCurrentPlayers", lambda: api.ISteamUserStats.GetNumberOfCurrentPlayers(appid=480))
    show(
        "SetUserStatsForGame",
        lambda: api.ISteamUserStats.SetUserStatsForGame(
            steamid=steamid,
            appid=480,
            count=3,
            name=["NumGames", "FeetTraveled", "ACH_WIN_100_GAMES"],
            value=[42, 1234.5, 1],
        ),
    )
    show("GetUserStatsForGame_after", lambda: api.ISteamUserStats.GetUserStatsForGame(steamid=steamid, appid=480))
    show(
        "GetGlobalStatsForGame",
        lambda: api.ISteamUserStats.GetGlobalStatsForGame(appid=480, count=2, name=["NumGames", "FeetTraveled"]),
    )
    # The other formats, parsed by the library itself (vdf).
    show(
        "GetPlayerAchievements_vdf",
        lambda: api.ISteamUserStats.GetPlayerAchievements(steamid=steamid, appid=480, format="vdf"),
    )
    show("GetServerInfo", lambda: api.ISteamWebAPIUtil.GetServerInfo())
    show("GetPlayerSummaries", lambda: api.ISteamUser.GetPlayerSummaries(steamids=str(steamid)))
    # ISteamLeaderboards: a trusted board made, written, read and removed.
    lb = api.ISteamLeaderboards
    show("GetLeaderboardsForGame", lambda: lb.GetLeaderboardsForGame(appid=480))
    made = show(
        "FindOrCreateLeaderboard",
        lambda: lb.FindOrCreateLeaderboard(
            appid=480,
            name="Python Board",
            sortmethod="Descending",
            displaytype="Numeric",
            createifnotfound=True,
            onlytrustedwrites=True,
        ),
    )
    board = (made or {}).get("result", {}).get("leaderboard", {}).get("leaderBoardID", 0)
    show(
        "SetLeaderboardScore",
        lambda: lb.SetLeaderboardScore(
            appid=480, leaderboardid=board, steamid=steamid, score=77, scoremethod="KeepBest", details="1,2"
        ),
    )
    show(
        "SetLeaderboardScore_worse",
        lambda: lb.SetLeaderboardScore(appid=480, leaderboardid=board, steamid=steamid, score=5, scoremethod="KeepBest"),
    )
    show(
        "GetLeaderboardEntries",
        lambda: lb.GetLeaderboardEntries(
            appid=480, rangestart=0, rangeend=2147483647, leaderboardid=board, datarequest=0
        ),
    )
    show(
        "DeleteLeaderboardScore",
        lambda: lb.DeleteLeaderboardScore(appid=480, leaderboardid=board, steamid=steamid),
    )
    show("ResetLeaderboard", lambda: lb.ResetLeaderboard(appid=480, leaderboardid=board))
    show("DeleteLeaderboard", lambda: lb.DeleteLeaderboard(appid=480, name="Python Board"))
    # A refusal: another steamid that never played.
    show("GetPlayerAchievements_nobody", lambda: api.ISteamUserStats.GetPlayerAchievements(steamid=steamid + 1, appid=480))


if __name__ == "__main__":
    main()
