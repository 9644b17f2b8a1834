-- requestLeaderboardInfo, requestLeaderboardEntries, requestSetHighScore as
-- the plugin has them: argument rules, defaults, edges, error events, events
-- only to the call's listener, ties, and a board of a few thousand entries
-- paged through. The harness seeded (through a server key):
-- - "Feet Traveled" (descending): TEST_BOARD_COUNT users, id(i) for
--   i = 0..N-1, score floor(i / 3), the three of a score uploaded in order
--   of i (so among equal scores the smaller i ranks first);
-- - "Quickest Win" (ascending): TEST_OTHER_USER with 30;
-- - the current user's friends list: id(0), id(3), id(N-1).
local T = require("testlib")
local steamworks = require("plugin.steamworks")
T.wait_loaded()

local N = tonumber(os.getenv("TEST_BOARD_COUNT"))
local PREFIX = os.getenv("TEST_ID_PREFIX")
local OTHER = os.getenv("TEST_OTHER_USER")
local ME = steamworks.userSteamId
local function id(i) return PREFIX .. string.format("%05d", i) end
local TOP = math.floor((N - 1) / 3)

-- rank r (1-based) of the seeded board: user index and score.
local function seeded_at(r)
  local k = r - 1
  local s = TOP - math.floor(k / 3)
  return 3 * s + k % 3, s
end

-- Listeners added for the leaderboard events never see them.
local global = T.recorder({ "leaderboardInfo", "leaderboardEntries", "setHighScore" })

local function keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return table.concat(out, ",")
end

-- One call, waited for: its listener's single event (a copy).
local function call(fn, params)
  local got, count = nil, 0
  params.listener = function(e)
    count = count + 1
    got = {}
    for k, v in pairs(e) do got[k] = v end
  end
  T.eq(fn(params), true, "queued")
  T.pump_until(function() return got ~= nil end, "the call's event", 30)
  steamworks.update()
  T.eq(count, 1, "one event per call")
  return got
end

-- ----- bad arguments: false, logged, the listener never called -----
local called = false
local function never() called = true end
local bad = {
  { steamworks.requestLeaderboardInfo, nil },
  { steamworks.requestLeaderboardInfo, "Feet Traveled" },
  { steamworks.requestLeaderboardInfo, { listener = never } },
  { steamworks.requestLeaderboardInfo, { leaderboardName = "", listener = never } },
  { steamworks.requestLeaderboardInfo, { leaderboardName = 5, listener = never } },
  { steamworks.requestLeaderboardInfo, { leaderboardName = string.rep("x", 129), listener = never } },
  { steamworks.requestLeaderboardInfo, { leaderboardName = "a\1b", listener = never } },
  { steamworks.requestLeaderboardInfo, { leaderboardName = "Feet Traveled" } },
  { steamworks.requestLeaderboardInfo, { leaderboardName = "Feet Traveled", listener = "never" } },
  { steamworks.requestLeaderboardEntries, { leaderboardName = "Feet Traveled", playerScope = 5, listener = never } },
  { steamworks.requestLeaderboardEntries, { leaderboardName = "Feet Traveled", playerScope = "Everyone", listener = never } },
  { steamworks.requestLeaderboardEntries, { leaderboardName = "Feet Traveled", startIndex = 1, listener = never } },
  { steamworks.requestLeaderboardEntries, { leaderboardName = "Feet Traveled", endIndex = 5, listener = never } },
  { steamworks.requestLeaderboardEntries, { leaderboardName = "Feet Traveled", playerScope = "GlobalAroundUser", startIndex = -1, listener = never } },
  { steamworks.requestLeaderboardEntries, { leaderboardName = "Feet Traveled", startIndex = "1", endIndex = 5, listener = never } },
  { steamworks.requestLeaderboardEntries, { leaderboardName = "Feet Traveled", startIndex = 1, endIndex = 0 / 0, listener = never } },
  { steamworks.requestLeaderboardEntries, { leaderboardName = "Feet Traveled", startIndex = 1, endIndex = 1e300, listener = never } },
  { steamworks.requestLeaderboardEntries, { leaderboardName = "Feet Traveled" } },
  { steamworks.requestLeaderboardEntries, { playerScope = "Global", listener = never } },
  { steamworks.requestSetHighScore, { leaderboardName = "Feet Traveled", listener = never } },
  { steamworks.requestSetHighScore, { leaderboardName = "Feet Traveled", value = "10", listener = never } },
  { steamworks.requestSetHighScore, { leaderboardName = "Feet Traveled", value = 1 / 0, listener = never } },
  { steamworks.requestSetHighScore, { leaderboardName = "Feet Traveled", value = 2 ^ 31, listener = never } },
  { steamworks.requestSetHighScore, { leaderboardName = "Feet Traveled", value = 10 } },
  { steamworks.requestSetHighScore, { value = 10, listener = never } },
}
for i, case in ipairs(bad) do
  T.eq(case[1](case[2]), false, "bad call #" .. i)
end

