-- An upload made offline, then the game dies before the server is back.
local T = require("testlib")
local steamworks = require("plugin.steamworks")
T.wait_loaded()
T.eq(T.step("stop the server"), "stopped", "server stopped")
T.eq(steamworks.requestSetHighScore({
  leaderboardName = "Quickest Win", value = 12, listener = function() error("answered while offline") end,
}), true, "queued offline")
steamworks.update(0.2)
T.step("kill me")
error("the harness should have killed this process")
