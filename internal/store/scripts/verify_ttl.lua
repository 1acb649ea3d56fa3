#!lua flags=no-writes
-- verify_ttl: verify.lua's liveness rule, plus what a local cache needs to
-- remember a live session: its data and how long it has left.
-- KEYS[1] index   KEYS[2] session
-- ARGV[1] nanoid
-- Returns {0} when the session is not live (no index entry, or no hash:
-- exactly verify.lua's rule), else {1, data or false, ms left}, where ms left
-- is the smaller of the two keys' PTTLs (-1: neither expires), and for a
-- session with an idle timeout (field "i") the time until seen.lua would
-- extend it (0: due now; the caller then runs seen.lua, which extends). Data is false
-- when the hash has no data field (verify.lua WithSession calls that "not
-- live"). Keep this rule in step with verify.lua: store's tests check that
-- both agree.
--
-- Read-only. Run on a connection with CLIENT TRACKING on, it makes Redis
-- track both keys for that connection: every later change to either key
-- (write, delete, expiry, eviction) sends an invalidation.
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return {0}
end
local left = redis.call('PTTL', KEYS[2])
if left == -2 then
  return {0}
end
local ileft = redis.call('PTTL', KEYS[1])
if ileft >= 0 and (left < 0 or ileft < left) then
  left = ileft
end
local h = redis.call('HMGET', KEYS[2], 'd', 'i', 'x')
if h[2] and left >= 0 then
  local idle = tonumber(h[2])
  local now = now_ms()
  local stop = now + idle
  if h[3] and tonumber(h[3]) < stop then
    stop = tonumber(h[3])
  end
  if stop - now > left then -- an extension is possible: due at half the window
    left = left - math.floor(idle / 2)
    if left < 0 then
      left = 0
    end
  end
end
return {1, h[1], left}
