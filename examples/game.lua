-- A small game written for Solar2D's plugin.steamworks, run against Laurel
-- with plain LuaJIT or Lua 5.1 (README, "Quick start in Lua"):
--
--   LAUREL_URL=http://127.0.0.1:8080 LAUREL_APP_ID=480 \
--   LAUREL_USER_ID=76561197960287930 luajit examples/game.lua
--
-- It unlocks an achievement and counts a game in its first frame (before the
-- server answered anything, as shipped games do when they load), reads
-- another player's progress, asks how many others play, and quits once every
-- answer arrived. It prints one line per event, and exits with 0 when the
-- save succeeded. Set LAUREL_FRIEND_ID to read another user than the default.

local steamworks = require("plugin.steamworks")

local friend = os.getenv("LAUREL_FRIEND_ID") or "76561197960287931"
local saved, friendRead, counted = false, false, false

-- The seed's listeners (the plugin's reference pages), unchanged in spirit.
local function onUserProgressUpdated(event)
  if event.isError then
    print("progress of " .. event.userSteamId .. " not received: resultCode " .. event.resultCode)
    if event.userSteamId == friend then friendRead = true end
    return
  end
  if event.userSteamId == steamworks.userSteamId then
    local games = steamworks.getUserStatValue({ statName = "NumGames", type = "int" })
    print(steamworks.getUserInfo().name .. "'s progress: NumGames = " .. tostring(games))
  else
    local info = steamworks.getAchievementInfo("ACH_WIN_ONE_GAME", event.userSteamId)
    print("friend " .. event.userSteamId .. ": ACH_WIN_ONE_GAME unlocked = " .. tostring(info and info.unlocked))
    friendRead = true
  end
end
steamworks.addEventListener("userProgressUpdate", onUserProgressUpdated)

local function onUserProgressSaved(event)
  if event.isError then
    print("save failed: resultCode " .. event.resultCode)
    for _, d in ipairs(event.details or {}) do
      print("  " .. d.name .. ": " .. d.rule .. " (" .. d.message .. ")")
    end
  else
    print("saved")
    saved = true
  end
end
steamworks.addEventListener("userProgressSave", onUserProgressSaved)

steamworks.addEventListener("achievementInfoUpdate", function(event)
  print("achievement " .. event.achievementName .. " updated")
end)

-- First frame: no answer from the server yet, and none needed.
steamworks.setAchievementUnlocked("ACH_WIN_ONE_GAME")
local games = steamworks.getUserStatValue({ statName = "NumGames", type = "int" }) or 0
steamworks.setUserStatValues({ { statName = "NumGames", type = "int", value = games + 1 } })
steamworks.requestUserProgress(friend)
steamworks.requestActivePlayerCount(function(event)
  if event.isError then
    print("player count not received")
  else
    print("others playing now: " .. event.count)
  end
  counted = true
end)

-- The frame loop: steamworks.update() delivers events (Solar2D calls it
-- from enterFrame). Bounded: a game that cannot reach the server gives up.
local started = os.time()
while not (saved and friendRead and counted) and os.time() - started < 30 do
  steamworks.update(0.05)
end
print(saved and "done" or "not saved (is the server running?)")
os.exit(saved and 0 or 1)
