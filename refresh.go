package rjwt

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
	gonanoid "github.com/matoous/go-nanoid/v2"
	"github.com/redis/go-redis/v9"
)


// EventRefreshReused is sent (whatever WithKeyspaceEvents says) when Refresh
// detects a reused refresh token and revokes its session; Event.Session names
// it.
const EventRefreshReused EventType = "refresh_reused"

// defaultRefreshTTL is WithRefreshTTL's default.
const defaultRefreshTTL = 30 * 24 * time.Hour

const refreshType = "refresh"

// Pair is an access token and the refresh token of the same session, with
// their lifetimes, in JSON fit to send to a client:
//
//	{"token": "...", "refreshToken": "...", "expiresIn": 900, "refreshExpiresIn": 2592000}
type Pair struct {
	Token            string        // access token; JSON "token"
	RefreshToken     string        // JSON "refreshToken"
	ExpiresIn        time.Duration // JSON "expiresIn", whole seconds
	RefreshExpiresIn time.Duration // JSON "refreshExpiresIn", whole seconds
}

type pairJSON struct {
	Token            string `json:"token"`
	RefreshToken     string `json:"refreshToken"`
	ExpiresIn        int64  `json:"expiresIn"`
	RefreshExpiresIn int64  `json:"refreshExpiresIn"`
}

// MarshalJSON encodes the pair with lifetimes in whole seconds.
func (p Pair) MarshalJSON() ([]byte, error) {
	return json.Marshal(pairJSON{p.Token, p.RefreshToken, int64(p.ExpiresIn / time.Second), int64(p.RefreshExpiresIn / time.Second)})
}

// UnmarshalJSON decodes a pair encoded by MarshalJSON.
func (p *Pair) UnmarshalJSON(b []byte) error {
	var w pairJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*p = Pair{w.Token, w.RefreshToken, time.Duration(w.ExpiresIn) * time.Second, time.Duration(w.RefreshExpiresIn) * time.Second}
	return nil
}

// WithRefreshTTL sets the refresh token's lifetime for SignPair, in the
// grammar of ParseTTL. The default is "30 days". The session lives in Redis
// as long as its refresh token, and every Refresh slides it by this much. It
// may not be shorter than the access token's TTL.
func WithRefreshTTL(ttl string) SignOption {
	return ttlOption(ttl, func(o *signOptions, d time.Duration) { o.refreshTTL = d })
}

// SignPair creates a session for user id, like Sign, and returns a
// short-lived access token (WithTTL, else the default TTL) and a refresh token
// (WithRefreshTTL, default 30 days) for it. The session lives in Redis as long
// as the refresh token. One Redis round trip.
func (c *Client) SignPair(ctx context.Context, id string, opts ...SignOption) (Pair, error) {
	o, err := c.signOpts(opts)
	if err != nil {
		return Pair{}, err
	}
	if o.refreshTTL < o.ttl {
		return Pair{}, fmt.Errorf("%w: the refresh TTL %v is shorter than the access TTL %v", ErrInvalidTTL, o.refreshTTL, o.ttl)
	}
	token, claims, err := c.sign(ctx, id, o, true)
	if err != nil {
		return Pair{}, err
	}
	refresh, err := c.signToken(c.refreshClaims(claims, o.refreshTTL, claims.IssuedAt.Time))
	if err != nil {
		return Pair{}, fmt.Errorf("rjwt: sign pair: %w", err)
	}
	return Pair{Token: token, RefreshToken: refresh, ExpiresIn: o.ttl, RefreshExpiresIn: o.refreshTTL}, nil
}

// refreshClaims are the claims of the refresh token that goes with an access
// token's claims (which carry the refresh id).
func (c *Client) refreshClaims(access *Claims, ttl time.Duration, now time.Time) *Claims {
	return &Claims{
		ID:        access.ID,
		Session:   access.Session,
		DataToken: access.DataToken,
		TTL:       ttl,
		Type:      refreshType,
		RefreshID: access.RefreshID,
		RegisteredClaims: jwt.RegisteredClaims{
			ID:        access.RegisteredClaims.ID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
}

// refreshScript rotates a session's refresh token atomically. The presented
// id must be the current one: then a new id replaces it and the session's
// life slides. A stale id is a reused token: the session is deleted.
//
// KEYS[1] index, KEYS[2] session; ARGV[1] nanoid, ARGV[2] presented refresh
// id, ARGV[3] new refresh id, ARGV[4] refresh TTL in ms, ARGV[5] now in ms.
// Returns {1, access TTL ms} on success, {0} when the session is gone, {-1}
// on reuse.
var refreshScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[2], 'r')
if not cur then
  return {0}
end
if cur ~= ARGV[2] then
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[1], ARGV[1])
  return {-1}
