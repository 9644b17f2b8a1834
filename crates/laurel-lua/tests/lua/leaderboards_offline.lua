-- requestSetHighScore while the server is down: Laurel journals the upload
-- (the plugin's docs say high scores are not cached offline) and the event
-- comes when the server answers. A download offline is an error event.
local T = require("testlib")
local steamworks = require("plugin.steamworks")
T.wait_loaded()
T.eq(T.step("stop the server"), "stopped", "server stopped")
local set
T.eq(steamworks.requestSetHighScore({
  leaderboardName = "Feet Traveled", value = 77, listener = function(e) set = e end,
}), true, "queued offline")
local down
T.eq(steamworks.requestLeaderboardEntries({
  leaderboardName = "Feet Traveled", listener = function(e) down = e end,
}), true, "queued offline")
T.pump_until(function() return down ~= nil end, "the download's error event", 30)
T.eq(down.isError, true, "downloads are not cached")
T.eq(down.leaderboardHandle, "0", "handle 0 on error")
T.eq(#down.entries, 0, "no entries")
T.eq(set, nil, "the upload waits for the server")
T.eq(T.step("start the server"), "started", "server started")
T.pump_until(function() return set ~= nil end, "the upload's answer", 30)
T.eq(set.isError, false, "uploaded")
T.eq(set.scoreChanged, true, "a first entry")
T.eq(set.currentGlobalRank, 1, "rank 1")
T.eq(set.previousGlobalRank, nil, "no previous rank")
T.done()
