#!lua
-- touch: extend a live session to at least ttl from now, never shorten it,
-- and never past its absolute end ("x", its tokens' expiry) when it has one.
-- A session with "c" but no "x" (no idle timeout) ends with its key: its
-- expiry is already its absolute end, and nothing is extended.
-- KEYS[1] index   KEYS[2] session
-- ARGV[1] nanoid   ARGV[2] ttl ms
-- Returns 1, or 0 when the session is not live. Running it twice is running
-- it once. Times are Redis's.
local ttl = tonumber(ARGV[2])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
local left = redis.call('PTTL', KEYS[2])
if left == -2 then
  return 0
end
local now = now_ms()
local h = redis.call('HMGET', KEYS[2], 'x', 'c')
local x = h[1]
if not x and h[2] then
  return 1 -- no "x" but a "c": the key's expiry is the session's end
end
if x and tonumber(x) - now < ttl then
  ttl = tonumber(x) - now
end
if left >= 0 and left < ttl then
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
  if redis.call('PTTL', KEYS[1]) < ttl then
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
end
return 1
