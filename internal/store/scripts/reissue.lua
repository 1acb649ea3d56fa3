#!lua
-- reissue: replace one session by a new one for the same login (a new id
-- after a privilege change), in one atomic step.
-- KEYS[1] index   KEYS[2] the old session   KEYS[3] the new session
-- KEYS[4] the new session's answer key (base .. 'op:' .. new nanoid)
-- KEYS[5] the old session's Sign tombstone (base .. 'op:' .. old nanoid)
-- ARGV[1] old nanoid   ARGV[2] new nanoid (chosen by the client, so a
--         second run of the same call finds its own session)
-- ARGV[3] the new refresh id (used when the old session has one)
-- ARGV[4] the new session's life, ms, when the old one has no refresh
--         token (0: the old one's remaining life)
-- ARGV[5] access TTL, ms (0: the old one's "a"); only with a refresh id
-- ARGV[6] '1': private data ARGV[7] replaces the old session's
-- ARGV[8] '1': device details ARGV[9] replace the old session's ('' none)
-- ARGV[10] auth_time, Unix s ('': the old session's)
-- ARGV[11] '' keep the old amr, else '=' .. the methods joined by spaces
-- ARGV[12] not after: Unix ms after which the caller has given up (0: never)
-- ARGV[13] the new session's life, ms, when the old one has a refresh
--          token (0: the old one's remaining life)
-- Returns {1, life ms, access ms (0: no refresh token), now ms, auth_time s
-- (-1: none), amr, refresh id, DPoP key thumbprint ('' unbound: "j", kept
-- by the new session)} when it made the new session, {0} when the
-- old session is not live (nothing written), {-1} when it arrived after
-- ARGV[12] (nothing written).
--
-- The new session has the old one's "d", "m", "i" (idle timeout), "u"/"q"
-- (auth_time, amr) and its login's issue time ("o" is rebased so that
-- "c" + "o" is unchanged: a single-mode Sign judges it as the same login,
-- not a newer one, and nothing else of the user is ended), its remaining
-- life, and with a refresh token a new "r" and the old "a". The old one is
-- deleted with the tombstone (lib/tomb.lua) and reason 'e' (lib/why.lua)
-- every ending leaves.
--
-- Safe to run twice: the first run keeps its answer under KEYS[4] for its
-- write window (as sign.lua's "w"); a second run returns it while the new
-- session lives, {0} once that ended: never a second new session.
-- Writes, so Redis refuses it whole when out of memory; its first write is
-- the HSET of the new session.
local done = redis.call('GET', KEYS[4])
if done then
  if done ~= '0' and redis.call('EXISTS', KEYS[3]) == 1 then
    return cjson.decode(done)
  end
  return {0}
end
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return {0}
end
local h = redis.call('HMGET', KEYS[2], 'd', 'm', 'u', 'q', 'r', 'a', 'i', 'x', 'c', 'o', 'w', 'j')
if not h[1] then
  return {0}
end
local now = now_ms()
local notAfter = tonumber(ARGV[12])
if notAfter > 0 and now > notAfter then
  return {-1}
end
local keep = 60000
if notAfter > 0 then
  keep = notAfter - now + 1000
end
local life = tonumber(ARGV[4])
if h[5] then
  life = tonumber(ARGV[13])
end
if life <= 0 then
  if h[8] then
    life = tonumber(h[8]) - now
  else
    life = redis.call('PTTL', KEYS[2])
  end
end
if life <= 0 then
  return {0}
end
-- the login's issue time, as sign.lua reads "o"
local c, o = tonumber(h[9]), tonumber(h[10])
local issued = now
if o and c and o > -1e11 and o < 1e11 then
  issued = c + o
elseif o and o >= 1e11 then
  issued = o
end
local f = {'c', now, 'o', issued - now, 'w', math.ceil(keep / 1000)}
f[#f + 1] = 'd'
f[#f + 1] = (ARGV[6] == '1') and ARGV[7] or h[1]
local meta = h[2]
if ARGV[8] == '1' then
  meta = ARGV[9]
end
if meta and meta ~= '' then
  f[#f + 1] = 'm'; f[#f + 1] = meta
end
local auth = h[3]
if ARGV[10] ~= '' then
  auth = ARGV[10]
end
if auth then
  f[#f + 1] = 'u'; f[#f + 1] = auth
elseif c then
  auth = math.floor(issued / 1000)
end
local amr = h[4] or ''
if ARGV[11] ~= '' then
  amr = string.sub(ARGV[11], 2)
end
if amr ~= '' then
  f[#f + 1] = 'q'; f[#f + 1] = amr
end
if h[12] then -- a DPoP binding stays with the login (proof.lua)
  f[#f + 1] = 'j'; f[#f + 1] = h[12]
end
local access, rid = 0, ''
if h[5] then
  rid = ARGV[3]
  access = tonumber(ARGV[5])
  if access <= 0 then
    access = tonumber(h[6]) or life
  end
  access = math.min(access, life)
  f[#f + 1] = 'r'; f[#f + 1] = rid; f[#f + 1] = 'a'; f[#f + 1] = access
end
local keyLife = life
local idle = tonumber(h[7])
if idle then
  keyLife = math.min(idle, life)
  f[#f + 1] = 'i'; f[#f + 1] = idle; f[#f + 1] = 'x'; f[#f + 1] = now + life
end
redis.call('HSET', KEYS[3], unpack(f))
redis.call('PEXPIRE', KEYS[3], keyLife)
tomb(KEYS[5], h[9], h[11], now)
why(string.sub(KEYS[5], 1, #KEYS[5] - #ARGV[1]), ARGV[1], 'e', KEYS[2])
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], now + keyLife, ARGV[2])
redis.call('PEXPIRE', KEYS[1], life, 'GT')
local res = {1, life, access, now, tonumber(auth) or -1, amr, rid, h[12] or ''}
redis.call('SET', KEYS[4], cjson.encode(res), 'PX', keep)
return res
