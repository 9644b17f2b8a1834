-- A first launch with the server unreachable and nothing kept from an
-- earlier run: the player is logged on, writes are taken and journaled
-- (each reported with resultCode 3), and the game quits normally.
local T = require("testlib")
local steamworks = require("plugin.steamworks")
local rec = T.recorder({ "userProgressSave", "userProgressUpdate" })
T.eq(steamworks.isLoggedOn, true, "logged on while offline")
T.eq(steamworks.setAchievementUnlocked("ACH_WIN_100_GAMES"), true, "unlock with no network")
T.eq(steamworks.setUserStatValues({ { statName = "NumWins", type = "int", value = 2 } }), true,
  "a stat with no network")
T.pump_until(function() return rec.count("userProgressSave") >= 2 end, "both offline reports", 30)
T.eq(rec.count("userProgressSave", function(e) return e.isError and e.resultCode == 3 end), 2,
  "both with resultCode 3")
T.done()
