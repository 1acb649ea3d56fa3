// Package rjwt issues JSON Web Tokens whose sessions live in Redis, so that
// any token can be revoked at once.
//
// Each token names a session stored in Redis under the user id and a fresh
// nanoid ("id:nanoid"). A token verifies only while its signature, algorithm
// (pinned to its key's: HS256 for WithSecret) and expiry are valid and its
// session still exists: revoking the session, or letting it expire in Redis,
// ends the token. Public data rides in the token (WithDataToken); private data
// stays in Redis (WithDataSession) and comes back with Verify WithSession.
//
// A user holds one session (the default: signing atomically revokes the user's
// others) or many (WithMultiple(true)). Every user's keys share a Redis Cluster
// hash tag and a per-user index, so nothing ever scans the keyspace, and user
// ids are never used as patterns: "*" is just a user called "*".
//
// # Example
//
//	r, err := rjwt.New(rjwt.WithSecret(secret), rjwt.WithAddr("127.0.0.1:6379"))
//	if err != nil { ... }
//	defer r.Close()
//
//	token, err := r.Sign(ctx, "alice", rjwt.WithTTL("15 minutes"),
//		rjwt.WithDataToken(map[string]string{"role": "admin"}),
//		rjwt.WithDataSession(map[string]int{"views": 0}))
//
//	claims, err := r.Verify(ctx, token, rjwt.WithSession())
//	switch {
//	case errors.Is(err, rjwt.ErrTokenExpired), errors.Is(err, rjwt.ErrSessionNotFound),
//		errors.Is(err, rjwt.ErrInvalidToken):
//		// 401
//	case err != nil:
//		// Redis failed: 503
//	}
//
//	err = r.Revoke(ctx, claims.Session) // logout
//
// # Costs
//
// Sign is one Redis round trip (one Lua script), Verify one (EXISTS, or HGET
// WithSession), Revoke, RevokeAll and Sessions one each.
package rjwt

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"
)

// Client signs and verifies tokens against sessions in Redis. It is safe for
// concurrent use; make one and share it.
type Client struct {
	rdb       redis.UniversalClient
	ownsRedis bool

	signer    *key            // nil: the client only verifies
	keys      map[string]*key // by kid
	keyList   []*key          // signer first, then verification keys as given
	fast      []*key          // HS256 keys, matched by their exact header
	parser    *jwt.Parser
	validator *jwt.Validator
	keyFunc   jwt.Keyfunc

	multiple       bool
	keyspaceEvents bool
	defaultTTL     time.Duration
	prefix         string
	timeout        time.Duration

	ev events

	closeOnce sync.Once
	closeErr  error
}

// New makes a Client. It needs a key (WithSecret, WithSigningKey or
// WithVerificationKey); everything else has a default. New does not contact
// Redis: the first call that needs Redis connects.
func New(opts ...Option) (*Client, error) {
	cfg := defaultConfig()
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	c := &Client{
		multiple:       cfg.multiple,
		keyspaceEvents: cfg.keyspaceEvents,
		defaultTTL:     cfg.defaultTTL,
		prefix:         cfg.prefix,
		timeout:        cfg.timeout,
	}
	if err := c.initKeys(&cfg); err != nil {
		return nil, err
	}
	if cfg.rdb != nil {
		c.rdb = cfg.rdb
	} else {
		o := &redis.Options{
			Addr:                  cfg.addr,
			Password:              cfg.password,
			DB:                    cfg.db,
			MaxRetries:            cfg.maxRetries,
			ContextTimeoutEnabled: true,
		}
		if strings.HasPrefix(cfg.addr, "/") {
			o.Network = "unix"
		}
		c.rdb = redis.NewClient(o)
		c.ownsRedis = true
	}
	c.startEvents(&cfg)
	return c, nil
}

// Close stops rjwt's background work (no goroutine of rjwt's outlives it),
// closes the Events channel, and closes the Redis client if rjwt created it (not one given WithRedisClient). It is safe to call more than once.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.stopEvents()
		if c.ownsRedis {
			c.closeErr = c.rdb.Close()
		}
	})
	return c.closeErr
}

// Redis returns the underlying Redis client for anything rjwt does not wrap
// (redis-jwt's exec().rawCall).
func (c *Client) Redis() redis.UniversalClient { return c.rdb }

// bound applies the client's default timeout to a context without a deadline.
func (c *Client) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.timeout <= 0 {
		return ctx, func() {}
	}
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.timeout)
}

// redisErr wraps a Redis failure, naming the operation.
func redisErr(op string, err error) error {
	return fmt.Errorf("rjwt: %s: redis: %w", op, err)
}
