#!lua
-- sign: create one session atomically.
-- KEYS[1] index   KEYS[2] the new session   KEYS[3] its answer key (op:<nanoid>)
-- ARGV[1] nanoid of the new session (chosen by the client, so a second run
--         of the same call finds its own session)
-- ARGV[2] session TTL, ms
-- ARGV[3] idle timeout ms ('0': none): the key then expires after
--         min(idle, TTL), and Verify extends it, never past the TTL
-- ARGV[4] when the caller issued this Sign, Unix ms by its host's clock
-- ARGV[5] not after: Unix ms (the caller's deadline plus the tolerated
--         clock skew) after which the caller has given up ('0': never)
-- ARGV[6] the mode: 'single' (end every other session of the user), ''
--         (multiple mode, no limit), or '<policy>:<max>' (multiple mode,
--         at most max sessions a user; policy at the cap: '0' end the
--         sessions nearest to expiry, '1' the oldest (by their login's
--         issue time, "c" + "o", kept across Reissue), '2' the least
--         recently used ("s", else "c"), '3' refuse this login (-3))
-- ARGV[7] private data, the hash's "d" (may be '')
-- ARGV[8...] the other fields the client knows, as field, value pairs
--         ready for HSET, those the call has: "u" (auth_time, Unix s, from
--         WithAuthTime), "q" (amr, the methods joined by spaces), "r" and
--         "a" (refresh id, access TTL ms), "i" (idle timeout ms), "m"
--         (device details, a JSON object), "j" (DPoP: the thumbprint of
--         the key the session is bound to; see proof.lua). The script adds
--         those that need Redis's clock: "c", "o", "w", and "x" with "i".
-- The user's key base (session key = base .. nanoid) is KEYS[2] without
-- the nanoid. Few arguments: Redis builds ARGV as a Lua table element by
-- element, growing it at each power of two (eight or fewer: one growth
-- less).
-- Returns -1 when it arrived after ARGV[5] (a command that sat in a
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
-- session back. A run can still write until notAfter (ARGV[5]) plus a
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
-- What it costs Redis: each redis.call costs a few microseconds of its own
-- besides the command's work (more than the command, for most of these),
-- so the common path makes as few as it can. A plain multiple-mode Sign
-- makes seven: EXISTS (the retry check), TIME, ZCARD (how many entries the
-- index holds, live or expired: whether it exists, and whether pruning or
-- the cap is due), HSET and PEXPIRE (the session), ZADD and PEXPIRE (the
-- index). Pruning the index of expired entries (ZREMRANGEBYSCORE) runs only
-- when due: when the index holds PRUNE_AT entries or more, or as many as
-- the cap (then the cap counts live entries only). An index of fewer than
-- PRUNE_AT entries may keep a few expired ones until then (or until the
-- event monitor prunes them): every reader of the index checks the hash.
--
-- Writes, so Redis refuses it whole when out of memory under noeviction (no
-- allow-oom flag): nothing is written. Its first write is the HSET that
-- creates the session, so a server that cannot read the flags line refuses
-- it there, before anything is written. Index scores use Redis's clock.
local PRUNE_AT = 8
if redis.call('EXISTS', KEYS[3], KEYS[2]) > 0 then
  -- this call ran before (a retry after a lost reply): its answer, or 0
  -- when only the session is left
  return tonumber(redis.call('GET', KEYS[3]) or 0)
end
-- Numbers go to redis.call as strings: ARGV's own, or int()'s (lib/now.lua).
local ttl = tonumber(ARGV[2])
local idle, life, lifeArg = 0, ttl, ARGV[2]
if ARGV[3] ~= '0' then
  idle = tonumber(ARGV[3])
  if idle < ttl then
    life, lifeArg = idle, ARGV[3]
  end
end
local now, nowArg = clock_ms()
local notAfter = tonumber(ARGV[5])
if notAfter > 0 and now > notAfter then
  return -1
end
-- The write window: as long as a run of this call can still write (until
-- notAfter, by this clock, plus a second), however far that is.
local keep = 60000
if notAfter > 0 then
  keep = notAfter - now + 1000
end
local single = ARGV[6] == 'single'
local max, policy = 0, ''
if ARGV[6] ~= '' and not single then
  policy, max = string.match(ARGV[6], '^(%d):(%d+)$')
  max = tonumber(max)
end
local base
if single or max > 0 then
  base = string.sub(KEYS[2], 1, #KEYS[2] - #ARGV[1])
end
local issued = tonumber(ARGV[4])
-- Reads first, so that a refusal (-2, -3) writes nothing.
local old, card
if single then
  old = redis.call('ZRANGE', KEYS[1], '0', '-1')
  for i = 1, #old do
    -- "o": issued - "c" since this layout, absolute before it
    local h = redis.call('HMGET', base .. old[i], 'o', 'c', 'w')
    local o = tonumber(h[1])
    if o and h[2] and o > -1e11 and o < 1e11 then
      o = o + tonumber(h[2])
    end
    if o and o > issued then
      return -2
    end
    old[i] = {old[i], h[2], h[3]}
  end
else
  card = redis.call('ZCARD', KEYS[1]) -- live and expired entries
  if policy == '3' and max > 0 and card >= max and
      redis.call('ZCOUNT', KEYS[1], '(' .. nowArg, '+inf') >= max then
    return -3
  end
end
-- "o" in every mode: a single-mode Sign must see a newer login made in
-- multiple mode on the same prefix (a fleet switching modes).
if idle > 0 then
  redis.call('HSET', KEYS[2], 'c', nowArg, 'o', int(issued - now), 'w', int(math.ceil(keep / 1000)),
    'x', int(now + ttl), 'd', ARGV[7], unpack(ARGV, 8))
else
  redis.call('HSET', KEYS[2], 'c', nowArg, 'o', int(issued - now), 'w', int(math.ceil(keep / 1000)), 'd', ARGV[7],
    unpack(ARGV, 8))
end
redis.call('PEXPIRE', KEYS[2], lifeArg)
-- Tombstones (lib/tomb.lua) for the sessions this run ends: under the
-- same 'op:' base as KEYS[3].
local ended = 0
if single then
  card = 0 -- the index does not exist before the ZADD below
  if #old > 0 then
    local opBase = string.sub(KEYS[3], 1, #KEYS[3] - #ARGV[1])
    -- DEL in chunks (unpack has a stack limit); the first takes the index.
    local chunk = {KEYS[1]}
    ended = -1
    for i = 1, #old do
      tomb(opBase .. old[i][1], old[i][2], old[i][3], now)
      why(opBase, old[i][1], 'n', base .. old[i][1])
      chunk[#chunk + 1] = base .. old[i][1]
      if #chunk == 1000 or i == #old then
        ended = ended + redis.call('DEL', unpack(chunk))
        chunk = {}
      end
    end
  end
elseif card >= PRUNE_AT or max > 0 and card >= max then
  card = card - redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', nowArg)
  if max > 0 and card - max + 1 > 0 then
    -- At the limit: end the sessions the policy picks (lib/limit.lua).
    local opBase = string.sub(KEYS[3], 1, #KEYS[3] - #ARGV[1])
    local gone = pick(KEYS[1], base, policy, card - max + 1)
    for i = 1, #gone do
      local h = redis.call('HMGET', base .. gone[i], 'c', 'w')
      tomb(opBase .. gone[i], h[1], h[2], now)
      why(opBase, gone[i], 'c', base .. gone[i])
      ended = ended + redis.call('DEL', base .. gone[i])
    end
    card = card - #gone
  end
end
redis.call('ZADD', KEYS[1], int(now + life), ARGV[1])
-- The index lives as long as its longest session: a new index (single mode
-- deleted the old one; or there was none, or pruning and the cap emptied
-- it) gets the TTL, an existing one only a later expiry (GT: every index
-- is written with a TTL).
if card == 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2], 'GT')
end
-- The answer key, for the whole window, only when the hash cannot stand
-- for it (see the header).
if ended ~= 0 or life < keep then
  redis.call('SET', KEYS[3], int(ended), 'PX', int(keep))
end
return ended
