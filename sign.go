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

// SignOption configures one Sign call.
type SignOption func(*signOptions) error

type signOptions struct {
	ttl         time.Duration
	dataToken   json.RawMessage
	dataSession json.RawMessage
	refreshTTL  time.Duration // SignPair only
}

// WithTTL sets the token's and the session's lifetime, in the grammar of
// ParseTTL: "50 seconds", "15 minutes", "5 hours", "3 days", "1 year", "1h30m",
// "2d". Without it Sign uses the client's default TTL (WithDefaultTTL). A TTL
// that does not parse makes Sign fail with ErrInvalidTTL.
func WithTTL(ttl string) SignOption {
	return ttlOption(ttl, func(o *signOptions, d time.Duration) { o.ttl = d })
}

// ttlOption parses ttl when the option is applied, so a bad TTL is Sign's
// ErrInvalidTTL, and stores it with set.
func ttlOption(ttl string, set func(*signOptions, time.Duration)) SignOption {
	return func(o *signOptions) error {
		d, err := ParseTTL(ttl)
		if err != nil {
			return err
		}
		set(o, d)
		return nil
	}
}

// WithDataToken puts public data in the token, JSON-encoded (claim
// "dataToken"). Anyone holding the token can read it: put nothing secret here.
func WithDataToken(v any) SignOption {
	return func(o *signOptions) error {
		b, err := marshalData(v)
		if err != nil {
			return fmt.Errorf("rjwt: WithDataToken: %w", err)
		}
		o.dataToken = b
		return nil
	}
}

// WithDataSession stores private data with the session in Redis, JSON-encoded.
// It never enters the token; Verify WithSession returns it.
func WithDataSession(v any) SignOption {
	return func(o *signOptions) error {
		b, err := marshalData(v)
		if err != nil {
			return fmt.Errorf("rjwt: WithDataSession: %w", err)
		}
		o.dataSession = b
		return nil
	}
}

func marshalData(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if string(b) == "null" {
		return nil, nil
	}
	return b, nil
}

// signScript creates a session atomically. In single mode it deletes every
// other session of the user (and the old index) in one DEL; otherwise it
// prunes the user's index of expired entries. It then writes the new session
// hash with its TTL, indexes it, and makes the index live as long as the
// user's longest session. Redis charges for every redis.call, so the script
// makes as few as it can: 5 or 6 in the common case.
//
// KEYS[1] index, KEYS[2] new session key
// ARGV[1] nanoid, ARGV[2] session data, ARGV[3] TTL in ms, ARGV[4] "1" for
// single mode, ARGV[5] the user's key base (session key = base .. nanoid),
// ARGV[6] now in Unix ms (the index scores; pruning compares with it),
// ARGV[7] for a pair: the refresh token's id (else ""), ARGV[8] for a pair:
// the access tokens' TTL in ms
var signScript = redis.NewScript(`
local ttl = tonumber(ARGV[3])
local now = tonumber(ARGV[6])
local revoked = 0
local idxttl = -2
if ARGV[4] == '1' then
  local old = redis.call('ZRANGE', KEYS[1], 0, -1)
  if #old > 0 then
    -- DEL in chunks: unpack has a stack limit. The first chunk takes the index.
    local chunk = {KEYS[1]}
    revoked = -1
    for i = 1, #old do
      chunk[#chunk + 1] = ARGV[5] .. old[i]
      if #chunk == 1000 or i == #old then
        revoked = revoked + redis.call('DEL', unpack(chunk))
        chunk = {}
      end
    end
  end
else
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  idxttl = redis.call('PTTL', KEYS[1])
end
if ARGV[7] ~= '' then
  redis.call('HSET', KEYS[2], 'd', ARGV[2], 'r', ARGV[7], 'a', ARGV[8])
else
  redis.call('HSET', KEYS[2], 'd', ARGV[2])
end
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
if idxttl < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return revoked
`)

// Sign creates a session for user id and returns its token. The session
// lives in Redis for the TTL (WithTTL, else the client's default); in single
// mode (the default) the user's other sessions are revoked in the same atomic
// step. One Redis round trip.
//
// Errors: ErrInvalidID for an empty, too long or non-UTF-8 id; ErrInvalidTTL;
// ErrNoSigningKey on a client that only verifies; a wrapped Redis error, in
// which case no session was created.
func (c *Client) Sign(ctx context.Context, id string, opts ...SignOption) (string, error) {
	o, err := c.signOpts(opts)
	if err != nil {
		return "", err
	}
	token, _, err := c.sign(ctx, id, o, false)
	return token, err
}

func (c *Client) signOpts(opts []SignOption) (signOptions, error) {
	o := signOptions{ttl: c.defaultTTL, refreshTTL: defaultRefreshTTL}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// sign does Sign's work and also returns the claims it signed. With pair, the
// session lives for the refresh TTL and also records the refresh token's id
// and the access TTL; the refresh token is the returned claims' job to make.
func (c *Client) sign(ctx context.Context, id string, o signOptions, pair bool) (string, *Claims, error) {
	if err := validateID(id); err != nil {
		return "", nil, err
	}
	nano, err := gonanoid.New()
	if err != nil {
		return "", nil, fmt.Errorf("rjwt: sign: nanoid: %w", err)
	}
	now := time.Now()
	claims := c.accessClaims(id, nano, o.dataToken, o.ttl, now)
	token, err := c.signToken(claims)
	if err != nil {
		return "", nil, fmt.Errorf("rjwt: sign: %w", err)
	}
	sessionTTL, refreshID, accessMS := o.ttl, "", ""
	if pair {
		if refreshID, err = gonanoid.New(); err != nil {
			return "", nil, fmt.Errorf("rjwt: sign: nanoid: %w", err)
		}
		sessionTTL, accessMS = o.refreshTTL, strconv.FormatInt(o.ttl.Milliseconds(), 10)
		claims.RefreshID = refreshID // for SignPair's refresh token; the access token is already signed
	}

	ctx, cancel := c.bound(ctx)
	defer cancel()
	base := c.userBase(id)
	single := "0"
	if !c.multiple {
		single = "1"
	}
	err = signScript.Run(ctx, c.rdb, []string{c.indexKey(base), base + nano},
		nano, []byte(o.dataSession), sessionTTL.Milliseconds(), single, base, now.UnixMilli(), refreshID, accessMS).Err()
	if err != nil {
		return "", nil, redisErr("sign", err)
	}
	return token, claims, nil
}

// accessClaims are the claims of an access token of session id:nano.
func (c *Client) accessClaims(id, nano string, dataToken json.RawMessage, ttl time.Duration, now time.Time) *Claims {
	return &Claims{
		ID:        id,
		Session:   sessionName(id, nano),
		DataToken: dataToken,
		TTL:       ttl,
		RegisteredClaims: jwt.RegisteredClaims{
			ID:        nano,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
}
