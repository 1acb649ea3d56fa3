#!lua
-- set_data: replace a live session's private data.
-- KEYS[1] index   KEYS[2] session
-- ARGV[1] nanoid   ARGV[2] the data
-- Returns 1, or 0 when the session is not live (it never creates one).
-- Running it twice writes the same data twice.
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('EXISTS', KEYS[2]) == 0 then
  return 0
end
redis.call('HSET', KEYS[2], 'd', ARGV[2])
return 1
