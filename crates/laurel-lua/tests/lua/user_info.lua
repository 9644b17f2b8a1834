-- getUserInfo: the current user's at once; another user's is asked for by
-- the first call that returns nil and announced by userInfoUpdate (the
-- plugin's own example, on its UserInfo.relationship page).
local T = require("testlib")
local steamworks = require("plugin.steamworks")
local friend = os.getenv("FRIEND_ID")
local rec = T.recorder({ "userInfoUpdate" })
T.wait_loaded()
local me = steamworks.getUserInfo()
T.eq(me.name, os.getenv("EXPECT_MY_NAME"), "my name")
T.eq(me.nickname, "", "no nickname")
T.eq(me.steamLevel, 0, "steamLevel")
T.eq(me.status, "online", "status")
T.eq(me.relationship, "none", "relationship with myself")
T.eq(steamworks.getUserInfo(steamworks.userSteamId).name, me.name, "my id is me")
T.eq(steamworks.getUserInfo("not an id"), nil, "a bad id")
T.eq(steamworks.getUserInfo({}), nil, "a table")

-- The friend's progress first, as a game showing a friend's achievements does.
local progress = T.recorder({ "userProgressUpdate" })
T.eq(steamworks.requestUserProgress(friend), true, "request the friend's progress")
progress.wait("userProgressUpdate", function(e) return e.userSteamId == friend end, "the friend's progress")

local seen
local function fetchFriendInfo()
  local info = steamworks.getUserInfo(friend)
  if info then seen = info end
end
fetchFriendInfo()
T.eq(seen, nil, "not there before it was asked for")
fetchFriendInfo() -- asking again while it comes is one request
steamworks.addEventListener("userInfoUpdate", function(event)
  if event.userSteamId == friend then fetchFriendInfo() end
end)
local e = rec.wait("userInfoUpdate", nil, "the friend's info")
T.eq(e.userSteamId, friend, "for the friend")
T.eq(e.nameChanged, true, "nameChanged")
T.eq(e.steamLevelChanged, false, "steamLevelChanged")
T.check(seen ~= nil, "the listener read it")
T.eq(seen.name, os.getenv("EXPECT_FRIEND_NAME"), "the friend's name")
T.eq(seen.status, "unknown", "another user's status")
T.eq(seen.relationship, "none", "no friends lists in Laurel")
T.eq(rec.count("userInfoUpdate"), 1, "one update")
T.done()
