-- pick (lib/limit.lua, put in front of sign.lua): the k sessions of index
-- idx (session key = base .. nanoid) a Sign at the cap ends, by policy:
-- '0' nearest to expiry (the index's order: ZPOPMIN takes them out), '1'
-- the oldest login (issue time "c" + "o", kept across Reissue; older
-- layouts' absolute "o", or "c" alone), '2' the least recently used ("s",
-- else "c": "s" is written by Verify at most once a SeenEvery, so the order
-- is exact to that resolution). Ties go to the smaller nanoid. With '1' and
-- '2' the picks are taken out of the index here too.
local function pick(idx, base, policy, k)
  local out = {}
  if policy ~= '1' and policy ~= '2' then
    local gone = redis.call('ZPOPMIN', idx, k)
    for i = 1, #gone, 2 do
      out[#out + 1] = gone[i]
    end
    return out
  end
  local ids = redis.call('ZRANGE', idx, 0, -1)
  local rank = {}
  for i = 1, #ids do
    local h = redis.call('HMGET', base .. ids[i], 'c', 'o', 's')
    local c = tonumber(h[1]) or 0
    local v
    if policy == '1' then
      local o = tonumber(h[2])
      v = c
      if o and o > -1e11 and o < 1e11 then
        v = c + o
      elseif o then
        v = o
      end
    else
      v = tonumber(h[3]) or c
    end
    rank[i] = {ids[i], v}
  end
  table.sort(rank, function(a, b)
    if a[2] ~= b[2] then
      return a[2] < b[2]
    end
    return a[1] < b[1]
  end)
  for i = 1, math.min(k, #rank) do
    out[i] = rank[i][1]
    redis.call('ZREM', idx, rank[i][1])
  end
  return out
end
