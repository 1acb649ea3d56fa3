-- lean (lib/lean.lua): the lean layout (keys.go), put in front of every
-- script, before every other library, when the store runs that layout.
-- It shadows `redis` with a table whose call() maps what the scripts do to
-- a session's hash and to the user's index onto one hash per user,
-- prefix{id} (the key base without its last ':'), holding a field per
-- session (its nanoid) with the session's own expiry (HPEXPIRE, Redis
-- 7.4+ / Valkey 9+): the scripts keep every
-- rule of the classic layout as they are written, once. Keys that are not
-- a session's or the index (answer keys, tombstones, end reasons, DPoP
-- replay keys) go to Redis as they are.
--
-- Every run pays for what this file defines (Redis runs a script's chunk
-- each time: about 0.2 us per function here), so it defines few.
--
-- Migration: a session whose classic hash exists (signed before the switch)
-- is served from its classic keys (every command goes to them unchanged);
-- the index's commands merge the lean fields with the classic index's
-- members. New sessions are lean. So classic sessions keep verifying,
-- listing, refreshing and revoking until they expire.
--
-- The record (one field value): 6 bytes, the issue time (Unix ms, what the
-- classic layout keeps as "c" + "o") big-endian, whose top bit says that
-- an extension follows: entries <tag><decimal length>:<bytes>, ended by
-- '.'; then the private data, to the end. Tags: the classic fields' names
-- (s i x r p t a m u q j), and 'C' (creation, Redis ms, only when it is
-- more than a second from the issue time: a Reissue, or a host clock off
-- Redis's) and 'W' (the Sign's write window's end, seconds after the issue
-- time, only past 60: a shorter window reads as 60, which keeps a
-- tombstone longer, never shorter). A fresh session without options is 6
-- bytes plus its data: the hash stays a listpack (hash-max-listpack-value,
-- 64 bytes by default) for data up to 58 bytes. The Go side reads it too
-- (lean.go: decodeLean).
local R = redis
local leanWhere = {} -- nanoid -> 'l' lean, 'c' classic, as learnt in this run
-- Sessions this run created and has not put in the index yet (its ZADD):
-- the classic scripts write a session's hash before its index entry, and
-- count and pick the index's members in between, so the index's view
-- leaves these out until then.
local leanPending = {}

local function leanNum(v)
  if type(v) == 'number' then
    return string.format('%.17g', v)
  end
  return v
end

-- leanSplit returns the user's key base (through '}:') and the rest,
-- remembered for the run (the scripts name the same few keys again and
-- again).
local leanSplits = {}
local function leanSplit(k)
  local s = leanSplits[k]
  if not s then
    -- A plain find: the pattern '^(.*}:)([^}]*)$' backtracks in O(n^2)
    -- and cost tens of microseconds a Sign. The prefix has no braces and
    -- the id's are escaped, so the first '}:' ends the tag.
    local e = string.find(k, '}:', 1, true)
    local base, tail = false, nil
    if e and not string.find(k, '}', e + 2, true) then
      base, tail = string.sub(k, 1, e + 1), string.sub(k, e + 2)
    end
    s = {base, tail}
    leanSplits[k] = s
  end
  return s[1], s[2]
end

local leanTags = 'CWsixrptamuqj' -- the extension's tags, in order

-- leanDecode turns a record into the classic fields (strings, as HMGET
-- returns them): "c", "o" (issue - "c") and "w" (window end - "c", s)
-- computed back from the issue time, 'C' and 'W'.
local function leanDecode(rec)
  local b1, b2, b3, b4, b5, b6 = string.byte(rec, 1, 6)
  local t0 = ((((b1 % 128) * 256 + b2) * 256 + b3) * 256 + b4) * 256 + b5
  t0 = t0 * 256 + b6
  local f = {}
  local pos = 7
  if b1 >= 128 then
    while string.sub(rec, pos, pos) ~= '.' do
      local colon = string.find(rec, ':', pos + 1, true)
      local n = tonumber(string.sub(rec, pos + 1, colon - 1))
      f[string.sub(rec, pos, pos)] = string.sub(rec, colon + 1, colon + n)
      pos = colon + n + 1
    end
    pos = pos + 1
  end
  f.d = string.sub(rec, pos)
  local c = tonumber(f.C) or t0
  f.c = leanNum(c)
  f.o = leanNum(t0 - c)
  f.w = leanNum(math.ceil((t0 + (tonumber(f.W) or 60) * 1000 - c) / 1000))
  f.C, f.W = nil, nil
  return f
end

