-- Writes in the first frame, before any answer of the server (shipped games
-- re-unlock their completed levels' achievements as they load): taken at
-- once, journaled, and stored.
local T = require("testlib")
local steamworks = require("plugin.steamworks")
local rec = T.recorder({ "userProgressSave", "userProgressUpdate" })
T.eq(steamworks.setAchievementUnlocked("ACH_WIN_ONE_GAME"), true, "a first-frame unlock")
T.eq(steamworks.setUserStatValues({ { statName = "NumGames", type = "int", value = 4 } }), true,
  "a first-frame stat")
T.pump_until(function()
  return rec.count("userProgressSave", function(e) return not e.isError end) >= 2
end, "both stores answered", 30)
T.eq(rec.count("userProgressSave", function(e) return e.isError end), 0, "no refusal")
T.pump_until(function()
  return steamworks.getUserStatValue({ statName = "NumGames", type = "int" }) == 4
end, "the stat readable", 30)
T.eq(steamworks.getAchievementInfo("ACH_WIN_ONE_GAME").unlocked, true, "the unlock readable")
T.done()
