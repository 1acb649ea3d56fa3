#!lua
-- update_data: change top-level fields of a live session's private data (a
-- JSON object) in place, so that concurrent requests that change different
-- fields all keep their changes, and increments add up.
-- KEYS[1] index   KEYS[2] session   KEYS[3] this request's answer key ('i' only)
-- ARGV[1] nanoid
-- ARGV[2] the most bytes the data may take
-- ARGV[3] 'u' (update) or 'i' (increment)
-- 'u': ARGV[4..] groups of three: the field's name, the name as a JSON
--      string (as Go writes it), and the raw JSON value, or '' to delete it
-- 'i': ARGV[4] name, ARGV[5] name as JSON, ARGV[6] delta (an integer)
-- Returns {1} ('u') or {1, the new value} ('i'); {0} when the session is
-- not live (it never creates one); {-2} when the data is not a JSON object;
-- {-3} when the field to increment is not an integer (of at most 15
-- digits, so that Lua's doubles hold it exactly); {-4} when the data would
-- be over ARGV[2] bytes (nothing is written).
--
-- The data is edited as text: each top-level member is found by scanning
-- (strings and nesting skipped), the members not changed are kept byte for
-- byte, changed ones are appended; values are never decoded, so nothing is
-- lost in a round trip through Lua's numbers. No data ('') is {}.
-- Safe to run twice: 'u' writes the same again; 'i' keeps its answer 60s
-- under KEYS[3] and a second run returns it. Writes, so Redis refuses it
-- whole when out of memory.
local done = ARGV[3] == 'i' and redis.call('GET', KEYS[3])
if done then
  return {1, done}
end
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return {0}
end
local s = redis.call('HGET', KEYS[2], 'd')
if not s then
  return {0}
end
if s == '' then
  s = '{}'
end

-- members returns {name, from, to, value from} for each top-level member of
-- the object s (positions of the member's text and of its value), or nil
-- when s is not an object.
local function members(s)
  local out = {}
  local i = string.find(s, '%S')
  if not i or string.byte(s, i) ~= 123 then
    return nil
  end
  local function skip()
    i = string.find(s, '%S', i)
    return i ~= nil
  end
  local function strend(j)
    local k = j + 1
    while true do
      local q = string.find(s, '["\\]', k)
      if not q then
        return nil
      end
      if string.byte(s, q) == 92 then
        k = q + 2
      else
        return q
      end
    end
  end
  i = i + 1
  if not skip() then
    return nil
  end
  if string.byte(s, i) == 125 then
    return out
  end
  while true do
    if string.byte(s, i) ~= 34 then
      return nil
    end
    local ks = i
    local ke = strend(i)
    if not ke then
      return nil
    end
    local name = string.sub(s, ks + 1, ke - 1)
    if string.find(name, '\\', 1, true) then
      local ok, dec = pcall(cjson.decode, string.sub(s, ks, ke))
      if not ok or type(dec) ~= 'string' then
        return nil
      end
      name = dec
    end
    i = ke + 1
    if not skip() or string.byte(s, i) ~= 58 then
      return nil
    end
    i = i + 1
    if not skip() then
      return nil
    end
    local vs, ve = i, nil
    local b = string.byte(s, i)
    if b == 34 then
      ve = strend(i)
    elseif b == 123 or b == 91 then
      local depth, k = 0, i
      while true do
        local p = string.find(s, '[%[%]{}"]', k)
        if not p then
          return nil
        end
        local c = string.byte(s, p)
        if c == 34 then
          local e = strend(p)
          if not e then
            return nil
          end
          k = e + 1
        elseif c == 123 or c == 91 then
          depth = depth + 1
          k = p + 1
        else
          depth = depth - 1
          k = p + 1
          if depth == 0 then
            ve = p
            break
          end
        end
      end
    else
      local _, e = string.find(s, '^[^,}%s]+', i)
      ve = e
    end
    if not ve then
      return nil
    end
    out[#out + 1] = {name, ks, ve, vs}
    i = ve + 1
    if not skip() then
      return nil
    end
    local c = string.byte(s, i)
    if c == 125 then
      return out
    end
    if c ~= 44 then
      return nil
    end
    i = i + 1
    if not skip() then
      return nil
    end
  end
end

local mem = members(s)
if not mem then
  return {-2}
end

-- The changes: name -> {name as JSON, raw value or ''}, last one winning.
local names, changes = {}, {}
local result = nil
if ARGV[3] == 'i' then
  local cur = nil
  for _, m in ipairs(mem) do
    if m[1] == ARGV[4] then
      cur = string.sub(s, m[4], m[3])
    end
  end
  local n = 0
  if cur then
    if not string.find(cur, '^%-?%d+$') or #string.gsub(cur, '^%-', '') > 15 then
      return {-3}
    end
    n = tonumber(cur)
  end
  n = n + tonumber(ARGV[6])
  if n >= 1e15 or n <= -1e15 then
    return {-3}
  end
  result = string.format('%.0f', n)
  names[1] = ARGV[4]
  changes[ARGV[4]] = {ARGV[5], result}
else
  for g = 4, #ARGV, 3 do
    if not changes[ARGV[g]] then
      names[#names + 1] = ARGV[g]
    end
    changes[ARGV[g]] = {ARGV[g + 1], ARGV[g + 2]}
  end
end

local parts = {}
for _, m in ipairs(mem) do
  if not changes[m[1]] then
    parts[#parts + 1] = string.sub(s, m[2], m[3])
  end
end
for _, name in ipairs(names) do
  local c = changes[name]
  if c[2] ~= '' then
    parts[#parts + 1] = c[1] .. ':' .. c[2]
  end
end
local out = '{' .. table.concat(parts, ',') .. '}'
if #out > tonumber(ARGV[2]) then
  return {-4}
end
redis.call('HSET', KEYS[2], 'd', out)
if result then
  redis.call('SET', KEYS[3], result, 'PX', 60000)
  return {1, result}
end
return {1}
