#!lua flags=allow-oom
-- seen: Verify's check of a session, which also records the use: is the
-- session live, what is its private data, and how long may the answer be
-- reused without asking Redis again?
-- KEYS[1] index   KEYS[2] session
-- ARGV[1] nanoid
-- ARGV[2] '1' to return the data
-- ARGV[3] how stale the last use ("s") may get before it is written, ms
-- Returns {0} when the session is not live (no index entry, or no hash:
-- either one evicted or expired is enough), else {1, ms fresh, data} (data
-- '' unless asked for). "Fresh" is how long the session surely stays live
-- without another Verify reaching Redis: until its key expires or, with an
-- idle timeout, until it is due for extension.
--
-- Idle timeout: a session with field "i" (ms) has a key that expires when
-- it goes unused for that long. When less than half of "i" is left, this
-- extends the key to min(now + i, "x"), "x" being the session's absolute
-- end (its refresh token's, else its token's expiry): so a session in use
-- writes at most once per half window, and never outlives its tokens. The
-- index score follows the key's expiry.
--
-- Writes only what does not grow memory (a time replaced by a time, a TTL,
-- a score), so it carries allow-oom: sessions in use keep being extended
-- while Redis is out of memory. On a server that cannot read the flags line
-- (Redis 6, miniredis) an out-of-memory Redis refuses the HSET, and the
-- caller falls back to the read-only verify script, as it does on a
-- read-only replica. Running it twice is running it once. Times are Redis's.
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return {0}
end
local h = redis.call('HMGET', KEYS[2], 'd', 's', 'i', 'x', 'c')
if not h[1] then
  return {0}
end
local now = now_ms()
local left = redis.call('PTTL', KEYS[2])
if not (h[2] or h[5]) or now - tonumber(h[2] or h[5]) >= tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[2], 's', now)
end
local fresh = left
if h[3] and left >= 0 then
  local idle = tonumber(h[3])
  local stop = now + idle
  if h[4] and tonumber(h[4]) < stop then
    stop = tonumber(h[4])
  end
  if left < idle / 2 and stop - now > left then
    redis.call('PEXPIRE', KEYS[2], stop - now)
    redis.call('ZADD', KEYS[1], stop, ARGV[1])
    left = stop - now
  end
  fresh = left
  if stop - now > left then
    fresh = left - math.floor(idle / 2) -- until the next extension is due
  end
end
if fresh < 0 then
  fresh = 0
end
if ARGV[2] == '1' then
  return {1, fresh, h[1]}
end
return {1, fresh, ''}