local function leanEncode(f)
  local c = tonumber(f.c)
  if not c then
    error('rjwt: lean layout: a session record without "c"')
  end
  local o = tonumber(f.o) or 0
  local t0 = c + o
  if o <= -1e11 or o >= 1e11 then
    t0 = o -- an absolute issue time (older layouts)
  end
  t0 = math.floor(t0)
  if t0 < 0 or t0 >= 140737488355328 then
    error('rjwt: lean layout: issue time out of range')
  end
  local ext = {}
  local x = {}
  for k, v in pairs(f) do
    x[k] = v
  end
  x.C, x.W = nil, nil
  if math.abs(c - t0) > 1000 then
    x.C = leanNum(c)
  end
  local W = math.ceil((c + (tonumber(f.w) or 60) * 1000 - t0) / 1000)
  if W > 60 then
    x.W = leanNum(W)
  end
  for i = 1, #leanTags do
    local tag = string.sub(leanTags, i, i)
    local v = x[tag]
    if v then
      v = leanNum(v)
      ext[#ext + 1] = tag .. #v .. ':' .. v
    end
  end
  local b = {}
  local n = t0
  for i = 6, 1, -1 do
    b[i] = n % 256
    n = math.floor(n / 256)
  end
  if #ext > 0 then
    b[1] = b[1] + 128
    ext[#ext + 1] = '.'
  end
  return string.char(b[1], b[2], b[3], b[4], b[5], b[6]) .. table.concat(ext) .. (x.d or '')
end

-- leanClassic says whether the user's classic index (key idx) exists,
-- asked once a run: without it the user has no classic session (a classic
-- session verifies only with its index entry), and its commands are skipped.
local leanIdx = {}
local function leanClassic(idx)
  local v = leanIdx[idx]
  if v == nil then
    v = R.call('EXISTS', idx) == 1
    leanIdx[idx] = v
  end
  return v
end

-- leanAt says where session nano of base lives: 'l' (a field of the lean
-- hash), 'c' (its classic hash exists, and its user's classic index) or
-- 'n' (neither).
local function leanAt(base, nano)
  local w = leanWhere[nano]
  if w then
    return w
  end
  if R.call('HEXISTS', string.sub(base, 1, -2), nano) == 1 then
    w = 'l'
  elseif leanClassic(base .. 'idx') and R.call('EXISTS', base .. nano) == 1 then
    w = 'c'
  else
    w = 'n'
  end
  leanWhere[nano] = w
  return w
end

-- leanWrite sets fields of session nano's record (creating it), keeping the
-- field's expiry (HSET clears it).
local function leanWrite(base, nano, args)
  local lk = string.sub(base, 1, -2)
  local f = nil
  if leanWhere[nano] ~= 'n' then
    local rec = R.call('HGET', lk, nano)
    if rec then
      f = leanDecode(rec)
    end
  end
  local at = -2
  if f then
    at = R.call('HPEXPIRETIME', lk, 'FIELDS', 1, nano)[1]
  else
    f = {}
    leanPending[nano] = true
  end
  for i = 1, #args, 2 do
    f[args[i]] = leanNum(args[i + 1])
  end
  R.call('HSET', lk, nano, leanEncode(f))
  if at > 0 then
    R.call('HPEXPIREAT', lk, at, 'FIELDS', 1, nano)
  end
  leanWhere[nano] = 'l'
  return 0
end

-- leanMembers is the index's view: every session of base, lean and classic,
-- as {nanoid, expiry (Unix ms)}, by expiry then nanoid (ZRANGE's order).
local function leanMembers(idx, base)
  local out = {}
  local lk = string.sub(base, 1, -2)
  local names = R.call('HKEYS', lk)
  if #names > 0 then
    local at = R.call('HPEXPIRETIME', lk, 'FIELDS', #names, unpack(names))
    for i = 1, #names do
      if not leanPending[names[i]] then
        out[#out + 1] = {names[i], tonumber(at[i])}
      end
      leanWhere[names[i]] = 'l'
    end
  end
  local z = {}
  if leanClassic(idx) then
    z = R.call('ZRANGE', idx, 0, -1, 'WITHSCORES')
  end
  for i = 1, #z, 2 do
    out[#out + 1] = {z[i], tonumber(z[i + 1])}
  end
  table.sort(out, function(a, b)
    if a[2] ~= b[2] then
      return a[2] < b[2]
    end
    return a[1] < b[1]
  end)
  return out
end

-- leanKey runs DEL or EXISTS on one key, of any kind.
local function leanKey(cmd, key)
  local b, t = leanSplit(key)
  if b and #t == 21 and not string.find(t, '[^%w_%-]') then
    local at = leanAt(b, t)
    if at == 'n' then
      return 0
    elseif at == 'l' then
      if cmd == 'DEL' then
        leanWhere[t] = 'n'
        return R.call('HDEL', string.sub(b, 1, -2), t)
      end
      return R.call('HEXISTS', string.sub(b, 1, -2), t)
    end
  end
  if b and t == 'idx' and not leanClassic(key) then
    if cmd == 'DEL' and R.call('EXISTS', string.sub(b, 1, -2)) == 1 then
      return 1 -- a script that deletes the index counts it: the lean hash stands for it
    end
    return 0
  end
  local n = R.call(cmd, key)
  if b and t == 'idx' and cmd == 'DEL' then
    leanIdx[key] = false
  end
  if b and t == 'idx' and cmd == 'DEL' and n == 0 and R.call('EXISTS', string.sub(b, 1, -2)) == 1 then
    -- the classic index; a script that deletes the index counts it as
    -- one key, which the lean hash stands for
    n = 1
  end
  return n
end

local function leanCall(cmd, k, ...)
  if k == nil then
    return R.call(cmd)
  end
  local base, tail = nil, nil
  if type(k) == 'string' then
    base, tail = leanSplit(k)
  end
  if not base or not (tail == 'idx' or #tail == 21 or cmd == 'DEL' or cmd == 'EXISTS') then
    return R.call(cmd, k, ...) -- not a session's key nor the index
  end
  local args = {...}
  cmd = string.upper(cmd)
  if cmd == 'DEL' or cmd == 'EXISTS' then
    local n = leanKey(cmd, k)
    for i = 1, #args do
      n = n + leanKey(cmd, args[i])
    end
    return n
  end
  if #tail == 21 and not string.find(tail, '[^%w_%-]') then
    local at = leanAt(base, tail)
    if at == 'c' or (at == 'n' and cmd ~= 'HSET') then
      return R.call(cmd, k, ...)
    end
    local lk = string.sub(base, 1, -2)
    if cmd == 'HSET' then
      return leanWrite(base, tail, args)
    elseif cmd == 'HGET' or cmd == 'HMGET' then
      local rec = R.call('HGET', lk, tail)
      local f = rec and leanDecode(rec) or {}
      local out = {}
      for i = 1, #args do
        out[i] = f[args[i]] or false
      end
      if cmd == 'HGET' then
        return out[1]
      end
      return out
    elseif cmd == 'PTTL' then
      return R.call('HPTTL', lk, 'FIELDS', 1, tail)[1]
    elseif cmd == 'PEXPIRE' then
      local ms = tonumber(args[1])
      if ms <= 0 then
        return R.call('HDEL', lk, tail)
      end
      local r
      if args[2] then
        r = R.call('HPEXPIRE', lk, ms, args[2], 'FIELDS', 1, tail)[1]
      else
        r = R.call('HPEXPIRE', lk, ms, 'FIELDS', 1, tail)[1]
      end
      if r == 1 or r == 2 then
        return 1
      end
      return 0
    end
    error('rjwt: lean layout: ' .. cmd .. ' on a session key')
  end
  if tail ~= 'idx' then
    return R.call(cmd, k, ...)
  end
  -- the index
  local lk = string.sub(base, 1, -2)
  if cmd == 'ZSCORE' then
    -- The scripts ask ZSCORE whether a session is indexed, not its score:
    -- a lean field answers '1' (its expiry is HPEXPIRETIME's).
    local at = leanAt(base, args[1])
    if at == 'l' then
      if leanPending[args[1]] then
        return false
      end
      return '1'
    elseif at == 'c' then
      return R.call(cmd, k, ...)
    end
    return false
  elseif cmd == 'ZADD' then
    -- one score and member: the lean field's expiry is its score
    local at = leanAt(base, args[2])
    if at == 'l' then
      if leanPending[args[2]] then
        leanPending[args[2]] = nil
        return 1
      end
      return 0
    elseif at == 'c' then
      return R.call(cmd, k, ...)
    end
    return 0
  elseif cmd == 'ZREM' then
    local n = 0
    for i = 1, #args do
      local at = leanAt(base, args[i])
      if at == 'l' then
        n = n + 1 -- its DEL removes it
      elseif at == 'c' then
        n = n + R.call('ZREM', k, args[i])
      end
    end
    return n
  elseif cmd == 'ZRANGE' then
    if tostring(args[1]) ~= '0' or tostring(args[2]) ~= '-1' or args[3] then
      error('rjwt: lean layout: ZRANGE form')
    end
    local out = {}
    for i, m in ipairs(leanMembers(k, base)) do
      out[i] = m[1]
    end
    return out
  elseif cmd == 'ZPOPMIN' then
    local out = {}
    local all = leanMembers(k, base)
    for i = 1, math.min(tonumber(args[1] or 1), #all) do
      if leanWhere[all[i][1]] ~= 'l' then
        R.call('ZREM', k, all[i][1])
      end
      out[#out + 1] = all[i][1]
      out[#out + 1] = leanNum(all[i][2])
    end
    return out
  elseif cmd == 'ZCARD' or cmd == 'ZCOUNT' then
    -- ZCOUNT only as (now, +inf]: every lean field is live
    local n = 0
    for _, f in ipairs(R.call('HKEYS', lk)) do
      if not leanPending[f] then
        n = n + 1
      end
    end
    if leanClassic(k) then
      n = n + R.call(cmd, k, ...)
    end
    return n
  elseif cmd == 'ZREMRANGEBYSCORE' or cmd == 'PEXPIRE' or cmd == 'PTTL' then
    -- the classic index's own
    if leanClassic(k) then
      return R.call(cmd, k, ...)
    elseif cmd == 'PTTL' then
      return -2
    end
    return 0
  end
  error('rjwt: lean layout: ' .. cmd .. ' on the index')
end

local redis = {call = leanCall} -- the scripts use redis.call only
