#!lua flags=allow-oom
-- revoke: end one session.
-- KEYS[1] index   KEYS[2] session   KEYS[3] this request's answer key
-- ARGV[1] nanoid
-- Returns 1 when it ended a live session, 0 when there was none.
--
-- Safe to run twice: the answer is kept 60s under KEYS[3], and a second run
-- with the same request returns it instead of "none". allow-oom: ending a
-- session must work when Redis is out of memory (it frees memory).
local done = redis.call('GET', KEYS[3])
if done then
  return tonumber(done)
end
local z = redis.call('ZREM', KEYS[1], ARGV[1])
local d = redis.call('DEL', KEYS[2])
local n = 0
if z == 1 and d == 1 then
  n = 1
end
redis.call('SET', KEYS[3], n, 'PX', 60000)
return n
