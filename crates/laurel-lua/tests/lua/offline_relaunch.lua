-- A relaunch with the server unreachable: the earlier values are readable at
-- once, before any event, from what the module kept; the progress request
-- then fails with resultCode 3 and the values stay readable.
local T = require("testlib")
local steamworks = require("plugin.steamworks")
local rec = T.recorder({ "userProgressUpdate" })
T.eq(steamworks.isLoggedOn, true, "logged on")
T.eq(steamworks.getUserStatValue({ statName = "NumWins", type = "int" }), 2, "the stat at once")
T.eq(steamworks.getAchievementInfo("ACH_WIN_100_GAMES").unlocked, true, "the unlock at once")
local update = rec.wait("userProgressUpdate", nil, "the failed progress request")
T.eq(update.isError, true, "isError")
T.eq(update.resultCode, 3, "resultCode 3 (no connection)")
T.eq(steamworks.getUserStatValue({ statName = "NumWins", type = "int" }), 2, "still readable")
T.done()
