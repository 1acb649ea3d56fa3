#!lua flags=allow-oom
-- revoke_others: end every session of one user but one ("log out other
-- devices").
-- KEYS[1] index   KEYS[2] the kept session   KEYS[3] this request's answer key
-- ARGV[1] the user's key base (session key = base .. nanoid)
-- ARGV[2] the kept session's nanoid
-- ARGV[3] '1' when the caller WAITs for replicas (WithReplicaAck), else ''
-- ARGV[4] the user's Sign tombstone base (tombstone = ARGV[4] .. nanoid)
-- Returns how many live sessions it ended, or -1 when the kept session is
-- not live (then nothing is ended or written).
--
-- As revoke_all.lua: safe to run twice (a non-zero answer is kept 60s
-- under KEYS[3]; a zero one only for a caller that WAITs); a
-- session ended inside its Sign's write window leaves a tombstone
-- (lib/tomb.lua), and every ended session its reason 'o' (lib/why.lua).
-- allow-oom: it frees memory. One atomic step: a Sign of the same user runs
-- wholly before it (and its session is ended here) or wholly after.
local done = redis.call('GET', KEYS[3])
if done then
  if ARGV[3] == '1' then
    redis.call('PEXPIRE', KEYS[3], done == '0' and 1000 or 60000)
  end
  return tonumber(done)
end
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) or redis.call('EXISTS', KEYS[2]) == 0 then
  return -1
end
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local n = 0
local keys, members = {}, {}
local now
for i = 1, #ids do
  if ids[i] ~= ARGV[2] then
    local h = redis.call('HMGET', ARGV[1] .. ids[i], 'c', 'w')
    now = tomb(ARGV[4] .. ids[i], h[1], h[2], now)
    why(ARGV[4], ids[i], 'o', ARGV[1] .. ids[i])
    keys[#keys + 1] = ARGV[1] .. ids[i]
    members[#members + 1] = ids[i]
  end
  if #keys == 1000 or (i == #ids and #keys > 0) then
    n = n + redis.call('DEL', unpack(keys))
    redis.call('ZREM', KEYS[1], unpack(members))
    keys, members = {}, {}
  end
end
if n > 0 then
  redis.call('SET', KEYS[3], n, 'PX', 60000)
elseif ARGV[3] == '1' then
  redis.call('SET', KEYS[3], 0, 'PX', 1000)
end
return n
