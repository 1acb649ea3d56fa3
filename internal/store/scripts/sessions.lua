#!lua flags=no-writes
-- sessions: list one user's live sessions.
-- KEYS[1] index
-- ARGV[1] the user's key base (session key = base .. nanoid)
-- Returns {nanoid, ms left, ...} for each index entry whose hash still
-- exists. Read-only (runs out of memory and on replicas); stale entries are
-- pruned by Sign and by the event monitor, not here.
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {}
for i = 1, #ids do
  local p = redis.call('PTTL', ARGV[1] .. ids[i])
  if p ~= -2 then
    out[#out + 1] = ids[i]
    out[#out + 1] = p
  end
end
return out
