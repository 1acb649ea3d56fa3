#!lua flags=allow-oom
-- revoke_all: end every session of one user (logout everywhere).
-- KEYS[1] index   KEYS[2] this request's answer key
-- ARGV[1] the user's key base (session key = base .. nanoid)
-- ARGV[2] '1' when the caller WAITs for replicas (WithReplicaAck), else ''
--         (then a zero answer is kept for a second, a write, so that WAIT
--         covers whatever revoked the sessions before: see revoke.lua)
-- ARGV[3] the user's Sign tombstone base (tombstone = ARGV[3] .. nanoid)
-- Returns how many live sessions it ended.
--
-- Safe to run twice (a non-zero answer is kept 60s under KEYS[2]; a zero one
-- is not written, so a RevokeAll that ended nothing writes nothing, even out
-- of memory). allow-oom: it frees memory. A session whose hash is gone
-- (expired, evicted) is not counted. A session ended inside its Sign's
-- write window (hash fields "c" + "w", see sign.lua) leaves a tombstone
-- until the window ends, so that a repeated run of that Sign does not
-- recreate it.
local done = redis.call('GET', KEYS[2])
if done then
  -- With a caller that WAITs (ARGV[2]), a write (the answer key renewed
  -- for as long as it was kept), so that WAIT on this run's connection
  -- covers the first run's effects too: WAIT waits for a connection's last
  -- write, and Redis versions whose call() records that offset only for
  -- commands that propagate something (7.2 on) would otherwise measure
  -- nothing here and answer at once.
  if ARGV[2] == '1' then
    redis.call('PEXPIRE', KEYS[2], done == '0' and 1000 or 60000)
  end
  return tonumber(done)
end
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local n = 0
local chunk = {}
local now
for i = 1, #ids do
  local h = redis.call('HMGET', ARGV[1] .. ids[i], 'c', 'w')
  now = tomb(ARGV[3] .. ids[i], h[1], h[2], now)
  why(ARGV[3], ids[i], 'a', ARGV[1] .. ids[i])
  chunk[#chunk + 1] = ARGV[1] .. ids[i]
  if #chunk == 1000 or i == #ids then
    n = n + redis.call('DEL', unpack(chunk))
    chunk = {}
  end
end
redis.call('DEL', KEYS[1])
if n > 0 then
  redis.call('SET', KEYS[2], n, 'PX', 60000)
elseif ARGV[2] == '1' then
  redis.call('SET', KEYS[2], 0, 'PX', 1000)
end
return n
