#!lua flags=allow-oom
-- revoke: end one session.
-- KEYS[1] index   KEYS[2] session   KEYS[3] this request's answer key
-- KEYS[4] the session's Sign tombstone (base .. 'op:' .. nanoid)
-- ARGV[1] nanoid
-- ARGV[2] '1' when the caller WAITs for replicas (WithReplicaAck), else ''
-- Returns 1 when it ended a live session, 0 when there was none.
--
-- Safe to run twice: an answer of 1 is kept 60s under KEYS[3], and a second
-- run with the same request returns it instead of "none". An answer of 0 is
-- not kept (a second run finds nothing either): a Revoke that ended nothing
-- writes nothing, so replayed logouts cannot grow Redis, even past maxmemory;
-- except when the caller WAITs (ARGV[2]): then it keeps the 0 for a second,
-- a write, so that WAIT covers whatever revoked the session before (a first
-- call whose acknowledgement fell short, being called again).
-- A session ended inside its Sign's write window (hash fields "c" + "w",
-- see sign.lua) leaves a tombstone under KEYS[4] until the window ends, so
-- that a repeated run of that Sign does not recreate it.
-- allow-oom: ending a session must work when Redis is out of memory (it
-- frees memory, more than the answer key takes).
local done = redis.call('GET', KEYS[3])
if done then
  -- With a caller that WAITs (ARGV[2]), a write (the answer key renewed
  -- for as long as it was kept), so that WAIT on this run's connection
  -- covers the first run's effects too: WAIT waits for a connection's last
  -- write, and Redis versions whose call() records that offset only for
  -- commands that propagate something (7.2 on) would otherwise measure
  -- nothing here and answer at once.
  if ARGV[2] == '1' then
    redis.call('PEXPIRE', KEYS[3], done == '0' and 1000 or 60000)
  end
  return tonumber(done)
end
local h = redis.call('HMGET', KEYS[2], 'c', 'w')
tomb(KEYS[4], h[1], h[2])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  why(string.sub(KEYS[4], 1, #KEYS[4] - #ARGV[1]), ARGV[1], 'v', KEYS[2])
end
local z = redis.call('ZREM', KEYS[1], ARGV[1])
local d = redis.call('DEL', KEYS[2])
if z == 1 and d == 1 then
  redis.call('SET', KEYS[3], 1, 'PX', 60000)
  return 1
end
if ARGV[2] == '1' then
  redis.call('SET', KEYS[3], 0, 'PX', 1000)
end
return 0
