-- The next launch, with the server up: the journal of the offline run is
-- sent first, each store answered by a successful userProgressSave.
local T = require("testlib")
local steamworks = require("plugin.steamworks")
local rec = T.recorder({ "userProgressSave", "userProgressUpdate" })
T.pump_until(function()
  return rec.count("userProgressSave", function(e) return not e.isError end) >= 2
    and steamworks.getUserStatValue({ statName = "NumWins", type = "int" }) == 2
end, "the offline run's stores", 30)
T.eq(steamworks.getAchievementInfo("ACH_WIN_100_GAMES").unlocked, true, "the offline unlock")
T.done()
