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
// Sign is one Redis round trip (one Lua script), Verify one (plain reads of
// the session's index entry and hash, in one pipeline; a script in a second
// when the session's last use or idle extension is due to be written),
// Revoke, RevokeAll and Sessions one each. Concurrent Verify, Sessions and Sign calls share
// pipelines (WithAutoPipeline, on by default). With WithLocalCache, Verify
// answers sessions it has seen live from memory, with no round trip, until
// Redis invalidates them (CLIENT TRACKING); a revocation anywhere is seen
// within milliseconds, and never later than WithCacheWindow (1 s) when the
// invalidation connection goes silent.
//
// # Faults
//
// Every operation is safe to run twice (go-redis sends a command again after
// a lost reply): Sign and Refresh recognise their own earlier run, and
// Revoke and RevokeAll report what the first run did. Once rjwt knows Redis
// is unreachable (its health check, a refused dial, a broken subscription)
// calls fail at once with ErrUnavailable, wrapping the cause, until a probe
// sees Redis answer again. Index scores and expiries use Redis's clock;
// Verify tolerates clock skew between hosts (WithLeeway). Writes are refused
// whole when Redis is out of memory under noeviction; a session whose index
// entry was evicted never verifies (the user is logged out, never left
// beyond RevokeAll). docs/faults.md lists the supported maxmemory-policy values.
//
// # Cluster and Sentinel
//
// Give rjwt a go-redis ClusterClient or failover client with
// WithRedisClient. On a Cluster one dead master fails only the calls for its
// slots, until its replica is promoted (rjwt has go-redis reload the slot
// map at once); the event monitor and the local cache's invalidation
// trackers follow the masters as they change.
// Redis replicates asynchronously: WithReplicaAck makes revocations wait for
// replicas so that a failover cannot undo them. docs/cluster.md has the
// details and measured failover timelines.
package rjwt

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rjwt/rjwt/internal/cache"
	"github.com/rjwt/rjwt/internal/dial"
	"github.com/rjwt/rjwt/internal/logroute"
	"github.com/rjwt/rjwt/internal/store"
	"github.com/rjwt/rjwt/internal/topology"
)

// Client signs and verifies tokens against sessions in Redis. It is safe for
// concurrent use; make one and share it.
type Client struct {
	rdb       redis.UniversalClient
	st        *store.Store
	ownsRedis bool
	*codec    // keys, parsers, encoder: a value of its own (codec.go)
	settings  // what New's options fixed for sessions
	ev        eventsOut
	cache     *cache.Cache // nil without WithLocalCache
	topo      *topology.Watcher
	obs       // logging, hooks and counters (logging.go, stats.go)
	closeOnce sync.Once
	closeErr  error
}

// settings are the session options a client was made with.
type settings struct {
	multiple       bool
	keyspaceEvents bool
	defaultTTL     time.Duration
	prefix         string
	maxSessions    int
	limitPolicy    LimitPolicy // limits.go
	maxData        int
	refreshGrace   time.Duration
	idle           time.Duration
}

// obs is what the client reports through: its loggers, the hooks and the
// per-operation counters.
type obs struct {
	log     *slog.Logger // never nil: logging.go
	userLog *slog.Logger // WithLogger's, or nil
	hooks   []Hooks
	counts  [numOps]opCounters
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
	c := &Client{settings: settings{
		multiple:       cfg.multiple,
		keyspaceEvents: cfg.keyspaceEvents,
		defaultTTL:     cfg.defaultTTL,
		prefix:         cfg.prefix,
		maxSessions:    cfg.maxSessions,
		limitPolicy:    cfg.limitPolicy,
		maxData:        cfg.maxData,
		refreshGrace:   cfg.refreshGrace,
		idle:           cfg.idle,
	}}
	var err error
	if c.codec, err = newCodec(&cfg, c.now); err != nil {
		return nil, err
	}
	c.initLogging(&cfg)
	c.hooks = cfg.ops.hooks
	retries := 0 // a client given WithRedisClient retries as it was told
	if cfg.rdb != nil {
		c.rdb = cfg.rdb
	} else {
		o := dial.Options(cfg.addr, cfg.password, cfg.db, cfg.ops.url, c.log)
		c.rdb = redis.NewClient(o)
		c.ownsRedis = true
		retries = max(cfg.maxRetries, 0)
	}
	if cfg.replicaAck > 0 {
		if err := store.AcksSupported(c.rdb); err != nil {
			return nil, fmt.Errorf("rjwt: WithReplicaAck: %w", err)
		}
	}
	var changed func(id, nano string)
	if cfg.cacheEntries > 0 {
		c.cache = cache.New(cache.Config{Entries: cfg.cacheEntries, Window: cfg.cacheWindow, Prefix: cfg.prefix,
			OnError: func(err error) { c.emit(Event{Type: EventError, Err: err}) }})
		changed = c.cache.Changed
	}
	c.st = store.New(c.rdb, store.Config{Prefix: cfg.prefix, Timeout: cfg.timeout, MaxRetries: retries,
		SeenEvery: cfg.seenEvery, AutoPipeline: cfg.autoPipeline, ReplicaAck: cfg.replicaAck, AckTimeout: cfg.ackTimeout,
		Skew: cfg.leeway, Idle: cfg.idle > 0, Changed: changed, HostNow: cfg.hostClock,
		Layout: storeLayout(&cfg),
		NoFlags: func() {
			c.log.Warn("rjwt: Redis cannot read script flags (#!lua flags=, Redis 7.0 and later, Valkey 7.2 and later): rjwt runs its scripts without them; out of memory, a writing script is refused at its first write instead of before it runs (docs/faults.md)")
		}})
	// One watcher walks the masters (internal/topology); the events and the
	// cache follow its walks. With the cache, at least once a second: its
	// slot map on a Cluster is believed only so long.
	walk := cfg.healthInterval
	if c.cache != nil {
		walk = min(walk, time.Second)
	}
	c.topo = topology.New(topology.Config{Redis: c.rdb, Store: c.st, Interval: walk, Base: logroute.Context(c.log)})
	c.startEvents(&cfg)
	if c.cache != nil {
		c.cache.Start(c.rdb, c.st, c.topo)
	}
	c.topo.Start()
	return c, nil
}

// Close stops rjwt's background work (no goroutine of rjwt's outlives it),
// closes the Events channel, and closes the Redis client if rjwt created it (not one given WithRedisClient). It is safe to call more than once.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.topo.Stop() // first: no walk reaches the cache or the events after this
		if c.cache != nil {
			c.cache.Close()
		}
		c.stopEvents()
		c.st.Close()
		if c.ownsRedis {
			c.closeErr = c.rdb.Close()
		}
	})
	return c.closeErr
}

// Redis returns the underlying Redis client for anything rjwt does not wrap
// (redis-jwt's exec().rawCall).
func (c *Client) Redis() redis.UniversalClient { return c.rdb }

// now is the clock tokens are stamped and judged by, on every host:
// Redis's, as last learnt (store.Now); this host's before a store exists.
func (c *Client) now() time.Time {
	if c.st == nil {
		return time.Now()
	}
	return c.st.Now()
}

// bound applies the client's default timeout to a context without a deadline.
func (c *Client) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return c.st.Bound(ctx)
}

// redisErr wraps a Redis failure, naming the operation: with ErrUnavailable
// when Redis could not be reached, did not answer in time or refuses to work
// for now.
func (c *Client) redisErr(op string, err error) error { return c.st.Wrap(op, err) }
