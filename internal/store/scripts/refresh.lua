#!lua
-- refresh: rotate a session's refresh token.
-- KEYS[1] index   KEYS[2] session
-- KEYS[3] the session's Sign tombstone (base .. 'op:' .. nanoid)
-- ARGV[1] nanoid
-- ARGV[2] the presented refresh id
-- ARGV[3] its successor (chosen by the client before the call)
-- ARGV[4] refresh TTL, ms (the session's life slides by it)
-- ARGV[6] not after: Unix ms (the caller's deadline plus the tolerated
--         clock skew) after which the caller has given up (0: never); a
--         run that arrives later returns {-2} and writes nothing. With a
--         grace at least the skew, a late run that does arrive in time finds
--         the caller's retry within the grace and gets its pair.
-- ARGV[5] grace, ms: how long after a rotation the id it replaced still
--         gets that rotation's answer (0: strict rotation)
-- A rotation is a use: the session's absolute end moves to now + the
-- refresh TTL ("x" is written when the session has one: with an idle
-- timeout; else the key's expiry is the end), its key lives min(idle timeout, refresh TTL) when it has an
-- idle timeout ("i"), else the refresh TTL, and its last use ("s") is now.
-- Returns {1, access TTL ms, rotation time ms, successor id} when the
-- presented id was current, or when this very rotation ran before (a retry
-- after a lost reply), or when the presented id was replaced by the last
-- rotation less than the grace ago: the caller builds the same pair from it.
-- {0} when the session is not live; {-1} when the presented id is stale
-- otherwise: a reused token, and the session is deleted (inside its Sign's
-- write window, with a tombstone under KEYS[3] until the window ends, so
-- that a copy of that Sign still in a network queue does not bring the
-- stolen session back: see sign.lua).
--
-- Writes, so Redis refuses it whole when out of memory. Times are Redis's.
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return {0}
end
local s = redis.call('HMGET', KEYS[2], 'r', 'p', 'a', 't', 'i', 'x', 'c', 'w')
local cur, prev = s[1], s[2]
if not cur then
  return {0}
end
local now = now_ms()
local notAfter = tonumber(ARGV[6])
if notAfter > 0 and now > notAfter then
  return {-2}
end
if cur == ARGV[2] then
  local ttl = tonumber(ARGV[4])
  local life = ttl
  if s[5] and tonumber(s[5]) < ttl then
    life = tonumber(s[5])
  end
  if s[5] or s[6] then
    redis.call('HSET', KEYS[2], 'r', ARGV[3], 'p', ARGV[2], 't', now, 's', now, 'x', now + ttl)
  else
    redis.call('HSET', KEYS[2], 'r', ARGV[3], 'p', ARGV[2], 't', now, 's', now)
  end
  redis.call('PEXPIRE', KEYS[2], life)
  redis.call('ZADD', KEYS[1], now + life, ARGV[1])
  if redis.call('PTTL', KEYS[1]) < ttl then
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
  return {1, tonumber(s[3]), now, ARGV[3]}
end
local grace = tonumber(ARGV[5])
if prev == ARGV[2] and (cur == ARGV[3] or (grace > 0 and now - tonumber(s[4]) <= grace)) then
  return {1, tonumber(s[3]), tonumber(s[4]), cur}
end
tomb(KEYS[3], s[7], s[8], now)
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[1])
return {-1}
