-- requestActivePlayerCount: the answer goes to the call's listener only, as
-- an activePlayerCount event whose count leaves out the current user.
local T = require("testlib")
local steamworks = require("plugin.steamworks")
T.wait_loaded()
local want = tonumber(os.getenv("EXPECT_COUNT"))
T.eq(steamworks.requestActivePlayerCount(), false, "no listener")
T.eq(steamworks.requestActivePlayerCount("f"), false, "a string listener")
local got
T.eq(steamworks.requestActivePlayerCount(function(e) got = e end), true, "queued")
T.pump_until(function() return got ~= nil end, "the activePlayerCount event", 30)
T.eq(got.name, "activePlayerCount", "name")
T.eq(got.isError, false, "isError")
T.eq(got.count, want, "the others playing")
T.done()