end
local ttl = tonumber(ARGV[4])
redis.call('HSET', KEYS[2], 'r', ARGV[3])
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('ZADD', KEYS[1], tonumber(ARGV[5]) + ttl, ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return {1, tonumber(redis.call('HGET', KEYS[2], 'a'))}
`)

// Refresh trades a refresh token for a new pair of the same session: the old
// refresh token stops working, and the session's life in Redis slides by the
// refresh TTL. One Redis round trip; rotation is atomic, so of many
// concurrent calls with one token exactly one succeeds.
//
// Presenting a refresh token that was already rotated away is taken as theft:
// the session is revoked, every token of it fails, Refresh returns
// ErrRefreshReused and an EventRefreshReused is sent. (Two legitimate
// concurrent refreshes with one token look the same, and end the same way.)
//
// Errors: ErrInvalidToken (also for an access token), ErrTokenExpired,
// ErrSessionNotFound, ErrRefreshReused, ErrNoSigningKey, or a wrapped Redis
// error.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (Pair, error) {
	if c.signer == nil { // before the rotation in Redis, which would spend the token
		return Pair{}, fmt.Errorf("rjwt: refresh: %w", ErrNoSigningKey)
	}
	old, err := c.parse(refreshToken)
	if err != nil {
		return Pair{}, err
	}
	if old.Type != refreshType || !validNanoid(old.RefreshID) {
		return Pair{}, fmt.Errorf("%w: not a refresh token", ErrInvalidToken)
	}
	newID, err := gonanoid.New()
	if err != nil {
		return Pair{}, fmt.Errorf("rjwt: refresh: nanoid: %w", err)
	}
	now := time.Now()
	nano := old.RegisteredClaims.ID
	base := c.userBase(old.ID)

	rctx, cancel := c.bound(ctx)
	defer cancel()
	res, err := refreshScript.Run(rctx, c.rdb, []string{c.indexKey(base), base + nano},
		nano, old.RefreshID, newID, old.TTL.Milliseconds(), now.UnixMilli()).Int64Slice()
	if err != nil {
		return Pair{}, redisErr("refresh", err)
	}
	switch {
	case len(res) == 0 || res[0] == 0:
		return Pair{}, fmt.Errorf("%w: %s", ErrSessionNotFound, old.Session)
	case res[0] == -1:
		c.emit(Event{Type: EventRefreshReused, Session: old.Session})
		return Pair{}, fmt.Errorf("%w: %s", ErrRefreshReused, old.Session)
	}
	accessTTL := time.Duration(0)
	if len(res) > 1 {
		accessTTL = time.Duration(res[1]) * time.Millisecond
	}
	if accessTTL <= 0 {
		return Pair{}, fmt.Errorf("rjwt: refresh: session %s has no access TTL: %w", old.Session, ErrSessionNotFound)
	}
	access := c.accessClaims(old.ID, nano, old.DataToken, accessTTL, now)
	token, err := c.signToken(access)
	if err != nil {
		return Pair{}, fmt.Errorf("rjwt: refresh: %w", err)
	}
	access.RefreshID = newID
	refresh, err := c.signToken(c.refreshClaims(access, old.TTL, now))
	if err != nil {
		return Pair{}, fmt.Errorf("rjwt: refresh: %w", err)
	}
	return Pair{Token: token, RefreshToken: refresh, ExpiresIn: accessTTL, RefreshExpiresIn: old.TTL}, nil
}

// Session data and sliding expiry, for the HTTP layer and applications.

// setDataScript replaces a live session's private data. KEYS[1] session;
// ARGV[1] data. Returns 0 when the session is gone.
var setDataScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'd', ARGV[1])
return 1
`)

// SetSessionData replaces the private data of a live session (what
// WithDataSession stored, and Verify WithSession returns) with v, JSON-encoded.
// It never creates a session: a session that has ended is ErrSessionNotFound.
// One Redis round trip.
func (c *Client) SetSessionData(ctx context.Context, session string, v any) error {
	id, nano, err := splitSession(session)
	if err != nil {
		return err
	}
	data, err := marshalData(v)
	if err != nil {
		return fmt.Errorf("rjwt: set session data: %w", err)
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	n, err := setDataScript.Run(ctx, c.rdb, []string{c.sessionKey(id, nano)}, []byte(data)).Int()
	if err != nil {
		return redisErr("set session data", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", ErrSessionNotFound, session)
	}
	return nil
}

// touchScript extends a session's life to at least ttl from now, never
// shortening it, and keeps the index in step. KEYS[1] index, KEYS[2]
// session; ARGV[1] nanoid, ARGV[2] ttl ms, ARGV[3] now ms.
var touchScript = redis.NewScript(`
local ttl = tonumber(ARGV[2])
local left = redis.call('PTTL', KEYS[2])
if left == -2 then
  return 0
end
if left >= 0 and left < ttl then
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('ZADD', KEYS[1], tonumber(ARGV[3]) + ttl, ARGV[1])
  if redis.call('PTTL', KEYS[1]) < ttl then
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
end
return 1
`)

// Touch slides a live session's life in Redis to at least ttl from now; it
// never shortens it. A session that has ended is ErrSessionNotFound. One
// Redis round trip.
//
// No token's exp changes. Sign and Refresh already give a session a Redis
// life at least as long as its tokens', so Touch keeps the session, not a
// token, usable: a client whose token has expired still needs a new one
// (Refresh, or a new login).
func (c *Client) Touch(ctx context.Context, session string, ttl time.Duration) error {
	id, nano, err := splitSession(session)
	if err != nil {
		return err
	}
	if ttl < time.Second {
		return fmt.Errorf("%w: %v is under one second", ErrInvalidTTL, ttl)
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	base := c.userBase(id)
	n, err := touchScript.Run(ctx, c.rdb, []string{c.indexKey(base), base + nano}, nano, ttl.Milliseconds(), strconv.FormatInt(time.Now().UnixMilli(), 10)).Int()
	if err != nil {
		return redisErr("touch", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", ErrSessionNotFound, session)
	}
	return nil
}
