#!lua flags=no-writes
-- verify: is a session live, and what is its private data?
-- KEYS[1] index   KEYS[2] session
-- ARGV[1] nanoid
-- ARGV[2] '1' to return the data
-- Returns 0 when the session is not live (no index entry, or no hash: either
-- one evicted or expired is enough), else 1, or {data} when asked for data.
--
-- Read-only: runs when Redis is out of memory, and on replicas.
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
if ARGV[2] == '1' then
  local d = redis.call('HGET', KEYS[2], 'd')
  if not d then
    return 0
  end
  return {d}
end
return redis.call('EXISTS', KEYS[2])
