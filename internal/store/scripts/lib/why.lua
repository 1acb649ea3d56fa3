-- why (lib/why.lua, put in front of the scripts that end sessions): keeps
-- why session nano ended, one byte under opBase .. 'why:' .. nano
-- (keys.go), so that Verify's "not found" can say it: 'n' a newer login
-- (single mode), 'c' the session cap, 'r' refresh token reuse, 'v' Revoke,
-- 'a' RevokeAll, 'o' RevokeOthers, 'e' replaced by Reissue. Call it before
-- the session's key is deleted: the reason lives as long as the session
-- would have (its key's PTTL, which no token of it outlives but by the
-- leeway), at most an hour; a session whose key is gone gets none. 104
-- bytes by MEMORY USAGE, about 175 of used_memory with its expiry, per
-- ended session for that time.
local function why(opBase, nano, code, key)
  local left = redis.call('PTTL', key)
  if left == -2 then
    return
  end
  if left < 0 or left > 3600000 then
    left = 3600000
  end
  -- a string, not a Lua number: lib/now.lua says why (this library comes
  -- before it)
  redis.call('SET', opBase .. 'why:' .. nano, code, 'PX', string.format('%d', left + 1000))
end
