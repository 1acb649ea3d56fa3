-- tomb (lib/tomb.lua, put in front of the scripts that end sessions: sign,
-- revoke, revoke_all, refresh): marks a session ended inside its Sign's
-- write window, so that a repeated run of that Sign (a retry after a lost
-- reply, a copy still in a network queue) does not recreate it.
-- key   the tombstone: base .. 'op:' .. nanoid (keys.go), what sign.lua's
--       first EXISTS finds
-- c, w  the hash's "c" (created, Unix ms) and "w" (the window's end, whole
--       seconds after "c"), as HMGET returns them: a hash without them (an
--       older layout, whose Sign kept its answer key for its whole window)
--       gets no tombstone
-- now   Redis's time, Unix ms, or nil: then TIME is asked here, only when
--       there is a window to compare with
-- Returns now (as given, or asked) for the caller's next call. NX: an
-- answer key already there says the same, with the first run's answer. The
-- tombstone lives until the window ends, never shorter.
local function tomb(key, c, w, now)
  c, w = tonumber(c), tonumber(w)
  if not (c and w) then
    return now
  end
  if not now then
    now = now_ms()
  end
  local left = c + w * 1000 - now
  if left > 0 then
    redis.call('SET', key, '0', 'PX', int(left), 'NX') -- int: lib/now.lua
  end
  return now
end
