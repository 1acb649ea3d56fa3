-- why (lib/why.lua, put in front of the scripts that end sessions): keeps
-- for an hour why session nano ended, one byte under opBase .. 'why:' ..
-- nano (keys.go), so that Verify's "not found" can say it: 'n' a newer
-- login (single mode), 'c' the session cap, 'r' refresh token reuse, 'v'
-- Revoke, 'a' RevokeAll, 'o' RevokeOthers, 'e' replaced by Reissue. About
-- 90 bytes of Redis memory per ended session, for an hour at most.
local function why(opBase, nano, code)
  redis.call('SET', opBase .. 'why:' .. nano, code, 'PX', 3600000)
end
