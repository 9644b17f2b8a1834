-- A store the server refuses: another device of the same user raised the
-- increment-only NumGames on the server; this client, not knowing it,
-- sets a lower value. userProgressSave comes with isError = true and
-- resultCode = 8 (Steam's InvalidParam), the cache holds the server's values, and
-- the following userProgressUpdate brings the server's value.
local T = require("testlib")
local steamworks = require("plugin.steamworks")
local rec = T.recorder({ "userProgressSave", "userProgressUpdate" })
local function num_games()
  return steamworks.getUserStatValue({ statName = "NumGames", type = "int" })
end
T.wait_loaded()
T.eq(steamworks.setUserStatValues({ { statName = "NumGames", type = "int", value = 5 } }), true, "NumGames = 5")
rec.wait("userProgressUpdate", function(e) return rec.count("userProgressSave") >= 1 end, "the first store")
T.eq(rec.find("userProgressSave").isError, false, "stored")
rec.clear()

T.eq(T.step("raise NumGames to 10 on the server"), "raised", "the harness raised NumGames")

local at_save
steamworks.addEventListener("userProgressSave", function(e)
  if e.isError then at_save = num_games() end
end)
T.eq(steamworks.setUserStatValues({ { statName = "NumGames", type = "int", value = 7 } }), true,
  "NumGames = 7 is valid locally")
T.eq(num_games(), 7, "the cache shows 7 until the answer")
local save = rec.wait("userProgressSave", nil, "the refused store's answer")
T.eq(save.isError, true, "isError")
T.eq(save.resultCode, 8, "resultCode 8 (InvalidParam) for a broken constraint")
T.eq(save.userSteamId, steamworks.userSteamId, "for me")
T.eq(type(save.details), "table", "the server's reasons come with the save")
T.eq(save.details[1].name, "NumGames", "details name the stat")
T.eq(save.details[1].rule, "decrease_of_increment_only", "and the rule it broke")
T.check(type(save.details[1].message) == "string" and #save.details[1].message > 0, "and say why")
-- Reverted to the server's values: the last snapshot (5), or already the
-- re-fetched one (10) if that arrived before this update() call.
T.check(at_save == 5 or at_save == 10,
  "the cache is reverted when the refusal is delivered: got " .. tostring(at_save))
local update = rec.wait("userProgressUpdate", nil, "the update after the refusal")
T.eq(update.isError, false, "re-fetched")
T.eq(num_games(), 10, "the server's value")
rec.clear()

-- The seed's example of a failed save: setUserStatValues with a value that
-- breaks a constraint returns true (as Steam's SetStat does); the server
-- refuses the store with 8 and says which rule, and the cache goes back.
T.eq(steamworks.setUserStatValues({ { statName = "NumGames", type = "int", value = -5 } }), true,
  "a value below min is taken")
T.eq(num_games(), -5, "the cache shows it until the answer")
save = rec.wait("userProgressSave", nil, "the refusal of a value below min")
T.eq(save.isError, true, "isError")
T.eq(save.resultCode, 8, "resultCode 8")
local rules = {}
for _, d in ipairs(save.details) do rules[d.name .. ":" .. d.rule] = true end
T.check(rules["NumGames:below_min"], "details name NumGames and below_min")
rec.wait("userProgressUpdate", nil, "the update after the refusal")
T.eq(num_games(), 10, "back to the server's value")
T.done()