-- ----- requestLeaderboardInfo -----
local info = call(steamworks.requestLeaderboardInfo, { leaderboardName = "feet TRAVELED" })
T.eq(keys(info), "displayType,entryCount,isError,leaderboardHandle,leaderboardName,name,sortMethod", "info fields")
T.eq(info.name, "leaderboardInfo", "name")
T.eq(info.isError, false, "isError")
T.eq(info.leaderboardName, "feet TRAVELED", "the name as asked")
T.check(type(info.leaderboardHandle) == "string" and info.leaderboardHandle:match("^[1-9][0-9]*$"), "a decimal handle")
T.eq(info.entryCount, N, "entryCount")
T.eq(info.sortMethod, "descending", "sortMethod")
T.eq(info.displayType, "numeric", "displayType")
local feet = info.leaderboardHandle
local quick = call(steamworks.requestLeaderboardInfo, { leaderboardName = "Quickest Win" })
T.eq(quick.sortMethod, "ascending", "Quickest Win sortMethod")
T.eq(quick.displayType, "seconds", "Quickest Win displayType")
T.eq(quick.entryCount, 1, "Quickest Win entryCount")

-- Unknown boards: error events; requestLeaderboardInfo never creates.
local none = call(steamworks.requestLeaderboardInfo, { leaderboardName = "No Such Board" })
T.eq(keys(none), "isError,leaderboardName,name", "error info fields")
T.eq(none.isError, true, "unknown board")
T.eq(none.leaderboardName, "No Such Board", "its name")
none = call(steamworks.requestLeaderboardEntries, { leaderboardName = "No Such Board" })
T.eq(keys(none), "entries,isError,leaderboardHandle,leaderboardName,name", "error entries fields")
T.eq(none.name, "leaderboardEntries", "name")
T.eq(none.isError, true, "unknown board entries")
T.eq(none.leaderboardHandle, "0", "handle 0 on error")
T.eq(#none.entries, 0, "no entries")
none = call(steamworks.requestSetHighScore, { leaderboardName = "No Such Board", value = 1 })
T.eq(keys(none), "isError,leaderboardHandle,leaderboardName,name,scoreChanged", "error setHighScore fields")
T.eq(none.name, "setHighScore", "name")
T.eq(none.isError, true, "unknown board upload")
T.eq(none.leaderboardHandle, "0", "handle 0 on error")
T.eq(none.scoreChanged, false, "nothing changed")
T.eq(call(steamworks.requestLeaderboardInfo, { leaderboardName = "No Such Board" }).isError, true, "still none")

-- ----- requestLeaderboardEntries: the big board paged through -----
local function entries(params)
  params.leaderboardName = params.leaderboardName or "Feet Traveled"
  local e = call(steamworks.requestLeaderboardEntries, params)
  T.eq(e.isError, false, "entries isError")
  T.eq(keys(e), "entries,isError,leaderboardHandle,leaderboardName,name", "entries fields")
  return e
end
local function check_seeded(list, first_rank, what)
  for k, entry in ipairs(list) do
    local r = first_rank + k - 1
    local i, s = seeded_at(r)
    T.eq(keys(entry), "globalRank,score,userSteamId", what .. ": entry fields")
    T.eq(entry.globalRank, r, what .. ": rank")
    T.eq(entry.userSteamId, id(i), what .. ": user at rank " .. r)
    T.eq(entry.score, s, what .. ": score at rank " .. r)
  end
end

-- Defaults: Global 1..25.
local page = entries({})
T.eq(page.leaderboardHandle, feet, "the handle")
T.eq(#page.entries, 25, "25 by default")
check_seeded(page.entries, 1, "default page")
T.eq(#entries({ playerScope = "gLoBaL" }).entries, 25, "scope in any case")

local seen, start = 0, 1
while true do
  local e = entries({ startIndex = start, endIndex = start + 199 }).entries
  if #e == 0 then break end
  check_seeded(e, start, "page at " .. start)
  seen = seen + #e
  start = start + 200
end
T.eq(seen, N, "every entry once")
-- Edges: a start below 1 is 1, an end below the start is the start, past the end is empty.
local one = entries({ startIndex = 0, endIndex = -5 }).entries
T.eq(#one, 1, "one entry")
T.eq(one[1].globalRank, 1, "from rank 1")
local last = entries({ startIndex = N - 1, endIndex = N + 50 }).entries
T.eq(#last, 2, "what exists")
check_seeded(last, N - 1, "last page")
T.eq(#entries({ startIndex = N + 1, endIndex = N + 9 }).entries, 0, "beyond the end")
T.eq(#entries({ startIndex = 2.9, endIndex = 3.9 }).entries, 2, "indexes truncated (2..3)")

-- Around a user without an entry: empty.
T.eq(#entries({ playerScope = "GlobalAroundUser" }).entries, 0, "no entry, nothing around")

-- ----- requestSetHighScore: KeepBest, ranks only when changed -----
local mid = math.floor(TOP / 2)
local set = call(steamworks.requestSetHighScore, { leaderboardName = "Feet Traveled", value = mid })
T.eq(keys(set), "currentGlobalRank,isError,leaderboardHandle,leaderboardName,name,scoreChanged", "first entry fields")
T.eq(set.isError, false, "set")
T.eq(set.leaderboardHandle, feet, "handle")
T.eq(set.leaderboardName, "Feet Traveled", "name")
T.eq(set.scoreChanged, true, "a first entry")
-- A tie: the three seeded with this score achieved it first.
local my_rank = (TOP - mid) * 3 + 4
T.eq(set.currentGlobalRank, my_rank, "after those who had the score first")
T.eq(set.previousGlobalRank, nil, "no previous rank on a first entry")
set = call(steamworks.requestSetHighScore, { leaderboardName = "Feet Traveled", value = mid })
T.eq(keys(set), "isError,leaderboardHandle,leaderboardName,name,scoreChanged", "unchanged fields")
T.eq(set.scoreChanged, false, "an equal score changes nothing")
T.eq(call(steamworks.requestSetHighScore, { leaderboardName = "Feet Traveled", value = 0 }).scoreChanged, false, "worse")

-- Around the user: -12..12 by default, the user in the middle.
local around = entries({ playerScope = "GLOBALAROUNDUSER" }).entries
T.eq(#around, 25, "25 around")
T.eq(around[13].userSteamId, ME, "the user in the middle")
T.eq(around[13].globalRank, my_rank, "at their rank")
T.eq(around[13].score, mid, "with their score")
for k, entry in ipairs(around) do
  T.eq(entry.globalRank, my_rank - 13 + k, "consecutive ranks")
end
local near = entries({ playerScope = "GlobalAroundUser", startIndex = -1, endIndex = 2 }).entries
T.eq(#near, 4, "-1..2")
T.eq(near[2].userSteamId, ME, "the user second")
local backwards = entries({ playerScope = "GlobalAroundUser", startIndex = 3, endIndex = -3 }).entries
T.eq(#backwards, 1, "an end below the start is the start")
T.eq(backwards[1].globalRank, my_rank + 3, "3 below")

-- Friends: the list the game's backend set, and the user; indexes ignored.
local friends = entries({ playerScope = "friendsonly", startIndex = "ignored" }).entries
local want = { id(N - 1), ME, id(3), id(0) }
T.eq(#friends, #want, "friends and the user")
for k, entry in ipairs(friends) do
  T.eq(entry.userSteamId, want[k], "friend #" .. k)
end

-- Listed users: getUserInfo answers at once, and userInfoUpdate follows.
local infos = T.recorder({ "userInfoUpdate" })
for _, entry in ipairs(friends) do
  local u = steamworks.getUserInfo(entry.userSteamId)
  T.check(u ~= nil, "getUserInfo answers for " .. entry.userSteamId)
  T.eq(type(u.name), "string", "a name")
end
for _, who in ipairs({ id(N - 1), id(3), id(0) }) do
  infos.wait("userInfoUpdate", function(e) return e.userSteamId == who end, "userInfoUpdate for " .. who)
end

-- A better score: both ranks.
local better = call(steamworks.requestSetHighScore, { leaderboardName = "Feet Traveled", value = TOP + 1 })
T.eq(better.scoreChanged, true, "better")
T.eq(better.currentGlobalRank, 1, "the top")
T.eq(better.previousGlobalRank, my_rank, "where it was")

-- Ties on an ascending board: the score achieved first ranks first.
set = call(steamworks.requestSetHighScore, { leaderboardName = "quickest win", value = 30 })
T.eq(set.currentGlobalRank, 2, "the same time, later")
T.eq(set.previousGlobalRank, nil, "first entry")
T.eq(call(steamworks.requestSetHighScore, { leaderboardName = "Quickest Win", value = 31 }).scoreChanged, false, "slower")
set = call(steamworks.requestSetHighScore, { leaderboardName = "Quickest Win", value = 29.4 })
T.eq(set.scoreChanged, true, "faster (29.4 rounds to 29)")
T.eq(set.currentGlobalRank, 1, "first")
T.eq(set.previousGlobalRank, 2, "was second")
local top = entries({ leaderboardName = "Quickest Win" }).entries
T.eq(#top, 2, "two entries")
T.eq(top[1].userSteamId, ME, "fastest first")
T.eq(top[1].score, 29, "29")
T.eq(top[2].userSteamId, OTHER, "then the other")

-- A listener called by update() may call again.
local again
local ok = steamworks.requestLeaderboardInfo({
  leaderboardName = "Feet Traveled",
  listener = function()
    steamworks.requestLeaderboardInfo({ leaderboardName = "Quickest Win", listener = function(e) again = e end })
  end,
})
T.eq(ok, true, "queued")
T.pump_until(function() return again ~= nil end, "the nested call's event")
T.eq(again.leaderboardName, "Quickest Win", "nested answer")

steamworks.update()
T.eq(called, false, "no listener of a refused call was called")
T.eq(#global.events, 0, "addEventListener listeners never see leaderboard events: " .. global.names())
T.done()
