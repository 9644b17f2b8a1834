-- The next run sends the upload the killed run journaled (no listener
-- waits for it): it shows on the board.
local T = require("testlib")
local steamworks = require("plugin.steamworks")
T.wait_loaded()
local found, tries = false, 0
while not found do
  tries = tries + 1
  T.check(tries < 500, "the journaled score never showed")
  local page
  T.eq(steamworks.requestLeaderboardEntries({
    leaderboardName = "Quickest Win", listener = function(e) page = e end,
  }), true, "queued")
  T.pump_until(function() return page ~= nil end, "the board's entries", 30)
  T.eq(page.isError, false, "entries")
  for _, e in ipairs(page.entries) do
    if e.userSteamId == steamworks.userSteamId then
      T.eq(e.score, 12, "the journaled score")
      T.eq(e.globalRank, 1, "rank 1")
      found = true
    end
  end
end
T.done()
