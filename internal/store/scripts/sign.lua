#!lua
-- sign: create one session atomically.
-- KEYS[1] index   KEYS[2] the new session   KEYS[3] its answer key (op:<nanoid>)
-- ARGV[1] nanoid of the new session (chosen by the client, so a second run
--         of the same call finds its own session)
-- ARGV[2] private data (may be empty)
-- ARGV[3] session TTL, ms
-- ARGV[4] '1' single mode: end every other session of the user
-- ARGV[5] the user's key base (session key = base .. nanoid)
-- ARGV[6] refresh id, or '' for a session without a refresh token
-- ARGV[7] access TTL ms (with a refresh id), else ''
-- ARGV[8] most sessions a user may hold in multiple mode (0: no limit)
-- ARGV[9] idle timeout ms (0: none): the key then expires after
--         min(idle, TTL), and Verify extends it, never past the TTL
-- ARGV[10] device details (JSON object), or ''
-- ARGV[11] when the caller issued this Sign, Unix ms by its host's clock
-- ARGV[12] not after: Unix ms (the caller's deadline plus the tolerated
--          clock skew) after which the caller has given up (0: never)
-- ARGV[13] limit policy at ARGV[8]'s cap (multiple mode): '0' end the
--          sessions nearest to expiry, '1' the oldest (by their login's
--          issue time, "c" + "o", kept across Reissue), '2' the least
--          recently used ("s", else "c"), '3' refuse this login (-3)
-- ARGV[14] auth_time, Unix seconds, when WithAuthTime gave one, else ''
--          (then it is the issue time: "c" + "o")
-- ARGV[15] amr, the methods joined by spaces, or ''
-- ARGV[16] DPoP: the thumbprint of the key the session is bound to, or ''
--          (stored as 'j'; see proof.lua)
-- Returns -1 when it arrived after ARGV[12] (a command that sat in a
-- partitioned network's queue: nothing is written), -2 in single mode when
-- the user already holds a session issued after this one (a newer login
-- that succeeded while this Sign was delayed: nothing is written, nothing
-- ended; the newer login wins), -3 with policy '3' when the user already
-- holds the cap's live sessions (nothing is written: a retry may then
-- succeed, when a session ended meanwhile).
-- Returns how many other sessions it ended.
--
-- Safe to run twice: a second run of the same call (a retry after a lost
-- reply) writes nothing and returns the first run's answer, even when the
-- session it created was revoked or replaced since (RevokeAll, Revoke, a
-- newer Sign in single mode, the cap): recreating it would bring a revoked
-- session back. A run can still write until notAfter (ARGV[12]) plus a
-- second by Redis's clock, or for 60s without one: the call's write window,
-- kept in the hash as "w" (seconds after "c", rounded up: a one-byte
-- integer in the listpack for windows up to two minutes, where milliseconds
-- took two and pushed a session with a refresh token into the next
-- allocation size). A second run inside it finds one
-- of these, and returns without writing:
--   - the hash itself: the answer is 0 (a run that ended other sessions
--     keeps its answer under KEYS[3], below);
--   - a tombstone under KEYS[3] (base .. 'op:' .. nanoid), written by
--     whatever deletes a session inside its window (revoke.lua,
--     revoke_all.lua, this script's single mode and cap): the answer is 0;
--   - the answer key KEYS[3], which this script writes itself only when the
--     answer is not 0, or when the session's key could expire inside the
--     window (its life, min(TTL, idle), shorter than it), so that a run
--     after that expiry finds something.
-- So a plain multiple-mode Sign writes one key, not two. Past the window a
-- run is refused as late (-1) before it reads anything else. (An evicted
-- hash is not covered: rjwt does not support policies that evict its keys.)
--
-- Layout written (keys.go): "d", "c", "o" as issued - "c" (a small
-- integer: the listpack stores it in a few bytes), "w" as the write
-- window's end - "c"; "i" and "x" only with an idle timeout (without one the
-- key's expiry is the session's end); "r", "a" with a refresh id; "m" with
-- device details; "u" (auth_time, Unix s) and "q" (amr) when given. No "s": the last use is "c" until Verify or Refresh writes
-- one.
--
-- Writes, so Redis refuses it whole when out of memory under noeviction (no
-- allow-oom flag): nothing is written. Its first write is the HSET that
-- creates the session, so a server that cannot read the flags line refuses
-- it there, before anything is written. Index scores use Redis's clock.
if redis.call('EXISTS', KEYS[3], KEYS[2]) > 0 then
  -- this call ran before (a retry after a lost reply): its answer, or 0
  -- when only the session is left
  return tonumber(redis.call('GET', KEYS[3]) or 0)
