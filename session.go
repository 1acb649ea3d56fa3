package rjwt

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/redis/go-redis/v9"
)

// SessionInfo describes one live session.
type SessionInfo struct {
	Session   string    // "id:nanoid"
	ExpiresAt time.Time // when Redis will expire it
}

// revokeScript deletes one session and its index entry.
// KEYS[1] index, KEYS[2] session key; ARGV[1] nanoid.
var revokeScript = redis.NewScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('DEL', KEYS[2])
`)

// revokeAllScript deletes every session in a user's index, and the index.
// KEYS[1] index; ARGV[1] the user's key base.
var revokeAllScript = redis.NewScript(`
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local n = 0
for i = 1, #ids do
  n = n + redis.call('DEL', ARGV[1] .. ids[i])
end
redis.call('DEL', KEYS[1])
return n
`)

// sessionsScript lists a user's live sessions with their remaining TTL in ms,
// and drops index entries whose session is gone.
// KEYS[1] index; ARGV[1] the user's key base.
var sessionsScript = redis.NewScript(`
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {}
for i = 1, #ids do
  local p = redis.call('PTTL', ARGV[1] .. ids[i])
  if p == -2 then
    redis.call('ZREM', KEYS[1], ids[i])
  else
    out[#out + 1] = ids[i]
    out[#out + 1] = p
  end
end
return out
`)

// Revoke ends one session (Claims.Session, "id:nanoid"): every token of it
// stops verifying at once. Atomic, one Redis round trip. It returns
// ErrSessionNotFound if the session had already ended, and ErrInvalidID for a
// malformed session name.
func (c *Client) Revoke(ctx context.Context, session string) error {
	id, nano, err := splitSession(session)
	if err != nil {
		return err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	base := c.userBase(id)
	n, err := revokeScript.Run(ctx, c.rdb, []string{c.indexKey(base), base + nano}, nano).Int()
	if err != nil {
		return redisErr("revoke", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", ErrSessionNotFound, session)
	}
	return nil
}

// RevokeAll ends every session of user id (logout everywhere) and returns how
// many live sessions it ended. Atomic, one Redis round trip, no keyspace scan.
func (c *Client) RevokeAll(ctx context.Context, id string) (int, error) {
	if err := validateID(id); err != nil {
		return 0, err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	base := c.userBase(id)
	n, err := revokeAllScript.Run(ctx, c.rdb, []string{c.indexKey(base)}, base).Int()
	if err != nil {
		return 0, redisErr("revoke all", err)
	}
	return n, nil
}

// Sessions lists the live sessions of user id, soonest to expire first. It
// reads the user's index, never the keyspace, and drops stale index entries as
// it goes. One Redis round trip.
func (c *Client) Sessions(ctx context.Context, id string) ([]SessionInfo, error) {
	if err := validateID(id); err != nil {
		return nil, err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	base := c.userBase(id)
	res, err := sessionsScript.Run(ctx, c.rdb, []string{c.indexKey(base)}, base).Slice()
	if err != nil {
		return nil, redisErr("sessions", err)
	}
	now := time.Now()
	out := make([]SessionInfo, 0, len(res)/2)
	for i := 0; i+1 < len(res); i += 2 {
		nano, _ := res[i].(string)
		ms, _ := res[i+1].(int64)
		info := SessionInfo{Session: sessionName(id, nano)}
		if ms > 0 {
			info.ExpiresAt = now.Add(time.Duration(ms) * time.Millisecond)
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ExpiresAt.Before(out[j].ExpiresAt) })
	return out, nil
}
