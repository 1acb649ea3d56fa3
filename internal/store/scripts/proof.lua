#!lua
-- proof: accept a DPoP proof's jti once for a bound session (RFC 9449 §11.1).
-- KEYS[1] session   KEYS[2] the proof's replay key (the session's base ..
-- 'dpop:' .. nanoid .. ':' .. hash of the jti: the session's slot)
-- ARGV[1] the thumbprint of the key the token is bound to
-- ARGV[2] how long to remember the jti, ms (the proof's acceptance window)
-- ARGV[3] this call's own mark, random: a second run of the same call (a
--         retry after a lost reply) finds its own mark and is not a replay
-- Returns 1 when the jti is recorded now (or was by this same call), -1 when
-- another call recorded it (a replay), 0 when the session's hash is gone or
-- is not bound to that key ('j', written by sign.lua): nothing is written.
--
-- Its one write is the SET of a small key that expires with the proof
-- window: refused when Redis is out of memory under noeviction.
local j = redis.call('HGET', KEYS[1], 'j')
if j ~= ARGV[1] then
  return 0
end
if redis.call('SET', KEYS[2], ARGV[3], 'NX', 'PX', ARGV[2]) then
  return 1
end
if redis.call('GET', KEYS[2]) == ARGV[3] then
  return 1
end
return -1
