-- Every function and property of the module against the demo app (480),
-- with the plugin's return values, including the nil/false cases and
-- hostile arguments (which must neither raise nor crash).
local T = require("testlib")
local steamworks = require("plugin.steamworks")
local me = os.getenv("LAUREL_USER_ID")
local other = os.getenv("TEST_OTHER_USER")

local rec = T.recorder({ "userProgressUpdate", "userProgressSave", "achievementInfoUpdate", "userProgressUnload" })

-- A call that must not raise, returning its results.
local function safe(what, f, ...)
  local ok, a, b = pcall(f, ...)
  T.check(ok, what .. " raised: " .. tostring(a))
  return a, b
end

-- ----- properties: right away, no network -----
T.eq(steamworks.appId, "480", "appId")
T.eq(type(steamworks.appId), "string", "appId is a string")
T.eq(steamworks.isLoggedOn, true, "isLoggedOn")
T.eq(steamworks.userSteamId, me, "userSteamId")
T.eq(steamworks.appOwnerSteamId, me, "appOwnerSteamId")
T.eq(steamworks.canShowOverlay, false, "canShowOverlay")
T.eq(steamworks.isSteamDeck, false, "isSteamDeck")
T.eq(steamworks.noSuchProperty, nil, "unknown key")
T.eq(steamworks[1], nil, "numeric key")
T.eq(steamworks[true], nil, "boolean key")

T.wait_loaded()
T.eq(rec.count("userProgressUpdate", function(e) return e.userSteamId == me and not e.isError end), 1,
  "the start-up userProgressUpdate")
rec.clear()

-- ----- getAchievementNames -----
local names = steamworks.getAchievementNames()
T.eq(table.concat(names, ","), "ACH_WIN_ONE_GAME,ACH_WIN_100_GAMES,ACH_TRAVEL_FAR_ACCUM,ACH_TRAVEL_FAR_SINGLE",
  "getAchievementNames")
