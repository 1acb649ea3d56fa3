#!lua flags=no-writes
-- sessions: list one user's live sessions, with their device details.
-- KEYS[1] index
-- ARGV[1] the user's key base (session key = base .. nanoid)
-- Returns {now ms, nanoid, ms left, created ms, last use ms, meta, ...}: the
-- time by Redis's clock, then five values for each index entry whose hash
-- still exists (last use is the creation until a use is written; created and
-- last use are false for sessions signed before they were recorded, meta
-- false without WithMeta). Read-only (runs out of
-- memory and on replicas); stale entries are pruned by Sign and by the
-- event monitor, not here.
local out = {now_ms()}
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
for i = 1, #ids do
  local k = ARGV[1] .. ids[i]
  local p = redis.call('PTTL', k)
  if p ~= -2 then
    local h = redis.call('HMGET', k, 'c', 's', 'm')
    out[#out + 1] = ids[i]
    out[#out + 1] = p
    out[#out + 1] = h[1]
    out[#out + 1] = h[2] or h[1]
    out[#out + 1] = h[3]
  end
end
return out
