package rjwt

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// MinSecretSize is the shortest HMAC key WithSecret accepts: 32 bytes, the
// size of an HS256 digest (RFC 7518 §3.2).
const MinSecretSize = 32

// Option configures a Client. Options that receive bad values make New fail;
// none panics and none falls back to a silent default.
type Option func(*config) error

type config struct {
	signing        *key
	verifying      []*key
	addr           string
	password       string
	db             int
	maxRetries     int
	rdb            redis.UniversalClient
	multiple       bool
	keyspaceEvents bool
	defaultTTL     time.Duration
	prefix         string
	timeout        time.Duration
	eventBuffer    int
	healthInterval time.Duration
	leeway         time.Duration
}

// DefaultLeeway is the clock skew Verify tolerates unless WithLeeway says
// otherwise: 5 seconds.
const DefaultLeeway = 5 * time.Second

func defaultConfig() config {
	return config{
		addr:       "127.0.0.1:6379",
		maxRetries: 10,
		defaultTTL: time.Hour,
		prefix:     "rjwt:",
		timeout:    5 * time.Second,

		eventBuffer:    256,
		healthInterval: time.Second,
		leeway:         DefaultLeeway,
	}
}

// WithSecret sets the HMAC key that signs and verifies tokens (HS256), with
// no kid: it is WithSigningKey("", secret). A client needs it or another key
// (WithSigningKey, WithVerificationKey): there is no default. It must be at
// least MinSecretSize (32) bytes. The slice is copied.
func WithSecret(secret []byte) Option {
	return func(c *config) error {
		if c.signing != nil {
			return errors.New("rjwt: WithSecret: a client has one signing key, and one is already set")
		}
		k, err := hmacKey("", secret)
		if err != nil {
			return fmt.Errorf("rjwt: WithSecret: %w", err)
		}
		c.signing = k
		return nil
	}
}

// WithLeeway sets the clock skew tolerated when checking a token's times: a
// token still verifies up to d after its exp, and up to d before its nbf or
// iat (a token signed by a server whose clock runs ahead). The default is
// DefaultLeeway, 5 seconds; 0 tolerates none. A negative d makes New fail.
//
// The leeway only widens the token's own window: the session in Redis still
// expires with the TTL, so a token past exp verifies within the leeway only
// while its session lives.
func WithLeeway(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("rjwt: WithLeeway: negative leeway %v", d)
		}
		c.leeway = d
		return nil
	}
}

// WithAddr sets the Redis address: "host:port", or the path of a unix socket
// (anything starting with "/"). The default is "127.0.0.1:6379". Ignored with
// WithRedisClient.
func WithAddr(addr string) Option {
	return func(c *config) error {
		if addr == "" {
			return errors.New("rjwt: WithAddr: empty address")
		}
		c.addr = addr
		return nil
	}
}

// WithPassword sets the Redis password (redis-jwt's auth). The default is none.
// Ignored with WithRedisClient.
func WithPassword(p string) Option {
	return func(c *config) error { c.password = p; return nil }
}

// WithDB selects the Redis database (redis-jwt's db). The default is 0.
// Ignored with WithRedisClient.
func WithDB(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("rjwt: WithDB: negative database %d", n)
		}
		c.db = n
		return nil
	}
}

// WithMaxRetries sets how often a failed Redis command is retried (redis-jwt's
// maxretries). The default is 10; -1 disables retries. Retries never outlast
// a call's deadline (see WithTimeout). Ignored with WithRedisClient.
func WithMaxRetries(n int) Option {
	return func(c *config) error {
		if n < -1 {
			return fmt.Errorf("rjwt: WithMaxRetries: %d is below -1", n)
		}
		c.maxRetries = n
		return nil
	}
}

// WithRedisClient makes rjwt use the given client (single node, Sentinel
// failover or Cluster) instead of building one. rjwt does not close it.
// WithAddr, WithPassword, WithDB and WithMaxRetries are then ignored.
func WithRedisClient(rdb redis.UniversalClient) Option {
	return func(c *config) error {
		if rdb == nil {
			return errors.New("rjwt: WithRedisClient: nil client")
		}
		c.rdb = rdb
		return nil
	}
}

// WithMultiple chooses between one session per user (false, the default:
// Sign revokes the user's other sessions in the same atomic step that creates
// the new one) and many sessions per user (true).
func WithMultiple(b bool) Option {
	return func(c *config) error { c.multiple = b; return nil }
}

// WithKeyspaceEvents turns on Redis keyspace notifications for rjwt's keys
// (redis-jwt's kea) so that Events reports sessions that expire or are
// revoked. The default is false.
func WithKeyspaceEvents(b bool) Option {
	return func(c *config) error { c.keyspaceEvents = b; return nil }
}

// WithDefaultTTL sets the TTL Sign uses when it is given no WithTTL, in the
// grammar of ParseTTL. The default is "1 hour". A TTL that does not parse makes
// New fail with ErrInvalidTTL.
func WithDefaultTTL(ttl string) Option {
	return func(c *config) error {
		d, err := ParseTTL(ttl)
		if err != nil {
			return fmt.Errorf("rjwt: WithDefaultTTL: %w", err)
		}
		c.defaultTTL = d
		return nil
	}
}

// WithPrefix sets the prefix of every Redis key rjwt writes. The default is
// "rjwt:". It may be empty, but may not contain '{' or '}': rjwt puts each
// user's keys under a Redis Cluster hash tag of its own.
func WithPrefix(p string) Option {
	return func(c *config) error {
		if strings.ContainsAny(p, "{}") {
			return fmt.Errorf("rjwt: WithPrefix: %q contains a brace, which would break the per-user hash tag", p)
		}
		c.prefix = p
		return nil
	}
}

// WithTimeout bounds every call that touches Redis when its context has no
// deadline of its own. The default is 5 seconds; 0 leaves such calls unbounded
// (go-redis's own socket timeouts still apply).
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("rjwt: WithTimeout: negative timeout %v", d)
		}
		c.timeout = d
		return nil
	}
}

// WithEventBuffer sets how many events the Events channel holds before new
// ones are dropped (and counted by DroppedEvents). The default is 256.
func WithEventBuffer(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("rjwt: WithEventBuffer: %d is not a positive size", n)
		}
		c.eventBuffer = n
		return nil
	}
}

// WithHealthCheck sets how often rjwt PINGs Redis to report EventConnected and
// EventDisconnected. The default is 1 second; each check is one PING.
//
// An outage is noticed within one interval plus the ping's timeout (the
// interval, clamped to 200ms..2s): at most 2 seconds by default, 300ms at
// 100ms. With keyspace events on, a subscription connection that drops
// reports it at once (about 1ms after a redis-server dies). A client given
// with WithRedisClient and without ContextTimeoutEnabled may take up to its
// ReadTimeout to notice a server that hangs rather than closes connections.
// Recovery is reported within about one interval of Redis answering again
// (EventConnected), and EventReady follows once the subscriptions are back.
func WithHealthCheck(interval time.Duration) Option {
	return func(c *config) error {
		if interval < 10*time.Millisecond {
			return fmt.Errorf("rjwt: WithHealthCheck: %v is under 10ms", interval)
		}
		c.healthInterval = interval
		return nil
	}
}