T.eq(#safe("getAchievementNames(junk)", steamworks.getAchievementNames, 1, {}, nil), 4, "extra arguments are ignored")

-- ----- getAchievementInfo -----
for _, name in ipairs(names) do
  local info = steamworks.getAchievementInfo(name)
  T.check(type(info) == "table", "getAchievementInfo(" .. name .. ")")
  T.eq(info.unlocked, false, name .. ".unlocked")
  T.eq(info.unlockTime, nil, name .. ".unlockTime absent while locked")
  T.eq(type(info.localizedName), "string", name .. ".localizedName")
  T.eq(type(info.localizedDescription), "string", name .. ".localizedDescription")
  T.eq(info.hidden, name == "ACH_TRAVEL_FAR_SINGLE", name .. ".hidden")
end
local info = steamworks.getAchievementInfo("ACH_WIN_ONE_GAME")
T.eq(info.localizedName, "Winner", "localizedName")
T.eq(info.localizedDescription, "Win one game.", "localizedDescription")
T.check(steamworks.getAchievementInfo("ACH_WIN_ONE_GAME", me) ~= nil, "userSteamId = current user")
T.check(steamworks.getAchievementInfo("ACH_WIN_ONE_GAME", nil) ~= nil, "userSteamId = nil")
for _, bad in ipairs({
  { "nil name" }, { "number name", 5 }, { "table name", {} }, { "function name", print },
  { "unknown name", "NO_SUCH_ACHIEVEMENT" }, { "empty name", "" },
  { "huge name", string.rep("A", 1000000) }, { "binary name", "ACH\0WIN" }, { "bad UTF-8", "\255\254" },
  { "numeric user id", "ACH_WIN_ONE_GAME", 76561197960287930 }, { "malformed user id", "ACH_WIN_ONE_GAME", "FRIEND_ID" },
  { "zero user id", "ACH_WIN_ONE_GAME", "0" }, { "overflowing user id", "ACH_WIN_ONE_GAME", "99999999999999999999999" },
  { "negative user id", "ACH_WIN_ONE_GAME", "-1" }, { "huge user id", "ACH_WIN_ONE_GAME", string.rep("7", 100000) },
  { "user not requested", "ACH_WIN_ONE_GAME", other },
}) do
  T.eq(safe("getAchievementInfo(" .. bad[1] .. ")", steamworks.getAchievementInfo, bad[2], bad[3]), nil,
    "getAchievementInfo(" .. bad[1] .. ")")
end

-- ----- getUserStatValue -----
T.eq(steamworks.getUserStatValue({ statName = "NumGames", type = "int" }), 0, "NumGames")
T.eq(steamworks.getUserStatValue({ statName = "FeetTraveled", type = "float" }), 0, "FeetTraveled")
T.eq(steamworks.getUserStatValue({ statName = "AverageSpeed", type = "averageRate" }), 0, "AverageSpeed")
T.eq(steamworks.getUserStatValue({ statName = "NumGames", type = "int", userSteamId = me }), 0, "userSteamId = me")
local raising = setmetatable({}, { __index = function() error("boom from __index") end })
for _, bad in ipairs({
  { "no argument" }, { "a string", "NumGames" }, { "a number", 5 },
  { "no statName", { type = "int" } }, { "no type", { statName = "NumGames" } },
  { "unknown type", { statName = "NumGames", type = "double" } },
  { "type of another stat", { statName = "NumGames", type = "float" } },
  { "averageRate for an int", { statName = "NumGames", type = "averageRate" } },
  { "unknown stat", { statName = "NoSuchStat", type = "int" } },
  { "numeric statName", { statName = 5, type = "int" } },
  { "huge statName", { statName = string.rep("x", 200000), type = "int" } },
  { "malformed userSteamId", { statName = "NumGames", type = "int", userSteamId = "abc" } },
  { "numeric userSteamId", { statName = "NumGames", type = "int", userSteamId = 12 } },
  { "user not requested", { statName = "NumGames", type = "int", userSteamId = other } },
  { "raising __index", raising },
}) do
  T.eq(safe("getUserStatValue(" .. bad[1] .. ")", steamworks.getUserStatValue, bad[2]), nil,
    "getUserStatValue(" .. bad[1] .. ")")
end

-- ----- setUserStatValues -----
for _, bad in ipairs({
  { "no argument" }, { "a string", "x" }, { "an empty array", {} }, { "an array of numbers", { 5, 6 } },
  { "NaN", { { statName = "NumGames", type = "int", value = 0 / 0 } } },
  { "infinity", { { statName = "FeetTraveled", type = "float", value = 1 / 0 } } },
  { "int out of range", { { statName = "NumGames", type = "int", value = 3e9 } } },
  { "float out of f32 range", { { statName = "FeetTraveled", type = "float", value = 1e39 } } },
  { "string value", { { statName = "NumGames", type = "int", value = "5" } } },
  { "no value", { { statName = "NumGames", type = "int" } } },
  { "mismatched type", { { statName = "NumGames", type = "float", value = 1 } } },
  { "unknown stat", { { statName = "NoSuchStat", type = "int", value = 1 } } },
  { "averageRate without sessionTimeLength", { { statName = "AverageSpeed", type = "averageRate", value = 5 } } },
  { "sessionTimeLength 0", { { statName = "AverageSpeed", type = "averageRate", value = 5, sessionTimeLength = 0 } } },
  { "negative sessionTimeLength", { { statName = "AverageSpeed", type = "averageRate", value = 5, sessionTimeLength = -1 } } },
  { "NaN sessionTimeLength", { { statName = "AverageSpeed", type = "averageRate", value = 5, sessionTimeLength = 0 / 0 } } },
  { "raising entry", { raising } },
}) do
  T.eq(safe("setUserStatValues(" .. bad[1] .. ")", steamworks.setUserStatValues, bad[2]), false,
    "setUserStatValues(" .. bad[1] .. ")")
end
T.eq(#rec.events, 0, "no event for refused writes")
-- (A value that breaks a constraint of the schema is taken, as Steam's
-- SetStat takes it, and judged by the server: constraint.lua.)

-- A batch with good and bad entries: the good ones are set, one store.
T.eq(steamworks.setUserStatValues({
  { statName = "NumGames", type = "int", value = 2.5 },       -- rounds to 3
  { statName = "NoSuchStat", type = "int", value = 1 },       -- skipped
  "not a table",                                               -- skipped
  { statName = "FeetTraveled", type = "float", value = 0.1 },  -- stored as f32
  { statName = "AverageSpeed", type = "averageRate", value = 100, sessionTimeLength = 10 },
  { statName = "NumWins", type = "int", value = 1.4 },        -- rounds to 1
}), true, "a batch with some good entries")
-- The cache holds the new values at once.
T.eq(steamworks.getUserStatValue({ statName = "NumGames", type = "int" }), 3, "int rounded")
T.eq(steamworks.getUserStatValue({ statName = "NumWins", type = "int" }), 1, "int rounded down")
local f = steamworks.getUserStatValue({ statName = "FeetTraveled", type = "float" })
T.check(f ~= 0.1 and math.abs(f - 0.1) < 1e-7, "float stored as f32: " .. tostring(f))
T.near(steamworks.getUserStatValue({ statName = "AverageSpeed", type = "averageRate" }), 10, 1e-4, "average rate")
rec.wait("userProgressUpdate", nil, "the batch's update")
T.eq(rec.names(), "userProgressSave,userProgressUpdate", "one store for the batch")
T.eq(rec.events[1].isError, false, "the batch was stored")
rec.clear()
-- A decrease of an increment-only stat is taken (as Steam's SetStat) and
-- refused by the server, which sends its value back.
T.eq(steamworks.setUserStatValues({ { statName = "NumGames", type = "int", value = 2 } }), true, "decrease of an increment-only stat")
rec.wait("userProgressUpdate", nil, "the refusal's update")
T.eq(rec.names(), "userProgressSave,userProgressUpdate", "refused, then the server's values")
T.eq(rec.events[1].resultCode, 8, "refused with 8")
T.eq(steamworks.getUserStatValue({ statName = "NumGames", type = "int" }), 3, "the server's value")
rec.clear()
-- Rounding half away from zero.
T.eq(steamworks.setUserStatValues({ { statName = "NumGames", type = "int", value = 4.5 } }), true, "4.5")
T.eq(steamworks.getUserStatValue({ statName = "NumGames", type = "int" }), 5, "4.5 rounds to 5")
rec.wait("userProgressUpdate", nil, "the store's update")
rec.clear()

-- ----- setAchievementUnlocked -----
for _, bad in ipairs({ { "nil" }, { "number", 1 }, { "table", {} }, { "unknown", "NO_SUCH" }, { "huge", string.rep("B", 300) } }) do
  T.eq(safe("setAchievementUnlocked(" .. bad[1] .. ")", steamworks.setAchievementUnlocked, bad[2]), false,
    "setAchievementUnlocked(" .. bad[1] .. ")")
end
T.eq(steamworks.setAchievementUnlocked("ACH_WIN_ONE_GAME"), true, "unlock")
local first = steamworks.getAchievementInfo("ACH_WIN_ONE_GAME")
T.eq(first.unlocked, true, "unlocked in the cache at once")
T.check(type(first.unlockTime) == "number" and math.abs(first.unlockTime - os.time()) < 120, "unlockTime is now")
rec.wait("userProgressUpdate", nil, "the unlock's update")
T.eq(rec.names(), "achievementInfoUpdate,userProgressSave,userProgressUpdate", "unlock events")
rec.clear()
-- The server's unlock time (the cache's own estimate until the answer).
local stored = steamworks.getAchievementInfo("ACH_WIN_ONE_GAME").unlockTime
T.check(math.abs(stored - first.unlockTime) <= 60, "the server's unlock time is close to the local one")
T.eq(steamworks.setAchievementUnlocked("ACH_WIN_ONE_GAME"), true, "unlock again: true")
T.eq(steamworks.getAchievementInfo("ACH_WIN_ONE_GAME").unlockTime, stored, "the first unlock time stays")
rec.wait("userProgressUpdate", nil, "the repeated unlock's answer")
T.eq(rec.count("achievementInfoUpdate"), 0, "nothing changed: no achievementInfoUpdate")
T.eq(rec.count("userProgressSave", function(e) return not e.isError end), 1, "the empty store is answered")
rec.clear()

-- ----- setAchievementProgress -----
for _, bad in ipairs({
  { "no arguments" }, { "no value", "ACH_WIN_100_GAMES" }, { "no max", "ACH_WIN_100_GAMES", 3 },
  { "string value", "ACH_WIN_100_GAMES", "3", 100 }, { "negative value", "ACH_WIN_100_GAMES", -1, 100 },
  { "NaN value", "ACH_WIN_100_GAMES", 0 / 0, 100 }, { "max 0", "ACH_WIN_100_GAMES", 0, 0 },
  { "huge max", "ACH_WIN_100_GAMES", 1, 1e12 }, { "unknown", "NO_SUCH", 1, 2 }, { "numeric name", 5, 1, 2 },
  { "already unlocked", "ACH_WIN_ONE_GAME", 1, 2 },
}) do
  T.eq(safe("setAchievementProgress(" .. bad[1] .. ")", steamworks.setAchievementProgress, bad[2], bad[3], bad[4]),
    false, "setAchievementProgress(" .. bad[1] .. ")")
end
T.eq(steamworks.setAchievementProgress("ACH_WIN_100_GAMES", 10, 100), true, "progress 10/100")
local progress = rec.wait("achievementInfoUpdate", nil, "the progress event")
T.eq(progress.achievementName, "ACH_WIN_100_GAMES", "progress event name")
T.eq(progress.currentProgress, 10, "currentProgress")
T.eq(progress.maxProgress, 100, "maxProgress")
T.eq(steamworks.getAchievementInfo("ACH_WIN_100_GAMES").unlocked, false, "not unlocked by progress")
rec.wait("userProgressUpdate", nil, "the progress store's update")
rec.clear()
T.eq(steamworks.setAchievementProgress("ACH_WIN_100_GAMES", 100.2, 100), true, "progress 100/100 unlocks")
T.eq(steamworks.getAchievementInfo("ACH_WIN_100_GAMES").unlocked, true, "unlocked")
local done = rec.wait("achievementInfoUpdate", nil, "the unlock event")
T.eq(done.currentProgress, nil, "no progress fields for an unlock")
T.eq(done.maxProgress, nil, "no maxProgress for an unlock")
rec.wait("userProgressUpdate", nil, "its update")
rec.clear()

-- ----- requestUserProgress -----
T.eq(steamworks.requestUserProgress(), true, "requestUserProgress()")
T.eq(steamworks.requestUserProgress(nil), true, "requestUserProgress(nil)")
T.eq(steamworks.requestUserProgress(me), true, "requestUserProgress(me)")
for _, bad in ipairs({ { "number", 76561197960287930 }, { "table", {} }, { "letters", "FRIEND_ID" }, { "zero", "0" },
  { "huge", string.rep("1", 5000) }, { "spaces", " 1" } }) do
  T.eq(safe("requestUserProgress(" .. bad[1] .. ")", steamworks.requestUserProgress, bad[2]), false,
    "requestUserProgress(" .. bad[1] .. ")")
end
T.pump_until(function() return rec.count("userProgressUpdate") >= 3 end, "three updates")
T.eq(rec.count("userProgressUpdate", function(e) return e.userSteamId == me and not e.isError end), 3, "three for me")
rec.clear()
T.eq(steamworks.requestUserProgress(other), true, "requestUserProgress(other)")
local theirs = rec.wait("userProgressUpdate", function(e) return e.userSteamId == other end, "the other user's update")
T.eq(theirs.isError, false, "the other user's progress is readable (public_progress)")
T.eq(steamworks.getAchievementInfo("ACH_WIN_ONE_GAME", other).unlocked, false, "the other user's achievement")
T.eq(steamworks.getUserStatValue({ statName = "NumGames", type = "int", userSteamId = other }), 0, "the other user's stat")
rec.clear()

-- ----- add/removeEventListener -----
local function listener() end
for _, bad in ipairs({
  { "nil name", nil, listener }, { "numeric name", 5, listener }, { "unknown event", "enterFrame", listener },
  { "nil listener", "userProgressSave" }, { "number listener", "userProgressSave", 5 },
  { "string listener", "userProgressSave", "f" }, { "table without the method", "userProgressSave", {} },
  { "table with a non-function method", "userProgressSave", { userProgressSave = 5 } },
  { "raising table", "userProgressSave", raising }, { "huge name", string.rep("e", 100000), listener },
}) do
  T.eq(safe("addEventListener(" .. bad[1] .. ")", steamworks.addEventListener, bad[2], bad[3]), false,
    "addEventListener(" .. bad[1] .. ")")
  T.eq(safe("removeEventListener(" .. bad[1] .. ")", steamworks.removeEventListener, bad[2], bad[3]), false,
    "removeEventListener(" .. bad[1] .. ")")
end
T.eq(steamworks.removeEventListener("userProgressSave", listener), false, "remove: never added")
T.eq(steamworks.addEventListener("userProgressSave", listener), true, "add")
T.eq(steamworks.addEventListener("userProgressSave", listener), true, "add twice: true (kept once)")
T.eq(steamworks.removeEventListener("userProgressSave", listener), true, "remove")
T.eq(steamworks.removeEventListener("userProgressSave", listener), false, "remove again: false (it was kept once)")
for _, name in ipairs({ "achievementImageUpdate", "microtransactionAuthorization", "overlayStatus", "userInfoUpdate" }) do
  T.eq(steamworks.addEventListener(name, listener), true, "addEventListener(" .. name .. ")")
  T.eq(steamworks.removeEventListener(name, listener), true, "removeEventListener(" .. name .. ")")
end

-- ----- getAchievementImageInfo: the demo schema has no icons -----
T.eq(steamworks.getAchievementImageInfo("ACH_WIN_ONE_GAME"), nil, "no icon configured")
for _, bad in ipairs({ { "nil" }, { "number", 5 }, { "unknown", "NO_SUCH" } }) do
  T.eq(safe("getAchievementImageInfo(" .. bad[1] .. ")", steamworks.getAchievementImageInfo, bad[2]), nil,
    "getAchievementImageInfo(" .. bad[1] .. ")")
end

-- ----- resetUserStats / resetUserProgress -----
T.eq(steamworks.resetUserStats(), true, "resetUserStats")
T.eq(steamworks.getUserStatValue({ statName = "NumGames", type = "int" }), 0, "stats reset at once")
T.eq(steamworks.getAchievementInfo("ACH_WIN_ONE_GAME").unlocked, true, "achievements kept")
rec.wait("userProgressSave", nil, "the reset's save")
T.eq(rec.events[1].isError, false, "reset stored")
rec.wait("userProgressUpdate", nil, "the reset's update")
rec.clear()
T.eq(steamworks.resetUserProgress(), true, "resetUserProgress")
T.eq(steamworks.getAchievementInfo("ACH_WIN_ONE_GAME").unlocked, false, "achievements locked at once")
T.eq(steamworks.getAchievementInfo("ACH_WIN_ONE_GAME").unlockTime, nil, "no unlockTime after a reset")
rec.wait("userProgressUpdate", nil, "the reset's update")
T.eq(rec.count("userProgressSave", function(e) return not e.isError end), 1, "reset stored")
rec.clear()

-- ----- not-supported functions: exist, return nil/false, never raise -----
local unsupported = {
  getUserImageInfo = nil, newImageRect = nil, newTexture = nil, getAuthSessionTicket = nil,
  getUserStorage = nil, readFile = nil,
}
local returns_false = { "setNotificationPosition", "showGameOverlay", "showStoreOverlay", "showUserOverlay",
  "showWebOverlay", "fileExists", "writeFile", "deleteFile" }
local returns_nil = { "getUserImageInfo", "newImageRect", "newTexture", "getAuthSessionTicket",
  "getUserStorage", "readFile" }
for _, name in ipairs(returns_false) do
  T.eq(type(steamworks[name]), "function", name .. " exists")
  T.eq(safe(name, steamworks[name], { leaderboardName = "x", value = 1, listener = print }), false, name .. " returns false")
  T.eq(safe(name, steamworks[name]), false, name .. "() returns false")
end
for _, name in ipairs(returns_nil) do
  T.eq(type(steamworks[name]), "function", name .. " exists")
  T.eq(safe(name, steamworks[name], me), nil, name .. " returns nil")
end
T.eq(unsupported.getUserImageInfo, nil, "(table of names)")
-- getUserInfo and requestActivePlayerCount are served: user_info.lua, player_count.lua;
-- the leaderboard functions: leaderboards.lua.

-- ----- init and update with odd arguments -----
T.eq(safe("init(5)", steamworks.init, 5), false, "init(5)")
T.eq(safe("init{appId={}}", steamworks.init, { appId = {} }), false, "init{appId={}}")
T.eq(safe("init{timeout=-1}", steamworks.init, { timeout = -1 }), false, "init{timeout=-1}")
T.eq(safe("init{token=, userSteamId=}", steamworks.init, { token = "x", userSteamId = me }), false, "both credentials")
T.eq(safe("init{userSteamId=bad}", steamworks.init, { userSteamId = "me" }), false, "init{userSteamId='me'}")
T.eq(safe("init{url=huge}", steamworks.init, { url = string.rep("h", 100000) }), false, "init{url=huge}")
T.eq(steamworks.isLoggedOn, true, "a failed init keeps the running client")
T.eq(steamworks.init(), true, "init() with the same configuration keeps the client")
T.eq(steamworks.init({ url = os.getenv("LAUREL_URL"), appId = 480 }), true, "init{} with the same values")
T.eq(steamworks.userSteamId, me, "still me")
safe("update('x')", steamworks.update, "x")
safe("update(-1)", steamworks.update, -1)
safe("update(0/0)", steamworks.update, 0 / 0)
safe("update({})", steamworks.update, {})
T.eq(#rec.events, 0, "no stray events")
T.done()