end
local ttl = tonumber(ARGV[3])
local idle = tonumber(ARGV[9])
local life = ttl
if idle > 0 and idle < ttl then
  life = idle
end
local now = now_ms()
local notAfter = tonumber(ARGV[12])
if notAfter > 0 and now > notAfter then
  return -1
end
-- The write window: as long as a run of this call can still write (until
-- notAfter, by this clock, plus a second), however far that is.
local keep = 60000
if notAfter > 0 then
  keep = notAfter - now + 1000
end
-- Tombstones (lib/tomb.lua) for the sessions this run ends: under the
-- same 'op:' base as KEYS[3].
local opBase = string.sub(KEYS[3], 1, #KEYS[3] - #ARGV[1])
local issued = tonumber(ARGV[11])
local old = {}
-- "o" in every mode: a single-mode Sign must see a newer login made in
-- multiple mode on the same prefix (a fleet switching modes).
local f = {'d', ARGV[2], 'c', now, 'o', issued - now, 'w', math.ceil(keep / 1000)}
if ARGV[4] == '1' then
  old = redis.call('ZRANGE', KEYS[1], 0, -1)
  for i = 1, #old do
    -- "o": issued - "c" since this layout, absolute before it
    local h = redis.call('HMGET', ARGV[5] .. old[i], 'o', 'c', 'w')
    local o = tonumber(h[1])
    if o and h[2] and o > -1e11 and o < 1e11 then
      o = o + tonumber(h[2])
    end
    if o and o > issued then
      return -2
    end
    old[i] = {old[i], h[2], h[3]}
  end
end
local max = tonumber(ARGV[8])
if ARGV[4] ~= '1' and ARGV[13] == '3' and max > 0 and
    redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf') >= max then
  return -3
end
if ARGV[14] ~= '' then
  f[#f + 1] = 'u'; f[#f + 1] = ARGV[14]
end
if ARGV[15] ~= '' then
  f[#f + 1] = 'q'; f[#f + 1] = ARGV[15]
end
if ARGV[6] ~= '' then
  f[#f + 1] = 'r'; f[#f + 1] = ARGV[6]; f[#f + 1] = 'a'; f[#f + 1] = ARGV[7]
end
if idle > 0 then
  f[#f + 1] = 'i'; f[#f + 1] = idle; f[#f + 1] = 'x'; f[#f + 1] = now + ttl
end
if ARGV[10] ~= '' then
  f[#f + 1] = 'm'; f[#f + 1] = ARGV[10]
end
if ARGV[16] ~= '' then
  f[#f + 1] = 'j'; f[#f + 1] = ARGV[16]
end
redis.call('HSET', KEYS[2], unpack(f))
redis.call('PEXPIRE', KEYS[2], life)
local ended = 0
local fresh = true -- the index does not exist before the ZADD below
if ARGV[4] == '1' then
  if #old > 0 then
    -- DEL in chunks (unpack has a stack limit); the first takes the index.
    local chunk = {KEYS[1]}
    ended = -1
    for i = 1, #old do
      tomb(opBase .. old[i][1], old[i][2], old[i][3], now)
      why(opBase, old[i][1], 'n', ARGV[5] .. old[i][1])
      chunk[#chunk + 1] = ARGV[5] .. old[i][1]
      if #chunk == 1000 or i == #old then
        ended = ended + redis.call('DEL', unpack(chunk))
        chunk = {}
      end
    end
  end
else
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  local card = redis.call('ZCARD', KEYS[1])
  if max > 0 and card - max + 1 > 0 then
    -- At the limit: end the sessions the policy picks (lib/limit.lua).
    local gone = pick(KEYS[1], ARGV[5], ARGV[13], card - max + 1)
    for i = 1, #gone do
      local h = redis.call('HMGET', ARGV[5] .. gone[i], 'c', 'w')
      tomb(opBase .. gone[i], h[1], h[2], now)
      why(opBase, gone[i], 'c', ARGV[5] .. gone[i])
      ended = ended + redis.call('DEL', ARGV[5] .. gone[i])
    end
    card = card - #gone
  end
  fresh = card == 0
end
redis.call('ZADD', KEYS[1], now + life, ARGV[1])
-- The index lives as long as its longest session: a new index (single mode
-- deleted the old one; or there was none) gets the TTL, an existing one
-- only a later expiry (GT: every index is written with a TTL).
if fresh then
  redis.call('PEXPIRE', KEYS[1], ttl)
else
  redis.call('PEXPIRE', KEYS[1], ttl, 'GT')
end
-- The answer key, for the whole window, only when the hash cannot stand
-- for it (see the header).
if ended ~= 0 or life < keep then
  redis.call('SET', KEYS[3], ended, 'PX', keep)
end
return ended
